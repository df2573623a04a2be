#version 450
// relevancy_choose: each query's level, the one whose r' peaks highest (the first on a
// tie), 1-based into chosen, and its map at that level copied into relevancy where asked
// (relevancy 0: the levels alone). An invocation per pixel of every query.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
    uint64_t scores, row_sums, peaks, relevancy, chosen;
    uint width, height, planes, levels, queries;
} p;

void main()
{
    uint pixels = p.width * p.height, i = linear_group() * 256u + gl_LocalInvocationIndex;
    if (i >= pixels * p.queries) return;
    uint q = i / pixels, best = 0u;
    float best_peak = -1.0;
    for (uint l = 0u; l < p.levels; l++) {
        float peak = uintBitsToFloat(load_uint(p.peaks, q * p.levels + l));
        if (peak > best_peak) best_peak = peak, best = l;
    }
    if (i % pixels == 0u) store_uint(p.chosen, q, best + 1u);
    if (p.relevancy != 0ul) store_float(p.relevancy, i, load_float(p.scores, (q * p.levels + best) * pixels + i % pixels));
}
