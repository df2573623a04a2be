/* snapshot.c: the NeRF snapshot file (.rnerf; its layout in radiant_nerf.h): written
   through rd_write_atomically with the checksum summed as the bytes go out, read whole and
   checked field by field before anything is allocated in proportion to it. */
#include "scene.h"
#include "../datasets/json_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the snapshot is little-endian and written straight from memory"
#endif

enum { VERSION = 1, FIXED = 16 }; /* magic, version, JSON length */
static const char MAGIC[8] = {'R', 'D', 'N', 'E', 'R', 'F', '\r', '\n'};

bool rd_nerf_snapshot_detect(const unsigned char *data, size_t size) { return size >= 8 && memcmp(data, MAGIC, 8) == 0; }

static int64_t bit_bytes(int cascades) { return (int64_t)cascades * RD_OCCUPANCY_CELLS / 8; }

typedef struct save_job {
    const rd_nerf_scene *s;
    const char *json;
    uint64_t sum;
} save_job;

static bool put(rd_writer *w, save_job *j, const void *data, size_t bytes)
{
    j->sum = rd_fnv1a(j->sum, data, bytes);
    return rd_writer_write(w, data, bytes);
}

static bool write_snapshot(rd_writer *w, void *user)
{
    save_job *j = user;
    const rd_nerf_scene *s = j->s;
    uint32_t version = VERSION, json_bytes = (uint32_t)strlen(j->json);
    j->sum = RD_FNV1A_START;
    bool ok = put(w, j, MAGIC, 8) && put(w, j, &version, 4) && put(w, j, &json_bytes, 4) && put(w, j, j->json, json_bytes) &&
              put(w, j, s->params, sizeof(float) * (size_t)s->field.params);
    unsigned char packed[4096];
    const uint8_t *bits = s->occupancy.bits[0];
    for (int64_t at = 0; ok && at < bit_bytes(s->occupancy.cascades); at += (int64_t)sizeof packed) {
        int64_t n = bit_bytes(s->occupancy.cascades) - at < (int64_t)sizeof packed ? bit_bytes(s->occupancy.cascades) - at
                                                                                    : (int64_t)sizeof packed;
        for (int64_t b = 0; b < n; b++) {
            unsigned char v = 0;
            for (int k = 0; k < 8; k++) v |= (unsigned char)(bits[8 * (at + b) + k] ? 1u << k : 0u);
            packed[b] = v;
        }
        ok = put(w, j, packed, (size_t)n);
    }
    uint64_t sum = j->sum;
    return ok && rd_writer_write(w, &sum, 8);
}

static char *config_json(const rd_nerf_scene *s)
{
    const rd_nerf_desc *d = &s->desc;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "levels", d->levels);
    cJSON_AddNumberToObject(j, "features", d->features);
    cJSON_AddNumberToObject(j, "log2_table_size", d->log2_table_size);
    cJSON_AddNumberToObject(j, "base_resolution", d->base_resolution);
    cJSON_AddNumberToObject(j, "finest_resolution", d->finest_resolution);
    cJSON_AddNumberToObject(j, "width", d->width);
    cJSON_AddNumberToObject(j, "aabb_scale", d->aabb_scale);
    if (d->saliency_resolution) { /* a masked field's (older files have none: no mask) */
        cJSON_AddNumberToObject(j, "saliency_resolution", d->saliency_resolution);
        cJSON_AddNumberToObject(j, "gate_sharpness", d->gate_sharpness);
    }
    cJSON_AddNumberToObject(j, "scale", s->scale);
    cJSON_AddItemToObject(j, "offset", cJSON_CreateFloatArray(s->offset, 3));
    cJSON_AddNumberToObject(j, "params", (double)s->field.params);
    cJSON_AddNumberToObject(j, "cascades", s->occupancy.cascades);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

