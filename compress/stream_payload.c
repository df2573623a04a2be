/* stream_payload.c: a stream frame's payload as sections. A section: tag (4), kind (1:
   0 floats, 1 integers), width in bytes (1), 2 zero, elements (8), stored bytes (8), then
   one zstd frame of the elements as byte planes (every element's first byte, then every
   second byte...: the high bytes of floats and small integers repeat, which zstd finds).
   Integers are zigzag-coded, each section in the narrowest of 1, 2, 4 or 8 bytes that
   holds its largest (spec: the smallest of int8/16/32/64).

   Intra payload: count (8), SH degree (1), f_rest latent dim (1), 2 zero; sections means,
   log-scales, rotations, opacities, SH, and f_rest's integer latents where kept.
   Residual payload: count (8), moved (8), mapping (1: 0 none, 1 a parent a Gaussian, 2
   runs), 3 zero; per attribute latent
   dim (1), decoder (1), f_rest coded against its parent's latents (1), rows listed (1); sections
   decoders (floats: per attribute with latents W or the cosine scale, then b), mapping
   (mapping[i] - i; runs, version 2: per run of consecutive parents its length - 1 and its
   first parent less its first Gaussian), moved indices (gaps: index - previous - 1), moved steps, and each
   attribute's latents (f_rest: minus the parent's where so flagged). An attribute whose
   fourth byte is 1 (version 2) lists its rows: a section of the Gaussians that have
   latents (gaps, as the moved indices) before its latents, which hold those rows only;
   every other Gaussian's latents are zero. The writer lists them where at most half the
   rows are nonzero: a player then inflates and uploads that share of the latents. */
#include "stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }
static int64_t unzigzag(uint64_t u) { return (int64_t)(u >> 1) ^ -(int64_t)(u & 1); }

static void section(rd_bytes *out, uint32_t tag, int kind, int width, uint64_t elements, const unsigned char *planes, int level)
{
    size_t raw = (size_t)(elements * (uint64_t)width), bound = ZSTD_compressBound(raw);
    rd_bytes_u32(out, tag);
    rd_bytes_u8(out, (uint8_t)kind);
    rd_bytes_u8(out, (uint8_t)width);
    rd_bytes_u16(out, 0);
    rd_bytes_u64(out, elements);
    size_t at = out->size;
    rd_bytes_u64(out, 0);
    unsigned char *dst = rd_bytes_grow(out, bound);
    if (!dst) return;
    size_t stored = ZSTD_compress(dst, bound, planes, raw, level);
    if (ZSTD_isError(stored)) {
        out->failed = true;
        return;
    }
    out->size -= bound - stored;
    for (int k = 0; k < 8; k++) out->data[at + k] = (unsigned char)((uint64_t)stored >> (8 * k));
}

/* Planes of n elements of width bytes, from a value function. */
static unsigned char *planes_of(uint64_t n, int width)
{
    return rd_alloc_array((int64_t)(n * (uint64_t)width) + 1, 1);
}

void rd_stream_put_floats(rd_bytes *out, uint32_t tag, const float *v, uint64_t n, int level)
{
    unsigned char *p = planes_of(n, 4);
    if (!p) {
        out->failed = true;
        return;
    }
    for (uint64_t e = 0; e < n; e++) {
        uint32_t u;
        memcpy(&u, &v[e], 4);
        for (int b = 0; b < 4; b++) p[(uint64_t)b * n + e] = (unsigned char)(u >> (8 * b));
    }
    section(out, tag, 0, 4, n, p, level);
    free(p);
}

