/* feature_cpu.c: the CPU blend of a feature field's coefficient maps (spec/features.md,
   "Rendering"): per pixel W_l = sum_i alpha_i T_i w_i over the same walk as the RGB blend
   (splat_cpu.c), never divided by 1 - T. The sparse path adds each Gaussian's K slots a
   level; the dense path (the spec's training path) adds all L entries, zeros included, in
   the same order, so both give the same bits. The backward pass holds the geometry
   frozen: dL/dw_ik = sum_p alpha_i T_i(p) dL/dW_l[idx_ik](p). */
#include "features.h"
#include "../renderer/cpu/parallel.h"

#include <stdlib.h>
#include <string.h>

/* floats a tile keeps per Gaussian: u, v, conic a b c, opacity, cutoff; then a pixel's
   hits (place, alpha*T) */
enum { GATHERED = 7, HITS = GATHERED, HIT_WEIGHTS = HITS + 1, PER_GAUSSIAN = HIT_WEIGHTS + 1 };

size_t rd_feature_tile_scratch(const rd_cpu_frame *f, const rd_feature_slots *s, bool dense)
{
    return (size_t)f->max_tile_len * (PER_GAUSSIAN + (dense ? (size_t)s->levels * (size_t)s->L : 0));
}

/* The tile's Gaussians in flat arrays (each n long, in scratch), and with dense, each
   one's slots spread over levels*L entries. */
static void gather(const rd_cpu_frame *f, const rd_feature_slots *s, int64_t first, int64_t n, bool dense, float *scratch)
{
    float *gu = scratch, *gv = gu + n, *ga = gv + n, *gb = ga + n, *gc = gb + n, *go = gc + n, *gcut = go + n;
    float *spread = scratch + PER_GAUSSIAN * n;
    int row = s->levels * s->L;
    for (int64_t j = 0; j < n; j++) {
        uint32_t i = f->entries[first + j].index;
        const rd_splat2d *g = &f->splats[i];
        gu[j] = g->u, gv[j] = g->v, ga[j] = g->conic[0], gb[j] = g->conic[1], gc[j] = g->conic[2];
        go[j] = g->opacity, gcut[j] = rd_power_cutoff(g->opacity);
        if (!dense) continue;
        float *d = spread + j * row;
        memset(d, 0, (size_t)row * sizeof(float));
        for (int l = 0; l < s->levels; l++)
            for (int k = 0; k < s->K; k++) {
                int64_t slot = ((int64_t)i * s->levels + l) * s->K + k;
                d[l * s->L + s->indices[slot]] = rd_feature_slot_weight(s, slot);
            }
    }
}

/* The Gaussians of the tile's list (gathered in scratch) that pixel (fx, fy) blends, in
   order, as splat_cpu.c's blend_tiles walks them: their places in hit, their alpha*T in
   hit_weight; returns how many, and the final T in *T. */
static int64_t walk_pixel(const float *scratch, int64_t n, float fx, float fy, int32_t *hit, float *hit_weight, float *T)
{
    const float *gu = scratch, *gv = gu + n, *ga = gv + n, *gb = ga + n, *gc = gb + n, *go = gc + n, *gcut = go + n;
    int64_t hits = 0;
    float t = 1.0f;
    for (int64_t j = 0; j < n; j++) {
        float alpha;
        if (!rd_splat_alpha(ga[j], gb[j], gc[j], go[j], gcut[j], fx - gu[j], fy - gv[j], &alpha)) continue;
        float next_t = t * (1.0f - alpha);
        if (next_t < RD_MIN_TRANSMITTANCE) break;
        hit[hits] = (int32_t)j, hit_weight[hits++] = alpha * t;
        t = next_t;
    }
    *T = t;
    return hits;
}

void rd_feature_blend_tile(const rd_cpu_frame *f, const rd_feature_slots *s, int64_t t, bool dense, float *scratch, float *out,
                           float *alpha)
{
    const rd_view_params *vp = f->vp;
    int64_t first = f->tile_offsets[t], n = f->tile_offsets[t + 1] - first;
    int row = s->levels * s->L, LK = s->levels * s->K;
    gather(f, s, first, n, dense, scratch);
    const float *spread = scratch + PER_GAUSSIAN * n;
    int32_t *hit = (int32_t *)(scratch + HITS * n);
    float *hit_weight = scratch + HIT_WEIGHTS * n;
    int x0, y0, x1, y1;
    rd_tile_pixels(vp, t, &x0, &y0, &x1, &y1);
    size_t p = 0;
    for (int py = y0; py < y1; py++)
        for (int px = x0; px < x1; px++, p++) {
            float *acc = out + p * (size_t)row, T;
            memset(acc, 0, (size_t)row * sizeof(float));
            int64_t hits = walk_pixel(scratch, n, (float)px + 0.5f, (float)py + 0.5f, hit, hit_weight, &T);
            for (int64_t h = 0; h < hits; h++) {
                float wgt = hit_weight[h];
                if (dense) {
                    const float *d = spread + (int64_t)hit[h] * row;
                    for (int c = 0; c < row; c++) acc[c] += d[c] * wgt;
                    continue;
                }
                int64_t base = (int64_t)f->entries[first + hit[h]].index * LK;
                for (int l = 0; l < s->levels; l++)
                    for (int k = 0; k < s->K; k++) {
                        int64_t slot = base + l * s->K + k;
                        acc[l * s->L + s->indices[slot]] += rd_feature_slot_weight(s, slot) * wgt;
                    }
            }
            if (alpha) alpha[p] = 1.0f - T;
        }
}

typedef struct blend_job {
    const rd_cpu_frame *frame;
    const rd_feature_slots *slots;
    bool dense;
    float **scratch, *coefficients, *alpha; /* scratch: per worker, tile scratch then a tile's outputs */
    const float *coefficient_grad;
    float *entry_grad; /* pairs*levels*K */
} blend_job;