rd_result rd_nerf_save(rd_context *ctx, const rd_scene *scene, const char *path)
{
    if (!path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_save: path is NULL");
    if (!rd_is_nerf(scene)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: rd_nerf_save: the scene is not a NeRF", path);
    save_job job = {(const rd_nerf_scene *)scene, config_json((const rd_nerf_scene *)scene), 0};
    if (!job.json) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the configuration", path);
    rd_result r = rd_write_atomically(ctx, path, write_snapshot, &job);
    free((void *)job.json);
    return r;
}

/* The configuration's fields, each checked, into desc, scale, offset, params and
   cascades. */
static rd_result read_config(rd_context *ctx, const char *path, const cJSON *j, rd_nerf_desc *d, float *scale, float offset[3],
                             int64_t *params, int64_t *cascades)
{
    int64_t whole[5];
    static const char *const names[5] = {"levels", "features", "log2_table_size", "width", "aabb_scale"};
    static const double lo[5] = {1, 1, 4, 1, 1}, hi[5] = {RD_HASHGRID_MAX_LEVELS, RD_HASHGRID_MAX_FEATURES, 24, RD_MLP_MAX_WIDTH, 128};
    rd_result r = RD_OK;
    for (int k = 0; k < 5 && r == RD_OK; k++) r = rd_json_whole(ctx, path, "configuration", j, names[k], true, lo[k], hi[k], &whole[k]);
    if (r == RD_OK) r = rd_json_whole(ctx, path, "configuration", j, "params", true, 1, 1e12, params);
    if (r == RD_OK) r = rd_json_whole(ctx, path, "configuration", j, "cascades", true, 1, RD_OCCUPANCY_MAX_CASCADES, cascades);
    double base = 0, finest = 0, sc = 0, off[3] = {0};
    if (r == RD_OK) r = rd_json_number(ctx, path, "configuration", j, "base_resolution", true, &base);
    if (r == RD_OK) r = rd_json_number(ctx, path, "configuration", j, "finest_resolution", true, &finest);
    if (r == RD_OK) r = rd_json_number(ctx, path, "configuration", j, "scale", true, &sc);
    int64_t mask = 0;
    double sharpness = 0.0;
    if (r == RD_OK) r = rd_json_whole(ctx, path, "configuration", j, "saliency_resolution", false, 0, RD_SALIENCY_MAX_RESOLUTION, &mask);
    if (r == RD_OK && mask) r = rd_json_number(ctx, path, "configuration", j, "gate_sharpness", true, &sharpness);
    if (r == RD_OK && mask && (mask < RD_SALIENCY_MIN_RESOLUTION || !(sharpness > 0.0 && sharpness <= 1e9)))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration.saliency_resolution %lld / gate_sharpness %g: out of range", path,
                    (long long)mask, sharpness);
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "offset");
    if (r == RD_OK && (!cJSON_IsArray(o) || cJSON_GetArraySize(o) != 3))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration.offset: expected 3 numbers", path);
    for (int a = 0; a < 3 && r == RD_OK; a++) {
        const cJSON *v = cJSON_GetArrayItem(o, a);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration.offset[%d]: expected a finite number", path, a);
        else off[a] = v->valuedouble;
    }
    if (r == RD_OK && !(sc > 0.0 && sc < 1e30 && isfinite(1.0 / sc)))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration.scale: %g is not a positive scale", path, sc);
    if (r != RD_OK) return r;
    *d = (rd_nerf_desc){.levels = (int)whole[0], .features = (int)whole[1], .log2_table_size = (int)whole[2],
                        .base_resolution = (float)base, .finest_resolution = (float)finest, .width = (int)whole[3],
                        .aabb_scale = (int)whole[4], .saliency_resolution = (int)mask, .gate_sharpness = (float)sharpness};
    *scale = (float)sc;
    for (int a = 0; a < 3; a++) {
        offset[a] = (float)off[a];
        float centre = (0.5f - offset[a]) / *scale; /* the box that gives this placement */
        d->box_min[a] = centre - 0.5f / *scale, d->box_max[a] = centre + 0.5f / *scale;
    }
    return RD_OK;
}

rd_result rd_nerf_snapshot_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    uint32_t version = 0, json_bytes = 0;
    if (size >= FIXED) memcpy(&version, data + 8, 4), memcpy(&json_bytes, data + 12, 4);
    if (size < FIXED + 8 || !rd_nerf_snapshot_detect(data, size))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a NeRF snapshot, or truncated in its header (%zu bytes)", path, size);
    if (version != VERSION)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: snapshot version %u (this reader reads version %d)", path, version, VERSION);
    if (json_bytes > size - FIXED - 8)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the configuration's length %u runs past the file's end (%zu bytes)", path,
                       json_bytes, size);
    cJSON *j = NULL;
    rd_result r = rd_json_parse(ctx, path, (const char *)data + FIXED, json_bytes, &j);
    if (r == RD_OK && !cJSON_IsObject(j)) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: expected a JSON object", path);
    rd_nerf_desc desc;
    float scale = 0, offset[3];
    int64_t params = 0, cascades = 0;
    if (r == RD_OK) r = read_config(ctx, path, j, &desc, &scale, offset, &params, &cascades);
    cJSON_Delete(j);
    if (r != RD_OK) return r;
    /* every size the configuration implies must be the file's, before anything is allocated */
    uint64_t need = FIXED + (uint64_t)json_bytes + 4 * (uint64_t)params + (uint64_t)bit_bytes((int)cascades) + 8;
    if (need != size)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %lld parameters and %lld cascades take %llu bytes, the file has %zu (%s)", path,
                       (long long)params, (long long)cascades, (unsigned long long)need, size,
                       need > size ? "truncated?" : "trailing bytes");
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* the fuzz build lets mutations past the checksum */
    uint64_t sum;
    memcpy(&sum, data + size - 8, 8);
    if (rd_fnv1a(RD_FNV1A_START, data, size - 8) != sum)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the checksum does not match (the file is damaged)", path);
#endif
    uint64_t held = 4 * (uint64_t)params + (uint64_t)cascades * RD_OCCUPANCY_CELLS * (sizeof(float) + 2);
    r = rd_decode_check(ctx, path, size, held, "a NeRF's parameters and occupancy grid");
    if (r != RD_OK) return r;
    rd_nerf_scene *s = NULL;
    r = rd_nerf_scene_new(ctx, &desc, &s);
    if (r != RD_OK) {
        rd_error_prefix(ctx, path);
        return r;
    }
    if (s->field.params != params || s->occupancy.cascades != cascades) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: params %lld and cascades %lld, where the configuration makes %lld and %d",
                    path, (long long)params, (long long)cascades, (long long)s->field.params, s->occupancy.cascades);
        rd_nerf_scene_free(s);
        return r;
    }
    s->scale = scale;
    memcpy(s->offset, offset, sizeof s->offset);
    const unsigned char *p = data + FIXED + json_bytes;
    memcpy(s->params, p, 4 * (size_t)params);
    for (int64_t i = 0; i < params && r == RD_OK; i++)
        if (!isfinite(s->params[i]))
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: parameter %lld is %g (not finite)", path, (long long)i, s->params[i]);
    p += 4 * params;
    /* the bits as thicknesses above any threshold (1) or none (0): rebuilding gives the same bits */
    for (int64_t i = 0; i < (int64_t)cascades * RD_OCCUPANCY_CELLS; i++) s->occupancy.thickness[i] = (float)(p[i / 8] >> (i % 8) & 1);
    rd_occupancy_rebuild_bits(&s->occupancy);
    if (r != RD_OK) {
        rd_nerf_scene_free(s);
        return r;
    }
    *out = (rd_scene *)s;
    return RD_OK;
}
