#version 450
// feature_blend: a feature field's coefficient map at one level (feature_cpu.c's sparse
// blend, spec/features.md "Rendering"): one group of 256 invocations per 16x16 tile, an
// invocation per pixel, walking the tile's Gaussians front to back with the CPU's alpha
// and stopping rules, adding each Gaussian's K slots (weight * alpha * T) into the pixel's
// L coefficients, then writing them (and alpha, with the first level). One dispatch a
// level keeps the accumulator at L <= 256 floats. Slot indices are bytes and weights
// IEEE halves, read from their packed words.
#include "splat_common.glsl"
layout(local_size_x = RD_VK_TILE * RD_VK_TILE) in;
layout(push_constant) uniform Push {
    ViewParams vp;
    uint64_t ranges, schedule, values, splats;
    uint64_t indices, weights, coefficients, alpha;
    uint level, levels, L, K;
    uint scheduled; // nonzero: group g blends tile schedule[g], else tile g
    uint write_alpha;
} p;

const uint MAX_L = 256u;

void main()
{
    ViewParams vp = p.vp;
    uint tiles = uint(vp.tiles_x) * uint(vp.tiles_y), group = linear_group();
    if (group >= tiles) return;
    uint tile = p.scheduled != 0u ? load_uint(p.schedule, group) : group;
    uint lid = gl_LocalInvocationIndex;
    int px = int(tile % uint(vp.tiles_x)) * RD_VK_TILE + int(lid % uint(RD_VK_TILE));
    int py = int(tile / uint(vp.tiles_x)) * RD_VK_TILE + int(lid / uint(RD_VK_TILE));
    if (px >= vp.width || py >= vp.height) return;
    float acc[MAX_L];
    for (uint c = 0u; c < p.L; c++) acc[c] = 0.0;
    float fx = float(px) + 0.5, fy = float(py) + 0.5, T = 1.0;
    uint start = load_uint(p.ranges, 2u * tile), end = load_uint(p.ranges, 2u * tile + 1u);
    for (uint j = start; j < end; j++) {
        uint g = load_uint(p.values, j);
        SplatAt s = splat_at(p.splats, g);
        vec4 a = s.v[0], b = s.v[1]; // u v conic-a conic-b | conic-c opacity depth -
        float dx = fx - a.x, dy = fy - a.y;
        float power = -0.5 * (a.z * dx * dx + b.x * dy * dy) - a.w * dx * dy;
        if (power > 0.0 || power < -log(255.0 * b.y) - 1e-3) continue; // rd_splat_alpha
        float alpha = min(RD_MAX_ALPHA, b.y * exp(power));
        if (alpha < RD_MIN_ALPHA) continue;
        float next_T = T * (1.0 - alpha);
        if (next_T < RD_MIN_TRANSMITTANCE) break;
        float w = alpha * T;
        uint64_t first = (uint64_t(g) * p.levels + p.level) * p.K; // 64-bit: past 2^32 slots at 180M Gaussians
        for (uint k = 0u; k < p.K; k++) {
            uint64_t slot = first + k;
            uint entry = (UintAt(p.indices + (slot >> 2) * 4ul).v >> (uint(slot & 3ul) * 8u)) & 0xffu;
            float weight = unpackHalf2x16((UintAt(p.weights + (slot >> 1) * 4ul).v >> (uint(slot & 1ul) * 16u)) & 0xffffu).x;
            acc[entry] += weight * w;
        }
        T = next_T;
    }
    uint pixel = uint(py) * uint(vp.width) + uint(px), row = p.levels * p.L;
    uint64_t at = p.coefficients + (uint64_t(pixel) * row + p.level * p.L) * 4ul; // 64-bit: past 2^32 floats at 22M pixels
    for (uint c = 0u; c < p.L; c++) FloatAt(at + uint64_t(c) * 4ul).v = acc[c];
    if (p.write_alpha != 0u) store_float(p.alpha, pixel, 1.0 - T);
}
