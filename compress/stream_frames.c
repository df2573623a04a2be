/* stream_frames.c: a stream frame's content: intra frames (the whole state) and residual
   frames coded into payloads (stream_payload.c's sections) and decoded back, and the CPU
   reference of a residual's decode (spec/streams.md, "Playback"):

     next[i]   = prev[mapping[i]]                       every attribute, f_rest too
     means    += steps * position_step                  at the moved Gaussians
     a_f       = (sum over k in order of z_k W_kf) + b_f   each attribute with latents
     value    += a   (f_rest: value = a)

   in float, in that order, so that every decode of a stream gives the same bits on the
   CPU. W is the frame's weights, or for RD_STREAM_COSINE scale times the fixed basis
   B_kf = cos(pi (k + 1/2) f / C) / sqrt(C), times sqrt(2) for f > 0, C the features.
   Compiled with -ffp-contract=off (CMakeLists.txt): no fused multiply-adds, so that every
   platform decodes the same bits as the writer. */
#include "stream.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int rd_stream_features(rd_stream_attribute a, int sh_degree)
{
    static const int fixed[] = {[RD_STREAM_F_DC] = 3, [RD_STREAM_SCALE] = 3, [RD_STREAM_ROTATION] = 4, [RD_STREAM_OPACITY] = 1};
    return a == RD_STREAM_F_REST ? 3 * ((sh_degree + 1) * (sh_degree + 1) - 1) : fixed[a];
}

double rd_stream_cosine_basis(int k, int f, int features)
{
    return cos(M_PI * (k + 0.5) * f / features) / sqrt((double)features) * (f > 0 ? sqrt(2.0) : 1.0);
}

void rd_stream_state_free(stream_state *s)
{
    free(s->means), free(s->log_scales), free(s->rotations), free(s->opacities), free(s->sh), free(s->rest_latents);
    memset(s, 0, sizeof *s);
}

bool rd_stream_state_reserve(stream_state *s, int64_t count, int sh_degree, int rest_latent_dim)
{
    if (count > s->capacity || sh_degree != s->sh_degree || rest_latent_dim != s->rest_latent_dim) {
        rd_stream_state_free(s);
        int64_t n = count > 0 ? count : 1;
        s->means = rd_alloc_array(n * 3, sizeof(float)), s->log_scales = rd_alloc_array(n * 3, sizeof(float));
        s->rotations = rd_alloc_array(n * 4, sizeof(float)), s->opacities = rd_alloc_array(n, sizeof(float));
        s->sh = rd_alloc_array(n * rd_stream_sh_floats(sh_degree), sizeof(float));
        s->rest_latents = rest_latent_dim ? rd_alloc_array(n * rest_latent_dim, sizeof(int32_t)) : NULL;
        s->capacity = n, s->sh_degree = sh_degree, s->rest_latent_dim = rest_latent_dim;
        if (!s->means || !s->log_scales || !s->rotations || !s->opacities || !s->sh || (rest_latent_dim && !s->rest_latents)) {
            rd_stream_state_free(s);
            return false;
        }
    }
    s->count = count;
    return true;
}

rd_scene_desc rd_stream_state_scene(const stream_state *s)
{
    return (rd_scene_desc){.count = s->count, .sh_degree = s->sh_degree, .means = s->means, .log_scales = s->log_scales,
                           .rotations = s->rotations, .opacities = s->opacities, .sh = s->sh, .memory = RD_MEMORY_HOST};
}

/* Bytes a state of count Gaussians takes. */
static uint64_t state_bytes(uint64_t count, int sh_degree, int rest_latent_dim)
{
    return count * (uint64_t)(3 + 3 + 4 + 1 + rd_stream_sh_floats(sh_degree) + rest_latent_dim) * 4;
}

/* ---- intra frames ------------------------------------------------------------------- */

