/* ops_train.c: the training kernels' rows of the cross-backend harness (backend_ops.h):
   the loss (L1 + 0.2 D-SSIM and its gradient, train/loss.h) on random renders and photos
   with random alpha over a random background, Adam (train/adam.h) on random
   parameters, gradients and moments, the SH form's two groups included, and 3DGS-MCMC's
   regularisers and noise (splat/mcmc.h) on random Gaussians. The CPU
   functions are the reference (the loss in double); CUDA runs its kernels on device
   copies. Vulkan has no training kernels yet and runs no case. Tolerances: the CUDA loss
   is single precision with sums in another order (its value to 1e-5 relative, each
   gradient sample to 2e-3 of the largest); Adam is the same arithmetic in another
   compiler's rounding (adam_compare). */
#include "backend_ops.h"
#include "compare.h"
#include "../train/adam.h"
#include "../train/loss.h"
#include "../splat/mcmc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef RADIANT_TEST_CUDA /* the CUDA rows' results come back through it */
static rd_result from_backend(rd_context *ctx, void *host, const void *p, size_t bytes)
{
    return rd_buffer_copy(ctx, host, RD_MEMORY_HOST, p, rd_context_backend(ctx) == RD_BACKEND_CPU ? RD_MEMORY_HOST : RD_MEMORY_DEVICE,
                          bytes);
}
#endif

/* ---- the loss ---- */

typedef struct loss_case {
    int width, height;
    float *render, *photo, background[3];
} loss_case;

typedef struct loss_outputs {
    double loss;
    float *grad;
} loss_outputs;

static int loss_cases(const op_env *env) { return op_cpu_or_cuda(env) ? (env->variant ? 0 : 6) : 0; }

static void *loss_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const int sizes[][2] = {{1, 1}, {7, 5}, {64, 48}, {200, 113}, {11, 300}, {800, 600}};
    loss_case *c = calloc(1, sizeof *c);
    c->width = sizes[i][0], c->height = sizes[i][1];
    size_t n = (size_t)c->width * (size_t)c->height;
    c->render = malloc(4 * n * sizeof(float));
    c->photo = malloc(4 * n * sizeof(float));
    for (size_t p = 0; p < 4 * n; p++) c->render[p] = (float)rng_uniform(r), c->photo[p] = (float)rng_uniform(r);
    for (size_t p = 0; i % 2 && p < n; p++) c->photo[4 * p + 3] = 1.0f; /* opaque photos too */
    for (int ch = 0; ch < 3; ch++) c->background[ch] = (float)rng_uniform(r);
    return c;
}

static rd_result loss_run(rd_context *ctx, void *inputs, void **outputs)
{
    loss_case *c = inputs;
    size_t n = (size_t)c->width * (size_t)c->height;
    loss_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    o->grad = malloc(4 * n * sizeof(float));
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) { /* as the trainer's host step composites */
        float *target = malloc(4 * n * sizeof(float));
        double *scratch = malloc(rd_loss_scratch_doubles(c->width, c->height) * sizeof(double));
        for (size_t p = 0; p < n; p++) {
            float a = c->photo[4 * p + 3];
            for (int ch = 0; ch < 3; ch++) target[4 * p + ch] = c->photo[4 * p + ch] * a + c->background[ch] * (1.0f - a);
            target[4 * p + 3] = a;
        }
        o->loss = rd_loss_l1_dssim(&(rd_loss_desc){c->width, c->height, c->render, target, 0.2f}, o->grad, scratch);
        free(target), free(scratch);
        return RD_OK;
    }
    rd_result r = RD_ERROR_OUT_OF_MEMORY;
#ifdef RADIANT_TEST_CUDA
    float *render = op_device_copy(ctx, c->render, 4 * n * sizeof(float)), *photo = op_device_copy(ctx, c->photo, 4 * n * sizeof(float));
    float *grad = op_device_copy(ctx, NULL, 4 * n * sizeof(float));
    float *scratch = op_device_copy(ctx, NULL, rd_loss_cuda_scratch_floats(c->width, c->height) * sizeof(float));
    double zero = 0.0, *sum = (double *)op_device_copy(ctx, &zero, sizeof(double));
    if (render && photo && grad && scratch && sum) {
        rd_loss_cuda_desc d = {c->width, c->height, render, photo, {c->background[0], c->background[1], c->background[2]},
                               0.2f, scratch, NULL};
        r = rd_loss_l1_dssim_cuda(ctx, &d, grad, sum);
        if (r == RD_OK) r = from_backend(ctx, o->grad, grad, 4 * n * sizeof(float));
        if (r == RD_OK) r = from_backend(ctx, &o->loss, sum, sizeof(double));
        o->loss += 0.2;
    }
    void *all[] = {render, photo, grad, scratch, sum};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) rd_buffer_free(ctx, all[k]);
