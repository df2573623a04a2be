/* panoptic.c: the Dynamic 3D Gaussians layout of CMU Panoptic captures (kind "panoptic"):
   train_meta.json and test_meta.json beside ims/, each {"w", "h", "k": [t][c] 3x3
   intrinsics, "w2c": [t][c] 4x4 world-to-camera (OpenCV axes), "fn": [t][c] image names
   under ims/, "cam_id": [t][c]}, the outer index the timestep, the inner the camera slot
   of that split. A view per (timestep, camera), named c<id>_t<step>, at time
   step / (steps - 1) (the files give none); images listed but missing are skipped, as
   the other loaders do. Every table must have the same timesteps and, per timestep, the
   same cameras: a table that disagrees is named. */
#include "dataset.h"
#include "json_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

bool rd_panoptic_detect(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/train_meta.json", dir);
    if (!rd_file_exists(path)) return false;
    snprintf(path, sizeof path, "%s/test_meta.json", dir);
    return rd_file_exists(path);
}

/* The [t][c] table `key` of root: an array of `steps` arrays (steps from "fn" when 0). */
static rd_result table(rd_context *ctx, const char *path, const cJSON *root, const char *key, int *steps, const cJSON **out)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) < 1)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: expected an array of timesteps", rd_path_tail(path), key);
    if (*steps && cJSON_GetArraySize(t) != *steps)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: %d timesteps where fn has %d", rd_path_tail(path), key, cJSON_GetArraySize(t),
                       *steps);
    *steps = cJSON_GetArraySize(t);
    *out = t;
    return RD_OK;
}

/* A 3x3 intrinsics matrix with zero skew into the camera. */
static rd_result intrinsics(rd_context *ctx, const char *path, const char *where, const cJSON *k, rd_camera *cam)
{
    double m[9];
    int n = 0;
    const cJSON *row, *v;
    bool ok = cJSON_IsArray(k) && cJSON_GetArraySize(k) == 3;
    cJSON_ArrayForEach(row, k) {
        ok &= cJSON_IsArray(row) && cJSON_GetArraySize(row) == 3;
        if (!ok) break;
        cJSON_ArrayForEach(v, row) {
            ok &= cJSON_IsNumber(v) && isfinite(v->valuedouble);
            if (ok) m[n++] = v->valuedouble;
        }
    }
    if (!ok || n != 9) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: expected 3x3 finite numbers", rd_path_tail(path), where);
    if (m[1] != 0.0 || m[3] != 0.0 || m[6] != 0.0 || m[7] != 0.0 || m[8] != 1.0)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: not a pinhole intrinsics matrix [[fx, 0, cx], [0, fy, cy], [0, 0, 1]]",
                       rd_path_tail(path), where);
    cam->fx = (float)m[0], cam->cx = (float)m[2], cam->fy = (float)m[4], cam->cy = (float)m[5];
    return RD_OK;
}

static rd_result load_meta(rd_context *ctx, const char *dir, const char *name, rd_dataset *ds)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(ds->source, sizeof ds->source, "%s", path);
    cJSON *root = NULL;
    rd_result r = rd_json_load(ctx, path, &root);
    if (r != RD_OK) return r;
    int64_t w = 0, h = 0;
    int steps = 0;
    const cJSON *fn = NULL, *k = NULL, *w2c = NULL, *ids = NULL;
    if (!cJSON_IsObject(root)) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: expected a JSON object at the top level", rd_path_tail(path));
    if (r == RD_OK) r = rd_json_whole(ctx, path, "", root, "w", true, 1, 65536, &w);
    if (r == RD_OK) r = rd_json_whole(ctx, path, "", root, "h", true, 1, 65536, &h);
    if (r == RD_OK) r = table(ctx, path, root, "fn", &steps, &fn);
    if (r == RD_OK) r = table(ctx, path, root, "k", &steps, &k);
    if (r == RD_OK) r = table(ctx, path, root, "w2c", &steps, &w2c);
    if (r == RD_OK) r = table(ctx, path, root, "cam_id", &steps, &ids);
    for (int t = 0; t < steps && r == RD_OK; t++) {
        const cJSON *fn_t = cJSON_GetArrayItem(fn, t), *k_t = cJSON_GetArrayItem(k, t), *w2c_t = cJSON_GetArrayItem(w2c, t),
                    *ids_t = cJSON_GetArrayItem(ids, t);
        int cams = cJSON_IsArray(fn_t) ? cJSON_GetArraySize(fn_t) : -1;
        const cJSON *rows[3] = {k_t, w2c_t, ids_t};
        static const char *const names[3] = {"k", "w2c", "cam_id"};
        for (int q = 0; q < 3 && r == RD_OK; q++)
            if (cams < 0 || !cJSON_IsArray(rows[q]) || cJSON_GetArraySize(rows[q]) != cams)
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s[%d]: %s cameras where fn[%d] lists %d (the per-timestep tables disagree)",
                            rd_path_tail(path), names[q], t, cJSON_IsArray(rows[q]) ? "a different count of" : "no array of", t,
                            cams);
        for (int c = 0; c < cams && r == RD_OK; c++) {
            char where[96], key[96];
            snprintf(where, sizeof where, "fn[%d][%d]", t, c);
            const cJSON *file = cJSON_GetArrayItem(fn_t, c), *id = cJSON_GetArrayItem(ids_t, c);
            if (!cJSON_IsString(file) || !file->valuestring[0] || strstr(file->valuestring, ".."))
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: expected an image name under ims/", rd_path_tail(path), where);
            else if (!cJSON_IsNumber(id) || !(id->valuedouble >= 0 && id->valuedouble < 1e6))
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: cam_id[%d][%d]: expected a camera number", rd_path_tail(path), t, c);
            rd_camera cam = {.width = (int)w, .height = (int)h};
            snprintf(key, sizeof key, "k[%d][%d]", t, c);
            if (r == RD_OK) r = intrinsics(ctx, path, key, cJSON_GetArrayItem(k_t, c), &cam);
            double m[16];
            snprintf(key, sizeof key, "w2c[%d][%d]", t, c);
            if (r == RD_OK) r = rd_json_matrix4(ctx, path, key, cJSON_GetArrayItem(w2c_t, c), m);
            if (r == RD_OK) r = rd_check_last_row(ctx, path, key, m);
            if (r != RD_OK) break;
            for (int e = 0; e < 16; e++) cam.w2c[e] = (float)m[e];
            char image[4096], view[64];
            snprintf(image, sizeof image, "%s/ims/%s", dir, file->valuestring);
            ds->frames_seen++, ds->timed_frames++;
            if (!rd_file_exists(image)) {
                ds->skipped++;
                continue;
            }
            snprintf(view, sizeof view, "c%02d_t%06d", (int)id->valuedouble, t);
            r = rd_dataset_add_view(ctx, ds, view, image, &cam);
            if (r == RD_OK) ds->views[ds->count - 1].time = steps > 1 ? (float)t / (float)(steps - 1) : 0.0f;
        }
    }
    cJSON_Delete(root);
    return r;
}

rd_result rd_panoptic_load(rd_context *ctx, const char *dir, const char *split, rd_dataset *ds)
{
    snprintf(ds->kind, sizeof ds->kind, "panoptic");
    if (strcmp(split, "val") == 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: a Panoptic capture has train and test cameras only (split 'val')", dir);
    rd_result r = RD_OK;
    if (strcmp(split, "test") != 0) r = load_meta(ctx, dir, "train_meta.json", ds);
    if (r == RD_OK && strcmp(split, "train") != 0) r = load_meta(ctx, dir, "test_meta.json", ds);
    return r;
}
