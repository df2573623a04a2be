/* splat_cuda_backward_walk.cuh: a warp's walk back over its tile's Gaussians in the CUDA
   backward pass, shared by its two blend kernels: splat_backward_cuda.cu's, which adds
   each warp's sums with atomics, and splat_backward_ordered.cu's, which sums them in a
   fixed order (RD_RENDER_DETERMINISTIC). The pixels are laid out in warps of 8x4 as the
   forward blend has them (splat_cuda_blend.cuh), and each warp tests the Gaussians
   against its rectangle as the forward did, so that it walks the same ones. For .cu files
   only, after splat_cuda_frame.cuh and splat_cuda_alpha.cuh. */
#ifndef RD_SPLAT_CUDA_BACKWARD_WALK_CUH
#define RD_SPLAT_CUDA_BACKWARD_WALK_CUH

#include "splat_grad.h"

enum { TILE_PIXELS = RD_TILE_SIZE * RD_TILE_SIZE, WALK_BATCH = 32 };
static_assert(sizeof(rd_splat2d_grad) == 10 * sizeof(float), "rd_splat2d_grad: ten floats from u");

/* What a warp stages of one Gaussian for its walk: the alpha's quadratic as the forward
   staged it (rest.w: the position in the tile's list; rgb.w: one over the opacity blended,
   so that a hit's G = alpha / opacity is a product), and
   the 2D record's fields that rd_blend_backward reads. */
typedef struct backward_hit {
    staged_splat staged;
    float4 geometry; /* u, v, conic a, b */
    float4 tail;     /* conic c, the Gaussian's index (bits), unused, unused */
} backward_hit;

/* One thread's pixel, and its warp's rectangle, for the walk. */
typedef struct backward_pixel {
    int wx, wy;                    /* the warp's corner */
    float X, Y, XX, XY, YY;        /* the pixel's centre from the warp's corner, as the forward */
    float fx, fy;                  /* the pixel's centre */
    float wx0, wx1, wy0, wy1;      /* the warp's rectangle of pixel centres, as the forward tests it */
    float T;                       /* the transmittance after the Gaussians not yet walked */
    unsigned int last;             /* one past the last position in the list the pixel blended */
    rd_pixel_grad pg;
} backward_pixel;

__device__ __forceinline__ backward_pixel backward_pixel_start(const rd_view_params &vp, const splat_saved_frame &fr,
                                                               const float *g_color, const float *g_depth, unsigned int tile,
                                                               int rank)
{
    int lane = rank & 31, warp = rank >> 5;
    backward_pixel px;
    px.wx = (int)(tile % vp.tiles_x) * RD_TILE_SIZE + (warp & 1) * 8;
    px.wy = (int)(tile / vp.tiles_x) * RD_TILE_SIZE + (warp >> 1) * 4;
    int x = px.wx + (lane & 7), y = px.wy + (lane >> 3);
    px.X = (float)(lane & 7) + 0.5f, px.Y = (float)(lane >> 3) + 0.5f;
    px.XX = px.X * px.X, px.XY = px.X * px.Y, px.YY = px.Y * px.Y;
    px.fx = (float)x + 0.5f, px.fy = (float)y + 0.5f;
    px.wx0 = (float)px.wx + 0.5f, px.wy0 = (float)px.wy + 0.5f;
    px.wx1 = (float)min(px.wx + 8, vp.width) - 0.5f, px.wy1 = (float)min(px.wy + 4, vp.height) - 0.5f;
    px.T = 1.0f, px.last = 0;
    px.pg = rd_pixel_grad{};
    if (x < vp.width && y < vp.height) {
        size_t p = (size_t)y * vp.width + x;
        px.T = fr.trans[p], px.last = fr.last[p];
        px.pg = rd_pixel_grad_start(&vp, g_color ? g_color + 4 * p : NULL, g_depth ? g_depth[p] : 0.0f, px.T, fr.depth[p]);
    }
    return px;
}

