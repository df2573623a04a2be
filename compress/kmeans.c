/* kmeans.c: k-means of n rows of d floats (the SOG writer's SH palette, the compact file's
   codebooks; kmeans.h). Hierarchical above 256 centroids, so that k of 64 Ki stays about
   m * 256 * d of work a level, then (rd_kmeans_with) Lloyd's passes over all of them on
   request; deterministic (no random start). */
#include "kmeans.h"
#include "../renderer/cpu/parallel.h"

#include <float.h>
#include <stdbool.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct kmeans {
    const float *x; /* n rows of d */
    int d, threads, iterations;
} kmeans;

static float distance2(const float *a, const float *b, int d)
{
    float s = 0.0f;
    for (int j = 0; j < d; j++) {
        float t = a[j] - b[j];
        s += t * t;
    }
    return s;
}

typedef struct assign_job {
    const kmeans *km;
    const int64_t *rows; /* the rows taking part */
    const float *centroids;
    int k;
    int32_t *label; /* per entry of rows */
} assign_job;

static void assign_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const assign_job *a = user;
    int d = a->km->d;
    for (int64_t i = begin; i < end; i++) {
        const float *p = a->km->x + (size_t)a->rows[i] * (size_t)d;
        float best = FLT_MAX;
        int32_t at = 0;
        for (int c = 0; c < a->k; c++) {
            float t = distance2(p, a->centroids + (size_t)c * (size_t)d, d);
            if (t < best) best = t, at = c;
        }
        a->label[i] = at;
    }
}

static void assign(const kmeans *km, const int64_t *rows, int64_t m, const float *centroids, int k, int32_t *label)
{
    assign_job job = {km, rows, centroids, k, label};
    rd_parallel_for(km->threads, m, 1024, assign_range, &job);
}

/* Each centroid the mean of its rows (one with none keeps its place). */
static void update(const kmeans *km, const int64_t *rows, int64_t m, const int32_t *label, float *centroids, int k, double *sum,
                   int64_t *members)
{
    int d = km->d;
    memset(sum, 0, (size_t)k * (size_t)d * sizeof *sum);
    memset(members, 0, (size_t)k * sizeof *members);
    for (int64_t i = 0; i < m; i++) {
        const float *p = km->x + (size_t)rows[i] * (size_t)d;
        double *s = sum + (size_t)label[i] * (size_t)d;
        for (int j = 0; j < d; j++) s[j] += p[j];
        members[label[i]]++;
    }
    for (int c = 0; c < k; c++)
        if (members[c])
            for (int j = 0; j < d; j++) centroids[(size_t)c * d + j] = (float)(sum[(size_t)c * d + j] / (double)members[c]);
}

/* Farthest-point start on sample[0..s): centroid c is the sample row farthest from
   centroids 0..c-1. Returns how many distinct rows it found (k where the sample has as
   many). */
static int farthest_start(const kmeans *km, const int64_t *sample, int64_t s, int k, float *centroids, float *nearest)
{
    int d = km->d, distinct = 1;
    int64_t pick = 0;
    for (int c = 0; c < k; c++) {
        memcpy(centroids + (size_t)c * d, km->x + (size_t)sample[pick] * d, (size_t)d * sizeof(float));
        float far = -1.0f;
        for (int64_t i = 0; i < s; i++) {
            float t = distance2(km->x + (size_t)sample[i] * d, centroids + (size_t)c * d, d);
            if (c == 0 || t < nearest[i]) nearest[i] = t;
            if (nearest[i] > far) far = nearest[i], pick = i;
        }
        if (c + 1 == k) break;
        if (far <= 0.0f) { /* no row left apart: the rest are copies */
            for (int r = c + 1; r < k; r++) memcpy(centroids + (size_t)r * d, centroids + (size_t)c * d, (size_t)d * sizeof(float));
            break;
        }
        distinct++;
    }
    return distinct;
}

/* k centroids for rows[0..m) (k <= m), their labels in label: Lloyd's iterations on an
   evenly spread sample, started from its farthest points (so that k or fewer distinct rows
   each get a centroid of their own), then every row assigned and the means taken. A sample
   of fewer than k distinct rows gives way to the farthest points of all the rows (rows
   alike at every sampled place and different between them would otherwise share a few
   centroids). */
static bool flat(const kmeans *km, const int64_t *rows, int64_t m, int k, float *centroids, int32_t *label)
{
    int d = km->d;
    int64_t s = m < 64 * (int64_t)k ? m : 64 * (int64_t)k;
    if (s < 8192 && m > s) s = m < 8192 ? m : 8192;
    int64_t *sample = malloc((size_t)s * sizeof *sample);
    float *nearest = malloc((size_t)s * sizeof *nearest);
    int32_t *sample_label = malloc((size_t)s * sizeof *sample_label);
    double *sum = malloc((size_t)k * (size_t)d * sizeof *sum);
    int64_t *members = malloc((size_t)k * sizeof *members);
    bool ok = sample && nearest && sample_label && sum && members;
    if (ok) {
        for (int64_t i = 0; i < s; i++) sample[i] = rows[(int64_t)((double)i * (double)m / (double)s)];
        int iterations = km->iterations;
        if (farthest_start(km, sample, s, k, centroids, nearest) < k && s < m) {
            /* the start over every row spreads them; Lloyd's passes on every row would cost ten assignments */
            float *all = realloc(nearest, (size_t)m * sizeof *nearest);
            ok = all != NULL;
            if (ok) nearest = all, farthest_start(km, rows, m, k, centroids, nearest);
            iterations = 0;
        }
        for (int it = 0; it < iterations; it++) {
            assign(km, sample, s, centroids, k, sample_label);
            update(km, sample, s, sample_label, centroids, k, sum, members);
        }
        if (ok) {
            assign(km, rows, m, centroids, k, label);
            update(km, rows, m, label, centroids, k, sum, members);
        }
    }
    free(sample);
    free(nearest);
    free(sample_label);
    free(sum);
    free(members);
    return ok;
}

