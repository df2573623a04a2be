/* feature_train_cuda.cu: a feature trainer's step on CUDA, feature_train.c's on the CPU
   stage by stage and under the same names: the slots from the logits (choose_slots), the
   view's coefficient maps W (coefficients_kernel: a thread a pixel, the CPU's walk and
   sums), the masked cosine loss with dL/dW and dL/dD (view_loss: per chunk of pixels
   F = W D, the per-pixel cosine and dL/dF, dL/dW = dL/dF D^T, dL/dD = W^T dL/dF as matrix
   products), the blend's backward pass to the slot weights (backward_kernel: the same walk,
   each Gaussian's sums reduced over a warp, then the block, then added atomically), the
   softmax's to the logits, and Adam on logits and codebooks (adam_cuda.cu). The state lives
   on the device; a step reads back the loss alone. The host's arrays are brought up to date
   where the trainer is read (a field, a checkpoint) and sent down after a checkpoint loads.

   Not bit-repeatable as the CPU's is: the slot-weight gradients are summed over a frame's
   tiles with float atomics. */
#include "feature_trainer.h"
#include "splat_cuda_frame.cuh"
#include "../train/adam.h"

#include <stdlib.h>

enum {
    BATCH = 256,    /* Gaussians a block stages at a time: one a thread of a whole-tile block */
    CHUNK = 65536,  /* pixels of the loss's matrices at a time (dL/dF: CHUNK*dim floats; fewer at large D) */
    SPLITS = 32,    /* dL/dD's sum over a chunk's pixels, split for parallelism, then added in order */
    GEMM_TILE = 64, GEMM_STEP = 16
};

struct rd_feature_train_cuda {
    int rows;    /* of a tile's 16, a blend block's: as many as its accumulators leave room for */
    int chunk;   /* pixels of the loss's matrices at a time: CHUNK, fewer where D is large */
    rd_cuda_buffer logits, logit_m, logit_v, logit_grad, codebooks, code_m, code_v, code_grad;
    rd_cuda_buffer indices, weights, weight_grad;
    rd_cuda_buffer W, W_grad, dF, partials, cosines, sums;
    rd_cuda_buffer masks, targets; /* the step's view: masks and mask features, or dense features */
};

/* ---- slots from logits ------------------------------------------------------------------- */

/* choose_range's: the largest K logits (the lowest entry on a tie) in ascending entry
   order, their softmax as weights. */
static __global__ void choose_slots_kernel(const float *logits, long long rows, int L, int K, unsigned char *indices, float *weights)
{
    long long g = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (g >= rows) return;
    const float *l = logits + g * L;
    unsigned int taken[RD_FEATURE_MAX_CODEBOOK / 32] = {};
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int c = 0; c < L; c++)
            if (!(taken[c >> 5] >> (c & 31) & 1u) && (best < 0 || l[c] > l[best])) best = c;
        taken[best >> 5] |= 1u << (best & 31);
    }
    unsigned char *idx = indices + g * K;
    float *w = weights + g * K;
    int k = 0;
    for (int c = 0; c < L; c++)
        if (taken[c >> 5] >> (c & 31) & 1u) idx[k++] = (unsigned char)c;
    float top = -INFINITY, sum = 0.0f;
    for (k = 0; k < K; k++) top = fmaxf(top, l[idx[k]]);
    for (k = 0; k < K; k++) sum += w[k] = expf(l[idx[k]] - top);
    for (k = 0; k < K; k++) w[k] /= sum;
}

/* dL/dl_k = w_k (g_k - sum_j w_j g_j) for the chosen K; the other logits get 0. */
static __global__ void logit_gradients_kernel(const unsigned char *indices, const float *weights, const float *weight_grad, long long rows,
                                       int L, int K, float *logit_grad)
{
    long long g = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (g >= rows) return;
    const float *w = weights + g * K, *dw = weight_grad + g * K;
    float *out = logit_grad + g * L;
    for (int c = 0; c < L; c++) out[c] = 0.0f;
    float mean = 0.0f;
    for (int k = 0; k < K; k++) mean += w[k] * dw[k];
    for (int k = 0; k < K; k++) out[indices[g * K + k]] = w[k] * (dw[k] - mean);
}

