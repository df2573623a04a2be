/* train4d_device.c: the 4D trainer's step on CUDA (train4d.h). As train_device.c for 3D
   scenes: the parameters, gradients, moments, densification statistics and photos live on
   the device; a step slices the scene at each of its views' times (slice4d_cuda.h), renders
   and takes the loss there, runs the 3D backward into the slice's gradients and the slice's
   backward into the 4D ones, and updates with fused Adam, then computes the statics again.
   The host arrays (t->scene, t->a) are the device's state only after
   rd_trainer4d_device_download; density control and checkpoints work on them and upload. */
#include "train4d.h"

#ifdef RD_HAVE_CUDA
#include "slice4d_cuda.h"
#include "train_device.h"
#include "../renderer/cuda/cuda_backend.h"
#include "../train/adam.h"

#include <stdlib.h>
#include <string.h>

/* The stored arrays per Gaussian: means (4), log-scales (4), rotations (8), opacities, SH. */
enum { PARAMS4 = 5 };

struct train4d_device {
    float *block;                   /* one allocation for everything per Gaussian below */
    int64_t capacity;
    float *params[PARAMS4], *grads[PARAMS4];
    float *m[GROUPS4], *v[GROUPS4];
    float *grad_norm;
    uint32_t *views_seen;
    rd_slice4d_static *fixed;
    float *g3;                      /* one view's slice's gradients: means, covariances, opacities, SH, norms, seen */
    rd_scene4d view;                /* the device view of params and fixed */
    rd_slice4d_target target;       /* the slice, and the device scene over it */
    rd_device_views views;
};

static void param_widths(const rd_trainer4d *t, size_t w[PARAMS4])
{
    size_t widths[PARAMS4] = {4, 4, 8, 1, (size_t)rd_scene4d_sh_floats(t->max_degree, t->max_time_degree)};
    memcpy(w, widths, sizeof widths);
}

static size_t floats_per_gaussian(const rd_trainer4d *t)
{
    size_t widths[PARAMS4], total = 2 + sizeof(rd_slice4d_static) / sizeof(float) + rd_slice_grads_floats(t->max_degree);
    param_widths(t, widths);
    for (int k = 0; k < PARAMS4; k++) total += 2 * widths[k];
    for (int g = 0; g < GROUPS4; g++) total += 2 * (size_t)rd_trainer4d_group_width(t, g);
    return total;
}

/* The arrays for count Gaussians (grown only when needed), the device view and the slice's
   room. */
static rd_result reserve(rd_trainer4d *t, int64_t count)
{
    train4d_device *d = t->device;
    if (count > d->capacity || !d->block) {
        rd_buffer_free(t->ctx, d->block);
        d->block = NULL, d->capacity = 0;
        int64_t want = count + count / 8 + 1024; /* densification grows it step by step */
        rd_memory memory;
        rd_result r = rd_buffer_alloc(t->ctx, (size_t)want * floats_per_gaussian(t) * sizeof(float), (void **)&d->block, &memory);
        if (r != RD_OK) return r;
        d->capacity = want;
    }
    size_t widths[PARAMS4], n = (size_t)d->capacity;
    param_widths(t, widths);
    float *at = d->block;
    for (int k = 0; k < PARAMS4; k++) d->params[k] = at, at += widths[k] * n;
    for (int k = 0; k < PARAMS4; k++) d->grads[k] = at, at += widths[k] * n;
    for (int g = 0; g < GROUPS4; g++) {
        size_t w = (size_t)rd_trainer4d_group_width(t, g);
        d->m[g] = at, at += w * n;
        d->v[g] = at, at += w * n;
    }
    d->grad_norm = at, at += n;
    d->views_seen = (uint32_t *)at, at += n;
    d->fixed = (rd_slice4d_static *)at, at += n * (sizeof(rd_slice4d_static) / sizeof(float));
    d->g3 = at;
    d->view = *t->scene;
    d->view.count = count;
    d->view.means = d->params[0], d->view.log_scales = d->params[1], d->view.rotations = d->params[2];
    d->view.opacities = d->params[3], d->view.sh = d->params[4], d->view.fixed = d->fixed;
    return rd_slice4d_target_make(t->ctx, &d->view, &d->target);
}

