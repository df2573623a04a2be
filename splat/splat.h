/* splat.h: what every backend's 3D Gaussian splatting renderer shares: the constants of
   spec/gaussians.md, the projected-Gaussian record and the camera as kernels see it.
   The CPU functions here are the specification the GPU kernels are tested against. */
#ifndef RD_SPLAT_H
#define RD_SPLAT_H

#include "scene.h"

#include <math.h>

#define RD_TILE_SIZE 16
#define RD_DEFAULT_NEAR 0.01f
#define RD_DEFAULT_FAR 1e10f
#define RD_LOW_PASS 0.3f
#define RD_MIN_ALPHA (1.0f / 255.0f)
#define RD_MAX_ALPHA 0.99f
#define RD_MIN_TRANSMITTANCE 1e-4f
#define RD_AA_MIN_RHO 0.005f
#define RD_FRUSTUM_MARGIN 1.3f

/* The camera as the kernels use it. */
typedef struct rd_view_params {
    float rot[9];     /* world-to-camera rotation, row-major */
    float trans[3];
    float centre[3];  /* camera centre in world space */
    float fx, fy, cx, cy;
    float tan_half_fov_x, tan_half_fov_y;
    float near_plane, far_plane;
    int width, height;
    int tiles_x, tiles_y;
    int sh_degree;    /* degree used for colour: min(scene, requested) */
    uint32_t flags;   /* RD_RENDER_* in effect */
    float background[3];
} rd_view_params;

/* One Gaussian after preprocessing. tiles_touched == 0 means culled. */
typedef struct rd_splat2d {
    float u, v;          /* screen mean, pixels */
    float conic[3];      /* inverse 2D covariance: a, b, c of [[a, b], [b, c]] */
    float opacity;       /* sigmoid(logit), times rho in antialiased mode */
    float depth;         /* view-space z */
    float rgb[3];
    int32_t tile_min[2]; /* first tile x, y */
    int32_t tile_max[2]; /* one past the last tile x, y */
    uint32_t tiles_touched;
    uint32_t clamped;    /* bit c: colour channel c was clamped at 0 */
} rd_splat2d;

/* Fills view params from a camera and render settings. */
void rd_view_params_init(rd_view_params *vp, const rd_camera *camera, const rd_render_desc *desc,
                         const rd_scene *scene);

/* Spherical harmonics colour (before +0.5 and clamping) of one Gaussian, direction dir
   (unit), coefficients sh (K*3, RGB inner), evaluated up to degree. */
void rd_sh_to_rgb(int degree, const float *sh, const float dir[3], float rgb[3]);

/* Preprocess of one Gaussian (spec steps 1-7); returns its record, culled or not. */
rd_splat2d rd_splat_preprocess_one(const rd_view_params *vp, const rd_scene *scene, int64_t i);

/* The CPU renderer (splat_cpu.c). */
rd_result rd_splat_render_cpu(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                              const rd_framebuffer *target, rd_render_stats *stats);

#endif
