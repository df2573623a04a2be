/* ops_features.c: the feature fields' rows of the cross-backend harness (backend_ops.h).
   Coefficients: random scenes with random fields (1-3 levels, L up to 256, K up to 8,
   weights summing to 1 a level, or up to 8 each in some cases), their coefficient maps and alpha on every backend (CPU
   threads, CUDA, Vulkan) against the one-thread CPU.
   Three coefficient cases in four and half the relevancy cases render into device memory
   on GPUs (rd_buffer_alloc: maps, alpha, unit features and relevancy), copied back for the
   comparison. Relevancy: the same with unit features of a level and the relevancy of random
   queries, the levels chosen (on the device: 29x29 smoothing and peaks) compared too; every
   other case asks for the relevancy alone. L 16 to 64 in multiples of 16 (CUDA's tensor-core
   sums, norms and decode) in some cases of each kind. */
#include "backend_ops.h"
#include "compare.h"
#include "../compress/conventions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct feature_case {
    rd_scene_desc arrays;
    rd_camera camera;
    rd_feature_field_desc field;
    int queries, negatives, level;
    float *embeddings; /* queries then negatives, dim floats each */
    bool device_target; /* GPUs: every output but the levels into rd_buffer_alloc memory, copied back */
    bool relevancy_only; /* no unit features asked: Vulkan computes the relevancy on the device */
    int features;        /* unit features of a level asked: 0 no, 1 float, 2 IEEE halves */
    bool features_alone; /* no coefficient maps asked beside them (CUDA then blends their level alone) */
} feature_case;

typedef struct feature_outputs {
    float *coefficients, *alpha, *features, *relevancy;
    int levels[8];
} feature_outputs;

static size_t pixels_of(const feature_case *c) { return (size_t)c->camera.width * c->camera.height; }
static size_t row_of(const feature_case *c) { return (size_t)c->field.levels * c->field.codebook_size; }

static int cases(const op_env *env) { return env->variant ? 4 : 10; }

static void *generate_case(test_rng *r, int i, bool queries)
{
    static const int sizes[][2] = {{1, 1}, {17, 13}, {40, 33}, {64, 48}, {97, 61}};
    static const int counts[] = {0, 1, 30, 300, 2000};
    feature_case *c = calloc(1, sizeof *c);
    int n = counts[i % 5];
    random_scene_desc sd = {.count = n, .sh_degree = 0, .degenerate = i % 3 == 1, .depth_min = 0.5, .depth_max = 8.0, .spread = 0.8,
                            .log_scale_min = -4.0, .log_scale_max = -0.8};
    c->arrays = random_scene(r, &sd);
    const int *size = sizes[(i / 5 + i) % 5];
    c->camera = random_camera(r, size[0], size[1]);
    rd_feature_field_desc *f = &c->field;
    f->count = n, f->levels = 1 + (int)(rng_uniform(r) * 3);
    /* L: multiples of 16 up to 64 (CUDA's tensor-core sums, norms and decode), the largest,
       or random (0) */
    static const int widths[8] = {32, 0, 64, 256, 48, 0, 16, 256};
    f->codebook_size = widths[i % 8] ? widths[i % 8] : 2 + (int)(rng_uniform(r) * 60);
    /* relevancy: at least 3 dimensions; the unit feature of 1 or 2 is a sign or an angle,
       which a float rounding turns where F nearly vanishes */
    f->dim = (queries ? 3 : 1) + (int)(rng_uniform(r) * 22);
    /* relevancy with L 32 <= D (CUDA's |F| from W^T G W on tensor cores) */
    if (queries && i % 8 == 0) f->dim = f->codebook_size + (int)(rng_uniform(r) * 9);
    /* a third of the relevancy cases with L <= D, where the GPUs take |F| from W^T G W */
    if (queries && i % 3 == 2 && f->codebook_size > f->dim) f->codebook_size = f->dim;
    f->slots = 1 + (int)(rng_uniform(r) * (f->codebook_size < 8 ? f->codebook_size : 8));
    size_t slots = (size_t)n * f->levels * f->slots;
    uint8_t *indices = malloc(slots + 1);
    float *weights = malloc((slots + 1) * sizeof(float));
    for (size_t g = 0; g < (size_t)n * f->levels; g++) {
        float sum = 0.0f;
        for (int k = 0; k < f->slots; k++) { /* distinct entries: k-th of a random offset's run */
            indices[g * f->slots + k] = (uint8_t)((g * 7 + (size_t)k * (size_t)(f->codebook_size / f->slots)) % (size_t)f->codebook_size);
            sum += weights[g * f->slots + k] = (float)rng_uniform(r);
        }
        /* weights summing to 1, or in two cases of eight up to 8 each: no rule bounds them, and
           CUDA's tensor-core products scale the coefficients by the largest */
        bool unbounded = i % 8 == 2 || i % 8 == 4;
        for (int k = 0; k < f->slots; k++) weights[g * f->slots + k] *= unbounded ? 8.0f : 1.0f / (sum > 0.0f ? sum : 1.0f);
    }
    f->indices = indices, f->weights = weights;
    f->codebooks = random_floats(r, (size_t)f->levels * f->codebook_size * f->dim, -1.0, 1.0);
    c->device_target = i % 4 == 1 || i % 4 == 2 || (!queries && i % 4 == 3);
    c->relevancy_only = queries && i % 2 == 1;
    /* unit features: beside every relevancy that is not alone (halves in some), and alone
       in halves beside some coefficient maps (the bench's third output) */
    c->features = queries ? (c->relevancy_only ? 0 : i % 4 == 0 ? 2 : 1) : i % 4 == 2 ? 2 : 0;
    c->level = 1 + (int)(rng_uniform(r) * f->levels);
    c->features_alone = !queries && i % 8 == 6;
    if (queries) {
        c->queries = 1 + (int)(rng_uniform(r) * 4), c->negatives = 1 + (int)(rng_uniform(r) * 4);
        c->embeddings = random_floats(r, (size_t)(c->queries + c->negatives) * f->dim, -1.0, 1.0);
    }
    return c;
}

