/* volume_cuda.cu: volume.c's batch compositing and its backward pass on CUDA (volume.h),
   a thread a ray running volume.h's per-ray code. A ray's samples are consecutive, so a
   warp's reads are spread over 32 rays' stretches; a training batch of 2^18 samples over
   some thousands of rays is small beside the network that produced them. */
#include "volume.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 128 };

__global__ void __launch_bounds__(THREADS) composite_kernel(long long rays, const int32_t *ray_offset, const int32_t *ray_count,
                                                            const rd_march_sample *samples, const float *sigma, const float *rgb,
                                                            const float *background, float *out_rgb, float *out_alpha,
                                                            float *out_depth, int32_t *out_used)
{
    long long r = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (r >= rays) return;
    long long o = ray_offset[r];
    const float *s = (const float *)(samples + o);
    float bg[3] = {0.0f, 0.0f, 0.0f}, colour[3], alpha, depth;
    if (background) bg[0] = background[3 * r], bg[1] = background[3 * r + 1], bg[2] = background[3 * r + 2];
    int used;
    rd_volume_composite_ray(ray_count[r], s, s + 1, 2, sigma + o, rgb + 3 * o, bg, colour, &alpha, &depth, &used);
    out_rgb[3 * r] = colour[0], out_rgb[3 * r + 1] = colour[1], out_rgb[3 * r + 2] = colour[2];
    out_alpha[r] = alpha, out_depth[r] = depth, out_used[r] = used;
}

__global__ void __launch_bounds__(THREADS) backward_kernel(long long rays, const int32_t *ray_offset, const int32_t *ray_count,
                                                           const rd_march_sample *samples, const float *sigma, const float *rgb,
                                                           const float *fwd_rgb, const float *fwd_alpha, const float *fwd_depth,
                                                           const int32_t *fwd_used, const float *g_rgb, const float *g_alpha,
                                                           const float *g_depth, float *g_sigma, float *g_colour)
{
    long long r = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (r >= rays) return;
    long long o = ray_offset[r];
    const float *s = (const float *)(samples + o);
    float colour[3] = {fwd_rgb[3 * r], fwd_rgb[3 * r + 1], fwd_rgb[3 * r + 2]};
    float g[3] = {g_rgb[3 * r], g_rgb[3 * r + 1], g_rgb[3 * r + 2]};
    rd_volume_backward_ray(ray_count[r], s, s + 1, 2, sigma + o, rgb + 3 * o, colour, fwd_alpha[r], fwd_depth[r], fwd_used[r], g,
                           g_alpha ? g_alpha[r] : 0.0f, g_depth ? g_depth[r] : 0.0f, g_sigma + o, g_colour + 3 * o);
}

static rd_result launchable(rd_context *ctx, int64_t rays, const char *what)
{
    if (rd_context_backend(ctx) != RD_BACKEND_CUDA)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the context is not a CUDA one", what);
    if (rays < 0 || (rays + THREADS - 1) / THREADS > 0x7fffffffll)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %lld rays", what, (long long)rays);
    return RD_OK;
}

extern "C" rd_result rd_volume_composite_rays_cuda(rd_context *ctx, int64_t rays, const int32_t *ray_offset, const int32_t *ray_count,
                                                   const rd_march_sample *samples, const float *sigma, const float *rgb,
                                                   const float *background, float *out_rgb, float *out_alpha, float *out_depth,
                                                   int32_t *out_used, void *stream)
{
    const char *what = "volume compositing (cuda)";
    rd_result r = launchable(ctx, rays, what);
    if (r != RD_OK || rays == 0) return r;
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    composite_kernel<<<(unsigned int)((rays + THREADS - 1) / THREADS), THREADS, 0, st>>>(
        rays, ray_offset, ray_count, samples, sigma, rgb, background, out_rgb, out_alpha, out_depth, out_used);
    return rd_cuda_check(ctx, cudaGetLastError(), what);
}

extern "C" rd_result rd_volume_backward_rays_cuda(rd_context *ctx, int64_t rays, const int32_t *ray_offset, const int32_t *ray_count,
                                                  const rd_march_sample *samples, const float *sigma, const float *rgb,
                                                  const float *fwd_rgb, const float *fwd_alpha, const float *fwd_depth,
                                                  const int32_t *fwd_used, const float *g_rgb, const float *g_alpha,
                                                  const float *g_depth, float *g_sigma, float *g_colour, void *stream)
{
    const char *what = "volume compositing backward (cuda)";
    rd_result r = launchable(ctx, rays, what);
    if (r != RD_OK || rays == 0) return r;
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    backward_kernel<<<(unsigned int)((rays + THREADS - 1) / THREADS), THREADS, 0, st>>>(
        rays, ray_offset, ray_count, samples, sigma, rgb, fwd_rgb, fwd_alpha, fwd_depth, fwd_used, g_rgb, g_alpha, g_depth, g_sigma,
        g_colour);
    return rd_cuda_check(ctx, cudaGetLastError(), what);
}
