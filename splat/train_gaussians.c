/* train_gaussians.c: the Gaussian trainer (radiant_train.h): the 3DGS recipe's step on
   any backend that has a backward pass, through the public render and backward calls.
   Parameters live in a scene the trainer owns; after each update the scene gets a new
   uid, so that a GPU backend's cached copy is refreshed. With rd_trainer_desc.densify,
   the recipe's adaptive density control clones, splits and prunes every 100 steps from
   step 500 to 15,000 and resets opacities every 3,000. */
#include "trainer.h"
#include "train4d.h"
#include "train_device.h"
#include "mcmc.h"
#include "../train/adam.h"
#include "../train/loss.h"

#include <stdlib.h>
#include <string.h>

bool rd_trainer_arrays_alloc(const rd_trainer *t, int64_t count, trainer_arrays *a)
{
    int widths[GROUPS];
    for (int g = 0; g < GROUPS; g++) widths[g] = rd_trainer_group_width(t, g);
    return rd_group_arrays_alloc(GROUPS, widths, count, a);
}


void rd_trainer_arrays_adopt(rd_trainer *t, trainer_arrays *a)
{
    trainer_arrays old = {.grad_norm = t->grad_norm, .views_seen = t->views_seen};
    for (int g = 0; g < GROUPS; g++) {
        old.grads[g] = t->grads[g], old.m[g] = t->m[g], old.v[g] = t->v[g];
        t->grads[g] = a->grads[g], t->m[g] = a->m[g], t->v[g] = a->v[g], t->sizes[g] = a->sizes[g];
    }
    t->grad_norm = a->grad_norm, t->views_seen = a->views_seen;
    rd_trainer_arrays_free(&old);
    memset(a, 0, sizeof *a);
}

static void free_trainer(rd_trainer *t)
{
    rd_trainer4d_destroy(t->four_d);
    rd_train_device_destroy(t);
    rd_train_views_free(t->views, t->view_count);
    rd_scene_destroy(t->scene);
    trainer_arrays none = {0};
    rd_trainer_arrays_adopt(t, &none); /* frees the trainer's */
    free(t->order);
    rd_step_frame_free(&t->frame);
    free(t);
}

void rd_trainer_destroy(rd_trainer *t)
{
    if (t) free_trainer(t);
}

/* Gaussians at the seed points: opacity 0.1, no rotation, the points' colour as DC. */
static rd_result initialise(rd_trainer *t, const rd_trainer_desc *d)
{
    if (d->initial) { /* a fitted scene continued */
        const rd_scene *in = d->initial;
        rd_result r = rd_scene_alloc(t->ctx, in->count, in->sh_degree, &t->scene);
        if (r != RD_OK) return r;
        size_t n = (size_t)in->count;
        t->scene->flags = in->flags & ~(uint32_t)RD_SCENE_PACKED; /* the antialiased mode, say; training moves the values off halves */
        memcpy(t->scene->means, in->means, n * 3 * sizeof(float));
        memcpy(t->scene->log_scales, in->log_scales, n * 3 * sizeof(float));
        memcpy(t->scene->rotations, in->rotations, n * 4 * sizeof(float));
        memcpy(t->scene->opacities, in->opacities, n * sizeof(float));
        memcpy(t->scene->sh, in->sh, n * (size_t)rd_sh_coeffs(in->sh_degree) * 3 * sizeof(float));
        return RD_OK;
    }
    seed_points p;
    rd_result r = rd_seed_points_make(t->ctx, d, &t->rng, &p);
    if (r == RD_OK) r = rd_scene_alloc(t->ctx, p.count, t->max_degree, &t->scene);
    if (r != RD_OK) {
        rd_seed_points_free(&p);
        return r;
    }
    rd_scene *s = t->scene;
    int K = rd_sh_coeffs(t->max_degree);
    memset(s->sh, 0, (size_t)p.count * (size_t)K * 3 * sizeof(float));
    for (int64_t i = 0; i < p.count; i++) {
        for (int a = 0; a < 3; a++) {
            s->means[3 * i + a] = p.xyz[3 * i + a];
            s->log_scales[3 * i + a] = p.log_scale[i];
            s->sh[(size_t)i * (size_t)K * 3 + (size_t)a] = rd_dc_from_color(p.rgb[3 * i + a]);
        }
        s->rotations[4 * i] = 1.0f, s->rotations[4 * i + 1] = s->rotations[4 * i + 2] = s->rotations[4 * i + 3] = 0.0f;
        s->opacities[i] = rd_logit(0.1f);
    }
    rd_seed_points_free(&p);
    return RD_OK;
}

