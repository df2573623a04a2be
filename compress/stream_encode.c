/* stream_encode.c: rd_stream_encode_frame (radiant_streams.h): one residual frame trained
   against the frame's views from the writer's decoded state, after QUEEN (spec/streams.md):

     attribute   = parent + round(z) W + b        (straight-through: d/dz as if no rounding)
     position    = parent + g (x - parent)        g: the hard-concrete gate of log alpha
     loss        = 0.8 L1 + 0.2 (1 - SSIM) + lambda_L0 mean(1 - P(g = 0))

   Each step renders one view through the context's backend (rd_render, rd_render_backward)
   and carries the scene's gradients to z, W, b (the opacity: the cosine basis's scale),
   x and log alpha, each updated by Adam. At the end the latents are rounded, the gates
   evaluated (g = clamp(sigmoid(ln alpha / tau)(eta - gamma) + gamma, 0, 1)), the moved
   positions rounded to the stream's step, and the frame written; the writer decodes it,
   so the next frame starts from exactly what a reader holds.

   Not yet (issue 32's next steps): densification and pruning inside a frame (the mapping
   is the identity), f_rest's latents (f_rest is kept from the parent), the static/dynamic
   split's gate initialisation and masked first steps (gates start at the median's, p =
   1/2), the GPU's fused step (each step goes through the host). */
#include "stream.h"
#include "../train/adam.h"
#include "../train/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GATE_TAU 0.3f
#define GATE_GAMMA -0.5f
#define GATE_ETA 1.01f

enum { LATENT_ATTRIBUTES = RD_STREAM_ATTRIBUTES };

/* One attribute's trainable latents and decoder, with their Adam moments. */
typedef struct latent_group {
    int ld, features;
    float *z, *W, *b;          /* count*ld, ld*features (cosine: 1, the scale), features */
    float *gz, *gW, *gb;
    float *mz, *vz, *mW, *vW, *mb, *vb;
    float *basis;              /* ld*features: 1 (linear) or the cosine basis */
    int32_t *rounded;          /* count*ld */
} latent_group;

typedef struct encoder {
    rd_context *ctx;
    const rd_stream_encode_desc *desc;
    int64_t n;
    int sh_degree, C;
    rd_scene_desc parent; /* the writer's state, copied */
    float *arrays;        /* the parent's arrays' storage */
    latent_group groups[LATENT_ATTRIBUTES];
    float *x, *log_alpha, *gx, *galpha, *mx, *vx, *ma, *va, *gate, *gate_slope;
    float *means, *log_scales, *rotations, *opacities, *sh; /* the step's decoded scene */
    float *g_means, *g_scales, *g_rotations, *g_opacities, *g_sh;
    uint64_t rng;
} encoder;

static float uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return ((float)(*s >> 40) + 0.5f) / (float)(1u << 24);
}

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

static float *zeros(int64_t n) { return n >= 0 && (uint64_t)n < SIZE_MAX / 8 ? calloc((size_t)(n > 0 ? n : 1), sizeof(float)) : NULL; }

/* The attribute's values in the decoded arrays: a pointer to Gaussian i's and the stride. */
static float *attribute_of(const encoder *e, int a, float *base_sh, float *scales, float *rotations, float *opacities, int64_t i)
{
    switch (a) {
    case RD_STREAM_F_DC: return base_sh + i * e->C;
    case RD_STREAM_F_REST: return base_sh + i * e->C + 3;
    case RD_STREAM_SCALE: return scales + i * 3;
    case RD_STREAM_ROTATION: return rotations + i * 4;
    default: return opacities + i;
    }
}

static void free_encoder(encoder *e)
{
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        latent_group *g = &e->groups[a];
        float *all[] = {g->z, g->W, g->b, g->gz, g->gW, g->gb, g->mz, g->vz, g->mW, g->vW, g->mb, g->vb, g->basis};
        for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
        free(g->rounded);
    }
    float *all[] = {e->arrays, e->x, e->log_alpha, e->gx, e->galpha, e->mx, e->vx, e->ma, e->va, e->gate, e->gate_slope, e->means,
                    e->log_scales, e->rotations, e->opacities, e->sh, e->g_means, e->g_scales, e->g_rotations, e->g_opacities, e->g_sh};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
}

