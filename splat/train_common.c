/* train_common.c: what every splat trainer shares (trainer.h): the views it fits (copied
   and checked, their extent, the seeded order a run visits them in, each photo on a step's
   background), a host step's frame, the per-group arrays, the initial points, and the
   adaptive density control's rule. */
#include "trainer.h"
#include "knn.h"
#include "scene4d.h"
#include "../renderer/kinds.h"
#include "splat_math.h"
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

/* ---- the per-group arrays ---- */

bool rd_group_arrays_alloc(int groups, const int *widths, int64_t count, trainer_arrays *a)
{
    memset(a, 0, sizeof *a);
    bool ok = (a->grad_norm = calloc((size_t)count + 1, sizeof(float))) && (a->views_seen = calloc((size_t)count + 1, sizeof(uint32_t)));
    for (int g = 0; g < groups; g++) {
        a->sizes[g] = (size_t)count * (size_t)widths[g];
        ok = ok && (a->grads[g] = calloc(a->sizes[g] + 1, sizeof(float))) && (a->m[g] = calloc(a->sizes[g] + 1, sizeof(float))) &&
             (a->v[g] = calloc(a->sizes[g] + 1, sizeof(float)));
    }
    if (!ok) rd_trainer_arrays_free(a);
    return ok;
}

void rd_trainer_arrays_free(trainer_arrays *a)
{
    for (int g = 0; g < TRAINER_MAX_GROUPS; g++) free(a->grads[g]), free(a->m[g]), free(a->v[g]);
    free(a->grad_norm), free(a->views_seen);
    memset(a, 0, sizeof *a);
}

/* ---- the initial points ---- */

rd_result rd_trainer_check_initial(rd_context *ctx, const rd_trainer_desc *d)
{
    int iterations = d->iterations ? d->iterations : 30000;
    if (d->start_iteration < 0 || d->start_iteration > iterations)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: start_iteration %d is outside 0..%d (iterations)",
                       d->start_iteration, iterations);
    if (!d->initial) return RD_OK;
    const rd_scene_head *head = rd_scene_head_of(d->initial);
    const char *want = d->kind == RD_SCENE_GAUSSIANS_4D ? "4D Gaussians" : "Gaussians";
    if (head->kind != d->kind)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: initial: a %s scene, and the trainer fits %s",
                       rd_kind(head->kind) ? rd_kind(head->kind)->name : "kind of", want);
    if (head->memory != RD_MEMORY_HOST)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: initial: the scene lives in device memory; give host arrays");
    int64_t count = d->kind == RD_SCENE_GAUSSIANS_4D ? ((const rd_scene4d *)d->initial)->count : d->initial->count;
    int degree = d->kind == RD_SCENE_GAUSSIANS_4D ? ((const rd_scene4d *)d->initial)->sh_degree : d->initial->sh_degree;
    if (count < 1) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: initial: the scene has no Gaussians");
    if (d->points) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: both initial and points are given");
    if (d->sh_degree && d->sh_degree - 1 != degree)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: sh_degree %d, and the initial scene's is %d", d->sh_degree - 1,
                       degree);
    if (d->kind != RD_SCENE_GAUSSIANS_4D) return RD_OK;
    const rd_scene4d *s = (const rd_scene4d *)d->initial;
    if (s->appearance)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_trainer_create: initial: the scene's colour comes from appearance networks, "
                                                  "which the trainer does not fit");
    if (d->time_degree && d->time_degree - 1 != s->time_degree)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: time_degree %d, and the initial scene's is %d",
                       d->time_degree - 1, s->time_degree);
    if (d->time_period != 0.0f && d->time_period != s->time_period)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: time_period %g, and the initial scene's is %g", d->time_period,
                       s->time_period);
    return RD_OK;
}

void rd_seed_points_free(seed_points *p)
{
    free(p->xyz), free(p->log_scale), free(p->rgb);
    memset(p, 0, sizeof *p);
}

