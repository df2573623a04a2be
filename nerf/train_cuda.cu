/* train_cuda.cu: a NeRF training step on CUDA (train_cuda.h), train.c's step kernel for
   kernel: draws a thread a ray, positions and compaction a warp a ray, compositing + loss + its backward
   fused a thread a ray, Adam a thread a parameter; with pruning, HollowNeRF's ADMM pruner
   (saliency.h's CUDA functions). */
#include "train_cuda.h"
#include "train_rules.h"
#include "volume.h"
#include "../renderer/cuda/cuda_internal.h"
#include "../renderer/cuda/cuda_scan.h"

#include <stdlib.h>
#include <string.h>

enum { THREADS = 256, STAGES = 6, MARCH_FACTOR = 4 }; /* a step marches up to 4 x the batch (train.c) */

static unsigned blocks(int64_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

struct rd_nerf_train_cuda {
    rd_context *ctx;
    rd_nerf_trainer_desc desc;
    const rd_nerf_field *field; /* the host scene's layout */
    float scale, offset[3];
    int views;
    rd_camera *cameras;          /* device */
    int *widths, *heights;       /* device */
    long long *photo_at;         /* device: view k's first value in photos */
    uint16_t *photos;            /* device */
    float *params, *grad, *m, *v; /* device */
    float *average;               /* device: the parameters' moving average (NULL: none), decay^age weights */
    float *admm_z, *admm_u;       /* device, with pruning: ADMM's split of the mask and its scaled dual */
    rd_admm_cuda admm;            /* the projection's scratch */
    float average_decay;
    int updates;                  /* Adam's so far */
    int64_t params_count, table_count;
    rd_occupancy_cuda occupancy;
    rd_nerf_field_scratch_cuda scratch;
    int64_t ray_capacity;
    float *origins, *dirs_ray, *t_min, *jitter, *target, *background; /* rays */
    int32_t *offset_buf, *count_buf;       /* the trained samples' rays */
    int32_t *march_offset, *march_count;   /* the marched samples' */
    rd_march_sample *marched;              /* MARCH_FACTOR x batch */
    float *march_pos, *march_sigma;
    rd_cuda_buffer scan_temp;
    float *sample_pos, *sample_dir, *sigma, *rgb, *g_sigma, *g_rgb; /* batch samples */
    rd_march_sample *samples;
    float *occupancy_points, *occupancy_sigma; /* an update's draws */
    int32_t *occupancy_cells;
    int64_t *counters;      /* device: the march's total; the rays taken (as long long) */
    double *loss_sum;       /* device */
    int64_t *host_counters; /* pinned */
    /* with RADIANT_NERF_STAGE_TIMES set: each stage's milliseconds summed over the steps,
       logged (at INFO) when the trainer goes */
    bool timed;
    cudaEvent_t marks[STAGES + 1];
    double stage_ms[STAGES];
    int timed_steps;
};

static const char *const STAGE_NAMES[STAGES] = {"rays + march", "field forward", "composite + loss", "field backward", "Adam",
                                                "occupancy"};

static void mark(rd_nerf_train_cuda *t, int k, cudaStream_t st)
{
    if (t->timed) cudaEventRecord(t->marks[k], st);
}

/* ---- kernels ---- */

__global__ void draw_kernel(long long rays, uint64_t seed, int step, int views, const int *widths, const int *heights,
                            const rd_camera *cameras, const long long *photo_at, const uint16_t *photos, bool random_background,
                            float bg0, float bg1, float bg2, float scale, float ox, float oy, float oz, float *origins, float *dirs,
                            float *t_min, float *jitter, float *target, float *background)
{
    long long k = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (k >= rays) return;
    const float fixed[3] = {bg0, bg1, bg2}, offset[3] = {ox, oy, oz};
    rd_nerf_draw d = rd_nerf_draw_ray(seed, step, k, views, widths, heights, random_background, fixed);
    int w = widths[d.view], h = heights[d.view];
    int x = (int)d.u < w ? (int)d.u : w - 1, y = (int)d.v < h ? (int)d.v : h - 1;
    const uint16_t *px = photos + photo_at[d.view] + 4 * ((long long)y * w + x);
    float alpha = px[3] / 65535.0f;
    for (int c = 0; c < 3; c++) {
        background[3 * k + c] = d.background[c];
        target[3 * k + c] = px[c] / 65535.0f * alpha + d.background[c] * (1.0f - alpha);
    }
    const rd_camera *camera = &cameras[d.view];
    rd_nerf_ray ray = rd_nerf_camera_ray(camera, scale, offset, d.u, d.v);
    for (int a = 0; a < 3; a++) origins[3 * k + a] = ray.origin[a], dirs[3 * k + a] = ray.dir[a];
    t_min[k] = rd_nerf_near(camera) * ray.field_per_depth;
    jitter[k] = d.jitter;
}

/* rays whose samples start before the total (train.c's rule) */
__global__ void taken_kernel(long long rays, const int32_t *offset, const int64_t *total, int64_t *taken)
{
    long long k = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (k < rays && offset[k] < *total) atomicAdd((unsigned long long *)taken, 1ull);
}

/* A warp a ray, its lanes over the samples: a step has few rays (thousands) of many
   samples, which a thread a ray left to a few blocks' long loops. */
__global__ void positions_kernel(long long rays, const int32_t *offset, const int32_t *count, const int64_t *total,
                                 const rd_march_sample *samples, const float *origins, const float *dirs, float *pos, float *dir)
{
    long long k = ((long long)blockIdx.x * THREADS + threadIdx.x) / 32;
    int lane = (int)(threadIdx.x % 32);
    if (k >= rays || offset[k] >= *total) return;
    const float o[3] = {origins[3 * k], origins[3 * k + 1], origins[3 * k + 2]}, d[3] = {dirs[3 * k], dirs[3 * k + 1], dirs[3 * k + 2]};
    for (int i = lane; i < count[k]; i += 32) {
        long long s = offset[k] + i;
        float t = samples[s].t;
        for (int a = 0; a < 3; a++) {
            pos[3 * s + a] = o[a] + t * d[a];
            if (dir) dir[3 * s + a] = d[a];
        }
    }
}

/* How many of a marched ray's samples compositing reaches (train.c's rule) */
__global__ void used_kernel(long long rays, const int32_t *offset, const int32_t *count, const int64_t *total,
                            const rd_march_sample *samples, const float *sigma, int32_t *used)
{
    long long k = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (k >= rays) return;
    int32_t o = offset[k];
    used[k] = o < *total ? rd_volume_used_ray(count[k], &samples[o].dt, 2, sigma + o) : 0;
}

/* The kept rays (a prefix: exclusive offset + used within the batch) copy their used
   samples, a warp a ray as positions_kernel; the rest get no samples and the total as their
   offset. */
__global__ void compact_kernel(long long rays, const int32_t *march_offset, const rd_march_sample *marched, long long batch,
                               int32_t *offset, int32_t *used, int64_t *total, rd_march_sample *samples)
{
    long long k = ((long long)blockIdx.x * THREADS + threadIdx.x) / 32;
    int lane = (int)(threadIdx.x % 32);
    if (k >= rays) return;
    bool here = (long long)offset[k] + used[k] <= batch;
    bool next = k + 1 < rays && (long long)offset[k + 1] + used[k + 1] <= batch;
    if (lane == 0 && k == 0 && !here) *total = 0;
    if (lane == 0 && here && !next) *total = (long long)offset[k] + used[k];
    if (!here) return;
    for (int i = lane; i < used[k]; i += 32) samples[offset[k] + i] = marched[march_offset[k] + i];
}

__global__ void uncompacted_kernel(long long rays, const int64_t *total, long long batch, int32_t *offset, int32_t *used)
{
    long long k = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (k < rays && (long long)offset[k] + used[k] > batch) offset[k] = (int32_t)*total, used[k] = 0;
}

/* A ray's colour, its loss against the target (mean over the step's rays and channels:
   scale), and the gradients of its samples' densities and colours. */
__global__ void composite_loss_kernel(long long taken, const int32_t *offset, const int32_t *count, const rd_march_sample *samples,
                                      const float *sigma, const float *rgb, const float *background, const float *target, int l2,
                                      float scale, float *g_sigma, float *g_rgb, double *loss_sum)
{
    long long k = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (k >= taken) return;
    int n = count[k];
    long long o = offset[k];
    const float *t = &samples[o].t, *dt = &samples[o].dt;
    float out[3], alpha, depth, g_ray[3];
    int used;
    rd_volume_composite_ray(n, t, dt, 2, sigma + o, rgb + 3 * o, background + 3 * k, out, &alpha, &depth, &used);
    float loss = 0.0f;
    for (int c = 0; c < 3; c++) {
        float slope;
        loss += rd_nerf_channel_loss(l2, out[c] - target[3 * k + c], &slope);
        g_ray[c] = slope * scale;
    }
    atomicAdd(loss_sum, (double)(loss * scale));
    rd_volume_backward_ray(n, t, dt, 2, sigma + o, rgb + 3 * o, out, alpha, depth, used, g_ray, 0.0f, 0.0f, g_sigma + o, g_rgb + 3 * o);
}

/* train.c's adam: the table's entries without gradient left alone, the networks' weights
   with L2 1e-6, the mask's logits (from `mask` on) without */
__global__ void adam_kernel(long long n, long long table, long long mask, float *p, float *m, float *v, const float *g, float size,
                            float root_c2, float *average, float decay)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i >= n) return;
    if (i < table) rd_nerf_adam_one(&p[i], &m[i], &v[i], g[i], 0.0f, RD_NERF_ADAM_SKIP_ZERO, size, root_c2);
    else rd_nerf_adam_one(&p[i], &m[i], &v[i], g[i], i < mask ? 1e-6f : 0.0f, 0, size, root_c2);
    if (average) average[i] = rd_nerf_average_one(average[i], p[i], decay);
}

