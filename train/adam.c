/* adam.c: see adam.h. */
#include "adam.h"

#include <math.h>

void rd_adam_update(float *param, const float *grad, float *m, float *v, size_t n, const rd_adam_step_desc *d)
{
    float b1 = d->beta1 > 0.0f ? d->beta1 : 0.9f, b2 = d->beta2 > 0.0f ? d->beta2 : 0.999f;
    float eps = d->eps > 0.0f ? d->eps : 1e-15f;
    float c1 = 1.0f - powf(b1, (float)d->step), c2 = 1.0f - powf(b2, (float)d->step);
    float step = d->lr / c1, root_c2 = sqrtf(c2);
    for (size_t i = 0; i < n; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * grad[i];
        v[i] = b2 * v[i] + (1.0f - b2) * grad[i] * grad[i];
        param[i] -= step * m[i] / (sqrtf(v[i]) / root_c2 + eps);
    }
}