rd_result rd_seed_points_make(rd_context *ctx, const rd_trainer_desc *d, rd_rng *rng, seed_points *out)
{
    int64_t n = d->points ? d->point_count : d->point_count > 0 ? d->point_count : 100000;
    *out = (seed_points){n, malloc(sizeof(float) * (size_t)(3 * n + 1)), malloc(sizeof(float) * (size_t)(n + 1)),
                         malloc(sizeof(float) * (size_t)(3 * n + 1))};
    float *near = d->points ? malloc(sizeof(float) * (size_t)(n + 1)) : NULL;
    if (!out->xyz || !out->log_scale || !out->rgb || (d->points && (!near || !rd_knn_mean_sq(d->points, n, 3, near)))) {
        free(near);
        rd_seed_points_free(out);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory for %lld initial points", (long long)n);
    }
    float lo[3], hi[3];
    for (int a = 0; a < 3; a++) lo[a] = d->box_min[a], hi[a] = d->box_max[a];
    if (d->points)
        for (int64_t i = 0; i < n; i++)
            for (int a = 0; a < 3; a++) {
                float x = d->points[3 * i + a];
                if (i == 0 || x < lo[a]) lo[a] = x;
                if (i == 0 || x > hi[a]) hi[a] = x;
            }
    double volume = 1.0;
    for (int a = 0; a < 3; a++) volume *= fmax(1e-6, (double)hi[a] - (double)lo[a]);
    float spacing = logf((float)cbrt(volume / (double)(n > 0 ? n : 1)) * 0.5f);
    for (int64_t i = 0; i < n; i++) {
        for (int a = 0; a < 3; a++) {
            out->xyz[3 * i + a] = d->points ? d->points[3 * i + a] : lo[a] + (hi[a] - lo[a]) * rd_rng_uniform(rng);
            out->rgb[3 * i + a] = d->colors ? d->colors[3 * i + a] : d->points ? 0.5f : rd_rng_uniform(rng);
        }
        out->log_scale[i] = near ? 0.5f * logf(fmaxf(near[i], 1e-7f)) : spacing;
    }
    free(near);
    return RD_OK;
}

/* ---- adaptive density control's rule ---- */

void rd_split_offset(const float log_scale[3], const float q[4], rd_rng *rng, float out[3])
{
    float unit[4], R[9], length, draw[3];
    if (!rd_quat_rotation(q, unit, R, &length)) memset(R, 0, sizeof R); /* no rotation: no offset */
    for (int a = 0; a < 3; a++) draw[a] = expf(log_scale[a]) * rd_rng_normal(rng);
    for (int a = 0; a < 3; a++) out[a] = R[3 * a] * draw[0] + R[3 * a + 1] * draw[1] + R[3 * a + 2] * draw[2];
}

int64_t rd_density_rows(const density_inputs *in, new_row *rows)
{
    int64_t count = 0;
    float min_logit = rd_logit(in->prune_opacity > 0.0f ? in->prune_opacity : DENSIFY_PRUNE_OPACITY);
    float threshold = in->grad_threshold > 0.0f ? in->grad_threshold : DENSIFY_GRAD_THRESHOLD;
    for (int64_t i = 0; i < in->count; i++) {
        float grad = in->views_seen[i] ? in->grad_norm[i] / (float)in->views_seen[i] : 0.0f;
        bool grow = grad >= threshold, small = in->max_scale[i] <= DENSIFY_PERCENT_DENSE * in->extent;
        bool pruned = in->opacities[i] < min_logit || (in->prune_big && in->max_scale[i] > DENSIFY_PRUNE_SCALE * in->extent);
        if (grow && !small) { /* split: two children replace it (the children are pruned by the parent's measure) */
            if (!pruned) rows[count++] = (new_row){i, true, true}, rows[count++] = (new_row){i, true, true};
            continue;
        }
        if (pruned) continue; /* a clone too: 3DGS prunes after cloning, and a clone is as faint */
        rows[count++] = (new_row){i, false, false};
        if (grow && small) rows[count++] = (new_row){i, true, false};
    }
    return count;
}

