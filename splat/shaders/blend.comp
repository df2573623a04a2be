#version 450
// blend: spec step 9, as blend_tiles in splat_cpu.c: one 16x16 group per tile; each batch
// of up to 256 of the tile's Gaussians (front to back) is staged in shared memory, and
// the group stops once every pixel's transmittance is spent.
#include "splat_common.glsl"
layout(local_size_x = RD_VK_TILE, local_size_y = RD_VK_TILE) in;
layout(push_constant) uniform Push {
    ViewParams vp;
    uint64_t ranges, values, splats;
    uint64_t color, depth, trans, contrib;
    uint outputs; // bit 0 colour, 1 depth, 2 transmittance, 3 contributors
} p;

const uint BATCH = RD_VK_TILE * RD_VK_TILE;
shared vec4 s_geom[BATCH];  // u, v, power cut-off, opacity
shared vec4 s_conic[BATCH]; // a, b, c, depth
shared vec4 s_rgb[BATCH];
shared uint s_done;

void main()
{
    ViewParams vp = p.vp;
    int width = vp.width, height = vp.height;
    uint t = gl_LocalInvocationIndex;
    uint tile = gl_WorkGroupID.y * uint(vp.tiles_x) + gl_WorkGroupID.x;
    int px = int(gl_GlobalInvocationID.x), py = int(gl_GlobalInvocationID.y);
    bool inside = px < width && py < height;
    bool done = !inside;
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
            s_rgb[t] = c;
        }
        barrier();
        uint m = min(end - batch, BATCH);
        for (uint k = 0u; k < m && !done; k++) {
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
    if (!inside) return;
    uint pixel = uint(py) * uint(width) + uint(px);
    if ((p.outputs & 1u) != 0u)
        store_vec4(p.color, pixel, vec4(rgb + T * vec3(vp.background[0], vp.background[1], vp.background[2]), 1.0 - T));
    if ((p.outputs & 2u) != 0u)
        store_float(p.depth, pixel, (vp.flags & RD_VK_FLAG_EXPECTED_DEPTH) == 0u ? D : (T < 1.0 ? D / (1.0 - T) : 0.0));
    if ((p.outputs & 4u) != 0u) store_float(p.trans, pixel, T);
    if ((p.outputs & 8u) != 0u) store_uint(p.contrib, pixel, blended);
}
