/* slice4d_cuda.cu: a 4D scene's frame on CUDA: the scene's arrays and statics copied to
   the device once per scene (its uid), the slice at the frame's time (slice4d.c's
   rd_slice4d_cpu, a thread a Gaussian; a culled one keeps its slot with a NaN mean, which
   the 3D preprocess culls first, as slice4d.comp does) into device arrays, drawn by the 3D
   Gaussians' CUDA renderer as a device scene, on the render's stream with no host wait.
   Every rounding as the CPU's: no fused multiply-add where the CPU has none. */
#include "slice4d_cuda.h"
#include "../renderer/cuda/cuda_internal.h"

#include <stdint.h>
#include <stdlib.h>

enum { THREADS = 256, SOURCES = RD_SLICE4D_SOURCES };

typedef struct slice_cuda_state {
    uint64_t uid;                    /* the scene whose copies these are; 0: none */
    rd_cuda_buffer source[SOURCES];  /* means (4), statics, opacities, SH (terms * K * 3) */
    rd_slice4d_target target;        /* the 3D arrays written and their device scene */
} slice_cuda_state;

__global__ void __launch_bounds__(THREADS) slice_kernel(uint32_t count, const float4 *means4, const rd_slice4d_static *statics,
                                                        const float *opacities4, const float *sh4, uint32_t coeffs, uint32_t terms,
                                                        float time, float two_pi_over_period, float *means, float *log_scales,
                                                        float *rotations, float *opacities, float *sh)
{
    uint32_t i = blockIdx.x * THREADS + threadIdx.x;
    if (i >= count) return;
    float4 mean = means4[i];
    const rd_slice4d_static f = statics[i];
    float dt = __fsub_rn(time, mean.w), exponent = __fmul_rn(__fmul_rn(dt, dt), f.half_inv_w);
    if (!(exponent < RD_4D_CULL_EXPONENT)) {
        means[3 * i] = __int_as_float(0x7fc00000);
        return;
    }
    const float m[3] = {mean.x, mean.y, mean.z};
    for (int a = 0; a < 3; a++) {
        means[3 * i + a] = __fadd_rn(m[a], __fmul_rn(f.velocity[a], dt));
        log_scales[3 * i + a] = f.log_scale[a];
    }
    for (int a = 0; a < 4; a++) rotations[4 * i + a] = f.rotation[a];
    float o = opacities4[i], p = expf(-exponent);
    float softplus_minus_o = -o > 20.0f ? -o : log1pf(expf(-o));
    opacities[i] = -softplus_minus_o - exponent - logf((1.0f - p) + p / (1.0f + expf(o)));
    float cosines[RD_4D_MAX_TIME_DEGREE + 1];
    for (uint32_t n = 0; n < terms; n++) cosines[n] = cosf(two_pi_over_period * (float)n * (mean.w - time));
    uint32_t floats = 3 * coeffs;
    const float *from = sh4 + (size_t)i * terms * floats;
    float *to = sh + (size_t)i * floats;
    for (uint32_t k = 0; k < floats; k++) {
        float sum = 0.0f;
        for (uint32_t n = 0; n < terms; n++) sum = __fadd_rn(sum, __fmul_rn(cosines[n], from[n * floats + k]));
        to[k] = sum;
    }
}

extern "C" void rd_slice4d_cuda_free_state(rd_context *ctx, void *state)
{
    slice_cuda_state *st = (slice_cuda_state *)state;
    if (!st) return;
    rd_slice4d_target_free(ctx, &st->target);
    for (int k = 0; k < SOURCES; k++) rd_cuda_release(ctx, &st->source[k]);
    free(st);
}

/* The scene's arrays on the device and room for its slice, with the device scene over it,
   where the scene differs from the last one rendered. */
static rd_result upload_scene(rd_context *ctx, slice_cuda_state *st, const rd_scene4d *s)
{
    if (st->uid == s->head.uid) return RD_OK;
    st->uid = 0;
    const void *from[SOURCES];
    size_t source_bytes[SOURCES];
    rd_slice4d_sources(s, from, source_bytes);
    rd_result r = RD_OK;
    for (int k = 0; k < SOURCES && r == RD_OK; k++) {
        r = rd_cuda_reserve(ctx, &st->source[k], source_bytes[k], "4D scene");
        if (r == RD_OK && s->count > 0) r = rd_cuda_upload(ctx, &st->source[k], 0, from[k], source_bytes[k]);
    }
    if (r == RD_OK) r = rd_slice4d_target_make(ctx, s, &st->target);
    if (r == RD_OK) st->uid = s->head.uid;
    return r;
}

extern "C" rd_result rd_slice4d_cuda(rd_context *ctx, const rd_scene4d *s, const rd_render_desc *desc, const rd_scene **sliced)
{
    if (s->count > (int64_t)UINT32_MAX - THREADS)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "4D render (cuda): %lld Gaussians are more than it indexes", (long long)s->count);
    void **slot = rd_context_slot(ctx, RD_SCENE_GAUSSIANS_4D);
    if (!*slot && !(*slot = calloc(1, sizeof(slice_cuda_state))))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D render (cuda): out of memory");
    slice_cuda_state *st = (slice_cuda_state *)*slot;
    rd_result r = upload_scene(ctx, st, s);
    if (r != RD_OK) return r;
    if (s->count > 0) {
        cudaStream_t stream = desc->stream ? (cudaStream_t)desc->stream : rd_cuda(ctx)->stream;
        slice_kernel<<<(unsigned int)((s->count + THREADS - 1) / THREADS), THREADS, 0, stream>>>(
            (uint32_t)s->count, (const float4 *)st->source[0].ptr, (const rd_slice4d_static *)st->source[1].ptr,
            (const float *)st->source[2].ptr, (const float *)st->source[3].ptr, (uint32_t)rd_sh_coeffs(s->sh_degree),
            (uint32_t)s->time_degree + 1, desc->time, 6.283185307179586f / s->time_period, (float *)st->target.arrays[0],
            (float *)st->target.arrays[1], (float *)st->target.arrays[2], (float *)st->target.arrays[3],
            (float *)st->target.arrays[4]);
        r = rd_cuda_check(ctx, cudaGetLastError(), "4D slice (cuda)");
        if (r != RD_OK) return r;
    }
    *sliced = st->target.scene;
    return RD_OK;
}

extern "C" rd_result rd_slice4d_render_cuda(rd_context *ctx, const rd_scene4d *s, const rd_camera *camera, const rd_render_desc *desc,
                                            const rd_framebuffer *target, rd_render_stats *stats)
{
    const rd_scene *sliced = NULL;
    rd_result r = rd_slice4d_cuda(ctx, s, desc, &sliced);
    return r == RD_OK ? rd_kind(RD_SCENE_GAUSSIANS)->backends[RD_BACKEND_CUDA].render(ctx, sliced, camera, desc, target, stats) : r;
}
