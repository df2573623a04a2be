/* stream_encode.c: rd_stream_encode_frame (radiant_streams.h): one residual frame trained
   against the frame's views from the writer's decoded state, after QUEEN (spec/streams.md):

     attribute   = parent + round(z) W + b        (straight-through: d/dz as if no rounding)
     position    = parent + g (x - parent)        g: the hard-concrete gate of log alpha
     loss        = 0.8 L1 + 0.2 (1 - SSIM) + lambda_L0 mean(1 - P(g = 0))

   Each step renders one view (rd_render, rd_render_backward) and carries the scene's
   gradients to z, W, b (the opacity: the cosine basis's scale), x and log alpha, each
   updated by Adam: on CUDA every step on the device (stream_encode_device.c), elsewhere
   the per-Gaussian work on the host (stream_encode_step.h, the reference). At the end the latents are rounded, the gates
   evaluated (g = clamp(sigmoid(ln alpha / tau)(eta - gamma) + gamma, 0, 1)), the moved
   positions rounded to the stream's step, and the frame written; the writer decodes it,
   so the next frame starts from exactly what a reader holds.

   Given the previous frame's photos, the static/dynamic split starts each gate from its
   Gaussian's share of the change (else every gate at P(g = 0) = 1/2), and the first 30%
   of the steps render only the changing Gaussians with the loss masked to their footprint.

   Where asked, every densify_every steps the frame grows and is pruned as 3DGS's (stream_encode_density.c):
   each Gaussian's row keeps its parent in the previous frame (the stream's mapping), new
   rows decode from their source's parent.

   f_rest, where it has latents, is absolute (round(z) W + b): its latents start from the
   parent's (stream_encode_rest.c) and the shrink pulls them back there. */
#include "stream_encode.h"
#include "../train/adam.h"
#include "../train/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { LATENT_ATTRIBUTES = RD_STREAM_ATTRIBUTES };
typedef stream_encoder encoder;

static float *zeros(int64_t n) { return n >= 0 && (uint64_t)n < SIZE_MAX / 8 ? calloc((size_t)(n > 0 ? n : 1), sizeof(float)) : NULL; }

void rd_stream_encoder_free(stream_encoder *e)
{
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        stream_encode_latents *l = &e->s.latents[a];
        stream_encode_moments *m = &e->moments[a];
        float *all[] = {l->z, l->W, l->b, l->gz, l->gW, l->gb, m->mz, m->vz, m->mW, m->vW, m->mb, m->vb, e->basis[a], e->anchor[a]};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
    }
    float *all[] = {e->arrays, e->s.x, e->s.log_alpha, e->s.gx, e->s.galpha, e->s.gate, e->s.gate_slope, e->s.decoded[0],
                    (float *)e->s.grads[0], e->grad_norm};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
    for (int k = 0; k < 4; k++) free(e->position_moments[k]);
    free(e->dynamic), free(e->mapping), free(e->views_seen);
}

/* The scene's five arrays over one block of count*per floats. */
static void scene_arrays(float *block, int64_t n, int C, float *arrays[ENCODE_ARRAYS])
{
    for (int k = 0; k < ENCODE_ARRAYS; k++) arrays[k] = block, block += n * stream_encode_array_width(k, C);
}

