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
    rd_cuda_buffer networks[2], evaluated[2], active; /* active: the kept Gaussians' list */
    rd_appearance4d device_networks;
    bool tile_ready; /* the networks' kernel allowed its shared memory */
    rd_slice4d_evaluated evaluated_at;
} slice_cuda_state;

/* The networks' evaluation as small matrix products: a block takes TILE Gaussians of the
   frame's kept ones (active_kernel's list: most of a 4D scene is culled at any one time),
   stages one MLP's weights in shared memory (transposed on the host,
   rd_appearance4d_transposed: a row an input, shared by the tile) and each thread sums
   4 Gaussians x 4 hidden units from there, 16 products a pair of loads (the 16 lanes a
   Gaussian this replaced were latency-bound: H100, 7,369 Gaussians, 182 us at 43%
   occupancy; a thread a Gaussian was slower still). Each hidden unit is summed in input
   order from its bias, each output in hidden order from its bias, as the CPU does
   (appearance4d.h), with fused multiply-adds: the harness's tolerance, not its bits, and a
   Gaussian's bits do not depend on its place in the list. */
enum {
    TILE = 32,                           /* Gaussians a block */
    TILE_THREADS = 128,                  /* each 4 Gaussians x 4 hidden units */
    HIDDEN_STRIDE = RD_APPEARANCE_HIDDEN + 1, /* a Gaussian's hidden row: no two rows on one bank */
    MLP_FLOATS_MAX = RD_APPEARANCE_HIDDEN * (RD_APPEARANCE_INPUTS + 1) + RD_APPEARANCE_LATENT * (RD_APPEARANCE_HIDDEN + 1),
    INPUT_FLOATS = RD_APPEARANCE_INPUTS * TILE, /* and the hidden rows, after the encoder's first layer */
    TILE_SHARED_FLOATS = INPUT_FLOATS + RD_APPEARANCE_HEAD_INPUTS * TILE + MLP_FLOATS_MAX,
};
static_assert(TILE * HIDDEN_STRIDE <= INPUT_FLOATS, "the hidden rows live where the encoder's inputs were");
static_assert(INPUT_FLOATS % 4 == 0 && TILE % 4 == 0 && RD_APPEARANCE_HIDDEN % 4 == 0, "the float4 loads stay aligned");
static_assert(MLP_FLOATS_MAX >= RD_APPEARANCE_HIDDEN * (RD_APPEARANCE_HEAD_INPUTS + 1) + RD_APPEARANCE_MAX_OUTPUTS * (RD_APPEARANCE_HIDDEN + 1),
              "the encoder is the largest MLP");

/* Each kept Gaussian's index into list[1 + ...], their count in list[0] (zero before). */
__global__ void __launch_bounds__(THREADS) active_kernel(uint32_t count, const float4 *means4, const rd_slice4d_static *statics,
                                                         float time, uint32_t *list)
{
    uint32_t i = blockIdx.x * THREADS + threadIdx.x;
    bool active = false;
    if (i < count) {
        float dt = __fsub_rn(time, means4[i].w), exponent = __fmul_rn(__fmul_rn(dt, dt), statics[i].half_inv_w);
        active = exponent < RD_4D_CULL_EXPONENT; /* the slice's own cull test */
    }
    unsigned int ballot = __ballot_sync(0xffffffffu, active), lane = threadIdx.x % 32;
    uint32_t base = 0;
    if (lane == 0 && ballot) base = atomicAdd(list, (uint32_t)__popc(ballot));
    base = __shfl_sync(0xffffffffu, base, 0);
    if (active) list[1 + base + __popc(ballot & ((1u << lane) - 1u))] = i;
}

__device__ static void stage_mlp(float *w_s, const float *weights, rd_appearance_mlp m)
{
    uint32_t n = rd_appearance_mlp_floats(m.inputs, m.outputs);
    const float *from = weights + m.offset;
    for (uint32_t e = threadIdx.x; e < n; e += TILE_THREADS) w_s[e] = from[e];
}

/* The first layer: in_s (inputs x TILE) to hidden_s (TILE rows of HIDDEN_STRIDE), ReLU
   applied; hidden_s may be in_s (the sums wait in registers for every thread to read). */
