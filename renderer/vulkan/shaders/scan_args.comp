#version 450
// scan_args: the element count of a scan, read from the device, and its groups.
#include "common.glsl"
layout(local_size_x = 1) in;
layout(push_constant) uniform Push { Uints count; Uints control; } p;

void main()
{
    uint n = p.count.v[0];
    uint groups = groups_for(n, RD_SCAN_BLOCK);
    p.control.v[RD_CONTROL_SCAN_COUNT] = n;
    p.control.v[RD_CONTROL_SCAN_GROUPS] = groups;
    write_dispatch(p.control, RD_CONTROL_SCAN_DISPATCH, groups);
}
