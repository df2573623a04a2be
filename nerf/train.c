/* train.c: fitting a NeRF to photos on the CPU (radiant_nerf.h, rd_nerf_trainer), the
   specification of the GPU trainer. A step:
   1. draws rays (a view, a point in it uniformly, a background), each ray's target its
      photo's pixel there composited on the ray's background;
   2. marches them through the occupancy grid and keeps whole rays, in order, while their
      samples fit the batch (rays a step adapt so that the batch stays about full);
   3. runs the field at the samples, composites each ray, takes the loss (Huber, delta
      0.1, in its smooth-L1 form, or L2; mean over rays and channels) and its gradient back
      through the compositing and the field;
   4. Adam: the hash table's entries without gradient keep their values and moments, the
      networks' weights take L2 1e-6; lr x 0.33 every 10,000 steps from 20,000;
   5. updates the occupancy grid when due.
   Every sum runs in a fixed order: a seed repeats a run bit for bit. */
#include "scene.h"
#include "volume.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_BATCH = 1 << 18, MIN_RAYS = 64 };

typedef struct train_photo {
    int width, height;
    uint16_t *rgba; /* width*height*4, value * 65535 (exact for 8-bit photos) */
} train_photo;

/* A step's rays and samples, grown as needed. */
typedef struct step_buffers {
    int64_t ray_capacity, sample_capacity;
    rd_nerf_ray *rays;
    float *target, *background; /* 3 a ray */
    float *t_min;               /* where a ray's march starts: its camera's near plane */
    int *marched;               /* samples a ray, before packing */
    rd_march_sample *slots;     /* RD_NERF_MAX_SAMPLES a ray */
    int64_t *first;             /* a kept ray's first sample */
    double *ray_loss;
    float *t, *dt, *positions, *dirs, *sigma, *rgb, *g_sigma, *g_rgb;
    rd_nerf_field_scratch field;
} step_buffers;

struct rd_nerf_trainer {
    rd_context *ctx;
    rd_nerf_trainer_desc desc; /* views not kept */
    int view_count;
    rd_camera *cameras;
    train_photo *photos;
    rd_nerf_scene *scene;
    float *grad, *m, *v;
    int step;
    int64_t rays; /* a step's, adapted */
    rd_rng rng;
    step_buffers b;
    rd_nerf_field_scratch density_scratch; /* the occupancy update's batches */
};

static void buffers_free(step_buffers *b)
{
    free(b->rays), free(b->target), free(b->background), free(b->t_min), free(b->marched), free(b->slots), free(b->first), free(b->ray_loss);
    free(b->t), free(b->dt), free(b->positions), free(b->dirs), free(b->sigma), free(b->rgb), free(b->g_sigma), free(b->g_rgb);
    rd_nerf_field_scratch_free(&b->field);
    memset(b, 0, sizeof *b);
}

static rd_result reserve_rays(rd_nerf_trainer *t, int64_t n)
{
    step_buffers *b = &t->b;
    if (n <= b->ray_capacity) return RD_OK;
    free(b->rays), free(b->target), free(b->background), free(b->t_min), free(b->marched), free(b->slots), free(b->first), free(b->ray_loss);
    b->rays = rd_alloc_array(n, sizeof *b->rays);
    b->target = rd_alloc_array(3 * n, sizeof(float)), b->background = rd_alloc_array(3 * n, sizeof(float));
    b->t_min = rd_alloc_array(n, sizeof(float));
    b->marched = rd_alloc_array(n, sizeof(int)), b->first = rd_alloc_array(n, sizeof(int64_t));
    b->slots = rd_alloc_array(n * RD_NERF_MAX_SAMPLES, sizeof(rd_march_sample));
    b->ray_loss = rd_alloc_array(n, sizeof(double));
    b->ray_capacity = b->rays && b->t_min && b->target && b->background && b->marched && b->first && b->slots && b->ray_loss ? n : 0;
    return b->ray_capacity ? RD_OK : rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: cannot hold %lld rays", (long long)n);
}

