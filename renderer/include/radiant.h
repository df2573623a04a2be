/* radiant.h: the one public header of radiant, a library that renders radiance fields.
   It includes the API's parts, which a reader can take one at a time: radiant_core.h
   (context, errors, cameras, scenes as handles of a kind, framebuffers, buffers,
   rendering), radiant_splats.h (Gaussian scenes), radiant_datasets.h (scene files and
   camera datasets), radiant_images.h (images and metrics), radiant_train.h (fitting
   Gaussians to photos), radiant_nerf.h (hash-grid NeRFs), radiant_4d.h (4D Gaussians,
   rendered at a time), radiant_compact.h (pruned, quantised scenes), radiant_features.h
   (feature fields and queries over them). Apart: radiant_vulkan.h (Vulkan interop) and
   radiant_bench.h (benchmark scenes).

   Overview
   --------
   A program creates one rd_context (it picks a backend: CPU, CUDA or Vulkan), loads or
   builds rd_scene objects (Gaussian splats), describes cameras with rd_camera and renders
   them into rd_framebuffer memory that it owns. Camera datasets (Blender, instant-ngp,
   COLMAP, LLFF, radiant camera lists) load as rd_dataset; images load and save as rd_image.

   Rules that hold everywhere
   - Every call that can fail returns rd_result. RD_OK is zero. rd_result_string() names a
     code; rd_last_error(ctx) holds a readable message such as
     "lego/transforms_test.json: frames[3].transform_matrix: expected 4x4 numbers".
   - The library never prints and never exits: messages go to the log callback given in
     rd_context_desc (none given: silence).
   - Settings come in *_desc structs where zero means default: initialise them with {0}.
   - Objects come in create/destroy pairs; destroy accepts NULL.
   - Buffers say whether they live in host or device memory (rd_memory). Device pointers are
     used in place, without copies, by the backends that own such memory.
   - No partial output: a failed save leaves no file behind.

   Conventions
   - Camera: world-to-camera 4x4 (row-major, last row 0 0 0 1), OpenCV axes (x right,
     y down, z forward), pinhole intrinsics in pixels, pixel (i, j) centred at (i+.5, j+.5).
   - Gaussians as trained: log scales, logit opacity, w-first quaternions (not normalised),
     spherical-harmonic colour, (degree+1)^2 coefficients of RGB, stored coefficient-major
     with RGB innermost: sh[(i*K + k)*3 + c].
   - Images in memory are float, row-major, top row first, values as stored in the files.

   Minimal use
       rd_context *ctx; rd_context_create(&(rd_context_desc){0}, &ctx);
       rd_scene *scene; rd_scene_load(ctx, "scene.ply", &scene);
       ... rd_render(ctx, scene, &camera, &(rd_render_desc){0}, &framebuffer); ...
       rd_scene_destroy(scene); rd_context_destroy(ctx);
*/
#ifndef RADIANT_H
#define RADIANT_H

#include "radiant_core.h"
#include "radiant_splats.h"
#include "radiant_datasets.h"
#include "radiant_images.h"
#include "radiant_train.h"
#include "radiant_nerf.h"
#include "radiant_4d.h"
#include "radiant_compact.h"
#include "radiant_features.h"
#include "radiant_streams.h"

#endif /* RADIANT_H */
