/* slice4d_cuda.cu: a 4D scene's frame on CUDA: the scene's arrays copied to the device
   once per scene (its uid) and the statics computed there (slice4d_math.h, a thread a
   Gaussian, in double), the slice at the frame's time (slice4d.c's rd_slice4d_cpu, a
   thread a Gaussian; a culled one keeps its slot with a NaN mean, which the 3D preprocess
   culls first, as slice4d.comp does) into device arrays, drawn by the 3D Gaussians' CUDA
   renderer as a device scene, on the render's stream with no host wait. Every rounding of
   the slice as the CPU's: no fused multiply-add where the CPU has none. */
#include "slice4d_cuda.h"
#include "slice4d_math.h"
#include "appearance4d.h"
#include "../renderer/cuda/cuda_internal.h"

#include <stdint.h>
#include <stdlib.h>

enum { THREADS = 256, SOURCES = 6 };

typedef struct slice_cuda_state {
    uint64_t uid;                    /* the scene whose copies these are; 0: none */
    rd_cuda_buffer source[SOURCES];  /* means (4), log-scales (4), rotations (8), opacities, SH, statics */
    rd_scene4d device;               /* the scene over them */
    rd_slice4d_target target;        /* the 3D arrays written and their device scene */
    /* a scene with appearance networks: their weights and features, the networks over them,
       and each Gaussian's opacity logit and colour at the frame's time */
    rd_cuda_buffer networks[2], evaluated[2];
    rd_appearance4d device_networks;
    rd_slice4d_evaluated evaluated_at;
} slice_cuda_state;

/* The networks' evaluation, 16 lanes a Gaussian (a thread a Gaussian left the GPU nearly
   idle: a frame's few ten thousand threads, each 16,000 multiply-adds in a row). The lanes
   share the encoding (four frequency pairs each), then for every hidden unit sum a
   sixteenth of its inputs and add the sixteen parts by butterfly (every lane gets the same
   bits), and each lane keeps the outputs lane, lane + 16, lane + 32. Still latency-bound
   (H100, 7,369 Gaussians: 182 us, 43% occupancy; a unit's loads and shuffles wait on each
   other): several units at once is the next step. The sums' order is
   not the CPU's (the harness's tolerance, not its bits): the encoding's every rounding is. */
enum { LANES = 16, GROUPS = 8, MAX_OUTPUTS_A_LANE = (RD_APPEARANCE_MAX_OUTPUTS + LANES - 1) / LANES };

__device__ static void mlp_lanes(const float *weights, rd_appearance_mlp m, const float *in, float *out, int lane)
{
    const float *W1 = weights + m.offset, *b1 = W1 + RD_APPEARANCE_HIDDEN * m.inputs;
    const float *W2 = b1 + RD_APPEARANCE_HIDDEN, *b2 = W2 + m.outputs * RD_APPEARANCE_HIDDEN;
    float acc[MAX_OUTPUTS_A_LANE];
#pragma unroll
    for (int t = 0; t < MAX_OUTPUTS_A_LANE; t++) acc[t] = 0.0f;
    for (int j = 0; j < RD_APPEARANCE_HIDDEN; j++) {
        const float *row = W1 + j * m.inputs;
        float part = 0.0f;
        for (int k = lane; k < m.inputs; k += LANES) part += row[k] * in[k];
        for (int offset = LANES / 2; offset > 0; offset /= 2) part += __shfl_xor_sync(0xffffffffu, part, offset);
        float h = b1[j] + part;
        if (h <= 0.0f) continue; /* the same on the group's every lane */
#pragma unroll
        for (int t = 0; t < MAX_OUTPUTS_A_LANE; t++) {
            int o = lane + LANES * t;
            if (o < m.outputs) acc[t] += W2[o * RD_APPEARANCE_HIDDEN + j] * h;
        }
    }
#pragma unroll
    for (int t = 0; t < MAX_OUTPUTS_A_LANE; t++) {
        int o = lane + LANES * t;
        if (o < m.outputs) out[o] = b2[o] + acc[t];
    }
}

