/* test_backends.c: the cross-backend harness. Every operation of the table below
   (backend_ops.h: name, case generator, run, compare, tolerance) runs on every backend
   present, on fresh random inputs, with outputs poisoned (NaN) before the run, and is
   compared with the CPU reference (one thread) by max absolute and relative L2 error.
   Backends that are not built, or have no device, are reported as skipped; the
   multi-threaded CPU always runs and must match the single-threaded one bit for bit.
   Each row says what it leaves out on software devices and in the sanitizer build. */
#include "backend_ops.h"
#include "../renderer/tuning.h"
#ifdef RADIANT_TEST_VULKAN
#include "radiant_vulkan.h"
#endif

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wall seconds (RADIANT_TEST_TIMES=1 prints each row's, to find the slow ones). */
static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The operations, in the order they run on each backend. */
static const backend_op *const OPS[] = {&OP_SPLAT_RENDER, &OP_SPLAT_PACKED, &OP_SPLAT_RENDER_VIEWS, &OP_SPLAT_CENTRED_MEANS,
                                        &OP_SPLAT_CAPACITY, &OP_SPLAT_DEVICE_ARRAYS, &OP_SPLAT_CONTEXTS, &OP_SPLAT_BACKWARD, &OP_SPLAT4D_RENDER, &OP_SPLAT4D_BACKWARD,
                                        &OP_FEATURE_COEFFICIENTS, &OP_FEATURE_RELEVANCY, &OP_FEATURE_TRAIN,
                                        &OP_TRAIN_LOSS, &OP_TRAIN_ADAM, &OP_TRAIN_MCMC, &OP_HASHGRID, &OP_MLP,
                                        &OP_OCCUPANCY_MARCH, &OP_OCCUPANCY_UPDATE, &OP_VOLUME_COMPOSITE, &OP_NERF_FIELD,
                                        &OP_NERF_RENDER, &OP_NERF_TRAIN, &OP_NERF_ADMM, &OP_STREAM_DECODE, &OP_COMPACT_DECODE, &OP_STREAM_ENCODE_STEP, &OP_STREAM_ENCODE_MASK,
                                        &OP_STREAM_ENCODE_REBUILD};

bool op_cpu_or_cuda(const op_env *env)
{
    rd_backend b = rd_context_backend(env->ctx);
#ifdef RADIANT_TEST_CUDA
    if (b == RD_BACKEND_CUDA) return true;
#endif
    return b == RD_BACKEND_CPU;
}

void *op_device_copy(rd_context *ctx, const void *host, size_t bytes)
{
    void *p = NULL;
    rd_memory memory;
    if (rd_buffer_alloc(ctx, bytes ? bytes : 4, &p, &memory) != RD_OK) return NULL;
    rd_result r = host && bytes ? rd_buffer_copy(ctx, p, memory, host, RD_MEMORY_HOST, bytes) : RD_OK;
    if (!host && bytes) {
        void *zeros = calloc(1, bytes);
        r = zeros ? rd_buffer_copy(ctx, p, memory, zeros, RD_MEMORY_HOST, bytes) : RD_ERROR_OUT_OF_MEMORY;
        free(zeros);
    }
    if (r != RD_OK) {
        rd_buffer_free(ctx, p);
        return NULL;
    }
    return p;
}

typedef struct backend_config {
    const char *name;
    rd_backend backend;
    int threads;
    rd_tuning tuning;       /* the variant the context runs (renderer/tuning.h); zero: the device's defaults */
    bool small_only;        /* only the small random cases (a second run of a backend) */
} backend_config;

static const backend_config CONFIGS[] = {
    {"cpu (threads)", RD_BACKEND_CPU, 0, {0}, false},
    {"cuda", RD_BACKEND_CUDA, 0, {0}, false},
    {"vulkan", RD_BACKEND_VULKAN, 0, {0}, false},
    /* the blend's two launch orders, whichever the device defaults to (splat_vk.c; software
       devices skip their default's, row order, which the "vulkan" row runs) */
    {"vulkan (tiles longest first)", RD_BACKEND_VULKAN, 0, {.vk_tile_order = RD_TILE_ORDER_LONGEST}, true},
    {"vulkan (tiles in row order)", RD_BACKEND_VULKAN, 0, {.vk_tile_order = RD_TILE_ORDER_ROWS}, true},
    /* the sorts' blocks at another size than the device's default (vk_sort.c's sort_items;
       clamped to what its shared memory holds) */
    {"vulkan (sort blocks of 20 keys a thread)", RD_BACKEND_VULKAN, 0, {.vk_sort_items = 20}, true},
    /* the sort's two paths (vk_sort.h): the single pass where the device promises that the
       workgroups it waits on run (GPUs; refused elsewhere), and reduce-then-scan, which
       software devices take by default (the "vulkan" row) */
    {"vulkan (single-pass sort)", RD_BACKEND_VULKAN, 0, {.vk_sort_path = RD_SORT_SINGLE_PASS}, true},
    {"vulkan (reduce-then-scan sort)", RD_BACKEND_VULKAN, 0, {.vk_sort_path = RD_SORT_REDUCE_THEN_SCAN}, true},
    /* the emission a group a block of Gaussians (splat_vk.c's emit_blocks) rather than a thread a pair */
    {"vulkan (emission a block of Gaussians a group)", RD_BACKEND_VULKAN, 0, {.vk_emit = RD_EMIT_BLOCKS}, true},
    /* the sort's scatter ranking digits by one subgroupPartitionNV (vk_sort.c's
       choose_sort_rank; refused where the device has no VK_NV_shader_subgroup_partitioned)
       rather than the default's eight ballots */
    {"vulkan (sort ranked by subgroupPartitionNV)", RD_BACKEND_VULKAN, 0, {.vk_sort_rank = RD_SORT_RANK_PARTITIONED}, true},
    /* the NeRF march with t in float, as devices without shaderFloat64 run it (nerf/render_vk.c) */
    {"vulkan (NeRF march in single precision)", RD_BACKEND_VULKAN, 0, {.vk_nerf_march = RD_NERF_MARCH_SINGLE}, true},
    /* the emission kernel that large scenes take (splat_cuda.cu's emit_items) */
    {"cuda (two Gaussians an emission thread)", RD_BACKEND_CUDA, 0, {.cuda_emit_items = 2}, true},
    /* the blend in two launches, the longest tiles alone on an SM (splat_cuda.cu's blend_part),
       and in one */
    {"cuda (longest tiles alone)", RD_BACKEND_CUDA, 0, {.cuda_long_tiles = RD_LONG_TILES_ALL}, true},
    {"cuda (blend in one launch)", RD_BACKEND_CUDA, 0, {.cuda_long_tiles = RD_LONG_TILES_NEVER}, true},
    /* a feature field's levels walked together rather than one a launch (feature_cuda.cu), with
       the walk's sums on tensor cores (where L allows: feature_cuda_tensor_walk.cuh) and scattered */
    {"cuda (feature levels walked together)", RD_BACKEND_CUDA, 0, {.cuda_feature_walk = 3}, true},
    {"cuda (feature levels walked together, sums scattered)", RD_BACKEND_CUDA, 0,
     {.cuda_feature_walk = 3, .cuda_feature_sum = RD_FEATURE_SUM_SCATTER}, true},
    /* a feature blend's sums scattered into shared memory rather than on tensor cores */
    {"cuda (feature sums scattered)", RD_BACKEND_CUDA, 0, {.cuda_feature_sum = RD_FEATURE_SUM_SCATTER}, true},
    /* half unit features decoded, and |F|^2 taken, on CUDA cores rather than tensor cores (feature_cuda.cu) */
    {"cuda (feature decode on CUDA cores)", RD_BACKEND_CUDA, 0, {.cuda_feature_decode = RD_FEATURE_DECODE_CORES}, true},
};

/* A CPU implementation of Vulkan (lavapipe): its defaults differ (vk_sort.c, splat_vk.c),
   and it renders one to two orders of magnitude slower than a GPU. */
static bool software_device(rd_context *ctx)
{
#ifdef RADIANT_TEST_VULKAN
    rd_vulkan_device device;
    if (rd_context_backend(ctx) != RD_BACKEND_VULKAN || rd_vulkan_get_device(ctx, &device) != RD_OK) return false;
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties(device.physical, &properties);
    return properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
#else
    (void)ctx;
    return false;
#endif
}

/* RADIANT_TEST_OPS=a,b,...: only the operations whose names contain one of these (a
   device run's few minutes on the rows it changed); unset: all of them. */
static bool selected(const char *name)
{
    const char *list = getenv("RADIANT_TEST_OPS");
    if (!list || !*list) return true;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *save = NULL, *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save))
        if (*part && strstr(name, part)) return true;
    return false;
}

