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
/* The training photos on the device, and one frame's render, loss gradient and scratch
   (the largest view's), shared by the 3D and 4D device steps. */
typedef struct rd_device_views {
    float *photos;     /* every view's RGBA, one after another */
    size_t *photo_at;  /* floats into photos, per view */
    float *frame;      /* render, loss gradient, loss scratch */
    size_t largest;    /* pixels */
    double *loss_sum;  /* less lambda a view (rd_loss_l1_dssim_cuda) */
} rd_device_views;
/* Uploads the views' photos, freeing the host copies (the host step is never taken). */
rd_result rd_device_views_create(rd_context *ctx, view_data *views, int count, rd_device_views *out);
void rd_device_views_free(rd_context *ctx, rd_device_views *v);
/* Renders scene (device memory) at the view into the frame and enqueues its loss against
   the view's photo over desc's background: the loss gradient then waits in the frame. */
rd_result rd_device_views_render_loss(rd_context *ctx, rd_device_views *v, const rd_scene *scene, int view, const rd_camera *camera,
                                      const rd_render_desc *desc);
static inline float *rd_device_views_loss_grad(const rd_device_views *v) { return v->frame + 4 * v->largest; }
/* The loss summed since the last call (less lambda a view), and the sum zeroed. */
rd_result rd_device_views_loss(rd_context *ctx, rd_device_views *v, double *sum);

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
