/* compact_read.c: the compact file's reader (compact.h): every field checked against the
   layout its kind and degrees imply before anything is allocated for it, then decoded
   into an ordinary 3D or 4D scene. */
#include "compact_parse.h"
#include "bytes.h"
#include "conventions.h"
#include "formats.h"
#include "../splat/appearance4d_cpu.h"
#include "../splat/scene4d.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* A compact Gaussian decodes into at most ~1400 bytes (4D, SH degree 3, two temporal terms)
   from 4-25 in the file: the decode limit allows this format 256 times its size. */
enum { DECODE_RATIO = 256, HEADER_BYTES = 16, TRAILER_BYTES = 8, MAX_PARTS = RD_COMPACT_FILE_PARTS };

typedef rd_compact_file_part part;
typedef rd_compact_parsed parsed;

bool rd_compact_detect(const unsigned char *data, size_t size)
{
    return size >= HEADER_BYTES && memcmp(data, RD_COMPACT_MAGIC, 8) == 0;
}

/* An integer field in lo..hi, or the error naming it. */
static rd_result integer(rd_context *ctx, const char *path, const cJSON *object, const char *where, const char *name, double lo,
                         double hi, int64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(object, name);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: \"%s\" must be an integer %.0f..%.0f", path, where, name, lo, hi);
    *out = (int64_t)v->valuedouble;
    return RD_OK;
}

/* A finite number, positive where asked, or the error naming it. */
static rd_result number(rd_context *ctx, const char *path, const cJSON *object, const char *name, bool positive, float *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(object, name);
    float x = cJSON_IsNumber(v) ? (float)v->valuedouble : NAN;
    if (!isfinite(x) || (positive && !(x >= 1e-30f))) /* a reciprocal of it must be finite */
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: appearance: \"%s\" must be a %snumber", path, name,
                       positive ? "positive " : "finite ");
    *out = x;
    return RD_OK;
}

/* The appearance networks' normalisation (4D scenes only); their layout follows the SH
   degree. */
static rd_result parse_appearance(rd_context *ctx, const char *path, const cJSON *n, parsed *p)
{
    if (!p->a.four_d || !cJSON_IsObject(n))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: \"appearance\" must be an object, in a 4D scene's file", path);
    rd_appearance4d *net = &p->networks;
    const cJSON *centre = cJSON_GetObjectItemCaseSensitive(n, "centre");
    if (!cJSON_IsArray(centre) || cJSON_GetArraySize(centre) != 3)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: appearance: \"centre\" must be 3 numbers", path);
    for (int c = 0; c < 3; c++) {
        const cJSON *v = cJSON_GetArrayItem(centre, c);
        if (!cJSON_IsNumber(v) || !isfinite((float)v->valuedouble))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: appearance: \"centre\" must be 3 finite numbers", path);
        net->centre[c] = (float)v->valuedouble;
    }
    rd_result r = number(ctx, path, n, "radius", true, &net->radius);
    if (r == RD_OK) r = number(ctx, path, n, "time_origin", false, &net->time_origin);
    if (r == RD_OK) r = number(ctx, path, n, "time_span", true, &net->time_span);
    if (r != RD_OK) return r;
    net->sh_degree = p->a.sh_degree;
    net->weight_count = rd_appearance_layout(p->a.sh_degree, net->mlp);
    p->a.appearance = true;
    return RD_OK;
}

