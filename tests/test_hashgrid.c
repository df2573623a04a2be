/* test_hashgrid.c: the multiresolution hash encoding's CPU code (hashgrid/hashgrid.h,
   spec/nerf.md) against a brute-force evaluation in double precision written here from
   the spec: the layout (levels, resolutions, dense and hashed levels, offsets), the
   features of random points, of points on cell faces and corners and of points outside
   the unit cube, the table's gradient, and the positions' gradient against central
   differences of the CPU forward pass; the result does not depend on the thread count;
   the initialisation is in +-1e-4 and repeatable; bad configurations are clear errors. */
#include "test_util.h"
#include "../hashgrid/hashgrid.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx, *ctx4;

/* ---- the spec, in double ------------------------------------------------------------- */
static uint32_t spec_index(const rd_hashgrid *g, int l, int64_t x, int64_t y, int64_t z)
{
    uint32_t ux = (uint32_t)x, uy = (uint32_t)y, uz = (uint32_t)z, res = g->resolution[l];
    uint32_t h = (g->dense_levels >> l & 1u) ? ux + uy * res + uz * res * res : ux ^ (uy * 2654435761u) ^ (uz * 805459861u);
    return g->offset[l] + h % g->size[l];
}

/* One point's features (L*F doubles); where corner_weights is given, also each level's 8
   corner entries and weights (for the table's gradient). */
static void spec_features(const rd_hashgrid *g, const float *params, const float p[3], double *out, uint32_t (*entries)[8],
                          double (*weights)[8])
{
    int F = g->features;
    for (int l = 0; l < g->levels; l++) {
        double frac[3];
        int64_t low[3];
        for (int d = 0; d < 3; d++) { /* where the point falls, rounded as the spec's float arithmetic rounds it */
            double at = (float)(g->scale[l] * p[d]) + 0.5f;
            low[d] = (int64_t)floor(at), frac[d] = at - floor(at);
        }
        for (int f = 0; f < F; f++) out[l * F + f] = 0.0;
        for (int c = 0; c < 8; c++) {
            double w = 1.0;
            for (int d = 0; d < 3; d++) w *= (c >> d & 1) ? frac[d] : 1.0 - frac[d];
            uint32_t e = spec_index(g, l, low[0] + (c & 1), low[1] + (c >> 1 & 1), low[2] + (c >> 2 & 1));
            for (int f = 0; f < F; f++) out[l * F + f] += w * params[(size_t)e * F + f];
            if (entries) entries[l][c] = e, weights[l][c] = w;
        }
    }
}

/* ---- the tests ----------------------------------------------------------------------- */
static void test_layout(void)
{
    rd_hashgrid g;
    if (!CHECK_OK(rd_hashgrid_make(ctx, NULL, &g))) return;
    CHECK(g.levels == 16 && g.features == 2 && g.table_size == 1u << 19);
    CHECK(fabsf(g.growth - (float)exp(log(128.0) / 15.0)) < 1e-6f);
    CHECK(g.scale[0] == 15.0f && g.resolution[0] == 16 && g.size[0] == 4096 && (g.dense_levels & 1u));
    /* level 4: 16 * b^4 - 1 = 57.5..., 59 vertices a side: 205,379 padded to 205,384 fit in 2^19 */
    CHECK(g.resolution[4] == (uint32_t)ceilf(g.scale[4]) + 1 && (g.dense_levels >> 4 & 1u));
    int64_t sum = 0;
    for (int l = 0; l < 16; l++) {
        uint64_t r3 = (uint64_t)g.resolution[l] * g.resolution[l] * g.resolution[l];
        bool dense = (r3 + 7) / 8 * 8 <= g.table_size;
        CHECK(dense == (bool)(g.dense_levels >> l & 1u));
        CHECK(g.size[l] == (dense ? (uint32_t)((r3 + 7) / 8 * 8) : g.table_size) && g.offset[l] == (uint32_t)sum);
        sum += g.size[l];
    }
    CHECK(g.entries == sum && !(g.dense_levels >> 15 & 1u)); /* the finest, 2048 a side, is hashed */
    CHECK(fabsf(g.scale[15] - 2047.0f) < 0.05f);

    rd_hashgrid_desc bad[] = {{.levels = 33}, {.features = 3}, {.log2_table_size = 25}, {.base_resolution = 1},
                              {.base_resolution = 64, .finest_resolution = 32}};
    const char *field[] = {"levels 33", "features 3", "log2_table_size 25", "base_resolution 1", "finest_resolution 32"};
    for (int i = 0; i < 5; i++) {
        CHECK_FAILS(rd_hashgrid_make(ctx, &bad[i], &g), RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), field[i]) != NULL);
    }

    float *a = malloc(sizeof(float) * 2 * 4096 * 4), *b = malloc(sizeof(float) * 2 * 4096 * 4);
    rd_hashgrid small;
    CHECK_OK(rd_hashgrid_make(ctx, &(rd_hashgrid_desc){.levels = 2, .log2_table_size = 12, .finest_resolution = 20}, &small));
    rd_hashgrid_init(&small, 7, a);
    rd_hashgrid_init(&small, 7, b);
    bool same = true, within = true, varied = false;
    for (int64_t i = 0; i < small.entries * 2; i++) {
        same &= a[i] == b[i], within &= fabsf(a[i]) <= 1e-4f, varied |= a[i] != a[0];
    }
    rd_hashgrid_init(&small, 8, b);
    CHECK(same && within && varied && memcmp(a, b, sizeof(float) * 2 * (size_t)small.entries) != 0);
    free(a), free(b);
}

