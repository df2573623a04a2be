/* stream_encode_device.c: a residual frame's training on CUDA (stream_encode.h's run). The
   parent, the step's decoded scene and its gradients, the latents, decoders, positions,
   gates and every Adam moment live on the device with the frame's photos; a step decodes
   (stream_encode_cuda.cu), renders and takes the loss (rd_device_views_render_loss), runs
   the backward pass into device arrays, carries its gradients to the latents and updates
   with fused Adam. A densification stays there too: the host reads the frame's decoded
   geometry and the statistics (12 floats a Gaussian), plans the rows as the CPU's
   densification does (rd_stream_encoder_plan_density) and sends them up; the device
   gathers every array into the new rows and places the split children. So no copy crosses
   to the host but the first and the last step's losses and those reads. At the end the
   results go back into the host encoder (resized to the frame's count), from which
   stream_encode.c writes the frame as the CPU's path does. */
#include "stream_encode.h"
#include "../renderer/internal.h"

#ifdef RD_HAVE_CUDA
#include "../renderer/cuda/cuda_backend.h"
#include "../splat/train_device.h"
#include "../train/adam.h"
#include "../train/loss.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_ARRAYS = 128 };

/* The device arrays of one stretch of steps, freed together. */
typedef struct device_arrays {
    rd_context *ctx;
    void *all[MAX_ARRAYS];
    int count;
    rd_result r;
} device_arrays;

/* bytes on the device: host's copy, or zeros where host is NULL. */
static void *device_bytes(device_arrays *d, const void *host, size_t bytes)
{
    void *p = NULL;
    rd_memory memory;
    if (d->r != RD_OK) return NULL;
    if (d->count == MAX_ARRAYS) {
        d->r = rd_fail(d->ctx, RD_ERROR_DEVICE, "rd_stream_encode_frame: too many device arrays");
        return NULL;
    }
    d->r = rd_buffer_alloc(d->ctx, bytes ? bytes : 4, &p, &memory);
    if (d->r != RD_OK) return NULL;
    d->all[d->count++] = p;
    d->r = host && bytes ? rd_buffer_copy(d->ctx, p, memory, host, RD_MEMORY_HOST, bytes) : rd_cuda_zero(d->ctx, p, bytes ? bytes : 4, NULL);
    return d->r == RD_OK ? p : NULL;
}
static float *device_floats(device_arrays *d, const float *host, int64_t floats)
{
    return device_bytes(d, host, (size_t)(floats > 0 ? floats : 0) * sizeof(float));
}

static void download(device_arrays *d, void *host, const void *device, size_t bytes)
{
    if (d->r == RD_OK && bytes > 0) d->r = rd_buffer_copy(d->ctx, host, RD_MEMORY_HOST, device, RD_MEMORY_DEVICE, bytes);
}

/* The frame's state on the device: the step over device arrays, Adam's moments, the
   densification statistics and the scene over the decoded arrays. */
typedef struct device_state {
    device_arrays d;
    stream_encode_step s;
    stream_encode_moments moments[RD_STREAM_ATTRIBUTES];
    float *anchor[RD_STREAM_ATTRIBUTES];
    float *position_moments[4];
    float *grad_norm, *grads_block, *partials;
    uint32_t *views_seen;
    rd_scene *scene;
} device_state;

/* Every array of a state of count Gaussians shaped as e's, from e's host arrays where
   from_host (the frame's start: its count is e's), else zero. */