rd_result rd_stream_encode_intra(rd_context *ctx, const rd_scene_desc *scene, const stream_state *latents_from, int level, rd_bytes *out)
{
    uint64_t n = (uint64_t)scene->count;
    int rest = latents_from ? latents_from->rest_latent_dim : 0;
    rd_bytes_u64(out, n);
    rd_bytes_u8(out, (uint8_t)scene->sh_degree);
    rd_bytes_u8(out, (uint8_t)rest);
    rd_bytes_u16(out, 0);
    rd_stream_put_floats(out, TAG_MEANS, scene->means, n * 3, level);
    rd_stream_put_floats(out, TAG_SCALES, scene->log_scales, n * 3, level);
    rd_stream_put_floats(out, TAG_ROTATIONS, scene->rotations, n * 4, level);
    rd_stream_put_floats(out, TAG_OPACITIES, scene->opacities, n, level);
    rd_stream_put_floats(out, TAG_SH, scene->sh, n * (uint64_t)rd_stream_sh_floats(scene->sh_degree), level);
    if (rest) rd_stream_put_ints32(out, TAG_REST_LATENTS, latents_from->rest_latents, n * (uint64_t)rest, level);
    return out->failed ? rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "stream: out of memory coding an intra frame") : RD_OK;
}

static rd_result decode_intra(rd_context *ctx, section_reader *r, uint64_t limit, stream_state *next)
{
    if (r->end - r->at < 12) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the intra frame's payload is shorter than its header", r->where);
    uint64_t n = rd_le64(r->at);
    int degree = r->at[8], rest = r->at[9];
    r->at += 12;
    if (n > RD_STREAM_MAX_GAUSSIANS || degree > 3 || rest > RD_STREAM_MAX_LATENT)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %llu Gaussians, SH degree %d, f_rest latent dim %d: out of range", r->where,
                       (unsigned long long)n, degree, rest);
    if (state_bytes(n, degree, rest) > limit)
        return rd_fail(ctx, RD_ERROR_LIMIT, "%s: %llu Gaussians exceed the decode limit", r->where, (unsigned long long)n);
    if (!rd_stream_section_declares(r, TAG_MEANS, n * 3) || !rd_stream_section_declares(r, TAG_SH, n * (uint64_t)rd_stream_sh_floats(degree)))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the sections do not hold the %llu Gaussians the frame declares", r->where,
                       (unsigned long long)n);
    if (!rd_stream_state_reserve(next, (int64_t)n, degree, rest))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for %llu Gaussians", r->where, (unsigned long long)n);
    rd_result res = rd_stream_get_floats(r, TAG_MEANS, n * 3, next->means);
    if (res == RD_OK) res = rd_stream_get_floats(r, TAG_SCALES, n * 3, next->log_scales);
    if (res == RD_OK) res = rd_stream_get_floats(r, TAG_ROTATIONS, n * 4, next->rotations);
    if (res == RD_OK) res = rd_stream_get_floats(r, TAG_OPACITIES, n, next->opacities);
    if (res == RD_OK) res = rd_stream_get_floats(r, TAG_SH, n * (uint64_t)rd_stream_sh_floats(degree), next->sh);
    if (res == RD_OK && rest) res = rd_stream_get_ints32(r, TAG_REST_LATENTS, n * (uint64_t)rest, next->rest_latents);
    return res;
}

/* ---- residual frames ---------------------------------------------------------------- */

/* Why f does not fit the state prev, or NULL. */
static const char *residual_problem(const rd_stream_residual *f, const stream_state *prev, char *why, size_t n)
{
    if (f->count < 0 || f->count > RD_STREAM_MAX_GAUSSIANS) return "the count is out of range";
    if (!f->mapping && f->count != prev->count) return "without a mapping the count must equal the previous frame's";
    for (int64_t i = 0; f->mapping && i < f->count; i++)
        if (f->mapping[i] < 0 || f->mapping[i] >= prev->count) {
            snprintf(why, n, "mapping[%lld] = %lld is not a Gaussian of the previous frame (%lld)", (long long)i,
                     (long long)f->mapping[i], (long long)prev->count);
            return why;
        }
    if (f->moved < 0 || f->moved > f->count || (f->moved && (!f->moved_indices || !f->moved_steps))) return "moved is out of range";
    for (int64_t j = 0; j < f->moved; j++)
        if (f->moved_indices[j] < 0 || f->moved_indices[j] >= f->count || (j && f->moved_indices[j] <= f->moved_indices[j - 1])) {
            snprintf(why, n, "moved_indices[%lld] = %lld is out of range or order", (long long)j, (long long)f->moved_indices[j]);
            return why;
        }
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const rd_stream_latents *l = &f->attributes[a];
        int features = rd_stream_features((rd_stream_attribute)a, prev->sh_degree);
        if (l->latent_dim == 0) continue;
        if (l->latent_dim < 0 || l->latent_dim > RD_STREAM_MAX_LATENT || features == 0 || !l->bias || (f->count && !l->values) ||
            (l->decoder != RD_STREAM_LINEAR && l->decoder != RD_STREAM_COSINE) || (l->decoder == RD_STREAM_LINEAR && !l->weights)) {
            snprintf(why, n, "attribute %d: latent dim %d, decoder %d, or a missing array", a, l->latent_dim, (int)l->decoder);
            return why;
        }
        bool finite = l->decoder != RD_STREAM_COSINE || isfinite(l->scale);
        for (int k = 0; l->decoder == RD_STREAM_LINEAR && k < l->latent_dim * features; k++) finite &= isfinite(l->weights[k]) != 0;
        for (int k = 0; k < features; k++) finite &= isfinite(l->bias[k]) != 0;
        if (!finite) {
            snprintf(why, n, "attribute %d: a decoder weight or bias is not finite", a);
            return why;
        }
    }
    return NULL;
}