bool rd_stream_encoder_allocate(encoder *e, int64_t n)
{
    e->n = e->s.count = n, e->s.sh_floats = e->C;
    int64_t per = 3 + 3 + 4 + 1 + e->C;
    float *parent[ENCODE_ARRAYS], *decoded[ENCODE_ARRAYS], *grads[ENCODE_ARRAYS];
    e->arrays = zeros(n * per), e->s.decoded[0] = zeros(n * per), e->s.grads[0] = zeros(n * per);
    if (!e->arrays || !e->s.decoded[0] || !e->s.grads[0]) return false;
    scene_arrays(e->arrays, n, e->C, parent), scene_arrays(e->s.decoded[0], n, e->C, decoded);
    scene_arrays((float *)e->s.grads[0], n, e->C, grads);
    for (int k = 0; k < ENCODE_ARRAYS; k++) e->s.parent[k] = parent[k], e->s.decoded[k] = decoded[k], e->s.grads[k] = grads[k];
    e->parent.count = n;
    e->parent.means = parent[0], e->parent.log_scales = parent[1], e->parent.rotations = parent[2], e->parent.opacities = parent[3];
    e->parent.sh = parent[4];
    bool ok = true;
    for (int a = 0; a < LATENT_ATTRIBUTES && ok; a++) {
        stream_encode_latents *l = &e->s.latents[a];
        stream_encode_moments *m = &e->moments[a];
        l->features = rd_stream_features((rd_stream_attribute)a, e->sh_degree);
        l->ld = !l->features ? 0 : e->desc->latent_dims[a];
        if (!l->ld) continue;
        l->cosine = a == RD_STREAM_OPACITY, l->absolute = a == RD_STREAM_F_REST;
        if (!(l->anchor = e->anchor[a] = zeros(n * l->ld))) return false; /* 0, but f_rest's start and split children's shrink */
        int64_t w = stream_encode_decoder_size(l);
        l->z = zeros(n * l->ld), l->gz = zeros(n * l->ld), m->mz = zeros(n * l->ld), m->vz = zeros(n * l->ld);
        l->W = zeros(w), l->gW = zeros(w), m->mW = zeros(w), m->vW = zeros(w);
        l->b = zeros(l->features), l->gb = zeros(l->features), m->mb = zeros(l->features), m->vb = zeros(l->features);
        l->basis = e->basis[a] = zeros((int64_t)l->ld * l->features);
        ok = l->z && l->gz && m->mz && m->vz && l->W && l->gW && m->mW && m->vW && l->b && l->gb && m->mb && m->vb && e->basis[a];
    }
    float *lists[] = {e->s.x = zeros(n * 3), e->s.log_alpha = zeros(n), e->s.gx = zeros(n * 3), e->s.galpha = zeros(n),
                      e->position_moments[0] = zeros(n * 3), e->position_moments[1] = zeros(n * 3), e->position_moments[2] = zeros(n),
                      e->position_moments[3] = zeros(n), e->s.gate = zeros(n), e->s.gate_slope = zeros(n), e->grad_norm = zeros(n)};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) ok = ok && lists[k];
    e->dynamic = calloc((size_t)n + 1, 1);
    e->mapping = rd_alloc_array(n + 1, sizeof(int64_t));
    e->views_seen = calloc((size_t)n + 1, sizeof(uint32_t));
    return ok && e->dynamic && e->mapping && e->views_seen;
}

/* Half the diagonal of the parent's positions' box. */
static float extent_of(const encoder *e)
{
    float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < e->n; i++)
        for (int c = 0; c < 3; c++) lo[c] = fminf(lo[c], e->parent.means[i * 3 + c]), hi[c] = fmaxf(hi[c], e->parent.means[i * 3 + c]);
    float d2 = 0.0f;
    for (int c = 0; c < 3; c++) d2 += (hi[c] - lo[c]) * (hi[c] - lo[c]);
    return e->n ? 0.5f * sqrtf(d2) : 1.0f;
}