static rd_result allocate_state(rd_context *ctx, const stream_encoder *e, int64_t count, bool from_host, device_state *st)
{
    const stream_encode_step *h = &e->s;
    int64_t n = count, per = 11 + h->sh_floats;
    *st = (device_state){.d = {.ctx = ctx}, .s = *h};
    device_arrays *d = &st->d;
    stream_encode_step *s = &st->s;
    s->count = n;
    float *parent = device_floats(d, NULL, n * per), *decoded = device_floats(d, NULL, n * per);
    st->grads_block = device_floats(d, NULL, n * per);
    int64_t offset = 0;
    for (int k = 0; k < ENCODE_ARRAYS && d->r == RD_OK; k++) {
        int64_t floats = n * stream_encode_array_width(k, h->sh_floats);
        s->parent[k] = parent + offset, s->decoded[k] = decoded + offset, s->grads[k] = st->grads_block + offset;
        if (from_host) /* attributes without latents keep the parent's values in decoded */
            for (int copy = 0; copy < 2 && d->r == RD_OK; copy++)
                d->r = rd_buffer_copy(ctx, (copy ? decoded : parent) + offset, RD_MEMORY_DEVICE, h->parent[k], RD_MEMORY_HOST, (size_t)floats * sizeof(float));
        offset += floats;
    }
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        stream_encode_latents *l = &s->latents[a];
        const stream_encode_latents *hl = &h->latents[a];
        stream_encode_moments *m = &st->moments[a];
        if (!l->ld) continue;
        int64_t zs = n * l->ld, w = stream_encode_decoder_size(l);
        l->z = device_floats(d, from_host ? hl->z : NULL, zs), l->gz = device_floats(d, NULL, zs);
        m->mz = device_floats(d, NULL, zs), m->vz = device_floats(d, NULL, zs); /* a frame's moments start at zero */
        l->W = device_floats(d, from_host ? hl->W : NULL, w), l->gW = device_floats(d, NULL, w), m->mW = device_floats(d, NULL, w), m->vW = device_floats(d, NULL, w);
        l->b = device_floats(d, from_host ? hl->b : NULL, l->features), l->gb = device_floats(d, NULL, l->features);
        m->mb = device_floats(d, NULL, l->features), m->vb = device_floats(d, NULL, l->features);
        l->basis = device_floats(d, hl->basis, (int64_t)l->ld * l->features);
        l->anchor = st->anchor[a] = device_floats(d, from_host ? e->anchor[a] : NULL, zs);
    }
    s->x = device_floats(d, from_host ? h->x : NULL, n * 3), s->gx = device_floats(d, NULL, n * 3);
    s->log_alpha = device_floats(d, from_host ? h->log_alpha : NULL, n), s->galpha = device_floats(d, NULL, n);
    for (int k = 0; k < 4; k++) st->position_moments[k] = device_floats(d, NULL, k < 2 ? n * 3 : n);
    s->gate = device_floats(d, NULL, n), s->gate_slope = device_floats(d, NULL, n);
    st->partials = device_floats(d, NULL, (int64_t)rd_stream_encode_partials_floats(s));
    st->grad_norm = device_floats(d, NULL, n);
    st->views_seen = device_bytes(d, NULL, (size_t)n * sizeof(uint32_t));
    s->dynamic = h->dynamic ? device_bytes(d, e->dynamic, (size_t)n) : NULL; /* the split's flags (the host keeps them current) */
    rd_scene_desc sd = e->parent;
    sd.count = n;
    sd.means = s->decoded[0], sd.log_scales = s->decoded[1], sd.rotations = s->decoded[2], sd.opacities = s->decoded[3], sd.sh = s->decoded[4];
    sd.memory = RD_MEMORY_DEVICE;
    if (d->r == RD_OK) d->r = rd_scene_create(ctx, &sd, &st->scene);
    return d->r;
}

static void free_state(rd_context *ctx, device_state *st)
{
    rd_scene_destroy(st->scene);
    for (int k = 0; k < st->d.count; k++) rd_buffer_free(ctx, st->d.all[k]);
    st->d.count = 0, st->scene = NULL;
}

/* The trained values write_frame reads (the parent, latents, decoders, free positions, gate
   logits) into e, resized to the state's count first; then the state is freed. r, or the
   first failure. */
static rd_result download_and_free(rd_context *ctx, stream_encoder *e, device_state *st, rd_result r)
{
    const stream_encode_step *s = &st->s;
    device_arrays *d = &st->d;
    int64_t n = s->count;
    if (d->r == RD_OK) d->r = r;
    if (d->r == RD_OK && !rd_stream_encoder_resize(e, n))
        d->r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory for %lld Gaussians", (long long)n);
    if (d->r == RD_OK) download(d, e->arrays, s->parent[0], (size_t)(n * (11 + s->sh_floats)) * sizeof(float)); /* the parent's one block */
    for (int a = 0; a < RD_STREAM_ATTRIBUTES && d->r == RD_OK; a++) {
        const stream_encode_latents *l = &s->latents[a], *hl = &e->s.latents[a];
        if (!l->ld) continue;
        download(d, hl->z, l->z, (size_t)(n * l->ld) * 4);
        download(d, hl->W, l->W, (size_t)stream_encode_decoder_size(l) * 4), download(d, hl->b, l->b, (size_t)l->features * 4);
    }
    if (d->r == RD_OK) download(d, e->s.x, s->x, (size_t)n * 12), download(d, e->s.log_alpha, s->log_alpha, (size_t)n * 4);
    free_state(ctx, st);
    return d->r;
}