static rd_result parse_scene(rd_context *ctx, const char *path, const cJSON *j, parsed *p)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
    if (!cJSON_IsString(kind) || (strcmp(kind->valuestring, "gaussians") && strcmp(kind->valuestring, "gaussians4d")))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: \"kind\" must be \"gaussians\" or \"gaussians4d\"", path);
    p->a.four_d = strcmp(kind->valuestring, "gaussians4d") == 0;
    int64_t count, degree, time_degree = 0, flags = 0;
    rd_result r = integer(ctx, path, j, "configuration", "count", 0, (double)RD_MAX_FILE_SPLATS, &count);
    if (r == RD_OK) r = integer(ctx, path, j, "configuration", "sh_degree", 0, 3, &degree);
    if (r == RD_OK && p->a.four_d) r = integer(ctx, path, j, "configuration", "time_degree", 0, RD_4D_MAX_TIME_DEGREE, &time_degree);
    if (r == RD_OK && !p->a.four_d) r = integer(ctx, path, j, "configuration", "flags", 0, 1, &flags);
    if (r != RD_OK) return r;
    p->a.count = count, p->a.sh_degree = (int)degree, p->a.time_degree = (int)time_degree, p->a.flags = (uint32_t)flags;
    if (p->a.four_d) {
        const cJSON *period = cJSON_GetObjectItemCaseSensitive(j, "time_period");
        if (!cJSON_IsNumber(period) || !(period->valuedouble > 0.0) || !isfinite((float)period->valuedouble))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: \"time_period\" must be a positive number", path);
        p->a.time_period = (float)period->valuedouble;
    }
    const cJSON *appearance = cJSON_GetObjectItemCaseSensitive(j, "appearance");
    if (appearance) {
        r = parse_appearance(ctx, path, appearance, p);
        if (r != RD_OK) return r;
    }
    const cJSON *origin = cJSON_GetObjectItemCaseSensitive(j, "origin");
    int m = rd_compact_mean_floats(&p->a);
    if (!cJSON_IsArray(origin) || cJSON_GetArraySize(origin) != m)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: \"origin\" must be %d numbers", path, m);
    for (int c = 0; c < m; c++) {
        const cJSON *v = cJSON_GetArrayItem(origin, c);
        if (!cJSON_IsNumber(v) || !isfinite((float)v->valuedouble))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: \"origin\" must be %d finite numbers", path, m);
        p->origin[c] = (float)v->valuedouble;
    }
    return RD_OK;
}

/* The slices must be the layout's own, in its order; only bits and entries are the file's. */
static rd_result parse_slices(rd_context *ctx, const char *path, const cJSON *j, parsed *p)
{
    p->slice_count = rd_compact_default_slices(&p->a, p->slices);
    const cJSON *slices = cJSON_GetObjectItemCaseSensitive(j, "slices");
    if (!cJSON_IsArray(slices) || cJSON_GetArraySize(slices) != p->slice_count)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: \"slices\" must list %d slices for this kind and SH degree", path,
                       p->slice_count);
    for (int k = 0; k < p->slice_count; k++) {
        rd_compact_slice *s = &p->slices[k];
        const cJSON *e = cJSON_GetArrayItem(slices, k);
        const cJSON *attribute = cJSON_GetObjectItemCaseSensitive(e, "attribute");
        char where[64];
        snprintf(where, sizeof where, "slice %d", k);
        int64_t first, width, bits, entries;
        rd_result r = integer(ctx, path, e, where, "first", s->first, s->first, &first);
        if (r == RD_OK) r = integer(ctx, path, e, where, "width", s->width, s->width, &width);
        if (r == RD_OK) r = integer(ctx, path, e, where, "bits", 1, RD_COMPACT_MAX_BITS, &bits);
        if (r == RD_OK) r = integer(ctx, path, e, where, "entries", 1, (double)(1 << bits), &entries);
        if (r != RD_OK) return r;
        if (!cJSON_IsString(attribute) || strcmp(attribute->valuestring, rd_compact_attribute_name(s->attribute)))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: \"attribute\" must be \"%s\"", path, where,
                           rd_compact_attribute_name(s->attribute));
        s->bits = (int)bits, s->entries = (int)entries;
    }
    return RD_OK;
}

/* The parts: positions, codebooks, then each attribute with slices, in that order; their
   raw sizes as the layout makes them; their bytes exactly what lies between the JSON and
   the checksum. */
