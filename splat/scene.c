/* scene.c: scene creation from arrays, queries, and orbit cameras around a scene. */
#include "scene.h"
#include "scene4d.h"
#include "../renderer/backend.h"
#include "../compress/conventions.h"
#include "../renderer/cpu/parallel.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_result check_shape(rd_context *ctx, int64_t count, int sh_degree)
{
    if (count >= 0 && sh_degree >= 0 && sh_degree <= 3) return RD_OK;
    return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "scene: count %lld and sh_degree %d (expected 0..3) are not valid",
                   (long long)count, sh_degree);
}

/* A zeroed scene with a process-unique id, by which backends recognise their cached copies. */
static rd_scene *scene_new(void)
{
    rd_scene *s = calloc(1, sizeof *s);
    if (s) s->head = rd_scene_head_new(RD_SCENE_GAUSSIANS);
    return s;
}

rd_result rd_scene_alloc(rd_context *ctx, int64_t count, int sh_degree, rd_scene **out)
{
    *out = NULL;
    rd_result r = check_shape(ctx, count, sh_degree);
    if (r != RD_OK) return r;
    rd_scene *s = scene_new();
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "scene: out of memory");
    s->count = count;
    s->sh_degree = sh_degree;
    s->means = rd_alloc_array(count, 3 * sizeof(float));
    s->log_scales = rd_alloc_array(count, 3 * sizeof(float));
    s->rotations = rd_alloc_array(count, 4 * sizeof(float));
    s->opacities = rd_alloc_array(count, sizeof(float));
    s->sh = rd_alloc_array(count, (size_t)rd_sh_coeffs(sh_degree) * 3 * sizeof(float));
    snprintf(s->format, sizeof s->format, "arrays");
    if (!s->means || !s->log_scales || !s->rotations || !s->opacities || !s->sh) {
        rd_gaussians_destroy(s);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "scene: cannot hold %lld Gaussians",
                       (long long)count);
    }
    *out = s;
    return RD_OK;
}

rd_result rd_scene_alloc_decoded(rd_context *ctx, const char *path, uint64_t file_size, int64_t count, int sh_degree,
                                 rd_scene **out)
{
    *out = NULL;
    char what[64];
    snprintf(what, sizeof what, "%lld Gaussians of SH degree %d", (long long)count, sh_degree);
    rd_result r = rd_decode_check(ctx, path, file_size, rd_scene_bytes(count, sh_degree), what);
    return r == RD_OK ? rd_scene_alloc(ctx, count, sh_degree, out) : r;
}

rd_result rd_scene_copy_arrays(rd_context *ctx, const rd_scene_desc *d, int sh_degree, rd_scene **out)
{
    if (sh_degree > d->sh_degree) sh_degree = d->sh_degree;
    rd_result r = rd_scene_alloc(ctx, d->count, sh_degree, out);
    if (r != RD_OK) return r;
    rd_scene *s = *out;
    s->flags = d->flags;
    if (d->count == 0) return RD_OK; /* an empty scene's arrays may be NULL */
    size_t n = (size_t)d->count, from = (size_t)rd_sh_coeffs(d->sh_degree) * 3, to = (size_t)rd_sh_coeffs(sh_degree) * 3;
    memcpy(s->means, d->means, n * 3 * sizeof(float));
    memcpy(s->log_scales, d->log_scales, n * 3 * sizeof(float));
    memcpy(s->rotations, d->rotations, n * 4 * sizeof(float));
    memcpy(s->opacities, d->opacities, n * sizeof(float));
    if (from == to) memcpy(s->sh, d->sh, n * to * sizeof(float));
    else for (size_t i = 0; i < n; i++) memcpy(s->sh + i * to, d->sh + i * from, to * sizeof(float));
    return RD_OK;
}

static rd_result use_halves(rd_context *ctx, rd_scene *scene, uint32_t halves, const char *who);