#endif
    return r;
}

static bool loss_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const loss_case *c = inputs;
    const loss_outputs *got = got_outputs, *want = want_outputs;
    size_t n = 4 * (size_t)c->width * (size_t)c->height;
    double largest = 0.0;
    for (size_t p = 0; p < n; p++) largest = fmax(largest, fabs(want->grad[p]));
    double value_tol = env->gpu ? 1e-5 * fabs(want->loss) : 0.0, grad_tol = env->gpu ? 2e-3 * largest : 0.0;
    bool ok = fabs(got->loss - want->loss) <= value_tol;
    if (!ok) printf("  loss: %.9g, reference %.9g -> FAIL\n", got->loss, want->loss);
    compare_result r = compare_floats(got->grad, want->grad, n, grad_tol);
    return compare_ok("loss gradient", r, 0, grad_tol) && ok;
}

static void loss_describe(const void *inputs)
{
    const loss_case *c = inputs;
    printf("%dx%d\n", c->width, c->height);
}

static void loss_free_inputs(void *inputs)
{
    loss_case *c = inputs;
    free(c->render), free(c->photo), free(c);
}

static void loss_free_outputs(void *outputs)
{
    loss_outputs *o = outputs;
    if (o) free(o->grad);
    free(o);
}

const backend_op OP_TRAIN_LOSS = {"train_loss", {0, 0, 0}, loss_cases, loss_generate, NULL, loss_run, loss_compare, loss_describe,
                                  loss_free_inputs, loss_free_outputs};

/* ---- Adam ---- */

/* One step on a plain array, and one on an array of count rows of `row` whose first
   `head` are one group and the rest another (an SH array's rows of 3K with its DC first, or
   a 4D scene's means, space then time; the CPU: the trainer's split into the groups,
   updated separately), the gradients scaled (a batch's mean) in some cases. */
typedef struct adam_case {
    size_t n;
    int64_t count;
    int K, step, row, head;
    float lr, lr_dc, lr_rest, grad_scale;
    float *param, *grad, *m, *v;     /* n */
    float *sh, *sh_grad;             /* count * 3K */
    float *m_dc, *v_dc, *m_rest, *v_rest;
} adam_case;

enum { ADAM_ARRAYS = 8 }; /* param, m, v, sh, m_dc, v_dc, m_rest, v_rest after the step */
typedef struct adam_outputs {
    float *a[ADAM_ARRAYS];
    size_t n[ADAM_ARRAYS];
} adam_outputs;

static int adam_cases(const op_env *env) { return op_cpu_or_cuda(env) ? (env->variant ? 0 : 5) : 0; }

static void *adam_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const size_t sizes[] = {1, 33, 1000, 100003, 1 << 20};
    adam_case *c = calloc(1, sizeof *c);
    c->n = sizes[i];
    c->count = (int64_t)(c->n / 16 + 1);
    c->K = 1 + i % 4 * (i % 4 + 2); /* 1, 4, 9, 16 */
    c->row = i % 2 ? 4 : 3 * c->K, c->head = 3; /* odd cases: the 4D means' layout */
    c->grad_scale = 1.0f / (float)(1 + i % 3);
    c->step = 1 + (int)(rng_uniform(r) * 5000);
    c->lr = (float)rng_range(r, 1e-5, 1e-1), c->lr_dc = (float)rng_range(r, 1e-4, 1e-2), c->lr_rest = c->lr_dc / 20;
    c->param = random_floats(r, c->n, -2, 2), c->grad = random_floats(r, c->n, -1, 1);
    c->m = random_floats(r, c->n, -0.1, 0.1), c->v = random_floats(r, c->n, 0, 0.01);
    size_t row = (size_t)c->row, head = (size_t)c->head, rows = (size_t)c->count;
    c->sh = random_floats(r, rows * row, -1, 1), c->sh_grad = random_floats(r, rows * row, -1, 1);
    c->m_dc = random_floats(r, rows * head, -0.1, 0.1), c->v_dc = random_floats(r, rows * head, 0, 0.01);
    c->m_rest = random_floats(r, rows * (row - head), -0.1, 0.1), c->v_rest = random_floats(r, rows * (row - head), 0, 0.01);
    return c;
}

