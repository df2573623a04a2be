/* stream_encode_density.c: densification and pruning inside a residual frame
   (stream_encode.h; spec/streams.md: QUEEN clones, splits and prunes as 3DGS does, and
   each Gaussian's parent in the previous frame is the stream's mapping).

   The rule is the trainer's (rd_density_rows) at QUEEN's thresholds, over the frame as it
   decodes now (gates evaluated). Every row of the new state is a copy of a row of the old:
   its parent values (so it decodes against the same Gaussian of the previous frame), its
   latents, free position, gate and moments. A split child then moves to a draw from its
   source's Gaussian and opens its gate, and shrinks by 1.6 through its scale latents: the
   change d with d W = -ln 1.6 (every feature) of least norm, ridge-regularised, the same
   for every child. */
#include "stream_encode.h"
#include "../splat/trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* d solving (W W^T + eps I) d^T = W r^T, r = -ln 1.6 every feature (d W ~ r, least norm,
   ridge-regularised). False when singular. */
static bool shrink_latents(const stream_encode_latents *l, float *out)
{
    int ld = l->ld, F = l->features;
    double A[RD_STREAM_MAX_LATENT * RD_STREAM_MAX_LATENT], rhs[RD_STREAM_MAX_LATENT], trace = 0.0;
    for (int i = 0; i < ld; i++) {
        for (int j = 0; j < ld; j++) {
            double sum = 0.0;
            for (int f = 0; f < F; f++) sum += (double)stream_encode_weight(l, i, f) * stream_encode_weight(l, j, f);
            A[i * ld + j] = sum;
        }
        rhs[i] = 0.0;
        for (int f = 0; f < F; f++) rhs[i] += (double)stream_encode_weight(l, i, f) * -log(1.6);
        trace += A[i * ld + i];
    }
    for (int i = 0; i < ld; i++) A[i * ld + i] += 1e-6 * trace / ld + 1e-12;
    if (!rd_stream_solve(A, rhs, ld, 1)) return false;
    for (int i = 0; i < ld; i++) out[i] = (float)rhs[i];
    return true;
}

/* Rows of width bytes from old to new by the rows' sources (the host arrays that are not
   floats: the mapping, the split's flags). */
static void gather_bytes(void *to, const void *from, size_t width, const new_row *rows, int64_t count)
{
    for (int64_t j = 0; j < count; j++) memcpy((char *)to + (size_t)j * width, (const char *)from + (size_t)rows[j].from * width, width);
}

/* One float array (width a row) from old to new by the plan; Adam's moments of fresh rows zero. */
static void gather(float *to, const float *from, int width, const stream_density_plan *p, bool moments)
{
    for (int64_t j = 0; j < p->count; j++) stream_encode_gather_one(to, from, width, p->from, moments ? p->fresh : NULL, j);
}

/* Everything of next from e by the plan; the children placed and shrunk. */
static void rebuild(const stream_encoder *e, stream_encoder *next, const stream_density_plan *p)
{
    for (int k = 0; k < ENCODE_ARRAYS; k++) {
        int width = stream_encode_array_width(k, e->C);
        gather((float *)next->s.parent[k], e->s.parent[k], width, p, false);
        gather(next->s.decoded[k], e->s.parent[k], width, p, false); /* attributes without latents: the parent's */
    }
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &e->s.latents[a];
        stream_encode_latents *nl = &next->s.latents[a];
        const stream_encode_moments *mo = &e->moments[a];
        stream_encode_moments *nm = &next->moments[a];
        if (!l->ld) continue;
        size_t w = (size_t)stream_encode_decoder_size(l) * sizeof(float), fb = (size_t)l->features * sizeof(float);
        gather(nl->z, l->z, l->ld, p, false), gather(nm->mz, mo->mz, l->ld, p, true), gather(nm->vz, mo->vz, l->ld, p, true);
        gather(next->anchor[a], e->anchor[a], l->ld, p, false);
        memcpy(nl->W, l->W, w), memcpy(nm->mW, mo->mW, w), memcpy(nm->vW, mo->vW, w);
        memcpy(nl->b, l->b, fb), memcpy(nm->mb, mo->mb, fb), memcpy(nm->vb, mo->vb, fb);
        memcpy(next->basis[a], e->basis[a], (size_t)l->ld * fb);
    }
    gather(next->s.x, e->s.x, 3, p, false), gather(next->s.log_alpha, e->s.log_alpha, 1, p, false);
    for (int k = 0; k < 4; k++) gather(next->position_moments[k], e->position_moments[k], k < 2 ? 3 : 1, p, true);
    gather_bytes(next->dynamic, e->dynamic, 1, p->rows, p->count), gather_bytes(next->mapping, e->mapping, 8, p->rows, p->count);
    for (int64_t c = 0; c < p->children; c++)
        stream_encode_place_child_one(&next->s, next->anchor[RD_STREAM_SCALE], p->child_rows, p->child_x, p->shrinks ? p->shrink : NULL, c);
}

