/* saliency_cuda.cu: saliency.c's ADMM pruner on CUDA (saliency.h): the update (its
   projection's bisection as rd_admm_project's, each sum in double over ADMM_BLOCKS fixed
   blocks added in order by one thread, so that a run repeats bit for bit, and no host
   synchronisation: the bisection's state stays on the device, and the launches after it
   has converged return at once) and the penalty's gradient, a thread a cell. The mask's
   forward and backward passes are the field's (field_cuda.cu). */
#include "saliency.h"
#include "../renderer/cuda/cuda_internal.h"

enum { THREADS = 256, ADMM_BLOCKS = 256, ADMM_BISECTIONS = 80 }; /* rd_admm_project's iterations */

/* The projection's bisection between its launches (rd_admm_project's lo, hi and tau). */
typedef struct admm_state {
    double lo, hi, mid, tau;
    int active;
} admm_state;

static unsigned blocks(int64_t n) { return (unsigned)((n + THREADS - 1) / THREADS); }

/* y = sigmoid(G) + u, in z's room */
__global__ void admm_y_kernel(const float *logits, const float *u, long long n, float *y)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i < n) y[i] = rd_saliency_keep(logits[i]) + u[i];
}

/* Each block's sum of clamp(y - tau, 0, 1) (tau: 0 on the first pass, else the state's
   mid) and, on the first pass, its largest y; nothing once the bisection has ended. */
__global__ void admm_sums_kernel(const float *y, long long n, bool first, const admm_state *state, double *partial)
{
    if (!first && !state->active) return;
    __shared__ double sums[THREADS], maxima[THREADS];
    double tau = first ? 0.0 : state->mid, sum = 0.0, largest = 0.0;
    for (long long i = (long long)blockIdx.x * THREADS + threadIdx.x; i < n; i += (long long)gridDim.x * THREADS) {
        sum += fmin(fmax((double)y[i] - tau, 0.0), 1.0);
        largest = fmax(largest, (double)y[i]);
    }
    sums[threadIdx.x] = sum, maxima[threadIdx.x] = largest;
    __syncthreads();
    for (int half = THREADS / 2; half > 0; half /= 2) {
        if (threadIdx.x < half)
            sums[threadIdx.x] += sums[threadIdx.x + half], maxima[threadIdx.x] = fmax(maxima[threadIdx.x], maxima[threadIdx.x + half]);
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sums[0], partial[ADMM_BLOCKS + blockIdx.x] = maxima[0];
}

/* One thread: the blocks' sums in order, and the bisection's next step (rd_admm_project's). */
__global__ void admm_decide_kernel(const double *partial, int count, bool first, double budget, admm_state *state)
{
    if (!first && !state->active) return;
    double sum = 0.0, largest = 0.0;
    for (int b = 0; b < count; b++) sum += partial[b], largest = fmax(largest, partial[ADMM_BLOCKS + b]);
    if (first) {
        state->lo = 0.0, state->hi = largest;
        state->active = sum > budget;
        state->tau = state->active ? largest : 0.0;
    } else {
        if (sum > budget) state->lo = state->mid;
        else state->hi = state->mid;
        state->tau = state->hi;
    }
    state->active = state->active && state->hi - state->lo > 1e-12 * fmax(1.0, state->hi);
    state->mid = 0.5 * (state->lo + state->hi);
}

/* z = clamp(y - tau, 0, 1) (y in z's room); u += sigmoid(G) - z */
__global__ void admm_finish_kernel(const float *logits, long long n, const admm_state *state, float *z, float *u)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i >= n) return;
    z[i] = (float)fmin(fmax((double)z[i] - state->tau, 0.0), 1.0);
    u[i] += rd_saliency_keep(logits[i]) - z[i];
}

__global__ void admm_penalty_kernel(const float *logits, const float *z, const float *u, long long n, float rho, float *grad)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i >= n) return;
    float p = rd_saliency_keep(logits[i]);
    grad[i] += rho * (p - z[i] + u[i]) * p * (1.0f - p);
}

extern "C" rd_result rd_admm_update_cuda(rd_context *ctx, const float *logits, int64_t n, double budget, float *z, float *u,
                                         rd_admm_cuda *scratch, void *stream)
{
    if (n <= 0) return RD_OK;
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    rd_result r = rd_cuda_reserve(ctx, &scratch->state, sizeof(admm_state) + 2 * ADMM_BLOCKS * sizeof(double), "the ADMM pruner's state");
    if (r != RD_OK) return r;
    admm_state *state = (admm_state *)scratch->state.ptr;
    double *partial = (double *)(state + 1);
    int sum_blocks = (int)(blocks(n) < ADMM_BLOCKS ? blocks(n) : ADMM_BLOCKS);
    admm_y_kernel<<<blocks(n), THREADS, 0, st>>>(logits, u, n, z);
    for (int k = 0; k <= ADMM_BISECTIONS; k++) { /* k 0: the sum at tau 0 and the largest y */
        admm_sums_kernel<<<sum_blocks, THREADS, 0, st>>>(z, n, k == 0, state, partial);
        admm_decide_kernel<<<1, 1, 0, st>>>(partial, sum_blocks, k == 0, budget, state);
    }
    admm_finish_kernel<<<blocks(n), THREADS, 0, st>>>(logits, n, state, z, u);
    return rd_cuda_check(ctx, cudaGetLastError(), "the ADMM pruner's update");
}

extern "C" rd_result rd_admm_penalty_gradient_cuda(rd_context *ctx, const float *logits, const float *z, const float *u, int64_t n,
                                                   float rho, float *grad, void *stream)
{
    if (n <= 0) return RD_OK;
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    admm_penalty_kernel<<<blocks(n), THREADS, 0, st>>>(logits, z, u, n, rho, grad);
    return rd_cuda_check(ctx, cudaGetLastError(), "the ADMM pruner's penalty");
}

extern "C" void rd_admm_cuda_free(rd_context *ctx, rd_admm_cuda *scratch) { rd_cuda_release(ctx, &scratch->state); }