__global__ void __launch_bounds__(LANES * GROUPS) appearance_kernel(uint32_t count, rd_appearance4d networks, const float4 *means4,
                                                                    const rd_slice4d_static *statics, float time, float *opacities,
                                                                    float *sh, uint32_t floats)
{
    __shared__ float input_s[GROUPS][RD_APPEARANCE_INPUTS], head_s[GROUPS][RD_APPEARANCE_HEAD_INPUTS];
    __shared__ float out_s[GROUPS][3 + RD_APPEARANCE_MAX_OUTPUTS + 1];
    int group = threadIdx.x / LANES, lane = threadIdx.x % LANES;
    uint32_t i = blockIdx.x * GROUPS + group;
    bool active = false;
    float4 mean = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (i < count) {
        mean = means4[i];
        float dt = __fsub_rn(time, mean.w), exponent = __fmul_rn(__fmul_rn(dt, dt), statics[i].half_inv_w);
        active = exponent < RD_4D_CULL_EXPONENT; /* the slice's own cull test */
    }
    if (!__any_sync(0xffffffffu, active)) return; /* a warp holds two Gaussians: both culled */
    float *input = input_s[group], *head = head_s[group], *out = out_s[group];
    const float xyz[3] = {mean.x, mean.y, mean.z};
    float v[4];
    rd_appearance_position(&networks, xyz, time, v);
    if (lane < 4) input[lane] = v[lane];
    for (int pair = lane; pair < 4 * RD_APPEARANCE_FREQUENCIES; pair += LANES) { /* (k, d): input 4 + 8k + 2d, + 1 */
        int k = pair / 4, d = pair % 4;
        rd_appearance_sincos_pi(ldexpf(v[d], k), &input[4 + 8 * k + 2 * d], &input[4 + 8 * k + 2 * d + 1]);
    }
    __syncwarp();
    mlp_lanes(networks.weights, networks.mlp[RD_APPEARANCE_ENCODER], input, head, lane);
    const float *features = networks.features + RD_APPEARANCE_FEATURES * (size_t)(active ? i : 0);
    if (lane < 3) head[RD_APPEARANCE_LATENT + lane] = active ? features[lane] : 0.0f;
    __syncwarp();
    mlp_lanes(networks.weights, networks.mlp[RD_APPEARANCE_DC], head, out, lane);
    mlp_lanes(networks.weights, networks.mlp[RD_APPEARANCE_OPACITY], head, out + 3 + RD_APPEARANCE_MAX_OUTPUTS, lane);
    if (networks.mlp[RD_APPEARANCE_REST].outputs > 0) {
        __syncwarp();
        if (lane < 3) head[RD_APPEARANCE_LATENT + lane] = active ? features[3 + lane] : 0.0f;
        __syncwarp();
        mlp_lanes(networks.weights, networks.mlp[RD_APPEARANCE_REST], head, out + 3, lane);
    }
    __syncwarp();
    if (!active) return;
    if (lane == 0) opacities[i] = out[3 + RD_APPEARANCE_MAX_OUTPUTS];
    for (uint32_t k = lane; k < floats; k += LANES) sh[(size_t)i * floats + k] = out[k];
}

__global__ void __launch_bounds__(THREADS) statics_kernel(uint32_t count, const float *log_scales, const float *rotations,
                                                          rd_slice4d_static *out)
{
    uint32_t i = blockIdx.x * THREADS + threadIdx.x;
    if (i < count) rd_slice4d_static_of(log_scales + 4 * (size_t)i, rotations + 8 * (size_t)i, &out[i]);
}

static unsigned int blocks_for(int64_t n) { return (unsigned int)((n + THREADS - 1) / THREADS); }
static cudaStream_t stream_of(rd_context *ctx, void *stream) { return stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream; }

extern "C" rd_result rd_slice4d_statics_cuda(rd_context *ctx, const rd_scene4d *device, void *stream)
{
    if (device->count > (int64_t)UINT32_MAX - THREADS)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "4D statics (cuda): %lld Gaussians are more than it indexes", (long long)device->count);
    if (device->count > 0)
        statics_kernel<<<blocks_for(device->count), THREADS, 0, stream_of(ctx, stream)>>>(
            (uint32_t)device->count, device->log_scales, device->rotations, device->fixed);
    return rd_cuda_check(ctx, cudaGetLastError(), "4D statics (cuda)");
}

/* A block slices SLICE_GAUSSIANS Gaussians: first a thread each of them finds its temporal
   weight, writes its mean, scales, rotation and opacity (or the NaN mean of a culled one)
   and puts its colour terms' cosines in shared memory; then the block's threads fold the
   colour, a float each in turn, so that a warp reads and writes consecutive floats of the
   colour arrays, which are most of the bytes (a thread a Gaussian read rows 576 bytes
   apart: 1M Gaussians took about 4 ms of wall clock; a thread a float with its own
   cosines, about 0.6 ms). */
