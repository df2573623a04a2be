/* compact_finetune.c: the codebooks fitted to photos (compact.h, rd_compact_finetune).
   Each step renders one view of the decoded Gaussians, takes the L1 loss against its photo
   (alpha composited on the background), runs the renderer's backward pass, sums each
   Gaussian's row gradient into the codebook row it uses, and moves the rows by Adam; the
   Gaussians then follow their rows. Means stay as the file stores them. */
#include "compact.h"
#include "../renderer/internal.h"
#include "../splat/appearance4d.h"
#include "../train/adam.h"
#include "../splat/scene.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Learning rates by attribute, in the rows' units (the 3DGS recipe's, opacity's moved
   from logit to sigmoid space). */
static const float LEARNING_RATE[RD_COMPACT_ATTRIBUTES] = {0.005f, 0.001f, 0.01f, 0.0025f, 0.000125f, 0.001f};

/* With RADIANT_COMPACT_STAGE_TIMES set, each stage's milliseconds a step, logged (INFO) at
   the end: where a step's time goes (the renderer's or the host's bookkeeping). */
enum { STAGE_SCENE, STAGE_RENDER, STAGE_BACKWARD, STAGE_GATHER, STAGE_ADAM, STAGE_APPLY, STAGES };
static const char *const STAGE_NAMES[STAGES] = {"scene", "render + loss", "backward", "gather", "Adam", "apply"};

static void stage_done(bool timed, double stage_ms[STAGES], int stage, double *mark)
{
    if (!timed) return;
    double now = rd_now_ms();
    stage_ms[stage] += now - *mark, *mark = now;
}

typedef struct adam_rows {
    float *grad, *m, *v; /* entries x width each */
} adam_rows;

typedef struct gather_job {
    const rd_compact_arrays *a, *grads;
    const rd_compact_codes *codes;
    adam_rows *rows;
} gather_job;

/* Slices [begin, end): every Gaussian's row gradient summed into the codebook row it uses,
   in Gaussian order (a slice to a thread: the sums do not depend on the thread count). */
static void gather_slices(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const gather_job *j = user;
    float row[RD_COMPACT_MAX_ROW];
    for (int64_t k = begin; k < end; k++) {
        const rd_compact_slice *s = &j->codes[k].slice;
        float *grad = j->rows[k].grad;
        memset(grad, 0, (size_t)s->entries * s->width * sizeof(float));
        for (int64_t i = 0; i < j->a->count; i++) {
            rd_compact_row_grad(j->a, j->grads, s->attribute, i, row);
            float *g = grad + (size_t)j->codes[k].label[i] * s->width;
            for (int c = 0; c < s->width; c++) g[c] += row[s->first + c];
        }
    }
}

/* Every Gaussian's row gradients summed into its codebook rows, the slices on `threads`
   threads (the host's share of a fine-tuning step on a GPU: 124k Gaussians, 10 slices). */
static void gather(const rd_compact_arrays *a, const rd_compact_arrays *grads, const rd_compact_codes *codes, int slice_count,
                   adam_rows *rows, int threads)
{
    gather_job job = {a, grads, codes, rows};
    rd_parallel_for(threads, slice_count, 1, gather_slices, &job);
}

static void adam(rd_compact_codes *codes, int slice_count, adam_rows *rows, int step)
{
    for (int k = 0; k < slice_count; k++) {
        const rd_compact_slice *s = &codes[k].slice;
        size_t n = (size_t)s->entries * s->width;
        rd_adam_update(codes[k].centroids, rows[k].grad, rows[k].m, rows[k].v, n,
                       &(rd_adam_step_desc){.lr = LEARNING_RATE[s->attribute], .step = step});
        if (s->attribute == RD_COMPACT_OPACITIES)
            for (size_t e = 0; e < n; e++) codes[k].centroids[e] = fminf(fmaxf(codes[k].centroids[e], 1e-4f), 1.0f - 1e-4f);
    }
}