/* ---- the trainer ---- */

template <typename T> static rd_result device_array(rd_context *ctx, T **p, int64_t count, const char *what)
{
    cudaError_t err = cudaMalloc((void **)p, sizeof(T) * (size_t)(count > 0 ? count : 1));
    if (err != cudaSuccess) *p = NULL;
    return rd_cuda_check(ctx, err, what);
}

static rd_result reserve_rays(rd_nerf_train_cuda *t, int64_t rays)
{
    if (rays <= t->ray_capacity) return RD_OK;
    cudaFree(t->origins), cudaFree(t->dirs_ray), cudaFree(t->t_min), cudaFree(t->jitter), cudaFree(t->target), cudaFree(t->background);
    cudaFree(t->offset_buf), cudaFree(t->count_buf), cudaFree(t->march_offset), cudaFree(t->march_count);
    t->ray_capacity = 0;
    int64_t n = rays + rays / 4;
    rd_result r = device_array(t->ctx, &t->origins, 3 * n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->dirs_ray, 3 * n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->t_min, n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->jitter, n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->target, 3 * n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->background, 3 * n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->offset_buf, n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->count_buf, n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->march_offset, n, "NeRF rays");
    if (r == RD_OK) r = device_array(t->ctx, &t->march_count, n, "NeRF rays");
    rd_cuda_scan_plan plan = {NULL, 0, rd_cuda(t->ctx)->stream};
    if (r == RD_OK) r = rd_cuda_check(t->ctx, rd_cuda_scan(&plan, NULL, NULL, n, true), "NeRF rays: scan scratch size");
    if (r == RD_OK) r = rd_cuda_reserve(t->ctx, &t->scan_temp, plan.temp_bytes, "NeRF rays: scan scratch");
    if (r == RD_OK) t->ray_capacity = n;
    return r;
}

