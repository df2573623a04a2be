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
#include "splat_grad.h"

#include <cub/cub.cuh>

enum { TILE_PIXELS = RD_TILE_SIZE * RD_TILE_SIZE, GAUSSIAN_THREADS = 256, POSE = 12 };
static_assert(sizeof(rd_splat2d_grad) == 10 * sizeof(float), "rd_splat2d_grad: ten floats from u");

/* Adds a warp's lanes' gradients of one Gaussian (ten floats) into its sum: a butterfly
   that halves the values each lane holds at each step (5, 3, 2, 1 and 1 exchanges: twelve
   shuffles where summing every value over the warp takes fifty), after which ten lanes
   each hold one value's sum and add it with one atomic instruction (scatter_value: which). */
__device__ __forceinline__ void warp_add(const rd_splat2d_grad &local, float *to, int lane, int value)
{
    const float *v = &local.u;
    bool h16 = lane & 16, h8 = lane & 8, h4 = lane & 4, h2 = lane & 2;
    float a[5], c[3], d[2];
#pragma unroll
    for (int i = 0; i < 5; i++) /* lanes 0-15 keep values 0-4, 16-31 values 5-9 */
        a[i] = (h16 ? v[5 + i] : v[i]) + __shfl_xor_sync(0xffffffffu, h16 ? v[i] : v[5 + i], 16);
    /* of those five: 0-2 where bit 3 is clear, 3-4 where it is set */
    c[0] = (h8 ? a[3] : a[0]) + __shfl_xor_sync(0xffffffffu, h8 ? a[0] : a[3], 8);
    c[1] = (h8 ? a[4] : a[1]) + __shfl_xor_sync(0xffffffffu, h8 ? a[1] : a[4], 8);
    c[2] = (h8 ? 0.0f : a[2]) + __shfl_xor_sync(0xffffffffu, h8 ? a[2] : 0.0f, 8);
    /* of those three: 0-1 where bit 2 is clear, 2 where it is set */
    d[0] = (h4 ? c[2] : c[0]) + __shfl_xor_sync(0xffffffffu, h4 ? c[0] : c[2], 4);
    d[1] = (h4 ? 0.0f : c[1]) + __shfl_xor_sync(0xffffffffu, h4 ? c[1] : 0.0f, 4);
    float e = (h2 ? d[1] : d[0]) + __shfl_xor_sync(0xffffffffu, h2 ? d[0] : d[1], 2);
    e += __shfl_xor_sync(0xffffffffu, e, 1);
    if (value >= 0) atomicAdd(to + value, e);
}

/* Which of the ten values lane holds after warp_add's butterfly, -1 for none (the odd
   lanes hold their even neighbour's, and a few lanes hold padding). */
__device__ __forceinline__ int scatter_value(int lane)
{
    if (lane & 1) return -1;
    int c_slot = lane & 4 ? (lane & 2 ? -1 : 2) : (lane & 2 ? 1 : 0);
    int a_slot = c_slot < 0 ? -1 : lane & 8 ? (c_slot == 2 ? -1 : 3 + c_slot) : c_slot;
    return a_slot < 0 ? -1 : (lane & 16 ? 5 : 0) + a_slot;
}

/* What a warp stages of one Gaussian for its walk: the alpha's quadratic as the forward
   staged it (rest.w: the position in the tile's list; rgb.w: the opacity blended), and
   the 2D record's fields that rd_blend_backward reads. */
typedef struct backward_hit {
    staged_splat staged;
    float4 geometry; /* u, v, conic a, b */
    float4 tail;     /* conic c, the Gaussian's index (bits), unused, unused */
} backward_hit;