/* ---- the blend and its backward pass ------------------------------------------------------ */

/* What a walk of one level reads and writes. */
typedef struct walk_params {
    const tile_range *ranges;
    const unsigned int *values;
    const device_splat *splats;
    int width, height, tiles_x, rows; /* rows: of a tile's 16, a block's */
    const unsigned char *indices;
    const float *weights;
    int level, levels, L, K;
    float *W;                 /* pixels*levels*L: the forward's output */
    const float *W_grad;      /* the backward's input, the same shape */
    float *weight_grad;       /* count*levels*K: the backward's output */
} walk_params;

/* A staged Gaussian: what the CPU's gather keeps, and its slots at the level. */
typedef struct walk_splat {
    float u, v, a, b, c, opacity, cutoff;
    unsigned int gaussian;
    float w[RD_FEATURE_MAX_SLOTS];
    unsigned char idx[RD_FEATURE_MAX_SLOTS];
} walk_splat;

__device__ static void stage(const walk_params &p, long long at, walk_splat *s)
{
    unsigned int i = p.values[at];
    const device_splat &d = p.splats[i];
    s->u = d.u, s->v = d.v, s->a = d.conic[0], s->b = d.conic[1], s->c = d.conic[2], s->opacity = d.opacity;
    s->cutoff = rd_power_cutoff(d.opacity), s->gaussian = i;
    size_t slot = ((size_t)i * p.levels + p.level) * p.K;
    for (int k = 0; k < p.K; k++) s->w[k] = p.weights[slot + k], s->idx[k] = p.indices[slot + k];
}

/* The block's pixel: a tile's columns, `rows` of its rows (blockIdx.y picks which). */
__device__ static bool block_pixel(const walk_params &p, int *x, int *y)
{
    int tile = blockIdx.x;
    *x = (tile % p.tiles_x) * RD_TILE_SIZE + (int)threadIdx.x % RD_TILE_SIZE;
    *y = (tile / p.tiles_x) * RD_TILE_SIZE + (int)blockIdx.y * p.rows + (int)threadIdx.x / RD_TILE_SIZE;
    return *x < p.width && *y < p.height;
}

/* W at the level, as rd_feature_blend_tile's sparse path: per pixel the tile's Gaussians in
   order, alpha T w_k into entry idx_k, stopping where T would fall under the minimum. The
   accumulators are in shared memory, [entry][thread]. */
static __global__ void coefficients_kernel(walk_params p)
{
    extern __shared__ float acc[];
    __shared__ walk_splat staged[BATCH];
    int t = threadIdx.x, threads = blockDim.x, x, y;
    bool inside = block_pixel(p, &x, &y), done = !inside;
    for (int c = 0; c < p.L; c++) acc[c * threads + t] = 0.0f;
    tile_range range = p.ranges[blockIdx.x];
    float T = 1.0f, fx = (float)x + 0.5f, fy = (float)y + 0.5f;
    for (long long start = range.start; start < range.end; start += threads) {
        if (__syncthreads_and(done)) break; /* also: every thread is past the last batch */
        if (start + t < range.end) stage(p, start + t, &staged[t]);
        __syncthreads();
        int n = (int)(range.end - start < threads ? range.end - start : threads);
        for (int j = 0; j < n && !done; j++) {
            const walk_splat &s = staged[j];
            float alpha;
            if (!rd_splat_alpha(s.a, s.b, s.c, s.opacity, s.cutoff, fx - s.u, fy - s.v, &alpha)) continue;
            float next_t = T * (1.0f - alpha);
            if (next_t < RD_MIN_TRANSMITTANCE) {
                done = true;
                break;
            }
            float weight = alpha * T, old[RD_FEATURE_MAX_SLOTS];
            /* the K entries are distinct (the top K): all read before any is written */
#pragma unroll
            for (int k = 0; k < RD_FEATURE_MAX_SLOTS; k++)
                if (k < p.K) old[k] = acc[s.idx[k] * threads + t];
#pragma unroll
            for (int k = 0; k < RD_FEATURE_MAX_SLOTS; k++)
                if (k < p.K) acc[s.idx[k] * threads + t] = old[k] + s.w[k] * weight;
            T = next_t;
        }
    }
    if (!inside) return;
    float *out = p.W + ((size_t)y * p.width + x) * ((size_t)p.levels * p.L) + (size_t)p.level * p.L;
    for (int c = 0; c < p.L; c++) out[c] = acc[c * threads + t];
}

