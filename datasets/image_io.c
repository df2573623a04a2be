/* image_io.c: images in (stb_image for PNG/JPEG, EXR in image_exr.c) and out (PNG, EXR). */
#include "image_exr.h"
#include "srgb.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>
#include <tinyexr.h>

#include <limits.h>
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

/* Whether decoding a width x height image holding `held` bytes a pixel fits the decode limit. */
static rd_result check_pixels(rd_context *ctx, const char *path, size_t size, int64_t width, int64_t height, uint64_t held)
{
    char what[64];
    snprintf(what, sizeof what, "a %lldx%lld image", (long long)width, (long long)height);
    return rd_decode_check(ctx, path, size, (uint64_t)width * (uint64_t)height * held, what);
}

static rd_result load_exr(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_image *out)
{
    int64_t width, height;
    int channels;
    rd_result r = rd_exr_size(ctx, path, data, size, &width, &height, &channels);
    /* float planes for R, G, B, A and the RGBA image; OpenEXR's chunk buffers (a few rows of
       every channel) are counted generously per channel */
    if (r == RD_OK) r = check_pixels(ctx, path, size, width, height, 8u * (uint64_t)channels + 32u);
    return r == RD_OK ? rd_exr_load(ctx, path, data, size, out) : r;
}

static uint32_t be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* A PNG's chunks, each within the file up to IEND: stb_image sizes its buffers by the
   lengths chunks claim before it reads them. */
static rd_result check_png_chunks(rd_context *ctx, const char *path, const unsigned char *data, size_t size)
{
    size_t at = 8;
    while (at + 12 <= size) {
        uint32_t length = be32(data + at);
        if (length > size - at - 12)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: PNG chunk %.4s at byte %zu claims %u bytes; %zu remain (truncated or corrupt)",
                           path, (const char *)data + at + 4, at, length, size - at - 12);
        if (memcmp(data + at + 4, "IEND", 4) == 0) return RD_OK;
        at += 12 + (size_t)length;
    }
    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: PNG ends without its IEND chunk (truncated)", path);
}

/* PNG and JPEG: stb_image reads more formats, but these are what datasets hold, and each
   other decoder is more code for a stranger's file to reach. */
static rd_result load_stb(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_image *out)
{
    bool png = size >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0, jpeg = size >= 3 && memcmp(data, "\xff\xd8\xff", 3) == 0;
    if (!png && !jpeg) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a PNG, JPEG or EXR image (%zu bytes)", path, size);
    if (png) {
        rd_result r = check_png_chunks(ctx, path, data, size);
        if (r != RD_OK) return r;
    }
    int w, h, n;
    if (size > INT_MAX || !stbi_info_from_memory(data, (int)size, &w, &h, &n))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: cannot decode image: %s", path, size > INT_MAX ? "larger than 2 GiB" : stbi_failure_reason());
    int channels = n == 2 ? 4 : n; /* grey+alpha becomes RGBA */
    /* stb holds the inflated rows, then its 8- or 16-bit pixels; we hold floats */
    rd_result r = check_pixels(ctx, path, size, w, h, 4u * (uint64_t)n + 4u * (uint64_t)channels);
    if (r != RD_OK) return r;
    stbi_uc *pixels = stbi_load_from_memory(data, (int)size, &w, &h, &n, 0);
    if (!pixels) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: cannot decode image: %s", path, stbi_failure_reason());
    channels = n == 2 ? 4 : n;
    r = rd_image_alloc(w, h, channels, out);
    if (r != RD_OK) {
        stbi_image_free(pixels);
        return rd_fail(ctx, r, "%s: image too large (%dx%d)", path, w, h);
    }
    for (size_t p = 0; p < (size_t)w * (size_t)h; p++) {
        const stbi_uc *src = pixels + p * (size_t)n;
        float *dst = out->pixels + p * (size_t)channels;
        if (n == 2) {
            dst[0] = dst[1] = dst[2] = src[0] / 255.0f;
            dst[3] = src[1] / 255.0f;
        } else {
            for (int c = 0; c < n; c++) dst[c] = src[c] / 255.0f;
        }
    }
    stbi_image_free(pixels);
    return RD_OK;
}

rd_result rd_image_load(rd_context *ctx, const char *path, rd_image *out)
{
    if (!path || !out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_image_load: NULL argument");
    memset(out, 0, sizeof *out);
    if (!rd_file_exists(path)) return rd_fail(ctx, RD_ERROR_IO, "%s: no such file", path);
    char *data = NULL;
    size_t size = 0;
    rd_result r = rd_read_file(ctx, path, &data, &size);
    if (r != RD_OK) return r;
    r = has_extension(path, ".exr") ? load_exr(ctx, path, (const unsigned char *)data, size, out)
                                    : load_stb(ctx, path, (const unsigned char *)data, size, out);
    free(data);
    return r;
}

rd_result rd_image_size(rd_context *ctx, const char *path, int *width, int *height)
{
    if (has_extension(path, ".exr")) {
        char *data = NULL;
        size_t size = 0;
        rd_result r = rd_read_file(ctx, path, &data, &size);
        int64_t w = 0, h = 0;
        int channels;
        if (r == RD_OK) r = rd_exr_size(ctx, path, (const unsigned char *)data, size, &w, &h, &channels);
        free(data);
        *width = (int)w;
        *height = (int)h;
        return r;
    }
    /* PNG and JPEG only, as rd_image_load: stb's header readers for its other formats are
       more code for a stranger's file to reach. The header is near the start: the first
       64 KiB (a dataset asks this of every image: not the whole file each time), else (a
       JPEG with large metadata before its frame header) the whole file. */
    if (!rd_file_exists(path)) return rd_fail(ctx, RD_ERROR_IO, "%s: cannot read image header: no such file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return rd_fail(ctx, RD_ERROR_IO, "%s: cannot open", path);
    enum { PREFIX = 1 << 16 };
    unsigned char *head = malloc(PREFIX);
    size_t got = head ? fread(head, 1, PREFIX, f) : 0;
    fclose(f);
    if (!head) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the image header", path);
    bool png = got >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0, jpeg = got >= 3 && memcmp(head, "\xff\xd8\xff", 3) == 0;
    int n;
    bool known = (png || jpeg) && stbi_info_from_memory(head, (int)got, width, height, &n);
    free(head);
    if (!png && !jpeg) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: cannot read image header: not a PNG, JPEG or EXR image", path);
    if (!known && got == PREFIX) {
        char *data = NULL;
        size_t size = 0;
        rd_result r = rd_read_file(ctx, path, &data, &size);
        if (r != RD_OK) return r;
        known = size <= INT_MAX && stbi_info_from_memory((const unsigned char *)data, (int)size, width, height, &n);
        free(data);
    }
    if (!known) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: cannot read image header: %s", path, stbi_failure_reason());
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

void rd_image_linear_to_srgb(rd_image *image)
{
    int colour = image->channels == 4 || image->channels == 2 ? image->channels - 1 : image->channels; /* the last is alpha */
    for (size_t p = 0; p < (size_t)image->width * (size_t)image->height; p++)
        for (int c = 0; c < colour; c++) {
            float *v = &image->pixels[p * (size_t)image->channels + c];
            *v = rd_srgb_encode(*v);
        }
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