void rd_stream_density_plan_free(stream_density_plan *p)
{
    free(p->rows), free(p->from), free(p->fresh), free(p->child_rows), free(p->child_x);
    *p = (stream_density_plan){0};
}

rd_result rd_stream_encoder_plan_density(stream_encoder *e, int64_t n, const float *decoded, const float *grad_norm, const uint32_t *views_seen,
                                         stream_density_plan *p)
{
    *p = (stream_density_plan){0};
    const float *means = decoded, *scales = decoded + 3 * n, *rotations = decoded + 6 * n, *opacities = decoded + 10 * n;
    float *largest = rd_alloc_array(n + 1, sizeof(float));
    p->rows = rd_alloc_array(2 * n + 1, sizeof(new_row));
    p->from = rd_alloc_array(2 * n + 1, sizeof(int64_t)), p->fresh = rd_alloc_array(2 * n + 1, 1);
    rd_result r = largest && p->rows && p->from && p->fresh
                      ? RD_OK : rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory densifying %lld Gaussians", (long long)n);
    if (r == RD_OK) {
        for (int64_t i = 0; i < n; i++) largest[i] = expf(fmaxf(fmaxf(scales[3 * i], scales[3 * i + 1]), scales[3 * i + 2]));
        float gradient = e->desc->densify_gradient > 0.0f ? e->desc->densify_gradient : RD_ENCODE_DENSIFY_GRADIENT;
        density_inputs in = {n, grad_norm, largest, opacities, views_seen, e->extent, false, gradient, RD_ENCODE_PRUNE_OPACITY};
        p->count = rd_density_rows(&in, p->rows);
        for (int64_t j = 0; j < p->count; j++) {
            p->from[j] = p->rows[j].from, p->fresh[j] = p->rows[j].fresh;
            p->added += p->rows[j].fresh, p->children += p->rows[j].child;
        }
        p->unchanged = p->count == n && p->added == 0;
        p->child_rows = rd_alloc_array(p->children + 1, sizeof(int64_t)), p->child_x = rd_alloc_array(3 * p->children + 1, sizeof(float));
        if (!p->child_rows || !p->child_x) r = rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory densifying");
    }
    for (int64_t j = 0, c = 0; r == RD_OK && j < p->count; j++) { /* the draws in row order, as the trainer's */
        if (!p->rows[j].child) continue;
        int64_t i = p->rows[j].from;
        float offset[3];
        rd_split_offset(scales + 3 * i, rotations + 4 * i, &e->split_rng, offset);
        for (int a = 0; a < 3; a++) p->child_x[3 * c + a] = means[3 * i + a] + offset[a];
        p->child_rows[c++] = j;
    }
    const stream_encode_latents *scale = &e->s.latents[RD_STREAM_SCALE];
    p->shrinks = scale->ld > 0 && shrink_latents(scale, p->shrink);
    free(largest);
    if (r != RD_OK) rd_stream_density_plan_free(p);
    return r;
}

