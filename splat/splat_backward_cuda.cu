/* splat_backward_cuda.cu: the CUDA backward pass of one view, step for step the CPU's
   (splat_backward_cpu.c), which is its specification:
   0. the forward frame is rendered again (splat_cuda.cu, no colour), keeping per pixel the
      final transmittance, its depth and one past the last Gaussian it blended, and per
      Gaussian whether it was seen and its colour clamp bits: the per-pixel state is
      saved by this forward, not replayed in the backward kernel;
   1. one 16x16 block per tile, a thread per pixel, the pixels laid out in warps of 8x4 as
      the forward blend has them, and each warp on its own as there: it walks the tile's
      list back to front from the last Gaussian any of its pixels blended, 32 at a time,
      keeps those that touch its rectangle (the forward's test, so the same ones) in its
      slice of shared memory, and each pixel undoes its blend (T before a Gaussian is T
      after it over 1 - alpha) with the alpha the forward computed (splat_cuda_alpha.cuh);
      rd_blend_backward gives the Gaussian's 2D gradients, the warp sums its lanes' and
      adds them into the Gaussian's with float atomics, so the sums' order, and their
      last bits, vary from run to run (RD_RENDER_DETERMINISTIC: splat_backward_ordered.cu).
      Walking the block's longest list in 256-Gaussian batches behind barriers, every
      warp testing every Gaussian, took biker's forward + backward to 1.124 ms and 1M's to
      3.103 (now 0.710 and 1.801 with the rest of this file's changes);
   2. one thread per Gaussian: colour and projection backward (splat_grad.h) into the
      caller's arrays, and the pose's per-Gaussian parts summed per block, then over the
      blocks in order.
   Host arrays are copied to the device, added into there and copied back. */
#include "splat_cuda_frame.cuh"
#include "splat_cuda_alpha.cuh"
#include "splat_cuda_sh.cuh"
#include "splat_cuda_backward_walk.cuh"
#include "splat_backward_ordered.h"

#include <cub/cub.cuh>

enum { GAUSSIAN_THREADS = 256, POSE = 12 };

/* Step 1 for one tile (see the top of the file). */
__global__ void __launch_bounds__(TILE_PIXELS)
    backward_blend_kernel(rd_view_params vp, splat_saved_frame fr, const float *g_color, const float *g_depth,
                          rd_splat2d_grad *grads2d)
{
    __shared__ backward_hit s_hits[TILE_PIXELS];
    int rank = threadIdx.y * RD_TILE_SIZE + threadIdx.x, lane = rank & 31;
    backward_hit *slice = s_hits + (rank & ~31);
    backward_pixel px = backward_pixel_start(vp, fr, g_color, g_depth, blockIdx.x, rank);
    int value = scatter_value(lane);
    long long start = fr.ranges[blockIdx.x].start;
    for (int end = (int)__reduce_max_sync(0xffffffffu, px.last); end > 0; end -= WALK_BATCH) {
        for (int k = stage_backward_batch(px, fr, start, end, slice) - 1; k >= 0; k--) {
            rd_splat2d_grad local = {};
            bool active = backward_step(px, slice[k], &local);
            if (!__any_sync(0xffffffffu, active)) continue;
            float sum = warp_sum_scatter(local, lane);
            if (value >= 0) atomicAdd(&grads2d[__float_as_uint(slice[k].tail.y)].u + value, sum);
        }
        __syncwarp(); /* the slice is read before the next batch overwrites it */
    }
}

/* Step 2, one thread a Gaussian, for SH degree DEGREE (a constant, so that the basis
   functions and their gradients live in registers: with the degree read at run time they
   were arrays in local memory): adds into out's arrays, and writes the block's sum of the
   pose's parts (POSE floats) at pose_parts + POSE * block where pose_parts is given. The
   block's colour coefficients are staged in shared memory (splat_cuda_sh.cuh) and their
   gradients summed there, then added into out.sh by consecutive threads on consecutive
   floats: read and added row by row from each thread, a warp's accesses spread over 32
   rows of 192 bytes, and this step took 0.79 ms at 1M under ncu. */
