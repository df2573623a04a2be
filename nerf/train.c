/* train.c: fitting a NeRF to photos on the CPU (radiant_nerf.h, rd_nerf_trainer), the
   specification of the GPU trainer. A step:
   1. draws rays (rays.h: a view, a point in it uniformly, a background), each ray's
      target its photo's pixel there composited on the ray's background;
   2. marches them through the occupancy grid (up to 4 x the batch of samples, whole rays
      in order: rd_occupancy_march_rays), takes the density at every marched sample, and
      keeps of each ray the samples compositing reaches (it stops under transmittance
      1e-4: rd_volume_used_ray), whole rays in order while they fit the batch, as
      Instant-NGP trains on its compacted samples; the rays whose kept samples start
      before their total are the step's, and the next step draws batch / (kept samples a
      ray) of them;
   3. runs the field at the samples, composites each ray, takes the loss (Huber, delta
      0.1, in its smooth-L1 form, or L2; mean over rays and channels) and its gradient back
      through the compositing and the field;
   4. Adam: the hash table's entries without gradient keep their values and moments, the
      networks' weights take L2 1e-6; lr x 0.33 every 10,000 steps from 20,000; the
      parameters' moving average (average_decay) follows them;
   5. updates the occupancy grid when due.
   The trainer's scene (rd_nerf_trainer_scene) holds the average, made when asked; the
   steps run on the live parameters (t->params, or the device's).
   Every sum runs in a fixed order: a seed repeats a run bit for bit. */
#include "scene.h"
#include "volume.h"
#include "train_rules.h"
#ifdef RD_HAVE_CUDA
#include "train_cuda.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DEFAULT_BATCH = 1 << 18, MIN_RAYS = 64, MARCH_FACTOR = 4 }; /* a step marches up to 4 x the batch */

typedef struct train_photo {
    int width, height;
    uint16_t *rgba; /* width*height*4, value * 65535 (exact for 8-bit photos) */
} train_photo;

/* A step's rays and samples, grown as needed. */
typedef struct step_buffers {
    int64_t ray_capacity, sample_capacity;
    float *origins, *dirs_ray, *t_min;     /* 3, 3, 1 a ray */
    float *jitter;                         /* the march's shift of a ray's samples, a fraction of a step */
    float *target, *background;            /* 3 a ray */
    float *out_rgb, *out_alpha, *out_depth, *g_ray; /* the rays' colours, and dL/d colour (3 a ray) */
    int32_t *offset, *count, *used;       /* the trained samples' rays */
    int32_t *march_offset, *march_count;  /* the marched samples' */
    rd_march_sample *samples;             /* the trained samples (batch_samples) */
    float *positions, *dirs, *sigma, *rgb, *g_sigma, *g_rgb;
    int64_t march_capacity;
    rd_march_sample *marched;             /* MARCH_FACTOR x batch_samples */
    float *march_positions, *march_sigma;
    rd_nerf_field_scratch field;
} step_buffers;

struct rd_nerf_trainer {
    rd_context *ctx;
    rd_nerf_trainer_desc desc; /* views not kept */
    int view_count;
    rd_camera *cameras;
    int *widths, *heights;
    train_photo *photos;
    rd_nerf_scene *scene;
    float *params, *grad, *m, *v; /* the live parameters (CPU), their gradient and moments */
    float *average;                /* their moving average, or NULL (CPU) */
    float *admm_z, *admm_u;        /* with pruning: ADMM's split of the mask and its scaled dual (saliency.h) */
    int step;
    int64_t rays; /* a step's, adapted */
    step_buffers b;
    rd_nerf_field_scratch density_scratch; /* the occupancy update's batches */
#ifdef RD_HAVE_CUDA
    rd_nerf_train_cuda *cuda; /* on a CUDA context: the step runs there (train_cuda.h) */
#endif
    bool host_stale;          /* the scene's parameters (and grid, on CUDA) lag the training's */
};

