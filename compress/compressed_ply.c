/* compressed_ply.c: PlayCanvas (SuperSplat) compressed PLY. Layout per spec/gaussians.md;
   the details follow playcanvas/splat-transform (readers/decompress-ply.ts and
   writers/compressed-chunk.ts): element `chunk` with min/max of x y z, of log scale and
   (optionally) of the DC colour r g b per 256 splats; element `vertex` with uint32
   packed_position and packed_scale (11-10-11 unorm in the chunk's range, x in the top
   bits), packed_rotation (rd_quat_pack_playcanvas) and packed_color (8-8-8-8, r in the
   top byte, alpha the opacity); optional element `sh` of uchar f_rest_j (channel-major),
   decoded as ((b + 0.5) / 256 - 0.5) * 8 with 0 and 255 the ends of the range. Scene
   axes are stored as they are (no conversion). */
#include "formats.h"
#include "conventions.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { CHUNK = 256 };
static const char *CHUNK_FIELDS[18] = {"min_x", "min_y", "min_z", "max_x", "max_y", "max_z",
                                       "min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z",
                                       "min_r", "min_g", "min_b", "max_r", "max_g", "max_b"};
static const char *PACKED_FIELDS[4] = {"packed_position", "packed_rotation", "packed_scale", "packed_color"};

bool rd_compressed_ply_detect(const rd_ply_header *h)
{
    const rd_ply_element *v = rd_ply_find_element(h, "vertex");
    return rd_ply_find_element(h, "chunk") || (v && rd_ply_find(v, "packed_position"));
}

static float lerp(float a, float b, float t) { return a * (1.0f - t) + b * t; }

static void unpack_111011(uint32_t v, float t[3])
{
    t[0] = rd_unpack_unorm(v >> 21, 11);
    t[1] = rd_unpack_unorm(v >> 11, 10);
    t[2] = rd_unpack_unorm(v, 11);
}

static float unpack_sh(uint8_t b) { return b == 0 ? -4.0f : b == 255 ? 4.0f : (((float)b + 0.5f) / 256.0f - 0.5f) * 8.0f; }

static rd_result find_props(rd_context *ctx, const char *path, const rd_ply_element *el, const char **names, int n,
                            rd_ply_type type, const rd_ply_property **out)
{
    for (int i = 0; i < n; i++) {
        out[i] = rd_ply_find(el, names[i]);
        if (!out[i]) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element %s: required property %s is missing", path, el->name, names[i]);
        if (out[i]->type != type)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element %s: property %s has type %s", path, el->name, names[i], out[i]->type_name);
    }
    return RD_OK;
}