template <int DEGREE>
__global__ void __launch_bounds__(GAUSSIAN_THREADS)
    backward_gaussians_kernel(rd_view_params vp, rd_gaussians g, const unsigned char *flags, const rd_splat2d_grad *grads2d,
                              rd_gaussian_grads out, float *pose_parts)
{
    extern __shared__ float s_sh[]; /* the rows, then their gradients' */
    const int stride = sh_row_stride(DEGREE), used = sh_floats_used(DEGREE);
    float *s_grad = s_sh + GAUSSIAN_THREADS * stride;
    long long first = (long long)blockIdx.x * blockDim.x, i = first + threadIdx.x;
    stage_sh_async(g, DEGREE, first, s_sh);
    for (int k = 0; k < used; k++) s_grad[threadIdx.x * stride + k] = 0.0f;
    unsigned int bits = i < g.count ? flags[i] : 0u;
    rd_gaussian_grad gg = {};
    rd_view_params v = vp;
    v.sh_degree = DEGREE;
    asm volatile("cp.async.wait_all;" ::: "memory");
    __syncthreads();
    if (bits & SPLAT_SEEN) {
        rd_splat2d_grad g2 = grads2d[i];
        rd_colour_backward(&v, g.means + 3 * i, s_sh + threadIdx.x * stride, bits & 7u, g2.rgb, s_grad + threadIdx.x * stride, &gg);
        rd_project_backward(&v, &g, i, &g2, &gg);
        for (int k = 0; k < 3; k++) {
            if (out.means) out.means[3 * i + k] += gg.mean[k];
            if (out.log_scales) out.log_scales[3 * i + k] += gg.log_scale[k];
        }
        for (int k = 0; out.rotations && k < 4; k++) out.rotations[4 * i + k] += gg.rotation[k];
        for (int k = 0; out.covariances && k < 6; k++) out.covariances[6 * i + k] += gg.covariance[k];
        if (out.opacities) out.opacities[i] += gg.opacity;
        if (out.mean2d_norm) { /* in normalised device coordinates, as the CPU's */
            float gu = g2.u * 0.5f * (float)vp.width, gv = g2.v * 0.5f * (float)vp.height;
            out.mean2d_norm[i] += sqrtf(gu * gu + gv * gv);
        }
        if (out.views_seen) out.views_seen[i] += 1;
    }
    __syncthreads();
    if (out.sh) { /* the seen rows' used coefficients; the rest get nothing */
        int row = sh_floats_used(g.sh_degree), total = (int)min((long long)blockDim.x, g.count - first) * used;
        for (int e = threadIdx.x; e < total; e += blockDim.x) {
            int r = e / used, c = e - r * used;
            if (flags[first + r] & SPLAT_SEEN) out.sh[(first + r) * row + c] += s_grad[r * stride + c];
        }
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

/* Launches step 2 for the view's SH degree, with the shared memory its rows take (past the
   48 KB a kernel gets without asking at degree 3). */
template <int DEGREE>
static void launch_gaussians_degree(const rd_view_params *vp, const splat_saved_frame *fr, const rd_splat2d_grad *grads2d,
                                    rd_gaussian_grads out, float *pose_parts, unsigned int blocks, cudaStream_t st)
{
    size_t shared = 2 * sizeof(float) * GAUSSIAN_THREADS * (size_t)sh_row_stride(DEGREE);
    cudaFuncSetAttribute(backward_gaussians_kernel<DEGREE>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared);
    backward_gaussians_kernel<DEGREE><<<blocks, GAUSSIAN_THREADS, shared, st>>>(*vp, fr->g, fr->flags, grads2d, out, pose_parts);
}

static void launch_gaussians(const rd_view_params *vp, const splat_saved_frame *fr, const rd_splat2d_grad *grads2d,
                             rd_gaussian_grads out, float *pose_parts, unsigned int blocks, cudaStream_t st)
{
    switch (vp->sh_degree) {
    case 0: launch_gaussians_degree<0>(vp, fr, grads2d, out, pose_parts, blocks, st); break;
    case 1: launch_gaussians_degree<1>(vp, fr, grads2d, out, pose_parts, blocks, st); break;
    case 2: launch_gaussians_degree<2>(vp, fr, grads2d, out, pose_parts, blocks, st); break;
    default: launch_gaussians_degree<3>(vp, fr, grads2d, out, pose_parts, blocks, st); break;
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
enum { GRAD_ARRAYS = 8 };
static void grad_arrays(const rd_gaussian_grads *g, long long n, int sh_degree, void *arrays[GRAD_ARRAYS], size_t words[GRAD_ARRAYS])
{
    size_t K = (size_t)(sh_degree + 1) * (size_t)(sh_degree + 1), count = (size_t)n;
    void *a[GRAD_ARRAYS] = {g->means, g->log_scales, g->rotations, g->opacities, g->sh, g->mean2d_norm, g->views_seen, g->covariances};
    size_t w[GRAD_ARRAYS] = {3 * count, 3 * count, 4 * count, count, 3 * K * count, count, count, 6 * count};
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
                             (float *)placed[5], (uint32_t *)placed[6], (float *)placed[7]};
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
    if (vp->flags & RD_RENDER_DETERMINISTIC) {
        r = rd_splat_backward_ordered(ctx, vp, &fr, g_color, g_depth, (rd_splat2d_grad *)b->grads2d.ptr, st);
        if (r != RD_OK) return r;
    } else {
        cudaMemsetAsync(b->grads2d.ptr, 0, (size_t)n * sizeof(rd_splat2d_grad), st);
        dim3 block(RD_TILE_SIZE, RD_TILE_SIZE);
        backward_blend_kernel<<<(unsigned int)fr.tiles, block, 0, st>>>(*vp, fr, g_color, g_depth, (rd_splat2d_grad *)b->grads2d.ptr);
    }
    launch_gaussians(vp, &fr, (const rd_splat2d_grad *)b->grads2d.ptr, out, w2c_grad ? (float *)b->pose_parts.ptr : NULL, blocks, st);
    if (w2c_grad) pose_sum_kernel<<<1, 32, 0, st>>>((const float *)b->pose_parts.ptr, blocks, pose);
    r = rd_cuda_check(ctx, cudaGetLastError(), "backward launch");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(st), "backward");
    if (r == RD_OK && grads_memory != RD_MEMORY_DEVICE) r = download_params(ctx, grads, n, fr.g.sh_degree, b);
    if (r == RD_OK && pose != w2c_grad) r = rd_cuda_download(ctx, w2c_grad, &b->pose_parts, (size_t)blocks * POSE * sizeof(float), POSE * 4);
    return r;
}
