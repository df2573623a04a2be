/* rays.h: the NeRF's rays, written once for the CPU and CUDA: a camera pixel's ray in the
   field's frame, and a training step's ray draws (which view, where in it, on which
   background), each a pure function of the seed, the step and the ray's index, so that
   any thread draws any ray and the CUDA trainer draws the CPU's rays bit for bit. */
#ifndef RD_NERF_RAYS_H
#define RD_NERF_RAYS_H

#include "occupancy.h"

#ifdef __CUDACC__
#define RD_RAYS_FN __host__ __device__ static inline
#else
#define RD_RAYS_FN static inline
#endif

/* A pixel's ray in the field's frame: origin, unit direction, and the field distance per
   unit of camera depth (z), for the near plane and the depth output. */
typedef struct rd_nerf_ray {
    float origin[3], dir[3];
    float field_per_depth;
} rd_nerf_ray;

/* The ray through pixel position (u, v) of camera c (pixel (i, j)'s centre is
   (i + 0.5, j + 0.5)), the world placed in the field by p * scale + offset. */
RD_RAYS_FN rd_nerf_ray rd_nerf_camera_ray(const rd_camera *c, float scale, const float offset[3], float u, float v)
{
    const float *m = c->w2c;
    float cam[3] = {(u - c->cx) / c->fx, (v - c->cy) / c->fy, 1.0f}, world[3];
    rd_nerf_ray ray;
    for (int a = 0; a < 3; a++) {
        world[a] = m[0 * 4 + a] * cam[0] + m[1 * 4 + a] * cam[1] + m[2 * 4 + a] * cam[2]; /* R^T cam */
        float centre = -(m[0 * 4 + a] * m[3] + m[1 * 4 + a] * m[7] + m[2 * 4 + a] * m[11]); /* -R^T t */
        ray.origin[a] = centre * scale + offset[a];
    }
    float length = sqrtf(world[0] * world[0] + world[1] * world[1] + world[2] * world[2]);
    for (int a = 0; a < 3; a++) ray.dir[a] = world[a] / length;
    ray.field_per_depth = length * scale; /* a unit of depth is |cam| of world distance along the ray */
    return ray;
}

/* The camera's near and far planes with their defaults (rd_camera: 0.01 and 1e10), as
   camera depths. */
RD_RAYS_FN float rd_nerf_near(const rd_camera *c) { return c->near_plane > 0.0f ? c->near_plane : 0.01f; }
RD_RAYS_FN float rd_nerf_far(const rd_camera *c) { return c->far_plane > 0.0f ? c->far_plane : 1e10f; }

/* Training ray k's draw at `step`: a view (uniform over the views), a point in it (uniform
   over its width x height), a background (uniform in [0, 1)^3 where random), and the
   fraction of a step its samples are shifted by (the march's jitter, uniform in [0, 1)). */
typedef struct rd_nerf_draw {
    int view;
    float u, v, background[3], jitter;
} rd_nerf_draw;

RD_RAYS_FN float rd_nerf_unit(uint64_t word) { return (float)(word >> 40) * (1.0f / 16777216.0f); }

RD_RAYS_FN rd_nerf_draw rd_nerf_draw_ray(uint64_t seed, int step, int64_t k, int views, const int *widths, const int *heights,
                                         bool random_background, const float background[3])
{
    /* the occupancy update's counter-based words, on a stream of the seed's own */
    uint64_t stream = seed ^ 0xA0761D6478BD642Full;
    rd_nerf_draw d;
    d.view = (int)(rd_occupancy_random(stream, step, k, 0) % (uint64_t)views);
    d.u = rd_nerf_unit(rd_occupancy_random(stream, step, k, 1)) * (float)widths[d.view];
    d.v = rd_nerf_unit(rd_occupancy_random(stream, step, k, 2)) * (float)heights[d.view];
    uint64_t colour = rd_occupancy_random(stream, step, k, 3);
    for (int c = 0; c < 3; c++)
        d.background[c] = random_background ? (float)(colour >> (8 + 16 * c) & 0xFFFF) * (1.0f / 65536.0f) : background[c];
    d.jitter = rd_nerf_unit(rd_occupancy_random(stream + 1, step, k, 0));
    return d;
}

/* The loss of one channel's error e (Huber with delta 0.1 in its smooth-L1 form, or L2),
   and its derivative through *slope. */
RD_RAYS_FN float rd_nerf_channel_loss(int l2, float e, float *slope)
{
    const float delta = 0.1f;
    if (l2) {
        *slope = 2.0f * e;
        return e * e;
    }
    if (fabsf(e) < delta) {
        *slope = e / delta;
        return 0.5f * e * e / delta;
    }
    *slope = e > 0.0f ? 1.0f : -1.0f;
    return fabsf(e) - 0.5f * delta;
}

#endif
