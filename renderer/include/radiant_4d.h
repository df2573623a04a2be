/* radiant_4d.h: 4D (XYZT) Gaussian scenes (kind RD_SCENE_GAUSSIANS_4D; included by
   radiant.h), Yang et al.'s 4DGS (spec/dynamic.md). Each Gaussian has a 4D mean
   (x, y, z, t), four log-scales, two quaternions q_l and q_r that make its 4D rotation,
   a logit opacity, and "spherindrical" harmonic colour: spatial SH of degree 0..3 for
   each of 1..3 temporal cosine terms.

   rd_render draws a 4D scene at rd_render_desc.time: each Gaussian is sliced at that time
   into a 3D Gaussian (its conditional mean and covariance, its opacity times the temporal
   weight p(t) = exp(-(t - mu_t)^2 / (2 W)), its colour's cosine terms folded into plain
   SH) and the 3D renderer draws those; Gaussians whose p(t) is at most 0.05 are culled
   first. What does not depend on time (the conditional covariance, the velocity V/W, W)
   is computed once per scene. The colour's view direction is the sliced mean's (the
   Python path of Yang's code; its CUDA renderer takes the unsliced mean).

     rd_scene *scene;
     rd_scene4d_create(ctx, &(rd_scene4d_desc){.count = n, .sh_degree = 3, .time_degree = 2,
                                              .means = xyzt, .log_scales = s4, .rotations = q8,
                                              .opacities = o, .sh = c}, &scene);
     rd_render(ctx, scene, &camera, &(rd_render_desc){.time = 0.5f}, &framebuffer);

   The CPU is the specification; CUDA and Vulkan slice on the device into device arrays and
   draw them with their 3D renderer (splat/slice4d_cuda.cu, splat/slice4d_vk.c). */
#ifndef RADIANT_4D_H
#define RADIANT_4D_H

#include "radiant_core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { RD_4D_MAX_TIME_DEGREE = 2 };

/* A 4D scene from the caller's arrays (host or device memory). */
typedef struct rd_scene4d_desc {
    int64_t count;
    int sh_degree;            /* spatial, 0..3 */
    int time_degree;          /* temporal cosine terms beyond the constant one, 0..2 (Yang: 2) */
    float time_period;        /* T of cos(2 pi n (mu_t - t) / T): the time range's length; 0: 1 */
    const float *means;       /* count*4: x y z t */
    const float *log_scales;  /* count*4: x y z t */
    const float *rotations;   /* count*8: q_l then q_r, each w x y z (normalised when used) */
    const float *opacities;   /* count, logit */
    const float *sh;          /* count*(time_degree+1)*(sh_degree+1)^2*3: per Gaussian the temporal
                                 terms n = 0.., in each the SH coefficients, RGB inner */
    rd_memory memory;         /* DEVICE: the context's device memory (CUDA, Vulkan); read once, like host arrays */
} rd_scene4d_desc;
/* The scene is a copy: the caller's arrays may change or go afterwards. */
rd_result rd_scene4d_create(rd_context *ctx, const rd_scene4d_desc *desc, rd_scene **out);
/* The stored arrays (host), laid out as in rd_scene4d_desc; zero for another kind. (A
   compact file's scene with appearance networks renders the networks' colour and opacity,
   not these arrays'.) */
rd_scene4d_desc rd_scene4d_arrays(const rd_scene *scene);

/* Gradients with respect to a 4D scene's stored parameters (rd_scene_grads.params for
   kind RD_SCENE_GAUSSIANS_4D), laid out as rd_scene4d_desc's arrays; rd_render_backward
   adds into each array given at the view's time, NULL arrays are skipped. Through the
   slice: the conditional mean, covariance and opacity and the folded colour. Gaussians
   culled at that time get nothing. CPU and CUDA (there the slice's own backward runs on
   the host, after the 3D backward on the device: host arrays only). */
typedef struct rd_gaussian4d_grads {
    float *means, *log_scales, *rotations, *opacities, *sh;
    float *mean2d_norm;   /* count: as rd_gaussian_grads' (adaptive density control's statistic) */
    uint32_t *views_seen; /* count: += 1 per view that sees the Gaussian */
} rd_gaussian4d_grads;

typedef struct rd_scene4d_info {
    int64_t count;
    int sh_degree, time_degree;
    float time_period;
    float time_min, time_max;           /* of the finite temporal means */
    float bounds_min[3], bounds_max[3]; /* of the finite spatial means */
} rd_scene4d_info;
/* RD_ERROR_INVALID_ARGUMENT for a scene of another kind. */
rd_result rd_scene4d_get_info(rd_context *ctx, const rd_scene *scene, rd_scene4d_info *out);

/* The 3D scene (host memory, any context renders or saves it) of a 4D scene at `time`:
   each Gaussian's conditional at that time, as the renderers slice it, those whose temporal
   weight is at or below the cull threshold left out. Destroy with rd_scene_destroy. */
rd_result rd_scene4d_slice(rd_context *ctx, const rd_scene *scene, float time, rd_scene **out);

/* Duan et al.'s rotor (s, b_xy, b_xz, b_yz, b_xw, b_yw, b_zw, p) as Yang's quaternion pair
   (spec/dynamic.md, "4D-Rotor GS"). RD_ERROR_INVALID_ARGUMENT, saying which, where the
   rotor is not of unit length or breaks the rotor constraint
   s p - b_xy b_zw + b_xz b_yw - b_xw b_yz = 0, each beyond tolerance (relative 1e-3):
   reported, not silently renormalised. */
rd_result rd_rotor_to_quaternions(rd_context *ctx, const float rotor[8], float q_l[4], float q_r[4]);

#ifdef __cplusplus
}
#endif
#endif
