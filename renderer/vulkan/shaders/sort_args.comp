#version 450
// sort_args: a sort's count (the device's, clamped to the buffers' capacity), its groups
// and the size of its digit histogram, with the dispatch for its per-group kernels.
#include "common.glsl"
layout(local_size_x = 1) in;
layout(push_constant) uniform Push { Uints count; Uints control; uint limit; } p;

void main()
{
    uint n = min(p.count.v[0], p.limit);
    uint groups = groups_for(n, RD_SORT_BLOCK);
    p.control.v[RD_CONTROL_SORT_COUNT] = n;
    p.control.v[RD_CONTROL_SORT_GROUPS] = groups;
    p.control.v[RD_CONTROL_SORT_HIST_COUNT] = groups * RD_RADIX;
    write_dispatch(p.control, RD_CONTROL_SORT_DISPATCH, groups);
}