/* A new encoder of count rows with e's settings (its arrays zero). */
static bool allocate_like(const stream_encoder *e, stream_encoder *next, int64_t count)
{
    *next = (stream_encoder){.ctx = e->ctx, .desc = e->desc, .sh_degree = e->sh_degree, .C = e->C, .parent = e->parent,
                             .previous_count = e->previous_count, .extent = e->extent, .rng = e->rng, .split_rng = e->split_rng};
    if (rd_stream_encoder_allocate(next, count)) {
        stream_encode_step scalars = e->s; /* the step's settings carry over; its arrays are next's */
        next->s.dynamic = e->s.dynamic ? next->dynamic : NULL;
        next->s.hide_static = scalars.hide_static, next->s.seed = scalars.seed, next->s.step = scalars.step, next->s.eval = scalars.eval;
        next->s.gates_off = scalars.gates_off, next->s.lambda = scalars.lambda, next->s.shrink = scalars.shrink;
        return true;
    }
    rd_stream_encoder_free(next);
    return false;
}

rd_result rd_stream_encoder_densify(stream_encoder *e, int64_t *added, int64_t *removed)
{
    int64_t n = e->n;
    if (added) *added = 0;
    if (removed) *removed = 0;
    e->s.eval = 1, e->s.hide_static = 0;
    rd_stream_encode_decode_cpu(&e->s); /* the frame as it decodes now, gates evaluated */
    stream_density_plan p;
    rd_result r = rd_stream_encoder_plan_density(e, n, e->s.decoded[0], e->grad_norm, e->views_seen, &p);
    if (r == RD_OK && !p.unchanged) {
        stream_encoder next;
        if (!allocate_like(e, &next, p.count)) {
            r = rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory for %lld Gaussians", (long long)p.count);
        } else {
            next.split_rng = e->split_rng; /* after the plan's draws */
            rebuild(e, &next, &p);
            if (added) *added = p.added;
            if (removed) *removed = n - (p.count - p.added);
            rd_stream_encoder_free(e);
            *e = next;
        }
    }
    if (r == RD_OK && p.unchanged) {
        memset(e->grad_norm, 0, (size_t)n * sizeof(float));
        memset(e->views_seen, 0, (size_t)n * sizeof(uint32_t));
    }
    e->s.eval = 0;
    rd_stream_density_plan_free(&p);
    return r;
}

bool rd_stream_encoder_follow(stream_encoder *e, const stream_density_plan *p)
{
    int64_t *mapping = rd_alloc_array(p->count + 1, sizeof(int64_t));
    uint8_t *dynamic = calloc((size_t)p->count + 1, 1);
    if (!mapping || !dynamic) {
        free(mapping), free(dynamic);
        return false;
    }
    gather_bytes(mapping, e->mapping, 8, p->rows, p->count), gather_bytes(dynamic, e->dynamic, 1, p->rows, p->count);
    free(e->mapping), free(e->dynamic);
    e->mapping = mapping, e->dynamic = dynamic;
    e->s.dynamic = e->s.dynamic ? dynamic : NULL;
    return true;
}

bool rd_stream_encoder_resize(stream_encoder *e, int64_t count)
{
    if (count == e->n) return true;
    stream_encoder next;
    if (!allocate_like(e, &next, count)) return false;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++)
        if (e->s.latents[a].ld) memcpy(next.basis[a], e->basis[a], (size_t)(e->s.latents[a].ld * e->s.latents[a].features) * sizeof(float));
    free(next.mapping), free(next.dynamic);
    next.mapping = e->mapping, next.dynamic = e->dynamic, e->mapping = NULL, e->dynamic = NULL;
    next.s.dynamic = e->s.dynamic ? next.dynamic : NULL;
    rd_stream_encoder_free(e);
    *e = next;
    return true;
}
