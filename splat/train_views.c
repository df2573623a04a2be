/* train_views.c: the views a splat trainer fits (trainer.h): copied and checked, their
   extent, the seeded order a run visits them in, and each photo on a step's background. */
#include "trainer.h"
#include "../train/loss.h"

#include <stdlib.h>
#include <string.h>

static rd_result copy_views(rd_context *ctx, const rd_train_view *in, int count, view_data *views, size_t *largest)
{
    for (int v = 0; v < count; v++) {
        const rd_image *img = in[v].image;
        char why[256];
        const char *problem = rd_camera_problem(&in[v].camera, why, sizeof why);
        if (problem) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: view %d: camera: %s", v, problem);
        if (!img || !img->pixels || img->channels < 3)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: view %d: an RGB or RGBA image is required", v);
        if (img->width != in[v].camera.width || img->height != in[v].camera.height)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: view %d: the image is %dx%d, its camera %dx%d", v,
                           img->width, img->height, in[v].camera.width, in[v].camera.height);
        if (!isfinite(in[v].time))
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: view %d: time %g is not finite", v, in[v].time);
        size_t pixels = (size_t)img->width * (size_t)img->height;
        views[v].camera = in[v].camera;
        views[v].time = in[v].time;
        views[v].rgba = malloc(4 * pixels * sizeof(float));
        if (!views[v].rgba) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory for view %d", v);
        for (size_t p = 0; p < pixels; p++)
            for (int c = 0; c < 4; c++)
                views[v].rgba[4 * p + c] = c < img->channels ? img->pixels[p * (size_t)img->channels + (size_t)c] : 1.0f;
        if (pixels > *largest) *largest = pixels;
    }
    return RD_OK;
}

rd_result rd_train_views_copy(rd_context *ctx, const rd_train_view *in, int count, view_data **out, size_t *largest)
{
    view_data *views = *out = calloc((size_t)count, sizeof(view_data));
    if (!views) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory");
    rd_result r = copy_views(ctx, in, count, views, largest);
    if (r != RD_OK) rd_train_views_free(views, count), *out = NULL; /* nothing left half-made */
    return r;
}

void rd_train_views_free(view_data *views, int count)
{
    for (int v = 0; views && v < count; v++) free(views[v].rgba);
    free(views);
}

float rd_train_views_extent(const view_data *views, int count)
{
    float mean[3] = {0, 0, 0}, c[3], r = 0.0f;
    for (int v = 0; v < count; v++) {
        rd_camera_center(&views[v].camera, c);
        for (int a = 0; a < 3; a++) mean[a] += c[a] / (float)count;
    }
    for (int v = 0; v < count; v++) {
        rd_camera_center(&views[v].camera, c);
        float d = sqrtf((c[0] - mean[0]) * (c[0] - mean[0]) + (c[1] - mean[1]) * (c[1] - mean[1]) + (c[2] - mean[2]) * (c[2] - mean[2]));
        if (d > r) r = d;
    }
    return r > 0.0f ? 1.1f * r : 1.0f;
}

int rd_train_views_next(int *order, int *at, int count, rd_rng *rng)
{
    if (*at >= count) {
        for (int v = 0; v < count; v++) order[v] = v;
        for (int v = count - 1; v > 0; v--) {
            int j = (int)(rd_rng_next(rng) % (uint64_t)(v + 1)), tmp = order[v];
            order[v] = order[j], order[j] = tmp;
        }
        *at = 0;
    }
    return order[(*at)++];
}

void rd_train_view_target(const view_data *view, const float background[3], float *target)
{
    size_t pixels = (size_t)view->camera.width * (size_t)view->camera.height;
    for (size_t p = 0; p < pixels; p++) {
        float a = view->rgba[4 * p + 3];
        for (int c = 0; c < 3; c++) target[4 * p + c] = view->rgba[4 * p + c] * a + background[c] * (1.0f - a);
        target[4 * p + 3] = a;
    }
}

bool rd_step_frame_alloc(const view_data *views, int count, size_t largest, step_frame *f)
{
    size_t scratch = 0;
    for (int v = 0; v < count; v++) {
        size_t need = rd_loss_scratch_doubles(views[v].camera.width, views[v].camera.height);
        if (need > scratch) scratch = need;
    }
    *f = (step_frame){malloc(4 * largest * sizeof(float)), malloc(4 * largest * sizeof(float)), malloc(4 * largest * sizeof(float)),
                      malloc(scratch * sizeof(double))};
    bool ok = f->render && f->target && f->loss_grad && f->loss_scratch;
    if (!ok) rd_step_frame_free(f);
    return ok;
}

void rd_step_frame_free(step_frame *f)
{
    free(f->render), free(f->target), free(f->loss_grad), free(f->loss_scratch);
    memset(f, 0, sizeof *f);
}
