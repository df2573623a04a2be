/* appearance4d_cpu.h: a 4D scene's appearance networks (appearance4d.h) on the host:
   making them, evaluating every Gaussian, and one Gaussian's backward pass
   (appearance4d.c). */
#ifndef RD_APPEARANCE4D_CPU_H
#define RD_APPEARANCE4D_CPU_H

#include "appearance4d.h"

/* Networks for SH degree sh_degree and count Gaussians, weights and features 0, the
   normalisation the identity (centre 0, radius 1, times from 0 over 1); NULL when out of
   memory. rd_appearance4d_free frees them (NULL: nothing). */
rd_appearance4d *rd_appearance4d_new(int sh_degree, int64_t count);
void rd_appearance4d_free(rd_appearance4d *a);
/* A copy of a's networks and of its first count Gaussians' features; NULL when out of memory. */
rd_appearance4d *rd_appearance4d_copy(const rd_appearance4d *a, int64_t count);
/* Random weights (He's and Glorot's uniform bounds, biases 0) and features (within 0.1)
   drawn from seed. */
void rd_appearance4d_init(rd_appearance4d *a, int64_t count, uint64_t seed);

/* Every Gaussian's opacity logit (count) and colour (count x 3 K) at `time`, from its
   spatial mean (means: 4 floats a Gaussian), on `threads` threads. */
void rd_appearance4d_eval_cpu(int threads, const rd_appearance4d *a, const float *means, int64_t count, float time,
                              float *opacities, float *sh);

/* The weights with each MLP's W1 and W2 transposed (inputs x hidden, hidden x outputs),
   biases in place, at the same offsets: the layout the GPUs' tiles read, a row for every
   input or hidden unit that all the tile's Gaussians share (out: weight_count). */
void rd_appearance4d_transposed(const rd_appearance4d *a, float *out);

/* The backward pass of one Gaussian (its features, the trace of its forward pass): dL by
   its colour (3 K) and its opacity's logit into dweights (weight_count, added) and
   dfeatures (added). */
void rd_appearance_backward(const rd_appearance4d *a, const float features[RD_APPEARANCE_FEATURES],
                            const rd_appearance_trace *trace, const float *dsh, float dlogit, float *dweights,
                            float dfeatures[RD_APPEARANCE_FEATURES]);

#endif
