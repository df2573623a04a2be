/* adam.h: Adam (Kingma and Ba) as the 3DGS recipe runs it (torch's, with bias correction
   and epsilon 1e-15), on one array of parameters with its own moments. */
#ifndef RD_TRAIN_ADAM_H
#define RD_TRAIN_ADAM_H

#include <stddef.h>

typedef struct rd_adam_step_desc {
    float lr;
    int step;           /* 1 for the first update */
    float beta1, beta2; /* 0: 0.9, 0.999 */
    float eps;          /* 0: 1e-15 */
} rd_adam_step_desc;

/* param -= lr * m_hat / (sqrt(v_hat) + eps), after m and v take in grad. */
void rd_adam_update(float *param, const float *grad, float *m, float *v, size_t n, const rd_adam_step_desc *desc);

#endif
