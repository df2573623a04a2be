/* train_device.c: the trainer's step on CUDA (train_device.h). The parameters, their
   gradients and moments, the densification statistics and every training photo live on
   the device; a step renders a device-memory scene over the parameters, computes the loss
   and its gradient there (train/loss_cuda.cu), runs the backward pass into device arrays
   and updates with fused Adam (train/adam_cuda.cu), with one host synchronisation (the
   backward pass's). The host arrays of the trainer (trainer.h) are the device's state
   only after rd_train_device_download; the adaptive density control and checkpoints work
   on them and upload the result. */
#include "train_device.h"

#ifdef RD_HAVE_CUDA
#include "../renderer/cuda/cuda_backend.h"
#include "../train/adam.h"
#include "../train/loss.h"
#include "mcmc.h"

#include <stdlib.h>
#include <string.h>

/* The per-Gaussian arrays, in the order of one allocation. */
enum { PARAMS = 5 };

struct train_device {
    float *gaussians;           /* one allocation for everything per Gaussian below */
    int64_t capacity;           /* Gaussians it holds */
    float *params[PARAMS];      /* means, log-scales, rotations, opacities, SH: the scene's arrays */
    float *grads[PARAMS];       /* the same layout */
    float *m[GROUPS], *v[GROUPS];
    float *grad_norm;
    uint32_t *views_seen;
    rd_scene *scene;            /* device memory: params */
    rd_device_views views;
};

/* Floats per Gaussian of each parameter array. */
static void param_widths(const rd_trainer *t, size_t widths[PARAMS])
{
    size_t K = (size_t)rd_sh_coeffs(t->max_degree);
    size_t w[PARAMS] = {3, 3, 4, 1, 3 * K};
    memcpy(widths, w, sizeof w);
}

static size_t floats_per_gaussian(const rd_trainer *t)
{
    size_t widths[PARAMS], total = 2; /* grad_norm, views_seen */
    param_widths(t, widths);
    for (int k = 0; k < PARAMS; k++) total += 2 * widths[k];
    for (int g = 0; g < GROUPS; g++) total += 2 * (size_t)rd_trainer_group_width(t, g);
    return total;
}

/* The arrays for count Gaussians, and the scene over them (grown only when needed). */
static rd_result reserve_gaussians(rd_trainer *t, int64_t count)
{
    train_device *d = t->device;
    rd_scene_destroy(d->scene);
    d->scene = NULL;
    if (count > d->capacity || !d->gaussians) {
        rd_buffer_free(t->ctx, d->gaussians);
        d->gaussians = NULL;
        d->capacity = 0;
        int64_t want = count + count / 8 + 1024; /* densification grows it step by step */
        rd_memory memory;
        rd_result r = rd_buffer_alloc(t->ctx, (size_t)want * floats_per_gaussian(t) * sizeof(float), (void **)&d->gaussians, &memory);
        if (r != RD_OK) return r;
        d->capacity = want;
    }
    size_t widths[PARAMS], n = (size_t)d->capacity;
    param_widths(t, widths);
    float *at = d->gaussians;
    for (int k = 0; k < PARAMS; k++) d->params[k] = at, at += widths[k] * n;
    for (int k = 0; k < PARAMS; k++) d->grads[k] = at, at += widths[k] * n;
    for (int g = 0; g < GROUPS; g++) {
        size_t w = (size_t)rd_trainer_group_width(t, g);
        d->m[g] = at, at += w * n;
        d->v[g] = at, at += w * n;
    }
    d->grad_norm = at, at += n;
    d->views_seen = (uint32_t *)at;
    rd_scene_desc sd = {count, t->max_degree, d->params[0], d->params[1], d->params[2], d->params[3], d->params[4],
                        RD_MEMORY_DEVICE, t->scene->flags};
    return rd_scene_create(t->ctx, &sd, &d->scene);
}

