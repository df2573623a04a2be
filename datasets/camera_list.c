/* camera_list.c: radiant's camera list, {"cameras": [{"width", "height", "fx", "fy",
   "cx", "cy", "w2c"}]}, w2c a 4x4 row-major world-to-camera matrix in OpenCV axes
   (nested rows or 16 numbers); optional "name", "near", "far". */
#include "dataset.h"
#include "json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rd_result load_camera(rd_context *ctx, const char *path, int index, const cJSON *item, rd_dataset *ds)
{
    char where[64];
    snprintf(where, sizeof where, "cameras[%d]", index);
    if (!cJSON_IsObject(item)) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: expected an object", rd_path_tail(path), where);
    double v[6], near_plane = 0.0, far_plane = 0.0, m[16];
    static const char *keys[6] = {"width", "height", "fx", "fy", "cx", "cy"};
    for (int k = 0; k < 6; k++) {
        rd_result r = rd_json_number(ctx, path, where, item, keys[k], true, &v[k]);
        if (r != RD_OK) return r;
    }
    rd_result r = rd_json_number(ctx, path, where, item, "near", false, &near_plane);
    if (r == RD_OK) r = rd_json_number(ctx, path, where, item, "far", false, &far_plane);
    if (r != RD_OK) return r;
    if (v[0] < 1 || v[0] > 65536 || v[1] < 1 || v[1] > 65536 || v[0] != (int)v[0] || v[1] != (int)v[1])
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: width and height must be whole numbers in 1..65536", rd_path_tail(path), where);
    if (!(v[2] > 0) || !(v[3] > 0))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: fx and fy must be positive", rd_path_tail(path), where);
    char key[80];
    snprintf(key, sizeof key, "%s.w2c", where);
    r = rd_json_matrix4(ctx, path, key, cJSON_GetObjectItemCaseSensitive(item, "w2c"), m);
    if (r != RD_OK) return r;
    rd_camera cam = {0};
    cam.width = (int)v[0];
    cam.height = (int)v[1];
    cam.fx = (float)v[2];
    cam.fy = (float)v[3];
    cam.cx = (float)v[4];
    cam.cy = (float)v[5];
    cam.near_plane = (float)near_plane;
    cam.far_plane = (float)far_plane;
    for (int k = 0; k < 16; k++) cam.w2c[k] = (float)m[k];
    char name[64];
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(item, "name");
    if (cJSON_IsString(n) && n->valuestring[0] && !strchr(n->valuestring, '/'))
        snprintf(name, sizeof name, "%s", n->valuestring);
    else
        snprintf(name, sizeof name, "%04d", index);
    return rd_dataset_add_view(ctx, ds, name, NULL, &cam);
}

rd_result rd_camera_list_load(rd_context *ctx, const char *path, rd_dataset *ds)
{
    snprintf(ds->kind, sizeof ds->kind, "cameras");
    snprintf(ds->source, sizeof ds->source, "%s", path);
    cJSON *root = NULL;
    rd_result r = rd_json_load(ctx, path, &root);
    if (r != RD_OK) return r;
    const cJSON *cams = cJSON_GetObjectItemCaseSensitive(root, "cameras");
    if (!cJSON_IsArray(cams)) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: cameras: expected an array", rd_path_tail(path));
    int index = 0;
    const cJSON *item;
    if (r == RD_OK) {
        cJSON_ArrayForEach(item, cams) {
            r = load_camera(ctx, path, index++, item, ds);
            if (r != RD_OK) break;
        }
    }
    cJSON_Delete(root);
    return r;
}

typedef struct cameras_job {
    const rd_camera *cameras;
    int count;
} cameras_job;

static bool write_cameras(rd_writer *f, void *user)
{
    const cameras_job *job = user;
    rd_writer_printf(f, "{\"cameras\": [\n");
    for (int i = 0; i < job->count; i++) {
        const rd_camera *c = &job->cameras[i];
        rd_writer_printf(f, "  {\"width\": %d, \"height\": %d, \"fx\": %.9g, \"fy\": %.9g, \"cx\": %.9g, \"cy\": %.9g,\n   \"w2c\": [",
                c->width, c->height, c->fx, c->fy, c->cx, c->cy);
        for (int r = 0; r < 4; r++)
            rd_writer_printf(f, "[%.9g, %.9g, %.9g, %.9g]%s", c->w2c[4 * r], c->w2c[4 * r + 1], c->w2c[4 * r + 2], c->w2c[4 * r + 3],
                    r < 3 ? ", " : "");
        rd_writer_printf(f, "]}%s\n", i + 1 < job->count ? "," : "");
    }
    return rd_writer_printf(f, "]}\n");
}

rd_result rd_cameras_save(rd_context *ctx, const char *path, const rd_camera *cameras, int count)
{
    if (!path || !cameras || count < 0) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_cameras_save: bad arguments");
    cameras_job job = {cameras, count};
    return rd_write_atomically(ctx, path, write_cameras, &job);
}