rd_result rd_trainer_create(rd_context *ctx, const rd_trainer_desc *desc, rd_trainer **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: out is NULL");
    *out = NULL;
    if (!desc || !desc->views || desc->view_count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: at least one view is required");
    if (desc->sh_degree < 0 || desc->sh_degree > RD_SH_DEGREE(3) || desc->iterations < 0 || desc->point_count < 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: sh_degree %d, iterations %d or point_count %lld is out of range",
                       desc->sh_degree, desc->iterations, (long long)desc->point_count);
    if (desc->points && desc->point_count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: points given with point_count %lld", (long long)desc->point_count);
    if (desc->kind != RD_SCENE_GAUSSIANS && desc->kind != RD_SCENE_GAUSSIANS_4D)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create: kind %d: Gaussians or 4D Gaussians are trained",
                       (int)desc->kind);
    rd_result checked = rd_trainer_check_initial(ctx, desc);
    if (checked != RD_OK) return checked;
    rd_trainer *t = calloc(1, sizeof *t);
    if (!t) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory");
    t->ctx = ctx;
    if (desc->kind == RD_SCENE_GAUSSIANS_4D) {
        rd_result r = rd_trainer4d_create(ctx, desc, &t->four_d);
        if (r == RD_OK) *out = t;
        else free(t);
        return r;
    }
    t->desc = *desc;
    t->desc.views = NULL; /* copied below; the caller's may go */
    if (!t->desc.iterations) t->desc.iterations = 30000;
    t->max_degree = desc->initial ? desc->initial->sh_degree : desc->sh_degree ? desc->sh_degree - 1 : 3;
    t->iteration = desc->start_iteration;
    t->rng.state = desc->seed;
    size_t largest = 0;
    rd_result r = rd_train_views_copy(ctx, desc->views, desc->view_count, &t->views, &largest);
    if (r == RD_OK) t->view_count = desc->view_count;
    if (r == RD_OK) r = initialise(t, desc);
    if (r == RD_OK) {
        t->extent = rd_train_views_extent(t->views, t->view_count);
        int64_t n = t->scene->count;
        trainer_arrays arrays;
        bool ok = rd_trainer_arrays_alloc(t, n, &arrays);
        if (ok) rd_trainer_arrays_adopt(t, &arrays);
        t->order = calloc((size_t)t->view_count, sizeof(int)); /* written by checkpoints before the first step */
        if (!rd_train_on_device(ctx)) /* the device step has its frame on the device */
            ok = ok && rd_step_frame_alloc(t->views, t->view_count, largest, &t->frame);
        if (!ok || !t->order)
            r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory for %lld Gaussians", (long long)n);
        t->order_at = t->view_count; /* a new permutation on the first step */
    }
    if (r == RD_OK && rd_train_on_device(ctx)) r = rd_train_device_create(t);
    if (r != RD_OK) {
        free_trainer(t);
        return r;
    }
    *out = t;
    return RD_OK;
}

rd_result rd_trainer_sync_host(rd_trainer *t)
{
    if (!t->device || !t->host_stale) return RD_OK;
    rd_result r = rd_train_device_download(t);
    if (r == RD_OK) t->host_stale = false;
    return r;
}

rd_result rd_trainer_sync_device(rd_trainer *t)
{
    return t->device ? rd_train_device_upload(t) : RD_OK;
}

rd_result rd_trainer_evaluate(rd_trainer *t, const rd_evaluate_desc *desc, rd_metrics *mean)
{
    if (!t) return rd_fail(NULL, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_evaluate: trainer is NULL");
    return rd_scene_evaluate(t->ctx, rd_trainer_scene(t), desc, mean);
}

const rd_scene *rd_trainer_scene(const rd_trainer *t)
{
    if (!t) return NULL;
    if (t->four_d) { /* as below */
        rd_trainer4d_sync_host(t->four_d);
        return (const rd_scene *)t->four_d->scene;
    }
    /* the scene as the caller sees it is the trainer's state, so bringing it up to date is
       not a change of the trainer: a failed download leaves the last one (and says so in
       the context's error) */
    rd_trainer_sync_host((rd_trainer *)t);
    return t->scene;
}

/* The recipe's learning rates at this step (spec/gaussians.md): the means' decays
   exponentially from 1.6e-4 to 1.6e-6 times the extent over the run. */
static void learning_rates(const rd_trainer *t, float lr[GROUPS])
{
    lr[GROUP_MEANS] = rd_lr_means(t->extent, t->iteration, t->desc.iterations);
    lr[GROUP_SCALES] = RD_LR_SCALES;
    lr[GROUP_ROTATIONS] = RD_LR_ROTATIONS;
    lr[GROUP_OPACITIES] = RD_LR_OPACITIES;
    lr[GROUP_DC] = RD_LR_DC;
    lr[GROUP_REST] = RD_LR_REST;
}

static rd_result step_once(rd_trainer *t, double *loss)
{
    int view_index = rd_train_views_next(t->order, &t->order_at, t->view_count, &t->rng);
    const view_data *view = &t->views[view_index];
    const rd_camera *cam = &view->camera;
    int active = rd_active_sh_degree(t->iteration, t->max_degree);
    rd_render_desc rd = {.flags = t->desc.deterministic ? RD_RENDER_DETERMINISTIC : 0u, .sh_degree = RD_SH_DEGREE(active)};
    rd_step_background(&t->desc, &t->rng, rd.background);
    if (t->device) { /* the loss is summed on the device (rd_trainer_step reads it) */
        float lr[GROUPS];
        learning_rates(t, lr);
        rd_result r = rd_train_device_step(t, view_index, &rd, lr);
        if (r == RD_OK) t->iteration++, t->host_stale = true;
        *loss = 0.0;
        return r;
    }
    rd_train_view_target(view, rd.background, t->frame.target);
    rd_result r = rd_render(t->ctx, t->scene, cam, &rd, &(rd_framebuffer){.color = t->frame.render});
    if (r != RD_OK) return r;
    rd_loss_desc ld = {cam->width, cam->height, t->frame.render, t->frame.target, 0.2f};
    *loss = rd_loss_l1_dssim(&ld, t->frame.loss_grad, t->frame.loss_scratch);

    /* the backward pass writes DC and higher coefficients interleaved (K*3 per Gaussian):
       it fills one SH array, split into the two groups after */
    int64_t n = t->scene->count;
    int K = rd_sh_coeffs(t->max_degree);
    float *sh_grad = calloc((size_t)n * (size_t)K * 3 + 1, sizeof(float));
    if (!sh_grad) return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "training step: out of memory");
    for (int g = 0; g < GROUPS; g++) memset(t->grads[g], 0, t->sizes[g] * sizeof(float));
    rd_gaussian_grads gg = {t->grads[GROUP_MEANS], t->grads[GROUP_SCALES], t->grads[GROUP_ROTATIONS], t->grads[GROUP_OPACITIES],
                            sh_grad, t->grad_norm, t->views_seen};
    r = rd_render_backward(t->ctx, t->scene, 1, cam, &rd, &(rd_render_grads){t->frame.loss_grad, NULL, RD_MEMORY_HOST},
                           &(rd_scene_grads){RD_SCENE_GAUSSIANS, &gg, NULL, RD_MEMORY_HOST});
    if (r == RD_OK) {
        rd_scene *s = t->scene;
        float *dc = malloc((size_t)n * 3 * sizeof(float) + 1), *rest = malloc(t->sizes[GROUP_REST] * sizeof(float) + 1);
        if (!dc || !rest) r = rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "training step: out of memory");
        for (int64_t i = 0; r == RD_OK && i < n; i++) {
            memcpy(t->grads[GROUP_DC] + 3 * i, sh_grad + (size_t)i * (size_t)K * 3, 3 * sizeof(float));
            memcpy(t->grads[GROUP_REST] + (size_t)i * (size_t)(K - 1) * 3, sh_grad + (size_t)i * (size_t)K * 3 + 3,
                   (size_t)(K - 1) * 3 * sizeof(float));
            memcpy(dc + 3 * i, s->sh + (size_t)i * (size_t)K * 3, 3 * sizeof(float));
            memcpy(rest + (size_t)i * (size_t)(K - 1) * 3, s->sh + (size_t)i * (size_t)K * 3 + 3, (size_t)(K - 1) * 3 * sizeof(float));
        }
        if (r == RD_OK) {
            float lr[GROUPS];
            learning_rates(t, lr);
            float *params[GROUPS] = {s->means, s->log_scales, s->rotations, s->opacities, dc, rest};
            if (t->desc.mcmc) rd_mcmc_regularise_host(t);
            for (int g = 0; g < GROUPS; g++)
                rd_adam_update(params[g], t->grads[g], t->m[g], t->v[g], t->sizes[g],
                               &(rd_adam_step_desc){.lr = lr[g], .step = t->iteration - t->desc.start_iteration + 1, .threads = t->ctx->threads});
            if (t->desc.mcmc) rd_mcmc_noise_host(t, lr[GROUP_MEANS]);
            for (int64_t i = 0; i < n; i++) {
                memcpy(s->sh + (size_t)i * (size_t)K * 3, dc + 3 * i, 3 * sizeof(float));
                memcpy(s->sh + (size_t)i * (size_t)K * 3 + 3, rest + (size_t)i * (size_t)(K - 1) * 3, (size_t)(K - 1) * 3 * sizeof(float));
            }
            s->head = rd_scene_head_new(RD_SCENE_GAUSSIANS); /* the arrays changed: caches must not match */
            t->iteration++;
        }
        free(dc);
        free(rest);
    }
    free(sh_grad);
    return r;
}

