/* train_set.c: a dataset split's views ready to train on or evaluate (radiant_train.h's
   rd_train_set): photos loaded, undistorted to pinhole images where their camera has a
   lens (rd_image_undistort, bilinear), downscaled by averaging, cameras to match; and
   what a trainer starts from (the dataset's sparse points, or the box random points
   fill). A kind of field's trainer takes a set (rd_trainer_create_from_set: splat/). */
#include "../renderer/internal.h"
#include "radiant_datasets.h"
#include "radiant_train.h"
#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rd_train_set {
    rd_dataset *dataset;
    rd_train_view *views;
    rd_image *images;
    int *dataset_index; /* view k is the dataset's view dataset_index[k] */
    int count;
};

void rd_train_set_destroy(rd_train_set *set)
{
    if (!set) return;
    for (int k = 0; k < set->count; k++) rd_image_free(&set->images[k]);
    free(set->views), free(set->images), free(set->dataset_index);
    rd_dataset_destroy(set->dataset);
    free(set);
}

/* image = full averaged down f x f blocks (the right and bottom remainders dropped, so the
   principal point only scales). */
static rd_result downscale(rd_context *ctx, const char *path, const rd_image *full, int f, rd_image *image)
{
    int w = full->width / f, h = full->height / f, ch = full->channels;
    if (w < 1 || h < 1) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: cannot downscale %dx%d by %d", path, full->width, full->height, f);
    rd_result r = rd_image_alloc(w, h, ch, image);
    for (int y = 0; r == RD_OK && y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < ch; c++) {
                float sum = 0.0f;
                for (int dy = 0; dy < f; dy++)
                    for (int dx = 0; dx < f; dx++)
                        sum += full->pixels[((size_t)(y * f + dy) * full->width + (size_t)(x * f + dx)) * ch + c];
                image->pixels[((size_t)y * w + x) * ch + c] = sum / (float)(f * f);
            }
    return r;
}

/* One view's photo and camera, as the set holds them. */
static rd_result load_view(rd_context *ctx, const rd_dataset *ds, int index, int f, rd_train_view *out, rd_image *image)
{
    const rd_view *view = rd_dataset_view(ds, index);
    rd_image full;
    rd_result r = rd_dataset_view_image(ctx, ds, index, &full);
    if (r != RD_OK) return r;
    if (full.width != view->camera.width || full.height != view->camera.height) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: the image is %dx%d, its camera %dx%d", view->image_path, full.width, full.height,
                    view->camera.width, view->camera.height);
        rd_image_free(&full);
        return r;
    }
    if (view->camera.distortion.model != RD_DISTORTION_NONE) { /* the pinhole image, once, at full size */
        rd_image pinhole;
        r = rd_image_undistort(ctx, &full, &view->camera, &pinhole);
        rd_image_free(&full);
        if (r != RD_OK) return r;
        full = pinhole;
    }
    r = downscale(ctx, view->image_path, &full, f, image);
    out->camera = view->camera;
    out->time = view->time;
    out->camera.distortion = (rd_distortion){0};
    out->camera.width = full.width / f, out->camera.height = full.height / f;
    out->camera.fx /= (float)f, out->camera.fy /= (float)f, out->camera.cx /= (float)f, out->camera.cy /= (float)f;
    out->image = image;
    rd_image_free(&full);
    return r;
}

rd_result rd_train_set_load(rd_context *ctx, const char *dataset, const rd_train_set_desc *desc, rd_train_set **out)
{
    if (!out || !dataset) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_train_set_load: dataset and out are required");
    *out = NULL;
    static const rd_train_set_desc defaults = {0};
    if (!desc) desc = &defaults;
    int f = desc->downscale ? desc->downscale : 1;
    if (f < 1 || f > 16) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_train_set_load: downscale %d is not in 1..16", f);
    rd_train_set *set = calloc(1, sizeof *set);
    if (!set) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_train_set_load: out of memory");
    rd_result r = rd_dataset_load(ctx, dataset, &(rd_dataset_desc){.split = desc->split ? desc->split : "train"}, &set->dataset);
    int n = r == RD_OK ? rd_dataset_view_count(set->dataset) : 0;
    if (r == RD_OK) {
        set->views = calloc((size_t)(n ? n : 1), sizeof *set->views);
        set->images = calloc((size_t)(n ? n : 1), sizeof *set->images);
        set->dataset_index = calloc((size_t)(n ? n : 1), sizeof *set->dataset_index);
        if (!set->views || !set->images || !set->dataset_index) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_train_set_load: out of memory");
    }
    for (int k = 0; k < n && r == RD_OK; k++) {
        const rd_view *view = rd_dataset_view(set->dataset, k);
        if (!view->image_path) continue;
        r = load_view(ctx, set->dataset, k, f, &set->views[set->count], &set->images[set->count]);
        if (r != RD_OK) rd_image_free(&set->images[set->count]);
        else set->dataset_index[set->count++] = k;
    }
    if (r != RD_OK) {
        rd_train_set_destroy(set);
        return r;
    }
    *out = set;
    return RD_OK;
}

int rd_train_set_count(const rd_train_set *set) { return set ? set->count : 0; }
const rd_train_view *rd_train_set_views(const rd_train_set *set) { return set ? set->views : NULL; }