static rd_result reserve_samples(rd_nerf_trainer *t, int64_t n)
{
    step_buffers *b = &t->b;
    if (n <= b->sample_capacity) return RD_OK;
    free(b->t), free(b->dt), free(b->positions), free(b->dirs), free(b->sigma), free(b->rgb), free(b->g_sigma), free(b->g_rgb);
    rd_nerf_field_scratch_free(&b->field);
    b->sample_capacity = 0;
    b->t = rd_alloc_array(n, sizeof(float)), b->dt = rd_alloc_array(n, sizeof(float)), b->sigma = rd_alloc_array(n, sizeof(float));
    b->g_sigma = rd_alloc_array(n, sizeof(float));
    b->positions = rd_alloc_array(3 * n, sizeof(float)), b->dirs = rd_alloc_array(3 * n, sizeof(float));
    b->rgb = rd_alloc_array(3 * n, sizeof(float)), b->g_rgb = rd_alloc_array(3 * n, sizeof(float));
    if (!b->t || !b->dt || !b->sigma || !b->g_sigma || !b->positions || !b->dirs || !b->rgb || !b->g_rgb)
        return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: cannot hold %lld samples", (long long)n);
    rd_result r = rd_nerf_field_scratch_alloc(t->ctx, &t->scene->field, n, &b->field);
    if (r == RD_OK) b->sample_capacity = n;
    return r;
}

static rd_result copy_photo(rd_context *ctx, int k, const rd_train_view *view, train_photo *out)
{
    const rd_image *im = view->image;
    if (!im || !im->pixels || (im->channels != 3 && im->channels != 4))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: views[%d].image: expected an RGB or RGBA image", k);
    if (im->width != view->camera.width || im->height != view->camera.height)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: views[%d]: the image is %dx%d, its camera %dx%d", k, im->width,
                       im->height, view->camera.width, view->camera.height);
    char why[256];
    const char *problem = rd_camera_problem(&view->camera, why, sizeof why);
    if (problem) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: views[%d].camera: %s", k, problem);
    int64_t pixels = (int64_t)im->width * im->height;
    out->width = im->width, out->height = im->height;
    if (!(out->rgba = rd_alloc_array(4 * pixels, sizeof(uint16_t))))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: cannot hold view %d's photo", k);
    for (int64_t p = 0; p < pixels; p++)
        for (int c = 0; c < 4; c++) {
            float v = c < im->channels ? im->pixels[p * im->channels + c] : 1.0f;
            v = isfinite(v) ? fminf(fmaxf(v, 0.0f), 1.0f) : 0.0f;
            out->rgba[4 * p + c] = (uint16_t)lrintf(v * 65535.0f);
        }
    return RD_OK;
}

rd_result rd_nerf_trainer_create(rd_context *ctx, const rd_nerf_trainer_desc *desc, rd_nerf_trainer **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_trainer_create: out is NULL");
    *out = NULL;
    if (!desc || !desc->views || desc->view_count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: views: at least one view is required");
    if (desc->batch_samples < 0 || desc->batch_samples > (1 << 26))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: batch_samples %d is out of range (0: 2^18, else 1..2^26)",
                       desc->batch_samples);
    if (!(desc->learning_rate >= 0.0f && desc->learning_rate < 1e3f))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: learning_rate %g is out of range", desc->learning_rate);
    if (desc->occupancy_warmup < 0 || desc->occupancy_every < 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: occupancy_warmup %d / occupancy_every %d: negative",
                       desc->occupancy_warmup, desc->occupancy_every);
    if ((unsigned)desc->loss > RD_NERF_LOSS_L2) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: loss %d: unknown", desc->loss);
    for (int c = 0; c < 3; c++)
        if (!(desc->background[c] >= 0.0f && desc->background[c] <= 1.0f))
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: background[%d] %g is outside [0, 1]", c, desc->background[c]);
    rd_nerf_trainer *t = calloc(1, sizeof *t);
    if (!t) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: out of memory");
    t->ctx = ctx;
    t->desc = *desc;
    t->desc.views = NULL;
    if (!t->desc.batch_samples) t->desc.batch_samples = DEFAULT_BATCH;
    if (t->desc.learning_rate == 0.0f) t->desc.learning_rate = 1e-2f;
    if (!t->desc.occupancy_warmup) t->desc.occupancy_warmup = 256;
    if (!t->desc.occupancy_every) t->desc.occupancy_every = 16;
    t->rng.state = desc->seed * 0x9E3779B97F4A7C15ull + 0x5851F42D4C957F2Dull;
    t->view_count = desc->view_count;
    t->rays = t->desc.batch_samples / 16 > MIN_RAYS ? t->desc.batch_samples / 16 : MIN_RAYS;
    rd_result r = RD_OK;
    t->cameras = calloc((size_t)desc->view_count, sizeof *t->cameras);
    t->photos = calloc((size_t)desc->view_count, sizeof *t->photos);
    if (!t->cameras || !t->photos) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: out of memory for the views");
    for (int k = 0; k < desc->view_count && r == RD_OK; k++) {
        t->cameras[k] = desc->views[k].camera;
        r = copy_photo(ctx, k, &desc->views[k], &t->photos[k]);
    }
    if (r == RD_OK) r = rd_nerf_scene_new(ctx, &desc->field, &t->scene);
    if (r == RD_OK) {
        int64_t n = t->scene->field.params;
        t->grad = rd_alloc_array(n, sizeof(float)), t->m = calloc((size_t)n, sizeof(float)), t->v = calloc((size_t)n, sizeof(float));
        if (!t->grad || !t->m || !t->v) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: cannot hold %lld parameters' moments", (long long)n);
    }
    if (r == RD_OK) r = rd_nerf_field_scratch_alloc(ctx, &t->scene->field, 65536, &t->density_scratch);
    if (r != RD_OK) {
        rd_nerf_trainer_destroy(t);
        return r;
    }
    rd_nerf_field_init(&t->scene->field, desc->field.seed ? desc->field.seed : desc->seed, t->scene->params);
    *out = t;
    return RD_OK;
}