extern "C" void rd_nerf_train_cuda_destroy(rd_nerf_train_cuda *t)
{
    if (!t) return;
    void *all[] = {t->cameras, t->widths, t->heights, t->photo_at, t->photos, t->params, t->grad, t->m, t->v, t->average, t->origins,
                   t->dirs_ray, t->t_min, t->jitter, t->target, t->background, t->offset_buf, t->count_buf, t->sample_pos, t->sample_dir,
                   t->sigma, t->rgb, t->g_sigma, t->g_rgb, t->samples, t->marched, t->march_pos, t->march_sigma, t->march_offset,
                   t->march_count, t->occupancy_points, t->occupancy_sigma,
                   t->occupancy_cells, t->counters, t->loss_sum, t->admm_z, t->admm_u};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) cudaFree(all[k]);
    if (t->host_counters) cudaFreeHost(t->host_counters);
    if (t->timed) {
        for (int k = 0; k < STAGES && t->timed_steps; k++)
            rd_log(t->ctx, RD_LOG_INFO, "NeRF training stage %-16s %.3f ms a step (mean of %d)", STAGE_NAMES[k],
                   t->stage_ms[k] / t->timed_steps, t->timed_steps);
        for (int k = 0; k <= STAGES; k++) cudaEventDestroy(t->marks[k]);
    }
    rd_occupancy_cuda_destroy(t->ctx, &t->occupancy);
    rd_cuda_release(t->ctx, &t->scan_temp);
    rd_nerf_field_scratch_cuda_free(t->ctx, &t->scratch);
    rd_admm_cuda_free(t->ctx, &t->admm);
    free(t);
}

