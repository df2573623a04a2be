/* feature_cuda.cu: a feature field's outputs on CUDA, as feature_vk.c's on Vulkan and
   feature_render.c's on the CPU: the splat frame's preprocess, binning and sorts
   (rd_splat_cuda_forward_bins: no colour blend), then level_kernel: a block a tile (half a
   tile where L is large; tiles longest first, the colour blend's schedule), each warp
   walking the tile's Gaussians for its 8x4 pixels as the colour blend does (culled against
   the warp's rectangle, staged, alphas in base 2), with the CPU's stopping rule, into each
   walked level's L coefficients: 32 hits at a time as matrix products on tensor cores
   where L allows (feature_cuda_tensor_walk.cuh), else each hit's slots added into shared
   memory ([level][entry][pixel], padded against bank conflicts). A walk takes one level by
   default, or as many as fit (rd_tuning.cuda_feature_walk), computing the alphas once.
   From there, in the same launch and as asked: the coefficients written out (coalesced, a
   pixel's row at a time), each query's relevancy by the gram path (phi.e = W.u_e /
   (sqrt(W^T G W) + eps), G and u made on the host; W^T G W on tensor cores,
   feature_cuda_norms.cuh), and the level's unit features (F = D^T W over the norm, float,
   or IEEE halves on tensor cores: feature_cuda_decode.cuh), so that nothing but what was
   asked crosses device memory; then each query's level (feature_cuda_levels.cu). The field's
   slots and codebooks go to the device once per field (recognised by its uid); the buffers
   stay with the splat frame's state. */
#include "features.h"
#include "splat_cuda_frame.cuh"
#include "splat_cuda_alpha.cuh"

#include <cuda_fp16.h>

#define FEATURE_EPS 1e-10f
enum { DECODE_PIXELS = 8 }; /* of a warp's 32 */

typedef struct feature_cuda {
    uint64_t field_uid; /* whose slots and codebooks indices, weights and codebooks hold */
    rd_cuda_buffer indices, weights, codebooks, coefficients, alpha, gram, projected, scores, features;
    rd_cuda_buffer row_sums, peaks, chosen, relevancy; /* the level choice's (feature_cuda_levels.cu) */
    rd_cuda_buffer codebook_fragments; /* each level's D as halves in the decode's order (feature_cuda_decode.cuh) */
    rd_cuda_buffer gram_fragments;     /* and G (feature_cuda_norms.cuh) */
    float codebook_scale, gram_scale;  /* what those D and G are multiplied by (halves_scale) */
    float coefficient_scale;           /* and the coefficients (level_params') */
} feature_cuda;

/* One level's launch: what it reads and writes (NULL where not wanted). */
typedef struct level_params {
    rd_view_params vp;
    const tile_work *schedule;
    const unsigned int *values;
    const device_splat *splats;
    const unsigned char *indices;
    const __half *weights;
    int level, levels, L, K, dim, pixel_rows; /* pixel_rows: of a tile, per block (16 or 8) */
    int first_level, walk_levels, feature_level; /* the levels a launch walks together; the features' */
    bool write_alpha;                            /* the first launch's */
    bool tensor_sum;                             /* level_kernel<walk_levels>: walk_tensor (tensor_fits) */
    const uint2 *codebook_fragments;             /* NULL: the features' decode on CUDA cores */
    const uint2 *gram_fragments;                 /* NULL: |F|^2 on CUDA cores (squared_norm) */
    float codebook_scale, gram_scale;            /* what the fragments' D and G are multiplied by */
    float coefficient_scale;                     /* and the coefficients before their split (halves_scale
                                                    of the largest slot weight, which bounds them) */
    float *coefficients, *alpha;              /* pixels*levels*L, pixels */
    const float *gram, *projected, *codebook; /* G (L*L), u (embeddings*L), D (L*dim): every level's, or in
                                                 the kernel's per-level copy that level's */
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
                                 &s->projected, &s->scores, &s->features, &s->row_sums,     &s->peaks, &s->chosen, &s->relevancy,
                                 &s->codebook_fragments, &s->gram_fragments};
    for (rd_cuda_buffer *b : buffers) rd_cuda_release(ctx, b);
    free(s);
}

