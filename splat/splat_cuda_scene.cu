/* splat_cuda_scene.cu: a 3D Gaussian scene's arrays on the CUDA device (splat_cuda_scene.h). */
#include "splat_cuda_scene.h"
#include "splat_cuda_sh.cuh"

#include <stdlib.h>

void rd_splat_cuda_scene_release(rd_context *ctx, scene_copy *copy)
{
    for (rd_cuda_buffer &b : copy->arrays) rd_cuda_release(ctx, &b);
    copy->uid = 0;
}

rd_result rd_splat_cuda_scene_arrays(rd_context *ctx, scene_copy *copy, const rd_scene *scene, rd_gaussians *g,
                                     half_arrays *halves)
{
    *g = rd_scene_gaussians(scene);
    *halves = half_arrays{NULL, NULL};
    if (scene->head.memory == RD_MEMORY_DEVICE) return RD_OK; /* the caller's arrays, used in place */
    if (copy->uid != scene->head.uid) {
        rd_splat_cuda_scene_release(ctx, copy);
        rd_result r = RD_OK;
        for (int k = 0; k < RD_SCENE_ARRAYS && r == RD_OK; k++) {
            const void *from;
            size_t bytes;
            uint16_t *converted;
            r = rd_scene_upload_source(ctx, scene, k, 2 * sh_half_row_words(scene->sh_degree), &from, &bytes, &converted);
            if (r == RD_OK) r = rd_cuda_reserve(ctx, &copy->arrays[k], bytes + 4, "scene upload"); /* + 4: the last half's word */
            if (r == RD_OK && bytes > 0) r = rd_cuda_upload(ctx, &copy->arrays[k], 0, from, bytes);
            free(converted);
        }
        if (r != RD_OK) {
            rd_splat_cuda_scene_release(ctx, copy);
            return r;
        }
        copy->uid = scene->head.uid;
    }
    const float **fields[RD_SCENE_ARRAYS] = {&g->means, &g->log_scales, &g->rotations, &g->opacities, &g->sh};
    for (int k = 0; k < RD_SCENE_ARRAYS; k++) *fields[k] = (const float *)copy->arrays[k].ptr;
    if (scene->flags & RD_SCENE_HALF_SH) { /* rounded already: the halves hold the values exactly */
        halves->sh = (const unsigned int *)copy->arrays[RD_ARRAY_SH].ptr;
        g->sh = NULL;
    }
    if (scene->flags & RD_SCENE_HALF_SHAPE) {
        halves->shape = (const uint4 *)copy->arrays[RD_ARRAY_ROTATIONS].ptr;
        g->rotations = g->log_scales = g->opacities = NULL;
    }
    return RD_OK;
}
