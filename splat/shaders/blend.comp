#version 450
// blend: spec step 9, as blend_tiles in splat_cpu.c: one group of 256 invocations per
// 16x16 tile, on GPUs tiles with the longest lists first (tile_schedule.comp). Each
// subgroup covers an 8-pixel-wide block of the tile (8x4 pixels with 32 lanes, 8x1 with
// 8) and walks the tile's Gaussians (front to back) on its own: it takes as many as it
// has lanes at a time while the loads of the next ones, and the indices of the ones
// after, are in flight, and stops once its pixels' transmittance is spent. There is no
// group-wide barrier, which would make every subgroup wait for the slowest (as
// splat_cuda.cu's blend_kernel). Lane l tests Gaussian l of the batch against the block
// (rect_touches, the binning's own conservative test), and the ones that touch it are
// staged in the subgroup's slice of shared memory in list order, packed, so the pixels
// walk them with a counter in the CPU's order. A staged Gaussian is its exponent in base 2
// plus log2(opacity) as a quadratic in the pixel's offset from the block's corner, as
// splat_cuda.cu's stage_splat. Any subgroup size from 8 to 128 works (full subgroups of
// a 256-invocation group).
#include "splat_common.glsl"
layout(local_size_x = RD_VK_TILE * RD_VK_TILE) in;
layout(push_constant) uniform Push {
    ViewParams vp;
    uint64_t ranges, schedule, values, splats;
    uint64_t color, depth, trans, contrib;
    uint outputs; // bit 0 colour, 1 depth, 2 transmittance, 3 contributors
    uint scheduled; // nonzero: group g blends tile schedule[g], else tile g
} p;

// subgroup s stages its batch in [s * size, (s + 1) * size) of each array
const uint BATCH = RD_VK_TILE * RD_VK_TILE;
const float LOG2E = 1.4426950408889634;
// false: only colour and transmittance are wanted, so the depth and the count of blended
// Gaussians are not accumulated (splat_vk.c builds the blend both ways)
layout(constant_id = 0) const bool EXTRAS = true;
shared vec4 s_poly[BATCH]; // F, D, E, A: 2^(F + D X + E Y + A X^2 + B XY + C Y^2) is opacity * exp(power)
shared vec4 s_rest[BATCH]; // B, C, log2(opacity), depth
shared vec4 s_rgb[BATCH];  // r, g, b

// touch_limit from log2(opacity), loosened past the error of a GPU's fast log2 (as
// splat_cuda.cu's touch_limit): the per-block culling only has to be conservative, as
// alpha >= 1/255 decides.
float block_touch_limit(float log2_opacity)
{
    const float LN2 = 0.6931471805599453, LOG2_255 = 7.994353436858858;
    return 2.0 * LN2 * (log2_opacity + LOG2_255) * 1.001 + 2e-3;
}