/* Random points, points on cell faces and corners of random levels, points outside. */
static float *test_points(test_rng *r, const rd_hashgrid *g, int n)
{
    float *p = malloc(sizeof(float) * 3 * (size_t)n);
    for (int i = 0; i < n; i++) {
        int kind = i % 4, l = (int)(rng_uniform(r) * g->levels);
        for (int d = 0; d < 3; d++) {
            double v = rng_uniform(r);
            if (kind == 1 || (kind == 2 && d == 0)) /* a corner (every axis) or a face (x): scale * p + 0.5 whole */
                v = ((double)(int)(rng_uniform(r) * g->scale[l]) + 0.5) / g->scale[l];
            if (kind == 3) v = rng_range(r, -1.0, 2.0);
            p[3 * i + d] = (float)v;
        }
    }
    return p;
}

static void test_forward_and_table_gradient(test_rng *r)
{
    rd_hashgrid_desc descs[] = {{0}, {.levels = 8, .features = 4, .log2_table_size = 14, .finest_resolution = 512},
                                {.levels = 4, .features = 1, .log2_table_size = 10, .base_resolution = 4, .finest_resolution = 40},
                                {.levels = 3, .features = 8, .log2_table_size = 16, .base_resolution = 30, .finest_resolution = 30}};
    for (int k = 0; k < 4; k++) {
        rd_hashgrid g;
        if (!CHECK_OK(rd_hashgrid_make(ctx, &descs[k], &g))) continue;
        int n = 2000, F = g.features, row = g.levels * F;
        size_t table = (size_t)g.entries * (size_t)F;
        float *params = random_floats(r, table, -1, 1), *points = test_points(r, &g, n);
        float *features = malloc(sizeof(float) * (size_t)n * row), *features4 = malloc(sizeof(float) * (size_t)n * row);
        float *grad_features = random_floats(r, (size_t)n * row, -1, 1);
        rd_hashgrid_forward(ctx, &g, params, points, n, features);
        rd_hashgrid_forward(ctx4, &g, params, points, n, features4);
        CHECK(memcmp(features, features4, sizeof(float) * (size_t)n * row) == 0);
        double worst = 0.0, *want = malloc(sizeof(double) * row), *want_grad = calloc(table, sizeof(double));
        uint32_t(*entries)[8] = malloc(sizeof(uint32_t[8]) * g.levels);
        double(*weights)[8] = malloc(sizeof(double[8]) * g.levels);
        for (int i = 0; i < n; i++) {
            spec_features(&g, params, points + 3 * i, want, entries, weights);
            for (int e = 0; e < row; e++) worst = fmax(worst, fabs(want[e] - features[(size_t)i * row + e]));
            for (int l = 0; l < g.levels; l++)
                for (int c = 0; c < 8; c++)
                    for (int f = 0; f < F; f++)
                        want_grad[(size_t)entries[l][c] * F + f] += weights[l][c] * grad_features[(size_t)i * row + l * F + f];
        }
        if (!CHECK(worst < 2e-6)) fprintf(stderr, "  grid %d: features %g from the spec's\n", k, worst);
        float *grad = calloc(table, sizeof(float)), *grad4 = calloc(table, sizeof(float));
        rd_hashgrid_backward(ctx, &g, params, points, n, grad_features, grad, NULL);
        rd_hashgrid_backward(ctx4, &g, params, points, n, grad_features, grad4, NULL);
        CHECK(memcmp(grad, grad4, sizeof(float) * table) == 0);
        double worst_grad = 0.0, largest = 0.0;
        for (size_t e = 0; e < table; e++)
            worst_grad = fmax(worst_grad, fabs(grad[e] - want_grad[e])), largest = fmax(largest, fabs(want_grad[e]));
        if (!CHECK(worst_grad < 1e-5 * fmax(largest, 1.0))) fprintf(stderr, "  grid %d: table gradient %g from the spec's\n", k, worst_grad);
        free(params), free(points), free(features), free(features4), free(grad_features), free(want), free(want_grad);
        free(entries), free(weights), free(grad), free(grad4);
    }
}

