/* compact_write.c: rd_scene_compact (radiant_compact.h): prune by importance, order the
   rest along a Morton curve, k-means each slice into its codebook, and write the file
   compact.h lays out, whole or not at all. */
#include "compact.h"
#include "bytes.h"
#include "conventions.h"
#include "formats.h"
#include "kmeans.h"
#include "../renderer/kinds.h"
#include "../splat/appearance4d_cpu.h"
#include "../splat/scene4d.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* k-means passes over every row after the hierarchy's start, within a budget of rows x
   centroids x floats a slice (1e11: about 20 s on 2 cores, the lego's 150k Gaussians' SH
   band 3 seven passes, a 6M scene's none) */
enum { RD_COMPACT_REFINE_PASSES = 8 };
#define RD_COMPACT_REFINE_BUDGET 1e11

enum { PART_POSITIONS, PART_CODEBOOKS, PART_ATTRIBUTES, PART_NETWORKS = PART_ATTRIBUTES + RD_COMPACT_ATTRIBUTES, PART_COUNT };

typedef struct writer {
    rd_context *ctx;
    const char *path;
    rd_compact_arrays a;
    int64_t n;    /* Gaussians kept */
    int64_t *row; /* the source index of each kept Gaussian, in file order */
    rd_compact_arrays kept; /* those Gaussians, in file order (tuned before quantising, with photos) */
    float origin[4];
    rd_compact_codes codes[RD_COMPACT_MAX_SLICES];
    int slice_count;
    rd_bytes raw[PART_COUNT]; /* each part before zstd */
    const char *names[PART_COUNT];
    rd_appearance4d *networks; /* with appearance networks: theirs (weights as the file's half floats) */
} writer;

static bool finite_floats(const float *v, int n)
{
    for (int k = 0; k < n; k++)
        if (!isfinite(v[k])) return false;
    return true;
}

/* A Gaussian no format should hold: a NaN or infinity anywhere but an infinite opacity logit. */
static bool drawable(const rd_compact_arrays *a, int64_t i)
{
    int m = rd_compact_mean_floats(a), r = rd_compact_rotation_floats(a), c = rd_compact_sh_floats(a);
    return finite_floats(a->means + (size_t)i * m, m) && finite_floats(a->log_scales + (size_t)i * m, m) &&
           finite_floats(a->rotations + (size_t)i * r, r) && finite_floats(a->sh + (size_t)i * c, c) && !isnan(a->opacities[i]);
}

typedef struct ranked {
    float score;
    int64_t index;
} ranked;

static int compare_ranked(const void *x, const void *y)
{
    const ranked *a = x, *b = y;
    if (a->score != b->score) return a->score > b->score ? -1 : 1; /* most important first */
    return (a->index > b->index) - (a->index < b->index);
}

/* The Gaussians kept: drawable ones, the least important prune_fraction of them dropped,
   then in Morton order of their means. */
static rd_result choose(writer *w, const rd_scene *scene, const rd_compact_desc *desc)
{
    const rd_compact_arrays *a = &w->a;
    float *score = rd_alloc_array(a->count > 0 ? a->count : 1, sizeof(float));
    ranked *rank = rd_alloc_array(a->count > 0 ? a->count : 1, sizeof(ranked));
    float *means = rd_alloc_array(a->count > 0 ? a->count : 1, 3 * sizeof(float));
    int64_t *order = rd_alloc_array(a->count > 0 ? a->count : 1, sizeof(int64_t));
    w->row = rd_alloc_array(a->count > 0 ? a->count : 1, sizeof(int64_t));
    rd_result r = score && rank && means && order && w->row ? RD_OK : rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    if (r == RD_OK) r = rd_compact_rank(w->ctx, scene, a, desc, score);
    int64_t usable = 0;
    for (int64_t i = 0; r == RD_OK && i < a->count; i++)
        if (drawable(a, i)) rank[usable++] = (ranked){score[i], i};
    if (r == RD_OK) {
        qsort(rank, (size_t)usable, sizeof *rank, compare_ranked);
        w->n = usable - (int64_t)floor((double)desc->prune_fraction * (double)usable);
        int m = rd_compact_mean_floats(a);
        for (int64_t k = 0; k < w->n; k++) memcpy(means + 3 * k, a->means + (size_t)rank[k].index * m, 3 * sizeof(float));
        rd_morton_order_points(means, 3, w->n, order);
        for (int64_t k = 0; k < w->n; k++) w->row[k] = rank[order[k]].index;
    }
    free(score), free(rank), free(means), free(order);
    return r;
}

/* The kept Gaussians copied in file order. */
static rd_result gather_kept(writer *w)
{
    const rd_compact_arrays *a = &w->a;
    if (!rd_compact_arrays_alloc(a, w->n, &w->kept)) return rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    size_t m = (size_t)rd_compact_mean_floats(a), q = (size_t)rd_compact_rotation_floats(a), c = (size_t)rd_compact_sh_floats(a);
    for (int64_t k = 0; k < w->n; k++) {
        size_t i = (size_t)w->row[k];
        memcpy(w->kept.means + k * m, a->means + i * m, m * sizeof(float));
        memcpy(w->kept.log_scales + k * m, a->log_scales + i * m, m * sizeof(float));
        memcpy(w->kept.rotations + k * q, a->rotations + i * q, q * sizeof(float));
        memcpy(w->kept.sh + k * c, a->sh + i * c, c * sizeof(float));
        w->kept.opacities[k] = a->opacities[i];
    }
    return RD_OK;
}

/* OMG4's merging of the kept Gaussians: those merged into a neighbour leave the kept
   arrays (the rest keep their order). */
static rd_result merge_kept(writer *w, int64_t *merged)
{ /* before the networks' fit: the kept rows have no features yet */
    int64_t *keep = rd_alloc_array(w->n > 0 ? w->n : 1, sizeof *keep);
    if (!keep) return rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    rd_result r = rd_compact_merge(w->ctx, &w->kept, keep, merged);
    if (r == RD_OK) {
        int64_t n = w->n - *merged;
        size_t m = (size_t)rd_compact_mean_floats(&w->kept), q = (size_t)rd_compact_rotation_floats(&w->kept);
        size_t c = (size_t)rd_compact_sh_floats(&w->kept);
        for (int64_t k = 0; k < n; k++) { /* keep[k] >= k: moving down never overwrites a row still to move */
            size_t i = (size_t)keep[k];
            memmove(w->kept.means + k * m, w->kept.means + i * m, m * sizeof(float));
            memmove(w->kept.log_scales + k * m, w->kept.log_scales + i * m, m * sizeof(float));
            memmove(w->kept.rotations + k * q, w->kept.rotations + i * q, q * sizeof(float));
            memmove(w->kept.sh + k * c, w->kept.sh + i * c, c * sizeof(float));
            w->kept.opacities[k] = w->kept.opacities[i];
            w->row[k] = w->row[i];
        }
        w->n = w->kept.count = n;
    }
    free(keep);
    return r;
}

/* With photos, before quantising: the kept Gaussians trained on them as `radiant train`
   would go on after its last step (LightGaussian's recovery after pruning: its loss, every
   parameter, the means at the end of their schedule, every SH degree, no density control),
   on the context's backend. */
static rd_result tune_kept(writer *w, const rd_compact_desc *desc)
{
    enum { SCHEDULE = 30000 }; /* radiant train's: where the means' rate has decayed to */
    rd_train_view *views = rd_alloc_array((size_t)desc->view_count, sizeof *views);
    if (!views) return rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for fine-tuning", w->path);
    int photos = 0;
    for (int v = 0; v < desc->view_count; v++)
        if (desc->views[v].image) views[photos++] = desc->views[v];
    rd_scene *scene = NULL;
    rd_trainer *t = NULL;
    rd_result r = photos ? rd_compact_make_scene(w->ctx, &w->kept, &scene) : RD_OK;
    rd_trainer_desc td = {.views = views, .view_count = photos, .initial = scene, .iterations = SCHEDULE, .start_iteration = SCHEDULE,
                          .kind = w->kept.four_d ? RD_SCENE_GAUSSIANS_4D : RD_SCENE_GAUSSIANS, .seed = 1};
    memcpy(td.background, desc->background, sizeof td.background);
    int steps = desc->recover_steps ? desc->recover_steps : desc->finetune_steps;
    rd_train_stats stats = {0};
    if (scene && r == RD_OK) r = rd_trainer_create(w->ctx, &td, &t);
    if (t && r == RD_OK) r = rd_trainer_step(t, steps, &stats);
    rd_compact_arrays fitted;
    if (t && r == RD_OK && rd_compact_arrays_of(rd_trainer_scene(t), &fitted)) { /* the trainer's host arrays, same layout */
        size_t n = (size_t)w->n, m = (size_t)rd_compact_mean_floats(&w->kept), q = (size_t)rd_compact_rotation_floats(&w->kept);
        size_t c = (size_t)rd_compact_sh_floats(&w->kept);
        memcpy(w->kept.means, fitted.means, n * m * sizeof(float));
        memcpy(w->kept.log_scales, fitted.log_scales, n * m * sizeof(float));
        memcpy(w->kept.rotations, fitted.rotations, n * q * sizeof(float));
        memcpy(w->kept.opacities, fitted.opacities, n * sizeof(float));
        memcpy(w->kept.sh, fitted.sh, n * c * sizeof(float));
        rd_log(w->ctx, RD_LOG_INFO, "compact: the %lld kept Gaussians trained %d steps on %d photos (loss %.5f)", (long long)w->n,
               steps, photos, stats.loss);
    }
    if (r != RD_OK) rd_error_prefix(w->ctx, "compact: fine-tuning the kept Gaussians");
    rd_trainer_destroy(t);
    rd_scene_destroy(scene);
    free(views);
    return r;
}

/* Appearance networks fitted to the kept Gaussians as the file decodes their positions
   (their frequencies see every rounding), weights rounded to the file's half floats; the
   kept arrays then hold features in place of opacity and colour. */
static rd_result fit_networks(writer *w, const rd_compact_desc *desc)
{
    rd_result r = rd_compact_fit_networks(w->ctx, &w->kept, desc, &w->networks);
    if (r != RD_OK) return r;
    for (uint32_t k = 0; k < w->networks->weight_count; k++)
        w->networks->weights[k] = rd_half_to_float(rd_half_from_float(w->networks->weights[k]));
    w->a.appearance = w->kept.appearance = true;
    w->kept.features = rd_alloc_array(w->n > 0 ? w->n : 1, RD_APPEARANCE_FEATURES * sizeof(float));
    if (!w->kept.features) return rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    memcpy(w->kept.features, w->networks->features, (size_t)w->n * RD_APPEARANCE_FEATURES * sizeof(float));
    w->a.time_degree = w->kept.time_degree = 0; /* no stored colour: the decoded scene's room for the networks' */
    return RD_OK;
}

/* The networks' weights as half floats (after any fine-tuning: its last step's rounding is
   the file's). */
static void emit_networks(writer *w)
{
    w->names[PART_NETWORKS] = "networks";
    for (uint32_t k = 0; k < w->networks->weight_count; k++)
        rd_bytes_u16(&w->raw[PART_NETWORKS], rd_half_from_float(w->networks->weights[k]));
}

/* The centre of the kept means' box (and times' range): positions are half floats about it. */
static void find_origin(writer *w)
{
    int m = rd_compact_mean_floats(&w->a);
    for (int c = 0; c < m; c++) {
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t k = 0; k < w->n; k++) {
            float v = w->kept.means[(size_t)k * m + c];
            lo = fminf(lo, v), hi = fmaxf(hi, v);
        }
        w->origin[c] = w->n ? 0.5f * (lo + hi) : 0.0f;
    }
}

