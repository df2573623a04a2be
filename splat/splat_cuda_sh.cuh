/* splat_cuda_sh.cuh: the colour coefficients a block of one-thread-a-Gaussian kernels
   stages in shared memory (CUDA's preprocess, splat_cuda.cu, and the backward pass's
   per-Gaussian step, splat_backward_cuda.cu): a warp reading its 32 Gaussians' rows from
   the scene spreads its loads over 32 rows of up to 192 bytes each, where the block can
   copy its contiguous rows with consecutive threads on consecutive floats. For .cu files
   only. */
#ifndef RD_SPLAT_CUDA_SH_CUH
#define RD_SPLAT_CUDA_SH_CUH

#include "splat.h"

/* Colour coefficients (floats) that shading at SH degree d reads, and the stride of a
   Gaussian's row of them in preprocess's shared memory: odd, so that the threads' reads of
   their own rows fall in distinct banks. */
static __host__ __device__ int sh_floats_used(int degree) { return (degree + 1) * (degree + 1) * 3; }
static __host__ __device__ int sh_row_stride(int degree) { return sh_floats_used(degree) | 1; }

/* Starts copying the colour coefficients that shading reads (used of each row) of the
   block's Gaussians into s_sh at sh_row_stride, asynchronously (cp.async, 4 bytes a copy,
   consecutive threads on consecutive floats), so that the loads are in flight while the
   block projects its Gaussians; cp.async.wait_all and a barrier end it. Copied through
   registers after the projection (behind a barrier), the loads waited for it: preprocess
   at 6M 0.668 -> 0.645 ms, and 54 registers instead of 67. Every row is copied: skipping
   the culled ones' rows (9.5% of the synthetic scene's) changed nothing measurable. */
static __device__ void stage_sh_async(const rd_gaussians &g, int degree, long long first, float *s_sh)
{
    int row = sh_floats_used(g.sh_degree), used = sh_floats_used(degree), stride = sh_row_stride(degree);
    int total = (int)min((long long)blockDim.x, g.count - first) * used;
    float per_row = 1.0f / (float)used; /* e / used, exact in float for e < 2^16 */
    const float *src = g.sh + first * row;
    unsigned int base = (unsigned int)__cvta_generic_to_shared(s_sh);
#pragma unroll 4
    for (int e = threadIdx.x; e < total; e += blockDim.x) {
        int r = (int)(((float)e + 0.5f) * per_row), c = e - r * used;
        asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(base + 4u * (unsigned int)(r * stride + c)),
                     "l"(src + (long long)r * row + c)
                     : "memory");
    }
}

#endif