extern "C" rd_result rd_nerf_train_cuda_create(rd_context *ctx, const rd_nerf_train_cuda_desc *d, rd_nerf_train_cuda **out)
{
    *out = NULL;
    rd_nerf_train_cuda *t = (rd_nerf_train_cuda *)calloc(1, sizeof *t);
    if (!t) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: out of memory");
    t->ctx = ctx;
    t->desc = *d->desc;
    t->field = &d->scene->field;
    t->scale = d->scene->scale;
    memcpy(t->offset, d->scene->offset, sizeof t->offset);
    t->views = d->views;
    t->params_count = d->scene->field.params;
    t->table_count = d->scene->field.density_offset;
    long long *at = (long long *)malloc(sizeof(long long) * (size_t)d->views);
    long long values = 0;
    for (int k = 0; at && k < d->views; k++) at[k] = values, values += 4ll * d->widths[k] * d->heights[k];
    int64_t batch = t->desc.batch_samples;
    int64_t cells = (int64_t)d->scene->occupancy.cascades * RD_OCCUPANCY_CELLS;
    rd_result r = at ? RD_OK : rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: out of memory");
    if (r == RD_OK) r = device_array(ctx, &t->cameras, d->views, "NeRF training: cameras");
    if (r == RD_OK) r = device_array(ctx, &t->widths, d->views, "NeRF training: cameras");
    if (r == RD_OK) r = device_array(ctx, &t->heights, d->views, "NeRF training: cameras");
    if (r == RD_OK) r = device_array(ctx, &t->photo_at, d->views, "NeRF training: photos");
    if (r == RD_OK) r = device_array(ctx, &t->photos, values, "NeRF training: photos");
    if (r == RD_OK) r = device_array(ctx, &t->params, t->params_count, "NeRF training: parameters");
    if (r == RD_OK) r = device_array(ctx, &t->grad, t->params_count, "NeRF training: gradients");
    if (r == RD_OK) r = device_array(ctx, &t->m, t->params_count, "NeRF training: Adam's moments");
    if (r == RD_OK) r = device_array(ctx, &t->v, t->params_count, "NeRF training: Adam's moments");
    t->average_decay = t->desc.average_decay;
    if (r == RD_OK && t->average_decay > 0.0f)
        r = device_array(ctx, &t->average, t->params_count, "NeRF training: the parameters' average");
    int64_t cells_mask = t->desc.prune_budget > 0.0f ? rd_saliency_cells(&t->field->saliency) : 0;
    if (r == RD_OK && cells_mask) r = device_array(ctx, &t->admm_z, cells_mask, "NeRF training: the pruner's state");
    if (r == RD_OK && cells_mask) r = device_array(ctx, &t->admm_u, cells_mask, "NeRF training: the pruner's state");
    if (r == RD_OK) r = device_array(ctx, &t->samples, batch, "NeRF training: samples");
    if (r == RD_OK) r = device_array(ctx, &t->marched, MARCH_FACTOR * batch, "NeRF training: marched samples");
    if (r == RD_OK) r = device_array(ctx, &t->march_pos, 3 * MARCH_FACTOR * batch, "NeRF training: marched samples");
    if (r == RD_OK) r = device_array(ctx, &t->march_sigma, MARCH_FACTOR * batch, "NeRF training: marched samples");
    if (r == RD_OK) r = device_array(ctx, &t->sample_pos, 3 * batch, "NeRF training: samples");
    if (r == RD_OK) r = device_array(ctx, &t->sample_dir, 3 * batch, "NeRF training: samples");
    if (r == RD_OK) r = device_array(ctx, &t->sigma, batch, "NeRF training: samples");
    if (r == RD_OK) r = device_array(ctx, &t->rgb, 3 * batch, "NeRF training: samples");
    if (r == RD_OK) r = device_array(ctx, &t->g_sigma, batch, "NeRF training: samples");
    if (r == RD_OK) r = device_array(ctx, &t->g_rgb, 3 * batch, "NeRF training: samples");
    if (r == RD_OK) r = device_array(ctx, &t->occupancy_points, 3 * cells, "NeRF training: occupancy draws");
    if (r == RD_OK) r = device_array(ctx, &t->occupancy_sigma, cells, "NeRF training: occupancy draws");
    if (r == RD_OK) r = device_array(ctx, &t->occupancy_cells, cells, "NeRF training: occupancy draws");
    if (r == RD_OK) r = device_array(ctx, &t->counters, 2, "NeRF training: counters");
    if (r == RD_OK) r = device_array(ctx, &t->loss_sum, 1, "NeRF training: loss");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaMallocHost((void **)&t->host_counters, 2 * sizeof(int64_t)), "NeRF training: counters");
    if (r == RD_OK) r = rd_nerf_field_scratch_cuda_reserve(ctx, t->field, batch, &t->scratch);
    if (r == RD_OK) r = rd_occupancy_cuda_create(ctx, &d->scene->occupancy, &t->occupancy);
    t->timed = getenv("RADIANT_NERF_STAGE_TIMES") != NULL;
    for (int k = 0; k <= STAGES && t->timed; k++) cudaEventCreate(&t->marks[k]);
    if (r == RD_OK) {
        size_t bytes = sizeof(float) * (size_t)t->params_count;
        cudaError_t err = cudaMemcpy(t->cameras, d->cameras, sizeof(rd_camera) * d->views, cudaMemcpyHostToDevice);
        if (err == cudaSuccess) err = cudaMemcpy(t->widths, d->widths, sizeof(int) * d->views, cudaMemcpyHostToDevice);
        if (err == cudaSuccess) err = cudaMemcpy(t->heights, d->heights, sizeof(int) * d->views, cudaMemcpyHostToDevice);
        if (err == cudaSuccess) err = cudaMemcpy(t->photo_at, at, sizeof(long long) * d->views, cudaMemcpyHostToDevice);
        for (int k = 0; k < d->views && err == cudaSuccess; k++)
            err = cudaMemcpy(t->photos + at[k], d->photos[k], 8ull * d->widths[k] * d->heights[k], cudaMemcpyHostToDevice);
        if (err == cudaSuccess) err = cudaMemcpy(t->params, d->scene->params, bytes, cudaMemcpyHostToDevice);
        if (err == cudaSuccess) err = cudaMemset(t->m, 0, bytes);
        if (err == cudaSuccess) err = cudaMemset(t->v, 0, bytes);
        if (err == cudaSuccess && t->average) err = cudaMemset(t->average, 0, bytes);
        if (err == cudaSuccess && t->admm_z) err = cudaMemset(t->admm_z, 0, sizeof(float) * (size_t)cells_mask);
        if (err == cudaSuccess && t->admm_u) err = cudaMemset(t->admm_u, 0, sizeof(float) * (size_t)cells_mask);
        if (err == cudaSuccess) err = cudaMemset(t->loss_sum, 0, sizeof(double));
        r = rd_cuda_check(ctx, err, "NeRF training: uploading the views and the field");
    }
    free(at);
    if (r != RD_OK) {
        rd_nerf_train_cuda_destroy(t);
        return r;
    }
    *out = t;
    return RD_OK;
}

