/* ops_mlp.c: the NeRF networks' row of the cross-backend harness (backend_ops.h): the
   spec's density (32 -> 64 -> 16) and colour (32 -> 64 -> 64 -> 3) networks and random
   shapes (widths 16 to 128 and 20, inputs and outputs not multiples of 16), from 1 sample
   to 2^18 (2^14 in the sanitizer build); Glorot weights (rd_mlp_init), inputs and output
   gradients uniform in +-1 (one case scales the gradients by 1e-6, a batch mean's size),
   the weights' gradient added to random values of its size. The forward's outputs and kept
   activations, the weights' and inputs' gradients against the CPU (nerf/mlp.c). CUDA runs
   the fused half-precision kernels (nerf/mlp_cuda.cu) on device copies, twice backward,
   which must give the same bits; Vulkan has no NeRF kernels yet and runs no case.

   Tolerances on CUDA: operands are rounded to half (unit roundoff u = 2^-11 = 4.9e-4) and
   summed in fp32 (error ~1e-7, negligible). A layer's sum of 32 or 64 products with rounded
   factors of random sign is off by about sqrt(2/3) u of its size, the half activation adds
   u / sqrt(3): ~4e-4 a layer, ~7e-4 through three. The gradients are rounded the same way
   (the output gradients after an exact power-of-two scale). An emulation of these roundings
   in double (every shape here, 1 to 20000 samples) gives relative L2 errors of 1.7e-4 to
   8.1e-4 and largest errors of 1e-4 to 9e-4 of the largest value (an H200 gave 3.1e-4 to
   7.7e-4 and 2.2e-4 to 7.4e-4 on these cases): the bounds are 4e-3 for both, 4 to 40 times
   that. One thing is not a rounding: a pre-activation within rounding of zero can take the
   other side of the ReLU, which switches that unit's delta on or off (the same emulation:
   1 to 7% relative L2 on the gradients below the top layer). The gradients are therefore
   compared with the CPU's backward pass run on the backend's own kept activations (its
   ReLU decisions), the activations themselves with the CPU's forward: each step is
   checked, and none by a flip. */
#include "backend_ops.h"
#include "../compress/conventions.h"
#include "compare.h"
#include "../nerf/mlp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MLP_CASES = 8 };
static const double MLP_TOLERANCE = 4e-3; /* relative L2 and largest error over largest value (header) */

typedef struct mlp_case {
    rd_mlp m;
    int64_t n;
    float *weights, *inputs, *grad_outputs, *grad_weights; /* the last: what the gradient is added to */
} mlp_case;

typedef struct mlp_outputs {
    float *outputs, *activations, *grad_weights, *grad_inputs;
    bool repeatable; /* a second backward pass gave the same bits */
} mlp_outputs;

static int mlp_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? MLP_CASES : 0; }

static void *mlp_generate(const op_env *env, test_rng *r, int i)
{
    int64_t big = env->reduced ? 1 << 14 : 1 << 18;
    rd_mlp_desc density = {32, 64, 1, 16}, colour = {32, 64, 2, 3};
    rd_mlp_desc random = {1 + (int)(rng_uniform(r) * 40), 16 * (1 + (int)(rng_uniform(r) * 8)), 1 + (int)(rng_uniform(r) * 3),
                          1 + (int)(rng_uniform(r) * 20)};
    /* i: the shape, the samples, the gradients' size */
    const rd_mlp_desc shapes[MLP_CASES] = {density, colour, density, colour, random, {3, 20, 2, 7}, density, colour};
    const int64_t counts[MLP_CASES] = {1, 17, 1000, 4097, 100 + (int64_t)(rng_uniform(r) * 3000), 2000, big, big};
    double scale = i == 7 ? 1e-6 : 1.0;
    mlp_case *c = calloc(1, sizeof *c);
    if (rd_mlp_make(env->ctx, &shapes[i], &c->m) != RD_OK) {
        free(c);
        return NULL;
    }
    c->n = counts[i];
    size_t count = (size_t)rd_mlp_weights(&c->m);
    c->weights = malloc(sizeof(float) * count);
    rd_mlp_init(&c->m, (uint64_t)(rng_uniform(r) * 1e9) + 1, c->weights);
    c->inputs = random_floats(r, (size_t)c->n * (size_t)c->m.inputs, -1, 1);
    c->grad_outputs = random_floats(r, (size_t)c->n * (size_t)c->m.outputs, -scale, scale);
    /* of the gradients' size: added to values near 1, a 1e-4 gradient would keep only the
       bits that fp32 leaves it there, on the reference too */
    c->grad_weights = random_floats(r, count, -scale, scale);
    return c;
}

