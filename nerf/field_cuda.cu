/* field_cuda.cu: field.c's field on CUDA (field.h): the hash features (through the
   saliency mask and its density gate where the field has one), the density network, exp
   of its first output (clamped to +-15) and the direction's SH beside its 16 outputs, the
   colour network and a sigmoid; the backward pass back through each. The activations
   between the networks are one thread a point. */
#include "field.h"
#include "direction.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256, DENSITY_OUTPUTS = 16 };
/* groups of 4 of the colour network's input: its 16 density outputs and 16 SH values
   (the layout rd_nerf_field_layout makes, checked in the launches) */
enum { GROUPS = (DENSITY_OUTPUTS + RD_DIRECTION_VALUES) / 4 };

__device__ __forceinline__ float clamped_exp_argument(float x) { return isnan(x) ? x : fminf(fmaxf(x, -15.0f), 15.0f); }

static unsigned blocks(int64_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

/* sigma from the density network's first output; the colour network's input: the 16
   outputs, then the direction's SH (colour_in NULL: the density alone). A thread a sample
   and group of 4 of the input's 32 values, so that reads and writes are whole float4s
   side by side: a thread a sample left them 64 and 128 bytes apart. */
__global__ void density_kernel(const float *density_out, const float *dirs, const float *gate, long long n, int colour_inputs,
                               float *sigma, float *colour_in)
{
    int groups = colour_in ? GROUPS : 1;
    long long e = (long long)blockIdx.x * THREADS + threadIdx.x, i = e / groups;
    int group = (int)(e % groups);
    if (i >= n) return;
    const float *out = density_out + i * DENSITY_OUTPUTS;
    if (group == 0) sigma[i] = expf(clamped_exp_argument(out[0])) * (gate ? gate[i] : 1.0f);
    if (!colour_in) return;
    float4 v;
    if (group < DENSITY_OUTPUTS / 4) {
        v = *(const float4 *)(out + 4 * group);
    } else {
        float d[3] = {dirs[3 * i], dirs[3 * i + 1], dirs[3 * i + 2]}, sh[RD_DIRECTION_VALUES];
        rd_direction_encode(d, sh);
        int at = 4 * group - DENSITY_OUTPUTS;
        v = make_float4(sh[at], sh[at + 1], sh[at + 2], sh[at + 3]);
    }
    *(float4 *)(colour_in + i * colour_inputs + 4 * group) = v;
}

/* The mask's kernels: MASK_LANES lanes a point, each over every MASK_LANES-th of its k
   features, so that a group's loads are 32-byte runs (a thread a point left each lane's
   loads 128 bytes apart: the mask then doubled a lego training step); the point's sums
   across its lanes by shuffles. */
enum { MASK_LANES = 8 };

__device__ __forceinline__ float lanes_sum(float x)
{
    for (int o = MASK_LANES / 2; o > 0; o /= 2) x += __shfl_xor_sync(0xffffffffu, x, o, MASK_LANES);
    return x;
}

/* field.c's encode and gate_of: keep = sigmoid(trilinear logits), the masked features v =
   keep x the hash features, the gate tanh(alpha |v|). */
__global__ void mask_kernel(const float *logits, int resolution, const float *positions, const float *hash_features, long long n,
                            int k, float sharpness, float *keep, float *features, float *gate)
{
    long long t = (long long)blockIdx.x * THREADS + threadIdx.x, i = t / MASK_LANES;
    int lane = (int)(t % MASK_LANES);
    bool live = i < n; /* no early return: every lane takes part in the shuffles */
    float p = 0.0f, squares = 0.0f;
    if (live && lane == 0) {
        int64_t at[8];
        float weight[8], sum = 0.0f;
        rd_saliency_corners(resolution, positions + 3 * i, at, weight);
        for (int c = 0; c < 8; c++) sum += weight[c] * logits[at[c]];
        p = rd_saliency_keep(sum);
    }
    p = __shfl_sync(0xffffffffu, p, 0, MASK_LANES);
    for (int j = lane; live && j < k; j += MASK_LANES) {
        float v = p * hash_features[i * k + j];
        features[i * k + j] = v;
        squares += v * v;
    }
    squares = lanes_sum(squares);
    if (live && lane == 0) keep[i] = p, gate[i] = tanhf(sharpness * sqrtf(squares));
}

/* field.c's mask_backward up to the logits: the gate's term joins the masked features'
   gradient, whose dot with the hash features is the keep value's; g_keep its gradient
   through the sigmoid; the features' gradient leaves scaled by keep (nothing below
   RD_SALIENCY_PRUNED_KEEP). */
__global__ void mask_backward_kernel(const float *features, const float *hash_features, const float *keep, const float *density_out,
                                     const float *g_sigma, long long n, int k, float sharpness, float *g_features, float *g_keep)
{
    long long t = (long long)blockIdx.x * THREADS + threadIdx.x, i = t / MASK_LANES;
    int lane = (int)(t % MASK_LANES);
    bool live = i < n;
    float squares = 0.0f, dot = 0.0f, coef = 0.0f, p = live ? keep[i] : 0.0f;
    for (int j = lane; live && j < k; j += MASK_LANES) squares += features[i * k + j] * features[i * k + j];
    float norm = sqrtf(lanes_sum(squares)), gate = tanhf(sharpness * norm);
    if (live && norm > 0.0f) /* d sigma / d v = exp(...) alpha (1 - gate^2) v / |v| */
        coef = g_sigma[i] * expf(clamped_exp_argument(density_out[i * DENSITY_OUTPUTS])) * sharpness * (1.0f - gate * gate) / norm;
    for (int j = lane; live && j < k; j += MASK_LANES) {
        float g = g_features[i * k + j] + coef * features[i * k + j];
        dot += hash_features[i * k + j] * g;
        g_features[i * k + j] = p < RD_SALIENCY_PRUNED_KEEP ? 0.0f : g * p; /* field.c: a pruned point sends the table nothing */
    }
    dot = lanes_sum(dot);
    if (live && lane == 0) g_keep[i] = dot * p * (1.0f - p);
}

/* The logits' gradient: each point's g_keep times its 8 trilinear weights, with float
   atomics. A training batch holds each ray's samples in order, about ten to a mask cell,
   so a warp's lanes that add into the same logit side by side are summed first (a
   segmented reduction by shuffles) and only the run's first lane adds. */
__global__ void mask_scatter_kernel(const float *positions, const float *g_keep, long long n, int resolution, float *grad_logits)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    int lane = (int)(threadIdx.x % 32);
    bool live = i < n;
    int64_t at[8];
    float weight[8], g = live ? g_keep[i] : 0.0f;
    if (live) rd_saliency_corners(resolution, positions + 3 * i, at, weight);
    for (int c = 0; c < 8; c++) {
        long long key = live ? (long long)at[c] : -1 - lane; /* a lane past n matches nothing */
        float v = live ? weight[c] * g : 0.0f;
        long long after = __shfl_down_sync(0xffffffffu, key, 1), before = __shfl_up_sync(0xffffffffu, key, 1);
        unsigned run_ends = __ballot_sync(0xffffffffu, lane == 31 || after != key);
        int end = __ffs(run_ends & (0xffffffffu << lane)) - 1; /* the last lane of this lane's run */
        for (int o = 1; o < 32; o *= 2) {
            float other = __shfl_down_sync(0xffffffffu, v, o);
            if (lane + o <= end) v += other;
        }
        if (live && (lane == 0 || before != key)) atomicAdd(&grad_logits[key], v);
    }
}