/* One densification on the device: the plan from the frame's decoded geometry and the
   statistics (read back), then every array gathered into the new rows, the children
   placed; or, where every row stays, the statistics zeroed. */
static rd_result densify(rd_context *ctx, stream_encode_run *run, device_state *st)
{
    stream_encoder *e = run->e;
    stream_encode_step *s = &st->s;
    int64_t n = s->count;
    s->eval = 1, s->hide_static = 0;
    rd_result r = rd_stream_encode_decode_cuda(ctx, s); /* the frame as it decodes now, gates evaluated */
    s->eval = 0;
    float *geometry = rd_alloc_array(12 * n + 1, sizeof(float)); /* 11 floats of decoded, then the gradient statistic */
    uint32_t *seen = rd_alloc_array(n + 1, sizeof(uint32_t));
    if (r == RD_OK && (!geometry || !seen)) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory densifying");
    if (r == RD_OK) r = rd_buffer_copy(ctx, geometry, RD_MEMORY_HOST, s->decoded[0], RD_MEMORY_DEVICE, (size_t)(11 * n) * sizeof(float));
    if (r == RD_OK) r = rd_buffer_copy(ctx, geometry + 11 * n, RD_MEMORY_HOST, st->grad_norm, RD_MEMORY_DEVICE, (size_t)n * sizeof(float));
    if (r == RD_OK) r = rd_buffer_copy(ctx, seen, RD_MEMORY_HOST, st->views_seen, RD_MEMORY_DEVICE, (size_t)n * sizeof(uint32_t));
    stream_density_plan p = {0};
    if (r == RD_OK) r = rd_stream_encoder_plan_density(e, n, geometry, geometry + 11 * n, seen, &p);
    free(geometry), free(seen);
    if (r == RD_OK && p.unchanged) {
        r = rd_cuda_zero(ctx, st->grad_norm, (size_t)n * sizeof(float), NULL);
        if (r == RD_OK) r = rd_cuda_zero(ctx, st->views_seen, (size_t)n * sizeof(uint32_t), NULL);
    } else if (r == RD_OK) {
        if (!rd_stream_encoder_follow(e, &p)) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory densifying");
        device_state next;
        bool made = r == RD_OK;
        if (made) r = allocate_state(ctx, e, p.count, false, &next);
        device_arrays *d = &next.d;
        int64_t *from = made ? device_bytes(d, p.from, (size_t)p.count * sizeof(int64_t)) : NULL;
        uint8_t *fresh = made ? device_bytes(d, p.fresh, (size_t)p.count) : NULL;
        int64_t *child_rows = made ? device_bytes(d, p.child_rows, (size_t)p.children * sizeof(int64_t)) : NULL;
        float *child_x = made ? device_floats(d, p.child_x, 3 * p.children) : NULL;
        if (made && r == RD_OK) r = d->r;
        /* every array of width floats a Gaussian, old and new, and whether it is a moment */
        const stream_encode_step *o = s, *ns = &next.s;
        for (int k = 0; k < ENCODE_ARRAYS && r == RD_OK; k++) {
            int width = stream_encode_array_width(k, o->sh_floats);
            r = rd_stream_encode_gather_cuda(ctx, (float *)ns->parent[k], o->parent[k], width, from, NULL, p.count);
            if (r == RD_OK) r = rd_stream_encode_gather_cuda(ctx, ns->decoded[k], o->parent[k], width, from, NULL, p.count);
        }
        for (int a = 0; a < RD_STREAM_ATTRIBUTES && r == RD_OK; a++) {
            const stream_encode_latents *l = &o->latents[a], *nl = &ns->latents[a];
            const stream_encode_moments *m = &st->moments[a], *nm = &next.moments[a];
            if (!l->ld) continue;
            size_t w = (size_t)stream_encode_decoder_size(l) * 4, fb = (size_t)l->features * 4;
            r = rd_stream_encode_gather_cuda(ctx, nl->z, l->z, l->ld, from, NULL, p.count);
            if (r == RD_OK) r = rd_stream_encode_gather_cuda(ctx, next.anchor[a], st->anchor[a], l->ld, from, NULL, p.count);
            if (r == RD_OK) r = rd_stream_encode_gather_cuda(ctx, nm->mz, m->mz, l->ld, from, fresh, p.count);
            if (r == RD_OK) r = rd_stream_encode_gather_cuda(ctx, nm->vz, m->vz, l->ld, from, fresh, p.count);
            const void *pairs[][2] = {{nl->W, l->W}, {nm->mW, m->mW}, {nm->vW, m->vW}, {nl->b, l->b}, {nm->mb, m->mb}, {nm->vb, m->vb}};
            for (int k = 0; k < 6 && r == RD_OK; k++)
                r = rd_buffer_copy(ctx, (void *)pairs[k][0], RD_MEMORY_DEVICE, pairs[k][1], RD_MEMORY_DEVICE, k < 3 ? w : fb);
        }
        if (r == RD_OK) r = rd_stream_encode_gather_cuda(ctx, ns->x, o->x, 3, from, NULL, p.count);
        if (r == RD_OK) r = rd_stream_encode_gather_cuda(ctx, ns->log_alpha, o->log_alpha, 1, from, NULL, p.count);
        for (int k = 0; k < 4 && r == RD_OK; k++)
            r = rd_stream_encode_gather_cuda(ctx, next.position_moments[k], st->position_moments[k], k < 2 ? 3 : 1, from, fresh, p.count);
        if (r == RD_OK)
            r = rd_stream_encode_children_cuda(ctx, ns, next.anchor[RD_STREAM_SCALE], child_rows, child_x, p.shrinks ? p.shrink : NULL, p.children);
        if (r == RD_OK) run->added += p.added, run->removed += n - (p.count - p.added);
        if (made) {
            next.s.step = s->step, next.s.hide_static = s->hide_static;
            free_state(ctx, st); /* after the gathers: the copies above are enqueued before the frees' synchronisation */
            *st = next;
        }
    }
    rd_stream_density_plan_free(&p);
    return r;
}