/* Every slice one bit smaller at a time (none below 4 bits) until positions and indices
   fit target bits a Gaussian; false when they cannot. */
static bool fit_budget(rd_compact_slice *slices, int count, int mean_floats, float target)
{
    if (target <= 0.0f) return true;
    rd_compact_slice base[RD_COMPACT_MAX_SLICES];
    memcpy(base, slices, (size_t)count * sizeof *base);
    for (int cut = 0; cut <= RD_COMPACT_MAX_BITS; cut++) {
        int bits = 16 * mean_floats;
        for (int k = 0; k < count; k++) {
            slices[k].bits = base[k].bits - cut < 4 ? (base[k].bits < 4 ? base[k].bits : 4) : base[k].bits - cut;
            bits += slices[k].bits;
        }
        if ((float)bits <= target) return true;
    }
    return false;
}

/* Gaussian k's position as half floats, low bytes then high bytes per coordinate; the kept
   means become what the file decodes to. */
static void write_positions(writer *w)
{
    int m = rd_compact_mean_floats(&w->a);
    unsigned char *p = rd_bytes_grow(&w->raw[PART_POSITIONS], (size_t)(2 * m) * (size_t)w->n);
    if (!p) return;
    for (int c = 0; c < m; c++)
        for (int64_t k = 0; k < w->n; k++) {
            float *mean = &w->kept.means[(size_t)k * m + c];
            uint16_t h = rd_half_from_float(*mean - w->origin[c]);
            *mean = w->origin[c] + rd_half_to_float(h);
            p[(size_t)(2 * c) * w->n + k] = (unsigned char)(h & 0xff), p[(size_t)(2 * c + 1) * w->n + k] = (unsigned char)(h >> 8);
        }
}

