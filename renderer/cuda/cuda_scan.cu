/* cuda_scan.cu: the saturating scan (cuda_scan.h). */
#include "cuda_scan.h"

#include <cub/cub.cuh>

struct saturating_sum {
    __device__ __forceinline__ unsigned int operator()(unsigned int a, unsigned int b) const
    {
        unsigned int s = a + b;
        return s < a ? 0xffffffffu : s;
    }
};

cudaError_t rd_cuda_scan(rd_cuda_scan_plan *plan, const unsigned int *in, unsigned int *out, long long n, bool exclusive)
{
    if (exclusive)
        return cub::DeviceScan::ExclusiveScan(plan->temp, plan->temp_bytes, in, out, saturating_sum(), 0u, (int)n, plan->stream);
    return cub::DeviceScan::InclusiveScan(plan->temp, plan->temp_bytes, in, out, saturating_sum(), (int)n, plan->stream);
}