/* Stages into the warp's slice the Gaussians at positions [end - 32, end) of the tile's
   list (its run starts at `start`) that touch the warp's rectangle, in list order, and
   returns how many. */
__device__ __forceinline__ int stage_backward_batch(const backward_pixel &px, const splat_saved_frame &fr, long long start,
                                                    int end, backward_hit *slice)
{
    int lane = (threadIdx.y * RD_TILE_SIZE + threadIdx.x) & 31, position = end - WALK_BATCH + lane;
    bool touches = false;
    blend_splat s;
    unsigned int index = 0;
    float log2_opacity = 0.0f;
    if (position >= 0) {
        index = fr.values[start + position];
        s = load_blend_splat(fr.splats, index);
        log2_opacity = fast_log2(s.opacity);
        touches = touches_rect(s, log2_opacity, px.wx0, px.wx1, px.wy0, px.wy1);
    }
    unsigned int mask = __ballot_sync(0xffffffffu, touches);
    if (touches) {
        backward_hit hit;
        hit.staged = stage_splat(s, log2_opacity, (float)px.wx, (float)px.wy, (unsigned int)position);
        hit.staged.rgb.w = 1.0f / s.opacity; /* staged Gaussians touch: their opacity is at least 1/255 */
        hit.geometry = make_float4(s.u, s.v, s.a, s.b);
        hit.tail = make_float4(s.c, __uint_as_float(index), 0.0f, 0.0f);
        slice[__popc(mask & ((1u << lane) - 1))] = hit;
    }
    __syncwarp();
    return __popc(mask);
}

/* The pixel's step back over a staged Gaussian: where the pixel blended it, its 2D
   gradients into local (added) and true. */
__device__ __forceinline__ bool backward_step(backward_pixel &px, const backward_hit &hit, rd_splat2d_grad *local)
{
    staged_splat staged = hit.staged;
    bool active = __float_as_uint(staged.rest.w) < px.last;
    float alpha = hit_alpha(staged, px.X, px.Y, px.XX, px.XY, px.YY);
    if (!active || !(alpha > 0.0f)) return false;
    float4 geometry = hit.geometry;
    float T_before = px.T / (1.0f - alpha); /* the same reciprocal as rd_blend_backward's after / (1 - alpha) */
    float rgb[3] = {staged.rgb.x, staged.rgb.y, staged.rgb.z}, conic[3] = {geometry.z, geometry.w, hit.tail.x};
    rd_blend_backward(&px.pg, rgb, staged.rest.z, alpha, T_before, alpha * staged.rgb.w, alpha >= RD_MAX_ALPHA,
                      px.fx - geometry.x, px.fy - geometry.y, conic, local);
    px.T = T_before;
    return true;
}

/* A warp's sum of its lanes' gradients of one Gaussian (ten floats): a butterfly that
   halves the values each lane holds at each step (5, 3, 2, 1 and 1 exchanges: twelve
   shuffles where summing every value over the warp takes fifty), after which ten lanes
   each hold one value's sum (scatter_value: which), returned. The order of the additions
   is fixed. */
__device__ __forceinline__ float warp_sum_scatter(const rd_splat2d_grad &local, int lane)
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
    return e + __shfl_xor_sync(0xffffffffu, e, 1);
}

/* Which of the ten values lane holds after warp_sum_scatter, -1 for none (the odd lanes
   hold their even neighbour's, and a few lanes hold padding). */
__device__ __forceinline__ int scatter_value(int lane)
{
    if (lane & 1) return -1;
    int c_slot = lane & 4 ? (lane & 2 ? -1 : 2) : (lane & 2 ? 1 : 0);
    int a_slot = c_slot < 0 ? -1 : lane & 8 ? (c_slot == 2 ? -1 : 3 + c_slot) : c_slot;
    return a_slot < 0 ? -1 : (lane & 16 ? 5 : 0) + a_slot;
}

#endif
