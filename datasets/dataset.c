/* dataset.c: rd_dataset: recognises a dataset folder or file and hands it to its loader;
   views, images and sparse points for the callers. */
#include "dataset.h"
#include "json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool rd_split_contains(const char *split, int i)
{
    if (strcmp(split, "all") == 0) return true;
    bool test = i % 8 == 0;
    return strcmp(split, "test") == 0 ? test : !test;
}

void rd_w2c_from_c2w(const double c2w[9], const double centre[3], float w2c[16])
{
    for (int r = 0; r < 3; r++) {
        double t = 0.0;
        for (int c = 0; c < 3; c++) {
            w2c[4 * r + c] = (float)c2w[3 * c + r]; /* transpose */
            t -= c2w[3 * c + r] * centre[c];
        }
        w2c[4 * r + 3] = (float)t;
    }
    w2c[12] = w2c[13] = w2c[14] = 0.0f;
    w2c[15] = 1.0f;
}

rd_result rd_check_last_row(rd_context *ctx, const char *path, const char *where, const double m[16])
{
    if (m[12] == 0.0 && m[13] == 0.0 && m[14] == 0.0 && m[15] == 1.0) return RD_OK;
    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: the last row is [%g %g %g %g], not [0 0 0 1]: not a rigid transform",
                   rd_path_tail(path), where, m[12], m[13], m[14], m[15]);
}

rd_result rd_dataset_add_view(rd_context *ctx, rd_dataset *ds, const char *name, const char *image_path,
                              const rd_camera *camera)
{
    if (ds->count == ds->capacity) {
        int cap = ds->capacity ? 2 * ds->capacity : 64;
        rd_view *v = realloc(ds->views, (size_t)cap * sizeof *v);
        if (!v) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "dataset: out of memory");
        ds->views = v;
        ds->capacity = cap;
    }
    char why[256];
    const char *problem = rd_camera_problem(camera, why, sizeof why);
    if (problem) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera %s: %s", rd_path_tail(ds->source), name, problem);
    rd_view *v = &ds->views[ds->count];
    v->name = strdup(name);
    v->image_path = image_path ? strdup(image_path) : NULL;
    v->camera = *camera;
    v->time = 0.0f;
    if (!v->name || (image_path && !v->image_path)) {
        free((char *)v->name);
        free((char *)v->image_path);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "dataset: out of memory");
    }
    ds->count++;
    return RD_OK;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

/* A .json file is a camera list when its top level has "cameras", transforms otherwise. */
static rd_result load_json_file(rd_context *ctx, const char *path, const char *split, rd_dataset *ds)
{
    cJSON *root = NULL;
    rd_result r = rd_json_load(ctx, path, &root);
    if (r != RD_OK) return r;
    bool camera_list = cJSON_GetObjectItemCaseSensitive(root, "cameras") != NULL;
    cJSON_Delete(root);
    return camera_list ? rd_camera_list_load(ctx, path, ds) : rd_transforms_load(ctx, path, split, ds);
}

static rd_result load_folder(rd_context *ctx, const char *dir, const char *split, rd_dataset *ds)
{
    char path[4096];
    bool is_all = strcmp(split, "all") == 0;
    snprintf(path, sizeof path, "%s/transforms_%s.json", dir, is_all ? "train" : split);
    if (rd_file_exists(path)) {
        if (!is_all) return rd_transforms_load(ctx, path, split, ds);
        static const char *splits[] = {"train", "val", "test"};
        for (int s = 0; s < 3; s++) {
            snprintf(path, sizeof path, "%s/transforms_%s.json", dir, splits[s]);
            rd_result r = rd_file_exists(path) ? rd_transforms_load(ctx, path, "all", ds) : RD_OK;
            if (r != RD_OK) return r;
        }
        return RD_OK;
    }
    snprintf(path, sizeof path, "%s/transforms.json", dir);
    if (rd_file_exists(path)) return rd_transforms_load(ctx, path, split, ds);
    snprintf(path, sizeof path, "%s/poses_bounds.npy", dir);
    if (rd_file_exists(path)) return rd_llff_load(ctx, path, split, ds);
    static const char *colmap_dirs[] = {"sparse/0", "sparse", "."};
    for (int i = 0; i < 3; i++) {
        char probe[4096];
        snprintf(path, sizeof path, "%s/%s", dir, colmap_dirs[i]);
        snprintf(probe, sizeof probe, "%s/cameras.bin", path);
        bool bin = rd_file_exists(probe);
        snprintf(probe, sizeof probe, "%s/cameras.txt", path);
        if (bin || rd_file_exists(probe)) return rd_colmap_load(ctx, dir, split, ds);
    }
    if (rd_rtmv_detect(dir)) return rd_rtmv_load(ctx, dir, split, ds);
    if (rd_panoptic_detect(dir)) return rd_panoptic_load(ctx, dir, split, ds);
    snprintf(path, sizeof path, "%s/transforms_train.json", dir);
    if (rd_file_exists(path))
        return rd_fail(ctx, RD_ERROR_IO, "%s: no transforms_%s.json for split '%s'", dir, split, split);
    return rd_fail(ctx, RD_ERROR_FORMAT,
                   "%s: not a dataset folder (no transforms_*.json, transforms.json, poses_bounds.npy, sparse/0, RTMV's 00000.json "
                   "or Panoptic's train_meta.json)",
                   dir);
}

