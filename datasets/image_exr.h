/* image_exr.h: OpenEXR images read from memory with OpenEXRCore (the header first, so
   that the decode limit is checked before any pixel is decoded). */
#ifndef RD_IMAGE_EXR_H
#define RD_IMAGE_EXR_H

#include "../renderer/internal.h"

/* The data window's size and the channel count, from the header alone. */
rd_result rd_exr_size(rd_context *ctx, const char *path, const unsigned char *data, size_t size, int64_t *width,
                      int64_t *height, int *channels);
/* The image as float RGBA: channels R, G, B (A, else 1) by name, or a layer's L.R, L.G,
   L.B (L.A), or a single channel as grey. */
rd_result rd_exr_load(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_image *out);

#endif
