/* occupancy.h: the occupancy grid and ray marching of the hash-grid NeRF (spec/nerf.md,
   "Occupancy grid and ray marching"), on the CPU (the specification).

   Positions are the field's, in the unit cube and beyond it. Cascade c covers the cube of
   side 2^c centred on (0.5, 0.5, 0.5); aabb_scale A (a power of two, 1 to 128) gives
   log2(A) + 1 cascades. Each holds 128^3 cells (x fastest), each cell the optical
   thickness sigma * dt_min of a recent density sample there (dt_min = sqrt(3) / 1024) and a
   bit: occupied where that exceeds min(0.01, the grid's mean). Bit levels 1 to 7 of each
   cascade are max-pooled (a level-k block of 2^k cells a side is occupied if any of its
   cells is), so that marching leaps whole empty blocks.

   Update (rd_occupancy_update, due at steps 0..255 and every 16th after): every cell
   decays to 0.95 of its value; then each cell drawn takes the larger of that and a new
   sample at a random point inside it: every cell in the first 256 steps, after that a
   quarter of the cells uniformly and as many drawn from the occupied ones.

   Marching (rd_occupancy_march): from just past where the ray enters the largest cascade
   (or t_min), samples at t with step dt = clamp(t * cone, dt_min, dt_min * 2^(cascades - 1))
   (cone 1/256 where aabb_scale > 1, else 0), each kept where its cell is occupied; at an
   empty cell t leaps to where the ray leaves the largest empty block around it (nudged
   past the face: rd_occupancy_nudge), then steps on; at most max_samples, and never past
   t_max or the grid.

   Batches (the shape a training loop and a renderer need): rd_occupancy_march_rays packs
   many rays' samples into one array, and the update splits into its draws
   (rd_occupancy_update_points: which cells, which points) and the rest
   (rd_occupancy_update_apply: decay, max, threshold, bits, pooling), so that a GPU loop
   evaluates the density between them. Each has a CUDA twin (names + _cuda, occupancy_cuda.cu)
   on a device copy of the grid (rd_occupancy_cuda) that computes the same results bit for
   bit: the march and the draws are written once below for both (RD_OCCUPANCY_FN), with
   every rounding explicit (no fused multiply-add where it would change a result), the
   draws are counter-based (a hash of the seed, the step and the draw's index), and the
   grid's mean is summed in one fixed order of double additions on both. */
#ifndef RD_OCCUPANCY_H
#define RD_OCCUPANCY_H

#include "../renderer/internal.h"
#include "../renderer/random.h"
#include "../renderer/cuda/cuda_backend.h"

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { RD_OCCUPANCY_SIDE = 128, RD_OCCUPANCY_CELLS = 128 * 128 * 128, RD_OCCUPANCY_LEVELS = 8, RD_OCCUPANCY_MAX_CASCADES = 8 };
#define RD_OCCUPANCY_DT_MIN 0.0016914558f /* sqrt(3) / 1024 */
/* The mean's summation order (rd_occupancy_rebuild_bits, and the CUDA reduction): chunks of
   CHUNK cells, in each LANES running sums (lane j adds cells j, j + LANES, ... in order)
   folded as a tree (lane j += lane j + s, s = LANES/2 .. 1); then the chunks' sums the same
   way, as one chunk. All in double. */
enum { RD_OCCUPANCY_SUM_LANES = 256, RD_OCCUPANCY_SUM_CHUNK = 4096 };

#ifdef __CUDACC__
#define RD_OCCUPANCY_FN __host__ __device__ static inline
#else
#define RD_OCCUPANCY_FN static inline
#endif

typedef struct rd_occupancy {
    int cascades;
    float cone;             /* 1/256 where aabb_scale > 1 */
    float threshold;        /* min(0.01, the mean) at the last update */
    float *thickness;       /* cascades * CELLS */
    uint8_t *bits[RD_OCCUPANCY_LEVELS]; /* level k: cascades * (128 >> k)^3 bytes, 0 or 1 */
    uint64_t seed;          /* the update's draws are a hash of it, the step and the draw */
} rd_occupancy;

/* Cells of bit level k in one cascade: (128 >> k)^3. */
static inline int64_t rd_occupancy_level_cells(int k)
{
    int64_t side = RD_OCCUPANCY_SIDE >> k;
    return side * side * side;
}
/* The bit levels of `cascades` cascades packed one after another, as the GPU renderers keep
   them in one buffer: level k's first byte into offset[k]; the bytes of all of them. */