rd_result rd_scene_from_arrays(rd_context *ctx, const rd_scene_desc *d, rd_scene **out)
{
    rd_result r = rd_scene_copy_arrays(ctx, d, d->sh_degree, out);
    uint32_t halves = d->flags & (uint32_t)RD_SCENE_PACKED;
    if (r == RD_OK && halves) {
        (*out)->flags &= ~halves; /* not rounded yet */
        r = use_halves(ctx, *out, halves, "rd_scene_create");
    }
    if (r != RD_OK) rd_scene_destroy(*out), *out = NULL;
    return r;
}

typedef struct round_job {
    rd_scene *scene;
    uint32_t halves;
} round_job;

static void round_to_halves(float *values, size_t count)
{
    for (size_t k = 0; k < count; k++) values[k] = rd_half_to_float(rd_half_from_float(values[k]));
}

/* Gaussians [begin, end) of round_job's arrays. */
static void round_gaussians(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const round_job *j = user;
    rd_scene *s = j->scene;
    size_t first = (size_t)begin, n = (size_t)(end - begin), row = 3 * (size_t)rd_sh_coeffs(s->sh_degree);
    if (j->halves & RD_SCENE_HALF_SH) round_to_halves(s->sh + first * row, n * row);
    if (j->halves & RD_SCENE_HALF_SHAPE) {
        round_to_halves(s->rotations + 4 * first, 4 * n);
        round_to_halves(s->log_scales + 3 * first, 3 * n);
        round_to_halves(s->opacities + first, n);
    }
}

/* Rounds the arrays that the flags `halves` (of RD_SCENE_PACKED) name and not yet rounded,
   and takes the flags. */
static rd_result use_halves(rd_context *ctx, rd_scene *scene, uint32_t halves, const char *who)
{
    if (!rd_is_gaussians(scene))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "half precision (%s, --half-sh, --packed) is for 3D Gaussian scenes (%s%s)",
                       who, !scene ? "no scene given" : "this scene's kind: ",
                       !scene ? "" : rd_kind(scene->head.kind) ? rd_kind(scene->head.kind)->name : "none known");
    if (scene->head.memory != RD_MEMORY_HOST)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the scene's arrays are device memory (round them before)", who);
    halves &= ~scene->flags; /* rounded already */
    if (!halves) return RD_OK;
    round_job job = {scene, halves}; /* on the context's threads: one took 2 s of a 6M SH 3 scene's SH */
    if (scene->count > 0) rd_parallel_for(ctx ? ctx->threads : 1, scene->count, 65536, round_gaussians, &job);
    scene->flags |= halves;
    scene->head.uid = rd_scene_head_new(RD_SCENE_GAUSSIANS).uid; /* new values: backends upload again */
    return RD_OK;
}

rd_result rd_scene_use_half_sh(rd_context *ctx, rd_scene *scene)
{
    return use_halves(ctx, scene, RD_SCENE_HALF_SH, "rd_scene_use_half_sh");
}

rd_result rd_scene_use_packed(rd_context *ctx, rd_scene *scene)
{
    return use_halves(ctx, scene, RD_SCENE_PACKED, "rd_scene_use_packed");
}

typedef struct half_rows_job {
    const float *sh;
    uint16_t *out;
    int used, row;
} half_rows_job;

static void convert_half_rows(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const half_rows_job *j = user;
    for (int64_t i = begin; i < end; i++)
        for (int c = 0; c < j->used; c++) j->out[i * j->row + c] = rd_half_from_float(j->sh[i * j->used + c]);
}

typedef struct shape_halves_job {
    const rd_scene *scene;
    uint16_t *out;
} shape_halves_job;

static void convert_shape_halves(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const shape_halves_job *j = user;
    const rd_scene *s = j->scene;
    for (int64_t i = begin; i < end; i++) {
        uint16_t *h = j->out + 8 * i;
        for (int c = 0; c < 4; c++) h[c] = rd_half_from_float(s->rotations[4 * i + c]);
        for (int c = 0; c < 3; c++) h[4 + c] = rd_half_from_float(s->log_scales[3 * i + c]);
        h[7] = rd_half_from_float(s->opacities[i]);
    }
}