/* Pairs of (host, device) arrays of the state that moves, with their lengths in floats. */
enum { MOVED = PARAMS + 2 * GROUPS + 2 };
static void moved_arrays(rd_trainer *t, void *host[MOVED], void *device[MOVED], size_t floats[MOVED])
{
    train_device *d = t->device;
    rd_scene *s = t->scene;
    size_t widths[PARAMS], n = (size_t)s->count;
    param_widths(t, widths);
    float *params[PARAMS] = {s->means, s->log_scales, s->rotations, s->opacities, s->sh};
    int k = 0;
    for (int p = 0; p < PARAMS; p++, k++) host[k] = params[p], device[k] = d->params[p], floats[k] = widths[p] * n;
    for (int g = 0; g < GROUPS; g++, k++) host[k] = t->m[g], device[k] = d->m[g], floats[k] = t->sizes[g];
    for (int g = 0; g < GROUPS; g++, k++) host[k] = t->v[g], device[k] = d->v[g], floats[k] = t->sizes[g];
    host[k] = t->grad_norm, device[k] = d->grad_norm, floats[k++] = n;
    host[k] = t->views_seen, device[k] = d->views_seen, floats[k++] = n;
}

rd_result rd_train_device_upload(rd_trainer *t)
{
    rd_result r = reserve_gaussians(t, t->scene->count);
    void *host[MOVED], *device[MOVED];
    size_t floats[MOVED];
    if (r == RD_OK) moved_arrays(t, host, device, floats);
    for (int k = 0; k < MOVED && r == RD_OK; k++)
        if (floats[k]) r = rd_buffer_copy(t->ctx, device[k], RD_MEMORY_DEVICE, host[k], RD_MEMORY_HOST, floats[k] * sizeof(float));
    return r;
}

rd_result rd_train_device_download(rd_trainer *t)
{
    void *host[MOVED], *device[MOVED];
    size_t floats[MOVED];
    moved_arrays(t, host, device, floats);
    rd_result r = RD_OK;
    for (int k = 0; k < MOVED && r == RD_OK; k++)
        if (floats[k]) r = rd_buffer_copy(t->ctx, host[k], RD_MEMORY_HOST, device[k], RD_MEMORY_DEVICE, floats[k] * sizeof(float));
    t->scene->head = rd_scene_head_new(RD_SCENE_GAUSSIANS); /* new arrays: caches must not match */
    return r;
}

void rd_device_views_free(rd_context *ctx, rd_device_views *v)
{
    rd_buffer_free(ctx, v->photos);
    rd_buffer_free(ctx, v->frame);
    rd_buffer_free(ctx, v->loss_sum);
    free(v->photo_at);
    memset(v, 0, sizeof *v);
}

rd_result rd_device_views_create(rd_context *ctx, view_data *views, int count, rd_device_views *out)
{
    memset(out, 0, sizeof *out);
    out->photo_at = calloc((size_t)count + 1, sizeof(size_t));
    if (!out->photo_at) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory");
    size_t total = 0;
    for (int v = 0; v < count; v++) {
        size_t pixels = (size_t)views[v].camera.width * (size_t)views[v].camera.height;
        out->photo_at[v] = total;
        total += 4 * pixels;
        if (pixels > out->largest) out->largest = pixels;
    }
    size_t frame_floats = 8 * out->largest + rd_loss_cuda_scratch_floats((int)out->largest, 1);
    rd_memory memory;
    rd_result r = rd_buffer_alloc(ctx, total * sizeof(float), (void **)&out->photos, &memory);
    if (r == RD_OK) r = rd_buffer_alloc(ctx, frame_floats * sizeof(float), (void **)&out->frame, &memory);
    if (r == RD_OK) r = rd_buffer_alloc(ctx, sizeof(double), (void **)&out->loss_sum, &memory);
    for (int v = 0; v < count && r == RD_OK; v++) {
        size_t pixels = (size_t)views[v].camera.width * (size_t)views[v].camera.height;
        r = rd_buffer_copy(ctx, out->photos + out->photo_at[v], memory, views[v].rgba, RD_MEMORY_HOST, 4 * pixels * sizeof(float));
        free(views[v].rgba); /* the host step is never taken now */
        views[v].rgba = NULL;
    }
    if (r == RD_OK) r = rd_cuda_zero(ctx, out->loss_sum, sizeof(double), NULL);
    return r;
}

rd_result rd_device_views_render_loss(rd_context *ctx, rd_device_views *v, const rd_scene *scene, int view, const rd_camera *camera,
                                      const rd_render_desc *desc)
{
    float *render = v->frame, *loss_grad = render + 4 * v->largest, *scratch = loss_grad + 4 * v->largest;
    rd_result r = rd_render(ctx, scene, camera, desc, &(rd_framebuffer){.color = render, .memory = RD_MEMORY_DEVICE});
    rd_loss_cuda_desc ld = {camera->width, camera->height, render, v->photos + v->photo_at[view],
                            {desc->background[0], desc->background[1], desc->background[2]}, 0.2f, scratch, NULL};
    return r == RD_OK ? rd_loss_l1_dssim_cuda(ctx, &ld, loss_grad, v->loss_sum) : r;
}

