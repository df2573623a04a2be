/* ops_hashgrid.c: the hash encoding's row of the cross-backend harness (backend_ops.h):
   random grids (every feature count, dense and hashed levels, small and spec-sized tables),
   random tables in +-1, random points inside and outside the unit cube; the forward's
   features, the table's gradient and the positions' gradient against the CPU
   (hashgrid/hashgrid.c). CUDA runs its kernels on device copies; Vulkan has no NeRF
   kernels until the pruning issue and runs no case. Tolerances: the GPU places each point
   exactly as the CPU does (hashgrid.h rounds scale * p + 0.5 twice on both), so a feature
   differs only by the order and fusing of 8 products of numbers up to 1: 1e-5; the table's
   gradient sums the same products in another order (atomics): 1e-5 of its largest, over
   hundreds of additions to an entry, 3e-5; the positions' gradient is scale (up to 4095)
   times such sums, and is compared where every fraction is clear of the cell's faces (a
   fraction of 0 or 1 is where the gradient jumps): 1e-4 of its largest. */
#include "backend_ops.h"
#include "compare.h"
#include "../hashgrid/hashgrid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct hashgrid_case {
    rd_hashgrid grid;
    int64_t n;
    float *params, *positions, *grad_features;
    unsigned char *interior; /* per point: every fraction clear of the faces */
} hashgrid_case;

typedef struct hashgrid_outputs {
    float *features, *grad_params, *grad_positions;
} hashgrid_outputs;

static int hashgrid_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? 6 : 0; }

static void *hashgrid_generate(const op_env *env, test_rng *r, int i)
{
    static const rd_hashgrid_desc DESCS[6] = {
        {.levels = 4, .features = 1, .log2_table_size = 10, .base_resolution = 4, .finest_resolution = 40},
        {.levels = 8, .features = 2, .log2_table_size = 14, .finest_resolution = 512},
        {.levels = 6, .features = 4, .log2_table_size = 12, .base_resolution = 8, .finest_resolution = 200},
        {.levels = 3, .features = 8, .log2_table_size = 16, .base_resolution = 30, .finest_resolution = 300},
        {0}, /* the spec's: 16 levels, 2^19 entries, 16 to 2048 */
        {.levels = 16, .features = 2, .log2_table_size = 19, .finest_resolution = 4096},
    };
    hashgrid_case *c = calloc(1, sizeof *c);
    if (rd_hashgrid_make(env->ctx, &DESCS[i], &c->grid) != RD_OK) {
        free(c);
        return NULL;
    }
    /* the large cases: 200,000 points on GPUs, 20,000 for the threaded CPU (its threads split them alike) */
    c->n = i < 4 ? 5000 : TEST_SANITIZED ? 5000 : env->reduced || !env->gpu ? 20000 : 200000;
    size_t row = (size_t)c->grid.levels * (size_t)c->grid.features;
    c->params = random_floats(r, (size_t)c->grid.entries * (size_t)c->grid.features, -1, 1);
    c->positions = random_floats(r, 3 * (size_t)c->n, -0.25, 1.25);
    c->grad_features = random_floats(r, (size_t)c->n * row, -1, 1);
    c->interior = malloc((size_t)c->n);
    for (int64_t p = 0; p < c->n; p++) {
        bool clear = true;
        for (int l = 0; l < c->grid.levels; l++)
            for (int d = 0; d < 3; d++) {
                float at = c->grid.scale[l] * c->positions[3 * p + d] + 0.5f, frac = at - floorf(at);
                clear &= frac > 1e-3f && frac < 1.0f - 1e-3f;
            }
        c->interior[p] = clear;
    }
    return c;
}

static rd_result hashgrid_run(rd_context *ctx, void *inputs, void **outputs)
{
    hashgrid_case *c = inputs;
    size_t row = (size_t)c->grid.levels * (size_t)c->grid.features, table = (size_t)c->grid.entries * (size_t)c->grid.features;
    size_t feature_bytes = (size_t)c->n * row * sizeof(float), table_bytes = table * sizeof(float);
    size_t position_bytes = 3 * (size_t)c->n * sizeof(float);
    hashgrid_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    o->features = malloc(feature_bytes), o->grad_params = malloc(table_bytes), o->grad_positions = malloc(position_bytes);
    memset(o->features, 0xff, feature_bytes), memset(o->grad_positions, 0xff, position_bytes); /* NaN: all must be written */
    memset(o->grad_params, 0, table_bytes);                                                    /* added into */
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        rd_hashgrid_forward(ctx, &c->grid, c->params, c->positions, c->n, o->features);
        rd_hashgrid_backward(ctx, &c->grid, c->params, c->positions, c->n, c->grad_features, o->grad_params, o->grad_positions);
        return RD_OK;
    }
    rd_result r = RD_ERROR_OUT_OF_MEMORY;
