/* adam_cuda.cu: adam.c's update on CUDA, one thread an element, fused (moments and
   parameter in one pass), and the same for a scene's SH array, whose rows interleave the
   DC coefficients and the rest while their moments are kept as two groups (and any array
   whose rows split so, as a 4D scene's means: space, then time). */
#include "adam.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256 };

/* What every element's update shares: adam.c's constants for the step. */
typedef struct adam_constants {
    float b1, b2, eps, root_c2, grad_scale;
} adam_constants;

static adam_constants constants(const rd_adam_step_desc *d, float *step_scale)
{
    float b1 = d->beta1 > 0.0f ? d->beta1 : 0.9f, b2 = d->beta2 > 0.0f ? d->beta2 : 0.999f;
    float eps = d->eps > 0.0f ? d->eps : 1e-15f;
    *step_scale = 1.0f / (1.0f - powf(b1, (float)d->step));
    return adam_constants{b1, b2, eps, sqrtf(1.0f - powf(b2, (float)d->step)), d->grad_scale != 0.0f ? d->grad_scale : 1.0f};
}

__device__ __forceinline__ void adam_element(float *param, float g, float *m, float *v, float step, adam_constants c)
{
    if (c.grad_scale != 1.0f) g *= c.grad_scale;
    float mi = c.b1 * *m + (1.0f - c.b1) * g, vi = c.b2 * *v + (1.0f - c.b2) * g * g;
    *m = mi, *v = vi;
    *param -= step * mi / (sqrtf(vi) / c.root_c2 + c.eps);
}

__global__ void adam_kernel(float *param, const float *grad, float *m, float *v, long long n, float step, adam_constants c)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) adam_element(&param[i], grad[i], &m[i], &v[i], step, c);
}

/* param and grad: rows of `row` floats; the row's first `head` use the head group's
   moments and step, the others the rest's. */
__global__ void adam_rows_kernel(float *param, const float *grad, rd_adam_sh_moments mo, long long count, int row, int head,
                                 float step_head, float step_rest, adam_constants c)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= count * row) return;
    long long i = e / row;
    int k = (int)(e - i * row);
    if (k < head) adam_element(&param[e], grad[e], &mo.m_dc[head * i + k], &mo.v_dc[head * i + k], step_head, c);
    else {
        long long r = i * (row - head) + (k - head);
        adam_element(&param[e], grad[e], &mo.m_rest[r], &mo.v_rest[r], step_rest, c);
    }
}

static unsigned int blocks_for(long long n) { return (unsigned int)((n + THREADS - 1) / THREADS); }

extern "C" rd_result rd_adam_update_cuda(rd_context *ctx, float *param, const float *grad, float *m, float *v, size_t n,
                                         const rd_adam_step_desc *desc, void *stream)
{
    float scale;
    adam_constants c = constants(desc, &scale);
    if (n) adam_kernel<<<blocks_for((long long)n), THREADS, 0, stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream>>>(
        param, grad, m, v, (long long)n, desc->lr * scale, c);
    return rd_cuda_check(ctx, cudaGetLastError(), "adam");
}

extern "C" rd_result rd_adam_update_rows_cuda(rd_context *ctx, float *param, const float *grad, const rd_adam_sh_moments *moments,
                                              int64_t count, int row, int head, float lr_head, float lr_rest,
                                              const rd_adam_step_desc *desc, void *stream)
{
    float scale;
    adam_constants c = constants(desc, &scale);
    long long n = (long long)count * row;
    if (n) adam_rows_kernel<<<blocks_for(n), THREADS, 0, stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream>>>(
        param, grad, *moments, (long long)count, row, head, lr_head * scale, lr_rest * scale, c);
    return rd_cuda_check(ctx, cudaGetLastError(), "adam");
}

extern "C" rd_result rd_adam_update_sh_cuda(rd_context *ctx, float *sh, const float *grad, const rd_adam_sh_moments *moments,
                                            int64_t count, int K, float lr_dc, float lr_rest, const rd_adam_step_desc *desc,
                                            void *stream)
{
    return rd_adam_update_rows_cuda(ctx, sh, grad, moments, count, 3 * K, 3, lr_dc, lr_rest, desc, stream);
}
