/* ops_nerf_volume.c: the NeRF's occupancy grid and volume rendering rows of the
   cross-backend harness (backend_ops.h), against the CPU (nerf/occupancy.c, nerf/volume.c).
   CUDA runs its kernels on device copies; Vulkan has no NeRF kernels and runs no case.

   occupancy march: random grids (every aabb_scale's cascades from 1 to 6, blocks of
   occupied cells of random density, random thicknesses), random rays from inside the grid
   and from outside it (some along the axes), with and without per-ray t limits and a
   training step's jitter (each ray's samples shifted by a random fraction of a step), capacities
   that hold every ray or cut the batch; the packed samples, offsets, counts and total
   compared exactly. Tolerance: none. Both backends run occupancy.h's one march
   (rd_occupancy_march_view): t in double, every product that meets an addition rounded
   on its own (__dmul_rn on the device; the host has no fused multiply-add on x86-64), the
   float cell lookup exact but for one rounding, IEEE division on both; so every decision
   and every stored t and dt is the same, and a single differing ray is a bug.

   occupancy update: the draws (cells and points) at an all-cells step and at later ones
   of grids with occupied cells, a density of the test's own (with NaNs and zeros) at the
   drawn points, then the decay, maximum, threshold, bits and pooled levels. Tolerance:
   none. The draws are a hash of (seed, step, draw) with exact point arithmetic, the
   maximum is order-free (a compare-and-swap of the same float comparison), the mean is
   summed in the same fixed order of double additions on both: all bit for bit.

   volume composite: random packed rays (empty, thin, opaque early, 1024-sample ones;
   backgrounds a ray), forward (colour, alpha, depth, samples used) then backward (each
   sample's density and colour gradients for random colour, alpha and depth gradients).
   Tolerances on the GPU, whose expf is within 2 ulp of the CPU's and which fuses
   multiply-adds: a ray's transmittance is a product of up to 1024 factors, each off by a
   few 1e-7 relative, so colours and alphas (sums of weights up to 1 times values up to
   1) may differ by a few 1e-6 (allowed 1e-5) and depths by that times the largest t
   (1e-5 x t). The stop at transmittance 1e-4 can flip where T lands within that error of
   it: a flipped ray's outputs differ by at most T (1e-4) x (colour + background), so
   its forward is held to 3e-4 and its gradients are not compared; one ray in a thousand
   may flip. The backward's colour gradient is g x weight (3e-6); the density gradient is
   dt times differences of running sums taken from the forward's colour (the walk
   subtracts up to 1024 weighted colours) and of depths up to t: 3e-5 of the largest
   density gradient. Measured on an H200 (2 runs, 4 cases each): colour 1.6e-6, alpha
   2.8e-6, depth 1.5e-5 with t up to 23, density gradient 2.3e-7 of a largest 0.08 (3e-6
   of it), colour gradient 1.5e-7; no flipped ray. */
#include "backend_ops.h"
#include "compare.h"
#include "../nerf/occupancy.h"
#include "../nerf/volume.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef RADIANT_TEST_CUDA /* the CUDA rows' device buffers */
static rd_result to_host(rd_context *ctx, void *host, const void *device, size_t bytes)
{
    return bytes ? rd_buffer_copy(ctx, host, RD_MEMORY_HOST, device, RD_MEMORY_DEVICE, bytes) : RD_OK;
}

static void free_all(rd_context *ctx, void **all, size_t n)
{
    for (size_t k = 0; k < n; k++) rd_buffer_free(ctx, all[k]);
}
#endif

static int64_t grid_cells(const rd_occupancy *g) { return (int64_t)g->cascades * RD_OCCUPANCY_CELLS; }

/* A grid of `cascades` with blocks of 8^3 cells, each block empty, sparse or dense, and
   random thicknesses up to `largest` in the occupied ones; bits rebuilt. Below 0.02 the
   grid's mean is under 0.01 and is the threshold itself. */
