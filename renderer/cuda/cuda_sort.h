/* cuda_sort.h: the CUDA backend's stable radix sort of 32-bit key/value pairs over a bit
   range, for every module's .cu files (C++: it takes CUB's double buffers). CUB's Onesweep
   sort with a block tile chosen by the key count (cuda_sort.cu says why). */
#ifndef RD_CUDA_SORT_H
#define RD_CUDA_SORT_H

#include "cuda_internal.h"

#include <cub/cub.cuh>

/* Where a sort runs: its scratch (temp NULL: rd_cuda_sort_pairs only sets temp_bytes, for
   a sort of that n), its stream, and the key count below which a block takes the small
   tile (rd_cuda_sort_small_below). */
typedef struct rd_cuda_sort_plan {
    void *temp;
    size_t temp_bytes;
    cudaStream_t stream;
    long long small_below;
} rd_cuda_sort_plan;

/* The key count below which a sort takes the small tile, for a device of that many SMs. */
long long rd_cuda_sort_small_below(int multiprocessors);

/* A stable sort of n < 2^31 (key, value) pairs over the key's bits [0, bits); the result
   is in the buffers' Current(). Enqueued on plan->stream; errors are CUB's launch and
   argument errors. */
cudaError_t rd_cuda_sort_pairs(rd_cuda_sort_plan *plan, cub::DoubleBuffer<unsigned int> &keys,
                               cub::DoubleBuffer<unsigned int> &values, long long n, int bits);

#endif