/* The views' photos as RGBA (alpha 1 where they have none), for rd_device_views_create. */
static view_data *rgba_views(const rd_train_view *views, int count)
{
    view_data *out = calloc((size_t)count, sizeof *out);
    for (int v = 0; out && v < count; v++) {
        const rd_image *im = views[v].image;
        int64_t pixels = (int64_t)im->width * im->height;
        out[v].camera = views[v].camera;
        if (!(out[v].rgba = rd_alloc_array(pixels * 4 + 1, sizeof(float)))) {
            for (int k = 0; k < v; k++) free(out[k].rgba);
            free(out);
            return NULL;
        }
        rd_stream_encode_photo_rgba(im, out[v].rgba);
    }
    return out;
}

/* rd_device_views_render_loss, with the split's mask between the render and the loss
   where rows is given: the static Gaussians are hidden by the decode, the render outside
   the changing ones' footprint becomes the photo, and the loss gradient is zeroed there. */
static rd_result render_loss(rd_context *ctx, rd_device_views *v, const rd_scene *scene, int view, const rd_camera *camera,
                             const rd_render_desc *desc, float *rows, float *mask)
{
    if (!rows) return rd_device_views_render_loss(ctx, v, scene, view, camera, desc);
    float *render = v->frame, *grad = rd_device_views_loss_grad(v), *scratch = grad + 4 * v->largest;
    const float *photo = v->photos + v->photo_at[view];
    rd_result r = rd_render(ctx, scene, camera, desc, &(rd_framebuffer){.color = render, .memory = RD_MEMORY_DEVICE});
    if (r == RD_OK) r = rd_stream_encode_mask_cuda(ctx, render, photo, desc->background, camera->width, camera->height, rows, mask);
    rd_loss_cuda_desc ld = {camera->width, camera->height, render, photo,
                            {desc->background[0], desc->background[1], desc->background[2]}, 0.2f, scratch, NULL};
    if (r == RD_OK) r = rd_loss_l1_dssim_cuda(ctx, &ld, grad, v->loss_sum);
    return r == RD_OK ? rd_stream_encode_mask_grad_cuda(ctx, grad, mask, (int64_t)camera->width * camera->height) : r;
}