static bool random_grid(const op_env *env, test_rng *r, int cascades, double largest, rd_occupancy *g)
{
    if (rd_occupancy_create(env->ctx, 1 << (cascades - 1), (uint64_t)(rng_uniform(r) * 1e15), g) != RD_OK) return false;
    int64_t blocks = grid_cells(g) / 512;
    float *density = malloc(sizeof(float) * (size_t)blocks);
    for (int64_t b = 0; b < blocks; b++) {
        double u = rng_uniform(r);
        density[b] = u < 0.6 ? 0.0f : u < 0.85 ? 0.2f : 1.0f;
    }
    for (int64_t i = 0; i < grid_cells(g); i++) {
        int64_t in = i % RD_OCCUPANCY_CELLS, c = i / RD_OCCUPANCY_CELLS;
        int64_t b = c * 4096 + in % 128 / 8 + in / 128 % 128 / 8 * 16 + in / 16384 / 8 * 256;
        g->thickness[i] = density[b] > 0.0f && rng_uniform(r) < density[b] ? (float)rng_range(r, 0.0, largest) : 0.0f;
    }
    free(density);
    rd_occupancy_rebuild_bits(g);
    return true;
}

/* ---- occupancy march ------------------------------------------------------------------ */

typedef struct march_case {
    rd_occupancy grid;
    int64_t rays, capacity;
    int max_samples;
    float *origins, *dirs, *t_min, *t_max, *jitter; /* t_min, t_max, jitter NULL in some cases */
} march_case;

typedef struct march_outputs {
    rd_march_sample *samples;
    int32_t *offset, *count;
    int64_t total;
} march_outputs;

static int march_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? 6 : 0; }

static void *march_generate(const op_env *env, test_rng *r, int i)
{
    static const int CASCADES[6] = {1, 2, 4, 6, 3, 1};
    march_case *c = calloc(1, sizeof *c);
    if (!random_grid(env, r, CASCADES[i], i % 2 ? 0.005 : 0.05, &c->grid)) {
        free(c);
        return NULL;
    }
    c->rays = env->reduced ? 3000 : 20000;
    c->max_samples = i == 5 ? 64 : 1024;
    c->origins = malloc(sizeof(float) * 3 * (size_t)c->rays), c->dirs = malloc(sizeof(float) * 3 * (size_t)c->rays);
    if (i % 2) c->t_min = malloc(sizeof(float) * (size_t)c->rays), c->t_max = malloc(sizeof(float) * (size_t)c->rays);
    if (i >= 3) c->jitter = malloc(sizeof(float) * (size_t)c->rays); /* a training step's shifts */
    double size = (double)(1 << (c->grid.cascades - 1));
    for (int64_t k = 0; k < c->rays; k++) {
        float *o = c->origins + 3 * k, *d = c->dirs + 3 * k, len = 0.0f;
        bool inside = k % 3 == 0, axis = k % 17 == 0;
        for (int a = 0; a < 3; a++) {
            o[a] = (float)(inside ? 0.5 + rng_range(r, -0.5, 0.5) * size : 0.5 + rng_range(r, -1.5, 1.5) * size);
            d[a] = (float)(rng_range(r, 0.0, 1.0) + rng_range(r, -0.2, 0.2) * size) - o[a];
        }
        if (axis) { /* along an axis: two components exactly zero */
            int keep = (int)(k / 17 % 3);
            for (int a = 0; a < 3; a++) d[a] = a == keep ? (k % 2 ? 1.0f : -1.0f) : 0.0f;
        }
        for (int a = 0; a < 3; a++) len += d[a] * d[a];
        for (int a = 0; a < 3; a++) d[a] /= sqrtf(len);
        if (c->t_min) c->t_min[k] = (float)rng_range(r, 0.0, 0.5), c->t_max[k] = c->t_min[k] + (float)rng_range(r, 0.2, 3.0 * size);
        if (c->jitter) c->jitter[k] = (float)rng_range(r, 0.0, 1.0);
    }
    /* cases 2 and 3 cut the batch (about 30 samples a ray fit), the rest hold every ray */
    c->capacity = i == 2 || i == 3 ? c->rays * 30 : c->rays * (int64_t)c->max_samples;
    return c;
}

