#version 450
// radix_histogram: step 1 of a pass of the reduce-then-scan radix sort (the path for
// devices that do not promise forward progress between workgroups, vk_sort.c): each group
// counts the digits of its block's keys into table[digit * groups + block]. An exclusive
// scan of the table (rd_vk_scan_record) then gives every block, for every digit, where
// its keys of that digit go: the keys of smaller digits, then those of its digit in
// earlier blocks. No group waits on another.
#include "common.glsl"
#include "sort_block.glsl"
layout(local_size_x = RD_SORT_THREADS) in;
layout(push_constant) uniform Push { uint64_t keys; Uints control; uint64_t table; uint mask, pass; } p;

shared uint s_counts[RD_RADIX];

void main()
{
    uint g = linear_group(), groups = p.control.v[RD_CONTROL_SORT_GROUPS], n = p.control.v[RD_CONTROL_SORT_COUNT];
    if (g >= groups) return;
    uint t = gl_LocalInvocationIndex, shift = 8u * p.pass;
    for (uint d = t; d < RD_RADIX; d += RD_SORT_THREADS) s_counts[d] = 0u;
    barrier();
    uint keys[SORT_ITEMS]; // every load in flight before the counting
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        uint i = g * SORT_BLOCK + k * RD_SORT_THREADS + t;
        keys[k] = i < n ? load_uint(p.keys, i) : 0u;
    }
    for (uint k = 0u; k < SORT_ITEMS; k++)
        if (g * SORT_BLOCK + k * RD_SORT_THREADS + t < n) atomicAdd(s_counts[(keys[k] >> shift) & p.mask], 1u);
    barrier();
    for (uint d = t; d < RD_RADIX; d += RD_SORT_THREADS) store_uint(p.table, d * groups + g, s_counts[d]);
}
