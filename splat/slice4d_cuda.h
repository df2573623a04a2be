/* slice4d_cuda.h: a 4D scene's frame and the slice's backward pass on CUDA
   (slice4d_cuda.cu, slice4d_backward_cuda.cu, built where RD_HAVE_CUDA is), and the kind's
   state in the context's slot. A "device view" below is an rd_scene4d whose arrays (means,
   log_scales, rotations, opacities, sh, fixed) are device memory of the context. */
#ifndef RD_SLICE4D_CUDA_H
#define RD_SLICE4D_CUDA_H

#include "scene4d.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The slice at desc->time on desc's stream into the context's device arrays, and the
   device scene over them (*sliced, valid until the next slice in this context): as many
   Gaussians as s, a culled one with a NaN mean (never drawn), in s's order. s's arrays are
   copied to the device and its statics computed there once per scene (its uid); *device
   (may be NULL) gets the device view of them. */
rd_result rd_slice4d_cuda(rd_context *ctx, const rd_scene4d *s, const rd_render_desc *desc, const rd_scene **sliced,
                          const rd_scene4d **device);
rd_result rd_slice4d_render_cuda(rd_context *ctx, const rd_scene4d *s, const rd_camera *camera, const rd_render_desc *desc,
                                 const rd_framebuffer *target, rd_render_stats *stats);
void rd_slice4d_cuda_free_state(rd_context *ctx, void *state);

/* The statics of a device view's Gaussians (rd_slice4d_static_of) into its `fixed`, on
   stream (NULL: the context's). */
rd_result rd_slice4d_statics_cuda(rd_context *ctx, const rd_scene4d *device, void *stream);
/* The slice of a device view at `time` into target (made for its count and degree). */
rd_result rd_slice4d_into_cuda(rd_context *ctx, const rd_scene4d *device, float time, void *stream, const rd_slice4d_target *target);

/* The slice's backward on the device (rd_slice4d_backward_one, a thread a Gaussian): g3,
   the gradients of a device view's slice at `time` (device arrays over device->count
   Gaussians in its order, with covariances and views_seen), added into out's device arrays
   (NULL ones skipped). colour_terms: the temporal colour terms whose gradients are written
   (0: all); the others' are left as they are. */
typedef struct rd_slice4d_backward_desc {
    float time;
    int colour_terms;
    void *stream; /* NULL: the context's */
} rd_slice4d_backward_desc;
rd_result rd_slice4d_backward_cuda(rd_context *ctx, const rd_scene4d *device, const rd_gaussian_grads *g3,
                                   const rd_gaussian4d_grads *out, const rd_slice4d_backward_desc *desc);

/* rd_render_backward of a 4D scene on CUDA: all of it on the device, into the caller's
   device arrays or staged and added into its host arrays. */
rd_result rd_slice4d_backward_render_cuda(rd_context *ctx, const rd_scene4d *s, const rd_camera *camera, const rd_render_desc *desc,
                                          const rd_render_grads *output, const rd_scene_grads *grads, float *w2c_grad);

#ifdef __cplusplus
}
#endif
#endif
