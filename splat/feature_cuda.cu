/* feature_cuda.cu: a feature field's outputs on CUDA, as feature_vk.c's on Vulkan and
   feature_render.c's on the CPU: the splat frame's preprocess, binning and sorts
   (rd_splat_cuda_forward_saved, no colour written), then one launch a level of
   level_kernel: a block a tile (half a tile where L > 128), a thread a pixel walking the
   tile's Gaussians front to back (staged a batch at a time in shared memory) with the CPU's
   alpha and stopping rules into the level's
   L coefficients, held in shared memory ([channel][pixel], padded against bank
   conflicts). From there, in the same launch and as asked: the coefficients written out
   (coalesced, a pixel's row at a time), each query's relevancy by the gram path (phi.e =
   W.u_e / (sqrt(W^T G W) + eps), G and u made on the host), and the level's unit features
   (F = D^T W over the norm, float or IEEE halves), so that nothing but what was asked
   crosses device memory. The field's slots and codebooks go to the device once per field
   (recognised by its uid); the buffers stay with the splat frame's state. */
#include "features.h"
#include "splat_cuda_frame.cuh"

#include <cuda_fp16.h>

#define FEATURE_EPS 1e-10f
enum { DECODE_PIXELS = 8, /* of a tile row's 16 */
       BATCH = 128 };     /* Gaussians staged at a time (the static shared memory: 6 KB beside the accumulators) */

typedef struct feature_cuda {
    uint64_t field_uid; /* whose slots and codebooks indices, weights and codebooks hold */
    rd_cuda_buffer indices, weights, codebooks, coefficients, alpha, gram, projected, scores, features;
    rd_cuda_buffer row_sums, peaks, chosen, relevancy; /* the level choice's (feature_cuda_levels.cu) */
} feature_cuda;

/* One level's launch: what it reads and writes (NULL where not wanted). */
typedef struct level_params {
    rd_view_params vp;
    const tile_range *ranges;
    const unsigned int *values;
    const device_splat *splats;
    const unsigned char *indices;
    const __half *weights;
    int level, levels, L, K, dim, pixel_rows; /* pixel_rows: of a tile, per block (16 or 8) */
    float *coefficients, *alpha;              /* pixels*levels*L, pixels */
    const float *gram, *projected, *codebook; /* the level's G (L*L), its u (embeddings*L), its D (L*dim) */
    int queries, negatives;
    float *scores;   /* queries*levels*pixels */
    void *features;  /* pixels*dim, float or half */
    bool half_features;
} level_params;

static void free_state(rd_context *ctx, void *state)
{
    feature_cuda *s = (feature_cuda *)state;
    if (!s) return;
    rd_cuda_buffer *buffers[] = {&s->indices, &s->weights,   &s->codebooks, &s->coefficients, &s->alpha, &s->gram,
                                 &s->projected, &s->scores, &s->features, &s->row_sums,     &s->peaks, &s->chosen, &s->relevancy};
    for (rd_cuda_buffer *b : buffers) rd_cuda_release(ctx, b);
    free(s);
}

/* |F|^2 of the pixel whose coefficients are W[c * stride]: W^T G W, or where dim < L from
   F = D^T W itself (fewer operations, no cancellation), as feature_relevancy.comp. */
__device__ static float squared_norm(const level_params &p, const float *W, int stride)
{
    float quad = 0.0f;
    if (p.dim < p.L) {
        for (int d = 0; d < p.dim; d++) {
            float F = 0.0f;
            for (int c = 0; c < p.L; c++) F += W[c * stride] * __ldg(p.codebook + (size_t)c * p.dim + d);
            quad += F * F;
        }
        return quad;
    }
    for (int a = 0; a < p.L; a++) { /* G is symmetric: the diagonal, and twice the lower triangle */
        float wa = W[a * stride];
        if (wa == 0.0f) continue;
        float s = 0.0f;
        for (int b = 0; b < a; b++) s += __ldg(p.gram + a * p.L + b) * W[b * stride];
        quad += wa * (2.0f * s + __ldg(p.gram + a * p.L + a) * wa);
    }
    return quad;
}

