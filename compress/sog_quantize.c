/* sog_quantize.c: the SOG writer's scalar codebooks and palette size (sog_quantize.h; its
   k-means is kmeans.c). Neither quantiser is
   splat-transform's (a histogram dynamic programme and a GPU k-means): the format fixes
   only what the reader does with the bytes, and these are simple, deterministic and exact
   where the data allow it. */
#include "sog_quantize.h"
#include "../renderer/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- 256-entry scalar codebooks ---- */

/* The first index in sorted[0..n) whose value is above v. */
static int64_t upper_bound(const float *sorted, int64_t n, double v)
{
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (sorted[mid] <= v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

bool rd_sog_codebook(const float *values, int64_t n, float codebook[256])
{
    if (n <= 0) {
        memset(codebook, 0, 256 * sizeof(float));
        return true;
    }
    float *sorted = malloc((size_t)n * sizeof *sorted);
    double *prefix = malloc((size_t)(n + 1) * sizeof *prefix);
    if (!sorted || !prefix) {
        free(sorted);
        free(prefix);
        return false;
    }
    memcpy(sorted, values, (size_t)n * sizeof *sorted);
    qsort(sorted, (size_t)n, sizeof *sorted, rd_compare_floats);
    int distinct = 0;
    for (int64_t i = 0; i < n && distinct <= 256; i++)
        if (i == 0 || sorted[i] != sorted[i - 1]) {
            if (distinct < 256) codebook[distinct] = sorted[i];
            distinct++;
        }
    if (distinct <= 256) { /* every value has an entry of its own: exact */
        for (int j = distinct; j < 256; j++) codebook[j] = codebook[distinct - 1];
    } else {
        /* Lloyd's iterations on the sorted values from the quantiles: each entry's values
           are a run between midpoints, its mean a difference of prefix sums */
        prefix[0] = 0.0;
        for (int64_t i = 0; i < n; i++) prefix[i + 1] = prefix[i] + sorted[i];
        double c[256];
        for (int j = 0; j < 256; j++) c[j] = sorted[(int64_t)((2.0 * j + 1.0) / 512.0 * (double)n)];
        for (int it = 0; it < 40; it++) {
            int64_t begin = 0;
            bool moved = false;
            for (int j = 0; j < 256; j++) {
                int64_t end = j == 255 ? n : upper_bound(sorted, n, 0.5 * (c[j] + c[j + 1]));
                if (end > begin) {
                    double mean = (prefix[end] - prefix[begin]) / (double)(end - begin);
                    moved |= mean != c[j];
                    c[j] = mean;
                }
                begin = end > begin ? end : begin;
            }
            if (!moved) break;
        }
        for (int j = 0; j < 256; j++) codebook[j] = (float)c[j];
        qsort(codebook, 256, sizeof(float), rd_compare_floats);
    }
    free(sorted);
    free(prefix);
    return true;
}

uint8_t rd_sog_codebook_index(const float codebook[256], float v)
{
    int lo = 0, hi = 255;
    while (lo < hi) { /* the first entry not below v */
        int mid = (lo + hi) / 2;
        if (codebook[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    if (lo > 0 && fabsf(v - codebook[lo - 1]) <= fabsf(codebook[lo] - v)) lo--;
    return (uint8_t)lo;
}

/* The palette's size as splat-transform chooses it: 1024 times the largest power of two
   up to count / 1024, at most 64 Ki. */
int64_t rd_sog_palette_size(int64_t count)
{
    double p = floor(log2((double)count / 1024.0));
    double size = fmin(64.0, pow(2.0, p)) * 1024.0;
    return size < 1.0 ? 1 : (int64_t)size;
}
