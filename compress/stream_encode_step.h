/* stream_encode_step.h: the residual encoder's per-Gaussian arithmetic (stream_encode.c),
   written once for the CPU (stream_encode_step.c) and the CUDA kernels
   (stream_encode_cuda.cu), so that a step on the GPU is the CPU's step:

     gates:  g = clamp(sigmoid((ln u - ln(1 - u) + ln alpha) / tau)(eta - gamma) + gamma, 0, 1)
             u from a counter hash of (seed, step, Gaussian): any thread draws what the CPU draws
     decode: position = parent + g (x - parent); attribute = parent + round(z) W + b
             (f_rest: round(z) W + b alone, z carried from the frame before)
     chain:  dz, dx, d ln alpha a Gaussian; dW, db summed over the Gaussians

   Plain C (the CUDA file needs nothing else of compress/); every pointer is the backend's
   (host arrays on the CPU, device arrays on CUDA). */
#ifndef RD_STREAM_ENCODE_STEP_H
#define RD_STREAM_ENCODE_STEP_H

#include "radiant.h"

#include <math.h>
#include <stdint.h>

#ifdef __CUDACC__
#define RD_ENCODE_FN __host__ __device__ static inline
#else
#define RD_ENCODE_FN static inline
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define RD_GATE_TAU 0.3f
#define RD_GATE_GAMMA -0.5f
#define RD_GATE_ETA 1.01f

/* The scene's arrays in rd_scene_desc's order. */
enum { ENCODE_MEANS, ENCODE_SCALES, ENCODE_ROTATIONS, ENCODE_OPACITIES, ENCODE_SH, ENCODE_ARRAYS };

/* One attribute's latents and decoder (ld 0: the attribute keeps the parent's values). */
typedef struct stream_encode_latents {
    int ld, features;
    int cosine;          /* W is one scale over the cosine basis (opacity), else ld*features */
    int absolute;        /* the attribute is round(z) W + b alone (f_rest), not added to the parent */
    const float *anchor; /* count*ld: where the settle's shrink pulls z (0; f_rest: its start; a split
                            child's scale: the split's shrink); NULL: 0 */
    float *z, *W, *b;    /* count*ld, (cosine ? 1 : ld*features), features */
    float *gz, *gW, *gb;
    const float *basis;  /* ld*features: the cosine basis, or ones */
} stream_encode_latents;

/* One step's arrays. parent, decoded and grads are scene arrays (means 3, log-scales 3,
   rotations 4, opacities 1, SH sh_floats a Gaussian). */
typedef struct stream_encode_step {
    int64_t count;
    int sh_floats;
    const float *parent[ENCODE_ARRAYS];
    float *decoded[ENCODE_ARRAYS]; /* the step's scene: attributes without latents hold the parent's (set once) */
    const float *grads[ENCODE_ARRAYS];
    float *x, *log_alpha;          /* free positions (count*3) and gate logits */
    float *gx, *galpha;
    float *gate, *gate_slope;      /* this step's gate and dg/d(ln alpha) */
    stream_encode_latents latents[RD_STREAM_ATTRIBUTES];
    const uint8_t *dynamic;        /* per Gaussian: the split found it changing (NULL: no split) */
    int hide_static;               /* the split's first steps: Gaussians not dynamic are hidden */
    uint32_t seed, step;           /* the gates' draws */
    int eval;                      /* gates without noise (the stored frame's) */
    int gates_off;                 /* every gate 1 */
    float lambda;                  /* the L0 term's weight */
    float shrink;                  /* after each update every latent moves this far toward its anchor (stopping there) */
} stream_encode_step;

/* Floats a Gaussian of scene array k. */
RD_ENCODE_FN int stream_encode_array_width(int k, int sh_floats)
{
    return k == ENCODE_SH ? sh_floats : k == ENCODE_ROTATIONS ? 4 : k == ENCODE_OPACITIES ? 1 : 3;
}