/* Step 1 for one tile (see the top of the file). */
__global__ void __launch_bounds__(TILE_PIXELS)
    backward_blend_kernel(rd_view_params vp, splat_saved_frame fr, const float *g_color, const float *g_depth,
                          rd_splat2d_grad *grads2d)
{
    __shared__ backward_hit s_hits[TILE_PIXELS];
    unsigned int tile = blockIdx.x;
    int rank = threadIdx.y * RD_TILE_SIZE + threadIdx.x, lane = rank & 31, warp = rank >> 5, slice = warp * 32;
    int wx = (int)(tile % vp.tiles_x) * RD_TILE_SIZE + (warp & 1) * 8;
    int wy = (int)(tile / vp.tiles_x) * RD_TILE_SIZE + (warp >> 1) * 4;
    int px = wx + (lane & 7), py = wy + (lane >> 3);
    bool inside = px < vp.width && py < vp.height;
    float X = (float)(lane & 7) + 0.5f, Y = (float)(lane >> 3) + 0.5f; /* from the warp's corner, as the forward */
    float XX = X * X, XY = X * Y, YY = Y * Y;
    float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
    /* the warp's rectangle of pixel centres, as the forward tests it */
    float wx0 = (float)wx + 0.5f, wy0 = (float)wy + 0.5f;
    float wx1 = (float)min(wx + 8, vp.width) - 0.5f, wy1 = (float)min(wy + 4, vp.height) - 0.5f;
    float T = 1.0f;
    unsigned int last = 0;
    rd_pixel_grad pg = {};
    if (inside) {
        size_t p = (size_t)py * vp.width + px;
        T = fr.trans[p], last = fr.last[p];
        pg = rd_pixel_grad_start(&vp, g_color ? g_color + 4 * p : NULL, g_depth ? g_depth[p] : 0.0f, T, fr.depth[p]);
    }
    int value = scatter_value(lane);
    long long start = fr.ranges[tile].start;
    for (int end = (int)__reduce_max_sync(0xffffffffu, last); end > 0; end -= 32) {
        int position = end - 32 + lane;
        bool touches = false;
        blend_splat s;
        unsigned int index = 0;
        float log2_opacity = 0.0f;
        if (position >= 0) {
            index = fr.values[start + position];
            s = load_blend_splat(fr.splats, index);
            log2_opacity = fast_log2(s.opacity);
            float abc[3] = {s.a, s.b, s.c};
            touches = rd_rect_touches(s.u, s.v, abc, touch_limit(log2_opacity), wx0, wx1, wy0, wy1);
        }
        unsigned int mask = __ballot_sync(0xffffffffu, touches);
        if (touches) {
            backward_hit hit;
            hit.staged = stage_splat(s, log2_opacity, (float)wx, (float)wy, (unsigned int)position);
            hit.staged.rgb.w = s.opacity;
            hit.geometry = make_float4(s.u, s.v, s.a, s.b);
            hit.tail = make_float4(s.c, __uint_as_float(index), 0.0f, 0.0f);
            s_hits[slice + __popc(mask & ((1u << lane) - 1))] = hit;
        }
        __syncwarp();
        for (int k = slice + __popc(mask) - 1; k >= slice; k--) {
            staged_splat staged = s_hits[k].staged;
            bool active = __float_as_uint(staged.rest.w) < last;
            float alpha = hit_alpha(staged, X, Y, XX, XY, YY);
            active = active && alpha > 0.0f;
            rd_splat2d_grad local = {};
            if (active) {
                float4 geometry = s_hits[k].geometry;
                float T_before = T / (1.0f - alpha);
                float rgb[3] = {staged.rgb.x, staged.rgb.y, staged.rgb.z}, conic[3] = {geometry.z, geometry.w, s_hits[k].tail.x};
                rd_blend_backward(&pg, rgb, staged.rest.z, alpha, T_before, alpha / staged.rgb.w, alpha >= RD_MAX_ALPHA,
                                  fx - geometry.x, fy - geometry.y, conic, &local);
                T = T_before;
            }
            if (__any_sync(0xffffffffu, active))
                warp_add(local, &grads2d[__float_as_uint(s_hits[k].tail.y)].u, lane, value);
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
    launch_gaussians(vp, &fr, (const rd_splat2d_grad *)b->grads2d.ptr, out, w2c_grad ? (float *)b->pose_parts.ptr : NULL, blocks, st);
    if (w2c_grad) pose_sum_kernel<<<1, 32, 0, st>>>((const float *)b->pose_parts.ptr, blocks, pose);
    r = rd_cuda_check(ctx, cudaGetLastError(), "backward launch");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(st), "backward");
    if (r == RD_OK && grads_memory != RD_MEMORY_DEVICE) r = download_params(ctx, grads, n, fr.g.sh_degree, b);
    if (r == RD_OK && pose != w2c_grad) r = rd_cuda_download(ctx, w2c_grad, &b->pose_parts, (size_t)blocks * POSE * sizeof(float), POSE * 4);
    return r;
}
