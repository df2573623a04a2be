/* mlp.h: the small networks of the hash-grid NeRF (spec/nerf.md, "Network"): fully
   connected layers of one width with ReLU between them and no biases (as tiny-cuda-nn's
   fully fused networks have them), the output left linear for the caller's activation
   (exp for density, sigmoid for colour). The density network is 32 -> 64 -> 16, the colour
   network 32 -> 64 -> 64 -> 3.

   Layout: the weights of layer k (0 .. hidden_layers) one after another, each a row-major
   matrix of its outputs by its inputs, from rd_mlp.offset[k]. Inputs, outputs and their
   gradients are n rows; the forward pass keeps each sample's hidden activations (after the
   ReLU, hidden_layers rows of width) for the backward pass. This file's CPU functions are
   the specification. */
#ifndef RD_MLP_H
#define RD_MLP_H

#include "../renderer/internal.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { RD_MLP_MAX_HIDDEN = 8, RD_MLP_MAX_WIDTH = 256 };

typedef struct rd_mlp_desc {
    int inputs, width, hidden_layers, outputs; /* each at least 1; width and the others at most 256 */
} rd_mlp_desc;

typedef struct rd_mlp {
    int inputs, width, hidden_layers, outputs;
    int64_t offset[RD_MLP_MAX_HIDDEN + 2]; /* layer k's first weight; offset[hidden_layers + 1]: the count */
} rd_mlp;

/* Fills *out; RD_ERROR_INVALID_ARGUMENT naming the field out of range. */
rd_result rd_mlp_make(rd_context *ctx, const rd_mlp_desc *desc, rd_mlp *out);
static inline int64_t rd_mlp_weights(const rd_mlp *m) { return m->offset[m->hidden_layers + 1]; }
/* Layer k's input and output counts. */
static inline int rd_mlp_layer_inputs(const rd_mlp *m, int k) { return k == 0 ? m->inputs : m->width; }
static inline int rd_mlp_layer_outputs(const rd_mlp *m, int k) { return k == m->hidden_layers ? m->outputs : m->width; }
/* Weights uniform in +-sqrt(6 / (inputs + outputs)) of each layer (Glorot), from seed, the
   same on every machine. */
void rd_mlp_init(const rd_mlp *m, uint64_t seed, float *weights);

/* outputs (n x outputs) of inputs (n x inputs); activations (n x hidden_layers x width, or
   NULL when no backward pass follows) keeps the hidden layers' values after the ReLU. */
void rd_mlp_forward(rd_context *ctx, const rd_mlp *m, const float *weights, const float *inputs, int64_t n, float *outputs,
                    float *activations);
/* Adds the weights' gradient of sum(grad_outputs * outputs) into grad_weights, and writes
   the inputs' gradient into grad_inputs (where not NULL). The weights' sums are taken in
   64 fixed runs of samples, added in order: the result does not depend on the threads. */
rd_result rd_mlp_backward(rd_context *ctx, const rd_mlp *m, const float *weights, const float *inputs, int64_t n,
                          const float *activations, const float *grad_outputs, float *grad_weights, float *grad_inputs);

/* The same on CUDA (mlp_cuda.cu), fully fused: half precision on the tensor cores with fp32
   sums, so results differ from the CPU's by half's rounding (tests/ops_mlp.c gives the
   bounds). Weights, inputs, outputs and gradients are device arrays of floats laid out as
   above; stream NULL is the context's. `activations` is one device buffer of
   rd_mlp_activation_bytes_cuda bytes (32-byte aligned; cudaMalloc's are): the forward keeps
   the hidden layers there in half precision, n x hidden_layers x width as on the CPU, and
   the backward uses the rest for its blocks' partial sums of the weights' gradient (a
   buffer sized for n serves any smaller count on the same device). Any shape runs (padded
   to multiples of 16) whose block fits in the device's shared memory (the spec's networks
   take under 60 KiB; RD_ERROR_INVALID_ARGUMENT beyond). */
rd_result rd_mlp_activation_bytes_cuda(rd_context *ctx, const rd_mlp *m, int64_t n, size_t *bytes);
/* activations may be NULL when no backward pass follows. */
rd_result rd_mlp_forward_cuda(rd_context *ctx, const rd_mlp *m, const float *weights, const float *inputs, int64_t n, float *outputs,
                              void *activations, void *stream);
/* Adds into grad_weights and writes grad_inputs (where not NULL) as rd_mlp_backward does.
   The output gradients are scaled per 128 samples by a power of two (exact), so gradients
   far below half's range (a batch mean's 1e-6) keep their precision. The weights' sums are
   added in a fixed order: the same bits on every run on one device. */
rd_result rd_mlp_backward_cuda(rd_context *ctx, const rd_mlp *m, const float *weights, const float *inputs, int64_t n,
                               void *activations, const float *grad_outputs, float *grad_weights, float *grad_inputs, void *stream);

#ifdef __cplusplus
}
#endif
#endif
