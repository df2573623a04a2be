/* feature_file.c: the .rfeat file of a feature field, read strictly and written
   atomically. Layout (little-endian):
     "RDFEATUR"  u32 version (1)  u32 json_bytes
     JSON: {"count": N, "levels": l, "codebook_size": L, "slots": K, "dim": D}
     codebooks   l*L*D float32, entry-major per level
     indices     N*l*K bytes, Gaussian-major then level
     weights     N*l*K IEEE halves
     u64 FNV-1a of every byte before it
   The reader checks the checksum first, then that the sizes add up to the file's exactly,
   then every slot (an index past L, two slots naming one entry, a bad weight). */
#include "features.h"
#include "../compress/bytes.h"
#include "../datasets/json_util.h"

#include <math.h>
#include <stdio.h>

#define FEATURE_MAGIC "RDFEATUR"
enum { FEATURE_VERSION = 1, HEADER_BYTES = 16, TRAILER_BYTES = 8 };

rd_result rd_feature_field_save(rd_context *ctx, const rd_feature_field *f, const char *path)
{
    if (!f || !path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_field_save: field or path is NULL");
    rd_bytes b = {0};
    rd_bytes_append(&b, FEATURE_MAGIC, 8);
    rd_bytes_u32(&b, FEATURE_VERSION);
    size_t json_at = b.size;
    rd_bytes_u32(&b, 0);
    size_t json_start = b.size;
    rd_bytes_printf(&b, "{\"count\": %lld, \"levels\": %d, \"codebook_size\": %d, \"slots\": %d, \"dim\": %d}", (long long)f->count,
                    f->levels, f->L, f->K, f->dim);
    if (!b.failed) {
        uint32_t json_bytes = (uint32_t)(b.size - json_start);
        for (int k = 0; k < 4; k++) b.data[json_at + k] = (unsigned char)(json_bytes >> (8 * k));
    }
    int64_t values = (int64_t)f->levels * f->L * f->dim, slots = f->count * f->levels * f->K;
    for (int64_t c = 0; c < values; c++) rd_bytes_f32(&b, f->codebooks[c]);
    rd_bytes_append(&b, f->indices, (size_t)slots);
    for (int64_t j = 0; j < slots; j++) rd_bytes_u16(&b, f->weights[j]);
    if (!b.failed) rd_bytes_u64(&b, rd_fnv1a(RD_FNV1A_START, b.data, b.size));
    rd_result r = b.failed ? rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory while encoding the feature field", path)
                           : rd_bytes_save(ctx, path, &b);
    rd_bytes_free(&b);
    return r;
}

typedef struct feature_config {
    int64_t count, levels, L, K, dim;
} feature_config;

static rd_result parse_config(rd_context *ctx, const char *path, const unsigned char *text, uint32_t bytes, feature_config *c)
{
    cJSON *j;
    rd_result r = rd_json_parse(ctx, path, (const char *)text, bytes, &j);
    if (r != RD_OK) return r;
    if (!cJSON_IsObject(j)) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: the configuration is not a JSON object", path);
    const char *where = "configuration";
    if (r == RD_OK) r = rd_json_whole(ctx, path, where, j, "count", true, 0, (double)((int64_t)1 << 40), &c->count);
    if (r == RD_OK) r = rd_json_whole(ctx, path, where, j, "levels", true, 1, RD_FEATURE_MAX_LEVELS, &c->levels);
    if (r == RD_OK) r = rd_json_whole(ctx, path, where, j, "codebook_size", true, 1, RD_FEATURE_MAX_CODEBOOK, &c->L);
    if (r == RD_OK) r = rd_json_whole(ctx, path, where, j, "slots", true, 1, RD_FEATURE_MAX_SLOTS, &c->K);
    if (r == RD_OK) r = rd_json_whole(ctx, path, where, j, "dim", true, 1, RD_FEATURE_MAX_DIM, &c->dim);
    if (r == RD_OK && c->K > c->L)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: slots %lld exceeds codebook_size %lld", path, (long long)c->K,
                    (long long)c->L);
    cJSON_Delete(j);
    return r;
}

static rd_result decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_feature_field **out)
{
    if (size < 8 || memcmp(data, FEATURE_MAGIC, 8) != 0)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a feature field (no RDFEATUR magic)", path);
    if (size < HEADER_BYTES + TRAILER_BYTES)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %zu bytes: too short for a feature field's header (truncated?)", path, size);
    uint32_t version = rd_le32(data + 8), json_bytes = rd_le32(data + 12);
    if (version != FEATURE_VERSION)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: feature file version %u (this radiant reads version %d)", path, version,
                       FEATURE_VERSION);
    if (json_bytes > size - HEADER_BYTES - TRAILER_BYTES)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %zu bytes: too short for its %u-byte configuration and checksum (truncated?)", path,
                       size, json_bytes);
    if (rd_fnv1a(RD_FNV1A_START, data, size - TRAILER_BYTES) != rd_le64(data + size - TRAILER_BYTES))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the checksum does not match (the file is damaged or truncated)", path);
    feature_config c;
    rd_result r = parse_config(ctx, path, data + HEADER_BYTES, json_bytes, &c);
    if (r != RD_OK) return r;
    uint64_t values = (uint64_t)(c.levels * c.L * c.dim), slots = (uint64_t)c.count * (uint64_t)(c.levels * c.K);
    uint64_t body = size - HEADER_BYTES - json_bytes - TRAILER_BYTES, expected = 4 * values + 3 * slots;
    if (expected != body)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %lld Gaussians of %lld levels, %lld slots, a codebook of %lld x %lld take %llu bytes; "
                       "the file holds %llu", path, (long long)c.count, (long long)c.levels, (long long)c.K, (long long)c.L,
                       (long long)c.dim, (unsigned long long)expected, (unsigned long long)body);
    r = rd_decode_check(ctx, path, size, 4 * values + 3 * slots, "feature field");
    rd_feature_field *f = NULL;
    if (r == RD_OK) r = rd_feature_field_alloc(ctx, c.count, (int)c.levels, (int)c.L, (int)c.K, (int)c.dim, &f);
    if (r != RD_OK) return r;
    const unsigned char *at = data + HEADER_BYTES + json_bytes;
    for (uint64_t v = 0; v < values; v++, at += 4) {
        f->codebooks[v] = rd_lef32(at);
        if (!isfinite(f->codebooks[v]) && r == RD_OK)
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: codebook value %llu is not finite", path, (unsigned long long)v);
    }
    memcpy(f->indices, at, slots);
    at += slots;
    for (uint64_t j = 0; j < slots; j++) f->weights[j] = rd_le16(at + 2 * j);
    char why[256];
    rd_feature_slots view = rd_feature_field_slots(f);
    const char *problem = r == RD_OK ? rd_feature_slots_problem(&view, why, sizeof why) : NULL;
    if (problem) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s", path, problem);
    if (r != RD_OK) {
        rd_feature_field_destroy(f);
        return r;
    }
    *out = f;
    return RD_OK;
}

rd_result rd_feature_field_load(rd_context *ctx, const char *path, rd_feature_field **out)
{
    if (!out || !path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_field_load: path or out is NULL");
    *out = NULL;
    char *data;
    size_t size;
    rd_result r = rd_read_file(ctx, path, &data, &size);
    if (r != RD_OK) return r;
    r = decode(ctx, path, (const unsigned char *)data, size, out);
    free(data);
    return r;
}