__device__ static void hidden_layer(const float *w_s, int inputs, const float *in_s, float *hidden_s)
{
    const int unit = 4 * (threadIdx.x % 16), gaussian = 4 * (threadIdx.x / 16);
    const float *T1 = w_s, *b1 = w_s + RD_APPEARANCE_HIDDEN * inputs;
    float acc[4][4];
#pragma unroll
    for (int g = 0; g < 4; g++)
#pragma unroll
        for (int u = 0; u < 4; u++) acc[g][u] = b1[unit + u];
    for (int k = 0; k < inputs; k++) {
        const float4 x = *(const float4 *)&in_s[k * TILE + gaussian], w = *(const float4 *)&T1[k * RD_APPEARANCE_HIDDEN + unit];
        const float xs[4] = {x.x, x.y, x.z, x.w}, ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
        for (int g = 0; g < 4; g++)
#pragma unroll
            for (int u = 0; u < 4; u++) acc[g][u] = fmaf(ws[u], xs[g], acc[g][u]);
    }
    __syncthreads();
#pragma unroll
    for (int g = 0; g < 4; g++)
#pragma unroll
        for (int u = 0; u < 4; u++) hidden_s[(gaussian + g) * HIDDEN_STRIDE + unit + u] = fmaxf(acc[g][u], 0.0f);
    __syncthreads();
}

/* The output layer: output o of tile Gaussian g to out[g * out_stride + o] for g below
   `here`, or, where out_stride is 0, to the latent rows head_s[o * TILE + g]. */
__device__ static void output_layer(const float *w_s, rd_appearance_mlp m, const float *hidden_s, int here, float *out,
                                    size_t out_stride, const uint32_t *ids)
{
    const float *T2 = w_s + RD_APPEARANCE_HIDDEN * (m.inputs + 1), *b2 = T2 + RD_APPEARANCE_HIDDEN * m.outputs;
    for (int e = threadIdx.x; e < TILE * m.outputs; e += TILE_THREADS) {
        int g = e / m.outputs, o = e - g * m.outputs;
        float sum = b2[o];
        for (int j = 0; j < RD_APPEARANCE_HIDDEN; j++) sum = fmaf(T2[j * m.outputs + o], hidden_s[g * HIDDEN_STRIDE + j], sum);
        if (!out_stride) out[o * TILE + g] = sum;
        else if (g < here) out[ids[g] * out_stride + o] = sum;
    }
}

/* One head (its input: the latent rows and three features in head_s) into out. */
__device__ static void head_network(float *w_s, const float *weights, rd_appearance_mlp m, const float *head_s, float *hidden_s,
                                    int here, float *out, size_t out_stride, const uint32_t *ids)
{
    __syncthreads(); /* the last layer's readers of w_s are done */
    stage_mlp(w_s, weights, m);
    __syncthreads();
    hidden_layer(w_s, m.inputs, head_s, hidden_s);
    output_layer(w_s, m, hidden_s, here, out, out_stride, ids);
}

