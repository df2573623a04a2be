/* render_vk.h: a NeRF frame on Vulkan compute (render_vk.c, built where RD_HAVE_VULKAN
   is), and the kind's state in the context's slot. */
#ifndef RD_NERF_RENDER_VK_H
#define RD_NERF_RENDER_VK_H

#include "scene.h"

rd_result rd_nerf_render_vk(rd_context *ctx, const rd_nerf_scene *s, const rd_camera *camera, const rd_render_desc *desc,
                            const rd_framebuffer *target, rd_render_stats *stats);
void rd_nerf_vk_free_state(rd_context *ctx, void *state);

#endif
