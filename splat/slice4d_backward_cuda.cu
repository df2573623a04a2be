/* slice4d_backward_cuda.cu: the slice's backward pass on CUDA (slice4d_cuda.h): a thread
   a Gaussian runs slice4d_backward_math.h's rd_slice4d_backward_one, the CPU's own code, in
   double (the chain through Λxx^-1 loses too much in float where scales differ widely). A
   Gaussian is its own slice's source on the device, so no two threads write one. */
#include "slice4d_cuda.h"
#include "slice4d_math.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 128 };

typedef struct backward_args {
    rd_scene4d s; /* a device view */
    rd_gaussian_grads g3;
    rd_gaussian4d_grads out;
    float time;
    int colour_terms;
} backward_args;

__global__ void __launch_bounds__(THREADS) slice_backward_kernel(backward_args a)
{
    int64_t i = (int64_t)blockIdx.x * THREADS + threadIdx.x;
    if (i >= a.s.count || !a.g3.views_seen[i]) return; /* no view saw it: every gradient is zero */
    const int K = (a.s.sh_degree + 1) * (a.s.sh_degree + 1), terms = a.s.time_degree + 1, row = terms * 3 * K;
    rd_slice4d_backward_in in = {a.s.means + 4 * i, a.s.log_scales + 4 * i, a.s.rotations + 8 * i, a.s.sh + i * row,
                                 a.s.opacities[i], a.time, 6.283185307179586 / a.s.time_period, K, terms,
                                 a.g3.means + 3 * i, a.g3.covariances + 6 * i, a.g3.sh + i * 3 * K, a.g3.opacities[i]};
    rd_slice4d_backward_out out = {a.out.means ? a.out.means + 4 * i : NULL, a.out.log_scales ? a.out.log_scales + 4 * i : NULL,
                                   a.out.rotations ? a.out.rotations + 8 * i : NULL, a.out.opacities ? a.out.opacities + i : NULL,
                                   NULL};
    /* the colour terms past colour_terms: their gradients are not written, but μt still
       takes what their (as yet zero or frozen) coefficients give */
    float g_sh[(RD_4D_MAX_TIME_DEGREE + 1) * 48];
    if (a.out.sh) {
        for (int k = 0; k < row; k++) g_sh[k] = 0.0f;
        out.sh = g_sh;
    }
    rd_slice4d_backward_one(&in, &out);
    if (a.out.sh) {
        int written = (a.colour_terms > 0 && a.colour_terms < terms ? a.colour_terms : terms) * 3 * K;
        for (int k = 0; k < written; k++) a.out.sh[i * row + k] += g_sh[k];
    }
    if (a.out.mean2d_norm) a.out.mean2d_norm[i] += a.g3.mean2d_norm[i];
    if (a.out.views_seen) a.out.views_seen[i] += a.g3.views_seen[i];
}

extern "C" rd_result rd_slice4d_backward_cuda(rd_context *ctx, const rd_scene4d *device, const rd_gaussian_grads *g3,
                                              const rd_gaussian4d_grads *out, const rd_slice4d_backward_desc *desc)
{
    if (device->count <= 0) return RD_OK;
    backward_args a = {*device, *g3, *out, desc->time, desc->colour_terms};
    unsigned int blocks = (unsigned int)((device->count + THREADS - 1) / THREADS);
    slice_backward_kernel<<<blocks, THREADS, 0, desc->stream ? (cudaStream_t)desc->stream : rd_cuda(ctx)->stream>>>(a);
    return rd_cuda_check(ctx, cudaGetLastError(), "4D slice backward (cuda)");
}

/* Floats per Gaussian of each 4D gradient array (mean2d_norm and views_seen last). */
enum { GRADS4 = 7 };
static void grad_widths(const rd_scene4d *s, size_t w[GRADS4])
{
    size_t widths[GRADS4] = {4, 4, 8, 1, (size_t)rd_scene4d_sh_floats(s->sh_degree, s->time_degree), 1, 1};
    for (int k = 0; k < GRADS4; k++) w[k] = widths[k];
}

/* rd_render_backward of a 4D scene on CUDA: the slice on the device, the 3D CUDA backward
   into device gradients of the sliced Gaussians (with their covariances), the slice's
   backward on the device; into the caller's device arrays, or staged and added into its
   host arrays. */
