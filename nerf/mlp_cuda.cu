/* mlp_cuda.cu: mlp.c's networks on CUDA (mlp.h), fully fused (spec/nerf.md, "Network"):
   each warp carries 32 samples through every layer in shared memory, half precision on the
   tensor cores (WMMA 16x16x16, fp32 accumulation), the weights converted to half once per
   block. Widths, inputs and outputs are padded to multiples of 16 with zeros, so any shape
   whose block fits in shared memory runs fused; the spec's networks use 49 and 59 KiB.

   Forward: a warp's 32 rows are read (fp32 -> half), each layer multiplies them into the
   other of two buffers (ReLU, half), the hidden ones are written out as the activations and
   the last layer's fp32 accumulators are the outputs. Blocks stay resident and take chunks
   in turn, so the weights are converted once per block, not once per chunk.

   Backward: a block takes 128 rows at a time. The output gradients are scaled by a power of
   two that brings the chunk's largest to [1, 2) (deltas are linear in them, so the scale is
   exact and divides out): a training batch's per-sample gradients, near 1e-6, would
   otherwise fall below half's normal range. Per layer from the top: the weights' gradient
   delta^T x input over the chunk's rows (the block's warps share its tiles), added in fp32
   to the block's own partial sums (kept after the activations in the caller's buffer);
   then delta x W masked by the ReLU, written over the input in place. A last pair of launches adds the blocks' partials
   in a fixed order: the result is the same bits on every run on one device and grid. */
#include "mlp.h"
#include "../renderer/cuda/cuda_internal.h"

#include <cuda_fp16.h>
#include <mma.h>

using namespace nvcuda;

enum {
    WARPS = 4,             /* a block's warps */
    THREADS = WARPS * 32,
    ROWS = 32,             /* a warp's samples: two 16-row tiles share each weight fragment */
    BLOCK_ROWS = WARPS * ROWS,
    SKEW = 8,              /* halves past each shared row: rows 16 bytes apart in the banks */
    STAGE_LD = 20,         /* the fp32 staging tile's row stride (floats) */
    SEGMENT = 16,          /* partial sums added per thread in the reduction's first pass */
    REDUCE_THREADS = 256,
};

typedef wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc_frag;

/* A network's shapes, padded, and where everything lies in shared memory and in the
   backward's partial sums. Layer k maps pad[k] values to pad[k + 1]. */
struct plan {
    int hidden, real[RD_MLP_MAX_HIDDEN + 2], pad[RD_MLP_MAX_HIDDEN + 2];
    int ld;                                   /* the activation buffers' row stride, halves */
    int w_off[RD_MLP_MAX_HIDDEN + 1];         /* layer k's half weights [pad[k+1]][pad[k] + SKEW], halves */
    long long g_off[RD_MLP_MAX_HIDDEN + 2];   /* rd_mlp.offset */
    long long p_off[RD_MLP_MAX_HIDDEN + 2];   /* layer k's padded fp32 sums [pad[k+1]][pad[k]]; the last: a block's count */
    int buf_off, stage_off, smem;             /* bytes */
};

static int round16(int x) { return (x + 15) / 16 * 16; }
static size_t align256(size_t x) { return (x + 255) / 256 * 256; }

static plan make_plan(const rd_mlp *m)
{
    plan p = {};
    p.hidden = m->hidden_layers;
    int widest = 0;
    for (int k = 0; k <= p.hidden + 1; k++) {
        p.real[k] = k == 0 ? m->inputs : k == p.hidden + 1 ? m->outputs : m->width;
        p.pad[k] = round16(p.real[k]);
        widest = p.pad[k] > widest ? p.pad[k] : widest;
        p.g_off[k] = m->offset[k];
    }
    p.ld = widest + SKEW;
    int halves = 0;
    for (int k = 0; k <= p.hidden; k++) {
        p.w_off[k] = halves;
        halves += p.pad[k + 1] * (p.pad[k] + SKEW);
        p.p_off[k + 1] = p.p_off[k] + (long long)p.pad[k + 1] * p.pad[k]; /* multiples of 256 floats: aligned tiles */
    }
    p.buf_off = (int)align256((size_t)halves * 2);
    p.stage_off = p.buf_off + (int)align256((size_t)2 * BLOCK_ROWS * p.ld * 2);
    p.smem = p.stage_off + WARPS * 16 * STAGE_LD * 4 + 64;
    return p;
}