const char *rd_train_set_kind(const rd_train_set *set) { return set ? rd_dataset_kind(set->dataset) : ""; }

const char *rd_train_set_view_name(const rd_train_set *set, int k)
{
    if (!set || k < 0 || k >= set->count) return NULL;
    return rd_dataset_view(set->dataset, set->dataset_index[k])->name;
}

int64_t rd_train_set_points(const rd_train_set *set, const float **xyz, const float **rgb)
{
    *xyz = *rgb = NULL;
    return set ? rd_dataset_points(set->dataset, xyz, rgb) : 0;
}

int rd_train_set_aabb_scale(const rd_train_set *set) { return set ? set->dataset->aabb_scale : 0; }

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Where the cameras look: the point nearest all their optical axes (least squares), and
   the median distance of the cameras from it; false where the axes are close to parallel
   (a forward-facing rig) or the point is behind most cameras. */
static bool look_at_point(const rd_train_set *set, double p[3], double *distance)
{
    double A[3][3] = {{0}}, b[3] = {0};
    for (int k = 0; k < set->count; k++) {
        const float *w2c = set->views[k].camera.w2c;
        float c[3];
        rd_camera_center(&set->views[k].camera, c);
        double d[3] = {w2c[8], w2c[9], w2c[10]}; /* the optical axis (OpenCV z) in the world */
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                double m = (i == j) - d[i] * d[j];
                A[i][j] += m, b[i] += m * c[j];
            }
    }
    double c00 = A[1][1] * A[2][2] - A[1][2] * A[2][1], c01 = A[1][2] * A[2][0] - A[1][0] * A[2][2], c02 = A[1][0] * A[2][1] - A[1][1] * A[2][0];
    double det = A[0][0] * c00 + A[0][1] * c01 + A[0][2] * c02, n = set->count;
    if (!(det > 0.1 * n * n * n)) return false; /* some eigenvalue of A may be under a tenth of the count: axes near parallel */
    double inv[3][3] = {{c00, A[0][2] * A[2][1] - A[0][1] * A[2][2], A[0][1] * A[1][2] - A[0][2] * A[1][1]},
                        {c01, A[0][0] * A[2][2] - A[0][2] * A[2][0], A[0][2] * A[1][0] - A[0][0] * A[1][2]},
                        {c02, A[0][1] * A[2][0] - A[0][0] * A[2][1], A[0][0] * A[1][1] - A[0][1] * A[1][0]}};
    for (int i = 0; i < 3; i++) p[i] = (inv[i][0] * b[0] + inv[i][1] * b[1] + inv[i][2] * b[2]) / det;
    double *far = malloc(sizeof(double) * (size_t)set->count);
    int in_front = 0;
    if (!far) return false;
    for (int k = 0; k < set->count; k++) {
        const float *w2c = set->views[k].camera.w2c;
        float c[3];
        rd_camera_center(&set->views[k].camera, c);
        double v[3] = {p[0] - c[0], p[1] - c[1], p[2] - c[2]};
        far[k] = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
        in_front += v[0] * w2c[8] + v[1] * w2c[9] + v[2] * w2c[10] > 0.0;
    }
    qsort(far, (size_t)set->count, sizeof(double), compare_doubles);
    *distance = far[set->count / 2];
    free(far);
    return 2 * in_front > set->count;
}

void rd_train_set_box(const rd_train_set *set, float lo[3], float hi[3])
{
    for (int a = 0; a < 3; a++) lo[a] = -1.0f, hi[a] = 1.0f;
    if (!set) return;
    /* the dataset's own: RTMV's scene box; instant-ngp's unit cube (aabb_scale 1: its scale and
       offset, 0.33 and 0.5 unless the file says, spec/datasets.md). The box of the camera
       centres, which the fox's arc of cameras makes miss the fox, trained the fox to 10.2 dB
       over its test views (H200, 30k steps). */
    if (set->dataset->has_box) {
        for (int a = 0; a < 3; a++) lo[a] = set->dataset->box_min[a], hi[a] = set->dataset->box_max[a];
        return;
    }
    if (strcmp(rd_dataset_kind(set->dataset), "blender") == 0 || strcmp(rd_dataset_kind(set->dataset), "d-nerf") == 0) { /* the NeRF-synthetic cube of side 2.6 */
        for (int a = 0; a < 3; a++) lo[a] = -1.3f, hi[a] = 1.3f;
        return;
    }
    /* otherwise the box of the camera centres, grown to take in a cube about the point the
       cameras look at (half its side 0.6 of their median distance from it): a dome of
       cameras above a floor (Panoptic's) leaves the floor and the people on it outside
       the centres' box */
    for (int k = 0; k < set->count; k++) {
        float c[3];
        rd_camera_center(&set->views[k].camera, c);
        for (int a = 0; a < 3; a++) {
            if (k == 0 || c[a] < lo[a]) lo[a] = c[a];
            if (k == 0 || c[a] > hi[a]) hi[a] = c[a];
        }
    }
    double p[3], distance;
    if (set->count >= 3 && look_at_point(set, p, &distance))
        for (int a = 0; a < 3; a++) {
            lo[a] = fminf(lo[a], (float)(p[a] - 0.6 * distance));
            hi[a] = fmaxf(hi[a], (float)(p[a] + 0.6 * distance));
        }
}
