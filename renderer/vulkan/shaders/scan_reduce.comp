#version 450
// scan_reduce: step 1 of the reduce-then-scan: each group's sum into partials.
#include "common.glsl"
#include "workgroup_scan.glsl"
layout(local_size_x = RD_SCAN_THREADS) in;
layout(push_constant) uniform Push { uint64_t input_; Uints control; uint64_t partials; } p;

void main()
{
    uint g = linear_group(), n = p.control.v[RD_CONTROL_SCAN_COUNT];
    if (g >= p.control.v[RD_CONTROL_SCAN_GROUPS]) return;
    uint base = g * RD_SCAN_BLOCK + gl_LocalInvocationIndex * RD_SCAN_ITEMS, sum = 0u;
    for (uint k = 0u; k < RD_SCAN_ITEMS; k++)
        if (base + k < n) sum = sat_add(sum, load_uint(p.input_, base + k));
    uint total;
    workgroup_exclusive_scan(sum, total);
    if (gl_LocalInvocationIndex == 0u) store_uint(p.partials, g, total);
}
