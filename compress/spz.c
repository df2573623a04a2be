/* spz.c: Niantic SPZ. Layout per spec/gaussians.md; details the spec leaves out follow
   nianticlabs/spz src/cc/load-spz.cc: legacy (v1-3) files are one gzip member holding a
   16-byte header then the same six arrays back to back; v2 stores rotations as three
   bytes (x, y, z) / 127.5 - 1 with w rebuilt, v3+ as smallest-three in (x, y, z, w)
   order; SH bytes are coefficient-major with RGB inner, (b - 128) / 128; v4 extension
   records sit between the 32-byte header and the table at tocByteOffset, and the ZSTD
   streams follow the table back to back. Coordinate frames (spec/formats.md): the record
   0xADBE0003 (SPZ_ADOBE_coordinate_system: u32 type, u32 byte length 4, u32 frame) names
   the frame a file is in, numbered as nianticlabs/spz include/spz/splat-types.h does; the
   records (u32 type, u32 byte length, payload, back to back) sit after the SH array in a
   gzip SPZ and between the header and the table in v4. Without one a file is read as RUB,
   as Niantic's library reads it (the load desc's spz_frame overrides either); radiant
   writes RUB (or the frame asked for) and the record saying so. */
#include "formats.h"
#include "conventions.h"
#include "gzip.h"

#include <math.h>
#include <stdio.h>
#include <zstd.h>

enum { SPZ_MAGIC = 0x5053474e, V4_HEADER = 32, LEGACY_HEADER = 16, FLAG_ANTIALIASED = 1, FLAG_EXTENSIONS = 2 };
enum { RECORD_COORDINATE_SYSTEM = 0xADBE0003u, FRAME_RUB = 4, FRAME_COUNT = 17 };
/* SPZ's frame numbers (0: unspecified, read as RUB) */
static const char *FRAME_NAMES[FRAME_COUNT] = {"unspecified", "LDB", "RDB", "LUB", "RUB", "LDF", "RDF", "LUF", "RUF",
                                               "LFD", "RFD", "LFU", "RFU", "LBD", "RBD", "LBU", "RBU"};

int rd_spz_frame_parse(const char *name)
{
    for (int k = 1; name && k < FRAME_COUNT; k++)
        if (strcasecmp(name, FRAME_NAMES[k]) == 0) return k;
    return -1;
}

/* The frame a file is in and why: its record, the caller's override or the default. */
typedef struct spz_frame {
    int value;
    const char *why;
} spz_frame;

/* Reads the extension records in [p, end): the coordinate-system record's frame into
   *frame (when the caller gave none); other records are skipped. */
static rd_result read_records(rd_context *ctx, const char *path, const unsigned char *p, const unsigned char *end, spz_frame *frame)
{
    while (p < end) {
        if (end - p < 8)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: extension records: %td bytes left over, too few for a record's type and length",
                           path, end - p);
        uint32_t type = rd_le32(p), length = rd_le32(p + 4);
        p += 8;
        if (length > (uint64_t)(end - p))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: extension record 0x%08x: byte length %u runs past the %td bytes left", path, type,
                           length, end - p);
        if (type == RECORD_COORDINATE_SYSTEM) {
            if (length != 4)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: coordinate-system record (0xADBE0003): byte length %u (expected 4)", path, length);
            uint32_t value = rd_le32(p);
            if (value >= FRAME_COUNT)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: coordinate-system record (0xADBE0003): frame %u (expected 0..16)", path, value);
            if (!frame->why) {
                frame->value = value ? (int)value : FRAME_RUB;
                frame->why = value ? "the file's coordinate-system record" : "the file's record says unspecified: read as RUB";
            }
        } else {
            /* e.g. 0xADBE0001, SH quantization, which would change how the SH bytes read */
            rd_log(ctx, RD_LOG_WARN, "%s: extension record 0x%08x (%u bytes) not understood: skipped", path, type, length);
        }
        p += length;
    }
    return RD_OK;
}
enum { STREAM_POSITIONS, STREAM_ALPHAS, STREAM_COLORS, STREAM_SCALES, STREAM_ROTATIONS, STREAM_SH, STREAM_COUNT };
static const char *STREAM_NAMES[STREAM_COUNT] = {"positions", "alphas", "colours", "scales", "rotations", "sh"};
static const float COLOR_SCALE = 0.15f; /* SPZ colour = dc * 0.15 * 255 + 127.5 */

static int sh_dim(int degree) { return (degree + 1) * (degree + 1) - 1; } /* coefficients beyond DC */