static bool mlp_large(const void *inputs) { return ((const mlp_case *)inputs)->n > 10000; }

#ifdef RADIANT_TEST_CUDA
static rd_result mlp_run_cuda(rd_context *ctx, const mlp_case *c, mlp_outputs *o)
{
    const rd_mlp *m = &c->m;
    size_t weights = sizeof(float) * (size_t)rd_mlp_weights(m), ins = sizeof(float) * (size_t)c->n * (size_t)m->inputs;
    size_t outs = sizeof(float) * (size_t)c->n * (size_t)m->outputs, halves = (size_t)c->n * m->hidden_layers * m->width, bytes = 0;
    rd_result r = rd_mlp_activation_bytes_cuda(ctx, m, c->n, &bytes);
    if (r != RD_OK) return r;
    size_t most = bytes > ins ? bytes : ins;
    most = most > outs ? most : outs;
    unsigned char *poison = malloc(most);
    memset(poison, 0xff, most); /* NaN as floats and as halves */
    float *w = op_device_copy(ctx, c->weights, weights), *in = op_device_copy(ctx, c->inputs, ins), *out = op_device_copy(ctx, poison, outs);
    void *act = op_device_copy(ctx, poison, bytes);
    float *g_out = op_device_copy(ctx, c->grad_outputs, outs), *g_w = op_device_copy(ctx, c->grad_weights, weights);
    float *g_w2 = op_device_copy(ctx, c->grad_weights, weights), *g_in = op_device_copy(ctx, poison, ins);
    uint16_t *act_host = malloc(sizeof(uint16_t) * (halves ? halves : 1));
    float *again = malloc(weights);
    r = RD_ERROR_OUT_OF_MEMORY;
    if (w && in && out && act && g_out && g_w && g_w2 && g_in && act_host && again) {
        r = rd_mlp_forward_cuda(ctx, m, w, in, c->n, out, act, NULL);
        if (r == RD_OK) r = rd_mlp_backward_cuda(ctx, m, w, in, c->n, act, g_out, g_w, g_in, NULL);
        if (r == RD_OK) r = rd_mlp_backward_cuda(ctx, m, w, in, c->n, act, g_out, g_w2, NULL, NULL);
        if (r == RD_OK) r = rd_buffer_copy(ctx, o->outputs, RD_MEMORY_HOST, out, RD_MEMORY_DEVICE, outs);
        if (r == RD_OK) r = rd_buffer_copy(ctx, act_host, RD_MEMORY_HOST, act, RD_MEMORY_DEVICE, sizeof(uint16_t) * halves);
        if (r == RD_OK) r = rd_buffer_copy(ctx, o->grad_weights, RD_MEMORY_HOST, g_w, RD_MEMORY_DEVICE, weights);
        if (r == RD_OK) r = rd_buffer_copy(ctx, again, RD_MEMORY_HOST, g_w2, RD_MEMORY_DEVICE, weights);
        if (r == RD_OK) r = rd_buffer_copy(ctx, o->grad_inputs, RD_MEMORY_HOST, g_in, RD_MEMORY_DEVICE, ins);
        for (size_t e = 0; r == RD_OK && e < halves; e++) o->activations[e] = rd_half_to_float(act_host[e]);
        o->repeatable = r == RD_OK && memcmp(again, o->grad_weights, weights) == 0;
    }
    void *all[] = {w, in, out, act, g_out, g_w, g_w2, g_in};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) rd_buffer_free(ctx, all[k]);
    free(poison), free(act_host), free(again);
    return r;
}
#endif

static rd_result mlp_run(rd_context *ctx, void *inputs, void **outputs)
{
    const mlp_case *c = inputs;
    const rd_mlp *m = &c->m;
    size_t outs = (size_t)c->n * (size_t)m->outputs, ins = (size_t)c->n * (size_t)m->inputs;
    size_t acts = (size_t)c->n * m->hidden_layers * m->width, weights = (size_t)rd_mlp_weights(m);
    mlp_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    o->outputs = malloc(sizeof(float) * outs), o->activations = malloc(sizeof(float) * acts);
    o->grad_inputs = malloc(sizeof(float) * ins), o->grad_weights = malloc(sizeof(float) * weights);
    memset(o->outputs, 0xff, sizeof(float) * outs), memset(o->activations, 0xff, sizeof(float) * acts);
    memset(o->grad_inputs, 0xff, sizeof(float) * ins);
    memcpy(o->grad_weights, c->grad_weights, sizeof(float) * weights); /* added into */
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        rd_mlp_forward(ctx, m, c->weights, c->inputs, c->n, o->outputs, o->activations);
        o->repeatable = true;
        return rd_mlp_backward(ctx, m, c->weights, c->inputs, c->n, o->activations, c->grad_outputs, o->grad_weights,
                               o->grad_inputs);
    }
