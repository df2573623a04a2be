/* snapshot.c: the NeRF snapshot file (.rnerf; its layout in radiant_nerf.h): written
   through rd_write_atomically with the checksum summed as the bytes go out, read whole and
   checked field by field before anything is allocated in proportion to it. */
#include "scene.h"
#include "reachable.h"
#include "../datasets/json_util.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the snapshot is little-endian and written straight from memory"
#endif

enum { VERSION = 2, FIXED = 16 }; /* magic, version, JSON length */
static const char MAGIC[8] = {'R', 'D', 'N', 'E', 'R', 'F', '\r', '\n'};

bool rd_nerf_snapshot_detect(const unsigned char *data, size_t size) { return size >= 8 && memcmp(data, MAGIC, 8) == 0; }

static int64_t bit_bytes(int cascades) { return (int64_t)cascades * RD_OCCUPANCY_CELLS / 8; }

typedef struct save_job {
    const rd_nerf_scene *s;
    const char *json;
    const uint8_t *stored; /* per table entry: 1 where it is written */
    const uint8_t *bits;   /* the occupancy's level 0 as stored (saved_bits) */
    uint64_t sum;
} save_job;

static bool put(rd_writer *w, save_job *j, const void *data, size_t bytes)
{
    j->sum = rd_fnv1a(j->sum, data, bytes);
    return rd_writer_write(w, data, bytes);
}

/* n bytes of 0/1 flags as n bits, least significant first */
static bool put_bits(rd_writer *w, save_job *j, const uint8_t *flags, int64_t n)
{
    unsigned char packed[4096];
    bool ok = true;
    for (int64_t at = 0; ok && at < n; at += 8 * (int64_t)sizeof packed) {
        int64_t bits = n - at < 8 * (int64_t)sizeof packed ? n - at : 8 * (int64_t)sizeof packed, bytes = (bits + 7) / 8;
        memset(packed, 0, (size_t)bytes);
        for (int64_t b = 0; b < bits; b++) packed[b / 8] |= (unsigned char)(flags[at + b] ? 1u << (b % 8) : 0u);
        ok = put(w, j, packed, (size_t)bytes);
    }
    return ok;
}

/* the stored entries' features, gathered a buffer at a time */
static bool put_table(rd_writer *w, save_job *j)
{
    const rd_hashgrid *g = &j->s->field.grid;
    float buffer[4096];
    int used = 0;
    bool ok = true;
    for (int64_t e = 0; ok && e < g->entries; e++) {
        if (!j->stored[e]) continue;
        memcpy(buffer + used, j->s->params + e * g->features, sizeof(float) * (size_t)g->features);
        used += g->features;
        if (used + RD_HASHGRID_MAX_FEATURES > (int)(sizeof buffer / sizeof *buffer)) ok = put(w, j, buffer, sizeof(float) * (size_t)used), used = 0;
    }
    return ok && put(w, j, buffer, sizeof(float) * (size_t)used);
}

static bool write_snapshot(rd_writer *w, void *user)
{
    save_job *j = user;
    const rd_nerf_scene *s = j->s;
    const rd_nerf_field *f = &s->field;
    uint32_t version = VERSION, json_bytes = (uint32_t)strlen(j->json);
    j->sum = RD_FNV1A_START;
    bool ok = put(w, j, MAGIC, 8) && put(w, j, &version, 4) && put(w, j, &json_bytes, 4) && put(w, j, j->json, json_bytes) &&
              put_bits(w, j, j->stored, f->grid.entries) && put_table(w, j) &&
              put(w, j, s->params + f->density_offset, sizeof(float) * (size_t)(f->params - f->density_offset)) &&
              put_bits(w, j, j->bits, (int64_t)s->occupancy.cascades * RD_OCCUPANCY_CELLS);
    uint64_t sum = j->sum;
    return ok && rd_writer_write(w, &sum, 8);
}

static char *config_json(const rd_nerf_scene *s, int64_t stored_entries)
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
    cJSON_AddNumberToObject(j, "table_entries", (double)s->field.grid.entries);
    cJSON_AddNumberToObject(j, "table_entries_stored", (double)stored_entries);
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return text;
}

