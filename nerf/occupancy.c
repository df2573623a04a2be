/* occupancy.c: the occupancy grid's update and ray marching on the CPU (occupancy.h). The
   march and the draws themselves are occupancy.h's, shared with occupancy_cuda.cu. */
#include "occupancy.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 65536 };


rd_result rd_occupancy_create(rd_context *ctx, int aabb_scale, uint64_t seed, rd_occupancy *out)
{
    memset(out, 0, sizeof *out);
    if (aabb_scale < 1 || aabb_scale > 128 || (aabb_scale & (aabb_scale - 1)))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "occupancy grid: aabb_scale %d is not a power of two from 1 to 128", aabb_scale);
    while ((1 << out->cascades) < aabb_scale) out->cascades++;
    out->cascades++;
    out->cone = aabb_scale > 1 ? 1.0f / 256.0f : 0.0f;
    out->seed = seed;
    out->thickness = calloc((size_t)out->cascades * RD_OCCUPANCY_CELLS, sizeof(float));
    bool ok = out->thickness != NULL;
    for (int k = 0; k < RD_OCCUPANCY_LEVELS && ok; k++)
        ok = (out->bits[k] = calloc((size_t)(out->cascades * rd_occupancy_level_cells(k)), 1)) != NULL;
    if (!ok) {
        int cascades = out->cascades;
        rd_occupancy_destroy(out);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "occupancy grid: cannot hold %d cascades", cascades);
    }
    return RD_OK;
}

void rd_occupancy_destroy(rd_occupancy *g)
{
    free(g->thickness);
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) free(g->bits[k]);
    memset(g, 0, sizeof *g);
}

/* occupancy.h's summation order: lane j's running sum of values j, j + LANES, ... (below
   n), then the lanes folded as a tree. */
static double fold_lanes(double lane[RD_OCCUPANCY_SUM_LANES])
{
    for (int s = RD_OCCUPANCY_SUM_LANES / 2; s > 0; s /= 2)
        for (int j = 0; j < s; j++) lane[j] += lane[j + s];
    return lane[0];
}

static double sum_floats(const float *values, int64_t n)
{
    double lane[RD_OCCUPANCY_SUM_LANES] = {0};
    for (int j = 0; j < RD_OCCUPANCY_SUM_LANES; j++)
        for (int64_t i = j; i < n; i += RD_OCCUPANCY_SUM_LANES) lane[j] += (double)values[i];
    return fold_lanes(lane);
}

static double sum_doubles(const double *values, int64_t n)
{
    double lane[RD_OCCUPANCY_SUM_LANES] = {0};
    for (int j = 0; j < RD_OCCUPANCY_SUM_LANES; j++)
        for (int64_t i = j; i < n; i += RD_OCCUPANCY_SUM_LANES) lane[j] += values[i];
    return fold_lanes(lane);
}

int64_t rd_occupancy_occupied(const rd_occupancy *g)
{
    int64_t n = 0;
    for (int64_t i = 0; i < (int64_t)g->cascades * RD_OCCUPANCY_CELLS; i++) n += g->bits[0][i];
    return n;
}

void rd_occupancy_rebuild_bits(rd_occupancy *g)
{
    int64_t cells = (int64_t)g->cascades * RD_OCCUPANCY_CELLS, chunks = cells / RD_OCCUPANCY_SUM_CHUNK;
    double chunk_sum[RD_OCCUPANCY_MAX_CASCADES * (RD_OCCUPANCY_CELLS / RD_OCCUPANCY_SUM_CHUNK)] = {0};
    for (int64_t k = 0; k < chunks; k++) chunk_sum[k] = sum_floats(g->thickness + k * RD_OCCUPANCY_SUM_CHUNK, RD_OCCUPANCY_SUM_CHUNK);
    double sum = sum_doubles(chunk_sum, chunks);
    g->threshold = fminf(0.01f, (float)(sum / (double)cells));
    for (int64_t i = 0; i < cells; i++) g->bits[0][i] = g->thickness[i] > g->threshold;
    for (int k = 1; k < RD_OCCUPANCY_LEVELS; k++) {
        int s = RD_OCCUPANCY_SIDE >> k, fine = s * 2;
        for (int c = 0; c < g->cascades; c++)
            for (int z = 0; z < s; z++)
                for (int y = 0; y < s; y++)
                    for (int x = 0; x < s; x++) {
                        uint8_t any = 0;
                        for (int q = 0; q < 8; q++)
                            any |= g->bits[k - 1][c * rd_occupancy_level_cells(k - 1) + (2 * x + (q & 1)) +
                                                 (int64_t)(2 * y + (q >> 1 & 1)) * fine + (int64_t)(2 * z + (q >> 2)) * fine * fine];
                        g->bits[k][c * rd_occupancy_level_cells(k) + x + (int64_t)y * s + (int64_t)z * s * s] = any;
                    }
    }
}