void main()
{
    ViewParams vp = p.vp;
    int width = vp.width, height = vp.height;
    uint lane = gl_SubgroupInvocationID, size = gl_SubgroupSize;
    uint tiles = uint(vp.tiles_x) * uint(vp.tiles_y), group = linear_group();
    if (group >= tiles) return; // past the last tile of a dispatch split over y
    uint tile = p.scheduled != 0u ? load_uint(p.schedule, group) : group; // tile_schedule.comp
    // the subgroup's block: 8 pixels wide, size / 8 rows
    uint rows = size / 8u;
    int bx = int(tile % uint(vp.tiles_x)) * RD_VK_TILE + int(gl_SubgroupID & 1u) * 8;
    int by = int(tile / uint(vp.tiles_x)) * RD_VK_TILE + int(gl_SubgroupID >> 1) * int(rows);
    int px = bx + int(lane & 7u), py = by + int(lane >> 3);
    bool inside = px < width && py < height;
    bool done = !inside;
    // the block's rectangle of pixel centres, clipped to the image
    float bx0 = float(bx) + 0.5, by0 = float(by) + 0.5;
    float bx1 = float(min(bx + 8, width)) - 0.5, by1 = float(min(by + int(rows), height)) - 0.5;
    bool block_inside = bx0 <= bx1 && by0 <= by1;
    uint start = load_uint(p.ranges, 2u * tile), end = load_uint(p.ranges, 2u * tile + 1u);
    float X = float(lane & 7u) + 0.5, Y = float(lane >> 3) + 0.5; // from the block's corner
    float XX = X * X, XY = X * Y, YY = Y * Y;
    float T = 1.0, D = 0.0;
    vec3 rgb = vec3(0.0);
    uint blended = 0u;
    uint slice = gl_SubgroupID * size, j = start + lane, next_index = 0u;
    vec4 na = vec4(0.0), nb = vec4(0.0), nc = vec4(0.0); // the next batch: u v a b | c opacity depth - | r g b -
    if (j < end) {
        SplatAt s = splat_at(p.splats, load_uint(p.values, j));
        na = s.v[0], nb = s.v[1], nc = s.v[2];
    }
    if (j + size < end) next_index = load_uint(p.values, j + size);
    for (uint batch = start; batch < end; batch += size, j += size) {
        if (subgroupAll(done)) break;
        // one log a Gaussian, for both the culling limit and the staged exponent
        float log2_opacity = log2(nb.y);
        bool hit = j < end && block_inside &&
                   rect_touches(na.xy, vec3(na.zw, nb.x), block_touch_limit(log2_opacity), bx0, bx1, by0, by1);
        uvec4 mask = subgroupBallot(hit);
        if (hit) {
            uint k = slice + subgroupBallotExclusiveBitCount(mask);
            float A = -0.5 * LOG2E * na.z, B = -LOG2E * na.w, C = -0.5 * LOG2E * nb.x;
            float u = na.x - float(bx), v = na.y - float(by);
            s_poly[k] = vec4(fma(u, fma(A, u, B * v), fma(C * v, v, log2_opacity)), -fma(2.0 * A, u, B * v),
                             -fma(B, u, 2.0 * C * v), A);
            s_rest[k] = vec4(B, C, log2_opacity, nb.z);
            s_rgb[k] = vec4(nc.xyz, 0.0);
        }
        if (j + size < end) {
            SplatAt s = splat_at(p.splats, next_index);
            na = s.v[0], nb = s.v[1], nc = s.v[2];
        }
        if (j + 2u * size < end) next_index = load_uint(p.values, j + 2u * size);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        uint last = slice + subgroupBallotBitCount(mask);
        for (uint k = slice; k < last && !done; k++) {
            vec4 poly = s_poly[k], rest = s_rest[k];
            float power = fma(rest.x, XY, fma(rest.y, YY, fma(poly.w, XX, fma(poly.z, Y, fma(poly.y, X, poly.x)))));
            // without branches, as splat_cuda.cu's blend: a subgroup mostly blends each
            // hit with some of its lanes (1M blend 0.322 -> 0.292 ms on the H100); no
            // power cut-off, as past it alpha < 1/255 anyway. The exponent is capped at
            // log2(opacity) (power 0) rather than tested: at a pixel within a rounding
            // error of the mean the quadratic can come out just above it, where the CPU's
            // power is 0 and blends.
            float alpha = min(RD_MAX_ALPHA, exp2(min(power, rest.z)));
            bool used = alpha >= RD_MIN_ALPHA;
            float next_T = T * (1.0 - alpha);
            if (used && next_T < RD_MIN_TRANSMITTANCE) {
                done = true;
                break;
            }
            float w = used ? alpha * T : 0.0;
            rgb += w * s_rgb[k].xyz;
            T = used ? next_T : T;
            if (EXTRAS) {
                D += w * rest.w;
                blended += used ? 1u : 0u;
            }
        }
        subgroupBarrier(); // the slice is read before the next batch overwrites it
    }
    if (!inside) return;
    uint pixel = uint(py) * uint(width) + uint(px);
    if ((p.outputs & 1u) != 0u)
        store_vec4(p.color, pixel, vec4(rgb + T * vec3(vp.background[0], vp.background[1], vp.background[2]), 1.0 - T));
    if ((p.outputs & 2u) != 0u)
        store_float(p.depth, pixel, (vp.flags & RD_VK_FLAG_EXPECTED_DEPTH) == 0u ? D : (T < 1.0 ? D / (1.0 - T) : 0.0));
    if ((p.outputs & 4u) != 0u) store_float(p.trans, pixel, T);
    if ((p.outputs & 8u) != 0u) store_uint(p.contrib, pixel, blended);
}
