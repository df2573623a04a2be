/* volume.h: volume rendering of one ray's samples (spec/nerf.md, "Occupancy grid and ray
   marching"): sample i, at distance t_i with step dt_i, density sigma_i and colour c_i,
   has alpha_i = 1 - exp(-sigma_i dt_i) and weight w_i = T_i alpha_i, T_i the product of
   (1 - alpha_j) before it; the ray's colour is sum w_i c_i + T_end background, its alpha
   1 - T_end and its depth sum w_i t_i (accumulated, as the splat renderer's depth is). The
   march stops after the sample that takes T under 1e-4, and the backward pass walks the
   same samples.

   The batch forms (rd_volume_composite_rays, rd_volume_backward_rays) run the same
   per-ray code (written once below, RD_VOLUME_FN) over rays packed as
   rd_occupancy_march_rays packs them; their CUDA twins (volume_cuda.cu) run it a thread a
   ray. The CPU code is the specification. */
#ifndef RD_VOLUME_H
#define RD_VOLUME_H

#include "../renderer/internal.h"
#include "occupancy.h"

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RD_VOLUME_MIN_TRANSMITTANCE 1e-4f

#ifdef __CUDACC__
#define RD_VOLUME_FN __host__ __device__ static inline
#else
#define RD_VOLUME_FN static inline
#endif

/* One ray's samples, in order along it. */
typedef struct rd_ray_samples {
    int count;
    const float *t, *dt, *sigma, *rgb; /* count each; rgb: 3 a sample */
} rd_ray_samples;

typedef struct rd_ray_colour {
    float rgb[3], alpha, depth;
    int used; /* samples composited before the march stopped */
} rd_ray_colour;

void rd_volume_composite(const rd_ray_samples *s, const float background[3], rd_ray_colour *out);
/* The gradients of a loss with respect to each used sample's density and colour (set;
   samples past `used` get zero), given its gradients with respect to the ray's colour,
   alpha and depth; `forward` is rd_volume_composite's result for these samples (the
   background's share of the colour comes from there). */
void rd_volume_backward(const rd_ray_samples *s, const rd_ray_colour *forward, const float g_rgb[3],
                        float g_alpha, float g_depth, float *g_sigma, float *g_colour);

/* ---- batches: rays packed as rd_occupancy_march_rays packs them ----
   Ray r's samples are ray_offset[r] .. ray_offset[r] + ray_count[r] - 1 of samples (t, dt:
   the march's output), sigma (one a sample) and rgb (3 a sample). background: 3 floats a
   ray (a training loop draws one per ray), NULL for black. The forward writes each ray's
   rgb (3), alpha, depth and used (as rd_ray_colour's). */
void rd_volume_composite_rays(rd_context *ctx, int64_t rays, const int32_t *ray_offset, const int32_t *ray_count,
                              const rd_march_sample *samples, const float *sigma, const float *rgb, const float *background,
                              float *out_rgb, float *out_alpha, float *out_depth, int32_t *out_used);
/* The backward of each ray (rd_volume_backward), given the forward's outputs (rgb, alpha,
   depth, used) and each ray's gradients g_rgb (3), g_alpha, g_depth (g_alpha and g_depth
   NULL: zero): per-sample g_sigma and g_rgb (3), set for every sample of every ray (zero
   past `used`). */
void rd_volume_backward_rays(rd_context *ctx, int64_t rays, const int32_t *ray_offset, const int32_t *ray_count,
                             const rd_march_sample *samples, const float *sigma, const float *rgb, const float *fwd_rgb,
                             const float *fwd_alpha, const float *fwd_depth, const int32_t *fwd_used, const float *g_rgb,
                             const float *g_alpha, const float *g_depth, float *g_sigma, float *g_colour);

/* The same on CUDA (volume_cuda.cu, built where RD_HAVE_CUDA is): every array device
   memory, a thread a ray, queued on stream (a cudaStream_t; NULL: the context's). */
rd_result rd_volume_composite_rays_cuda(rd_context *ctx, int64_t rays, const int32_t *ray_offset, const int32_t *ray_count,
                                        const rd_march_sample *samples, const float *sigma, const float *rgb,
                                        const float *background, float *out_rgb, float *out_alpha, float *out_depth,
                                        int32_t *out_used, void *stream);
