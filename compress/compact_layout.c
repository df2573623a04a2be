/* compact_layout.c: what the compact file's slices take of a 3D or 4D Gaussian (compact.h):
   the writer and the reader both go through these, so that they cannot disagree. */
#include "compact.h"
#include "../renderer/cpu/parallel.h"
#include "../splat/appearance4d.h"
#include "../splat/scene4d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const char *rd_compact_attribute_name(rd_compact_attribute a)
{
    static const char *const names[] = {"log_scales", "rotations", "opacities", "sh_dc", "sh_rest", "features"};
    return (unsigned)a < RD_COMPACT_ATTRIBUTES ? names[a] : "unknown";
}

bool rd_compact_arrays_of(const rd_scene *scene, rd_compact_arrays *out)
{
    memset(out, 0, sizeof *out);
    if (rd_is_gaussians(scene)) {
        rd_scene_desc d = rd_scene_arrays(scene);
        if (d.memory != RD_MEMORY_HOST) return false;
        /* the file keeps the antialiased flag only: RD_SCENE_HALF_SH says how a scene is held, not what it is */
        *out = (rd_compact_arrays){false, d.count, d.sh_degree, 0, 0.0f, d.flags & RD_SCENE_ANTIALIASED, (float *)d.means, (float *)d.log_scales,
                                   (float *)d.rotations, (float *)d.opacities, (float *)d.sh};
        return true;
    }
    if (rd_is_gaussians4d(scene)) {
        rd_scene4d_desc d = rd_scene4d_arrays(scene);
        if (d.memory != RD_MEMORY_HOST) return false;
        *out = (rd_compact_arrays){true, d.count, d.sh_degree, d.time_degree, d.time_period, 0, (float *)d.means,
                                   (float *)d.log_scales, (float *)d.rotations, (float *)d.opacities, (float *)d.sh};
        return true;
    }
    return false;
}

int rd_compact_mean_floats(const rd_compact_arrays *a) { return a->four_d ? 4 : 3; }
int rd_compact_rotation_floats(const rd_compact_arrays *a) { return a->four_d ? 8 : 4; }
int rd_compact_sh_floats(const rd_compact_arrays *a)
{
    return a->four_d ? (int)rd_scene4d_sh_floats(a->sh_degree, a->time_degree) : 3 * rd_sh_coeffs(a->sh_degree);
}

int rd_compact_attribute_width(const rd_compact_arrays *a, rd_compact_attribute attribute)
{
    switch (attribute) {
    case RD_COMPACT_LOG_SCALES: return rd_compact_mean_floats(a);
    case RD_COMPACT_ROTATIONS: return rd_compact_rotation_floats(a);
    case RD_COMPACT_OPACITIES: return a->appearance ? 0 : 1;
    case RD_COMPACT_SH_DC: return a->appearance ? 0 : 3;
    case RD_COMPACT_SH_REST: return a->appearance ? 0 : rd_compact_sh_floats(a) - 3;
    case RD_COMPACT_FEATURES: return a->appearance ? RD_APPEARANCE_FEATURES : 0;
    default: return 0;
    }
}

int rd_compact_default_slices(const rd_compact_arrays *a, rd_compact_slice out[RD_COMPACT_MAX_SLICES])
{
    int n = 0;
    for (int k = 0; k < rd_compact_mean_floats(a); k++) out[n++] = (rd_compact_slice){RD_COMPACT_LOG_SCALES, k, 1, 9, 0};
    for (int k = 0; k < rd_compact_rotation_floats(a); k += 2) out[n++] = (rd_compact_slice){RD_COMPACT_ROTATIONS, k, 2, 13, 0};
    if (a->appearance) {
        for (int k = 0; k < RD_APPEARANCE_FEATURES; k += 2) out[n++] = (rd_compact_slice){RD_COMPACT_FEATURES, k, 2, 10, 0};
        return n;
    }
    out[n++] = (rd_compact_slice){RD_COMPACT_OPACITIES, 0, 1, 8, 0};
    out[n++] = (rd_compact_slice){RD_COMPACT_SH_DC, 0, 3, 12, 0};
    int rest = rd_compact_attribute_width(a, RD_COMPACT_SH_REST);
    if (rest > 9 && rd_compact_mean_floats(a) == 3) { /* 3D: a codebook a band (9, 15, 21 floats) */
        for (int first = 0, band = 1; first < rest; first += 3 * (2 * band + 1), band++)
            out[n++] = (rd_compact_slice){RD_COMPACT_SH_REST, first, 3 * (2 * band + 1), 12, 0};
    } else if (rest > 0) {
        out[n++] = (rd_compact_slice){RD_COMPACT_SH_REST, 0, rest, 13, 0};
    }
    return n;
}

/* q normalised with w >= 0 (a zero or non-finite one left as it is: it draws nothing). */
static void canonical_quaternion(const float *q, float *row)
{
    double len = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
    double scale = len > 0.0 && isfinite(len) ? (q[0] < 0.0f ? -1.0 : 1.0) / len : 1.0;
    for (int c = 0; c < 4; c++) row[c] = (float)(q[c] * scale);
}

