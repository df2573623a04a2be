/* kmeans.h: k-means of rows of floats (kmeans.c), for codebooks and palettes. */
#ifndef RD_KMEANS_H
#define RD_KMEANS_H

#include <stdint.h>

/* k-means of n rows of d floats into at most k centroids (centroids: k rows of d) and each
   row's centroid (label); returns the number of centroids (min(k, n)), or -1 when out of
   memory. Deterministic; threads: CPU workers. Above 256 centroids the rows are first split
   into groups and each group clustered on its own, so that a row's label is the nearest
   centroid of its group (nearly always the nearest of all). */
int rd_kmeans(const float *x, int64_t n, int d, int k, int threads, float *centroids, int32_t *label);

/* What rd_kmeans_with adds; zero means rd_kmeans' behaviour. */
typedef struct rd_kmeans_desc {
    int threads;       /* CPU workers (0: 1) */
    int refine_passes;    /* Lloyd passes over every row and every centroid after the start, then
                             a last assignment, so that a row's label is its nearest centroid of
                             all (costs n * k * d a pass; none where memory runs short) */
    double refine_budget; /* at most this many n * k * d of passes (0: no limit) */
} rd_kmeans_desc;

/* desc must be given. */
int rd_kmeans_with(const float *x, int64_t n, int d, int k, const rd_kmeans_desc *desc, float *centroids, int32_t *label);

#endif
