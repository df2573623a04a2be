/* slice4d_cuda.h: a 4D scene's frame on CUDA (slice4d_cuda.cu, built where RD_HAVE_CUDA
   is), and the kind's state in the context's slot. */
#ifndef RD_SLICE4D_CUDA_H
#define RD_SLICE4D_CUDA_H

#include "scene4d.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The slice at desc->time on desc's stream into the context's device arrays, and the
   device scene over them (*sliced, valid until the next slice in this context): as many
   Gaussians as s, a culled one with a NaN mean (never drawn), in s's order. */
rd_result rd_slice4d_cuda(rd_context *ctx, const rd_scene4d *s, const rd_render_desc *desc, const rd_scene **sliced);
rd_result rd_slice4d_render_cuda(rd_context *ctx, const rd_scene4d *s, const rd_camera *camera, const rd_render_desc *desc,
                                 const rd_framebuffer *target, rd_render_stats *stats);
void rd_slice4d_cuda_free_state(rd_context *ctx, void *state);

#ifdef __cplusplus
}
#endif
#endif
