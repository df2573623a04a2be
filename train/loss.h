/* loss.h: the photometric loss every trainer uses (spec/gaussians.md, "Training"):
   L = (1 - lambda) L1 + lambda (1 - SSIM) over the RGB of a render against a target, and
   its gradient with respect to the render. SSIM here is the training one of the INRIA
   code: an 11x11 Gaussian window (sigma 1.5) with zero padding, averaged over every pixel
   and channel (the evaluation's SSIM, renderer/metrics.c, keeps the valid region). */
#ifndef RD_TRAIN_LOSS_H
#define RD_TRAIN_LOSS_H

#include "../renderer/internal.h"

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

#endif