bool rd_stream_encoder_setup(encoder *e, const rd_scene_desc *state, const int32_t *rest_latents, int rest_dim)
{
    int64_t n = state->count;
    e->sh_degree = state->sh_degree, e->C = 3 * (state->sh_degree + 1) * (state->sh_degree + 1);
    e->parent = *state, e->previous_count = n;
    if (!rd_stream_encoder_allocate(e, n)) return false;
    for (int k = 0; k < ENCODE_ARRAYS; k++) {
        const float *from[ENCODE_ARRAYS] = {state->means, state->log_scales, state->rotations, state->opacities, state->sh};
        size_t bytes = (size_t)n * (size_t)stream_encode_array_width(k, e->C) * sizeof(float);
        memcpy((float *)e->s.parent[k], from[k], bytes), memcpy(e->s.decoded[k], from[k], bytes); /* attributes without latents stay the parent's */
    }
    static const float init_scale[LATENT_ATTRIBUTES] = {0.01f, 0.0f, 0.02f, 0.005f, 0.05f};
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        stream_encode_latents *l = &e->s.latents[a];
        if (!l->ld || l->absolute) continue;
        for (int64_t k = 0; k < stream_encode_decoder_size(l); k++)
            l->W[k] = l->cosine ? init_scale[a] : init_scale[a] * (2.0f * stream_encode_next_uniform(&e->rng) - 1.0f);
        for (int k = 0; k < l->ld; k++)
            for (int f = 0; f < l->features; f++) /* the cosine basis (stream_frames.c), or ones where W is free (f_rest's: unread) */
                e->basis[a][k * l->features + f] = l->cosine ? (float)rd_stream_cosine_basis(k, f, l->features) : 1.0f;
    }
    memcpy(e->s.x, e->parent.means, (size_t)n * 12);
    for (int64_t i = 0; i < n; i++) e->s.log_alpha[i] = stream_encode_closed_logit(), e->mapping[i] = i;
    e->s.gates_off = e->desc->gate_lambda < 0;
    e->s.lambda = e->desc->gate_lambda > 0 ? e->desc->gate_lambda : e->desc->gate_lambda < 0 ? 0.0f : 0.01f;
    e->s.seed = (uint32_t)(e->desc->seed ^ (e->desc->seed >> 32));
    e->s.shrink = e->desc->latent_shrink > 0.0f ? e->desc->latent_shrink : e->desc->latent_shrink < 0.0f ? 0.0f : RD_ENCODE_LATENT_SHRINK;
    e->extent = extent_of(e);
    e->split_rng = (rd_rng){e->desc->seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull};
    return rd_stream_encoder_rest_start(e, rest_latents, rest_dim);
}

bool rd_stream_encoder_identity(const encoder *e)
{
    for (int64_t i = 0; i < e->n; i++)
        if (e->mapping[i] != i) return false;
    return e->n == e->previous_count;
}

static void update(encoder *e, int step, float position_lr)
{
    rd_adam_step_desc d = {.step = step, .threads = e->ctx->threads};
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        stream_encode_latents *l = &e->s.latents[a];
        stream_encode_moments *m = &e->moments[a];
        if (!l->ld) continue;
        d.lr = RD_ENCODE_LATENT_LR, rd_adam_update(l->z, l->gz, m->mz, m->vz, (size_t)(e->n * l->ld), &d);
        d.lr = stream_encode_decoder_lr(a), rd_adam_update(l->W, l->gW, m->mW, m->vW, (size_t)stream_encode_decoder_size(l), &d);
        d.lr = stream_encode_decoder_lr(a) * 0.1f, rd_adam_update(l->b, l->gb, m->mb, m->vb, (size_t)l->features, &d);
    }
    float **pm = e->position_moments;
    d.lr = position_lr, rd_adam_update(e->s.x, e->s.gx, pm[0], pm[1], (size_t)e->n * 3, &d);
    if (!e->s.gates_off) {
        d.lr = RD_ENCODE_GATE_LR, rd_adam_update(e->s.log_alpha, e->s.galpha, pm[2], pm[3], (size_t)e->n, &d);
    }
    rd_stream_encode_settle_cpu(&e->s);
}

/* The scene desc over the step's decoded arrays. */
static rd_scene_desc decoded_scene(const encoder *e)
{
    rd_scene_desc sd = e->parent;
    sd.means = e->s.decoded[0], sd.log_scales = e->s.decoded[1], sd.rotations = e->s.decoded[2], sd.opacities = e->s.decoded[3];
    sd.sh = e->s.decoded[4];
    return sd;
}

/* The view's photo composited on the background, RGBA. */
static void target_of(const rd_train_view *v, const float background[3], float *out)
{
    const rd_image *im = v->image;
    for (int64_t p = 0; p < (int64_t)im->width * im->height; p++) {
        const float *px = im->pixels + p * im->channels;
        float alpha = im->channels == 4 ? px[3] : 1.0f;
        for (int c = 0; c < 3; c++) out[p * 4 + c] = (im->channels == 1 ? px[0] : px[c]) * alpha + background[c] * (1.0f - alpha);
        out[p * 4 + 3] = alpha;
    }
}

