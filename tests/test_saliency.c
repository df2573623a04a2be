/* test_saliency.c: HollowNeRF's saliency mask and ADMM pruner (nerf/saliency.h): the
   mask's forward against a double-precision trilinear sigmoid (points on vertices, faces,
   outside the cube), its backward against finite differences of the forward; the
   projection against a sort-based one in double (feasible, and the budget met exactly
   where it binds); the penalty's gradient against finite differences of the penalty; the
   dual update's rule; a resolution out of range refused by name. */
#include "test_util.h"
#include "../nerf/saliency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;

static double sigmoid_d(double x) { return 1.0 / (1.0 + exp(-x)); }

/* trilinear over vertices i / (R - 1), the point clamped onto the cube, in double */
static double reference_keep(int r, const float *logits, const float p[3])
{
    double x[3];
    int low[3];
    for (int a = 0; a < 3; a++) {
        x[a] = fmin(fmax((double)p[a], 0.0), 1.0) * (r - 1);
        low[a] = (int)floor(x[a]);
        if (low[a] > r - 2) low[a] = r - 2;
        x[a] -= low[a];
    }
    double sum = 0.0;
    for (int c = 0; c < 8; c++) {
        int i = low[0] + (c & 1), j = low[1] + (c >> 1 & 1), k = low[2] + (c >> 2 & 1);
        double w = ((c & 1) ? x[0] : 1 - x[0]) * ((c >> 1 & 1) ? x[1] : 1 - x[1]) * ((c >> 2 & 1) ? x[2] : 1 - x[2]);
        sum += w * logits[i + r * (j + r * k)];
    }
    return sigmoid_d(sum);
}

static void test_mask(test_rng *rng)
{
    rd_saliency s;
    CHECK_OK(rd_saliency_make(ctx, 5, &s));
    int64_t cells = rd_saliency_cells(&s);
    CHECK(cells == 125);
    float *logits = random_floats(rng, (size_t)cells, -3.0, 3.0);
    enum { N = 64 };
    float positions[3 * N], keep[N];
    for (int i = 0; i < N; i++)
        for (int a = 0; a < 3; a++) {
            double v = rng_range(rng, -0.2, 1.2); /* some outside */
            if (i % 4 == 1) v = floor(rng_range(rng, 0.0, 5.0)) / 4.0; /* on vertices and faces */
            positions[3 * i + a] = (float)v;
        }
    rd_saliency_forward(&s, logits, positions, N, keep);
    double worst = 0.0;
    for (int i = 0; i < N; i++) worst = fmax(worst, fabs(keep[i] - reference_keep(s.resolution, logits, positions + 3 * i)));
    if (!CHECK(worst < 1e-6)) printf("  mask forward: worst error %.3g\n", worst);

    /* backward against central differences of sum(g * keep) */
    float g_keep[N], *grad = calloc((size_t)cells, sizeof(float));
    for (int i = 0; i < N; i++) g_keep[i] = (float)rng_range(rng, -1.0, 1.0);
    rd_saliency_backward(&s, positions, N, keep, g_keep, grad);
    double worst_fd = 0.0, largest = 0.0;
    for (int64_t k = 0; k < cells; k++) {
        double sums[2];
        for (int side = 0; side < 2; side++) {
            float saved = logits[k];
            logits[k] = saved + (side ? 1e-2f : -1e-2f);
            double sum = 0.0;
            for (int i = 0; i < N; i++) sum += g_keep[i] * reference_keep(s.resolution, logits, positions + 3 * i);
            sums[side] = sum;
            logits[k] = saved;
        }
        double fd = (sums[1] - sums[0]) / 2e-2;
        worst_fd = fmax(worst_fd, fabs(fd - grad[k])), largest = fmax(largest, fabs(fd));
    }
    if (!CHECK(largest > 0.0 && worst_fd < 1e-3 * largest)) printf("  mask backward: worst %.3g of %.3g\n", worst_fd, largest);
    free(logits), free(grad);
}

