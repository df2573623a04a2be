/* stream_cuda.cu: a residual frame's decode on CUDA (stream_apply.h), stream_frames.c's
   reference step for step: a thread a Gaussian finds its parent and latent rows and sums
   its f_rest latents, then a thread a float of the state gathers its parent's value and
   adds its decode (neighbouring threads on neighbouring floats: a thread a Gaussian walking
   its own 48 SH floats moved ten times the bytes, 1.4 ms for 300,000 Gaussians on an
   H100), then a thread a moved Gaussian adds its position step. Products and
   sums are rounded one by one (__fmul_rn, __fadd_rn: no fused multiply-adds, as the
   reference is compiled), so the state is the CPU's bit for bit. */
#include "stream_apply.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256 };

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

/* What the float passes need of Gaussian i: its parent and its latent row of each
   attribute (-1: zero latents), from the per-Gaussian pass. */
struct gaussian_rows {
    int32_t parent, row[RD_STREAM_ATTRIBUTES];
};

/* Pass 1, a thread a Gaussian: its parent, its rows, and its f_rest latents (the parent's,
   plus this frame's where coded against them) into the next state. */
__global__ void rows_kernel(stream_apply_args a, gaussian_rows *out)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= a.count) return;
    gaussian_rows g;
    size_t q = parent_of(a, i);
    g.parent = (int32_t)q;
    for (int at = 0; at < RD_STREAM_ATTRIBUTES; at++) g.row[at] = a.latent_dim[at] ? (int32_t)row_of(a, at, i) : -1;
    out[i] = g;
    int32_t *rest = (int32_t *)a.next.rest_latents + (size_t)a.keep_rest * i;
    const int32_t *parent_rest = (const int32_t *)a.prev.rest_latents + (size_t)a.keep_rest * q;
    size_t own = a.rest_dim, own_values = own * a.rows[RD_STREAM_F_REST];
    long long own_row = g.row[RD_STREAM_F_REST];
    for (uint32_t k = 0; k < a.keep_rest; k++) {
        long long z = own_row >= 0 ? latent(a.latents[RD_STREAM_F_REST], own_values, own * own_row + k, a.latent_width[RD_STREAM_F_REST]) : 0;
        if (!own || a.rest_delta) z += parent_rest[k];
        if (z < INT32_MIN || z > INT32_MAX) atomicExch((unsigned int *)a.overflow, 1u);
        rest[k] = (int32_t)z;
    }
}

/* Feature f of attribute at's decode for a Gaussian: its latents (row; -1: zero) times W
   plus b, each product and sum rounded. */
__device__ static float decoded(const stream_apply_args &a, int at, int features, long long row, int f)
{
    int ld = (int)a.latent_dim[at];
    size_t values = (size_t)ld * a.rows[at], first = (size_t)ld * (size_t)(row < 0 ? 0 : row);
    const float *W = (const float *)a.W[at];
    float sum = 0.0f;
    for (int k = 0; k < ld; k++) {
        int32_t z = row < 0 ? 0 : latent(a.latents[at], values, first + k, a.latent_width[at]);
        sum = __fadd_rn(sum, __fmul_rn((float)z, W[k * features + f]));
    }
    return __fadd_rn(sum, ((const float *)a.bias[at])[f]);
}

/* t / d, in 32 bits where t fits them (a 64-bit division is a long software routine). */
__device__ static inline size_t split(size_t t, uint32_t d) { return t <= 0xffffffffu ? (uint32_t)t / d : t / d; }

/* Pass 2, a thread a float of the small arrays (11 a Gaussian: mean 3, log-scales 3,
   rotation 4, opacity 1), so that neighbouring threads read and write neighbouring floats. */
__global__ void small_kernel(stream_apply_args a, const gaussian_rows *rows)
{
    size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (size_t)a.count * 11) return;
    size_t i = split(t, 11);
    int j = (int)(t - i * 11);
    gaussian_rows g = rows[i];
    size_t q = (size_t)g.parent;
    if (j < 3) {
        ((float *)a.next.means)[3 * i + j] = ((const float *)a.prev.means)[3 * q + j];
        return;
    }
    int at = j < 6 ? RD_STREAM_SCALE : j < 10 ? RD_STREAM_ROTATION : RD_STREAM_OPACITY;
    int f = j < 6 ? j - 3 : j < 10 ? j - 6 : 0, width = at == RD_STREAM_SCALE ? 3 : at == RD_STREAM_ROTATION ? 4 : 1;
    const float *from = (const float *)(at == RD_STREAM_SCALE ? a.prev.log_scales : at == RD_STREAM_ROTATION ? a.prev.rotations : a.prev.opacities);
    float *to = (float *)(at == RD_STREAM_SCALE ? a.next.log_scales : at == RD_STREAM_ROTATION ? a.next.rotations : a.next.opacities);
    float value = from[width * q + f];
    if (a.latent_dim[at]) value = __fadd_rn(value, decoded(a, at, width, g.row[at], f));
    to[width * i + f] = value;
}

/* Pass 3, a thread a float of the SH: f_dc its parent's plus its decode, f_rest its decode
   (absolute) where the frame has f_rest latents, else its parent's. The f_rest loop reads
   the next state's latents directly and indexes in 32 bits (its general form through
   decoded() took 180 us for 300,000 Gaussians of SH 3 on an H100). */
__global__ void sh_kernel(stream_apply_args a, const gaussian_rows *rows)
{
    uint32_t C = a.sh_floats;
    size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= (size_t)a.count * C) return;
    size_t i = split(t, C);
    uint32_t c = (uint32_t)(t - i * C);
    float value = ((const float *)a.prev.sh)[(size_t)C * (size_t)rows[i].parent + c];
    if (c < 3 && a.latent_dim[RD_STREAM_F_DC]) {
        value = __fadd_rn(value, decoded(a, RD_STREAM_F_DC, 3, rows[i].row[RD_STREAM_F_DC], (int)c));
    } else if (c >= 3 && a.latent_dim[RD_STREAM_F_REST]) {
        const int32_t *z = (const int32_t *)a.next.rest_latents + (size_t)a.keep_rest * i;
        const float *W = (const float *)a.W[RD_STREAM_F_REST] + (c - 3);
        uint32_t ld = a.latent_dim[RD_STREAM_F_REST], features = C - 3;
        float sum = 0.0f;
        for (uint32_t k = 0; k < ld; k++) sum = __fadd_rn(sum, __fmul_rn((float)z[k], W[k * features]));
        value = __fadd_rn(sum, ((const float *)a.bias[RD_STREAM_F_REST])[c - 3]);
    }
    ((float *)a.next.sh)[(size_t)C * i + c] = value;
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
    gaussian_rows *rows = (gaussian_rows *)a->gaussian_rows;
    size_t C = a->sh_floats;
    if (a->count) {
        rows_kernel<<<(a->count + THREADS - 1) / THREADS, THREADS, 0, st>>>(*a, rows);
        small_kernel<<<((size_t)a->count * 11 + THREADS - 1) / THREADS, THREADS, 0, st>>>(*a, rows);
        sh_kernel<<<((size_t)a->count * C + THREADS - 1) / THREADS, THREADS, 0, st>>>(*a, rows);
    }
    if (a->moved) moved_kernel<<<(a->moved + THREADS - 1) / THREADS, THREADS, 0, st>>>(*a);
    return rd_cuda_check(ctx, cudaGetLastError(), "stream decode");
}