/* n integers, v(e) given as int64 from either array. */
static void put_ints(rd_bytes *out, uint32_t tag, const int64_t *v64, const int32_t *v32, uint64_t n, int level)
{
    uint64_t largest = 0;
    for (uint64_t e = 0; e < n; e++) {
        uint64_t z = zigzag(v64 ? v64[e] : v32[e]);
        if (z > largest) largest = z;
    }
    int width = largest < 1u << 8 ? 1 : largest < 1u << 16 ? 2 : largest >> 32 == 0 ? 4 : 8;
    unsigned char *p = planes_of(n, width);
    if (!p) {
        out->failed = true;
        return;
    }
    for (uint64_t e = 0; e < n; e++) {
        uint64_t z = zigzag(v64 ? v64[e] : v32[e]);
        for (int b = 0; b < width; b++) p[(uint64_t)b * n + e] = (unsigned char)(z >> (8 * b));
    }
    section(out, tag, 1, width, n, p, level);
    free(p);
}

void rd_stream_put_ints64(rd_bytes *out, uint32_t tag, const int64_t *v, uint64_t n, int level) { put_ints(out, tag, v, NULL, n, level); }
void rd_stream_put_ints32(rd_bytes *out, uint32_t tag, const int32_t *v, uint64_t n, int level) { put_ints(out, tag, NULL, v, n, level); }

/* ---- reading ------------------------------------------------------------------------ */

void rd_stream_section_scratch_free(stream_section_scratch *s)
{
    ZSTD_freeDCtx(s->zstd);
    free(s->planes);
    memset(s, 0, sizeof *s);
}

/* The next section's header checked: tag, kind, n elements, a width the kind allows, its
   stored bytes inside the payload, its decoded bytes within the limit. */
static rd_result check_section(section_reader *r, uint32_t tag, int kind, uint64_t n, int *width, uint64_t *stored, uint64_t *raw)
{
    if (r->end - r->at < 24)
        return rd_fail(r->ctx, RD_ERROR_FORMAT, "%s: section %s: the payload ends before its header", r->where, rd_stream_tag_name(tag));
    const unsigned char *h = r->at;
    uint64_t elements = rd_le64(h + 8);
    *stored = rd_le64(h + 16);
    *width = h[5];
    if (rd_le32(h) != tag)
        return rd_fail(r->ctx, RD_ERROR_FORMAT, "%s: expected section %s, found tag %u", r->where, rd_stream_tag_name(tag), rd_le32(h));
    bool widths_ok = kind == 0 ? *width == 4 : (*width == 1 || *width == 2 || *width == 4 || *width == 8);
    if (h[4] != kind || !widths_ok || elements != n)
        return rd_fail(r->ctx, RD_ERROR_FORMAT, "%s: section %s: kind %d, width %d, %llu elements where %llu are due", r->where,
                       rd_stream_tag_name(tag), h[4], *width, (unsigned long long)elements, (unsigned long long)n);
    if (*stored > (uint64_t)(r->end - r->at) - 24)
        return rd_fail(r->ctx, RD_ERROR_FORMAT, "%s: section %s: %llu stored bytes past the payload's end", r->where,
                       rd_stream_tag_name(tag), (unsigned long long)*stored);
    *raw = n * (uint64_t)*width;
    if (n > (uint64_t)INT64_MAX / 8 || *raw > r->limit)
        return rd_fail(r->ctx, RD_ERROR_LIMIT, "%s: section %s: %llu bytes exceed the decode limit", r->where, rd_stream_tag_name(tag),
                       (unsigned long long)*raw);
    return RD_OK;
}