/* The occupancy bits a snapshot stores (*bits, malloc'd): the scene's, where a pruned
   field's mask keeps less than RD_SALIENCY_PRUNED_KEEP of a cell's features that cell
   cleared (saliency.h), so that the file marches past it and leaves its entries out. */
static rd_result saved_bits(rd_context *ctx, const rd_nerf_scene *s, const char *path, uint8_t **bits)
{
    size_t n = (size_t)s->occupancy.cascades * RD_OCCUPANCY_CELLS;
    if (!(*bits = malloc(n))) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the occupancy bits", path);
    memcpy(*bits, s->occupancy.bits[0], n);
    const rd_nerf_field *f = &s->field;
    if (f->saliency.resolution)
        rd_saliency_prune_cells(&f->saliency, s->params + f->saliency_offset, s->occupancy.cascades, RD_SALIENCY_PRUNED_KEEP, *bits);
    return RD_OK;
}

/* The entries rd_nerf_save writes (stored: entries bytes, malloc'd) and their count, for
   the occupancy bits it writes. */
static rd_result stored_entries(rd_context *ctx, const rd_nerf_scene *s, const char *path, const uint8_t *bits, uint8_t **stored,
                                int64_t *count)
{
    *stored = malloc((size_t)s->field.grid.entries);
    if (!*stored) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the table's entry marks", path);
    rd_occupancy saved = s->occupancy;
    saved.bits[0] = (uint8_t *)bits; /* the only level reachable.c reads */
    rd_result r = rd_nerf_reachable_entries(ctx, &s->field.grid, &saved, *stored, count);
    if (r != RD_OK) rd_error_prefix(ctx, path);
    return r;
}

