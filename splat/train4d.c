/* train4d.c: the 4D trainer's creation and step (train4d.h). */
#include "train4d.h"
#include "train_device.h"
#include "../train/adam.h"
#include "../train/loss.h"

#include <stdlib.h>
#include <string.h>

int rd_trainer4d_group_width(const rd_trainer4d *t, int g)
{
    static const int widths[GROUPS4] = {3, 1, 4, 8, 1, 3, -1}; /* -1: every SH float but the DC's */
    return widths[g] >= 0 ? widths[g] : (int)rd_scene4d_sh_floats(t->max_degree, t->max_time_degree) - 3;
}

bool rd_trainer4d_arrays_alloc(const rd_trainer4d *t, int64_t count, trainer_arrays *a)
{
    int widths[GROUPS4];
    for (int g = 0; g < GROUPS4; g++) widths[g] = rd_trainer4d_group_width(t, g);
    return rd_group_arrays_alloc(GROUPS4, widths, count, a);
}

void rd_trainer4d_destroy(rd_trainer4d *t)
{
    if (!t) return;
#ifdef RD_HAVE_CUDA
    rd_trainer4d_device_destroy(t);
#endif
    rd_train_views_free(t->views, t->view_count);
    rd_scene_destroy((rd_scene *)t->scene);
    rd_trainer_arrays_free(&t->a);
    free(t->order);
    rd_step_frame_free(&t->frame);
    free(t);
}

/* The recipe's start (spec/dynamic.md, "Init"): Gaussians at the seed points (as the 3D
   trainer's), times uniform over the views' range widened by a tenth of the period each
   side, temporal scale sqrt(T / 5); no rotation (q_l = q_r = 1); opacity 0.1; the
   temporal colour terms zero. */
static rd_result initialise(rd_trainer4d *t, const rd_trainer_desc *d)
{
    float period = t->desc.time_period;
    if (d->initial) { /* a fitted scene continued */
        const rd_scene4d *in = (const rd_scene4d *)d->initial;
        rd_result r = rd_scene4d_alloc(t->ctx, in->count, in->sh_degree, in->time_degree, in->time_period, &t->scene);
        if (r != RD_OK) return r;
        size_t n = (size_t)in->count;
        memcpy(t->scene->means, in->means, n * 4 * sizeof(float));
        memcpy(t->scene->log_scales, in->log_scales, n * 4 * sizeof(float));
        memcpy(t->scene->rotations, in->rotations, n * 8 * sizeof(float));
        memcpy(t->scene->opacities, in->opacities, n * sizeof(float));
        memcpy(t->scene->sh, in->sh, n * (size_t)rd_scene4d_sh_floats(in->sh_degree, in->time_degree) * sizeof(float));
        rd_scene4d_refresh(t->ctx, t->scene);
        return RD_OK;
    }
    seed_points p;
    rd_result r = rd_seed_points_make(t->ctx, d, &t->rng, &p);
    if (r == RD_OK) r = rd_scene4d_alloc(t->ctx, p.count, t->max_degree, t->max_time_degree, period, &t->scene);
    if (r != RD_OK) {
        rd_seed_points_free(&p);
        return r;
    }
    rd_scene4d *s = t->scene;
    int64_t shf = rd_scene4d_sh_floats(t->max_degree, t->max_time_degree);
    memset(s->sh, 0, (size_t)p.count * (size_t)shf * sizeof(float));
    for (int64_t i = 0; i < p.count; i++) {
        for (int a = 0; a < 3; a++) {
            s->means[4 * i + a] = p.xyz[3 * i + a];
            s->log_scales[4 * i + a] = p.log_scale[i];
            s->sh[i * shf + a] = rd_dc_from_color(p.rgb[3 * i + a]);
        }
        s->means[4 * i + 3] = t->time_min + period * (1.2f * rd_rng_uniform(&t->rng) - 0.1f);
        s->log_scales[4 * i + 3] = 0.5f * logf(period / 5.0f);
        for (int k = 0; k < 8; k++) s->rotations[8 * i + k] = k % 4 == 0 ? 1.0f : 0.0f;
        s->opacities[i] = rd_logit(0.1f);
    }
    rd_seed_points_free(&p);
    rd_scene4d_refresh(t->ctx, s);
    return RD_OK;
}

