/* sog.c: reading PlayCanvas SOG, the bundled .sog (a zip) and the unbundled folder
   (meta.json beside its images). Layout per playcanvas/splat-transform
   src/lib/readers/read-sog.ts (version 2) and read-sog-v1.ts (the older layout, no
   "version" field), which mirror the engine's src/scene/gsplat/gsplat-sog-data.js:
   - every per-Gaussian image is RGBA, Gaussian i at pixel i (row-major), at least count
     pixels;
   - means_l / means_u: the low and high bytes of 16-bit x, y, z (RGB), each a lerp between
     means.mins and means.maxs of sign(v) ln(|v| + 1) (a range of 0 reads as 1);
   - quats: three components in [-1/sqrt2, 1/sqrt2] as b / 255 * 2 - 1 scaled by 1/sqrt2,
     alpha 252 + the index (w, x, y, z order) of the largest, left out and rebuilt positive;
   - scales (log scales) and sh0 (DC coefficients in RGB, sigmoid(opacity) as a byte in
     alpha): v2 bytes index a 256-entry codebook (scales.codebook, sh0.codebook); v1 lerps
     per channel between mins and maxs, and its sh0 alpha is the logit itself;
   - shN: shN_labels holds a 16-bit palette index (R low, G high); shN_centroids holds the
     palette, 64 entries a row, each shCoeffs pixels wide (pixel j: coefficient j + 1, RGB
     the channels), bytes through shN.codebook (v2) or a lerp between the scalars shN.mins
     and shN.maxs (v1, whose bands follow from the width: 192, 512, 960).
   Positions are stored as splat-transform holds PLY data ("Transform.PLY"): radiant's
   own axes, no conversion, as for the compressed PLY. Decoded values follow
   splat-transform's arithmetic (doubles, rounded to float at the end; opacity bytes through
   its clamped logit), so radiant and splat-transform load the same Gaussians. Where
   splat-transform quietly substitutes (a quaternion tag outside 252-255, a label past the
   palette), radiant refuses the file and says where. */
#include "sog.h"
#include "conventions.h"
#include "../datasets/json_util.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>
#include <stdio.h>

enum { IMG_MEANS_L, IMG_MEANS_U, IMG_QUATS, IMG_SCALES, IMG_SH0, IMG_CENTROIDS, IMG_LABELS, IMG_COUNT };
static const char *IMG_FIELDS[IMG_COUNT] = {"means.files[0]", "means.files[1]", "quats.files[0]", "scales.files[0]",
                                            "sh0.files[0]", "shN.files[0]", "shN.files[1]"};
static const int SH_COEFFS[4] = {0, 3, 8, 15};

/* What meta.json says, with every per-byte mapping turned into a table. */
typedef struct sog_meta {
    int version; /* 1 or 2 */
    int64_t count, palette;
    int bands;            /* SH bands beyond DC (v1: known only once the centroids' width is) */
    double means_min[3], means_span[3];
    float scales[3][256]; /* log scale per axis and byte */
    float dc[3][256];     /* DC coefficient per channel and byte */
    float opacity[256];   /* logit per alpha byte */
    float shn[256];       /* SH coefficient per byte */
    double shn_min, shn_max; /* v1 */
    char files[IMG_COUNT][256];
    bool has_shn, antialiased;
    char model[32];
} sog_meta;

static rd_result field_error(rd_context *ctx, const char *path, const char *field, const char *problem)
{
    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: meta.json: field %s: %s", path, field, problem);
}

static const cJSON *object_at(const cJSON *root, const char *key) { return cJSON_GetObjectItemCaseSensitive(root, key); }