/* HollowNeRF's pruner at step `step` (train.c's prune): every admm_every steps from the
   first, z and the dual take their update; every step, the penalty's gradient joins the
   mask's. */
static rd_result prune(rd_nerf_train_cuda *t, int step, cudaStream_t st)
{
    const rd_nerf_field *f = t->field;
    int64_t n = rd_saliency_cells(&f->saliency);
    const float *logits = t->params + f->saliency_offset;
    rd_result r = RD_OK;
    if (step % t->desc.admm_every == 0)
        r = rd_admm_update_cuda(t->ctx, logits, n, (double)t->desc.prune_budget * (double)n, t->admm_z, t->admm_u, &t->admm, st);
    if (r == RD_OK)
        r = rd_admm_penalty_gradient_cuda(t->ctx, logits, t->admm_z, t->admm_u, n, t->desc.admm_rho, t->grad + f->saliency_offset, st);
    return r;
}

/* The occupancy grid's update at (schedule) step s: the draws, the density at them in
   batches the scratch holds, then the rest. */
static rd_result update_occupancy(rd_nerf_train_cuda *t, int s, cudaStream_t st)
{
    rd_result r = rd_occupancy_update_points_cuda(t->ctx, &t->occupancy, s, t->occupancy_points, t->occupancy_cells, st);
    int64_t count = rd_occupancy_update_count(t->occupancy.cascades, s);
    for (int64_t at = 0; at < count && r == RD_OK; at += t->scratch.capacity) {
        int64_t n = count - at < t->scratch.capacity ? count - at : t->scratch.capacity;
        r = rd_nerf_field_density_cuda(t->ctx, t->field, t->params, t->occupancy_points + 3 * at, n, &t->scratch,
                                       t->occupancy_sigma + at, st);
    }
    if (r == RD_OK) r = rd_occupancy_update_apply_cuda(t->ctx, &t->occupancy, count, t->occupancy_cells, t->occupancy_sigma, st);
    return r;
}

