/* field.h: the hash-grid NeRF's field (spec/nerf.md, "Network"): a point's hash features
   (hashgrid.h) through the density network (mlp.h, L*F -> 64 -> 16), density =
   exp(output 0) (its argument clamped to +-15 so that it stays finite; the gradient there
   is exp of the clamped argument, as Instant-NGP's, never zero), and the colour
   network (16 density outputs and the direction's 16 SH values, direction.h -> 64 -> 64 ->
   3) through a sigmoid. One parameter array holds the table, then the density network's
   weights, then the colour network's.
   With a saliency mask (HollowNeRF, saliency.h; its R^3 logits follow the colour network's
   weights), a point's hash features f become v = p f, p its keep value, and its density
   exp(output 0) tanh(alpha |v|): where the mask has pruned the features, nothing is left
   to make density from. The CPU code is the specification; CUDA mirrors it. */
#ifndef RD_NERF_FIELD_H
#define RD_NERF_FIELD_H

#include "../hashgrid/hashgrid.h"
#include "mlp.h"
#include "saliency.h"
#include "../renderer/cuda/cuda_backend.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rd_nerf_field_desc {
    rd_hashgrid_desc grid;   /* zero: the spec's */
    int width;               /* the networks' width; 0: 64 */
    int saliency_resolution; /* the saliency mask's R (2..512); 0: no mask */
    float gate_sharpness;    /* the density gate's alpha; 0: 1000 (the spec says only "large") */
} rd_nerf_field_desc;

typedef struct rd_nerf_field {
    rd_hashgrid grid;
    rd_mlp density, colour;
    rd_saliency saliency;    /* resolution 0: none */
    float gate_sharpness;
    int64_t density_offset, colour_offset, saliency_offset, params; /* where each part's parameters start; the count */
} rd_nerf_field;

rd_result rd_nerf_field_make(rd_context *ctx, const rd_nerf_field_desc *desc, rd_nerf_field *out);
/* The table as hashgrid.h initialises it and the networks as mlp.h does, from seed; the
   mask's logits 1 (HollowNeRF's ones). */
void rd_nerf_field_init(const rd_nerf_field *f, uint64_t seed, float *params);

/* What the forward pass keeps for the backward pass, for up to `capacity` points. */
typedef struct rd_nerf_field_scratch {
    int64_t capacity;
    float *features, *density_hidden, *density_out, *colour_in, *colour_hidden, *colour_out;
    float *hash_features, *keep; /* with a mask: the features before it, and its keep values */
} rd_nerf_field_scratch;
rd_result rd_nerf_field_scratch_alloc(rd_context *ctx, const rd_nerf_field *f, int64_t capacity, rd_nerf_field_scratch *out);
void rd_nerf_field_scratch_free(rd_nerf_field_scratch *s);

/* sigma[i] and rgb[3i..] at n points (unit directions dirs); n at most the scratch's capacity. */
void rd_nerf_field_forward(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, const float *dirs,
                           int64_t n, rd_nerf_field_scratch *scratch, float *sigma, float *rgb);
/* The density alone at n points (the occupancy grid's update), through the same scratch. */
void rd_nerf_field_density(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, int64_t n,
                           rd_nerf_field_scratch *scratch, float *sigma);
/* Adds into grad_params the gradient of sum(g_sigma * sigma + g_rgb . rgb), after the
   forward pass of the same points into the same scratch. */
rd_result rd_nerf_field_backward(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, int64_t n,
                                 rd_nerf_field_scratch *scratch, const float *g_sigma, const float *g_rgb, float *grad_params);

/* ---- the same on CUDA (field_cuda.cu, built where RD_HAVE_CUDA is) ----
   The hash encoding's kernels (hashgrid_cuda.cu), the fused half-precision networks
   (mlp_cuda.cu) and the activations between them; every array device memory, the work
   queued on stream (NULL: the context's). The scratch grows to the largest n asked, and is
   sized afresh for a field of other networks. The mask's logits take their gradient with
   float atomics, as the table's entries do. */
typedef struct rd_nerf_field_scratch_cuda {
    int64_t capacity;           /* points, for networks of the shapes below */
    rd_mlp density, colour;     /* the networks it was sized for: another field's re-sizes it */
    rd_cuda_buffer features, density_out, colour_in, colour_out, density_act, colour_act;
    rd_cuda_buffer g_features, g_density_out, g_colour_in, g_colour_out;
    rd_cuda_buffer hash_features, keep, gate; /* with a mask: the features before it, its keep values, the density gate */
    rd_cuda_buffer g_keep;                    /* with a mask: the keep values' gradient through the sigmoid */
} rd_nerf_field_scratch_cuda;
rd_result rd_nerf_field_scratch_cuda_reserve(rd_context *ctx, const rd_nerf_field *f, int64_t n, rd_nerf_field_scratch_cuda *s);
void rd_nerf_field_scratch_cuda_free(rd_context *ctx, rd_nerf_field_scratch_cuda *s);
rd_result rd_nerf_field_forward_cuda(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions,
                                     const float *dirs, int64_t n, rd_nerf_field_scratch_cuda *scratch, float *sigma, float *rgb,
                                     void *stream);
rd_result rd_nerf_field_density_cuda(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, int64_t n,
                                     rd_nerf_field_scratch_cuda *scratch, float *sigma, void *stream);
rd_result rd_nerf_field_backward_cuda(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions,
                                      int64_t n, rd_nerf_field_scratch_cuda *scratch, const float *g_sigma, const float *g_rgb,
                                      float *grad_params, void *stream);

#ifdef __cplusplus
}
#endif
#endif
