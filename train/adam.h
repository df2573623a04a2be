/* adam.h: Adam (Kingma and Ba) as the 3DGS recipe runs it (torch's, with bias correction
   and epsilon 1e-15), on one array of parameters with its own moments. */
#ifndef RD_TRAIN_ADAM_H
#define RD_TRAIN_ADAM_H

#include "../renderer/internal.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rd_adam_step_desc {
    float lr;
    int step;           /* 1 for the first update */
    float beta1, beta2; /* 0: 0.9, 0.999 */
    float eps;          /* 0: 1e-15 */
    int threads;        /* rd_adam_update's CPU threads (0: 1); each element on its own, so any count gives the same bits */
    float grad_scale;   /* each gradient times this first (0: 1), as a batch's mean */
} rd_adam_step_desc;

/* param -= lr * m_hat / (sqrt(v_hat) + eps), after m and v take in grad. */
void rd_adam_update(float *param, const float *grad, float *m, float *v, size_t n, const rd_adam_step_desc *desc);

/* The same on CUDA (adam_cuda.cu), on device arrays, enqueued on stream (NULL: the
   context's). */
rd_result rd_adam_update_cuda(rd_context *ctx, float *param, const float *grad, float *m, float *v, size_t n,
                              const rd_adam_step_desc *desc, void *stream);
/* A scene's SH array (count rows of 3K floats, DC first) with its moments in two groups:
   DC (3 a row) at lr_dc, the rest (3(K - 1) a row) at lr_rest; desc->lr is not read. */
typedef struct rd_adam_sh_moments {
    float *m_dc, *v_dc, *m_rest, *v_rest;
} rd_adam_sh_moments;
/* Any array of count rows of `row` floats whose first `head` have their own group's
   moments (m_dc, v_dc: head a row) and rate, the rest the other's (row - head a row). */
rd_result rd_adam_update_rows_cuda(rd_context *ctx, float *param, const float *grad, const rd_adam_sh_moments *moments, int64_t count,
                                   int row, int head, float lr_head, float lr_rest, const rd_adam_step_desc *desc, void *stream);
rd_result rd_adam_update_sh_cuda(rd_context *ctx, float *sh, const float *grad, const rd_adam_sh_moments *moments, int64_t count,
                                 int K, float lr_dc, float lr_rest, const rd_adam_step_desc *desc, void *stream);

#ifdef __cplusplus
}
#endif
#endif
