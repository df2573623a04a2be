/* sog_quantize.h: the SOG writer's quantisers (sog_quantize.c). */
#ifndef RD_SOG_QUANTIZE_H
#define RD_SOG_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>

/* A 256-entry ascending codebook for n values: every distinct value its own entry where
   there are at most 256 of them (the rest repeat the last), else Lloyd's 1D k-means from
   the quantiles. False when out of memory. */
bool rd_sog_codebook(const float *values, int64_t n, float codebook[256]);
/* The entry nearest v (the lower of two as near). */
uint8_t rd_sog_codebook_index(const float codebook[256], float v);

/* The SH palette's size for count Gaussians (splat-transform's rule). */
int64_t rd_sog_palette_size(int64_t count);

#endif