__global__ void __launch_bounds__(TILE_THREADS) appearance_kernel(rd_appearance4d networks, const float4 *means4, const uint32_t *list,
                                                                  float time, float *opacities, float *sh, uint32_t floats)
{
    extern __shared__ float4 shared4[];
    float *in_s = (float *)shared4, *hidden_s = in_s, *head_s = in_s + INPUT_FLOATS, *w_s = head_s + RD_APPEARANCE_HEAD_INPUTS * TILE;
    __shared__ uint32_t ids[TILE];
    const uint32_t kept = list[0], first = blockIdx.x * TILE;
    if (first >= kept) return;
    const int here = kept - first < TILE ? (int)(kept - first) : TILE;
    stage_mlp(w_s, networks.weights, networks.mlp[RD_APPEARANCE_ENCODER]);
    if (threadIdx.x < TILE) {
        int g = threadIdx.x;
        float v[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        if (g < here) {
            uint32_t i = ids[g] = list[1 + first + g];
            const float4 mean = means4[i];
            const float xyz[3] = {mean.x, mean.y, mean.z};
            rd_appearance_position(&networks, xyz, time, v);
            for (int c = 0; c < 3; c++) head_s[(RD_APPEARANCE_LATENT + c) * TILE + g] = networks.features[RD_APPEARANCE_FEATURES * (size_t)i + c];
        } else
            for (int c = 0; c < 3; c++) head_s[(RD_APPEARANCE_LATENT + c) * TILE + g] = 0.0f;
        for (int d = 0; d < 4; d++) in_s[d * TILE + g] = v[d];
    }
    __syncthreads();
    for (int e = threadIdx.x; e < 4 * RD_APPEARANCE_FREQUENCIES * TILE; e += TILE_THREADS) { /* (k, d): input 4 + 8k + 2d, + 1 */
        int g = e % TILE, pair = e / TILE, k = pair / 4, d = pair % 4;
        rd_appearance_sincos_pi(ldexpf(in_s[d * TILE + g], k), &in_s[(4 + 8 * k + 2 * d) * TILE + g],
                                &in_s[(4 + 8 * k + 2 * d + 1) * TILE + g]);
    }
    __syncthreads();
    const rd_appearance_mlp *mlp = networks.mlp;
    hidden_layer(w_s, RD_APPEARANCE_INPUTS, in_s, hidden_s);
    output_layer(w_s, mlp[RD_APPEARANCE_ENCODER], hidden_s, here, head_s, 0, ids);
    head_network(w_s, networks.weights, mlp[RD_APPEARANCE_DC], head_s, hidden_s, here, sh, floats, ids);
    head_network(w_s, networks.weights, mlp[RD_APPEARANCE_OPACITY], head_s, hidden_s, here, opacities, 1, ids);
    if (mlp[RD_APPEARANCE_REST].outputs > 0) {
        __syncthreads(); /* the opacity's hidden layer has read head_s's features */
        if (threadIdx.x < TILE)
            for (int c = 0; c < 3; c++)
                head_s[(RD_APPEARANCE_LATENT + c) * TILE + threadIdx.x] =
                    (int)threadIdx.x < here ? networks.features[RD_APPEARANCE_FEATURES * (size_t)ids[threadIdx.x] + 3 + c] : 0.0f;
        head_network(w_s, networks.weights, mlp[RD_APPEARANCE_REST], head_s, hidden_s, here, sh + 3, floats, ids);
    }
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
    rd_cuda_release(ctx, &st->active);
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

/* The networks' weights (transposed for the tiles) and features on the device, room for
   their outputs and for the list of kept Gaussians. */
static rd_result upload_networks(rd_context *ctx, slice_cuda_state *st, const rd_scene4d *s)
{
    rd_slice4d_networks up;
    rd_result r = rd_slice4d_networks_make(ctx, s, "4D render (cuda)", &up);
    for (int k = 0; k < 2 && r == RD_OK; k++) {
        r = rd_cuda_reserve(ctx, &st->networks[k], up.bytes[k], "4D appearance networks");
        if (r == RD_OK && s->count > 0) r = rd_cuda_upload(ctx, &st->networks[k], 0, up.from[k], up.bytes[k]);
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &st->evaluated[k], up.out_bytes[k], "4D appearance networks");
    }
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &st->active, up.list_bytes, "4D appearance networks");
    rd_slice4d_networks_free(&up);
    if (r == RD_OK && !st->tile_ready)
        r = rd_cuda_check(ctx, cudaFuncSetAttribute(appearance_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                                    (int)(TILE_SHARED_FLOATS * sizeof(float))),
                          "4D appearance networks (cuda)");
    st->tile_ready = r == RD_OK;
    st->device_networks = *s->appearance;
    st->device_networks.weights = (float *)st->networks[0].ptr, st->device_networks.features = (float *)st->networks[1].ptr;
    return r;
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
    if (r == RD_OK && a) r = upload_networks(ctx, st, s);
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
    cudaStream_t on = stream_of(ctx, stream);
    uint32_t count = (uint32_t)st->device.count, *list = (uint32_t *)st->active.ptr;
    if (count > 0) {
        rd_result cleared = rd_cuda_check(ctx, cudaMemsetAsync(list, 0, sizeof(uint32_t), on), "4D appearance networks (cuda)");
        if (cleared != RD_OK) return cleared;
        active_kernel<<<blocks_for(count), THREADS, 0, on>>>(count, (const float4 *)st->device.means, st->device.fixed, time, list);
        appearance_kernel<<<(count + TILE - 1) / TILE, TILE_THREADS, TILE_SHARED_FLOATS * sizeof(float), on>>>(
            st->device_networks, (const float4 *)st->device.means, list, time, view->opacities, view->sh, floats);
    }
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