enum { SLICE_GAUSSIANS = 32 };
__global__ void __launch_bounds__(THREADS) slice_kernel(uint32_t count, const float4 *means4, const rd_slice4d_static *statics,
                                                        const float *opacities4, const float *sh4, uint32_t floats, uint32_t terms,
                                                        float time, float two_pi_over_period, float *means, float *log_scales,
                                                        float *rotations, float *opacities, float *sh)
{
    __shared__ float s_cos[SLICE_GAUSSIANS][RD_4D_MAX_TIME_DEGREE + 1];
    __shared__ bool s_alive[SLICE_GAUSSIANS];
    const uint32_t first = blockIdx.x * SLICE_GAUSSIANS;
    if (threadIdx.x < SLICE_GAUSSIANS) {
        uint32_t i = first + threadIdx.x;
        bool alive = false;
        if (i < count) {
            float4 mean = means4[i];
            const rd_slice4d_static f = statics[i];
            float dt = __fsub_rn(time, mean.w), exponent = __fmul_rn(__fmul_rn(dt, dt), f.half_inv_w);
            alive = exponent < RD_4D_CULL_EXPONENT;
            if (!alive) means[3 * (size_t)i] = __int_as_float(0x7fc00000);
            else {
                const float m[3] = {mean.x, mean.y, mean.z};
                for (int a = 0; a < 3; a++) {
                    means[3 * (size_t)i + a] = __fadd_rn(m[a], __fmul_rn(f.velocity[a], dt));
                    log_scales[3 * (size_t)i + a] = f.log_scale[a];
                }
                for (int a = 0; a < 4; a++) rotations[4 * (size_t)i + a] = f.rotation[a];
                float o = opacities4[i], p = expf(-exponent);
                float softplus_minus_o = -o > 20.0f ? -o : log1pf(expf(-o));
                opacities[i] = -softplus_minus_o - exponent - logf((1.0f - p) + p / (1.0f + expf(o)));
                for (uint32_t n = 0; n < terms; n++) s_cos[threadIdx.x][n] = cosf(two_pi_over_period * (float)n * (mean.w - time));
            }
        }
        s_alive[threadIdx.x] = alive;
    }
    __syncthreads();
    const uint32_t here = count - first < SLICE_GAUSSIANS ? count - first : SLICE_GAUSSIANS;
    for (uint32_t e = threadIdx.x; e < here * floats; e += THREADS) {
        uint32_t g = e / floats, k = e - g * floats;
        if (!s_alive[g]) continue;
        size_t i = first + g;
        const float *from = sh4 + i * terms * floats + k;
        float sum = 0.0f;
        for (uint32_t n = 0; n < terms; n++) sum = __fadd_rn(sum, __fmul_rn(s_cos[g][n], from[(size_t)n * floats]));
        sh[i * floats + k] = sum;
    }
}

extern "C" void rd_slice4d_cuda_free_state(rd_context *ctx, void *state)
{
    slice_cuda_state *st = (slice_cuda_state *)state;
    if (!st) return;
    rd_slice4d_target_free(ctx, &st->target);
    for (int k = 0; k < SOURCES; k++) rd_cuda_release(ctx, &st->source[k]);
    for (int k = 0; k < 2; k++) rd_cuda_release(ctx, &st->networks[k]), rd_cuda_release(ctx, &st->evaluated[k]);
    free(st);
}

extern "C" rd_result rd_slice4d_into_cuda(rd_context *ctx, const rd_scene4d *device, float time, void *stream,
                                          const rd_slice4d_target *target)
{
    if (device->count > (int64_t)UINT32_MAX - THREADS)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "4D render (cuda): %lld Gaussians are more than it indexes", (long long)device->count);
    uint32_t floats = 3 * (uint32_t)rd_sh_coeffs(device->sh_degree);
    if (device->count > 0)
        slice_kernel<<<(unsigned int)((device->count + SLICE_GAUSSIANS - 1) / SLICE_GAUSSIANS), THREADS, 0, stream_of(ctx, stream)>>>(
            (uint32_t)device->count, (const float4 *)device->means, device->fixed, device->opacities, device->sh, floats,
            (uint32_t)device->time_degree + 1, time, 6.283185307179586f / device->time_period, (float *)target->arrays[0],
            (float *)target->arrays[1], (float *)target->arrays[2], (float *)target->arrays[3], (float *)target->arrays[4]);
    return rd_cuda_check(ctx, cudaGetLastError(), "4D slice (cuda)");
}

/* The scene's arrays on the device, their statics and room for its slice, with the device
   scene over it, where the scene differs from the last one rendered. */
