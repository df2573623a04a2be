#version 450
// nerf_render_single.comp: the NeRF frame's kernel (nerf_render.glsl) with the march's t in float,
// for devices without shaderFloat64 (render_vk.c; nerf_march.glsl says how it keeps the
// CPU's samples).
#define RD_NERF_MARCH_SINGLE
#include "nerf_render.glsl"
