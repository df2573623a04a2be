/* mcmc.h: the per-Gaussian steps of 3DGS-MCMC (Kheradmand et al., "3D Gaussian Splatting
   as Markov Chain Monte Carlo", 2024), written once for every backend, with the constants
   of its reference code (gsplat's MCMCStrategy and its trainer): each step the loss gets
   0.01 mean(opacity) + 0.01 mean(scale), and after the update each mean moves by noise
   shaped by its covariance, lr(means) 5e5 R S^2 R^T eps, gated to Gaussians nearly
   transparent by sigmoid(100 (1 - opacity - 0.995)). The noise comes from a hash of
   (seed, step, Gaussian, axis), so that every backend draws the same numbers. Relocation
   and growth (every 100 steps) run on the host: train_mcmc.c. */
#ifndef RD_MCMC_H
#define RD_MCMC_H

#include "splat_math.h"

#define RD_MCMC_NOISE_LR 5e5f
#define RD_MCMC_MIN_OPACITY 0.005f
#define RD_MCMC_OPACITY_REG 0.01f
#define RD_MCMC_SCALE_REG 0.01f
enum { RD_MCMC_FROM = 500, RD_MCMC_UNTIL = 25000, RD_MCMC_EVERY = 100, RD_MCMC_MAX_RATIO = 51 };

/* A 32-bit mix of x (lowbias32, Wellons): full avalanche, cheap on every backend. */
RD_HD static inline uint32_t rd_mcmc_mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

/* A standard normal number for (seed, step, Gaussian i, axis k), by Box-Muller from two
   hashed uniforms in (0, 1]. */
RD_HD static inline float rd_mcmc_normal(uint64_t seed, uint32_t step, uint32_t i, uint32_t k)
{
    uint32_t h = rd_mcmc_mix((uint32_t)seed ^ rd_mcmc_mix((uint32_t)(seed >> 32) ^ rd_mcmc_mix(step ^ rd_mcmc_mix(i * 4u + k))));
    uint32_t h2 = rd_mcmc_mix(h ^ 0x9e3779b9u);
    float u1 = ((float)(h >> 8) + 1.0f) * (1.0f / 16777216.0f), u2 = (float)(h2 >> 8) * (1.0f / 16777216.0f);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.283185307179586f * u2);
}

/* The regularisers' gradients for one Gaussian of count, added: d/d(logit) of 0.01 mean
   sigmoid, d/d(log-scale) of 0.01 mean over the 3 count scales. */
RD_HD static inline void rd_mcmc_regularise(float logit, const float log_scale[3], int64_t count, float *g_logit, float g_log_scale[3])
{
    float o = 1.0f / (1.0f + expf(-logit));
    *g_logit += RD_MCMC_OPACITY_REG * o * (1.0f - o) / (float)count;
    for (int k = 0; k < 3; k++) g_log_scale[k] += RD_MCMC_SCALE_REG * expf(log_scale[k]) / (3.0f * (float)count);
}

/* Moves mean by the step's noise (amplitude: lr(means) RD_MCMC_NOISE_LR). */
RD_HD static inline void rd_mcmc_noise(float mean[3], const float log_scale[3], const float quat[4], float logit, float amplitude,
                                       uint64_t seed, uint32_t step, uint32_t i)
{
    float unit[4], R[9], length;
    if (!rd_quat_rotation(quat, unit, R, &length)) return;
    float o = 1.0f / (1.0f + expf(-logit));
    float gate = 1.0f / (1.0f + expf(-100.0f * ((1.0f - o) - 0.995f)));
    float e[3], s2[3], t[3];
    for (int k = 0; k < 3; k++) {
        e[k] = rd_mcmc_normal(seed, step, i, (uint32_t)k) * gate * amplitude;
        float s = expf(log_scale[k]);
        s2[k] = s * s;
    }
    /* R S^2 R^T e */
    for (int k = 0; k < 3; k++) t[k] = s2[k] * (R[k] * e[0] + R[3 + k] * e[1] + R[6 + k] * e[2]);
    for (int r = 0; r < 3; r++) mean[r] += R[3 * r] * t[0] + R[3 * r + 1] * t[1] + R[3 * r + 2] * t[2];
}

#ifdef __cplusplus
extern "C" {
#endif
/* The same on CUDA (mcmc_cuda.cu), on device arrays, in the context's stream. */
rd_result rd_mcmc_regularise_cuda(rd_context *ctx, const float *logits, const float *log_scales, int64_t count, float *g_logits,
                                  float *g_log_scales);
rd_result rd_mcmc_noise_cuda(rd_context *ctx, float *means, const float *log_scales, const float *quats, const float *logits,
                             int64_t count, float amplitude, uint64_t seed, uint32_t step);
#ifdef __cplusplus
}
#endif

#endif
