/* bench_features.c: `radiant bench SCENE|--demo|--synth N --features FILE|random`: the
   feature field's outputs timed as issue 31's targets name them, median wall clock of the
   frames after warm-up, round-robin over the views: the coefficient maps of every level,
   one query's relevancy at every level (the spec's level choice included), and one level's
   D-dimensional map in half precision. On GPUs each is also timed into device memory (no
   readback but the query's level), the way the targets count them. `random` makes a field of the scene's count: 3 levels,
   L 64, K 4, D 512 unless --levels, --codebook-size, --slots, --dim say otherwise. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct bench_feature_options {
    const char *field; /* a file, or "random" */
    int levels, L, K, dim;
} bench_feature_options;

/* Takes the feature options out of argv; the rest go to cli_parse. */
static int take_options(int *argc, char **argv, bench_feature_options *o)
{
    *o = (bench_feature_options){.levels = 3, .L = 64, .K = 4, .dim = 512};
    int kept = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *next = i + 1 < *argc ? argv[i + 1] : NULL;
        int *number = strcmp(a, "--levels") == 0 ? &o->levels : strcmp(a, "--codebook-size") == 0 ? &o->L
                      : strcmp(a, "--slots") == 0 ? &o->K : strcmp(a, "--dim") == 0 ? &o->dim : NULL;
        if (strcmp(a, "--features") == 0 && next) {
            o->field = argv[++i];
        } else if (number && next) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > RD_FEATURE_MAX_DIM) return fprintf(stderr, "radiant: %s %s: expected a whole number\n", a, next), EXIT_USAGE;
            *number = (int)v;
        } else {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    return EXIT_DONE;
}

/* A random field of count Gaussians: distinct entries a level, weights summing to 1. */
static rd_result random_field(rd_context *ctx, int64_t count, const bench_feature_options *o, rd_feature_field **out)
{
    size_t slots = (size_t)count * o->levels * o->K, values = (size_t)o->levels * o->L * o->dim;
    uint8_t *indices = malloc(slots + 1);
    float *weights = malloc((slots + 1) * sizeof(float)), *codebooks = malloc(values * sizeof(float));
    rd_result r = indices && weights && codebooks ? RD_OK : RD_ERROR_OUT_OF_MEMORY;
    uint64_t state = 0x9E3779B97F4A7C15ull;
    for (size_t g = 0; r == RD_OK && g < slots / (size_t)o->K; g++)
        for (int k = 0; k < o->K; k++) {
            state = state * 6364136223846793005ull + 1442695040888963407ull;
            indices[g * o->K + k] = (uint8_t)(((state >> 40) % (uint64_t)(o->L / o->K) + (uint64_t)k * (uint64_t)(o->L / o->K)) % (uint64_t)o->L);
            weights[g * o->K + k] = 1.0f / (float)o->K;
        }
    for (size_t v = 0; r == RD_OK && v < values; v++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        codebooks[v] = (float)((double)(state >> 40) / (double)(1ull << 24)) - 0.5f;
    }
    rd_feature_field_desc d = {.count = count, .levels = o->levels, .codebook_size = o->L, .slots = o->K, .dim = o->dim,
                               .indices = indices, .weights = weights, .codebooks = codebooks};
    if (r == RD_OK) r = rd_feature_field_create(ctx, &d, out);
    else fprintf(stderr, "radiant: out of memory for a random field of %lld Gaussians\n", (long long)count);
    free(indices), free(weights), free(codebooks);
    return r;
}

