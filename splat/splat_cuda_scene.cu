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
                                     const unsigned int **sh_half)
{
    *g = rd_scene_gaussians(scene);
    *sh_half = NULL;
    if (scene->head.memory == RD_MEMORY_DEVICE) return RD_OK; /* the caller's arrays, used in place */
    bool half_sh = (scene->flags & RD_SCENE_HALF_SH) != 0; /* rounded already: the halves hold the values exactly */
    if (copy->uid != scene->head.uid) {
        rd_splat_cuda_scene_release(ctx, copy);
        const float *src[RD_SCENE_ARRAYS];
        size_t floats[RD_SCENE_ARRAYS];
        rd_scene_array_list(scene, src, floats);
        rd_result r = RD_OK;
        size_t half_bytes = 0;
        uint16_t *halves = half_sh ? rd_scene_sh_halves(ctx, scene, 2 * sh_half_row_words(scene->sh_degree), &half_bytes) : NULL;
        if (half_sh && !halves) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "scene upload: out of memory for the SH as halves");
        for (int k = 0; k < RD_SCENE_ARRAYS && r == RD_OK; k++) {
            bool as_halves = halves && k == RD_ARRAY_SH;
            size_t bytes = as_halves ? half_bytes : floats[k] * sizeof(float);
            r = rd_cuda_reserve(ctx, &copy->arrays[k], bytes + 4, "scene upload");
            if (r == RD_OK) r = rd_cuda_upload(ctx, &copy->arrays[k], 0, as_halves ? (const void *)halves : src[k], bytes);
        }
        free(halves);
        if (r != RD_OK) {
            rd_splat_cuda_scene_release(ctx, copy);
            return r;
        }
        copy->uid = scene->head.uid;
    }
    const float **fields[RD_SCENE_ARRAYS] = {&g->means, &g->log_scales, &g->rotations, &g->opacities, &g->sh};
    for (int k = 0; k < RD_SCENE_ARRAYS; k++) *fields[k] = (const float *)copy->arrays[k].ptr;
    if (half_sh) {
        *sh_half = (const unsigned int *)copy->arrays[RD_ARRAY_SH].ptr;
        g->sh = NULL;
    }
    return RD_OK;
}
