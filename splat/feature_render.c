/* feature_render.c: rd_render_features on the CPU: the coefficient blend a tile at a
   time (feature_cpu.c), then per pixel the decode F = D^T W of a level, its normalisation
   and the relevancy of each query at every level; finally each query's level is chosen as
   the spec's segmentation protocol does (feature_query.c's smoothing).

   Relevancy needs phi.t = W.u / (sqrt(W^T G W) + eps) with u = D t and G = D D^T (L x L),
   exactly the algebra of the decode (spec, "What a renderer needs"): L*L + L*(queries +
   negatives) operations a pixel against D*L + D*(queries + negatives) through the decode.
   Both paths are here (rd_tuning.feature_relevancy); the gram path is the default. */
#include "features.h"
#include "../renderer/cpu/parallel.h"
#include "../renderer/frame_driver.h"
#include "../renderer/backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FEATURE_EPS 1e-10f

typedef struct feature_job {
    const rd_view_params *vp;
    int threads;
    rd_cpu_frame frame;  /* the CPU's blend */
    const float *image;  /* or the whole image's coefficients from a GPU's blend */
    rd_feature_slots slots;
    const rd_feature_field *field;
    const rd_feature_render_desc *desc;
    const rd_feature_target *target;
    bool dense, decode;
    int embeddings;   /* queries then negatives */
    float *embedding; /* embeddings*dim: the queries, then the negatives */
    float *gram;      /* levels*L*L */
    float *projected; /* levels*embeddings*L: u = D t of each */
    float *scores;    /* query_count*levels*pixels: r of each query at each level */
    float **scratch;  /* per worker */
    size_t tile_floats;
} feature_job;

/* D^T W of a level into F (dim floats), and its norm. */
static float decode_level(const rd_feature_field *f, int level, const float *W, float *F)
{
    const float *D = f->codebooks + (size_t)level * f->L * f->dim;
    memset(F, 0, (size_t)f->dim * sizeof(float));
    for (int c = 0; c < f->L; c++) {
        if (W[c] == 0.0f) continue;
        const float *row = D + (size_t)c * f->dim;
        for (int d = 0; d < f->dim; d++) F[d] += W[c] * row[d];
    }
    double norm = 0.0;
    for (int d = 0; d < f->dim; d++) norm += (double)F[d] * F[d];
    return (float)sqrt(norm);
}

/* phi.e for every embedding e at one level of one pixel, into dots. */
static void level_dots(const feature_job *job, int level, const float *W, float *F, float *dots)
{
    const rd_feature_field *f = job->field;
    int L = f->L;
    if (job->decode) {
        float norm = decode_level(f, level, W, F) + FEATURE_EPS;
        for (int e = 0; e < job->embeddings; e++) {
            const float *t = job->embedding + (size_t)e * f->dim;
            float dot = 0.0f;
            for (int d = 0; d < f->dim; d++) dot += F[d] * t[d];
            dots[e] = dot / norm;
        }
        return;
    }
    const float *G = job->gram + (size_t)level * L * L;
    double quad = 0.0;
    for (int a = 0; a < L; a++) {
        if (W[a] == 0.0f) continue;
        float row = 0.0f;
        for (int b = 0; b < L; b++) row += G[a * L + b] * W[b];
        quad += (double)W[a] * row;
    }
    float norm = (float)sqrt(quad > 0.0 ? quad : 0.0) + FEATURE_EPS;
    for (int e = 0; e < job->embeddings; e++) {
        const float *u = job->projected + ((size_t)level * job->embeddings + e) * L;
        float dot = 0.0f;
        for (int c = 0; c < L; c++) dot += W[c] * u[c];
        dots[e] = dot / norm;
    }
}