uint16_t *rd_scene_shape_halves(rd_context *ctx, const rd_scene *scene, size_t *bytes)
{
    shape_halves_job job = {scene, NULL};
    *bytes = (size_t)scene->count * RD_SHAPE_HALF_BYTES;
    job.out = malloc(*bytes > 0 ? *bytes : 1);
    if (job.out && scene->count > 0) rd_parallel_for(ctx->threads, scene->count, 65536, convert_shape_halves, &job);
    return job.out;
}

uint16_t *rd_scene_sh_halves(rd_context *ctx, const rd_scene *scene, int row_halves, size_t *bytes)
{
    half_rows_job job = {scene->sh, NULL, 3 * rd_sh_coeffs(scene->sh_degree), row_halves};
    if (job.row < job.used) job.row = job.used;
    *bytes = (size_t)scene->count * (size_t)job.row * sizeof(uint16_t);
    job.out = calloc(*bytes > 0 ? *bytes : 1, 1);
    if (job.out && scene->count > 0) rd_parallel_for(ctx->threads, scene->count, 65536, convert_half_rows, &job);
    return job.out;
}

rd_result rd_scene_upload_source(rd_context *ctx, const rd_scene *scene, int k, int sh_row_halves, const void **src,
                                 size_t *bytes, uint16_t **converted)
{
    const float *arrays[RD_SCENE_ARRAYS];
    size_t floats[RD_SCENE_ARRAYS];
    rd_scene_array_list(scene, arrays, floats);
    *src = arrays[k], *bytes = floats[k] * sizeof(float), *converted = NULL;
    if ((scene->flags & RD_SCENE_HALF_SH) && k == RD_ARRAY_SH)
        *converted = rd_scene_sh_halves(ctx, scene, sh_row_halves, bytes);
    else if ((scene->flags & RD_SCENE_HALF_SHAPE) && k == RD_ARRAY_ROTATIONS)
        *converted = rd_scene_shape_halves(ctx, scene, bytes);
    else if ((scene->flags & RD_SCENE_HALF_SHAPE) && (k == RD_ARRAY_LOG_SCALES || k == RD_ARRAY_OPACITIES))
        *bytes = 0; /* in the rotations' halves */
    else
        return RD_OK;
    if (*bytes > 0 && !*converted) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "scene upload: out of memory for the halves");
    *src = *converted;
    return RD_OK;
}

rd_result rd_scene_create(rd_context *ctx, const rd_scene_desc *desc, rd_scene **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_create: out is NULL");
    *out = NULL;
    if (!desc) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_create: desc is NULL");
    if (desc->count > 0 && (!desc->means || !desc->log_scales || !desc->rotations ||
                            !desc->opacities || !desc->sh))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "rd_scene_create: means, log_scales, rotations, opacities and sh are all required");
    if (desc->memory == RD_MEMORY_HOST) return rd_scene_from_arrays(ctx, desc, out);
    if (desc->flags & RD_SCENE_PACKED)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_create: %s is for host arrays (device arrays: round "
                       "them before if need be, and clear the flag)",
                       desc->flags & RD_SCENE_HALF_SH ? "RD_SCENE_HALF_SH" : "RD_SCENE_HALF_SHAPE");
    rd_result r = check_shape(ctx, desc->count, desc->sh_degree);
    if (r != RD_OK) return r;
    if (desc->memory != RD_MEMORY_DEVICE || !ctx || (ctx->backend != RD_BACKEND_CUDA && ctx->backend != RD_BACKEND_VULKAN))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "rd_scene_create: device-memory arrays need a GPU backend, CUDA or Vulkan (this context is %s)",
                       ctx ? rd_backend_name(ctx->backend) : "missing");
    /* the arrays must be device memory this context can read, as long as the count says */
    size_t n = (size_t)desc->count;
    struct { const float *ptr; size_t floats; const char *what; } arrays[] = {
        {desc->means, 3 * n, "rd_scene_create: means"}, {desc->log_scales, 3 * n, "rd_scene_create: log_scales"},
        {desc->rotations, 4 * n, "rd_scene_create: rotations"}, {desc->opacities, n, "rd_scene_create: opacities"},
        {desc->sh, 3 * n * (size_t)rd_sh_coeffs(desc->sh_degree), "rd_scene_create: sh"}};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0] && n > 0; k++) {
        r = rd_backend_check_memory(ctx, arrays[k].ptr, arrays[k].floats * sizeof(float), arrays[k].what);
        if (r != RD_OK) return r;
    }
    rd_scene *s = scene_new();
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "scene: out of memory");
    s->count = desc->count;
    s->sh_degree = desc->sh_degree;
    s->flags = desc->flags;
    s->head.memory = RD_MEMORY_DEVICE;
    s->means = (float *)desc->means;
    s->log_scales = (float *)desc->log_scales;
    s->rotations = (float *)desc->rotations;
    s->opacities = (float *)desc->opacities;
    s->sh = (float *)desc->sh;
    snprintf(s->format, sizeof s->format, "device-arrays");
    *out = s;
    return RD_OK;
}

