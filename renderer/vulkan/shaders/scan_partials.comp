#version 450
// scan_partials: step 2: one group turns the groups' sums into their exclusive offsets.
#include "common.glsl"
#include "workgroup_scan.glsl"
layout(local_size_x = RD_SCAN_THREADS) in;
layout(push_constant) uniform Push { Uints control; uint64_t partials; } p;

void main()
{
    uint groups = p.control.v[RD_CONTROL_SCAN_GROUPS], carry = 0u;
    for (uint chunk = 0u; chunk < groups; chunk += RD_SCAN_BLOCK) {
        uint base = chunk + gl_LocalInvocationIndex * RD_SCAN_ITEMS, sum = 0u;
        uint values[RD_SCAN_ITEMS];
        for (uint k = 0u; k < RD_SCAN_ITEMS; k++) {
            values[k] = base + k < groups ? load_uint(p.partials, base + k) : 0u;
            sum = sat_add(sum, values[k]);
        }
        uint total, run = sat_add(carry, workgroup_exclusive_scan(sum, total));
        for (uint k = 0u; k < RD_SCAN_ITEMS; k++)
            if (base + k < groups) {
                store_uint(p.partials, base + k, run);
                run = sat_add(run, values[k]);
            }
        carry = sat_add(carry, total);
    }
}