#ifdef RADIANT_TEST_CUDA
    float *params = op_device_copy(ctx, c->params, table_bytes), *positions = op_device_copy(ctx, c->positions, position_bytes);
    float *grad_features = op_device_copy(ctx, c->grad_features, feature_bytes), *features = op_device_copy(ctx, o->features, feature_bytes);
    float *grad_params = op_device_copy(ctx, o->grad_params, table_bytes);
    float *grad_positions = op_device_copy(ctx, o->grad_positions, position_bytes);
    if (params && positions && grad_features && features && grad_params && grad_positions) {
        r = rd_hashgrid_forward_cuda(ctx, &c->grid, params, positions, c->n, features, NULL);
        if (r == RD_OK)
            r = rd_hashgrid_backward_cuda(ctx, &c->grid, params, positions, c->n, grad_features, grad_params, grad_positions, NULL);
        if (r == RD_OK) r = rd_buffer_copy(ctx, o->features, RD_MEMORY_HOST, features, RD_MEMORY_DEVICE, feature_bytes);
        if (r == RD_OK) r = rd_buffer_copy(ctx, o->grad_params, RD_MEMORY_HOST, grad_params, RD_MEMORY_DEVICE, table_bytes);
        if (r == RD_OK) r = rd_buffer_copy(ctx, o->grad_positions, RD_MEMORY_HOST, grad_positions, RD_MEMORY_DEVICE, position_bytes);
    }
    void *all[] = {params, positions, grad_features, features, grad_params, grad_positions};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) rd_buffer_free(ctx, all[k]);
#endif
    return r;
}

static double largest_of(const float *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static bool hashgrid_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const hashgrid_case *c = inputs;
    const hashgrid_outputs *got = got_outputs, *want = want_outputs;
    size_t row = (size_t)c->grid.levels * (size_t)c->grid.features, table = (size_t)c->grid.entries * (size_t)c->grid.features;
    double feature_tol = env->gpu ? 1e-5 : 0.0, table_tol = env->gpu ? 3e-5 * largest_of(want->grad_params, table) : 0.0;
    bool ok = compare_ok("features", compare_floats(got->features, want->features, (size_t)c->n * row, feature_tol), 0, feature_tol);
    ok &= compare_ok("table gradient", compare_floats(got->grad_params, want->grad_params, table, table_tol), 0, table_tol);
    unsigned char *skip = malloc(3 * (size_t)c->n); /* the positions' gradient where the point is clear of every face */
    for (int64_t p = 0; p < c->n; p++) memset(skip + 3 * p, !c->interior[p], 3);
    double position_tol = env->gpu ? 1e-4 * largest_of(want->grad_positions, 3 * (size_t)c->n) : 0.0;
    compare_result r = compare_floats_skip(got->grad_positions, want->grad_positions, 3 * (size_t)c->n, position_tol, skip);
    ok &= compare_ok("position gradient", r, 0, position_tol);
    free(skip);
    return ok;
}

static void hashgrid_describe(const void *inputs)
{
    const hashgrid_case *c = inputs;
    printf("%d levels of %d features, table 2^%d, %lld points\n", c->grid.levels, c->grid.features,
           (int)log2((double)c->grid.table_size), (long long)c->n);
}

static void hashgrid_free_inputs(void *inputs)
{
    hashgrid_case *c = inputs;
    free(c->params), free(c->positions), free(c->grad_features), free(c->interior), free(c);
}

static void hashgrid_free_outputs(void *outputs)
{
    hashgrid_outputs *o = outputs;
    if (o) free(o->features), free(o->grad_params), free(o->grad_positions);
    free(o);
}

const backend_op OP_HASHGRID = {"hashgrid", {0, 0, 0}, hashgrid_cases, hashgrid_generate, NULL, hashgrid_run, hashgrid_compare,
                                hashgrid_describe, hashgrid_free_inputs, hashgrid_free_outputs};
