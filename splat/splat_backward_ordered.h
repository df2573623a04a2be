/* splat_backward_ordered.h: step 1 of the CUDA backward pass with its sums in a fixed
   order (RD_RENDER_DETERMINISTIC; splat_backward_ordered.cu). For .cu files only, after
   splat_cuda_frame.cuh. */
#ifndef RD_SPLAT_BACKWARD_ORDERED_H
#define RD_SPLAT_BACKWARD_ORDERED_H

#include "splat_grad.h"

/* Writes (not adds) each Gaussian's 2D gradients over the saved frame's pixels into
   grads2d, enqueued on st. */
rd_result rd_splat_backward_ordered(rd_context *ctx, const rd_view_params *vp, const splat_saved_frame *fr, const float *g_color,
                                    const float *g_depth, rd_splat2d_grad *grads2d, cudaStream_t st);

#endif
