#version 450
// relevancy_row_sums: the first half of the spec's level choice (feature_cuda_levels.cu on
// CUDA, rd_relevancy_smooth on the host): per plane (query * levels + level) of scores, each
// pixel's sum of its row over the in-image x' in [x - 14, x + 14], compensated (Kahan) so
// that float keeps the host's double sums to about an ulp. An invocation per pixel of every plane.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
    uint64_t scores, row_sums, peaks, relevancy, chosen;
    uint width, height, planes, levels, queries;
} p;

void main()
{
    uint pixels = p.width * p.height, i = linear_group() * 256u + gl_LocalInvocationIndex;
    if (i >= pixels * p.planes) return;
    uint x = (i % pixels) % p.width, row = i - x;
    uint x0 = x >= 14u ? x - 14u : 0u, x1 = min(x + 15u, p.width);
    precise float sum = 0.0, lost = 0.0; // precise: no reassociation, which would undo the compensation
    for (uint k = x0; k < x1; k++) {
        precise float y = load_float(p.scores, row + k) - lost, t = sum + y;
        lost = (t - sum) - y;
        sum = t;
    }
    store_float(p.row_sums, i, sum);
}