/* Splits rows[0..m) into k centroids written from centroids[first]; label gets global
   indices. Above 256 centroids the rows are first split into at most 256 groups, each
   given centroids in proportion to its rows and split the same way, so that the work is
   about m * 256 * d a level rather than m * k * d. */
static bool split(const kmeans *km, int64_t *rows, int64_t m, int k, float *palette, int first, int32_t *label)
{
    int d = km->d;
    if (k <= 256) {
        int32_t *local = malloc((size_t)m * sizeof *local);
        bool ok = local && flat(km, rows, m, k, palette + (size_t)first * d, local);
        for (int64_t i = 0; ok && i < m; i++) label[rows[i]] = first + local[i];
        free(local);
        return ok;
    }
    int b = (int)ceil(sqrt((double)k));
    if (b > 256) b = 256;
    float *groups = malloc((size_t)b * d * sizeof *groups);
    int32_t *group = malloc((size_t)m * sizeof *group);
    int64_t *count = calloc((size_t)b + 1, sizeof *count);
    int *share = calloc((size_t)b, sizeof *share);
    int64_t *sorted = malloc((size_t)m * sizeof *sorted);
    bool ok = groups && group && count && share && sorted && flat(km, rows, m, b, groups, group);
    if (ok) {
        int nonempty = 0;
        for (int64_t i = 0; i < m; i++) count[group[i] + 1]++;
        for (int g = 0; g < b; g++) nonempty += count[g + 1] > 0;
        if (nonempty == 1) { /* every row alike (or Lloyd emptied the rest): split by position, so that each level has fewer rows */
            memset(count, 0, ((size_t)b + 1) * sizeof *count);
            for (int64_t i = 0; i < m; i++) group[i] = (int32_t)(i * b / m), count[group[i] + 1]++;
            nonempty = b < m ? b : (int)m;
        }
        int total = 0;
        for (int g = 0; g < b; g++) { /* at least one each, the rest in proportion, never more than its rows */
            int64_t n = count[g + 1];
            if (!n) continue;
            int64_t want = 1 + (int64_t)((double)(k - nonempty) * (double)n / (double)m);
            share[g] = (int)(want < n ? want : n);
            total += share[g];
        }
        while (total < k) { /* what rounding left goes to the groups with most rows a centroid */
            int best = -1;
            for (int g = 0; g < b; g++)
                if (share[g] && share[g] < count[g + 1] &&
                    (best < 0 || (double)count[g + 1] / (share[g] + 1) > (double)count[best + 1] / (share[best] + 1)))
                    best = g;
            if (best < 0) break;
            share[best]++, total++;
        }
        for (int g = 0; g < b; g++) count[g + 1] += count[g];
        int64_t *at = malloc((size_t)b * sizeof *at);
        ok = at != NULL;
        for (int g = 0; ok && g < b; g++) at[g] = count[g];
        for (int64_t i = 0; ok && i < m; i++) sorted[at[group[i]]++] = rows[i];
        free(at);
        for (int g = 0; ok && g < b; g++) {
            if (!share[g]) continue;
            ok = split(km, sorted + count[g], count[g + 1] - count[g], share[g], palette, first, label);
            first += share[g];
        }
    }
    free(groups);
    free(group);
    free(count);
    free(share);
    free(sorted);
    return ok;
}

/* Lloyd's passes over every row with every centroid (the hierarchy's start refined), then
   each row labelled with its nearest centroid: the codebook's error never grows, though a
   centroid may no longer be exactly the mean of its rows. False, with nothing changed,
   where there is no memory for it. */
static bool refine(const kmeans *km, const int64_t *rows, int64_t n, int k, int passes, float *centroids, int32_t *label)
{
    double *sum = malloc((size_t)k * (size_t)km->d * sizeof *sum);
    int64_t *members = malloc((size_t)k * sizeof *members);
    bool ok = sum && members;
    for (int p = 0; ok && p < passes; p++) {
        assign(km, rows, n, centroids, k, label);
        update(km, rows, n, label, centroids, k, sum, members);
    }
    if (ok) assign(km, rows, n, centroids, k, label);
    free(sum), free(members);
    return ok;
}

int rd_kmeans_with(const float *x, int64_t n, int d, int k, const rd_kmeans_desc *desc, float *palette, int32_t *label)
{
    if (k > n) k = (int)n;
    if (k < 1) return 0;
    kmeans km = {x, d, desc->threads > 0 ? desc->threads : 1, 10};
    int64_t *rows = malloc((size_t)n * sizeof *rows);
    if (!rows) return -1;
    for (int64_t i = 0; i < n; i++) rows[i] = i;
    bool ok = split(&km, rows, n, k, palette, 0, label); /* reads rows only: refine takes them too */
    /* refinement within its budget; without memory for it the hierarchy's result stands */
    int passes = desc->refine_passes;
    double work = (double)n * (double)k * (double)d; /* a pass */
    if (desc->refine_budget > 0.0 && passes > desc->refine_budget / work) passes = (int)(desc->refine_budget / work);
    if (ok && passes > 0) refine(&km, rows, n, k, passes, palette, label);
    free(rows);
    return ok ? k : -1;
}

int rd_kmeans(const float *x, int64_t n, int d, int k, int threads, float *palette, int32_t *label)
{
    return rd_kmeans_with(x, n, d, k, &(rd_kmeans_desc){.threads = threads}, palette, label);
}