/* Every layer's weights as half into shared memory, zero in the padding. */
__device__ void load_weights(const plan &p, const float *weights, __half *ws)
{
    for (int k = 0; k <= p.hidden; k++) {
        int in = p.real[k], out = p.real[k + 1], ldw = p.pad[k] + SKEW, count = p.pad[k + 1] * ldw;
        for (int e = threadIdx.x; e < count; e += THREADS) {
            int o = e / ldw, i = e % ldw;
            float w = o < out && i < in ? weights[p.g_off[k] + (long long)o * in + i] : 0.0f;
            ws[p.w_off[k] + e] = __float2half(w);
        }
    }
}

/* A warp's ROWS x pad tile of dst (row stride ld) from fp32 rows of src (stride cols):
   rows x cols of them times scale, zeros elsewhere. Four at a time where rows allow it. */
__device__ void load_rows_f32(const float *src, int rows, int cols, float scale, int pad, __half *dst, int ld, int lane)
{
    if (cols % 4 == 0 && (uintptr_t)src % 16 == 0) { /* every row's start is then aligned too */
        int groups = pad / 4;
        for (int e = lane; e < ROWS * groups; e += 32) {
            int r = e / groups, c = e % groups * 4;
            float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            if (r < rows && c < cols) v = *(const float4 *)(src + (long long)r * cols + c);
            __half2 *d = (__half2 *)(dst + r * ld + c);
            d[0] = __floats2half2_rn(v.x * scale, v.y * scale);
            d[1] = __floats2half2_rn(v.z * scale, v.w * scale);
        }
        return;
    }
    for (int e = lane; e < ROWS * pad; e += 32) {
        int r = e / pad, c = e % pad;
        dst[r * ld + c] = __float2half(r < rows && c < cols ? src[(long long)r * cols + c] * scale : 0.0f);
    }
}

/* The same from half rows of src with row stride `stride` halves (the kept activations). */
__device__ void load_rows_f16(const __half *src, long long stride, int rows, int cols, int pad, __half *dst, int ld, int lane)
{
    if (cols % 8 == 0 && stride % 8 == 0 && (uintptr_t)src % 16 == 0) {
        int groups = pad / 8;
        for (int e = lane; e < ROWS * groups; e += 32) {
            int r = e / groups, c = e % groups * 8;
            uint4 v = make_uint4(0, 0, 0, 0);
            if (r < rows && c < cols) v = *(const uint4 *)(src + r * stride + c);
            *(uint4 *)(dst + r * ld + c) = v;
        }
        return;
    }
    for (int e = lane; e < ROWS * pad; e += 32) {
        int r = e / pad, c = e % pad;
        dst[r * ld + c] = r < rows && c < cols ? src[r * stride + c] : __float2half(0.0f);
    }
}

/* rows x cols of a warp's tile (row stride ld) out to half rows of dst (stride `stride`). */
__device__ void store_rows_f16(const __half *src, int ld, int rows, int cols, __half *dst, long long stride, int lane)
{
    if (cols % 8 == 0 && stride % 8 == 0 && (uintptr_t)dst % 16 == 0) {
        int groups = cols / 8;
        for (int e = lane; e < rows * groups; e += 32) {
            int r = e / groups, c = e % groups * 8;
            *(uint4 *)(dst + r * stride + c) = *(const uint4 *)(src + r * ld + c);
        }
        return;
    }
    for (int e = lane; e < rows * cols; e += 32) dst[(e / cols) * stride + e % cols] = src[(e / cols) * ld + e % cols];
}

/* Layer k on a warp's 32 rows: in (rows x pad[k]) times the layer's weights into out
   (ReLU, half) or, for the last layer, into outputs (fp32, rows x real[k + 1], stride the
   same). */