/* The random stream of one operation on one backend row: the seed mixed with both names
   (FNV-1a), so that RADIANT_TEST_OPS and the rows a machine skips leave every other
   row's cases as a full run draws them (a failure replays in seconds). */
static test_rng row_rng(unsigned long long seed, const char *row, const char *op)
{
    unsigned long long h = 0xcbf29ce484222325ull ^ seed;
    for (const char *s = row; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    h = (h ^ '/') * 0x100000001b3ull;
    for (const char *s = op; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return (test_rng){h};
}

/* One operation on one backend: its cases against the reference, a line of results. */
static int run_op(const backend_op *op, op_env env, rd_context *ref, rd_context *ref_threads, unsigned long long seed)
{
    if (!selected(op->name)) return 0;
    test_rng rng = row_rng(seed, env.name, op->name), *r = &rng;
    int cases = op->cases(&env), ran = 0, failed = 0;
    if (cases == 0) return 0;
    double started = now_seconds();
    if (env.gpu) env.tol = op->gpu_tolerance;
    for (int i = 0; i < cases; i++) {
        void *inputs = op->generate(&env, r, i);
        if (!inputs) continue;
        ran++;
        void *got = NULL, *want = NULL;
        /* the backend under test first: its run may shrink the case (backend_ops.h) */
        bool ok = CHECK_OK(op->run(env.ctx, inputs, &got));
        if (!ok) printf("  %s: %s case %d failed: %s\n", env.name, op->name, i, rd_last_error(env.ctx));
        /* the threaded CPU only for a GPU's large cases: the CPU row is what checks it
           against one thread (its large cases were the threaded CPU against itself) */
        rd_context *reference = env.gpu && op->large && op->large(inputs) ? ref_threads : ref;
        ok = ok && CHECK_OK(op->run(reference, inputs, &want)) && op->compare(&env, inputs, got, want);
        if (!CHECK(ok)) {
            failed++;
            printf("  %s: %s case %d differs (RADIANT_TEST_SEED=%llu RADIANT_TEST_OPS=%s replays its row): ", env.name, op->name, i,
                   seed, op->name);
            op->describe(inputs);
        }
        op->free_outputs(got);
        op->free_outputs(want);
        op->free_inputs(inputs);
    }
    printf("backend %s: %s %d/%d cases within tolerance", env.name, op->name, ran - failed, ran);
    if (getenv("RADIANT_TEST_TIMES")) printf(" (%.1f s)", (now_seconds() - started));
    printf("\n");
    return failed;
}

int main(void)
{
    unsigned long long seed = test_seed("backends");
    if (getenv("RADIANT_TEST_OPS")) printf("backends: only the operations matching RADIANT_TEST_OPS=%s\n", getenv("RADIANT_TEST_OPS"));
    rd_context *ref;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log}, &ref));
    /* large cases take the threaded CPU as reference; the first row checks that it equals one thread */
    rd_context *ref_threads;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ref_threads));
    int ran = 0;
    for (size_t b = 0; b < sizeof CONFIGS / sizeof CONFIGS[0]; b++) {
        const backend_config *cfg = &CONFIGS[b];
        rd_context *ctx = NULL;
        rd_result cr = rd_context_create_tuned(&(rd_context_desc){.backend = cfg->backend, .threads = cfg->threads, .log = test_log},
                                               &cfg->tuning, &ctx);
        if (cr == RD_ERROR_BACKEND_UNAVAILABLE) {
            printf("backend %s: skipped (not built, no device here, or the device refuses this variant; "
                   "RADIANT_TEST_VERBOSE=1 logs why)\n", cfg->name);
            continue;
        }
        if (!CHECK_OK(cr)) continue;
        if (TEST_SANITIZED && cfg->small_only) { /* the variants' shaders and kernels: the release build runs them */
            printf("backend %s: skipped in the sanitizer build (its host code is the default row's; the release build runs it)\n",
                   cfg->name);
            rd_context_destroy(ctx);
            continue;
        }
        bool software = software_device(ctx);
        /* software devices' defaults: reduce-then-scan (vk_sort.c) and tiles in row order (splat_vk.c) */
        if (software && (cfg->tuning.vk_sort_path == RD_SORT_REDUCE_THEN_SCAN || cfg->tuning.vk_tile_order == RD_TILE_ORDER_ROWS)) {
            printf("backend %s: skipped (this device's default: the \"vulkan\" row ran it)\n", cfg->name);
            rd_context_destroy(ctx);
            continue;
        }
        op_env env = {.ctx = ctx, .name = cfg->name, .gpu = cfg->backend != RD_BACKEND_CPU, .variant = cfg->small_only,
                      .tuning = &cfg->tuning, .reduced = software || TEST_SANITIZED};
        for (size_t k = 0; k < sizeof OPS / sizeof OPS[0]; k++) run_op(OPS[k], env, ref, ref_threads, seed);
        ran++;
        rd_context_destroy(ctx);
    }
    rd_context_destroy(ref);
    rd_context_destroy(ref_threads);
    CHECK(ran >= 1);
    check_validation();
    return test_finish("backends");
}
