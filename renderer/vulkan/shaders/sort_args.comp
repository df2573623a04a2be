#version 450
// sort_args: a sort's count (the device's, clamped to the buffers' capacity), its groups
// with the dispatch for its per-group kernels, zeroed block tickets for its passes,
// zeroed digit totals for radix_totals, and the length of the reduce-then-scan's table.
#include "common.glsl"
#include "sort_block.glsl"
layout(local_size_x = RD_RADIX) in;
layout(push_constant) uniform Push { Uints count; Uints control; uint64_t totals; Uints status; uint limit; } p;

void main()
{
    for (uint k = gl_LocalInvocationIndex; k < RD_RADIX * RD_SORT_MAX_PASSES; k += RD_RADIX) store_uint(p.totals, k, 0u);
    if (gl_LocalInvocationIndex != 0u) return;
    // none where an earlier sort's look-back ran out of its budget: its order is wrong
    uint n = p.status.v[0] != 0u ? 0u : min(p.count.v[0], p.limit);
    uint groups = groups_for(n, SORT_BLOCK);
    p.control.v[RD_CONTROL_SORT_COUNT] = n;
    p.control.v[RD_CONTROL_SORT_GROUPS] = groups;
    write_dispatch(p.control, RD_CONTROL_SORT_DISPATCH, groups);
    p.control.v[RD_CONTROL_SORT_TABLE] = groups * RD_RADIX;
    for (uint pass = 0u; pass < RD_SORT_MAX_PASSES; pass++) p.control.v[RD_CONTROL_SORT_TICKETS + pass] = 0u;
}