/* The rows a slice's codebook may have: 2^bits, but no more than make the codebook as
   large as its indices (a 141-value 4D colour row is 282 bytes: 256 of them would outweigh
   6,000 Gaussians' indices several times over), and never fewer than 64. */
static int codebook_rows(const rd_compact_slice *s, int64_t n)
{
    int rows = 1 << s->bits;
    double fair = (double)n * s->bits / (16.0 * s->width);
    while (rows > 64 && rows > fair) rows /= 2;
    return rows;
}

/* One slice: its rows and k-means into codes (the slice's entries and bits follow what it found). */
static rd_result quantise(writer *w, rd_compact_codes *codes)
{
    rd_compact_slice *s = &codes->slice;
    int width = rd_compact_attribute_width(&w->a, s->attribute), d = s->width;
    int64_t n = w->n > 0 ? w->n : 1;
    int want = codebook_rows(s, w->n);
    float *row = malloc((size_t)width * sizeof *row), *x = rd_alloc_array(n, (size_t)d * sizeof(float));
    codes->centroids = rd_alloc_array(want, (size_t)d * sizeof(float));
    codes->label = rd_alloc_array(n, sizeof(int32_t));
    rd_result r = row && x && codes->centroids && codes->label ? RD_OK : rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    for (int64_t k = 0; r == RD_OK && k < w->n; k++) {
        rd_compact_row_get(&w->kept, s->attribute, k, row);
        memcpy(x + (size_t)k * d, row + s->first, (size_t)d * sizeof(float));
    }
    /* Lloyd's passes over every row: the hierarchy alone leaves a row with its group's nearest
       centroid (BENCHMARKS.md, "Compact scenes": the lego stand-in's SH rest 34.39 -> 34.51 dB) */
    rd_kmeans_desc kd = {.threads = w->ctx ? w->ctx->threads : 1, .refine_passes = RD_COMPACT_REFINE_PASSES,
                         .refine_budget = RD_COMPACT_REFINE_BUDGET};
    int entries = r == RD_OK && w->n ? rd_kmeans_with(x, w->n, d, want, &kd, codes->centroids, codes->label) : 0;
    if (r == RD_OK && entries < 0) r = rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for k-means", w->path);
    if (r == RD_OK) {
        if (entries < 1) entries = 1, memset(codes->centroids, 0, (size_t)d * sizeof(float)); /* no Gaussians: one row of zeros */
        s->entries = entries;
        while (s->bits > 1 && (1 << (s->bits - 1)) >= entries) s->bits--; /* no wider indices than the rows need */
        for (int64_t e = 0; e < (int64_t)entries * d; e++) /* the file's half floats, from here on */
            codes->centroids[e] = rd_half_to_float(rd_half_from_float(codes->centroids[e]));
    }
    free(row), free(x);
    return r;
}