__global__ void sigmoid_kernel(const float *x, long long n, float *y)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i < n) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

__global__ void colour_grad_kernel(const float *colour_out, const float *g_rgb, long long n, float *g_out)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i >= n) return;
    float y = 1.0f / (1.0f + expf(-colour_out[i]));
    g_out[i] = g_rgb[i] * y * (1.0f - y);
}

/* the density network's output gradient: the colour network's input gradient's first 16,
   and sigma's through exp (of the clamped argument, as field.c takes it); a thread a
   sample and group of 4 outputs, as density_kernel */
__global__ void density_grad_kernel(const float *g_colour_in, int colour_inputs, const float *density_out, const float *g_sigma,
                                    const float *gate, long long n, float *g_density_out)
{
    long long e = (long long)blockIdx.x * THREADS + threadIdx.x, i = e / (DENSITY_OUTPUTS / 4);
    int group = (int)(e % (DENSITY_OUTPUTS / 4));
    if (i >= n) return;
    float4 g = *(const float4 *)(g_colour_in + i * colour_inputs + 4 * group);
    if (group == 0) g.x += g_sigma[i] * expf(clamped_exp_argument(density_out[i * DENSITY_OUTPUTS])) * (gate ? gate[i] : 1.0f);
    *(float4 *)(g_density_out + i * DENSITY_OUTPUTS + 4 * group) = g;
}