static void *generate_coefficients(const op_env *env, test_rng *r, int i) { (void)env; return generate_case(r, i, false); }
static void *generate_relevancy(const op_env *env, test_rng *r, int i) { (void)env; return generate_case(r, i, true); }

static void free_inputs(void *inputs)
{
    feature_case *c = inputs;
    random_scene_free(&c->arrays);
    free((void *)c->field.indices), free((void *)c->field.weights), free((void *)c->field.codebooks), free(c->embeddings);
    free(c);
}

static void free_outputs(void *outputs)
{
    feature_outputs *o = outputs;
    if (!o) return;
    free(o->coefficients), free(o->alpha), free(o->features), free(o->relevancy);
    free(o);
}

static float *poisoned(size_t n)
{
    float *p = malloc((n + 1) * sizeof(float));
    for (size_t k = 0; k < n; k++) p[k] = NAN;
    return p;
}

static rd_result run(rd_context *ctx, void *inputs, void **outputs)
{
    feature_case *c = inputs;
    feature_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t P = pixels_of(c);
    rd_scene *scene = NULL;
    rd_feature_field *field = NULL;
    rd_result r = rd_scene_create(ctx, &c->arrays, &scene);
    if (r == RD_OK) r = rd_feature_field_create(ctx, &c->field, &field);
    rd_feature_render_desc desc = {.level = c->level, .half_features = c->features == 2};
    rd_feature_target target = {.alpha = o->alpha = poisoned(P)};
    uint16_t *halves = c->features == 2 ? malloc(P * c->field.dim * sizeof(uint16_t) + 2) : NULL;
    if (c->features) {
        o->features = poisoned(P * c->field.dim);
        target.features = halves ? (void *)halves : (void *)o->features;
        if (halves) memset(halves, 0xff, P * c->field.dim * sizeof(uint16_t)); /* NaNs */
    }
    if (c->queries) {
        desc.queries = c->embeddings, desc.query_count = c->queries;
        desc.negatives = c->embeddings + (size_t)c->queries * c->field.dim, desc.negative_count = c->negatives;
        target.relevancy = o->relevancy = poisoned(P * c->queries);
        target.query_levels = o->levels;
    } else if (!c->features_alone) {
        target.coefficients = o->coefficients = poisoned(P * row_of(c));
    }
    if (r == RD_OK && c->device_target && rd_context_backend(ctx) != RD_BACKEND_CPU) {
        /* each output the target asks for into device memory, then copied back where the host
           target would have had it */
        void *host[4] = {target.coefficients, target.alpha, target.features, target.relevancy};
        size_t bytes[4] = {P * row_of(c) * sizeof(float), P * sizeof(float), P * c->field.dim * (halves ? 2 : 4),
                           P * c->queries * sizeof(float)};
        void *on_device[4] = {0};
        rd_memory memory = RD_MEMORY_DEVICE;
        for (int k = 0; k < 4 && r == RD_OK; k++)
            if (host[k]) r = rd_buffer_alloc(ctx, bytes[k], &on_device[k], &memory);
        rd_feature_target device = {.coefficients = on_device[0], .alpha = on_device[1], .features = on_device[2],
                                    .relevancy = on_device[3], .query_levels = target.query_levels, .memory = RD_MEMORY_DEVICE};
        if (r == RD_OK) r = rd_render_features(ctx, scene, field, &c->camera, &desc, &device);
        for (int k = 0; k < 4 && r == RD_OK; k++)
            if (host[k]) r = rd_buffer_copy(ctx, host[k], RD_MEMORY_HOST, on_device[k], memory, bytes[k]);
        for (int k = 0; k < 4; k++) rd_buffer_free(ctx, on_device[k]);
    } else if (r == RD_OK) {
        r = rd_render_features(ctx, scene, field, &c->camera, &desc, &target);
    }
    for (size_t k = 0; halves && k < P * c->field.dim; k++) o->features[k] = rd_half_to_float(halves[k]);
    free(halves);
    rd_feature_field_destroy(field);
    rd_scene_destroy(scene);
    return r;
}