static rd_result parse_parts(rd_context *ctx, const char *path, const cJSON *j, const unsigned char *at, uint64_t available, parsed *p)
{
    const char *names[MAX_PARTS];
    uint64_t raw[MAX_PARTS] = {0};
    int count = 2;
    names[0] = "positions", names[1] = "codebooks";
    raw[0] = 2 * (uint64_t)rd_compact_mean_floats(&p->a) * (uint64_t)p->a.count;
    for (int k = 0; k < p->slice_count; k++) {
        const rd_compact_slice *s = &p->slices[k];
        raw[1] += 2 * (uint64_t)s->entries * (uint64_t)s->width;
        if (strcmp(names[count - 1], rd_compact_attribute_name(s->attribute))) names[count++] = rd_compact_attribute_name(s->attribute);
        raw[count - 1] += rd_compact_index_bytes(s, p->a.count);
    }
    if (p->a.appearance) names[count] = "networks", raw[count++] = 2 * (uint64_t)p->networks.weight_count;
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(j, "parts");
    if (!cJSON_IsArray(parts) || cJSON_GetArraySize(parts) != count)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: \"parts\" must list %d parts", path, count);
    uint64_t offset = 0;
    for (int k = 0; k < count; k++) {
        const cJSON *e = cJSON_GetArrayItem(parts, k), *name = cJSON_GetObjectItemCaseSensitive(e, "name");
        char where[64];
        snprintf(where, sizeof where, "part %d (%s)", k, names[k]);
        if (!cJSON_IsString(name) || strcmp(name->valuestring, names[k]))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: \"name\" must be \"%s\"", path, where, names[k]);
        int64_t bytes, raw_bytes;
        rd_result r = integer(ctx, path, e, where, "bytes", 1, (double)(available - offset), &bytes);
        if (r == RD_OK) r = integer(ctx, path, e, where, "raw_bytes", (double)raw[k], (double)raw[k], &raw_bytes);
        if (r != RD_OK) return r;
        part *q = &p->parts[k];
        snprintf(q->name, sizeof q->name, "%s", names[k]);
        q->data = at + offset, q->bytes = (uint64_t)bytes, q->raw_bytes = (uint64_t)raw_bytes;
        offset += (uint64_t)bytes;
    }
    p->part_count = count;
    if (offset != available)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the parts take %llu bytes, the file holds %llu between its configuration and checksum",
                       path, (unsigned long long)offset, (unsigned long long)available);
    return RD_OK;
}

rd_result rd_compact_parse(rd_context *ctx, const char *path, const unsigned char *data, size_t size, parsed *p)
{
    memset(p, 0, sizeof *p);
    if (!rd_compact_detect(data, size)) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a compact scene (no RDCOMPCT magic)", path);
    uint32_t version = rd_le32(data + 8), json_bytes = rd_le32(data + 12);
    if (version != RD_COMPACT_VERSION)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: compact file version %u (this radiant reads version %d)", path, version,
                       RD_COMPACT_VERSION);
    if (size < HEADER_BYTES + TRAILER_BYTES || json_bytes > size - HEADER_BYTES - TRAILER_BYTES)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %zu bytes: too short for its %u-byte configuration and checksum (truncated?)", path,
                       size, json_bytes);
    if (rd_fnv1a(RD_FNV1A_START, data, size - TRAILER_BYTES) != rd_le64(data + size - TRAILER_BYTES))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the checksum does not match (the file is damaged or truncated)", path);
    cJSON *j = cJSON_ParseWithLength((const char *)data + HEADER_BYTES, json_bytes);
    rd_result r = cJSON_IsObject(j) ? RD_OK : rd_fail(ctx, RD_ERROR_FORMAT, "%s: the configuration is not a JSON object", path);
    if (r == RD_OK) r = parse_scene(ctx, path, j, p);
    if (r == RD_OK) r = parse_slices(ctx, path, j, p);
    if (r == RD_OK)
        r = parse_parts(ctx, path, j, data + HEADER_BYTES + json_bytes, size - HEADER_BYTES - json_bytes - TRAILER_BYTES, p);
    cJSON_Delete(j);
    return r;
}