static rd_result adam_run(rd_context *ctx, void *inputs, void **outputs)
{
    adam_case *c = inputs;
    adam_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t row = (size_t)c->row, head = (size_t)c->head, rows = (size_t)c->count;
    const float *initial[ADAM_ARRAYS] = {c->param, c->m, c->v, c->sh, c->m_dc, c->v_dc, c->m_rest, c->v_rest};
    size_t sizes[ADAM_ARRAYS] = {c->n, c->n, c->n, rows * row, rows * head, rows * head, rows * (row - head), rows * (row - head)};
    for (int k = 0; k < ADAM_ARRAYS; k++) {
        o->n[k] = sizes[k];
        o->a[k] = malloc((sizes[k] ? sizes[k] : 1) * sizeof(float));
        memcpy(o->a[k], initial[k], sizes[k] * sizeof(float));
    }
    rd_adam_step_desc step = {.lr = c->lr, .step = c->step, .grad_scale = c->grad_scale};
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) { /* the trainer's host step: the rows split into their groups */
        rd_adam_update(o->a[0], c->grad, o->a[1], o->a[2], c->n, &step);
        size_t tail = row - head;
        float *dc = malloc(rows * head * sizeof(float) + 4), *rest = malloc(rows * tail * sizeof(float) + 4);
        float *g_dc = malloc(rows * head * sizeof(float) + 4), *g_rest = malloc(rows * tail * sizeof(float) + 4);
        for (size_t i = 0; i < rows; i++) {
            memcpy(dc + head * i, o->a[3] + i * row, head * sizeof(float));
            memcpy(g_dc + head * i, c->sh_grad + i * row, head * sizeof(float));
            memcpy(rest + i * tail, o->a[3] + i * row + head, tail * sizeof(float));
            memcpy(g_rest + i * tail, c->sh_grad + i * row + head, tail * sizeof(float));
        }
        rd_adam_update(dc, g_dc, o->a[4], o->a[5], rows * head,
                       &(rd_adam_step_desc){.lr = c->lr_dc, .step = c->step, .grad_scale = c->grad_scale});
        rd_adam_update(rest, g_rest, o->a[6], o->a[7], rows * tail,
                       &(rd_adam_step_desc){.lr = c->lr_rest, .step = c->step, .grad_scale = c->grad_scale});
        for (size_t i = 0; i < rows; i++) {
            memcpy(o->a[3] + i * row, dc + head * i, head * sizeof(float));
            memcpy(o->a[3] + i * row + head, rest + i * tail, tail * sizeof(float));
        }
        free(dc), free(rest), free(g_dc), free(g_rest);
        return RD_OK;
    }
    rd_result r = RD_ERROR_OUT_OF_MEMORY;
#ifdef RADIANT_TEST_CUDA
    float *d[ADAM_ARRAYS], *grad = op_device_copy(ctx, c->grad, c->n * sizeof(float)), *sh_grad = op_device_copy(ctx, c->sh_grad, rows * row * sizeof(float));
    bool ok = grad && sh_grad;
    for (int k = 0; k < ADAM_ARRAYS; k++) ok &= (d[k] = op_device_copy(ctx, o->a[k], sizes[k] * sizeof(float))) != NULL;
    if (ok) {
        rd_adam_sh_moments mo = {d[4], d[5], d[6], d[7]};
        r = rd_adam_update_cuda(ctx, d[0], grad, d[1], d[2], c->n, &step, NULL);
        if (r == RD_OK && c->row == 3 * c->K) r = rd_adam_update_sh_cuda(ctx, d[3], sh_grad, &mo, c->count, c->K, c->lr_dc, c->lr_rest, &step, NULL);
        else if (r == RD_OK)
            r = rd_adam_update_rows_cuda(ctx, d[3], sh_grad, &mo, c->count, c->row, c->head, c->lr_dc, c->lr_rest, &step, NULL);
        for (int k = 0; k < ADAM_ARRAYS && r == RD_OK; k++) r = from_backend(ctx, o->a[k], d[k], sizes[k] * sizeof(float));
    }
    for (int k = 0; k < ADAM_ARRAYS; k++) rd_buffer_free(ctx, d[k]);
    rd_buffer_free(ctx, grad), rd_buffer_free(ctx, sh_grad);