static rd_result march_run(rd_context *ctx, void *inputs, void **outputs)
{
    march_case *c = inputs;
    march_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t sample_bytes = sizeof(rd_march_sample) * (size_t)c->capacity, ray_bytes = sizeof(int32_t) * (size_t)c->rays;
    size_t limit_bytes = sizeof(float) * (size_t)c->rays;
    o->samples = malloc(sample_bytes), o->offset = malloc(ray_bytes), o->count = malloc(ray_bytes);
    memset(o->samples, 0xff, sample_bytes), memset(o->offset, 0xff, ray_bytes), memset(o->count, 0xff, ray_bytes);
    o->total = -1;
    if (rd_context_backend(ctx) == RD_BACKEND_CPU)
        return rd_occupancy_march_rays(ctx, &c->grid, c->rays, c->origins, c->dirs, c->t_min, c->t_max, c->jitter, c->max_samples, c->capacity,
                                       o->samples, o->offset, o->count, &o->total);
    rd_result r = RD_ERROR_OUT_OF_MEMORY;
#ifdef RADIANT_TEST_CUDA
    rd_occupancy_cuda g;
    r = rd_occupancy_cuda_create(ctx, &c->grid, &g);
    if (r != RD_OK) return r;
    float *origins = op_device_copy(ctx, c->origins, 3 * limit_bytes), *dirs = op_device_copy(ctx, c->dirs, 3 * limit_bytes);
    float *t_min = c->t_min ? op_device_copy(ctx, c->t_min, limit_bytes) : NULL, *t_max = c->t_max ? op_device_copy(ctx, c->t_max, limit_bytes) : NULL;
    float *jitter = c->jitter ? op_device_copy(ctx, c->jitter, limit_bytes) : NULL;
    rd_march_sample *samples = op_device_copy(ctx, o->samples, sample_bytes);
    int32_t *offset = op_device_copy(ctx, o->offset, ray_bytes), *count = op_device_copy(ctx, o->count, ray_bytes);
    int64_t *total = op_device_copy(ctx, &o->total, sizeof o->total);
    r = RD_ERROR_OUT_OF_MEMORY;
    if (origins && dirs && (t_min || !c->t_min) && (t_max || !c->t_max) && (jitter || !c->jitter) && samples && offset && count && total) {
        r = rd_occupancy_march_rays_cuda(ctx, &g, c->rays, origins, dirs, t_min, t_max, jitter, c->max_samples, c->capacity, samples, offset,
                                         count, total, NULL);
        if (r == RD_OK) r = to_host(ctx, &o->total, total, sizeof o->total);
        if (r == RD_OK) r = to_host(ctx, o->offset, offset, ray_bytes);
        if (r == RD_OK) r = to_host(ctx, o->count, count, ray_bytes);
        if (r == RD_OK && o->total >= 0 && o->total <= c->capacity)
            r = to_host(ctx, o->samples, samples, sizeof(rd_march_sample) * (size_t)o->total);
    }
    void *all[] = {origins, dirs, t_min, t_max, jitter, samples, offset, count, total};
    free_all(ctx, all, sizeof all / sizeof all[0]);
    rd_occupancy_cuda_destroy(ctx, &g);
#endif
    (void)limit_bytes;
    return r;
}

static bool march_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const march_case *c = inputs;
    const march_outputs *got = got_outputs, *want = want_outputs;
    int64_t rays_differ = 0, samples_differ = 0, kept = 0, first = -1;
    bool total_ok = got->total == want->total && want->total >= 0 && want->total <= c->capacity;
    for (int64_t k = 0; k < c->rays; k++) {
        bool same = got->offset[k] == want->offset[k] && got->count[k] == want->count[k];
        kept += want->count[k] > 0;
        if (same && total_ok && want->count[k] > 0) {
            int64_t o = want->offset[k], n = want->count[k], bad = 0;
            for (int64_t s = 0; s < n; s++)
                bad += memcmp(&got->samples[o + s], &want->samples[o + s], sizeof(rd_march_sample)) != 0;
            samples_differ += bad;
            same = bad == 0;
        }
        if (!same && first < 0) first = k;
        rays_differ += !same;
    }
    printf("    march: %lld rays, %lld with samples, %lld samples; %lld rays differ (%lld samples)\n", (long long)c->rays,
           (long long)kept, (long long)want->total, (long long)rays_differ, (long long)samples_differ);
    if (first >= 0)
        printf("    first differing ray %lld: offset %d/%d, count %d/%d (got/want)\n", (long long)first, got->offset[first],
               want->offset[first], got->count[first], want->count[first]);
    if (!total_ok) printf("    total %lld, want %lld\n", (long long)got->total, (long long)want->total);
    (void)env;
    return total_ok && rays_differ == 0;
}

