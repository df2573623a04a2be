/* train4d.h: the 4D Gaussian trainer behind radiant_train.h's calls, for a trainer whose
   desc has kind RD_SCENE_GAUSSIANS_4D: Yang's 4DGS recipe (spec/dynamic.md, "Training").
   Each step renders `batch` views, each at its own time, and averages their losses
   (L1 + 0.2 D-SSIM, train/loss.h); the backward pass runs through the slice
   (rd_render_backward with rd_gaussian4d_grads); Adam per group, the spatial means'
   rate decaying as 3DGS's and the temporal means' not; spatial SH one degree per 1000
   steps, then the temporal cosine terms one per 1000 (a term not yet active gets no
   update, so its zero coefficients leave the colour as the lower degree's). train4d.c
   runs the step, train4d_density.c the density control, train4d_device.c the step on
   CUDA (its state on the device, brought to the host arrays for density control,
   checkpoints and rd_trainer_scene). */
#ifndef RD_TRAIN4D_H
#define RD_TRAIN4D_H

#include "trainer.h"
#include "scene4d.h"

/* Adam's groups: the spatial means apart from the temporal ones (their rates differ), the
   SH's DC (the constant term's) apart from every other coefficient. */
enum { G4_MEANS, G4_TIME, G4_SCALES, G4_ROTATIONS, G4_OPACITIES, G4_DC, G4_REST, GROUPS4 };
_Static_assert((int)GROUPS4 <= (int)TRAINER_MAX_GROUPS, "trainer_arrays holds every 4D group");

typedef struct train4d_device train4d_device;

typedef struct rd_trainer4d {
    rd_context *ctx;
    rd_trainer_desc desc;
    view_data *views;
    int view_count, *order, order_at;
    rd_rng rng;
    rd_scene4d *scene;
    trainer_arrays a; /* the groups' gradients and moments, the densification statistics */
    float extent, time_min, time_max;
    int iteration, max_degree, max_time_degree, batch;
    step_frame frame;
    train4d_device *device; /* CUDA: the state on the device (train4d_device.c); NULL on the CPU */
    bool host_stale;        /* the device has steps the host arrays have not */
} rd_trainer4d;

rd_result rd_trainer4d_create(rd_context *ctx, const rd_trainer_desc *desc, rd_trainer4d **out);
void rd_trainer4d_destroy(rd_trainer4d *t);
/* steps more steps (rd_trainer_step has checked the count against RD_TRAINER_MAX_STEPS). */
rd_result rd_trainer4d_step(rd_trainer4d *t, int steps, rd_train_stats *stats);

/* Floats per Gaussian in group g. */
int rd_trainer4d_group_width(const rd_trainer4d *t, int g);
/* The groups' arrays for count Gaussians (rd_group_arrays_alloc; free with
   rd_trainer_arrays_free). */
bool rd_trainer4d_arrays_alloc(const rd_trainer4d *t, int64_t count, trainer_arrays *a);

/* The host arrays up to date with the device's state (where it trains there), and the
   device's with the host's after they changed. */
rd_result rd_trainer4d_sync_host(rd_trainer4d *t);
rd_result rd_trainer4d_sync_device(rd_trainer4d *t);

#ifdef RD_HAVE_CUDA
/* train4d_device.c: create uploads the photos (freeing the host copies) and the state. */
rd_result rd_trainer4d_device_create(rd_trainer4d *t);
void rd_trainer4d_device_destroy(rd_trainer4d *t);
rd_result rd_trainer4d_device_upload(rd_trainer4d *t);
rd_result rd_trainer4d_device_download(rd_trainer4d *t);
rd_result rd_trainer4d_device_zero_grads(rd_trainer4d *t);
/* One view of a step into the gradients (colour_terms: the temporal terms trained). */
rd_result rd_trainer4d_device_view(rd_trainer4d *t, int view, const rd_render_desc *desc, int colour_terms);
/* Adam on every group at these rates, the gradients times grad_scale (1 / batch). */
rd_result rd_trainer4d_device_update(rd_trainer4d *t, const float lr[GROUPS4], float grad_scale);
/* The loss summed over the views since the last call, less lambda (0.2) a view. */
rd_result rd_trainer4d_device_loss(rd_trainer4d *t, double *sum);
#endif

/* The density control after step t->iteration (train4d_density.c): every 100 steps from
   500 to 15,000 clone, split (children drawn from N(mu4, Sigma4), all four scales / 1.6)
   and prune (opacity below 0.005; after the first reset, spatial scales over a tenth of
   the extent); opacities reset to at most 0.01 every 3000. */
rd_result rd_trainer4d_control_density(rd_trainer4d *t);
/* Whether it changes anything after step t->iteration. */
bool rd_trainer4d_density_due(const rd_trainer4d *t);

#endif
