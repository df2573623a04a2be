/* mcmc_cuda.cu: 3DGS-MCMC's per-step parts on CUDA (mcmc.h's maths, one thread a
   Gaussian), as train_mcmc.c runs them on the host. */
#include "mcmc.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256 };

__global__ void mcmc_regularise_kernel(const float *logits, const float *log_scales, long long count, float *g_logits,
                                       float *g_log_scales)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) rd_mcmc_regularise(logits[i], log_scales + 3 * i, count, &g_logits[i], g_log_scales + 3 * i);
}

__global__ void mcmc_noise_kernel(float *means, const float *log_scales, const float *quats, const float *logits, long long count,
                                  float amplitude, unsigned long long seed, unsigned int step)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) rd_mcmc_noise(means + 3 * i, log_scales + 3 * i, quats + 4 * i, logits[i], amplitude, seed, step, (uint32_t)i);
}

static unsigned int blocks_for(int64_t n) { return (unsigned int)((n + THREADS - 1) / THREADS); }

extern "C" rd_result rd_mcmc_regularise_cuda(rd_context *ctx, const float *logits, const float *log_scales, int64_t count,
                                             float *g_logits, float *g_log_scales)
{
    if (count > 0)
        mcmc_regularise_kernel<<<blocks_for(count), THREADS, 0, rd_cuda(ctx)->stream>>>(logits, log_scales, count, g_logits,
                                                                                         g_log_scales);
    return rd_cuda_check(ctx, cudaGetLastError(), "3DGS-MCMC regularisers");
}

extern "C" rd_result rd_mcmc_noise_cuda(rd_context *ctx, float *means, const float *log_scales, const float *quats, const float *logits,
                                        int64_t count, float amplitude, uint64_t seed, uint32_t step)
{
    if (count > 0)
        mcmc_noise_kernel<<<blocks_for(count), THREADS, 0, rd_cuda(ctx)->stream>>>(means, log_scales, quats, logits, count, amplitude,
                                                                                    seed, step);
    return rd_cuda_check(ctx, cudaGetLastError(), "3DGS-MCMC noise");
}
