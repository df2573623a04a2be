#version 450
// emit_blocks: emit.comp's pairs (the same keys and values at the same places), written a
// group per RD_LINEAR_THREADS consecutive Gaussians in depth order (rd_tuning.vk_emit,
// splat_vk.c), as CUDA's emit_keys_kernel writes them: the group stages its Gaussians'
// pair offsets, packed tiles and indices once, then writes its run of pairs, [end of the
// Gaussian before it, end of its last), a pair a thread in turn, each thread finding its
// pair's Gaussian by a binary search of the staged ends. It needs no pair_groups pass, and
// reads a Gaussian's packed tiles and index once rather than once a pair. A group loops
// over its run: on lavapipe, which cuts an invocation off after 65535 loop iterations,
// runs of 16.7M pairs (256 Gaussians of 65,536 tiles each) would be cut, so emit.comp
// stays the default there. Pairs past the key buffers' capacity are not written.
#include "splat_common.glsl"
layout(local_size_x = RD_LINEAR_THREADS) in;
layout(push_constant) uniform Push {
    ViewParams vp;
    uint64_t tiles, order, offsets, keys, values;
    Uints counters;
    uint count, capacity;
} p;

shared uint s_end[RD_LINEAR_THREADS];               // each Gaussian's inclusive pair offset
shared uvec2 s_packed[RD_LINEAR_THREADS];           // its packed tiles (where it has pairs)
shared uint s_index[RD_LINEAR_THREADS];             // its index in the scene

void main()
{
    uint group = linear_group(), t = gl_LocalInvocationIndex, first = group * RD_LINEAR_THREADS, j = first + t;
    if (first >= p.count) return; // the whole group: a dispatch split over y
    uint pairs = min(p.counters.v[RD_COUNTER_PAIRS], p.capacity);
    uint run_start = first > 0u ? load_uint(p.offsets, first - 1u) : 0u;
    if (run_start >= pairs) return; // the whole group: its Gaussians are culled, or past the capacity
    uint last = min(p.count - first, uint(RD_LINEAR_THREADS)) - 1u; // the group's last Gaussian
    uint end = t <= last ? load_uint(p.offsets, j) : 0xffffffffu;
    s_end[t] = end;
    barrier();
    uint start = t > 0u ? s_end[t - 1u] : run_start;
    if (t <= last && end > start) { // a culled Gaussian's run is empty: nothing of it is read
        uint i = load_uint(p.order, j);
        s_packed[t] = tiles_at(p.tiles, i).v;
        s_index[t] = i;
    }
    barrier();
    uint run_end = min(s_end[last], pairs);
    for (uint k = run_start + t; k < run_end; k += RD_LINEAR_THREADS) {
        uint lo = 0u, hi = last; // the first Gaussian whose end is past k, in [lo, hi]
        while (lo < hi) {
            uint mid = (lo + hi) / 2u;
            if (s_end[mid] > k) hi = mid;
            else lo = mid + 1u;
        }
        uvec2 packed = s_packed[lo];
        uint r = k - (s_end[lo] - packed_pair_count(packed)); // which of its tiles
        store_uint(p.keys, k, packed_pair_tile(packed, r, p.vp.tiles_x));
        store_uint(p.values, k, s_index[lo]);
    }
}