rd_result rd_device_views_loss(rd_context *ctx, rd_device_views *v, double *sum)
{
    rd_result r = rd_buffer_copy(ctx, sum, RD_MEMORY_HOST, v->loss_sum, RD_MEMORY_DEVICE, sizeof(double));
    return r == RD_OK ? rd_cuda_zero(ctx, v->loss_sum, sizeof(double), NULL) : r;
}

void rd_train_device_destroy(rd_trainer *t)
{
    train_device *d = t->device;
    if (!d) return;
    rd_scene_destroy(d->scene);
    rd_buffer_free(t->ctx, d->gaussians);
    rd_device_views_free(t->ctx, &d->views);
    free(d);
    t->device = NULL;
}

rd_result rd_train_device_create(rd_trainer *t)
{
    train_device *d = calloc(1, sizeof *d);
    if (!d) return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_trainer_create: out of memory");
    t->device = d;
    rd_result r = rd_device_views_create(t->ctx, t->views, t->view_count, &d->views);
    return r == RD_OK ? rd_train_device_upload(t) : r;
}

rd_result rd_train_device_step(rd_trainer *t, int view, const rd_render_desc *desc, const float lr[GROUPS])
{
    train_device *d = t->device;
    const rd_camera *cam = &t->views[view].camera;
    int64_t n = t->scene->count;
    rd_render_desc keep = *desc; /* the backward pass takes the frame as rendered */
    keep.flags |= RD_RENDER_FOR_BACKWARD;
    desc = &keep;
    rd_result r = rd_device_views_render_loss(t->ctx, &d->views, d->scene, view, cam, desc);
    size_t widths[PARAMS], grad_floats = 0;
    param_widths(t, widths);
    for (int k = 0; k < PARAMS; k++) grad_floats += widths[k] * (size_t)d->capacity;
    if (r == RD_OK) r = rd_cuda_zero(t->ctx, d->grads[0], grad_floats * sizeof(float), NULL);
    rd_gaussian_grads gg = {d->grads[0], d->grads[1], d->grads[2], d->grads[3], d->grads[4], d->grad_norm, d->views_seen};
    if (r == RD_OK)
        r = rd_render_backward(t->ctx, d->scene, 1, cam, desc, &(rd_render_grads){rd_device_views_loss_grad(&d->views), NULL, RD_MEMORY_DEVICE},
                               &(rd_scene_grads){RD_SCENE_GAUSSIANS, &gg, NULL, RD_MEMORY_DEVICE});
    if (r == RD_OK && t->desc.mcmc) r = rd_mcmc_regularise_cuda(t->ctx, d->params[3], d->params[1], n, d->grads[3], d->grads[1]);
    rd_adam_step_desc adam = {.step = t->iteration - t->desc.start_iteration + 1};
    for (int g = 0; g < GROUP_DC && r == RD_OK; g++) {
        adam.lr = lr[g];
        r = rd_adam_update_cuda(t->ctx, d->params[g], d->grads[g], d->m[g], d->v[g], t->sizes[g], &adam, NULL);
    }
    rd_adam_sh_moments sh = {d->m[GROUP_DC], d->v[GROUP_DC], d->m[GROUP_REST], d->v[GROUP_REST]};
    if (r == RD_OK)
        r = rd_adam_update_sh_cuda(t->ctx, d->params[4], d->grads[4], &sh, n, rd_sh_coeffs(t->max_degree), lr[GROUP_DC],
                                   lr[GROUP_REST], &adam, NULL);
    if (r == RD_OK && t->desc.mcmc)
        r = rd_mcmc_noise_cuda(t->ctx, d->params[0], d->params[1], d->params[2], d->params[3], n, lr[GROUP_MEANS] * RD_MCMC_NOISE_LR,
                               t->desc.seed, (uint32_t)t->iteration);
    return r;
}

rd_result rd_train_device_loss(rd_trainer *t, double *sum)
{
    return rd_device_views_loss(t->ctx, &t->device->views, sum);
}

#endif