__device__ void forward_layer(const plan &p, int k, const __half *ws, const __half *in, __half *out, float *stage, float *outputs,
                              int rows, int lane)
{
    int kin = p.pad[k], kout = p.pad[k + 1], ldw = kin + SKEW, last = k == p.hidden, real = p.real[k + 1];
    const __half *W = ws + p.w_off[k];
    for (int j = 0; j < kout / 16; j++) {
        acc_frag acc[2];
        wmma::fill_fragment(acc[0], 0.0f);
        wmma::fill_fragment(acc[1], 0.0f);
        for (int kk = 0; kk < kin / 16; kk++) {
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b; /* W^T: column o is W's row o */
            wmma::load_matrix_sync(b, W + j * 16 * ldw + kk * 16, ldw);
#pragma unroll
            for (int r = 0; r < 2; r++) {
                wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
                wmma::load_matrix_sync(a, in + r * 16 * p.ld + kk * 16, p.ld);
                wmma::mma_sync(acc[r], a, b, acc[r]);
            }
        }
#pragma unroll
        for (int r = 0; r < 2; r++) {
            wmma::store_matrix_sync(stage, acc[r], STAGE_LD, wmma::mem_row_major);
            __syncwarp();
            for (int e = lane; e < 256; e += 32) {
                int row = r * 16 + e / 16, col = j * 16 + e % 16;
                float v = stage[(e / 16) * STAGE_LD + e % 16];
                if (!last) out[row * p.ld + col] = __float2half(fmaxf(v, 0.0f));
                else if (row < rows && col < real) outputs[(long long)row * real + col] = v;
            }
            __syncwarp();
        }
    }
}

__global__ void __launch_bounds__(THREADS) forward_kernel(plan p, const float *weights, const float *inputs, long long n,
                                                           float *outputs, __half *acts)
{
    extern __shared__ __align__(256) unsigned char smem[];
    __half *ws = (__half *)smem;
    load_weights(p, weights, ws);
    __syncthreads();
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __half *even = (__half *)(smem + p.buf_off) + warp * ROWS * p.ld, *odd = even + WARPS * ROWS * p.ld;
    float *stage = (float *)(smem + p.stage_off) + warp * 16 * STAGE_LD;
    int width = p.real[1];
    /* warps take 32-row chunks in turn: no block-wide step after the weights */
    for (long long chunk = (long long)blockIdx.x * WARPS + warp; chunk * ROWS < n; chunk += (long long)gridDim.x * WARPS) {
        long long row0 = chunk * ROWS;
        int rows = (int)min((long long)ROWS, n - row0);
        load_rows_f32(inputs + row0 * p.real[0], rows, p.real[0], 1.0f, p.pad[0], even, p.ld, lane);
        __syncwarp();
        for (int k = 0; k <= p.hidden; k++) {
            __half *in = k & 1 ? odd : even, *out = k & 1 ? even : odd; /* selects, not a local array */
            forward_layer(p, k, ws, in, out, stage, outputs + row0 * p.real[p.hidden + 1], rows, lane);
            __syncwarp();
            if (acts && k < p.hidden)
                store_rows_f16(out, p.ld, rows, width, acts + (row0 * p.hidden + k) * width, (long long)p.hidden * width,
                               lane);
        }
    }
}

/* The block's largest |grad_outputs| over its chunk, as the power of two that scales it into
   [1, 2) (1 where it is zero or not finite: such gradients pass through unchanged). */
__device__ float chunk_scale(const float *g, int count, float *red)
{
    float m = 0.0f;
    for (int e = threadIdx.x; e < count; e += THREADS) m = fmaxf(m, fabsf(g[e]));
    for (int s = 16; s > 0; s >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, s));
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = m;
    __syncthreads();
    m = red[0];
    for (int w = 1; w < WARPS; w++) m = fmaxf(m, red[w]);
    __syncthreads(); /* red is written again by the next chunk */
    if (!(m > 0.0f) || isinf(m)) return 1.0f;
    int e;
    frexpf(m, &e); /* m = f 2^e, f in [0.5, 1) */
    return ldexpf(1.0f, max(-100, min(100, 1 - e)));
}

