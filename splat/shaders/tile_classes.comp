#version 450
// tile_classes: the first pass of the blend's launch order (tile_schedule.comp): how many
// tiles fall in each length class. Each group counts its tiles in shared memory, then adds
// its nonzero counts to the frame's histogram.
#include "splat_common.glsl"
layout(local_size_x = RD_LINEAR_THREADS) in;
layout(push_constant) uniform Push { uint64_t ranges; Uints schedule_counters; uint tiles; } p;

shared uint s_count[RD_LENGTH_CLASSES];

void main()
{
    uint local = gl_LocalInvocationIndex, t = linear_group() * RD_LINEAR_THREADS + local;
    for (uint c = local; c < RD_LENGTH_CLASSES; c += RD_LINEAR_THREADS) s_count[c] = 0u;
    barrier();
    if (t < p.tiles) atomicAdd(s_count[tile_length_class(p.ranges, t)], 1u);
    barrier();
    for (uint c = local; c < RD_LENGTH_CLASSES; c += RD_LINEAR_THREADS)
        if (s_count[c] != 0u) atomicAdd(p.schedule_counters.v[RD_SCHEDULE_HISTOGRAM + c], s_count[c]);
}