static void march_describe(const void *inputs)
{
    const march_case *c = inputs;
    printf("%d cascades, %lld rays, %d samples a ray, capacity %lld, %s\n", c->grid.cascades, (long long)c->rays, c->max_samples,
           (long long)c->capacity, c->t_min ? "t limits" : "no t limits");
}

static void march_free_inputs(void *inputs)
{
    march_case *c = inputs;
    rd_occupancy_destroy(&c->grid);
    free(c->origins), free(c->dirs), free(c->t_min), free(c->t_max), free(c->jitter), free(c);
}

static void march_free_outputs(void *outputs)
{
    march_outputs *o = outputs;
    if (o) free(o->samples), free(o->offset), free(o->count);
    free(o);
}

const backend_op OP_OCCUPANCY_MARCH = {"occupancy march", {0, 0, 0}, march_cases, march_generate, NULL, march_run, march_compare,
                                       march_describe, march_free_inputs, march_free_outputs};

/* ---- occupancy update ----------------------------------------------------------------- */

typedef struct update_case {
    rd_occupancy grid;
    int step;
    float blob[4][4]; /* the density's blobs: centre, radius */
    float strength;   /* their density's scale */
} update_case;

typedef struct update_outputs {
    rd_occupancy grid; /* after the update */
    float *points;
    int32_t *cells;
    int64_t count;
} update_outputs;

/* The test's density at the drawn points: blobs of 1 to 7 times the strength, NaN at
   about one point in 500, zero elsewhere. */
static void blob_density(const update_case *c, const float *p, int64_t n, float *sigma)
{
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &p[3 * i], sizeof bits);
        float s = 0.0f;
        for (int b = 0; b < 4; b++) {
            float dx = p[3 * i] - c->blob[b][0], dy = p[3 * i + 1] - c->blob[b][1], dz = p[3 * i + 2] - c->blob[b][2];
            if (dx * dx + dy * dy + dz * dz < c->blob[b][3] * c->blob[b][3]) s += c->strength * (float)(1 + bits % 7);
        }
        sigma[i] = bits % 499 == 0 ? NAN : s;
    }
}

static int update_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? 4 : 0; }

static void *update_generate(const op_env *env, test_rng *r, int i)
{
    static const int CASCADES[4] = {1, 2, 3, 2}, STEPS[4] = {0, 100, 304, 256};
    update_case *c = calloc(1, sizeof *c);
    int cascades = env->reduced ? 1 : CASCADES[i];
    if (!random_grid(env, r, cascades, i % 2 ? 0.05 : 0.005, &c->grid)) {
        free(c);
        return NULL;
    }
    c->step = STEPS[i];
    c->strength = i % 2 ? 50.0f : 0.5f; /* thicknesses of 0.1 to 0.6, or under 0.01: the mean's threshold */
    for (int b = 0; b < 4; b++) {
        for (int a = 0; a < 3; a++) c->blob[b][a] = (float)rng_range(r, 0.0, 1.0);
        c->blob[b][3] = (float)rng_range(r, 0.05, 0.4);
    }
    return c;
}

/* out: a fresh host grid holding a copy of in. */
static rd_result copy_grid(rd_context *ctx, const rd_occupancy *in, rd_occupancy *out)
{
    rd_result r = rd_occupancy_create(ctx, 1 << (in->cascades - 1), in->seed, out);
    if (r != RD_OK) return r;
    memcpy(out->thickness, in->thickness, sizeof(float) * (size_t)grid_cells(in));
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) memcpy(out->bits[k], in->bits[k], (size_t)(grid_cells(in) >> (3 * k)));
    out->threshold = in->threshold;
    return RD_OK;
}