/* Pairs of (host, device) arrays of the state that moves, with their lengths in floats. */
enum { MOVED4 = PARAMS4 + 2 * GROUPS4 + 2 };
static void moved_arrays(rd_trainer4d *t, void *host[MOVED4], void *device[MOVED4], size_t floats[MOVED4])
{
    train4d_device *d = t->device;
    rd_scene4d *s = t->scene;
    size_t widths[PARAMS4], n = (size_t)s->count;
    param_widths(t, widths);
    float *params[PARAMS4] = {s->means, s->log_scales, s->rotations, s->opacities, s->sh};
    int k = 0;
    for (int p = 0; p < PARAMS4; p++, k++) host[k] = params[p], device[k] = d->params[p], floats[k] = widths[p] * n;
    for (int g = 0; g < GROUPS4; g++, k++) host[k] = t->a.m[g], device[k] = d->m[g], floats[k] = t->a.sizes[g];
    for (int g = 0; g < GROUPS4; g++, k++) host[k] = t->a.v[g], device[k] = d->v[g], floats[k] = t->a.sizes[g];
    host[k] = t->a.grad_norm, device[k] = d->grad_norm, floats[k++] = n;
    host[k] = t->a.views_seen, device[k] = d->views_seen, floats[k++] = n;
}

rd_result rd_trainer4d_device_upload(rd_trainer4d *t)
{
    rd_result r = reserve(t, t->scene->count);
    void *host[MOVED4], *device[MOVED4];
    size_t floats[MOVED4];
    if (r == RD_OK) moved_arrays(t, host, device, floats);
    for (int k = 0; k < MOVED4 && r == RD_OK; k++)
        if (floats[k]) r = rd_buffer_copy(t->ctx, device[k], RD_MEMORY_DEVICE, host[k], RD_MEMORY_HOST, floats[k] * sizeof(float));
    if (r == RD_OK) r = rd_slice4d_statics_cuda(t->ctx, &t->device->view, NULL);
    return r;
}

rd_result rd_trainer4d_device_download(rd_trainer4d *t)
{
    void *host[MOVED4], *device[MOVED4];
    size_t floats[MOVED4];
    moved_arrays(t, host, device, floats);
    rd_result r = RD_OK;
    for (int k = 0; k < MOVED4 && r == RD_OK; k++)
        if (floats[k]) r = rd_buffer_copy(t->ctx, host[k], RD_MEMORY_HOST, device[k], RD_MEMORY_DEVICE, floats[k] * sizeof(float));
    if (r == RD_OK) rd_scene4d_refresh(t->ctx, t->scene); /* its statics, and a new uid: caches must not match */
    return r;
}

void rd_trainer4d_device_destroy(rd_trainer4d *t)
{
    train4d_device *d = t->device;
    if (!d) return;
    rd_slice4d_target_free(t->ctx, &d->target);
    rd_buffer_free(t->ctx, d->block);
    rd_device_views_free(t->ctx, &d->views);
    free(d);
    t->device = NULL;
}

rd_result rd_trainer4d_device_create(rd_trainer4d *t)
{
    if (!(t->device = calloc(1, sizeof *t->device))) return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory");
    rd_result r = rd_device_views_create(t->ctx, t->views, t->view_count, &t->device->views);
    return r == RD_OK ? rd_trainer4d_device_upload(t) : r;
}

/* One view into the step's gradients: the slice at its time, the render and loss, the 3D
   backward into the slice's gradients, the slice's backward into the 4D ones (added). */