static void finish_pixel(feature_job *job, const float *W, size_t q, float *F, float *dots)
{
    const rd_feature_field *f = job->field;
    const rd_feature_target *t = job->target;
    const rd_feature_render_desc *desc = job->desc;
    int row = f->levels * f->L;
    size_t pixels = (size_t)job->vp->width * (size_t)job->vp->height;
    if (t->coefficients && W != t->coefficients + q * row) memcpy(t->coefficients + q * row, W, (size_t)row * sizeof(float));
    if (t->features) {
        int level = (desc->level ? desc->level : 1) - 1;
        float inv = 1.0f / (decode_level(f, level, W + level * f->L, F) + FEATURE_EPS);
        for (int d = 0; d < f->dim; d++) {
            float phi = F[d] * inv;
            if (desc->half_features) ((uint16_t *)t->features)[q * f->dim + d] = rd_half_from_float(phi);
            else ((float *)t->features)[q * f->dim + d] = phi;
        }
    }
    for (int l = 0; desc->query_count > 0 && l < f->levels; l++) {
        level_dots(job, l, W + l * f->L, F, dots);
        float negative = -INFINITY;
        for (int n = 0; n < desc->negative_count; n++) negative = fmaxf(negative, dots[desc->query_count + n]);
        for (int qi = 0; qi < desc->query_count; qi++)
            job->scores[((size_t)qi * f->levels + l) * pixels + q] = 1.0f / (1.0f + expf(-10.0f * (dots[qi] - negative)));
    }
}

/* Rows of pixels whose coefficients a GPU blended. */
static void finish_rows(int64_t begin, int64_t end, int worker, void *user)
{
    feature_job *job = user;
    int row = job->field->levels * job->field->L;
    float *F = job->scratch[worker], *dots = F + job->field->dim;
    for (int64_t y = begin; y < end; y++)
        for (int x = 0; x < job->vp->width; x++) {
            size_t q = (size_t)y * (size_t)job->vp->width + (size_t)x;
            finish_pixel(job, job->image + q * row, q, F, dots);
        }
}

static void render_tiles(int64_t begin, int64_t end, int worker, void *user)
{
    feature_job *job = user;
    const rd_view_params *vp = job->vp;
    int row = job->field->levels * job->field->L;
    float *scratch = job->scratch[worker], *out = scratch + job->tile_floats;
    float *alpha = out + (size_t)RD_TILE_SIZE * RD_TILE_SIZE * row, *F = alpha + RD_TILE_SIZE * RD_TILE_SIZE;
    float *dots = F + job->field->dim;
    for (int64_t t = begin; t < end; t++) {
        rd_feature_blend_tile(&job->frame, &job->slots, t, job->dense, scratch, out, alpha);
        int x0, y0, x1, y1;
        rd_tile_pixels(vp, t, &x0, &y0, &x1, &y1);
        size_t p = 0;
        for (int py = y0; py < y1; py++)
            for (int px = x0; px < x1; px++, p++) {
                size_t q = (size_t)py * (size_t)vp->width + (size_t)px;
                if (job->target->alpha) job->target->alpha[q] = alpha[p];
                finish_pixel(job, out + p * row, q, F, dots);
            }
    }
}

/* The embeddings' projections u = D t, and on the CPU each level's G = D D^T (a GPU
   backend keeps its own with its copy of the field). */
static void project(feature_job *job)
{
    const rd_feature_field *f = job->field;
    if (job->gram) rd_feature_gram(f, job->gram);
    for (int l = 0; l < f->levels; l++) {
        const float *D = f->codebooks + (size_t)l * f->L * f->dim;
        for (int a = 0; a < f->L; a++)
            for (int e = 0; e < job->embeddings; e++) {
                double s = 0.0;
                for (int d = 0; d < f->dim; d++) s += (double)D[(size_t)a * f->dim + d] * job->embedding[(size_t)e * f->dim + d];
                job->projected[((size_t)l * job->embeddings + e) * f->L + a] = (float)s;
            }
    }
}

/* Each query's level: the one whose smoothed map peaks highest (the first on a tie). */
static rd_result choose_levels(rd_context *ctx, feature_job *job)
{
    const rd_view_params *vp = job->vp;
    size_t pixels = (size_t)vp->width * (size_t)vp->height;
    float *smoothed = rd_alloc_array((int64_t)pixels, sizeof(float));
    if (!smoothed) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_render_features: out of memory for the relevancy maps");
    for (int qi = 0; qi < job->desc->query_count; qi++) {
        int best = 0;
        float best_peak = -INFINITY;
        for (int l = 0; l < job->field->levels; l++) {
            if (rd_relevancy_smooth(job->scores + ((size_t)qi * job->field->levels + l) * pixels, vp->width, vp->height, smoothed) !=
                RD_OK) {
                free(smoothed);
                return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_render_features: out of memory for the relevancy maps");
            }
            float peak = -INFINITY;
            for (size_t p = 0; p < pixels; p++) peak = fmaxf(peak, smoothed[p]);
            if (peak > best_peak) best_peak = peak, best = l;
        }
        if (job->target->query_levels) job->target->query_levels[qi] = best + 1;
        if (job->target->relevancy)
            memcpy(job->target->relevancy + (size_t)qi * pixels, job->scores + ((size_t)qi * job->field->levels + best) * pixels,
                   pixels * sizeof(float));
    }
    free(smoothed);
    return RD_OK;
}