/* Each query's relevancy at this level: sigmoid(10 (phi.q - max_n phi.n)). */
__device__ static void relevancy(const level_params &p, const float *W, int stride, float inv_norm, size_t pixel, size_t pixels)
{
    float negative = -INFINITY;
    for (int e = p.queries; e < p.queries + p.negatives; e++) {
        float dot = 0.0f;
        for (int c = 0; c < p.L; c++) dot += W[c * stride] * __ldg(p.projected + (size_t)e * p.L + c);
        negative = fmaxf(negative, dot * inv_norm);
    }
    for (int q = 0; q < p.queries; q++) {
        float dot = 0.0f;
        for (int c = 0; c < p.L; c++) dot += W[c * stride] * __ldg(p.projected + (size_t)q * p.L + c);
        p.scores[((size_t)q * p.levels + p.level) * pixels + pixel] = 1.0f / (1.0f + expf(-10.0f * (dot * inv_norm - negative)));
    }
}

__global__ void level_kernel(level_params p)
{
    extern __shared__ float shared[]; /* acc[c * (threads + 1) + thread], then each pixel's 1/norm */
    int threads = RD_TILE_SIZE * p.pixel_rows, stride = threads + 1, thread = (int)threadIdx.y * RD_TILE_SIZE + (int)threadIdx.x;
    float *acc = shared, *inv_norms = shared + (size_t)p.L * stride;
    unsigned int tile = blockIdx.y * gridDim.x + blockIdx.x;
    bool live = tile < (unsigned int)(p.vp.tiles_x * p.vp.tiles_y);
    int x0 = live ? (int)(tile % (unsigned int)p.vp.tiles_x) * RD_TILE_SIZE : 0;
    int y0 = live ? (int)(tile / (unsigned int)p.vp.tiles_x) * RD_TILE_SIZE + (int)blockIdx.z * p.pixel_rows : 0;
    int px = x0 + (int)threadIdx.x, py = y0 + (int)threadIdx.y;
    bool inside = live && px < p.vp.width && py < p.vp.height;
    for (int c = 0; c < p.L; c++) acc[c * stride + thread] = 0.0f;
    /* the tile's list in batches staged in shared memory (each Gaussian's record and slots
       loaded once for the block, as the colour blend does), until every pixel is done */
    __shared__ float4 batch_a[BATCH];          /* u, v, conic xx, conic xy */
    __shared__ float2 batch_b[BATCH];          /* conic yy, opacity */
    __shared__ unsigned char batch_index[BATCH * RD_FEATURE_MAX_SLOTS];
    __shared__ __half batch_weight[BATCH * RD_FEATURE_MAX_SLOTS];
    float T = 1.0f;
    bool done = !inside;
    long long start = live ? p.ranges[tile].start : 0, end = live ? p.ranges[tile].end : 0;
    float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
    for (long long base = start; base < end; base += BATCH) {
        if (__syncthreads_count(!done) == 0) break; /* also: the last batch is read by all before it is replaced */
        if (thread < BATCH && base + thread < end) {
            unsigned int g = p.values[base + thread];
            const device_splat s = p.splats[g];
            batch_a[thread] = make_float4(s.u, s.v, s.conic[0], s.conic[1]);
            batch_b[thread] = make_float2(s.conic[2], s.opacity);
            size_t first = ((size_t)g * p.levels + p.level) * p.K;
            for (int k = 0; k < p.K; k++)
                batch_index[thread * p.K + k] = p.indices[first + k], batch_weight[thread * p.K + k] = p.weights[first + k];
        }
        __syncthreads();
        int count = end - base < BATCH ? (int)(end - base) : BATCH;
        for (int j = 0; !done && j < count; j++) {
            float4 a4 = batch_a[j];
            float2 b2 = batch_b[j];
            float a;
            if (!rd_splat_alpha(a4.z, a4.w, b2.x, b2.y, rd_power_cutoff(b2.y), fx - a4.x, fy - a4.y, &a)) continue;
            float next_T = T * (1.0f - a);
            if (next_T < RD_MIN_TRANSMITTANCE) {
                done = true;
                break;
            }
            float w = a * T;
            for (int k = 0; k < p.K; k++) acc[batch_index[j * p.K + k] * stride + thread] += __half2float(batch_weight[j * p.K + k]) * w;
            T = next_T;
        }
    }
    size_t pixels = (size_t)p.vp.width * p.vp.height, pixel = (size_t)py * p.vp.width + px;
    if (inside && p.alpha && p.level == 0) p.alpha[pixel] = 1.0f - T;
    bool need_norm = p.queries > 0 || p.features;
    if (need_norm) {
        float inv = inside ? 1.0f / (sqrtf(fmaxf(squared_norm(p, acc + thread, stride), 0.0f)) + FEATURE_EPS) : 0.0f;
        inv_norms[thread] = inv;
        if (inside && p.queries > 0) relevancy(p, acc + thread, stride, inv, pixel, pixels);
    }
    __syncthreads();
    /* a pixel's row of the output at a time, consecutive threads on consecutive elements */
    size_t row = (size_t)p.levels * p.L;
    if (p.coefficients)
        for (int i = thread; i < threads * p.L; i += threads) {
            int k = i / p.L, c = i % p.L, kx = x0 + k % RD_TILE_SIZE, ky = y0 + k / RD_TILE_SIZE;
            if (live && kx < p.vp.width && ky < p.vp.height)
                p.coefficients[((size_t)ky * p.vp.width + kx) * row + (size_t)p.level * p.L + c] = acc[c * stride + k];
        }
    /* the unit features: a thread an element for DECODE_PIXELS pixels, each codebook entry
       loaded once for them all */
    if (p.features)
        for (int i = thread; i < threads / DECODE_PIXELS * p.dim; i += threads) {
            int k0 = i / p.dim * DECODE_PIXELS, d = i % p.dim;
            float F[DECODE_PIXELS] = {};
            for (int c = 0; c < p.L; c++) {
                float D = __ldg(p.codebook + (size_t)c * p.dim + d);
#pragma unroll
                for (int j = 0; j < DECODE_PIXELS; j++) F[j] += acc[c * stride + k0 + j] * D;
            }
#pragma unroll
            for (int j = 0; j < DECODE_PIXELS; j++) {
                int k = k0 + j, kx = x0 + k % RD_TILE_SIZE, ky = y0 + k / RD_TILE_SIZE;
                if (!live || kx >= p.vp.width || ky >= p.vp.height) continue;
                size_t at = ((size_t)ky * p.vp.width + kx) * p.dim + d;
                if (p.half_features) ((__half *)p.features)[at] = __float2half_rn(F[j] * inv_norms[k]);
                else ((float *)p.features)[at] = F[j] * inv_norms[k];
            }
        }
}

