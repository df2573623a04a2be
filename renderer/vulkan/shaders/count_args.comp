#version 450
// count_args: dispatch arguments for a kernel with per_group elements per group, over a
// count that the device computed (min(count, limit)).
#include "common.glsl"
layout(local_size_x = 1) in;
layout(push_constant) uniform Push { Uints count; Uints control; uint limit; uint per_group; } p;

void main()
{
    write_dispatch(p.control, RD_CONTROL_ARGS_DISPATCH, groups_for(min(p.count.v[0], p.limit), p.per_group));
}