rd_result rd_compact_finetune(rd_context *ctx, const rd_compact_arrays *a, rd_compact_codes *codes, int slice_count,
                              rd_appearance4d *networks, const rd_compact_desc *desc)
{
    int *with_photo = malloc(sizeof(int) * (size_t)(desc->view_count > 0 ? desc->view_count : 1)), photos = 0;
    if (!with_photo) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: fine-tuning: out of memory");
    for (int v = 0; v < desc->view_count; v++)
        if (desc->views[v].image) with_photo[photos++] = v;
    if (!photos || a->count == 0) {
        free(with_photo);
        return RD_OK;
    }
    adam_rows rows[RD_COMPACT_MAX_SLICES];
    memset(rows, 0, sizeof rows);
    rd_compact_arrays grads;
    bool ok = rd_compact_arrays_alloc(a, a->count, &grads);
    for (int k = 0; ok && k < slice_count; k++) {
        size_t n = (size_t)codes[k].slice.entries * codes[k].slice.width;
        rows[k] = (adam_rows){malloc(n * sizeof(float)), calloc(n, sizeof(float)), calloc(n, sizeof(float))};
        ok = rows[k].grad && rows[k].m && rows[k].v;
    }
    size_t nw = networks ? networks->weight_count : 0;
    adam_rows weights = {0};
    if (ok && networks) {
        weights = (adam_rows){malloc(nw * sizeof(float)), calloc(nw, sizeof(float)), calloc(nw, sizeof(float))};
        ok = weights.grad && weights.m && weights.v;
    }
    rd_result r = ok ? RD_OK : rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: fine-tuning: out of memory");
    rd_compact_frame frame = {0};
    uint64_t order = 0x9e3779b97f4a7c15ull; /* a fixed sequence of views: the same file every run */
    double first_loss = NAN, loss = NAN, stage_ms[STAGES] = {0}, mark = rd_now_ms();
    bool timed = getenv("RADIANT_COMPACT_STAGE_TIMES") != NULL;
    for (int step = 1; step <= desc->finetune_steps && r == RD_OK; step++) {
        order = order * 6364136223846793005ull + 1442695040888963407ull;
        const rd_train_view *view = &desc->views[with_photo[(order >> 33) % (uint64_t)photos]];
        rd_scene *scene = NULL;
        if (networks) rd_compact_networks_eval(ctx, networks, a, view->time); /* the colour and opacity they give now */
        r = rd_compact_make_scene(ctx, a, &scene);
        stage_done(timed, stage_ms, STAGE_SCENE, &mark);
        if (r == RD_OK) r = rd_compact_render_view(ctx, scene, view, desc->background, &frame);
        if (r == RD_OK) {
            loss = rd_compact_l1_gradient(frame.color, view->image, desc->background, frame.grad);
            stage_done(timed, stage_ms, STAGE_RENDER, &mark);
            if (step == 1) first_loss = loss;
            size_t n = (size_t)a->count;
            memset(grads.log_scales, 0, n * rd_compact_mean_floats(a) * sizeof(float));
            memset(grads.rotations, 0, n * rd_compact_rotation_floats(a) * sizeof(float));
            memset(grads.opacities, 0, n * sizeof(float));
            memset(grads.sh, 0, n * rd_compact_sh_floats(a) * sizeof(float));
            rd_gaussian_grads g3 = {.log_scales = grads.log_scales, .rotations = grads.rotations, .opacities = grads.opacities, .sh = grads.sh};
            rd_gaussian4d_grads g4 = {.log_scales = grads.log_scales, .rotations = grads.rotations, .opacities = grads.opacities, .sh = grads.sh};
            r = rd_render_backward(ctx, scene, 1, &view->camera, &frame.desc, &(rd_render_grads){.color = frame.grad},
                                   &(rd_scene_grads){a->four_d ? RD_SCENE_GAUSSIANS_4D : RD_SCENE_GAUSSIANS,
                                                     a->four_d ? (const void *)&g4 : (const void *)&g3, NULL, RD_MEMORY_HOST});
        }
        rd_scene_destroy(scene);
        stage_done(timed, stage_ms, STAGE_BACKWARD, &mark);
        if (r == RD_OK && networks) r = rd_compact_networks_backward(ctx, networks, a, &grads, view->time, weights.grad);
        if (r != RD_OK) {
            rd_error_prefix(ctx, "compact: fine-tuning");
            break;
        }
        gather(a, &grads, codes, slice_count, rows, ctx ? ctx->threads : 1);
        stage_done(timed, stage_ms, STAGE_GATHER, &mark);
        adam(codes, slice_count, rows, step);
        if (networks) /* at a tenth of the features' rate (OMG4 trains its MLPs at 1e-4 against 1e-3 for the rest) */
            rd_adam_update(networks->weights, weights.grad, weights.m, weights.v, nw, &(rd_adam_step_desc){.lr = 1e-4f, .step = step});
        stage_done(timed, stage_ms, STAGE_ADAM, &mark);
        rd_compact_apply_codes(a, codes, slice_count, ctx ? ctx->threads : 1);
        stage_done(timed, stage_ms, STAGE_APPLY, &mark);
    }
    for (int k = 0; timed && k < STAGES && desc->finetune_steps > 0; k++)
        rd_log(ctx, RD_LOG_INFO, "compact fine-tuning stage %-13s %.3f ms a step", STAGE_NAMES[k], stage_ms[k] / desc->finetune_steps);
    if (r == RD_OK) {
        int64_t entries = 0;
        for (int k = 0; k < slice_count; k++) entries += codes[k].slice.entries;
        rd_log(ctx, RD_LOG_INFO, "compact: fine-tuned %lld rows of %d %s%s for %d steps on %d photos: L1 %.5f -> %.5f", (long long)entries,
               slice_count, entries == (int64_t)slice_count * a->count ? "attributes, a row a Gaussian" : "codebooks",
               networks ? " and the appearance networks" : "", desc->finetune_steps, photos, first_loss, loss);
    }
    for (int k = 0; k < slice_count; k++) free(rows[k].grad), free(rows[k].m), free(rows[k].v);
    free(weights.grad), free(weights.m), free(weights.v);
    rd_compact_arrays_free(&grads);
    rd_compact_frame_free(&frame);
    free(with_photo);
    return r;
}