/* Whether the mask's buffers hold `rows` points of field f (each buffer its own size:
   rd_cuda_reserve's slack differs between them). */
static bool mask_buffers_hold(const rd_nerf_field *f, const rd_nerf_field_scratch_cuda *s, size_t rows)
{
    return s->hash_features.bytes >= rows * (size_t)f->density.inputs * 4 && s->keep.bytes >= rows * 4 && s->gate.bytes >= rows * 4 &&
           s->g_keep.bytes >= rows * 4;
}

extern "C" rd_result rd_nerf_field_scratch_cuda_reserve(rd_context *ctx, const rd_nerf_field *f, int64_t n,
                                                        rd_nerf_field_scratch_cuda *s)
{
    const rd_mlp *had[2] = {&s->density, &s->colour}, *wants[2] = {&f->density, &f->colour};
    bool same = true;
    for (int k = 0; k < 2; k++)
        same &= had[k]->inputs == wants[k]->inputs && had[k]->width == wants[k]->width &&
                had[k]->hidden_layers == wants[k]->hidden_layers && had[k]->outputs == wants[k]->outputs;
    size_t rows = (size_t)(n > 0 ? n : 1), density_act = 0, colour_act = 0;
    bool masked = f->saliency.resolution > 0;
    if (same && n <= s->capacity && (!masked || mask_buffers_hold(f, s, rows))) return RD_OK;
    if (!same) rd_nerf_field_scratch_cuda_free(ctx, s);
    if (same && (int64_t)rows < s->capacity) rows = (size_t)s->capacity; /* the mask's buffers alone are new: keep the capacity */
    rd_result r = rd_mlp_activation_bytes_cuda(ctx, &f->density, (int64_t)rows, &density_act);
    if (r == RD_OK) r = rd_mlp_activation_bytes_cuda(ctx, &f->colour, (int64_t)rows, &colour_act);
    struct {
        rd_cuda_buffer *buf;
        size_t bytes;
    } parts[] = {{&s->features, rows * f->density.inputs * 4}, {&s->density_out, rows * DENSITY_OUTPUTS * 4},
                 {&s->colour_in, rows * f->colour.inputs * 4}, {&s->colour_out, rows * 3 * 4},
                 {&s->density_act, density_act}, {&s->colour_act, colour_act},
                 {&s->g_features, rows * f->density.inputs * 4}, {&s->g_density_out, rows * DENSITY_OUTPUTS * 4},
                 {&s->g_colour_in, rows * f->colour.inputs * 4}, {&s->g_colour_out, rows * 3 * 4},
                 {&s->hash_features, masked ? rows * f->density.inputs * 4 : 0}, {&s->keep, masked ? rows * 4 : 0},
                 {&s->gate, masked ? rows * 4 : 0}, {&s->g_keep, masked ? rows * 4 : 0}};
    for (size_t k = 0; k < sizeof parts / sizeof parts[0] && r == RD_OK; k++)
        if (parts[k].bytes) r = rd_cuda_reserve(ctx, parts[k].buf, parts[k].bytes, "the NeRF field's scratch");
    s->capacity = r == RD_OK ? (int64_t)rows : 0;
    if (r == RD_OK) s->density = f->density, s->colour = f->colour;
    return r;
}

