/* rtmv.c: RTMV scene folders (spec/rtmv.md): per view NNNNN.json beside NNNNN.exr (linear
   HDR RGBA colour; NNNNN.depth.exr and NNNNN.seg.exr are not colour and are left alone).
   Each JSON's camera_data holds width, height, intrinsics {fx, fy, cx, cy} in pixels and
   cam2world as glm writes it, a list of columns (the matrix is the JSON's transpose, the
   translation its fourth list), in OpenGL camera axes: columns 1 and 2 are negated for
   OpenCV's. The world is the file's own (+z up). The views with a colour EXR, sorted by
   name, split as the published loaders split the EXRs: the first two thirds train, the
   next thirtieth val, the rest test (100 / 5 / 45 of a scene's 150); a JSON without its
   EXR is skipped and counted. */
#include "dataset.h"
#include "json_util.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rd_rtmv_detect(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/00000.json", dir);
    if (!rd_file_exists(path)) return false;
    snprintf(path, sizeof path, "%s/00000.exr", dir);
    return rd_file_exists(path);
}

/* Whether name is NNNNN.json (digits, then .json). */
static bool view_json(const char *name)
{
    size_t digits = strspn(name, "0123456789");
    return digits > 0 && strcmp(name + digits, ".json") == 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The folder's view JSONs, sorted by name (free each and the list). */
static rd_result list_views(rd_context *ctx, const char *dir, char ***names, int *count)
{
    *names = NULL, *count = 0;
    DIR *d = opendir(dir);
    if (!d) return rd_fail(ctx, RD_ERROR_IO, "%s: cannot list the folder", dir);
    int cap = 0;
    rd_result r = RD_OK;
    for (struct dirent *e; r == RD_OK && (e = readdir(d));) {
        if (!view_json(e->d_name)) continue;
        if (*count == cap) {
            cap = cap ? 2 * cap : 256;
            char **grown = realloc(*names, (size_t)cap * sizeof *grown);
            if (!grown) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", dir);
            else *names = grown;
        }
        if (r == RD_OK && !((*names)[*count] = strdup(e->d_name))) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", dir);
        if (r == RD_OK) (*count)++;
    }
    closedir(d);
    if (r == RD_OK && *count) qsort(*names, (size_t)*count, sizeof **names, by_name);
    return r;
}

/* Whether sorted view i of n is in split (train: the first 2n/3, val: the next n/30). */
static bool in_split(const char *split, int i, int n)
{
    int train = 2 * n / 3, val = n / 30;
    if (strcmp(split, "all") == 0) return true;
    if (strcmp(split, "train") == 0) return i < train;
    if (strcmp(split, "val") == 0) return i >= train && i < train + val;
    return i >= train + val;
}

/* cam2world: four lists of four numbers, each a column. */
static rd_result read_cam2world(rd_context *ctx, const char *path, const cJSON *item, double m[16])
{
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != 4)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera_data.cam2world: expected 4 lists of 4 numbers (columns)", rd_path_tail(path));
    for (int c = 0; c < 4; c++) {
        const cJSON *col = cJSON_GetArrayItem(item, c);
        if (!cJSON_IsArray(col) || cJSON_GetArraySize(col) != 4)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera_data.cam2world[%d]: expected 4 numbers", rd_path_tail(path), c);
        for (int r = 0; r < 4; r++) {
            const cJSON *v = cJSON_GetArrayItem(col, r);
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera_data.cam2world[%d][%d]: expected a finite number", rd_path_tail(path), c, r);
            m[4 * r + c] = v->valuedouble; /* the JSON's list c is column c */
        }
    }
    return rd_check_last_row(ctx, path, "camera_data.cam2world", m);
}

/* The scene's box (scene_min_3d_box, scene_max_3d_box: the same in every view), where given. */
static rd_result read_box(rd_context *ctx, const char *path, const cJSON *cam, rd_dataset *ds)
{
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(cam, "scene_min_3d_box"), *hi = cJSON_GetObjectItemCaseSensitive(cam, "scene_max_3d_box");
    if (!lo && !hi) return RD_OK;
    for (int a = 0; a < 3; a++) {
        const cJSON *l = cJSON_GetArrayItem(lo, a), *h = cJSON_GetArrayItem(hi, a);
        if (!cJSON_IsNumber(l) || !cJSON_IsNumber(h) || !(l->valuedouble <= h->valuedouble) || !isfinite(h->valuedouble - l->valuedouble))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera_data.scene_min_3d_box / scene_max_3d_box: expected 3 finite numbers each, "
                           "min <= max", rd_path_tail(path));
        ds->box_min[a] = (float)l->valuedouble, ds->box_max[a] = (float)h->valuedouble;
    }
    ds->has_box = true;
    return RD_OK;
}

