/* appearance4d.c: a 4D scene's appearance networks on the CPU (appearance4d.h): making
   and freeing them, every Gaussian's colour and opacity at a time, and the backward pass
   of one Gaussian into the weights and its features. */
#include "appearance4d_cpu.h"
#include "../renderer/cpu/parallel.h"
#include "../renderer/random.h"

#include <stdlib.h>
#include <string.h>

rd_appearance4d *rd_appearance4d_new(int sh_degree, int64_t count)
{
    rd_appearance4d *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->sh_degree = sh_degree, a->radius = 1.0f, a->time_span = 1.0f;
    a->weight_count = rd_appearance_layout(sh_degree, a->mlp);
    a->weights = calloc(a->weight_count, sizeof(float));
    a->features = calloc((size_t)(count > 0 ? count : 1) * RD_APPEARANCE_FEATURES, sizeof(float));
    if (!a->weights || !a->features) {
        rd_appearance4d_free(a);
        return NULL;
    }
    return a;
}

void rd_appearance4d_free(rd_appearance4d *a)
{
    if (!a) return;
    free(a->weights), free(a->features), free(a);
}

rd_appearance4d *rd_appearance4d_copy(const rd_appearance4d *a, int64_t count)
{
    rd_appearance4d *c = rd_appearance4d_new(a->sh_degree, count);
    if (!c) return NULL;
    float *weights = c->weights, *features = c->features;
    *c = *a;
    c->weights = weights, c->features = features;
    memcpy(weights, a->weights, a->weight_count * sizeof(float));
    memcpy(features, a->features, (size_t)count * RD_APPEARANCE_FEATURES * sizeof(float));
    return c;
}

void rd_appearance4d_init(rd_appearance4d *a, int64_t count, uint64_t seed)
{
    rd_rng rng = {seed};
    for (int n = 0; n < RD_APPEARANCE_NETS; n++) {
        const rd_appearance_mlp *m = &a->mlp[n];
        if (m->outputs == 0) continue; /* SH degree 0's rest: no weights */
        float *W1 = a->weights + m->offset, *b1 = W1 + RD_APPEARANCE_HIDDEN * m->inputs;
        float *W2 = b1 + RD_APPEARANCE_HIDDEN, *b2 = W2 + m->outputs * RD_APPEARANCE_HIDDEN;
        /* He's uniform bound for the ReLU layer, Glorot's for the linear one; biases 0 */
        float bound1 = sqrtf(6.0f / (float)m->inputs), bound2 = sqrtf(6.0f / (float)(RD_APPEARANCE_HIDDEN + m->outputs));
        for (int k = 0; k < RD_APPEARANCE_HIDDEN * m->inputs; k++) W1[k] = bound1 * (2.0f * rd_rng_uniform(&rng) - 1.0f);
        for (int k = 0; k < m->outputs * RD_APPEARANCE_HIDDEN; k++) W2[k] = bound2 * (2.0f * rd_rng_uniform(&rng) - 1.0f);
        memset(b1, 0, RD_APPEARANCE_HIDDEN * sizeof(float));
        memset(b2, 0, (size_t)m->outputs * sizeof(float));
    }
    for (int64_t k = 0; k < count * RD_APPEARANCE_FEATURES; k++) a->features[k] = 0.1f * (2.0f * rd_rng_uniform(&rng) - 1.0f);
}

typedef struct eval_job {
    const rd_appearance4d *a;
    const float *means; /* 4 a Gaussian */
    float time, *opacities, *sh;
    int sh_floats;
} eval_job;

void rd_appearance4d_transposed(const rd_appearance4d *a, float *out)
{
    memcpy(out, a->weights, a->weight_count * sizeof(float));
    for (int n = 0; n < RD_APPEARANCE_NETS; n++) {
        const rd_appearance_mlp m = a->mlp[n];
        if (m.outputs <= 0) continue;
        const float *W1 = a->weights + m.offset, *W2 = W1 + RD_APPEARANCE_HIDDEN * (m.inputs + 1);
        float *T1 = out + m.offset, *T2 = T1 + RD_APPEARANCE_HIDDEN * (m.inputs + 1);
        for (int j = 0; j < RD_APPEARANCE_HIDDEN; j++) {
            for (int k = 0; k < m.inputs; k++) T1[k * RD_APPEARANCE_HIDDEN + j] = W1[j * m.inputs + k];
            for (int o = 0; o < m.outputs; o++) T2[j * m.outputs + o] = W2[o * RD_APPEARANCE_HIDDEN + j];
        }
    }
}

