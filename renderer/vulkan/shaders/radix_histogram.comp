#version 450
// radix_histogram: each group counts the 8-bit digits of its block of keys; the counts go
// digit-major (hist[digit * groups + group]) so that one exclusive scan gives every
// group's first output position per digit.
#include "common.glsl"
layout(local_size_x = RD_SORT_THREADS) in;
layout(push_constant) uniform Push { uint64_t keys; Uints control; uint64_t hist; uint shift, mask; } p;

shared uint s_hist[RD_RADIX];

void main()
{
    uint g = linear_group(), groups = p.control.v[RD_CONTROL_SORT_GROUPS], n = p.control.v[RD_CONTROL_SORT_COUNT];
    if (g >= groups) return;
    uint t = gl_LocalInvocationIndex;
    for (uint d = t; d < RD_RADIX; d += RD_SORT_THREADS) s_hist[d] = 0u;
    barrier();
    for (uint k = 0u; k < RD_SORT_ITEMS; k++) {
        uint i = g * RD_SORT_BLOCK + k * RD_SORT_THREADS + t;
        if (i < n) atomicAdd(s_hist[(load_uint(p.keys, i) >> p.shift) & p.mask], 1u);
    }
    barrier();
    for (uint d = t; d < RD_RADIX; d += RD_SORT_THREADS) store_uint(p.hist, d * groups + g, s_hist[d]);
}
