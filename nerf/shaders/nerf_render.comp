#version 450
// nerf_render.comp: the NeRF frame's kernel (nerf_render.glsl).
#include "nerf_render.glsl"