/* The positions' gradient of sum(grad_features * features) against central differences of
   rd_hashgrid_forward, at points at least 2h from every cell face of every level (the
   encoding is smooth only inside cells). h = 1e-3 in a grid whose finest cells are 1/40
   wide; parameters in +-1 and 16 features give sums near 1, whose float rounding (1e-7)
   over 2h is 1e-4: the tolerance is 1e-3 of the gradient's size, at least 1e-2. */
static void test_position_gradient(test_rng *r)
{
    rd_hashgrid g;
    if (!CHECK_OK(rd_hashgrid_make(ctx, &(rd_hashgrid_desc){.levels = 4, .features = 4, .log2_table_size = 10,
                                                             .base_resolution = 8, .finest_resolution = 40}, &g)))
        return;
    const float h = 1e-3f;
    int F = g.features, row = g.levels * F, n = 200;
    float *params = random_floats(r, (size_t)g.entries * F, -1, 1), *points = malloc(sizeof(float) * 3 * n);
    for (int i = 0; i < n; i++) {
        bool clear;
        do { /* away from every face, inside and outside the cube */
            clear = true;
            for (int d = 0; d < 3; d++) points[3 * i + d] = (float)rng_range(r, -0.2, 1.2);
            for (int l = 0; l < g.levels; l++)
                for (int d = 0; d < 3; d++) {
                    double at = g.scale[l] * points[3 * i + d] + 0.5, frac = at - floor(at);
                    clear &= frac > 3.0 * h * g.scale[l] && frac < 1.0 - 3.0 * h * g.scale[l];
                }
        } while (!clear);
    }
    float *grad_features = random_floats(r, (size_t)n * row, -1, 1), *grad_positions = malloc(sizeof(float) * 3 * n);
    float *grad4 = malloc(sizeof(float) * 3 * n), *f_plus = malloc(sizeof(float) * row), *f_minus = malloc(sizeof(float) * row);
    rd_hashgrid_backward(ctx, &g, params, points, n, grad_features, NULL, grad_positions);
    rd_hashgrid_backward(ctx4, &g, params, points, n, grad_features, NULL, grad4);
    CHECK(memcmp(grad_positions, grad4, sizeof(float) * 3 * n) == 0);
    int wrong = 0;
    for (int i = 0; i < n; i++)
        for (int d = 0; d < 3; d++) {
            float p[3];
            memcpy(p, points + 3 * i, sizeof p);
            p[d] = points[3 * i + d] + h;
            rd_hashgrid_forward(ctx, &g, params, p, 1, f_plus);
            p[d] = points[3 * i + d] - h;
            rd_hashgrid_forward(ctx, &g, params, p, 1, f_minus);
            double fd = 0.0;
            for (int e = 0; e < row; e++) fd += (double)grad_features[(size_t)i * row + e] * (f_plus[e] - f_minus[e]);
            fd /= 2.0 * h;
            double got = grad_positions[3 * i + d];
            if (fabs(got - fd) > fmax(1e-3 * fabs(fd), 1e-2) && wrong++ < 5)
                fprintf(stderr, "  point %d axis %d: %g, differences %g\n", i, d, got, fd);
        }
    CHECK(wrong == 0);
    /* a coordinate beyond the cells' range (or NaN) is read as 0: the features do not move
       with it, so neither does the gradient; the other axes' stay */
    float far[6] = {1e9f, 0.4f, 0.6f, NAN, 0.3f, 0.7f}, far_grad[6];
    rd_hashgrid_backward(ctx, &g, params, far, 2, grad_features, NULL, far_grad);
    CHECK(far_grad[0] == 0.0f && far_grad[3] == 0.0f && far_grad[1] != 0.0f && far_grad[5] != 0.0f);
    free(params), free(points), free(grad_features), free(grad_positions), free(grad4), free(f_plus), free(f_minus);
}

int main(void)
{
    test_rng r = {test_seed("test_hashgrid")};
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log}, &ctx) != RD_OK ||
        rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 4, .log = test_log}, &ctx4) != RD_OK)
        return 1;
    test_layout();
    test_forward_and_table_gradient(&r);
    test_position_gradient(&r);
    rd_context_destroy(ctx);
    rd_context_destroy(ctx4);
    return test_finish("test_hashgrid");
}
