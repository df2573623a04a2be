/* test_kmeans.c: compress/kmeans.h's k-means, the codebooks' and SOG palette's clustering,
   on fresh random rows each run:
   - as many centroids as distinct rows reproduce every row exactly (flat and hierarchical);
   - each centroid is the mean of the rows labelled with it, and every label is in range;
   - more centroids never quantise worse on the same rows (16, 256, 4096);
   - degenerate rows finish: all rows alike, and rows whose evenly spread sample is alike
     while the rest differ (before the fix the hierarchy recursed on the same rows forever);
   - refinement passes (rd_kmeans_with) label every row with its nearest centroid of all and
     never quantise worse than the hierarchy alone. */
#include "test_util.h"
#include "../compress/kmeans.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static test_rng rng;

/* Mean squared distance of the rows to their centroids; -1 when a label is out of range or
   (where means) a centroid is not the mean of its rows (to 1e-4 of the rows' spread). */
static double error_of(const float *x, int64_t n, int d, const float *centroids, int k, const int32_t *label, bool means)
{
    double *sum = calloc((size_t)k * (size_t)d, sizeof *sum);
    int64_t *members = calloc((size_t)k, sizeof *members);
    double error = 0.0;
    for (int64_t i = 0; i < n && error >= 0.0; i++) {
        if (label[i] < 0 || label[i] >= k) error = -1.0;
        else {
            members[label[i]]++;
            for (int j = 0; j < d; j++) {
                double t = (double)x[i * d + j] - centroids[(size_t)label[i] * d + j];
                sum[(size_t)label[i] * d + j] += x[i * d + j];
                error += t * t;
            }
        }
    }
    for (int c = 0; means && c < k && error >= 0.0; c++)
        for (int j = 0; j < d && members[c]; j++)
            if (fabs(sum[(size_t)c * d + j] / (double)members[c] - centroids[(size_t)c * d + j]) > 1e-4) error = -1.0;
    free(sum);
    free(members);
    return error < 0.0 ? -1.0 : error / (double)n;
}

static double quantisation_error(const float *x, int64_t n, int d, const float *centroids, int k, const int32_t *label)
{
    return error_of(x, n, d, centroids, k, label, true);
}

static double cluster(const float *x, int64_t n, int d, int k)
{
    float *centroids = malloc((size_t)k * d * sizeof *centroids);
    int32_t *label = malloc((size_t)n * sizeof *label);
    int got = rd_kmeans(x, n, d, k, 2, centroids, label);
    double error = got == (k < n ? k : (int)n) ? quantisation_error(x, n, d, centroids, got, label) : -2.0;
    free(centroids);
    free(label);
    return error;
}

static void test_exact(void)
{
    int d = 3;
    for (int n = 200; n <= 1000; n += 800) { /* flat (k 200) and hierarchical (k 1000) */
        float *x = random_floats(&rng, (size_t)n * d, -1.0, 1.0);
        double error = cluster(x, n, d, n);
        if (!CHECK(error == 0.0)) fprintf(stderr, "  %d distinct rows into %d centroids: error %g\n", n, n, error);
        free(x);
    }
}

static void test_more_is_better(void)
{
    int64_t n = 40000;
    int d = 4;
    float *x = random_floats(&rng, (size_t)n * d, -1.0, 1.0);
    double e16 = cluster(x, n, d, 16), e256 = cluster(x, n, d, 256), e4096 = cluster(x, n, d, 4096);
    if (!CHECK(e16 > 0.0 && e256 > 0.0 && e4096 > 0.0 && e256 < 0.7 * e16 && e4096 < 0.7 * e256))
        fprintf(stderr, "  errors at 16, 256, 4096 centroids: %g %g %g\n", e16, e256, e4096);
    free(x);
}

static void test_degenerate(void)
{
    int d = 7;
    int64_t n = 3000;
    float *x = calloc((size_t)n * d, sizeof *x);
    float row[7];
    for (int j = 0; j < d; j++) row[j] = (float)rng_range(&rng, -3.0, 3.0);
    for (int64_t i = 0; i < n; i++) memcpy(x + i * d, row, sizeof row);
    double error = cluster(x, n, d, 2048);
    if (!CHECK(error == 0.0)) fprintf(stderr, "  %lld alike rows: error %g\n", (long long)n, error);
    free(x);

    /* 81,920 rows into 1,024: the first split's sample takes every tenth row, all zero here */
    n = 81920, d = 2;
    x = random_floats(&rng, (size_t)n * d, -1.0, 1.0);
    for (int64_t i = 0; i < n; i += 10) x[i * d] = x[i * d + 1] = 0.0f;
    error = cluster(x, n, d, 1024);
    /* uniform rows in a square of side 2 into 1,024 cells: a cell about 0.0625^2, error about
       2 * 0.0625^2 / 12 = 6.5e-4 a row where the cells are even; far above only if the rows
       the sample missed were left to few centroids */
    if (!CHECK(error >= 0.0 && error < 2e-3)) fprintf(stderr, "  sampled rows alike, the rest random: error %g\n", error);
    free(x);
}

/* Refinement on fresh random rows in clumps (so that the hierarchy's groups cut some apart):
   at most the hierarchy's error, and every row labelled with its nearest centroid. */
static void test_refinement(void)
{
    int64_t n = 20000;
    int d = 5, k = 600; /* hierarchical: above 256 */
    float *x = random_floats(&rng, (size_t)n * d, -1.0, 1.0);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++) x[i * d + j] = x[i * d + j] * 0.05f + (float)((i * 7 + j * 3) % 13) / 13.0f;
    float *centroids = malloc((size_t)k * d * sizeof *centroids), *refined = malloc((size_t)k * d * sizeof *refined);
    int32_t *label = malloc((size_t)n * sizeof *label), *refined_label = malloc((size_t)n * sizeof *refined_label);
    int got = rd_kmeans_with(x, n, d, k, &(rd_kmeans_desc){.threads = 2}, centroids, label);
    int got_refined = rd_kmeans_with(x, n, d, k, &(rd_kmeans_desc){.threads = 2, .refine_passes = 3}, refined, refined_label);
    double start = got == k ? error_of(x, n, d, centroids, k, label, true) : -2.0;
    double after = got_refined == k ? error_of(x, n, d, refined, k, refined_label, false) : -2.0;
    int64_t farther = 0; /* rows whose label is not their nearest centroid (ties aside) */
    for (int64_t i = 0; after > 0.0 && i < n; i++) {
        double own = 0.0, best = INFINITY;
        for (int c = 0; c < k; c++) {
            double t = 0.0;
            for (int j = 0; j < d; j++) t += pow((double)x[i * d + j] - refined[(size_t)c * d + j], 2);
            if (c == refined_label[i]) own = t;
            if (t < best) best = t;
        }
        farther += own > best * (1.0 + 1e-5) + 1e-12;
    }
    printf("k-means of %lld rows into %d: error %.4g from the hierarchy, %.4g refined; %lld rows nearer another centroid\n",
           (long long)n, k, start, after, (long long)farther);
    CHECK(start > 0.0 && after > 0.0 && after <= start && farther == 0);
    free(x), free(centroids), free(refined), free(label), free(refined_label);
}

int main(void)
{
    rng.state = test_seed("test_kmeans");
    test_exact();
    test_more_is_better();
    test_degenerate();
    test_refinement();
    return test_finish("test_kmeans");
}