/* Waits for the stream: *total (the device's counters[0], the march's or the compaction's
   total) and *taken, the rays whose samples start before it (train.c's rule), for the
   launches that follow. */
static rd_result read_counts(rd_nerf_train_cuda *t, int64_t rays, const int32_t *offset, cudaStream_t st, const char *what,
                             int64_t *total, int64_t *taken)
{
    cudaMemsetAsync(t->counters + 1, 0, sizeof(int64_t), st);
    taken_kernel<<<blocks(rays), THREADS, 0, st>>>(rays, offset, t->counters, t->counters + 1);
    cudaMemcpyAsync(t->host_counters, t->counters, 2 * sizeof(int64_t), cudaMemcpyDeviceToHost, st);
    rd_result r = rd_cuda_check(t->ctx, cudaStreamSynchronize(st), what);
    *total = t->host_counters[0], *taken = t->host_counters[1];
    return r;
}

extern "C" rd_result rd_nerf_train_cuda_step(rd_nerf_train_cuda *t, int step, int64_t rays, int64_t *taken_out, int64_t *total_out)
{
    rd_context *ctx = t->ctx;
    cudaStream_t st = rd_cuda(ctx)->stream;
    const rd_nerf_trainer_desc *d = &t->desc;
    rd_result r = reserve_rays(t, rays);
    if (r != RD_OK) return r;
    mark(t, 0, st);
    draw_kernel<<<blocks(rays), THREADS, 0, st>>>(rays, d->seed, step, t->views, t->widths, t->heights, t->cameras, t->photo_at,
                                                   t->photos, d->random_background, d->background[0], d->background[1],
                                                   d->background[2], t->scale, t->offset[0], t->offset[1], t->offset[2],
                                                   t->origins, t->dirs_ray, t->t_min, t->jitter, t->target, t->background);
    r = rd_cuda_check(ctx, cudaGetLastError(), "NeRF training: rays");
    if (r == RD_OK)
        r = rd_occupancy_march_rays_cuda(ctx, &t->occupancy, rays, t->origins, t->dirs_ray, t->t_min, NULL, t->jitter, RD_NERF_MAX_SAMPLES,
                                         MARCH_FACTOR * d->batch_samples, t->marched, t->march_offset, t->march_count, t->counters, st);
    if (r != RD_OK) return r;
    /* wait 1: how many samples the march kept, for the density's launch */
    int64_t marched = 0, marched_rays = 0;
    r = read_counts(t, rays, t->march_offset, st, "NeRF training: march", &marched, &marched_rays);
    if (r != RD_OK) return r;
    if (marched_rays > 0) /* a launch of no blocks is an error */
        positions_kernel<<<blocks(32 * marched_rays), THREADS, 0, st>>>(marched_rays, t->march_offset, t->march_count, t->counters, t->marched,
                                                                t->origins, t->dirs_ray, t->march_pos, NULL);
    for (int64_t at = 0; at < marched && r == RD_OK; at += t->scratch.capacity) {
        int64_t n = marched - at < t->scratch.capacity ? marched - at : t->scratch.capacity;
        r = rd_nerf_field_density_cuda(ctx, t->field, t->params, t->march_pos + 3 * at, n, &t->scratch, t->march_sigma + at, st);
    }
    if (r != RD_OK) return r;
    /* the samples compositing reaches, compacted: whole rays in order while they fit the batch */
    used_kernel<<<blocks(rays), THREADS, 0, st>>>(rays, t->march_offset, t->march_count, t->counters, t->marched, t->march_sigma,
                                                   t->count_buf);
    rd_cuda_scan_plan plan = {t->scan_temp.ptr, t->scan_temp.bytes, st};
    r = rd_cuda_check(ctx, rd_cuda_scan(&plan, (const unsigned *)t->count_buf, (unsigned *)t->offset_buf, rays, true),
                      "NeRF training: compaction");
    if (r != RD_OK) return r;
    compact_kernel<<<blocks(32 * rays), THREADS, 0, st>>>(rays, t->march_offset, t->marched, d->batch_samples, t->offset_buf, t->count_buf,
                                                      t->counters, t->samples);
    uncompacted_kernel<<<blocks(rays), THREADS, 0, st>>>(rays, t->counters, d->batch_samples, t->offset_buf, t->count_buf);
    /* wait 2: the compacted samples and rays, for the field's launches */
    int64_t total = 0, taken = 0;
    r = read_counts(t, rays, t->offset_buf, st, "NeRF training: compaction", &total, &taken);
    if (r != RD_OK) return r;
    mark(t, 1, st);
    if (taken > 0)
        positions_kernel<<<blocks(32 * taken), THREADS, 0, st>>>(taken, t->offset_buf, t->count_buf, t->counters, t->samples, t->origins,
                                                         t->dirs_ray, t->sample_pos, t->sample_dir);
    r = rd_nerf_field_forward_cuda(ctx, t->field, t->params, t->sample_pos, t->sample_dir, total, &t->scratch, t->sigma, t->rgb, st);
    if (r != RD_OK) return r;
    mark(t, 2, st);
    if (taken > 0)
        composite_loss_kernel<<<blocks(taken), THREADS, 0, st>>>(taken, t->offset_buf, t->count_buf, t->samples, t->sigma, t->rgb,
                                                                  t->background, t->target, d->loss == RD_NERF_LOSS_L2,
                                                                  1.0f / (3.0f * (float)taken), t->g_sigma, t->g_rgb, t->loss_sum);
    cudaMemsetAsync(t->grad, 0, sizeof(float) * (size_t)t->params_count, st);
    r = rd_cuda_check(ctx, cudaGetLastError(), "NeRF training: compositing");
    mark(t, 3, st);
    if (r == RD_OK)
        r = rd_nerf_field_backward_cuda(ctx, t->field, t->params, t->sample_pos, total, &t->scratch, t->g_sigma, t->g_rgb, t->grad, st);
    if (r == RD_OK && t->admm_z) r = prune(t, step, st);
    if (r != RD_OK) return r;
    mark(t, 4, st);
    int update = step + 1;
    float lr = rd_nerf_learning_rate(d->learning_rate, step);
    float size = lr / (1.0f - powf(0.9f, (float)update)), root_c2 = sqrtf(1.0f - powf(0.99f, (float)update));
    adam_kernel<<<blocks(t->params_count), THREADS, 0, st>>>(t->params_count, t->table_count, t->field->saliency_offset, t->params,
                                                              t->m, t->v, t->grad, size, root_c2, t->average, t->average_decay);
    t->updates = update;
    r = rd_cuda_check(ctx, cudaGetLastError(), "NeRF training: Adam");
    mark(t, 5, st);
    if (r == RD_OK && rd_nerf_occupancy_due(step, d->occupancy_warmup, d->occupancy_every))
        r = update_occupancy(t, rd_nerf_occupancy_step(step, d->occupancy_warmup), st);
    mark(t, 6, st);
    if (t->timed && r == RD_OK && cudaEventSynchronize(t->marks[STAGES]) == cudaSuccess) {
        for (int k = 0; k < STAGES; k++) {
            float ms = 0.0f;
            cudaEventElapsedTime(&ms, t->marks[k], t->marks[k + 1]);
            t->stage_ms[k] += ms;
        }
        t->timed_steps++;
    }
    *taken_out = taken, *total_out = total;
    return r;
}

