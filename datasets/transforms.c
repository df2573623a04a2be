/* transforms.c: NeRF-style transforms JSON, both the Blender/NeRF-synthetic files
   (transforms_{train,val,test}.json) and instant-ngp's transforms.json
   (spec/datasets.md). Camera-to-world matrices in OpenGL axes become OpenCV world-to-camera;
   radiant keeps the file's own world frame. */
#include "dataset.h"
#include "json_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Intrinsics and lens keys that may sit at the top level or in each frame. */
typedef struct lens {
    double w, h, fl_x, fl_y, angle_x, angle_y, fov_x, fov_y, cx, cy;
    double k1, k2, k3, k4, p1, p2;
    bool fisheye;
} lens;

static rd_result read_lens(rd_context *ctx, const char *path, const char *where, const cJSON *obj, lens *l)
{
    struct { const char *key; double *dst; } keys[] = {
        {"w", &l->w}, {"h", &l->h}, {"fl_x", &l->fl_x}, {"fl_y", &l->fl_y},
        {"camera_angle_x", &l->angle_x}, {"camera_angle_y", &l->angle_y}, {"x_fov", &l->fov_x},
        {"y_fov", &l->fov_y}, {"cx", &l->cx}, {"cy", &l->cy}, {"k1", &l->k1}, {"k2", &l->k2},
        {"k3", &l->k3}, {"k4", &l->k4}, {"p1", &l->p1}, {"p2", &l->p2}};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        rd_result r = rd_json_number(ctx, path, where, obj, keys[i].key, false, keys[i].dst);
        if (r != RD_OK) return r;
    }
    const cJSON *fish = cJSON_GetObjectItemCaseSensitive(obj, "is_fisheye");
    if (fish) l->fisheye = cJSON_IsTrue(fish);
    return RD_OK;
}

/* Focal length in pixels from whichever key is present; 0 when none is. */
static double focal(double fl, double angle_rad, double fov_deg, double size)
{
    if (fl > 0.0) return fl;
    if (angle_rad > 0.0) return 0.5 * size / tan(0.5 * angle_rad);
    if (fov_deg > 0.0) return 0.5 * size / tan(0.5 * fov_deg * M_PI / 180.0);
    return 0.0;
}

static void file_stem(const char *file_path, char *out, size_t n)
{
    const char *base = strrchr(file_path, '/');
    base = base ? base + 1 : file_path;
    snprintf(out, n, "%s", base);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = '\0';
}

/* instant-ngp's unit cube: a world position p lies at p scale + offset (then its axes
   cycled, which leaves the cube a cube) in [0, 1]^3, `scale` 0.33 and `offset` 0.5 each
   unless the file says otherwise; the dataset's box is that cube in world coordinates. */
static rd_result read_unit_cube(rd_context *ctx, const char *json_path, const cJSON *root, rd_dataset *ds)
{
    double scale = 0.33, offset[3] = {0.5, 0.5, 0.5};
    rd_result r = rd_json_number(ctx, json_path, "", root, "scale", false, &scale);
    if (r == RD_OK && !(scale > 1e-12))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: scale: %g is not a positive number", rd_path_tail(json_path), scale);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "offset");
    if (r == RD_OK && o) {
        bool ok = cJSON_IsArray(o) && cJSON_GetArraySize(o) == 3;
        for (int a = 0; ok && a < 3; a++) {
            const cJSON *v = cJSON_GetArrayItem(o, a);
            ok = cJSON_IsNumber(v) && isfinite(v->valuedouble);
            if (ok) offset[a] = v->valuedouble;
        }
        if (!ok) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: offset: expected 3 finite numbers", rd_path_tail(json_path));
    }
    for (int a = 0; r == RD_OK && a < 3; a++)
        ds->box_min[a] = (float)(-offset[a] / scale), ds->box_max[a] = (float)((1.0 - offset[a]) / scale);
    ds->has_box = r == RD_OK;
    return r;
}