typedef struct spz_arrays {
    int64_t count;
    int sh_degree; /* in the file (may be 4; radiant keeps 0..3) */
    int fractional_bits;
    int rotation_bytes; /* 3 (v2) or 4 (v3+) */
    const unsigned char *stream[STREAM_COUNT];
} spz_arrays;

static void stream_sizes(int64_t n, int sh_degree, int rotation_bytes, uint64_t sizes[STREAM_COUNT])
{
    sizes[STREAM_POSITIONS] = (uint64_t)n * 9;
    sizes[STREAM_ALPHAS] = (uint64_t)n;
    sizes[STREAM_COLORS] = (uint64_t)n * 3;
    sizes[STREAM_SCALES] = (uint64_t)n * 3;
    sizes[STREAM_ROTATIONS] = (uint64_t)n * (uint64_t)rotation_bytes;
    sizes[STREAM_SH] = (uint64_t)n * (uint64_t)sh_dim(sh_degree) * 3;
}

static int32_t fixed24(const unsigned char *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
    return (int32_t)(u ^ 0x800000u) - 0x800000; /* sign-extend 24 bits */
}

static int kept_degree(int file_degree) { return file_degree > 3 ? 3 : file_degree; }

/* Whether the decompressed arrays (held while unpacking) and the scene fit the decode
   limit for a file of file_size bytes: checked before either is allocated. */
static rd_result check_limit(rd_context *ctx, const char *path, size_t file_size, const spz_arrays *a, uint64_t arrays)
{
    char what[96];
    snprintf(what, sizeof what, "%lld points (%llu bytes decompressed, then the scene)", (long long)a->count,
             (unsigned long long)arrays);
    return rd_decode_check(ctx, path, file_size, arrays + rd_scene_bytes(a->count, kept_degree(a->sh_degree)), what);
}

static rd_result unpack(rd_context *ctx, const char *path, const spz_arrays *a, uint8_t flags, spz_frame frame, rd_scene **out)
{
    int degree = kept_degree(a->sh_degree);
    if (a->sh_degree > 3) rd_log(ctx, RD_LOG_WARN, "%s: SH degree %d; radiant keeps degrees 0..3", path, a->sh_degree);
    rd_scene *s = NULL;
    rd_result r = rd_scene_alloc(ctx, a->count, degree, &s);
    if (r != RD_OK) return r;
    rd_axis_change change;
    rd_axis_change_make(FRAME_NAMES[frame.value], false, &change);
    int K = rd_sh_coeffs(degree), file_dim = sh_dim(a->sh_degree);
    float unit = ldexpf(1.0f, -a->fractional_bits);
    for (int64_t i = 0; i < a->count; i++) {
        float *q = s->rotations + 4 * i, *sh = s->sh + (size_t)i * (size_t)K * 3;
        for (int c = 0; c < 3; c++) {
            s->means[3 * i + c] = (float)fixed24(a->stream[STREAM_POSITIONS] + 9 * i + 3 * c) * unit;
            s->log_scales[3 * i + c] = (float)a->stream[STREAM_SCALES][3 * i + c] / 16.0f - 10.0f;
            sh[c] = ((float)a->stream[STREAM_COLORS][3 * i + c] / 255.0f - 0.5f) / COLOR_SCALE;
        }
        s->opacities[i] = rd_logit((float)a->stream[STREAM_ALPHAS][i] / 255.0f);
        const unsigned char *rot = a->stream[STREAM_ROTATIONS] + (size_t)i * (size_t)a->rotation_bytes;
        if (a->rotation_bytes == 4) {
            rd_quat_unpack_spz(rd_le32(rot), q);
        } else {
            float x = rot[0] / 127.5f - 1.0f, y = rot[1] / 127.5f - 1.0f, z = rot[2] / 127.5f - 1.0f;
            q[0] = sqrtf(fmaxf(0.0f, 1.0f - (x * x + y * y + z * z))), q[1] = x, q[2] = y, q[3] = z;
        }
        const unsigned char *bytes = a->stream[STREAM_SH] + (size_t)i * (size_t)file_dim * 3;
        for (int k = 1; k < K; k++)
            for (int c = 0; c < 3; c++) sh[3 * k + c] = ((float)bytes[3 * (k - 1) + c] - 128.0f) / 128.0f;
        rd_axis_change_apply(&change, s->means + 3 * i, s->log_scales + 3 * i, q, sh, K);
    }
    s->flags = (flags & FLAG_ANTIALIASED) ? RD_SCENE_ANTIALIASED : 0;
    snprintf(s->format, sizeof s->format, "spz");
    *out = s;
    return RD_OK;
}