/* ---- adaptive density control (trainer.h's constants) ---- */

static float max_scale(const rd_scene *s, int64_t i)
{
    const float *ls = s->log_scales + 3 * i;
    return expf(fmaxf(fmaxf(ls[0], ls[1]), ls[2]));
}

/* Rebuilds the scene and every group's moments from rows; children are sampled from the
   parent's Gaussian (mean + R x, x ~ N(0, S^2)) with scales / 1.6. */
rd_result rd_trainer_rebuild(rd_trainer *t, const new_row *rows, int64_t count)
{
    rd_scene *old = t->scene, *s = NULL;
    rd_result r = rd_scene_alloc(t->ctx, count, old->sh_degree, &s);
    if (r != RD_OK) return r;
    trainer_arrays a;
    if (!rd_trainer_arrays_alloc(t, count, &a))
        r = rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "densification: out of memory for %lld Gaussians", (long long)count);
    int K = rd_sh_coeffs(old->sh_degree);
    for (int64_t j = 0; r == RD_OK && j < count; j++) {
        int64_t i = rows[j].from;
        memcpy(s->means + 3 * j, old->means + 3 * i, 3 * sizeof(float));
        memcpy(s->log_scales + 3 * j, old->log_scales + 3 * i, 3 * sizeof(float));
        memcpy(s->rotations + 4 * j, old->rotations + 4 * i, 4 * sizeof(float));
        s->opacities[j] = old->opacities[i];
        memcpy(s->sh + (size_t)j * (size_t)K * 3, old->sh + (size_t)i * (size_t)K * 3, (size_t)K * 3 * sizeof(float));
        for (int g = 0; !rows[j].fresh && g < GROUPS; g++) {
            size_t w = (size_t)rd_trainer_group_width(t, g);
            memcpy(a.m[g] + (size_t)j * w, t->m[g] + (size_t)i * w, w * sizeof(float));
            memcpy(a.v[g] + (size_t)j * w, t->v[g] + (size_t)i * w, w * sizeof(float));
        }
        if (!rows[j].child) continue;
        float offset[3];
        rd_split_offset(old->log_scales + 3 * i, old->rotations + 4 * i, &t->rng, offset);
        for (int a = 0; a < 3; a++) s->means[3 * j + a] += offset[a], s->log_scales[3 * j + a] -= logf(1.6f);
    }
    if (r != RD_OK) {
        rd_scene_destroy(s);
        rd_trainer_arrays_free(&a);
        return r;
    }
    s->flags = old->flags;
    rd_scene_destroy(old);
    t->scene = s;
    rd_trainer_arrays_adopt(t, &a);
    return RD_OK;
}