/* A part inflated to exactly its raw size. */
static rd_result inflate(rd_context *ctx, const char *path, const part *q, unsigned char **out)
{
    *out = malloc(q->raw_bytes ? q->raw_bytes : 1);
    if (!*out) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: part %s: out of memory", path, q->name);
    size_t got = ZSTD_decompress(*out, q->raw_bytes, q->data, q->bytes);
    if (ZSTD_isError(got) || got != q->raw_bytes)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: part %s: zstd: %s", path, q->name,
                       ZSTD_isError(got) ? ZSTD_getErrorName(got) : "fewer bytes than the configuration says");
    return RD_OK;
}

rd_result rd_compact_inflate(rd_context *ctx, const char *path, const parsed *p, unsigned char *raw[MAX_PARTS])
{
    rd_result r = RD_OK;
    for (int k = 0; k < MAX_PARTS; k++) raw[k] = NULL;
    for (int k = 0; k < p->part_count && r == RD_OK; k++) r = inflate(ctx, path, &p->parts[k], &raw[k]);
    return r;
}

const unsigned char *rd_compact_codebook_of(const parsed *p, unsigned char *const raw[], int k)
{
    uint64_t at = 0;
    for (int j = 0; j < k; j++) at += 2 * (uint64_t)p->slices[j].entries * (uint64_t)p->slices[j].width;
    return raw[1] + at;
}

/* Parts 2 on hold the attributes' indices, an attribute's slices one after another. */
const unsigned char *rd_compact_planes_of(const parsed *p, unsigned char *const raw[], int k)
{
    int part_of = 1;
    uint64_t at = 0;
    for (int j = 0; j <= k; j++) {
        if (j == 0 || p->slices[j].attribute != p->slices[j - 1].attribute) part_of++, at = 0;
        if (j < k) at += rd_compact_index_bytes(&p->slices[j], p->a.count);
    }
    return raw[part_of] + at;
}

rd_result rd_compact_check_raw(rd_context *ctx, const char *path, const parsed *p, unsigned char *const raw[])
{
    int m = rd_compact_mean_floats(&p->a);
    int64_t n = p->a.count;
    for (int c = 0; c < m; c++) /* a half is infinite or NaN where its exponent's five bits are all set */
        for (int64_t i = 0; i < n; i++)
            if ((raw[0][(size_t)(2 * c + 1) * n + i] & 0x7c) == 0x7c)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: positions: Gaussian %lld's coordinate %d is not finite", path, (long long)i, c);
    for (int k = 0; k < p->slice_count; k++) {
        const rd_compact_slice *s = &p->slices[k];
        const unsigned char *book = rd_compact_codebook_of(p, raw, k), *planes = rd_compact_planes_of(p, raw, k);
        for (int e = 0; e < s->entries * s->width; e++)
            if ((book[2 * (size_t)e + 1] & 0x7c) == 0x7c)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: codebooks: slice %d (%s) entry %d is not finite", path, k,
                               rd_compact_attribute_name(s->attribute), e / s->width);
        for (int64_t i = 0; i < n; i++) {
            int32_t label = rd_compact_index_at(planes, s->bits, n, i);
            if (label >= s->entries)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: Gaussian %lld's index %d is beyond its codebook's %d entries (slice %d)",
                               path, rd_compact_attribute_name(s->attribute), (long long)i, (int)label, s->entries, k);
        }
    }
    return RD_OK;
}

/* The means: the origin plus each half (rd_compact_check_raw found them finite). */
static void decode_positions(const parsed *p, const unsigned char *raw, rd_compact_arrays *a)
{
    int m = rd_compact_mean_floats(a);
    int64_t n = a->count;
    for (int c = 0; c < m; c++)
        for (int64_t i = 0; i < n; i++) {
            float v = rd_half_to_float((uint16_t)(raw[(size_t)(2 * c) * n + i] | raw[(size_t)(2 * c + 1) * n + i] << 8));
            a->means[(size_t)i * m + c] = p->origin[c] + v;
        }
}