static rd_result get_state(rd_context *ctx, feature_cuda **out)
{
    void **slot;
    rd_result r = rd_splat_cuda_feature_slot(ctx, free_state, &slot);
    if (r != RD_OK) return r;
    if (!*slot) {
        feature_cuda *s = (feature_cuda *)calloc(1, sizeof *s);
        if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "cuda: out of memory");
        *slot = s;
    }
    *out = (feature_cuda *)*slot;
    return RD_OK;
}

/* The field's slot indices (bytes), weights (halves), codebooks and each level's G = D D^T
   on the device. */
static rd_result upload_field(rd_context *ctx, feature_cuda *s, const rd_feature_field *field)
{
    if (s->field_uid == field->uid) return RD_OK;
    size_t slots = (size_t)(field->count * field->levels * field->K);
    size_t codebook = (size_t)field->levels * field->L * field->dim * sizeof(float);
    size_t gram = (size_t)field->levels * field->L * field->L * sizeof(float);
    float *host_gram = (float *)malloc(gram);
    if (!host_gram) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "cuda: out of memory for the feature gram");
    rd_feature_gram(field, host_gram);
    rd_result r = rd_cuda_reserve(ctx, &s->gram, gram, "feature gram");
    if (r == RD_OK) r = rd_cuda_upload(ctx, &s->gram, 0, host_gram, gram);
    free(host_gram);
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->indices, slots + 4, "feature slots");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->weights, slots * sizeof(uint16_t) + 4, "feature weights");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->codebooks, codebook, "feature codebooks");
    if (r == RD_OK && slots) r = rd_cuda_upload(ctx, &s->indices, 0, field->indices, slots);
    if (r == RD_OK && slots) r = rd_cuda_upload(ctx, &s->weights, 0, field->weights, slots * sizeof(uint16_t));
    if (r == RD_OK) r = rd_cuda_upload(ctx, &s->codebooks, 0, field->codebooks, codebook);
    s->field_uid = r == RD_OK ? field->uid : 0;
    return r;
}