/* The kept Gaussians as the file will decode them: positions as write_positions left them,
   the rest from the codebooks. */
static rd_result decode_kept(writer *w, rd_compact_arrays *out)
{
    if (!rd_compact_arrays_alloc(&w->a, w->n, out)) return rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    memcpy(out->means, w->kept.means, (size_t)w->n * (size_t)rd_compact_mean_floats(&w->a) * sizeof(float));
    rd_compact_apply_codes(out, w->codes, w->slice_count, w->ctx ? w->ctx->threads : 1);
    return RD_OK;
}

/* Each slice's codebook (half floats) and index planes into the raw parts. */
static void emit_codes(writer *w)
{
    for (int k = 0; k < w->slice_count; k++) {
        const rd_compact_codes *c = &w->codes[k];
        const rd_compact_slice *s = &c->slice;
        for (int64_t e = 0; e < (int64_t)s->entries * s->width; e++) rd_bytes_u16(&w->raw[PART_CODEBOOKS], rd_half_from_float(c->centroids[e]));
        unsigned char *p = rd_bytes_grow(&w->raw[PART_ATTRIBUTES + s->attribute], (size_t)rd_compact_index_bytes(s, w->n));
        for (int64_t i = 0; p && i < w->n; i++) {
            p[i] = (unsigned char)(c->label[i] & 0xff);
            if (s->bits > 8) p[w->n + i] = (unsigned char)(c->label[i] >> 8);
        }
    }
}

