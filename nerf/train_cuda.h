/* train_cuda.h: the NeRF trainer's step on CUDA (train_cuda.cu), train.c's step on the
   device: the same draws (rays.h), march (occupancy.h's batch march), field (field.h),
   compositing, loss and Adam (train_rules.h), and occupancy updates, one stream, one host
   synchronisation a step (reading how many samples the march kept). train.c keeps the
   schedule (the step, rays a step) and the host copy of the field, downloaded on demand. */
#ifndef RD_NERF_TRAIN_CUDA_H
#define RD_NERF_TRAIN_CUDA_H

#include "scene.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rd_nerf_train_cuda rd_nerf_train_cuda;

typedef struct rd_nerf_train_cuda_desc {
    const rd_nerf_trainer_desc *desc; /* defaults filled in */
    int views;
    const rd_camera *cameras;
    const int *widths, *heights;
    const uint16_t *const *photos;    /* RGBA, value * 65535 */
    const rd_nerf_scene *scene;       /* its layout, placement, initial parameters and grid */
} rd_nerf_train_cuda_desc;

rd_result rd_nerf_train_cuda_create(rd_context *ctx, const rd_nerf_train_cuda_desc *desc, rd_nerf_train_cuda **out);
void rd_nerf_train_cuda_destroy(rd_nerf_train_cuda *t);
/* Step `step` with `rays` rays: *taken the rays with samples, *total their samples. */
rd_result rd_nerf_train_cuda_step(rd_nerf_train_cuda *t, int step, int64_t rays, int64_t *taken, int64_t *total);
/* The sum of the steps' mean losses since the last call (waits for the device). */
rd_result rd_nerf_train_cuda_loss(rd_nerf_train_cuda *t, double *sum);
/* The last step's gradient into host memory (params floats). */
rd_result rd_nerf_train_cuda_gradient(rd_nerf_train_cuda *t, float *out);
/* The saliency mask's live logits (the field's last params - saliency_offset floats) into
   host memory; nothing for a field without a mask. */
rd_result rd_nerf_train_cuda_mask(rd_nerf_train_cuda *t, float *logits);
/* The field's parameters and occupancy grid into the host scene. */
rd_result rd_nerf_train_cuda_download(rd_nerf_train_cuda *t, rd_nerf_scene *scene);

#ifdef __cplusplus
}
#endif
#endif
