/* occupancy.c: the occupancy grid's update and ray marching on the CPU (occupancy.h). */
#include "occupancy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { BATCH = 65536 };

static int64_t level_cells(int k) { int64_t s = RD_OCCUPANCY_SIDE >> k; return s * s * s; }

rd_result rd_occupancy_create(rd_context *ctx, int aabb_scale, uint64_t seed, rd_occupancy *out)
{
    memset(out, 0, sizeof *out);
    if (aabb_scale < 1 || aabb_scale > 128 || (aabb_scale & (aabb_scale - 1)))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "occupancy grid: aabb_scale %d is not a power of two from 1 to 128", aabb_scale);
    while ((1 << out->cascades) < aabb_scale) out->cascades++;
    out->cascades++;
    out->cone = aabb_scale > 1 ? 1.0f / 256.0f : 0.0f;
    out->rng.state = seed * 0x9E3779B97F4A7C15ull + 1;
    out->thickness = calloc((size_t)out->cascades * RD_OCCUPANCY_CELLS, sizeof(float));
    bool ok = out->thickness != NULL;
    for (int k = 0; k < RD_OCCUPANCY_LEVELS && ok; k++) ok = (out->bits[k] = calloc((size_t)(out->cascades * level_cells(k)), 1)) != NULL;
    if (!ok) {
        rd_occupancy_destroy(out);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "occupancy grid: cannot hold %d cascades", out->cascades);
    }
    return RD_OK;
}

void rd_occupancy_destroy(rd_occupancy *g)
{
    free(g->thickness);
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) free(g->bits[k]);
    memset(g, 0, sizeof *g);
}

void rd_occupancy_rebuild_bits(rd_occupancy *g)
{
    int64_t cells = (int64_t)g->cascades * RD_OCCUPANCY_CELLS;
    double sum = 0.0;
    for (int64_t i = 0; i < cells; i++) sum += g->thickness[i];
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
                            any |= g->bits[k - 1][c * level_cells(k - 1) + (2 * x + (q & 1)) + (int64_t)(2 * y + (q >> 1 & 1)) * fine +
                                                 (int64_t)(2 * z + (q >> 2)) * fine * fine];
                        g->bits[k][c * level_cells(k) + x + (int64_t)y * s + (int64_t)z * s * s] = any;
                    }
    }
}

