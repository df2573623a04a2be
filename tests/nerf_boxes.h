/* nerf_boxes.h: the NeRF tests' small scene: three coloured boxes in the cube of side 2,
   photographed (RGBA, transparent around them) by an analytic renderer from orbits at 3
   units; a small field and trainer settings for them; the held-out PSNR of a scene. */
#ifndef RD_TEST_NERF_BOXES_H
#define RD_TEST_NERF_BOXES_H

#include "test_util.h"

/* View k of n on a ring at `elevation` (radians), size x size pixels. */
rd_camera nerf_boxes_camera(int k, int n, float elevation, int size);
/* The boxes seen by c: RGBA, alpha 0 where no box is. */
void nerf_boxes_photo(const rd_camera *c, rd_image *out);
/* train views on three rings, then held views between them, with their photos in images. */
void nerf_boxes_views(rd_train_view *views, rd_image *images, int train, int held, int size);
/* Mean PSNR of the scene's renders of the views against their photos, on white. */
double nerf_boxes_psnr(rd_context *ctx, const rd_scene *scene, const rd_train_view *views, int n);
/* A small field (8 levels of 2^14 entries, networks of width 32) on the boxes' cube, a
   random background per ray, 2^12 samples a step, the occupancy grid warmed for 2 steps
   then updated every 64. */
rd_nerf_trainer_desc nerf_boxes_desc(const rd_train_view *views, int n, uint64_t seed);

#endif