void rd_nerf_trainer_destroy(rd_nerf_trainer *t)
{
    if (!t) return;
    for (int k = 0; t->photos && k < t->view_count; k++) free(t->photos[k].rgba);
    free(t->photos), free(t->cameras), free(t->grad), free(t->m), free(t->v);
    buffers_free(&t->b);
    rd_nerf_field_scratch_free(&t->density_scratch);
    rd_nerf_scene_free(t->scene);
    free(t);
}

const rd_scene *rd_nerf_trainer_scene(const rd_nerf_trainer *t) { return t ? (const rd_scene *)t->scene : NULL; }

/* Ray k's view, position, background and target, in draw order. */
static void draw_ray(rd_nerf_trainer *t, int64_t k)
{
    step_buffers *b = &t->b;
    int view = (int)(rd_rng_next(&t->rng) % (uint64_t)t->view_count);
    const train_photo *ph = &t->photos[view];
    float u = rd_rng_uniform(&t->rng) * (float)ph->width, v = rd_rng_uniform(&t->rng) * (float)ph->height;
    int x = (int)u < ph->width ? (int)u : ph->width - 1, y = (int)v < ph->height ? (int)v : ph->height - 1;
    float *bg = b->background + 3 * k;
    for (int c = 0; c < 3; c++) bg[c] = t->desc.random_background ? rd_rng_uniform(&t->rng) : t->desc.background[c];
    const uint16_t *px = ph->rgba + 4 * ((int64_t)y * ph->width + x);
    float alpha = px[3] / 65535.0f;
    for (int c = 0; c < 3; c++) b->target[3 * k + c] = px[c] / 65535.0f * alpha + bg[c] * (1.0f - alpha);
    const rd_camera *camera = &t->cameras[view];
    b->rays[k] = rd_nerf_camera_ray(t->scene, camera, u, v);
    b->t_min[k] = (camera->near_plane > 0.0f ? camera->near_plane : 0.01f) * b->rays[k].field_per_depth;
}

typedef struct ray_job {
    rd_nerf_trainer *t;
} ray_job;

static void march_rays(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    rd_nerf_trainer *t = ((ray_job *)user)->t;
    step_buffers *b = &t->b;
    for (int64_t k = begin; k < end; k++) {
        const rd_nerf_ray *ray = &b->rays[k];
        b->marched[k] = rd_occupancy_march(&t->scene->occupancy, ray->origin, ray->dir, b->t_min[k], INFINITY,
                                           RD_NERF_MAX_SAMPLES, b->slots + k * RD_NERF_MAX_SAMPLES);
    }
}

/* The loss of one channel's error e, and its derivative. */
static double channel_loss(rd_nerf_loss loss, float e, float *slope)
{
    const float delta = 0.1f;
    if (loss == RD_NERF_LOSS_L2) {
        *slope = 2.0f * e;
        return (double)e * e;
    }
    if (fabsf(e) < delta) {
        *slope = e / delta;
        return 0.5 * (double)e * e / delta;
    }
    *slope = e > 0.0f ? 1.0f : -1.0f;
    return fabs((double)e) - 0.5 * delta;
}