int rd_occupancy_locate(const rd_occupancy *g, const float p[3], int *cell)
{
    float far = fmaxf(fmaxf(fabsf(p[0] - 0.5f), fabsf(p[1] - 0.5f)), fabsf(p[2] - 0.5f));
    for (int c = 0; c < g->cascades; c++) {
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

/* A random point inside cell `cell` of cascade c. */
static void point_in_cell(rd_occupancy *g, int c, int64_t cell, float p[3])
{
    int64_t i[3] = {cell % RD_OCCUPANCY_SIDE, cell / RD_OCCUPANCY_SIDE % RD_OCCUPANCY_SIDE, cell / (RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE)};
    for (int d = 0; d < 3; d++) p[d] = 0.5f + (((float)i[d] + rd_rng_uniform(&g->rng)) / RD_OCCUPANCY_SIDE - 0.5f) * (float)(1 << c);
}

rd_result rd_occupancy_update(rd_context *ctx, rd_occupancy *g, int step, rd_density_fn density, void *user)
{
    int64_t cells = (int64_t)g->cascades * RD_OCCUPANCY_CELLS, draws = step < 256 ? cells : cells / 2;
    int64_t *drawn = malloc(sizeof(int64_t) * (size_t)draws), occupied = 0;
    float *points = malloc(sizeof(float) * 3 * BATCH), *sigma = malloc(sizeof(float) * BATCH);
    int64_t *occupied_list = step < 256 ? NULL : malloc(sizeof(int64_t) * (size_t)cells);
    if (!drawn || !points || !sigma || (step >= 256 && !occupied_list)) {
        free(drawn), free(points), free(sigma), free(occupied_list);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "occupancy grid update: cannot hold %lld draws", (long long)draws);
    }
    if (step < 256) {
        for (int64_t i = 0; i < cells; i++) drawn[i] = i;
    } else { /* a quarter uniformly, a quarter among the occupied */
        for (int64_t i = 0; i < cells; i++)
            if (g->bits[0][i]) occupied_list[occupied++] = i;
        for (int64_t i = 0; i < draws; i++) {
            bool uniform_draw = i < cells / 4 || occupied == 0;
            uint64_t r = rd_rng_next(&g->rng);
            drawn[i] = uniform_draw ? (int64_t)(r % (uint64_t)cells) : occupied_list[r % (uint64_t)occupied];
        }
    }
    for (int64_t i = 0; i < cells; i++) g->thickness[i] *= 0.95f;
    for (int64_t start = 0; start < draws; start += BATCH) {
        int64_t n = draws - start < BATCH ? draws - start : BATCH;
        for (int64_t j = 0; j < n; j++) {
            int64_t cell = drawn[start + j];
            point_in_cell(g, (int)(cell / RD_OCCUPANCY_CELLS), cell % RD_OCCUPANCY_CELLS, points + 3 * j);
        }
        density(points, n, sigma, user);
        for (int64_t j = 0; j < n; j++) {
            float value = sigma[j] * RD_OCCUPANCY_DT_MIN;
            float *cell = &g->thickness[drawn[start + j]];
            if (value > *cell) *cell = value; /* a NaN density leaves the cell as it was */
        }
    }
    free(drawn), free(points), free(sigma), free(occupied_list);
    rd_occupancy_rebuild_bits(g);
    return RD_OK;
}

/* Where the ray leaves the axis-aligned box [low, low + size]^3 (in double: far cameras). */
static double exit_distance(const float o[3], const float d[3], const double low[3], double size)
{
    double t = INFINITY;
    for (int a = 0; a < 3; a++) {
        if (d[a] > 0.0f) t = fmin(t, (low[a] + size - o[a]) / d[a]);
        else if (d[a] < 0.0f) t = fmin(t, (low[a] - o[a]) / d[a]);
    }
    return t;
}

/* t is kept in double: a camera 100 units away has float steps of 1e-5 along the ray, too
   coarse for the nudges that keep a point inside a cell, and 2e5 away a float t stops
   moving at all. */
int rd_occupancy_march(const rd_occupancy *g, const float origin[3], const float dir[3], float t_min, float t_max, int max_samples,
                       rd_march_sample *out)
{
    /* the largest cascade's cube: entry and exit */
    double half = 0.5 * (double)(1 << (g->cascades - 1)), enter = t_min, leave = t_max;
    for (int a = 0; a < 3; a++) {
        double lo = 0.5 - half, hi = 0.5 + half;
        if (dir[a] == 0.0f) {
            if (origin[a] <= lo || origin[a] >= hi) return 0;
            continue;
        }
        double t0 = (lo - origin[a]) / dir[a], t1 = (hi - origin[a]) / dir[a];
        enter = fmax(enter, fmin(t0, t1)), leave = fmin(leave, fmax(t0, t1));
    }
    double dt_max = RD_OCCUPANCY_DT_MIN * (double)(1 << (g->cascades - 1));
    int count = 0;
    /* from just inside the cube: its faces belong to no cascade */
    for (double t = enter + 1e-6 * half; t < leave && count < max_samples;) {
        float p[3] = {(float)(origin[0] + t * dir[0]), (float)(origin[1] + t * dir[1]), (float)(origin[2] + t * dir[2])};
        int cell, c = rd_occupancy_locate(g, p, &cell);
        if (c < 0) break;
        double dt = fmin(fmax(t * g->cone, RD_OCCUPANCY_DT_MIN), dt_max);
        if (g->bits[0][(int64_t)c * RD_OCCUPANCY_CELLS + cell]) {
            out[count++] = (rd_march_sample){(float)t, (float)dt};
            t += dt;
            continue;
        }
        int i[3] = {cell % RD_OCCUPANCY_SIDE, cell / RD_OCCUPANCY_SIDE % RD_OCCUPANCY_SIDE, cell / (RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE)};
        int k = 0; /* the largest empty block around the cell */
        while (k + 1 < RD_OCCUPANCY_LEVELS) {
            int s = RD_OCCUPANCY_SIDE >> (k + 1);
            int64_t b = (int64_t)c * level_cells(k + 1) + (i[0] >> (k + 1)) + (int64_t)(i[1] >> (k + 1)) * s +
                        (int64_t)(i[2] >> (k + 1)) * s * s;
            if (g->bits[k + 1][b]) break;
            k++;
        }
        double cascade_size = (double)(1 << c), block = cascade_size * (double)(1 << k) / RD_OCCUPANCY_SIDE, low[3];
        for (int a = 0; a < 3; a++) low[a] = 0.5 - 0.5 * cascade_size + (double)((i[a] >> k) << k) / RD_OCCUPANCY_SIDE * cascade_size;
        double next = exit_distance(origin, dir, low, block) + 1e-6 * block;
        t = next > t ? next : t + RD_OCCUPANCY_DT_MIN; /* always forward */
    }
    return count;
}