int rd_occupancy_locate(const rd_occupancy *g, const float p[3], int *cell) { return rd_occupancy_cell_of(g->cascades, p, cell); }

/* The occupied cells in cell order (*occupied of them); NULL list after the first 256
   steps' all-cells draws need none. false: no memory. */
static bool occupied_cells(const rd_occupancy *g, int step, int32_t **list, int64_t *occupied)
{
    *list = NULL, *occupied = 0;
    if (step < 256) return true;
    int64_t cells = (int64_t)g->cascades * RD_OCCUPANCY_CELLS;
    if (!(*list = malloc(sizeof(int32_t) * (size_t)cells))) return false;
    for (int64_t i = 0; i < cells; i++)
        if (g->bits[0][i]) (*list)[(*occupied)++] = (int32_t)i;
    return true;
}

static void draws(const rd_occupancy *g, int step, int64_t first, int64_t n, int64_t occupied, const int32_t *list, float *points,
                  int32_t *cells)
{
    int64_t all = (int64_t)g->cascades * RD_OCCUPANCY_CELLS;
    for (int64_t j = 0; j < n; j++) {
        cells[j] = rd_occupancy_draw_cell(g->seed, step, first + j, all, occupied, list);
        rd_occupancy_draw_point(g->seed, step, first + j, cells[j], points + 3 * j);
    }
}

rd_result rd_occupancy_update_points(rd_context *ctx, const rd_occupancy *g, int step, float *points, int32_t *cells)
{
    int32_t *list;
    int64_t occupied;
    if (!occupied_cells(g, step, &list, &occupied))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "occupancy grid update: cannot list the occupied cells");
    draws(g, step, 0, rd_occupancy_update_count(g->cascades, step), occupied, list, points, cells);
    free(list);
    return RD_OK;
}

static void decay(rd_occupancy *g)
{
    int64_t cells = (int64_t)g->cascades * RD_OCCUPANCY_CELLS;
    for (int64_t i = 0; i < cells; i++) g->thickness[i] *= 0.95f;
}

/* Each drawn cell takes the larger of its (decayed) value and the new sample: the order of
   the draws does not matter (a maximum), so a GPU may apply them in any order. */
static void take_larger(rd_occupancy *g, int64_t count, const int32_t *cells, const float *sigma)
{
    for (int64_t j = 0; j < count; j++) {
        float value = sigma[j] * RD_OCCUPANCY_DT_MIN;
        float *cell = &g->thickness[cells[j]];
        if (value > *cell) *cell = value; /* a NaN density leaves the cell as it was */
    }
}

rd_result rd_occupancy_update_apply(rd_context *ctx, rd_occupancy *g, int64_t count, const int32_t *cells, const float *sigma)
{
    int64_t all = (int64_t)g->cascades * RD_OCCUPANCY_CELLS;
    for (int64_t j = 0; j < count; j++)
        if (cells[j] < 0 || cells[j] >= all)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "occupancy grid update: cell %lld is %d, outside the grid's %lld",
                           (long long)j, (int)cells[j], (long long)all);
    decay(g);
    take_larger(g, count, cells, sigma);
    rd_occupancy_rebuild_bits(g);
    return RD_OK;
}