static bool setup(encoder *e, const rd_scene_desc *state)
{
    int64_t n = e->n = state->count;
    e->sh_degree = state->sh_degree, e->C = 3 * (state->sh_degree + 1) * (state->sh_degree + 1);
    int64_t per = 3 + 3 + 4 + 1 + e->C;
    if (!(e->arrays = zeros(n * per))) return false;
    float *at = e->arrays;
    e->parent = *state;
    e->parent.means = memcpy(at, state->means, (size_t)n * 12), at += n * 3;
    e->parent.log_scales = memcpy(at, state->log_scales, (size_t)n * 12), at += n * 3;
    e->parent.rotations = memcpy(at, state->rotations, (size_t)n * 16), at += n * 4;
    e->parent.opacities = memcpy(at, state->opacities, (size_t)n * 4), at += n;
    e->parent.sh = memcpy(at, state->sh, (size_t)n * (size_t)e->C * 4);
    static const float init_scale[LATENT_ATTRIBUTES] = {0.01f, 0.0f, 0.02f, 0.005f, 0.05f};
    bool ok = true;
    for (int a = 0; a < LATENT_ATTRIBUTES && ok; a++) {
        latent_group *g = &e->groups[a];
        g->features = rd_stream_features((rd_stream_attribute)a, e->sh_degree);
        g->ld = a == RD_STREAM_F_REST || !g->features ? 0 : e->desc->latent_dims[a];
        if (!g->ld) continue;
        int64_t w = a == RD_STREAM_OPACITY ? 1 : (int64_t)g->ld * g->features;
        g->z = zeros(n * g->ld), g->gz = zeros(n * g->ld), g->mz = zeros(n * g->ld), g->vz = zeros(n * g->ld);
        g->W = zeros(w), g->gW = zeros(w), g->mW = zeros(w), g->vW = zeros(w);
        g->b = zeros(g->features), g->gb = zeros(g->features), g->mb = zeros(g->features), g->vb = zeros(g->features);
        g->basis = zeros((int64_t)g->ld * g->features);
        g->rounded = rd_alloc_array(n * g->ld + 1, sizeof(int32_t));
        ok = g->z && g->gz && g->mz && g->vz && g->W && g->gW && g->mW && g->vW && g->b && g->gb && g->mb && g->vb && g->basis && g->rounded;
        for (int64_t k = 0; ok && k < w; k++) g->W[k] = a == RD_STREAM_OPACITY ? init_scale[a] : init_scale[a] * (2.0f * uniform(&e->rng) - 1.0f);
        for (int k = 0; ok && k < g->ld; k++)
            for (int f = 0; f < g->features; f++) /* the cosine basis (stream_frames.c), or ones where W is free */
                g->basis[k * g->features + f] = a == RD_STREAM_OPACITY ? (float)rd_stream_cosine_basis(k, f, g->features) : 1.0f;
    }
    float *lists[] = {e->x = zeros(n * 3), e->log_alpha = zeros(n), e->gx = zeros(n * 3), e->galpha = zeros(n), e->mx = zeros(n * 3),
                      e->vx = zeros(n * 3), e->ma = zeros(n), e->va = zeros(n), e->gate = zeros(n), e->gate_slope = zeros(n),
                      e->means = zeros(n * 3), e->log_scales = zeros(n * 3), e->rotations = zeros(n * 4), e->opacities = zeros(n),
                      e->sh = zeros(n * e->C), e->g_means = zeros(n * 3), e->g_scales = zeros(n * 3), e->g_rotations = zeros(n * 4),
                      e->g_opacities = zeros(n), e->g_sh = zeros(n * e->C)};
    for (size_t k = 0; k < sizeof lists / sizeof lists[0]; k++) ok = ok && lists[k];
    if (!ok) return false;
    memcpy(e->x, e->parent.means, (size_t)n * 12);
    float closed = GATE_TAU * logf(-GATE_GAMMA / GATE_ETA); /* ln alpha where the eval gate is exactly 0: p = 1/2 */
    for (int64_t i = 0; i < n; i++) e->log_alpha[i] = closed;
    return true;
}

/* The gates: a hard-concrete draw while training (eval false), the stored value else; and
   dg/d(ln alpha) where the gate is not clamped. Gates off: g = 1. */