static rd_result update_run(rd_context *ctx, void *inputs, void **outputs)
{
    update_case *c = inputs;
    update_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    o->count = rd_occupancy_update_count(c->grid.cascades, c->step);
    size_t point_bytes = sizeof(float) * 3 * (size_t)o->count, cell_bytes = sizeof(int32_t) * (size_t)o->count;
    o->points = malloc(point_bytes), o->cells = malloc(cell_bytes);
    float *sigma = malloc(sizeof(float) * (size_t)o->count);
    memset(o->points, 0xff, point_bytes), memset(o->cells, 0xff, cell_bytes);
    rd_result r = copy_grid(ctx, &c->grid, &o->grid);
    if (r == RD_OK && rd_context_backend(ctx) == RD_BACKEND_CPU) {
        r = rd_occupancy_update_points(ctx, &o->grid, c->step, o->points, o->cells);
        if (r == RD_OK) blob_density(c, o->points, o->count, sigma);
        if (r == RD_OK) r = rd_occupancy_update_apply(ctx, &o->grid, o->count, o->cells, sigma);
        free(sigma);
        return r;
    }
    if (r == RD_OK) { /* poisoned: the device's download must write all of it */
        memset(o->grid.thickness, 0xff, sizeof(float) * (size_t)grid_cells(&c->grid));
        for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) memset(o->grid.bits[k], 0xff, (size_t)(grid_cells(&c->grid) >> (3 * k)));
        o->grid.threshold = NAN;
    }
#ifdef RADIANT_TEST_CUDA
    rd_occupancy_cuda g = {0};
    if (r == RD_OK) r = rd_occupancy_cuda_create(ctx, &c->grid, &g);
    float *points = r == RD_OK ? op_device_copy(ctx, o->points, point_bytes) : NULL, *sigma_dev = NULL;
    int32_t *cells = r == RD_OK ? op_device_copy(ctx, o->cells, cell_bytes) : NULL;
    if (r == RD_OK) r = points && cells ? RD_OK : RD_ERROR_OUT_OF_MEMORY;
    if (r == RD_OK) r = rd_occupancy_update_points_cuda(ctx, &g, c->step, points, cells, NULL);
    if (r == RD_OK) r = to_host(ctx, o->points, points, point_bytes);
    if (r == RD_OK) r = to_host(ctx, o->cells, cells, cell_bytes);
    if (r == RD_OK) {
        /* the density at the device's own points (equal to the CPU's where the draws agree) */
        blob_density(c, o->points, o->count, sigma);
        r = (sigma_dev = op_device_copy(ctx, sigma, sizeof(float) * (size_t)o->count)) ? RD_OK : RD_ERROR_OUT_OF_MEMORY;
    }
    if (r == RD_OK) r = rd_occupancy_update_apply_cuda(ctx, &g, o->count, cells, sigma_dev, NULL);
    if (r == RD_OK) r = rd_occupancy_cuda_download(ctx, &g, &o->grid);
    void *all[] = {points, cells, sigma_dev};
    free_all(ctx, all, sizeof all / sizeof all[0]);
    rd_occupancy_cuda_destroy(ctx, &g);
#else
    if (r == RD_OK) r = RD_ERROR_BACKEND_UNAVAILABLE;
#endif
    free(sigma);
    return r;
}

static bool update_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const update_case *c = inputs;
    const update_outputs *got = got_outputs, *want = want_outputs;
    int64_t cells = grid_cells(&c->grid), draws_differ = 0, thickness_differ = 0, bits_differ = 0;
    for (int64_t i = 0; i < want->count; i++)
        draws_differ += got->cells[i] != want->cells[i] || memcmp(got->points + 3 * i, want->points + 3 * i, 3 * sizeof(float)) != 0;
    for (int64_t i = 0; i < cells; i++) thickness_differ += memcmp(&got->grid.thickness[i], &want->grid.thickness[i], sizeof(float)) != 0;
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++)
        for (int64_t b = 0; b < cells >> (3 * k); b++) bits_differ += got->grid.bits[k][b] != want->grid.bits[k][b];
    int64_t occupied = 0;
    for (int64_t i = 0; i < cells; i++) occupied += want->grid.bits[0][i];
    printf("    update at step %d: %lld draws, %lld of %lld cells occupied after, threshold %g; differ: %lld draws, %lld "
           "thicknesses, %lld bits, threshold %g vs %g\n",
           c->step, (long long)want->count, (long long)occupied, (long long)cells, want->grid.threshold, (long long)draws_differ,
           (long long)thickness_differ, (long long)bits_differ, got->grid.threshold, want->grid.threshold);
    (void)env;
    return draws_differ == 0 && thickness_differ == 0 && bits_differ == 0 &&
           memcmp(&got->grid.threshold, &want->grid.threshold, sizeof(float)) == 0;
}