static rd_result upload_scene(rd_context *ctx, slice_cuda_state *st, const rd_scene4d *s)
{
    if (st->uid == s->head.uid) return RD_OK;
    st->uid = 0, st->evaluated_at.ready = false;
    size_t n = (size_t)(s->count > 0 ? s->count : 1), shf = (size_t)rd_scene4d_sh_floats(s->sh_degree, s->time_degree);
    const void *from[SOURCES] = {s->means, s->log_scales, s->rotations, s->opacities, s->sh, NULL};
    const size_t bytes[SOURCES] = {16 * n, 16 * n, 32 * n, 4 * n, 4 * shf * n, sizeof(rd_slice4d_static) * n};
    rd_result r = RD_OK;
    for (int k = 0; k < SOURCES && r == RD_OK; k++) {
        r = rd_cuda_reserve(ctx, &st->source[k], bytes[k], "4D scene");
        if (r == RD_OK && s->count > 0 && from[k]) r = rd_cuda_upload(ctx, &st->source[k], 0, from[k], bytes[k]);
    }
    if (r != RD_OK) return r;
    st->device = *s;
    st->device.means = (float *)st->source[0].ptr, st->device.log_scales = (float *)st->source[1].ptr;
    st->device.rotations = (float *)st->source[2].ptr, st->device.opacities = (float *)st->source[3].ptr;
    st->device.sh = (float *)st->source[4].ptr, st->device.fixed = (rd_slice4d_static *)st->source[5].ptr;
    r = rd_slice4d_statics_cuda(ctx, &st->device, NULL);
    if (r == RD_OK) r = rd_slice4d_target_make(ctx, s, &st->target);
    const rd_appearance4d *a = s->appearance;
    if (r == RD_OK && a) {
        const void *net_from[2];
        size_t net_bytes[2], out_bytes[2];
        rd_slice4d_network_sources(s, net_from, net_bytes, out_bytes);
        for (int k = 0; k < 2 && r == RD_OK; k++) {
            r = rd_cuda_reserve(ctx, &st->networks[k], net_bytes[k], "4D appearance networks");
            if (r == RD_OK && s->count > 0) r = rd_cuda_upload(ctx, &st->networks[k], 0, net_from[k], net_bytes[k]);
            if (r == RD_OK) r = rd_cuda_reserve(ctx, &st->evaluated[k], out_bytes[k], "4D appearance networks");
        }
        st->device_networks = *a;
        st->device_networks.weights = (float *)st->networks[0].ptr, st->device_networks.features = (float *)st->networks[1].ptr;
    }
    if (r == RD_OK) st->uid = s->head.uid;
    return r;
}

/* The networks' colour and opacity at the frame's time, and the scene to slice over them:
   the device scene with those in place of its stored colour (one temporal term) and
   opacities. */
static rd_result evaluate_networks(rd_context *ctx, slice_cuda_state *st, float time, void *stream, rd_scene4d *view)
{
    *view = st->device;
    view->opacities = (float *)st->evaluated[0].ptr, view->sh = (float *)st->evaluated[1].ptr, view->time_degree = 0;
    uint32_t floats = 3 * (uint32_t)rd_sh_coeffs(st->device.sh_degree);
    if (rd_slice4d_evaluated_at(st->evaluated_at, time)) return RD_OK; /* another view at the same time */
    if (st->device.count > 0)
        appearance_kernel<<<(unsigned int)((st->device.count + GROUPS - 1) / GROUPS), LANES * GROUPS, 0, stream_of(ctx, stream)>>>(
            (uint32_t)st->device.count, st->device_networks, (const float4 *)st->device.means, st->device.fixed, time,
            view->opacities, view->sh, floats);
    rd_result r = rd_cuda_check(ctx, cudaGetLastError(), "4D appearance networks (cuda)");
    st->evaluated_at = (rd_slice4d_evaluated){r == RD_OK, time};
    return r;
}

extern "C" rd_result rd_slice4d_cuda(rd_context *ctx, const rd_scene4d *s, const rd_render_desc *desc, const rd_scene **sliced,
                                     const rd_scene4d **device)
{
    void **slot = rd_context_slot(ctx, RD_SCENE_GAUSSIANS_4D);
    if (!*slot && !(*slot = calloc(1, sizeof(slice_cuda_state))))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D render (cuda): out of memory");
    slice_cuda_state *st = (slice_cuda_state *)*slot;
    rd_result r = upload_scene(ctx, st, s);
    rd_scene4d with_networks;
    if (r == RD_OK && s->appearance) r = evaluate_networks(ctx, st, desc->time, desc->stream, &with_networks);
    if (r == RD_OK)
        r = rd_slice4d_into_cuda(ctx, s->appearance ? &with_networks : &st->device, desc->time, desc->stream, &st->target);
    if (r != RD_OK) return r;
    *sliced = st->target.scene;
    if (device) *device = &st->device;
    return RD_OK;
}

extern "C" rd_result rd_slice4d_render_cuda(rd_context *ctx, const rd_scene4d *s, const rd_camera *camera, const rd_render_desc *desc,
                                            const rd_framebuffer *target, rd_render_stats *stats)
{
    const rd_scene *sliced = NULL;
    rd_result r = rd_slice4d_cuda(ctx, s, desc, &sliced, NULL);
    return r == RD_OK ? rd_kind(RD_SCENE_GAUSSIANS)->backends[RD_BACKEND_CUDA].render(ctx, sliced, camera, desc, target, stats) : r;
}
