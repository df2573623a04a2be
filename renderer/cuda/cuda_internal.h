/* cuda_internal.h: for .cu files only: the context's stream, a check that turns a CUDA
   error into an rd_result with a message naming the step, and stage timers. */
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
    rd_cuda_buffer scratch; /* rd_scan's and rd_sort_pairs' (cuda_primitives.cu) */
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

/* Stage timers on CUDA events, with the same names as the Vulkan backend's (vk_backend.h):
   a module creates them for its named stages with its frame state, marks the start (mark
   0) and each stage's end (mark s + 1) on the frame's stream, and reads them into its
   stats after the frame; the start and the last mark give the total. */
typedef struct rd_cuda_timers {
    cudaEvent_t events[RD_MAX_STATS + 1];
    int stages;
    const char *const *names; /* the stages', static strings */
} rd_cuda_timers;
extern "C" rd_result rd_cuda_timers_create(rd_context *ctx, const char *const *names, int stages, rd_cuda_timers *out);
extern "C" void rd_cuda_timers_destroy(rd_cuda_timers *t);
extern "C" void rd_cuda_timers_mark(const rd_cuda_timers *t, int mark, cudaStream_t stream);
/* The total, and the stages' times where `stages` (else zeros: their marks were not
   recorded this frame). */
extern "C" rd_result rd_cuda_timers_read(rd_context *ctx, const rd_cuda_timers *t, bool stages, rd_render_stats *stats);

#endif