static rd_result check_call(rd_context *ctx, const rd_scene *scene, const rd_feature_field *field, const rd_camera *camera,
                            const rd_feature_render_desc *desc, const rd_feature_target *target)
{
    char why[256];
    if (!rd_is_gaussians(scene))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: the scene is not a 3D Gaussian scene");
    if (!field || !camera || !target) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: field, camera or target is NULL");
    if (field->count != scene->count)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: the field has %lld Gaussians, the scene %lld",
                       (long long)field->count, (long long)scene->count);
    if (scene->head.memory != RD_MEMORY_HOST)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_render_features: a scene in device memory is not supported yet");
    const char *problem = rd_camera_problem(camera, why, sizeof why);
    if (problem) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: camera: %s", problem);
    if (desc->level < 0 || desc->level > field->levels)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: level %d is out of range (1..%d)", desc->level, field->levels);
    if (desc->query_count < 0 || desc->negative_count < 0 || desc->query_count > 4096 || desc->negative_count > 4096)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: %d queries and %d negatives: out of range (0..4096)",
                       desc->query_count, desc->negative_count);
    if (desc->query_count > 0 && (!desc->queries || desc->negative_count < 1 || !desc->negatives))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: queries need their embeddings and at least one negative");
    if ((target->relevancy || target->query_levels) && desc->query_count == 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: relevancy asked for without queries");
    if (target->memory == RD_MEMORY_DEVICE) { /* every output but the levels straight into the caller's buffers */
        if (ctx->backend == RD_BACKEND_CPU)
            return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_render_features: device-memory targets need a GPU backend");
        if (ctx->tuning.feature_relevancy == RD_RELEVANCY_DECODE && (target->features || target->relevancy || target->query_levels))
            return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_render_features: the decode path (rd_tuning.feature_relevancy) answers "
                           "queries and features on the host: device-memory targets take the coefficient maps and alpha there");
        size_t pixels = (size_t)camera->width * (size_t)camera->height, row = (size_t)field->levels * (size_t)field->L;
        size_t feature_bytes = pixels * (size_t)field->dim * (desc->half_features ? 2 : 4);
        rd_result r = RD_OK;
        if (target->coefficients) r = rd_backend_check_memory(ctx, target->coefficients, pixels * row * sizeof(float), "rd_render_features: coefficients");
        if (r == RD_OK && target->alpha) r = rd_backend_check_memory(ctx, target->alpha, pixels * sizeof(float), "rd_render_features: alpha");
        if (r == RD_OK && target->features) r = rd_backend_check_memory(ctx, target->features, feature_bytes, "rd_render_features: features");
        if (r == RD_OK && target->relevancy)
            r = rd_backend_check_memory(ctx, target->relevancy, pixels * (size_t)desc->query_count * sizeof(float), "rd_render_features: relevancy");
        if (r != RD_OK) return r;
    }
    return RD_OK;
}

static void job_free(feature_job *job)
{
    for (int w = 0; job->scratch && w < job->threads; w++) free(job->scratch[w]);
    free(job->scratch);
    free(job->embedding);
    free(job->gram);
    free(job->projected);
    free(job->scores);
    if (job->image != job->target->coefficients) free((float *)job->image);
    rd_cpu_frame_free(&job->frame);
}

/* gpu_outputs: a GPU renders every output (render_on_gpu): no worker scratch, no G, no
   scores on the host. */