static int descending(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* sum of clamp(y - tau, 0, 1) = budget, solved exactly over the sorted breakpoints (y and y - 1) */
static double reference_tau(const float *y, int n, double budget)
{
    double sum0 = 0.0;
    for (int i = 0; i < n; i++) sum0 += fmin(fmax((double)y[i], 0.0), 1.0);
    if (sum0 <= budget) return 0.0;
    double *points = malloc(sizeof(double) * 2 * (size_t)n);
    for (int i = 0; i < n; i++) points[2 * i] = y[i], points[2 * i + 1] = (double)y[i] - 1.0;
    qsort(points, 2 * (size_t)n, sizeof(double), descending);
    double tau = 0.0;
    /* between breakpoints the sum is linear in tau: find the piece where it crosses the budget */
    for (int k = 2 * n - 1; k >= 0; k--) {
        double hi_tau = points[k] > 0.0 ? points[k] : 0.0, lo_tau = k + 1 < 2 * n && points[k + 1] > 0.0 ? points[k + 1] : 0.0;
        double at_hi = 0.0, at_lo = 0.0;
        for (int i = 0; i < n; i++) at_hi += fmin(fmax(y[i] - hi_tau, 0.0), 1.0), at_lo += fmin(fmax(y[i] - lo_tau, 0.0), 1.0);
        if (at_lo >= budget && at_hi <= budget && at_lo > at_hi) {
            tau = lo_tau + (at_lo - budget) / (at_lo - at_hi) * (hi_tau - lo_tau);
            break;
        }
    }
    free(points);
    return tau;
}

static void test_projection(test_rng *rng)
{
    for (int trial = 0; trial < 20; trial++) {
        int n = 1 + (int)(rng_uniform(rng) * 300);
        float *y = random_floats(rng, (size_t)n, -0.5, 1.8), *z = malloc(sizeof(float) * (size_t)n);
        double budget = rng_range(rng, 0.0, 0.6 * n);
        if (trial == 0) budget = 2.0 * n; /* the budget does not bind: a clamp */
        rd_admm_project(y, n, budget, z);
        double tau = reference_tau(y, n, budget), sum = 0.0, worst = 0.0;
        bool inside = true;
        for (int i = 0; i < n; i++) {
            inside &= z[i] >= 0.0f && z[i] <= 1.0f;
            sum += z[i];
            worst = fmax(worst, fabs(z[i] - fmin(fmax(y[i] - tau, 0.0), 1.0)));
        }
        if (!CHECK(inside && sum <= budget + 1e-5 * fmax(budget, 1.0) && worst < 1e-5))
            printf("  projection trial %d: n %d, budget %.4f, sum %.6f, worst %.3g (tau %.6f)\n", trial, n, budget, sum, worst, tau);
        if (tau > 0.0) CHECK(fabs(sum - budget) < 1e-4 * fmax(budget, 1.0)); /* a binding budget is met */
        free(y), free(z);
    }
}

static void test_penalty_and_update(test_rng *rng)
{
    enum { N = 40 };
    float *logits = random_floats(rng, N, -4.0, 4.0), *z = random_floats(rng, N, 0.0, 1.0), *u = random_floats(rng, N, -0.3, 0.3);
    float grad[N] = {0};
    const float rho = 0.7f;
    rd_admm_penalty_gradient(logits, z, u, N, rho, grad);
    double worst = 0.0;
    for (int i = 0; i < N; i++) {
        double e = 1e-3, penalty[2];
        for (int side = 0; side < 2; side++) {
            double r = sigmoid_d(logits[i] + (side ? e : -e)) - z[i] + u[i];
            penalty[side] = 0.5 * rho * r * r;
        }
        worst = fmax(worst, fabs((penalty[1] - penalty[0]) / (2 * e) - grad[i]));
    }
    if (!CHECK(worst < 1e-4)) printf("  penalty gradient: worst %.3g\n", worst);
    /* the update: z the projection of sigmoid(G) + u, then u gains sigmoid(G) - z */
    float y[N], want_z[N], old_u[N];
    memcpy(old_u, u, sizeof old_u);
    for (int i = 0; i < N; i++) y[i] = (float)(1.0 / (1.0 + exp(-logits[i]))) + u[i];
    rd_admm_project(y, N, 5.0, want_z);
    rd_admm_update(logits, N, 5.0, z, u);
    double worst_z = 0.0, worst_u = 0.0;
    for (int i = 0; i < N; i++) {
        worst_z = fmax(worst_z, fabs(z[i] - want_z[i]));
        worst_u = fmax(worst_u, fabs(u[i] - (old_u[i] + (1.0 / (1.0 + exp(-logits[i]))) - z[i])));
    }
    CHECK(worst_z < 1e-6 && worst_u < 1e-6);
    free(logits), free(z), free(u);
}

/* The snapshot's pruning of occupancy cells (rd_saliency_prune_cells): a mask that keeps
   nothing on the low-x side of the cube and everything elsewhere clears exactly the cells
   whose every point keeps less than the threshold; it never clears a cell where a sampled
   point keeps more (random logits, random cells, 27 points each). */
static void test_prune_cells(test_rng *rng)
{
    enum { R = 9, CASCADES = 2 };
    const int64_t cells = (int64_t)CASCADES * 128 * 128 * 128;
    rd_saliency s = {R};
    float logits[R * R * R];
    uint8_t *bits = malloc((size_t)cells);
    for (int k = 0; k < R * R * R; k++) logits[k] = k % R < R / 2 ? -12.0f : 2.0f; /* vertices x < 4/8 of the side: keep 6e-6 */
    memset(bits, 1, (size_t)cells);
    int64_t cleared = rd_saliency_prune_cells(&s, logits, CASCADES, 0.01f, bits);
    /* cascade 0: cells up to x = 3/8 of the cube lie in patches of vertices 0..3 alone (48 of
       128 a row); cascade 1 (side 2, from -0.5): its cells clamped onto x < 3/8, 56 a row */
    int64_t want = 48LL * 128 * 128 + 56LL * 128 * 128;
    printf("  prune cells: %lld cleared of %lld (want %lld)\n", (long long)cleared, (long long)cells, (long long)want);
    CHECK(cleared == want && bits[0] == 0 && bits[127] == 1);
    for (int k = 0; k < R * R * R; k++) logits[k] = (float)rng_range(rng, -9.0, -2.0);
    memset(bits, 1, (size_t)cells);
    cleared = rd_saliency_prune_cells(&s, logits, CASCADES, 0.01f, bits);
    int64_t unsound = 0;
    for (int n = 0; n < 20000; n++) {
        int64_t index = (int64_t)(rng_uniform(rng) * (double)cells);
        if (bits[index]) continue;
        int c = (int)(index / (128 * 128 * 128)), at[3] = {(int)(index % 128), (int)(index / 128 % 128), (int)(index / (128 * 128) % 128)};
        double size = ldexp(1.0, c), low = 0.5 - 0.5 * size, cell = size / 128;
        for (int q = 0; q < 27; q++) {
            float p[3];
            for (int a = 0; a < 3; a++) p[a] = (float)(low + (at[a] + 0.5 * (q / (a == 0 ? 1 : a == 1 ? 3 : 9) % 3)) * cell);
            unsound += reference_keep(R, logits, p) >= 0.01;
        }
    }
    printf("  prune cells, random mask: %lld cleared; %lld sampled points of cleared cells keep more than the threshold\n",
           (long long)cleared, (long long)unsound);
    CHECK(cleared > 0 && cleared < cells && unsound == 0);
    free(bits);
}

int main(void)
{
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    test_rng rng = {test_seed("saliency")};
    test_mask(&rng);
    test_projection(&rng);
    test_penalty_and_update(&rng);
    test_prune_cells(&rng);
    rd_saliency s;
    CHECK_FAILS(rd_saliency_make(ctx, 1, &s), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "resolution 1") != NULL);
    CHECK_FAILS(rd_saliency_make(ctx, 513, &s), RD_ERROR_INVALID_ARGUMENT);
    rd_context_destroy(ctx);
    return test_finish("test_saliency");
}
