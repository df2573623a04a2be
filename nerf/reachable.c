/* reachable.c: the hash table entries rendering can read (reachable.h). A cascade at a
   time: its occupied cells, less the inner half that the next smaller cascade holds, go
   into a summed-volume table; then each level marks the corners of every level cell that
   overlaps one of them. Where the level's cells are larger than the grid's, it walks its
   cells and asks the table; where they are smaller, it walks the occupied cells. A level
   stops once every entry is marked (hashed levels fill quickly). */
#include "reachable.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>
#include <stdlib.h>

enum { SIDE = RD_OCCUPANCY_SIDE, SUMS = SIDE + 1 };

/* Beyond this a coordinate's corner is taken as 0 (rd_hashgrid_locate). */
#define HASHGRID_FAR 16777216.0

typedef struct reach_job {
    const rd_hashgrid *g;
    const rd_occupancy *occupancy;
    const int32_t *sums; /* the cascade's summed-volume table, SUMS^3, x fastest */
    int cascade;
    uint8_t *marks;
    int64_t *counts;     /* per level: entries marked so far */
} reach_job;

/* Occupied cells, of those the cascade's marching uses, in the box [lo, hi] of cells
   (inclusive, each axis clamped to the grid); 0 where the box misses it. */
static int32_t occupied_in(const int32_t *sums, const int64_t lo_in[3], const int64_t hi_in[3])
{
    int64_t lo[3], hi[3];
    for (int a = 0; a < 3; a++) {
        lo[a] = lo_in[a] < 0 ? 0 : lo_in[a];
        hi[a] = hi_in[a] > SIDE - 1 ? SIDE - 1 : hi_in[a];
        if (lo[a] > hi[a]) return 0;
    }
    int32_t total = 0;
    for (int c = 0; c < 8; c++) { /* inclusion-exclusion over the box's corners */
        int64_t x = c & 1 ? hi[0] + 1 : lo[0], y = c & 2 ? hi[1] + 1 : lo[1], z = c & 4 ? hi[2] + 1 : lo[2];
        int sign = ((c & 1) + (c >> 1 & 1) + (c >> 2 & 1)) % 2 ? 1 : -1; /* + for the far corner (c = 7) */
        total += sign * sums[x + SUMS * (y + SUMS * z)];
    }
    return total;
}

/* Marks the corners of level cells [lo, hi] (inclusive, per axis) on level l; false once
   the level is full. */
static bool mark_cells(const reach_job *j, int l, const int64_t lo[3], const int64_t hi[3])
{
    const rd_hashgrid *g = j->g;
    uint8_t *marks = j->marks + g->offset[l];
    int64_t *count = &j->counts[l];
    bool far = false;
    for (int a = 0; a < 3; a++) far |= lo[a] < -HASHGRID_FAR || hi[a] + 1 >= HASHGRID_FAR;
    if (far) { /* a point there takes corner 0 */
        for (int c = 0; c < 8; c++) {
            uint32_t e = rd_hashgrid_index(g, l, c & 1, c >> 1 & 1, c >> 2 & 1);
            *count += !marks[e];
            marks[e] = 1;
        }
    }
    int64_t from[3], to[3]; /* corners, within the coordinates a point can have */
    for (int a = 0; a < 3; a++) {
        from[a] = lo[a] < -HASHGRID_FAR ? (int64_t)-HASHGRID_FAR : lo[a];
        to[a] = hi[a] + 1 > (int64_t)HASHGRID_FAR ? (int64_t)HASHGRID_FAR : hi[a] + 1;
    }
    for (int64_t z = from[2]; z <= to[2]; z++)
        for (int64_t y = from[1]; y <= to[1]; y++)
            for (int64_t x = from[0]; x <= to[0]; x++) {
                uint32_t e = rd_hashgrid_index(g, l, (uint32_t)(int32_t)x, (uint32_t)(int32_t)y, (uint32_t)(int32_t)z);
                if (!marks[e]) {
                    marks[e] = 1;
                    if (++*count == g->size[l]) return false;
                }
            }
    return *count < g->size[l];
}