typedef struct composite_job {
    rd_nerf_trainer *t;
    int64_t kept;
    float scale; /* d(mean loss) / d(a channel's loss) */
} composite_job;

static void composite_rays(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const composite_job *j = user;
    step_buffers *b = &j->t->b;
    for (int64_t k = begin; k < end; k++) {
        int64_t f = b->first[k];
        rd_ray_samples s = {b->marched[k], b->t + f, b->dt + f, b->sigma + f, b->rgb + 3 * f};
        rd_ray_colour out;
        rd_volume_composite(&s, b->background + 3 * k, &out);
        float g_rgb[3];
        double loss = 0.0;
        for (int c = 0; c < 3; c++) {
            loss += channel_loss(j->t->desc.loss, out.rgb[c] - b->target[3 * k + c], &g_rgb[c]);
            g_rgb[c] *= j->scale;
        }
        b->ray_loss[k] = loss;
        rd_volume_backward(&s, &out, g_rgb, 0.0f, 0.0f, b->g_sigma + f, b->g_rgb + 3 * f);
    }
}

static void density_at(const float *points, int64_t n, float *sigma, void *user)
{
    rd_nerf_trainer *t = user;
    rd_nerf_field_density(t->ctx, &t->scene->field, t->scene->params, points, n, &t->density_scratch, sigma);
}

/* Adam on the parameters (radiant_nerf.h's settings). */
static void adam(rd_nerf_trainer *t)
{
    const float b1 = 0.9f, b2 = 0.99f, eps = 1e-15f, l2 = 1e-6f;
    int step = t->step + 1;
    float lr = t->desc.learning_rate;
    for (int at = 20000; at <= t->step; at += 10000) lr *= 0.33f;
    float c1 = 1.0f - powf(b1, (float)step), root_c2 = sqrtf(1.0f - powf(b2, (float)step)), size = lr / c1;
    int64_t table = t->scene->field.density_offset, n = t->scene->field.params;
    float *p = t->scene->params;
    for (int64_t i = 0; i < n; i++) {
        float g = t->grad[i];
        if (i < table) {
            if (g == 0.0f) continue; /* an entry no sample reached keeps its moments */
        } else {
            g += l2 * p[i];
        }
        t->m[i] = b1 * t->m[i] + (1.0f - b1) * g;
        t->v[i] = b2 * t->v[i] + (1.0f - b2) * g * g;
        p[i] -= size * t->m[i] / (sqrtf(t->v[i]) / root_c2 + eps);
    }
}