static rd_result check_desc(rd_context *ctx, const rd_trainer_desc *d)
{
    if (d->mcmc) return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_trainer_create: 4D training has no 3DGS-MCMC yet (densify is there)");
    if (rd_context_backend(ctx) == RD_BACKEND_VULKAN)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_trainer_create: 4D training runs on the CPU and CUDA backends (Vulkan has no backward pass yet)");
    if (d->time_degree < 0 || d->time_degree > RD_SH_DEGREE(RD_4D_MAX_TIME_DEGREE) || d->batch < 0 || d->batch > 64)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: time_degree %d (RD_SH_DEGREE(0..%d)) or batch %d (0..64) is out of range",
                       d->time_degree, RD_4D_MAX_TIME_DEGREE, d->batch);
    if (!(d->time_period >= 0.0f) || !isfinite(d->time_period))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: time_period %g is not a positive time (or 0)", d->time_period);
    return RD_OK;
}

rd_result rd_trainer4d_create(rd_context *ctx, const rd_trainer_desc *desc, rd_trainer4d **out)
{
    *out = NULL;
    rd_result r = check_desc(ctx, desc);
    if (r != RD_OK) return r;
    rd_trainer4d *t = calloc(1, sizeof *t);
    if (!t) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory");
    t->ctx = ctx;
    t->desc = *desc;
    t->desc.views = NULL; /* copied below; the caller's may go */
    if (!t->desc.iterations) t->desc.iterations = 30000;
    const rd_scene4d *initial = (const rd_scene4d *)desc->initial;
    t->max_degree = initial ? initial->sh_degree : desc->sh_degree ? desc->sh_degree - 1 : 3;
    t->max_time_degree = initial ? initial->time_degree : desc->time_degree ? desc->time_degree - 1 : RD_4D_MAX_TIME_DEGREE;
    t->iteration = desc->start_iteration;
    if (initial) t->desc.time_period = initial->time_period;
    t->batch = desc->batch ? desc->batch : 1;
    t->rng.state = desc->seed;
    size_t largest = 0;
    r = rd_train_views_copy(ctx, desc->views, desc->view_count, &t->views, &largest);
    if (r == RD_OK) {
        t->view_count = desc->view_count;
        t->time_min = t->time_max = t->views[0].time;
        for (int v = 1; v < t->view_count; v++)
            t->time_min = fminf(t->time_min, t->views[v].time), t->time_max = fmaxf(t->time_max, t->views[v].time);
        if (t->desc.time_period == 0.0f) t->desc.time_period = t->time_max > t->time_min ? t->time_max - t->time_min : 1.0f;
        r = initialise(t, desc);
    }
    if (r == RD_OK) {
        t->extent = rd_train_views_extent(t->views, t->view_count);
        bool ok = rd_trainer4d_arrays_alloc(t, t->scene->count, &t->a);
        t->order = calloc((size_t)t->view_count, sizeof(int)); /* written by checkpoints before the first step */
        if (!rd_train_on_device(ctx)) /* the device step has its frame on the device */
            ok = ok && rd_step_frame_alloc(t->views, t->view_count, largest, &t->frame);
        if (!ok || !t->order)
            r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory for %lld 4D Gaussians", (long long)t->scene->count);
        t->order_at = t->view_count; /* a new permutation on the first step */
    }
#ifdef RD_HAVE_CUDA
    if (r == RD_OK && rd_train_on_device(ctx)) r = rd_trainer4d_device_create(t);
#endif
    if (r != RD_OK) {
        rd_trainer4d_destroy(t);
        return r;
    }
    *out = t;
    return RD_OK;
}

/* The active degrees at this step: spatial first, then temporal (train4d.h). */
static int active_degree(const rd_trainer4d *t) { return rd_active_sh_degree(t->iteration, t->max_degree); }
static int active_time_degree(const rd_trainer4d *t)
{
    int n = t->iteration / 1000 - t->max_degree;
    return n < 0 ? 0 : n < t->max_time_degree ? n : t->max_time_degree;
}

/* One view's render, loss and backward into the full-layout gradients g (added); on the
   device into its own gradients (g unused), the loss summed there. */
