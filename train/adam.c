/* adam.c: see adam.h. */
#include "adam.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>

typedef struct adam_job {
    float *param, *m, *v;
    const float *grad;
    float b1, b2, eps, step, root_c2, grad_scale;
} adam_job;

static void adam_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const adam_job *j = user;
    for (int64_t i = begin; i < end; i++) {
        float g = j->grad_scale != 1.0f ? j->grad[i] * j->grad_scale : j->grad[i];
        j->m[i] = j->b1 * j->m[i] + (1.0f - j->b1) * g;
        j->v[i] = j->b2 * j->v[i] + (1.0f - j->b2) * g * g;
        j->param[i] -= j->step * j->m[i] / (sqrtf(j->v[i]) / j->root_c2 + j->eps);
    }
}

void rd_adam_update(float *param, const float *grad, float *m, float *v, size_t n, const rd_adam_step_desc *d)
{
    float b1 = d->beta1 > 0.0f ? d->beta1 : 0.9f, b2 = d->beta2 > 0.0f ? d->beta2 : 0.999f;
    float eps = d->eps > 0.0f ? d->eps : 1e-15f;
    float c1 = 1.0f - powf(b1, (float)d->step), c2 = 1.0f - powf(b2, (float)d->step);
    adam_job job = {param, m, v, grad, b1, b2, eps, d->lr / c1, sqrtf(c2), d->grad_scale != 0.0f ? d->grad_scale : 1.0f};
    rd_parallel_for(d->threads > 0 ? d->threads : 1, (int64_t)n, 1 << 16, adam_range, &job);
}
