/* feature_field.c: feature fields made from the caller's arrays, checked, described and
   copied out (radiant_features.h). */
#include "features.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rd_feature_config_problem(int levels, int L, int K, int dim, char *buf, size_t n)
{
    if (levels < 1 || levels > RD_FEATURE_MAX_LEVELS)
        snprintf(buf, n, "levels %d is out of range (1..%d)", levels, RD_FEATURE_MAX_LEVELS);
    else if (L < 1 || L > RD_FEATURE_MAX_CODEBOOK)
        snprintf(buf, n, "codebook_size %d is out of range (1..%d)", L, RD_FEATURE_MAX_CODEBOOK);
    else if (K < 1 || K > RD_FEATURE_MAX_SLOTS || K > L)
        snprintf(buf, n, "slots %d is out of range (1..%d, at most codebook_size %d)", K, RD_FEATURE_MAX_SLOTS, L);
    else if (dim < 1 || dim > RD_FEATURE_MAX_DIM)
        snprintf(buf, n, "dim %d is out of range (1..%d)", dim, RD_FEATURE_MAX_DIM);
    else
        return NULL;
    return buf;
}

const char *rd_feature_slots_problem(const rd_feature_slots *s, char *buf, size_t n)
{
    for (int64_t g = 0; g < s->count * s->levels; g++) {
        const uint8_t *idx = s->indices + g * s->K;
        for (int k = 0; k < s->K; k++) {
            int64_t j = g * s->K + k;
            float w = rd_feature_slot_weight(s, j);
            long long gaussian = (long long)(g / s->levels);
            int level = (int)(g % s->levels) + 1;
            if (idx[k] >= s->L) {
                snprintf(buf, n, "Gaussian %lld, level %d, slot %d: index %d is past the codebook's %d entries", gaussian, level, k,
                         idx[k], s->L);
                return buf;
            }
            for (int m = 0; m < k; m++)
                if (idx[m] == idx[k]) {
                    snprintf(buf, n, "Gaussian %lld, level %d: slots %d and %d both name entry %d", gaussian, level, m, k, idx[k]);
                    return buf;
                }
            if (!isfinite(w) || w < 0.0f) {
                snprintf(buf, n, "Gaussian %lld, level %d, slot %d: weight %g is not a finite number >= 0", gaussian, level, k,
                         (double)w);
                return buf;
            }
        }
    }
    return NULL;
}

rd_feature_slots rd_feature_field_slots(const rd_feature_field *f)
{
    return (rd_feature_slots){.count = f->count, .levels = f->levels, .L = f->L, .K = f->K, .indices = f->indices,
                              .half_weights = f->weights};
}

rd_result rd_feature_field_alloc(rd_context *ctx, int64_t count, int levels, int L, int K, int dim, rd_feature_field **out)
{
    *out = NULL;
    rd_feature_field *f = calloc(1, sizeof *f);
    int64_t slots = count * levels * K;
    if (f) {
        static _Atomic uint64_t next_uid = 1;
        *f = (rd_feature_field){.uid = next_uid++, .count = count, .levels = levels, .L = L, .K = K, .dim = dim};
        f->indices = rd_alloc_array(slots > 0 ? slots : 1, 1);
        f->weights = rd_alloc_array(slots > 0 ? slots : 1, sizeof(uint16_t));
        f->codebooks = rd_alloc_array((int64_t)levels * L * dim, sizeof(float));
    }
    if (!f || !f->indices || !f->weights || !f->codebooks) {
        rd_feature_field_destroy(f);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "feature field: out of memory for %lld Gaussians", (long long)count);
    }
    memset(f->indices, 0, (size_t)(slots > 0 ? slots : 1));
    memset(f->weights, 0, (size_t)(slots > 0 ? slots : 1) * sizeof(uint16_t));
    memset(f->codebooks, 0, (size_t)levels * (size_t)L * (size_t)dim * sizeof(float));
    *out = f;
    return RD_OK;
}

