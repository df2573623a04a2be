/* fuzz_image.c: rd_image_load and rd_image_size, the images datasets hold: the first
   byte picks the file name, .exr (tinyexr) or .png (stb_image, which tells PNG, JPEG,
   BMP, TGA, GIF, HDR, PNM and PSD apart by content). */
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_context *ctx = fuzz_context();
    if (!ctx || size < 1) return 0;
    const char *path = fuzz_file(data[0] & 1 ? "image.exr" : "image.png", data + 1, size - 1);
    if (!path) return 0;
    rd_image image;
    if (rd_image_load(ctx, path, &image) == RD_OK) rd_image_free(&image);
    int width, height;
    rd_image_size(ctx, path, &width, &height);
    return 0;
}
