/* slice4d_vk.h: a 4D scene's frame on Vulkan (slice4d_vk.c, built where RD_HAVE_VULKAN
   is), and the kind's state in the context's slot. */
#ifndef RD_SLICE4D_VK_H
#define RD_SLICE4D_VK_H

#include "scene4d.h"

rd_result rd_slice4d_render_vk(rd_context *ctx, const rd_scene4d *s, const rd_camera *camera, const rd_render_desc *desc,
                               const rd_framebuffer *target, rd_render_stats *stats);
void rd_slice4d_vk_free_state(rd_context *ctx, void *state);

#endif