/* A COLMAP model folder inside a dataset (ROOT/sparse or ROOT/sparse/N, with ROOT/images):
   fails with a message that gives ROOT, the folder to load. */
static rd_result refuse_model_folder(rd_context *ctx, const char *path)
{
    char root[4096];
    if (snprintf(root, sizeof root, "%s", path) >= (int)sizeof root) return RD_OK;
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') root[--n] = '\0';
    char *last = strrchr(root, '/');
    if (last && last[1] >= '0' && last[1] <= '9' && strspn(last + 1, "0123456789") == strlen(last + 1)) {
        *last = '\0'; /* ROOT/sparse/N -> ROOT/sparse */
        last = strrchr(root, '/');
    }
    if (!last || strcmp(last, "/sparse") != 0) return RD_OK;
    *last = '\0';
    char images[4200];
    snprintf(images, sizeof images, "%s/images", root);
    if (!rd_dir_exists(images)) return RD_OK;
    return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: this is the COLMAP model inside a dataset; give the dataset's root "
                   "folder, %s", path, root);
}

rd_result rd_dataset_load(rd_context *ctx, const char *path, const rd_dataset_desc *desc, rd_dataset **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_dataset_load: out is NULL");
    *out = NULL;
    if (!path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_dataset_load: path is NULL");
    const char *split = desc && desc->split ? desc->split : "test";
    if (strcmp(split, "train") && strcmp(split, "val") && strcmp(split, "test") && strcmp(split, "all"))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "split '%s': expected train, val, test or all", split);
    if (rd_dir_exists(path)) {
        rd_result r = refuse_model_folder(ctx, path);
        if (r != RD_OK) return r;
    }
    rd_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "dataset: out of memory");
    rd_result r;
    if (rd_dir_exists(path))
        r = load_folder(ctx, path, split, ds);
    else if (!rd_file_exists(path))
        r = rd_fail(ctx, RD_ERROR_IO, "%s: no such file or folder", path);
    else if (has_suffix(path, ".json"))
        r = load_json_file(ctx, path, split, ds);
    else if (has_suffix(path, ".npy"))
        r = rd_llff_load(ctx, path, split, ds);
    else
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a dataset (expected a folder, a .json or poses_bounds.npy)", path);
    if (r == RD_OK && ds->count == 0 && strcmp(ds->kind, "cameras") == 0) /* a camera list has no splits */
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: the camera list holds no cameras", path);
    else if (r == RD_OK && ds->count == 0)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: split '%s' has no views%s", path, split,
                    ds->skipped ? " (every listed image is missing)" : "");
    if (r != RD_OK) {
        rd_dataset_destroy(ds);
        return r;
    }
    if (ds->skipped)
        rd_log(ctx, RD_LOG_WARN, "%s: %d listed frames skipped: image file missing", path, ds->skipped);
    *out = ds;
    return RD_OK;
}

void rd_dataset_destroy(rd_dataset *ds)
{
    if (!ds) return;
    for (int i = 0; i < ds->count; i++) {
        free((char *)ds->views[i].name);
        free((char *)ds->views[i].image_path);
    }
    free(ds->views);
    free(ds->points_xyz);
    free(ds->points_rgb);
    free(ds);
}

int rd_dataset_view_count(const rd_dataset *ds) { return ds ? ds->count : 0; }
const char *rd_dataset_kind(const rd_dataset *ds) { return ds ? ds->kind : ""; }
int rd_dataset_skipped(const rd_dataset *ds) { return ds ? ds->skipped : 0; }
bool rd_dataset_has_time(const rd_dataset *ds) { return ds && ds->timed_frames > 0; }

const rd_view *rd_dataset_view(const rd_dataset *ds, int i)
{
    return ds && i >= 0 && i < ds->count ? &ds->views[i] : NULL;
}

int64_t rd_dataset_points(const rd_dataset *ds, const float **xyz, const float **rgb)
{
    if (xyz) *xyz = ds ? ds->points_xyz : NULL;
    if (rgb) *rgb = ds ? ds->points_rgb : NULL;
    return ds ? ds->point_count : 0;
}

rd_result rd_dataset_view_image(rd_context *ctx, const rd_dataset *ds, int index, rd_image *out)
{
    const rd_view *v = rd_dataset_view(ds, index);
    rd_result r = rd_image_load(ctx, v->image_path, out);
    if (r == RD_OK && ds->linear_colour) rd_image_linear_to_srgb(out);
    return r;
}

rd_result rd_dataset_load_image(rd_context *ctx, const rd_dataset *ds, int index, const float background[3],
                                rd_image *out)
{
    const rd_view *v = rd_dataset_view(ds, index);
    if (!v) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "dataset: view %d does not exist", index);
    if (!v->image_path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "dataset: view %s has no image", v->name);
    rd_image raw;
    rd_result r = rd_dataset_view_image(ctx, ds, index, &raw);
    if (r != RD_OK) return r;
    static const float black[3] = {0, 0, 0};
    r = rd_image_composite(&raw, background ? background : black, out);
    rd_image_free(&raw);
    if (r != RD_OK) return rd_fail(ctx, r, "%s: cannot composite the image", v->image_path);
    return RD_OK;
}
