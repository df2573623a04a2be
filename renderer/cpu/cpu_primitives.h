/* cpu_primitives.h: the CPU backend's scan and radix sort, the specification the GPU ones
   are tested against (tests/test_primitives.c): a scan of uints that saturates at
   2^32 - 1 (as vk_sort.h's and cuda_scan.h's), and a stable LSD radix sort of 32-bit key
   and value pairs over the keys' low bits, in 8-bit digits (as cuda_sort.h's and
   vk_sort.h's). */
#ifndef RD_CPU_PRIMITIVES_H
#define RD_CPU_PRIMITIVES_H

#include "../internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[i] = in[0] + ... + in[i] (inclusive) or + in[i - 1] (exclusive), saturating; out
   may equal in. */
void rd_cpu_scan(const uint32_t *in, uint32_t *out, int64_t count, bool exclusive);
/* Sorts the pairs in keys[0], values[0] by the keys' bits [0, bits), stably; the result is
   in the pair of arrays whose index it returns (the other holds scratch). */
int rd_cpu_sort_pairs(uint32_t *keys[2], uint32_t *values[2], int64_t count, int bits);

#ifdef __cplusplus
}
#endif
#endif
