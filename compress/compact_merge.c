/* compact_merge.c: OMG4's merging of similar neighbours (compact.h, rd_compact_merge;
   spec/dynamic.md, "OMG4"), after pruning and before the fine-tuning.

   Positions are normalised to the unit box of the kept means and the DC colour to the
   unit range of each channel; Gaussians share a cell when their normalised positions fall
   in one cube of side 0.1 (and, 4D, their times in one span of 2.0). Within a cell the
   similarity of a pair is -|dxyz|^2 - 4 |d f_dc|^2; pairs above max(-3e-4, the 70th
   percentile of every pair's similarity) join one group (transitively). A group becomes
   its most opaque member, whose position and colour (every coefficient: f_dc and f_rest)
   are the group's average weighted by sigmoid(opacity logit); the others are deleted.
   OMG4 learns the weights' logits while it trains; here the opacity's logit stands in for
   them (the more opaque member shows more of itself). Its cells grow x1.2 over its
   training; here one pass. Two guards of radiant's own: 4D Gaussians pair only where their
   temporal means lie within the smaller of their temporal deviations (sqrt W) of each
   other (the similarity sees no time: two Gaussians at one place at different times must
   not become one), and a Gaussian pairs with at most the next 64 of its cell in the file's
   Morton order (a scene crowded into few cells by an outlier stays linear). The
   percentile is taken over a sample of at most 2^20 pairs drawn with a fixed seed: the
   same groups every run. */
#include "compact.h"
#include "../renderer/internal.h"
#include "../renderer/random.h"
#include "../splat/slice4d_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SAMPLE_PAIRS = 1 << 20, PAIR_WINDOW = 64 };
static const float CELL = 0.1f, TIME_CELL = 2.0f, COLOUR_WEIGHT = 4.0f, FLOOR = -3e-4f, PERCENTILE = 0.7f;

typedef struct member {
    int64_t cell, index;
} member;