static void update_describe(const void *inputs)
{
    const update_case *c = inputs;
    printf("%d cascades, step %d\n", c->grid.cascades, c->step);
}

static void update_free_inputs(void *inputs)
{
    update_case *c = inputs;
    rd_occupancy_destroy(&c->grid);
    free(c);
}

static void update_free_outputs(void *outputs)
{
    update_outputs *o = outputs;
    if (o) rd_occupancy_destroy(&o->grid), free(o->points), free(o->cells);
    free(o);
}

const backend_op OP_OCCUPANCY_UPDATE = {"occupancy update", {0, 0, 0}, update_cases, update_generate, NULL, update_run,
                                        update_compare, update_describe, update_free_inputs, update_free_outputs};

/* ---- volume compositing, forward and backward ----------------------------------------- */

typedef struct volume_case {
    int64_t rays, samples;
    int32_t *offset, *count;
    rd_march_sample *s;
    float *sigma, *rgb, *background, *g_rgb, *g_alpha, *g_depth;
    float t_largest;
} volume_case;

typedef struct volume_outputs {
    float *rgb, *alpha, *depth, *g_sigma, *g_colour;
    int32_t *used;
} volume_outputs;

static int volume_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? 4 : 0; }

static void *volume_generate(const op_env *env, test_rng *r, int i)
{
    volume_case *c = calloc(1, sizeof *c);
    c->rays = i == 3 && !env->reduced ? 20000 : 3000;
    c->offset = malloc(sizeof(int32_t) * (size_t)c->rays), c->count = malloc(sizeof(int32_t) * (size_t)c->rays);
    for (int64_t k = 0; k < c->rays; k++) {
        int kind = (int)(k % 5);
        c->count[k] = kind == 0 ? 0 : kind == 4 ? 1024 : (int32_t)(rng_uniform(r) * 300);
        c->offset[k] = (int32_t)c->samples, c->samples += c->count[k];
    }
    c->s = malloc(sizeof(rd_march_sample) * (size_t)(c->samples + 1));
    c->sigma = malloc(sizeof(float) * (size_t)(c->samples + 1)), c->rgb = malloc(sizeof(float) * 3 * (size_t)(c->samples + 1));
    for (int64_t k = 0; k < c->rays; k++) {
        int kind = (int)(k % 5);
        double t = rng_range(r, 0.0, 3.0), scale = kind == 1 ? 0.5 : kind == 2 ? 400.0 : kind == 3 ? 30.0 : 5.0 * (i + 1);
        for (int32_t s = 0; s < c->count[k]; s++) {
            int64_t at = c->offset[k] + s;
            float dt = (float)rng_range(r, RD_OCCUPANCY_DT_MIN, 8 * RD_OCCUPANCY_DT_MIN);
            c->s[at] = (rd_march_sample){(float)t, dt};
            t += dt + (rng_uniform(r) < 0.2 ? rng_range(r, 0.0, 0.1) : 0.0);
            c->sigma[at] = (float)(rng_uniform(r) < 0.3 ? 0.0 : rng_range(r, 0.0, scale));
            for (int a = 0; a < 3; a++) c->rgb[3 * at + a] = (float)rng_uniform(r);
        }
        c->t_largest = fmaxf(c->t_largest, (float)t);
    }
    c->background = random_floats(r, 3 * (size_t)c->rays, 0, 1);
    c->g_rgb = random_floats(r, 3 * (size_t)c->rays, -1, 1);
    c->g_alpha = random_floats(r, (size_t)c->rays, -1, 1), c->g_depth = random_floats(r, (size_t)c->rays, -1, 1);
    return c;
}

