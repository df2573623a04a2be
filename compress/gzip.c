/* gzip.c: the gzip wrapper around a deflate stream; the inflate itself is stb's. */
#include "gzip.h"
#include "bytes.h"

#include <limits.h>
#include <stb/stb_image.h>

enum { FHCRC = 2, FEXTRA = 4, FNAME = 8, FCOMMENT = 16 };
/* Deflate cannot expand its input by more than 1032:1 (RFC 1951 stored/length limits);
   a trailer that claims more is a bomb or a corrupt file. */
enum { DEFLATE_MAX_RATIO = 1032 };

rd_result rd_gunzip(rd_context *ctx, const char *path, const unsigned char *data, size_t size, unsigned char **out,
                    size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (size < 18 || data[0] != 0x1f || data[1] != 0x8b)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a gzip stream (%zu bytes)", path, size);
    if (data[2] != 8) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: gzip compression method %d (expected 8, deflate)", path, data[2]);
    uint8_t flags = data[3];
    size_t at = 10;
    if (flags & FEXTRA) {
        if (at + 2 > size) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: gzip header truncated (extra field)", path);
        at += 2 + rd_le16(data + at);
    }
    for (int field = 0; field < 2; field++) {
        if (!(flags & (field ? FCOMMENT : FNAME))) continue;
        while (at < size && data[at]) at++;
        at++;
    }
    if (flags & FHCRC) at += 2;
    if (at + 8 > size) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: gzip header runs past the end of the file", path);
    size_t deflated = size - 8 - at;
    uint32_t declared = rd_le32(data + size - 4);
    if ((uint64_t)declared > (uint64_t)deflated * DEFLATE_MAX_RATIO + 1024 || declared > INT_MAX)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: gzip trailer declares %u bytes from %zu compressed bytes (corrupt or a decompression bomb)",
                       path, declared, deflated);
    rd_result r = rd_decode_check(ctx, path, size, declared, "the gzip stream's content");
    if (r != RD_OK) return r;
    unsigned char *buffer = malloc(declared ? declared : 1);
    if (!buffer) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold %u decompressed bytes", path, declared);
    /* the trailer stays in the input: stb reads a few bytes ahead of the last code */
    int n = stbi_zlib_decode_noheader_buffer((char *)buffer, (int)declared, (const char *)data + at, (int)(size - at));
    if (n < 0 || (uint32_t)n != declared) {
        free(buffer);
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: gzip stream is corrupt or does not match its trailer (%u bytes declared)",
                       path, declared);
    }
    *out = buffer;
    *out_size = declared;
    return RD_OK;
}
