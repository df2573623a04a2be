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
                                               halves in rows of whole words (splat_cuda_sh.cuh) */
} scene_copy;

/* The scene's arrays on the device in *g. A host scene with RD_SCENE_HALF_SH has its SH as
   halves at *sh_half and g->sh NULL (no floats of them on the device: rd_render_backward
   refuses such scenes); every other scene gives *sh_half NULL. */
rd_result rd_splat_cuda_scene_arrays(rd_context *ctx, scene_copy *copy, const rd_scene *scene, rd_gaussians *g,
                                     const unsigned int **sh_half);
void rd_splat_cuda_scene_release(rd_context *ctx, scene_copy *copy);

#endif
