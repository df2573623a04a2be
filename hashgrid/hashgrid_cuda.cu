/* hashgrid_cuda.cu: hashgrid.c's encoding on CUDA (hashgrid.h). The forward and the
   table's backward take a tile of 32 points a block, a warp a level at a time, so that a
   warp's 32 points read one level's table (hashed levels scatter anyway; dense coarse
   levels stay in cache) while the tile's rows of features, L * F floats a point, pass
   through shared memory and are read or written whole by the block (a warp's own level
   would touch 8 bytes in every 128). The positions' backward runs a thread per point over
   the levels in order, as the CPU sums them. */
#include "hashgrid.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256, WARPS = THREADS / 32, TILE = 32 /* points a block, one a lane */ };
static const unsigned int ALL_LANES = 0xffffffffu;
/* No entry is this: the key of a lane past the last point. */
static const uint32_t NO_ENTRY = 0xffffffffu;

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

/* Whether F-float entries at p can be read and added as whole vectors (8 or 16 bytes). */
static bool vector_aligned(const void *p, int features)
{
    uintptr_t bytes = (uintptr_t)(features >= 4 ? 16 : 4 * features);
    return (uintptr_t)p % bytes == 0;
}

/* Entry e's F floats, in 8- or 16-byte loads where vector is (the table aligned). */
template <int F>
__device__ __forceinline__ void load_entry(const float *__restrict__ params, uint32_t e, bool vector, float out[F])
{
    const float *at = params + (size_t)e * F;
    if constexpr (F == 2) {
        if (vector) {
            float2 v = *(const float2 *)at;
            out[0] = v.x, out[1] = v.y;
            return;
        }
    } else if constexpr (F % 4 == 0) {
        if (vector) {
#pragma unroll
            for (int f = 0; f < F; f += 4) {
                float4 v = *(const float4 *)(at + f);
                out[f] = v.x, out[f + 1] = v.y, out[f + 2] = v.z, out[f + 3] = v.w;
            }
            return;
        }
    }
#pragma unroll
    for (int f = 0; f < F; f++) out[f] = at[f];
}

/* Adds N floats (2 or 4, 8- or 16-byte aligned) to at with one vector atomic on sm_90,
   which has them; one a float elsewhere. */
template <int N>
__device__ __forceinline__ void add_vector(float *at, const float *v)
{
#if __CUDA_ARCH__ >= 900
    if constexpr (N == 2) atomicAdd((float2 *)at, make_float2(v[0], v[1]));
    else atomicAdd((float4 *)at, make_float4(v[0], v[1], v[2], v[3]));
#else
#pragma unroll
    for (int k = 0; k < N; k++) atomicAdd(at + k, v[k]);
#endif
}

/* Adds v to entry e's F floats. */
template <int F>
__device__ __forceinline__ void add_entry(float *grad_params, uint32_t e, const float *v, bool vector)
{
    float *at = grad_params + (size_t)e * F;
    if constexpr (F == 2) {
        if (vector) return add_vector<2>(at, v);
    } else if constexpr (F % 4 == 0) {
        if (vector) {
#pragma unroll
            for (int f = 0; f < F; f += 4) add_vector<4>(at + f, v + f);
            return;
        }
    }
#pragma unroll
    for (int f = 0; f < F; f++) atomicAdd(at + f, v[f]);
}

/* Sums v over each run of neighbouring lanes with the same key (a, b), into the run's
   first lane, and returns whether this lane is that first one. Points come along rays, so
   on coarse levels a run is often the whole warp, whose 32 atomics on one address would
   be serialised; a key repeated in lanes apart only makes another run, so any order of
   points is summed right. */
template <int N>
__device__ __forceinline__ bool sum_runs(uint32_t a, uint32_t b, float v[N])
{
    int lane = (int)(threadIdx.x & 31);
    uint32_t before_a = __shfl_up_sync(ALL_LANES, a, 1), before_b = __shfl_up_sync(ALL_LANES, b, 1);
    bool first = lane == 0 || before_a != a || before_b != b;
    uint32_t firsts = __ballot_sync(ALL_LANES, first);
    if (firsts == ALL_LANES) return true; /* every run one lane (the fine levels) */
    uint32_t later = (uint32_t)((uint64_t)firsts >> (lane + 1));
    int end = later ? lane + __ffs((int)later) : 32; /* the run's end, exclusive */
    /* lane i holds the sum over [i, min(i + offset, end)): doubling offset takes in the
       next such span, while it is in the run; stop once no run is longer */
    for (int offset = 1; offset < 32; offset <<= 1) {
        bool inside = lane + offset < end;
        if (!__any_sync(ALL_LANES, inside)) break;
#pragma unroll
        for (int k = 0; k < N; k++) {
            float next = __shfl_down_sync(ALL_LANES, v[k], offset);
            if (inside) v[k] += next;
        }
    }
    return first;
}