rd_result rd_compressed_ply_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size,
                                   rd_ply_header *h, rd_scene **out)
{
    *out = NULL;
    int ci = rd_ply_element_index(h, "chunk"), vi = rd_ply_element_index(h, "vertex"), si = rd_ply_element_index(h, "sh");
    if (ci < 0 || vi < 0) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: compressed PLY needs both a chunk and a vertex element", path);
    const rd_ply_element *chunk = &h->elements[ci], *vertex = &h->elements[vi], *shel = si >= 0 ? &h->elements[si] : NULL;
    int64_t n = vertex->count;
    if ((n + CHUNK - 1) / CHUNK != chunk->count)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element chunk: %lld rows for %lld vertices (expected %lld)", path,
                       (long long)chunk->count, (long long)n, (long long)((n + CHUNK - 1) / CHUNK));
    int last = si > vi ? si : vi > ci ? vi : ci;
    rd_result r = rd_ply_locate(ctx, path, h, last, size);
    if (r != RD_OK) return r;
    bool colors = rd_ply_find(chunk, "min_r") != NULL;
    const rd_ply_property *cp[18], *vp[4], *sp[45];
    if ((r = find_props(ctx, path, chunk, CHUNK_FIELDS, colors ? 18 : 12, RD_PLY_FLOAT32, cp)) != RD_OK) return r;
    if ((r = find_props(ctx, path, vertex, PACKED_FIELDS, 4, RD_PLY_UINT32, vp)) != RD_OK) return r;
    int rest = 0, degree = 0;
    if (shel) {
        while (rest < 45) {
            char name[16];
            snprintf(name, sizeof name, "f_rest_%d", rest);
            if (!(sp[rest] = rd_ply_find(shel, name))) break;
            if (sp[rest]->type != RD_PLY_UINT8)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element sh: property %s has type %s (expected uchar)", path, name, sp[rest]->type_name);
            rest++;
        }
        degree = rest == 9 ? 1 : rest == 24 ? 2 : rest == 45 ? 3 : -1;
        if (degree < 0 || shel->count != n)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element sh: %d f_rest properties for %lld rows (expected 9, 24 or 45 for %lld)",
                           path, rest, (long long)shel->count, (long long)n);
    }
    rd_scene *s = NULL;
    if ((r = rd_scene_alloc_decoded(ctx, path, size, n, degree, &s)) != RD_OK) return r;
    int K = rd_sh_coeffs(degree);
    float c[18], t[3];
    for (int64_t i = 0; i < n; i++) {
        if (i % CHUNK == 0) { /* a new chunk: its ranges */
            const unsigned char *crow = data + chunk->data_offset + (size_t)(i / CHUNK) * chunk->stride;
            for (int f = 0; f < (colors ? 18 : 12); f++) c[f] = rd_ply_value(crow, cp[f]);
        }
        const unsigned char *vrow = data + vertex->data_offset + (size_t)i * vertex->stride;
        uint32_t packed[4];
        for (int f = 0; f < 4; f++) packed[f] = rd_le32(vrow + vp[f]->offset);
        unpack_111011(packed[0], t);
        for (int a = 0; a < 3; a++) s->means[3 * i + a] = lerp(c[a], c[3 + a], t[a]);
        unpack_111011(packed[2], t);
        for (int a = 0; a < 3; a++) s->log_scales[3 * i + a] = lerp(c[6 + a], c[9 + a], t[a]);
        rd_quat_unpack_playcanvas(packed[1], s->rotations + 4 * i);
        float *sh = s->sh + (size_t)i * (size_t)K * 3;
        for (int a = 0; a < 3; a++) {
            float v = rd_unpack_unorm(packed[3] >> (24 - 8 * a), 8);
            sh[a] = rd_dc_from_color(colors ? lerp(c[12 + a], c[15 + a], v) : v);
        }
        s->opacities[i] = rd_logit(rd_unpack_unorm(packed[3], 8));
        if (shel) {
            const unsigned char *srow = data + shel->data_offset + (size_t)i * shel->stride;
            for (int k = 1; k < K; k++)
                for (int a = 0; a < 3; a++) sh[3 * k + a] = unpack_sh(srow[sp[rd_sh_rest_index(K, k, a)]->offset]);
        }
    }
    s->flags = h->antialiased ? RD_SCENE_ANTIALIASED : 0;
    snprintf(s->format, sizeof s->format, "compressed-ply");
    snprintf(s->header, sizeof s->header, "compressed PLY: chunk %lld rows (%d properties), vertex %lld rows (packed), sh %d bytes a splat%s%s",
             (long long)chunk->count, chunk->nprops, (long long)n, rest, h->comment[0] ? "; comment: " : "", h->comment);
    *out = s;
    return RD_OK;
}

/* ---- writing ---- */

static uint64_t spread_bits(uint64_t v) /* 10 bits -> every third bit of 30 */
{
    v &= 0x3ff;
    v = (v | v << 16) & 0x030000ffull;
    v = (v | v << 8) & 0x0300f00full;
    v = (v | v << 4) & 0x030c30c3ull;
    v = (v | v << 2) & 0x09249249ull;
    return v;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

void rd_morton_order_points(const float *means, int stride, int64_t count, int64_t *order)
{
    float lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < count; i++)
        for (int a = 0; a < 3; a++) {
            float v = means[(size_t)stride * (size_t)i + a];
            if (isfinite(v)) lo[a] = fminf(lo[a], v), hi[a] = fmaxf(hi[a], v);
        }
    uint64_t *keys = malloc((size_t)(count ? count : 1) * sizeof *keys);
    if (!keys) { /* keep the stored order: still a valid file, only less compact */
        for (int64_t i = 0; i < count; i++) order[i] = i;
        return;
    }
    for (int64_t i = 0; i < count; i++) {
        uint64_t code = 0;
        for (int a = 0; a < 3; a++) {
            float v = means[(size_t)stride * (size_t)i + a], t = hi[a] > lo[a] && isfinite(v) ? (v - lo[a]) / (hi[a] - lo[a]) : 0.0f;
            code |= spread_bits(rd_pack_unorm(t, 10)) << (2 - a);
        }
        keys[i] = code << 34 | (uint64_t)i; /* the index breaks ties: a stable order */
    }
    qsort(keys, (size_t)count, sizeof *keys, compare_u64);
    for (int64_t i = 0; i < count; i++) order[i] = (int64_t)(keys[i] & ((1ull << 34) - 1));
    free(keys);
}

void rd_morton_order(const rd_scene *s, int64_t *order) { rd_morton_order_points(s->means, 3, s->count, order); }

static float normalize(float x, float lo, float hi)
{
    if (x <= lo) return 0.0f;
    if (x >= hi) return 1.0f;
    return hi - lo < 1e-5f ? 0.0f : (x - lo) / (hi - lo);
}