static int by_cell(const void *x, const void *y)
{
    const member *a = x, *b = y;
    if (a->cell != b->cell) return a->cell < b->cell ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int by_value(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

static int64_t root_of(int64_t *parent, int64_t i)
{
    while (parent[i] != i) i = parent[i] = parent[parent[i]];
    return i;
}

typedef struct normalised {
    const rd_compact_arrays *a;
    float lo[3], scale[3], colour_lo[3], colour_scale[3];
    const float *deviation; /* 4D: each Gaussian's temporal deviation sqrt(W) (NaN: never drawn); else NULL */
} normalised;

/* Whether 4D Gaussians i and j overlap enough in time to be one (3D: always). */
static bool same_time(const normalised *n, int64_t i, int64_t j)
{
    if (!n->deviation) return true;
    float dt = fabsf(n->a->means[4 * i + 3] - n->a->means[4 * j + 3]);
    return dt <= fminf(n->deviation[i], n->deviation[j]); /* false with a NaN */
}

static float similarity(const normalised *n, int64_t i, int64_t j)
{
    const rd_compact_arrays *a = n->a;
    int m = rd_compact_mean_floats(a), c = rd_compact_sh_floats(a);
    float d2 = 0.0f, c2 = 0.0f;
    for (int k = 0; k < 3; k++) {
        float d = (a->means[(size_t)i * m + k] - a->means[(size_t)j * m + k]) * n->scale[k];
        float e = (a->sh[(size_t)i * c + k] - a->sh[(size_t)j * c + k]) * n->colour_scale[k];
        d2 += d * d, c2 += e * e;
    }
    return -d2 - COLOUR_WEIGHT * c2;
}

/* The pairs of each cell (members sorted by cell), to visit: sample their similarities, or
   join those above the threshold. */
static void visit_pairs(const normalised *n, const member *members, int64_t count, float threshold, int64_t *parent,
                        float *sample, int64_t *sampled, int64_t *seen, rd_rng *rng)
{
    for (int64_t first = 0; first < count;) {
        int64_t last = first;
        while (last < count && members[last].cell == members[first].cell) last++;
        for (int64_t x = first; x < last; x++)
            for (int64_t y = x + 1; y < last && y <= x + PAIR_WINDOW; y++) {
                if (!same_time(n, members[x].index, members[y].index)) continue;
                float s = similarity(n, members[x].index, members[y].index);
                if (parent) {
                    if (s >= threshold) { /* >=: exact duplicates (0) merge where they set the percentile */
                        int64_t rx = root_of(parent, members[x].index), ry = root_of(parent, members[y].index);
                        if (rx != ry) parent[rx > ry ? rx : ry] = rx < ry ? rx : ry;
                    }
                } else { /* reservoir sampling */
                    int64_t k = (*seen)++;
                    if (k < SAMPLE_PAIRS) sample[(*sampled)++] = s;
                    else {
                        int64_t r = (int64_t)(rd_rng_next(rng) % (uint64_t)(k + 1));
                        if (r < SAMPLE_PAIRS) sample[r] = s;
                    }
                }
            }
        first = last;
    }
}

/* Each group of two or more becomes its most opaque member at the group's opacity-weighted
   mean position and colour (sums in double, a row a group: groups of one need none);
   keep gets the members that stay, in order. Returns their count, or -1 when out of
   memory. slot and best: n entries of scratch. */
static int64_t merge_groups(rd_compact_arrays *a, int64_t *parent, int64_t *slot, int64_t *best, int64_t *keep)
{
    int64_t n = a->count;
    int m = rd_compact_mean_floats(a), c = rd_compact_sh_floats(a);
    size_t row = (size_t)m + (size_t)c + 1;
    int64_t groups = 0;
    for (int64_t i = 0; i < n; i++) slot[i] = 0, best[i] = -1;
    for (int64_t i = 0; i < n; i++) slot[root_of(parent, i)]++;
    for (int64_t i = 0; i < n; i++) slot[i] = slot[i] >= 2 ? ++groups : 0; /* a root's row of sums, from 1 */
    double *sums = groups ? calloc((size_t)groups, row * sizeof(double)) : NULL;
    if (groups && !sums) return -1;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = root_of(parent, i);
        if (best[g] < 0 || a->opacities[i] > a->opacities[best[g]]) best[g] = i;
        if (!slot[g]) continue;
        double w = 1.0 / (1.0 + exp(-(double)a->opacities[i]));
        double *acc = sums + (size_t)(slot[g] - 1) * row;
        for (int k = 0; k < m; k++) acc[k] += w * a->means[(size_t)i * m + k];
        for (int k = 0; k < c; k++) acc[m + k] += w * a->sh[(size_t)i * c + k];
        acc[m + c] += w;
    }
    int64_t kept = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = root_of(parent, i);
        if (best[g] != i) continue;
        const double *acc = slot[g] ? sums + (size_t)(slot[g] - 1) * row : NULL;
        if (acc && acc[m + c] > 0.0) {
            for (int k = 0; k < 3; k++) a->means[(size_t)i * m + k] = (float)(acc[k] / acc[m + c]); /* the time stays the member's */
            for (int k = 0; k < c; k++) a->sh[(size_t)i * c + k] = (float)(acc[m + k] / acc[m + c]);
        }
        keep[kept++] = i;
    }
    free(sums);
    return kept;
}

