/* scene.h: the Gaussian scene (kind RD_SCENE_GAUSSIANS) all backends render. Host arrays
   are the source of truth and immutable; each GPU context keeps its own device copy of the
   last scene it rendered, recognised by the head's uid, so no two devices share one. */
#ifndef RD_SCENE_H
#define RD_SCENE_H

#include "../renderer/kinds.h"

#include <math.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rd_scene {
    rd_scene_head head; /* kind, uid, and where the arrays live */
    int64_t count;
    int sh_degree;
    uint32_t flags;
    float *means;      /* count*3 */
    float *log_scales; /* count*3 */
    float *rotations;  /* count*4, w x y z */
    float *opacities;  /* count, logit */
    float *sh;         /* count*K*3, coefficient-major, RGB inner */
    char format[32];
    char properties[1024];
    char header[512];  /* the file format's header fields, for `radiant info` */
    bool owns_device;        /* a device scene a loader made (rd_scene_device_alloc): its arrays are */
    rd_context *owner;       /* rd_buffer_alloc buffers, freed with it through the context that made it */
};

/* Whether a public function that takes any rd_scene may read it as Gaussians. */
static inline bool rd_is_gaussians(const rd_scene *s) { return s && s->head.kind == RD_SCENE_GAUSSIANS; }

static inline int rd_sh_coeffs(int degree) { return (degree + 1) * (degree + 1); }

#define RD_SH_C0 0.28209479177387814f

/* opacity: logit <-> linear. The logit clamps to [1e-6, 1 - 1e-6] so that 0 and 255
   bytes stay finite. */
static inline float rd_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline float rd_logit(float p)
{
    p = fminf(fmaxf(p, 1e-6f), 1.0f - 1e-6f);
    return logf(p / (1.0f - p));
}
/* scale: log <-> linear (a zero or negative linear scale becomes a vanishing one) */
static inline float rd_log_scale(float s) { return s > 1e-30f ? logf(s) : logf(1e-30f); }
/* colour: SH DC coefficient <-> the 0..1 colour it gives on its own */
static inline float rd_color_from_dc(float dc) { return 0.5f + RD_SH_C0 * dc; }
static inline float rd_dc_from_color(float c) { return (c - 0.5f) / RD_SH_C0; }


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
/* The bytes such a scene's arrays hold. */
static inline uint64_t rd_scene_bytes(int64_t count, int sh_degree)
{
    return (uint64_t)(count > 0 ? count : 0) * (11u + 3u * (uint64_t)rd_sh_coeffs(sh_degree)) * sizeof(float);
}
/* rd_scene_alloc for a file's reader: refuses (RD_ERROR_LIMIT, naming path) a scene that
   would take more than the decode limit allows a file of file_size bytes. */
rd_result rd_scene_alloc_decoded(rd_context *ctx, const char *path, uint64_t file_size, int64_t count, int sh_degree,
                                 rd_scene **out);
/* A device scene (GPU backends) of count Gaussians whose arrays, contents undefined, are
   rd_buffer_alloc buffers of their own that the scene owns (one each: a single block of
   20M Gaussians of SH degree 3 would pass the 4 GiB some drivers allow a buffer): for
   loaders that fill them there. The scene must be destroyed before ctx. */
rd_result rd_scene_device_alloc(rd_context *ctx, int64_t count, int sh_degree, rd_scene **out);
/* A host scene's copy in device memory of its own (rd_scene_device_alloc), flags kept
   but for the half-precision ones (a device scene's arrays are floats). */
rd_result rd_scene_to_device(rd_context *ctx, const rd_scene *host, rd_scene **out);
/* The kind's destroy (kinds.h): the arrays, when ours, and a backend's device copy. */
void rd_gaussians_destroy(rd_scene *scene);

/* RD_SCENE_HALF_SH: a host scene's SH rows as halves for a GPU's copy, row_halves apart
   (at least a row's 3 * rd_sh_coeffs; the rest zero), converted on the context's threads
   (one thread took 2.1 s of a 6M SH 3 scene's upload on the 2-core machine, two 1.1 s:
   long enough for a GPU to idle down);
   *bytes the buffer's size. NULL where memory runs out; the caller frees it. */
uint16_t *rd_scene_sh_halves(rd_context *ctx, const rd_scene *scene, int row_halves, size_t *bytes);

/* RD_SCENE_HALF_SHAPE: a host scene's rotation (w x y z), log-scales (x y z) and opacity
   logit as eight halves a Gaussian, in that order (16 bytes, one load on a GPU), converted
   as rd_scene_sh_halves does; *bytes the buffer's size. NULL where memory runs out. */
enum { RD_SHAPE_HALF_BYTES = 16 };
uint16_t *rd_scene_shape_halves(rd_context *ctx, const rd_scene *scene, size_t *bytes);

/* What a GPU uploads for a host scene's array k (RD_ARRAY_*): *bytes from *src, the
   scene's floats or, for the arrays the flags keep as halves, halves converted for the
   upload (*converted, which the caller frees; SH rows sh_row_halves apart, see
   rd_scene_sh_halves). The log-scales and opacities of RD_SCENE_HALF_SHAPE take no bytes
   (the rotations' halves hold them). Fails only where memory runs out. */
rd_result rd_scene_upload_source(rd_context *ctx, const rd_scene *scene, int k, int sh_row_halves, const void **src,
                                 size_t *bytes, uint16_t **converted);

#ifdef __cplusplus
}
#endif
#endif
