/* splat_backward_cuda.cu: the CUDA backward pass of one view, step for step the CPU's
   (splat_backward_cpu.c), which is its specification:
   0. the forward frame is rendered again (splat_cuda.cu, no colour), keeping per pixel the
      final transmittance, its depth and one past the last Gaussian it blended, and per
      Gaussian whether it was seen and its colour clamp bits: the per-pixel state is
      saved by this forward, not replayed in the backward kernel;
   1. one 16x16 block per tile, a thread per pixel, the pixels laid out in warps of 8x4 as
      the forward blend has them: the tile's list is walked back to front in batches
      staged in shared memory, each pixel undoing its blend (T before a Gaussian is T
      after it over 1 - alpha) with the alpha the forward computed (splat_cuda_alpha.cuh),
      and rd_blend_backward gives the Gaussian's 2D gradients; a warp sums its lanes' and
      one lane adds them into the Gaussian's with float atomics, so the sums' order, and
      their last bits, vary from run to run;
   2. one thread per Gaussian: colour and projection backward (splat_grad.h) into the
      caller's arrays, and the pose's per-Gaussian parts summed per block, then over the
      blocks in order.
   Host arrays are copied to the device, added into there and copied back. */
#include "splat_cuda_frame.cuh"
#include "splat_cuda_alpha.cuh"
#include "splat_grad.h"

#include <cub/cub.cuh>

enum { TILE_PIXELS = RD_TILE_SIZE * RD_TILE_SIZE, GAUSSIAN_THREADS = 256, POSE = 12 };

/* Adds a warp's lanes' gradients of one Gaussian into its sum (one lane's atomics). */
__device__ __forceinline__ void warp_add(rd_splat2d_grad local, rd_splat2d_grad *to, int lane)
{
    float *v = &local.u;
#pragma unroll
    for (int k = 0; k < 10; k++)
#pragma unroll
        for (int offset = 16; offset; offset >>= 1) v[k] += __shfl_down_sync(0xffffffffu, v[k], offset);
    if (lane == 0) {
        float *t = &to->u;
#pragma unroll
        for (int k = 0; k < 10; k++) atomicAdd(&t[k], v[k]);
    }
}
static_assert(sizeof(rd_splat2d_grad) == 10 * sizeof(float), "rd_splat2d_grad: ten floats from u");

/* Step 1 for one tile (see the top of the file). */
__global__ void __launch_bounds__(TILE_PIXELS)
    backward_blend_kernel(rd_view_params vp, splat_saved_frame fr, const float *g_color, const float *g_depth,
                          rd_splat2d_grad *grads2d)
{
    __shared__ blend_splat s_splat[TILE_PIXELS];
    __shared__ unsigned int s_index[TILE_PIXELS];
    __shared__ unsigned int s_longest;
    unsigned int tile = blockIdx.x;
    int rank = threadIdx.y * RD_TILE_SIZE + threadIdx.x, lane = rank & 31, warp = rank >> 5;
    int wx = (int)(tile % vp.tiles_x) * RD_TILE_SIZE + (warp & 1) * 8;
    int wy = (int)(tile / vp.tiles_x) * RD_TILE_SIZE + (warp >> 1) * 4;
    int px = wx + (lane & 7), py = wy + (lane >> 3);
    bool inside = px < vp.width && py < vp.height;
    float X = (float)(lane & 7) + 0.5f, Y = (float)(lane >> 3) + 0.5f; /* from the warp's corner, as the forward */
    float XX = X * X, XY = X * Y, YY = Y * Y;
    float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
    float T = 1.0f;
    unsigned int last = 0;
    rd_pixel_grad pg = {};
    if (inside) {
        size_t p = (size_t)py * vp.width + px;
        T = fr.trans[p], last = fr.last[p];
        pg = rd_pixel_grad_start(&vp, g_color ? g_color + 4 * p : NULL, g_depth ? g_depth[p] : 0.0f, T, fr.depth[p]);
    }
    if (rank == 0) s_longest = 0;
    __syncthreads();
    unsigned int warp_longest = __reduce_max_sync(0xffffffffu, last);
    if (lane == 0) atomicMax(&s_longest, warp_longest);
    __syncthreads();
    long long start = fr.ranges[tile].start;
    for (int end = (int)s_longest; end > 0; end -= TILE_PIXELS) {
        int begin = max(end - TILE_PIXELS, 0);
        __syncthreads(); /* the last batch is read */
        if (begin + rank < end) {
            unsigned int index = fr.values[start + begin + rank];
            s_index[rank] = index;
            s_splat[rank] = load_blend_splat(fr.splats, index);
        }
        __syncthreads();
        for (int k = end - begin - 1; k >= 0; k--) {
            bool active = (unsigned int)(begin + k) < last;
            rd_splat2d_grad local = {};
            if (active) {
                blend_splat s = s_splat[k];
                staged_splat staged = stage_splat(s, fast_log2(s.opacity), (float)wx, (float)wy);
                float alpha = hit_alpha(staged, X, Y, XX, XY, YY);
                active = alpha > 0.0f;
                if (active) {
                    float T_before = T / (1.0f - alpha);
                    float rgb[3] = {s.r, s.g, s.bl}, conic[3] = {s.a, s.b, s.c};
                    rd_blend_backward(&pg, rgb, s.depth, alpha, T_before, alpha / s.opacity, alpha >= RD_MAX_ALPHA, fx - s.u,
                                      fy - s.v, conic, &local);
                    T = T_before;
                }
            }
            if (__any_sync(0xffffffffu, active)) warp_add(local, &grads2d[s_index[k]], lane);
        }
    }
}