static void gates(encoder *e, bool eval)
{
    for (int64_t i = 0; i < e->n; i++) {
        if (e->desc->gate_lambda < 0) {
            e->gate[i] = 1.0f, e->gate_slope[i] = 0.0f;
            continue;
        }
        float u = uniform(&e->rng), noise = eval ? 0.0f : logf(u) - logf(1.0f - u);
        float s = sigmoid((noise + e->log_alpha[i]) / GATE_TAU), raw = s * (GATE_ETA - GATE_GAMMA) + GATE_GAMMA;
        e->gate[i] = fminf(fmaxf(raw, 0.0f), 1.0f);
        e->gate_slope[i] = raw > 0.0f && raw < 1.0f ? (GATE_ETA - GATE_GAMMA) * s * (1.0f - s) / GATE_TAU : 0.0f;
    }
}

/* The decoded scene of the current latents (rounded) and gates into e->means etc. */
static void decode(encoder *e)
{
    int64_t n = e->n;
    memcpy(e->log_scales, e->parent.log_scales, (size_t)n * 12);
    memcpy(e->rotations, e->parent.rotations, (size_t)n * 16);
    memcpy(e->opacities, e->parent.opacities, (size_t)n * 4);
    memcpy(e->sh, e->parent.sh, (size_t)n * (size_t)e->C * 4);
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            float p = e->parent.means[i * 3 + c];
            e->means[i * 3 + c] = p + e->gate[i] * (e->x[i * 3 + c] - p);
        }
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        latent_group *g = &e->groups[a];
        if (!g->ld) continue;
        for (int64_t i = 0; i < n; i++) {
            float *value = attribute_of(e, a, e->sh, e->log_scales, e->rotations, e->opacities, i);
            for (int k = 0; k < g->ld; k++) g->rounded[i * g->ld + k] = (int32_t)lrintf(g->z[i * g->ld + k]);
            for (int f = 0; f < g->features; f++) {
                float sum = 0.0f;
                for (int k = 0; k < g->ld; k++) {
                    float w = a == RD_STREAM_OPACITY ? g->W[0] * g->basis[k * g->features + f] : g->W[k * g->features + f];
                    sum += (float)g->rounded[i * g->ld + k] * w;
                }
                value[f] += sum + g->b[f];
            }
        }
    }
}

/* The scene's gradients carried to the latents, decoders, positions and gates. */
static void chain(encoder *e)
{
    int64_t n = e->n;
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        latent_group *g = &e->groups[a];
        if (!g->ld) continue;
        int64_t w = a == RD_STREAM_OPACITY ? 1 : (int64_t)g->ld * g->features;
        memset(g->gW, 0, (size_t)w * 4), memset(g->gb, 0, (size_t)g->features * 4);
        for (int64_t i = 0; i < n; i++) {
            const float *d = attribute_of(e, a, e->g_sh, e->g_scales, e->g_rotations, e->g_opacities, i);
            for (int k = 0; k < g->ld; k++) {
                float dz = 0.0f, r = (float)g->rounded[i * g->ld + k];
                for (int f = 0; f < g->features; f++) {
                    float basis = g->basis[k * g->features + f];
                    dz += d[f] * (a == RD_STREAM_OPACITY ? g->W[0] * basis : g->W[k * g->features + f]);
                    if (a == RD_STREAM_OPACITY) g->gW[0] += r * basis * d[f];
                    else g->gW[k * g->features + f] += r * d[f];
                }
                g->gz[i * g->ld + k] = dz;
            }
            for (int f = 0; f < g->features; f++) g->gb[f] += d[f];
        }
    }
    float lambda = e->desc->gate_lambda > 0 ? e->desc->gate_lambda : e->desc->gate_lambda < 0 ? 0.0f : 0.01f;
    float closed = GATE_TAU * logf(-GATE_GAMMA / GATE_ETA);
    for (int64_t i = 0; i < n; i++) {
        float dg = 0.0f;
        for (int c = 0; c < 3; c++) {
            float dm = e->g_means[i * 3 + c];
            e->gx[i * 3 + c] = e->gate[i] * dm;
            dg += dm * (e->x[i * 3 + c] - e->parent.means[i * 3 + c]);
        }
        float s = sigmoid(closed - e->log_alpha[i]); /* P(g = 0) */
        e->galpha[i] = dg * e->gate_slope[i] + lambda / (float)n * s * (1.0f - s);
    }
}

