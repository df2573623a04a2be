/* radiant_splats.h: 3D Gaussian scenes (kind RD_SCENE_GAUSSIANS; included by radiant.h):
   made from the caller's arrays (host or device memory) or the built-in demo, their info
   and arrays, and orbit cameras around them. Files: radiant_datasets.h. */
#ifndef RADIANT_SPLATS_H
#define RADIANT_SPLATS_H

#include "radiant_core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    RD_SCENE_ANTIALIASED = 1u << 0, /* trained with the Mip-Splatting 2D filter */
    RD_SCENE_HALF_SH = 1u << 1,     /* for rendering only: SH coefficients rounded to half precision
                                       (rd_scene_use_half_sh), which the GPUs keep and read as halves */
    RD_SCENE_HALF_SHAPE = 1u << 2,  /* for rendering only: rotations, log-scales and opacity logits
                                       rounded to half precision (rd_scene_use_packed), which the GPUs
                                       keep as 16 bytes a Gaussian */
    RD_SCENE_PACKED = RD_SCENE_HALF_SH | RD_SCENE_HALF_SHAPE, /* the inference layout, both */
};

/* Gaussians from the caller's arrays: host arrays are copied; device arrays (GPU backends)
   are used in place and must outlive the scene. A device scene has no host copy: its
   info has no bounds, and saving or orbiting it fails. */
typedef struct rd_scene_desc {
    int64_t count;
    int sh_degree;            /* 0..3 */
    const float *means;       /* count*3 */
    const float *log_scales;  /* count*3 */
    const float *rotations;   /* count*4, w x y z */
    const float *opacities;   /* count, logit */
    const float *sh;          /* count*(sh_degree+1)^2*3, coefficient-major, RGB inner */
    rd_memory memory;         /* device arrays: at 16-byte-aligned addresses for the host arrays'
                                 bits (NVIDIA's Vulkan rounds 4-byte-aligned ones up to 1 ulp apart) */
    uint32_t flags;           /* RD_SCENE_* */
} rd_scene_desc;

typedef struct rd_scene_info {
    int64_t count;
    int sh_degree;
    uint32_t flags;
    float bounds_min[3], bounds_max[3]; /* of the finite means */
    char format[32];                    /* "inria-ply", "compressed-ply", "spz", "splat", "ksplat",
                                           "procedural", "arrays" */
    char properties[1024];              /* file properties found, space separated */
    char header[512];                   /* the file format's header fields, one line */
} rd_scene_info;

rd_result rd_scene_create(rd_context *ctx, const rd_scene_desc *desc, rd_scene **out);

/* The inference layout's first part (issue 35): a host scene that is only rendered rounds
   its SH coefficients to the nearest half-precision value (ties to even; beyond 65504 to
   infinity, as the conversion does) and takes RD_SCENE_HALF_SH, so that every backend
   renders the same rounded values and a GPU may keep them in half the bytes: CUDA and Vulkan
   upload and read them as halves, half of what a frame's preprocess reads at SH degree 3.
   Images stay at least 50 dB from the scene's own (test_half_sh). Not for scenes being
   trained (rd_render_backward refuses them), nor device arrays. rd_scene_create does the same for a desc with the flag. */
rd_result rd_scene_use_half_sh(rd_context *ctx, rd_scene *scene);

/* The whole inference layout (RD_SCENE_PACKED): rd_scene_use_half_sh, and the rotations,
   log-scales and opacity logits rounded the same way (RD_SCENE_HALF_SHAPE), which CUDA and
   Vulkan then keep as eight halves (16 bytes) a Gaussian where the floats take 32. With
   half SH a Gaussian's upload at SH degree 3 is 124 bytes where the floats take 236.
   Positions stay single precision: half-precision offsets from a per-block origin moved
   the demo scene's Gaussians (stored in no spatial order) far enough to take its images
   to 48.6 dB. Images stay at least 50 dB from the scene's own (test_half_sh: about 80 dB
   on the demo scene and the donut, 91 on biker). The same conditions as
   rd_scene_use_half_sh; rd_scene_create does the same for a desc with either flag. */
rd_result rd_scene_use_packed(rd_context *ctx, rd_scene *scene);

/* Gradients with respect to a Gaussian scene's stored parameters, laid out as
   rd_scene_desc's arrays (rd_scene_grads.params for Gaussians); rd_render_backward adds
   into each array given, NULL arrays are skipped. */
typedef struct rd_gaussian_grads {
    float *means, *log_scales, *rotations, *opacities, *sh;
    float *mean2d_norm;     /* count: += |dL/d(u, v)| with u, v in normalised device coordinates (the
                               pixel gradient times width/2 and height/2), once per view that sees
                               the Gaussian: adaptive density control's statistic */
    uint32_t *views_seen;   /* count: += 1 per view that sees the Gaussian */
    float *covariances;     /* count*6: += dL/dSigma, the world-space covariance R S^2 R^T, as entries
                               xx xy xz yy yz zz of the full matrix (an off-diagonal entry and its
                               mirror each have this derivative): for fields that make their own
                               covariances (4D Gaussians) */
} rd_gaussian_grads;
void rd_scene_get_info(const rd_scene *scene, rd_scene_info *out);
/* The stored arrays (layout as in rd_scene_desc; .memory says where they live). */
rd_scene_desc rd_scene_arrays(const rd_scene *scene);

/* The built-in procedural scene: a textured, view-dependent object on a ground plane. */
typedef struct rd_demo_desc {
    int64_t count; /* 0: 300000 */
    uint64_t seed; /* 0: the default seed; the scene is a pure function of count and seed */
} rd_demo_desc;
rd_result rd_scene_create_demo(rd_context *ctx, const rd_demo_desc *desc, rd_scene **out);
/* The scene's up direction, as well as it can be told from the data: +z where the scene
   is much flatter along z than across x and y (Blender's and OpenGL z-up worlds: objects
   on a plane, landscapes), else -y (COLMAP's and OpenCV's y-down world, which most
   trained scenes keep). The demo scene is z-up. */
void rd_scene_up(const rd_scene *scene, float up[3]);
/* An axis by name, as the programs' --up takes it: "x", "y", "z", "-x", "-y", "-z" ("+z"
   too) into up; RD_ERROR_INVALID_ARGUMENT (up untouched) for anything else. */
rd_result rd_axis_from_name(const char *name, float up[3]);
/* Cameras on a ring around the scene's main content, looking at its centre, above it
   along up. */
typedef struct rd_orbit_desc {
    int count, width, height;
    float up[3]; /* zero: rd_scene_up's */
} rd_orbit_desc;
rd_result rd_scene_orbit(const rd_scene *scene, const rd_orbit_desc *desc, rd_camera *out);
/* rd_scene_orbit with the detected up. */
rd_result rd_scene_orbit_cameras(const rd_scene *scene, int n, int width, int height,
                                 rd_camera *out);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_SPLATS_H */
