#version 450
// radix_digit_scan: one group per digit value d turns the groups' counts of d
// (hist[d * groups + g], from radix_histogram) into where each group's first key of
// digit d goes: the keys of smaller digits (from radix_totals) plus d's keys in earlier
// groups.
#include "common.glsl"
#include "workgroup_scan.glsl"
layout(local_size_x = RD_SCAN_THREADS) in;
layout(push_constant) uniform Push { Uints control; uint64_t hist, totals; uint pass; } p;

shared uint s_digit_base;

void main()
{
    uint d = gl_WorkGroupID.x, groups = p.control.v[RD_CONTROL_SORT_GROUPS];
    if (gl_LocalInvocationIndex == 0u) {
        uint base = 0u;
        for (uint e = 0u; e < d; e++) base += load_uint(p.totals, p.pass * RD_RADIX + e);
        s_digit_base = base;
    }
    barrier();
    uint carry = s_digit_base, row = d * groups;
    for (uint chunk = 0u; chunk < groups; chunk += RD_SCAN_BLOCK) {
        uint base = chunk + gl_LocalInvocationIndex * RD_SCAN_ITEMS, sum = 0u;
        uint values[RD_SCAN_ITEMS];
        for (uint k = 0u; k < RD_SCAN_ITEMS; k++) {
            values[k] = base + k < groups ? load_uint(p.hist, row + base + k) : 0u;
            sum += values[k];
        }
        uint total, run = carry + workgroup_exclusive_scan(sum, total);
        for (uint k = 0u; k < RD_SCAN_ITEMS; k++)
            if (base + k < groups) {
                store_uint(p.hist, row + base + k, run);
                run += values[k];
            }
        carry += total;
    }
}