static cJSON *configuration(const writer *w, const uint64_t packed[PART_COUNT])
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "kind", w->a.four_d ? "gaussians4d" : "gaussians");
    cJSON_AddNumberToObject(j, "count", (double)w->n);
    cJSON_AddNumberToObject(j, "sh_degree", w->a.sh_degree);
    cJSON_AddNumberToObject(j, "time_degree", w->a.time_degree);
    cJSON_AddNumberToObject(j, "time_period", w->a.time_period);
    cJSON_AddNumberToObject(j, "flags", w->a.flags);
    cJSON_AddItemToObject(j, "origin", cJSON_CreateFloatArray(w->origin, rd_compact_mean_floats(&w->a)));
    if (w->networks) {
        cJSON *n = cJSON_AddObjectToObject(j, "appearance");
        cJSON_AddItemToObject(n, "centre", cJSON_CreateFloatArray(w->networks->centre, 3));
        cJSON_AddNumberToObject(n, "radius", w->networks->radius);
        cJSON_AddNumberToObject(n, "time_origin", w->networks->time_origin);
        cJSON_AddNumberToObject(n, "time_span", w->networks->time_span);
    }
    cJSON *slices = cJSON_AddArrayToObject(j, "slices");
    for (int k = 0; k < w->slice_count; k++) {
        const rd_compact_slice *s = &w->codes[k].slice;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "attribute", rd_compact_attribute_name(s->attribute));
        cJSON_AddNumberToObject(e, "first", s->first);
        cJSON_AddNumberToObject(e, "width", s->width);
        cJSON_AddNumberToObject(e, "bits", s->bits);
        cJSON_AddNumberToObject(e, "entries", s->entries);
        cJSON_AddItemToArray(slices, e);
    }
    cJSON *parts = cJSON_AddArrayToObject(j, "parts");
    for (int p = 0; p < PART_COUNT; p++) {
        if (!w->names[p]) continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", w->names[p]);
        cJSON_AddNumberToObject(e, "bytes", (double)packed[p]);
        cJSON_AddNumberToObject(e, "raw_bytes", (double)w->raw[p].size);
        cJSON_AddItemToArray(parts, e);
    }
    return j;
}

/* zstd of each part, then the file: header, JSON, parts, checksum. */
static rd_result assemble(writer *w, int level, rd_bytes *file, rd_compact_report *report)
{
    rd_bytes packed[PART_COUNT];
    uint64_t sizes[PART_COUNT] = {0};
    memset(packed, 0, sizeof packed);
    rd_result r = RD_OK;
    for (int p = 0; p < PART_COUNT && r == RD_OK; p++) {
        if (!w->names[p]) continue;
        size_t bound = ZSTD_compressBound(w->raw[p].size);
        unsigned char *dst = rd_bytes_grow(&packed[p], bound);
        size_t got = dst ? ZSTD_compress(dst, bound, w->raw[p].data ? (const void *)w->raw[p].data : "", w->raw[p].size, level) : 0;
        if (!dst || ZSTD_isError(got))
            r = rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: part %s: %s", w->path, w->names[p],
                        dst ? ZSTD_getErrorName(got) : "out of memory");
        packed[p].size = got, sizes[p] = got;
    }
    cJSON *json = r == RD_OK ? configuration(w, sizes) : NULL;
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    if (r == RD_OK && !text) r = rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    if (r == RD_OK) {
        rd_bytes_append(file, RD_COMPACT_MAGIC, 8);
        rd_bytes_u32(file, RD_COMPACT_VERSION);
        rd_bytes_u32(file, (uint32_t)strlen(text));
        rd_bytes_append(file, text, strlen(text));
        for (int p = 0; p < PART_COUNT; p++)
            if (w->names[p]) rd_bytes_append(file, packed[p].data, packed[p].size);
        rd_bytes_u64(file, rd_fnv1a(RD_FNV1A_START, file->data, file->size));
        if (file->failed) r = rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", w->path);
    }
    if (r == RD_OK && report) {
        report->count = w->n, report->kind = w->a.four_d ? RD_SCENE_GAUSSIANS_4D : RD_SCENE_GAUSSIANS;
        report->file_bytes = file->size;
        double per = w->n > 0 ? 8.0 / (double)w->n : 0.0;
        report->bits_per_gaussian = (double)file->size * per;
        int bits = 16 * rd_compact_mean_floats(&w->a);
        for (int k = 0; k < w->slice_count; k++) bits += w->codes[k].slice.bits;
        report->index_bits_per_gaussian = bits;
        for (int p = 0; p < PART_COUNT; p++) {
            if (!w->names[p] || report->part_count >= RD_COMPACT_MAX_PARTS) continue;
            rd_compact_part *e = &report->parts[report->part_count++];
            snprintf(e->name, sizeof e->name, "%s", w->names[p]);
            e->bytes = sizes[p], e->raw_bytes = w->raw[p].size, e->bits_per_gaussian = (double)sizes[p] * per;
        }
    }
    free(text);
    cJSON_Delete(json);
    for (int p = 0; p < PART_COUNT; p++) rd_bytes_free(&packed[p]);
    return r;
}

