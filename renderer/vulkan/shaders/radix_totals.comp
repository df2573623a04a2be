#version 450
// radix_totals: how many keys hold each value of each 8-bit digit, for every pass of the
// sort at once (one read of the keys): totals[pass * 256 + digit]. The passes' digit
// offsets follow from these alone, as the permutations between passes keep the counts.
// Each group also clears its block's look-back entries for every pass (radix_scatter
// reads zero as "not published yet"), so only the tables this sort uses are touched.
#include "common.glsl"
#include "sort_block.glsl"
layout(local_size_x = RD_SORT_THREADS) in;
layout(push_constant) uniform Push {
    uint64_t keys; Uints control; uint64_t totals, lookback, lookback_table; uint passes, last_mask;
} p;

shared uint s_totals[RD_SORT_MAX_PASSES * RD_RADIX];

void main()
{
    uint g = linear_group(), groups = p.control.v[RD_CONTROL_SORT_GROUPS], n = p.control.v[RD_CONTROL_SORT_COUNT];
    if (g >= groups) return;
    uint t = gl_LocalInvocationIndex;
    for (uint k = t; k < RD_SORT_MAX_PASSES * RD_RADIX; k += RD_SORT_THREADS) s_totals[k] = 0u;
    for (uint pass = 0u; pass < p.passes; pass++)
        for (uint d = t; d < RD_RADIX; d += RD_SORT_THREADS)
            store_uint(p.lookback + uint64_t(pass) * p.lookback_table, g * RD_RADIX + d, 0u);
    barrier();
    uint keys[SORT_ITEMS]; // every load in flight before the counting
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        uint i = g * SORT_BLOCK + k * RD_SORT_THREADS + t;
        keys[k] = i < n ? load_uint(p.keys, i) : 0u;
    }
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        if (g * SORT_BLOCK + k * RD_SORT_THREADS + t >= n) break;
        uint key = keys[k];
        for (uint pass = 0u; pass < p.passes; pass++) {
            uint mask = pass + 1u == p.passes ? p.last_mask : 255u;
            atomicAdd(s_totals[pass * RD_RADIX + ((key >> (8u * pass)) & mask)], 1u);
        }
    }
    barrier();
    for (uint k = t; k < p.passes * RD_RADIX; k += RD_SORT_THREADS)
        if (s_totals[k] != 0u) atomicAdd(UintAt(p.totals + uint64_t(k) * 4ul).v, s_totals[k]);
}