static rd_result view_pass(rd_trainer4d *t, const rd_gaussian4d_grads *g, double *loss)
{
    int index = rd_train_views_next(t->order, &t->order_at, t->view_count, &t->rng);
    const view_data *view = &t->views[index];
    const rd_camera *cam = &view->camera;
    rd_render_desc rd = {.sh_degree = RD_SH_DEGREE(active_degree(t)), .time = view->time};
    rd_step_background(&t->desc, &t->rng, rd.background);
#ifdef RD_HAVE_CUDA
    if (t->device) return rd_trainer4d_device_view(t, index, &rd, active_time_degree(t) + 1);
#endif
    rd_train_view_target(view, rd.background, t->frame.target);
    rd_result r = rd_render(t->ctx, (rd_scene *)t->scene, cam, &rd, &(rd_framebuffer){.color = t->frame.render});
    if (r != RD_OK) return r;
    rd_loss_desc ld = {cam->width, cam->height, t->frame.render, t->frame.target, 0.2f};
    *loss += rd_loss_l1_dssim(&ld, t->frame.loss_grad, t->frame.loss_scratch);
    return rd_render_backward(t->ctx, (rd_scene *)t->scene, 1, cam, &rd, &(rd_render_grads){t->frame.loss_grad, NULL, RD_MEMORY_HOST},
                              &(rd_scene_grads){RD_SCENE_GAUSSIANS_4D, g, NULL, RD_MEMORY_HOST});
}

/* Splits rows of `width` floats into their first `first` and the rest (or joins them). */
static void split_rows(float *whole, int64_t n, int width, int first, float *head, float *tail, bool join)
{
    for (int64_t i = 0; i < n; i++) {
        float *row = whole + i * width, *h = head + i * first, *rest = tail + i * (width - first);
        if (join) memcpy(row, h, (size_t)first * sizeof(float)), memcpy(row + first, rest, (size_t)(width - first) * sizeof(float));
        else memcpy(h, row, (size_t)first * sizeof(float)), memcpy(rest, row + first, (size_t)(width - first) * sizeof(float));
    }
}

/* Adam on every group: the means and SH split into their groups and joined after; the
   temporal terms not yet active get no gradient. */
static void learning_rates(const rd_trainer4d *t, float lr[GROUPS4])
{
    const float rates[GROUPS4] = {rd_lr_means(t->extent, t->iteration, t->desc.iterations), 1.6e-4f * t->extent, RD_LR_SCALES,
                                  RD_LR_ROTATIONS, RD_LR_OPACITIES, RD_LR_DC, RD_LR_REST};
    memcpy(lr, rates, sizeof rates);
}

static rd_result update(rd_trainer4d *t, const float *g_means, const float *g_sh)
{
    rd_scene4d *s = t->scene;
    int64_t n = s->count, shf = rd_scene4d_sh_floats(t->max_degree, t->max_time_degree), K3 = 3 * rd_sh_coeffs(t->max_degree);
    float *xyz = malloc(sizeof(float) * (size_t)(3 * n + 1)), *time = malloc(sizeof(float) * (size_t)(n + 1));
    float *dc = malloc(sizeof(float) * (size_t)(3 * n + 1)), *rest = malloc(sizeof(float) * (t->a.sizes[G4_REST] + 1));
    if (!xyz || !time || !dc || !rest) {
        free(xyz), free(time), free(dc), free(rest);
        return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "4D training step: out of memory");
    }
    split_rows(s->means, n, 4, 3, xyz, time, false);
    split_rows((float *)g_means, n, 4, 3, t->a.grads[G4_MEANS], t->a.grads[G4_TIME], false);
    split_rows(s->sh, n, (int)shf, 3, dc, rest, false);
    split_rows((float *)g_sh, n, (int)shf, 3, t->a.grads[G4_DC], t->a.grads[G4_REST], false);
    int active_terms = active_time_degree(t) + 1;
    for (int64_t i = 0; i < n; i++) /* rest holds, per Gaussian, term 0's K3 - 3 then each later term's K3 */
        memset(t->a.grads[G4_REST] + i * (shf - 3) + active_terms * K3 - 3, 0, (size_t)(shf - active_terms * K3) * sizeof(float));
    float lr[GROUPS4];
    learning_rates(t, lr);
    float *params[GROUPS4] = {xyz, time, s->log_scales, s->rotations, s->opacities, dc, rest};
    for (int g = 0; g < GROUPS4; g++)
        rd_adam_update(params[g], t->a.grads[g], t->a.m[g], t->a.v[g], t->a.sizes[g], &(rd_adam_step_desc){.lr = lr[g], .step = t->iteration - t->desc.start_iteration + 1, .threads = t->ctx->threads});
    split_rows(s->means, n, 4, 3, xyz, time, true);
    split_rows(s->sh, n, (int)shf, 3, dc, rest, true);
    free(xyz), free(time), free(dc), free(rest);
    rd_scene4d_refresh(t->ctx, s);
    return RD_OK;
}

