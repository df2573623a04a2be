/* compact_gather.h: a compact 3D file's decode as the GPU kernels read it (compact_cuda.cu,
   compact_vk.c with shaders/compact_gather.comp) and as the CPU reference computes it
   (rd_compact_gather_cpu, compact_device.c): a thread a float of the scene's five arrays.
   A mean is the file's origin plus its half-precision offset; every other float is its
   slice's codebook entry, which the host has already turned into the stored parameter (the
   opacity codebook holds logits). The one addition is rounded alone, so every backend gives
   the host decode's bits. Plain C, so that the CUDA file needs nothing else of compress/. */
#ifndef RD_COMPACT_GATHER_H
#define RD_COMPACT_GATHER_H

#include "radiant.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The output arrays, as RD_ARRAY_* (splat/scene.h); RD_COMPACT_GATHER_SLICES is
   RD_COMPACT_MAX_SLICES (compact.h). */
enum { RD_COMPACT_GATHER_ARRAYS = 5, RD_COMPACT_GATHER_SLICES = 16 };

typedef struct compact_gather_slice {
    uint64_t book;      /* entries x width floats: the stored parameters' values */
    uint64_t planes;    /* count index bytes, then count high bytes where two_bytes */
    uint32_t array;     /* the output array it fills (1..4: not the means) */
    uint32_t first;     /* the first column of that array's row it fills */
    uint32_t width, two_bytes;
} compact_gather_slice;

/* Every pointer a device address (CUDA pointers, Vulkan device addresses), or a host
   pointer for the CPU reference. */
typedef struct compact_gather_args {
    uint32_t count, slices;
    uint32_t stride[RD_COMPACT_GATHER_ARRAYS]; /* floats a Gaussian of each array: 3, 3, 4, 1, 3 (d+1)^2 */
    uint32_t pad;
    uint64_t start[RD_COMPACT_GATHER_ARRAYS + 1]; /* each array's first thread; start[5]: all threads */
    uint64_t out[RD_COMPACT_GATHER_ARRAYS];        /* the arrays */
    uint64_t positions; /* the means' offsets: 3 coordinates of half floats, each as two byte planes (low, high) */
    float origin[4];
    compact_gather_slice slice[RD_COMPACT_GATHER_SLICES];
} compact_gather_args;

/* Fills the args' strides and starts for count Gaussians of SH degree sh_degree. */
static inline void rd_compact_gather_layout(compact_gather_args *a, uint32_t count, int sh_degree)
{
    uint32_t strides[RD_COMPACT_GATHER_ARRAYS] = {3, 3, 4, 1, 3 * (uint32_t)((sh_degree + 1) * (sh_degree + 1))};
    a->count = count;
    a->start[0] = 0;
    for (int k = 0; k < RD_COMPACT_GATHER_ARRAYS; k++)
        a->stride[k] = strides[k], a->start[k + 1] = a->start[k] + (uint64_t)count * strides[k];
}

/* The reference: every thread's float, on the host (host pointers in a), on threads workers. */
void rd_compact_gather_cpu(const compact_gather_args *a, int threads);
/* The backends' kernels, finished when they return. Vulkan first copies bytes of host to
   the device address device (the books, planes and positions that args points into, and
   args itself at device_args), in the same submission. */
rd_result rd_compact_gather_cuda(rd_context *ctx, const compact_gather_args *a);
rd_result rd_compact_gather_vk(rd_context *ctx, const compact_gather_args *a, void *device, const void *host, size_t bytes,
                               uint64_t device_args);

#ifdef __cplusplus
}
#endif

#endif