/* Whether the view's colour EXR is there (the published loaders list and split those). */
static bool has_colour(const char *dir, const char *name)
{
    char image[4096];
    snprintf(image, sizeof image, "%s/%.*s.exr", dir, (int)(strlen(name) - 5), name);
    return rd_file_exists(image);
}

static rd_result load_view(rd_context *ctx, const char *dir, const char *name, rd_dataset *ds)
{
    char path[4096], image[4096], stem[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(stem, sizeof stem, "%.*s", (int)(strlen(name) - 5), name);
    cJSON *root = NULL;
    rd_result r = rd_json_load(ctx, path, &root);
    if (r != RD_OK) return r;
    const cJSON *cam = cJSON_GetObjectItemCaseSensitive(root, "camera_data");
    const cJSON *in = cam ? cJSON_GetObjectItemCaseSensitive(cam, "intrinsics") : NULL;
    double w = 0, h = 0, fx = 0, fy = 0, cx = 0, cy = 0, m[16];
    if (!cJSON_IsObject(cam) || !cJSON_IsObject(in))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: expected camera_data with intrinsics (an RTMV view)", rd_path_tail(path));
    if (r == RD_OK) r = rd_json_number(ctx, path, "camera_data", cam, "width", true, &w);
    if (r == RD_OK) r = rd_json_number(ctx, path, "camera_data", cam, "height", true, &h);
    if (r == RD_OK) r = rd_json_number(ctx, path, "camera_data.intrinsics", in, "fx", true, &fx);
    if (r == RD_OK) r = rd_json_number(ctx, path, "camera_data.intrinsics", in, "fy", true, &fy);
    if (r == RD_OK) r = rd_json_number(ctx, path, "camera_data.intrinsics", in, "cx", true, &cx);
    if (r == RD_OK) r = rd_json_number(ctx, path, "camera_data.intrinsics", in, "cy", true, &cy);
    if (r == RD_OK) r = read_cam2world(ctx, path, cJSON_GetObjectItemCaseSensitive(cam, "cam2world"), m);
    if (r == RD_OK && !ds->has_box) r = read_box(ctx, path, cam, ds);
    cJSON_Delete(root);
    if (r != RD_OK) return r;
    if (!(w >= 1 && w <= 65536 && h >= 1 && h <= 65536 && w == (int)w && h == (int)h))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera_data: width %g, height %g (expected whole numbers in 1..65536)",
                       rd_path_tail(path), w, h);
    double rotation[9], centre[3] = {m[3], m[7], m[11]}; /* row-major */
    for (int c = 0; c < 3; c++) /* OpenGL camera axes to OpenCV: the y and z columns negated */
        for (int r2 = 0; r2 < 3; r2++) rotation[3 * r2 + c] = (c == 0 ? 1.0 : -1.0) * m[4 * r2 + c];
    rd_camera camera = {.width = (int)w, .height = (int)h, .fx = (float)fx, .fy = (float)fy, .cx = (float)cx, .cy = (float)cy};
    rd_w2c_from_c2w(rotation, centre, camera.w2c);
    snprintf(image, sizeof image, "%s/%s.exr", dir, stem);
    return rd_dataset_add_view(ctx, ds, stem, image, &camera);
}

rd_result rd_rtmv_load(rd_context *ctx, const char *dir, const char *split, rd_dataset *ds)
{
    snprintf(ds->kind, sizeof ds->kind, "rtmv");
    snprintf(ds->source, sizeof ds->source, "%s", dir);
    ds->linear_colour = true;
    char **names = NULL;
    int n = 0;
    rd_result r = list_views(ctx, dir, &names, &n);
    int present = 0; /* views with a colour EXR, kept first in name order: the split counts those */
    for (int i = 0; i < n; i++) {
        char *name = names[i];
        if (has_colour(dir, name)) names[i] = names[present], names[present++] = name;
        else ds->skipped++;
    }
    for (int i = 0; i < present && r == RD_OK; i++)
        if (in_split(split, i, present)) r = load_view(ctx, dir, names[i], ds);
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
    return r;
}
