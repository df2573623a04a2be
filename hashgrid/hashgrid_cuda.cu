/* hashgrid_cuda.cu: hashgrid.c's encoding on CUDA (hashgrid.h). The forward and the
   table's backward run a thread per point and level, the levels on the grid's y axis, so
   that a warp's 32 points read one level's table (hashed levels scatter anyway; dense
   coarse levels stay in cache); the positions' backward a thread per point over the
   levels in order, as the CPU sums them. */
#include "hashgrid.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256 };

/* The 8 corners of point p's cell on level l: their entries (absolute), fractions, and
   each axis's slope (hashgrid.c's corners). */
__device__ __forceinline__ void cell(const rd_hashgrid &g, int l, const float *p, uint32_t entry[8], float fraction[3], float slope[3])
{
    uint32_t low[3];
    for (int d = 0; d < 3; d++) slope[d] = rd_hashgrid_locate(&g, l, p[d], &low[d], &fraction[d]) ? g.scale[l] : 0.0f;
#pragma unroll
    for (int c = 0; c < 8; c++)
        entry[c] = g.offset[l] + rd_hashgrid_index(&g, l, low[0] + (c & 1), low[1] + (c >> 1 & 1), low[2] + (c >> 2 & 1));
}

template <int F>
__global__ void __launch_bounds__(THREADS) forward_kernel(rd_hashgrid g, const float *params, const float *positions, long long n,
                                                           float *features)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    int l = (int)blockIdx.y;
    if (i >= n) return;
    float p[3] = {positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]}, fraction[3], slope[3], sum[F] = {};
    uint32_t entry[8];
    cell(g, l, p, entry, fraction, slope);
#pragma unroll
    for (int c = 0; c < 8; c++) {
        float w = rd_hashgrid_weight(c, fraction);
#pragma unroll
        for (int f = 0; f < F; f++) sum[f] += w * params[(size_t)entry[c] * F + f];
    }
#pragma unroll
    for (int f = 0; f < F; f++) features[i * (g.levels * F) + l * F + f] = sum[f];
}

template <int F>
__global__ void __launch_bounds__(THREADS) backward_table_kernel(rd_hashgrid g, const float *positions, long long n,
                                                                  const float *grad_features, float *grad_params)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    int l = (int)blockIdx.y;
    if (i >= n) return;
    float p[3] = {positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]}, fraction[3], slope[3], grad[F];
    uint32_t entry[8];
#pragma unroll
    for (int f = 0; f < F; f++) grad[f] = grad_features[i * (g.levels * F) + l * F + f];
    cell(g, l, p, entry, fraction, slope);
#pragma unroll
    for (int c = 0; c < 8; c++) {
        float w = rd_hashgrid_weight(c, fraction);
#pragma unroll
        for (int f = 0; f < F; f++) atomicAdd(&grad_params[(size_t)entry[c] * F + f], w * grad[f]);
    }
}

template <int F>
__global__ void __launch_bounds__(THREADS) backward_positions_kernel(rd_hashgrid g, const float *params, const float *positions,
                                                                      long long n, const float *grad_features, float *grad_positions)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i >= n) return;
    float p[3] = {positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]}, sum[3] = {0.0f, 0.0f, 0.0f};
    for (int l = 0; l < g.levels; l++) {
        float fraction[3], slope[3];
        uint32_t entry[8];
        const float *grad = grad_features + i * (g.levels * F) + l * F;
        cell(g, l, p, entry, fraction, slope);
        for (int c = 0; c < 8; c++) {
            float dot = 0.0f;
#pragma unroll
            for (int f = 0; f < F; f++) dot += params[(size_t)entry[c] * F + f] * grad[f];
            for (int d = 0; d < 3; d++) sum[d] += slope[d] * rd_hashgrid_weight_slope(c, d, fraction) * dot;
        }
    }
    for (int d = 0; d < 3; d++) grad_positions[3 * i + d] = sum[d];
}

/* The launches for F features a level. */
template <int F>
static void launch(const rd_hashgrid *g, const float *params, const float *positions, long long n, float *features,
                   const float *grad_features, float *grad_params, float *grad_positions, cudaStream_t st)
{
    unsigned int blocks = (unsigned int)((n + THREADS - 1) / THREADS);
    dim3 per_level(blocks, (unsigned int)g->levels);
    if (features) forward_kernel<F><<<per_level, THREADS, 0, st>>>(*g, params, positions, n, features);
    if (grad_params) backward_table_kernel<F><<<per_level, THREADS, 0, st>>>(*g, positions, n, grad_features, grad_params);
    if (grad_positions)
        backward_positions_kernel<F><<<blocks, THREADS, 0, st>>>(*g, params, positions, n, grad_features, grad_positions);
}

/* Either pass: features for the forward, grad_features and the gradients' arrays for the
   backward. */
static rd_result run(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions, int64_t n, float *features,
                     const float *grad_features, float *grad_params, float *grad_positions, void *stream, const char *what)
{
    if (n <= 0) return RD_OK;
    if (rd_context_backend(ctx) != RD_BACKEND_CUDA)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the context is not a CUDA one", what);
    if ((n + THREADS - 1) / THREADS > 0x7fffffffll)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %lld points are more than a launch takes", what, (long long)n);
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    long long count = (long long)n;
    switch (g->features) {
    case 1: launch<1>(g, params, positions, count, features, grad_features, grad_params, grad_positions, st); break;
    case 2: launch<2>(g, params, positions, count, features, grad_features, grad_params, grad_positions, st); break;
    case 4: launch<4>(g, params, positions, count, features, grad_features, grad_params, grad_positions, st); break;
    default: launch<8>(g, params, positions, count, features, grad_features, grad_params, grad_positions, st); break;
    }
    return rd_cuda_check(ctx, cudaGetLastError(), what);
}

extern "C" rd_result rd_hashgrid_forward_cuda(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions,
                                              int64_t n, float *features, void *stream)
{
    return run(ctx, g, params, positions, n, features, NULL, NULL, NULL, stream, "hash grid forward");
}

extern "C" rd_result rd_hashgrid_backward_cuda(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions,
                                               int64_t n, const float *grad_features, float *grad_params, float *grad_positions,
                                               void *stream)
{
    return run(ctx, g, params, positions, n, NULL, grad_features, grad_params, grad_positions, stream, "hash grid backward");
}