static rd_result allocate(rd_context *ctx, feature_job *job, bool gpu_outputs)
{
    const rd_feature_field *f = job->field;
    const rd_feature_render_desc *desc = job->desc;
    size_t pixels = (size_t)job->vp->width * (size_t)job->vp->height, tile = (size_t)RD_TILE_SIZE * RD_TILE_SIZE;
    job->embeddings = desc->query_count + desc->negative_count;
    bool gpu = job->image != NULL; /* the pixels' coefficients are in job->image: no tiles to blend */
    job->tile_floats = gpu ? 0 : rd_feature_tile_scratch(&job->frame, &job->slots, job->dense);
    size_t tile_outputs = gpu ? 0 : tile * ((size_t)f->levels * f->L + 1);
    int64_t worker_floats = (int64_t)(job->tile_floats + tile_outputs + (size_t)f->dim + (size_t)job->embeddings + 1);
    bool ok = gpu_outputs || (job->scratch = calloc((size_t)job->threads, sizeof(float *))) != NULL;
    for (int w = 0; ok && !gpu_outputs && w < job->threads; w++)
        ok = (job->scratch[w] = rd_alloc_array(worker_floats, sizeof(float))) != NULL;
    if (ok && job->embeddings > 0) {
        job->embedding = rd_alloc_array((int64_t)job->embeddings * f->dim, sizeof(float));
        if (!gpu_outputs) job->gram = rd_alloc_array((int64_t)f->levels * f->L * f->L, sizeof(float));
        job->projected = rd_alloc_array((int64_t)f->levels * job->embeddings * f->L, sizeof(float));
        if (!gpu_outputs) job->scores = rd_alloc_array((int64_t)desc->query_count * f->levels * (int64_t)pixels, sizeof(float));
        ok = job->embedding && (gpu_outputs || (job->gram && job->scores)) && job->projected;
    }
    if (!ok) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_render_features: out of memory at %dx%d", job->vp->width, job->vp->height);
    if (job->embeddings > 0) {
        memcpy(job->embedding, desc->queries, (size_t)desc->query_count * f->dim * sizeof(float));
        memcpy(job->embedding + (size_t)desc->query_count * f->dim, desc->negatives, (size_t)desc->negative_count * f->dim * sizeof(float));
        project(job);
    }
    return RD_OK;
}

/* The whole image's coefficients (and alpha) from a GPU's blend, into job->image (the
   caller's coefficients where given). */
static rd_result blend_on_gpu(rd_context *ctx, const rd_scene *scene, feature_job *job, rd_render_stats *stats)
{
    const rd_view_params *vp = job->vp;
    float *image = job->target->coefficients;
    if (!image && !(image = rd_alloc_array((int64_t)vp->width * vp->height * job->field->levels * job->field->L, sizeof(float))))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_render_features: out of memory at %dx%d", vp->width, vp->height);
    job->image = image;
    rd_feature_gpu_outputs out = {.coefficients = image, .alpha = job->target->alpha, .memory = job->target->memory};
#ifdef RD_HAVE_CUDA
    if (ctx->backend == RD_BACKEND_CUDA) return rd_feature_outputs_cuda(ctx, scene, vp, job->field, &out, job->desc->stream, stats);
#endif
#ifdef RD_HAVE_VULKAN
    if (ctx->backend == RD_BACKEND_VULKAN) return rd_feature_outputs_vk(ctx, scene, vp, job->field, &out, stats);
#endif
    (void)scene, (void)stats, (void)out;
    return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "rd_render_features: this build has no %s backend", rd_backend_name(ctx->backend));
}

/* Everything on the GPU (the relevancy by the gram path, the level choice too): what the
   target asks for comes back, nothing else, or stays in the caller's device memory. */
static rd_result render_on_gpu(rd_context *ctx, const rd_scene *scene, feature_job *job, rd_render_stats *stats)
{
    const rd_feature_render_desc *desc = job->desc;
    const rd_feature_target *t = job->target;
    rd_result r = allocate(ctx, job, true); /* the projections */
    rd_feature_queries queries = {job->projected, desc->query_count, desc->negative_count, t->relevancy, t->query_levels};
    rd_feature_gpu_outputs out = {.coefficients = t->coefficients, .alpha = t->alpha, .memory = t->memory,
                                  .queries = desc->query_count ? &queries : NULL, .features = t->features,
                                  .level = (desc->level ? desc->level : 1) - 1, .half_features = desc->half_features != 0};
#ifdef RD_HAVE_CUDA
    if (r == RD_OK && ctx->backend == RD_BACKEND_CUDA) r = rd_feature_outputs_cuda(ctx, scene, job->vp, job->field, &out, desc->stream, stats);
#endif
#ifdef RD_HAVE_VULKAN
    if (r == RD_OK && ctx->backend == RD_BACKEND_VULKAN) r = rd_feature_outputs_vk(ctx, scene, job->vp, job->field, &out, stats);
#endif
    (void)scene, (void)stats, (void)out;
    return r;
}