/* dL/dw_k += sum_p alpha T(p) dL/dW[idx_k](p), as backward_tiles: the same walk; a staged
   Gaussian's sums over the block's pixels are reduced over each warp, gathered in shared
   memory and added to its gradient once a batch. */
static __global__ void backward_kernel(walk_params p)
{
    __shared__ walk_splat staged[BATCH];
    __shared__ float sums[BATCH * RD_FEATURE_MAX_SLOTS];
    int t = threadIdx.x, threads = blockDim.x, x, y;
    bool inside = block_pixel(p, &x, &y), done = !inside;
    tile_range range = p.ranges[blockIdx.x];
    float T = 1.0f, fx = (float)x + 0.5f, fy = (float)y + 0.5f;
    const float *dW = p.W_grad + ((size_t)y * p.width + x) * ((size_t)p.levels * p.L) + (size_t)p.level * p.L;
    for (long long start = range.start; start < range.end; start += threads) {
        if (__syncthreads_and(done)) break;
        if (start + t < range.end) stage(p, start + t, &staged[t]);
        for (int k = 0; k < p.K; k++) sums[t * p.K + k] = 0.0f;
        __syncthreads();
        int n = (int)(range.end - start < threads ? range.end - start : threads);
        for (int j = 0; j < n; j++) { /* every lane goes on to the end, for the warp's sums */
            const walk_splat &s = staged[j];
            float alpha = 0.0f, weight = 0.0f;
            if (!done && rd_splat_alpha(s.a, s.b, s.c, s.opacity, s.cutoff, fx - s.u, fy - s.v, &alpha)) {
                float next_t = T * (1.0f - alpha);
                if (next_t < RD_MIN_TRANSMITTANCE) done = true;
                else weight = alpha * T, T = next_t;
            }
            if (!__any_sync(0xffffffffu, weight != 0.0f)) continue;
            for (int k = 0; k < p.K; k++) {
                float g = weight != 0.0f ? weight * dW[s.idx[k]] : 0.0f;
                for (int lane = 16; lane > 0; lane >>= 1) g += __shfl_xor_sync(0xffffffffu, g, lane);
                if ((t & 31) == 0 && g != 0.0f) atomicAdd(&sums[j * p.K + k], g);
            }
        }
        __syncthreads();
        for (int k = 0; t < n && k < p.K; k++)
            if (sums[t * p.K + k] != 0.0f)
                atomicAdd(&p.weight_grad[((size_t)staged[t].gaussian * p.levels + p.level) * p.K + k], sums[t * p.K + k]);
    }
}

/* ---- the loss's matrix products ------------------------------------------------------------- */

/* C = A B for A (M x K) and B (K x N) at any strides (element (i, k) of A at
   A[i a_row + k a_col]), C row-major with ldc; blockIdx.z takes k_split of the K range and
   writes its part to C + z c_split. 64x64 tiles of C, 4x4 a thread; each operand tile is
   loaded along whichever of its indices is contiguous. */
typedef struct gemm_args {
    const float *A, *B;
    long long a_row, a_col, b_row, b_col;
    float *C;
    long long ldc, c_split;
    int M, N, K, k_split;
} gemm_args;

