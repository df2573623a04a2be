#version 450
// pair_groups: for emit.comp, the Gaussian (in depth order) that holds the first pair of
// each group of RD_LINEAR_THREADS pairs. One thread per Gaussian j, whose pairs are
// [offsets[j - 1], offsets[j]), writes j for every group that starts inside that run; a
// run longer than a group covers several. Pairs past the key buffers' capacity have no
// group.
#include "splat_common.glsl"
layout(local_size_x = RD_LINEAR_THREADS) in;
layout(push_constant) uniform Push { uint64_t offsets, group_first; Uints counters; uint count, capacity; } p;

void main()
{
    uint j = linear_group() * RD_LINEAR_THREADS + gl_LocalInvocationIndex;
    if (j >= p.count) return;
    uint start = j > 0u ? load_uint(p.offsets, j - 1u) : 0u;
    uint end = min(load_uint(p.offsets, j), min(p.counters.v[RD_COUNTER_PAIRS], p.capacity));
    for (uint g = groups_for(start, RD_LINEAR_THREADS); g * RD_LINEAR_THREADS < end; g++) store_uint(p.group_first, g, j);
}