static void free_rays(step_buffers *b)
{
    free(b->origins), free(b->dirs_ray), free(b->t_min), free(b->jitter), free(b->target), free(b->background), free(b->out_rgb);
    free(b->out_alpha), free(b->out_depth), free(b->g_ray), free(b->offset), free(b->count), free(b->used);
    free(b->march_offset), free(b->march_count);
}

static void free_samples(step_buffers *b)
{
    free(b->samples), free(b->positions), free(b->dirs), free(b->sigma), free(b->rgb), free(b->g_sigma), free(b->g_rgb);
    free(b->marched), free(b->march_positions), free(b->march_sigma);
    rd_nerf_field_scratch_free(&b->field);
}

static void buffers_free(step_buffers *b)
{
    free_rays(b), free_samples(b);
    memset(b, 0, sizeof *b);
}

static rd_result reserve_rays(rd_nerf_trainer *t, int64_t n)
{
    step_buffers *b = &t->b;
    if (n <= b->ray_capacity) return RD_OK;
    free_rays(b);
    b->origins = rd_alloc_array(3 * n, sizeof(float)), b->dirs_ray = rd_alloc_array(3 * n, sizeof(float));
    b->t_min = rd_alloc_array(n, sizeof(float)), b->jitter = rd_alloc_array(n, sizeof(float));
    b->target = rd_alloc_array(3 * n, sizeof(float));
    b->background = rd_alloc_array(3 * n, sizeof(float)), b->out_rgb = rd_alloc_array(3 * n, sizeof(float));
    b->out_alpha = rd_alloc_array(n, sizeof(float)), b->out_depth = rd_alloc_array(n, sizeof(float));
    b->g_ray = rd_alloc_array(3 * n, sizeof(float));
    b->offset = rd_alloc_array(n, sizeof(int32_t)), b->count = rd_alloc_array(n, sizeof(int32_t));
    b->used = rd_alloc_array(n, sizeof(int32_t));
    b->march_offset = rd_alloc_array(n, sizeof(int32_t)), b->march_count = rd_alloc_array(n, sizeof(int32_t));
    bool ok = b->origins && b->dirs_ray && b->t_min && b->jitter && b->target && b->background && b->out_rgb && b->out_alpha && b->out_depth &&
              b->g_ray && b->offset && b->count && b->used && b->march_offset && b->march_count;
    b->ray_capacity = ok ? n : 0;
    return ok ? RD_OK : rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: cannot hold %lld rays", (long long)n);
}

