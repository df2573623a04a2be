/* saliency.h: HollowNeRF's saliency mask and its ADMM pruner (spec/nerf.md, "HollowNeRF
   pruning"), the pieces a pruning trainer is built from. The CPU code is the specification.

   The mask: a trainable grid of R^3 logits G over the hash grid's unit cube (vertices at
   i / (R - 1), points outside clamped onto the cube); a point's keep value is
   p = sigmoid(trilinear(G, x)), which multiplies its hash features before the density
   network. rd_saliency_forward gives p at points, rd_saliency_backward adds the logits'
   gradient of sum(g_keep * p).

   The pruner keeps sum(sigmoid(G)) within a budget C (cells kept) by ADMM on the split
   z = sigmoid(G): the training loss takes the penalty rho / 2 * |sigmoid(G) - z + u|^2
   (rd_admm_penalty_gradient adds its gradient to G's); now and then z becomes the
   projection of sigmoid(G) + u onto {0 <= z <= 1, sum z <= C} and the scaled dual u
   gathers the residual sigmoid(G) - z (rd_admm_update). The spec names the method, not
   its constants: rho and the update's interval are the trainer's options. */
#ifndef RD_NERF_SALIENCY_H
#define RD_NERF_SALIENCY_H

#include "radiant.h"
#include "../renderer/cuda/cuda_backend.h"

#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __CUDACC__
#define RD_SALIENCY_FN __host__ __device__ static inline
#else
#define RD_SALIENCY_FN static inline
#endif

enum { RD_SALIENCY_MIN_RESOLUTION = 2, RD_SALIENCY_MAX_RESOLUTION = 512 };

typedef struct rd_saliency {
    int resolution; /* R: R^3 logits, x fastest */
} rd_saliency;

/* The keep value of a logit (a mask cell's, or a point's trilinear sum of them). Every
   backend's. */
RD_SALIENCY_FN float rd_saliency_keep(float logit) { return 1.0f / (1.0f + expf(-logit)); }

/* Point p's 8 vertices (x fastest) in a grid of resolution r and their trilinear weights;
   outside the cube, the point clamped onto it (a NaN coordinate as 0). Every backend's. */
RD_SALIENCY_FN void rd_saliency_corners(int r, const float p[3], int64_t at[8], float weight[8])
{
    int low[3];
    float fraction[3];
    for (int a = 0; a < 3; a++) {
        float x = (isnan(p[a]) ? 0.0f : fminf(fmaxf(p[a], 0.0f), 1.0f)) * (float)(r - 1);
        int i = (int)floorf(x);
        low[a] = i > r - 2 ? r - 2 : i;
        fraction[a] = x - (float)low[a];
    }
    for (int c = 0; c < 8; c++) {
        int x = low[0] + (c & 1), y = low[1] + (c >> 1 & 1), z = low[2] + (c >> 2 & 1);
        at[c] = x + (int64_t)r * (y + (int64_t)r * z);
        weight[c] = ((c & 1) ? fraction[0] : 1.0f - fraction[0]) * ((c >> 1 & 1) ? fraction[1] : 1.0f - fraction[1]) *
                    ((c >> 2 & 1) ? fraction[2] : 1.0f - fraction[2]);
    }
}

/* RD_ERROR_INVALID_ARGUMENT naming the resolution where it is outside 2..512. */
rd_result rd_saliency_make(rd_context *ctx, int resolution, rd_saliency *out);
static inline int64_t rd_saliency_cells(const rd_saliency *s) { return (int64_t)s->resolution * s->resolution * s->resolution; }
/* Every logit `initial` (HollowNeRF starts the mask at ones). */
void rd_saliency_init(const rd_saliency *s, float initial, float *logits);

/* A pruned field's snapshot (snapshot.c): the occupancy cells (level 0 bits of `cascades`
   cascades, occupancy.h's layout) where the keep value stays below keep_below everywhere
   in the cell are cleared, so that marching skips them and their table entries drop out
   of the file; the cleared count. HollowNeRF prunes by the mask; here a cell goes where its
   hash features are scaled by less than keep_below (RD_SALIENCY_PRUNED_KEEP). */
#define RD_SALIENCY_PRUNED_KEEP 0.01f
int64_t rd_saliency_prune_cells(const rd_saliency *s, const float *logits, int cascades, float keep_below, uint8_t *bits);

/* keep[i] = sigmoid(trilinear(logits, positions[3i..])) for n points. */
void rd_saliency_forward(const rd_saliency *s, const float *logits, const float *positions, int64_t n, float *keep);
/* Adds into grad_logits the gradient of sum(g_keep[i] * keep[i]), keep as the forward gave it. */
void rd_saliency_backward(const rd_saliency *s, const float *positions, int64_t n, const float *keep, const float *g_keep,
                          float *grad_logits);

/* z: the Euclidean projection of y (n values) onto {0 <= z <= 1, sum z <= budget}, i.e.
   clamp(y - tau, 0, 1) with the least tau >= 0 that meets the budget. budget >= 0. */
void rd_admm_project(const float *y, int64_t n, double budget, float *z);
/* Adds rho * (sigmoid(G) - z + u) * sigmoid'(G) to grad (the penalty's gradient). */
void rd_admm_penalty_gradient(const float *logits, const float *z, const float *u, int64_t n, float rho, float *grad);
/* z = projection of sigmoid(G) + u; then u += sigmoid(G) - z. */
void rd_admm_update(const float *logits, int64_t n, double budget, float *z, float *u);

/* ---- the pruner on CUDA (saliency_cuda.cu, built where RD_HAVE_CUDA is) ----
   The same two, every array device memory, the work queued on stream (NULL: the
   context's), nothing waited for. The update's sums are in double in a fixed order, so
   that a run repeats bit for bit; z may differ from the CPU's in the last bits of tau. */
typedef struct rd_admm_cuda {
    rd_cuda_buffer state; /* the projection's partial sums and bisection, kept between calls */
} rd_admm_cuda;
rd_result rd_admm_update_cuda(rd_context *ctx, const float *logits, int64_t n, double budget, float *z, float *u,
                              rd_admm_cuda *scratch, void *stream);
rd_result rd_admm_penalty_gradient_cuda(rd_context *ctx, const float *logits, const float *z, const float *u, int64_t n, float rho,
                                        float *grad, void *stream);
void rd_admm_cuda_free(rd_context *ctx, rd_admm_cuda *scratch);

#ifdef __cplusplus
}
#endif
#endif