void rd_gaussians_destroy(rd_scene *s)
{
    if (!s) return;
    if (s->head.memory == RD_MEMORY_DEVICE) {
        float *arrays[RD_SCENE_ARRAYS] = {s->means, s->log_scales, s->rotations, s->opacities, s->sh};
        for (int k = 0; k < RD_SCENE_ARRAYS && s->owns_device; k++) rd_buffer_free(s->owner, arrays[k]);
        free(s);
        return;
    }
    free(s->means);
    free(s->log_scales);
    free(s->rotations);
    free(s->opacities);
    free(s->sh);
    free(s);
}

rd_result rd_scene_device_alloc(rd_context *ctx, int64_t count, int sh_degree, rd_scene **out)
{
    *out = NULL;
    rd_result r = check_shape(ctx, count, sh_degree);
    if (r != RD_OK) return r;
    if (!ctx || (ctx->backend != RD_BACKEND_CUDA && ctx->backend != RD_BACKEND_VULKAN))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "scene: device memory needs a GPU backend, CUDA or Vulkan (this context is %s)",
                       ctx ? rd_backend_name(ctx->backend) : "missing");
    rd_scene *s = scene_new();
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "scene: out of memory");
    s->count = count, s->sh_degree = sh_degree, s->head.memory = RD_MEMORY_DEVICE;
    s->owns_device = true, s->owner = ctx;
    const float *arrays[RD_SCENE_ARRAYS];
    size_t floats[RD_SCENE_ARRAYS];
    rd_scene_array_list(s, arrays, floats);
    float **to[RD_SCENE_ARRAYS] = {&s->means, &s->log_scales, &s->rotations, &s->opacities, &s->sh};
    for (int k = 0; k < RD_SCENE_ARRAYS && r == RD_OK; k++) {
        rd_memory memory;
        r = rd_buffer_alloc(ctx, floats[k] ? floats[k] * sizeof(float) : 16, (void **)to[k], &memory);
    }
    if (r != RD_OK) {
        rd_gaussians_destroy(s); /* the buffers made so far; NULL ones are no-ops */
        char prefix[96];
        snprintf(prefix, sizeof prefix, "device memory for %lld Gaussians of SH degree %d", (long long)count, sh_degree);
        rd_error_prefix(ctx, prefix);
        return r;
    }
    snprintf(s->format, sizeof s->format, "device-arrays");
    *out = s;
    return RD_OK;
}