static rd_result reserve_samples(rd_nerf_trainer *t, int64_t n)
{
    step_buffers *b = &t->b;
    if (n <= b->sample_capacity) return RD_OK;
    free_samples(b);
    b->sample_capacity = 0;
    b->samples = rd_alloc_array(n, sizeof(rd_march_sample));
    b->sigma = rd_alloc_array(n, sizeof(float)), b->g_sigma = rd_alloc_array(n, sizeof(float));
    b->positions = rd_alloc_array(3 * n, sizeof(float)), b->dirs = rd_alloc_array(3 * n, sizeof(float));
    b->rgb = rd_alloc_array(3 * n, sizeof(float)), b->g_rgb = rd_alloc_array(3 * n, sizeof(float));
    int64_t m = MARCH_FACTOR * n;
    b->marched = rd_alloc_array(m, sizeof(rd_march_sample));
    b->march_positions = rd_alloc_array(3 * m, sizeof(float)), b->march_sigma = rd_alloc_array(m, sizeof(float));
    b->march_capacity = m;
    if (!b->samples || !b->sigma || !b->g_sigma || !b->positions || !b->dirs || !b->rgb || !b->g_rgb || !b->marched ||
        !b->march_positions || !b->march_sigma)
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
    if (!(desc->average_decay < 1.0f))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: average_decay %g is not below 1 (0: 0.95, negative: none)",
                       desc->average_decay);
    if (!(desc->prune_budget >= 0.0f && desc->prune_budget <= 1.0f) || !(desc->admm_rho >= 0.0f && desc->admm_rho < 1e6f) ||
        desc->admm_every < 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF training: prune_budget %g (0..1), admm_rho %g or admm_every %d is out of range",
                       desc->prune_budget, desc->admm_rho, desc->admm_every);
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
    if (t->desc.average_decay == 0.0f) t->desc.average_decay = 0.95f;
    if (t->desc.average_decay < 0.0f) t->desc.average_decay = 0.0f; /* none */
    if (t->desc.prune_budget > 0.0f && !t->desc.field.saliency_resolution) t->desc.field.saliency_resolution = 64;
    if (t->desc.admm_rho == 0.0f) t->desc.admm_rho = 1e-3f;
    if (!t->desc.admm_every) t->desc.admm_every = 16;
    t->view_count = desc->view_count;
    t->rays = t->desc.batch_samples / 16 > MIN_RAYS ? t->desc.batch_samples / 16 : MIN_RAYS;
    rd_result r = RD_OK;
    t->cameras = calloc((size_t)desc->view_count, sizeof *t->cameras);
    t->photos = calloc((size_t)desc->view_count, sizeof *t->photos);
    t->widths = calloc((size_t)desc->view_count, sizeof(int)), t->heights = calloc((size_t)desc->view_count, sizeof(int));
    if (!t->cameras || !t->photos || !t->widths || !t->heights) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: out of memory for the views");
    for (int k = 0; k < desc->view_count && r == RD_OK; k++) {
        t->cameras[k] = desc->views[k].camera;
        r = copy_photo(ctx, k, &desc->views[k], &t->photos[k]);
        t->widths[k] = t->photos[k].width, t->heights[k] = t->photos[k].height;
    }
    if (r == RD_OK) r = rd_nerf_scene_new(ctx, &t->desc.field, &t->scene);
    if (r == RD_OK) {
        int64_t n = t->scene->field.params;
        t->grad = rd_alloc_array(n, sizeof(float)), t->m = calloc((size_t)n, sizeof(float)), t->v = calloc((size_t)n, sizeof(float));
        t->params = rd_alloc_array(n, sizeof(float));
        if (t->desc.prune_budget > 0.0f) {
            int64_t cells = rd_saliency_cells(&t->scene->field.saliency);
            t->admm_z = calloc((size_t)cells, sizeof(float)), t->admm_u = calloc((size_t)cells, sizeof(float));
            if (!t->admm_z || !t->admm_u) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: cannot hold the pruner's state");
        }
        if (t->desc.average_decay > 0.0f) t->average = calloc((size_t)n, sizeof(float));
        if (!t->grad || !t->m || !t->v || !t->params || (t->desc.average_decay > 0.0f && !t->average)) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: cannot hold %lld parameters' moments", (long long)n);
    }
    if (r == RD_OK) r = rd_nerf_field_scratch_alloc(ctx, &t->scene->field, 65536, &t->density_scratch);
    if (r != RD_OK) {
        rd_nerf_trainer_destroy(t);
        return r;
    }
    rd_nerf_field_init(&t->scene->field, desc->field.seed ? desc->field.seed : desc->seed, t->scene->params);
    memcpy(t->params, t->scene->params, sizeof(float) * (size_t)t->scene->field.params);
    rd_nerf_occupancy_open(&t->scene->occupancy);
    if (ctx->backend == RD_BACKEND_VULKAN) r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "NeRF training runs on the CPU and CUDA, not Vulkan");