static void update(encoder *e, int step, float position_lr)
{
    static const float z_lr = 0.1f, W_lr[LATENT_ATTRIBUTES] = {1e-3f, 0, 2e-3f, 5e-4f, 5e-3f};
    rd_adam_step_desc d = {.step = step, .threads = e->ctx->threads};
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        latent_group *g = &e->groups[a];
        if (!g->ld) continue;
        int64_t w = a == RD_STREAM_OPACITY ? 1 : (int64_t)g->ld * g->features;
        d.lr = z_lr, rd_adam_update(g->z, g->gz, g->mz, g->vz, (size_t)(e->n * g->ld), &d);
        d.lr = W_lr[a], rd_adam_update(g->W, g->gW, g->mW, g->vW, (size_t)w, &d);
        d.lr = W_lr[a] * 0.1f, rd_adam_update(g->b, g->gb, g->mb, g->vb, (size_t)g->features, &d);
    }
    d.lr = position_lr, rd_adam_update(e->x, e->gx, e->mx, e->vx, (size_t)e->n * 3, &d);
    if (e->desc->gate_lambda >= 0) {
        d.lr = 0.1f, rd_adam_update(e->log_alpha, e->galpha, e->ma, e->va, (size_t)e->n, &d);
        for (int64_t i = 0; i < e->n; i++) e->log_alpha[i] = fminf(fmaxf(e->log_alpha[i], logf(1e-3f)), logf(1e3f));
    }
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

/* One step on view v; its loss into *loss. */
static rd_result step(encoder *e, const rd_train_view *v, float *render, float *target, float *grad, double *scratch, double *loss)
{
    gates(e, false);
    decode(e);
    rd_scene_desc sd = e->parent;
    sd.means = e->means, sd.log_scales = e->log_scales, sd.rotations = e->rotations, sd.opacities = e->opacities, sd.sh = e->sh;
    rd_scene *scene;
    rd_result r = rd_scene_create(e->ctx, &sd, &scene);
    if (r != RD_OK) return r;
    rd_render_desc rd = {.flags = RD_RENDER_FOR_BACKWARD};
    memcpy(rd.background, e->desc->background, sizeof rd.background);
    target_of(v, e->desc->background, target);
    r = rd_render(e->ctx, scene, &v->camera, &rd, &(rd_framebuffer){.color = render});
    if (r == RD_OK) {
        rd_loss_desc ld = {v->camera.width, v->camera.height, render, target, 0.2f};
        *loss = rd_loss_l1_dssim(&ld, grad, scratch);
        int64_t n = e->n;
        memset(e->g_means, 0, (size_t)n * 12), memset(e->g_scales, 0, (size_t)n * 12), memset(e->g_rotations, 0, (size_t)n * 16);
        memset(e->g_opacities, 0, (size_t)n * 4), memset(e->g_sh, 0, (size_t)n * (size_t)e->C * 4);
        rd_gaussian_grads gg = {e->g_means, e->g_scales, e->g_rotations, e->g_opacities, e->g_sh};
        r = rd_render_backward(e->ctx, scene, 1, &v->camera, &rd, &(rd_render_grads){grad, NULL, RD_MEMORY_HOST},
                               &(rd_scene_grads){RD_SCENE_GAUSSIANS, &gg, NULL, RD_MEMORY_HOST});
    }
    rd_scene_destroy(scene);
    if (r == RD_OK) chain(e);
    return r;
}

/* The frame as the stream stores it: rounded latents, evaluated gates, moves in steps; or,
   as a keyframe, the trained frame whole. */
