#version 450
// preprocess: spec steps 1-7 for one Gaussian a thread (splat_math.glsl): a visible
// one's record and packed tiles; every one's tile count and depth key (float bits sort as
// the floats past the near plane; culled Gaussians get the largest key and sort last);
// and the count of visible Gaussians.
#include "splat_common.glsl"
layout(local_size_x = RD_LINEAR_THREADS) in;
layout(push_constant) uniform Push {
    ViewParams vp;
    uint64_t means, log_scales, rotations, opacities;
    uint64_t sh;
    uint64_t splats, tiles;
    uint64_t touched, depth_keys, order;
    Uints counters;
    uint count;
    int sh_degree;
} p;

void main()
{
    uint i = linear_group() * RD_LINEAR_THREADS + gl_LocalInvocationIndex;
    bool seen = false;
    if (i < p.count) {
        Gaussians g = Gaussians(p.means, p.log_scales, p.rotations, p.opacities, p.sh, p.sh_degree);
        Splat s = splat_preprocess(p.vp, g, i);
        seen = s.tiles_touched != 0u;
        if (seen) { // nothing reads a culled one's record
            store_splat(p.splats, i, s);
            tiles_at(p.tiles, i).v = pack_tiles(s, p.vp);
        }
        store_uint(p.touched, i, s.tiles_touched);
        store_uint(p.depth_keys, i, seen ? floatBitsToUint(s.depth) : 0xffffffffu);
        store_uint(p.order, i, i);
    }
    uint visible = subgroupAdd(seen ? 1u : 0u);
    if (subgroupElect() && visible != 0u) atomicAdd(p.counters.v[RD_COUNTER_VISIBLE], visible);
}