/* The device buffers the outputs go to: the caller's device memory, or ours. */
static rd_result reserve_outputs(rd_context *ctx, feature_cuda *s, const rd_feature_field *f, const rd_feature_gpu_outputs *o,
                                 size_t pixels, level_params *p)
{
    bool device = o->memory == RD_MEMORY_DEVICE;
    rd_result r = RD_OK;
    p->coefficients = o->coefficients, p->alpha = o->alpha;
    if (!device && o->coefficients) {
        r = rd_cuda_reserve(ctx, &s->coefficients, pixels * f->levels * f->L * sizeof(float), "feature coefficients");
        p->coefficients = (float *)s->coefficients.ptr;
    }
    if (r == RD_OK && !device && o->alpha) {
        r = rd_cuda_reserve(ctx, &s->alpha, pixels * sizeof(float), "feature alpha");
        p->alpha = (float *)s->alpha.ptr;
    }
    const rd_feature_queries *q = o->queries;
    if (r == RD_OK && q) {
        size_t projected = (size_t)f->levels * (q->query_count + q->negative_count) * f->L * sizeof(float);
        size_t planes = (size_t)q->query_count * f->levels;
        r = rd_cuda_reserve(ctx, &s->projected, projected, "feature projections");
        if (r == RD_OK) r = rd_cuda_upload(ctx, &s->projected, 0, q->projected, projected);
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->scores, pixels * planes * sizeof(float), "feature relevancy");
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->row_sums, pixels * planes * sizeof(double), "feature relevancy smoothing");
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->peaks, planes * sizeof(float), "feature relevancy peaks");
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->chosen, (size_t)q->query_count * sizeof(int), "feature levels");
        if (r == RD_OK && q->relevancy && !device)
            r = rd_cuda_reserve(ctx, &s->relevancy, pixels * q->query_count * sizeof(float), "feature relevancy maps");
        p->queries = q->query_count, p->negatives = q->negative_count, p->scores = (float *)s->scores.ptr;
    }
    if (r == RD_OK && o->features) {
        p->features = o->features, p->half_features = o->half_features != 0;
        if (!device) r = rd_cuda_reserve(ctx, &s->features, pixels * f->dim * (o->half_features ? 2 : 4), "feature maps");
        if (!device) p->features = s->features.ptr;
    }
    return r;
}

static rd_result download(rd_context *ctx, cudaStream_t st, void *to, const void *from, size_t bytes)
{
    return to && bytes ? rd_cuda_check(ctx, cudaMemcpyAsync(to, from, bytes, cudaMemcpyDeviceToHost, st), "feature download") : RD_OK;
}