#ifdef RD_HAVE_CUDA
    if (r == RD_OK && ctx->backend == RD_BACKEND_CUDA) {
        const uint16_t **photos = malloc(sizeof *photos * (size_t)t->view_count);
        if (!photos) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF training: out of memory");
        for (int k = 0; photos && k < t->view_count; k++) photos[k] = t->photos[k].rgba;
        rd_nerf_train_cuda_desc cd = {&t->desc, t->view_count, t->cameras, t->widths, t->heights, photos, t->scene};
        if (r == RD_OK) r = rd_nerf_train_cuda_create(ctx, &cd, &t->cuda);
        free(photos);
        for (int k = 0; r == RD_OK && k < t->view_count; k++) { /* the device holds them now */
            free(t->photos[k].rgba);
            t->photos[k].rgba = NULL;
        }
    }
#endif
    if (r != RD_OK) {
        rd_nerf_trainer_destroy(t);
        return r;
    }
    *out = t;
    return RD_OK;
}

void rd_nerf_trainer_destroy(rd_nerf_trainer *t)
{
    if (!t) return;
    for (int k = 0; t->photos && k < t->view_count; k++) free(t->photos[k].rgba);
    free(t->photos), free(t->cameras), free(t->widths), free(t->heights), free(t->grad), free(t->m), free(t->v);
    free(t->params), free(t->average), free(t->admm_z), free(t->admm_u);
    buffers_free(&t->b);
    rd_nerf_field_scratch_free(&t->density_scratch);
#ifdef RD_HAVE_CUDA
    rd_nerf_train_cuda_destroy(t->cuda);
#endif
    rd_nerf_scene_free(t->scene);
    free(t);
}

/* The scene's parameters from the training's: the average (unbiased) or the live ones. */
static rd_result present(rd_nerf_trainer *t)
{
#ifdef RD_HAVE_CUDA
    if (t->cuda) return rd_nerf_train_cuda_download(t->cuda, t->scene);
#endif
    size_t n = (size_t)t->scene->field.params;
    memcpy(t->scene->params, t->average && t->step > 0 ? t->average : t->params, sizeof(float) * n);
    if (t->average && t->step > 0) rd_nerf_average_unbias(t->scene->params, (long long)n, t->desc.average_decay, t->step);
    return RD_OK;
}

const rd_scene *rd_nerf_trainer_scene(const rd_nerf_trainer *t)
{
    if (!t) return NULL;
    if (t->host_stale) { /* the scene is the trainer's cache: brought up to date here */
        rd_nerf_trainer *fresh = (rd_nerf_trainer *)t;
        if (present(fresh) != RD_OK) return NULL;
        fresh->host_stale = false;
    }
    return (const rd_scene *)t->scene;
}

/* The step's ray k (rays.h's draw): its ray, near plane, background and target. */
static void draw_ray(rd_nerf_trainer *t, int64_t k)
{
    step_buffers *b = &t->b;
    rd_nerf_draw d = rd_nerf_draw_ray(t->desc.seed, t->step, k, t->view_count, t->widths, t->heights, t->desc.random_background,
                                      t->desc.background);
    const train_photo *ph = &t->photos[d.view];
    int x = (int)d.u < ph->width ? (int)d.u : ph->width - 1, y = (int)d.v < ph->height ? (int)d.v : ph->height - 1;
    const uint16_t *px = ph->rgba + 4 * ((int64_t)y * ph->width + x);
    float alpha = px[3] / 65535.0f;
    for (int c = 0; c < 3; c++) {
        b->background[3 * k + c] = d.background[c];
        b->target[3 * k + c] = px[c] / 65535.0f * alpha + d.background[c] * (1.0f - alpha);
    }
    const rd_camera *camera = &t->cameras[d.view];
    rd_nerf_ray ray = rd_nerf_camera_ray(camera, t->scene->scale, t->scene->offset, d.u, d.v);
    memcpy(b->origins + 3 * k, ray.origin, sizeof ray.origin);
    memcpy(b->dirs_ray + 3 * k, ray.dir, sizeof ray.dir);
    b->t_min[k] = rd_nerf_near(camera) * ray.field_per_depth;
    b->jitter[k] = d.jitter;
}