rd_result rd_nerf_save(rd_context *ctx, const rd_scene *scene, const char *path)
{
    if (!path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_save: path is NULL");
    if (!rd_is_nerf(scene)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: rd_nerf_save: the scene is not a NeRF", path);
    const rd_nerf_scene *s = (const rd_nerf_scene *)scene;
    uint8_t *stored = NULL, *bits = NULL;
    int64_t count = 0;
    rd_result r = saved_bits(ctx, s, path, &bits);
    if (r == RD_OK) r = stored_entries(ctx, s, path, bits, &stored, &count);
    save_job job = {s, r == RD_OK ? config_json(s, count) : NULL, stored, bits, 0};
    if (r == RD_OK && !job.json) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the configuration", path);
    if (r == RD_OK) r = rd_write_atomically(ctx, path, write_snapshot, &job);
    free((void *)job.json);
    free(stored), free(bits);
    return r;
}

rd_result rd_nerf_snapshot_size(rd_context *ctx, const rd_scene *scene, int64_t *stored_params, int64_t *bytes)
{
    if (!rd_is_nerf(scene)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_snapshot_size: the scene is not a NeRF");
    const rd_nerf_scene *s = (const rd_nerf_scene *)scene;
    const rd_nerf_field *f = &s->field;
    uint8_t *stored = NULL, *bits = NULL;
    int64_t count = 0;
    rd_result r = saved_bits(ctx, s, "rd_nerf_snapshot_size", &bits);
    if (r == RD_OK) r = stored_entries(ctx, s, "rd_nerf_snapshot_size", bits, &stored, &count);
    free(stored), free(bits);
    char *json = r == RD_OK ? config_json(s, count) : NULL;
    if (r == RD_OK && !json) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_nerf_snapshot_size: out of memory");
    if (r != RD_OK) return r;
    int64_t params = f->params - (f->grid.entries - count) * f->grid.features;
    if (stored_params) *stored_params = params;
    if (bytes) *bytes = FIXED + (int64_t)strlen(json) + (f->grid.entries + 7) / 8 + 4 * params + bit_bytes(s->occupancy.cascades) + 8;
    free(json);
    return RD_OK;
}

/* What a snapshot's configuration says. */
typedef struct snapshot_config {
    rd_nerf_desc desc;
    float scale, offset[3];
    int64_t params, cascades;
    int64_t entries, stored; /* the table's entries and those the file holds (version 1: all; entries 0: not said) */
} snapshot_config;

/* The configuration's fields, each checked, into *c. */
static rd_result read_config(rd_context *ctx, const char *path, const cJSON *j, uint32_t version, snapshot_config *c)
{
    int64_t whole[5];
    static const char *const names[5] = {"levels", "features", "log2_table_size", "width", "aabb_scale"};
    static const double lo[5] = {1, 1, 4, 1, 1}, hi[5] = {RD_HASHGRID_MAX_LEVELS, RD_HASHGRID_MAX_FEATURES, 24, RD_MLP_MAX_WIDTH, 128};
    rd_result r = RD_OK;
    for (int k = 0; k < 5 && r == RD_OK; k++) r = rd_json_whole(ctx, path, "configuration", j, names[k], true, lo[k], hi[k], &whole[k]);
    if (r == RD_OK) r = rd_json_whole(ctx, path, "configuration", j, "params", true, 1, 1e12, &c->params);
    if (r == RD_OK) r = rd_json_whole(ctx, path, "configuration", j, "cascades", true, 1, RD_OCCUPANCY_MAX_CASCADES, &c->cascades);
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
    c->entries = c->stored = 0;
    if (r == RD_OK && version >= 2) r = rd_json_whole(ctx, path, "configuration", j, "table_entries", true, 1, 1e12, &c->entries);
    if (r == RD_OK && version >= 2)
        r = rd_json_whole(ctx, path, "configuration", j, "table_entries_stored", true, 0, (double)c->entries, &c->stored);
    if (r == RD_OK && c->entries * whole[1] > c->params)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: %lld table entries of %lld features are more than params %lld", path,
                    (long long)c->entries, (long long)whole[1], (long long)c->params);
    if (r != RD_OK) return r;
    rd_nerf_desc *d = &c->desc;
    *d = (rd_nerf_desc){.levels = (int)whole[0], .features = (int)whole[1], .log2_table_size = (int)whole[2],
                        .base_resolution = (float)base, .finest_resolution = (float)finest, .width = (int)whole[3],
                        .aabb_scale = (int)whole[4], .saliency_resolution = (int)mask, .gate_sharpness = (float)sharpness};
    c->scale = (float)sc;
    for (int a = 0; a < 3; a++) {
        c->offset[a] = (float)off[a];
        float centre = (0.5f - c->offset[a]) / c->scale; /* the box that gives this placement */
        d->box_min[a] = centre - 0.5f / c->scale, d->box_max[a] = centre + 0.5f / c->scale;
    }
    return RD_OK;
}

/* The file's parameters into s: version 2's bitmap and stored entries (the others 0),
   then the rest; version 1's all at once. Returns where the occupancy bits start, NULL
   (the error set) for a bitmap that disagrees with the configuration or a value not
   finite. */
static const unsigned char *read_params(rd_context *ctx, const char *path, const snapshot_config *c, const unsigned char *p,
                                        rd_nerf_scene *s)
{
    const rd_nerf_field *f = &s->field;
    int features = f->grid.features;
    if (c->entries) {
        int64_t marked = 0;
        for (int64_t e = 0; e < c->entries; e++) marked += p[e / 8] >> (e % 8) & 1;
        int64_t bytes = (c->entries + 7) / 8;
        if (marked != c->stored || (c->entries % 8 && p[bytes - 1] >> (c->entries % 8))) {
            rd_fail(ctx, RD_ERROR_FORMAT, "%s: the table's entry bitmap marks %lld entries (configuration.table_entries_stored: %lld)%s",
                    path, (long long)marked, (long long)c->stored, marked == c->stored ? ", and its padding bits are not 0" : "");
            return NULL;
        }
        const unsigned char *values = p + bytes;
        for (int64_t e = 0, next = 0; e < c->entries; e++) {
            float *entry = s->params + e * features;
            if (p[e / 8] >> (e % 8) & 1) memcpy(entry, values + 4 * features * next++, sizeof(float) * (size_t)features);
            else memset(entry, 0, sizeof(float) * (size_t)features);
        }
        p = values + 4 * features * c->stored;
        memcpy(s->params + f->density_offset, p, sizeof(float) * (size_t)(f->params - f->density_offset));
        p += 4 * (f->params - f->density_offset);
    } else {
        memcpy(s->params, p, sizeof(float) * (size_t)f->params);
        p += 4 * f->params;
    }
    for (int64_t i = 0; i < f->params; i++)
        if (!isfinite(s->params[i])) {
            rd_fail(ctx, RD_ERROR_FORMAT, "%s: parameter %lld is %g (not finite)", path, (long long)i, s->params[i]);
            return NULL;
        }
    return p;
}

rd_result rd_nerf_snapshot_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    uint32_t version = 0, json_bytes = 0;
    if (size >= FIXED) memcpy(&version, data + 8, 4), memcpy(&json_bytes, data + 12, 4);
    if (size < FIXED + 8 || !rd_nerf_snapshot_detect(data, size))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a NeRF snapshot, or truncated in its header (%zu bytes)", path, size);
    if (version < 1 || version > VERSION)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: snapshot version %u (this reader reads versions 1 to %d)", path, version,
                       VERSION);
    if (json_bytes > size - FIXED - 8)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the configuration's length %u runs past the file's end (%zu bytes)", path,
                       json_bytes, size);
    cJSON *j = NULL;
    rd_result r = rd_json_parse(ctx, path, (const char *)data + FIXED, json_bytes, &j);
    if (r == RD_OK && !cJSON_IsObject(j)) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: configuration: expected a JSON object", path);
    snapshot_config c;
    if (r == RD_OK) r = read_config(ctx, path, j, version, &c);
    cJSON_Delete(j);
    if (r != RD_OK) return r;
    /* every size the configuration implies must be the file's, before anything is allocated */
    uint64_t values = (uint64_t)(c.params - (c.entries - c.stored) * c.desc.features);
    uint64_t need = FIXED + (uint64_t)json_bytes + (uint64_t)(c.entries + 7) / 8 + 4 * values + (uint64_t)bit_bytes((int)c.cascades) + 8;
    if (need != size)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %lld parameters (%lld of %lld table entries) and %lld cascades take %llu bytes, the file has %zu (%s)",
                       path, (long long)c.params, (long long)(c.entries ? c.stored : 0), (long long)c.entries, (long long)c.cascades,
                       (unsigned long long)need, size, need > size ? "truncated?" : "trailing bytes");
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* the fuzz build lets mutations past the checksum */
    uint64_t sum;
    memcpy(&sum, data + size - 8, 8);
    if (rd_fnv1a(RD_FNV1A_START, data, size - 8) != sum)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the checksum does not match (the file is damaged)", path);