/* Step 2, one thread a Gaussian: adds into out's arrays, and writes the block's sum of the
   pose's parts (POSE floats) at pose_parts + POSE * block where pose_parts is given. */
__global__ void __launch_bounds__(GAUSSIAN_THREADS)
    backward_gaussians_kernel(rd_view_params vp, rd_gaussians g, const unsigned char *flags, const rd_splat2d_grad *grads2d,
                              rd_gaussian_grads out, float *pose_parts)
{
    long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int bits = i < g.count ? flags[i] : 0u;
    rd_gaussian_grad gg = {};
    if (bits & SPLAT_SEEN) {
        rd_splat2d_grad g2 = grads2d[i];
        long long K = (long long)(g.sh_degree + 1) * (g.sh_degree + 1);
        float g_sh[48] = {0};
        rd_colour_backward(&vp, g.means + 3 * i, g.sh + i * K * 3, bits & 7u, g2.rgb, g_sh, &gg);
        rd_project_backward(&vp, &g, i, &g2, &gg);
        for (int k = 0; k < 3; k++) {
            if (out.means) out.means[3 * i + k] += gg.mean[k];
            if (out.log_scales) out.log_scales[3 * i + k] += gg.log_scale[k];
        }
        for (int k = 0; out.rotations && k < 4; k++) out.rotations[4 * i + k] += gg.rotation[k];
        if (out.opacities) out.opacities[i] += gg.opacity;
        int used = 3 * (vp.sh_degree + 1) * (vp.sh_degree + 1); /* the rest get zero */
        for (int k = 0; out.sh && k < used; k++) out.sh[i * K * 3 + k] += g_sh[k];
        if (out.mean2d_norm) { /* in normalised device coordinates, as the CPU's */
            float gu = g2.u * 0.5f * (float)vp.width, gv = g2.v * 0.5f * (float)vp.height;
            out.mean2d_norm[i] += sqrtf(gu * gu + gv * gv);
        }
        if (out.views_seen) out.views_seen[i] += 1;
    }
    if (!pose_parts) return;
    typedef cub::BlockReduce<float, GAUSSIAN_THREADS> block_sum;
    __shared__ typename block_sum::TempStorage temp;
    for (int k = 0; k < POSE; k++) {
        float sum = block_sum(temp).Sum(gg.w2c[k]);
        if (threadIdx.x == 0) pose_parts[POSE * blockIdx.x + k] = sum;
        __syncthreads(); /* temp is reused */
    }
}

