#version 450
// nerf_render_profile.comp: the NeRF frame's kernel with its phases timed by the subgroup
// clock (VK_KHR_shader_clock), for RADIANT_NERF_VK_PROFILE=1 (render_vk.c).
#extension GL_ARB_shader_clock : require
#define RD_NERF_VK_PROFILE 1
#include "nerf_render.glsl"