/* Latent k of Gaussian i of attribute a as stored: f_rest's less its parent's where delta. */
static int64_t stored_latent(const rd_stream_residual *f, const stream_state *prev, int a, bool delta, uint64_t i, int k)
{
    const rd_stream_latents *l = &f->attributes[a];
    int64_t z = l->values[i * (uint64_t)l->latent_dim + (uint64_t)k];
    if (!delta) return z;
    int64_t parent = f->mapping ? f->mapping[i] : (int64_t)i;
    return z - prev->rest_latents[(size_t)parent * (size_t)l->latent_dim + (size_t)k];
}

rd_result rd_stream_encode_residual(rd_context *ctx, const rd_stream_residual *f, const stream_state *prev, int level, rd_bytes *out)
{
    char why[160];
    const char *problem = residual_problem(f, prev, why, sizeof why);
    if (problem) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_write_residual: %s", problem);
    uint64_t n = (uint64_t)f->count;
    const rd_stream_latents *rest = &f->attributes[RD_STREAM_F_REST];
    bool rest_delta = rest->latent_dim > 0 && rest->latent_dim == prev->rest_latent_dim;
    for (uint64_t i = 0; rest_delta && i < n; i++) /* coded against the parent's where every difference fits 32 bits */
        for (int k = 0; rest_delta && k < rest->latent_dim; k++) {
            int64_t parent = f->mapping ? f->mapping[i] : (int64_t)i;
            int64_t d = (int64_t)rest->values[i * rest->latent_dim + k] - prev->rest_latents[(size_t)parent * rest->latent_dim + k];
            rest_delta = d >= INT32_MIN && d <= INT32_MAX;
        }
    uint64_t nonzero[RD_STREAM_ATTRIBUTES] = {0}; /* rows with a latent other than zero, as stored */
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const rd_stream_latents *l = &f->attributes[a];
        for (uint64_t i = 0; i < n && l->latent_dim; i++)
            for (int k = 0; k < l->latent_dim; k++)
                if (stored_latent(f, prev, a, a == RD_STREAM_F_REST && rest_delta, i, k)) {
                    nonzero[a]++;
                    break;
                }
    }
    rd_bytes_u64(out, n);
    rd_bytes_u64(out, (uint64_t)f->moved);
    uint64_t runs = 0; /* runs of consecutive parents: the writer stores those where a quarter of the count or fewer */
    for (uint64_t i = 0; f->mapping && i < n; i++) runs += i == 0 || f->mapping[i] != f->mapping[i - 1] + 1;
    bool as_runs = f->mapping && runs <= n / 4;
    rd_bytes_u8(out, as_runs ? 2 : f->mapping != NULL);
    rd_bytes_append(out, "\0\0\0", 3);
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        rd_bytes_u8(out, (uint8_t)f->attributes[a].latent_dim);
        rd_bytes_u8(out, (uint8_t)f->attributes[a].decoder);
        rd_bytes_u8(out, a == RD_STREAM_F_REST && rest_delta);
        rd_bytes_u8(out, f->attributes[a].latent_dim && nonzero[a] <= n / 2); /* rows listed */
    }
    rd_bytes decoders = {0};
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const rd_stream_latents *l = &f->attributes[a];
        int features = rd_stream_features((rd_stream_attribute)a, prev->sh_degree);
        if (!l->latent_dim) continue;
        if (l->decoder == RD_STREAM_LINEAR) rd_bytes_append(&decoders, l->weights, (size_t)l->latent_dim * features * sizeof(float));
        else rd_bytes_append(&decoders, &l->scale, sizeof(float));
        rd_bytes_append(&decoders, l->bias, (size_t)features * sizeof(float));
    }
    rd_stream_put_floats(out, TAG_DECODERS, (const float *)decoders.data, decoders.size / 4, level);
    rd_bytes_free(&decoders);
    int widest = 2; /* the runs' pairs */
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) widest = f->attributes[a].latent_dim > widest ? f->attributes[a].latent_dim : widest;
    int64_t *scratch = rd_alloc_array((int64_t)(n * (uint64_t)(widest + 1)) + 1, sizeof(int64_t));
    if (!scratch) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "stream: out of memory coding a residual frame");
    int64_t *gaps = scratch + n * (uint64_t)widest; /* a listing attribute's rows */
    if (as_runs) { /* pairs: length - 1, first parent - first Gaussian */
        uint64_t k = 0;
        for (uint64_t i = 0; i < n;) {
            uint64_t j = i + 1;
            while (j < n && f->mapping[j] == f->mapping[j - 1] + 1) j++;
            scratch[k++] = (int64_t)(j - i - 1), scratch[k++] = f->mapping[i] - (int64_t)i;
            i = j;
        }
        rd_stream_put_ints64(out, TAG_MAPPING_RUNS, scratch, k, level);
    } else if (f->mapping) {
        for (uint64_t i = 0; i < n; i++) scratch[i] = f->mapping[i] - (int64_t)i;
        rd_stream_put_ints64(out, TAG_MAPPING, scratch, n, level);
    }
    for (int64_t j = 0; j < f->moved; j++) scratch[j] = f->moved_indices[j] - (j ? f->moved_indices[j - 1] : -1) - 1;
    rd_stream_put_ints64(out, TAG_MOVED_INDICES, scratch, (uint64_t)f->moved, level);
    rd_stream_put_ints32(out, TAG_MOVED_STEPS, f->moved_steps, (uint64_t)f->moved * 3, level);
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const rd_stream_latents *l = &f->attributes[a];
        int ld = l->latent_dim;
        bool delta = a == RD_STREAM_F_REST && rest_delta, listed = ld && nonzero[a] <= n / 2;
        if (!ld) continue;
        uint64_t values = 0, rows = 0; /* listed: only the rows with a latent, and their gaps */
        for (uint64_t i = 0, last = (uint64_t)-1; i < n; i++) {
            uint64_t first = values;
            bool any = false;
            for (int k = 0; k < ld; k++) any |= (scratch[values++] = stored_latent(f, prev, a, delta, i, k)) != 0;
            if (listed && !any) values = first;
            else if (listed) gaps[rows++] = (int64_t)(i - last - 1), last = i;
        }
        if (listed) rd_stream_put_ints64(out, TAG_LATENT_ROWS + a, gaps, rows, level);
        rd_stream_put_ints64(out, TAG_LATENTS + a, scratch, values, level);
    }
    free(scratch);
    return out->failed ? rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "stream: out of memory coding a residual frame") : RD_OK;
}