/* Each ray's loss against its target, and the loss's gradient with respect to its colour
   (scaled to the mean over rays and channels). */
static double ray_losses(rd_nerf_trainer *t, int64_t rays, float scale)
{
    step_buffers *b = &t->b;
    double sum = 0.0;
    for (int64_t k = 0; k < rays; k++)
        for (int c = 0; c < 3; c++) {
            float slope;
            sum += rd_nerf_channel_loss(t->desc.loss == RD_NERF_LOSS_L2, b->out_rgb[3 * k + c] - b->target[3 * k + c], &slope);
            b->g_ray[3 * k + c] = slope * scale;
        }
    return sum;
}

static void density_at(const float *points, int64_t n, float *sigma, void *user)
{
    rd_nerf_trainer *t = user;
    rd_nerf_field_density(t->ctx, &t->scene->field, t->params, points, n, &t->density_scratch, sigma);
}

/* Adam on the parameters (train_rules.h): the table's entries without gradient left
   alone, the networks' weights with L2 1e-6; then their moving average. */
static void adam(rd_nerf_trainer *t)
{
    int update = t->step + 1;
    float lr = rd_nerf_learning_rate(t->desc.learning_rate, t->step);
    float size = lr / (1.0f - powf(0.9f, (float)update)), root_c2 = sqrtf(1.0f - powf(0.99f, (float)update));
    int64_t table = t->scene->field.density_offset, n = t->scene->field.params;
    int64_t mask = t->scene->field.saliency_offset; /* the mask's logits, from here to n, take no L2 */
    float *p = t->params;
    for (int64_t i = 0; i < table; i++) rd_nerf_adam_one(&p[i], &t->m[i], &t->v[i], t->grad[i], 0.0f, RD_NERF_ADAM_SKIP_ZERO, size, root_c2);
    for (int64_t i = table; i < mask; i++) rd_nerf_adam_one(&p[i], &t->m[i], &t->v[i], t->grad[i], 1e-6f, 0, size, root_c2);
    for (int64_t i = mask; i < n; i++) rd_nerf_adam_one(&p[i], &t->m[i], &t->v[i], t->grad[i], 0.0f, 0, size, root_c2);
    for (int64_t i = 0; t->average && i < n; i++) t->average[i] = rd_nerf_average_one(t->average[i], p[i], t->desc.average_decay);
}

/* HollowNeRF's pruner (saliency.h): every admm_every steps from the first, z and the dual
   take their ADMM update; every step, the penalty's gradient joins the mask's. */
static void prune(rd_nerf_trainer *t)
{
    const rd_nerf_field *f = &t->scene->field;
    int64_t cells = rd_saliency_cells(&f->saliency);
    const float *logits = t->params + f->saliency_offset;
    if (t->step % t->desc.admm_every == 0) rd_admm_update(logits, cells, (double)t->desc.prune_budget * (double)cells, t->admm_z, t->admm_u);
    rd_admm_penalty_gradient(logits, t->admm_z, t->admm_u, cells, t->desc.admm_rho, t->grad + f->saliency_offset);
}

/* The rays whose samples start before the total: a prefix of them (those kept, less
   any trailing ones without samples), counted so on every backend. */
static int64_t rays_before(const int32_t *offset, int64_t rays, int64_t total)
{
    int64_t k = 0;
    while (k < rays && offset[k] < total) k++;
    return k;
}

/* Each sample's position (and, where dirs is not NULL, its ray's direction). */
static void sample_positions(const step_buffers *b, int64_t rays, const int32_t *offset, const int32_t *count,
                             const rd_march_sample *samples, float *positions, float *dirs)
{
    for (int64_t k = 0; k < rays; k++)
        for (int i = 0; i < count[k]; i++) {
            int64_t at = offset[k] + i;
            for (int a = 0; a < 3; a++) {
                positions[3 * at + a] = b->origins[3 * k + a] + samples[at].t * b->dirs_ray[3 * k + a];
                if (dirs) dirs[3 * at + a] = b->dirs_ray[3 * k + a];
            }
        }
}