#ifdef RADIANT_TEST_CUDA
    return mlp_run_cuda(ctx, c, o);
#else
    return RD_ERROR_BACKEND_UNAVAILABLE;
#endif
}

/* got against want, relative to the size of want - base (base: what a gradient was added
   to, or NULL): relative L2 and largest error over largest value within tolerance, every
   value finite. */
static bool within(const char *what, const float *got, const float *want, const float *base, size_t n, double tolerance)
{
    double num = 0.0, den = 0.0, worst = 0.0, largest = 0.0;
    size_t nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) { nonfinite++; continue; }
        double d = fabs((double)got[i] - want[i]), size = fabs((double)want[i] - (base ? base[i] : 0.0));
        num += d * d, den += size * size, worst = fmax(worst, d), largest = fmax(largest, size);
    }
    double rel = den > 0.0 ? sqrt(num / den) : sqrt(num), rel_max = largest > 0.0 ? worst / largest : worst;
    bool ok = nonfinite == 0 && rel <= tolerance && rel_max <= tolerance;
    if (!ok || getenv("RADIANT_TEST_VERBOSE"))
        printf("  %s: rel_l2 %.3g, largest error %.3g of the largest value (bound %.3g each), %zu non-finite -> %s\n", what, rel,
               rel_max, tolerance, nonfinite, ok ? "ok" : "FAIL");
    return ok;
}

static bool mlp_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const mlp_case *c = inputs;
    const mlp_outputs *got = got_outputs, *want = want_outputs;
    const rd_mlp *m = &c->m;
    size_t outs = (size_t)c->n * (size_t)m->outputs, ins = (size_t)c->n * (size_t)m->inputs;
    size_t acts = (size_t)c->n * m->hidden_layers * m->width, weights = (size_t)rd_mlp_weights(m);
    if (!env->gpu) { /* the threaded CPU: the same bits */
        bool ok = compare_ok("outputs", compare_floats(got->outputs, want->outputs, outs, 0.0), 0, 0.0);
        ok &= compare_ok("activations", compare_floats(got->activations, want->activations, acts, 0.0), 0, 0.0);
        ok &= compare_ok("weights' gradient", compare_floats(got->grad_weights, want->grad_weights, weights, 0.0), 0, 0.0);
        return ok & compare_ok("inputs' gradient", compare_floats(got->grad_inputs, want->grad_inputs, ins, 0.0), 0, 0.0);
    }
    bool ok = within("outputs", got->outputs, want->outputs, NULL, outs, MLP_TOLERANCE);
    ok &= within("activations", got->activations, want->activations, NULL, acts, MLP_TOLERANCE);
    if (!got->repeatable) printf("  a second backward pass gave other bits for the weights' gradient -> FAIL\n");
    ok &= got->repeatable;
    /* the backward on the backend's own activations (its ReLU decisions: header) */
    rd_context *cpu = NULL;
    float *grad_weights = malloc(sizeof(float) * weights), *grad_inputs = malloc(sizeof(float) * ins);
    memcpy(grad_weights, c->grad_weights, sizeof(float) * weights);
    if (!CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &cpu)) ||
        !CHECK_OK(rd_mlp_backward(cpu, m, c->weights, c->inputs, c->n, got->activations, c->grad_outputs, grad_weights,
                                  grad_inputs)))
        ok = false;
    else {
        ok &= within("weights' gradient", got->grad_weights, grad_weights, c->grad_weights, weights, MLP_TOLERANCE);
        ok &= within("inputs' gradient", got->grad_inputs, grad_inputs, NULL, ins, MLP_TOLERANCE);
    }
    rd_context_destroy(cpu);
    free(grad_weights), free(grad_inputs);
    return ok;
}

static void mlp_describe(const void *inputs)
{
    const mlp_case *c = inputs;
    printf("%d -> %d hidden layers of %d -> %d, %lld samples\n", c->m.inputs, c->m.hidden_layers, c->m.width, c->m.outputs,
           (long long)c->n);
}

static void mlp_free_inputs(void *inputs)
{
    mlp_case *c = inputs;
    free(c->weights), free(c->inputs), free(c->grad_outputs), free(c->grad_weights), free(c);
}

static void mlp_free_outputs(void *outputs)
{
    mlp_outputs *o = outputs;
    if (o) free(o->outputs), free(o->activations), free(o->grad_weights), free(o->grad_inputs);
    free(o);
}

const backend_op OP_MLP = {"mlp", {0, 0, 0}, mlp_cases, mlp_generate, mlp_large, mlp_run, mlp_compare,
                           mlp_describe, mlp_free_inputs, mlp_free_outputs};
