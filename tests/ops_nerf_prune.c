/* ops_nerf_prune.c: HollowNeRF's ADMM pruner's row of the cross-backend harness
   (backend_ops.h), against the CPU (nerf/saliency.c). CUDA runs nerf/saliency_cuda.cu;
   Vulkan has no NeRF trainer and runs no case.

   nerf admm: masks of R^3 logits (R 2 to 128: 8 to 2M cells), logits uniform in +-4, the
   dual u in +-0.5, and budgets from 1% of the cells to more than their sum (no
   projection: tau 0) and 0 (everything cleared); one update (z and u), then the penalty's
   gradient with a random rho added onto a random gradient. Tolerance on CUDA: the device's
   expf may differ from libm's by an ulp or two, so y = sigmoid(G) + u by ~2e-7, and the
   bisection's sums, in double in another order, put tau within ~1e-12 of the CPU's: z
   and u within 1e-5 (largest error), the gradient (rho <= 1 times products of terms
   below 2) within 1e-5 of its largest value. Every row also checks the update against
   its definition (projection_ok: z is clamp(y - tau, 0, 1) for one tau, at the budget
   where tau > 0, u moved by sigmoid(G) - z); the CPU row, threads against one thread,
   asks the same bits besides. */
#include "backend_ops.h"
#include "compare.h"
#include "../nerf/saliency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { ADMM_CASES = 6 };
static const double ADMM_TOLERANCE = 1e-5;

typedef struct admm_case {
    int64_t n;
    double budget;
    float rho;
    float *logits, *u, *grad;
} admm_case;

typedef struct admm_outputs {
    float *z, *u, *grad;
} admm_outputs;

static int admm_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? ADMM_CASES : 0; }

static void *admm_generate(const op_env *env, test_rng *r, int i)
{
    /* budgets as fractions of the cells: small, middling, above the sum of y (no
       projection), none at all, then two at random */
    static const double FRACTIONS[ADMM_CASES] = {0.01, 0.31, 2.0, 0.0, -1.0, -1.0};
    static const int RESOLUTIONS[ADMM_CASES] = {2, 64, 16, 7, 128, -1};
    admm_case *c = calloc(1, sizeof *c);
    int R = RESOLUTIONS[i] > 0 ? RESOLUTIONS[i] : 2 + (int)(rng_uniform(r) * 60);
    if (R > 64 && env->reduced) R = 64;
    c->n = (int64_t)R * R * R;
    double fraction = FRACTIONS[i] >= 0.0 ? FRACTIONS[i] : rng_range(r, 0.02, 0.9);
    c->budget = fraction * (double)c->n;
    c->rho = (float)rng_range(r, 1e-4, 1.0);
    c->logits = random_floats(r, (size_t)c->n, -4.0, 4.0);
    c->u = random_floats(r, (size_t)c->n, -0.5, 0.5);
    c->grad = random_floats(r, (size_t)c->n, -1.0, 1.0);
    return c;
}

static bool admm_large(const void *inputs) { return ((const admm_case *)inputs)->n > 100000; }

static rd_result admm_run(rd_context *ctx, void *inputs, void **outputs)
{
    const admm_case *c = inputs;
    size_t n = (size_t)c->n, bytes = sizeof(float) * n;
    admm_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    o->z = malloc(bytes), o->u = malloc(bytes), o->grad = malloc(bytes);
    if (!o->z || !o->u || !o->grad) return RD_ERROR_OUT_OF_MEMORY;
    memset(o->z, 0xff, bytes); /* poisoned: every z must be written */
    memcpy(o->u, c->u, bytes), memcpy(o->grad, c->grad, bytes);
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        rd_admm_update(c->logits, c->n, c->budget, o->z, o->u);
        rd_admm_penalty_gradient(c->logits, o->z, o->u, c->n, c->rho, o->grad);
        return RD_OK;
    }
    rd_result r = RD_ERROR_BACKEND_UNAVAILABLE;
#ifdef RADIANT_TEST_CUDA
    float *logits = op_device_copy(ctx, c->logits, bytes), *z = op_device_copy(ctx, o->z, bytes);
    float *u = op_device_copy(ctx, o->u, bytes), *grad = op_device_copy(ctx, o->grad, bytes);
    rd_admm_cuda scratch = {{0}};
    r = logits && z && u && grad ? RD_OK : RD_ERROR_OUT_OF_MEMORY;
    if (r == RD_OK) r = rd_admm_update_cuda(ctx, logits, c->n, c->budget, z, u, &scratch, NULL);
    if (r == RD_OK) r = rd_admm_penalty_gradient_cuda(ctx, logits, z, u, c->n, c->rho, grad, NULL);
    if (r == RD_OK) r = rd_buffer_copy(ctx, o->z, RD_MEMORY_HOST, z, RD_MEMORY_DEVICE, bytes);
    if (r == RD_OK) r = rd_buffer_copy(ctx, o->u, RD_MEMORY_HOST, u, RD_MEMORY_DEVICE, bytes);
    if (r == RD_OK) r = rd_buffer_copy(ctx, o->grad, RD_MEMORY_HOST, grad, RD_MEMORY_DEVICE, bytes);
    rd_admm_cuda_free(ctx, &scratch);
    rd_buffer_free(ctx, logits), rd_buffer_free(ctx, z), rd_buffer_free(ctx, u), rd_buffer_free(ctx, grad);