#endif
    return r;
}

static bool adam_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const adam_case *c = inputs;
    const adam_outputs *got = got_outputs, *want = want_outputs;
    static const char *names[ADAM_ARRAYS] = {"param", "m", "v", "sh", "m_dc", "v_dc", "m_rest", "v_rest"};
    /* a parameter moves by about lr a step: 1e-4 of that, plus a few ulps of values up to
       2 (another rounding of the same sum); moments are under 1, a few ulps of that */
    double lr[ADAM_ARRAYS] = {c->lr, 0, 0, c->lr_dc, 0, 0, 0, 0};
    bool ok = true;
    for (int k = 0; k < ADAM_ARRAYS; k++) {
        double tol = env->gpu ? 1e-4 * lr[k] + 1e-6 : 0.0;
        compare_result r = compare_floats(got->a[k], want->a[k], want->n[k], tol);
        ok &= compare_ok(names[k], r, 0, tol);
    }
    return ok;
}

static void adam_describe(const void *inputs)
{
    const adam_case *c = inputs;
    printf("%zu elements, %lld rows of %d (groups of %d and %d), gradients times %g, step %d\n", c->n, (long long)c->count, c->row,
           c->head, c->row - c->head, c->grad_scale, c->step);
}

static void adam_free_inputs(void *inputs)
{
    adam_case *c = inputs;
    float *all[] = {c->param, c->grad, c->m, c->v, c->sh, c->sh_grad, c->m_dc, c->v_dc, c->m_rest, c->v_rest};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) free(all[k]);
    free(c);
}

static void adam_free_outputs(void *outputs)
{
    adam_outputs *o = outputs;
    for (int k = 0; o && k < ADAM_ARRAYS; k++) free(o->a[k]);
    free(o);
}

const backend_op OP_TRAIN_ADAM = {"train_adam", {0, 0, 0}, adam_cases, adam_generate, NULL, adam_run, adam_compare, adam_describe,
                                  adam_free_inputs, adam_free_outputs};

/* ---- 3DGS-MCMC's per-step parts (splat/mcmc.h) ---- */

typedef struct mcmc_case {
    int64_t n;
    float amplitude;
    uint64_t seed;
    uint32_t step;
    float *means, *log_scales, *quats, *logits, *g_logits, *g_log_scales;
} mcmc_case;

enum { MCMC_ARRAYS = 3 }; /* means, g_logits, g_log_scales after the step */
typedef struct mcmc_outputs {
    float *a[MCMC_ARRAYS];
    size_t n[MCMC_ARRAYS];
} mcmc_outputs;

static int mcmc_cases(const op_env *env) { return op_cpu_or_cuda(env) ? (env->variant ? 0 : 4) : 0; }

static void *mcmc_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const int64_t counts[] = {1, 100, 10000, 1000000};
    mcmc_case *c = calloc(1, sizeof *c);
    c->n = counts[i];
    c->amplitude = (float)rng_range(r, 1e-4, 1e2); /* lr 1e-6..1e-4 times 5e5, and more */
    c->seed = (uint64_t)(rng_uniform(r) * 1e15), c->step = (uint32_t)(rng_uniform(r) * 30000);
    size_t n = (size_t)c->n;
    c->means = random_floats(r, 3 * n, -2, 2), c->log_scales = random_floats(r, 3 * n, -6, 0);
    c->quats = random_floats(r, 4 * n, -1, 1), c->logits = random_floats(r, n, -8, 8);
    c->g_logits = random_floats(r, n, -1e-3, 1e-3), c->g_log_scales = random_floats(r, 3 * n, -1e-3, 1e-3);
    return c;
}