static __global__ void __launch_bounds__(256) gemm_kernel(gemm_args g)
{
    __shared__ __align__(16) float As[GEMM_STEP][GEMM_TILE + 4], Bs[GEMM_STEP][GEMM_TILE + 4];
    int t = threadIdx.x, ti = t / 16, tj = t % 16, i0 = blockIdx.y * GEMM_TILE, j0 = blockIdx.x * GEMM_TILE;
    int kb = blockIdx.z * g.k_split, ke = min(g.K, kb + g.k_split);
    float acc[4][4] = {};
    for (int k0 = kb; k0 < ke; k0 += GEMM_STEP) {
        for (int e = t; e < GEMM_TILE * GEMM_STEP; e += 256) {
            int i = g.a_row == 1 ? e % GEMM_TILE : e / GEMM_STEP, ka = g.a_row == 1 ? e / GEMM_TILE : e % GEMM_STEP;
            int j = g.b_col == 1 ? e % GEMM_TILE : e / GEMM_STEP, kb2 = g.b_col == 1 ? e / GEMM_TILE : e % GEMM_STEP;
            As[ka][i] = i0 + i < g.M && k0 + ka < ke ? g.A[(i0 + i) * g.a_row + (k0 + ka) * g.a_col] : 0.0f;
            Bs[kb2][j] = j0 + j < g.N && k0 + kb2 < ke ? g.B[(k0 + kb2) * g.b_row + (j0 + j) * g.b_col] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < GEMM_STEP; k++) {
            float4 a = *(const float4 *)&As[k][ti * 4], b = *(const float4 *)&Bs[k][tj * 4];
            float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int r = 0; r < 4; r++)
#pragma unroll
                for (int s = 0; s < 4; s++) acc[r][s] = fmaf(av[r], bv[s], acc[r][s]);
        }
        __syncthreads();
    }
    float *C = g.C + blockIdx.z * g.c_split;
    for (int r = 0; r < 4; r++)
        for (int s = 0; s < 4; s++) {
            int i = i0 + ti * 4 + r, j = j0 + tj * 4 + s;
            if (i < g.M && j < g.N) C[(long long)i * g.ldc + j] = acc[r][s];
        }
}

/* Launches C = A B; returns the parts it wrote (blockIdx.z's), 1 without k_split. */
static int gemm(cudaStream_t st, const gemm_args &g)
{
    int splits = g.k_split > 0 ? (g.K + g.k_split - 1) / g.k_split : 1;
    gemm_args a = g;
    if (a.k_split <= 0) a.k_split = a.K;
    dim3 grid((unsigned)((g.N + GEMM_TILE - 1) / GEMM_TILE), (unsigned)((g.M + GEMM_TILE - 1) / GEMM_TILE), (unsigned)splits);
    gemm_kernel<<<grid, 256, 0, st>>>(a);
    return splits;
}

/* What the loss reads of the view: per pixel and level a row of mask_features (masks), or
   its own dim floats (features, where masks is NULL); no target: a -1 mask, or all zeros. */
typedef struct loss_params {
    const int *masks;
    const float *targets;
    long long pixels, first; /* the view's, and the chunk's first */
    int chunk, level, dim;
    float scale;       /* 1 / (pixels levels) */
    float *dF;         /* chunk*dim: F on the way in, dL/dF on the way out */
    float *cosines;    /* levels*pixels */
} loss_params;

/* pixel_losses' middle, a warp a pixel: the cosine of F with the target, and
   dL/dF = -scale (f / (|F||f|) - cos F / |F|^2); no target or no direction: 0 and 0. */
