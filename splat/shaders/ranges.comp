#version 450
// ranges: each tile's [start, end) in the sorted pairs.
#include "splat_common.glsl"
layout(local_size_x = RD_LINEAR_THREADS) in;
layout(push_constant) uniform Push { uint64_t keys, ranges; Uints counters; uint capacity; } p;

void main()
{
    uint k = linear_group() * RD_LINEAR_THREADS + gl_LocalInvocationIndex;
    uint n = min(p.counters.v[RD_COUNTER_PAIRS], p.capacity);
    if (k >= n) return;
    uint tile = load_uint(p.keys, k);
    if (k == 0u || load_uint(p.keys, k - 1u) != tile) store_uint(p.ranges, 2u * tile, k);
    if (k == n - 1u || load_uint(p.keys, k + 1u) != tile) store_uint(p.ranges, 2u * tile + 1u, k + 1u);
}