static inline size_t rd_occupancy_packed_levels(int cascades, size_t offset[RD_OCCUPANCY_LEVELS])
{
    size_t bytes = 0;
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) offset[k] = bytes, bytes += (size_t)(cascades * rd_occupancy_level_cells(k));
    return bytes;
}

rd_result rd_occupancy_create(rd_context *ctx, int aabb_scale, uint64_t seed, rd_occupancy *out);
void rd_occupancy_destroy(rd_occupancy *g);

/* The density at n points (xyz each) into sigma, for the update. */
typedef void (*rd_density_fn)(const float *points, int64_t n, float *sigma, void *user);
static inline int rd_occupancy_update_due(int step) { return step < 256 || step % 16 == 0; }
/* The whole update on the CPU: the draws, the density at them in batches through the
   callback, then rd_occupancy_update_apply. */
rd_result rd_occupancy_update(rd_context *ctx, rd_occupancy *g, int step, rd_density_fn density, void *user);
/* How many cells of the grid (all cascades) are occupied. */
int64_t rd_occupancy_occupied(const rd_occupancy *g);
/* Rebuilds the threshold and the bits from the thicknesses (the update does it; for grids
   filled by hand). */
void rd_occupancy_rebuild_bits(rd_occupancy *g);

/* How many cells the update at `step` samples: all of a grid's cells in the first 256
   steps, half of them after (a quarter uniformly, a quarter among the occupied). */
static inline int64_t rd_occupancy_update_count(int cascades, int step)
{
    int64_t cells = (int64_t)cascades * RD_OCCUPANCY_CELLS;
    return step < 256 ? cells : cells / 2;
}
/* The update's draws at `step`: for draw i, cells[i] (cascade * CELLS + cell) and a point
   inside that cell, points[3 i .. 3 i + 2], for i below rd_occupancy_update_count. The
   caller then evaluates sigma at the points and passes it to rd_occupancy_update_apply.
   Fails only for memory (the occupied cells' list). */
rd_result rd_occupancy_update_points(rd_context *ctx, const rd_occupancy *g, int step, float *points, int32_t *cells);
/* Every cell decays to 0.95 of its thickness; then cells[i] takes sigma[i] * DT_MIN where
   that is larger (a NaN sigma leaves it as it was); then the threshold, the bits and the
   pooled levels (rd_occupancy_rebuild_bits). RD_ERROR_INVALID_ARGUMENT (before changing
   anything) where a cell index is outside the grid. */
rd_result rd_occupancy_update_apply(rd_context *ctx, rd_occupancy *g, int64_t count, const int32_t *cells, const float *sigma);

/* The cascade whose cube holds p (the smallest), or -1 outside them all; the cell's index
   in it through *cell. */
int rd_occupancy_locate(const rd_occupancy *g, const float p[3], int *cell);

typedef struct rd_march_sample {
    float t, dt;
} rd_march_sample;
/* A ray's samples (origin, unit direction); returns how many it wrote (at most max_samples). */
int rd_occupancy_march(const rd_occupancy *g, const float origin[3], const float dir[3], float t_min, float t_max,
                       int max_samples, rd_march_sample *out);

/* Many rays' samples packed one ray after another, in ray order (origins and dirs: 3 floats
   a ray, dirs unit length; t_min, t_max: one a ray, NULL for 0 and infinity). Packing
   rule: each ray's samples are counted (at most max_samples_per_ray), their exclusive
   prefix sum is each ray's offset, and a ray is kept when offset + count <= capacity:
   every ray up to the first that does not fit whole, none from it on (a prefix sum can
   say it). A kept ray r has its samples at samples[ray_offset[r] .. + ray_count[r]]; a ray
   not kept gets ray_count 0 and ray_offset *total. *total: the kept rays' samples.
   capacity above 2^31 - 1 is taken as that (the offsets are int32). */
rd_result rd_occupancy_march_rays(rd_context *ctx, const rd_occupancy *g, int64_t rays, const float *origins, const float *dirs,
                                  const float *t_min, const float *t_max, const float *jitter, int max_samples_per_ray, int64_t capacity,
                                  rd_march_sample *samples, int32_t *ray_offset, int32_t *ray_count, int64_t *total);

