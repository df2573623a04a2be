/* cuda_internal.h: for .cu files only: the context's stream and a check that turns a CUDA
   error into an rd_result with a message naming the step. */
#ifndef RD_CUDA_INTERNAL_H
#define RD_CUDA_INTERNAL_H

#include "cuda_backend.h"

#include <cuda_runtime.h>

typedef struct rd_cuda_state {
    int device;
    cudaStream_t stream;
    char name[256];
    bool dependent_launch; /* programmatic dependent launch (sm_90 on): see splat_cuda.cu's launch */
    int multiprocessors;
} rd_cuda_state;

static inline rd_cuda_state *rd_cuda(rd_context *ctx) { return (rd_cuda_state *)ctx->backend_state; }

/* RD_OK, or the failure recorded in ctx as "<step>: <CUDA error string>". */
static inline rd_result rd_cuda_check(rd_context *ctx, cudaError_t err, const char *step)
{
    if (err == cudaSuccess) return RD_OK;
    cudaGetLastError(); /* clear a sticky launch error so that the next frame may try again */
    rd_result code = err == cudaErrorMemoryAllocation ? RD_ERROR_OUT_OF_MEMORY : RD_ERROR_DEVICE;
    return rd_fail(ctx, code, "cuda: %s: %s", step, cudaGetErrorString(err));
}

#endif