static void reach_level(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const reach_job *j = user;
    const rd_hashgrid *g = j->g;
    double size = (double)(1 << j->cascade), cell = size / SIDE, low = 0.5 - 0.5 * size, margin = cell / 64.0;
    for (int64_t l = begin; l < end; l++) {
        if (j->counts[l] == g->size[l]) continue;
        double s = g->scale[l];
        if (s * size < SIDE) { /* level cells larger than the grid's: walk them */
            int64_t first = (int64_t)floor(s * (low - margin) + 0.5), last = (int64_t)floor(s * (low + size + margin) + 0.5);
            for (int64_t z = first; z <= last; z++)
                for (int64_t y = first; y <= last; y++)
                    for (int64_t x = first; x <= last; x++) {
                        int64_t v[3] = {x, y, z}, lo[3], hi[3];
                        for (int a = 0; a < 3; a++) { /* the grid's cells its points (and the margin) fall in */
                            lo[a] = (int64_t)floor((((double)v[a] - 0.5) / s - margin - low) / cell);
                            hi[a] = (int64_t)floor((((double)v[a] + 0.5) / s + margin - low) / cell);
                        }
                        if (occupied_in(j->sums, lo, hi) > 0 && !mark_cells(j, (int)l, v, v)) goto next_level;
                    }
        } else { /* smaller: walk the occupied cells */
            const uint8_t *bits = j->occupancy->bits[0] + (int64_t)j->cascade * RD_OCCUPANCY_CELLS;
            for (int64_t k = 0; k < RD_OCCUPANCY_CELLS; k++) {
                int64_t i[3] = {k % SIDE, k / SIDE % SIDE, k / (SIDE * SIDE)}, lo[3], hi[3];
                if (!bits[k] || occupied_in(j->sums, i, i) == 0) continue; /* empty, or the inner cascade's */
                for (int a = 0; a < 3; a++) {
                    lo[a] = (int64_t)floor(s * (low + (double)i[a] * cell - margin) + 0.5);
                    hi[a] = (int64_t)floor(s * (low + (double)(i[a] + 1) * cell + margin) + 0.5);
                }
                if (!mark_cells(j, (int)l, lo, hi)) break;
            }
        }
    next_level:;
    }
}

/* sums[x + SUMS (y + SUMS z)]: occupied cells with all coordinates below (x, y, z), of
   those cascade c marches through (for c > 0 not the inner half, which is c - 1's). */
static void summed_volume(const rd_occupancy *occupancy, int c, int32_t *sums)
{
    const uint8_t *bits = occupancy->bits[0] + (int64_t)c * RD_OCCUPANCY_CELLS;
    for (int64_t k = 0; k < (int64_t)SUMS * SUMS * SUMS; k++) sums[k] = 0;
    for (int z = 0; z < SIDE; z++)
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                bool inner = c > 0 && x >= SIDE / 4 && x < 3 * SIDE / 4 && y >= SIDE / 4 && y < 3 * SIDE / 4 && z >= SIDE / 4 &&
                             z < 3 * SIDE / 4;
                int32_t here = !inner && bits[x + SIDE * (y + SIDE * z)];
                int64_t at = (x + 1) + SUMS * ((y + 1) + (int64_t)SUMS * (z + 1));
                sums[at] = here + sums[at - 1] + sums[at - SUMS] + sums[at - SUMS * SUMS] - sums[at - 1 - SUMS] -
                           sums[at - 1 - SUMS * SUMS] - sums[at - SUMS - SUMS * SUMS] + sums[at - 1 - SUMS - SUMS * SUMS];
            }
}

rd_result rd_nerf_reachable_entries(rd_context *ctx, const rd_hashgrid *g, const rd_occupancy *occupancy, uint8_t *marks,
                                    int64_t *count)
{
    int32_t *sums = malloc(sizeof(int32_t) * SUMS * SUMS * SUMS);
    if (!sums) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF reachable entries: out of memory for the occupancy sums");
    int64_t counts[RD_HASHGRID_MAX_LEVELS] = {0};
    for (int64_t e = 0; e < g->entries; e++) marks[e] = 0;
    for (int c = 0; c < occupancy->cascades; c++) {
        summed_volume(occupancy, c, sums);
        reach_job job = {g, occupancy, sums, c, marks, counts};
        rd_parallel_for(ctx->threads, g->levels, 1, reach_level, &job);
    }
    free(sums);
    *count = 0;
    for (int l = 0; l < g->levels; l++) *count += counts[l];
    return RD_OK;
}
