#version 450
// appearance4d_kept: the Gaussians a 4D slice keeps at a time (slice4d.comp's cull test),
// listed for appearance4d.comp: their count at kept[0] (zero before), their indices after
// it, in no set order (each Gaussian's networks read only its own inputs).
#include "common.glsl"

layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
    uint64_t means4, statics;
    Uints kept;
    uint count;
    float time;
} p;

const float CULL_EXPONENT = 2.9957322735539909; // RD_4D_CULL_EXPONENT

void main()
{
    uint i = linear_group() * gl_WorkGroupSize.x + gl_LocalInvocationIndex;
    if (i >= p.count) return;
    vec4 mean = load_float4(p.means4, i);
    precise float dt = p.time - mean.w, exponent = dt * dt * load_float(p.statics, i * 11u + 10u);
    if (!(exponent < CULL_EXPONENT)) return;
    uint at = atomicAdd(p.kept.v[0], 1u);
    p.kept.v[1u + at] = i;
}
