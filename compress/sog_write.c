/* sog_write.c: writing PlayCanvas SOG version 2, the layout sog.c reads, as
   playcanvas/splat-transform src/lib/writers/write-sog.ts writes it: Gaussians in Morton
   order; images width ceil(sqrt(n) / 4) * 4 and height ceil(n / width / 4) * 4 (WebP
   lossless, exact RGB under alpha); means as 16 bits of sign(v) ln(|v| + 1) between
   per-axis mins and maxs; quaternions smallest-three with the largest's index in alpha;
   log scales and DC coefficients through 256-entry codebooks shared by the three channels;
   sigmoid(opacity) as a byte; SH beyond DC as a k-means palette of rd_sog_palette_size
   entries, its values through a third codebook. Bytes are rounded where splat-transform
   truncates (halving the error; the reader cannot tell). A name ending in meta.json
   writes the unbundled folder (the images beside it, meta.json last); any other name the
   zip bundle. */
#include "sog.h"
#include "sog_quantize.h"
#include "kmeans.h"
#include "conventions.h"
#include "../renderer/cpu/parallel.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

enum { OUT_MEANS_L, OUT_MEANS_U, OUT_QUATS, OUT_SCALES, OUT_SH0, OUT_CENTROIDS, OUT_LABELS, OUT_META, OUT_COUNT };
static const char *OUT_NAMES[OUT_COUNT] = {"means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp",
                                           "shN_centroids.webp", "shN_labels.webp", "meta.json"};

static double log_transform(double v) { return (v < 0 ? -1.0 : 1.0) * log(fabs(v) + 1.0); }

static uint8_t unit_byte(double t) { return (uint8_t)fmin(255.0, fmax(0.0, floor(t * 255.0 + 0.5))); }

/* The smallest-three quaternion: three bytes and the tag 252 + index of the largest. */
static void pack_quat(const float q_wxyz[4], unsigned char out[4])
{
    double q[4], n = 0.0;
    for (int k = 0; k < 4; k++) q[k] = q_wxyz[k], n += q[k] * q[k];
    n = sqrt(n);
    if (!(n > 0.0)) q[0] = 1.0, q[1] = q[2] = q[3] = 0.0, n = 1.0;
    int big = 0;
    for (int k = 1; k < 4; k++)
        if (fabs(q[k]) > fabs(q[big])) big = k;
    double sign = q[big] < 0 ? -1.0 : 1.0;
    int slot = 0;
    for (int k = 0; k < 4; k++)
        if (k != big) out[slot++] = unit_byte(q[k] / n * sign * sqrt(2.0) * 0.5 + 0.5);
    out[3] = (unsigned char)(252 + big);
}

typedef struct sog_encoder {
    rd_context *ctx;
    const char *path;
    const rd_scene *s;
    int64_t n, *order;
    int width, height, K, coeffs;
    rd_sog_image img[OUT_META];
    rd_sog_entry entry[OUT_COUNT];
    bool encoded[OUT_META];
    double means_min[3], means_max[3];
    float scales_cb[256], dc_cb[256], shn_cb[256];
    int palette;
} sog_encoder;

static void encode_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    sog_encoder *e = user;
    for (int64_t k = begin; k < end; k++)
        if (e->img[k].rgba) e->encoded[k] = rd_sog_webp_encode(&e->img[k], &e->entry[k].bytes);
}