/* ---- a grid in CUDA device memory (occupancy_cuda.cu; built where RD_HAVE_CUDA is) ---- */

/* The device arrays mirror rd_occupancy's; threshold is one device float. work and
   scan_temp are the update's and the march's scratch, grown when needed: one stream at a
   time may run the functions below on a grid. */
typedef struct rd_occupancy_cuda {
    int cascades;
    float cone;
    uint64_t seed;
    float *thickness;
    uint8_t *bits[RD_OCCUPANCY_LEVELS];
    float *threshold;
    rd_cuda_buffer work, scan_temp;
} rd_occupancy_cuda;

/* A device grid holding a copy of host (its thicknesses, bits, threshold and seed). */
rd_result rd_occupancy_cuda_create(rd_context *ctx, const rd_occupancy *host, rd_occupancy_cuda *out);
/* Frees what create allocated (a zeroed or half-built one too). */
void rd_occupancy_cuda_destroy(rd_context *ctx, rd_occupancy_cuda *g);
/* Copies between a host grid and a device one of the same cascades (synchronous). */
rd_result rd_occupancy_cuda_upload(rd_context *ctx, rd_occupancy_cuda *g, const rd_occupancy *host);
rd_result rd_occupancy_cuda_download(rd_context *ctx, const rd_occupancy_cuda *g, rd_occupancy *host);

/* The CPU functions' twins: every array device memory (total too: the march writes it on
   the device, for the caller to read when it needs it), the work queued on stream (a
   cudaStream_t; NULL: the context's), no host synchronisation unless scratch must grow. */
rd_result rd_occupancy_march_rays_cuda(rd_context *ctx, rd_occupancy_cuda *g, int64_t rays, const float *origins, const float *dirs,
                                       const float *t_min, const float *t_max, const float *jitter, int max_samples_per_ray, int64_t capacity,
                                       rd_march_sample *samples, int32_t *ray_offset, int32_t *ray_count, int64_t *total,
                                       void *stream);
rd_result rd_occupancy_update_points_cuda(rd_context *ctx, rd_occupancy_cuda *g, int step, float *points, int32_t *cells,
                                          void *stream);
/* Cell indices are not checked on the device: pass update_points' own. */
rd_result rd_occupancy_update_apply_cuda(rd_context *ctx, rd_occupancy_cuda *g, int64_t count, const int32_t *cells,
                                         const float *sigma, void *stream);

/* ---- shared by the CPU and CUDA code: the draws and the march, written once ---- */

/* a * b rounded once, never fused into a following addition: nvcc contracts a * b + c
   into one rounding unless told. On the host, x86-64's baseline has no fused multiply-add;
   a build for a target that has one (-mfma, ARM) must compile occupancy.c with
   -ffp-contract=off, as hashgrid.c is, or GCC fuses across the inlined call. */
RD_OCCUPANCY_FN double rd_occupancy_dmul(double a, double b)
{
#ifdef __CUDA_ARCH__
    return __dmul_rn(a, b);
#else
    return a * b;
#endif
}

/* splitmix64 at state x (random.h's rd_rng_next; its constants copied for the device,
   which cannot call random.h's host functions). */
RD_OCCUPANCY_FN uint64_t rd_occupancy_hash(uint64_t x)
{
#ifdef __CUDA_ARCH__
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
#else
    rd_rng r = {x};
    return rd_rng_next(&r);
#endif
}

/* Random word k (0: the cell, 1..3: the point) of draw i of the update at `step`: a pure
   function of them, so that any thread can make any draw. */
RD_OCCUPANCY_FN uint64_t rd_occupancy_random(uint64_t seed, int step, int64_t i, int k)
{
    uint64_t stream = rd_occupancy_hash(seed ^ rd_occupancy_hash((uint64_t)(uint32_t)step));
    return rd_occupancy_hash(stream + 0x9E3779B97F4A7C15ull * ((uint64_t)i * 4u + (uint64_t)k));
}

/* Draw i's cell (cascade * CELLS + cell): i itself in the first 256 steps; after them,
   the first quarter of the grid's cells uniform, the rest among the `occupied` cells
   listed in cell order (uniform too where none is). */
