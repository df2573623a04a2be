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
   empty cell t leaps to where the ray leaves the largest empty block around it (plus
   1e-6 of that block), then steps on; at most max_samples, and never past t_max or the
   grid. */
#ifndef RD_OCCUPANCY_H
#define RD_OCCUPANCY_H

#include "../renderer/internal.h"
#include "../renderer/random.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { RD_OCCUPANCY_SIDE = 128, RD_OCCUPANCY_CELLS = 128 * 128 * 128, RD_OCCUPANCY_LEVELS = 8, RD_OCCUPANCY_MAX_CASCADES = 8 };
#define RD_OCCUPANCY_DT_MIN 0.0016914558f /* sqrt(3) / 1024 */

typedef struct rd_occupancy {
    int cascades;
    float cone;             /* 1/256 where aabb_scale > 1 */
    float threshold;        /* min(0.01, the mean) at the last update */
    float *thickness;       /* cascades * CELLS */
    uint8_t *bits[RD_OCCUPANCY_LEVELS]; /* level k: cascades * (128 >> k)^3 bytes, 0 or 1 */
    rd_rng rng;             /* the update's draws */
} rd_occupancy;

rd_result rd_occupancy_create(rd_context *ctx, int aabb_scale, uint64_t seed, rd_occupancy *out);
void rd_occupancy_destroy(rd_occupancy *g);

/* The density at n points (xyz each) into sigma, for the update. */
typedef void (*rd_density_fn)(const float *points, int64_t n, float *sigma, void *user);
static inline int rd_occupancy_update_due(int step) { return step < 256 || step % 16 == 0; }
rd_result rd_occupancy_update(rd_context *ctx, rd_occupancy *g, int step, rd_density_fn density, void *user);
/* Rebuilds the bits from the thicknesses (the update does it; for grids filled by hand). */
void rd_occupancy_rebuild_bits(rd_occupancy *g);

/* The cascade whose cube holds p (the smallest), or -1 outside them all; the cell's index
   in it through *cell. */
int rd_occupancy_locate(const rd_occupancy *g, const float p[3], int *cell);

typedef struct rd_march_sample {
    float t, dt;
} rd_march_sample;
/* A ray's samples (origin, unit direction); returns how many it wrote (at most max_samples). */
int rd_occupancy_march(const rd_occupancy *g, const float origin[3], const float dir[3], float t_min, float t_max,
                       int max_samples, rd_march_sample *out);

#ifdef __cplusplus
}
#endif
#endif