/* Where attribute a sits in the scene arrays: which array, floats a Gaussian, first float. */
RD_ENCODE_FN void stream_encode_attribute_place(int a, int sh_floats, int *array, int *stride, int *offset)
{
    *array = a == RD_STREAM_F_DC || a == RD_STREAM_F_REST ? ENCODE_SH
             : a == RD_STREAM_SCALE                     ? ENCODE_SCALES
             : a == RD_STREAM_ROTATION                  ? ENCODE_ROTATIONS
                                                        : ENCODE_OPACITIES;
    *stride = stream_encode_array_width(*array, sh_floats);
    *offset = a == RD_STREAM_F_REST ? 3 : 0;
}

/* A uniform draw in (0, 1) for Gaussian i at (seed, step): 24 bits of a mixed counter. */
RD_ENCODE_FN float stream_encode_uniform(uint32_t seed, uint32_t step, uint64_t i)
{
    uint32_t h = (uint32_t)i ^ (uint32_t)(i >> 32) * 0x27d4eb2du;
    h = h * 0x9e3779b1u + step * 0x85ebca77u + seed;
    for (int round = 0; round < 2; round++) h ^= h >> 16, h *= 0x7feb352du, h ^= h >> 15, h *= 0x846ca68bu, h ^= h >> 16;
    return ((float)(h >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

/* ln alpha where the evaluated gate is exactly 0 (P(g = 0) = 1/2): the gates' start. */
RD_ENCODE_FN float stream_encode_closed_logit(void) { return RD_GATE_TAU * logf(-RD_GATE_GAMMA / RD_GATE_ETA); }

RD_ENCODE_FN void stream_encode_gate_one(const stream_encode_step *s, int64_t i)
{
    if (s->gates_off) {
        s->gate[i] = 1.0f, s->gate_slope[i] = 0.0f;
        return;
    }
    float noise = 0.0f;
    if (!s->eval) {
        float u = stream_encode_uniform(s->seed, s->step, (uint64_t)i);
        noise = logf(u) - logf(1.0f - u);
    }
    float q = 1.0f / (1.0f + expf(-(noise + s->log_alpha[i]) / RD_GATE_TAU));
    float raw = q * (RD_GATE_ETA - RD_GATE_GAMMA) + RD_GATE_GAMMA;
    s->gate[i] = fminf(fmaxf(raw, 0.0f), 1.0f);
    s->gate_slope[i] = raw > 0.0f && raw < 1.0f ? (RD_GATE_ETA - RD_GATE_GAMMA) * q * (1.0f - q) / RD_GATE_TAU : 0.0f;
}

/* The opacity logit that hides a Gaussian (sigmoid below 1e-34: under any alpha cut). */
#define RD_ENCODE_HIDDEN_LOGIT -80.0f

/* The split's first steps hide the static Gaussians; after them each opacity is its own
   again (rewritten from the parent where it has no latents). */
RD_ENCODE_FN void stream_encode_hide_one(const stream_encode_step *s, int64_t i)
{
    if (!s->dynamic) return;
    float *opacity = s->decoded[ENCODE_OPACITIES] + i;
    if (!s->latents[RD_STREAM_OPACITY].ld) *opacity = s->parent[ENCODE_OPACITIES][i];
    if (s->hide_static && !s->dynamic[i]) *opacity = RD_ENCODE_HIDDEN_LOGIT;
}

/* Decoder weight (k, f) of a latent group. */
RD_ENCODE_FN float stream_encode_weight(const stream_encode_latents *g, int k, int f)
{
    return g->cosine ? g->W[0] * g->basis[k * g->features + f] : g->W[k * g->features + f];
}

/* Gaussian i's gate, moved position and decoded attributes. Products and sums one by one
   in a fixed order (the CPU file is compiled without contraction, CUDA rounds each). */
#ifdef __CUDA_ARCH__
#define RD_ENCODE_MUL(a, b) __fmul_rn(a, b)
#define RD_ENCODE_ADD(a, b) __fadd_rn(a, b)
#else
#define RD_ENCODE_MUL(a, b) ((a) * (b))
#define RD_ENCODE_ADD(a, b) ((a) + (b))
#endif
RD_ENCODE_FN void stream_encode_decode_one(const stream_encode_step *s, int64_t i)
{
    stream_encode_gate_one(s, i);
    float g = s->gate[i];
    for (int c = 0; c < 3; c++) {
        float p = s->parent[ENCODE_MEANS][i * 3 + c];
        s->decoded[ENCODE_MEANS][i * 3 + c] = RD_ENCODE_ADD(p, RD_ENCODE_MUL(g, s->x[i * 3 + c] - p));
    }
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &s->latents[a];
        if (!l->ld) continue;
        int array, stride, offset;
        stream_encode_attribute_place(a, s->sh_floats, &array, &stride, &offset);
        const float *parent = s->parent[array] + i * stride + offset;
        float *value = s->decoded[array] + i * stride + offset;
        for (int f = 0; f < l->features; f++) {
            float sum = 0.0f;
            for (int k = 0; k < l->ld; k++) sum = RD_ENCODE_ADD(sum, RD_ENCODE_MUL(rintf(l->z[i * l->ld + k]), stream_encode_weight(l, k, f)));
            float own = RD_ENCODE_ADD(sum, l->b[f]);
            value[f] = l->absolute ? own : RD_ENCODE_ADD(parent[f], own);
        }
    }
    stream_encode_hide_one(s, i);
}

/* The split's loss mask (QUEEN: the dynamic Gaussians' alpha > 1/2 footprint dilated by a
   48x48 max-pool), separable. Pass 1 at (x, y): 1 where a pixel of row y within
   [x - 24, x + 23] has alpha over 1/2. Pass 2: the mask, 1 where pass 1 is 1 within
   [y - 24, y + 23] of the column; outside it the render's colour becomes the photo's over
   the background (so that no loss, SSIM's windows included, sees the hidden Gaussians),
   and after the loss its gradient is zeroed there (stream_encode_mask_grad_one). */
#define RD_ENCODE_MASK_HALF 24
RD_ENCODE_FN float stream_encode_mask_row_one(const float *render, int width, int x, int y)
{
    for (int k = x - RD_ENCODE_MASK_HALF; k < x + RD_ENCODE_MASK_HALF; k++)
        if (k >= 0 && k < width && render[4 * ((int64_t)y * width + k) + 3] > 0.5f) return 1.0f;
    return 0.0f;
}
RD_ENCODE_FN float stream_encode_mask_apply_one(const float *rows, float *render, const float *photo, const float background[3], int width,
                                                int height, int x, int y)
{
    for (int k = y - RD_ENCODE_MASK_HALF; k < y + RD_ENCODE_MASK_HALF; k++)
        if (k >= 0 && k < height && rows[(int64_t)k * width + x] > 0.0f) return 1.0f;
    int64_t p = (int64_t)y * width + x;
    float a = photo[4 * p + 3];
    for (int c = 0; c < 3; c++)
        render[4 * p + c] = RD_ENCODE_ADD(RD_ENCODE_MUL(photo[4 * p + c], a), RD_ENCODE_MUL(background[c], 1.0f - a));
    return 0.0f;
}
RD_ENCODE_FN void stream_encode_mask_grad_one(float *grad, const float *mask, int64_t p)
{
    for (int c = 0; c < 4; c++) grad[4 * p + c] = mask[p] > 0.0f ? grad[4 * p + c] : 0.0f;
}

/* Gaussian i's gradients: dz (straight through the rounding), dx, d ln alpha. */
RD_ENCODE_FN void stream_encode_chain_one(const stream_encode_step *s, int64_t i)
{
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &s->latents[a];
        if (!l->ld) continue;
        int array, stride, offset;
        stream_encode_attribute_place(a, s->sh_floats, &array, &stride, &offset);
        const float *d = s->grads[array] + i * stride + offset;
        for (int k = 0; k < l->ld; k++) {
            float dz = 0.0f;
            for (int f = 0; f < l->features; f++) dz = RD_ENCODE_ADD(dz, RD_ENCODE_MUL(d[f], stream_encode_weight(l, k, f)));
            l->gz[i * l->ld + k] = dz;
        }
    }
    float dg = 0.0f;
    for (int c = 0; c < 3; c++) {
        float dm = s->grads[ENCODE_MEANS][i * 3 + c];
        s->gx[i * 3 + c] = RD_ENCODE_MUL(s->gate[i], dm);
        dg = RD_ENCODE_ADD(dg, RD_ENCODE_MUL(dm, s->x[i * 3 + c] - s->parent[ENCODE_MEANS][i * 3 + c]));
    }
    float p0 = 1.0f / (1.0f + expf(-(stream_encode_closed_logit() - s->log_alpha[i]))); /* P(g = 0) */
    s->galpha[i] = RD_ENCODE_ADD(RD_ENCODE_MUL(dg, s->gate_slope[i]), s->lambda / (float)s->count * p0 * (1.0f - p0));
}

/* After an update: the soft threshold that holds latents without a steady gradient at 0
   (Adam moves every latent about its rate a step, so noise alone walks them off 0). */
RD_ENCODE_FN float stream_encode_shrink_one(float z, float t) { return z > t ? z - t : z < -t ? z + t : 0.0f; }
/* Latent k of a group settled: shrunk toward its anchor (0 where it has none). */
RD_ENCODE_FN float stream_encode_settle_one(const stream_encode_latents *l, int64_t k, float t)
{
    float at = l->anchor ? l->anchor[k] : 0.0f;
    return RD_ENCODE_ADD(at, stream_encode_shrink_one(l->z[k] - at, t));
}

/* Term j of a group's decoder gradient for Gaussian i: j < W's size gives dW[j] (the
   cosine's one scale sums over k and f), then db[j - W's size]. */
RD_ENCODE_FN int stream_encode_decoder_size(const stream_encode_latents *l) { return l->cosine ? 1 : l->ld * l->features; }
RD_ENCODE_FN float stream_encode_decoder_term(const stream_encode_step *s, int a, int j, int64_t i)
{
    const stream_encode_latents *l = &s->latents[a];
    int array, stride, offset;
    stream_encode_attribute_place(a, s->sh_floats, &array, &stride, &offset);
    const float *d = s->grads[array] + i * stride + offset;
    const float *z = l->z + i * l->ld;
    int w = stream_encode_decoder_size(l);
    if (j >= w) return d[j - w];
    if (!l->cosine) return RD_ENCODE_MUL(rintf(z[j / l->features]), d[j % l->features]);
    float sum = 0.0f;
    for (int k = 0; k < l->ld; k++)
        for (int f = 0; f < l->features; f++) sum = RD_ENCODE_ADD(sum, RD_ENCODE_MUL(RD_ENCODE_MUL(rintf(z[k]), l->basis[k * l->features + f]), d[f]));
    return sum;
}

/* A densification's rebuild (stream_encode_density.c): row j of each per-Gaussian array
   of width floats copies row from[j] of the old state's; Adam's moments (fresh given) start
   at zero in fresh rows. */
RD_ENCODE_FN void stream_encode_gather_one(float *to, const float *from, int width, const int64_t *rows_from, const uint8_t *fresh, int64_t j)
{
    for (int k = 0; k < width; k++) to[j * width + k] = fresh && fresh[j] ? 0.0f : from[rows_from[j] * width + k];
}
/* ln alpha of a gate that opens fully (g = 1 from ln alpha >= tau ln((1 - gamma)/(eta - 1)), about 1.5). */
#define RD_ENCODE_OPEN_GATE_LOGIT 2.0f
/* Then split child c (row rows[c] of the new state) goes to its place (x: 3 floats a
   child), its gate opens, and its scale latents and their anchors (scale_anchor, the
   latents' own array: the settle keeps the shrink) move by shrink (NULL: none). */
RD_ENCODE_FN void stream_encode_place_child_one(const stream_encode_step *s, float *scale_anchor, const int64_t *rows, const float *x,
                                                const float *shrink, int64_t c)
{
    int64_t j = rows[c];
    for (int a = 0; a < 3; a++) s->x[3 * j + a] = x[3 * c + a];
    s->log_alpha[j] = fmaxf(s->log_alpha[j], RD_ENCODE_OPEN_GATE_LOGIT);
    const stream_encode_latents *l = &s->latents[RD_STREAM_SCALE];
    for (int k = 0; shrink && k < l->ld; k++) l->z[j * l->ld + k] += shrink[k], scale_anchor[j * l->ld + k] += shrink[k];
}

/* Adam's rates: the latents 0.1, each attribute's decoder its own and its bias a tenth of
   that, the gates' logits 0.1; the positions' rate is the frame's (1.6e-4 of the extent). */
#define RD_ENCODE_LATENT_LR 0.1f
#define RD_ENCODE_GATE_LR 0.1f
static inline float stream_encode_decoder_lr(int a)
{
    return a == RD_STREAM_F_DC ? 1e-3f : a == RD_STREAM_SCALE ? 2e-3f : a == RD_STREAM_ROTATION ? 5e-4f : a == RD_STREAM_OPACITY ? 5e-3f : 0.0f;
}

/* The encoder's own generator (the view of each step): the CPU's and the GPU's loops draw
   the same views. */
static inline float stream_encode_next_uniform(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return ((float)(*state >> 40) + 0.5f) / (float)(1u << 24);
}
/* Pixels of the views' largest image (at least 1): the size of a step's frame buffers. */
static inline int64_t stream_encode_largest_view(const rd_train_view *views, int count)
{
    int64_t largest = 1;
    for (int v = 0; v < count; v++)
        if ((int64_t)views[v].camera.width * views[v].camera.height > largest) largest = (int64_t)views[v].camera.width * views[v].camera.height;
    return largest;
}
static inline int stream_encode_pick_view(uint64_t *state, int count)
{
    return (int)(stream_encode_next_uniform(state) * (float)count) % count;
}

/* The CPU's step (stream_encode_step.c): gates and decode for every Gaussian; the chain
   with dW and db summed over the Gaussians in order; after the update, settle: ln alpha
   clamped to [ln 1e-3, ln 1e3] and every latent shrunk (stream_encode_shrink_one). */
void rd_stream_encode_decode_cpu(const stream_encode_step *s);
void rd_stream_encode_chain_cpu(const stream_encode_step *s);
void rd_stream_encode_settle_cpu(const stream_encode_step *s);

/* The split's mask over a frame on the CPU: render (RGBA) changed outside it, mask and
   rows (width*height floats each) written; then the loss gradient (RGBA) zeroed outside. */
void rd_stream_encode_mask_cpu(float *render, const float *photo, const float background[3], int width, int height, float *rows, float *mask);
void rd_stream_encode_mask_grad_cpu(float *grad, const float *mask, int64_t pixels);
/* A photo as RGBA (alpha 1 where it has none), as the masks and the device's loss read it. */
void rd_stream_encode_photo_rgba(const rd_image *image, float *out);

/* The same on CUDA (stream_encode_cuda.cu), enqueued on the context's stream. The chain's
   sums go through partials (rd_stream_encode_partials_floats(s) floats of device memory) in
   a fixed order: the same bits every run. */
size_t rd_stream_encode_partials_floats(const stream_encode_step *s);
rd_result rd_stream_encode_decode_cuda(rd_context *ctx, const stream_encode_step *s);
rd_result rd_stream_encode_chain_cuda(rd_context *ctx, const stream_encode_step *s, float *partials);
rd_result rd_stream_encode_settle_cuda(rd_context *ctx, const stream_encode_step *s);
rd_result rd_stream_encode_mask_cuda(rd_context *ctx, float *render, const float *photo, const float background[3], int width, int height,
                                     float *rows, float *mask);
rd_result rd_stream_encode_mask_grad_cuda(rd_context *ctx, float *grad, const float *mask, int64_t pixels);
/* The rebuild's two parts: one array's rows (stream_encode_gather_one; rows_from and fresh
   device arrays of count), and the split children placed (rows and x device arrays of
   children; shrink a host array of the scale latents' ld, or NULL). */
rd_result rd_stream_encode_gather_cuda(rd_context *ctx, float *to, const float *from, int width, const int64_t *rows_from, const uint8_t *fresh,
                                       int64_t count);
rd_result rd_stream_encode_children_cuda(rd_context *ctx, const stream_encode_step *s, float *scale_anchor, const int64_t *rows, const float *x,
                                         const float *shrink, int64_t children);

/* One attribute's Adam moments: of z (count*ld), W and b. */
typedef struct stream_encode_moments {
    float *mz, *vz, *mW, *vW, *mb, *vb;
} stream_encode_moments;


#ifdef __cplusplus
}
#endif

#endif
