/* feature_query.c: the spec's evaluation of relevancy maps (spec/features.md, "Queries
   and evaluation"): the 29x29 mean filter over in-image pixels, the smoothed map r', and
   the segmentation mask (min-max normalised r' above 0.7, then a 7x7 majority). Box sums
   come from a summed-area table in double precision. */
#include "features.h"

#include <math.h>
#include <stdlib.h>

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