/* A step's frame buffers on the host, each the largest view's size. */
typedef struct host_frame {
    float *render, *target, *grad; /* RGBA */
    float *photo, *rows, *mask;    /* the split's masked steps: the photo as RGBA, the mask's two passes */
    double *scratch;               /* the loss's */
} host_frame;

/* One step on view v; its loss into *loss. In the split's first steps (masked) the static
   Gaussians are hidden and the loss sees only the dynamic ones' footprint. */
static rd_result step(encoder *e, int number, bool masked, const rd_train_view *v, const host_frame *f, double *loss)
{
    e->s.step = (uint32_t)number, e->s.eval = 0, e->s.hide_static = masked;
    rd_stream_encode_decode_cpu(&e->s);
    rd_scene_desc sd = decoded_scene(e);
    rd_scene *scene;
    rd_result r = rd_scene_create(e->ctx, &sd, &scene);
    if (r != RD_OK) return r;
    rd_render_desc rd = {.flags = rd_stream_encode_render_flags(e->desc)};
    memcpy(rd.background, e->desc->background, sizeof rd.background);
    target_of(v, e->desc->background, f->target);
    r = rd_render(e->ctx, scene, &v->camera, &rd, &(rd_framebuffer){.color = f->render});
    int width = v->camera.width, height = v->camera.height;
    if (r == RD_OK && masked) {
        rd_stream_encode_photo_rgba(v->image, f->photo);
        rd_stream_encode_mask_cpu(f->render, f->photo, e->desc->background, width, height, f->rows, f->mask);
    }
    if (r == RD_OK) {
        rd_loss_desc ld = {width, height, f->render, f->target, 0.2f};
        *loss = rd_loss_l1_dssim(&ld, f->grad, f->scratch);
        if (masked) rd_stream_encode_mask_grad_cpu(f->grad, f->mask, (int64_t)width * height);
        float *g[ENCODE_ARRAYS];
        for (int k = 0; k < ENCODE_ARRAYS; k++) g[k] = (float *)e->s.grads[k];
        memset(g[0], 0, (size_t)e->n * (size_t)(11 + e->C) * sizeof(float)); /* the five arrays are one block */
        rd_gaussian_grads gg = {g[0], g[1], g[2], g[3], g[4], e->grad_norm, e->views_seen}; /* densification's statistics too */
        r = rd_render_backward(e->ctx, scene, 1, &v->camera, &rd, &(rd_render_grads){f->grad, NULL, RD_MEMORY_HOST},
                               &(rd_scene_grads){RD_SCENE_GAUSSIANS, &gg, NULL, RD_MEMORY_HOST});
    }
    rd_scene_destroy(scene);
    if (r == RD_OK) rd_stream_encode_chain_cpu(&e->s);
    return r;
}

/* The frame as the stream stores it: rounded latents, evaluated gates, moves in steps; or,
   as a keyframe, the trained frame whole. */
