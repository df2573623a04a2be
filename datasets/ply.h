/* ply.h: INRIA-layout Gaussian PLY files (spec/gaussians.md), read by property name. */
#ifndef RD_PLY_H
#define RD_PLY_H

#include "../splat/scene.h"

/* Reads a binary little-endian PLY whose `vertex` element holds Gaussians. */
rd_result rd_ply_read(rd_context *ctx, const char *path, rd_scene **out);
/* True when the first bytes are a PLY header. */
bool rd_ply_detect(const unsigned char *head, size_t n);

#endif