/* n finite numbers in obj[key] (exactly n when exact, else at least n) into out. */
static rd_result numbers(rd_context *ctx, const char *path, const cJSON *obj, const char *where, const char *key, int n, double *out)
{
    char field[96];
    snprintf(field, sizeof field, "%s.%s", where, key);
    const cJSON *a = object_at(obj, key);
    if (!a) return field_error(ctx, path, field, "missing");
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) {
        char problem[64];
        snprintf(problem, sizeof problem, "expected an array of %d numbers", n);
        return field_error(ctx, path, field, problem);
    }
    int i = 0;
    for (const cJSON *v = a->child; v; v = v->next, i++)
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
            char problem[64];
            snprintf(problem, sizeof problem, "element %d is not a finite number", i);
            return field_error(ctx, path, field, problem);
        } else {
            out[i] = v->valuedouble;
        }
    return RD_OK;
}

static rd_result codebook(rd_context *ctx, const char *path, const cJSON *obj, const char *where, float out[256])
{
    double v[256];
    rd_result r = numbers(ctx, path, obj, where, "codebook", 256, v);
    for (int i = 0; r == RD_OK && i < 256; i++) out[i] = (float)v[i]; /* splat-transform holds them in a Float32Array */
    return r;
}

/* obj[key] as an object, or an error naming it. */
static rd_result section(rd_context *ctx, const char *path, const cJSON *root, const char *key, const cJSON **out)
{
    *out = object_at(root, key);
    if (!*out) return field_error(ctx, path, key, "missing");
    if (!cJSON_IsObject(*out)) return field_error(ctx, path, key, "expected an object");
    return RD_OK;
}

/* obj.files: n file names into meta->files[first..]. */
static rd_result file_names(rd_context *ctx, const char *path, const cJSON *obj, const char *where, int n, int first, sog_meta *m)
{
    char field[64];
    snprintf(field, sizeof field, "%s.files", where);
    const cJSON *a = object_at(obj, "files");
    if (!a) return field_error(ctx, path, field, "missing");
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) < n) {
        char problem[64];
        snprintf(problem, sizeof problem, "expected an array of %d file names", n);
        return field_error(ctx, path, field, problem);
    }
    const cJSON *v = a->child;
    for (int i = 0; i < n; i++, v = v->next) {
        if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof m->files[0])
            return field_error(ctx, path, IMG_FIELDS[first + i], "expected a file name");
        snprintf(m->files[first + i], sizeof m->files[0], "%s", v->valuestring);
    }
    return RD_OK;
}

/* splat-transform's sigmoidInv: the logit of p clamped to [1e-6, 1 - 1e-6] */
static float clamped_logit(double p)
{
    double e = fmin(1.0 - 1e-6, fmax(1e-6, p));
    return (float)log(e / (1.0 - e));
}

/* v1's per-channel lerp between min and max, as a byte table */
static void lerp_table(double lo, double hi, float out[256])
{
    for (int b = 0; b < 256; b++) out[b] = (float)(lo + (hi - lo) * (b / 255.0));
}