/* Each slice's codebook and indices (rd_compact_check_raw checked both), then the
   Gaussians' rows looked up. */
static rd_result decode_slices(rd_context *ctx, const char *path, const parsed *p, unsigned char *const raw[], rd_compact_arrays *a)
{
    rd_compact_codes codes[RD_COMPACT_MAX_SLICES];
    memset(codes, 0, sizeof codes);
    rd_result r = RD_OK;
    for (int k = 0; k < p->slice_count && r == RD_OK; k++) {
        const rd_compact_slice *s = &p->slices[k];
        rd_compact_codes *c = &codes[k];
        c->slice = *s;
        c->centroids = rd_alloc_array(s->entries, (size_t)s->width * sizeof(float));
        c->label = rd_alloc_array(a->count > 0 ? a->count : 1, sizeof(int32_t));
        if (!c->centroids || !c->label) {
            r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
            break;
        }
        const unsigned char *book = rd_compact_codebook_of(p, raw, k), *planes = rd_compact_planes_of(p, raw, k);
        for (int e = 0; e < s->entries * s->width; e++) c->centroids[e] = rd_half_to_float(rd_le16(book + 2 * (size_t)e));
        for (int64_t i = 0; i < a->count; i++) c->label[i] = rd_compact_index_at(planes, s->bits, a->count, i);
    }
    if (r == RD_OK) rd_compact_apply_codes(a, codes, p->slice_count, ctx ? ctx->threads : 1);
    for (int k = 0; k < p->slice_count; k++) free(codes[k].centroids), free(codes[k].label);
    return r;
}

/* The networks' weights from their half floats, each finite or the file is refused. */
static rd_result decode_networks(rd_context *ctx, const char *path, const unsigned char *raw, rd_appearance4d *net)
{
    for (uint32_t k = 0; k < net->weight_count; k++) {
        net->weights[k] = rd_half_to_float(rd_le16(raw + 2 * (size_t)k));
        if (!isfinite(net->weights[k])) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: networks: weight %u is not finite", path, k);
    }
    return RD_OK;
}

rd_result rd_compact_check_limit(rd_context *ctx, const char *path, size_t size, const parsed *p)
{
    const rd_compact_arrays *a = &p->a;
    uint64_t raw = 0;
    for (int k = 0; k < p->part_count; k++) raw += p->parts[k].raw_bytes;
    uint64_t per = 4 * (uint64_t)(2 * rd_compact_mean_floats(a) + rd_compact_rotation_floats(a) + 1 + rd_compact_sh_floats(a)) +
                   (a->four_d ? sizeof(rd_slice4d_static) : 0) + (a->appearance ? 4 * RD_APPEARANCE_FEATURES : 0);
    char what[96];
    snprintf(what, sizeof what, "%lld %sGaussians of SH degree %d", (long long)a->count, a->four_d ? "4D " : "", a->sh_degree);
    return rd_decode_check_ratio(ctx, path, size, raw + per * (uint64_t)a->count, what, DECODE_RATIO);
}

/* The scene the parsed file describes, arrays allocated (the decode limit checked first). */
static rd_result make_scene(rd_context *ctx, const char *path, size_t size, const parsed *p, rd_scene **scene, rd_compact_arrays *a)
{
    *a = p->a;
    rd_result r = rd_compact_check_limit(ctx, path, size, p);
    if (r != RD_OK) return r;
    if (a->four_d) {
        rd_scene4d *s4 = NULL;
        r = rd_scene4d_alloc(ctx, a->count, a->sh_degree, a->time_degree, a->time_period, &s4);
        if (r != RD_OK) return r;
        *scene = (rd_scene *)s4;
        a->means = s4->means, a->log_scales = s4->log_scales, a->rotations = s4->rotations, a->opacities = s4->opacities, a->sh = s4->sh;
        if (a->appearance) { /* the networks, which the scene owns; their features decode into it */
            rd_appearance4d *net = rd_appearance4d_new(a->sh_degree, a->count);
            if (!net) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the appearance networks", path);
            float *weights = net->weights, *features = net->features;
            *net = p->networks;
            net->weights = weights, net->features = features;
            rd_scene4d_set_appearance(s4, net);
            a->features = features;
            memset(s4->opacities, 0, (size_t)a->count * sizeof(float)); /* unused: the networks give them */
            memset(s4->sh, 0, (size_t)a->count * (size_t)rd_compact_sh_floats(a) * sizeof(float));
        }
        return RD_OK;
    }
    rd_scene *s = NULL;
    r = rd_scene_alloc(ctx, a->count, a->sh_degree, &s);
    if (r != RD_OK) return r;
    s->flags = a->flags;
    *scene = s;
    a->means = s->means, a->log_scales = s->log_scales, a->rotations = s->rotations, a->opacities = s->opacities, a->sh = s->sh;
    return RD_OK;
}