static int compare_ms(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median wall clock of frames renders of one output after warm-up ones. */
static double time_output(rd_context *ctx, const rd_scene *scene, const rd_feature_field *field, const cli_views *views, int frames,
                          int warmup, const rd_feature_render_desc *desc, const rd_feature_target *target, double *samples)
{
    for (int i = 0; i < warmup + frames; i++) {
        double t0 = cli_now_ms();
        if (rd_render_features(ctx, scene, field, &views->cameras[i % views->count], desc, target) != RD_OK) return -1.0;
        if (i >= warmup) samples[i - warmup] = cli_now_ms() - t0;
    }
    qsort(samples, (size_t)frames, sizeof(double), compare_ms);
    return frames % 2 ? samples[frames / 2] : 0.5 * (samples[frames / 2 - 1] + samples[frames / 2]);
}

int cli_bench_features(int argc, char **argv, const char *usage)
{
    bench_feature_options fo;
    int status = take_options(&argc, argv, &fo);
    if (status != EXIT_DONE) return status;
    cli_options o;
    status = cli_parse(argc, argv, OPT_DEMO | OPT_CAMERAS | OPT_BACKEND | OPT_SIZE | OPT_FRAMES | OPT_JSON, usage, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    rd_context *ctx = cli_context(&o);
    if (!ctx) return EXIT_FAILED;
    rd_scene *scene = NULL;
    rd_feature_field *field = NULL;
    cli_views views = {0};
    status = EXIT_FAILED;
    double *samples = calloc((size_t)o.frames + 1, sizeof(double));
    float *host = NULL, *query = NULL, *negatives = NULL;
    void *device = NULL;
    if (cli_load_scene(ctx, &o, &scene) != RD_OK || cli_views_load(ctx, &o, scene, &views) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    rd_scene_info info;
    rd_scene_get_info(scene, &info);
    if (strcmp(fo.field, "random") == 0 ? random_field(ctx, info.count, &fo, &field) != RD_OK
                                        : rd_feature_field_load(ctx, fo.field, &field) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    rd_feature_field_info fi;
    rd_feature_field_get_info(field, &fi);
    size_t pixels = (size_t)views.cameras[0].width * views.cameras[0].height;
    for (int v = 1; v < views.count; v++)
        if ((size_t)views.cameras[v].width * views.cameras[v].height > pixels) pixels = (size_t)views.cameras[v].width * views.cameras[v].height;
    size_t floats = pixels * (size_t)(fi.levels * fi.codebook_size > fi.dim ? fi.levels * fi.codebook_size : fi.dim);
    host = malloc(floats * sizeof(float) + 4);
    query = calloc((size_t)fi.dim, sizeof(float)), negatives = calloc((size_t)fi.dim * 4, sizeof(float));
    if (!samples || !host || !query || !negatives) {
        fprintf(stderr, "radiant: out of memory for the feature maps\n");
        goto done;
    }
    query[0] = 1.0f;
    for (int n = 0; n < 4; n++) negatives[(size_t)n * fi.dim + (size_t)(n + 1) % (size_t)fi.dim] = 1.0f;
    int warmup = o.warmup > 0 ? o.warmup : 3, level;
    rd_feature_render_desc relevancy = {.queries = query, .query_count = 1, .negatives = negatives, .negative_count = 4};
    double coefficients_ms = time_output(ctx, scene, field, &views, o.frames, warmup, NULL, &(rd_feature_target){.coefficients = host}, samples);
    double relevancy_ms = time_output(ctx, scene, field, &views, o.frames, warmup, &relevancy,
                                      &(rd_feature_target){.relevancy = host, .query_levels = &level}, samples);
    double features_ms = time_output(ctx, scene, field, &views, o.frames, warmup, &(rd_feature_render_desc){.level = 1, .half_features = 1},
                                     &(rd_feature_target){.features = host}, samples);
    double device_ms = NAN, relevancy_device_ms = NAN, features_device_ms = NAN;
    rd_memory memory;
    if (rd_context_backend(ctx) != RD_BACKEND_CPU && rd_buffer_alloc(ctx, floats * sizeof(float), &device, &memory) == RD_OK) {
        device_ms = time_output(ctx, scene, field, &views, o.frames, warmup, NULL,
                                &(rd_feature_target){.coefficients = device, .memory = RD_MEMORY_DEVICE}, samples);
        relevancy_device_ms = time_output(ctx, scene, field, &views, o.frames, warmup, &relevancy,
                                          &(rd_feature_target){.relevancy = device, .query_levels = &level, .memory = RD_MEMORY_DEVICE},
                                          samples);
        features_device_ms = time_output(ctx, scene, field, &views, o.frames, warmup, &(rd_feature_render_desc){.level = 1, .half_features = 1},
                                         &(rd_feature_target){.features = device, .memory = RD_MEMORY_DEVICE}, samples);
    }
    if (coefficients_ms < 0 || relevancy_ms < 0 || features_ms < 0) {
        cli_error(ctx, "bench --features");
        goto done;
    }
    const char *backend = rd_backend_name(rd_context_backend(ctx));
    const rd_camera *c0 = &views.cameras[0];
    if (o.json) {
        printf("{\"kind\": \"features\", \"backend\": \"%s\", \"gaussians\": %lld, \"width\": %d, \"height\": %d, \"levels\": %d, "
               "\"codebook_size\": %d, \"slots\": %d, \"dim\": %d, \"frames\": %d, \"coefficients_ms\": %.4f, "
               "\"coefficients_device_ms\": %.4f, \"relevancy_ms\": %.4f, \"relevancy_device_ms\": %.4f, \"features_half_ms\": %.4f, "
               "\"features_half_device_ms\": %.4f}\n",
               backend, (long long)info.count, c0->width, c0->height, fi.levels, fi.codebook_size, fi.slots, fi.dim, o.frames,
               coefficients_ms, device_ms == device_ms ? device_ms : -1.0, relevancy_ms,
               relevancy_device_ms == relevancy_device_ms ? relevancy_device_ms : -1.0, features_ms,
               features_device_ms == features_device_ms ? features_device_ms : -1.0);
    } else {
        printf("feature field over %lld Gaussians, %s backend, %dx%d, %d views, %d levels of L %d, K %d, D %d; medians of %d frames\n",
               (long long)info.count, backend, c0->width, c0->height, views.count, fi.levels, fi.codebook_size, fi.slots, fi.dim, o.frames);
        printf("  coefficient maps      %9.3f ms (into host memory)\n", coefficients_ms);
        if (device_ms == device_ms) printf("  coefficient maps      %9.3f ms (into device memory)\n", device_ms);
        printf("  one query's relevancy %9.3f ms (every level, the level chosen; into host memory)\n", relevancy_ms);
        if (relevancy_device_ms == relevancy_device_ms)
            printf("  one query's relevancy %9.3f ms (into device memory)\n", relevancy_device_ms);
        printf("  level 1's features    %9.3f ms (half precision, %d channels; into host memory)\n", features_ms, fi.dim);
        if (features_device_ms == features_device_ms)
            printf("  level 1's features    %9.3f ms (into device memory)\n", features_device_ms);
    }
    status = EXIT_DONE;
done:
    free(samples), free(host), free(query), free(negatives);
    rd_buffer_free(ctx, device);
    rd_feature_field_destroy(field);
    cli_views_free(&views);
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return status;
}