static __global__ void cosine_kernel(loss_params p)
{
    int q = (int)((blockIdx.x * (long long)blockDim.x + threadIdx.x) / 32), lane = threadIdx.x & 31;
    if (q >= p.chunk) return;
    long long pixel = p.first + q;
    float *F = p.dF + (size_t)q * p.dim;
    const float *f = NULL;
    if (p.masks) {
        int row = p.masks[p.level * p.pixels + pixel];
        f = row >= 0 ? p.targets + (size_t)row * p.dim : NULL;
    } else {
        f = p.targets + ((size_t)p.level * p.pixels + pixel) * p.dim;
        bool any = false;
        for (int d = lane; d < p.dim; d += 32) any |= f[d] != 0.0f;
        if (!__any_sync(0xffffffffu, any)) f = NULL;
    }
    double FF = 0.0, ff = 0.0, Ff = 0.0;
    for (int d = lane; f && d < p.dim; d += 32) FF += (double)F[d] * F[d], ff += (double)f[d] * f[d], Ff += (double)F[d] * f[d];
    for (int o = 16; o > 0; o >>= 1)
        FF += __shfl_xor_sync(0xffffffffu, FF, o), ff += __shfl_xor_sync(0xffffffffu, ff, o), Ff += __shfl_xor_sync(0xffffffffu, Ff, o);
    double nF = sqrt(FF), nf = sqrt(ff);
    bool none = !f || nF < 1e-12 || nf < 1e-12;
    double cosine = none ? 0.0 : Ff / (nF * nf);
    for (int d = lane; d < p.dim; d += 32)
        F[d] = none ? 0.0f : (float)(-(double)p.scale * ((double)f[d] / (nF * nf) - cosine * F[d] / FF));
    if (lane == 0) p.cosines[p.level * p.pixels + pixel] = (float)cosine;
}

/* code_grad (one level's L*dim) += the chunk's SPLITS parts, in order. */
static __global__ void add_parts_kernel(const float *parts, int splits, long long n, float *out)
{
    long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (e >= n) return;
    float s = out[e];
    for (int z = 0; z < splits; z++) s += parts[z * n + e];
    out[e] = s;
}

/* A block's share of x's sum (in double), for the host to add in order. */
static __global__ void sum_kernel(const float *x, long long n, double *parts)
{
    __shared__ double s[256];
    double v = 0.0;
    for (long long e = blockIdx.x * 256ll + threadIdx.x; e < n; e += 256ll * gridDim.x) v += x[e];
    s[threadIdx.x] = v;
    __syncthreads();
    for (int h = 128; h > 0; h >>= 1) {
        if ((int)threadIdx.x < h) s[threadIdx.x] += s[threadIdx.x + h];
        __syncthreads();
    }
    if (threadIdx.x == 0) parts[blockIdx.x] = s[0];
}

/* ---- the trainer ---------------------------------------------------------------------------- */

static unsigned int blocks_for(long long n, int threads) { return (unsigned int)((n + threads - 1) / threads); }

static rd_result upload_view(rd_context *ctx, rd_feature_train_cuda *s, const rd_feature_trainer *t, const rd_feature_view *v)
{
    size_t pixels = (size_t)v->camera.width * v->camera.height;
    rd_result r = RD_OK;
    if (v->masks) {
        size_t masks = (size_t)t->levels * pixels * sizeof(int32_t), rows = (size_t)v->mask_count * t->dim * sizeof(float);
        r = rd_cuda_reserve(ctx, &s->masks, masks, "feature training masks");
        if (r == RD_OK) r = rd_cuda_upload(ctx, &s->masks, 0, v->masks, masks);
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->targets, rows, "feature training mask features");
        if (r == RD_OK) r = rd_cuda_upload(ctx, &s->targets, 0, v->mask_features, rows);
        return r;
    }
    size_t bytes = (size_t)t->levels * pixels * t->dim * sizeof(float);
    r = rd_cuda_reserve(ctx, &s->targets, bytes, "feature training targets");
    return r == RD_OK ? rd_cuda_upload(ctx, &s->targets, 0, v->features, bytes) : r;
}

/* view_loss: the cosines of the view's pixels and levels into s->cosines, dL/dW into W_grad,
   dL/dD into code_grad. */