static rd_result write_frame(encoder *e, rd_stream_writer *w, float position_step, rd_stream_encode_report *report)
{
    e->s.eval = 1, e->s.hide_static = 0;
    rd_stream_encode_decode_cpu(&e->s); /* the evaluated gates, and the decoded frame */
    if (e->desc->intra) {
        rd_scene_desc sd = decoded_scene(e);
        rd_result r = rd_stream_write_intra(w, &sd);
        if (report) report->moved = 0, report->bytes = rd_stream_writer_last_bytes(w);
        return r;
    }
    int64_t n = e->n, moved = 0;
    int64_t *indices = rd_alloc_array(n + 1, sizeof(int64_t));
    int32_t *steps = rd_alloc_array(n * 3 + 1, sizeof(int32_t));
    int32_t *rounded[LATENT_ATTRIBUTES] = {0};
    bool ok = indices && steps;
    for (int a = 0; a < LATENT_ATTRIBUTES && ok; a++)
        if (e->s.latents[a].ld) ok = (rounded[a] = rd_alloc_array(n * e->s.latents[a].ld + 1, sizeof(int32_t))) != NULL;
    rd_result r = ok ? RD_OK : rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory");
    for (int64_t i = 0; i < n && r == RD_OK; i++) {
        int32_t st[3];
        bool any = false;
        for (int c = 0; c < 3; c++) {
            double move = (double)e->s.gate[i] * (e->s.x[i * 3 + c] - e->parent.means[i * 3 + c]) / position_step;
            st[c] = (int32_t)llround(fmax(fmin(move, 2e9), -2e9));
            any |= st[c] != 0;
        }
        if (!any) continue;
        indices[moved] = i;
        memcpy(steps + moved * 3, st, sizeof st);
        moved++;
    }
    rd_stream_residual f = {.count = n, .mapping = rd_stream_encoder_identity(e) ? NULL : e->mapping, .moved = moved,
                            .moved_indices = indices, .moved_steps = steps};
    for (int a = 0; a < LATENT_ATTRIBUTES && r == RD_OK; a++) {
        stream_encode_latents *l = &e->s.latents[a];
        if (!l->ld) continue;
        for (int64_t k = 0; k < n * l->ld; k++) rounded[a][k] = (int32_t)lrintf(fmaxf(fminf(l->z[k], 2e9f), -2e9f));
        f.attributes[a] = (rd_stream_latents){l->ld, l->cosine ? RD_STREAM_COSINE : RD_STREAM_LINEAR, rounded[a], l->W, l->W[0], l->b};
    }
    if (r == RD_OK) r = rd_stream_write_residual(w, &f);
    if (report) report->moved = moved, report->bytes = rd_stream_writer_last_bytes(w);
    free(indices), free(steps);
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) free(rounded[a]);
    return r;
}

/* The densification's schedule: after every densify_every-th step but the last. */
typedef struct density_schedule {
    encoder *e;
    int every, iterations;
    int64_t added, removed;
    double ms; /* in rd_stream_encoder_densify */
} density_schedule;

static bool densify_due(void *user, int step)
{
    const density_schedule *d = user;
    return d->every > 0 && (step + 1) % d->every == 0 && step + 1 < d->iterations;
}

static rd_result densify(void *user)
{
    density_schedule *d = user;
    int64_t added = 0, removed = 0;
    double t0 = rd_now_ms();
    rd_result r = rd_stream_encoder_densify(d->e, &added, &removed);
    d->added += added, d->removed += removed, d->ms += rd_now_ms() - t0;
    return r;
}

/* The frame's training on the host: a step a view through the context's backend, the
   first masked_steps of them masked. */
static rd_result train_on_host(encoder *e, const rd_train_view *views, int view_count, int iterations, int masked_steps, float position_lr,
                               density_schedule *schedule, double *first, double *last)
{
    int64_t max_pixels = stream_encode_largest_view(views, view_count);
    size_t max_scratch = 0;
    for (int k = 0; k < view_count; k++) {
        size_t need = rd_loss_scratch_doubles(views[k].camera.width, views[k].camera.height);
        if (need > max_scratch) max_scratch = need;
    }
    host_frame f = {zeros(max_pixels * 4), zeros(max_pixels * 4), zeros(max_pixels * 4), zeros(max_pixels * 4), zeros(max_pixels),
                    zeros(max_pixels), rd_alloc_array((int64_t)max_scratch + 1, sizeof(double))};
    rd_result r = f.render && f.target && f.grad && f.photo && f.rows && f.mask && f.scratch
                      ? RD_OK : rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory");
    for (int s = 0; r == RD_OK && s < iterations; s++) {
        const rd_train_view *v = &views[stream_encode_pick_view(&e->rng, view_count)];
        r = step(e, s, s < masked_steps, v, &f, last);
        if (r == RD_OK) update(e, s + 1, position_lr);
        if (s == 0) *first = *last;
        if (r == RD_OK && densify_due(schedule, s)) r = densify(schedule);
    }
    free(f.render), free(f.target), free(f.grad), free(f.photo), free(f.rows), free(f.mask), free(f.scratch);
    return r;
}