static rd_result check_header(rd_context *ctx, const char *path, int64_t n, int sh_degree, int fractional_bits)
{
    if (n > RD_MAX_FILE_SPLATS)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field numPoints %lld exceeds the limit of %lld", path,
                       (long long)n, (long long)RD_MAX_FILE_SPLATS);
    if (sh_degree > 4) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field shDegree %d (expected 0..4)", path, sh_degree);
    if (fractional_bits > 23)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field fractionalBits %d (expected 0..23)", path, fractional_bits);
    return RD_OK;
}

static rd_result decode_legacy(rd_context *ctx, const char *path, const unsigned char *data, size_t size, spz_frame frame,
                               rd_scene **out)
{
    unsigned char *raw = NULL;
    size_t raw_size = 0;
    rd_result r = rd_gunzip(ctx, path, data, size, &raw, &raw_size);
    if (r != RD_OK) return r;
    spz_arrays a = {0};
    uint32_t version = raw_size >= 8 ? rd_le32(raw + 4) : 0;
    if (raw_size < LEGACY_HEADER || rd_le32(raw) != SPZ_MAGIC) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: gzip stream does not hold an SPZ header (magic NGSP)", path);
    } else if (version < 2 || version > 3) {
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: header field version %u in a gzip SPZ (versions 2 and 3 are read)", path, version);
    } else {
        a.count = rd_le32(raw + 8);
        a.sh_degree = raw[12];
        a.fractional_bits = raw[13];
        a.rotation_bytes = version == 2 ? 3 : 4;
        r = check_header(ctx, path, a.count, a.sh_degree, a.fractional_bits);
        if (r == RD_OK) r = check_limit(ctx, path, size, &a, raw_size);
    }
    if (r == RD_OK) {
        uint64_t sizes[STREAM_COUNT], total = 0;
        stream_sizes(a.count, a.sh_degree, a.rotation_bytes, sizes);
        for (int s = 0; s < STREAM_COUNT; s++) total += sizes[s];
        uint64_t body = raw_size - LEGACY_HEADER;
        bool extensions = raw[14] & FLAG_EXTENSIONS;
        /* extension records (when flagged) follow the arrays */
        if (body < total || (!extensions && body != total)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %llu bytes after the header, %llu expected for %lld points (truncated or corrupt)",
                        path, (unsigned long long)body, (unsigned long long)total, (long long)a.count);
        } else {
            const unsigned char *p = raw + LEGACY_HEADER;
            for (int s = 0; s < STREAM_COUNT; s++) {
                a.stream[s] = p;
                p += sizes[s];
            }
            r = read_records(ctx, path, p, raw + raw_size, &frame);
            if (!frame.why) frame.value = FRAME_RUB, frame.why = "no coordinate-system record: Niantic's library reads such files as RUB";
            if (r == RD_OK) r = unpack(ctx, path, &a, raw[14], frame, out);
            if (r == RD_OK)
                snprintf((*out)->header, sizeof (*out)->header,
                         "SPZ v%u (gzip): numPoints %lld, shDegree %d, fractionalBits %d, flags 0x%x; frame %s (%s)", version,
                         (long long)a.count, a.sh_degree, a.fractional_bits, raw[14], FRAME_NAMES[frame.value], frame.why);
        }
    }
    free(raw);
    return r;
}