static rd_result write_frame(encoder *e, rd_stream_writer *w, float position_step, rd_stream_encode_report *report)
{
    gates(e, true);
    if (e->desc->intra) {
        decode(e);
        rd_scene_desc sd = e->parent;
        sd.means = e->means, sd.log_scales = e->log_scales, sd.rotations = e->rotations, sd.opacities = e->opacities, sd.sh = e->sh;
        rd_result r = rd_stream_write_intra(w, &sd);
        if (report) report->moved = 0, report->bytes = rd_stream_writer_last_bytes(w);
        return r;
    }
    int64_t n = e->n, moved = 0;
    int64_t *indices = rd_alloc_array(n + 1, sizeof(int64_t));
    int32_t *steps = rd_alloc_array(n * 3 + 1, sizeof(int32_t));
    if (!indices || !steps) {
        free(indices), free(steps);
        return rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t s[3];
        bool any = false;
        for (int c = 0; c < 3; c++) {
            double move = (double)e->gate[i] * (e->x[i * 3 + c] - e->parent.means[i * 3 + c]) / position_step;
            s[c] = (int32_t)llround(fmax(fmin(move, 2e9), -2e9));
            any |= s[c] != 0;
        }
        if (!any) continue;
        indices[moved] = i;
        memcpy(steps + moved * 3, s, sizeof s);
        moved++;
    }
    rd_stream_residual f = {.count = n, .moved = moved, .moved_indices = indices, .moved_steps = steps};
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        latent_group *g = &e->groups[a];
        if (!g->ld) continue;
        for (int64_t k = 0; k < n * g->ld; k++) g->rounded[k] = (int32_t)lrintf(g->z[k]);
        f.attributes[a] = (rd_stream_latents){g->ld, a == RD_STREAM_OPACITY ? RD_STREAM_COSINE : RD_STREAM_LINEAR, g->rounded, g->W,
                                              g->W[0], g->b};
    }
    rd_result r = rd_stream_write_residual(w, &f);
    if (report) report->moved = moved, report->bytes = rd_stream_writer_last_bytes(w);
    free(indices), free(steps);
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
    static const int spec_dims[LATENT_ATTRIBUTES] = {8, 0, 8, 6, 3}; /* spec: N3DV's latent sizes */
    for (int a = 0; a < LATENT_ATTRIBUTES; a++) {
        if (d.latent_dims[a] < 0 || d.latent_dims[a] > RD_STREAM_MAX_LATENT)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: latent_dims[%d] = %d is out of range (0..%d)", a,
                           d.latent_dims[a], RD_STREAM_MAX_LATENT);
        if (!d.latent_dims[a]) d.latent_dims[a] = spec_dims[a];
    }
    if (!d.iterations) d.iterations = 200;
    if (d.iterations < 0) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: iterations must be positive");
    double t0 = rd_now_ms();
    encoder e = {.ctx = ctx, .desc = &d, .rng = d.seed * 2654435761u + 12345u};
    int64_t max_pixels = 0;
    size_t max_scratch = 0;
    for (int k = 0; k < view_count; k++) {
        const rd_camera *c = &views[k].camera;
        if (!views[k].image || views[k].image->width != c->width || views[k].image->height != c->height)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_encode_frame: view %d's image is missing or not its camera's size", k);
        if ((int64_t)c->width * c->height > max_pixels) max_pixels = (int64_t)c->width * c->height;
        size_t need = rd_loss_scratch_doubles(c->width, c->height);
        if (need > max_scratch) max_scratch = need;
    }
    float *render = zeros(max_pixels * 4), *target = zeros(max_pixels * 4), *grad = zeros(max_pixels * 4);
    double *scratch = rd_alloc_array((int64_t)max_scratch + 1, sizeof(double));
    rd_result r = RD_OK;
    if (!render || !target || !grad || !scratch || !setup(&e, &state))
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory for %lld Gaussians", (long long)state.count);
    /* the positions' learning rate: the recipe's first (1.6e-4 of the extent), the frame's scene is already fitted */
    float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; r == RD_OK && i < e.n; i++)
        for (int c = 0; c < 3; c++) lo[c] = fminf(lo[c], e.parent.means[i * 3 + c]), hi[c] = fmaxf(hi[c], e.parent.means[i * 3 + c]);
    float extent = e.n ? 0.5f * sqrtf((hi[0] - lo[0]) * (hi[0] - lo[0]) + (hi[1] - lo[1]) * (hi[1] - lo[1]) + (hi[2] - lo[2]) * (hi[2] - lo[2])) : 1.0f;
    double loss = 0.0, first = 0.0;
    for (int s = 0; r == RD_OK && s < d.iterations; s++) {
        const rd_train_view *v = &views[(int)(uniform(&e.rng) * (float)view_count) % view_count];
        r = step(&e, v, render, target, grad, scratch, &loss);
        if (r == RD_OK) update(&e, s + 1, 1.6e-4f * extent);
        if (s == 0) first = loss;
    }
    float position_step = rd_stream_writer_position_step(w);
    if (r == RD_OK) r = write_frame(&e, w, position_step, report);
    if (r == RD_OK && report) report->loss_first = first, report->loss_last = loss, report->seconds = (rd_now_ms() - t0) / 1000.0;
    free(render), free(target), free(grad), free(scratch);
    free_encoder(&e);
    return r;
}