#endif
    uint64_t held = 4 * (uint64_t)c.params + (uint64_t)c.cascades * RD_OCCUPANCY_CELLS * (sizeof(float) + 2);
    r = rd_decode_check(ctx, path, size, held, "a NeRF's parameters and occupancy grid");
    if (r != RD_OK) return r;
    rd_nerf_scene *s = NULL;
    r = rd_nerf_scene_new(ctx, &c.desc, &s);
    if (r != RD_OK) {
        rd_error_prefix(ctx, path);
        return r;
    }
    if (s->field.params != c.params || s->occupancy.cascades != c.cascades || (c.entries && s->field.grid.entries != c.entries)) {
        r = rd_fail(ctx, RD_ERROR_FORMAT,
                    "%s: configuration: params %lld, cascades %lld and table_entries %lld, where the configuration makes %lld, %d and %lld",
                    path, (long long)c.params, (long long)c.cascades, (long long)c.entries, (long long)s->field.params,
                    s->occupancy.cascades, (long long)s->field.grid.entries);
        rd_nerf_scene_free(s);
        return r;
    }
    s->scale = c.scale;
    memcpy(s->offset, c.offset, sizeof s->offset);
    const unsigned char *p = read_params(ctx, path, &c, data + FIXED + json_bytes, s);
    if (!p) {
        rd_nerf_scene_free(s);
        return RD_ERROR_FORMAT;
    }
    /* the bits as thicknesses above any threshold (1) or none (0): rebuilding gives the same bits */
    for (int64_t i = 0; i < c.cascades * RD_OCCUPANCY_CELLS; i++) s->occupancy.thickness[i] = (float)(p[i / 8] >> (i % 8) & 1);
    rd_occupancy_rebuild_bits(&s->occupancy);
    *out = (rd_scene *)s;
    return RD_OK;
}