extern "C" rd_result rd_nerf_train_cuda_loss(rd_nerf_train_cuda *t, double *sum)
{
    cudaStream_t st = rd_cuda(t->ctx)->stream;
    cudaError_t err = cudaMemcpyAsync(sum, t->loss_sum, sizeof(double), cudaMemcpyDeviceToHost, st);
    if (err == cudaSuccess) err = cudaStreamSynchronize(st);
    if (err == cudaSuccess) err = cudaMemsetAsync(t->loss_sum, 0, sizeof(double), st);
    return rd_cuda_check(t->ctx, err, "NeRF training: the loss");
}

extern "C" rd_result rd_nerf_train_cuda_gradient(rd_nerf_train_cuda *t, float *out)
{
    cudaError_t err = cudaStreamSynchronize(rd_cuda(t->ctx)->stream);
    if (err == cudaSuccess) err = cudaMemcpy(out, t->grad, sizeof(float) * (size_t)t->params_count, cudaMemcpyDeviceToHost);
    return rd_cuda_check(t->ctx, err, "NeRF training: downloading the gradient");
}

extern "C" rd_result rd_nerf_train_cuda_mask(rd_nerf_train_cuda *t, float *logits)
{
    const rd_nerf_field *f = t->field;
    cudaError_t err = cudaStreamSynchronize(rd_cuda(t->ctx)->stream);
    if (err == cudaSuccess && f->saliency.resolution)
        err = cudaMemcpy(logits, t->params + f->saliency_offset, sizeof(float) * (size_t)(f->params - f->saliency_offset),
                         cudaMemcpyDeviceToHost);
    return rd_cuda_check(t->ctx, err, "NeRF training: downloading the saliency mask");
}

extern "C" rd_result rd_nerf_train_cuda_download(rd_nerf_train_cuda *t, rd_nerf_scene *scene)
{
    cudaStream_t st = rd_cuda(t->ctx)->stream;
    rd_result r = rd_cuda_check(t->ctx, cudaStreamSynchronize(st), "NeRF training");
    const float *from = t->average && t->updates > 0 ? t->average : t->params;
    if (r == RD_OK)
        r = rd_cuda_check(t->ctx, cudaMemcpy(scene->params, from, sizeof(float) * (size_t)t->params_count, cudaMemcpyDeviceToHost),
                          "NeRF training: downloading the parameters");
    if (r == RD_OK && from == t->average) rd_nerf_average_unbias(scene->params, t->params_count, t->average_decay, t->updates);
    if (r == RD_OK) r = rd_occupancy_cuda_download(t->ctx, &t->occupancy, &scene->occupancy);
    return r;
}