rd_result rd_feature_field_create(rd_context *ctx, const rd_feature_field_desc *desc, rd_feature_field **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_field_create: out is NULL");
    *out = NULL;
    if (!desc) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_field_create: desc is NULL");
    int levels = desc->levels ? desc->levels : 3, L = desc->codebook_size ? desc->codebook_size : 64;
    int K = desc->slots ? desc->slots : (L < 4 ? L : 4), dim = desc->dim ? desc->dim : 512;
    char why[256];
    if (desc->count < 0 || desc->count > ((int64_t)1 << 40))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_field_create: count %lld is out of range", (long long)desc->count);
    if (rd_feature_config_problem(levels, L, K, dim, why, sizeof why))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_field_create: %s", why);
    rd_feature_field *f;
    rd_result r = rd_feature_field_alloc(ctx, desc->count, levels, L, K, dim, &f);
    if (r != RD_OK) return r;
    int64_t slots = desc->count * levels * K;
    for (int64_t j = 0; j < slots; j++) {
        f->indices[j] = desc->indices ? desc->indices[j] : (uint8_t)(j % K);
        f->weights[j] = desc->weights ? rd_half_from_float(desc->weights[j]) : 0;
    }
    if (desc->codebooks) memcpy(f->codebooks, desc->codebooks, (size_t)levels * (size_t)L * (size_t)dim * sizeof(float));
    rd_feature_slots view = rd_feature_field_slots(f);
    const char *problem = rd_feature_slots_problem(&view, why, sizeof why);
    for (int64_t c = 0; !problem && c < (int64_t)levels * L * dim; c++)
        if (!isfinite(f->codebooks[c])) {
            snprintf(why, sizeof why, "codebooks[%lld] is not finite", (long long)c);
            problem = why;
        }
    if (problem) {
        rd_feature_field_destroy(f);
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_field_create: %s", problem);
    }
    *out = f;
    return RD_OK;
}

void rd_feature_field_destroy(rd_feature_field *f)
{
    if (!f) return;
    free(f->indices);
    free(f->weights);
    free(f->codebooks);
    free(f);
}

void rd_feature_field_get_info(const rd_feature_field *f, rd_feature_field_info *out)
{
    memset(out, 0, sizeof *out);
    if (!f) return;
    *out = (rd_feature_field_info){.count = f->count, .levels = f->levels, .codebook_size = f->L, .slots = f->K, .dim = f->dim,
                                   .bytes_per_gaussian = (int64_t)f->levels * f->K * (1 + (int64_t)sizeof(uint16_t)),
                                   .codebook_bytes = (int64_t)f->levels * f->L * f->dim * (int64_t)sizeof(float)};
}

void rd_feature_field_read(const rd_feature_field *f, uint8_t *indices, float *weights, float *codebooks)
{
    int64_t slots = f->count * f->levels * f->K;
    if (indices) memcpy(indices, f->indices, (size_t)slots);
    for (int64_t j = 0; weights && j < slots; j++) weights[j] = rd_half_to_float(f->weights[j]);
    if (codebooks) memcpy(codebooks, f->codebooks, (size_t)f->levels * (size_t)f->L * (size_t)f->dim * sizeof(float));
}

bool rd_feature_path_beside(const char *scene_path, char *out, size_t n)
{
    const char *slash = strrchr(scene_path, '/'), *dot = strrchr(scene_path, '.');
    size_t stem = dot && (!slash || dot > slash) ? (size_t)(dot - scene_path) : strlen(scene_path);
    return snprintf(out, n, "%.*s.rfeat", (int)stem, scene_path) < (int)n;
}

void rd_feature_gram(const rd_feature_field *f, float *gram)
{
    for (int l = 0; l < f->levels; l++) {
        const float *D = f->codebooks + (size_t)l * f->L * f->dim;
        for (int a = 0; a < f->L; a++)
            for (int b = 0; b <= a; b++) {
                double s = 0.0;
                for (int d = 0; d < f->dim; d++) s += (double)D[(size_t)a * f->dim + d] * D[(size_t)b * f->dim + d];
                gram[((size_t)l * f->L + a) * f->L + b] = gram[((size_t)l * f->L + b) * f->L + a] = (float)s;
            }
    }
}