rd_result rd_occupancy_update(rd_context *ctx, rd_occupancy *g, int step, rd_density_fn density, void *user)
{
    int64_t count = rd_occupancy_update_count(g->cascades, step), occupied;
    int32_t *list = NULL, *cells = malloc(sizeof(int32_t) * BATCH);
    float *points = malloc(sizeof(float) * 3 * BATCH), *sigma = malloc(sizeof(float) * BATCH);
    bool ok = cells && points && sigma && occupied_cells(g, step, &list, &occupied);
    if (!ok) {
        free(cells), free(points), free(sigma);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "occupancy grid update: cannot hold a batch of %d draws", BATCH);
    }
    /* the draws read the bits before this update changes any */
    decay(g);
    for (int64_t start = 0; start < count; start += BATCH) {
        int64_t n = count - start < BATCH ? count - start : BATCH;
        draws(g, step, start, n, occupied, list, points, cells);
        density(points, n, sigma, user);
        take_larger(g, n, cells, sigma);
    }
    free(list), free(cells), free(points), free(sigma);
    rd_occupancy_rebuild_bits(g);
    return RD_OK;
}

int rd_occupancy_march(const rd_occupancy *g, const float origin[3], const float dir[3], float t_min, float t_max, int max_samples,
                       rd_march_sample *out)
{
    rd_occupancy_view v = {g->cascades, g->cone, {0}};
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) v.bits[k] = g->bits[k];
    return rd_occupancy_march_view(&v, origin, dir, t_min, t_max, 0.0f, max_samples, out);
}

typedef struct march_job {
    rd_occupancy_view view;
    const float *origins, *dirs, *t_min, *t_max, *jitter;
    int max_samples;
    rd_march_sample *samples; /* NULL: the counting pass */
    const int32_t *ray_offset;
    int32_t *ray_count;
} march_job;

static void march_some(int64_t begin, int64_t end, int worker, void *user)
{
    march_job *j = user;
    for (int64_t r = begin; r < end; r++) {
        float t0 = j->t_min ? j->t_min[r] : 0.0f, t1 = j->t_max ? j->t_max[r] : INFINITY;
        if (j->samples && j->ray_count[r] == 0) continue; /* not kept, or no samples */
        int n = rd_occupancy_march_view(&j->view, j->origins + 3 * r, j->dirs + 3 * r, t0, t1, j->jitter ? j->jitter[r] : 0.0f,
                                        j->max_samples,
                                        j->samples ? j->samples + j->ray_offset[r] : NULL);
        if (!j->samples) j->ray_count[r] = n;
    }
}

rd_result rd_occupancy_march_rays(rd_context *ctx, const rd_occupancy *g, int64_t rays, const float *origins, const float *dirs,
                                  const float *t_min, const float *t_max, const float *jitter, int max_samples_per_ray, int64_t capacity,
                                  rd_march_sample *samples, int32_t *ray_offset, int32_t *ray_count, int64_t *total)
{
    if (rays < 0 || max_samples_per_ray < 0 || capacity < 0 || rays > INT32_MAX)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "occupancy march: %lld rays, %d samples a ray, capacity %lld",
                       (long long)rays, max_samples_per_ray, (long long)capacity);
    if (capacity > INT32_MAX) capacity = INT32_MAX;
    march_job job = {{g->cascades, g->cone, {0}}, origins, dirs, t_min, t_max, jitter, max_samples_per_ray, NULL, ray_offset, ray_count};
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) job.view.bits[k] = g->bits[k];
    rd_parallel_for(ctx->threads, rays, 256, march_some, &job);
    /* the prefix sum, and the rays that fit: a prefix of them */
    int64_t offset = 0;
    bool fits = true;
    for (int64_t r = 0; r < rays; r++) {
        fits = fits && offset + ray_count[r] <= capacity;
        if (!fits) {
            ray_count[r] = 0;
            ray_offset[r] = (int32_t)offset;
            continue;
        }
        ray_offset[r] = (int32_t)offset;
        offset += ray_count[r];
    }
    *total = offset;
    job.samples = samples;
    rd_parallel_for(ctx->threads, rays, 64, march_some, &job);
    return RD_OK;
}
