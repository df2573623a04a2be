/* volume.h: volume rendering of one ray's samples (spec/nerf.md, "Occupancy grid and ray
   marching"): sample i, at distance t_i with step dt_i, density sigma_i and colour c_i,
   has alpha_i = 1 - exp(-sigma_i dt_i) and weight w_i = T_i alpha_i, T_i the product of
   (1 - alpha_j) before it; the ray's colour is sum w_i c_i + T_end background, its alpha
   1 - T_end and its depth sum w_i t_i (accumulated, as the splat renderer's depth is). The
   march stops after the sample that takes T under 1e-4, and the backward pass walks the
   same samples. The CPU code is the specification; its CUDA form will follow it. */
#ifndef RD_VOLUME_H
#define RD_VOLUME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RD_VOLUME_MIN_TRANSMITTANCE 1e-4f

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

#ifdef __cplusplus
}
#endif
#endif
