/* feature_query.c: the spec's evaluation of relevancy maps (spec/features.md, "Queries
   and evaluation"): the 29x29 mean filter over in-image pixels, the smoothed map r', and
   the segmentation mask (min-max normalised r' above 0.7, then a 7x7 majority). Box sums
   come from a summed-area table in double precision. And the PCA colouring of feature
   maps (power iteration with deflation on a sample of the pixels). */
#include "features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Summed-area table of values ((w+1)*(h+1) doubles, first row and column 0). */
static void summed_area(const float *values, const uint8_t *bits, int w, int h, double *sat)
{
    for (int x = 0; x <= w; x++) sat[x] = 0.0;
    for (int y = 1; y <= h; y++) {
        double row = 0.0;
        sat[(size_t)y * (w + 1)] = 0.0;
        for (int x = 1; x <= w; x++) {
            size_t p = (size_t)(y - 1) * w + (x - 1);
            row += values ? (double)values[p] : (double)bits[p];
            sat[(size_t)y * (w + 1) + x] = sat[(size_t)(y - 1) * (w + 1) + x] + row;
        }
    }
}

/* The sum over the in-image part of the (2r+1)^2 window about (x, y), and its pixel count. */
static double window_sum(const double *sat, int w, int h, int x, int y, int r, int *count)
{
    int x0 = x - r < 0 ? 0 : x - r, y0 = y - r < 0 ? 0 : y - r;
    int x1 = x + r + 1 > w ? w : x + r + 1, y1 = y + r + 1 > h ? h : y + r + 1;
    *count = (x1 - x0) * (y1 - y0);
    size_t s = (size_t)w + 1;
    return sat[y1 * s + x1] - sat[y0 * s + x1] - sat[y1 * s + x0] + sat[y0 * s + x0];
}

rd_result rd_relevancy_smooth(const float *r, int w, int h, float *smoothed)
{
    double *sat = malloc(((size_t)w + 1) * ((size_t)h + 1) * sizeof(double));
    if (!sat) return rd_fail(NULL, RD_ERROR_OUT_OF_MEMORY, "rd_relevancy_smooth: out of memory at %dx%d", w, h);
    summed_area(r, NULL, w, h, sat);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int n;
            double sum = window_sum(sat, w, h, x, y, 14, &n);
            smoothed[(size_t)y * w + x] = 0.5f * (r[(size_t)y * w + x] + (float)(sum / n));
        }
    free(sat);
    return RD_OK;
}

rd_result rd_relevancy_mask(const float *smoothed, int w, int h, uint8_t *mask)
{
    size_t pixels = (size_t)w * (size_t)h;
    uint8_t *above = malloc(pixels);
    double *sat = malloc(((size_t)w + 1) * ((size_t)h + 1) * sizeof(double));
    if (!above || !sat) {
        free(above), free(sat);
        return rd_fail(NULL, RD_ERROR_OUT_OF_MEMORY, "rd_relevancy_mask: out of memory at %dx%d", w, h);
    }
    float lo = INFINITY, hi = -INFINITY;
    for (size_t p = 0; p < pixels; p++) lo = fminf(lo, smoothed[p]), hi = fmaxf(hi, smoothed[p]);
    float range = hi - lo > 1e-9f ? hi - lo : 1e-9f;
    for (size_t p = 0; p < pixels; p++) above[p] = (smoothed[p] - lo) / range > 0.7f;
    summed_area(NULL, above, w, h, sat);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int n;
            double ones = window_sum(sat, w, h, x, y, 3, &n);
            mask[(size_t)y * w + x] = 2.0 * ones > (double)n;
        }
    free(above);
    free(sat);
    return RD_OK;
}

enum { PCA_SAMPLES = 65536, PCA_ITERATIONS = 30 };