void rd_stream_parsed_free(stream_parsed_residual *p)
{
    free(p->mapping), free(p->run_start), free(p->run_parent), free(p->moved_indices), free(p->moved_steps), free(p->decoders);
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) free(p->latents[a]), free(p->W[a]), free(p->row_index[a]);
    rd_bytes *planes = p->planes; /* the caller's */
    memset(p, 0, sizeof *p);
    p->planes = planes;
}

/* The decoders section: W (or the cosine scale) and b of each attribute with latents. */
static rd_result parse_decoders(rd_context *ctx, section_reader *r, const int decoder[RD_STREAM_ATTRIBUTES], int sh_degree,
                                stream_parsed_residual *p)
{
    uint64_t floats = 0;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        int features = rd_stream_features((rd_stream_attribute)a, sh_degree), ld = p->latent_dim[a];
        if (ld) floats += (uint64_t)(decoder[a] == RD_STREAM_LINEAR ? ld * features : 1) + (uint64_t)features;
    }
    if (!(p->decoders = rd_alloc_array((int64_t)floats + 1, sizeof(float))))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->where);
    rd_result res = rd_stream_get_floats(r, TAG_DECODERS, floats, p->decoders);
    const float *at = p->decoders;
    for (int a = 0; res == RD_OK && a < RD_STREAM_ATTRIBUTES; a++) {
        int features = rd_stream_features((rd_stream_attribute)a, sh_degree), ld = p->latent_dim[a];
        if (!ld) continue;
        if (!(p->W[a] = rd_alloc_array((int64_t)ld * features, sizeof(float))))
            return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->where);
        for (int k = 0; k < ld; k++)
            for (int f = 0; f < features; f++) {
                p->W[a][k * features + f] =
                    decoder[a] == RD_STREAM_LINEAR ? at[k * features + f] : at[0] * (float)rd_stream_cosine_basis(k, f, features);
            }
        at += decoder[a] == RD_STREAM_LINEAR ? ld * features : 1;
        p->bias[a] = (float *)at;
        at += features;
        for (int k = 0; k < ld * features; k++)
            if (!isfinite(p->W[a][k])) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: attribute %d's decoder is not finite", r->where, a);
        for (int f = 0; f < features; f++)
            if (!isfinite(p->bias[a][f])) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: attribute %d's bias is not finite", r->where, a);
    }
    return res;
}

