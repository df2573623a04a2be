#version 450
// radix_scatter: one stable pass of the LSD radix sort. Each subgroup ranks its own run of
// the group's keys in order: eight ballots find the lanes holding the same digit (a
// subgroup multi-split), the lane's rank among them comes from the ballot's lower bits,
// and a per-subgroup digit count carries the ranks across the run. The subgroups' counts
// are then scanned per digit, so keys land in index order within each digit:
// destination = the group's offset for the digit (scanned histogram)
//             + the keys of that digit in earlier subgroups + the rank.
// Works for any subgroup size from 8 to 128 (full subgroups). On request the pass also
// gathers: gather_to[destination] = gather_from[value] (the renderer's tile counts in
// depth order, without a kernel of their own).
#include "common.glsl"
layout(local_size_x = RD_SORT_THREADS) in;
layout(push_constant) uniform Push {
    uint64_t keys_in, values_in, keys_out, values_out; Uints control; uint64_t hist, gather_from, gather_to; uint shift, mask;
} p;

shared uint s_base[RD_RADIX];
shared uint s_counts[RD_SORT_MAX_SUBGROUPS][RD_RADIX];

void main()
{
    uint g = linear_group(), groups = p.control.v[RD_CONTROL_SORT_GROUPS], n = p.control.v[RD_CONTROL_SORT_COUNT];
    if (g >= groups) return;
    uint t = gl_LocalInvocationIndex, sg = gl_SubgroupID, lane = gl_SubgroupInvocationID, size = gl_SubgroupSize;
    for (uint d = t; d < RD_RADIX; d += RD_SORT_THREADS) {
        s_base[d] = load_uint(p.hist, d * groups + g);
        for (uint s = 0u; s < gl_NumSubgroups; s++) s_counts[s][d] = 0u;
    }
    barrier();

    uint run = g * RD_SORT_BLOCK + sg * size * RD_SORT_ITEMS;
    uint keys[RD_SORT_ITEMS], ranks[RD_SORT_ITEMS];
    for (uint k = 0u; k < RD_SORT_ITEMS; k++) {
        uint i = run + k * size + lane;
        bool valid = i < n;
        uint key = valid ? load_uint(p.keys_in, i) : 0u, digit = (key >> p.shift) & p.mask;
        uvec4 peers = digit_peers(digit, valid);
        uint count = subgroupBallotBitCount(peers), rank = subgroupBallotExclusiveBitCount(peers);
        uint before = valid ? s_counts[sg][digit] : 0u;
        subgroupBarrier();
        if (valid && rank + 1u == count) s_counts[sg][digit] = before + count;
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        keys[k] = key;
        ranks[k] = before + rank;
    }
    barrier();
    for (uint d = t; d < RD_RADIX; d += RD_SORT_THREADS) {
        uint sum = 0u;
        for (uint s = 0u; s < gl_NumSubgroups; s++) {
            uint c = s_counts[s][d];
            s_counts[s][d] = sum;
            sum += c;
        }
    }
    barrier();
    for (uint k = 0u; k < RD_SORT_ITEMS; k++) {
        uint i = run + k * size + lane;
        if (i >= n) break;
        uint digit = (keys[k] >> p.shift) & p.mask;
        uint dest = s_base[digit] + s_counts[sg][digit] + ranks[k];
        uint value = load_uint(p.values_in, i);
        store_uint(p.keys_out, dest, keys[k]);
        store_uint(p.values_out, dest, value);
        if (p.gather_to != 0ul) store_uint(p.gather_to, dest, load_uint(p.gather_from, value));
    }
}