static rd_result parse_meta(rd_context *ctx, const char *path, const cJSON *root, sog_meta *m)
{
    memset(m, 0, sizeof *m);
    if (!cJSON_IsObject(root)) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: meta.json: expected a JSON object", path);
    const cJSON *version = object_at(root, "version");
    if (!version) {
        m->version = 1; /* the older layout has no version field */
    } else if (!cJSON_IsNumber(version) || version->valuedouble != 2.0) {
        char text[64] = "not a number";
        if (cJSON_IsNumber(version)) snprintf(text, sizeof text, "%g", version->valuedouble);
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: meta.json: field version: %s (radiant reads version 2, and the older "
                       "layout without the field)", path, text);
    } else {
        m->version = 2;
    }
    const cJSON *means, *scales, *quats, *sh0, *shn = object_at(root, "shN"), *model = object_at(root, "model");
    rd_result r;
    if ((r = section(ctx, path, root, "means", &means)) || (r = section(ctx, path, root, "scales", &scales)) ||
        (r = section(ctx, path, root, "quats", &quats)) || (r = section(ctx, path, root, "sh0", &sh0)))
        return r;
    if (m->version == 2) {
        if ((r = rd_json_whole(ctx, path, "meta.json", root, "count", true, 0, (double)RD_MAX_FILE_SPLATS, &m->count)) != RD_OK)
            return r;
    } else {
        const cJSON *shape = object_at(means, "shape");
        if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) < 1 || !cJSON_IsNumber(shape->child))
            return field_error(ctx, path, "means.shape", shape ? "expected an array whose first number is the count" : "missing");
        double c = shape->child->valuedouble;
        if (!(c >= 0 && c <= (double)RD_MAX_FILE_SPLATS && c == floor(c)))
            return field_error(ctx, path, "means.shape[0]", "expected a whole count within radiant's limit");
        m->count = (int64_t)c;
    }
    double mins[3], maxs[3];
    if ((r = numbers(ctx, path, means, "means", "mins", 3, mins)) || (r = numbers(ctx, path, means, "means", "maxs", 3, maxs)))
        return r;
    for (int a = 0; a < 3; a++) m->means_min[a] = mins[a], m->means_span[a] = maxs[a] - mins[a] != 0 ? maxs[a] - mins[a] : 1.0;
    if ((r = file_names(ctx, path, means, "means", 2, IMG_MEANS_L, m)) || (r = file_names(ctx, path, quats, "quats", 1, IMG_QUATS, m)) ||
        (r = file_names(ctx, path, scales, "scales", 1, IMG_SCALES, m)) || (r = file_names(ctx, path, sh0, "sh0", 1, IMG_SH0, m)))
        return r;
    if (m->version == 2) {
        if ((r = codebook(ctx, path, scales, "scales", m->scales[0])) || (r = codebook(ctx, path, sh0, "sh0", m->dc[0]))) return r;
        for (int c = 1; c < 3; c++) memcpy(m->scales[c], m->scales[0], sizeof m->scales[0]), memcpy(m->dc[c], m->dc[0], sizeof m->dc[0]);
        for (int b = 0; b < 256; b++) m->opacity[b] = clamped_logit(b / 255.0);
    } else {
        double lo[4], hi[4];
        if ((r = numbers(ctx, path, scales, "scales", "mins", 3, lo)) || (r = numbers(ctx, path, scales, "scales", "maxs", 3, hi)))
            return r;
        for (int a = 0; a < 3; a++) lerp_table(lo[a], hi[a], m->scales[a]);
        if ((r = numbers(ctx, path, sh0, "sh0", "mins", 4, lo)) || (r = numbers(ctx, path, sh0, "sh0", "maxs", 4, hi))) return r;
        for (int c = 0; c < 3; c++) lerp_table(lo[c], hi[c], m->dc[c]);
        lerp_table(lo[3], hi[3], m->opacity); /* v1 stores the logit itself */
    }
    if (shn) {
        if (!cJSON_IsObject(shn)) return field_error(ctx, path, "shN", "expected an object");
        m->has_shn = true;
        if ((r = file_names(ctx, path, shn, "shN", 2, IMG_CENTROIDS, m)) != RD_OK) return r;
        if (m->version == 2) {
            int64_t bands = 0;
            if ((r = rd_json_whole(ctx, path, "meta.json: shN", shn, "bands", true, 0, 3, &bands)) ||
                (r = rd_json_whole(ctx, path, "meta.json: shN", shn, "count", true, 1, 65536, &m->palette)) ||
                (r = codebook(ctx, path, shn, "shN", m->shn)))
                return r;
            m->bands = (int)bands;
            m->has_shn = bands > 0;
        } else {
            const cJSON *lo = object_at(shn, "mins"), *hi = object_at(shn, "maxs");
            if (!cJSON_IsNumber(lo) || !isfinite(lo->valuedouble)) return field_error(ctx, path, "shN.mins", "expected a finite number");
            if (!cJSON_IsNumber(hi) || !isfinite(hi->valuedouble)) return field_error(ctx, path, "shN.maxs", "expected a finite number");
            lerp_table(lo->valuedouble, hi->valuedouble, m->shn);
        }
    }
    if (cJSON_IsString(model)) {
        snprintf(m->model, sizeof m->model, "%s", model->valuestring);
        m->antialiased = strcmp(model->valuestring, "antialiased") == 0;
    }
    return RD_OK;
}

