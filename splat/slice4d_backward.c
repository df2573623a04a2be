/* slice4d_backward.c: the backward pass of slice4d.c's slice on the CPU, a Gaussian at a
   time (slice4d_backward_math.h has the maths, shared with the CUDA kernel). */
#include "slice4d_math.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>
#include <string.h>

typedef struct backward_job {
    const rd_scene4d *s;
    float time;
    const int64_t *source;
    const rd_gaussian_grads *g3;
    const rd_gaussian4d_grads *out;
} backward_job;

static void backward_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const backward_job *job = user;
    const rd_scene4d *s = job->s;
    const rd_gaussian_grads *g3 = job->g3;
    const rd_gaussian4d_grads *out = job->out;
    const int K = rd_sh_coeffs(s->sh_degree), terms = s->time_degree + 1;
    const double omega = 6.283185307179586 / s->time_period;
    for (int64_t j = begin; j < end; j++) {
        if (!g3->views_seen[j]) continue; /* no view saw it: every gradient is zero */
        int64_t i = job->source ? job->source[j] : j;
        rd_slice4d_backward_in in = {s->means + 4 * i, s->log_scales + 4 * i, s->rotations + 8 * i, s->sh + i * terms * 3 * K,
                                     s->opacities[i], job->time, omega, K, terms, g3->means + 3 * j, g3->covariances + 6 * j,
                                     g3->sh + j * 3 * K, g3->opacities[j]};
        rd_slice4d_backward_out o = {out->means ? out->means + 4 * i : NULL, out->log_scales ? out->log_scales + 4 * i : NULL,
                                     out->rotations ? out->rotations + 8 * i : NULL, out->opacities ? out->opacities + i : NULL,
                                     out->sh ? out->sh + i * terms * 3 * K : NULL};
        rd_slice4d_backward_one(&in, &o);
        if (out->mean2d_norm) out->mean2d_norm[i] += g3->mean2d_norm[j];
        if (out->views_seen) out->views_seen[i] += g3->views_seen[j];
    }
}

void rd_slice4d_backward_cpu(rd_context *ctx, const rd_scene4d *s, float time, const int64_t *source, int64_t sliced,
                             const rd_gaussian_grads *g3, const rd_gaussian4d_grads *out)
{
    backward_job job = {s, time, source, g3, out};
    rd_parallel_for(ctx ? ctx->threads : 1, sliced, 1024, backward_range, &job);
}