rd_result rd_volume_backward_rays_cuda(rd_context *ctx, int64_t rays, const int32_t *ray_offset, const int32_t *ray_count,
                                       const rd_march_sample *samples, const float *sigma, const float *rgb,
                                       const float *fwd_rgb, const float *fwd_alpha, const float *fwd_depth,
                                       const int32_t *fwd_used, const float *g_rgb, const float *g_alpha,
                                       const float *g_depth, float *g_sigma, float *g_colour, void *stream);

/* ---- one ray, written once for every backend ----
   t and dt are read at stride `step` floats (1: separate arrays; 2: rd_march_sample's). */

RD_VOLUME_FN void rd_volume_composite_ray(int count, const float *t, const float *dt, int step, const float *sigma,
                                          const float *rgb, const float background[3], float out_rgb[3], float *out_alpha,
                                          float *out_depth, int *out_used)
{
    float T = 1.0f, c0 = 0.0f, c1 = 0.0f, c2 = 0.0f, depth = 0.0f;
    int i = 0;
    for (; i < count && T >= RD_VOLUME_MIN_TRANSMITTANCE; i++) {
        float alpha = 1.0f - expf(-sigma[i] * dt[i * step]), w = T * alpha;
        c0 += w * rgb[3 * i], c1 += w * rgb[3 * i + 1], c2 += w * rgb[3 * i + 2];
        depth += w * t[i * step];
        T *= 1.0f - alpha;
    }
    out_rgb[0] = c0 + T * background[0], out_rgb[1] = c1 + T * background[1], out_rgb[2] = c2 + T * background[2];
    *out_alpha = 1.0f - T, *out_depth = depth, *out_used = i;
}

/* How many of a ray's samples rd_volume_composite_ray composites (the same arithmetic, so
   the same count): a training step trains on those alone. */
RD_VOLUME_FN int rd_volume_used_ray(int count, const float *dt, int step, const float *sigma)
{
    float T = 1.0f;
    int i = 0;
    for (; i < count && T >= RD_VOLUME_MIN_TRANSMITTANCE; i++) {
        float alpha = 1.0f - expf(-sigma[i] * dt[i * step]);
        T *= 1.0f - alpha;
    }
    return i;
}

/* d/d(sigma_k dt_k) of the colour: T_(k+1) c_k minus everything after k (the later
   samples' weighted colours and the background's share), which the walk keeps as it goes;
   of the alpha: T_end; of the depth: T_(k+1) t_k minus the later samples' weighted depths. */
RD_VOLUME_FN void rd_volume_backward_ray(int count, const float *t, const float *dt, int step, const float *sigma,
                                         const float *rgb, const float fwd_rgb[3], float fwd_alpha, float fwd_depth,
                                         int fwd_used, const float g_rgb[3], float g_alpha, float g_depth, float *g_sigma,
                                         float *g_colour)
{
    float T_end = 1.0f - fwd_alpha, after[3] = {fwd_rgb[0], fwd_rgb[1], fwd_rgb[2]}, depth_after = fwd_depth, T = 1.0f;
    int i = 0;
    for (; i < fwd_used && i < count; i++) {
        float alpha = 1.0f - expf(-sigma[i] * dt[i * step]), w = T * alpha, T_next = T * (1.0f - alpha);
        float g_tau = g_alpha * T_end;
        for (int c = 0; c < 3; c++) {
            after[c] -= w * rgb[3 * i + c];
            g_tau += g_rgb[c] * (T_next * rgb[3 * i + c] - after[c]);
            g_colour[3 * i + c] = g_rgb[c] * w;
        }
        depth_after -= w * t[i * step];
        g_tau += g_depth * (T_next * t[i * step] - depth_after);
        g_sigma[i] = g_tau * dt[i * step];
        T = T_next;
    }
    for (; i < count; i++) g_sigma[i] = 0.0f, g_colour[3 * i] = g_colour[3 * i + 1] = g_colour[3 * i + 2] = 0.0f;
}

#ifdef __cplusplus
}
#endif
#endif