__global__ void __launch_bounds__(THREADS) backward_kernel(plan p, const float *weights, const float *inputs, long long n,
                                                            const __half *acts, const float *grad_outputs, float *partials,
                                                            float *grad_inputs)
{
    extern __shared__ __align__(256) unsigned char smem[];
    __half *ws = (__half *)smem;
    load_weights(p, weights, ws);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    __half *bufs[2] = {(__half *)(smem + p.buf_off), (__half *)(smem + p.buf_off) + BLOCK_ROWS * p.ld};
    float *stage = (float *)(smem + p.stage_off) + warp * 16 * STAGE_LD;
    float *red = (float *)(smem + p.stage_off) + WARPS * 16 * STAGE_LD;
    float *mine = partials + (long long)blockIdx.x * p.p_off[p.hidden + 1];
    int outputs = p.real[p.hidden + 1], width = p.real[1];
    for (long long chunk = blockIdx.x; chunk * BLOCK_ROWS < n; chunk += gridDim.x) {
        long long row0 = chunk * BLOCK_ROWS;
        int block_rows = (int)min((long long)BLOCK_ROWS, n - row0);
        int rows = max(0, min(ROWS, block_rows - warp * ROWS)); /* this warp's */
        long long wrow0 = row0 + warp * ROWS;
        float scale = chunk_scale(grad_outputs + row0 * outputs, block_rows * outputs, red), unscale = 1.0f / scale;
        __half *D = bufs[0], *X = bufs[1];
        load_rows_f32(grad_outputs + wrow0 * outputs, rows, outputs, scale, p.pad[p.hidden + 1], D + warp * ROWS * p.ld, p.ld,
                      lane);
        for (int k = p.hidden; k >= 0; k--) {
            int kin = p.pad[k], kout = p.pad[k + 1], ldw = kin + SKEW;
            __half *x = X + warp * ROWS * p.ld;
            if (k == 0) load_rows_f32(inputs + wrow0 * p.real[0], rows, p.real[0], 1.0f, kin, x, p.ld, lane);
            else
                load_rows_f16(acts + (wrow0 * p.hidden + k - 1) * width, (long long)p.hidden * width, rows, width, kin, x, p.ld,
                              lane);
            __syncthreads(); /* every warp's deltas and inputs are in */
            /* the weights' gradient, D^T X over the chunk's 128 rows, a tile per warp in turn */
            int tiles_in = kin / 16;
            for (int t = warp; t < (kout / 16) * tiles_in; t += WARPS) {
                int o = t / tiles_in, i = t % tiles_in;
                acc_frag acc;
                wmma::fill_fragment(acc, 0.0f);
#pragma unroll 4
                for (int rr = 0; rr < BLOCK_ROWS / 16; rr++) {
                    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::col_major> a; /* D^T */
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b;
                    wmma::load_matrix_sync(a, D + rr * 16 * p.ld + o * 16, p.ld);
                    wmma::load_matrix_sync(b, X + rr * 16 * p.ld + i * 16, p.ld);
                    wmma::mma_sync(acc, a, b, acc);
                }
                float *sum = mine + p.p_off[k] + (long long)o * 16 * kin + i * 16;
                for (int e = 0; e < acc.num_elements; e++) acc.x[e] *= unscale;
                if (chunk != blockIdx.x) { /* not the block's first chunk: add to what it has */
                    acc_frag before;
                    wmma::load_matrix_sync(before, sum, kin, wmma::mem_row_major);
                    for (int e = 0; e < acc.num_elements; e++) acc.x[e] += before.x[e];
                }
                wmma::store_matrix_sync(sum, acc, kin, wmma::mem_row_major);
            }
            __syncthreads(); /* X is overwritten below, and read above by every warp */
            if (k == 0 && !grad_inputs) break;
            /* the layer's input gradient, D W, through the ReLU that made the input: into x in place */
            const __half *W = ws + p.w_off[k], *d = D + warp * ROWS * p.ld;
            for (int j = 0; j < kin / 16; j++) {
                acc_frag acc[2];
                wmma::fill_fragment(acc[0], 0.0f);
                wmma::fill_fragment(acc[1], 0.0f);
                for (int kk = 0; kk < kout / 16; kk++) {
                    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b;
                    wmma::load_matrix_sync(b, W + kk * 16 * ldw + j * 16, ldw);
#pragma unroll
                    for (int r = 0; r < 2; r++) {
                        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
                        wmma::load_matrix_sync(a, d + r * 16 * p.ld + kk * 16, p.ld);
                        wmma::mma_sync(acc[r], a, b, acc[r]);
                    }
                }
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    wmma::store_matrix_sync(stage, acc[r], STAGE_LD, wmma::mem_row_major);
                    __syncwarp();
                    for (int e = lane; e < 256; e += 32) {
                        int row = r * 16 + e / 16, col = j * 16 + e % 16;
                        float v = stage[(e / 16) * STAGE_LD + e % 16];
                        if (k > 0) {
                            __half *at = x + row * p.ld + col;
                            *at = __hgt(*at, __float2half(0.0f)) ? __float2half(v) : __float2half(0.0f);
                        } else if (row < rows && col < p.real[0]) {
                            grad_inputs[(wrow0 + row) * p.real[0] + col] = v * unscale;
                        }
                    }
                    __syncwarp();
                }
            }
            __half *t = D; /* the deltas below are in X now */
            D = X, X = t;
        }
        __syncthreads(); /* the next chunk's deltas go where this one's may still be read */
    }
}

