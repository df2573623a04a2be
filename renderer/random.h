/* random.h: the deterministic generator (splitmix64) behind everything radiant draws at
   random (the procedural scenes, training's draws, the NeRF's initial parameters and
   occupancy samples), so that each is a pure function of its seed on every platform. */
#ifndef RD_RANDOM_H
#define RD_RANDOM_H

#include <math.h>
#include <stdint.h>

typedef struct rd_rng { uint64_t state; } rd_rng;

static inline uint64_t rd_rng_next(rd_rng *r)
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* [0, 1) with 24 bits */
static inline float rd_rng_uniform(rd_rng *r) { return (float)(rd_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

/* standard normal (Box-Muller) */
static inline float rd_rng_normal(rd_rng *r)
{
    float u = rd_rng_uniform(r) + 1e-7f, v = rd_rng_uniform(r);
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

#endif
