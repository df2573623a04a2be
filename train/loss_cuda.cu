/* loss_cuda.cu: L1 + D-SSIM and its gradient on CUDA, step for step loss.c (the
   specification, in double) in single precision, with the target composited from the
   photo on the step's background as the kernels read it:
   1. a thread per pixel filters the five statistics of each channel (x, y, x^2, y^2, xy)
      along the row (15 maps);
   2. then down the column, and from them each channel's SSIM and its three partial
      derivatives (9 maps, scaled by -lambda / 3n), the L1 term's gradient, and the
      block's share of the loss, added into the loss sum;
   3. and 4. the partial derivatives filtered along rows, then columns, into the gradient
      (loss.c's dL/dx = G*(g ds/dmu_x) + 2x G*(g ds/dE[x^2]) + y G*(g ds/dE[xy])).
   Two filter passes over planar maps; each is a few reads per pixel from L1. */
#include "loss.h"
#include "../renderer/cuda/cuda_internal.h"

#include <cub/cub.cuh>

enum { RADIUS = 5, WINDOW = 2 * RADIUS + 1, THREADS = 256, STATS = 15, PARTIALS = 9 };

/* loss.c's window_weights, normalised in double and rounded once. */
__constant__ float c_window[WINDOW];

typedef struct loss_images {
    int width, height;
    const float *render, *photo; /* RGBA */
    float background[3];
} loss_images;

__device__ __forceinline__ float target_at(const loss_images &im, size_t p, int ch)
{
    float a = im.photo[4 * p + 3];
    return im.photo[4 * p + ch] * a + im.background[ch] * (1.0f - a);
}

/* The five statistics of channel ch at pixel p, in map order x, y, x^2, y^2, xy. */
__device__ __forceinline__ void statistics(const loss_images &im, size_t p, int ch, float out[5])
{
    float x = im.render[4 * p + ch], y = target_at(im, p, ch);
    out[0] = x, out[1] = y, out[2] = x * x, out[3] = y * y, out[4] = x * y;
}

/* Step 1: maps[m] (planar, n each) = the row filter of statistic m % 5 of channel m / 5. */
__global__ void stats_rows_kernel(loss_images im, float *maps)
{
    long long n = (long long)im.width * im.height, p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n) return;
    int x = (int)(p % im.width);
    float sum[STATS] = {0};
    for (int k = -RADIUS; k <= RADIUS; k++) {
        if (x + k < 0 || x + k >= im.width) continue;
        float w = c_window[k + RADIUS];
        for (int ch = 0; ch < 3; ch++) {
            float s[5];
            statistics(im, (size_t)(p + k), ch, s);
            for (int q = 0; q < 5; q++) sum[5 * ch + q] += w * s[q];
        }
    }
    for (int m = 0; m < STATS; m++) maps[m * n + p] = sum[m];
}

/* The column filter of map m at pixel p (row y). */
__device__ __forceinline__ float column_filter(const float *map, long long p, int y, int width, int height)
{
    float s = 0.0f;
    for (int k = -RADIUS; k <= RADIUS; k++)
        if (y + k >= 0 && y + k < height) s += c_window[k + RADIUS] * map[p + (long long)k * width];
    return s;
}

typedef struct loss_weights {
    float l1_step;    /* (1 - lambda) / 3n: the L1 term's gradient magnitude */
    float ssim_scale; /* -lambda / 3n */
} loss_weights;

/* Step 2 (see the top). loss_sum gets (1 - lambda) |diff| / 3n - lambda s / 3n summed over
   the pixels and channels; the caller adds lambda. */
__global__ void ssim_kernel(loss_images im, const float *stats, float *partials, float *grad, loss_weights lw, double *loss_sum)
{
    long long n = (long long)im.width * im.height, p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    float share = 0.0f;
    if (p < n) {
        int y = (int)(p / im.width);
        const float C1 = 0.01f * 0.01f, C2 = 0.03f * 0.03f;
        for (int ch = 0; ch < 3; ch++) {
            float ux = column_filter(stats + (5 * ch) * n, p, y, im.width, im.height);
            float uy = column_filter(stats + (5 * ch + 1) * n, p, y, im.width, im.height);
            float exx = column_filter(stats + (5 * ch + 2) * n, p, y, im.width, im.height);
            float eyy = column_filter(stats + (5 * ch + 3) * n, p, y, im.width, im.height);
            float exy = column_filter(stats + (5 * ch + 4) * n, p, y, im.width, im.height);
            float A1 = 2.0f * ux * uy + C1, A2 = 2.0f * (exy - ux * uy) + C2;
            float B1 = ux * ux + uy * uy + C1, B2 = exx - ux * ux + eyy - uy * uy + C2;
            float s = A1 * A2 / (B1 * B2);
            partials[(3 * ch) * n + p] = lw.ssim_scale * (2.0f * uy * (A2 - A1) / (B1 * B2) - 2.0f * ux * s * (1.0f / B1 - 1.0f / B2));
            partials[(3 * ch + 1) * n + p] = lw.ssim_scale * (-s / B2);
            partials[(3 * ch + 2) * n + p] = lw.ssim_scale * (2.0f * A1 / (B1 * B2));
            float diff = im.render[4 * p + ch] - target_at(im, (size_t)p, ch);
            grad[4 * p + ch] = diff > 0.0f ? lw.l1_step : diff < 0.0f ? -lw.l1_step : 0.0f;
            share += lw.l1_step * fabsf(diff) + lw.ssim_scale * s;
        }
        grad[4 * p + 3] = 0.0f;
    }
    typedef cub::BlockReduce<float, THREADS> block_sum;
    __shared__ typename block_sum::TempStorage temp;
    float total = block_sum(temp).Sum(share);
    if (threadIdx.x == 0) atomicAdd(loss_sum, (double)total);
}

