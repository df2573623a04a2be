/* train_device.h: the trainer's step on a GPU backend (train_device.c; CUDA for now):
   state kept on the device, moved to and from the trainer's host arrays (trainer.h) only
   where the host works on it (densification, checkpoints, rd_trainer_scene). */
#ifndef RD_TRAIN_DEVICE_H
#define RD_TRAIN_DEVICE_H

#include "trainer.h"

/* Whether the context's backend trains on the device. */
static inline bool rd_train_on_device(const rd_context *ctx)
{
#ifdef RD_HAVE_CUDA
    return ctx->backend == RD_BACKEND_CUDA;
#else
    (void)ctx;
    return false;
#endif
}

#ifdef RD_HAVE_CUDA
/* Uploads the photos (freeing the host copies) and the state. */
rd_result rd_train_device_create(rd_trainer *t);
void rd_train_device_destroy(rd_trainer *t);
/* One step on the view with the desc's degree and background, at the rates given; the
   loss goes into the device's sum (rd_train_device_loss). */
rd_result rd_train_device_step(rd_trainer *t, int view, const rd_render_desc *desc, const float lr[GROUPS]);
/* The loss summed over the steps since the last call, less lambda (0.2) a step. */
rd_result rd_train_device_loss(rd_trainer *t, double *sum);
/* The host arrays from the device's state, and back (the count may have changed). */
rd_result rd_train_device_download(rd_trainer *t);
rd_result rd_train_device_upload(rd_trainer *t);
#else
static inline rd_result rd_train_device_create(rd_trainer *t) { return rd_fail(t->ctx, RD_ERROR_UNSUPPORTED, "no CUDA"); }
static inline void rd_train_device_destroy(rd_trainer *t) { (void)t; }
static inline rd_result rd_train_device_step(rd_trainer *t, int view, const rd_render_desc *desc, const float lr[GROUPS])
{
    (void)view, (void)desc, (void)lr;
    return rd_fail(t->ctx, RD_ERROR_UNSUPPORTED, "no CUDA");
}
static inline rd_result rd_train_device_loss(rd_trainer *t, double *sum) { (void)t, *sum = 0.0; return RD_OK; }
static inline rd_result rd_train_device_download(rd_trainer *t) { (void)t; return RD_OK; }
static inline rd_result rd_train_device_upload(rd_trainer *t) { (void)t; return RD_OK; }
#endif

#endif