/* ---- images ---- */

typedef struct image_job {
    const unsigned char *data[IMG_COUNT];
    size_t size[IMG_COUNT];
    rd_sog_image img[IMG_COUNT];
    bool ok[IMG_COUNT];
    uint64_t base; /* the decode limit's base: the bundle's bytes, or every file's of a folder */
} image_job;

static void decode_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    image_job *job = user;
    for (int64_t k = begin; k < end; k++)
        if (job->img[k].rgba) job->ok[k] = rd_sog_webp_decode(job->data[k], job->size[k], &job->img[k]);
}

/* Reads and decodes the images meta.json names, each checked against what it must hold
   before anything is decoded, the decode limit included. */
static rd_result load_images(rd_context *ctx, const rd_sog_source *src, sog_meta *m, image_job *job, uint64_t base,
                             uint64_t scene_bytes)
{
    int n = m->has_shn ? IMG_COUNT : IMG_CENTROIDS;
    uint64_t total = scene_bytes;
    job->base = src->zip ? src->file_size : base;
    rd_result r = RD_OK;
    for (int k = 0; k < n && r == RD_OK; k++) {
        r = rd_sog_source_read(ctx, src, m->files[k], IMG_FIELDS[k], (unsigned char **)&job->data[k], &job->size[k]);
        if (r != RD_OK) break;
        if (!src->zip) job->base += job->size[k];
        int w, h;
        if (!rd_sog_webp_size(job->data[k], job->size[k], &w, &h)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (%s): not a WebP image", src->path, m->files[k], IMG_FIELDS[k]);
            break;
        }
        job->img[k].width = w, job->img[k].height = h;
        if (k == IMG_CENTROIDS) {
            if (m->version == 1) { /* v1 says its bands by the palette's width only */
                m->bands = w == 192 ? 1 : w == 512 ? 2 : w == 960 ? 3 : 0;
                if (!m->bands) {
                    r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (%s): %d pixels wide (a version 1 palette is 192, 512 or 960: "
                                "64 entries of 3, 8 or 15 coefficients)", src->path, m->files[k], IMG_FIELDS[k], w);
                    break;
                }
                m->palette = (int64_t)(w / SH_COEFFS[m->bands]) * h;
            }
            int64_t rows = (m->palette + 63) / 64;
            if (w != 64 * SH_COEFFS[m->bands] || h < rows)
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (%s): %dx%d pixels (expected %d wide and at least %lld high for %lld "
                            "palette entries of SH degree %d)", src->path, m->files[k], IMG_FIELDS[k], w, h,
                            64 * SH_COEFFS[m->bands], (long long)rows, (long long)m->palette, m->bands);
        } else if ((int64_t)w * h < m->count) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (%s): %dx%d pixels, fewer than count (%lld Gaussians)", src->path,
                        m->files[k], IMG_FIELDS[k], w, h, (long long)m->count);
        }
        total += (uint64_t)w * (uint64_t)h * 4u;
    }
    if (r == RD_OK) {
        char what[128];
        snprintf(what, sizeof what, "%lld Gaussians (%d decoded images, then the scene)", (long long)m->count, n);
        r = rd_decode_check(ctx, src->path, job->base, total, what);
    }
    for (int k = 0; k < n && r == RD_OK; k++) {
        job->img[k].rgba = malloc((size_t)job->img[k].width * (size_t)job->img[k].height * 4u);
        if (!job->img[k].rgba) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold %s decoded", src->path, m->files[k]);
    }
    if (r == RD_OK) {
        rd_parallel_for(ctx && ctx->threads > 0 ? ctx->threads : 1, n, 1, decode_range, job);
        for (int k = 0; k < n && r == RD_OK; k++)
            if (!job->ok[k])
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (%s): libwebp cannot decode it (truncated or corrupt)", src->path,
                            m->files[k], IMG_FIELDS[k]);
    }
    return r;
}

/* ---- Gaussians ---- */