/* The next step's rays: as many as fill the batch at this step's samples a ray. */
static void next_rays(rd_nerf_trainer *t, int64_t taken, int64_t total)
{
    double next = total > 0 ? (double)t->desc.batch_samples * (double)taken / (double)total : 2.0 * (double)t->rays;
    t->rays = next < MIN_RAYS ? MIN_RAYS : next > t->desc.batch_samples ? t->desc.batch_samples : (int64_t)next;
}

static rd_result one_step(rd_nerf_trainer *t, double *loss, int64_t *rays_taken, int64_t *samples_taken)
{
    rd_context *ctx = t->ctx;
    step_buffers *b = &t->b;
    int64_t rays = t->rays, total = 0;
    rd_result r = reserve_rays(t, rays);
    if (r == RD_OK) r = reserve_samples(t, t->desc.batch_samples);
    if (r != RD_OK) return r;
    for (int64_t k = 0; k < rays; k++) draw_ray(t, k);
    int64_t marched = 0;
    r = rd_occupancy_march_rays(ctx, &t->scene->occupancy, rays, b->origins, b->dirs_ray, b->t_min, NULL, b->jitter, RD_NERF_MAX_SAMPLES,
                                b->march_capacity, b->marched, b->march_offset, b->march_count, &marched);
    if (r != RD_OK) return r;
    /* the density at every marched sample says where each ray's compositing stops */
    int64_t marched_rays = rays_before(b->march_offset, rays, marched);
    sample_positions(b, marched_rays, b->march_offset, b->march_count, b->marched, b->march_positions, NULL);
    for (int64_t at = 0; at < marched; at += b->field.capacity) {
        int64_t n = marched - at < b->field.capacity ? marched - at : b->field.capacity;
        rd_nerf_field_density(ctx, &t->scene->field, t->params, b->march_positions + 3 * at, n, &b->field, b->march_sigma + at);
    }
    /* the step trains on the composited samples alone: whole rays' in order while they fit the batch */
    for (int64_t k = 0; k < marched_rays; k++) {
        int32_t o = b->march_offset[k];
        b->count[k] = rd_volume_used_ray(b->march_count[k], &b->marched[o].dt, 2, b->march_sigma + o);
    }
    total = 0;
    int64_t kept = 0;
    for (; kept < marched_rays && total + b->count[kept] <= t->desc.batch_samples; kept++) {
        b->offset[kept] = (int32_t)total;
        memcpy(b->samples + total, b->marched + b->march_offset[kept], sizeof(rd_march_sample) * (size_t)b->count[kept]);
        total += b->count[kept];
    }
    int64_t taken = rays_before(b->offset, kept, total);
    sample_positions(b, taken, b->offset, b->count, b->samples, b->positions, b->dirs);
    rd_nerf_field_forward(ctx, &t->scene->field, t->params, b->positions, b->dirs, total, &b->field, b->sigma, b->rgb);
    rd_volume_composite_rays(ctx, taken, b->offset, b->count, b->samples, b->sigma, b->rgb, b->background, b->out_rgb,
                             b->out_alpha, b->out_depth, b->used);
    *loss = taken ? ray_losses(t, taken, 1.0f / (3.0f * (float)taken)) / (3.0 * (double)taken) : 0.0;
    rd_volume_backward_rays(ctx, taken, b->offset, b->count, b->samples, b->sigma, b->rgb, b->out_rgb, b->out_alpha, b->out_depth,
                            b->used, b->g_ray, NULL, NULL, b->g_sigma, b->g_rgb);
    memset(t->grad, 0, sizeof(float) * (size_t)t->scene->field.params);
    r = rd_nerf_field_backward(ctx, &t->scene->field, t->params, b->positions, total, &b->field, b->g_sigma, b->g_rgb, t->grad);
    if (r != RD_OK) return r;
    if (t->admm_z) prune(t);
    adam(t);
    /* the occupancy grid on the spec's schedule, the warm-up's length and the interval as asked */
    int warmup = t->desc.occupancy_warmup, step = t->step;
    if (rd_nerf_occupancy_due(step, warmup, t->desc.occupancy_every)) {
        r = rd_occupancy_update(ctx, &t->scene->occupancy, rd_nerf_occupancy_step(step, warmup), density_at, t);
        if (r != RD_OK) return r;
    }
    *rays_taken = taken, *samples_taken = total;
    return RD_OK;
}