static bool compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const feature_case *c = inputs;
    const feature_outputs *got = got_outputs, *want = want_outputs;
    size_t P = pixels_of(c), flips = P * env->tol.flip_per_mille / 1000 + (env->tol.flip_per_mille ? 2 : 0);
    double tol = env->tol.max_abs, limit = tol > 0 ? 0.05 : 0;
    bool ok = compare_ok("alpha", compare_floats(got->alpha, want->alpha, P, tol), flips, limit);
    /* unit features: a pixel that is barely covered turns its unit feature on a rounding,
       so these get the flip budget of whole pixels and a looser limit (halves: their
       rounding besides) */
    if (c->features)
        ok &= compare_ok("unit features",
                         compare_floats(got->features, want->features, P * c->field.dim, tol * 10 + (c->features == 2 ? 1e-3 : 0)),
                         flips * c->field.dim, tol > 0 ? 2.0 : 0);
    if (c->features_alone) return ok;
    if (!c->queries) {
        /* a flip changes a pixel's every coefficient: the budget is in pixels */
        compare_result cr = compare_floats(got->coefficients, want->coefficients, P * row_of(c), tol);
        bool close = cr.rel_l2 <= env->tol.rel_l2 || cr.rel_l2 == 0;
        if (!close) printf("  coefficients: rel_l2 %.3g over %.3g (max_abs %.3g, over_tol %zu) -> FAIL\n", cr.rel_l2, env->tol.rel_l2, cr.max_abs, cr.over_tolerance);
        return ok && compare_ok("coefficients", cr, flips * row_of(c), limit) && close;
    }
    for (int q = 0; q < c->queries; q++) ok &= got->levels[q] == want->levels[q];
    if (!ok) return false;
    return compare_ok("relevancy", compare_floats(got->relevancy, want->relevancy, P * c->queries, tol * 10), flips * c->queries,
                      tol > 0 ? 1.0 : 0);
}

static void describe(const void *inputs)
{
    const feature_case *c = inputs;
    static const char *const features[] = {"none", "float", "half"};
    printf("    %lld Gaussians at %dx%d; %d levels, L %d, K %d, D %d; %d queries, %d negatives; unit features of level %d: %s\n",
           (long long)c->arrays.count, c->camera.width, c->camera.height, c->field.levels, c->field.codebook_size, c->field.slots,
           c->field.dim, c->queries, c->negatives, c->level, features[c->features]);
}

static bool never_large(const void *inputs) { (void)inputs; return false; }

const backend_op OP_FEATURE_COEFFICIENTS = {"feature coefficients", {2e-4, 1e-3, 5}, cases, generate_coefficients, never_large, run,
                                            compare, describe, free_inputs, free_outputs};
const backend_op OP_FEATURE_RELEVANCY = {"feature relevancy", {2e-4, 1e-4, 5}, cases, generate_relevancy, never_large, run, compare,
                                         describe, free_inputs, free_outputs};