rd_result rd_feature_pca_colors(const float *features, const float *alpha, int64_t pixels, int dim, float *rgb)
{
    int64_t covered = 0;
    for (int64_t p = 0; p < pixels; p++) covered += !alpha || alpha[p] >= 0.5f;
    int64_t stride = covered > PCA_SAMPLES ? (covered + PCA_SAMPLES - 1) / PCA_SAMPLES : 1, n = 0;
    double *x = malloc(((size_t)(covered / stride + 1) * dim + 5 * (size_t)dim) * sizeof(double));
    if (!x) return rd_fail(NULL, RD_ERROR_OUT_OF_MEMORY, "rd_feature_pca_colors: out of memory for %lld pixels", (long long)pixels);
    double *mean = x + (size_t)(covered / stride + 1) * dim, *axes = mean + dim, *v = axes + 3 * (size_t)dim;
    memset(mean, 0, (size_t)dim * sizeof(double));
    for (int64_t p = 0, seen = 0; p < pixels; p++) { /* the sample, centred */
        if ((alpha && alpha[p] < 0.5f) || seen++ % stride) continue;
        for (int d = 0; d < dim; d++) x[n * dim + d] = features[p * dim + d], mean[d] += features[p * dim + d];
        n++;
    }
    for (int d = 0; d < dim; d++) mean[d] /= n ? (double)n : 1.0;
    for (int64_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) x[i * dim + d] -= mean[d];
    for (int a = 0; a < 3; a++) { /* v <- X^T X v, less the axes found before; a fixed start, so the same input gives the same axes */
        double *axis = axes + (size_t)a * dim;
        for (int d = 0; d < dim; d++) axis[d] = 1.0 / (1.0 + (double)((d * 7 + a * 3) % 11));
        for (int it = 0; it < PCA_ITERATIONS; it++) {
            memset(v, 0, (size_t)dim * sizeof(double));
            for (int64_t i = 0; i < n; i++) {
                double dot = 0.0;
                for (int d = 0; d < dim; d++) dot += x[i * dim + d] * axis[d];
                for (int d = 0; d < dim; d++) v[d] += dot * x[i * dim + d];
            }
            for (int b = 0; b < a; b++) {
                double dot = 0.0;
                for (int d = 0; d < dim; d++) dot += v[d] * axes[(size_t)b * dim + d];
                for (int d = 0; d < dim; d++) v[d] -= dot * axes[(size_t)b * dim + d];
            }
            double norm = 0.0;
            for (int d = 0; d < dim; d++) norm += v[d] * v[d];
            norm = sqrt(norm);
            for (int d = 0; d < dim; d++) axis[d] = norm > 0.0 ? v[d] / norm : 0.0;
        }
    }
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int pass = 0; pass < 2; pass++) /* the range of each projection, then the colours */
        for (int64_t p = 0; p < pixels; p++) {
            bool shown = !alpha || alpha[p] >= 0.5f;
            for (int a = 0; a < 3; a++) {
                double t = 0.0;
                for (int d = 0; shown && d < dim; d++) t += ((double)features[p * dim + d] - mean[d]) * axes[(size_t)a * dim + d];
                if (pass == 0 && shown) lo[a] = fmin(lo[a], t), hi[a] = fmax(hi[a], t);
                if (pass == 1) rgb[3 * p + a] = shown && hi[a] > lo[a] ? (float)((t - lo[a]) / (hi[a] - lo[a])) : 0.0f;
            }
        }
    free(x);
    return RD_OK;
}

void rd_relevancy_color(float t, float rgb[3])
{
    t = fminf(fmaxf(t, 0.0f), 1.0f);
    rgb[0] = fminf(fmaxf(1.5f - fabsf(4.0f * t - 3.0f), 0.0f), 1.0f);
    rgb[1] = fminf(fmaxf(1.5f - fabsf(4.0f * t - 2.0f), 0.0f), 1.0f);
    rgb[2] = fminf(fmaxf(1.5f - fabsf(4.0f * t - 1.0f), 0.0f), 1.0f);
}
