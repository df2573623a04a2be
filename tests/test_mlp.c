/* test_mlp.c: the NeRF's networks on the CPU (nerf/mlp.h): the layout and its checks;
   the forward pass and its kept activations against a double-precision evaluation written
   here; the backward pass (weights and inputs) against double-precision backpropagation
   and against central differences of the CPU forward pass; the same bits on 1 and 4
   threads. Networks: the spec's density (32 -> 64 -> 16) and colour (32 -> 64 -> 64 -> 3)
   networks and an odd-shaped one. */
#include "test_util.h"
#include "../nerf/mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx, *ctx4;

/* Double-precision forward of one sample: every layer's values after its activation
   (the last linear) into values[k] (k = 0 .. hidden_layers). */
static void reference_forward(const rd_mlp *m, const float *w, const float *in, double values[][RD_MLP_MAX_WIDTH])
{
    double x[RD_MLP_MAX_WIDTH];
    for (int i = 0; i < m->inputs; i++) x[i] = in[i];
    for (int k = 0; k <= m->hidden_layers; k++) {
        int inputs = rd_mlp_layer_inputs(m, k), outputs = rd_mlp_layer_outputs(m, k);
        for (int o = 0; o < outputs; o++) {
            double sum = 0.0;
            for (int i = 0; i < inputs; i++) sum += (double)w[m->offset[k] + (int64_t)o * inputs + i] * x[i];
            values[k][o] = k < m->hidden_layers && sum < 0.0 ? 0.0 : sum;
        }
        memcpy(x, values[k], sizeof(double) * (size_t)outputs);
    }
}

/* Double-precision backpropagation of one sample's output gradient into gw (added) and gin. */
static void reference_backward(const rd_mlp *m, const float *w, const float *in, const float *g_out, double *gw, double *gin)
{
    double values[RD_MLP_MAX_HIDDEN + 1][RD_MLP_MAX_WIDTH], delta[RD_MLP_MAX_WIDTH], before[RD_MLP_MAX_WIDTH];
    reference_forward(m, w, in, values);
    for (int o = 0; o < m->outputs; o++) delta[o] = g_out[o];
    for (int k = m->hidden_layers; k >= 0; k--) {
        int inputs = rd_mlp_layer_inputs(m, k), outputs = rd_mlp_layer_outputs(m, k);
        for (int i = 0; i < inputs; i++) {
            double x = k == 0 ? in[i] : values[k - 1][i], sum = 0.0;
            for (int o = 0; o < outputs; o++) {
                gw[m->offset[k] + (int64_t)o * inputs + i] += delta[o] * x;
                sum += (double)w[m->offset[k] + (int64_t)o * inputs + i] * delta[o];
            }
            before[i] = k > 0 && x <= 0.0 ? 0.0 : sum;
        }
        memcpy(delta, before, sizeof(double) * (size_t)inputs);
    }
    memcpy(gin, delta, sizeof(double) * (size_t)m->inputs);
}

static void test_layout(void)
{
    rd_mlp m;
    if (CHECK_OK(rd_mlp_make(ctx, &(rd_mlp_desc){32, 64, 2, 3}, &m)))
        CHECK(m.offset[1] == 32 * 64 && m.offset[2] == 32 * 64 + 64 * 64 && rd_mlp_weights(&m) == 32 * 64 + 64 * 64 + 64 * 3);
    rd_mlp_desc bad[] = {{0, 64, 1, 16}, {32, 300, 1, 16}, {32, 64, 9, 16}, {32, 64, 1, 0}};
    const char *field[] = {"inputs 0", "width 300", "hidden_layers 9", "outputs 0"};
    for (int i = 0; i < 4; i++) {
        CHECK_FAILS(rd_mlp_make(ctx, &bad[i], &m), RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), field[i]) != NULL);
    }
    float *a = malloc(sizeof(float) * 6000), *b = malloc(sizeof(float) * 6000);
    CHECK_OK(rd_mlp_make(ctx, &(rd_mlp_desc){32, 64, 1, 16}, &m));
    rd_mlp_init(&m, 3, a), rd_mlp_init(&m, 3, b);
    bool within = true;
    for (int64_t i = 0; i < rd_mlp_weights(&m); i++) within &= fabsf(a[i]) <= sqrtf(6.0f / (i < 2048 ? 96.0f : 80.0f));
    CHECK(within && memcmp(a, b, sizeof(float) * (size_t)rd_mlp_weights(&m)) == 0);
    free(a), free(b);
}