static void view_loss(rd_feature_trainer *t, rd_feature_train_cuda *s, const rd_feature_view *v, cudaStream_t st)
{
    long long pixels = (long long)v->camera.width * v->camera.height, row = (long long)t->levels * t->L;
    float *W = (float *)s->W.ptr, *W_grad = (float *)s->W_grad.ptr, *dF = (float *)s->dF.ptr, *parts = (float *)s->partials.ptr;
    const float *codebooks = (const float *)s->codebooks.ptr;
    cudaMemsetAsync(s->code_grad.ptr, 0, (size_t)t->levels * t->L * t->dim * sizeof(float), st);
    for (int l = 0; l < t->levels; l++) {
        const float *D = codebooks + (size_t)l * t->L * t->dim;
        float *code_grad = (float *)s->code_grad.ptr + (size_t)l * t->L * t->dim;
        for (long long first = 0; first < pixels; first += s->chunk) {
            int chunk = (int)(pixels - first < s->chunk ? pixels - first : s->chunk);
            const float *Wc = W + first * row + (long long)l * t->L;
            /* F = W D: (chunk x L) (L x dim) */
            gemm(st, {Wc, D, row, 1, t->dim, 1, dF, t->dim, 0, chunk, t->dim, t->L, 0});
            loss_params lp = {(const int *)(v->masks ? s->masks.ptr : NULL), (const float *)s->targets.ptr, pixels, first, chunk, l,
                              t->dim, (float)(1.0 / ((double)pixels * t->levels)), dF, (float *)s->cosines.ptr};
            cosine_kernel<<<blocks_for((long long)chunk * 32, 256), 256, 0, st>>>(lp);
            /* dL/dW = dL/dF D^T: (chunk x dim) (dim x L) */
            gemm(st, {dF, D, t->dim, 1, 1, t->dim, W_grad + first * row + (long long)l * t->L, row, 0, chunk, t->L, t->dim, 0});
            /* dL/dD = W^T dL/dF: (L x chunk) (chunk x dim), in SPLITS parts added in order */
            int split = (chunk + SPLITS - 1) / SPLITS;
            split = (split + GEMM_STEP - 1) / GEMM_STEP * GEMM_STEP;
            int splits = gemm(st, {Wc, dF, 1, row, t->dim, 1, parts, t->dim, (long long)t->L * t->dim, t->L, t->dim, chunk, split});
            long long n = (long long)t->L * t->dim;
            add_parts_kernel<<<blocks_for(n, 256), 256, 0, st>>>(parts, splits, n, code_grad);
        }
    }
}

extern "C" rd_result rd_feature_train_cuda_gradients(rd_feature_trainer *t, int view_index, double *loss)
{
    rd_context *ctx = t->ctx;
    rd_feature_train_cuda *s = t->cuda;
    cudaStream_t st = rd_cuda(ctx)->stream;
    const rd_feature_view *v = &t->desc.views[view_index];
    long long rows = t->count * t->levels, pixels = (long long)v->camera.width * v->camera.height;
    if (rows > 0)
        choose_slots_kernel<<<blocks_for(rows, 128), 128, 0, st>>>((const float *)s->logits.ptr, rows, t->L, t->K,
                                                                   (unsigned char *)s->indices.ptr, (float *)s->weights.ptr);
    rd_view_params vp;
    rd_render_desc plain = {};
    rd_view_params_init(&vp, &v->camera, &plain, t->scene);
    splat_saved_frame fr;
    rd_result r = upload_view(ctx, s, t, v);
    if (r == RD_OK) r = rd_splat_cuda_forward_bins(ctx, t->scene, &vp, st, &fr);
    if (r != RD_OK) return r;
    int rows_a_block = s->rows, threads = RD_TILE_SIZE * rows_a_block;
    size_t shared = (size_t)t->L * threads * sizeof(float);
    walk_params wp = {fr.ranges, fr.values, fr.splats, vp.width, vp.height, vp.tiles_x, rows_a_block,
                      (const unsigned char *)s->indices.ptr, (const float *)s->weights.ptr, 0, t->levels, t->L, t->K,
                      (float *)s->W.ptr, (const float *)s->W_grad.ptr, (float *)s->weight_grad.ptr};
    dim3 grid((unsigned int)(vp.tiles_x * vp.tiles_y), RD_TILE_SIZE / rows_a_block);
    for (wp.level = 0; r == RD_OK && wp.level < t->levels && fr.tiles > 0; wp.level++)
        coefficients_kernel<<<grid, threads, shared, st>>>(wp);
    if (r == RD_OK) view_loss(t, s, v, st);
    if (r == RD_OK && rows > 0) cudaMemsetAsync(s->weight_grad.ptr, 0, (size_t)(rows * t->K) * sizeof(float), st);
    for (wp.level = 0; r == RD_OK && wp.level < t->levels && fr.tiles > 0; wp.level++) backward_kernel<<<grid, threads, 0, st>>>(wp);
    if (r == RD_OK && rows > 0)
        logit_gradients_kernel<<<blocks_for(rows, 128), 128, 0, st>>>((const unsigned char *)s->indices.ptr, (const float *)s->weights.ptr,
                                                                      (const float *)s->weight_grad.ptr, rows, t->L, t->K,
                                                                      (float *)s->logit_grad.ptr);
    enum { SUM_BLOCKS = 256 };
    if (r == RD_OK) sum_kernel<<<SUM_BLOCKS, 256, 0, st>>>((const float *)s->cosines.ptr, pixels * t->levels, (double *)s->sums.ptr);
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaGetLastError(), "feature training step");
    double parts[SUM_BLOCKS], cosines = 0.0;
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaMemcpyAsync(parts, s->sums.ptr, sizeof parts, cudaMemcpyDeviceToHost, st), "feature loss");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(st), "feature training step");
    for (int b = 0; r == RD_OK && b < SUM_BLOCKS; b++) cosines += parts[b];
    *loss = 1.0 - cosines / ((double)pixels * t->levels);
    return r;
}