/* The steps' cost is a diagnosis: where one of its renders fails, the report goes without
   it (said in the log) and the file is written all the same. */
static bool still_costing(rd_context *ctx, rd_result r, rd_compact_report *costs)
{
    if (r == RD_OK) return true;
    rd_log(ctx, RD_LOG_WARN, "compact: the steps' cost left out of the report: %s", rd_last_error(ctx));
    costs->cost_count = 0;
    return false;
}

rd_result rd_scene_compact(rd_context *ctx, const rd_scene *scene, const char *path, const rd_compact_desc *desc,
                           rd_compact_report *report)
{
    if (!scene || !path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_compact: %s is NULL", scene ? "path" : "scene");
    rd_compact_desc d = desc ? *desc : (rd_compact_desc){0};
    if (!(d.prune_fraction >= 0.0f && d.prune_fraction <= 0.99f))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: prune fraction %g is not within 0..0.99", path, d.prune_fraction);
    if (d.zstd_level == 0) d.zstd_level = 19;
    if (d.zstd_level < 1 || d.zstd_level > ZSTD_maxCLevel())
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: zstd level %d is not within 1..%d", path, d.zstd_level, ZSTD_maxCLevel());
    if ((unsigned)d.importance > RD_COMPACT_IMPORTANCE_GRADIENTS)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: importance %d is not an rd_compact_importance", path, (int)d.importance);
    if (d.finetune_steps < 0 || d.recover_steps < 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: finetune_steps %d or recover_steps %d is negative", path, d.finetune_steps,
                       d.recover_steps);
    if (!(d.target_bits_per_gaussian >= 0.0f) || !isfinite(d.target_bits_per_gaussian))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: target bits per Gaussian %g is not a positive number", path,
                       d.target_bits_per_gaussian);
    for (int v = 0; d.views && v < d.view_count; v++) { /* once, before the passes over them */
        const rd_train_view *view = &d.views[v];
        if (view->image && (view->image->width != view->camera.width || view->image->height != view->camera.height))
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: view %d: a %dx%d photo for a %dx%d camera", path, v,
                           view->image->width, view->image->height, view->camera.width, view->camera.height);
    }
    if ((unsigned)d.appearance > RD_COMPACT_APPEARANCE_NETWORKS)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: appearance %d is not an rd_compact_appearance", path, (int)d.appearance);
    if (d.network_steps < 0) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: network_steps %d is negative", path, d.network_steps);
    bool networks = d.appearance == RD_COMPACT_APPEARANCE_NETWORKS;
    if (networks && !rd_is_gaussians4d(scene))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: appearance networks are for 4D scenes (this is a %s scene)", path,
                       rd_kind(rd_scene_head_of(scene)->kind) ? rd_kind(rd_scene_head_of(scene)->kind)->name : "scene of no known kind");
    if (rd_is_gaussians4d(scene) && ((const rd_scene4d *)scene)->appearance)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED,
                       "%s: this scene's colour comes from appearance networks (a compact file's); compact the scene they were "
                       "fitted to", path);
    writer w = {.ctx = ctx, .path = path};
    if (!rd_compact_arrays_of(scene, &w.a)) {
        const rd_scene_head *head = rd_scene_head_of(scene);
        if ((rd_is_gaussians(scene) || rd_is_gaussians4d(scene)) && head->memory == RD_MEMORY_DEVICE)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the scene lives in device memory; compact it from host arrays", path);
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: only 3D and 4D Gaussian scenes compact (this is a %s scene)", path,
                       rd_kind(head->kind) ? rd_kind(head->kind)->name : "scene of no known kind");
    }
    rd_compact_slice slices[RD_COMPACT_MAX_SLICES];
    rd_compact_arrays layout = w.a; /* what the file will hold */
    layout.appearance = networks;
    w.slice_count = rd_compact_default_slices(&layout, slices);
    if (!fit_budget(slices, w.slice_count, rd_compact_mean_floats(&w.a), d.target_bits_per_gaussian)) {
        int least = 16 * rd_compact_mean_floats(&w.a) + 4 * w.slice_count;
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "%s: %g bits per Gaussian is below what this scene's layout can take (at least %d: %d half floats of "
                       "position and %d slices of 4 bits)", path, d.target_bits_per_gaussian, least, rd_compact_mean_floats(&w.a),
                       w.slice_count);
    }
    if (report) *report = (rd_compact_report){.count_in = w.a.count};
    rd_compact_report costs = {0}; /* each step's, where photos allow it */
    bool costing = report && rd_compact_cost_wanted(&d, networks);
    if (costing) costing = still_costing(ctx, rd_compact_cost_of(ctx, &w.a, &d, "scene", &costs), &costs);
    rd_result r = choose(&w, scene, &d);
    bool tuning = d.finetune_steps > 0 && d.views && d.view_count > 0 && w.n > 0 && w.n <= INT32_MAX;
    if (r == RD_OK) r = gather_kept(&w);
    int64_t merged = 0;
    if (r == RD_OK && d.merge) r = merge_kept(&w, &merged);
    if (r == RD_OK && tuning) r = tune_kept(&w, &d);
    if (r == RD_OK && costing) costing = still_costing(ctx, rd_compact_cost_of(ctx, &w.kept, &d, "kept", &costs), &costs);
    if (r == RD_OK) {
        find_origin(&w);
        w.names[PART_POSITIONS] = "positions", w.names[PART_CODEBOOKS] = "codebooks";
        write_positions(&w);
    }
    if (r == RD_OK && costing) costing = still_costing(ctx, rd_compact_cost_of(ctx, &w.kept, &d, "positions", &costs), &costs);
    if (r == RD_OK && networks) r = fit_networks(&w, &d);
    for (int k = 0; k < w.slice_count && r == RD_OK; k++) {
        w.codes[k].slice = slices[k];
        w.names[PART_ATTRIBUTES + slices[k].attribute] = rd_compact_attribute_name(slices[k].attribute);
        r = quantise(&w, &w.codes[k]);
    }
    if (r == RD_OK && costing)
        costing = still_costing(ctx, rd_compact_cost_of_codes(ctx, &w.kept, w.codes, w.slice_count, &d, &costs), &costs);
    if (r == RD_OK && tuning) { /* the codebooks fitted to the photos */
        rd_compact_arrays decoded;
        r = decode_kept(&w, &decoded);
        if (r == RD_OK) r = rd_compact_finetune(ctx, &decoded, w.codes, w.slice_count, w.networks, &d);
        rd_compact_arrays_free(&decoded);
    }
    if (r == RD_OK) emit_codes(&w);
    if (r == RD_OK && w.networks) emit_networks(&w);
    for (int p = 0; p < PART_COUNT && r == RD_OK; p++)
        if (w.raw[p].failed) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    rd_bytes file = {0};
    if (r == RD_OK) r = assemble(&w, d.zstd_level, &file, report);
    if (r == RD_OK && report) {
        report->merged = merged, report->network_steps = w.networks ? rd_compact_network_steps(&d, w.n) : 0;
        report->cost_count = costs.cost_count;
        memcpy(report->costs, costs.costs, sizeof costs.costs);
    }
    if (r == RD_OK) r = rd_bytes_save(ctx, path, &file);
    rd_bytes_free(&file);
    for (int p = 0; p < PART_COUNT; p++) rd_bytes_free(&w.raw[p]);
    for (int k = 0; k < w.slice_count; k++) free(w.codes[k].centroids), free(w.codes[k].label);
    free(w.row);
    rd_compact_arrays_free(&w.kept);
    rd_appearance4d_free(w.networks);
    return r;
}