rd_result rd_compact_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    parsed p;
    rd_result r = rd_compact_parse(ctx, path, data, size, &p);
    return r == RD_OK ? rd_compact_decode_parsed(ctx, path, size, &p, out) : r;
}

rd_result rd_compact_decode_parsed(rd_context *ctx, const char *path, size_t size, const parsed *p, rd_scene **out)
{
    *out = NULL;
    rd_scene *scene = NULL;
    rd_compact_arrays a;
    rd_result r = make_scene(ctx, path, size, p, &scene, &a);
    unsigned char *raw[MAX_PARTS] = {0};
    if (r == RD_OK) r = rd_compact_inflate(ctx, path, p, raw);
    if (r == RD_OK) r = rd_compact_check_raw(ctx, path, p, raw);
    if (r == RD_OK) decode_positions(p, raw[0], &a);
    if (r == RD_OK) r = decode_slices(ctx, path, p, raw, &a);
    if (r == RD_OK && a.appearance) r = decode_networks(ctx, path, raw[p->part_count - 1], ((rd_scene4d *)scene)->appearance);
    for (int k = 0; k < MAX_PARTS; k++) free(raw[k]);
    if (r != RD_OK) {
        rd_scene_destroy(scene);
        return r;
    }
    if (a.four_d) rd_scene4d_refresh(ctx, (rd_scene4d *)scene);
    else {
        snprintf(scene->format, sizeof scene->format, "rcompact");
        snprintf(scene->header, sizeof scene->header, "%d slices, %lld Gaussians", p->slice_count, (long long)a.count);
    }
    *out = scene;
    return RD_OK;
}

rd_result rd_compact_file_info(rd_context *ctx, const char *path, rd_compact_report *out)
{
    if (!path || !out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_compact_file_info: %s is NULL", path ? "out" : "path");
    char *data = NULL;
    size_t size = 0;
    rd_result r = rd_read_file(ctx, path, &data, &size);
    if (r != RD_OK) return r;
    parsed p;
    r = rd_compact_parse(ctx, path, (const unsigned char *)data, size, &p);
    free(data);
    if (r != RD_OK) return r;
    memset(out, 0, sizeof *out);
    out->count_in = out->count = p.a.count;
    out->kind = p.a.four_d ? RD_SCENE_GAUSSIANS_4D : RD_SCENE_GAUSSIANS;
    out->file_bytes = size;
    double per = p.a.count > 0 ? 8.0 / (double)p.a.count : 0.0;
    out->bits_per_gaussian = (double)size * per;
    out->index_bits_per_gaussian = 16 * rd_compact_mean_floats(&p.a);
    for (int k = 0; k < p.slice_count; k++) out->index_bits_per_gaussian += p.slices[k].bits;
    for (int k = 0; k < p.part_count; k++) {
        rd_compact_part *e = &out->parts[out->part_count++];
        snprintf(e->name, sizeof e->name, "%s", p.parts[k].name);
        e->bytes = p.parts[k].bytes, e->raw_bytes = p.parts[k].raw_bytes, e->bits_per_gaussian = (double)p.parts[k].bytes * per;
    }
    return RD_OK;
}