rd_result rd_nerf_trainer_step(rd_nerf_trainer *t, int steps, rd_nerf_train_stats *stats)
{
    if (!t) return RD_ERROR_INVALID_ARGUMENT;
    if (steps < 0) return rd_fail(t->ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_trainer_step: steps %d is negative", steps);
    double sum = 0.0, loss = 0.0;
    int64_t rays = 0, samples = 0;
    for (int k = 0; k < steps; k++) {
        rd_result r;
#ifdef RD_HAVE_CUDA
        if (t->cuda) r = rd_nerf_train_cuda_step(t->cuda, t->step, t->rays, &rays, &samples);
        else
#endif
            r = one_step(t, &loss, &rays, &samples);
        if (r != RD_OK) return r;
        next_rays(t, rays, samples);
        t->step++;
        sum += loss;
    }
#ifdef RD_HAVE_CUDA
    if (t->cuda) {
        rd_result r = rd_nerf_train_cuda_loss(t->cuda, &sum);
        if (r != RD_OK) return r;
    }
#endif
    t->host_stale = steps > 0 || t->host_stale;
    if (stats) {
        *stats = (rd_nerf_train_stats){.iteration = t->step, .loss = steps ? sum / steps : 0.0, .rays = rays, .samples = samples};
        stats->occupied_cells = rd_occupancy_occupied(&t->scene->occupancy);
        const rd_nerf_field *f = &t->scene->field;
        int64_t cells = f->saliency.resolution ? rd_saliency_cells(&f->saliency) : 0;
#ifdef RD_HAVE_CUDA
        if (t->cuda && cells) { /* the live logits are the device's: into the host copy the CPU step would use */
            rd_result r = rd_nerf_train_cuda_mask(t->cuda, t->params + f->saliency_offset);
            if (r != RD_OK) return r;
        }
#endif
        double kept = 0.0;
        for (int64_t k = 0; k < cells; k++) kept += 1.0 / (1.0 + exp(-(double)t->params[f->saliency_offset + k]));
        stats->mask_kept = cells ? kept / (double)cells : 0.0;
#ifdef RD_HAVE_CUDA
        if (t->cuda && t->host_stale) stats->occupied_cells = -1; /* the grid is the device's */
#endif
    }
    t->scene->head = rd_scene_head_new(RD_SCENE_NERF); /* the parameters changed: caches must not match */
    return RD_OK;
}

rd_result rd_nerf_trainer_last_gradient(rd_nerf_trainer *t, float *out)
{
    if (!t) return RD_ERROR_INVALID_ARGUMENT;
    if (!out || t->step == 0)
        return rd_fail(t->ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_trainer_last_gradient: %s", out ? "no step yet" : "out is NULL");
#ifdef RD_HAVE_CUDA
    if (t->cuda) return rd_nerf_train_cuda_gradient(t->cuda, out);
#endif
    memcpy(out, t->grad, sizeof(float) * (size_t)t->scene->field.params);
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
        if (!d.field.aabb_scale) d.field.aabb_scale = strcmp(kind, "blender") == 0 || strcmp(kind, "d-nerf") == 0 || strcmp(kind, "rtmv") == 0 ? 1 : 16;
    }
    return rd_nerf_trainer_create(ctx, &d, out);
}