static uint32_t pack_111011(const float t[3])
{
    return rd_pack_unorm(t[0], 11) << 21 | rd_pack_unorm(t[1], 10) << 11 | rd_pack_unorm(t[2], 11);
}

/* min/max per chunk of position, log scale (clamped to +-20) and DC colour */
static void chunk_bounds(const rd_scene *s, const int64_t *order, int64_t first, int64_t end, float c[18])
{
    int K = rd_sh_coeffs(s->sh_degree);
    for (int g = 0; g < 3; g++)
        for (int a = 0; a < 3; a++) c[6 * g + a] = INFINITY, c[6 * g + 3 + a] = -INFINITY;
    for (int64_t j = first; j < end; j++) {
        int64_t i = order[j];
        for (int a = 0; a < 3; a++) {
            float v[3] = {s->means[3 * i + a], fminf(fmaxf(s->log_scales[3 * i + a], -20.0f), 20.0f),
                          rd_color_from_dc(s->sh[(size_t)i * (size_t)K * 3 + a])};
            for (int g = 0; g < 3; g++) {
                if (!isfinite(v[g])) continue;
                c[6 * g + a] = fminf(c[6 * g + a], v[g]);
                c[6 * g + 3 + a] = fmaxf(c[6 * g + 3 + a], v[g]);
            }
        }
    }
    for (int f = 0; f < 18; f++)
        if (!isfinite(c[f])) c[f] = 0.0f;
}

rd_result rd_compressed_ply_encode(rd_context *ctx, const char *path, const rd_scene *s, rd_bytes *out)
{
    int64_t n = s->count, chunks = (n + CHUNK - 1) / CHUNK;
    int K = rd_sh_coeffs(s->sh_degree), rest = 3 * (K - 1);
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order);
    float *bounds = malloc((size_t)(chunks ? chunks : 1) * 18 * sizeof *bounds);
    if (!order || !bounds) {
        free(order);
        free(bounds);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    rd_morton_order(s, order);
    rd_bytes_printf(out, "ply\nformat binary_little_endian 1.0\ncomment written by radiant\n");
    if (s->flags & RD_SCENE_ANTIALIASED) rd_bytes_printf(out, "comment antialiased 1\n");
    rd_bytes_printf(out, "element chunk %lld\n", (long long)chunks);
    for (int f = 0; f < 18; f++) rd_bytes_printf(out, "property float %s\n", CHUNK_FIELDS[f]);
    rd_bytes_printf(out, "element vertex %lld\n", (long long)n);
    for (int f = 0; f < 4; f++) rd_bytes_printf(out, "property uint %s\n", PACKED_FIELDS[f]);
    if (rest) {
        rd_bytes_printf(out, "element sh %lld\n", (long long)n);
        for (int j = 0; j < rest; j++) rd_bytes_printf(out, "property uchar f_rest_%d\n", j);
    }
    rd_bytes_printf(out, "end_header\n");
    for (int64_t k = 0; k < chunks; k++) {
        chunk_bounds(s, order, k * CHUNK, k * CHUNK + CHUNK < n ? k * CHUNK + CHUNK : n, bounds + 18 * k);
        for (int f = 0; f < 18; f++) rd_bytes_f32(out, bounds[18 * k + f]);
    }
    for (int64_t j = 0; j < n && !out->failed; j++) {
        int64_t i = order[j];
        const float *c = bounds + 18 * (j / CHUNK), *dc = s->sh + (size_t)i * (size_t)K * 3;
        float t[3];
        for (int a = 0; a < 3; a++) t[a] = normalize(s->means[3 * i + a], c[a], c[3 + a]);
        rd_bytes_u32(out, pack_111011(t));
        rd_bytes_u32(out, rd_quat_pack_playcanvas(s->rotations + 4 * i));
        for (int a = 0; a < 3; a++) t[a] = normalize(s->log_scales[3 * i + a], c[6 + a], c[9 + a]);
        rd_bytes_u32(out, pack_111011(t));
        uint32_t color = rd_pack_unorm(rd_sigmoid(s->opacities[i]), 8);
        for (int a = 0; a < 3; a++) color |= rd_pack_unorm(normalize(rd_color_from_dc(dc[a]), c[12 + a], c[15 + a]), 8) << (24 - 8 * a);
        rd_bytes_u32(out, color);
    }
    for (int64_t j = 0; j < n && rest && !out->failed; j++) {
        const float *sh = s->sh + (size_t)order[j] * (size_t)K * 3;
        unsigned char *row = rd_bytes_grow(out, (size_t)rest);
        if (!row) break;
        for (int k = 1; k < K; k++)
            for (int a = 0; a < 3; a++) row[rd_sh_rest_index(K, k, a)] = rd_byte(floorf((sh[3 * k + a] / 8.0f + 0.5f) * 256.0f));
    }
    free(order);
    free(bounds);
    return RD_OK;
}
