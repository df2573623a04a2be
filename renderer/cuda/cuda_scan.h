/* cuda_scan.h: the CUDA backend's device-wide scan of uints, saturating at 2^32 - 1 as
   the Vulkan backend's (vk_sort.h) and the CPU's (cpu_primitives.h), for every module's
   .cu files. CUB's decoupled look-back scan with a saturating sum. */
#ifndef RD_CUDA_SCAN_H
#define RD_CUDA_SCAN_H

#include "cuda_internal.h"

/* Where a scan runs: its scratch (temp NULL: rd_cuda_scan only sets temp_bytes, for a
   scan of that n) and its stream. */
typedef struct rd_cuda_scan_plan {
    void *temp;
    size_t temp_bytes;
    cudaStream_t stream;
} rd_cuda_scan_plan;

/* out[i] = in[0] + ... + in[i] (inclusive) or + in[i - 1] (exclusive) for n < 2^31, on
   plan->stream; out may equal in. Errors are CUB's launch and argument errors. */
cudaError_t rd_cuda_scan(rd_cuda_scan_plan *plan, const unsigned int *in, unsigned int *out, long long n, bool exclusive);

#endif
