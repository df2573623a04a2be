/* sog_io.c: a SOG's container and images (sog.h): the zip bundle through libzip, the
   folder through the file system, lossless WebP through libwebp. */
#include "sog.h"

#include <stdio.h>
#include <string.h>
#include <webp/decode.h>
#include <webp/encode.h>
#include <zip.h>

rd_result rd_sog_source_zip(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_sog_source *out)
{
    memset(out, 0, sizeof *out);
    out->path = path;
    out->file_size = size;
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *src = zip_source_buffer_create(data, size, 0, &err);
    zip_t *z = src ? zip_open_from_source(src, ZIP_RDONLY, &err) : NULL;
    if (!z) {
        rd_result r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a readable zip archive (truncated or corrupt; libzip: %s)", path,
                              zip_error_strerror(&err));
        if (src) zip_source_free(src);
        zip_error_fini(&err);
        return r;
    }
    zip_error_fini(&err);
    out->zip = z;
    return RD_OK;
}

void rd_sog_source_close(rd_sog_source *src)
{
    if (src->zip) zip_discard(src->zip); /* read only: nothing to write back */
    src->zip = NULL;
}

static rd_result read_zip_entry(rd_context *ctx, const rd_sog_source *src, const char *name, const char *field, unsigned char **data,
                                size_t *size)
{
    zip_int64_t index = zip_name_locate(src->zip, name, 0);
    zip_stat_t st;
    if (index < 0)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s \"%s\" is not in the bundle", src->path, field, name);
    if (zip_stat_index(src->zip, (zip_uint64_t)index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: the bundle's entry %s has no size", src->path, field, name);
    char what[160];
    snprintf(what, sizeof what, "the bundle's entry %s (%llu bytes)", name, (unsigned long long)st.size);
    rd_result r = rd_decode_check(ctx, src->path, src->file_size, st.size, what);
    if (r != RD_OK) return r;
    unsigned char *buf = malloc(st.size ? st.size : 1);
    if (!buf) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold %s", src->path, what);
    zip_file_t *f = zip_fopen_index(src->zip, (zip_uint64_t)index, 0);
    zip_int64_t got = f ? zip_fread(f, buf, st.size) : -1;
    const char *why = f ? zip_file_strerror(f) : zip_strerror(src->zip);
    if (got < 0 || (zip_uint64_t)got != st.size) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: the bundle's entry %s cannot be read (truncated or corrupt; libzip: %s)", src->path,
                    field, name, why);
        free(buf);
    } else {
        *data = buf;
        *size = st.size;
    }
    if (f) zip_fclose(f);
    return r;
}

rd_result rd_sog_source_read(rd_context *ctx, const rd_sog_source *src, const char *name, const char *field, unsigned char **data,
                             size_t *size)
{
    *data = NULL;
    *size = 0;
    /* the names come from the file: they may not reach outside its folder */
    if (!name[0] || strchr(name, '/') || strchr(name, '\\') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s \"%s\": expected the name of a file beside meta.json", src->path, field, name);
    if (src->zip) return read_zip_entry(ctx, src, name, field, data, size);
    char full[4400];
    if (!rd_path_join(full, sizeof full, src->dir, name))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s \"%s\": the path is too long", src->path, field, name);
    if (!rd_file_exists(full)) return rd_fail(ctx, RD_ERROR_IO, "%s: %s: %s does not exist", src->path, field, full);
    char *text = NULL;
    rd_result r = rd_read_file(ctx, full, &text, size);
    *data = (unsigned char *)text;
    return r;
}

bool rd_sog_webp_size(const unsigned char *data, size_t size, int *width, int *height)
{
    return WebPGetInfo(data, size, width, height) != 0;
}

bool rd_sog_webp_decode(const unsigned char *data, size_t size, rd_sog_image *img)
{
    size_t stride = (size_t)img->width * 4;
    return WebPDecodeRGBAInto(data, size, img->rgba, stride * (size_t)img->height, (int)stride) != NULL;
}

static int write_bytes(const uint8_t *data, size_t size, const WebPPicture *picture)
{
    rd_bytes_append((rd_bytes *)picture->custom_ptr, data, size);
    return !((rd_bytes *)picture->custom_ptr)->failed;
}

bool rd_sog_webp_encode(const rd_sog_image *img, rd_bytes *out)
{
    WebPConfig config;
    WebPPicture picture;
    if (!WebPConfigInit(&config) || !WebPPictureInit(&picture)) return false;
    config.lossless = 1;
    config.exact = 1;
    config.quality = 75; /* libwebp's default effort for lossless */
    config.method = 4;
    picture.use_argb = 1;
    picture.width = img->width;
    picture.height = img->height;
    picture.writer = write_bytes;
    picture.custom_ptr = out;
    bool ok = WebPPictureImportRGBA(&picture, img->rgba, img->width * 4) && WebPEncode(&config, &picture);
    WebPPictureFree(&picture);
    return ok && !out->failed;
}

rd_result rd_sog_zip(rd_context *ctx, const char *path, const rd_sog_entry *entries, int count, rd_bytes *out)
{
    zip_error_t err;
    zip_error_init(&err);
    zip_source_t *mem = zip_source_buffer_create(NULL, 0, 0, &err);
    zip_t *z = NULL;
    const char *why = NULL;
    if (mem) {
        zip_source_keep(mem); /* read back after zip_close */
        z = zip_open_from_source(mem, ZIP_TRUNCATE, &err);
    }
    if (!z) why = zip_error_strerror(&err);
    for (int k = 0; z && !why && k < count; k++) {
        zip_source_t *s = zip_source_buffer(z, entries[k].bytes.data, entries[k].bytes.size, 0);
        zip_int64_t index = s ? zip_file_add(z, entries[k].name, s, ZIP_FL_ENC_UTF_8) : -1;
        if (index < 0) {
            if (s) zip_source_free(s);
            why = zip_strerror(z);
        } else if (zip_set_file_compression(z, (zip_uint64_t)index, ZIP_CM_STORE, 0) != 0 ||
                   zip_file_set_mtime(z, (zip_uint64_t)index, 315532800 /* 1980-01-01, zip's epoch */, 0) != 0) {
            why = zip_strerror(z);
        }
    }
    rd_result r = RD_OK;
    if (!why && zip_close(z) != 0) why = zip_strerror(z);
    else if (!why) z = NULL; /* closed */
    if (!why) {
        zip_stat_t st;
        if (zip_source_open(mem) != 0 || zip_source_stat(mem, &st) != 0) {
            why = "cannot read the archive back";
        } else {
            unsigned char *dst = rd_bytes_grow(out, st.size);
            if (!dst || zip_source_read(mem, dst, st.size) != (zip_int64_t)st.size) why = "cannot read the archive back";
            zip_source_close(mem);
        }
    }
    if (why) r = rd_fail(ctx, RD_ERROR_IO, "%s: cannot build the zip bundle (libzip: %s)", path, why);
    if (z) zip_discard(z);
    if (mem) zip_source_free(mem);
    zip_error_fini(&err);
    return r;
}