/* A section of n strictly increasing indices below count, stored as gaps (index - previous
   - 1), into out as the indices. */
static rd_result get_indices(rd_context *ctx, section_reader *r, uint32_t tag, uint64_t n, uint64_t count, int64_t *out)
{
    rd_result res = rd_stream_get_ints64(r, tag, n, out);
    for (uint64_t j = 0, at = 0; res == RD_OK && j < n; j++) {
        int64_t gap = out[j];
        if (gap < 0 || (uint64_t)gap >= count - at)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: section %s: index %llu falls outside the frame", r->where, rd_stream_tag_name(tag),
                           (unsigned long long)j);
        out[j] = (int64_t)(at + (uint64_t)gap), at += (uint64_t)gap + 1;
    }
    return res;
}

/* The mapping's runs: each at least one Gaussian, together the frame's count, every
   parent one of the previous frame's. */
static rd_result parse_runs(rd_context *ctx, section_reader *r, const stream_state *prev, stream_parsed_residual *p)
{
    uint64_t values;
    if (!rd_stream_section_elements(r, TAG_MAPPING_RUNS, &values) || values % 2 || values / 2 > p->count || (p->count && !values))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the mapping's runs are missing or do not fit the frame's %llu Gaussians", r->where,
                       (unsigned long long)p->count);
    int64_t *pairs = rd_alloc_array((int64_t)values + 1, sizeof(int64_t));
    p->runs = values / 2;
    p->run_start = rd_alloc_array((int64_t)p->runs + 1, sizeof(int64_t));
    p->run_parent = rd_alloc_array((int64_t)p->runs + 1, sizeof(int64_t));
    if (!pairs || !p->run_start || !p->run_parent) {
        free(pairs);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->where);
    }
    rd_result res = rd_stream_get_ints64(r, TAG_MAPPING_RUNS, values, pairs);
    uint64_t at = 0;
    for (uint64_t k = 0; res == RD_OK && k < p->runs; k++) {
        int64_t extra = pairs[2 * k], offset = pairs[2 * k + 1]; /* length - 1; first parent - first Gaussian */
        if (extra < 0 || (uint64_t)extra >= p->count - at || offset < -(int64_t)at || offset > prev->count - (int64_t)at - extra - 1)
            res = rd_fail(ctx, RD_ERROR_FORMAT, "%s: mapping run %llu leaves the frame or the previous frame's %lld Gaussians", r->where,
                          (unsigned long long)k, (long long)prev->count);
        else p->run_start[k] = (int64_t)at, p->run_parent[k] = (int64_t)at + offset, at += (uint64_t)extra + 1;
    }
    free(pairs);
    if (res == RD_OK && at != p->count)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the mapping's runs cover %llu of the frame's %llu Gaussians", r->where,
                       (unsigned long long)at, (unsigned long long)p->count);
    return res;
}

