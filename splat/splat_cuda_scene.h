/* splat_cuda_scene.h: a 3D Gaussian scene's arrays on the CUDA device for the renderer
   (splat_cuda.cu): a device-memory scene's own arrays, used in place, or the context's copy
   of a host scene's, uploaded when the scene differs from the last one rendered. For .cu
   files only. */
#ifndef RD_SPLAT_CUDA_SCENE_H
#define RD_SPLAT_CUDA_SCENE_H

#include "splat.h"
#include "../renderer/cuda/cuda_internal.h"

/* The last host scene uploaded, recognised by its uid (a context has one device, so no two
   devices share a copy). */
typedef struct scene_copy {
    uint64_t uid;
    rd_cuda_buffer arrays[RD_SCENE_ARRAYS]; /* in rd_scene_array_list's order; RD_SCENE_HALF_SH: the SH as
                                               halves in rows of whole words (splat_cuda_sh.cuh);
                                               RD_SCENE_HALF_SHAPE: the rotations' holds the shape's
                                               halves (rd_scene_shape_halves), and the log-scales'
                                               and opacities' stay empty */
} scene_copy;

/* The arrays a host scene of the inference layout (RD_SCENE_PACKED) keeps as halves on the
   device, NULL where it keeps floats. */
typedef struct half_arrays {
    const unsigned int *sh; /* RD_SCENE_HALF_SH: rows of whole words (splat_cuda_sh.cuh) */
    const uint4 *shape;     /* RD_SCENE_HALF_SHAPE: eight halves a Gaussian (rd_scene_shape_halves) */
} half_arrays;

/* The scene's arrays on the device in *g. A host scene with RD_SCENE_HALF_SH or
   RD_SCENE_HALF_SHAPE has those arrays as halves in *halves and NULL in g (no floats of
   them on the device: rd_render_backward refuses such scenes); every other scene gives
   *halves NULLs. */
rd_result rd_splat_cuda_scene_arrays(rd_context *ctx, scene_copy *copy, const rd_scene *scene, rd_gaussians *g,
                                     half_arrays *halves);
void rd_splat_cuda_scene_release(rd_context *ctx, scene_copy *copy);

#endif