static void blend_tiles(int64_t begin, int64_t end, int worker, void *user)
{
    blend_job *job = user;
    const rd_cpu_frame *f = job->frame;
    const rd_view_params *vp = f->vp;
    int row = job->slots->levels * job->slots->L;
    float *scratch = job->scratch[worker], *out = scratch + rd_feature_tile_scratch(f, job->slots, job->dense);
    float *alpha = out + (size_t)RD_TILE_SIZE * RD_TILE_SIZE * (size_t)row;
    for (int64_t t = begin; t < end; t++) {
        rd_feature_blend_tile(f, job->slots, t, job->dense, scratch, out, alpha);
        int x0, y0, x1, y1;
        rd_tile_pixels(vp, t, &x0, &y0, &x1, &y1);
        size_t p = 0;
        for (int py = y0; py < y1; py++)
            for (int px = x0; px < x1; px++, p++) {
                size_t q = (size_t)py * (size_t)vp->width + (size_t)px;
                if (job->coefficients) memcpy(job->coefficients + q * row, out + p * row, (size_t)row * sizeof(float));
                if (job->alpha) job->alpha[q] = alpha[p];
            }
    }
}

static void backward_tiles(int64_t begin, int64_t end, int worker, void *user)
{
    blend_job *job = user;
    const rd_cpu_frame *f = job->frame;
    const rd_feature_slots *s = job->slots;
    const rd_view_params *vp = f->vp;
    int row = s->levels * s->L, LK = s->levels * s->K;
    float *scratch = job->scratch[worker];
    for (int64_t t = begin; t < end; t++) {
        int64_t first = f->tile_offsets[t], n = f->tile_offsets[t + 1] - first;
        gather(f, s, first, n, false, scratch);
        int32_t *hit = (int32_t *)(scratch + HITS * n);
        float *hit_weight = scratch + HIT_WEIGHTS * n;
        int x0, y0, x1, y1;
        rd_tile_pixels(vp, t, &x0, &y0, &x1, &y1);
        for (int py = y0; py < y1; py++)
            for (int px = x0; px < x1; px++) {
                const float *dW = job->coefficient_grad + ((size_t)py * (size_t)vp->width + (size_t)px) * row;
                float T;
                int64_t hits = walk_pixel(scratch, n, (float)px + 0.5f, (float)py + 0.5f, hit, hit_weight, &T);
                for (int64_t h = 0; h < hits; h++) {
                    int64_t base = (int64_t)f->entries[first + hit[h]].index * LK;
                    float *g = job->entry_grad + (first + hit[h]) * LK;
                    for (int l = 0; l < s->levels; l++)
                        for (int k = 0; k < s->K; k++)
                            g[l * s->K + k] += hit_weight[h] * dW[l * s->L + s->indices[base + l * s->K + k]];
                }
            }
    }
}

static rd_result run_tiles(rd_context *ctx, blend_job *job, size_t extra_floats, rd_parallel_fn fn)
{
    const rd_cpu_frame *f = job->frame;
    job->scratch = calloc((size_t)f->threads, sizeof(float *));
    bool ok = job->scratch != NULL;
    for (int w = 0; ok && w < f->threads; w++)
        ok = (job->scratch[w] = rd_alloc_array((int64_t)(rd_feature_tile_scratch(f, job->slots, job->dense) + extra_floats) + 1,
                                               sizeof(float))) != NULL;
    if (ok) rd_parallel_for(f->threads, (int64_t)f->vp->tiles_x * f->vp->tiles_y, 2, fn, job);
    for (int w = 0; job->scratch && w < f->threads; w++) free(job->scratch[w]);
    free(job->scratch);
    return ok ? RD_OK : rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "feature render: out of memory for the tiles' scratch");
}

rd_result rd_feature_coefficients_cpu(rd_context *ctx, const rd_cpu_frame *frame, const rd_feature_slots *slots,
                                      float *coefficients, float *alpha)
{
    blend_job job = {.frame = frame, .slots = slots, .dense = ctx->tuning.feature_blend == RD_FEATURE_BLEND_DENSE,
                     .coefficients = coefficients, .alpha = alpha};
    size_t tile_pixels = (size_t)RD_TILE_SIZE * RD_TILE_SIZE;
    return run_tiles(ctx, &job, tile_pixels * ((size_t)slots->levels * (size_t)slots->L + 1), blend_tiles);
}

rd_result rd_feature_coefficients_backward_cpu(rd_context *ctx, const rd_cpu_frame *frame, const rd_feature_slots *slots,
                                               const float *coefficient_grad, float *weight_grad)
{
    int64_t pairs = frame->tile_offsets[(int64_t)frame->vp->tiles_x * frame->vp->tiles_y];
    int LK = slots->levels * slots->K;
    blend_job job = {.frame = frame, .slots = slots, .coefficient_grad = coefficient_grad};
    job.entry_grad = rd_alloc_array(pairs * LK + 1, sizeof(float));
    if (!job.entry_grad) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "feature backward: out of memory for %lld pairs", (long long)pairs);
    memset(job.entry_grad, 0, (size_t)(pairs * LK) * sizeof(float));
    rd_result r = run_tiles(ctx, &job, 0, backward_tiles);
    /* each pair's sums into its Gaussian's, in the frame's tile order: the same bits on every run */
    for (int64_t e = 0; r == RD_OK && e < pairs; e++) {
        float *dst = weight_grad + (int64_t)frame->entries[e].index * LK;
        for (int c = 0; c < LK; c++) dst[c] += job.entry_grad[e * LK + c];
    }
    free(job.entry_grad);
    return r;
}