void rd_compact_row_get(const rd_compact_arrays *a, rd_compact_attribute attribute, int64_t i, float *row)
{
    size_t m = (size_t)rd_compact_mean_floats(a), r = (size_t)rd_compact_rotation_floats(a), c = (size_t)rd_compact_sh_floats(a);
    switch (attribute) {
    case RD_COMPACT_LOG_SCALES: memcpy(row, a->log_scales + (size_t)i * m, m * sizeof(float)); break;
    case RD_COMPACT_ROTATIONS:
        for (size_t k = 0; k < r; k += 4) canonical_quaternion(a->rotations + (size_t)i * r + k, row + k);
        break;
    case RD_COMPACT_OPACITIES: row[0] = rd_sigmoid(a->opacities[i]); break;
    case RD_COMPACT_SH_DC: memcpy(row, a->sh + (size_t)i * c, 3 * sizeof(float)); break;
    case RD_COMPACT_SH_REST: memcpy(row, a->sh + (size_t)i * c + 3, (c - 3) * sizeof(float)); break;
    case RD_COMPACT_FEATURES:
        if (a->features) memcpy(row, a->features + (size_t)i * RD_APPEARANCE_FEATURES, RD_APPEARANCE_FEATURES * sizeof(float));
        break;
    default: break;
    }
}

void rd_compact_row_grad(const rd_compact_arrays *a, const rd_compact_arrays *grads, rd_compact_attribute attribute, int64_t i,
                         float *row)
{
    if (attribute == RD_COMPACT_OPACITIES) { /* the row is sigmoid(logit): d/drow = d/dlogit / (p (1 - p)) */
        float p = rd_sigmoid(a->opacities[i]);
        row[0] = grads->opacities[i] / fmaxf(p * (1.0f - p), 1e-4f);
        return;
    }
    if (attribute == RD_COMPACT_ROTATIONS) { /* the decoded quaternions are the rows themselves, not normalised again */
        size_t r = (size_t)rd_compact_rotation_floats(a);
        memcpy(row, grads->rotations + (size_t)i * r, r * sizeof(float));
        return;
    }
    rd_compact_row_get(grads, attribute, i, row); /* log-scales and colour: the rows are the parameters */
}

void rd_compact_row_set(const rd_compact_arrays *a, rd_compact_attribute attribute, int64_t i, const float *row)
{
    size_t m = (size_t)rd_compact_mean_floats(a), r = (size_t)rd_compact_rotation_floats(a), c = (size_t)rd_compact_sh_floats(a);
    switch (attribute) {
    case RD_COMPACT_LOG_SCALES: memcpy(a->log_scales + (size_t)i * m, row, m * sizeof(float)); break;
    case RD_COMPACT_ROTATIONS: memcpy(a->rotations + (size_t)i * r, row, r * sizeof(float)); break;
    case RD_COMPACT_OPACITIES: a->opacities[i] = rd_logit(row[0]); break;
    case RD_COMPACT_SH_DC: memcpy(a->sh + (size_t)i * c, row, 3 * sizeof(float)); break;
    case RD_COMPACT_SH_REST: memcpy(a->sh + (size_t)i * c + 3, row, (c - 3) * sizeof(float)); break;
    case RD_COMPACT_FEATURES:
        if (a->features) memcpy(a->features + (size_t)i * RD_APPEARANCE_FEATURES, row, RD_APPEARANCE_FEATURES * sizeof(float));
        break;
    default: break;
    }
}

typedef struct apply_job {
    const rd_compact_arrays *a;
    const rd_compact_codes *codes;
    int slice_count;
} apply_job;

static void apply_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const apply_job *j = user;
    float row[RD_COMPACT_ATTRIBUTES][RD_COMPACT_MAX_ROW];
    for (int64_t i = begin; i < end; i++)
        for (int k = 0; k < j->slice_count; k++) {
            const rd_compact_slice *s = &j->codes[k].slice;
            const float *entry = j->codes[k].centroids + (size_t)j->codes[k].label[i] * s->width;
            for (int w = 0; w < s->width; w++) row[s->attribute][s->first + w] = entry[w]; /* 1-3 floats: no memcpy call */
            if (k + 1 == j->slice_count || j->codes[k + 1].slice.attribute != s->attribute)
                rd_compact_row_set(j->a, s->attribute, i, row[s->attribute]);
        }
}

void rd_compact_apply_codes(const rd_compact_arrays *a, const rd_compact_codes *codes, int slice_count, int threads)
{
    apply_job job = {a, codes, slice_count};
    rd_parallel_for(threads, a->count, 4096, apply_range, &job);
}

bool rd_compact_arrays_alloc(const rd_compact_arrays *like, int64_t count, rd_compact_arrays *out)
{
    *out = *like;
    out->count = count;
    int64_t n = count > 0 ? count : 1;
    out->means = malloc((size_t)n * (size_t)rd_compact_mean_floats(like) * sizeof(float));
    out->log_scales = malloc((size_t)n * (size_t)rd_compact_mean_floats(like) * sizeof(float));
    out->rotations = malloc((size_t)n * (size_t)rd_compact_rotation_floats(like) * sizeof(float));
    out->opacities = malloc((size_t)n * sizeof(float));
    out->sh = malloc((size_t)n * (size_t)rd_compact_sh_floats(like) * sizeof(float));
    out->features = like->appearance ? malloc((size_t)n * RD_APPEARANCE_FEATURES * sizeof(float)) : NULL;
    if (out->means && out->log_scales && out->rotations && out->opacities && out->sh && (out->features || !like->appearance))
        return true;
    rd_compact_arrays_free(out);
    return false;
}

void rd_compact_arrays_free(rd_compact_arrays *a)
{
    free(a->means), free(a->log_scales), free(a->rotations), free(a->opacities), free(a->sh), free(a->features);
    a->means = a->log_scales = a->rotations = a->opacities = a->sh = a->features = NULL;
}
