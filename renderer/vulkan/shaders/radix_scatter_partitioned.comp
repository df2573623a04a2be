#version 450
// radix_scatter_partitioned: radix_scatter.glsl, its digits ranked by subgroupPartitionNV
// (devices with VK_NV_shader_subgroup_partitioned: vk_sort.c's choose_sort_rank)
#extension GL_NV_shader_subgroup_partitioned : require
#define RD_RANK_PARTITIONED
#include "radix_scatter.glsl"