rd_result rd_trainer4d_device_view(rd_trainer4d *t, int view, const rd_render_desc *desc, int colour_terms)
{
    train4d_device *d = t->device;
    const rd_camera *cam = &t->views[view].camera;
    size_t n = (size_t)t->scene->count;
    rd_render_desc keep = *desc; /* the backward pass takes the frame as rendered */
    keep.flags |= RD_RENDER_FOR_BACKWARD;
    rd_result r = rd_slice4d_into_cuda(t->ctx, &d->view, desc->time, NULL, &d->target);
    if (r == RD_OK) r = rd_device_views_render_loss(t->ctx, &d->views, d->target.scene, view, cam, &keep);
    if (r == RD_OK) r = rd_cuda_zero(t->ctx, d->g3, n * rd_slice_grads_floats(t->max_degree) * sizeof(float), NULL);
    rd_gaussian_grads g3 = rd_slice_grads_over(d->g3, n, t->max_degree);
    if (r == RD_OK)
        r = rd_render_backward(t->ctx, d->target.scene, 1, cam, &keep,
                               &(rd_render_grads){rd_device_views_loss_grad(&d->views), NULL, RD_MEMORY_DEVICE},
                               &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g3, NULL, RD_MEMORY_DEVICE});
    rd_gaussian4d_grads out = {d->grads[0], d->grads[1], d->grads[2], d->grads[3], d->grads[4], d->grad_norm, d->views_seen};
    rd_slice4d_backward_desc bd = {desc->time, colour_terms, NULL};
    return r == RD_OK ? rd_slice4d_backward_cuda(t->ctx, &d->view, &g3, &out, &bd) : r;
}

rd_result rd_trainer4d_device_zero_grads(rd_trainer4d *t)
{
    size_t widths[PARAMS4], floats = 0;
    param_widths(t, widths);
    for (int k = 0; k < PARAMS4; k++) floats += widths[k] * (size_t)t->device->capacity;
    return rd_cuda_zero(t->ctx, t->device->grads[0], floats * sizeof(float), NULL); /* the grads lie one after another */
}

/* Adam on every group (the gradients the mean of the batch's), then the statics. */
rd_result rd_trainer4d_device_update(rd_trainer4d *t, const float lr[GROUPS4], float grad_scale)
{
    train4d_device *d = t->device;
    int64_t n = t->scene->count;
    rd_adam_step_desc adam = {.step = t->iteration - t->desc.start_iteration + 1, .grad_scale = grad_scale};
    rd_adam_sh_moments means = {d->m[G4_MEANS], d->v[G4_MEANS], d->m[G4_TIME], d->v[G4_TIME]};
    rd_result r = rd_adam_update_rows_cuda(t->ctx, d->params[0], d->grads[0], &means, n, 4, 3, lr[G4_MEANS], lr[G4_TIME], &adam, NULL);
    for (int g = G4_SCALES; g <= G4_OPACITIES && r == RD_OK; g++) {
        adam.lr = lr[g];
        int p = g - G4_SCALES + 1; /* log-scales, rotations, opacities: params 1, 2, 3 */
        r = rd_adam_update_cuda(t->ctx, d->params[p], d->grads[p], d->m[g], d->v[g], t->a.sizes[g], &adam, NULL);
    }
    rd_adam_sh_moments sh = {d->m[G4_DC], d->v[G4_DC], d->m[G4_REST], d->v[G4_REST]};
    int row = (int)rd_scene4d_sh_floats(t->max_degree, t->max_time_degree);
    if (r == RD_OK) r = rd_adam_update_rows_cuda(t->ctx, d->params[4], d->grads[4], &sh, n, row, 3, lr[G4_DC], lr[G4_REST], &adam, NULL);
    return r == RD_OK ? rd_slice4d_statics_cuda(t->ctx, &d->view, NULL) : r;
}

rd_result rd_trainer4d_device_loss(rd_trainer4d *t, double *sum)
{
    return rd_device_views_loss(t->ctx, &t->device->views, sum);
}
#endif
