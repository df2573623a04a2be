/* stream_encode_cuda.cu: the residual encoder's step on CUDA (stream_encode_step.h): a
   thread a Gaussian runs the CPU's per-Gaussian functions (gates and decode, the chain);
   the decoders' gradients are summed in a fixed tree, CHUNKS blocks of Gaussians a term
   and then the chunks in order, so a run gives the same bits every time. */
#include "stream_encode_step.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256, CHUNKS = 128 };

/* The decoder terms of every attribute with latents, one after another. */
static int decoder_terms(const stream_encode_step *s)
{
    int total = 0;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++)
        if (s->latents[a].ld) total += stream_encode_decoder_size(&s->latents[a]) + s->latents[a].features;
    return total;
}

/* Term t of decoder_terms as (attribute, term within it). */
__device__ static void term_of(const stream_encode_step *s, int t, int *attribute, int *j)
{
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &s->latents[a];
        if (!l->ld) continue;
        int n = stream_encode_decoder_size(l) + l->features;
        if (t < n) {
            *attribute = a, *j = t;
            return;
        }
        t -= n;
    }
    *attribute = -1, *j = 0;
}

__global__ void decode_kernel(stream_encode_step s)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < s.count) stream_encode_decode_one(&s, i);
}

__global__ void chain_kernel(stream_encode_step s)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < s.count) stream_encode_chain_one(&s, i);
}

/* Block (chunk, term): the term summed over the chunk's Gaussians into partials. */
__global__ void decoder_partials_kernel(stream_encode_step s, float *partials)
{
    __shared__ float sums[THREADS];
    int attribute, j;
    term_of(&s, (int)blockIdx.y, &attribute, &j);
    int64_t per = (s.count + CHUNKS - 1) / CHUNKS, start = per * blockIdx.x, end = min(start + per, s.count);
    float sum = 0.0f;
    for (int64_t i = start + threadIdx.x; attribute >= 0 && i < end; i += THREADS) sum += stream_encode_decoder_term(&s, attribute, j, i);
    sums[threadIdx.x] = sum;
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) sums[threadIdx.x] += sums[threadIdx.x + half];
        __syncthreads();
    }
    if (threadIdx.x == 0) partials[(size_t)blockIdx.y * CHUNKS + blockIdx.x] = sums[0];
}

/* A thread a term: the chunks' partials in order, into dW or db. */
__global__ void decoder_sums_kernel(stream_encode_step s, const float *partials, int terms)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= terms) return;
    int attribute, j;
    term_of(&s, t, &attribute, &j);
    float sum = 0.0f;
    for (int c = 0; c < CHUNKS; c++) sum += partials[(size_t)t * CHUNKS + c];
    const stream_encode_latents *l = &s.latents[attribute];
    int w = stream_encode_decoder_size(l);
    if (j < w) l->gW[j] = sum;
    else l->gb[j - w] = sum;
}

__global__ void clamp_kernel(float *log_alpha, int64_t count, float lo, float hi)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) log_alpha[i] = fminf(fmaxf(log_alpha[i], lo), hi);
}

__global__ void shrink_kernel(stream_encode_latents l, int64_t count, float t)
{
    int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < count) l.z[i] = stream_encode_settle_one(&l, i, t);
}

__global__ void mask_rows_kernel(const float *render, int width, int height, float *rows)
{
    int64_t p = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (p < (int64_t)width * height) rows[p] = stream_encode_mask_row_one(render, width, (int)(p % width), (int)(p / width));
}

__global__ void mask_apply_kernel(const float *rows, float *render, const float *photo, float3 background, int width, int height, float *mask)
{
    int64_t p = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    float bg[3] = {background.x, background.y, background.z};
    if (p < (int64_t)width * height)
        mask[p] = stream_encode_mask_apply_one(rows, render, photo, bg, width, height, (int)(p % width), (int)(p / width));
}

__global__ void mask_grad_kernel(float *grad, const float *mask, int64_t pixels)
{
    int64_t p = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (p < pixels) stream_encode_mask_grad_one(grad, mask, p);
}

__global__ void gather_kernel(float *to, const float *from, int width, const int64_t *rows_from, const uint8_t *fresh, int64_t count)
{
    int64_t j = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (j < count) stream_encode_gather_one(to, from, width, rows_from, fresh, j);
}

/* The scale latents' shrink by value (a kernel argument: no device copy). */
typedef struct shrink_values {
    float v[RD_STREAM_MAX_LATENT];
} shrink_values;