static rd_result volume_run(rd_context *ctx, void *inputs, void **outputs)
{
    volume_case *c = inputs;
    volume_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t ray_floats = sizeof(float) * (size_t)c->rays, ray_ints = sizeof(int32_t) * (size_t)c->rays;
    size_t sample_floats = sizeof(float) * (size_t)c->samples;
    o->rgb = malloc(3 * ray_floats), o->alpha = malloc(ray_floats), o->depth = malloc(ray_floats), o->used = malloc(ray_ints);
    o->g_sigma = malloc(sample_floats + 4), o->g_colour = malloc(3 * sample_floats + 4);
    memset(o->rgb, 0xff, 3 * ray_floats), memset(o->alpha, 0xff, ray_floats), memset(o->depth, 0xff, ray_floats);
    memset(o->used, 0xff, ray_ints), memset(o->g_sigma, 0xff, sample_floats), memset(o->g_colour, 0xff, 3 * sample_floats);
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        rd_volume_composite_rays(ctx, c->rays, c->offset, c->count, c->s, c->sigma, c->rgb, c->background, o->rgb, o->alpha, o->depth,
                                 o->used);
        rd_volume_backward_rays(ctx, c->rays, c->offset, c->count, c->s, c->sigma, c->rgb, o->rgb, o->alpha, o->depth, o->used, c->g_rgb,
                                c->g_alpha, c->g_depth, o->g_sigma, o->g_colour);
        return RD_OK;
    }
    rd_result r = RD_ERROR_OUT_OF_MEMORY;
#ifdef RADIANT_TEST_CUDA
    int32_t *offset = op_device_copy(ctx, c->offset, ray_ints), *count = op_device_copy(ctx, c->count, ray_ints);
    rd_march_sample *s = op_device_copy(ctx, c->s, sizeof(rd_march_sample) * (size_t)c->samples);
    float *sigma = op_device_copy(ctx, c->sigma, sample_floats), *rgb = op_device_copy(ctx, c->rgb, 3 * sample_floats);
    float *background = op_device_copy(ctx, c->background, 3 * ray_floats), *g_rgb = op_device_copy(ctx, c->g_rgb, 3 * ray_floats);
    float *g_alpha = op_device_copy(ctx, c->g_alpha, ray_floats), *g_depth = op_device_copy(ctx, c->g_depth, ray_floats);
    float *out_rgb = op_device_copy(ctx, o->rgb, 3 * ray_floats), *alpha = op_device_copy(ctx, o->alpha, ray_floats);
    float *depth = op_device_copy(ctx, o->depth, ray_floats), *g_sigma = op_device_copy(ctx, o->g_sigma, sample_floats);
    float *g_colour = op_device_copy(ctx, o->g_colour, 3 * sample_floats);
    int32_t *used = op_device_copy(ctx, o->used, ray_ints);
    void *all[] = {offset, count, s, sigma, rgb, background, g_rgb, g_alpha, g_depth, out_rgb, alpha, depth, g_sigma, g_colour, used};
    bool have = true;
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) have &= all[k] != NULL;
    if (have) {
        r = rd_volume_composite_rays_cuda(ctx, c->rays, offset, count, s, sigma, rgb, background, out_rgb, alpha, depth, used, NULL);
        if (r == RD_OK)
            r = rd_volume_backward_rays_cuda(ctx, c->rays, offset, count, s, sigma, rgb, out_rgb, alpha, depth, used, g_rgb, g_alpha,
                                             g_depth, g_sigma, g_colour, NULL);
        if (r == RD_OK) r = to_host(ctx, o->rgb, out_rgb, 3 * ray_floats);
        if (r == RD_OK) r = to_host(ctx, o->alpha, alpha, ray_floats);
        if (r == RD_OK) r = to_host(ctx, o->depth, depth, ray_floats);
        if (r == RD_OK) r = to_host(ctx, o->used, used, ray_ints);
        if (r == RD_OK) r = to_host(ctx, o->g_sigma, g_sigma, sample_floats);
        if (r == RD_OK) r = to_host(ctx, o->g_colour, g_colour, 3 * sample_floats);
    }
    free_all(ctx, all, sizeof all / sizeof all[0]);
#endif
    return r;
}