/* First pass: partial sums of blocks [s * SEGMENT, (s + 1) * SEGMENT) into the segment's
   first block's row, in order. */
__global__ void reduce_segments(float *partials, long long count, int blocks)
{
    long long idx = (long long)blockIdx.x * REDUCE_THREADS + threadIdx.x;
    int s = blockIdx.y;
    if (idx >= count) return;
    float *row = partials + (long long)s * SEGMENT * count + idx, sum = row[0];
    int end = min(SEGMENT, blocks - s * SEGMENT);
    for (int b = 1; b < end; b++) sum += row[(long long)b * count];
    row[0] = sum;
}

/* Second pass: the segments' sums in order, added to each real weight. */
__global__ void reduce_weights(plan p, const float *partials, long long count, int segments, float *grad_weights)
{
    long long w = (long long)blockIdx.x * REDUCE_THREADS + threadIdx.x;
    if (w >= p.g_off[p.hidden + 1]) return;
    int k = 0;
    while (w >= p.g_off[k + 1]) k++;
    long long local = w - p.g_off[k], o = local / p.real[k], i = local % p.real[k];
    const float *at = partials + p.p_off[k] + o * p.pad[k] + i;
    float sum = 0.0f;
    for (int s = 0; s < segments; s++) sum += at[(long long)s * SEGMENT * count];
    grad_weights[w] += sum;
}

/* The plan, and the shared memory it needs granted to both kernels; fails where the
   device cannot give it. */
static rd_result prepare(rd_context *ctx, const rd_mlp *m, plan *p, const char *what)
{
    if (rd_context_backend(ctx) != RD_BACKEND_CUDA)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the context is not a CUDA one", what);
    *p = make_plan(m);
    int most = 0;
    rd_result r =
        rd_cuda_check(ctx, cudaDeviceGetAttribute(&most, cudaDevAttrMaxSharedMemoryPerBlockOptin, rd_cuda(ctx)->device), what);
    if (r != RD_OK) return r;
    if (p->smem > most)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "%s: a network of %d inputs, %d hidden layers of %d and %d outputs needs %d bytes of shared memory a block, "
                       "the device has %d", what, m->inputs, m->hidden_layers, m->width, m->outputs, p->smem, most);
    r = rd_cuda_check(ctx, cudaFuncSetAttribute(forward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, p->smem), what);
    if (r == RD_OK)
        r = rd_cuda_check(ctx, cudaFuncSetAttribute(backward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, p->smem), what);
    return r;
}