/* Clone, split and prune (rd_density_rows) on the host arrays. */
static rd_result densify(rd_trainer *t)
{
    const rd_scene *s = t->scene;
    int64_t n = s->count;
    new_row *rows = malloc(sizeof(new_row) * (size_t)(2 * n + 1));
    float *largest = malloc(sizeof(float) * (size_t)(n + 1));
    if (!rows || !largest) {
        free(rows), free(largest);
        return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "densification: out of memory");
    }
    for (int64_t i = 0; i < n; i++) largest[i] = max_scale(s, i);
    density_inputs in = {n, t->grad_norm, largest, s->opacities, t->views_seen, t->extent, t->iteration > RESET_EVERY};
    rd_result r = rd_trainer_rebuild(t, rows, rd_density_rows(&in, rows));
    free(rows), free(largest);
    return r;
}

/* Every opacity down to at most 0.01, its moments forgotten. */
static void reset_opacities(rd_trainer *t)
{
    float cap = rd_logit(0.01f);
    for (int64_t i = 0; i < t->scene->count; i++)
        if (t->scene->opacities[i] > cap) t->scene->opacities[i] = cap;
    memset(t->m[GROUP_OPACITIES], 0, t->sizes[GROUP_OPACITIES] * sizeof(float));
    memset(t->v[GROUP_OPACITIES], 0, t->sizes[GROUP_OPACITIES] * sizeof(float));
}

