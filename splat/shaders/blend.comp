#version 450
// blend: spec step 9, as blend_tiles in splat_cpu.c: one group of 256 invocations per
// 16x16 tile; each batch of up to 256 of the tile's Gaussians (front to back) is staged
// in shared memory, and the group stops once every pixel's transmittance is spent. Each
// subgroup covers an 8-pixel-wide block of the tile (8x4 pixels with 32 lanes, 8x1 with
// 8) and keeps only the Gaussians that can reach one of its pixels: lane l tests
// Gaussian c + l of the batch against the block (rect_touches, the binning's own
// conservative test), a ballot gives the subgroup the chunk's mask, and the pixels walk
// its set bits in order, so the blending order is the CPU's. Any subgroup size from 8 to
// 128 works (full subgroups of a 256-invocation group).
#include "splat_common.glsl"
layout(local_size_x = RD_VK_TILE * RD_VK_TILE) in;
layout(push_constant) uniform Push {
    ViewParams vp;
    uint64_t ranges, values, splats;
    uint64_t color, depth, trans, contrib;
    uint outputs; // bit 0 colour, 1 depth, 2 transmittance, 3 contributors
} p;

const uint BATCH = RD_VK_TILE * RD_VK_TILE;
shared vec4 s_geom[BATCH];  // u, v, power cut-off, opacity
shared vec4 s_conic[BATCH]; // a, b, c, depth
shared vec4 s_rgb[BATCH];   // r, g, b, touch limit
shared uint s_done;

void main()
{
    ViewParams vp = p.vp;
    int width = vp.width, height = vp.height;
    uint t = gl_LocalInvocationIndex, lane = gl_SubgroupInvocationID, size = gl_SubgroupSize;
    uint tile = gl_WorkGroupID.y * uint(vp.tiles_x) + gl_WorkGroupID.x;
    // the subgroup's block: 8 pixels wide, size / 8 rows
    uint rows = size / 8u;
    int bx = int(gl_WorkGroupID.x) * RD_VK_TILE + int(gl_SubgroupID & 1u) * 8;
    int by = int(gl_WorkGroupID.y) * RD_VK_TILE + int(gl_SubgroupID >> 1) * int(rows);
    int px = bx + int(lane & 7u), py = by + int(lane >> 3);
    bool inside = px < width && py < height;
    bool done = !inside;
    // the block's rectangle of pixel centres, clipped to the image
    float bx0 = float(bx) + 0.5, by0 = float(by) + 0.5;
    float bx1 = float(min(bx + 8, width)) - 0.5, by1 = float(min(by + int(rows), height)) - 0.5;
    bool block_inside = bx0 <= bx1 && by0 <= by1;
    uint start = load_uint(p.ranges, 2u * tile), end = load_uint(p.ranges, 2u * tile + 1u);
    float fx = float(px) + 0.5, fy = float(py) + 0.5;
    float T = 1.0, D = 0.0;
    vec3 rgb = vec3(0.0);
    uint blended = 0u;
    for (uint batch = start; batch < end; batch += BATCH) {
        barrier(); // the last batch's readers are done with the shared arrays
        if (t == 0u) s_done = 0u;
        barrier();
        if (done) atomicAdd(s_done, 1u);
        barrier();
        if (s_done == BATCH) break;
        uint j = batch + t;
        if (j < end) {
            SplatAt s = splat_at(p.splats, load_uint(p.values, j));
            vec4 a = s.v[0], b = s.v[1], c = s.v[2];
            s_geom[t] = vec4(a.xy, power_cutoff(b.y), b.y);
            s_conic[t] = vec4(a.z, a.w, b.x, b.z);
            s_rgb[t] = vec4(c.xyz, touch_limit(b.y));
        }
        barrier();
        uint m = min(end - batch, BATCH);
        for (uint chunk = 0u; chunk < m; chunk += size) {
            if (subgroupAll(done)) break;
            uint k = chunk + lane;
            bool hit = false;
            if (k < m && block_inside) {
                vec4 geom = s_geom[k];
                hit = rect_touches(geom.xy, s_conic[k].xyz, s_rgb[k].w, bx0, bx1, by0, by1);
            }
            uvec4 mask = subgroupBallot(hit);
            for (uint word = 0u; word * 32u < size && !done; word++) {
                uint bits = mask[word];
                while (bits != 0u && !done) {
                    k = chunk + word * 32u + uint(findLSB(bits));
                    bits &= bits - 1u;
                    vec4 geom = s_geom[k], conic = s_conic[k];
                    float dx = fx - geom.x, dy = fy - geom.y;
                    float power = -0.5 * (conic.x * dx * dx + conic.z * dy * dy) - conic.y * dx * dy;
                    if (power > 0.0 || power < geom.z) continue;
                    float alpha = min(RD_MAX_ALPHA, geom.w * exp(power));
                    if (alpha < RD_MIN_ALPHA) continue;
                    float next_T = T * (1.0 - alpha);
                    if (next_T < RD_MIN_TRANSMITTANCE) {
                        done = true;
                        break;
                    }
                    float w = alpha * T;
                    rgb += w * s_rgb[k].xyz;
                    D += w * conic.w;
                    T = next_T;
                    blended++;
                }
            }
        }
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