/* The blocks' pose sums, added into w2c in block order. */
__global__ void pose_sum_kernel(const float *pose_parts, unsigned int blocks, float *w2c)
{
    int k = threadIdx.x;
    if (k >= POSE) return;
    float sum = 0.0f;
    for (unsigned int b = 0; b < blocks; b++) sum += pose_parts[POSE * b + k];
    w2c[k] += sum;
}

/* ---- host side -------------------------------------------------------------------------- */

/* The output gradients on the device: the caller's, or copies of host arrays. */
static rd_result device_outputs(rd_context *ctx, const rd_render_grads *output, size_t pixels, splat_backward_buffers *b,
                                const float **color, const float **depth)
{
    *color = output->color, *depth = output->depth;
    if (output->memory == RD_MEMORY_DEVICE) {
        rd_result r = output->color ? rd_cuda_check_memory(ctx, output->color, pixels * 4 * sizeof(float), "output gradients") : RD_OK;
        if (r == RD_OK && output->depth) r = rd_cuda_check_memory(ctx, output->depth, pixels * sizeof(float), "output gradients");
        return r;
    }
    rd_result r = rd_cuda_reserve(ctx, &b->outputs, pixels * 5 * sizeof(float), "output gradients");
    if (r == RD_OK && output->color) r = rd_cuda_upload(ctx, &b->outputs, 0, output->color, pixels * 4 * sizeof(float));
    if (r == RD_OK && output->depth)
        r = rd_cuda_upload(ctx, &b->outputs, pixels * 4 * sizeof(float), output->depth, pixels * sizeof(float));
    if (output->color) *color = (const float *)b->outputs.ptr;
    if (output->depth) *depth = (const float *)b->outputs.ptr + pixels * 4;
    return r;
}

/* The caller's gradient arrays, each with its length in 4-byte words (views_seen's too). */
enum { GRAD_ARRAYS = 7 };
static void grad_arrays(const rd_gaussian_grads *g, long long n, int sh_degree, void *arrays[GRAD_ARRAYS], size_t words[GRAD_ARRAYS])
{
    size_t K = (size_t)(sh_degree + 1) * (size_t)(sh_degree + 1), count = (size_t)n;
    void *a[GRAD_ARRAYS] = {g->means, g->log_scales, g->rotations, g->opacities, g->sh, g->mean2d_norm, g->views_seen};
    size_t w[GRAD_ARRAYS] = {3 * count, 3 * count, 4 * count, count, 3 * K * count, count, count};
    for (int k = 0; k < GRAD_ARRAYS; k++) arrays[k] = a[k], words[k] = w[k];
}

/* The gradient arrays on the device: the caller's, or the host arrays copied into
   b->params (then copied back by download_params). */
static rd_result device_params(rd_context *ctx, const rd_gaussian_grads *grads, rd_memory memory, long long n, int sh_degree,
                               splat_backward_buffers *b, rd_gaussian_grads *out)
{
    void *arrays[GRAD_ARRAYS];
    size_t words[GRAD_ARRAYS], total = 0;
    grad_arrays(grads, n, sh_degree, arrays, words);
    *out = *grads;
    rd_result r = RD_OK;
    if (memory == RD_MEMORY_DEVICE) {
        for (int k = 0; k < GRAD_ARRAYS && r == RD_OK; k++)
            if (arrays[k]) r = rd_cuda_check_memory(ctx, arrays[k], words[k] * 4, "scene gradients");
        return r;
    }
    for (int k = 0; k < GRAD_ARRAYS; k++) total += arrays[k] ? words[k] : 0;
    r = rd_cuda_reserve(ctx, &b->params, total * 4 + 4, "scene gradients");
    void *placed[GRAD_ARRAYS] = {NULL};
    for (int k = 0, at = 0; k < GRAD_ARRAYS && r == RD_OK; k++) {
        if (!arrays[k]) continue;
        placed[k] = (char *)b->params.ptr + (size_t)at * 4;
        r = rd_cuda_upload(ctx, &b->params, (size_t)at * 4, arrays[k], words[k] * 4);
        at += (int)words[k];
    }
    *out = rd_gaussian_grads{(float *)placed[0], (float *)placed[1], (float *)placed[2], (float *)placed[3], (float *)placed[4],
                             (float *)placed[5], (uint32_t *)placed[6]};
    return r;
}

