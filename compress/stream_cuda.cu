/* stream_cuda.cu: a residual frame's decode on CUDA (stream_apply.h), stream_frames.c's
   reference step for step: a thread a Gaussian gathers its parent's values and adds its
   latents' decodes, then a thread a moved Gaussian adds its position step. Products and
   sums are rounded one by one (__fmul_rn, __fadd_rn: no fused multiply-adds, as the
   reference is compiled), so the state is the CPU's bit for bit. */
#include "stream_apply.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256 };

__device__ static int features_of(int attribute, int sh_floats)
{
    return attribute == RD_STREAM_F_DC ? 3 : attribute == RD_STREAM_F_REST ? sh_floats - 3 : attribute == RD_STREAM_ROTATION ? 4
           : attribute == RD_STREAM_OPACITY ? 1 : 3;
}

/* Value e of n latents: an int32 array (width 0) or byte planes of width bytes, zigzag coded. */
__device__ static int32_t latent(uint64_t base, size_t n, size_t e, uint32_t width)
{
    if (!width) return ((const int32_t *)base)[e];
    const unsigned char *p = (const unsigned char *)base;
    uint32_t z = 0;
    for (uint32_t b = 0; b < width; b++) z |= (uint32_t)p[b * n + e] << (8 * b);
    return (int32_t)(z >> 1) ^ -(int32_t)(z & 1);
}

/* The row of Gaussian i's latents of attribute at, or -1 where they are zero (not listed):
   a binary search of the listed Gaussians. */
__device__ static long long row_of(const stream_apply_args &a, int at, size_t i)
{
    const uint32_t *listed = (const uint32_t *)a.row_index[at];
    if (!listed) return (long long)i;
    uint32_t lo = 0, hi = a.rows[at];
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (listed[mid] < i) lo = mid + 1;
        else hi = mid;
    }
    return lo < a.rows[at] && listed[lo] == i ? (long long)lo : -1;
}

/* Gaussian i's parent: from the mapping, the run holding i (a binary search), or i. */
__device__ static size_t parent_of(const stream_apply_args &a, size_t i)
{
    if (a.mapping) return (size_t)((const int32_t *)a.mapping)[i];
    if (!a.runs) return i;
    const uint32_t *start = (const uint32_t *)a.run_start;
    uint32_t lo = 0, hi = a.runs - 1; /* the last run starting at or before i */
    while (lo < hi) {
        uint32_t mid = (lo + hi + 1) / 2;
        if (start[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    return (size_t)((const uint32_t *)a.run_parent)[lo] + (i - start[lo]);
}

__global__ void residual_kernel(stream_apply_args a)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.count) return;
    size_t q = parent_of(a, i), C = a.sh_floats;
    const float *pm = (const float *)a.prev.means, *ps = (const float *)a.prev.log_scales, *pr = (const float *)a.prev.rotations;
    const float *po = (const float *)a.prev.opacities, *psh = (const float *)a.prev.sh;
    float *means = (float *)a.next.means + 3 * i, *scales = (float *)a.next.log_scales + 3 * i;
    float *rotation = (float *)a.next.rotations + 4 * i, *opacity = (float *)a.next.opacities + i, *sh = (float *)a.next.sh + C * i;
    for (int c = 0; c < 3; c++) means[c] = pm[3 * q + c], scales[c] = ps[3 * q + c];
    for (int c = 0; c < 4; c++) rotation[c] = pr[4 * q + c];
    *opacity = po[q];
    for (size_t c = 0; c < C; c++) sh[c] = psh[C * q + c];
    int32_t *rest = (int32_t *)a.next.rest_latents + (size_t)a.keep_rest * i;
    const int32_t *parent_rest = (const int32_t *)a.prev.rest_latents + (size_t)a.keep_rest * q;
    size_t own = a.rest_dim, own_values = own * a.rows[RD_STREAM_F_REST];
    long long own_row = own ? row_of(a, RD_STREAM_F_REST, i) : -1;
    for (uint32_t k = 0; k < a.keep_rest; k++) { /* the parent's latents, plus this frame's where coded against them */
        long long z = own_row >= 0 ? latent(a.latents[RD_STREAM_F_REST], own_values, own * own_row + k, a.latent_width[RD_STREAM_F_REST]) : 0;
        if (!own || a.rest_delta) z += parent_rest[k];
        if (z < INT32_MIN || z > INT32_MAX) atomicExch((unsigned int *)a.overflow, 1u);
        rest[k] = (int32_t)z;
    }
    for (int at = 0; at < RD_STREAM_ATTRIBUTES; at++) {
        int ld = (int)a.latent_dim[at], features = features_of(at, (int)C);
        if (!ld) continue;
        float *value = at == RD_STREAM_F_DC ? sh : at == RD_STREAM_F_REST ? sh + 3 : at == RD_STREAM_SCALE ? scales
                       : at == RD_STREAM_ROTATION ? rotation : opacity;
        long long row = at == RD_STREAM_F_REST ? 0 : row_of(a, at, i);
        size_t values = (size_t)ld * a.rows[at], first = (size_t)ld * (size_t)row;
        const float *W = (const float *)a.W[at], *bias = (const float *)a.bias[at];
        for (int f = 0; f < features; f++) {
            float sum = 0.0f;
            for (int k = 0; k < ld; k++) {
                int32_t z = at == RD_STREAM_F_REST ? rest[k] : row < 0 ? 0 : latent(a.latents[at], values, first + k, a.latent_width[at]);
                sum = __fadd_rn(sum, __fmul_rn((float)z, W[k * features + f]));
            }
            float delta = __fadd_rn(sum, bias[f]);
            value[f] = at == RD_STREAM_F_REST ? delta : __fadd_rn(value[f], delta);
        }
    }
}

__global__ void moved_kernel(stream_apply_args a)
{
    size_t j = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= a.moved) return;
    size_t i = ((const uint32_t *)a.moved_indices)[j];
    const int32_t *steps = (const int32_t *)a.moved_steps + 3 * j;
    float *means = (float *)a.next.means + 3 * i;
    for (int c = 0; c < 3; c++) means[c] = __fadd_rn(means[c], __fmul_rn((float)steps[c], a.step));
}

extern "C" rd_result rd_stream_apply_cuda(rd_context *ctx, const stream_apply_args *a)
{
    cudaStream_t st = rd_cuda(ctx)->stream;
    if (a->count) residual_kernel<<<(a->count + THREADS - 1) / THREADS, THREADS, 0, st>>>(*a);
    if (a->moved) moved_kernel<<<(a->moved + THREADS - 1) / THREADS, THREADS, 0, st>>>(*a);
    return rd_cuda_check(ctx, cudaGetLastError(), "stream decode");
}
