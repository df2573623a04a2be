/* compact_cuda.cu: a compact 3D file's decode on CUDA (compact_gather.h): a thread a float of
   the scene's five arrays, neighbouring threads on neighbouring floats, as
   rd_compact_gather_cpu computes it. The mean's addition is rounded alone (__fadd_rn), so
   the arrays are the host decode's bits. */
#include "compact_gather.h"
#include "../renderer/cuda/cuda_internal.h"

#include <cuda_fp16.h>

enum { THREADS = 256 };

static __global__ void gather_kernel(compact_gather_args a)
{
    uint64_t t = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= a.start[RD_COMPACT_GATHER_ARRAYS]) return;
    int k = 0;
    while (t >= a.start[k + 1]) k++;
    uint64_t local = t - a.start[k], n = a.count, i = local / a.stride[k];
    uint32_t column = (uint32_t)(local - i * a.stride[k]);
    float *out = (float *)a.out[k];
    if (k == 0) { /* the means */
        const unsigned char *planes = (const unsigned char *)a.positions;
        unsigned short h = (unsigned short)(planes[2 * column * n + i] | planes[(2 * column + 1) * n + i] << 8);
        uint32_t origin = __float_as_uint(a.origin[column]);
        if ((h & 0x7fff) == 0) /* a zero offset: the sum's bits, set as the shader sets them (-0 + +0 is +0) */
            out[local] = __uint_as_float((origin & 0x7fffffffu) != 0u ? origin : origin & ((uint32_t)h << 16));
        else
            out[local] = __fadd_rn(a.origin[column], __half2float(__ushort_as_half(h)));
        return;
    }
    for (uint32_t s = 0; s < a.slices; s++) {
        const compact_gather_slice &sl = a.slice[s];
        if (sl.array != (uint32_t)k || column < sl.first || column >= sl.first + sl.width) continue;
        const unsigned char *planes = (const unsigned char *)sl.planes;
        uint32_t label = planes[i] | (sl.two_bytes ? (uint32_t)planes[n + i] << 8 : 0u);
        out[local] = ((const float *)sl.book)[(uint64_t)label * sl.width + (column - sl.first)];
        return;
    }
    out[local] = 0.0f;
}

extern "C" rd_result rd_compact_gather_cuda(rd_context *ctx, const compact_gather_args *a)
{
    cudaStream_t st = rd_cuda(ctx)->stream;
    uint64_t threads = a->start[RD_COMPACT_GATHER_ARRAYS];
    if (threads) gather_kernel<<<(unsigned)((threads + THREADS - 1) / THREADS), THREADS, 0, st>>>(*a);
    rd_result r = rd_cuda_check(ctx, cudaGetLastError(), "compact decode");
    /* the upload it reads is freed when this returns */
    return r == RD_OK ? rd_cuda_check(ctx, cudaStreamSynchronize(st), "compact decode") : r;
}