static rd_result load_frame(rd_context *ctx, const char *path, const char *dir, int index, const cJSON *frame,
                            lens l, rd_dataset *ds)
{
    char where[64];
    snprintf(where, sizeof where, "frames[%d]", index);
    if (!cJSON_IsObject(frame)) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: expected an object", rd_path_tail(path), where);
    const cJSON *fp = cJSON_GetObjectItemCaseSensitive(frame, "file_path");
    if (!cJSON_IsString(fp) || !fp->valuestring[0])
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.file_path: expected a string", rd_path_tail(path), where);
    char key[80];
    snprintf(key, sizeof key, "%s.transform_matrix", where);
    double m[16];
    rd_result r = rd_json_matrix4(ctx, path, key, cJSON_GetObjectItemCaseSensitive(frame, "transform_matrix"), m);
    if (r == RD_OK) r = rd_check_last_row(ctx, path, key, m);
    if (r != RD_OK) return r;
    r = read_lens(ctx, path, where, frame, &l);
    if (r != RD_OK) return r;
    /* D-NeRF's time: every frame says one, or none does */
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(frame, "time");
    float time = 0.0f;
    if (tj && (!cJSON_IsNumber(tj) || !isfinite(tj->valuedouble) || fabs(tj->valuedouble) > 1e30))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.time: expected a finite number", rd_path_tail(path), where);
    if (tj) time = (float)tj->valuedouble;
    if (ds->frames_seen > 0 && (tj != NULL) != (ds->timed_frames > 0))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.time: %s, where the frames before it %s one", rd_path_tail(path), where,
                       tj ? "given" : "missing", tj ? "have none" : "each have");
    ds->frames_seen++;
    ds->timed_frames += tj != NULL;

    /* file_path is relative to the json's folder and may lack its extension */
    char image[4096];
    const char *rel = fp->valuestring;
    if (rel[0] == '.' && rel[1] == '/') rel += 2;
    if (!rd_path_join(image, sizeof image, dir, rel))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.file_path: too long", rd_path_tail(path), where);
    if (!rd_file_exists(image)) {
        size_t len = strlen(image);
        if (len + 4 < sizeof image) memcpy(image + len, ".png", 5);
        if (!rd_file_exists(image)) {
            ds->skipped++;
            return RD_OK;
        }
    }
    /* range-checked before the conversion to int (0: absent, read from the image) */
    if ((l.w != 0.0 && !(l.w >= 1.0 && l.w <= 65536.0)) || (l.h != 0.0 && !(l.h >= 1.0 && l.h <= 65536.0)))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: image size w=%g h=%g is out of range (1..65536)", rd_path_tail(path), where,
                       l.w, l.h);
    int w = (int)l.w, h = (int)l.h;
    if (w <= 0 || h <= 0) {
        r = rd_image_size(ctx, image, &w, &h);
        if (r != RD_OK) return r;
    }
    rd_camera cam = {0};
    cam.width = w;
    cam.height = h;
    cam.fx = (float)focal(l.fl_x, l.angle_x, l.fov_x, w);
    cam.fy = (float)focal(l.fl_y, l.angle_y, l.fov_y, h);
    if (cam.fx <= 0.0f && cam.fy > 0.0f) cam.fx = cam.fy;
    if (cam.fy <= 0.0f) cam.fy = cam.fx;
    if (!(cam.fx > 0.0f))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: no focal length (fl_x, camera_angle_x or x_fov)", rd_path_tail(path), where);
    cam.cx = l.cx > 0.0 ? (float)l.cx : 0.5f * (float)w;
    cam.cy = l.cy > 0.0 ? (float)l.cy : 0.5f * (float)h;
    if (l.fisheye)
        cam.distortion = (rd_distortion){RD_DISTORTION_OPENCV_FISHEYE, (float)l.k1, (float)l.k2, (float)l.k3, (float)l.k4, 0, 0};
    else if (l.k1 || l.k2 || l.k3 || l.p1 || l.p2)
        cam.distortion = (rd_distortion){RD_DISTORTION_OPENCV, (float)l.k1, (float)l.k2, (float)l.k3, 0, (float)l.p1, (float)l.p2};

    /* OpenGL camera axes (x right, y up, looking down -z) to OpenCV: negate columns 1, 2 */
    double rot[9], centre[3] = {m[3], m[7], m[11]};
    for (int row = 0; row < 3; row++) {
        rot[3 * row + 0] = m[4 * row + 0];
        rot[3 * row + 1] = -m[4 * row + 1];
        rot[3 * row + 2] = -m[4 * row + 2];
    }
    rd_w2c_from_c2w(rot, centre, cam.w2c);
    char name[256];
    file_stem(fp->valuestring, name, sizeof name);
    r = rd_dataset_add_view(ctx, ds, name, image, &cam);
    if (r == RD_OK) ds->views[ds->count - 1].time = time;
    return r;
}

rd_result rd_transforms_load(rd_context *ctx, const char *json_path, const char *split, rd_dataset *ds)
{
    cJSON *root = NULL;
    rd_result r = rd_json_load(ctx, json_path, &root);
    if (r != RD_OK) return r;
    const char *file = strrchr(json_path, '/');
    bool blender = strncmp(file ? file + 1 : json_path, "transforms_", 11) == 0;
    snprintf(ds->kind, sizeof ds->kind, "%s", blender ? "blender" : "instant-ngp");
    snprintf(ds->source, sizeof ds->source, "%s", json_path);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", json_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0'; else snprintf(dir, sizeof dir, ".");

    lens top = {0};
    const cJSON *frames = cJSON_GetObjectItemCaseSensitive(root, "frames");
    if (!cJSON_IsObject(root))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: expected a JSON object at the top level", rd_path_tail(json_path));
    else if (!frames)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: frames: missing", rd_path_tail(json_path));
    else if (!cJSON_IsArray(frames))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: frames: expected an array", rd_path_tail(json_path));
    else
        r = read_lens(ctx, json_path, "", root, &top);
    int64_t aabb_scale = 0;
    if (r == RD_OK) r = rd_json_whole(ctx, json_path, "", root, "aabb_scale", false, 1, 128, &aabb_scale);
    if (r == RD_OK && (aabb_scale & (aabb_scale - 1)))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: aabb_scale: %lld is not a power of two", rd_path_tail(json_path), (long long)aabb_scale);
    ds->aabb_scale = (int)aabb_scale;
    if (r == RD_OK && !blender) r = read_unit_cube(ctx, json_path, root, ds);
    /* a file without splits (instant-ngp) holds out every 8th frame as the test split */
    const char *frame_split = blender ? "all" : split;
    int index = 0;
    const cJSON *frame;
    if (r == RD_OK) {
        cJSON_ArrayForEach(frame, frames) {
            if (rd_split_contains(frame_split, index))
                r = load_frame(ctx, json_path, dir, index, frame, top, ds);
            if (r != RD_OK) break;
            index++;
        }
    }
    if (r == RD_OK && blender && ds->timed_frames > 0) snprintf(ds->kind, sizeof ds->kind, "d-nerf"); /* Blender's layout, with time */
    cJSON_Delete(root);
    return r;
}