/* The schedule after step `iteration` (counted from 1), on the host arrays (brought from
   the device and back where it trains). */
static rd_result control_density(rd_trainer *t)
{
    int it = t->iteration;
    bool mcmc = t->desc.mcmc && it > RD_MCMC_FROM && it < RD_MCMC_UNTIL && it % RD_MCMC_EVERY == 0;
    /* never after the run's last step (the INRIA code saves before it): a scene handed over
       just reset, or with children not yet trained, is not the fit */
    bool within = it < DENSIFY_UNTIL && it < t->desc.iterations;
    bool grow = !t->desc.mcmc && within && it >= DENSIFY_FROM && it % DENSIFY_EVERY == 0;
    bool reset = !t->desc.mcmc && within && it % RESET_EVERY == 0;
    if (!grow && !reset && !mcmc) return RD_OK;
    rd_result r = rd_trainer_sync_host(t);
    if (r == RD_OK && grow) r = densify(t);
    if (r == RD_OK && reset) reset_opacities(t);
    if (r == RD_OK && mcmc) r = rd_mcmc_refine(t);
    return r == RD_OK ? rd_trainer_sync_device(t) : r;
}

rd_result rd_trainer_step(rd_trainer *t, int steps, rd_train_stats *stats)
{
    if (!t || steps < 0) return RD_ERROR_INVALID_ARGUMENT;
    int done = t->four_d ? t->four_d->iteration : t->iteration;
    if (steps > RD_TRAINER_MAX_STEPS - done)
        return rd_fail(t->ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_step: %d more steps after %d pass the limit of %d", steps, done,
                       RD_TRAINER_MAX_STEPS);
    if (t->four_d) return rd_trainer4d_step(t->four_d, steps, stats);
    double total = 0.0, loss = 0.0;
    rd_result r = RD_OK;
    for (int k = 0; k < steps && r == RD_OK; k++) {
        r = step_once(t, &loss);
        if (r == RD_OK && (t->desc.densify || t->desc.mcmc)) r = control_density(t);
        total += loss;
    }
    if (t->device && steps > 0) { /* the device's sum, less the lambda of each step */
        double sum = 0.0;
        if (r == RD_OK) r = rd_train_device_loss(t, &sum);
        total = sum + 0.2 * steps;
    }
    if (stats) {
        stats->iteration = t->iteration;
        stats->loss = steps ? total / steps : 0.0;
        stats->gaussians = t->scene->count;
        stats->sh_degree = rd_active_sh_degree(t->iteration, t->max_degree);
    }
    return r;
}