extern "C" rd_result rd_feature_outputs_cuda(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                                             const rd_feature_field *field, const rd_feature_gpu_outputs *out, void *stream,
                                             rd_render_stats *stats)
{
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    feature_cuda *s = NULL;
    rd_result r = get_state(ctx, &s);
    if (r == RD_OK) r = upload_field(ctx, s, field);
    splat_saved_frame fr;
    if (r == RD_OK) r = rd_splat_cuda_forward_saved(ctx, scene, vp, st, &fr);
    level_params p = {};
    size_t pixels = (size_t)vp->width * vp->height;
    if (r == RD_OK) r = reserve_outputs(ctx, s, field, out, pixels, &p);
    if (r != RD_OK) return r;
    p.vp = *vp, p.ranges = fr.ranges, p.values = fr.values, p.splats = fr.splats;
    p.indices = (const unsigned char *)s->indices.ptr, p.weights = (const __half *)s->weights.ptr;
    p.levels = field->levels, p.L = field->L, p.K = field->K, p.dim = field->dim;
    p.pixel_rows = field->L > 128 ? RD_TILE_SIZE / 2 : RD_TILE_SIZE; /* the accumulators within 227 KB of shared memory */
    int threads = RD_TILE_SIZE * p.pixel_rows;
    size_t shared = ((size_t)field->L * (threads + 1) + threads) * sizeof(float);
    r = rd_cuda_check(ctx, cudaFuncSetAttribute(level_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared),
                      "feature shared memory");
    long long tiles = (long long)vp->tiles_x * vp->tiles_y;
    dim3 block(RD_TILE_SIZE, p.pixel_rows), grid((unsigned int)(tiles < 65535 ? tiles : 65535), (unsigned int)((tiles + 65534) / 65535),
                                                 RD_TILE_SIZE / p.pixel_rows);
    void *features = p.features;
    for (int l = 0; r == RD_OK && l < field->levels && tiles > 0; l++) {
        level_params at = p;
        at.level = l;
        at.gram = (const float *)s->gram.ptr + (size_t)l * field->L * field->L;
        at.projected = (const float *)s->projected.ptr + (size_t)l * (p.queries + p.negatives) * field->L;
        at.codebook = (const float *)s->codebooks.ptr + (size_t)l * field->L * field->dim;
        at.features = l == out->level ? features : NULL;
        level_kernel<<<grid, block, shared, st>>>(at);
    }
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaGetLastError(), "feature level");
    if (r == RD_OK && out->memory == RD_MEMORY_HOST) {
        r = download(ctx, st, out->coefficients, p.coefficients, pixels * field->levels * field->L * sizeof(float));
        if (r == RD_OK) r = download(ctx, st, out->alpha, p.alpha, pixels * sizeof(float));
    }
    const rd_feature_queries *q = out->queries;
    bool device = out->memory == RD_MEMORY_DEVICE;
    float *relevancy = q && q->relevancy ? device ? q->relevancy : (float *)s->relevancy.ptr : NULL;
    if (r == RD_OK && q) {
        rd_feature_choice choice = {p.scores, q->query_count, field->levels, vp->width, vp->height, (double *)s->row_sums.ptr,
                                    (float *)s->peaks.ptr, relevancy, (int *)s->chosen.ptr};
        r = rd_feature_choose_levels_cuda(ctx, st, &choice);
        if (r == RD_OK && !device) r = download(ctx, st, q->relevancy, relevancy, pixels * q->query_count * sizeof(float));
        if (r == RD_OK) r = download(ctx, st, q->levels, s->chosen.ptr, (size_t)q->query_count * sizeof(int));
    }
    if (r == RD_OK && !device) r = download(ctx, st, out->features, features, pixels * field->dim * (out->half_features ? 2 : 4));
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(st), "feature outputs");
    if (r == RD_OK && stats) rd_splat_counts(stats, 0, fr.pairs);
    return r;
}