static rd_result decode_v4(rd_context *ctx, const char *path, const unsigned char *data, size_t size, spz_frame frame, rd_scene **out)
{
    if (size < V4_HEADER) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %zu bytes, shorter than the 32-byte SPZ header", path, size);
    uint32_t version = rd_le32(data + 4);
    if (version != 4)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: header field version %u (an uncompressed header must be version 4)", path, version);
    spz_arrays a = {.count = rd_le32(data + 8), .sh_degree = data[12], .fractional_bits = data[13], .rotation_bytes = 4};
    uint8_t flags = data[14];
    int streams = data[15];
    uint32_t toc = rd_le32(data + 16);
    rd_result r = check_header(ctx, path, a.count, a.sh_degree, a.fractional_bits);
    if (r != RD_OK) return r;
    uint64_t sizes[STREAM_COUNT], total = 0;
    stream_sizes(a.count, a.sh_degree, 4, sizes);
    int expected_streams = sizes[STREAM_SH] ? 6 : 5;
    if (streams != expected_streams)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field numStreams %d (expected %d for shDegree %d)", path, streams,
                       expected_streams, a.sh_degree);
    if (toc < V4_HEADER || (uint64_t)toc + 16u * (uint64_t)streams > size)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field tocByteOffset %u: the table of %d streams does not fit in %zu bytes",
                       path, toc, streams, size);
    for (int s = 0; s < streams; s++) total += sizes[s];
    if ((r = check_limit(ctx, path, size, &a, total)) != RD_OK) return r;
    /* the records count only where the header says there are some, as Niantic's reader has it */
    if ((flags & FLAG_EXTENSIONS) && (r = read_records(ctx, path, data + V4_HEADER, data + toc, &frame)) != RD_OK) return r;
    if (!frame.why) frame.value = FRAME_RUB, frame.why = "no coordinate-system record: Niantic's library reads such files as RUB";
    unsigned char *arrays = malloc(total ? total : 1);
    if (!arrays) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold %llu decompressed bytes", path, (unsigned long long)total);
    uint64_t at = (uint64_t)toc + 16u * (uint64_t)streams;
    unsigned char *dst = arrays;
    for (int s = 0; s < streams && r == RD_OK; s++) {
        uint64_t packed = rd_le64(data + toc + 16 * s), unpacked = rd_le64(data + toc + 16 * s + 8);
        if (unpacked != sizes[s]) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: stream %d (%s): table says %llu bytes uncompressed, %llu expected for %lld points",
                        path, s, STREAM_NAMES[s], (unsigned long long)unpacked, (unsigned long long)sizes[s], (long long)a.count);
        } else if (packed > size - at) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: stream %d (%s): table says %llu compressed bytes but only %llu remain in the file",
                        path, s, STREAM_NAMES[s], (unsigned long long)packed, (unsigned long long)(size - at));
        } else {
            size_t got = ZSTD_decompress(dst, sizes[s], data + at, packed);
            if (ZSTD_isError(got) || got != sizes[s])
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: stream %d (%s): ZSTD: %s", path, s, STREAM_NAMES[s],
                            ZSTD_isError(got) ? ZSTD_getErrorName(got) : "fewer bytes than the table says");
            a.stream[s] = dst;
            dst += sizes[s];
            at += packed;
        }
    }
    if (r == RD_OK) {
        if (!sizes[STREAM_SH]) a.stream[STREAM_SH] = dst;
        r = unpack(ctx, path, &a, flags, frame, out);
    }
    if (r == RD_OK)
        snprintf((*out)->header, sizeof (*out)->header,
                 "SPZ v4: numPoints %lld, shDegree %d, fractionalBits %d, flags 0x%x, numStreams %d, tocByteOffset %u; frame %s (%s)",
                 (long long)a.count, a.sh_degree, a.fractional_bits, flags, streams, toc, FRAME_NAMES[frame.value], frame.why);
    free(arrays);
    return r;
}

bool rd_spz_detect(const unsigned char *data, size_t size)
{
    return (size >= 4 && rd_le32(data) == SPZ_MAGIC) || (size >= 2 && data[0] == 0x1f && data[1] == 0x8b);
}

rd_result rd_spz_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, int frame_override,
                        rd_scene **out)
{
    *out = NULL;
    spz_frame frame = {0, NULL};
    if (frame_override > 0 && frame_override < FRAME_COUNT) frame.value = frame_override, frame.why = "given by the caller";
    if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return decode_legacy(ctx, path, data, size, frame, out);
    if (size < 4 || rd_le32(data) != SPZ_MAGIC) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: bad magic (expected NGSP or gzip)", path);
    return decode_v4(ctx, path, data, size, frame, out);
}

/* ---- writing (version 4) ---- */

