#version 450
// count_args: dispatch arguments for a kernel with per_group elements per group, over a
// count that the device computed (min(count, limit)); none where an earlier sort's status
// says a look-back wait ran out (its order is wrong: nothing may follow from it).
#include "common.glsl"
layout(local_size_x = 1) in;
layout(push_constant) uniform Push { Uints count; Uints control; Uints status; uint limit; uint per_group; } p;

void main()
{
    uint n = p.status.v[0] != 0u ? 0u : min(p.count.v[0], p.limit);
    write_dispatch(p.control, RD_CONTROL_ARGS_DISPATCH, groups_for(n, p.per_group));
}
