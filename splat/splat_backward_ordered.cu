/* splat_backward_ordered.cu: step 1 of the CUDA backward pass (splat_backward_cuda.cu) with
   every sum in a fixed order, for RD_RENDER_DETERMINISTIC: the same gradients, bit for bit,
   run after run. Float atomics add in whatever order the warps arrive; here nothing does.
   a. one 16x16 block per tile walks its list back to front 32 positions at a time, every
      warp over the same 32 (splat_cuda_backward_walk.cuh); each warp's sum for each
      Gaussian goes to shared memory, and after a barrier the block adds its eight warps'
      in warp order into the pair's own slot (pair_grads: ten floats per Gaussian-tile
      pair, at its position in the sorted list);
   b. the pairs' positions are sorted by Gaussian (CUB's radix sort, stable), so each
      Gaussian's pairs sit together in list order;
   c. one thread per Gaussian adds its pairs' slots in that order into grads2d.
   The cost: the barrier every 32 positions, and 48 bytes of memory per pair (measured in
   BENCHMARKS.md). */
#include "splat_cuda_frame.cuh"
#include "splat_cuda_alpha.cuh"
#include "splat_cuda_backward_walk.cuh"
#include "splat_backward_ordered.h"

#include <cub/cub.cuh>
#include <limits.h>

enum { WARPS = TILE_PIXELS / 32, VALUES = 10, GATHER_THREADS = 256 };

/* Step a for one tile. */
__global__ void __launch_bounds__(TILE_PIXELS)
    ordered_blend_kernel(rd_view_params vp, splat_saved_frame fr, const float *g_color, const float *g_depth, float *pair_grads)
{
    __shared__ backward_hit s_hits[TILE_PIXELS];
    __shared__ float s_sums[WARPS][WALK_BATCH][VALUES]; /* each warp's sum per position of the batch */
    __shared__ unsigned int s_top;
    int rank = threadIdx.y * RD_TILE_SIZE + threadIdx.x, lane = rank & 31, warp = rank >> 5;
    backward_hit *slice = s_hits + warp * 32;
    backward_pixel px = backward_pixel_start(vp, fr, g_color, g_depth, blockIdx.x, rank);
    if (rank == 0) s_top = 0;
    __syncthreads();
    unsigned int warp_top = __reduce_max_sync(0xffffffffu, px.last);
    if (lane == 0) atomicMax(&s_top, warp_top); /* a maximum: the same in any order */
    __syncthreads();
    int value = scatter_value(lane);
    long long start = fr.ranges[blockIdx.x].start;
    for (int end = (int)s_top; end > 0; end -= WALK_BATCH) {
        for (int v = 0; v < VALUES; v++) s_sums[warp][lane][v] = 0.0f;
        for (int k = stage_backward_batch(px, fr, start, end, slice) - 1; k >= 0; k--) {
            rd_splat2d_grad local = {};
            bool active = backward_step(px, slice[k], &local);
            if (!__any_sync(0xffffffffu, active)) continue;
            float sum = warp_sum_scatter(local, lane);
            int at = (int)__float_as_uint(slice[k].staged.rest.w) - (end - WALK_BATCH); /* its place in the batch */
            if (value >= 0) s_sums[warp][at][value] = sum;
        }
        __syncthreads(); /* every warp's sums are in */
        for (int e = rank; e < WALK_BATCH * VALUES; e += TILE_PIXELS) {
            int at = e / VALUES, v = e - at * VALUES, position = end - WALK_BATCH + at;
            if (position < 0) continue;
            float sum = 0.0f;
            for (int w = 0; w < WARPS; w++) sum += s_sums[w][at][v];
            pair_grads[(start + position) * VALUES + v] = sum;
        }
        __syncthreads(); /* read before the next batch clears them and the slices */
    }
}

__global__ void iota_kernel(unsigned int *out, long long count)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) out[i] = (unsigned int)i;
}

/* The first index in sorted[0, count) whose value is not below key. */
__device__ __forceinline__ long long lower_bound(const unsigned int *sorted, long long count, unsigned int key)
{
    long long lo = 0, hi = count;
    while (lo < hi) {
        long long mid = (lo + hi) / 2;
        if (sorted[mid] < key) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Step c: one thread a Gaussian adds its pairs' slots in list order. */
__global__ void gather_kernel(const unsigned int *gaussians, const unsigned int *positions, long long pairs,
                              const float *pair_grads, long long n, rd_splat2d_grad *grads2d)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    float sum[VALUES] = {0};
    for (long long j = lower_bound(gaussians, pairs, (unsigned int)i); j < pairs && gaussians[j] == (unsigned int)i; j++) {
        const float *slot = pair_grads + (size_t)positions[j] * VALUES;
        for (int v = 0; v < VALUES; v++) sum[v] += slot[v];
    }
    float *to = &grads2d[i].u;
    for (int v = 0; v < VALUES; v++) to[v] = sum[v];
}

rd_result rd_splat_backward_ordered(rd_context *ctx, const rd_view_params *vp, const splat_saved_frame *fr, const float *g_color,
                                    const float *g_depth, rd_splat2d_grad *grads2d, cudaStream_t st)
{
    long long pairs = fr->pairs, n = fr->g.count;
    if (pairs > INT_MAX)
        return rd_fail(ctx, RD_ERROR_LIMIT, "deterministic backward pass: %lld Gaussian-tile pairs, more than the %d it sorts",
                       pairs, INT_MAX);
    int bits = rd_key_bits((uint64_t)n);
    size_t sort_bytes = 0;
    cudaError_t err = cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, (const unsigned int *)NULL, (unsigned int *)NULL,
                                                      (const unsigned int *)NULL, (unsigned int *)NULL, (int)pairs, 0, bits, st);
    rd_result r = rd_cuda_check(ctx, err, "deterministic backward sort");
    size_t slots = (size_t)pairs * VALUES * sizeof(float), words = (size_t)pairs * sizeof(unsigned int);
    size_t sort_at = (slots + 3 * words + 255) / 256 * 256; /* keys out, positions in and out, then the sort's scratch */
    splat_backward_buffers *b = fr->buffers;
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &b->ordered, sort_at + sort_bytes + 4, "deterministic backward sums");
    if (r != RD_OK || pairs == 0) return r;
    float *pair_grads = (float *)b->ordered.ptr;
    unsigned int *gaussians = (unsigned int *)((char *)b->ordered.ptr + slots), *positions_in = gaussians + pairs,
                 *positions = positions_in + pairs;
    cudaMemsetAsync(pair_grads, 0, slots, st); /* positions past every pixel's last stay zero */
    dim3 block(RD_TILE_SIZE, RD_TILE_SIZE);
    ordered_blend_kernel<<<(unsigned int)fr->tiles, block, 0, st>>>(*vp, *fr, g_color, g_depth, pair_grads);
    iota_kernel<<<(unsigned int)((pairs + 255) / 256), 256, 0, st>>>(positions_in, pairs);
    err = cub::DeviceRadixSort::SortPairs((char *)b->ordered.ptr + sort_at, sort_bytes, fr->values, gaussians, positions_in,
                                          positions, (int)pairs, 0, bits, st);
    r = rd_cuda_check(ctx, err, "deterministic backward sort");
    if (r == RD_OK)
        gather_kernel<<<(unsigned int)((n + GATHER_THREADS - 1) / GATHER_THREADS), GATHER_THREADS, 0, st>>>(
            gaussians, positions, pairs, pair_grads, n, grads2d);
    return r;
}