rd_result rd_scene_to_device(rd_context *ctx, const rd_scene *host, rd_scene **out)
{
    rd_result r = rd_scene_device_alloc(ctx, host->count, host->sh_degree, out);
    if (r != RD_OK) return r;
    rd_scene *s = *out;
    const float *from[RD_SCENE_ARRAYS], *to[RD_SCENE_ARRAYS];
    size_t floats[RD_SCENE_ARRAYS];
    rd_scene_array_list(host, from, floats);
    rd_scene_array_list(s, to, floats);
    for (int k = 0; k < RD_SCENE_ARRAYS && r == RD_OK; k++)
        if (floats[k]) r = rd_buffer_copy(ctx, (void *)to[k], RD_MEMORY_DEVICE, from[k], RD_MEMORY_HOST, floats[k] * sizeof(float));
    if (r != RD_OK) {
        rd_gaussians_destroy(s);
        *out = NULL;
        return r;
    }
    s->flags = host->flags & ~(uint32_t)RD_SCENE_PACKED;
    memcpy(s->format, host->format, sizeof s->format), memcpy(s->properties, host->properties, sizeof s->properties);
    memcpy(s->header, host->header, sizeof s->header);
    return RD_OK;
}

rd_scene_desc rd_scene_arrays(const rd_scene *s)
{
    rd_scene_desc d = {0};
    if (!rd_is_gaussians(s)) return d;
    d.count = s->count;
    d.sh_degree = s->sh_degree;
    d.means = s->means;
    d.log_scales = s->log_scales;
    d.rotations = s->rotations;
    d.opacities = s->opacities;
    d.sh = s->sh;
    d.flags = s->flags;
    d.memory = s->head.memory;
    return d;
}

void rd_scene_get_info(const rd_scene *s, rd_scene_info *out)
{
    memset(out, 0, sizeof *out);
    if (!rd_is_gaussians(s)) return;
    out->count = s->count;
    out->sh_degree = s->sh_degree;
    out->flags = s->flags;
    snprintf(out->format, sizeof out->format, "%s", s->format);
    snprintf(out->properties, sizeof out->properties, "%s", s->properties);
    snprintf(out->header, sizeof out->header, "%s", s->header);
    if (s->head.memory == RD_MEMORY_DEVICE) return; /* no host copy to measure */
    for (int a = 0; a < 3; a++) {
        out->bounds_min[a] = INFINITY;
        out->bounds_max[a] = -INFINITY;
    }
    for (int64_t i = 0; i < s->count; i++) {
        const float *m = s->means + 3 * i;
        if (!isfinite(m[0]) || !isfinite(m[1]) || !isfinite(m[2])) continue;
        for (int a = 0; a < 3; a++) {
            out->bounds_min[a] = fminf(out->bounds_min[a], m[a]);
            out->bounds_max[a] = fmaxf(out->bounds_max[a], m[a]);
        }
    }
    if (out->bounds_min[0] > out->bounds_max[0])
        for (int a = 0; a < 3; a++) out->bounds_min[a] = out->bounds_max[a] = 0.0f;
}

enum { SAMPLES = 4096 }; /* means the scene's robust statistics look at, evenly spread */

static int64_t sample_step(const rd_scene *s) { return s->count > SAMPLES ? s->count / SAMPLES : 1; }

/* The sampled means' finite coordinates along axis a, sorted; returns how many. */
static int sorted_axis_sample(const rd_scene *s, int a, float out[SAMPLES])
{
    int n = 0;
    int64_t step = sample_step(s);
    for (int64_t i = 0; i < s->count && n < SAMPLES; i += step)
        if (isfinite(s->means[3 * i + a])) out[n++] = s->means[3 * i + a];
    qsort(out, (size_t)n, sizeof(float), rd_compare_floats);
    return n;
}

/* Robust centre and size: medians of a sample of means and the 90th percentile of
   distances, so that a few far-away floaters do not push the cameras out. */