#endif
    return r;
}

/* z is a projection of y = sigmoid(G) + u (u before the update) onto {0 <= z <= 1,
   sum z <= budget}: z = clamp(y - tau, 0, 1) for one tau >= 0, tau 0 unless the sum is at
   the budget; and u moved by sigmoid(G) - z. On every row, to `slack` (y in float). */
static bool projection_ok(const admm_case *c, const admm_outputs *o, double slack, bool verbose)
{
    double tau = -1.0, worst = 0.0, sum = 0.0;
    size_t bad = 0;
    for (int64_t k = 0; k < c->n; k++) {
        double p = 1.0 / (1.0 + exp(-(double)c->logits[k])), y = p + c->u[k], z = o->z[k];
        sum += z;
        bad += !(z >= 0.0 && z <= 1.0) || !(fabs((double)o->u[k] - (c->u[k] + p - z)) <= slack);
        if (z > 0.0 && z < 1.0) { /* interior: y - z is tau */
            if (tau < 0.0) tau = y - z;
            worst = fmax(worst, fabs(y - z - tau));
        }
    }
    for (int64_t k = 0; tau >= 0.0 && k < c->n; k++) { /* the clamped ones on their side of tau */
        double y = 1.0 / (1.0 + exp(-(double)c->logits[k])) + c->u[k];
        if (o->z[k] == 0.0f) worst = fmax(worst, y - tau);
        if (o->z[k] == 1.0f) worst = fmax(worst, 1.0 + tau - y);
    }
    bool at_budget = tau <= slack || fabs(sum - c->budget) <= slack * (double)c->n + 1e-3;
    bool ok = bad == 0 && worst <= slack && sum <= c->budget * (1.0 + 1e-5) + 1e-3 && at_budget;
    if (!ok || verbose)
        printf("    projection: tau %.6g, %zu values out of place, largest miss %.3g (slack %.3g), sum %.6g against the budget %.6g\n", tau,
               bad, worst, slack, sum, c->budget);
    return ok;
}

/* The largest |got - want| over n, against a bound; printed where it fails or asked. */
static bool largest_within(const char *what, const float *got, const float *want, size_t n, double bound, bool verbose)
{
    double worst = 0.0;
    for (size_t k = 0; k < n; k++) worst = fmax(worst, isnan(got[k]) ? INFINITY : fabs((double)got[k] - (double)want[k]));
    bool ok = worst <= bound;
    if (!ok || verbose) printf("    %s: largest error %.3g (bound %.3g)\n", what, worst, bound);
    return ok;
}

static bool admm_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const admm_case *c = inputs;
    const admm_outputs *got = got_outputs, *want = want_outputs;
    size_t n = (size_t)c->n;
    bool verbose = getenv("RADIANT_TEST_VERBOSE") != NULL;
    if (!projection_ok(c, got, 2e-6, verbose)) return false;
    if (!env->gpu)
        return memcmp(got->z, want->z, sizeof(float) * n) == 0 && memcmp(got->u, want->u, sizeof(float) * n) == 0 &&
               memcmp(got->grad, want->grad, sizeof(float) * n) == 0;
    double largest_grad = 0.0;
    for (size_t k = 0; k < n; k++) largest_grad = fmax(largest_grad, fabs((double)want->grad[k]));
    bool ok = largest_within("z", got->z, want->z, n, ADMM_TOLERANCE, verbose);
    ok &= largest_within("u", got->u, want->u, n, ADMM_TOLERANCE, verbose);
    ok &= largest_within("penalty gradient", got->grad, want->grad, n, ADMM_TOLERANCE * fmax(1.0, largest_grad), verbose);
    return ok;
}

static void admm_describe(const void *inputs)
{
    const admm_case *c = inputs;
    printf("%lld cells, budget %.1f (%.3g of them), rho %g\n", (long long)c->n, c->budget, c->budget / (double)c->n, c->rho);
}

static void admm_free_inputs(void *inputs)
{
    admm_case *c = inputs;
    free(c->logits), free(c->u), free(c->grad), free(c);
}

static void admm_free_outputs(void *outputs)
{
    admm_outputs *o = outputs;
    if (o) free(o->z), free(o->u), free(o->grad);
    free(o);
}

const backend_op OP_NERF_ADMM = {"nerf admm", {0}, admm_cases, admm_generate, admm_large, admm_run, admm_compare, admm_describe,
                                 admm_free_inputs, admm_free_outputs};