/* The rows attribute a lists: gaps made absolute, strictly increasing within the frame. */
static rd_result parse_rows(rd_context *ctx, section_reader *r, uint32_t a, stream_parsed_residual *p)
{
    uint64_t rows;
    if (!rd_stream_section_elements(r, TAG_LATENT_ROWS + a, &rows) || rows > p->count)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: section %s is missing or lists more rows than the frame's %llu Gaussians",
                       r->where, rd_stream_tag_name(TAG_LATENT_ROWS + a), (unsigned long long)p->count);
    if (!(p->row_index[a] = rd_alloc_array((int64_t)rows + 1, sizeof(int64_t))))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->where);
    p->rows[a] = rows;
    return get_indices(ctx, r, TAG_LATENT_ROWS + a, rows, p->count, p->row_index[a]);
}

static rd_result parse_residual(rd_context *ctx, section_reader *r, const stream_state *prev, uint64_t limit, stream_parsed_residual *p)
{
    if (r->end - r->at < 20 + 4 * RD_STREAM_ATTRIBUTES)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the residual frame's payload is shorter than its header", r->where);
    p->count = rd_le64(r->at), p->moved = rd_le64(r->at + 8);
    int mapping_kind = r->at[16];
    bool has_mapping = mapping_kind != 0;
    if (mapping_kind > 2) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: mapping kind %d: out of range", r->where, mapping_kind);
    int decoder[RD_STREAM_ATTRIBUTES];
    const unsigned char *attr = r->at + 20;
    r->at += 20 + 4 * RD_STREAM_ATTRIBUTES;
    if (p->count > RD_STREAM_MAX_GAUSSIANS || p->moved > p->count || (!has_mapping && p->count != (uint64_t)prev->count))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %llu Gaussians (%llu moved) after %lld: out of range", r->where,
                       (unsigned long long)p->count, (unsigned long long)p->moved, (long long)prev->count);
    bool listed[RD_STREAM_ATTRIBUTES];
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        p->latent_dim[a] = attr[4 * a], decoder[a] = attr[4 * a + 1], listed[a] = attr[4 * a + 3] == 1;
        bool no_features = rd_stream_features((rd_stream_attribute)a, prev->sh_degree) == 0;
        if (p->latent_dim[a] > RD_STREAM_MAX_LATENT || decoder[a] > RD_STREAM_COSINE || (no_features && p->latent_dim[a]) ||
            attr[4 * a + 3] > 1 || (listed[a] && !p->latent_dim[a]))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: attribute %d: latent dim %d, decoder %d, rows listed %d: out of range", r->where, a,
                           p->latent_dim[a], decoder[a], attr[4 * a + 3]);
    }
    p->rest_delta = attr[4 * RD_STREAM_F_REST + 2] != 0;
    if (p->rest_delta && p->latent_dim[RD_STREAM_F_REST] != prev->rest_latent_dim)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: f_rest latents coded against a parent's of another size", r->where);
    int rest = p->latent_dim[RD_STREAM_F_REST] ? p->latent_dim[RD_STREAM_F_REST] : prev->rest_latent_dim;
    /* everything the decode will hold at once: the state, the parsed arrays, a section's planes */
    uint64_t latents = 0;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) latents += p->count * (uint64_t)p->latent_dim[a];
    uint64_t widest = p->count * 8; /* a section's planes, decoded before they are copied out */
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) widest = p->count * (uint64_t)p->latent_dim[a] * 4 > widest ? p->count * (uint64_t)p->latent_dim[a] * 4 : widest;
    uint64_t parsed = (mapping_kind == 1 ? p->count * 8 : mapping_kind == 2 ? p->count * 32 : 0) + p->moved * 20 + latents * 4 + widest;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) parsed += listed[a] ? p->count * 8 : 0; /* the rows' indices */
    if (state_bytes(p->count, prev->sh_degree, rest) + parsed > limit)
        return rd_fail(ctx, RD_ERROR_LIMIT, "%s: %llu Gaussians exceed the decode limit", r->where, (unsigned long long)p->count);
    if (mapping_kind == 1 && !rd_stream_section_declares(r, TAG_MAPPING, p->count))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the mapping does not hold the %llu Gaussians the frame declares", r->where,
                       (unsigned long long)p->count);
    rd_result res = parse_decoders(ctx, r, decoder, prev->sh_degree, p);
    if (res == RD_OK && mapping_kind == 2) res = parse_runs(ctx, r, prev, p);
    if (res == RD_OK && mapping_kind == 1) {
        if (!(p->mapping = rd_alloc_array((int64_t)p->count + 1, sizeof(int64_t))))
            return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->where);
        res = rd_stream_get_ints64(r, TAG_MAPPING, p->count, p->mapping);
        for (uint64_t i = 0; res == RD_OK && i < p->count; i++) {
            int64_t offset = p->mapping[i]; /* parent - i, checked before the sum can overflow */
            if (offset < -(int64_t)i || offset >= prev->count - (int64_t)i)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: Gaussian %llu's parent is not one of the previous frame's %lld", r->where,
                               (unsigned long long)i, (long long)prev->count);
            p->mapping[i] = offset + (int64_t)i;
        }
    }
    p->moved_indices = rd_alloc_array((int64_t)p->moved + 1, sizeof(int64_t));
    p->moved_steps = rd_alloc_array((int64_t)p->moved * 3 + 1, sizeof(int32_t));
    if (res == RD_OK && (!p->moved_indices || !p->moved_steps)) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->where);
    if (res == RD_OK) res = get_indices(ctx, r, TAG_MOVED_INDICES, p->moved, p->count, p->moved_indices);
    if (res == RD_OK) res = rd_stream_get_ints32(r, TAG_MOVED_STEPS, p->moved * 3, p->moved_steps);
    for (int a = 0; res == RD_OK && a < RD_STREAM_ATTRIBUTES; a++) {
        if (!p->latent_dim[a]) continue;
        p->rows[a] = p->count;
        if (listed[a]) res = parse_rows(ctx, r, (uint32_t)a, p);
        uint64_t values = p->rows[a] * (uint64_t)p->latent_dim[a];
        if (res != RD_OK) break;
        if (p->planes) {
            res = rd_stream_get_int_planes(r, TAG_LATENTS + (uint32_t)a, values, p->planes, &p->latent_at[a], &p->latent_width[a]);
            continue;
        }
        if (!(p->latents[a] = rd_alloc_array((int64_t)values + 1, sizeof(int32_t))))
            return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", r->where);
        res = rd_stream_get_ints32(r, TAG_LATENTS + (uint32_t)a, values, p->latents[a]);
    }
    if (res == RD_OK && r->at != r->end) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %zu bytes follow the last section", r->where, (size_t)(r->end - r->at));
    return res;
}

