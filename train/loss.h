/* loss.h: the photometric loss every trainer uses (spec/gaussians.md, "Training"):
   L = (1 - lambda) L1 + lambda (1 - SSIM) over the RGB of a render against a target, and
   its gradient with respect to the render. SSIM here is the training one of the INRIA
   code: an 11x11 Gaussian window (sigma 1.5) with zero padding, averaged over every pixel
   and channel (the evaluation's SSIM, renderer/metrics.c, keeps the valid region). */
#ifndef RD_TRAIN_LOSS_H
#define RD_TRAIN_LOSS_H

#include "../renderer/internal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rd_loss_desc {
    int width, height;
    const float *render; /* width*height*4, RGBA; alpha is not compared */
    const float *target; /* width*height*4 */
    float ssim_weight;   /* lambda; 0.2 in the 3DGS recipe */
} rd_loss_desc;

/* The loss; grad (width*height*4, may be NULL) gets dL/d(render), alpha's left 0.
   scratch: rd_loss_scratch_doubles(width, height) doubles. */
double rd_loss_l1_dssim(const rd_loss_desc *desc, float *grad, double *scratch);
size_t rd_loss_scratch_doubles(int width, int height);

/* The same loss on CUDA (loss_cuda.cu), in single precision, on device arrays, the target
   composited from the photo on the background as it is read. */
typedef struct rd_loss_cuda_desc {
    int width, height;
    const float *render, *photo; /* RGBA, width*height*4 */
    float background[3];
    float ssim_weight;
    float *scratch;              /* rd_loss_cuda_scratch_floats(width, height) */
    void *stream;                /* NULL: the context's */
} rd_loss_cuda_desc;
size_t rd_loss_cuda_scratch_floats(int width, int height);
/* Enqueues the loss: grad (width*height*4) gets dL/d(render), and *loss_sum (device) has
   the loss less lambda added (add lambda per call). Nothing waits. */
rd_result rd_loss_l1_dssim_cuda(rd_context *ctx, const rd_loss_cuda_desc *desc, float *grad, double *loss_sum);

#ifdef __cplusplus
}
#endif
#endif
