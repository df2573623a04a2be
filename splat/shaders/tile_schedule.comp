#version 450
// tile_schedule: the blend's launch order, longest tile lists first. Groups start roughly
// in dispatch order and a tile's time grows with its list, so a long list dispatched late
// runs alone at the end; launching by descending length class (the bit length of the
// list's length, counted by tile_classes.comp) is coarse LPT scheduling. A tile's place:
// the tiles of longer classes, plus the places its group took in its class (one atomic
// per class a group), plus its rank in its group. Within a class the order is whatever
// the atomics give: tiles write disjoint pixels, so it does not change the image.
#include "splat_common.glsl"
layout(local_size_x = RD_LINEAR_THREADS) in;
layout(push_constant) uniform Push { uint64_t ranges, schedule; Uints schedule_counters; uint tiles; } p;

shared uint s_count[RD_LENGTH_CLASSES], s_base[RD_LENGTH_CLASSES];

void main()
{
    uint local = gl_LocalInvocationIndex, t = linear_group() * RD_LINEAR_THREADS + local;
    for (uint c = local; c < RD_LENGTH_CLASSES; c += RD_LINEAR_THREADS) s_count[c] = 0u;
    barrier();
    uint c = 0u, rank = 0u;
    if (t < p.tiles) {
        c = tile_length_class(p.ranges, t);
        rank = atomicAdd(s_count[c], 1u);
    }
    barrier();
    for (uint k = local; k < RD_LENGTH_CLASSES; k += RD_LINEAR_THREADS)
        if (s_count[k] != 0u) {
            uint longer = 0u;
            for (uint l = k + 1u; l < RD_LENGTH_CLASSES; l++) longer += p.schedule_counters.v[RD_SCHEDULE_HISTOGRAM + l];
            s_base[k] = longer + atomicAdd(p.schedule_counters.v[RD_SCHEDULE_TAKEN + k], s_count[k]);
        }
    barrier();
    if (t < p.tiles) store_uint(p.schedule, s_base[c] + rank, t);
}