/* Gaussian i's latents of attribute a, or NULL where they are zero (a row not listed);
   *cursor: the next listed row, for i taken in increasing order. */
static const int32_t *latent_row(const stream_parsed_residual *p, int a, uint64_t i, uint64_t *cursor)
{
    size_t ld = (size_t)p->latent_dim[a];
    if (!p->row_index[a]) return p->latents[a] + i * ld;
    while (*cursor < p->rows[a] && (uint64_t)p->row_index[a][*cursor] < i) ++*cursor;
    return *cursor < p->rows[a] && (uint64_t)p->row_index[a][*cursor] == i ? p->latents[a] + *cursor * ld : NULL;
}

rd_result rd_stream_apply_residual(rd_context *ctx, const char *where, const stream_parsed_residual *p, const stream_state *prev,
                                   float step, stream_state *next)
{
    if (p->planes) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: latents kept as planes are the device decode's", where);
    int degree = prev->sh_degree, C = rd_stream_sh_floats(degree), rest_dim = p->latent_dim[RD_STREAM_F_REST];
    int keep_rest = rest_dim ? rest_dim : prev->rest_latent_dim;
    if (!rd_stream_state_reserve(next, (int64_t)p->count, degree, keep_rest))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for %llu Gaussians", where, (unsigned long long)p->count);
    uint64_t cursor = 0, run = 0;
    for (uint64_t i = 0; i < p->count; i++) {
        while (run + 1 < p->runs && (uint64_t)p->run_start[run + 1] <= i) run++;
        size_t q = p->mapping ? (size_t)p->mapping[i] : p->runs ? (size_t)(p->run_parent[run] + ((int64_t)i - p->run_start[run])) : (size_t)i;
        memcpy(next->means + i * 3, prev->means + q * 3, 3 * sizeof(float));
        memcpy(next->log_scales + i * 3, prev->log_scales + q * 3, 3 * sizeof(float));
        memcpy(next->rotations + i * 4, prev->rotations + q * 4, 4 * sizeof(float));
        next->opacities[i] = prev->opacities[q];
        memcpy(next->sh + i * C, prev->sh + q * C, (size_t)C * sizeof(float));
        if (!keep_rest) continue;
        const int32_t *own = rest_dim ? latent_row(p, RD_STREAM_F_REST, i, &cursor) : NULL;
        for (int k = 0; k < keep_rest; k++) { /* the parent's latents, plus this frame's where coded against them */
            int64_t z = own ? (int64_t)own[k] : 0;
            if (!rest_dim || p->rest_delta) z += prev->rest_latents[q * keep_rest + k];
            if (z < INT32_MIN || z > INT32_MAX)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: Gaussian %llu's f_rest latent overflows 32 bits", where, (unsigned long long)i);
            next->rest_latents[i * keep_rest + k] = (int32_t)z;
        }
    }
    for (uint64_t j = 0; j < p->moved; j++)
        for (int c = 0; c < 3; c++) next->means[p->moved_indices[j] * 3 + c] += (float)p->moved_steps[j * 3 + c] * step;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        int ld = p->latent_dim[a], features = rd_stream_features((rd_stream_attribute)a, degree);
        if (!ld) continue;
        cursor = 0;
        for (uint64_t i = 0; i < p->count; i++) {
            const int32_t *row = a == RD_STREAM_F_REST ? next->rest_latents + i * ld : latent_row(p, a, i, &cursor);
            float *value = a == RD_STREAM_F_DC      ? next->sh + i * C
                           : a == RD_STREAM_F_REST  ? next->sh + i * C + 3
                           : a == RD_STREAM_SCALE   ? next->log_scales + i * 3
                           : a == RD_STREAM_ROTATION ? next->rotations + i * 4
                                                     : next->opacities + i;
            for (int f = 0; f < features; f++) {
                float sum = 0.0f;
                for (int k = 0; k < ld; k++) {
                    float z = row ? (float)row[k] : 0.0f;
                    sum += z * p->W[a][k * features + f];
                }
                float delta = sum + p->bias[a][f];
                value[f] = a == RD_STREAM_F_REST ? delta : value[f] + delta;
            }
        }
    }
    return RD_OK;
}

