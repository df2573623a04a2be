#version 450
// emit: one thread per Gaussian-tile pair. Pair k belongs to the Gaussian j (in depth
// order) whose inclusive tile-count offset is the first above k; its r-th touched tile
// (row-major over the tile rectangle) gives the key (tile id alone) and the value is the
// Gaussian's index, so the keys come out in depth order within every tile. The group's
// pairs lie within RD_LINEAR_THREADS Gaussians from the one holding its first pair
// (pair_groups.comp; every visible Gaussian has a pair), so the group stages those
// offsets in shared memory and each thread searches them there: searching all n offsets
// in global memory took 23 divergent loads a pair at 6M Gaussians. A thread per pair
// rather than per Gaussian bounds each thread's work, however large a splat is (lavapipe
// also cuts every shader invocation off after 65535 loop iterations). Pairs past the key
// buffers' capacity are not dispatched; the host sees the total afterwards and grows them.
#include "splat_common.glsl"
layout(local_size_x = RD_LINEAR_THREADS) in;
layout(push_constant) uniform Push {
    ViewParams vp;
    uint64_t splats, order, offsets, group_first, keys, values;
    Uints counters;
    uint count, capacity;
} p;

shared uint s_offsets[RD_LINEAR_THREADS]; // offsets[first ..], past the last Gaussian: ~0

void main()
{
    uint group = linear_group(), t = gl_LocalInvocationIndex, k = group * RD_LINEAR_THREADS + t;
    uint pairs = min(p.counters.v[RD_COUNTER_PAIRS], p.capacity);
    if (group * RD_LINEAR_THREADS >= pairs) return; // the whole group: a dispatch split over y
    uint first = load_uint(p.group_first, group);
    s_offsets[t] = first + t < p.count ? load_uint(p.offsets, first + t) : 0xffffffffu;
    barrier();
    if (k >= pairs) return;
    uint lo = 0u, hi = RD_LINEAR_THREADS - 1u; // the answer lies in [lo, hi]
    while (lo < hi) {
        uint mid = (lo + hi) / 2u;
        if (s_offsets[mid] > k) hi = mid;
        else lo = mid + 1u;
    }
    uint i = load_uint(p.order, first + lo);
    Splat s = load_splat_geometry(p.splats, i);
    uint r = k - (s_offsets[lo] - s.tiles_touched); // which of its tiles
    int width = s.rect.z - s.rect.x, tile_x = 0, tile_y = 0;
    if (s.tiles_touched == uint(width * (s.rect.w - s.rect.y))) { // every tile of the rectangle
        tile_x = s.rect.x + int(r % uint(width));
        tile_y = s.rect.y + int(r / uint(width));
    } else { // at most RD_ELLIPSE_TEST_MAX_TILES: walk them
        uint seen = 0u;
        for (int y = s.rect.y; y < s.rect.w; y++)
            for (int x = s.rect.x; x < s.rect.z; x++)
                if (tile_touches(s, p.vp, x, y) && seen++ == r) {
                    tile_x = x;
                    tile_y = y;
                }
    }
    store_uint(p.keys, k, uint(tile_y * p.vp.tiles_x + tile_x));
    store_uint(p.values, k, i);
}
