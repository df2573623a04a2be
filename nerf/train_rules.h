/* train_rules.h: the NeRF trainer's rules that the CPU trainer (train.c) and the CUDA one
   (train_cuda.cu) both follow, written once: the occupancy grid's schedule, the learning
   rate's, and Adam's update of one parameter (spec/nerf.md, "Training"). */
#ifndef RD_NERF_TRAIN_RULES_H
#define RD_NERF_TRAIN_RULES_H

#include <math.h>
#include <stdbool.h>

#ifdef __CUDACC__
#define RD_TRAIN_RULES_FN __host__ __device__ static inline
#else
#define RD_TRAIN_RULES_FN static inline
#endif

/* The grid is updated at each of the first `warmup` steps, then every `every` steps. */
RD_TRAIN_RULES_FN bool rd_nerf_occupancy_due(int step, int warmup, int every)
{
    return step < warmup || (step - warmup) % every == 0;
}
/* The step the occupancy update is told (occupancy.h's schedule: every cell before 256,
   half of them after), so that a warm-up of other than 256 steps keeps its meaning. */
RD_TRAIN_RULES_FN int rd_nerf_occupancy_step(int step, int warmup) { return step < warmup ? step % 256 : 256 + (step - warmup); }

/* The learning rate at `step` (from 0): lr x 0.33 every 10,000 steps from 20,000. */
RD_TRAIN_RULES_FN float rd_nerf_learning_rate(float lr, int step)
{
    for (int at = 20000; at <= step; at += 10000) lr *= 0.33f;
    return lr;
}

enum { RD_NERF_ADAM_SKIP_ZERO = 1 }; /* flags: a zero gradient leaves the parameter and its moments */

/* Adam's betas 0.9 / 0.99 and epsilon 1e-15 for parameter p with gradient g (plus l2 * p),
   step size lr / (1 - 0.9^t) (size) and sqrt(1 - 0.99^t) (root_c2) for update t. */
RD_TRAIN_RULES_FN void rd_nerf_adam_one(float *p, float *m, float *v, float g, float l2, int flags, float size, float root_c2)
{
    if ((flags & RD_NERF_ADAM_SKIP_ZERO) && g == 0.0f) return;
    g += l2 * *p;
    *m = 0.9f * *m + 0.1f * g;
    *v = 0.99f * *v + 0.01f * g * g;
    *p -= size * *m / (sqrtf(*v) / root_c2 + 1e-15f);
}

/* The parameters' moving average (Instant-NGP's EMA): after each update
   a = decay * a + (1 - decay) * p from a = 0, so that a / (1 - decay^t) after t updates
   weighs the update k steps back by decay^k. */
RD_TRAIN_RULES_FN float rd_nerf_average_one(float a, float p, float decay) { return decay * a + (1.0f - decay) * p; }
RD_TRAIN_RULES_FN void rd_nerf_average_unbias(float *a, long long n, float decay, int updates)
{
    float scale = 1.0f / (1.0f - powf(decay, (float)updates));
    for (long long i = 0; i < n; i++) a[i] *= scale;
}

#endif