__global__ void children_kernel(stream_encode_step s, float *scale_anchor, const int64_t *rows, const float *x, shrink_values shrink, int with_shrink,
                                int64_t children)
{
    int64_t c = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (c < children) stream_encode_place_child_one(&s, scale_anchor, rows, x, with_shrink ? shrink.v : NULL, c);
}

static unsigned blocks_of(int64_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

extern "C" rd_result rd_stream_encode_gather_cuda(rd_context *ctx, float *to, const float *from, int width, const int64_t *rows_from,
                                                  const uint8_t *fresh, int64_t count)
{
    if (count > 0 && width > 0) gather_kernel<<<blocks_of(count), THREADS, 0, rd_cuda(ctx)->stream>>>(to, from, width, rows_from, fresh, count);
    return rd_cuda_check(ctx, cudaGetLastError(), "stream encoder rebuild");
}

extern "C" rd_result rd_stream_encode_children_cuda(rd_context *ctx, const stream_encode_step *s, float *scale_anchor, const int64_t *rows,
                                                    const float *x, const float *shrink, int64_t children)
{
    shrink_values values = {};
    int ld = s->latents[RD_STREAM_SCALE].ld;
    for (int k = 0; shrink && k < ld && k < RD_STREAM_MAX_LATENT; k++) values.v[k] = shrink[k];
    if (children > 0)
        children_kernel<<<blocks_of(children), THREADS, 0, rd_cuda(ctx)->stream>>>(*s, scale_anchor, rows, x, values, shrink != NULL, children);
    return rd_cuda_check(ctx, cudaGetLastError(), "stream encoder split children");
}

extern "C" size_t rd_stream_encode_partials_floats(const stream_encode_step *s) { return (size_t)decoder_terms(s) * CHUNKS + 1; }

extern "C" rd_result rd_stream_encode_decode_cuda(rd_context *ctx, const stream_encode_step *s)
{
    if (s->count > 0) decode_kernel<<<blocks_of(s->count), THREADS, 0, rd_cuda(ctx)->stream>>>(*s);
    return rd_cuda_check(ctx, cudaGetLastError(), "stream encoder decode");
}

extern "C" rd_result rd_stream_encode_chain_cuda(rd_context *ctx, const stream_encode_step *s, float *partials)
{
    cudaStream_t st = rd_cuda(ctx)->stream;
    int terms = decoder_terms(s);
    if (s->count > 0) chain_kernel<<<blocks_of(s->count), THREADS, 0, st>>>(*s);
    if (terms) {
        decoder_partials_kernel<<<dim3(CHUNKS, (unsigned)terms), THREADS, 0, st>>>(*s, partials);
        decoder_sums_kernel<<<blocks_of(terms), THREADS, 0, st>>>(*s, partials, terms);
    }
    return rd_cuda_check(ctx, cudaGetLastError(), "stream encoder chain");
}

extern "C" rd_result rd_stream_encode_settle_cuda(rd_context *ctx, const stream_encode_step *s)
{
    if (s->count > 0 && !s->gates_off)
        clamp_kernel<<<blocks_of(s->count), THREADS, 0, rd_cuda(ctx)->stream>>>(s->log_alpha, s->count, logf(1e-3f), logf(1e3f));
    for (int a = 0; s->shrink > 0.0f && a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &s->latents[a];
        int64_t n = s->count * l->ld;
        if (n > 0) shrink_kernel<<<blocks_of(n), THREADS, 0, rd_cuda(ctx)->stream>>>(*l, n, s->shrink);
    }
    return rd_cuda_check(ctx, cudaGetLastError(), "stream encoder settle");
}

extern "C" rd_result rd_stream_encode_mask_cuda(rd_context *ctx, float *render, const float *photo, const float background[3], int width,
                                                int height, float *rows, float *mask)
{
    cudaStream_t st = rd_cuda(ctx)->stream;
    int64_t pixels = (int64_t)width * height;
    if (pixels > 0) {
        mask_rows_kernel<<<blocks_of(pixels), THREADS, 0, st>>>(render, width, height, rows);
        mask_apply_kernel<<<blocks_of(pixels), THREADS, 0, st>>>(rows, render, photo, make_float3(background[0], background[1], background[2]),
                                                                 width, height, mask);
    }
    return rd_cuda_check(ctx, cudaGetLastError(), "stream encoder mask");
}

extern "C" rd_result rd_stream_encode_mask_grad_cuda(rd_context *ctx, float *grad, const float *mask, int64_t pixels)
{
    if (pixels > 0) mask_grad_kernel<<<blocks_of(pixels), THREADS, 0, rd_cuda(ctx)->stream>>>(grad, mask, pixels);
    return rd_cuda_check(ctx, cudaGetLastError(), "stream encoder mask gradient");
}