/* The section's stored bytes decompressed into out (raw bytes), and the reader moved past it. */
static rd_result decompress_section(section_reader *r, uint32_t tag, uint64_t stored, uint64_t raw, unsigned char *out)
{
    stream_section_scratch *s = r->scratch;
    if (!s->zstd && !(s->zstd = ZSTD_createDCtx()))
        return rd_fail(r->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for zstd", r->where);
    size_t got = ZSTD_decompressDCtx(s->zstd, out, raw, r->at + 24, stored);
    if (ZSTD_isError(got) || got != raw)
        return rd_fail(r->ctx, RD_ERROR_FORMAT, "%s: section %s: zstd: %s", r->where, rd_stream_tag_name(tag),
                       ZSTD_isError(got) ? ZSTD_getErrorName(got) : "the data is not the size its header gives");
    r->at += 24 + stored;
    return RD_OK;
}

/* The next section, which must be tag with n elements of kind; its planes decompressed
   into *planes (the scratch's, valid until the next section) and its width. */
static rd_result next_section(section_reader *r, uint32_t tag, int kind, uint64_t n, const unsigned char **planes, int *width)
{
    *planes = NULL;
    uint64_t stored, raw;
    rd_result res = check_section(r, tag, kind, n, width, &stored, &raw);
    if (res != RD_OK) return res;
    stream_section_scratch *s = r->scratch;
    if (raw + 1 > s->planes_bytes) {
        free(s->planes);
        s->planes_bytes = 0;
        if (!(s->planes = rd_alloc_array((int64_t)raw + 1, 1)))
            return rd_fail(r->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: section %s: out of memory", r->where, rd_stream_tag_name(tag));
        s->planes_bytes = raw + 1;
    }
    res = decompress_section(r, tag, stored, raw, s->planes);
    if (res == RD_OK) *planes = s->planes;
    return res;
}

rd_result rd_stream_get_int_planes(section_reader *r, uint32_t tag, uint64_t n, rd_bytes *into, size_t *at, int *width)
{
    uint64_t stored, raw;
    rd_result res = check_section(r, tag, 1, n, width, &stored, &raw);
    if (res == RD_OK && *width == 8) /* the writer stores the narrowest width: 8 bytes only for values past 32 bits */
        return rd_fail(r->ctx, RD_ERROR_FORMAT, "%s: section %s: 8-byte values do not fit 32 bits", r->where, rd_stream_tag_name(tag));
    if (res != RD_OK) return res;
    size_t start = (into->size + 3) & ~(size_t)3; /* 4-byte aligned, and 4 bytes past the end: shaders read whole words */
    if (!rd_bytes_grow(into, start - into->size + raw + 4))
        return rd_fail(r->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: section %s: out of memory", r->where, rd_stream_tag_name(tag));
    into->size -= 4;
    *at = start;
    return decompress_section(r, tag, stored, raw, into->data + start);
}

bool rd_stream_section_elements(const section_reader *r, uint32_t tag, uint64_t *n)
{
    if (r->end - r->at < 24 || rd_le32(r->at) != tag) return false;
    *n = rd_le64(r->at + 8);
    return true;
}

bool rd_stream_section_declares(const section_reader *r, uint32_t tag, uint64_t n)
{
    for (const unsigned char *h = r->at; r->end - h >= 24;) {
        uint64_t elements = rd_le64(h + 8), stored = rd_le64(h + 16);
        if (stored > (uint64_t)(r->end - h) - 24) return false;
        if (rd_le32(h) == tag) {
            unsigned long long content = ZSTD_getFrameContentSize(h + 24, stored);
            bool float_kind = h[4] == 0 && h[5] == 4, int_kind = h[4] == 1 && (h[5] == 1 || h[5] == 2 || h[5] == 4 || h[5] == 8);
            return (float_kind || int_kind) && elements == n && content == n * h[5];
        }
        h += 24 + stored;
    }
    return false;
}

rd_result rd_stream_get_floats(section_reader *r, uint32_t tag, uint64_t n, float *out)
{
    const unsigned char *p;
    int width;
    rd_result res = next_section(r, tag, 0, n, &p, &width);
    for (uint64_t e = 0; res == RD_OK && e < n; e++) {
        uint32_t u = (uint32_t)p[e] | (uint32_t)p[n + e] << 8 | (uint32_t)p[2 * n + e] << 16 | (uint32_t)p[3 * n + e] << 24;
        memcpy(&out[e], &u, 4);
    }
    return res;
}

/* Element e of planes of width bytes, little-endian across the planes. */
static inline uint64_t plane_value(const unsigned char *p, uint64_t n, uint64_t e, int width)
{
    uint64_t z = 0;
    for (int b = 0; b < width; b++) z |= (uint64_t)p[(uint64_t)b * n + e] << (8 * b);
    return z;
}

static rd_result get_ints(section_reader *r, uint32_t tag, uint64_t n, int64_t *out64, int32_t *out32)
{
    const unsigned char *p;
    int width;
    rd_result res = next_section(r, tag, 1, n, &p, &width);
    if (res != RD_OK) return res;
    if (out32 && width == 1) /* the common case, a loop the compiler vectorises: no value of 4 bytes or less leaves 32 bits */
        for (uint64_t e = 0; e < n; e++) out32[e] = (int32_t)(p[e] >> 1) ^ -(int32_t)(p[e] & 1);
    else if (out32 && width == 2)
        for (uint64_t e = 0; e < n; e++) {
            uint32_t z = (uint32_t)p[e] | (uint32_t)p[n + e] << 8;
            out32[e] = (int32_t)(z >> 1) ^ -(int32_t)(z & 1);
        }
    else if (out32 && width == 4)
        for (uint64_t e = 0; e < n; e++) out32[e] = (int32_t)unzigzag(plane_value(p, n, e, 4));
    for (uint64_t e = 0; out64 && e < n; e++) out64[e] = unzigzag(plane_value(p, n, e, width));
    for (uint64_t e = 0; out32 && width == 8 && e < n; e++) {
        int64_t v = unzigzag(plane_value(p, n, e, 8));
        if (v < INT32_MIN || v > INT32_MAX)
            return rd_fail(r->ctx, RD_ERROR_FORMAT, "%s: section %s: element %llu (%lld) does not fit 32 bits", r->where,
                           rd_stream_tag_name(tag), (unsigned long long)e, (long long)v);
        out32[e] = (int32_t)v;
    }
    return RD_OK;
}

rd_result rd_stream_get_ints64(section_reader *r, uint32_t tag, uint64_t n, int64_t *out) { return get_ints(r, tag, n, out, NULL); }
rd_result rd_stream_get_ints32(section_reader *r, uint32_t tag, uint64_t n, int32_t *out) { return get_ints(r, tag, n, NULL, out); }

const char *rd_stream_tag_name(uint32_t tag)
{
    static const char *const names[] = {[TAG_MEANS] = "means", [TAG_SCALES] = "log-scales", [TAG_ROTATIONS] = "rotations",
                                        [TAG_OPACITIES] = "opacities", [TAG_SH] = "sh", [TAG_REST_LATENTS] = "f_rest latents",
                                        [TAG_DECODERS] = "decoders", [TAG_MAPPING] = "mapping", [TAG_MOVED_INDICES] = "moved indices",
                                        [TAG_MOVED_STEPS] = "moved steps", [TAG_LATENTS + RD_STREAM_F_DC] = "f_dc latents",
                                        [TAG_LATENTS + RD_STREAM_F_REST] = "f_rest latents", [TAG_LATENTS + RD_STREAM_SCALE] = "scale latents",
                                        [TAG_LATENTS + RD_STREAM_ROTATION] = "rotation latents",
                                        [TAG_LATENTS + RD_STREAM_OPACITY] = "opacity latents",
                                        [TAG_LATENT_ROWS + RD_STREAM_F_DC] = "f_dc latent rows",
                                        [TAG_LATENT_ROWS + RD_STREAM_F_REST] = "f_rest latent rows",
                                        [TAG_LATENT_ROWS + RD_STREAM_SCALE] = "scale latent rows",
                                        [TAG_LATENT_ROWS + RD_STREAM_ROTATION] = "rotation latent rows",
                                        [TAG_LATENT_ROWS + RD_STREAM_OPACITY] = "opacity latent rows",
                                        [TAG_MAPPING_RUNS] = "mapping runs"};
    return tag < sizeof names / sizeof names[0] && names[tag] ? names[tag] : "(unknown)";
}
