/* radiant_images.h: images in memory and on disk, and the metrics that compare them
   (included by radiant.h). */
#ifndef RADIANT_IMAGES_H
#define RADIANT_IMAGES_H

#include "radiant_core.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- images ------------------------------------------------------------------------- */

typedef struct rd_image {
    int width, height, channels; /* channels: 1, 3 or 4 */
    float *pixels;               /* width*height*channels */
} rd_image;

/* PNG, JPEG (stb_image, values /255) and EXR (tinyexr). Free with rd_image_free. */
rd_result rd_image_load(rd_context *ctx, const char *path, rd_image *out);
/* Reads width and height only. */
rd_result rd_image_size(rd_context *ctx, const char *path, int *width, int *height);
/* Format from the extension: .png (8-bit, clamped, rounded) or .exr (float32). */
rd_result rd_image_save(rd_context *ctx, const char *path, const rd_image *image);
rd_result rd_image_alloc(int width, int height, int channels, rd_image *out);
void rd_image_free(rd_image *image);
/* Blends straight alpha over a background into an RGB image (no-op copy without alpha). */
rd_result rd_image_composite(const rd_image *in, const float background[3], rd_image *out_rgb);
/* Linear colour to sRGB in place, clamped to [0, 1] (the sRGB curve: 12.92 c up to
   0.0031308, else 1.055 c^(1/2.4) - 0.055); alpha (the 4th of 4 channels, the 2nd of 2) is left alone. */
void rd_image_linear_to_srgb(rd_image *image);

/* ---- video -------------------------------------------------------------------------- */

/* H.264 video through FFmpeg's libraries (libx264, 4:2:0, in an MP4 or any container the
   file name asks for): frames of one size written as they come, the file in place only
   once rd_video_close has finished it (until then it is a hidden file beside it, removed
   on failure). RD_ERROR_UNSUPPORTED where radiant was built without FFmpeg. */
typedef struct rd_video_writer rd_video_writer;
typedef struct rd_video_desc {
    int width, height; /* even (4:2:0) */
    int fps;           /* 0: 30 */
    int crf;           /* x264's constant rate factor, 0..51 (lower: better); 0: 16 */
} rd_video_desc;
rd_result rd_video_open(rd_context *ctx, const char *path, const rd_video_desc *desc, rd_video_writer **out);
/* One frame: RGB or RGBA (alpha ignored) in [0, 1], the video's size. */
rd_result rd_video_write(rd_video_writer *video, const rd_image *frame);
/* Finishes the file (write = true) or drops it; frees the writer either way. */
rd_result rd_video_close(rd_video_writer *video, bool write);
/* Decodes up to max_frames frames of a video file as RGB images into frames (each freed
   with rd_image_free; NULL: count them only); *count the frames the file holds. */
rd_result rd_video_read(rd_context *ctx, const char *path, rd_image *frames, int max_frames, int *count);

/* ---- metrics ------------------------------------------------------------------------ */

/* PSNR and SSIM over RGB in [0,1], as spec/datasets.md defines them. The first three
   channels of each image are compared; sizes must match. */
typedef struct rd_metrics {
    double psnr, ssim, mse;
} rd_metrics;
rd_result rd_image_compare(rd_context *ctx, const rd_image *a, const rd_image *b, rd_metrics *out);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_IMAGES_H */
