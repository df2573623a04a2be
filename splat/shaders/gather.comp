#version 450
// gather: the tile counts in depth order, for the scan that places each Gaussian's keys.
#include "splat_common.glsl"
layout(local_size_x = RD_LINEAR_THREADS) in;
layout(push_constant) uniform Push { uint64_t order, touched, gathered; uint count; } p;

void main()
{
    uint j = linear_group() * RD_LINEAR_THREADS + gl_LocalInvocationIndex;
    if (j < p.count) store_uint(p.gathered, j, load_uint(p.touched, load_uint(p.order, j)));
}