extern "C" void rd_nerf_field_scratch_cuda_free(rd_context *ctx, rd_nerf_field_scratch_cuda *s)
{
    rd_cuda_buffer *all[] = {&s->features, &s->density_out, &s->colour_in, &s->colour_out, &s->density_act,
                             &s->colour_act, &s->g_features, &s->g_density_out, &s->g_colour_in, &s->g_colour_out,
                             &s->hash_features, &s->keep, &s->gate, &s->g_keep};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) rd_cuda_release(ctx, all[k]);
    s->capacity = 0;
    s->density = s->colour = rd_mlp{};
}

static rd_result check_capacity(rd_context *ctx, const rd_nerf_field *f, const rd_nerf_field_scratch_cuda *s, int64_t n,
                                const char *what)
{
    if (n > s->capacity)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %lld points, the scratch holds %lld", what, (long long)n, (long long)s->capacity);
    if (f->saliency.resolution && !mask_buffers_hold(f, s, (size_t)(n > 0 ? n : 1)))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the scratch was reserved for a field without a saliency mask", what);
    return RD_OK;
}

/* The density network's part, shared by the forward pass and the density alone. */
static rd_result density_part(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, const float *dirs,
                              int64_t n, rd_nerf_field_scratch_cuda *s, float *sigma, bool keep, cudaStream_t st)
{
    float *features = (float *)s->features.ptr, *density_out = (float *)s->density_out.ptr;
    bool masked = f->saliency.resolution > 0;
    rd_result r = rd_hashgrid_forward_cuda(ctx, &f->grid, params, positions, n, masked ? (float *)s->hash_features.ptr : features, st);
    if (r == RD_OK && masked && n > 0) {
        mask_kernel<<<blocks(MASK_LANES * n), THREADS, 0, st>>>(params + f->saliency_offset, f->saliency.resolution, positions,
                                                  (const float *)s->hash_features.ptr, n, f->density.inputs, f->gate_sharpness,
                                                  (float *)s->keep.ptr, features, (float *)s->gate.ptr);
        r = rd_cuda_check(ctx, cudaGetLastError(), "NeRF saliency mask");
    }
    if (r == RD_OK)
        r = rd_mlp_forward_cuda(ctx, &f->density, params + f->density_offset, features, n, density_out,
                                keep ? s->density_act.ptr : NULL, st);
    if (r != RD_OK || n == 0) return r;
    if (f->colour.inputs != GROUPS * 4 || f->density.outputs != DENSITY_OUTPUTS)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF density: networks of %d outputs and %d inputs, not %d and %d",
                       f->density.outputs, f->colour.inputs, DENSITY_OUTPUTS, GROUPS * 4);
    density_kernel<<<blocks((dirs ? GROUPS : 1) * n), THREADS, 0, st>>>(density_out, dirs, masked ? (const float *)s->gate.ptr : NULL,
                                                                         n, f->colour.inputs, sigma,
                                                                         dirs ? (float *)s->colour_in.ptr : NULL);
    return rd_cuda_check(ctx, cudaGetLastError(), "NeRF density");
}