/* A tile's rows in shared memory: a point's L * F floats, one pad float after each row so
   that the lanes' rows (one a lane, at the same level) fall in different banks. */
__device__ __forceinline__ int tile_at(int point, int row, int column) { return point * (row + 1) + column; }

template <int F>
__global__ void __launch_bounds__(THREADS) forward_kernel(rd_hashgrid g, const float *__restrict__ params,
                                                           const float *__restrict__ positions, long long n, bool vector,
                                                           float *__restrict__ features)
{
    extern __shared__ float tile[];
    int lane = (int)(threadIdx.x & 31), row = g.levels * F;
    long long first = (long long)blockIdx.x * TILE, i = first + lane;
    int points = (int)min((long long)TILE, n - first);
    if (lane < points) {
        float p[3] = {positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]};
        for (int l = (int)(threadIdx.x >> 5); l < g.levels; l += WARPS) {
            float fraction[3], slope[3], sum[F] = {};
            uint32_t entry[8];
            cell(g, l, p, entry, fraction, slope);
            float value[8][F];
#pragma unroll
            for (int c = 0; c < 8; c++) load_entry<F>(params, entry[c], vector, value[c]); /* all 8 loads in flight */
#pragma unroll
            for (int c = 0; c < 8; c++) {
                float w = rd_hashgrid_weight(c, fraction);
#pragma unroll
                for (int f = 0; f < F; f++) sum[f] += w * value[c][f];
            }
#pragma unroll
            for (int f = 0; f < F; f++) tile[tile_at(lane, row, l * F + f)] = sum[f];
        }
    }
    __syncthreads();
    float *out = features + first * row;
    for (int k = (int)threadIdx.x; k < points * row; k += THREADS) {
        int point = k / row;
        out[k] = tile[tile_at(point, row, k - point * row)];
    }
}

template <int F>
__global__ void __launch_bounds__(THREADS) backward_table_kernel(rd_hashgrid g, const float *__restrict__ positions, long long n,
                                                                  const float *__restrict__ grad_features, bool vector,
                                                                  float *grad_params)
{
    extern __shared__ float tile[];
    int lane = (int)(threadIdx.x & 31), row = g.levels * F;
    long long first = (long long)blockIdx.x * TILE, i = first + lane;
    int points = (int)min((long long)TILE, n - first);
    const float *in = grad_features + first * row;
    for (int k = (int)threadIdx.x; k < points * row; k += THREADS) {
        int point = k / row;
        tile[tile_at(point, row, k - point * row)] = in[k];
    }
    __syncthreads();
    /* every lane stays (a lane past the end with no entry and nothing to add) for sum_runs'
       shuffles */
    bool active = lane < points;
    float p[3] = {0.0f, 0.0f, 0.0f};
    if (active) p[0] = positions[3 * i], p[1] = positions[3 * i + 1], p[2] = positions[3 * i + 2];
    for (int l = (int)(threadIdx.x >> 5); l < g.levels; l += WARPS) {
        float fraction[3], slope[3], grad[F];
        uint32_t entry[8];
        cell(g, l, p, entry, fraction, slope);
#pragma unroll
        for (int f = 0; f < F; f++) grad[f] = active ? tile[tile_at(lane, row, l * F + f)] : 0.0f;
        /* the corners in x pairs (c, c + 1): where the two entries are neighbours starting
           at an even one (half the cells, dense or hashed), F <= 2 adds both in one vector */
#pragma unroll
        for (int c = 0; c < 8; c += 2) {
            uint32_t a = active ? entry[c] : NO_ENTRY, b = active ? entry[c + 1] : NO_ENTRY;
            float v[2 * F], wa = rd_hashgrid_weight(c, fraction), wb = rd_hashgrid_weight(c + 1, fraction);
#pragma unroll
            for (int f = 0; f < F; f++) v[f] = wa * grad[f], v[F + f] = wb * grad[f];
            if (!sum_runs<2 * F>(a, b, v) || !active) continue;
            if constexpr (F <= 2)
                if (vector && b == a + 1 && !(a & 1)) {
                    add_vector<2 * F>(grad_params + (size_t)a * F, v);
                    continue;
                }
            add_entry<F>(grad_params, a, v, vector), add_entry<F>(grad_params, b, v + F, vector);
        }
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
    unsigned int tiles = (unsigned int)((n + TILE - 1) / TILE), blocks = (unsigned int)((n + THREADS - 1) / THREADS);
    size_t tile_bytes = (size_t)TILE * (size_t)(g->levels * F + 1) * sizeof(float);
    if (features)
        forward_kernel<F><<<tiles, THREADS, tile_bytes, st>>>(*g, params, positions, n, vector_aligned(params, F), features);
    if (grad_params)
        backward_table_kernel<F><<<tiles, THREADS, tile_bytes, st>>>(*g, positions, n, grad_features, vector_aligned(grad_params, 2 * F),
                                                                     grad_params);
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
    if ((n + TILE - 1) / TILE > 0x7fffffffll)
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