rd_result rd_stream_encode_run_cuda(rd_context *ctx, stream_encode_run *run)
{
    device_arrays frame = {.ctx = ctx}; /* the mask's buffers: every stretch's */
    int64_t largest = stream_encode_largest_view(run->views, run->view_count);
    float *rows = run->masked_steps ? device_floats(&frame, NULL, largest) : NULL, *mask = run->masked_steps ? device_floats(&frame, NULL, largest) : NULL;
    rd_device_views views = {0};
    view_data *photos = frame.r == RD_OK ? rgba_views(run->views, run->view_count) : NULL;
    rd_result r = frame.r;
    if (r == RD_OK && !photos) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory for the photos");
    if (r == RD_OK) r = rd_device_views_create(ctx, photos, run->view_count, &views);
    for (int v = 0; photos && v < run->view_count; v++) free(photos[v].rgba);
    free(photos);
    device_state st;
    bool held = r == RD_OK;
    if (held) r = allocate_state(ctx, run->e, run->e->n, true, &st);

    rd_render_desc rd = {.flags = rd_stream_encode_render_flags(run->e->desc)};
    memcpy(rd.background, run->background, sizeof rd.background);
    for (int step = 0; r == RD_OK && step < run->iterations; step++) {
        stream_encode_step *s = &st.s;
        int64_t n = s->count;
        rd_gaussian_grads gg = {(float *)s->grads[0], (float *)s->grads[1], (float *)s->grads[2], (float *)s->grads[3], (float *)s->grads[4],
                                st.grad_norm, st.views_seen};
        int view = stream_encode_pick_view(&run->e->rng, run->view_count);
        const rd_camera *cam = &run->views[view].camera;
        bool masked = step < run->masked_steps;
        s->step = (uint32_t)step, s->eval = 0, s->hide_static = masked;
        r = rd_stream_encode_decode_cuda(ctx, s);
        if (r == RD_OK) r = render_loss(ctx, &views, st.scene, view, cam, &rd, masked ? rows : NULL, mask);
        if (r == RD_OK) r = rd_cuda_zero(ctx, st.grads_block, (size_t)(n * (11 + s->sh_floats)) * sizeof(float), NULL);
        if (r == RD_OK)
            r = rd_render_backward(ctx, st.scene, 1, cam, &rd, &(rd_render_grads){rd_device_views_loss_grad(&views), NULL, RD_MEMORY_DEVICE},
                                   &(rd_scene_grads){RD_SCENE_GAUSSIANS, &gg, NULL, RD_MEMORY_DEVICE});
        if (r == RD_OK) r = rd_stream_encode_chain_cuda(ctx, s, st.partials);
        rd_adam_step_desc adam = {.step = step + 1};
        for (int a = 0; a < RD_STREAM_ATTRIBUTES && r == RD_OK; a++) {
            stream_encode_latents *l = &s->latents[a];
            stream_encode_moments *m = &st.moments[a];
            if (!l->ld) continue;
            adam.lr = RD_ENCODE_LATENT_LR;
            r = rd_adam_update_cuda(ctx, l->z, l->gz, m->mz, m->vz, (size_t)(n * l->ld), &adam, NULL);
            adam.lr = stream_encode_decoder_lr(a);
            if (r == RD_OK) r = rd_adam_update_cuda(ctx, l->W, l->gW, m->mW, m->vW, (size_t)stream_encode_decoder_size(l), &adam, NULL);
            adam.lr = stream_encode_decoder_lr(a) * 0.1f;
            if (r == RD_OK) r = rd_adam_update_cuda(ctx, l->b, l->gb, m->mb, m->vb, (size_t)l->features, &adam, NULL);
        }
        float **pm = st.position_moments;
        adam.lr = run->position_lr;
        if (r == RD_OK) r = rd_adam_update_cuda(ctx, s->x, s->gx, pm[0], pm[1], (size_t)n * 3, &adam, NULL);
        adam.lr = RD_ENCODE_GATE_LR;
        if (r == RD_OK && !s->gates_off) r = rd_adam_update_cuda(ctx, s->log_alpha, s->galpha, pm[2], pm[3], (size_t)n, &adam, NULL);
        if (r == RD_OK) r = rd_stream_encode_settle_cuda(ctx, s);
        /* the losses: the first step's, and the last's alone (the sum is emptied before it) */
        double sum = 0.0;
        if (r == RD_OK && (step == 0 || step + 2 == run->iterations || step + 1 == run->iterations)) r = rd_device_views_loss(ctx, &views, &sum);
        if (step == 0) run->loss_first = sum + 0.2;
        if (step + 1 == run->iterations) run->loss_last = sum + 0.2;
        if (r == RD_OK && run->densify_due && run->densify_due(run->user, step)) {
            double t0 = rd_now_ms();
            r = densify(ctx, run, &st);
            run->densify_ms += rd_now_ms() - t0;
        }
    }
    if (held) r = download_and_free(ctx, run->e, &st, r);
    rd_device_views_free(ctx, &views);
    for (int k = 0; k < frame.count; k++) rd_buffer_free(ctx, frame.all[k]);
    return r;
}

#else
rd_result rd_stream_encode_run_cuda(rd_context *ctx, stream_encode_run *run)
{
    (void)run;
    return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_stream_encode_frame: this build has no CUDA");
}
#endif
