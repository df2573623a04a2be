#version 450
// radix_scatter: radix_scatter.glsl, its digits ranked by ballots (every device)
#include "radix_scatter.glsl"
