#version 450
// scan_downsweep: step 3: each group scans its elements from its offset (inclusive or
// exclusive), saturating at 2^32 - 1.
#include "common.glsl"
#include "workgroup_scan.glsl"
layout(local_size_x = RD_SCAN_THREADS) in;
layout(push_constant) uniform Push { uint64_t input_, output_; Uints control; uint64_t partials; uint exclusive; } p;

void main()
{
    uint g = linear_group(), n = p.control.v[RD_CONTROL_SCAN_COUNT];
    if (g >= p.control.v[RD_CONTROL_SCAN_GROUPS]) return;
    uint base = g * RD_SCAN_BLOCK + gl_LocalInvocationIndex * RD_SCAN_ITEMS, sum = 0u;
    uint values[RD_SCAN_ITEMS];
    for (uint k = 0u; k < RD_SCAN_ITEMS; k++) {
        values[k] = base + k < n ? load_uint(p.input_, base + k) : 0u;
        sum = sat_add(sum, values[k]);
    }
    uint total, run = sat_add(load_uint(p.partials, g), workgroup_exclusive_scan(sum, total));
    for (uint k = 0u; k < RD_SCAN_ITEMS; k++) {
        if (base + k >= n) break;
        uint next = sat_add(run, values[k]);
        store_uint(p.output_, base + k, p.exclusive != 0u ? run : next);
        run = next;
    }
}
