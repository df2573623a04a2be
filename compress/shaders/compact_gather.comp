#version 450
// compact_gather: a compact 3D file's decode on Vulkan (compact_vk.c), as compact_cuda.cu and
// rd_compact_gather_cpu: an invocation a float of the scene's five arrays. A mean is the
// origin plus its half-precision offset, converted bit by bit (exact for subnormals too) and
// added `precise`ly (a zero offset: the origin's bits, as IEEE addition gives them); every
// other float is its slice's codebook entry. The arrays are the host decode's bits.
#include "common.glsl"

layout(local_size_x = 256) in;

struct Slice {
    uint64_t book, planes;
    uint array, first, width, two_bytes;
};
// compact_gather_args (compact_gather.h), 656 bytes
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Args {
    uint count, slices;
    uint stride[5];
    uint pad;
    uint64_t start[6];
    uint64_t out_[5];
    uint64_t positions;
    float origin[4];
    Slice slice[16];
};
layout(push_constant) uniform Push {
    uint64_t args;
} p;

// byte b of the word holding it (the planes start at 16-byte boundaries and are padded to
// whole words)
uint byte_at(uint64_t address) { return (UintAt(address & ~3ul).v >> ((uint(address) & 3u) * 8u)) & 255u; }

float half_value(uint h)
{
    uint sign = (h >> 15) << 31, e = (h >> 10) & 31u, m = h & 1023u;
    if (e == 31u) return uintBitsToFloat(sign | 0x7f800000u | (m << 13));
    if (e != 0u) return uintBitsToFloat(sign | ((e + 112u) << 23) | (m << 13));
    if (m == 0u) return uintBitsToFloat(sign);
    int top = findMSB(m); // m 2^-24 = (m / 2^top) 2^(top - 24)
    return uintBitsToFloat(sign | (uint(top + 103) << 23) | ((m << uint(23 - top)) & 0x7fffffu));
}

void main()
{
    Args a = Args(p.args);
    uint64_t t = uint64_t(linear_group()) * 256ul + gl_LocalInvocationID.x;
    if (t >= a.start[5]) return;
    uint k = 0u;
    while (t >= a.start[k + 1u]) k++;
    uint64_t local = t - a.start[k], n = uint64_t(a.count), i = local / uint64_t(a.stride[k]);
    uint column = uint(local - i * uint64_t(a.stride[k]));
    uint64_t out_at = a.out_[k] + local * 4ul;
    // one store at the end, no return inside the loop (lavapipe's Mesa 22.3 stored the
    // fall-through value over an earlier return's)
    float value = 0.0; // a column no slice fills (none in a file's layout)
    if (k == 0u) {
        uint h = byte_at(a.positions + uint64_t(2u * column) * n + i) | (byte_at(a.positions + uint64_t(2u * column + 1u) * n + i) << 8);
        uint origin = floatBitsToUint(a.origin[column]);
        if ((h & 0x7fffu) == 0u) { // a zero offset: the sum's bits set without arithmetic, which
            // Vulkan may flush (a subnormal origin) or sign freely (-0 + +0 is +0 on the CPU)
            value = uintBitsToFloat((origin & 0x7fffffffu) != 0u ? origin : origin & (h << 16));
        } else {
            precise float mean = a.origin[column] + half_value(h);
            value = mean;
        }
    } else {
        for (uint s = 0u; s < a.slices; s++) {
            Slice sl = a.slice[s];
            if (sl.array != k || column < sl.first || column >= sl.first + sl.width) continue;
            uint label = byte_at(sl.planes + i) | (sl.two_bytes != 0u ? byte_at(sl.planes + n + i) << 8 : 0u);
            value = FloatAt(sl.book + (uint64_t(label) * sl.width + (column - sl.first)) * 4ul).v;
            break;
        }
    }
    FloatAt(out_at).v = value;
}