static bool volume_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const volume_case *c = inputs;
    const volume_outputs *got = got_outputs, *want = want_outputs;
    unsigned char *ray_skip = calloc((size_t)c->rays, 1), *sample_skip = calloc((size_t)c->samples + 1, 1);
    size_t flips = 0;
    for (int64_t k = 0; k < c->rays; k++)
        if (got->used[k] != want->used[k]) {
            flips++, ray_skip[k] = 1;
            memset(sample_skip + c->offset[k], 1, (size_t)c->count[k]);
        }
    double largest_g = 0.0;
    for (int64_t i = 0; i < c->samples; i++)
        if (!sample_skip[i]) largest_g = fmax(largest_g, fabs(want->g_sigma[i]));
    bool gpu = env->gpu;
    double colour_tol = gpu ? 1e-5 : 0.0, depth_tol = gpu ? 1e-5 * fmax(1.0, c->t_largest) : 0.0;
    double flip_tol = gpu ? 3e-4 : 0.0, g_colour_tol = gpu ? 3e-6 : 0.0, g_sigma_tol = gpu ? 3e-5 * largest_g : 0.0;
    size_t allowed = env->tol.flip_per_mille * (size_t)c->rays / 1000;
    unsigned char *rgb_skip = malloc(3 * (size_t)c->rays), *colour_skip = malloc(3 * (size_t)c->samples + 1);
    for (int64_t k = 0; k < c->rays; k++) memset(rgb_skip + 3 * k, ray_skip[k], 3);
    for (int64_t i = 0; i < c->samples; i++) memset(colour_skip + 3 * i, sample_skip[i], 3);
    printf("    volume: %lld rays, %lld samples, %zu rays stop elsewhere (allowed %zu)\n", (long long)c->rays, (long long)c->samples, flips,
           allowed);
    compare_result colour = compare_floats_skip(got->rgb, want->rgb, 3 * (size_t)c->rays, colour_tol, rgb_skip);
    compare_result alpha = compare_floats_skip(got->alpha, want->alpha, (size_t)c->rays, colour_tol, ray_skip);
    compare_result depth = compare_floats_skip(got->depth, want->depth, (size_t)c->rays, depth_tol, ray_skip);
    compare_result flipped = compare_floats(got->rgb, want->rgb, 3 * (size_t)c->rays, flip_tol); /* within the stop's share */
    compare_result g_sigma = compare_floats_skip(got->g_sigma, want->g_sigma, (size_t)c->samples, g_sigma_tol, sample_skip);
    compare_result g_colour = compare_floats_skip(got->g_colour, want->g_colour, 3 * (size_t)c->samples, g_colour_tol, colour_skip);
    if (gpu) /* the margins, for whoever tightens the tolerances */
        printf("    differences: colour %.2g, alpha %.2g, depth %.2g (t up to %.3g), density gradient %.2g (largest %.2g), colour "
               "gradient %.2g\n", colour.max_abs, alpha.max_abs, depth.max_abs, c->t_largest, g_sigma.max_abs, largest_g,
               g_colour.max_abs);
    bool ok = flips <= allowed;
    ok &= compare_ok("colour", colour, 0, colour_tol);
    ok &= compare_ok("alpha", alpha, 0, colour_tol);
    ok &= compare_ok("depth", depth, 0, depth_tol);
    ok &= compare_ok("colour, flipped rays", flipped, 0, flip_tol);
    ok &= compare_ok("density gradient", g_sigma, 0, g_sigma_tol);
    ok &= compare_ok("colour gradient", g_colour, 0, g_colour_tol);
    free(ray_skip), free(sample_skip), free(rgb_skip), free(colour_skip);
    return ok;
}

static void volume_describe(const void *inputs)
{
    const volume_case *c = inputs;
    printf("%lld rays, %lld samples, t up to %g\n", (long long)c->rays, (long long)c->samples, c->t_largest);
}

static void volume_free_inputs(void *inputs)
{
    volume_case *c = inputs;
    free(c->offset), free(c->count), free(c->s), free(c->sigma), free(c->rgb), free(c->background);
    free(c->g_rgb), free(c->g_alpha), free(c->g_depth), free(c);
}

static void volume_free_outputs(void *outputs)
{
    volume_outputs *o = outputs;
    if (o) free(o->rgb), free(o->alpha), free(o->depth), free(o->used), free(o->g_sigma), free(o->g_colour);
    free(o);
}

/* one ray in a thousand may stop at another sample (the header says why) */
const backend_op OP_VOLUME_COMPOSITE = {"volume composite", {1e-5, 0, 1}, volume_cases, volume_generate, NULL, volume_run,
                                        volume_compare, volume_describe, volume_free_inputs, volume_free_outputs};