RD_OCCUPANCY_FN int32_t rd_occupancy_draw_cell(uint64_t seed, int step, int64_t i, int64_t cells, int64_t occupied,
                                               const int32_t *occupied_list)
{
    if (step < 256) return (int32_t)i;
    uint64_t r = rd_occupancy_random(seed, step, i, 0);
    if (i < cells / 4 || occupied == 0) return (int32_t)(r % (uint64_t)cells);
    return occupied_list[r % (uint64_t)occupied];
}

/* Draw i's point, uniform inside its cell: 17 random bits an axis, so that with the cell's
   7 bits every step below is exact (fused or not) and the point lies strictly inside the
   cell, never rounded onto its far face. */
RD_OCCUPANCY_FN void rd_occupancy_draw_point(uint64_t seed, int step, int64_t i, int32_t cell, float p[3])
{
    int c = cell / RD_OCCUPANCY_CELLS, in = cell % RD_OCCUPANCY_CELLS;
    int at[3] = {in % RD_OCCUPANCY_SIDE, in / RD_OCCUPANCY_SIDE % RD_OCCUPANCY_SIDE, in / (RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE)};
    for (int d = 0; d < 3; d++) {
        float u = (float)(rd_occupancy_random(seed, step, i, 1 + d) >> 47) * (1.0f / 131072.0f);
        p[d] = 0.5f + (((float)at[d] + u) / RD_OCCUPANCY_SIDE - 0.5f) * (float)(1 << c);
    }
}

/* rd_occupancy_locate for a grid of `cascades` (exact float arithmetic but the one
   addition: the products are by powers of two). */
RD_OCCUPANCY_FN int rd_occupancy_cell_of(int cascades, const float p[3], int *cell)
{
    float far = fmaxf(fmaxf(fabsf(p[0] - 0.5f), fabsf(p[1] - 0.5f)), fabsf(p[2] - 0.5f));
    for (int c = 0; c < cascades; c++) {
        float size = (float)(1 << c);
        if (!(far < 0.5f * size)) continue;
        int i[3];
        for (int d = 0; d < 3; d++) {
            i[d] = (int)floorf((p[d] - 0.5f) / size * RD_OCCUPANCY_SIDE + RD_OCCUPANCY_SIDE / 2);
            i[d] = i[d] < 0 ? 0 : i[d] >= RD_OCCUPANCY_SIDE ? RD_OCCUPANCY_SIDE - 1 : i[d];
        }
        *cell = i[0] + i[1] * RD_OCCUPANCY_SIDE + i[2] * RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE;
        return c;
    }
    return -1;
}

/* What marching reads of a grid, in host or device memory. */
typedef struct rd_occupancy_view {
    int cascades;
    float cone;
    const uint8_t *bits[RD_OCCUPANCY_LEVELS];
} rd_occupancy_view;

/* Where the ray leaves the axis-aligned box [low, low + size]^3 (in double: far cameras),
   and through which axis's face (the first of equals). */
RD_OCCUPANCY_FN double rd_occupancy_exit(const float o[3], const float d[3], const double low[3], double size, int *axis)
{
    double t = INFINITY;
    *axis = 0;
    for (int a = 0; a < 3; a++) {
        double at = INFINITY;
        if (d[a] > 0.0f) at = (low[a] + size - o[a]) / d[a];
        else if (d[a] < 0.0f) at = (low[a] - o[a]) / d[a];
        if (at < t) t = at, *axis = a;
    }
    return t;
}

/* How far along the ray past a face the march goes on, crossing it along a ray whose
   direction there is d, out of a cell or block of side `size`: the point's coordinate a
   4096th of the side past the face (at most dt_min along the ray), beyond any rounding of
   its float position, so that the next lookup finds the next cell. A fixed 1e-6 of the
   block along the ray left the point on the face of a ray leaving through its low face,
   where the march then stepped dt_min on into the next block: past up to dt_min of
   occupied space, on 1.4% of samples (a float march, nerf_march.glsl's, matches this one
   sample for sample; it could not match that). */
RD_OCCUPANCY_FN double rd_occupancy_nudge(double size, float d)
{
    return fmin(size * (1.0 / 4096.0) / fabs((double)d), (double)RD_OCCUPANCY_DT_MIN);
}

/* Where the march starts: where the ray enters the largest cascade's cube (t_min where it
   starts inside), nudged past that face; `leave` gets where it leaves (below enter: no
   samples; a ray starting on the cube's face is nudged past it as one entering there). */
