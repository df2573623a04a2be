/* sog.h: what the PlayCanvas SOG reader (sog.c) and writer (sog_write.c) share: the
   container (a zip bundle or a folder beside meta.json) and the lossless WebP images, both
   through Debian's libzip and libwebp (sog_io.c). */
#ifndef RD_SOG_H
#define RD_SOG_H

#include "formats.h"

/* Where a SOG's files are: the zip bundle held in memory, or the folder meta.json is in. */
typedef struct rd_sog_source {
    const char *path;   /* the .sog file or meta.json, for messages */
    uint64_t file_size; /* the bundle's bytes, or meta.json's: the decode limit's base */
    struct zip *zip;    /* bundle; NULL for a folder */
    char dir[4096];     /* folder */
} rd_sog_source;

/* Opens the zip held in data (kept by the caller while the source is open). */
rd_result rd_sog_source_zip(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_sog_source *out);
void rd_sog_source_close(rd_sog_source *src);
/* A file of the SOG by name (meta.json, means_l.webp, ...): its bytes, malloc'd. Names with
   a path separator or "..": refused (field names the meta.json field it came from). */
rd_result rd_sog_source_read(rd_context *ctx, const rd_sog_source *src, const char *name, const char *field, unsigned char **data,
                             size_t *size);

/* A decoded RGBA image. */
typedef struct rd_sog_image {
    int width, height;
    unsigned char *rgba;
} rd_sog_image;
/* The size a WebP says it has (false: not a WebP). */
bool rd_sog_webp_size(const unsigned char *data, size_t size, int *width, int *height);
/* Decodes into img->rgba (width x height already known); false when libwebp refuses. */
bool rd_sog_webp_decode(const unsigned char *data, size_t size, rd_sog_image *img);
/* Lossless, with exact RGB under alpha 0 (a Gaussian of opacity 0 keeps its colour
   indices: libwebp would otherwise be free to change them); false on failure. */
bool rd_sog_webp_encode(const rd_sog_image *img, rd_bytes *out);

/* A named file for the writer. */
typedef struct rd_sog_entry {
    const char *name;
    rd_bytes bytes;
} rd_sog_entry;
/* A zip of the entries, each stored (WebP is compressed already), with a fixed time stamp
   so that the same scene gives the same bytes. */
rd_result rd_sog_zip(rd_context *ctx, const char *path, const rd_sog_entry *entries, int count, rd_bytes *out);

#endif