/* Whether |F|^2 comes from W^T G W (else from F = D^T W itself, which takes fewer
   operations and has no cancellation where dim < L), as feature_relevancy.comp. */
__device__ __forceinline__ bool norm_from_gram(const level_params &p) { return p.dim >= p.L; }

/* |F|^2 of the pixel whose coefficients are W[c * stride], on CUDA cores. */
__device__ static float squared_norm(const level_params &p, const float *W, int stride)
{
    float quad = 0.0f;
    if (!norm_from_gram(p)) {
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

/* The pixel of a block's thread of rank k, as the walk lays out its warps: each an 8x4
   block of the tile (the block's corner x0, y0), two abreast. */
__device__ __forceinline__ void rank_pixel(int k, int x0, int y0, int *x, int *y)
{
    *x = x0 + ((k >> 5) & 1) * 8 + (k & 7), *y = y0 + (k >> 6) * 4 + ((k & 31) >> 3);
}

/* What a warp stages of a Gaussian that touches its 8x4 pixels: the colour blend's
   quadratic for the alpha (splat_cuda_alpha.cuh), and after the block's records each
   walked level's K slots as (entry << 16 | the weight's half bits). */
typedef struct feature_staged {
    float4 poly, rest; /* F D E A, B C */
} feature_staged;

/* A Gaussian's K slots at a level as the walk stages them, (entry << 16 | the weight's
   half bits): at K = 4 from one 4-byte read of the indices and one 8-byte read of the
   weights (a level's slots start at a multiple of 4), else slot by slot. */
__device__ __forceinline__ void stage_slots(const level_params &p, unsigned int g, int level, unsigned int *out)
{
    size_t first = ((size_t)g * p.levels + level) * p.K;
    const unsigned short *weight_bits = (const unsigned short *)p.weights;
    if (p.K == 4) {
        unsigned int idx = __ldg((const unsigned int *)(p.indices + first));
        uint2 w = __ldg((const uint2 *)(weight_bits + first));
        *(uint4 *)out = make_uint4((idx & 0xffu) << 16 | (w.x & 0xffffu), (idx >> 8 & 0xffu) << 16 | w.x >> 16,
                                   (idx >> 16 & 0xffu) << 16 | (w.y & 0xffffu), (idx >> 24) << 16 | w.y >> 16);
        return;
    }
#pragma unroll /* static indices, so that an array of the caller's stays in registers */
    for (int k = 0; k < RD_FEATURE_MAX_SLOTS; k++)
        if (k < p.K) out[k] = (unsigned int)p.indices[first + k] << 16 | weight_bits[first + k];
}

/* Where a warp's 8x4 pixels are, and its lane's pixel in them (level_kernel's layout). */
typedef struct warp_pixels {
    int wx, wy;                    /* the warp's corner */
    float wx0, wx1, wy0, wy1;      /* its pixels' centres' extent, clipped to the image */
    float X, Y, XX, XY, YY;        /* the lane's pixel from the corner, and its products */
    bool warp_inside;              /* some of its pixels are in the image */
} warp_pixels;

/* The lane's Gaussian of a batch (the list's j-th, none at or past end): read, and whether
   it may touch the warp's pixels (the per-warp cull of every walk). */
__device__ __forceinline__ bool read_and_cull(const level_params &p, const warp_pixels &wp, long long j, long long end, unsigned int *g,
                                              blend_splat *s, float *log2_opacity)
{
    if (j >= end || !wp.warp_inside) return false;
    *g = p.values[j];
    *s = load_blend_splat(p.splats, *g);
    *log2_opacity = fast_log2(s->opacity);
    return touches_rect(*s, *log2_opacity, wp.wx0, wp.wx1, wp.wy0, wp.wy1);
}

#include "feature_cuda_tensor_walk.cuh"
#include "feature_cuda_decode.cuh"
#include "feature_cuda_norms.cuh"

/* The shared memory of a walk over walk_levels levels: the accumulators
   ([level][entry][pixel], a pixel column padded against bank conflicts), each pixel's
   1/|F|, and each warp's 32 staged Gaussians with their slots; walk_tensor's stages
   (tensor_stage_halves a warp) share the accumulators' memory, which they may outgrow. */
__host__ __device__ static size_t walk_floats(int walk_levels, int L, int threads, bool tensor) /* to 32 bytes */
{
    size_t floats = ((size_t)walk_levels * L * (threads + 1) + threads + 7) / 8 * 8; /* the accumulators and norms */
    size_t stages = (size_t)threads / 32 * tensor_stage_halves(walk_levels) / 2; /* walk_tensor's, aliasing them */
    return tensor && stages > floats ? (stages + 7) / 8 * 8 : floats;
}
static size_t walk_shared_bytes(int walk_levels, int L, int K, int threads, bool tensor)
{
    return walk_floats(walk_levels, L, threads, tensor) * sizeof(float) + (size_t)threads * sizeof(feature_staged) +
           (tensor ? 0 : (size_t)threads * walk_levels * K * sizeof(unsigned int)); /* walk_tensor writes slots into S */
}

/* A hit's slots (entry << 16 | half bits, walk_levels*K of them) into the pixel's
   accumulators (acc: its column, stride apart) with weight w = alpha T. A level's K
   entries are distinct (rd_feature_slots_problem checks): every accumulator is read before
   any is written, so that the K reads wait for shared memory once, not in turn. */
__device__ __forceinline__ void accumulate(const level_params &p, float *acc, int stride, const unsigned int *hit_slots, float w)
{
    for (int l = 0; l < p.walk_levels; l++) {
        float *level_acc = acc + (size_t)l * p.L * stride, old[RD_FEATURE_MAX_SLOTS];
        unsigned int slot[RD_FEATURE_MAX_SLOTS];
        if (p.K == 4) { /* the default: one 16-byte read */
            uint4 four = *(const uint4 *)(hit_slots + l * 4);
            slot[0] = four.x, slot[1] = four.y, slot[2] = four.z, slot[3] = four.w;
        }
#pragma unroll
        for (int k = 0; k < RD_FEATURE_MAX_SLOTS; k++)
            if (k < p.K) {
                if (p.K != 4) slot[k] = hit_slots[l * p.K + k];
                old[k] = level_acc[(slot[k] >> 16) * stride];
            }
#pragma unroll
        for (int k = 0; k < RD_FEATURE_MAX_SLOTS; k++)
            if (k < p.K)
                level_acc[(slot[k] >> 16) * stride] = fmaf(__half2float(__ushort_as_half((unsigned short)(slot[k] & 0xffffu))), w, old[k]);
    }
}

/* The tile's list [start, end) for the lane's pixel, each warp on its own as the colour
   blend walks (the default): 32 Gaussians at a time read by the warp, culled against its
   block, the touching ones staged in its 32 records (slice) and slots, then blended in
   order. T and done: the pixel's transmittance and whether its walk has stopped. */
__device__ static void walk_warp_staged(const level_params &p, float *acc, int stride, feature_staged *slice, unsigned int *slice_slots,
                                        const warp_pixels &wp, long long start, long long end, float *T_out, bool *done_out)
{
    int rank = (int)threadIdx.x, lane = rank & 31, slots = p.walk_levels * p.K;
    float T = *T_out, X = wp.X, Y = wp.Y, XX = wp.XX, XY = wp.XY, YY = wp.YY;
    bool done = *done_out;
    for (long long batch = start; batch < end; batch += 32) {
        if (__all_sync(0xffffffffu, done)) break;
        unsigned int g = 0;
        blend_splat s = {};
        float log2_opacity = 0.0f;
        bool touches = read_and_cull(p, wp, batch + lane, end, &g, &s, &log2_opacity);
        unsigned int mask = __ballot_sync(0xffffffffu, touches);
        if (touches) {
            int k = __popc(mask & ((1u << lane) - 1));
            staged_splat st = stage_splat(s, log2_opacity, (float)wp.wx, (float)wp.wy);
            slice[k] = feature_staged{st.poly, st.rest};
            for (int l = 0; l < p.walk_levels; l++) stage_slots(p, g, p.first_level + l, slice_slots + k * slots + l * p.K);
        }
        __syncwarp();
        int hits = __popc(mask);
        for (int h = 0; !done && h < hits; h++) {
            feature_staged f = slice[h];
            float alpha = hit_alpha(staged_splat{f.poly, f.rest, {}}, X, Y, XX, XY, YY);
            float w = alpha * T, next_T = T - w; /* as blend_kernel: an alpha under 1/255 is 0 */
            if (next_T < RD_MIN_TRANSMITTANCE) {
                done = true;
                break;
            }
            accumulate(p, acc + rank, stride, slice_slots + h * slots, w);
            T = next_T;
        }
        __syncwarp(); /* the slice is read before the next batch overwrites it */
    }
    *T_out = T, *done_out = done;
}

/* One launch: a block a tile (half a tile where L is large), each warp 8x4 of its pixels
   walking the tile's list on its own as the colour blend does (blend_kernel: 32 Gaussians
   at a time tested against the warp's rectangle, the ones that touch it staged, alphas in
   base 2 from the staged quadratic), blending each hit's slots of every walked level
   into the accumulators (or, TENSOR levels, walk_tensor: its own kernels, so that the
   scatter walks keep their registers); then, for each walked level, the outputs. */
template <int TENSOR> __global__ void __launch_bounds__(256) level_kernel(level_params p)
{
    extern __shared__ float shared[];
    int threads = (int)blockDim.x, stride = threads + 1, rank = (int)threadIdx.x, lane = rank & 31, warp = rank >> 5;
    int slots = p.walk_levels * p.K;
    float *acc = shared, *inv_norms = shared + (size_t)p.walk_levels * p.L * stride;
    size_t front = walk_floats(p.walk_levels, p.L, threads, TENSOR);
    feature_staged *staged = (feature_staged *)(shared + front); /* 32-byte aligned */
    unsigned int *staged_slots = (unsigned int *)(staged + threads);
    /* tiles longest first (the colour blend's schedule): a long list launched last ran alone
       (the SMs were active 69% of the tensor walk's time, Nsight Compute) */
    unsigned int place = blockIdx.y * gridDim.x + blockIdx.x;
    bool live = place < (unsigned int)(p.vp.tiles_x * p.vp.tiles_y);
    tile_work work = live ? p.schedule[place] : tile_work{0, 0, 0};
    unsigned int tile = work.tile;
    int x0 = live ? (int)(tile % (unsigned int)p.vp.tiles_x) * RD_TILE_SIZE : 0;
    int y0 = live ? (int)(tile / (unsigned int)p.vp.tiles_x) * RD_TILE_SIZE + (int)blockIdx.z * p.pixel_rows : 0;
    int wx = x0 + (warp & 1) * 8, wy = y0 + (warp >> 1) * 4;
    int px = wx + (lane & 7), py = wy + (lane >> 3);
    bool inside = live && px < p.vp.width && py < p.vp.height;
    for (int i = rank; i < (TENSOR ? (int)front : p.walk_levels * p.L * stride); i += threads) acc[i] = 0.0f; /* S too */
    __syncthreads();
    float X = (float)(lane & 7) + 0.5f, Y = (float)(lane >> 3) + 0.5f; /* from the warp's corner */
    float XX = X * X, XY = X * Y, YY = Y * Y;
    float wx0 = (float)wx + 0.5f, wy0 = (float)wy + 0.5f;
    float wx1 = (float)min(wx + 8, p.vp.width) - 0.5f, wy1 = (float)min(wy + 4, p.vp.height) - 0.5f;
    bool warp_inside = live && wx0 <= wx1 && wy0 <= wy1;
    float T = 1.0f;
    bool done = !inside;
    long long start = work.start, end = work.start + work.count;
    warp_pixels wp = {wx, wy, wx0, wx1, wy0, wy1, X, Y, XX, XY, YY, warp_inside};
    float sums[TENSOR ? TENSOR : 1][2][TENSOR_MAX_L / 8][4] = {}; /* walk_tensor's */
    if (TENSOR) walk_tensor<TENSOR ? TENSOR : 1>(p, staged + warp * 32, (__half *)shared + warp * tensor_stage_halves(TENSOR), wp, start, end,
                                                 &T, &done, sums);
    else walk_warp_staged(p, acc, stride, staged + warp * 32, staged_slots + (size_t)warp * 32 * slots, wp, start, end, &T, &done);
    __syncthreads(); /* walk_tensor's: every warp has walked, its stages are spent */
    if (TENSOR) { /* every level's sums leave the registers at once (kept through the outputs, three
                     levels' spilled: the relevancy 4.00 ms against 3.35 a level a launch) */
#pragma unroll
        for (int l = 0; l < (TENSOR ? TENSOR : 1); l++) store_tensor_sums(sums[l], p.L, acc + (size_t)l * p.L * stride, stride);
        __syncthreads();
    }
    size_t pixels = (size_t)p.vp.width * p.vp.height, pixel = (size_t)py * p.vp.width + px;
    if (inside && p.alpha && p.write_alpha) p.alpha[pixel] = 1.0f - T;
    /* the level decoded last where its decode spends its accumulators (decode_tensor_cores) */
    int decode_at = p.features && p.feature_level >= p.first_level && p.feature_level < p.first_level + p.walk_levels
                        ? p.feature_level - p.first_level : -1;
    for (int n = 0; n < p.walk_levels; n++) {
        int l = decode_at < 0 || n < decode_at ? n : n == p.walk_levels - 1 ? decode_at : n + 1;
        level_params at = p;
        at.level = p.first_level + l;
        at.gram = p.gram + (size_t)at.level * p.L * p.L;
        at.projected = p.projected + (size_t)at.level * (p.queries + p.negatives) * p.L;
        at.codebook = p.codebook + (size_t)at.level * p.L * p.dim;
        float *level_acc = acc + (size_t)l * p.L * stride;
        bool decode = p.features && at.level == p.feature_level;
        if (p.queries > 0 || decode) {
            float squared;
            if (p.gram_fragments && norm_from_gram(p)) {
                gram_norms_tensor_cores(at, level_acc, stride, inv_norms);
                __syncwarp();
                squared = inv_norms[rank];
            } else
                squared = squared_norm(at, level_acc + rank, stride);
            float inv = inside ? 1.0f / (sqrtf(fmaxf(squared, 0.0f)) + FEATURE_EPS) : 0.0f;
            inv_norms[rank] = inv;
            if (inside && p.queries > 0) relevancy(at, level_acc + rank, stride, inv, pixel, pixels);
        }
        __syncthreads();
        /* a pixel's row of the output at a time, consecutive threads on consecutive elements,
           four at a time where the rows allow */
        size_t row = (size_t)p.levels * p.L;
        if (p.coefficients && p.L % 4 == 0 && (uintptr_t)p.coefficients % 16 == 0)
            for (int i = rank, quads = p.L / 4; i < threads * quads; i += threads) {
                int k = i / quads, c = i % quads * 4, kx, ky;
                rank_pixel(k, x0, y0, &kx, &ky);
                const float *from = level_acc + (size_t)c * stride + k;
                if (live && kx < p.vp.width && ky < p.vp.height)
                    *(float4 *)(p.coefficients + ((size_t)ky * p.vp.width + kx) * row + (size_t)at.level * p.L + c) =
                        make_float4(from[0], from[stride], from[2 * stride], from[3 * stride]);
            }
        else if (p.coefficients)
            for (int i = rank; i < threads * p.L; i += threads) {
                int k = i / p.L, c = i % p.L, kx, ky;
                rank_pixel(k, x0, y0, &kx, &ky);
                if (live && kx < p.vp.width && ky < p.vp.height)
                    p.coefficients[((size_t)ky * p.vp.width + kx) * row + (size_t)at.level * p.L + c] = level_acc[c * stride + k];
            }
        if (decode && p.codebook_fragments) decode_tensor_cores(at, level_acc, stride, inv_norms, x0, y0, live);
        /* else the unit features: a thread an element for DECODE_PIXELS pixels, each codebook
           entry loaded once for them all */
        else if (decode)
            for (int i = rank; i < threads / DECODE_PIXELS * p.dim; i += threads) {
                int k0 = i / p.dim * DECODE_PIXELS, d = i % p.dim;
                float F[DECODE_PIXELS] = {};
                for (int c = 0; c < p.L; c++) {
                    float D = __ldg(at.codebook + (size_t)c * p.dim + d);
#pragma unroll
                    for (int j = 0; j < DECODE_PIXELS; j++) F[j] += level_acc[c * stride + k0 + j] * D;
                }
#pragma unroll
                for (int j = 0; j < DECODE_PIXELS; j++) {
                    int k = k0 + j, kx, ky;
                    rank_pixel(k, x0, y0, &kx, &ky);
                    if (!live || kx >= p.vp.width || ky >= p.vp.height) continue;
                    size_t out = ((size_t)ky * p.vp.width + kx) * p.dim + d;
                    if (p.half_features) ((__half *)p.features)[out] = __float2half_rn(F[j] * inv_norms[k]);
                    else ((float *)p.features)[out] = F[j] * inv_norms[k];
                }
            }
        __syncthreads(); /* inv_norms is the next level's */
    }
}

/* The kernel of a launch: the scatter walks', or walk_tensor's for its levels. */
static void (*level_kernel_for(bool tensor, int walk_levels))(level_params)
{
    static_assert(TENSOR_MAX_LEVELS == 3, "a kernel for each count of levels");
    if (!tensor) return level_kernel<0>;
    return walk_levels == 1 ? level_kernel<1> : walk_levels == 2 ? level_kernel<2> : level_kernel<3>;
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

/* Each level's k_rows x columns matrix (D for decode_tensor_cores, G for
   gram_norms_tensor_cores) into to, in the products' fragment order. */
static rd_result upload_fragments(rd_context *ctx, rd_cuda_buffer *to, const float *matrix, int levels, int k_rows, int columns,
                                  float scale, const char *what)
{
    size_t bytes = 2 * decode_fragment_index(levels, 0, 0, 0, k_rows / 16, (columns + 7) / 8) * sizeof(uint2);
    uint2 *fragments = (uint2 *)malloc(bytes);
    if (!fragments) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "cuda: out of memory for the %s", what);
    matrix_fragments(matrix, levels, k_rows, columns, scale, fragments);
    rd_result r = rd_cuda_reserve(ctx, to, bytes, what);
    if (r == RD_OK) r = rd_cuda_upload(ctx, to, 0, fragments, bytes);
    free(fragments);
    return r;
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
    s->gram_scale = halves_scale(host_gram, gram / sizeof(float));
    if (r == RD_OK && tensor_fits(field->L))
        r = upload_fragments(ctx, &s->gram_fragments, host_gram, field->levels, field->L, field->L, s->gram_scale, "feature gram halves");
    free(host_gram);
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->indices, slots + 4, "feature slots");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->weights, slots * sizeof(uint16_t) + 4, "feature weights");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->codebooks, codebook, "feature codebooks");
    if (r == RD_OK && slots) r = rd_cuda_upload(ctx, &s->indices, 0, field->indices, slots);
    if (r == RD_OK && slots) r = rd_cuda_upload(ctx, &s->weights, 0, field->weights, slots * sizeof(uint16_t));
    if (r == RD_OK) r = rd_cuda_upload(ctx, &s->codebooks, 0, field->codebooks, codebook);
    s->codebook_scale = halves_scale(field->codebooks, codebook / sizeof(float));
    /* a pixel's coefficient is at most the largest slot weight (sum alpha T <= 1, a level's
       entries distinct); weights are finite halves >= 0, whose bits order as their values
       (the sign bit masked: -0 passes as >= 0) */
    uint16_t largest_bits = 0;
    for (size_t k = 0; k < slots; k++) {
        uint16_t bits = (uint16_t)(field->weights[k] & 0x7fffu);
        largest_bits = bits > largest_bits ? bits : largest_bits;
    }
    float largest_weight = __half2float(__ushort_as_half(largest_bits));
    s->coefficient_scale = halves_scale(&largest_weight, 1);
    if (r == RD_OK && tensor_fits(field->L))
        r = upload_fragments(ctx, &s->codebook_fragments, field->codebooks, field->levels, field->L, field->dim, s->codebook_scale,
                             "feature codebook halves");
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
    if (r == RD_OK) r = rd_splat_cuda_forward_bins(ctx, scene, vp, st, &fr);
    level_params p = {};
    size_t pixels = (size_t)vp->width * vp->height;
    if (r == RD_OK) r = reserve_outputs(ctx, s, field, out, pixels, &p);
    if (r != RD_OK) return r;
    p.vp = *vp, p.schedule = fr.schedule, p.values = fr.values, p.splats = fr.splats;
    p.indices = (const unsigned char *)s->indices.ptr, p.weights = (const __half *)s->weights.ptr;
    p.levels = field->levels, p.L = field->L, p.K = field->K, p.dim = field->dim;
    p.gram = (const float *)s->gram.ptr, p.projected = (const float *)s->projected.ptr, p.codebook = (const float *)s->codebooks.ptr;
    p.feature_level = out->level;
    /* the half features' decode and |F|^2 on tensor cores where L allows, unless CUDA cores are
       asked for (rd_tuning.cuda_feature_decode): on an H100, 1M Gaussians at 988x730, a
       level's half features 2.01 ms against 5.30, the relevancy 4.29 against 5.27 */
    cudaFuncAttributes built = {};
    bool tensor_device = cudaFuncGetAttributes(&built, level_kernel<1>) == cudaSuccess && built.binaryVersion >= TENSOR_CAPABILITY;
    bool tensor_products = ctx->tuning.cuda_feature_decode != RD_FEATURE_DECODE_CORES && tensor_fits(field->L) && tensor_device;
    if (tensor_products && out->half_features) p.codebook_fragments = (const uint2 *)s->codebook_fragments.ptr;
    if (tensor_products) p.gram_fragments = (const uint2 *)s->gram_fragments.ptr;
    p.codebook_scale = s->codebook_scale, p.gram_scale = s->gram_scale, p.coefficient_scale = s->coefficient_scale;
    /* a whole tile a block where one level's accumulators fit, else half a tile */
    int max_shared = 0, gpu = 0;
    cudaGetDevice(&gpu);
    cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, gpu);
    /* the walk's sums on tensor cores where L allows (on an H100, 1M Gaussians at 988x730: the
       maps 2.20 ms against 3.30 scattered, the relevancy 3.35 against 4.29, a level's half
       features 1.66 against 2.01), unless scattered sums are asked for */
    p.tensor_sum = ctx->tuning.cuda_feature_sum != RD_FEATURE_SUM_SCATTER && tensor_fits(field->L) && tensor_device;
    p.pixel_rows = walk_shared_bytes(1, field->L, field->K, RD_TILE_SIZE * RD_TILE_SIZE, p.tensor_sum) <= (size_t)max_shared
                       ? RD_TILE_SIZE
                       : RD_TILE_SIZE / 2;
    /* a level a walk by default: on an H100 (1M Gaussians, 988x730) scattered sums three
       together took the maps 4.73 ms, the relevancy 7.21, the half features 11.56, one a
       launch 4.58, 5.85 and 8.78 (64 KB of accumulators leave room for two blocks an SM, not
       one); on tensor cores three together took the maps 2.11 ms against 2.20 a level a
       launch, but the relevancy 4.00 against 3.35, its 192 accumulators a thread kept through
       the outputs and spilling (since then they go to shared memory at once: not yet timed) */
    int threads = RD_TILE_SIZE * p.pixel_rows, wanted = ctx->tuning.cuda_feature_walk > 0 ? ctx->tuning.cuda_feature_walk : 1;
    int walk = wanted < field->levels ? wanted : field->levels;
    if (p.tensor_sum && walk > TENSOR_MAX_LEVELS) walk = TENSOR_MAX_LEVELS;
    while (walk > 1 && walk_shared_bytes(walk, field->L, field->K, threads, p.tensor_sum) > (size_t)max_shared) walk--;
    long long tiles = (long long)vp->tiles_x * vp->tiles_y;
    dim3 grid((unsigned int)(tiles < 65535 ? tiles : 65535), (unsigned int)((tiles + 65534) / 65535), RD_TILE_SIZE / p.pixel_rows);
    void *features = p.features;
    /* the unit features alone need their level alone */
    bool features_alone = p.features && !p.coefficients && !out->queries;
    int first = features_alone ? out->level : 0, last = features_alone ? out->level + 1 : field->levels;
    if (features_alone) walk = 1;
    for (int l = first; r == RD_OK && l < last && tiles > 0; l += walk) {
        level_params at = p;
        at.first_level = l, at.walk_levels = l + walk <= last ? walk : last - l, at.write_alpha = l == first;
        void (*kernel)(level_params) = level_kernel_for(p.tensor_sum, at.walk_levels);
        size_t shared = walk_shared_bytes(at.walk_levels, field->L, field->K, threads, p.tensor_sum);
        r = rd_cuda_check(ctx, cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared),
                          "feature shared memory");
        if (r == RD_OK) kernel<<<grid, threads, shared, st>>>(at);
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
