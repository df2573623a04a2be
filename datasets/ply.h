/* ply.h: INRIA-layout Gaussian PLY files (spec/gaussians.md), read by property name. */
#ifndef RD_PLY_H
#define RD_PLY_H

#include "../splat/scene.h"

/* Decodes a binary little-endian PLY (the whole file in data) whose `vertex` element
   holds Gaussians, or a PlayCanvas compressed PLY. */
rd_result rd_ply_decode(rd_context *ctx, const char *path, const char *data, size_t size, rd_scene **out);

#endif
