/* render_cpu.h: a NeRF scene's frame on the CPU (the specification of every backend's):
   each pixel's ray through its centre, marched through the occupancy grid (at most
   RD_NERF_MAX_SAMPLES samples, from the near plane to the far one), the field at every
   sample, and the samples composited front to back (nerf/volume.h) on the background.
   Colour is RGB and alpha (1 - the final transmittance); depth is the accumulated camera
   depth (sum of weight * z; expected with RD_RENDER_EXPECTED_DEPTH: over alpha), as the
   splat renderer's; contributors counts the samples composited. */
#ifndef RD_NERF_RENDER_CPU_H
#define RD_NERF_RENDER_CPU_H

#include "scene.h"

rd_result rd_nerf_render_cpu(rd_context *ctx, const rd_nerf_scene *s, const rd_camera *camera, const rd_render_desc *desc,
                             const rd_framebuffer *target, rd_render_stats *stats);

#endif