extern "C" rd_result rd_feature_train_cuda_adam(rd_feature_trainer *t)
{
    rd_feature_train_cuda *s = t->cuda;
    rd_adam_step_desc adam = {};
    adam.lr = t->desc.lr, adam.step = t->step;
    size_t logits = (size_t)(t->count * t->levels * t->L), values = (size_t)t->levels * t->L * t->dim;
    rd_result r = logits ? rd_adam_update_cuda(t->ctx, (float *)s->logits.ptr, (const float *)s->logit_grad.ptr, (float *)s->logit_m.ptr,
                                               (float *)s->logit_v.ptr, logits, &adam, NULL)
                         : RD_OK;
    if (r == RD_OK)
        r = rd_adam_update_cuda(t->ctx, (float *)s->codebooks.ptr, (const float *)s->code_grad.ptr, (float *)s->code_m.ptr,
                                (float *)s->code_v.ptr, values, &adam, NULL);
    return r;
}

/* The state's arrays, host and device, with their sizes in floats: logits and moments,
   codebooks and moments, then the two gradients. */
static int state_pairs(rd_feature_trainer *t, float **host, rd_cuda_buffer **device, size_t *floats)
{
    rd_feature_train_cuda *s = t->cuda;
    size_t logits = (size_t)(t->count * t->levels * t->L), values = (size_t)t->levels * t->L * t->dim;
    float *h[] = {t->logits, t->logit_m, t->logit_v, t->codebooks, t->code_m, t->code_v, t->logit_grad, t->code_grad};
    rd_cuda_buffer *d[] = {&s->logits, &s->logit_m, &s->logit_v, &s->codebooks, &s->code_m, &s->code_v, &s->logit_grad, &s->code_grad};
    size_t f[] = {logits, logits, logits, values, values, values, logits, values};
    for (int k = 0; k < 8; k++) host[k] = h[k], device[k] = d[k], floats[k] = f[k];
    return 8;
}

extern "C" rd_result rd_feature_train_cuda_sync(rd_feature_trainer *t, bool to_host, bool gradients)
{
    float *host[8];
    rd_cuda_buffer *device[8];
    size_t floats[8];
    int n = state_pairs(t, host, device, floats);
    rd_result r = RD_OK;
    for (int k = gradients ? 6 : 0; r == RD_OK && k < (gradients ? n : 6); k++)
        if (floats[k])
            r = to_host ? rd_cuda_download(t->ctx, host[k], device[k], 0, floats[k] * sizeof(float))
                        : rd_cuda_upload(t->ctx, device[k], 0, host[k], floats[k] * sizeof(float));
    return r;
}

