/* feature_cuda_levels.cu: the spec's level choice for each query on CUDA, as
   choose_levels (feature_render.c) and rd_relevancy_smooth (feature_query.c) do it on the
   host: per query and level r' = (r + m) / 2, m the mean of r over the in-image pixels of
   the 29x29 window about each pixel; the level whose r' peaks highest (the first on a tie)
   gives the query's map. The window sums are in double, as the CPU's summed-area table:
   a row pass, then a column pass that also reduces each plane's peak. Only the chosen maps
   and the levels are written, so a query's relevancy needs no host round trip. */
#include "features.h"
#include "../renderer/cuda/cuda_internal.h"

enum { SMOOTH_RADIUS = 14, CHOICE_THREADS = 256, CHOICE_BLOCKS = 512 };

/* row_sums[plane][y][x]: the sum of the plane's row y over the in-image x' in [x - 14, x + 14] */
__global__ void relevancy_row_sums(const float *scores, int width, size_t pixels, double *row_sums)
{
    size_t plane = blockIdx.y;
    const float *r = scores + plane * pixels;
    for (size_t p = (size_t)blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(p % (size_t)width);
        size_t row = p - (size_t)x;
        int x0 = max(x - SMOOTH_RADIUS, 0), x1 = min(x + SMOOTH_RADIUS + 1, width);
        double s = 0.0;
        for (int k = x0; k < x1; k++) s += (double)__ldg(r + row + k);
        row_sums[plane * pixels + p] = s;
    }
}

/* peaks[plane]: the largest r' of the plane (r' > 0, so the float's bits order as integers) */
__global__ void relevancy_peaks(const float *scores, const double *row_sums, int width, int height, float *peaks)
{
    size_t plane = blockIdx.y, pixels = (size_t)width * (size_t)height;
    const float *r = scores + plane * pixels;
    const double *rows = row_sums + plane * pixels;
    float best = 0.0f;
    for (size_t p = (size_t)blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += (size_t)gridDim.x * blockDim.x) {
        int x = (int)(p % (size_t)width), y = (int)(p / (size_t)width);
        int x0 = max(x - SMOOTH_RADIUS, 0), x1 = min(x + SMOOTH_RADIUS + 1, width);
        int y0 = max(y - SMOOTH_RADIUS, 0), y1 = min(y + SMOOTH_RADIUS + 1, height);
        double s = 0.0;
        for (int k = y0; k < y1; k++) s += rows[(size_t)k * width + x];
        int n = (x1 - x0) * (y1 - y0);
        best = fmaxf(best, 0.5f * (r[p] + (float)(s / n)));
    }
    for (int offset = 16; offset > 0; offset /= 2) best = fmaxf(best, __shfl_xor_sync(0xffffffffu, best, offset));
    __shared__ float warp_best[CHOICE_THREADS / 32];
    if (threadIdx.x % 32 == 0) warp_best[threadIdx.x / 32] = best;
    __syncthreads();
    if (threadIdx.x == 0) {
        for (int w = 1; w < CHOICE_THREADS / 32; w++) best = fmaxf(best, warp_best[w]);
        atomicMax((int *)&peaks[plane], __float_as_int(best));
    }
}

/* Each query's level (1-based into chosen) and, where wanted, its map at that level. */
__global__ void relevancy_choose(const float *scores, const float *peaks, int levels, size_t pixels, float *relevancy, int *chosen)
{
    int q = (int)blockIdx.y, best = 0;
    float best_peak = -INFINITY;
    for (int l = 0; l < levels; l++)
        if (peaks[q * levels + l] > best_peak) best_peak = peaks[q * levels + l], best = l;
    if (blockIdx.x == 0 && threadIdx.x == 0) chosen[q] = best + 1;
    if (!relevancy) return;
    const float *from = scores + ((size_t)q * levels + best) * pixels;
    for (size_t p = (size_t)blockIdx.x * blockDim.x + threadIdx.x; p < pixels; p += (size_t)gridDim.x * blockDim.x)
        relevancy[(size_t)q * pixels + p] = from[p];
}

extern "C" rd_result rd_feature_choose_levels_cuda(rd_context *ctx, void *stream, const rd_feature_choice *c)
{
    cudaStream_t st = (cudaStream_t)stream;
    size_t pixels = (size_t)c->width * (size_t)c->height;
    unsigned int blocks = (unsigned int)((pixels + CHOICE_THREADS - 1) / CHOICE_THREADS);
    dim3 planes(blocks < CHOICE_BLOCKS ? blocks : CHOICE_BLOCKS, (unsigned int)(c->query_count * c->levels));
    rd_result r = rd_cuda_check(ctx, cudaMemsetAsync(c->peaks, 0, (size_t)c->query_count * c->levels * sizeof(float), st), "feature peaks");
    if (r != RD_OK || pixels == 0) return r;
    relevancy_row_sums<<<planes, CHOICE_THREADS, 0, st>>>(c->scores, c->width, pixels, c->row_sums);
    relevancy_peaks<<<planes, CHOICE_THREADS, 0, st>>>(c->scores, c->row_sums, c->width, c->height, c->peaks);
    dim3 queries(planes.x, (unsigned int)c->query_count);
    relevancy_choose<<<queries, CHOICE_THREADS, 0, st>>>(c->scores, c->peaks, c->levels, pixels, c->relevancy, c->chosen);
    return rd_cuda_check(ctx, cudaGetLastError(), "feature level choice");
}
