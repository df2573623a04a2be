/* image_io.c: images in (stb_image for PNG/JPEG, tinyexr for EXR) and out (PNG, EXR). */
#include "../renderer/internal.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <tinyexr.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n >= e && strcasecmp(path + n - e, ext) == 0;
}

rd_result rd_image_alloc(int width, int height, int channels, rd_image *out)
{
    memset(out, 0, sizeof *out);
    if (width < 1 || height < 1 || channels < 1 || channels > 4) return RD_ERROR_INVALID_ARGUMENT;
    out->pixels = rd_alloc_array((int64_t)width * height, (size_t)channels * sizeof(float));
    if (!out->pixels) return RD_ERROR_OUT_OF_MEMORY;
    out->width = width;
    out->height = height;
    out->channels = channels;
    return RD_OK;
}

void rd_image_free(rd_image *image)
{
    if (!image) return;
    free(image->pixels);
    memset(image, 0, sizeof *image);
}

static rd_result load_exr(rd_context *ctx, const char *path, rd_image *out)
{
    float *rgba = NULL;
    int w = 0, h = 0;
    const char *err = NULL;
    int ret = LoadEXR(&rgba, &w, &h, path, &err);
    if (ret != TINYEXR_SUCCESS) {
        rd_result r = rd_fail(ctx, ret == TINYEXR_ERROR_CANT_OPEN_FILE ? RD_ERROR_IO : RD_ERROR_FORMAT,
                              "%s: cannot read EXR: %s", path, err ? err : "unknown error");
        if (err) FreeEXRErrorMessage(err);
        return r;
    }
    out->width = w;
    out->height = h;
    out->channels = 4;
    size_t bytes = (size_t)w * (size_t)h * 4 * sizeof(float);
    out->pixels = malloc(bytes);
    if (!out->pixels) {
        free(rgba);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: image too large", path);
    }
    memcpy(out->pixels, rgba, bytes);
    free(rgba);
    return RD_OK;
}