extern "C" rd_result rd_feature_train_cuda_create(rd_feature_trainer *t)
{
    rd_context *ctx = t->ctx;
    rd_feature_train_cuda *s = (rd_feature_train_cuda *)calloc(1, sizeof *s);
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "feature trainer: out of memory");
    t->cuda = s;
    /* a whole tile a blend block where its accumulators fit beside the staged Gaussians, else
       half or a quarter (L 256: 146 KB a half tile, where sm_90 allows a block 227) */
    int max_shared = 0, gpu = 0;
    cudaGetDevice(&gpu);
    cudaDeviceGetAttribute(&max_shared, cudaDevAttrMaxSharedMemoryPerBlockOptin, gpu);
    for (s->rows = RD_TILE_SIZE; s->rows > 4; s->rows /= 2)
        if ((size_t)t->L * RD_TILE_SIZE * s->rows * sizeof(float) + sizeof(walk_splat) * BATCH <= (size_t)max_shared) break;
    size_t shared = (size_t)t->L * RD_TILE_SIZE * s->rows * sizeof(float);
    if (shared + sizeof(walk_splat) * BATCH > (size_t)max_shared)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "feature trainer: a codebook of %d entries needs %zu bytes of shared memory a block, "
                       "where this GPU allows %d", t->L, shared + sizeof(walk_splat) * BATCH, max_shared);
    rd_result r = rd_cuda_check(ctx, cudaFuncSetAttribute(coefficients_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)shared),
                                "feature training shared memory");
    /* dL/dF at most 2^25 floats (128 MiB) */
    s->chunk = (int)((1 << 25) / t->dim < CHUNK ? (1 << 25) / t->dim : CHUNK);
    float *host[8];
    rd_cuda_buffer *device[8];
    size_t floats[8];
    int n = state_pairs(t, host, device, floats);
    for (int k = 0; r == RD_OK && k < n; k++) r = rd_cuda_reserve(ctx, device[k], floats[k] * sizeof(float) + 4, "feature training state");
    long long largest = 0, slots = t->count * t->levels * t->K;
    for (int k = 0; k < t->desc.view_count; k++) {
        long long pixels = (long long)t->desc.views[k].camera.width * t->desc.views[k].camera.height;
        largest = pixels > largest ? pixels : largest;
    }
    size_t maps = (size_t)largest * t->levels * t->L * sizeof(float);
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->indices, (size_t)slots + 4, "feature training slots");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->weights, (size_t)slots * sizeof(float) + 4, "feature training weights");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->weight_grad, (size_t)slots * sizeof(float) + 4, "feature training weight gradients");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->W, maps, "feature training coefficients");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->W_grad, maps, "feature training coefficient gradients");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->dF, (size_t)(largest < s->chunk ? largest : s->chunk) * t->dim * sizeof(float), "feature training dL/dF");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->partials, (size_t)SPLITS * t->L * t->dim * sizeof(float), "feature training dL/dD parts");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->cosines, (size_t)largest * t->levels * sizeof(float), "feature training cosines");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &s->sums, 256 * sizeof(double), "feature training loss");
    if (r == RD_OK) r = rd_feature_train_cuda_sync(t, false, false);
    return r; /* on failure the caller destroys the trainer, and with it this */
}

extern "C" void rd_feature_train_cuda_destroy(rd_feature_trainer *t)
{
    rd_feature_train_cuda *s = t->cuda;
    if (!s) return;
    rd_cuda_buffer *all[] = {&s->logits, &s->logit_m, &s->logit_v, &s->logit_grad, &s->codebooks, &s->code_m, &s->code_v, &s->code_grad,
                             &s->indices, &s->weights, &s->weight_grad, &s->W, &s->W_grad, &s->dF, &s->partials, &s->cosines,
                             &s->sums, &s->masks, &s->targets};
    for (rd_cuda_buffer *b : all) rd_cuda_release(t->ctx, b);
    free(s);
    t->cuda = NULL;
}