static void robust_extent(const rd_scene *s, float centre[3], float *radius)
{
    float values[SAMPLES], tmp[SAMPLES];
    int64_t step = sample_step(s);
    for (int a = 0; a < 3; a++) {
        int n = sorted_axis_sample(s, a, tmp);
        centre[a] = n ? tmp[n / 2] : 0.0f;
    }
    int n = 0;
    for (int64_t i = 0; i < s->count && n < SAMPLES; i += step) {
        const float *m = s->means + 3 * i;
        float dx = m[0] - centre[0], dy = m[1] - centre[1], dz = m[2] - centre[2];
        float d = sqrtf(dx * dx + dy * dy + dz * dz);
        if (isfinite(d)) values[n++] = d;
    }
    qsort(values, (size_t)n, sizeof(float), rd_compare_floats);
    *radius = n ? values[(n * 9) / 10] : 1.0f;
    if (!(*radius > 0.0f)) *radius = 1.0f;
}

void rd_scene_up(const rd_scene *s, float up[3])
{
    up[0] = 0.0f, up[1] = -1.0f, up[2] = 0.0f;
    if (!rd_is_gaussians(s) || s->head.memory == RD_MEMORY_DEVICE) return;
    if (strcmp(s->format, "procedural") == 0) {
        up[1] = 0.0f, up[2] = 1.0f;
        return;
    }
    /* robust spreads: the 5th to 95th percentile of a sample of each coordinate */
    float tmp[SAMPLES], spread[3];
    for (int a = 0; a < 3; a++) {
        int n = sorted_axis_sample(s, a, tmp);
        spread[a] = n ? tmp[(n * 19) / 20 < n ? (n * 19) / 20 : n - 1] - tmp[n / 20] : 0.0f;
    }
    if (spread[2] < 0.5f * fminf(spread[0], spread[1])) up[1] = 0.0f, up[2] = 1.0f;
}

rd_result rd_axis_from_name(const char *name, float up[3])
{
    if (!name) return RD_ERROR_INVALID_ARGUMENT;
    float sign = name[0] == '-' ? -1.0f : 1.0f;
    if (name[0] == '-' || name[0] == '+') name++;
    int k = strcmp(name, "x") == 0 ? 0 : strcmp(name, "y") == 0 ? 1 : strcmp(name, "z") == 0 ? 2 : -1;
    if (k < 0) return RD_ERROR_INVALID_ARGUMENT;
    up[0] = up[1] = up[2] = 0.0f;
    up[k] = sign;
    return RD_OK;
}

rd_result rd_scene_orbit_cameras(const rd_scene *s, int n, int width, int height, rd_camera *out)
{
    return rd_scene_orbit(s, &(rd_orbit_desc){.count = n, .width = width, .height = height}, out);
}

rd_result rd_scene_orbit(const rd_scene *s, const rd_orbit_desc *desc, rd_camera *out)
{
    if (rd_is_gaussians4d(s)) return rd_scene4d_orbit((const rd_scene4d *)s, desc, out);
    if (!rd_is_gaussians(s) || !desc || desc->count < 1 || desc->width < 1 || desc->height < 1 || !out ||
        s->head.memory == RD_MEMORY_DEVICE)
        return RD_ERROR_INVALID_ARGUMENT;
    int n = desc->count, width = desc->width, height = desc->height;
    float up[3] = {desc->up[0], desc->up[1], desc->up[2]};
    float length = sqrtf(up[0] * up[0] + up[1] * up[1] + up[2] * up[2]);
    if (!(length > 0.0f) || !isfinite(length)) rd_scene_up(s, up);
    else
        for (int a = 0; a < 3; a++) up[a] /= length;
    float centre[3], radius;
    robust_extent(s, centre, &radius);
    /* the demo is framed by hand; other scenes fit their radius into the narrower field of view */
    bool framed = strcmp(s->format, "procedural") == 0;
    float dist = framed ? 2.6f * radius : rd_camera_orbit_distance(radius, width, height);
    rd_camera_orbit(centre, dist, up, n, width, height, out);
    return RD_OK;
}