#ifdef RD_HAVE_CUDA
/* One step on the device: its gradients zeroed, the batch's views, Adam with their mean. */
static rd_result step_on_device(rd_trainer4d *t)
{
    rd_result r = rd_trainer4d_device_zero_grads(t);
    for (int b = 0; b < t->batch && r == RD_OK; b++) r = view_pass(t, NULL, NULL);
    float lr[GROUPS4];
    learning_rates(t, lr);
    if (r == RD_OK) r = rd_trainer4d_device_update(t, lr, 1.0f / (float)t->batch);
    if (r == RD_OK) t->iteration++, t->host_stale = true;
    return r;
}
#endif

rd_result rd_trainer4d_sync_host(rd_trainer4d *t)
{
#ifdef RD_HAVE_CUDA
    if (!t->device || !t->host_stale) return RD_OK;
    rd_result r = rd_trainer4d_device_download(t);
    if (r == RD_OK) t->host_stale = false;
    return r;
#else
    (void)t;
    return RD_OK;
#endif
}

rd_result rd_trainer4d_sync_device(rd_trainer4d *t)
{
#ifdef RD_HAVE_CUDA
    return t->device ? rd_trainer4d_device_upload(t) : RD_OK;
#else
    (void)t;
    return RD_OK;
#endif
}

/* One step: the batch's views, their gradients averaged, then Adam. The densification
   statistic takes each view's own gradient, as with one view a step. */
static rd_result step_once(rd_trainer4d *t, double *loss)
{
#ifdef RD_HAVE_CUDA
    if (t->device) return *loss = 0.0, step_on_device(t);
#endif
    int64_t n = t->scene->count, shf = rd_scene4d_sh_floats(t->max_degree, t->max_time_degree);
    float *g_means = calloc((size_t)(4 * n + 1), sizeof(float)), *g_sh = calloc((size_t)(shf * n + 1), sizeof(float));
    if (!g_means || !g_sh) {
        free(g_means), free(g_sh);
        return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "4D training step: out of memory for %lld Gaussians", (long long)n);
    }
    for (int g = G4_SCALES; g <= G4_OPACITIES; g++) memset(t->a.grads[g], 0, t->a.sizes[g] * sizeof(float));
    rd_gaussian4d_grads gg = {g_means, t->a.grads[G4_SCALES], t->a.grads[G4_ROTATIONS], t->a.grads[G4_OPACITIES], g_sh,
                              t->a.grad_norm, t->a.views_seen};
    rd_result r = RD_OK;
    *loss = 0.0;
    for (int b = 0; b < t->batch && r == RD_OK; b++) r = view_pass(t, &gg, loss);
    *loss /= t->batch;
    if (r == RD_OK && t->batch > 1) {
        float inverse = 1.0f / (float)t->batch;
        for (int64_t k = 0; k < 4 * n; k++) g_means[k] *= inverse;
        for (int64_t k = 0; k < shf * n; k++) g_sh[k] *= inverse;
        for (int g = G4_SCALES; g <= G4_OPACITIES; g++)
            for (size_t k = 0; k < t->a.sizes[g]; k++) t->a.grads[g][k] *= inverse;
    }
    if (r == RD_OK) r = update(t, g_means, g_sh);
    if (r == RD_OK) t->iteration++;
    free(g_means), free(g_sh);
    return r;
}

rd_result rd_trainer4d_step(rd_trainer4d *t, int steps, rd_train_stats *stats)
{
    double total = 0.0, loss = 0.0;
    rd_result r = RD_OK;
    for (int k = 0; k < steps && r == RD_OK; k++) {
        r = step_once(t, &loss);
        if (r == RD_OK && t->desc.densify) r = rd_trainer4d_control_density(t);
        total += loss;
    }
#ifdef RD_HAVE_CUDA
    if (t->device && steps > 0) { /* the device's sum over the views, less lambda a view */
        double sum = 0.0;
        if (r == RD_OK) r = rd_trainer4d_device_loss(t, &sum);
        total = (sum + 0.2 * steps * t->batch) / t->batch;
    }
#endif
    if (stats) {
        stats->iteration = t->iteration;
        stats->loss = steps ? total / steps : 0.0;
        stats->gaussians = t->scene->count;
        stats->sh_degree = active_degree(t);
    }
    return r;
}