rd_result rd_compact_merge(rd_context *ctx, rd_compact_arrays *a, int64_t *keep, int64_t *merged)
{
    *merged = 0;
    int64_t n = a->count;
    if (n < 2) {
        for (int64_t i = 0; i < n; i++) keep[i] = i;
        return RD_OK;
    }
    int m = rd_compact_mean_floats(a), c = rd_compact_sh_floats(a);
    member *members = rd_alloc_array(n, sizeof *members);
    int64_t *parent = rd_alloc_array(n, sizeof *parent);
    int64_t *best = rd_alloc_array(n, sizeof *best); /* the most opaque member of each root's group */
    float *deviation = a->four_d ? rd_alloc_array(n, sizeof *deviation) : NULL;
    float *sample = rd_alloc_array(SAMPLE_PAIRS, sizeof *sample);
    int64_t *slot = rd_alloc_array(n, sizeof *slot); /* a root's group's row of sums, from 1; 0: a group of one */
    rd_result r = members && parent && best && sample && slot && (deviation || !a->four_d)
                      ? RD_OK
                      : rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: merging: out of memory for %lld Gaussians", (long long)n);
    if (r == RD_OK) {
        normalised norm = {.a = a};
        for (int k = 0; k < 3; k++) {
            float lo = INFINITY, hi = -INFINITY, clo = INFINITY, chi = -INFINITY;
            for (int64_t i = 0; i < n; i++) {
                lo = fminf(lo, a->means[(size_t)i * m + k]), hi = fmaxf(hi, a->means[(size_t)i * m + k]);
                clo = fminf(clo, a->sh[(size_t)i * c + k]), chi = fmaxf(chi, a->sh[(size_t)i * c + k]);
            }
            norm.lo[k] = lo, norm.scale[k] = hi > lo ? 1.0f / (hi - lo) : 1.0f;
            norm.colour_lo[k] = clo, norm.colour_scale[k] = chi > clo ? 1.0f / (chi - clo) : 1.0f;
            if (!isfinite(norm.scale[k])) norm.scale[k] = 1.0f; /* a box too thin for a float's reciprocal */
            if (!isfinite(norm.colour_scale[k])) norm.colour_scale[k] = 1.0f;
        }
        for (int64_t i = 0; deviation && i < n; i++) {
            rd_slice4d_static st;
            rd_slice4d_static_of(a->log_scales + 4 * i, a->rotations + 8 * i, &st);
            deviation[i] = sqrtf(0.5f / st.half_inv_w);
        }
        norm.deviation = deviation;
        for (int64_t i = 0; i < n; i++) {
            int64_t cell = 0;
            for (int k = 0; k < 3; k++) {
                int64_t q = (int64_t)floorf((a->means[(size_t)i * m + k] - norm.lo[k]) * norm.scale[k] / CELL);
                cell = cell * 16 + (q < 0 ? 0 : q > 15 ? 15 : q); /* 0..10 a side */
            }
            if (a->four_d) { /* the time's span, within +-2^30 (a cell key apart from every other) */
                float span = floorf(a->means[(size_t)i * m + 3] / TIME_CELL);
                cell += 4096 * (int64_t)(span > 1073741823.0f ? 1073741823.0f : span < -1073741823.0f ? -1073741823.0f : span);
            }
            members[i] = (member){cell, i};
            parent[i] = i;
        }
        qsort(members, (size_t)n, sizeof *members, by_cell);
        int64_t sampled = 0, seen = 0;
        rd_rng rng = {0x6d65726765ull};
        visit_pairs(&norm, members, n, 0.0f, NULL, sample, &sampled, &seen, &rng);
        float threshold = FLOOR;
        if (sampled > 0) {
            qsort(sample, (size_t)sampled, sizeof *sample, by_value);
            threshold = fmaxf(FLOOR, sample[(int64_t)floorf(PERCENTILE * (float)(sampled - 1))]);
        }
        visit_pairs(&norm, members, n, threshold, parent, NULL, NULL, NULL, NULL);
        int64_t kept = merge_groups(a, parent, slot, best, keep);
        if (kept < 0) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: merging: out of memory for the merged groups' sums");
        else {
            *merged = n - kept;
            rd_log(ctx, RD_LOG_INFO, "compact: merging: %lld of %lld Gaussians merged into their neighbours (similarity above %.3g)",
                   (long long)*merged, (long long)n, threshold);
        }
    }
    free(members), free(parent), free(best), free(sample), free(slot), free(deviation);
    return r;
}