extern "C" rd_result rd_nerf_field_forward_cuda(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions,
                                                const float *dirs, int64_t n, rd_nerf_field_scratch_cuda *s, float *sigma,
                                                float *rgb, void *stream)
{
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    rd_result r = check_capacity(ctx, f, s, n, "NeRF field forward");
    if (r == RD_OK) r = density_part(ctx, f, params, positions, dirs, n, s, sigma, true, st);
    if (r == RD_OK)
        r = rd_mlp_forward_cuda(ctx, &f->colour, params + f->colour_offset, (const float *)s->colour_in.ptr, n,
                                (float *)s->colour_out.ptr, s->colour_act.ptr, st);
    if (r != RD_OK || n == 0) return r;
    sigmoid_kernel<<<blocks(3 * n), THREADS, 0, st>>>((const float *)s->colour_out.ptr, 3 * n, rgb);
    return rd_cuda_check(ctx, cudaGetLastError(), "NeRF colour");
}

extern "C" rd_result rd_nerf_field_density_cuda(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions,
                                                int64_t n, rd_nerf_field_scratch_cuda *s, float *sigma, void *stream)
{
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    rd_result r = check_capacity(ctx, f, s, n, "NeRF density");
    return r == RD_OK ? density_part(ctx, f, params, positions, NULL, n, s, sigma, false, st) : r;
}

extern "C" rd_result rd_nerf_field_backward_cuda(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions,
                                                 int64_t n, rd_nerf_field_scratch_cuda *s, const float *g_sigma, const float *g_rgb,
                                                 float *grad_params, void *stream)
{
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    rd_result r = check_capacity(ctx, f, s, n, "NeRF field backward");
    if (r != RD_OK || n == 0) return r;
    float *g_colour_out = (float *)s->g_colour_out.ptr, *g_colour_in = (float *)s->g_colour_in.ptr;
    float *g_density_out = (float *)s->g_density_out.ptr, *g_features = (float *)s->g_features.ptr;
    colour_grad_kernel<<<blocks(3 * n), THREADS, 0, st>>>((const float *)s->colour_out.ptr, g_rgb, 3 * n, g_colour_out);
    r = rd_cuda_check(ctx, cudaGetLastError(), "NeRF colour backward");
    if (r == RD_OK)
        r = rd_mlp_backward_cuda(ctx, &f->colour, params + f->colour_offset, (const float *)s->colour_in.ptr, n, s->colour_act.ptr,
                                 g_colour_out, grad_params + f->colour_offset, g_colour_in, st);
    if (r != RD_OK) return r;
    bool masked = f->saliency.resolution > 0;
    density_grad_kernel<<<blocks(DENSITY_OUTPUTS / 4 * n), THREADS, 0, st>>>(g_colour_in, f->colour.inputs, (const float *)s->density_out.ptr,
                                                                              g_sigma, masked ? (const float *)s->gate.ptr : NULL, n,
                                                                              g_density_out);
    r = rd_cuda_check(ctx, cudaGetLastError(), "NeRF density backward");
    if (r == RD_OK)
        r = rd_mlp_backward_cuda(ctx, &f->density, params + f->density_offset, (const float *)s->features.ptr, n,
                                 s->density_act.ptr, g_density_out, grad_params + f->density_offset, g_features, st);
    if (r == RD_OK && masked) {
        mask_backward_kernel<<<blocks(MASK_LANES * n), THREADS, 0, st>>>(
            (const float *)s->features.ptr, (const float *)s->hash_features.ptr, (const float *)s->keep.ptr,
            (const float *)s->density_out.ptr, g_sigma, n, f->density.inputs, f->gate_sharpness, g_features, (float *)s->g_keep.ptr);
        mask_scatter_kernel<<<blocks(n), THREADS, 0, st>>>(positions, (const float *)s->g_keep.ptr, n, f->saliency.resolution,
                                                          grad_params + f->saliency_offset);
        r = rd_cuda_check(ctx, cudaGetLastError(), "NeRF saliency mask backward");
    }
    if (r == RD_OK) r = rd_hashgrid_backward_cuda(ctx, &f->grid, params, positions, n, g_features, grad_params, NULL, st);
    return r;
}
