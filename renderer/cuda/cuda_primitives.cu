/* cuda_primitives.cu: rd_scan and rd_sort_pairs on a CUDA context (primitives.h): the
   stream-ordered scan and sort, then a wait. Their scratch is the context's. */
#include "../primitives.h"
#include "cuda_scan.h"
#include "cuda_sort.h"

extern "C" rd_result rd_cuda_run_scan(rd_context *ctx, const uint32_t *in, uint32_t *out, int64_t count, bool exclusive)
{
    rd_cuda_state *cs = rd_cuda(ctx);
    rd_cuda_scan_plan plan = {NULL, 0, cs->stream};
    rd_result r = rd_cuda_check(ctx, rd_cuda_scan(&plan, in, out, count, exclusive), "scan scratch size");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &cs->scratch, plan.temp_bytes, "scan scratch");
    if (r != RD_OK) return r;
    plan.temp = cs->scratch.ptr, plan.temp_bytes = cs->scratch.bytes;
    r = rd_cuda_check(ctx, rd_cuda_scan(&plan, in, out, count, exclusive), "scan");
    return r == RD_OK ? rd_cuda_check(ctx, cudaStreamSynchronize(cs->stream), "scan") : r;
}

extern "C" rd_result rd_cuda_run_sort_pairs(rd_context *ctx, uint32_t *keys[2], uint32_t *values[2], int64_t count, int bits,
                                           int *result)
{
    rd_cuda_state *cs = rd_cuda(ctx);
    rd_cuda_sort_plan plan = {NULL, 0, cs->stream, rd_cuda_sort_small_below(cs->multiprocessors)};
    cub::DoubleBuffer<unsigned int> k(keys[0], keys[1]), v(values[0], values[1]);
    rd_result r = rd_cuda_check(ctx, rd_cuda_sort_pairs(&plan, k, v, count, bits), "sort scratch size");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &cs->scratch, plan.temp_bytes, "sort scratch");
    if (r != RD_OK) return r;
    plan.temp = cs->scratch.ptr, plan.temp_bytes = cs->scratch.bytes;
    r = rd_cuda_check(ctx, rd_cuda_sort_pairs(&plan, k, v, count, bits), "sort");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(cs->stream), "sort");
    *result = k.selector;
    return r;
}
