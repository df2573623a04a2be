#version 450
// feature_blend: a feature field's coefficient maps (feature_cpu.c's sparse blend,
// spec/features.md "Rendering"): a group of 32 invocations per 8x4 block of a tile (eight
// groups a tile, on GPUs tiles with the longest lists first), each subgroup walking the
// tile's Gaussians for its rows as blend.comp's subgroups do: a batch at a time tested
// against the rows' rectangle (rect_touches), the ones that touch staged (the alpha's
// quadratic in base 2, and each level's K slots as entry << 16 | the weight's half bits),
// walked front to back with blend.comp's alpha and stopping rules. Each hit adds
// weight * alpha * T into the rows of level * L + entry it names within [first_row,
// first_row + rows), held in shared memory ([row][pixel], padded against bank conflicts),
// so that one walk serves as many levels as fit (all three at L 64 on a GPU) and the
// alphas are computed once for them. Then the rows are written out, a pixel's run of them
// at a time (and alpha, with the first rows).
#include "splat_common.glsl"
layout(local_size_x = 32) in;
// the accumulator rows the shared memory holds: feature_vk.c sets it from the device's limit
layout(constant_id = 0) const uint ROWS = 192u;
layout(push_constant) uniform Push {
    ViewParams vp;
    uint64_t ranges, schedule, values, splats;
    uint64_t indices, weights, coefficients, alpha;
    uint levels, L, K, first_row, rows;
    uint scheduled; // nonzero: groups 8t..8t+7 blend tile schedule[t], else tile t
    uint write_alpha;
} p;

const uint PIXELS = 32u, STRIDE = PIXELS + 1u, MAX_SLOTS = 24u; // 3 levels of K 8
const float LOG2E = 1.4426950408889634;
shared float acc[ROWS * STRIDE];
shared vec4 s_poly[PIXELS]; // F, D, E, A: 2^(F + D X + E Y + A X^2 + B XY + C Y^2) is opacity * exp(power)
shared vec2 s_rest[PIXELS]; // B, C
shared float s_log2_opacity[PIXELS];
shared uint s_slots[PIXELS * MAX_SLOTS];

float block_touch_limit(float log2_opacity) // as blend.comp's
{
    const float LN2 = 0.6931471805599453, LOG2_255 = 7.994353436858858;
    return 2.0 * LN2 * (log2_opacity + LOG2_255) * 1.001 + 2e-3;
}

