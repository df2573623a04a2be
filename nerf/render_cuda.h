/* render_cuda.h: a NeRF scene's frame on CUDA (render_cuda.cu), the same frame as
   render_cpu.h's, the field through the half-precision networks (field.h). The kind keeps
   its device copies of the scene (by its uid) and its frame buffers in its context slot. */
#ifndef RD_NERF_RENDER_CUDA_H
#define RD_NERF_RENDER_CUDA_H

#include "scene.h"

#ifdef __cplusplus
extern "C" {
#endif

rd_result rd_nerf_render_cuda(rd_context *ctx, const rd_nerf_scene *s, const rd_camera *camera, const rd_render_desc *desc,
                              const rd_framebuffer *target, rd_render_stats *stats);
/* The context slot's state (rd_kind_backend.free_state). */
void rd_nerf_cuda_free_state(rd_context *ctx, void *state);

#ifdef __cplusplus
}
#endif
#endif