/* A GPU frame's limits: the packed tiles, the sort's count. */
static rd_result check_gpu(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp)
{
    if (!rd_tiles_fit_packed(vp))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %dx%d tiles exceed the 65,535 a side and 2^26 in all of a Gaussian's tiles",
                       rd_backend_name(ctx->backend), vp->tiles_x, vp->tiles_y);
    return rd_gpu_frame_check(ctx, rd_backend_name(ctx->backend), scene->count, "Gaussians");
}

rd_result rd_render_features(rd_context *ctx, const rd_scene *scene, const rd_feature_field *field, const rd_camera *camera,
                             const rd_feature_render_desc *desc, const rd_feature_target *target)
{
    static const rd_feature_render_desc defaults = {0};
    if (!ctx) return rd_fail(NULL, RD_ERROR_INVALID_ARGUMENT, "rd_render_features: ctx is NULL");
    if (!desc) desc = &defaults;
    rd_result r = check_call(ctx, scene, field, camera, desc, target);
    if (r != RD_OK) return r;
    double t0 = rd_now_ms();
    rd_view_params vp;
    rd_view_params_init(&vp, camera, &(rd_render_desc){.flags = desc->flags}, scene);
    feature_job job = {.vp = &vp, .threads = ctx->threads, .slots = rd_feature_field_slots(field), .field = field, .desc = desc,
                       .target = target, .dense = ctx->tuning.feature_blend == RD_FEATURE_BLEND_DENSE,
                       .decode = ctx->tuning.feature_relevancy == RD_RELEVANCY_DECODE};
    rd_render_stats stats = {0};
    bool gpu = ctx->backend != RD_BACKEND_CPU;
    if (gpu) r = check_gpu(ctx, scene, &vp);
    /* wholly on the device where the gram path is asked for (and on Vulkan where the
       shaders' 32-bit indices hold) */
    uint64_t pixels = (uint64_t)vp.width * (uint64_t)vp.height;
    bool small = pixels * (uint64_t)field->dim < ((uint64_t)1 << 32) &&
                 pixels * (uint64_t)desc->query_count * (uint64_t)field->levels < ((uint64_t)1 << 32);
    bool on_device = (ctx->backend == RD_BACKEND_CUDA || (ctx->backend == RD_BACKEND_VULKAN && small)) && !job.decode;
    if (r == RD_OK && !on_device && target->memory == RD_MEMORY_DEVICE && (target->features || target->relevancy || target->query_levels))
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_render_features: %dx%d with D %d and %d queries passes Vulkan's 32-bit indices: "
                    "features and relevancy of that size go to host memory", vp.width, vp.height, field->dim, desc->query_count);
    if (r == RD_OK && on_device) {
        r = render_on_gpu(ctx, scene, &job, &stats);
        if (r == RD_OK) ctx->last_stats = stats;
        job_free(&job);
        return r;
    }
    if (r == RD_OK) r = gpu ? blend_on_gpu(ctx, scene, &job, &stats) : rd_cpu_frame_prepare(ctx, scene, &vp, &job.frame, NULL);
    if (r == RD_OK && target->memory == RD_MEMORY_DEVICE) { /* the maps are in the caller's device memory: done */
        ctx->last_stats = stats;
        job.image = NULL;
        job_free(&job);
        return RD_OK;
    }
    if (r == RD_OK) r = allocate(ctx, &job, false);
    double t1 = rd_now_ms();
    if (r == RD_OK && gpu) rd_parallel_for(job.threads, vp.height, 4, finish_rows, &job);
    if (r == RD_OK && !gpu) rd_parallel_for(job.threads, (int64_t)vp.tiles_x * vp.tiles_y, 2, render_tiles, &job);
    double t2 = rd_now_ms();
    if (r == RD_OK && desc->query_count > 0) r = choose_levels(ctx, &job);
    if (r == RD_OK) {
        /* the CPU's stages; a GPU's blend keeps the splat frame's stages and counts */
        static const char *const stages[] = {"geometry", "blend", "levels"};
        if (!gpu) {
            rd_stats_set_stages(&stats, stages, (const double[3]){t1 - t0, t2 - t1, rd_now_ms() - t2}, 3, rd_now_ms() - t0);
            rd_splat_counts(&stats, job.frame.visible, job.frame.tile_offsets[(int64_t)vp.tiles_x * vp.tiles_y]);
        }
        ctx->last_stats = stats;
    }
    job_free(&job);
    return r;
}
