// common.glsl: what every radiant compute shader shares: buffer references (all buffers
// are reached by device address), the linear group index of a dispatch split over y,
// saturating addition for counts, and writing indirect dispatch arguments.
#extension GL_EXT_buffer_reference : require
#extension GL_EXT_buffer_reference2 : require
#extension GL_EXT_shader_explicit_arithmetic_types_int64 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_vote : require

#include "vk_layout.h"

// Small fixed blocks (counters, control words) are runtime arrays; every array that grows
// with the scene or the image is a 64-bit address read through the helpers below.
layout(buffer_reference, std430, buffer_reference_align = 4) buffer Uints { uint v[]; };

// Element i of an array at a device address, with a 64-bit byte offset. Indexing a
// runtime array instead goes wrong past maxStorageBufferRange on some drivers (lavapipe
// wraps at 128 MiB), and a 32-bit index scaled in 32 bits wraps at 4 GiB.
layout(buffer_reference, std430, buffer_reference_align = 4) buffer UintAt { uint v; };
layout(buffer_reference, std430, buffer_reference_align = 4) buffer FloatAt { float v; };
layout(buffer_reference, std430, buffer_reference_align = 16) buffer Vec4At { vec4 v; };
uint load_uint(uint64_t base, uint i) { return UintAt(base + uint64_t(i) * 4ul).v; }
void store_uint(uint64_t base, uint i, uint x) { UintAt(base + uint64_t(i) * 4ul).v = x; }
float load_float(uint64_t base, uint i) { return FloatAt(base + uint64_t(i) * 4ul).v; }
void store_float(uint64_t base, uint i, float x) { FloatAt(base + uint64_t(i) * 4ul).v = x; }
void store_vec4(uint64_t base, uint i, vec4 x) { Vec4At(base + uint64_t(i) * 16ul).v = x; }
// Item i of an array of packed float triples or quadruples (means, quaternions).
vec3 load_vec3(uint64_t base, uint i)
{
    uint64_t at = base + uint64_t(i) * 12ul;
    return vec3(FloatAt(at).v, FloatAt(at + 4ul).v, FloatAt(at + 8ul).v);
}
vec4 load_float4(uint64_t base, uint i)
{
    uint64_t at = base + uint64_t(i) * 16ul;
    return vec4(FloatAt(at).v, FloatAt(at + 4ul).v, FloatAt(at + 8ul).v, FloatAt(at + 12ul).v);
}

uint linear_group() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

// Counts saturate at 2^32 - 1 instead of wrapping, so that an overflow is seen, not hidden.
uint sat_add(uint a, uint b)
{
    uint s = a + b;
    return s < a ? 0xffffffffu : s;
}

// A VkDispatchIndirectCommand for groups, split over y past 65535 as rd_vk_dispatch does.
void write_dispatch(Uints out_args, uint at, uint groups)
{
    uint x = min(groups, 65535u);
    out_args.v[at] = x;
    out_args.v[at + 1] = x == 0u ? 1u : (groups + x - 1u) / x;
    out_args.v[at + 2] = 1u;
}

uint groups_for(uint count, uint per_group) { return count / per_group + (count % per_group != 0u ? 1u : 0u); }
