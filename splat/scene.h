/* scene.h: the scene object all backends render. Host arrays are the source of truth;
   GPU backends attach their own copies through backend_cache. */
#ifndef RD_SCENE_H
#define RD_SCENE_H

#include "../renderer/internal.h"

#ifdef __cplusplus
extern "C" {
#endif

struct rd_scene {
    uint64_t uid;      /* unique in the process: what a backend's cache recognises */
    int64_t count;
    int sh_degree;
    uint32_t flags;
    rd_memory memory;  /* DEVICE: the arrays are the caller's device memory, not ours */
    float *means;      /* count*3 */
    float *log_scales; /* count*3 */
    float *rotations;  /* count*4, w x y z */
    float *opacities;  /* count, logit */
    float *sh;         /* count*K*3, coefficient-major, RGB inner */
    char format[32];
    char properties[1024];
    char header[512];  /* the file format's header fields, for `radiant info` */
    /* a GPU backend's copy of the arrays, made on first render and freed with the scene */
    void *device_copy;
    void (*device_copy_free)(void *device_copy);
};

static inline int rd_sh_coeffs(int degree) { return (degree + 1) * (degree + 1); }

/* The five Gaussian arrays in a fixed order, with the floats each holds: what a GPU
   backend copies to its device. */
enum { RD_ARRAY_MEANS, RD_ARRAY_LOG_SCALES, RD_ARRAY_ROTATIONS, RD_ARRAY_OPACITIES, RD_ARRAY_SH, RD_SCENE_ARRAYS };
static inline void rd_scene_array_list(const rd_scene *s, const float *arrays[RD_SCENE_ARRAYS], size_t floats[RD_SCENE_ARRAYS])
{
    size_t n = (size_t)s->count, K = (size_t)rd_sh_coeffs(s->sh_degree);
    arrays[RD_ARRAY_MEANS] = s->means, floats[RD_ARRAY_MEANS] = 3 * n;
    arrays[RD_ARRAY_LOG_SCALES] = s->log_scales, floats[RD_ARRAY_LOG_SCALES] = 3 * n;
    arrays[RD_ARRAY_ROTATIONS] = s->rotations, floats[RD_ARRAY_ROTATIONS] = 4 * n;
    arrays[RD_ARRAY_OPACITIES] = s->opacities, floats[RD_ARRAY_OPACITIES] = n;
    arrays[RD_ARRAY_SH] = s->sh, floats[RD_ARRAY_SH] = 3 * K * n;
}

/* Copies the desc's host arrays into a new scene (no validation of values: renderers cull
   non-finite Gaussians). */
rd_result rd_scene_from_arrays(rd_context *ctx, const rd_scene_desc *desc, rd_scene **out);
/* The same, keeping SH degrees 0..sh_degree only (for writers asked for less). */
rd_result rd_scene_copy_arrays(rd_context *ctx, const rd_scene_desc *desc, int sh_degree, rd_scene **out);
/* A scene with arrays allocated for count Gaussians, to be filled by a loader. */
rd_result rd_scene_alloc(rd_context *ctx, int64_t count, int sh_degree, rd_scene **out);

#ifdef __cplusplus
}
#endif
#endif
