/* primitives.c: rd_scan and rd_sort_pairs on the context's backend (primitives.h). */
#include "primitives.h"
#include "cpu/cpu_primitives.h"

enum { MAX_SORT_COUNT = 1 << 30 };

rd_result rd_scan(rd_context *ctx, const uint32_t *in, uint32_t *out, int64_t count, bool exclusive)
{
    if (count < 0 || count >= MAX_SORT_COUNT || (count > 0 && (!in || !out)))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scan: %lld elements (0 to 2^30 - 1, with arrays)", (long long)count);
    if (count == 0) return RD_OK;
    switch (ctx->backend) {
#ifdef RD_HAVE_CUDA
    case RD_BACKEND_CUDA: return rd_cuda_run_scan(ctx, in, out, count, exclusive);
#endif
#ifdef RD_HAVE_VULKAN
    case RD_BACKEND_VULKAN: return rd_vk_run_scan(ctx, in, out, count, exclusive);
#endif
    default: rd_cpu_scan(in, out, count, exclusive); return RD_OK;
    }
}

rd_result rd_sort_pairs(rd_context *ctx, uint32_t *keys[2], uint32_t *values[2], int64_t count, int bits, int *result)
{
    *result = 0;
    if (bits < 1 || bits > 32) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_sort_pairs: %d key bits (1 to 32)", bits);
    if (count < 0 || count >= MAX_SORT_COUNT)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_sort_pairs: %lld pairs (0 to 2^30 - 1)", (long long)count);
    if (count == 0) return RD_OK;
    switch (ctx->backend) {
#ifdef RD_HAVE_CUDA
    case RD_BACKEND_CUDA: return rd_cuda_run_sort_pairs(ctx, keys, values, count, bits, result);
#endif
#ifdef RD_HAVE_VULKAN
    case RD_BACKEND_VULKAN: return rd_vk_run_sort_pairs(ctx, keys, values, count, bits, result);
#endif
    default: *result = rd_cpu_sort_pairs(keys, values, count, bits); return RD_OK;
    }
}
