/* primitives.h: the device-wide primitives every backend offers, one call at a time on
   the context's backend, on memory from rd_buffer_alloc (device memory on GPU backends,
   host memory on the CPU). They are what tests/test_primitives.c checks on every backend
   against the CPU, and what a module's host-side code may call between frames.

   Inside a frame a module calls its backend's own forms of the same operations, which
   enqueue or record rather than wait:
     CPU     renderer/cpu/cpu_primitives.h  rd_cpu_scan, rd_cpu_sort_pairs
     CUDA    renderer/cuda/cuda_scan.h      rd_cuda_scan (on a stream)
             renderer/cuda/cuda_sort.h      rd_cuda_sort_pairs (on a stream)
     Vulkan  renderer/vulkan/vk_sort.h      rd_vk_scan_record, rd_vk_sort_pairs_record
   and the buffers (reserve, release, upload, download) and stage timers of
   cuda_backend.h / cuda_internal.h and vk_backend.h, named alike. */
#ifndef RD_PRIMITIVES_H
#define RD_PRIMITIVES_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = in[0] + ... + in[i] (inclusive) or + in[i - 1] (exclusive), saturating at
   2^32 - 1; out may equal in. */
rd_result rd_scan(rd_context *ctx, const uint32_t *in, uint32_t *out, int64_t count, bool exclusive);
/* A stable sort of the pairs in keys[0], values[0] by the keys' bits [0, bits), 1..32;
   *result is the index of the pair of arrays that holds the sorted pairs (the other one
   is scratch). count < 2^30 (the Vulkan sort's limit). */
rd_result rd_sort_pairs(rd_context *ctx, uint32_t *keys[2], uint32_t *values[2], int64_t count, int bits, int *result);

/* Each GPU backend's implementation of the two (cuda_primitives.cu, vk_primitives.c). */
rd_result rd_cuda_run_scan(rd_context *ctx, const uint32_t *in, uint32_t *out, int64_t count, bool exclusive);
rd_result rd_cuda_run_sort_pairs(rd_context *ctx, uint32_t *keys[2], uint32_t *values[2], int64_t count, int bits, int *result);
rd_result rd_vk_run_scan(rd_context *ctx, const uint32_t *in, uint32_t *out, int64_t count, bool exclusive);
rd_result rd_vk_run_sort_pairs(rd_context *ctx, uint32_t *keys[2], uint32_t *values[2], int64_t count, int bits, int *result);

#ifdef __cplusplus
}
#endif
#endif
