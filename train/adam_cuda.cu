/* adam_cuda.cu: adam.c's update on CUDA, one thread an element, fused (moments and
   parameter in one pass), and the same for a scene's SH array, whose rows interleave the
   DC coefficients and the rest while their moments are kept as two groups. */
#include "adam.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256 };

/* What every element's update shares: adam.c's constants for the step. */
typedef struct adam_constants {
    float b1, b2, eps, root_c2;
} adam_constants;

static adam_constants constants(const rd_adam_step_desc *d, float *step_scale)
{
    float b1 = d->beta1 > 0.0f ? d->beta1 : 0.9f, b2 = d->beta2 > 0.0f ? d->beta2 : 0.999f;
    float eps = d->eps > 0.0f ? d->eps : 1e-15f;
    *step_scale = 1.0f / (1.0f - powf(b1, (float)d->step));
    return adam_constants{b1, b2, eps, sqrtf(1.0f - powf(b2, (float)d->step))};
}

__device__ __forceinline__ void adam_element(float *param, float g, float *m, float *v, float step, adam_constants c)
{
    float mi = c.b1 * *m + (1.0f - c.b1) * g, vi = c.b2 * *v + (1.0f - c.b2) * g * g;
    *m = mi, *v = vi;
    *param -= step * mi / (sqrtf(vi) / c.root_c2 + c.eps);
}

__global__ void adam_kernel(float *param, const float *grad, float *m, float *v, long long n, float step, adam_constants c)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) adam_element(&param[i], grad[i], &m[i], &v[i], step, c);
}

/* sh and grad: rows of 3K; the row's first 3 use the DC group's moments and step, the
   other 3(K - 1) the rest's. */
__global__ void adam_sh_kernel(float *sh, const float *grad, rd_adam_sh_moments mo, long long count, int K, float step_dc,
                               float step_rest, adam_constants c)
{
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x, row = 3ll * K;
    if (e >= count * row) return;
    long long i = e / row;
    int k = (int)(e - i * row);
    if (k < 3) adam_element(&sh[e], grad[e], &mo.m_dc[3 * i + k], &mo.v_dc[3 * i + k], step_dc, c);
    else {
        long long r = i * (row - 3) + (k - 3);
        adam_element(&sh[e], grad[e], &mo.m_rest[r], &mo.v_rest[r], step_rest, c);
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

extern "C" rd_result rd_adam_update_sh_cuda(rd_context *ctx, float *sh, const float *grad, const rd_adam_sh_moments *moments,
                                            int64_t count, int K, float lr_dc, float lr_rest, const rd_adam_step_desc *desc,
                                            void *stream)
{
    float scale;
    adam_constants c = constants(desc, &scale);
    long long n = (long long)count * 3 * K;
    if (n) adam_sh_kernel<<<blocks_for(n), THREADS, 0, stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream>>>(
        sh, grad, *moments, (long long)count, K, lr_dc * scale, lr_rest * scale, c);
    return rd_cuda_check(ctx, cudaGetLastError(), "adam");
}