rd_result rd_image_load(rd_context *ctx, const char *path, rd_image *out)
{
    if (!path || !out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_image_load: NULL argument");
    memset(out, 0, sizeof *out);
    if (!rd_file_exists(path)) return rd_fail(ctx, RD_ERROR_IO, "%s: no such file", path);
    if (has_extension(path, ".exr")) return load_exr(ctx, path, out);
    int w, h, n;
    stbi_uc *data = stbi_load(path, &w, &h, &n, 0);
    if (!data) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: cannot decode image: %s", path, stbi_failure_reason());
    int channels = n == 2 ? 4 : n; /* grey+alpha becomes RGBA */
    rd_result r = rd_image_alloc(w, h, channels, out);
    if (r != RD_OK) {
        stbi_image_free(data);
        return rd_fail(ctx, r, "%s: image too large (%dx%d)", path, w, h);
    }
    for (size_t p = 0; p < (size_t)w * (size_t)h; p++) {
        const stbi_uc *src = data + p * (size_t)n;
        float *dst = out->pixels + p * (size_t)channels;
        if (n == 2) {
            dst[0] = dst[1] = dst[2] = src[0] / 255.0f;
            dst[3] = src[1] / 255.0f;
        } else {
            for (int c = 0; c < n; c++) dst[c] = src[c] / 255.0f;
        }
    }
    stbi_image_free(data);
    return RD_OK;
}

rd_result rd_image_size(rd_context *ctx, const char *path, int *width, int *height)
{
    if (has_extension(path, ".exr")) {
        rd_image img;
        rd_result r = rd_image_load(ctx, path, &img);
        if (r != RD_OK) return r;
        *width = img.width;
        *height = img.height;
        rd_image_free(&img);
        return RD_OK;
    }
    int n;
    if (!stbi_info(path, width, height, &n))
        return rd_fail(ctx, rd_file_exists(path) ? RD_ERROR_FORMAT : RD_ERROR_IO, "%s: cannot read image header: %s",
                       path, rd_file_exists(path) ? stbi_failure_reason() : "no such file");
    return RD_OK;
}

typedef struct save_job {
    const rd_image *image;
    bool exr;
} save_job;

/* The image as tinyexr's SaveEXR writes it (float channels, planar, in the (A)BGR order
   viewers expect, ZIP unless under 16x16), encoded in memory so that the bytes go through
   the checked writer; *size 0 on failure. */
static unsigned char *encode_exr(const rd_image *img, size_t *size)
{
    static const char *const names[4][4] = {{"A"}, {0}, {"B", "G", "R"}, {"A", "B", "G", "R"}};
    int channels = img->channels;
    size_t pixels = (size_t)img->width * (size_t)img->height;
    float *planes = rd_alloc_array((int64_t)pixels, (size_t)channels * sizeof(float));
    EXRChannelInfo info[4];
    int types[4], requested[4];
    float *plane_of[4];
    unsigned char *memory = NULL;
    *size = 0;
    if (!planes) return NULL;
    for (int c = 0; c < channels; c++) {
        /* (A)BGR: channel c of the file is the image's channel `from` */
        int from = channels == 1 ? 0 : channels == 4 ? (c == 0 ? 3 : 3 - c) : 2 - c;
        plane_of[c] = planes + (size_t)c * pixels;
        for (size_t p = 0; p < pixels; p++) plane_of[c][p] = img->pixels[p * (size_t)channels + (size_t)from];
        memset(&info[c], 0, sizeof info[c]);
        snprintf(info[c].name, sizeof info[c].name, "%s", names[channels - 1][c]);
        types[c] = requested[c] = TINYEXR_PIXELTYPE_FLOAT;
    }
    EXRHeader header;
    EXRImage image;
    InitEXRHeader(&header);
    InitEXRImage(&image);
    header.compression_type = img->width < 16 && img->height < 16 ? TINYEXR_COMPRESSIONTYPE_NONE : TINYEXR_COMPRESSIONTYPE_ZIP;
    header.num_channels = channels;
    header.channels = info;
    header.pixel_types = types;
    header.requested_pixel_types = requested;
    image.num_channels = channels;
    image.images = (unsigned char **)plane_of;
    image.width = img->width;
    image.height = img->height;
    const char *err = NULL;
    *size = SaveEXRImageToMemory(&image, &header, &memory, &err);
    if (err) FreeEXRErrorMessage(err);
    free(planes);
    if (*size == 0) {
        free(memory);
        return NULL;
    }
    return memory;
}

static void write_png_bytes(void *writer, void *data, int size) { rd_writer_write(writer, data, (size_t)size); }

static bool write_image(rd_writer *w, void *user)
{
    save_job *job = user;
    const rd_image *img = job->image;
    size_t count = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
    if (job->exr) {
        size_t size = 0;
        unsigned char *exr = encode_exr(img, &size);
        bool ok = exr ? rd_writer_write(w, exr, size) : rd_writer_fail(w, "the EXR encoder failed");
        free(exr);
        return ok;
    }
    unsigned char *bytes = malloc(count);
    if (!bytes) return rd_writer_fail(w, "out of memory");
    for (size_t i = 0; i < count; i++) {
        float v = img->pixels[i];
        v = isnan(v) ? 0.0f : (v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v));
        bytes[i] = (unsigned char)lrintf(v * 255.0f);
    }
    int encoded = stbi_write_png_to_func(write_png_bytes, w, img->width, img->height, img->channels, bytes,
                                         img->width * img->channels);
    free(bytes);
    return encoded ? rd_writer_write(w, NULL, 0) : rd_writer_fail(w, "the PNG encoder failed");
}

rd_result rd_image_save(rd_context *ctx, const char *path, const rd_image *image)
{
    if (!path || !image || !image->pixels || image->width < 1 || image->height < 1 ||
        image->channels < 1 || image->channels > 4)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: no image to save", path ? path : "(null)");
    save_job job = {image, has_extension(path, ".exr")};
    if (!job.exr && !has_extension(path, ".png"))
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: unknown image extension (expected .png or .exr)", path);
    if (job.exr && image->channels == 2)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: EXR output takes 1, 3 or 4 channels", path);
    return rd_write_atomically(ctx, path, write_image, &job);
}

rd_result rd_image_composite(const rd_image *in, const float background[3], rd_image *out)
{
    if (!in || !in->pixels || !out) return RD_ERROR_INVALID_ARGUMENT;
    rd_result r = rd_image_alloc(in->width, in->height, 3, out);
    if (r != RD_OK) return r;
    for (size_t p = 0; p < (size_t)in->width * (size_t)in->height; p++) {
        const float *s = in->pixels + p * (size_t)in->channels;
        float *d = out->pixels + 3 * p;
        if (in->channels == 1) {
            d[0] = d[1] = d[2] = s[0];
        } else if (in->channels == 4) {
            for (int c = 0; c < 3; c++) d[c] = s[c] * s[3] + background[c] * (1.0f - s[3]);
        } else {
            for (int c = 0; c < 3; c++) d[c] = s[c];
        }
    }
    return RD_OK;
}