void main()
{
    ViewParams vp = p.vp;
    int width = vp.width, height = vp.height;
    uint tiles = uint(vp.tiles_x) * uint(vp.tiles_y), group = linear_group();
    if (group >= tiles * 8u) return; // past the last block of a dispatch split over y
    uint tile = p.scheduled != 0u ? load_uint(p.schedule, group / 8u) : group / 8u, block = group % 8u;
    uint lid = gl_LocalInvocationIndex, size = min(gl_SubgroupSize, PIXELS), lane = gl_SubgroupInvocationID;
    for (uint i = lid; i < p.rows * STRIDE; i += PIXELS) acc[i] = 0.0;
    barrier();
    // the group's 8x4 block, and the subgroup's rows of it (size / 8)
    int gx = int(tile % uint(vp.tiles_x)) * RD_VK_TILE + int(block & 1u) * 8;
    int gy = int(tile / uint(vp.tiles_x)) * RD_VK_TILE + int(block >> 1u) * 4;
    uint q = gl_SubgroupID * size + lane; // the pixel's place in the block, row-major
    int bx = gx, by = gy + int(gl_SubgroupID * (size / 8u));
    int px = gx + int(q & 7u), py = gy + int(q >> 3u);
    bool inside = lane < size && px < width && py < height;
    bool done = !inside;
    float bx0 = float(bx) + 0.5, by0 = float(by) + 0.5;
    float bx1 = float(min(bx + 8, width)) - 0.5, by1 = float(min(by + int(size / 8u), height)) - 0.5;
    bool block_inside = bx0 <= bx1 && by0 <= by1;
    uint start = load_uint(p.ranges, 2u * tile), end = load_uint(p.ranges, 2u * tile + 1u);
    float X = float(lane & 7u) + 0.5, Y = float(lane >> 3) + 0.5; // from the subgroup's corner
    float XX = X * X, XY = X * Y, YY = Y * Y;
    float T = 1.0;
    uint slots = p.levels * p.K, slice = gl_SubgroupID * size;
    for (uint batch = start; batch < end; batch += size) {
        if (subgroupAll(done)) break;
        uint j = batch + lane, g = 0u;
        bool hit = false;
        vec4 a = vec4(0.0), b = vec4(0.0); // u v conic-a conic-b | conic-c opacity depth -
        float log2_opacity = 0.0;
        if (lane < size && j < end && block_inside) {
            g = load_uint(p.values, j);
            SplatAt s = splat_at(p.splats, g);
            a = s.v[0], b = s.v[1];
            log2_opacity = log2(b.y);
            hit = rect_touches(a.xy, vec3(a.zw, b.x), block_touch_limit(log2_opacity), bx0, bx1, by0, by1);
        }
        uvec4 mask = subgroupBallot(hit);
        if (hit) {
            uint k = slice + subgroupBallotExclusiveBitCount(mask);
            float A = -0.5 * LOG2E * a.z, B = -LOG2E * a.w, C = -0.5 * LOG2E * b.x;
            float u = a.x - float(bx), v = a.y - float(by);
            s_poly[k] = vec4(fma(u, fma(A, u, B * v), fma(C * v, v, log2_opacity)), -fma(2.0 * A, u, B * v), -fma(B, u, 2.0 * C * v), A);
            s_rest[k] = vec2(B, C);
            s_log2_opacity[k] = log2_opacity;
            uint64_t first = uint64_t(g) * slots; // 64-bit: past 2^32 slots at 180M Gaussians
            for (uint i = 0u; i < slots; i++) {
                uint64_t slot = first + i;
                uint entry = (UintAt(p.indices + (slot >> 2) * 4ul).v >> (uint(slot & 3ul) * 8u)) & 0xffu;
                uint weight = (UintAt(p.weights + (slot >> 1) * 4ul).v >> (uint(slot & 1ul) * 16u)) & 0xffffu;
                s_slots[k * MAX_SLOTS + i] = entry << 16 | weight;
            }
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        uint last = slice + subgroupBallotBitCount(mask);
        for (uint k = slice; k < last && !done; k++) {
            vec4 poly = s_poly[k];
            vec2 rest = s_rest[k];
            float power = fma(rest.x, XY, fma(rest.y, YY, fma(poly.w, XX, fma(poly.z, Y, fma(poly.y, X, poly.x)))));
            float alpha = min(RD_MAX_ALPHA, exp2(min(power, s_log2_opacity[k]))); // as blend.comp's
            bool used = alpha >= RD_MIN_ALPHA;
            float next_T = T * (1.0 - alpha);
            if (used && next_T < RD_MIN_TRANSMITTANCE) {
                done = true;
                break;
            }
            if (used) {
                float w = alpha * T;
                for (uint l = 0u; l < p.levels; l++)
                    for (uint i = 0u; i < p.K; i++) {
                        uint packed = s_slots[k * MAX_SLOTS + l * p.K + i];
                        uint row = l * p.L + (packed >> 16) - p.first_row; // wraps past rows where below first_row
                        if (row < p.rows) acc[row * STRIDE + q] += unpackHalf2x16(packed & 0xffffu).x * w;
                    }
                T = next_T;
            }
        }
        subgroupBarrier(); // the slice is read before the next batch overwrites it
    }
    barrier();
    uint row_floats = p.levels * p.L;
    for (uint i = lid; i < PIXELS * p.rows; i += PIXELS) {
        uint k = i / p.rows, r = i % p.rows;
        int kx = gx + int(k & 7u), ky = gy + int(k >> 3u);
        if (kx >= width || ky >= height) continue;
        uint pixel = uint(ky) * uint(width) + uint(kx);
        // 64-bit: past 2^32 floats at 22M pixels
        FloatAt(p.coefficients + (uint64_t(pixel) * row_floats + p.first_row + r) * 4ul).v = acc[r * STRIDE + k];
    }
    if (p.write_alpha != 0u && inside) store_float(p.alpha, uint(py) * uint(width) + uint(px), 1.0 - T);
}