/* Step 3: the row filter of the 9 partial maps into out. */
__global__ void partials_rows_kernel(int width, int height, const float *partials, float *out)
{
    long long n = (long long)width * height, p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n) return;
    int x = (int)(p % width);
    float sum[PARTIALS] = {0};
    for (int k = -RADIUS; k <= RADIUS; k++) {
        if (x + k < 0 || x + k >= width) continue;
        float w = c_window[k + RADIUS];
        for (int m = 0; m < PARTIALS; m++) sum[m] += w * partials[m * n + p + k];
    }
    for (int m = 0; m < PARTIALS; m++) out[m * n + p] = sum[m];
}

/* Step 4: down the columns, into the gradient. */
__global__ void partials_columns_kernel(loss_images im, const float *rows, float *grad)
{
    long long n = (long long)im.width * im.height, p = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= n) return;
    int y = (int)(p / im.width);
    for (int ch = 0; ch < 3; ch++) {
        float gm = column_filter(rows + (3 * ch) * n, p, y, im.width, im.height);
        float gxx = column_filter(rows + (3 * ch + 1) * n, p, y, im.width, im.height);
        float gxy = column_filter(rows + (3 * ch + 2) * n, p, y, im.width, im.height);
        float x = im.render[4 * p + ch], t = target_at(im, (size_t)p, ch);
        grad[4 * p + ch] += gm + 2.0f * x * gxx + t * gxy;
    }
}

extern "C" size_t rd_loss_cuda_scratch_floats(int width, int height)
{
    return (size_t)(STATS + PARTIALS) * (size_t)width * (size_t)height;
}

extern "C" rd_result rd_loss_l1_dssim_cuda(rd_context *ctx, const rd_loss_cuda_desc *d, float *grad, double *loss_sum)
{
    cudaStream_t st = d->stream ? (cudaStream_t)d->stream : rd_cuda(ctx)->stream;
    double w[WINDOW], sum = 0.0;
    for (int k = 0; k < WINDOW; k++) sum += w[k] = exp(-(double)((k - RADIUS) * (k - RADIUS)) / (2.0 * 1.5 * 1.5));
    float window[WINDOW];
    for (int k = 0; k < WINDOW; k++) window[k] = (float)(w[k] / sum);
    /* per call, as the constant is per device; 44 bytes in the stream's order */
    rd_result r = rd_cuda_check(ctx, cudaMemcpyToSymbolAsync(c_window, window, sizeof window, 0, cudaMemcpyHostToDevice, st),
                                "loss window");
    if (r != RD_OK) return r;
    loss_images im = {d->width, d->height, d->render, d->photo, {d->background[0], d->background[1], d->background[2]}};
    long long n = (long long)d->width * d->height;
    unsigned int blocks = (unsigned int)((n + THREADS - 1) / THREADS);
    float *stats = d->scratch, *partials = d->scratch + STATS * n, *rows = d->scratch; /* rows reuses the statistics */
    loss_weights lw = {(float)((1.0 - d->ssim_weight) / (3.0 * (double)n)), (float)(-d->ssim_weight / (3.0 * (double)n))};
    stats_rows_kernel<<<blocks, THREADS, 0, st>>>(im, stats);
    ssim_kernel<<<blocks, THREADS, 0, st>>>(im, stats, partials, grad, lw, loss_sum);
    partials_rows_kernel<<<blocks, THREADS, 0, st>>>(d->width, d->height, partials, rows);
    partials_columns_kernel<<<blocks, THREADS, 0, st>>>(im, rows, grad);
    return rd_cuda_check(ctx, cudaGetLastError(), "loss");
}