rd_result rd_stream_parse_payload(rd_context *ctx, const char *where, rd_stream_frame_kind kind, const unsigned char *payload,
                                  size_t bytes, const stream_state *prev, uint64_t limit, stream_section_scratch *scratch,
                                  stream_state *intra, stream_parsed_residual *residual)
{
    static const unsigned char empty[1];
    if (!payload) payload = empty, bytes = 0; /* an empty payload: no buffer was ever read into */
    stream_section_scratch own = {0};
    section_reader r = {ctx, where, payload, payload + bytes, limit, scratch ? scratch : &own};
    rd_result res = RD_OK;
    if (kind == RD_STREAM_INTRA) {
        res = decode_intra(ctx, &r, limit, intra);
        if (res == RD_OK && r.at != r.end)
            res = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %zu bytes follow the last section", where, (size_t)(r.end - r.at));
    } else if (!prev || prev->count < 0) {
        res = rd_fail(ctx, RD_ERROR_FORMAT, "%s: a residual frame with no decoded frame before it", where);
    } else {
        res = parse_residual(ctx, &r, prev, limit, residual);
        if (res != RD_OK) rd_stream_parsed_free(residual);
    }
    rd_stream_section_scratch_free(&own);
    return res;
}

rd_result rd_stream_decode_payload(rd_context *ctx, const char *where, rd_stream_frame_kind kind, const unsigned char *payload,
                                   size_t bytes, const stream_state *prev, float position_step, uint64_t limit,
                                   stream_section_scratch *scratch, stream_state *next)
{
    if (kind != RD_STREAM_INTRA && (!prev || !prev->means))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: a residual frame with no decoded frame before it", where);
    stream_parsed_residual p = {0};
    rd_result res = rd_stream_parse_payload(ctx, where, kind, payload, bytes, prev, limit, scratch, next, &p);
    if (res == RD_OK && kind != RD_STREAM_INTRA) res = rd_stream_apply_residual(ctx, where, &p, prev, position_step, next);
    rd_stream_parsed_free(&p);
    return res;
}