extern "C" rd_result rd_slice4d_backward_render_cuda(rd_context *ctx, const rd_scene4d *s, const rd_camera *camera,
                                                     const rd_render_desc *desc, const rd_render_grads *output,
                                                     const rd_scene_grads *grads, float *w2c_grad)
{
    const rd_scene *sliced = NULL;
    const rd_scene4d *device = NULL;
    rd_result r = rd_slice4d_cuda(ctx, s, desc, &sliced, &device);
    if (r != RD_OK || s->count == 0) return r;
    const rd_gaussian4d_grads *want = (const rd_gaussian4d_grads *)grads->params;
    bool staged = grads->memory == RD_MEMORY_HOST;
    size_t n = (size_t)s->count, g3_floats = rd_slice_grads_floats(s->sh_degree) * n, widths[GRADS4], grad_floats = 0;
    grad_widths(s, widths);
    for (int k = 0; k < GRADS4; k++) grad_floats += widths[k] * n;
    float *scratch = NULL;
    rd_memory memory;
    size_t w2c_floats = staged && w2c_grad ? 16 : 0; /* the pose's gradient, staged on the device as the rest */
    size_t bytes = (g3_floats + (staged ? grad_floats + w2c_floats : 0)) * sizeof(float);
    r = rd_buffer_alloc(ctx, bytes, (void **)&scratch, &memory);
    if (r == RD_OK) r = rd_cuda_zero(ctx, scratch, bytes, desc->stream);
    if (r != RD_OK) {
        rd_buffer_free(ctx, scratch);
        return r;
    }
    rd_gaussian_grads g3 = rd_slice_grads_over(scratch, n, s->sh_degree);
    float *arrays[GRADS4];
    float *at = scratch + g3_floats;
    for (int k = 0; k < GRADS4; k++) arrays[k] = at, at += widths[k] * n;
    rd_gaussian4d_grads on_device = staged ? rd_gaussian4d_grads{arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5],
                                                                 (uint32_t *)arrays[6]}
                                           : *want;
    float *w2c_device = staged && w2c_grad ? at : w2c_grad; /* at: just past the staged 4D arrays */
    rd_scene_grads into3 = {RD_SCENE_GAUSSIANS, &g3, NULL, RD_MEMORY_DEVICE};
    r = rd_kind(RD_SCENE_GAUSSIANS)->backends[RD_BACKEND_CUDA].backward(ctx, sliced, camera, desc, output, &into3, w2c_device);
    rd_slice4d_backward_desc bd = {desc->time, 0, desc->stream};
    if (r == RD_OK) r = rd_slice4d_backward_cuda(ctx, device, &g3, &on_device, &bd);
    if (r == RD_OK && staged) { /* added into the caller's host arrays */
        float *host = (float *)malloc((grad_floats + w2c_floats) * sizeof(float) + 1);
        float *into[GRADS4] = {want->means, want->log_scales, want->rotations, want->opacities, want->sh, want->mean2d_norm,
                               (float *)want->views_seen};
        if (!host) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D backward (cuda): out of memory for %lld Gaussians", (long long)n);
        cudaStream_t stream = desc->stream ? (cudaStream_t)desc->stream : rd_cuda(ctx)->stream;
        if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(stream), "4D backward (cuda)");
        if (r == RD_OK) r = rd_cuda_copy(ctx, host, arrays[0], (grad_floats + w2c_floats) * sizeof(float));
        for (size_t e = 0; e < w2c_floats && r == RD_OK; e++) w2c_grad[e] += host[grad_floats + e];
        const float *from = host;
        for (int k = 0; k < GRADS4 && r == RD_OK; from += widths[k] * n, k++) {
            if (!into[k]) continue;
            size_t m = widths[k] * n;
            if (k == GRADS4 - 1)
                for (size_t e = 0; e < m; e++) ((uint32_t *)into[k])[e] += ((const uint32_t *)from)[e];
            else
                for (size_t e = 0; e < m; e++) into[k][e] += from[e];
        }
        free(host);
    }
    rd_buffer_free(ctx, scratch);
    return r;
}