static void eval_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const eval_job *j = user;
    for (int64_t i = begin; i < end; i++)
        rd_appearance_eval(j->a, j->a->weights, j->means + 4 * i, j->time, j->a->features + RD_APPEARANCE_FEATURES * i,
                           j->sh + i * j->sh_floats, j->opacities + i, NULL);
}

void rd_appearance4d_eval_cpu(int threads, const rd_appearance4d *a, const float *means, int64_t count, float time,
                              float *opacities, float *sh)
{
    eval_job j = {a, means, time, opacities, sh, 3 * (a->sh_degree + 1) * (a->sh_degree + 1)};
    rd_parallel_for(threads, count, 256, eval_range, &j);
}

/* One MLP's backward: dout (outputs) into its weights' gradient (dweights, the whole
   array's), and into din (inputs, added; NULL: not wanted). */
static void mlp_backward(const float *weights, const rd_appearance_mlp *m, const float *in, const float *hidden,
                         const float *dout, float *dweights, float *din)
{
    const float *W1 = weights + m->offset, *W2 = W1 + RD_APPEARANCE_HIDDEN * (m->inputs + 1);
    float *dW1 = dweights + m->offset, *db1 = dW1 + RD_APPEARANCE_HIDDEN * m->inputs;
    float *dW2 = db1 + RD_APPEARANCE_HIDDEN, *db2 = dW2 + m->outputs * RD_APPEARANCE_HIDDEN;
    for (int o = 0; o < m->outputs; o++) db2[o] += dout[o];
    for (int j = 0; j < RD_APPEARANCE_HIDDEN; j++) {
        if (hidden[j] <= 0.0f) continue;
        float dh = 0.0f;
        for (int o = 0; o < m->outputs; o++) {
            dW2[o * RD_APPEARANCE_HIDDEN + j] += dout[o] * hidden[j];
            dh += W2[o * RD_APPEARANCE_HIDDEN + j] * dout[o];
        }
        db1[j] += dh;
        float *row = dW1 + j * m->inputs;
        for (int i = 0; i < m->inputs; i++) row[i] += dh * in[i];
        if (din)
            for (int i = 0; i < m->inputs; i++) din[i] += dh * W1[j * m->inputs + i];
    }
}

void rd_appearance_backward(const rd_appearance4d *a, const float features[RD_APPEARANCE_FEATURES],
                            const rd_appearance_trace *trace, const float *dsh, float dlogit, float *dweights,
                            float dfeatures[RD_APPEARANCE_FEATURES])
{
    float head[RD_APPEARANCE_HEAD_INPUTS], dhead[RD_APPEARANCE_HEAD_INPUTS], dlatent[RD_APPEARANCE_LATENT] = {0};
    for (int k = 0; k < RD_APPEARANCE_LATENT; k++) head[k] = trace->latent[k];
    for (int pass = 0; pass < 3; pass++) {
        rd_appearance_net net = pass == 0 ? RD_APPEARANCE_DC : pass == 1 ? RD_APPEARANCE_OPACITY : RD_APPEARANCE_REST;
        const rd_appearance_mlp *m = &a->mlp[net];
        if (m->outputs == 0) continue;
        const float *f = features + (net == RD_APPEARANCE_REST ? 3 : 0);
        for (int k = 0; k < 3; k++) head[RD_APPEARANCE_LATENT + k] = f[k];
        memset(dhead, 0, sizeof dhead);
        const float *dout = net == RD_APPEARANCE_DC ? dsh : net == RD_APPEARANCE_REST ? dsh + 3 : &dlogit;
        mlp_backward(a->weights, m, head, trace->hidden[net], dout, dweights, dhead);
        for (int k = 0; k < RD_APPEARANCE_LATENT; k++) dlatent[k] += dhead[k];
        for (int k = 0; k < 3; k++) dfeatures[(net == RD_APPEARANCE_REST ? 3 : 0) + k] += dhead[RD_APPEARANCE_LATENT + k];
    }
    mlp_backward(a->weights, &a->mlp[RD_APPEARANCE_ENCODER], trace->input, trace->hidden[RD_APPEARANCE_ENCODER], dlatent,
                 dweights, NULL);
}