typedef struct fill_job {
    const sog_meta *m;
    const image_job *images;
    double quat[256]; /* a stored byte as a quaternion component */
    rd_scene *scene;
} fill_job;

static float inverse_log(double v)
{
    double e = exp(fabs(v)) - 1.0;
    return (float)(v < 0 ? -e : e);
}

static void fill_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const fill_job *job = user;
    const sog_meta *m = job->m;
    const rd_sog_image *img = job->images->img;
    rd_scene *s = job->scene;
    int coeffs = m->has_shn ? SH_COEFFS[m->bands] : 0, K = rd_sh_coeffs(s->sh_degree);
    for (int64_t i = begin; i < end; i++) {
        size_t o = 4 * (size_t)i;
        for (int a = 0; a < 3; a++) {
            unsigned v = img[IMG_MEANS_L].rgba[o + a] | (unsigned)img[IMG_MEANS_U].rgba[o + a] << 8;
            s->means[3 * i + a] = inverse_log(m->means_min[a] + m->means_span[a] * (v / 65535.0));
            s->log_scales[3 * i + a] = m->scales[a][img[IMG_SCALES].rgba[o + a]];
        }
        const unsigned char *q = img[IMG_QUATS].rgba + o;
        int big = q[3] - 252, slot = 0; /* checked to be 0..3 */
        double c[4], sum = 0.0;
        for (int k = 0; k < 4; k++) {
            if (k == big) continue;
            c[k] = job->quat[q[slot++]];
            sum += c[k] * c[k];
        }
        c[big] = sqrt(fmax(0.0, 1.0 - sum));
        for (int k = 0; k < 4; k++) s->rotations[4 * i + k] = (float)c[k];
        float *sh = s->sh + (size_t)i * (size_t)K * 3;
        for (int ch = 0; ch < 3; ch++) sh[ch] = m->dc[ch][img[IMG_SH0].rgba[o + ch]];
        s->opacities[i] = m->opacity[img[IMG_SH0].rgba[o + 3]];
        if (!coeffs) continue;
        unsigned label = img[IMG_LABELS].rgba[o] | (unsigned)img[IMG_LABELS].rgba[o + 1] << 8; /* checked < palette */
        const unsigned char *entry =
            img[IMG_CENTROIDS].rgba + 4 * ((size_t)(label / 64) * (size_t)img[IMG_CENTROIDS].width + (label % 64) * (size_t)coeffs);
        for (int j = 0; j < coeffs; j++)
            for (int ch = 0; ch < 3; ch++) sh[3 * (j + 1) + ch] = m->shn[entry[4 * j + ch]];
    }
}

/* The bytes splat-transform would quietly replace: refused with their place. */
static rd_result check_bytes(rd_context *ctx, const char *path, const sog_meta *m, const image_job *job)
{
    const unsigned char *q = job->img[IMG_QUATS].rgba;
    for (int64_t i = 0; i < m->count; i++)
        if (q[4 * i + 3] < 252)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (quats.files[0]): Gaussian %lld (pixel %lld, %lld): alpha %d is not a "
                           "largest-component tag (252-255)", path, m->files[IMG_QUATS], (long long)i,
                           (long long)(i % job->img[IMG_QUATS].width), (long long)(i / job->img[IMG_QUATS].width), q[4 * i + 3]);
    if (!m->has_shn) return RD_OK;
    const unsigned char *l = job->img[IMG_LABELS].rgba;
    for (int64_t i = 0; i < m->count; i++) {
        unsigned label = l[4 * i] | (unsigned)l[4 * i + 1] << 8;
        if (label >= m->palette)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (shN.files[1]): Gaussian %lld: label %u is past the palette's %lld "
                           "entries (shN.count)", path, m->files[IMG_LABELS], (long long)i, label, (long long)m->palette);
    }
    return RD_OK;
}