RD_OCCUPANCY_FN double rd_occupancy_start(int cascades, const float origin[3], const float dir[3], float t_min, float t_max,
                                          double *leave_out)
{
    double half = 0.5 * (double)(1 << (cascades - 1)), enter = t_min, leave = t_max;
    int axis = -1;
    for (int a = 0; a < 3; a++) {
        double lo = 0.5 - half, hi = 0.5 + half;
        if (dir[a] == 0.0f) {
            if (origin[a] <= lo || origin[a] >= hi) leave = -INFINITY;
            continue;
        }
        double t0 = (lo - origin[a]) / dir[a], t1 = (hi - origin[a]) / dir[a], near = fmin(t0, t1);
        if (near >= enter) enter = near, axis = a; /* >=: a start on the face is nudged off it too */
        leave = fmin(leave, fmax(t0, t1));
    }
    *leave_out = leave;
    /* from just inside the cube: its faces belong to no cascade */
    return axis < 0 ? enter : enter + rd_occupancy_nudge(2.0 * half / RD_OCCUPANCY_SIDE, dir[axis]);
}

/* rd_occupancy_march on a view; out NULL only counts. t is kept in double: a camera 100
   units away has float steps of 1e-5 along the ray, too coarse for the nudges that keep a
   point inside a cell, and 2e5 away a float t stops moving at all. Every product that
   meets an addition is rounded on its own (rd_occupancy_dmul), so CPU and GPU take the
   same steps. */
RD_OCCUPANCY_FN int rd_occupancy_march_view(const rd_occupancy_view *g, const float origin[3], const float dir[3], float t_min,
                                            float t_max, float jitter, int max_samples, rd_march_sample *out)
{
    double leave, start = rd_occupancy_start(g->cascades, origin, dir, t_min, t_max, &leave);
    double dt_max = RD_OCCUPANCY_DT_MIN * (double)(1 << (g->cascades - 1));
    int count = 0;
    /* a training ray's samples shift by a random fraction of a step (jitter), at the start
       and after each leap, so that no point of space is sampled at fixed offsets */
    start += rd_occupancy_dmul((double)jitter, fmin(fmax(start * g->cone, (double)RD_OCCUPANCY_DT_MIN), dt_max));
    for (double t = start; t < leave && count < max_samples;) {
        float p[3];
        for (int a = 0; a < 3; a++) p[a] = (float)(origin[a] + rd_occupancy_dmul(t, dir[a]));
        int cell, c = rd_occupancy_cell_of(g->cascades, p, &cell);
        if (c < 0) break;
        double dt = fmin(fmax(t * g->cone, (double)RD_OCCUPANCY_DT_MIN), dt_max);
        if (g->bits[0][(int64_t)c * RD_OCCUPANCY_CELLS + cell]) {
            if (out) out[count].t = (float)t, out[count].dt = (float)dt;
            count++;
            t += dt;
            continue;
        }
        int i[3] = {cell % RD_OCCUPANCY_SIDE, cell / RD_OCCUPANCY_SIDE % RD_OCCUPANCY_SIDE, cell / (RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE)};
        int k = 0; /* the largest empty block around the cell */
        while (k + 1 < RD_OCCUPANCY_LEVELS) {
            int s = RD_OCCUPANCY_SIDE >> (k + 1);
            int64_t b = (int64_t)c * s * s * s + (i[0] >> (k + 1)) + (int64_t)(i[1] >> (k + 1)) * s + (int64_t)(i[2] >> (k + 1)) * s * s;
            if (g->bits[k + 1][b]) break;
            k++;
        }
        /* block corners: sums of exact products (powers of two times small integers) */
        double cascade_size = (double)(1 << c), block = cascade_size * (double)(1 << k) / RD_OCCUPANCY_SIDE, low[3];
        for (int a = 0; a < 3; a++) low[a] = 0.5 - 0.5 * cascade_size + (double)((i[a] >> k) << k) / RD_OCCUPANCY_SIDE * cascade_size;
        int axis;
        double next = rd_occupancy_exit(origin, dir, low, block, &axis);
        next += rd_occupancy_nudge(block, dir[axis]);
        next += rd_occupancy_dmul((double)jitter, fmin(fmax(next * g->cone, (double)RD_OCCUPANCY_DT_MIN), dt_max));
        t = next > t ? next : t + RD_OCCUPANCY_DT_MIN; /* always forward */
    }
    return count;
}

#ifdef __cplusplus
}
#endif
#endif