static rd_result mcmc_run(rd_context *ctx, void *inputs, void **outputs)
{
    mcmc_case *c = inputs;
    mcmc_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t n = (size_t)c->n;
    const float *initial[MCMC_ARRAYS] = {c->means, c->g_logits, c->g_log_scales};
    size_t sizes[MCMC_ARRAYS] = {3 * n, n, 3 * n};
    for (int k = 0; k < MCMC_ARRAYS; k++) {
        o->n[k] = sizes[k];
        o->a[k] = malloc(sizes[k] * sizeof(float));
        memcpy(o->a[k], initial[k], sizes[k] * sizeof(float));
    }
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        for (int64_t i = 0; i < c->n; i++) {
            rd_mcmc_regularise(c->logits[i], c->log_scales + 3 * i, c->n, &o->a[1][i], o->a[2] + 3 * i);
            rd_mcmc_noise(o->a[0] + 3 * i, c->log_scales + 3 * i, c->quats + 4 * i, c->logits[i], c->amplitude, c->seed, c->step,
                          (uint32_t)i);
        }
        return RD_OK;
    }
    rd_result r = RD_ERROR_OUT_OF_MEMORY;
#ifdef RADIANT_TEST_CUDA
    float *d[MCMC_ARRAYS], *scales = op_device_copy(ctx, c->log_scales, 3 * n * sizeof(float));
    float *quats = op_device_copy(ctx, c->quats, 4 * n * sizeof(float)), *logits = op_device_copy(ctx, c->logits, n * sizeof(float));
    bool ok = scales && quats && logits;
    for (int k = 0; k < MCMC_ARRAYS; k++) ok &= (d[k] = op_device_copy(ctx, o->a[k], sizes[k] * sizeof(float))) != NULL;
    if (ok) {
        r = rd_mcmc_regularise_cuda(ctx, logits, scales, c->n, d[1], d[2]);
        if (r == RD_OK) r = rd_mcmc_noise_cuda(ctx, d[0], scales, quats, logits, c->n, c->amplitude, c->seed, c->step);
        for (int k = 0; k < MCMC_ARRAYS && r == RD_OK; k++) r = from_backend(ctx, o->a[k], d[k], sizes[k] * sizeof(float));
    }
    for (int k = 0; k < MCMC_ARRAYS; k++) rd_buffer_free(ctx, d[k]);
    rd_buffer_free(ctx, scales), rd_buffer_free(ctx, quats), rd_buffer_free(ctx, logits);
#endif
    return r;
}

/* The step's change to each array (from the case's inputs): to 1e-4 of the largest change
   on GPUs (their exp, log and cos differ from the C library's in the last bits), plus
   a few ulps of the values. */
static bool mcmc_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const mcmc_case *c = inputs;
    const mcmc_outputs *got = got_outputs, *want = want_outputs;
    const float *initial[MCMC_ARRAYS] = {c->means, c->g_logits, c->g_log_scales};
    static const char *names[MCMC_ARRAYS] = {"means", "opacity gradients", "scale gradients"};
    bool ok = true;
    for (int k = 0; k < MCMC_ARRAYS; k++) {
        double change = 0.0;
        for (size_t i = 0; i < want->n[k]; i++) change = fmax(change, fabs((double)want->a[k][i] - initial[k][i]));
        double tol = env->gpu ? 1e-4 * change + 1e-6 : 0.0;
        compare_result r = compare_floats(got->a[k], want->a[k], want->n[k], tol);
        ok &= compare_ok(names[k], r, 0, tol);
    }
    return ok;
}

static void mcmc_describe(const void *inputs)
{
    const mcmc_case *c = inputs;
    printf("%lld Gaussians, amplitude %g, step %u\n", (long long)c->n, c->amplitude, c->step);
}

static void mcmc_free_inputs(void *inputs)
{
    mcmc_case *c = inputs;
    free(c->means), free(c->log_scales), free(c->quats), free(c->logits), free(c->g_logits), free(c->g_log_scales);
    free(c);
}

static void mcmc_free_outputs(void *outputs)
{
    mcmc_outputs *o = outputs;
    for (int k = 0; o && k < MCMC_ARRAYS; k++) free(o->a[k]);
    free(o);
}

const backend_op OP_TRAIN_MCMC = {"train_mcmc", {0, 0, 0}, mcmc_cases, mcmc_generate, NULL, mcmc_run, mcmc_compare, mcmc_describe,
                                  mcmc_free_inputs, mcmc_free_outputs};