static rd_result download_params(rd_context *ctx, const rd_gaussian_grads *grads, long long n, int sh_degree,
                                 const splat_backward_buffers *b)
{
    void *arrays[GRAD_ARRAYS];
    size_t words[GRAD_ARRAYS], at = 0;
    grad_arrays(grads, n, sh_degree, arrays, words);
    rd_result r = RD_OK;
    for (int k = 0; k < GRAD_ARRAYS && r == RD_OK; k++) {
        if (!arrays[k]) continue;
        r = rd_cuda_download(ctx, arrays[k], &b->params, at * 4, words[k] * 4);
        at += words[k];
    }
    return r;
}

extern "C" rd_result rd_splat_backward_cuda(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                                           const rd_render_grads *output, const rd_gaussian_grads *grads, rd_memory grads_memory,
                                           float *w2c_grad, void *stream)
{
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    splat_saved_frame fr;
    rd_result r = rd_splat_cuda_forward_saved(ctx, scene, vp, st, &fr);
    if (r != RD_OK) return r;
    splat_backward_buffers *b = fr.buffers;
    long long n = fr.g.count;
    unsigned int blocks = (unsigned int)((n + GAUSSIAN_THREADS - 1) / GAUSSIAN_THREADS);
    size_t pixels = (size_t)vp->width * vp->height;
    const float *g_color = NULL, *g_depth = NULL;
    rd_gaussian_grads out;
    r = device_outputs(ctx, output, pixels, b, &g_color, &g_depth);
    if (r == RD_OK) r = device_params(ctx, grads, grads_memory, n, fr.g.sh_degree, b, &out);
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &b->grads2d, (size_t)n * sizeof(rd_splat2d_grad) + 4, "2D gradients");
    if (r == RD_OK && w2c_grad) r = rd_cuda_reserve(ctx, &b->pose_parts, ((size_t)blocks + 1) * POSE * sizeof(float), "pose gradients");
    if (r == RD_OK && w2c_grad && grads_memory == RD_MEMORY_DEVICE) r = rd_cuda_check_memory(ctx, w2c_grad, POSE * 4, "pose gradient");
    if (r != RD_OK) return r;
    /* a host pose gradient is added into on the device, after the blocks' parts */
    float *pose = w2c_grad && grads_memory != RD_MEMORY_DEVICE ? (float *)b->pose_parts.ptr + (size_t)blocks * POSE : w2c_grad;
    if (pose != w2c_grad) r = rd_cuda_upload(ctx, &b->pose_parts, (size_t)blocks * POSE * sizeof(float), w2c_grad, POSE * 4);
    if (r != RD_OK || n == 0) return r;
    cudaMemsetAsync(b->grads2d.ptr, 0, (size_t)n * sizeof(rd_splat2d_grad), st);
    dim3 block(RD_TILE_SIZE, RD_TILE_SIZE);
    backward_blend_kernel<<<(unsigned int)fr.tiles, block, 0, st>>>(*vp, fr, g_color, g_depth, (rd_splat2d_grad *)b->grads2d.ptr);
    backward_gaussians_kernel<<<blocks, GAUSSIAN_THREADS, 0, st>>>(*vp, fr.g, fr.flags, (const rd_splat2d_grad *)b->grads2d.ptr, out,
                                                                   w2c_grad ? (float *)b->pose_parts.ptr : NULL);
    if (w2c_grad) pose_sum_kernel<<<1, 32, 0, st>>>((const float *)b->pose_parts.ptr, blocks, pose);
    r = rd_cuda_check(ctx, cudaGetLastError(), "backward launch");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(st), "backward");
    if (r == RD_OK && grads_memory != RD_MEMORY_DEVICE) r = download_params(ctx, grads, n, fr.g.sh_degree, b);
    if (r == RD_OK && pose != w2c_grad) r = rd_cuda_download(ctx, w2c_grad, &b->pose_parts, (size_t)blocks * POSE * sizeof(float), POSE * 4);
    return r;
}