static rd_result out_of_memory(sog_encoder *e) { return rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", e->path); }

static void fill_means(sog_encoder *e)
{
    const rd_scene *s = e->s;
    for (int a = 0; a < 3; a++) e->means_min[a] = INFINITY, e->means_max[a] = -INFINITY;
    for (int64_t i = 0; i < e->n; i++)
        for (int a = 0; a < 3; a++) {
            double v = log_transform(s->means[3 * i + a]);
            e->means_min[a] = fmin(e->means_min[a], v), e->means_max[a] = fmax(e->means_max[a], v);
        }
    for (int64_t j = 0; j < e->n; j++) {
        int64_t i = e->order[j];
        unsigned char *lo = e->img[OUT_MEANS_L].rgba + 4 * j, *hi = e->img[OUT_MEANS_U].rgba + 4 * j;
        for (int a = 0; a < 3; a++) {
            double span = e->means_max[a] - e->means_min[a];
            double t = span > 0 ? (log_transform(s->means[3 * i + a]) - e->means_min[a]) / span : 0.0;
            unsigned v = (unsigned)fmin(65535.0, fmax(0.0, floor(t * 65535.0 + 0.5)));
            lo[a] = (unsigned char)(v & 0xff), hi[a] = (unsigned char)(v >> 8);
        }
        lo[3] = hi[3] = 0xff;
        pack_quat(s->rotations + 4 * i, e->img[OUT_QUATS].rgba + 4 * j);
    }
}

/* log scales and DC colours through their codebooks; opacity as a byte */
static rd_result fill_codebooks(sog_encoder *e)
{
    const rd_scene *s = e->s;
    float *values = malloc((size_t)e->n * 3 * sizeof *values);
    if (!values) return out_of_memory(e);
    bool ok = rd_sog_codebook(s->log_scales, 3 * e->n, e->scales_cb);
    for (int64_t i = 0; i < e->n; i++)
        for (int c = 0; c < 3; c++) values[3 * i + c] = s->sh[(size_t)i * (size_t)e->K * 3 + c];
    ok = ok && rd_sog_codebook(values, 3 * e->n, e->dc_cb);
    free(values);
    if (!ok) return out_of_memory(e);
    for (int64_t j = 0; j < e->n; j++) {
        int64_t i = e->order[j];
        unsigned char *sc = e->img[OUT_SCALES].rgba + 4 * j, *c0 = e->img[OUT_SH0].rgba + 4 * j;
        for (int c = 0; c < 3; c++) {
            sc[c] = rd_sog_codebook_index(e->scales_cb, s->log_scales[3 * i + c]);
            c0[c] = rd_sog_codebook_index(e->dc_cb, s->sh[(size_t)i * (size_t)e->K * 3 + c]);
        }
        sc[3] = 0xff;
        c0[3] = unit_byte(1.0 / (1.0 + exp(-(double)s->opacities[i])));
    }
    return RD_OK;
}

/* The SH beyond DC: rows in f_rest order (channel-major), a palette, its values' codebook. */
static rd_result fill_palette(sog_encoder *e)
{
    const rd_scene *s = e->s;
    int d = 3 * e->coeffs, k = (int)rd_sog_palette_size(e->n);
    float *x = malloc((size_t)e->n * (size_t)d * sizeof *x), *palette = malloc((size_t)k * (size_t)d * sizeof *palette);
    int32_t *label = malloc((size_t)e->n * sizeof *label);
    rd_result r = x && palette && label ? RD_OK : out_of_memory(e);
    for (int64_t i = 0; r == RD_OK && i < e->n; i++)
        for (int j = 0; j < e->coeffs; j++)
            for (int c = 0; c < 3; c++) x[(size_t)i * d + c * e->coeffs + j] = s->sh[(size_t)i * (size_t)e->K * 3 + 3 * (j + 1) + c];
    if (r == RD_OK) {
        e->palette = rd_kmeans(x, e->n, d, k, e->ctx ? e->ctx->threads : 1, palette, label);
        if (e->palette < 0 || !rd_sog_codebook(palette, (int64_t)e->palette * d, e->shn_cb)) r = out_of_memory(e);
    }
    int rows = (e->palette + 63) / 64;
    rd_sog_image *cen = &e->img[OUT_CENTROIDS];
    if (r == RD_OK) {
        *cen = (rd_sog_image){64 * e->coeffs, rows, calloc((size_t)64 * e->coeffs * rows * 4, 1)};
        if (!cen->rgba) r = out_of_memory(e);
    }
    for (int p = 0; r == RD_OK && p < e->palette; p++) {
        unsigned char *px = cen->rgba + 4 * ((size_t)(p / 64) * cen->width + (size_t)(p % 64) * e->coeffs);
        for (int j = 0; j < e->coeffs; j++) {
            for (int c = 0; c < 3; c++) px[4 * j + c] = rd_sog_codebook_index(e->shn_cb, palette[(size_t)p * d + c * e->coeffs + j]);
            px[4 * j + 3] = 0xff;
        }
    }
    for (int64_t j = 0; r == RD_OK && j < e->n; j++) {
        unsigned char *px = e->img[OUT_LABELS].rgba + 4 * j;
        int32_t l = label[e->order[j]];
        px[0] = (unsigned char)(l & 0xff), px[1] = (unsigned char)(l >> 8), px[2] = 0, px[3] = 0xff;
    }
    free(x);
    free(palette);
    free(label);
    return r;
}

static cJSON *number_array(const double *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

static cJSON *codebook_json(const float cb[256])
{
    double v[256];
    for (int i = 0; i < 256; i++) v[i] = cb[i];
    return number_array(v, 256);
}

static cJSON *files_json(int first, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(OUT_NAMES[first + i]));
    return a;
}

static rd_result write_meta(sog_encoder *e)
{
    cJSON *root = cJSON_CreateObject(), *o;
    cJSON_AddNumberToObject(root, "version", 2);
    o = cJSON_AddObjectToObject(root, "asset");
    cJSON_AddStringToObject(o, "generator", "radiant");
    cJSON_AddNumberToObject(root, "count", (double)e->n);
    if (e->s->flags & RD_SCENE_ANTIALIASED) cJSON_AddStringToObject(root, "model", "antialiased");
    o = cJSON_AddObjectToObject(root, "means");
    cJSON_AddItemToObject(o, "mins", number_array(e->means_min, 3));
    cJSON_AddItemToObject(o, "maxs", number_array(e->means_max, 3));
    cJSON_AddItemToObject(o, "files", files_json(OUT_MEANS_L, 2));
    o = cJSON_AddObjectToObject(root, "scales");
    cJSON_AddItemToObject(o, "codebook", codebook_json(e->scales_cb));
    cJSON_AddItemToObject(o, "files", files_json(OUT_SCALES, 1));
    o = cJSON_AddObjectToObject(root, "quats");
    cJSON_AddItemToObject(o, "files", files_json(OUT_QUATS, 1));
    o = cJSON_AddObjectToObject(root, "sh0");
    cJSON_AddItemToObject(o, "codebook", codebook_json(e->dc_cb));
    cJSON_AddItemToObject(o, "files", files_json(OUT_SH0, 1));
    if (e->coeffs) {
        o = cJSON_AddObjectToObject(root, "shN");
        cJSON_AddNumberToObject(o, "count", e->palette);
        cJSON_AddNumberToObject(o, "bands", e->s->sh_degree);
        cJSON_AddItemToObject(o, "codebook", codebook_json(e->shn_cb));
        cJSON_AddItemToObject(o, "files", files_json(OUT_CENTROIDS, 2));
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text) return out_of_memory(e);
    rd_bytes_append(&e->entry[OUT_META].bytes, text, strlen(text));
    free(text);
    return e->entry[OUT_META].bytes.failed ? out_of_memory(e) : RD_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The unbundled folder: each image beside meta.json, meta.json last (a reader that finds
   it finds its images). */
static rd_result write_folder(sog_encoder *e, const int *which, int count)
{
    char dir[4096], full[4400];
    snprintf(dir, sizeof dir, "%s", e->path);
    char *slash = strrchr(dir, '/');
    if (!slash) strcpy(dir, ".");
    else slash[slash == dir ? 1 : 0] = 0;
    rd_result r = RD_OK;
    for (int k = 0; k < count && r == RD_OK; k++) {
        const rd_sog_entry *en = &e->entry[which[k]];
        if (which[k] == OUT_META) r = rd_file_write(e->ctx, e->path, en->bytes.data, en->bytes.size);
        else if (!rd_path_join(full, sizeof full, dir, en->name)) r = rd_fail(e->ctx, RD_ERROR_IO, "%s: the path is too long", e->path);
        else r = rd_file_write(e->ctx, full, en->bytes.data, en->bytes.size);
    }
    return r;
}

rd_result rd_sog_save(rd_context *ctx, const char *path, const rd_scene *s)
{
    sog_encoder *e = calloc(1, sizeof *e);
    if (!e) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    *e = (sog_encoder){.ctx = ctx, .path = path, .s = s, .n = s->count, .K = rd_sh_coeffs(s->sh_degree)};
    e->coeffs = e->K - 1;
    rd_result r = RD_OK;
    if (e->n < 1) {
        r = rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: SOG cannot hold a scene without Gaussians (its images need a pixel)", path);
    } else {
        e->width = (int)(ceil(sqrt((double)e->n) / 4.0) * 4.0);
        e->height = (int)(ceil((double)e->n / e->width / 4.0) * 4.0);
        if (e->width > 16383 || e->height > 16383)
            r = rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %lld Gaussians need %dx%d images, past WebP's 16383", path,
                        (long long)e->n, e->width, e->height);
    }
    int images = e->coeffs ? OUT_META : OUT_CENTROIDS;
    for (int k = 0; k < OUT_COUNT; k++) e->entry[k].name = OUT_NAMES[k];
    for (int k = 0; r == RD_OK && k < images; k++) {
        if (k == OUT_CENTROIDS) continue; /* sized by the palette */
        e->img[k] = (rd_sog_image){e->width, e->height, calloc((size_t)e->width * e->height * 4, 1)};
        if (!e->img[k].rgba) r = out_of_memory(e);
    }
    e->order = r == RD_OK ? malloc((size_t)e->n * sizeof *e->order) : NULL;
    if (r == RD_OK && !e->order) r = out_of_memory(e);
    if (r == RD_OK) {
        rd_morton_order(s, e->order);
        fill_means(e);
        r = fill_codebooks(e);
    }
    if (r == RD_OK && e->coeffs) r = fill_palette(e);
    if (r == RD_OK) {
        rd_parallel_for(ctx && ctx->threads > 0 ? ctx->threads : 1, images, 1, encode_range, e);
        for (int k = 0; k < images && r == RD_OK; k++)
            if (!e->encoded[k]) r = rd_fail(ctx, RD_ERROR_IO, "%s: libwebp cannot encode %s", path, OUT_NAMES[k]);
    }
    if (r == RD_OK) r = write_meta(e);
    if (r == RD_OK) {
        int which[OUT_COUNT], count = 0;
        for (int k = 0; k < images; k++) which[count++] = k;
        which[count++] = OUT_META;
        if (ends_with(path, "meta.json")) {
            r = write_folder(e, which, count);
        } else {
            rd_sog_entry list[OUT_COUNT];
            for (int k = 0; k < count; k++) list[k] = e->entry[which[k]];
            rd_bytes zip = {0};
            r = rd_sog_zip(ctx, path, list, count, &zip);
            if (r == RD_OK) r = rd_bytes_save(ctx, path, &zip);
            rd_bytes_free(&zip);
        }
    }
    for (int k = 0; k < OUT_COUNT; k++) {
        if (k < OUT_META) free(e->img[k].rgba);
        rd_bytes_free(&e->entry[k].bytes);
    }
    free(e->order);
    free(e);
    return r;
}
