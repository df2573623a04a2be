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

/* ln alpha of a gate that opens fully (g = 1 from ln alpha >= tau ln((1 - gamma)/(eta - 1)), about 1.5). */
#define OPEN_GATE_LOGIT 2.0f

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

/* Rows of width floats (or bytes) from old to new by the rows' sources; moments of fresh
   rows stay zero. */
static void gather(void *to, const void *from, size_t width, const new_row *rows, int64_t count, bool moments)
{
    for (int64_t j = 0; j < count; j++)
        if (!(moments && rows[j].fresh)) memcpy((char *)to + (size_t)j * width, (const char *)from + (size_t)rows[j].from * width, width);
}

/* Everything of next from e by rows; the children placed and shrunk. */
static void rebuild(const stream_encoder *e, stream_encoder *next, const new_row *rows, int64_t m, const float *shrink, rd_rng *rng)
{
    for (int k = 0; k < ENCODE_ARRAYS; k++) {
        size_t width = (size_t)stream_encode_array_width(k, e->C) * sizeof(float);
        gather((float *)next->s.parent[k], e->s.parent[k], width, rows, m, false);
        gather(next->s.decoded[k], e->s.parent[k], width, rows, m, false); /* attributes without latents: the parent's */
    }
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &e->s.latents[a];
        stream_encode_latents *nl = &next->s.latents[a];
        const stream_encode_moments *mo = &e->moments[a];
        stream_encode_moments *nm = &next->moments[a];
        if (!l->ld) continue;
        size_t width = (size_t)l->ld * sizeof(float), w = (size_t)stream_encode_decoder_size(l) * sizeof(float);
        size_t fb = (size_t)l->features * sizeof(float);
        gather(nl->z, l->z, width, rows, m, false), gather(nm->mz, mo->mz, width, rows, m, true), gather(nm->vz, mo->vz, width, rows, m, true);
        gather(next->anchor[a], e->anchor[a], width, rows, m, false);
        memcpy(nl->W, l->W, w), memcpy(nm->mW, mo->mW, w), memcpy(nm->vW, mo->vW, w);
        memcpy(nl->b, l->b, fb), memcpy(nm->mb, mo->mb, fb), memcpy(nm->vb, mo->vb, fb);
        memcpy(next->basis[a], e->basis[a], (size_t)l->ld * fb);
    }
    gather(next->s.x, e->s.x, 12, rows, m, false), gather(next->s.log_alpha, e->s.log_alpha, 4, rows, m, false);
    for (int k = 0; k < 4; k++) gather(next->position_moments[k], e->position_moments[k], k < 2 ? 12 : 4, rows, m, true);
    gather(next->dynamic, e->dynamic, 1, rows, m, false), gather(next->mapping, e->mapping, 8, rows, m, false);
    const stream_encode_latents *scale = &e->s.latents[RD_STREAM_SCALE];
    for (int64_t j = 0; j < m; j++) {
        if (!rows[j].child) continue;
        int64_t i = rows[j].from;
        float offset[3];
        rd_split_offset(e->s.decoded[ENCODE_SCALES] + 3 * i, e->s.decoded[ENCODE_ROTATIONS] + 4 * i, rng, offset);
        for (int a = 0; a < 3; a++) next->s.x[3 * j + a] = e->s.decoded[ENCODE_MEANS][3 * i + a] + offset[a];
        next->s.log_alpha[j] = fmaxf(next->s.log_alpha[j], OPEN_GATE_LOGIT);
        for (int k = 0; shrink && k < scale->ld; k++) /* the shrink is the child's own: the settle keeps it */
            next->s.latents[RD_STREAM_SCALE].z[j * scale->ld + k] += shrink[k], next->anchor[RD_STREAM_SCALE][j * scale->ld + k] += shrink[k];
    }
}

rd_result rd_stream_encoder_densify(stream_encoder *e, int64_t *added, int64_t *removed)
{
    int64_t n = e->n;
    if (added) *added = 0;
    if (removed) *removed = 0;
    e->s.eval = 1, e->s.hide_static = 0;
    rd_stream_encode_decode_cpu(&e->s); /* the frame as it decodes now, gates evaluated */
    float *largest = rd_alloc_array(n + 1, sizeof(float));
    new_row *rows = rd_alloc_array(2 * n + 1, sizeof(new_row));
    const stream_encode_latents *scale = &e->s.latents[RD_STREAM_SCALE];
    float shrink[RD_STREAM_MAX_LATENT];
    bool shrinks = scale->ld > 0 && shrink_latents(scale, shrink);
    rd_result r = largest && rows ? RD_OK : rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory densifying %lld Gaussians", (long long)n);
    int64_t m = 0, fresh = 0;
    if (r == RD_OK) {
        for (int64_t i = 0; i < n; i++) {
            const float *ls = e->s.decoded[ENCODE_SCALES] + 3 * i;
            largest[i] = expf(fmaxf(fmaxf(ls[0], ls[1]), ls[2]));
        }
        float gradient = e->desc->densify_gradient > 0.0f ? e->desc->densify_gradient : RD_ENCODE_DENSIFY_GRADIENT;
        density_inputs in = {n, e->grad_norm, largest, e->s.decoded[ENCODE_OPACITIES], e->views_seen, e->extent, false, gradient,
                             RD_ENCODE_PRUNE_OPACITY};
        m = rd_density_rows(&in, rows);
        for (int64_t j = 0; j < m; j++) fresh += rows[j].fresh;
    }
    bool unchanged = r == RD_OK && m == n && fresh == 0; /* every row kept in place */
    if (r == RD_OK && !unchanged) {
        stream_encoder next = {.ctx = e->ctx, .desc = e->desc, .sh_degree = e->sh_degree, .C = e->C, .parent = e->parent,
                               .previous_count = e->previous_count, .extent = e->extent, .rng = e->rng, .split_rng = e->split_rng};
        if (!rd_stream_encoder_allocate(&next, m)) {
            rd_stream_encoder_free(&next);
            r = rd_fail(e->ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_encode_frame: out of memory for %lld Gaussians", (long long)m);
        } else {
            rebuild(e, &next, rows, m, shrinks ? shrink : NULL, &next.split_rng);
            stream_encode_step scalars = e->s; /* the step's settings carry over; its arrays are next's */
            next.s.dynamic = e->s.dynamic ? next.dynamic : NULL;
            next.s.hide_static = scalars.hide_static, next.s.seed = scalars.seed, next.s.step = scalars.step;
            next.s.gates_off = scalars.gates_off, next.s.lambda = scalars.lambda, next.s.shrink = scalars.shrink;
            if (added) *added = fresh;
            if (removed) *removed = n - (m - fresh);
            rd_stream_encoder_free(e);
            *e = next;
        }
    }
    if (r == RD_OK && unchanged) {
        memset(e->grad_norm, 0, (size_t)n * sizeof(float));
        memset(e->views_seen, 0, (size_t)n * sizeof(uint32_t));
    }
    e->s.eval = 0;
    free(largest), free(rows);
    return r;
}