static rd_result one_step(rd_nerf_trainer *t, double *loss, int64_t *rays_kept, int64_t *samples_kept)
{
    rd_context *ctx = t->ctx;
    step_buffers *b = &t->b;
    int64_t rays = t->rays;
    rd_result r = reserve_rays(t, rays);
    if (r != RD_OK) return r;
    for (int64_t k = 0; k < rays; k++) draw_ray(t, k);
    ray_job job = {t};
    rd_parallel_for(ctx->threads, rays, 64, march_rays, &job);
    /* whole rays in order while they fit the batch (a prefix sum's rule, for the GPU) */
    int64_t kept = 0, total = 0, marched_total = 0;
    bool full = false;
    for (int64_t k = 0; k < rays; k++) {
        int m = b->marched[k];
        marched_total += m;
        full |= total + m > t->desc.batch_samples;
        if (full) continue;
        if (kept != k) {
            b->rays[kept] = b->rays[k];
            memcpy(b->target + 3 * kept, b->target + 3 * k, 3 * sizeof(float));
            memcpy(b->background + 3 * kept, b->background + 3 * k, 3 * sizeof(float));
            memcpy(b->slots + kept * RD_NERF_MAX_SAMPLES, b->slots + k * RD_NERF_MAX_SAMPLES, sizeof(rd_march_sample) * (size_t)m);
        }
        b->marched[kept] = m;
        b->first[kept] = total;
        total += m;
        kept++;
    }
    r = reserve_samples(t, total > 0 ? total : 1);
    if (r != RD_OK) return r;
    for (int64_t k = 0; k < kept; k++)
        for (int i = 0; i < b->marched[k]; i++) {
            int64_t s = b->first[k] + i;
            const rd_march_sample *m = &b->slots[k * RD_NERF_MAX_SAMPLES + i];
            b->t[s] = m->t, b->dt[s] = m->dt;
            for (int a = 0; a < 3; a++) {
                b->positions[3 * s + a] = b->rays[k].origin[a] + m->t * b->rays[k].dir[a];
                b->dirs[3 * s + a] = b->rays[k].dir[a];
            }
        }
    rd_nerf_field_forward(ctx, &t->scene->field, t->scene->params, b->positions, b->dirs, total, &b->field, b->sigma, b->rgb);
    composite_job cj = {t, kept, 1.0f / (3.0f * (float)(kept > 0 ? kept : 1))};
    rd_parallel_for(ctx->threads, kept, 64, composite_rays, &cj);
    double sum = 0.0;
    for (int64_t k = 0; k < kept; k++) sum += b->ray_loss[k];
    *loss = kept ? sum / (3.0 * (double)kept) : 0.0;
    memset(t->grad, 0, sizeof(float) * (size_t)t->scene->field.params);
    r = rd_nerf_field_backward(ctx, &t->scene->field, t->scene->params, b->positions, total, &b->field, b->g_sigma, b->g_rgb, t->grad);
    if (r != RD_OK) return r;
    adam(t);
    /* the next step's rays: as many as fill the batch at this step's samples a ray */
    double per_ray = rays ? (double)marched_total / (double)rays : 1.0;
    double next = (double)t->desc.batch_samples / (per_ray > 1.0 ? per_ray : 1.0);
    t->rays = next < MIN_RAYS ? MIN_RAYS : next > t->desc.batch_samples ? t->desc.batch_samples : (int64_t)next;
    /* the occupancy grid on the spec's schedule, the warm-up's length and the interval as asked */
    int warmup = t->desc.occupancy_warmup, step = t->step;
    if (step < warmup || (step - warmup) % t->desc.occupancy_every == 0) {
        int schedule_step = step < warmup ? step % 256 : 256 + (step - warmup);
        r = rd_occupancy_update(ctx, &t->scene->occupancy, schedule_step, density_at, t);
        if (r != RD_OK) return r;
    }
    t->step++;
    *rays_kept = kept, *samples_kept = total;
    return RD_OK;
}

rd_result rd_nerf_trainer_step(rd_nerf_trainer *t, int steps, rd_nerf_train_stats *stats)
{
    if (!t) return RD_ERROR_INVALID_ARGUMENT;
    if (steps < 0) return rd_fail(t->ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_trainer_step: steps %d is negative", steps);
    double sum = 0.0, loss = 0.0;
    int64_t rays = 0, samples = 0;
    for (int k = 0; k < steps; k++) {
        rd_result r = one_step(t, &loss, &rays, &samples);
        if (r != RD_OK) return r;
        sum += loss;
    }
    if (stats) {
        *stats = (rd_nerf_train_stats){.iteration = t->step, .loss = steps ? sum / steps : 0.0, .rays = rays, .samples = samples};
        for (int64_t i = 0; i < (int64_t)t->scene->occupancy.cascades * RD_OCCUPANCY_CELLS; i++)
            stats->occupied_cells += t->scene->occupancy.bits[0][i];
    }
    t->scene->head = rd_scene_head_new(RD_SCENE_NERF); /* the parameters changed: caches must not match */
    return RD_OK;
}

rd_result rd_nerf_trainer_create_from_set(rd_context *ctx, const rd_train_set *set, const rd_nerf_trainer_desc *desc,
                                          rd_nerf_trainer **out)
{
    if (!set || !desc) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_trainer_create_from_set: set and desc are required");
    rd_nerf_trainer_desc d = *desc;
    d.views = rd_train_set_views(set);
    d.view_count = rd_train_set_count(set);
    rd_train_set_box(set, d.field.box_min, d.field.box_max);
    if (!d.field.aabb_scale) {
        const char *kind = rd_train_set_kind(set);
        d.field.aabb_scale = rd_train_set_aabb_scale(set);
        if (!d.field.aabb_scale) d.field.aabb_scale = strcmp(kind, "blender") == 0 || strcmp(kind, "rtmv") == 0 ? 1 : 16;
    }
    return rd_nerf_trainer_create(ctx, &d, out);
}
