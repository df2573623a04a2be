// splat_common.glsl: the includes every splat shader starts with, and what the tile
// schedule's two passes share.
#include "common.glsl"
#include "splat_math.glsl"

// The length class of tile t's list in the ranges ([start, end) pairs): the bit length of
// its length, 0 for an empty tile.
uint tile_length_class(uint64_t ranges, uint t)
{
    return uint(findMSB(load_uint(ranges, 2u * t + 1u) - load_uint(ranges, 2u * t)) + 1);
}