static uint8_t quantize_sh(float x, int bucket)
{
    int q = (int)lroundf(x * 128.0f) + 128;
    q = (q + bucket / 2) / bucket * bucket;
    return (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
}

static rd_result pack(rd_context *ctx, const char *path, const rd_scene *s, int fractional_bits, int frame,
                      unsigned char *stream[STREAM_COUNT])
{
    rd_axis_change change;
    rd_axis_change_make(FRAME_NAMES[frame], true, &change);
    int K = rd_sh_coeffs(s->sh_degree);
    float unit = ldexpf(1.0f, fractional_bits), limit = 8388607.0f;
    for (int64_t i = 0; i < s->count; i++) {
        float mean[3], log_scale[3], q[4], sh[48];
        memcpy(mean, s->means + 3 * i, sizeof mean);
        memcpy(log_scale, s->log_scales + 3 * i, sizeof log_scale);
        memcpy(q, s->rotations + 4 * i, sizeof q);
        memcpy(sh, s->sh + (size_t)i * (size_t)K * 3, (size_t)K * 3 * sizeof(float));
        rd_axis_change_apply(&change, mean, log_scale, q, sh, K);
        for (int c = 0; c < 3; c++) {
            float v = roundf(mean[c] * unit);
            if (!(fabsf(v) <= limit))
                return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                               "%s: Gaussian %lld: position %g (axis %d in frame %s) does not fit SPZ's 24 bits at %d fractional "
                               "bits (use fewer bits)", path, (long long)i, mean[c], c, FRAME_NAMES[frame], fractional_bits);
            uint32_t fixed = (uint32_t)(int32_t)v;
            for (int b = 0; b < 3; b++) stream[STREAM_POSITIONS][9 * i + 3 * c + b] = (uint8_t)(fixed >> (8 * b));
            stream[STREAM_SCALES][3 * i + c] = rd_byte((log_scale[c] + 10.0f) * 16.0f);
            stream[STREAM_COLORS][3 * i + c] = rd_unorm8(sh[c] * COLOR_SCALE + 0.5f);
        }
        stream[STREAM_ALPHAS][i] = rd_unorm8(rd_sigmoid(s->opacities[i]));
        uint32_t packed = rd_quat_pack_spz(q);
        for (int b = 0; b < 4; b++) stream[STREAM_ROTATIONS][4 * i + b] = (uint8_t)(packed >> (8 * b));
        /* degree 1 keeps 5 bits, higher degrees 4 (the reference encoder's defaults) */
        for (int k = 1; k < K; k++)
            for (int c = 0; c < 3; c++)
                stream[STREAM_SH][(size_t)i * (size_t)(K - 1) * 3 + 3 * (k - 1) + c] =
                    quantize_sh(sh[3 * k + c], k < 4 ? 8 : 16);
    }
    return RD_OK;
}

rd_result rd_spz_encode(rd_context *ctx, const char *path, const rd_scene *s, int fractional_bits, int frame, rd_bytes *out)
{
    if (frame < 0 || frame >= FRAME_COUNT) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: SPZ frame %d (expected 0..16)", path, frame);
    if (frame == 0) frame = FRAME_RUB;
    if (s->count > UINT32_MAX) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: SPZ holds at most 2^32-1 splats", path);
    uint64_t sizes[STREAM_COUNT], total = 0;
    stream_sizes(s->count, s->sh_degree, 4, sizes);
    for (int k = 0; k < STREAM_COUNT; k++) total += sizes[k];
    unsigned char *arrays = malloc(total ? total : 1), *stream[STREAM_COUNT];
    if (!arrays) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    unsigned char *p = arrays;
    for (int k = 0; k < STREAM_COUNT; k++) {
        stream[k] = p;
        p += sizes[k];
    }
    rd_result r = pack(ctx, path, s, fractional_bits, frame, stream);
    int streams = s->sh_degree > 0 ? 6 : 5;
    rd_bytes_u32(out, SPZ_MAGIC);
    rd_bytes_u32(out, 4);
    rd_bytes_u32(out, (uint32_t)s->count);
    rd_bytes_append(out, (uint8_t[]){(uint8_t)s->sh_degree, (uint8_t)fractional_bits,
                                     (uint8_t)(FLAG_EXTENSIONS | ((s->flags & RD_SCENE_ANTIALIASED) ? FLAG_ANTIALIASED : 0)),
                                     (uint8_t)streams}, 4);
    rd_bytes_u32(out, V4_HEADER + 12); /* the table follows the coordinate-system record */
    rd_bytes_append(out, (uint8_t[12]){0}, 12);
    rd_bytes_u32(out, RECORD_COORDINATE_SYSTEM);
    rd_bytes_u32(out, 4);
    rd_bytes_u32(out, (uint32_t)frame);
    size_t toc = out->size;
    rd_bytes_grow(out, 16u * (size_t)streams);
    for (int k = 0; k < streams && r == RD_OK && !out->failed; k++) {
        size_t bound = ZSTD_compressBound(sizes[k]), before = out->size;
        unsigned char *dst = rd_bytes_grow(out, bound);
        if (!dst) break;
        size_t n = ZSTD_compress(dst, bound, stream[k], sizes[k], 12);
        if (ZSTD_isError(n)) {
            r = rd_fail(ctx, RD_ERROR_IO, "%s: ZSTD: %s", path, ZSTD_getErrorName(n));
            break;
        }
        out->size = before + n;
        unsigned char *entry = out->data + toc + 16 * k;
        for (int b = 0; b < 8; b++) entry[b] = (uint8_t)((uint64_t)n >> (8 * b)), entry[8 + b] = (uint8_t)(sizes[k] >> (8 * b));
    }
    free(arrays);
    return r;
}