/* The static/dynamic split (spec/streams.md): with L = MSE(render, photo_t) -
   MSE(render, photo_{t-1}) over the parent's renders, d_i = sum over the views of
   |dL/d(mu2D_i)| (rd_gaussian_grads.mean2d_norm); the gates start at p_i = d_i / (d_i +
   median d), ln alpha_i = logit(p_i) + tau ln(-gamma/eta), so Gaussians above the median
   start open. dL/d(render) = 2 (photo_{t-1} - photo_t) / (3 pixels) needs no render's
   values, only the forward state the backward pass reads. *dynamic: d_i > 1e-3. */
static rd_result split_static_dynamic(encoder *e, const rd_train_view *views, const rd_train_view *previous, int count,
                                      int64_t *dynamic)
{
    int64_t n = e->n, largest = stream_encode_largest_view(views, count);
    float *d = zeros(n), *sorted = zeros(n), *render = zeros(largest * 4), *grad = zeros(largest * 4), *now = zeros(largest * 4),
          *before = zeros(largest * 4);
    rd_scene *scene = NULL;
    rd_result r = e->dynamic && d && sorted && render && grad && now && before ? rd_scene_create(e->ctx, &e->parent, &scene)
                                                                 : rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory");
    rd_render_desc rd = {.flags = rd_stream_encode_render_flags(e->desc)};
    memcpy(rd.background, e->desc->background, sizeof rd.background);
    for (int k = 0; k < count && r == RD_OK; k++) {
        const rd_camera *cam = &views[k].camera;
        int64_t pixels = (int64_t)cam->width * cam->height;
        target_of(&views[k], e->desc->background, now);
        target_of(&previous[k], e->desc->background, before);
        for (int64_t p = 0; p < pixels; p++) {
            for (int c = 0; c < 3; c++) grad[p * 4 + c] = 2.0f * (before[p * 4 + c] - now[p * 4 + c]) / (3.0f * (float)pixels);
            grad[p * 4 + 3] = 0.0f;
        }
        r = rd_render(e->ctx, scene, cam, &rd, &(rd_framebuffer){.color = render});
        rd_gaussian_grads gg = {.mean2d_norm = d};
        if (r == RD_OK)
            r = rd_render_backward(e->ctx, scene, 1, cam, &rd, &(rd_render_grads){grad, NULL, RD_MEMORY_HOST},
                                   &(rd_scene_grads){RD_SCENE_GAUSSIANS, &gg, NULL, RD_MEMORY_HOST});
    }
    if (r == RD_OK && n > 0) {
        memcpy(sorted, d, (size_t)n * sizeof(float));
        qsort(sorted, (size_t)n, sizeof(float), rd_compare_floats);
        float median = sorted[n / 2], lo = logf(1e-3f), hi = logf(1e3f);
        *dynamic = 0;
        for (int64_t i = 0; i < n; i++) {
            float p = median > 0.0f || d[i] > 0.0f ? d[i] / (d[i] + median) : 0.5f;
            float logit = p <= 0.0f ? -INFINITY : p >= 1.0f ? INFINITY : logf(p / (1.0f - p));
            e->s.log_alpha[i] = fminf(fmaxf(logit + stream_encode_closed_logit(), lo), hi);
            e->dynamic[i] = d[i] > 1e-3f;
            *dynamic += e->dynamic[i];
        }
    }
    rd_scene_destroy(scene);
    free(d), free(sorted), free(render), free(grad), free(now), free(before);
    return r;
}