static void test_passes(test_rng *r, const rd_mlp_desc *desc)
{
    rd_mlp m;
    if (!CHECK_OK(rd_mlp_make(ctx, desc, &m))) return;
    int n = 300, W = (int)rd_mlp_weights(&m);
    float *w = malloc(sizeof(float) * W);
    rd_mlp_init(&m, (uint64_t)(rng_uniform(r) * 1000.0) + 1, w);
    float *in = random_floats(r, (size_t)n * m.inputs, -1, 1), *g_out = random_floats(r, (size_t)n * m.outputs, -1, 1);
    float *out = malloc(sizeof(float) * n * m.outputs), *act = malloc(sizeof(float) * n * m.hidden_layers * m.width);
    rd_mlp_forward(ctx, &m, w, in, n, out, act);
    double worst = 0.0, worst_act = 0.0;
    double(*values)[RD_MLP_MAX_WIDTH] = malloc(sizeof(double[RD_MLP_MAX_WIDTH]) * (RD_MLP_MAX_HIDDEN + 1));
    for (int s = 0; s < n; s++) {
        reference_forward(&m, w, in + s * m.inputs, values);
        for (int o = 0; o < m.outputs; o++) worst = fmax(worst, fabs(values[m.hidden_layers][o] - out[s * m.outputs + o]));
        for (int k = 0; k < m.hidden_layers; k++)
            for (int o = 0; o < m.width; o++)
                worst_act = fmax(worst_act, fabs(values[k][o] - act[((size_t)s * m.hidden_layers + k) * m.width + o]));
    }
    if (!CHECK(worst < 1e-5 && worst_act < 1e-5)) fprintf(stderr, "  forward: outputs %g, activations %g\n", worst, worst_act);

    float *gw = calloc((size_t)W, sizeof(float)), *gw4 = calloc((size_t)W, sizeof(float));
    float *gin = malloc(sizeof(float) * n * m.inputs), *gin4 = malloc(sizeof(float) * n * m.inputs);
    CHECK_OK(rd_mlp_backward(ctx, &m, w, in, n, act, g_out, gw, gin));
    CHECK_OK(rd_mlp_backward(ctx4, &m, w, in, n, act, g_out, gw4, gin4));
    CHECK(memcmp(gw, gw4, sizeof(float) * W) == 0 && memcmp(gin, gin4, sizeof(float) * n * m.inputs) == 0);
    double *rgw = calloc((size_t)W, sizeof(double)), rgin[RD_MLP_MAX_WIDTH], largest = 0.0, worst_w = 0.0, worst_in = 0.0;
    for (int s = 0; s < n; s++) {
        reference_backward(&m, w, in + s * m.inputs, g_out + s * m.outputs, rgw, rgin);
        for (int i = 0; i < m.inputs; i++) worst_in = fmax(worst_in, fabs(rgin[i] - gin[s * m.inputs + i]));
    }
    for (int i = 0; i < W; i++) largest = fmax(largest, fabs(rgw[i])), worst_w = fmax(worst_w, fabs(rgw[i] - gw[i]));
    if (!CHECK(worst_w < 1e-5 * fmax(largest, 1.0) && worst_in < 1e-5))
        fprintf(stderr, "  backward: weights %g (largest %g), inputs %g\n", worst_w, largest, worst_in);

    /* Central differences of the float forward over 8 samples, for 40 weights: a weight
       whose step flips a ReLU of any sample (a kink, where the gradient jumps) is left
       out. h = 1e-2 against weights near 0.2 and sums near 1: rounding (1e-7) over 2h is
       5e-6; the tolerance is 1e-3 of the size plus 1e-4. */
    int fd_n = 8, checked = 0, wrong = 0;
    float *o_plus = malloc(sizeof(float) * fd_n * m.outputs), *o_minus = malloc(sizeof(float) * fd_n * m.outputs);
    float *a_plus = malloc(sizeof(float) * fd_n * m.hidden_layers * m.width);
    float *a_minus = malloc(sizeof(float) * fd_n * m.hidden_layers * m.width);
    float *g8 = calloc((size_t)W, sizeof(float));
    CHECK_OK(rd_mlp_backward(ctx, &m, w, in, fd_n, act, g_out, g8, NULL));
    for (int t = 0; t < 40; t++) {
        int k = (int)(rng_uniform(r) * W);
        float keep = w[k], h = 1e-2f;
        w[k] = keep + h;
        rd_mlp_forward(ctx, &m, w, in, fd_n, o_plus, a_plus);
        w[k] = keep - h;
        rd_mlp_forward(ctx, &m, w, in, fd_n, o_minus, a_minus);
        w[k] = keep;
        bool kink = false;
        for (size_t e = 0; e < (size_t)fd_n * m.hidden_layers * m.width; e++) kink |= (a_plus[e] > 0.0f) != (a_minus[e] > 0.0f);
        if (kink) continue;
        double fd = 0.0;
        for (int e = 0; e < fd_n * m.outputs; e++) fd += (double)g_out[e] * (o_plus[e] - o_minus[e]);
        fd /= 2.0 * h;
        checked++;
        if (fabs(fd - g8[k]) > 1e-3 * fabs(fd) + 1e-4 && wrong++ < 5) fprintf(stderr, "  weight %d: %g, differences %g\n", k, g8[k], fd);
    }
    CHECK(wrong == 0 && checked >= 20);
    free(w), free(in), free(g_out), free(out), free(act), free(values), free(gw), free(gw4), free(gin), free(gin4), free(rgw);
    free(o_plus), free(o_minus), free(a_plus), free(a_minus), free(g8);
}

int main(void)
{
    test_rng r = {test_seed("test_mlp")};
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log}, &ctx) != RD_OK ||
        rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 4, .log = test_log}, &ctx4) != RD_OK)
        return 1;
    test_layout();
    test_passes(&r, &(rd_mlp_desc){32, 64, 1, 16});
    test_passes(&r, &(rd_mlp_desc){32, 64, 2, 3});
    test_passes(&r, &(rd_mlp_desc){7, 24, 3, 5});
    rd_context_destroy(ctx);
    rd_context_destroy(ctx4);
    return test_finish("test_mlp");
}