/* Resident blocks of a kernel for the whole device, at most `chunks`. */
static rd_result grid_size(rd_context *ctx, const void *kernel, const plan *p, long long chunks, int *blocks, const char *what)
{
    int per_sm = 0;
    rd_result r = rd_cuda_check(ctx, cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, THREADS, p->smem), what);
    long long most = (long long)(per_sm > 0 ? per_sm : 1) * rd_cuda(ctx)->multiprocessors;
    *blocks = (int)(chunks < most ? chunks : most);
    return r;
}

static size_t activation_bytes(const rd_mlp *m, int64_t n) { return align256((size_t)n * m->hidden_layers * m->width * 2); }

extern "C" rd_result rd_mlp_activation_bytes_cuda(rd_context *ctx, const rd_mlp *m, int64_t n, size_t *bytes)
{
    plan p;
    int blocks = 0;
    rd_result r = prepare(ctx, m, &p, "network activations");
    if (r == RD_OK && n > 0)
        r = grid_size(ctx, (const void *)backward_kernel, &p, (n + BLOCK_ROWS - 1) / BLOCK_ROWS, &blocks, "network activations");
    *bytes = activation_bytes(m, n) + (size_t)blocks * (size_t)p.p_off[p.hidden + 1] * sizeof(float);
    return r;
}

/* The partial sums' fragments need 32-byte alignment (cudaMalloc gives 256). */
static rd_result check_aligned(rd_context *ctx, const void *activations, const char *what)
{
    if ((uintptr_t)activations % 32 == 0) return RD_OK;
    return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: activations %p are not 32-byte aligned", what, activations);
}

extern "C" rd_result rd_mlp_forward_cuda(rd_context *ctx, const rd_mlp *m, const float *weights, const float *inputs, int64_t n,
                                         float *outputs, void *activations, void *stream)
{
    const char *what = "network forward";
    plan p;
    rd_result r = prepare(ctx, m, &p, what);
    if (r != RD_OK || n <= 0) return r;
    if ((r = check_aligned(ctx, activations, what)) != RD_OK) return r;
    int blocks;
    r = grid_size(ctx, (const void *)forward_kernel, &p, (n + BLOCK_ROWS - 1) / BLOCK_ROWS, &blocks, what);
    if (r != RD_OK) return r;
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    forward_kernel<<<blocks, THREADS, p.smem, st>>>(p, weights, inputs, (long long)n, outputs, (__half *)activations);
    return rd_cuda_check(ctx, cudaGetLastError(), what);
}

extern "C" rd_result rd_mlp_backward_cuda(rd_context *ctx, const rd_mlp *m, const float *weights, const float *inputs, int64_t n,
                                          void *activations, const float *grad_outputs, float *grad_weights, float *grad_inputs,
                                          void *stream)
{
    const char *what = "network backward";
    plan p;
    rd_result r = prepare(ctx, m, &p, what);
    if (r != RD_OK || n <= 0) return r;
    if ((r = check_aligned(ctx, activations, what)) != RD_OK) return r;
    int blocks;
    r = grid_size(ctx, (const void *)backward_kernel, &p, (n + BLOCK_ROWS - 1) / BLOCK_ROWS, &blocks, what);
    if (r != RD_OK) return r;
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    float *partials = (float *)((unsigned char *)activations + activation_bytes(m, n));
    long long count = p.p_off[p.hidden + 1];
    backward_kernel<<<blocks, THREADS, p.smem, st>>>(p, weights, inputs, (long long)n, (const __half *)activations, grad_outputs,
                                                     partials, grad_inputs);
    int segments = (blocks + SEGMENT - 1) / SEGMENT;
    dim3 segment_grid((unsigned)((count + REDUCE_THREADS - 1) / REDUCE_THREADS), (unsigned)segments);
    if (blocks > 1) reduce_segments<<<segment_grid, REDUCE_THREADS, 0, st>>>(partials, count, blocks);
    unsigned weight_blocks = (unsigned)((rd_mlp_weights(m) + REDUCE_THREADS - 1) / REDUCE_THREADS);
    reduce_weights<<<weight_blocks, REDUCE_THREADS, 0, st>>>(p, partials, count, segments, grad_weights);
    return rd_cuda_check(ctx, cudaGetLastError(), what);
}