rd_result rd_stream_encode_frame(rd_stream_writer *w, const rd_train_view *views, int view_count, const rd_stream_encode_desc *desc,
                                 rd_stream_encode_report *report)
{
    static const rd_stream_encode_desc defaults = {0};
    rd_context *ctx = rd_stream_writer_context(w);
    if (!w || !views || view_count < 1) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: no writer or no views");
    rd_scene_desc state = rd_stream_writer_state(w);
    if (state.count <= 0 && !state.means)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: the stream needs its first (intra) frame first");
    rd_stream_encode_desc d = desc ? *desc : defaults;
    static const int spec_dims[LATENT_ATTRIBUTES] = {8, 0, 8, 6, 3}; /* spec: N3DV's latent sizes; f_rest kept from the parent */
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        if (d.latent_dims[a] < 0 || d.latent_dims[a] > RD_STREAM_MAX_LATENT)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: latent_dims[%d] = %d is out of range (0..%d)", a,
                           d.latent_dims[a], RD_STREAM_MAX_LATENT);
        if (!d.latent_dims[a]) d.latent_dims[a] = spec_dims[a];
    }
    if (!d.iterations) d.iterations = 10 * view_count; /* QUEEN: 10 epochs a frame */
    if (d.iterations < 0) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: iterations must be positive");
    for (int k = 0; k < view_count; k++) {
        const rd_camera *c = &views[k].camera;
        if (!views[k].image || views[k].image->width != c->width || views[k].image->height != c->height)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: view %d's image is missing or not its camera's size", k);
    }
    for (int k = 0; d.previous_views && k < view_count; k++) {
        const rd_image *im = d.previous_views[k].image;
        if (!im || im->width != views[k].camera.width || im->height != views[k].camera.height)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: previous view %d's image is missing or not view %d's camera's size", k, k);
    }
    double t0 = rd_now_ms();
    encoder e = {.ctx = ctx, .desc = &d, .rng = d.seed * 2654435761u + 12345u};
    rd_result r = RD_OK;
    const stream_state *decoded = rd_stream_writer_decoded(w);
    if (!rd_stream_encoder_setup(&e, &state, decoded->rest_latents, decoded->rest_latent_dim))
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory for %lld Gaussians", (long long)state.count);
    /* the positions' learning rate: the recipe's first (1.6e-4 of the extent), the frame's scene is already fitted */
    float position_lr = 1.6e-4f * e.extent;
    /* no densification by default: clones and splits cost test PSNR (BENCHMARKS.md, issue 32) */
    density_schedule schedule = {&e, d.densify_every < 0 ? 2 * view_count : d.densify_every, d.iterations, 0, 0, 0.0};
    double first = 0.0, last = 0.0, densify_ms = 0.0;
    int64_t dynamic = -1;
    if (r == RD_OK && d.previous_views && !e.s.gates_off) r = split_static_dynamic(&e, views, d.previous_views, view_count, &dynamic);
    double t_split = rd_now_ms();
    /* the split's first 30% of steps see only the changing Gaussians (QUEEN's N3DV recipe) */
    int masked_steps = dynamic > 0 && dynamic < e.n ? (int)(0.3 * d.iterations) : 0;
    e.s.dynamic = masked_steps ? e.dynamic : NULL;
    if (r == RD_OK && rd_context_backend(ctx) == RD_BACKEND_CUDA) {
        stream_encode_run run = {.e = &e, .views = views, .view_count = view_count, .iterations = d.iterations, .masked_steps = masked_steps,
                                 .background = {d.background[0], d.background[1], d.background[2]}, .position_lr = position_lr,
                                 .densify_due = densify_due, .user = &schedule};
        r = rd_stream_encode_run_cuda(ctx, &run);
        schedule.added += run.added, schedule.removed += run.removed;
        first = run.loss_first, last = run.loss_last, densify_ms = run.densify_ms;
    } else if (r == RD_OK) {
        r = train_on_host(&e, views, view_count, d.iterations, masked_steps, position_lr, &schedule, &first, &last);
        densify_ms = schedule.ms;
    }
    double t_train = rd_now_ms();
    float position_step = rd_stream_writer_position_step(w);
    if (r == RD_OK) r = write_frame(&e, w, position_step, report);
    if (r == RD_OK && report) {
        double t_end = rd_now_ms();
        report->loss_first = first, report->loss_last = last, report->seconds = (t_end - t0) / 1000.0, report->dynamic = dynamic;
        report->count = e.n, report->added = schedule.added, report->removed = schedule.removed;
        report->split_seconds = (t_split - t0) / 1000.0, report->train_seconds = (t_train - t_split) / 1000.0;
        report->densify_seconds = densify_ms / 1000.0, report->write_seconds = (t_end - t_train) / 1000.0;
    }
    rd_stream_encoder_free(&e);
    return r;
}