static rd_result decode(rd_context *ctx, const rd_sog_source *src, rd_scene **out)
{
    const char *path = src->path;
    unsigned char *text = NULL;
    size_t size = 0;
    rd_result r = rd_sog_source_read(ctx, src, "meta.json", "entry", &text, &size);
    uint64_t meta_size = size;
    if (r != RD_OK) return r;
    cJSON *root = NULL;
    sog_meta *m = calloc(1, sizeof *m);
    if (!m) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (r == RD_OK) r = rd_json_parse(ctx, path, (const char *)text, size, &root);
    free(text);
    if (r == RD_OK) r = parse_meta(ctx, path, root, m);
    cJSON_Delete(root);
    image_job *images = r == RD_OK ? calloc(1, sizeof *images) : NULL;
    if (r == RD_OK && !images) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (r == RD_OK) {
        /* the scene's degree is known once a v1 palette's width is read: reckon with the most */
        r = load_images(ctx, src, m, images, meta_size, rd_scene_bytes(m->count, m->has_shn ? 3 : 0));
    }
    if (r == RD_OK) r = check_bytes(ctx, path, m, images);
    rd_scene *s = NULL;
    if (r == RD_OK) r = rd_scene_alloc_decoded(ctx, path, images->base, m->count, m->has_shn ? m->bands : 0, &s);
    if (r == RD_OK) {
        fill_job job = {.m = m, .images = images, .scene = s};
        for (int b = 0; b < 256; b++) job.quat[b] = (b / 255.0 * 2.0 - 1.0) / sqrt(2.0);
        rd_parallel_for(ctx && ctx->threads > 0 ? ctx->threads : 1, m->count, 1 << 14, fill_range, &job);
        if (m->antialiased) s->flags |= RD_SCENE_ANTIALIASED;
        if (m->model[0] && !m->antialiased && strcmp(m->model, "default") != 0)
            rd_log(ctx, RD_LOG_WARN, "%s: meta.json: model \"%s\" is read as ordinary 3D Gaussians", path, m->model);
        snprintf(s->format, sizeof s->format, "sog");
        char palette[48] = "";
        if (m->has_shn) snprintf(palette, sizeof palette, ", palette %lld entries", (long long)m->palette);
        snprintf(s->header, sizeof s->header, "SOG v%d (%s): count %lld, images %dx%d, SH degree %d%s%s%s", m->version,
                 src->zip ? "bundled" : "folder", (long long)m->count, images->img[IMG_MEANS_L].width,
                 images->img[IMG_MEANS_L].height, m->has_shn ? m->bands : 0, palette, m->model[0] ? ", model " : "", m->model);
        *out = s;
    }
    if (images)
        for (int k = 0; k < IMG_COUNT; k++) free((void *)images->data[k]), free(images->img[k].rgba);
    free(images);
    free(m);
    return r;
}

bool rd_sog_detect(const unsigned char *data, size_t size)
{
    return size >= 4 && data[0] == 'P' && data[1] == 'K' && data[2] == 3 && data[3] == 4;
}

rd_result rd_sog_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    rd_sog_source src;
    rd_result r = rd_sog_source_zip(ctx, path, data, size, &src);
    if (r != RD_OK) return r;
    r = decode(ctx, &src, out);
    rd_sog_source_close(&src);
    return r;
}

rd_result rd_sog_load_folder(rd_context *ctx, const char *path, rd_scene **out)
{
    *out = NULL;
    rd_sog_source src = {.path = path};
    if (strlen(path) >= sizeof src.dir) return rd_fail(ctx, RD_ERROR_IO, "%s: the path is too long", path);
    strcpy(src.dir, path);
    if (!rd_dir_exists(path)) { /* the folder meta.json is in */
        char *slash = strrchr(src.dir, '/');
        if (!slash) strcpy(src.dir, ".");
        else slash[slash == src.dir ? 1 : 0] = 0;
    }
    char meta[4400];
    if (!rd_path_join(meta, sizeof meta, src.dir, "meta.json") || !rd_file_exists(meta))
        return rd_fail(ctx, RD_ERROR_IO, "%s: no meta.json in %s (an unbundled SOG is a folder with meta.json and its images)", path,
                       src.dir);
    return decode(ctx, &src, out);
}
