/* splat_cuda_sh.cuh: the colour coefficients a block of one-thread-a-Gaussian kernels
   stages in shared memory (CUDA's preprocess, splat_cuda.cu, and the backward pass's
   per-Gaussian step, splat_backward_cuda.cu): a warp reading its 32 Gaussians' rows from
   the scene spreads its loads over 32 rows of up to 192 bytes each, where the block can
   copy its contiguous rows with consecutive threads on consecutive floats. Scenes with
   RD_SCENE_HALF_SH stage halves the same way; RD_SCENE_HALF_SHAPE's halves unpack here
   too. For .cu files only. */
#ifndef RD_SPLAT_CUDA_SH_CUH
#define RD_SPLAT_CUDA_SH_CUH

#include "splat.h"

#include <cuda_fp16.h>

/* Colour coefficients (floats) that shading at SH degree d reads, and the stride of a
   Gaussian's row of them in preprocess's shared memory: odd, so that the threads' reads of
   their own rows fall in distinct banks. */
static __host__ __device__ int sh_floats_used(int degree) { return (degree + 1) * (degree + 1) * 3; }
static __host__ __device__ int sh_row_stride(int degree) { return sh_floats_used(degree) | 1; }

/* Starts copying the first `used` 4-byte elements of each of the block's rows (`row`
   elements apart from src_rows on, the block's first row at first) into dst at `stride`
   elements a row, asynchronously (cp.async, 4 bytes a copy, consecutive threads on
   consecutive elements), so that the loads are in flight while the block projects its
   Gaussians; cp.async.wait_all and a barrier end it. Copied through registers after the
   projection (behind a barrier), the loads waited for it: preprocess at 6M 0.668 -> 0.645
   ms, and 54 registers instead of 67. Every row is copied: skipping the culled ones' rows
   (9.5% of the synthetic scene's) changed nothing measurable. */
static __device__ void stage_rows_async(const unsigned int *src_rows, int row, int used, int stride, long long first,
                                        long long count, unsigned int *dst)
{
    int total = (int)min((long long)blockDim.x, count - first) * used;
    float per_row = 1.0f / (float)used; /* e / used, exact in float for e < 2^16 */
    const unsigned int *src = src_rows + first * row;
    unsigned int base = (unsigned int)__cvta_generic_to_shared(dst);
#pragma unroll 4
    for (int e = threadIdx.x; e < total; e += blockDim.x) {
        int r = (int)(((float)e + 0.5f) * per_row), c = e - r * used;
        asm volatile("cp.async.ca.shared.global [%0], [%1], 4;" ::"r"(base + 4u * (unsigned int)(r * stride + c)),
                     "l"(src + (long long)r * row + c)
                     : "memory");
    }
}

/* The colour coefficients that shading at degree reads, staged into s_sh (floats at
   sh_row_stride): see stage_rows_async. */
static __device__ void stage_sh_async(const rd_gaussians &g, int degree, long long first, float *s_sh)
{
    stage_rows_async((const unsigned int *)g.sh, sh_floats_used(g.sh_degree), sh_floats_used(degree), sh_row_stride(degree), first,
                     g.count, (unsigned int *)s_sh);
}

/* RD_SCENE_HALF_SH on CUDA: the coefficients as halves, each Gaussian's row padded to a
   whole number of 4-byte words (one half more at degrees 0 and 2), so that every row starts
   on a word and stages as words; half the bytes of the floats' rows. sh_half_row_words: the
   words of a row at degree, or of the part that shading at degree reads; sh_half_stride:
   a row's words in preprocess's shared memory, odd as sh_row_stride. */
static __host__ __device__ int sh_half_row_words(int degree) { return (sh_floats_used(degree) + 1) / 2; }
static __host__ __device__ int sh_half_stride(int degree) { return sh_half_row_words(degree) | 1; }

static __device__ void stage_sh_half_async(const unsigned int *sh_half, const rd_gaussians &g, int degree, long long first,
                                           unsigned int *s_sh)
{
    stage_rows_async(sh_half, sh_half_row_words(g.sh_degree), sh_half_row_words(degree), sh_half_stride(degree), first, g.count,
                     s_sh);
}

/* rd_splat_colour from a row of halves (staged: stage_sh_half_async). */
static __device__ bool splat_colour_half(const rd_view_params &vp, const float mean[3], const unsigned int *row, rd_splat2d *out)
{
    float d[3], basis[16];
    rd_view_direction(&vp, mean, d);
    int k = rd_sh_basis(vp.sh_degree, d, basis);
    const __half *sh = (const __half *)row;
    float rgb[3] = {0.0f, 0.0f, 0.0f};
    for (int j = 0; j < k; j++)
        for (int ch = 0; ch < 3; ch++) rgb[ch] += basis[j] * __half2float(sh[3 * j + ch]);
    out->rgb[0] = rgb[0], out->rgb[1] = rgb[1], out->rgb[2] = rgb[2];
    return rd_colour_finish(out);
}

/* RD_SCENE_HALF_SHAPE: a Gaussian's eight halves (rd_scene_shape_halves: rotation w x y z,
   log-scales x y z, opacity logit) as floats in that order. */
static __device__ __forceinline__ void unpack_shape(uint4 w, float shape[8])
{
    unsigned int words[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
    for (int k = 0; k < 4; k++) {
        float2 pair = __half22float2(*(const __half2 *)&words[k]);
        shape[2 * k] = pair.x, shape[2 * k + 1] = pair.y;
    }
}

#endif
