// splat_common.glsl: the includes every splat shader starts with.
#include "common.glsl"
#include "splat_math.glsl"
