/* knn.h: nearest neighbours of points (knn.c). */
#ifndef RD_KNN_H
#define RD_KNN_H

#include <stdbool.h>
#include <stdint.h>

enum { RD_KNN_MAX = 16 };

/* out[i]: the mean squared distance from point i (xyz, n*3) to its k nearest others
   (all of them where there are fewer; 0 for a lone point), k in 1..RD_KNN_MAX. False
   where memory runs out. */
bool rd_knn_mean_sq(const float *xyz, int64_t n, int k, float *out);

#endif
