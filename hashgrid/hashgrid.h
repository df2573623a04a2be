/* hashgrid.h: the multiresolution hash encoding (spec/nerf.md, "Multiresolution hash
   encoding"): positions in the unit cube to L levels of F features, each level a grid of
   trainable feature vectors, dense where the grid fits in the table and hashed above, read
   by trilinear interpolation of the 8 corners of the cell a point falls in.

   Level l: scale = base * growth^l - 1, resolution = ceil(scale) + 1 vertices a side; a
   point p goes to scale * p + 0.5, whose floor names the cell's low corner and whose
   fraction weighs the corners. A corner (x, y, z), in uint32 arithmetic that wraps, is
   x + y * res + z * res^2 on a dense level and x ^ y * 2654435761 ^ z * 805459861 on a
   hashed one, either taken modulo the level's size: points outside the cube read
   well-defined entries too (as tiny-cuda-nn's encoding does), and nothing reads out of
   bounds.

   Layout: params holds the levels one after another (level l from offset[l], size[l]
   entries of F floats); features and their gradients are n rows of L * F floats, level
   major. The CPU functions (hashgrid.c) are the specification; the CUDA ones
   (hashgrid_cuda.cu) take the same arguments in the same order, device pointers, and the
   stream last. */
#ifndef RD_HASHGRID_H
#define RD_HASHGRID_H

#include "../renderer/internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { RD_HASHGRID_MAX_LEVELS = 32, RD_HASHGRID_MAX_FEATURES = 8 };

#ifdef __CUDACC__
#define RD_HASHGRID_FN __host__ __device__ static inline
#else
#define RD_HASHGRID_FN static inline
#endif

/* The encoding's configuration; zero for each default (the spec's). */
typedef struct rd_hashgrid_desc {
    int levels;              /* L, 1..32; 0: 16 */
    int features;            /* F per level, 1, 2, 4 or 8; 0: 2 */
    int log2_table_size;     /* T = 2^this entries a level at most, 4..24; 0: 19 */
    float base_resolution;   /* N_min, at least 2; 0: 16 */
    float finest_resolution; /* N_max, at least N_min; 0: 2048 (the spec's 2048 times the scene's extent, for extent 1) */
} rd_hashgrid_desc;

/* The encoding's layout, derived once from a desc. */
typedef struct rd_hashgrid {
    int levels, features;
    uint32_t table_size;                          /* 2^T */
    float growth;                                 /* b */
    float scale[RD_HASHGRID_MAX_LEVELS];          /* N_min * b^l - 1 */
    uint32_t resolution[RD_HASHGRID_MAX_LEVELS];  /* ceil(scale) + 1 */
    uint32_t size[RD_HASHGRID_MAX_LEVELS];        /* entries: min(T, res^3 padded to 8) */
    uint32_t offset[RD_HASHGRID_MAX_LEVELS];      /* the level's first entry */
    uint32_t dense_levels;                        /* bit l: level l is dense */
    int64_t entries;                              /* all levels' entries; params holds entries * F floats */
} rd_hashgrid;

/* Fills *out from desc (NULL: defaults); RD_ERROR_INVALID_ARGUMENT naming the field that
   is out of range. */
rd_result rd_hashgrid_make(rd_context *ctx, const rd_hashgrid_desc *desc, rd_hashgrid *out);
/* Uniform values in [-1e-4, 1e-4) from seed (the spec's initialisation), the same on every
   machine: entries * features floats. */
void rd_hashgrid_init(const rd_hashgrid *g, uint64_t seed, float *params);

/* The table entry of corner (x, y, z) on level l (the formula above), relative to the
   level's offset. */
RD_HASHGRID_FN uint32_t rd_hashgrid_index(const rd_hashgrid *g, int l, uint32_t x, uint32_t y, uint32_t z)
{
    uint32_t res = g->resolution[l], index;
    if (g->dense_levels >> l & 1u) index = x + y * res + z * res * res;
    else index = x ^ (y * 2654435761u) ^ (z * 805459861u);
    return index % g->size[l];
}

/* Where p (one coordinate) falls on level l: the cell's low corner and the fraction. A
   coordinate beyond +-2^24 cells (or NaN) is taken as 0, so that the corner's integer is
   defined, and false is returned: the features do not move with it there. */
RD_HASHGRID_FN bool rd_hashgrid_locate(const rd_hashgrid *g, int l, float p, uint32_t *corner, float *fraction)
{
#ifdef __CUDA_ARCH__
    float at = __fadd_rn(__fmul_rn(g->scale[l], p), 0.5f); /* rounded twice, as the CPU does: no fused multiply-add */
#else
    float at = g->scale[l] * p + 0.5f;
#endif
    bool inside = at > -16777216.0f && at < 16777216.0f;
    if (!inside) at = 0.0f;
    float low = floorf(at);
    *corner = (uint32_t)(int32_t)low;
    *fraction = at - low;
    return inside;
}

/* Corner c's (bit 0: x + 1, bit 1: y + 1, bit 2: z + 1) trilinear weight. */
RD_HASHGRID_FN float rd_hashgrid_weight(int c, const float fraction[3])
{
    float w = 1.0f;
    for (int d = 0; d < 3; d++) w *= (c >> d & 1) ? fraction[d] : 1.0f - fraction[d];
    return w;
}

/* d/d(fraction_d) of corner c's weight: the other two axes' factors, signed by the side
   of the cell the corner is on along d (the position gradient's, on every backend). */
RD_HASHGRID_FN float rd_hashgrid_weight_slope(int c, int d, const float fraction[3])
{
    float w = (c >> d & 1) ? 1.0f : -1.0f;
    for (int e = 0; e < 3; e++)
        if (e != d) w *= (c >> e & 1) ? fraction[e] : 1.0f - fraction[e];
    return w;
}

/* features[i * L * F + l * F + f] for n positions (xyz each), on the context's CPU
   threads. */
void rd_hashgrid_forward(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions, int64_t n,
                         float *features);
/* Adds each point's feature gradients, times its corner weights, into grad_params (where
   not NULL), and writes the gradient with respect to each position into grad_positions
   (where not NULL). The table's sums run in point order within each level, so the result
   does not depend on the thread count. */
void rd_hashgrid_backward(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions, int64_t n,
                          const float *grad_features, float *grad_params, float *grad_positions);

/* The same on a CUDA context (built where RD_HAVE_CUDA is): every pointer device memory, the work queued on stream (a
   cudaStream_t; NULL: the context's). The table's gradients are added with float atomics,
   so their last bits vary from run to run. */
rd_result rd_hashgrid_forward_cuda(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions,
                                   int64_t n, float *features, void *stream);
rd_result rd_hashgrid_backward_cuda(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions,
                                    int64_t n, const float *grad_features, float *grad_params, float *grad_positions,
                                    void *stream);

#ifdef __cplusplus
}
#endif
#endif
