/* mlp.c: the networks on the CPU, their specification (mlp.h). */
#include "mlp.h"
#include "../renderer/cpu/parallel.h"
#include "../renderer/random.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { RUNS = 64 }; /* the backward pass's fixed runs of samples */

rd_result rd_mlp_make(rd_context *ctx, const rd_mlp_desc *d, rd_mlp *out)
{
    memset(out, 0, sizeof *out);
    const int values[4] = {d->inputs, d->width, d->outputs, d->hidden_layers};
    static const char *names[4] = {"inputs", "width", "outputs", "hidden_layers"};
    const int limits[4] = {RD_MLP_MAX_WIDTH, RD_MLP_MAX_WIDTH, RD_MLP_MAX_WIDTH, RD_MLP_MAX_HIDDEN};
    for (int i = 0; i < 4; i++)
        if (values[i] < 1 || values[i] > limits[i])
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "network: %s %d is out of range (1..%d)", names[i], values[i], limits[i]);
    out->inputs = d->inputs, out->width = d->width, out->hidden_layers = d->hidden_layers, out->outputs = d->outputs;
    for (int k = 0; k <= out->hidden_layers; k++)
        out->offset[k + 1] = out->offset[k] + (int64_t)rd_mlp_layer_inputs(out, k) * rd_mlp_layer_outputs(out, k);
    return RD_OK;
}

void rd_mlp_init(const rd_mlp *m, uint64_t seed, float *weights)
{
    rd_rng rng = {seed * 0x9E3779B97F4A7C15ull + 0xD1B54A32D192ED03ull};
    for (int k = 0; k <= m->hidden_layers; k++) {
        float bound = sqrtf(6.0f / (float)(rd_mlp_layer_inputs(m, k) + rd_mlp_layer_outputs(m, k)));
        for (int64_t i = m->offset[k]; i < m->offset[k + 1]; i++) weights[i] = (rd_rng_uniform(&rng) * 2.0f - 1.0f) * bound;
    }
}

/* One layer: out[o] = sum over i of W[o][i] in[i], then the ReLU where relu. */
static void layer(const float *W, const float *in, int inputs, int outputs, bool relu, float *out)
{
    for (int o = 0; o < outputs; o++) {
        float sum = 0.0f;
        for (int i = 0; i < inputs; i++) sum += W[(size_t)o * inputs + i] * in[i];
        out[o] = relu && sum < 0.0f ? 0.0f : sum;
    }
}

typedef struct forward_job {
    const rd_mlp *m;
    const float *weights, *inputs;
    float *outputs, *activations;
} forward_job;

static void forward_samples(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const forward_job *j = user;
    const rd_mlp *m = j->m;
    float a[2][RD_MLP_MAX_WIDTH];
    for (int64_t s = begin; s < end; s++) {
        const float *in = j->inputs + s * m->inputs;
        for (int k = 0; k < m->hidden_layers; k++) {
            float *out = a[k & 1];
            layer(j->weights + m->offset[k], in, rd_mlp_layer_inputs(m, k), m->width, true, out);
            if (j->activations) memcpy(j->activations + (s * m->hidden_layers + k) * m->width, out, sizeof(float) * m->width);
            in = out;
        }
        layer(j->weights + m->offset[m->hidden_layers], in, m->width, m->outputs, false, j->outputs + s * m->outputs);
    }
}

void rd_mlp_forward(rd_context *ctx, const rd_mlp *m, const float *weights, const float *inputs, int64_t n, float *outputs,
                    float *activations)
{
    forward_job job = {m, weights, inputs, outputs, activations};
    rd_parallel_for(ctx->threads, n, 1024, forward_samples, &job);
}

typedef struct backward_job {
    const rd_mlp *m;
    const float *weights, *inputs, *activations, *grad_outputs;
    int64_t n;
    float *partials; /* RUNS x the weights' count */
    float *grad_inputs;
} backward_job;

/* Run r's samples: each one's gradient back through the layers, the weights' into the
   run's own partial sums. */
static void backward_run(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const backward_job *j = user;
    const rd_mlp *m = j->m;
    float delta[RD_MLP_MAX_WIDTH], before[RD_MLP_MAX_WIDTH];
    for (int64_t r = begin; r < end; r++) {
        float *grad = j->partials + r * rd_mlp_weights(m);
        for (int64_t s = j->n * r / RUNS; s < j->n * (r + 1) / RUNS; s++) {
            memcpy(delta, j->grad_outputs + s * m->outputs, sizeof(float) * m->outputs);
            for (int k = m->hidden_layers; k >= 0; k--) {
                int inputs = rd_mlp_layer_inputs(m, k), outputs = rd_mlp_layer_outputs(m, k);
                const float *in = k == 0 ? j->inputs + s * m->inputs : j->activations + (s * m->hidden_layers + k - 1) * m->width;
                const float *W = j->weights + m->offset[k];
                float *gW = grad + m->offset[k];
                for (int o = 0; o < outputs; o++)
                    for (int i = 0; i < inputs; i++) gW[(size_t)o * inputs + i] += delta[o] * in[i];
                for (int i = 0; i < inputs; i++) {
                    float sum = 0.0f;
                    for (int o = 0; o < outputs; o++) sum += W[(size_t)o * inputs + i] * delta[o];
                    /* through the ReLU that made the layer's input: zero where it was cut */
                    before[i] = k > 0 && in[i] <= 0.0f ? 0.0f : sum;
                }
                if (k == 0 && j->grad_inputs) memcpy(j->grad_inputs + s * m->inputs, before, sizeof(float) * m->inputs);
                memcpy(delta, before, sizeof(float) * inputs);
            }
        }
    }
}

rd_result rd_mlp_backward(rd_context *ctx, const rd_mlp *m, const float *weights, const float *inputs, int64_t n,
                          const float *activations, const float *grad_outputs, float *grad_weights, float *grad_inputs)
{
    int64_t count = rd_mlp_weights(m);
    float *partials = calloc((size_t)RUNS * (size_t)count, sizeof(float));
    if (!partials) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "network backward: cannot hold %d runs of %lld weights", RUNS,
                                  (long long)count);
    backward_job job = {m, weights, inputs, activations, grad_outputs, n, partials, grad_inputs};
    rd_parallel_for(ctx->threads, RUNS, 1, backward_run, &job);
    for (int r = 0; r < RUNS; r++)
        for (int64_t w = 0; w < count; w++) grad_weights[w] += partials[r * count + w];
    free(partials);
    return RD_OK;
}
