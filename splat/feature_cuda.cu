/* feature_cuda.cu: a feature field's coefficient maps on CUDA, as feature_cpu.c's sparse
   blend and feature_blend.comp: the splat frame's preprocess, binning and sorts
   (rd_splat_cuda_forward_saved, no colour written), then a block of 16x16 threads per tile
   and a thread per pixel walking the tile's Gaussians front to back with the CPU's alpha
   and stopping rules, one launch a level (L <= 256 floats of accumulator a thread). Slot
   indices are bytes, weights IEEE halves. The field's slots and the outputs live in
   buffers made for the call. */
#include "features.h"
#include "splat_cuda_frame.cuh"

#include <cuda_fp16.h>

enum { MAX_L = 256 };

__global__ void feature_blend_kernel(rd_view_params vp, const tile_range *ranges, const unsigned int *values, const device_splat *splats,
                                     const unsigned char *indices, const __half *weights, int level, int levels, int L, int K,
                                     float *coefficients, float *alpha)
{
    unsigned int tile = blockIdx.y * gridDim.x + blockIdx.x;
    if (tile >= (unsigned int)(vp.tiles_x * vp.tiles_y)) return;
    int px = (int)(tile % (unsigned int)vp.tiles_x) * RD_TILE_SIZE + (int)threadIdx.x;
    int py = (int)(tile / (unsigned int)vp.tiles_x) * RD_TILE_SIZE + (int)threadIdx.y;
    if (px >= vp.width || py >= vp.height) return;
    float acc[MAX_L];
    for (int c = 0; c < L; c++) acc[c] = 0.0f;
    float fx = (float)px + 0.5f, fy = (float)py + 0.5f, T = 1.0f;
    for (long long j = ranges[tile].start; j < ranges[tile].end; j++) {
        unsigned int g = values[j];
        const device_splat s = splats[g];
        float a;
        if (!rd_splat_alpha(s.conic[0], s.conic[1], s.conic[2], s.opacity, rd_power_cutoff(s.opacity), fx - s.u, fy - s.v, &a)) continue;
        float next_T = T * (1.0f - a);
        if (next_T < RD_MIN_TRANSMITTANCE) break;
        float w = a * T;
        size_t first = ((size_t)g * levels + level) * K;
        for (int k = 0; k < K; k++) acc[indices[first + k]] += __half2float(weights[first + k]) * w;
        T = next_T;
    }
    size_t pixel = (size_t)py * vp.width + px, row = (size_t)levels * L;
    for (int c = 0; c < L; c++) coefficients[pixel * row + (size_t)level * L + c] = acc[c];
    if (alpha && level == 0) alpha[pixel] = 1.0f - T;
}

extern "C" rd_result rd_feature_coefficients_cuda(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                                                  const rd_feature_field *field, float *coefficients, float *alpha, rd_memory memory,
                                                  void *stream, rd_render_stats *stats)
{
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    splat_saved_frame fr;
    rd_result r = rd_splat_cuda_forward_saved(ctx, scene, vp, st, &fr);
    if (r != RD_OK) return r;
    size_t slots = (size_t)(field->count * field->levels * field->K), pixels = (size_t)vp->width * vp->height;
    size_t row = (size_t)field->levels * field->L;
    rd_cuda_buffer indices = {}, weights = {}, own_coefficients = {}, own_alpha = {};
    r = rd_cuda_reserve(ctx, &indices, slots + 1, "feature slots");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &weights, slots * sizeof(uint16_t) + 2, "feature weights");
    if (r == RD_OK && slots) r = rd_cuda_upload(ctx, &indices, 0, field->indices, slots);
    if (r == RD_OK && slots) r = rd_cuda_upload(ctx, &weights, 0, field->weights, slots * sizeof(uint16_t));
    float *out = coefficients, *out_alpha = alpha;
    if (r == RD_OK && memory == RD_MEMORY_HOST) {
        r = rd_cuda_reserve(ctx, &own_coefficients, pixels * row * sizeof(float) + 4, "feature coefficients");
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &own_alpha, pixels * sizeof(float) + 4, "feature alpha");
        out = (float *)own_coefficients.ptr, out_alpha = alpha ? (float *)own_alpha.ptr : NULL;
    }
    long long tiles = (long long)vp->tiles_x * vp->tiles_y;
    dim3 block(RD_TILE_SIZE, RD_TILE_SIZE), grid((unsigned int)(tiles < 65535 ? tiles : 65535),
                                                 (unsigned int)((tiles + 65534) / 65535));
    for (int l = 0; r == RD_OK && l < field->levels && tiles > 0; l++)
        feature_blend_kernel<<<grid, block, 0, st>>>(*vp, fr.ranges, fr.values, fr.splats, (const unsigned char *)indices.ptr,
                                                     (const __half *)weights.ptr, l, field->levels, field->L, field->K, out, out_alpha);
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaGetLastError(), "feature blend");
    if (r == RD_OK && memory == RD_MEMORY_HOST) {
        r = rd_cuda_check(ctx, cudaMemcpyAsync(coefficients, out, pixels * row * sizeof(float), cudaMemcpyDeviceToHost, st), "download");
        if (r == RD_OK && alpha)
            r = rd_cuda_check(ctx, cudaMemcpyAsync(alpha, out_alpha, pixels * sizeof(float), cudaMemcpyDeviceToHost, st), "download");
    }
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(st), "feature blend");
    rd_cuda_buffer *buffers[] = {&indices, &weights, &own_coefficients, &own_alpha};
    for (rd_cuda_buffer *b : buffers) rd_cuda_release(ctx, b);
    if (r == RD_OK && stats) rd_splat_counts(stats, 0, fr.pairs);
    return r;
}
