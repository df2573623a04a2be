/* test_nerf_field.c: the NeRF's field on the CPU (nerf/field.h): its parameter layout, the
   forward pass against the parts composed by hand (hash features, density network, exp,
   direction encoding, colour network, sigmoid), and the backward pass into every part's
   parameters against central differences of the forward pass (steps of 1e-2, or 2.5e-3
   where that changes which ReLUs pass; neither: not compared; the tolerance, 2e-3 of the
   size plus 2e-4, covers the float forward's rounding over the step); the same bits on 1
   and 4 threads. A field with a saliency mask (HollowNeRF): its forward against the parts
   by hand (keep value times the hash features, exp times the gate tanh(alpha |v|)), its
   backward into every part, the mask's logits included, against central differences; a
   pruned point (keep below RD_SALIENCY_PRUNED_KEEP) sends the table no gradient. */
#include "test_util.h"
#include "../nerf/field.h"
#include "../nerf/direction.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx, *ctx4;

static double loss(const rd_nerf_field *f, const float *params, const float *pos, const float *dirs, int n, rd_nerf_field_scratch *s,
                   const float *g_sigma, const float *g_rgb, float *sigma, float *rgb)
{
    rd_nerf_field_forward(ctx, f, params, pos, dirs, n, s, sigma, rgb);
    double l = 0.0;
    for (int i = 0; i < n; i++) {
        l += (double)g_sigma[i] * sigma[i];
        for (int c = 0; c < 3; c++) l += (double)g_rgb[3 * i + c] * rgb[3 * i + c];
    }
    return l;
}

static bool same_relus(const rd_nerf_field *f, const rd_nerf_field_scratch *a, const rd_nerf_field_scratch *b, int n)
{
    for (int64_t i = 0; i < (int64_t)n * f->density.width; i++)
        if ((a->density_hidden[i] > 0.0f) != (b->density_hidden[i] > 0.0f)) return false;
    for (int64_t i = 0; i < (int64_t)n * 2 * f->colour.width; i++)
        if ((a->colour_hidden[i] > 0.0f) != (b->colour_hidden[i] > 0.0f)) return false;
    return true;
}

/* The density's exp clamps its argument to +-15 (field.h): a point whose density network
   gives far more reads sigma = e^15 exactly, and its gradient goes on as e^15 times the
   sigma's gradient (Instant-NGP's), not zero: the output layer's weights of row 0 get
   g_sigma * e^15 * the hidden activation. (It overwrites params: the last check.) */
static void test_clamp(const rd_nerf_field *f, float *params)
{
    for (int64_t i = 0; i < f->density_offset; i++) params[i] = 1.0f; /* every feature 1 */
    for (int64_t i = f->density_offset; i < f->colour_offset; i++) params[i] = 1.0f; /* outputs of 8 x 16 = 128 */
    float pos[3] = {0.3f, 0.6f, 0.2f}, dir[3] = {0.0f, 0.0f, 1.0f}, sigma, rgb[3], g_sigma = 0.5f, g_rgb[3] = {0};
    rd_nerf_field_scratch s;
    if (!CHECK_OK(rd_nerf_field_scratch_alloc(ctx, f, 1, &s))) return;
    rd_nerf_field_forward(ctx, f, params, pos, dir, 1, &s, &sigma, rgb);
    CHECK(s.density_out[0] > 15.0f && sigma == expf(15.0f));
    float *grad = calloc((size_t)f->params, sizeof(float));
    CHECK_OK(rd_nerf_field_backward(ctx, f, params, pos, 1, &s, &g_sigma, g_rgb, grad));
    const float *row0 = grad + f->density_offset + f->density.offset[1]; /* the output layer's row 0 */
    bool ok = true;
    for (int i = 0; i < f->density.width; i++) ok &= fabsf(row0[i] - g_sigma * expf(15.0f) * s.density_hidden[i]) <= 1e-6f * fabsf(row0[i]);
    CHECK(ok && row0[0] != 0.0f);
    free(grad);
    rd_nerf_field_scratch_free(&s);
}

/* A masked field: forward by hand, and the backward of sum(g_sigma sigma + g_rgb . rgb)
   into the table, the networks and the mask against central differences (steps of 1e-3;
   a ReLU flipped by a step leaves that parameter out). */
static void test_masked(test_rng *r)
{
    rd_nerf_field f;
    rd_nerf_field_desc desc = {.grid = {.levels = 3, .features = 2, .log2_table_size = 8, .base_resolution = 4, .finest_resolution = 16},
                               .width = 16, .saliency_resolution = 4, .gate_sharpness = 30.0f};
    if (!CHECK_OK(rd_nerf_field_make(ctx, &desc, &f))) return;
    CHECK(f.saliency_offset == f.colour_offset + rd_mlp_weights(&f.colour) && f.params == f.saliency_offset + 64);
    CHECK_FAILS(rd_nerf_field_make(ctx, &(rd_nerf_field_desc){.saliency_resolution = 1}, &(rd_nerf_field){0}), RD_ERROR_INVALID_ARGUMENT);
    enum { N = 12 };
    float *params = malloc(sizeof(float) * (size_t)f.params);
    rd_nerf_field_init(&f, 9, params);
    CHECK(params[f.saliency_offset] == 1.0f && params[f.params - 1] == 1.0f);
    for (int64_t i = 0; i < f.density_offset; i++) params[i] = (float)rng_range(r, -0.05, 0.05); /* |v| near 1 / alpha: the gate's slope */
    for (int64_t i = f.saliency_offset; i < f.params; i++) params[i] = (float)rng_range(r, -2.0, 2.0);
    float *pos = random_floats(r, 3 * N, 0.05, 0.95), dirs[3 * N];
    for (int i = 0; i < N; i++) dirs[3 * i] = 0.0f, dirs[3 * i + 1] = 0.6f, dirs[3 * i + 2] = 0.8f;
    float *g_sigma = random_floats(r, N, -1, 1), *g_rgb = random_floats(r, 3 * N, -1, 1), sigma[N], rgb[3 * N];
    rd_nerf_field_scratch s, t;
    CHECK_OK(rd_nerf_field_scratch_alloc(ctx, &f, N, &s));
    CHECK_OK(rd_nerf_field_scratch_alloc(ctx, &f, N, &t));
    rd_nerf_field_forward(ctx, &f, params, pos, dirs, N, &s, sigma, rgb);
    /* by hand */
    float features[N * 6], keep[N], dens[N * 16];
    rd_hashgrid_forward(ctx, &f.grid, params, pos, N, features);
    rd_saliency_forward(&f.saliency, params + f.saliency_offset, pos, N, keep);
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        double norm = 0.0;
        for (int j = 0; j < 6; j++) features[6 * i + j] *= keep[i], norm += (double)features[6 * i + j] * features[6 * i + j];
        rd_mlp_forward(ctx, &f.density, params + f.density_offset, features + 6 * i, 1, dens + 16 * i, NULL);
        double want = exp(dens[16 * i]) * tanh(30.0 * sqrt(norm));
        wrong += fabs(sigma[i] - want) > 1e-5 * want + 1e-7;
    }
    CHECK(wrong == 0);
    float *grad = calloc((size_t)f.params, sizeof(float));
    CHECK_OK(rd_nerf_field_backward(ctx, &f, params, pos, N, &s, g_sigma, g_rgb, grad));
    int checked[4] = {0}, bad = 0;
    for (int trial = 0; trial < 240; trial++) {
        int part = trial % 4;
        int64_t lo = part == 0 ? 0 : part == 1 ? f.density_offset : part == 2 ? f.colour_offset : f.saliency_offset;
        int64_t hi = part == 0 ? f.density_offset : part == 1 ? f.colour_offset : part == 2 ? f.saliency_offset : f.params;
        int64_t k = lo + (int64_t)(rng_uniform(r) * (double)(hi - lo));
        if (part == 0 && grad[k] == 0.0f) continue; /* an entry no point reads */
        float saved = params[k], h = 1e-3f;
        params[k] = saved + h;
        double plus = loss(&f, params, pos, dirs, N, &t, g_sigma, g_rgb, sigma, rgb);
        bool same = same_relus(&f, &s, &t, N);
        params[k] = saved - h;
        double minus = loss(&f, params, pos, dirs, N, &t, g_sigma, g_rgb, sigma, rgb);
        same &= same_relus(&f, &s, &t, N);
        params[k] = saved;
        if (!same) continue;
        double fd = (plus - minus) / (2.0 * h);
        checked[part]++;
        if (fabs(fd - grad[k]) > 5e-3 * fabs(fd) + 5e-4 && bad++ < 5)
            fprintf(stderr, "  masked field: parameter %lld (part %d): %g, differences %g\n", (long long)k, part, grad[k], fd);
    }
    if (!CHECK(bad == 0 && checked[0] >= 10 && checked[1] >= 10 && checked[2] >= 10 && checked[3] >= 10))
        fprintf(stderr, "  masked field: compared %d, %d, %d, %d\n", checked[0], checked[1], checked[2], checked[3]);
    /* pruned: with every logit at -6 (keep 0.0025, below RD_SALIENCY_PRUNED_KEEP) the table gets
       no gradient at all while the networks and the mask still do (the spec's stop) */
    for (int64_t i = f.saliency_offset; i < f.params; i++) params[i] = -6.0f;
    memset(grad, 0, sizeof(float) * (size_t)f.params);
    rd_nerf_field_forward(ctx, &f, params, pos, dirs, N, &s, sigma, rgb);
    CHECK_OK(rd_nerf_field_backward(ctx, &f, params, pos, N, &s, g_sigma, g_rgb, grad));
    int table = 0, mask = 0, colour = 0;
    for (int64_t i = 0; i < f.params; i++) {
        bool moved = grad[i] != 0.0f;
        table += moved && i < f.density_offset, colour += moved && i >= f.colour_offset && i < f.saliency_offset;
        mask += moved && i >= f.saliency_offset;
    }
    CHECK(table == 0 && mask > 0 && colour > 0);
    rd_nerf_field_scratch_free(&s), rd_nerf_field_scratch_free(&t);
    free(params), free(pos), free(g_sigma), free(g_rgb), free(grad);
}

int main(void)
{
    test_rng r = {test_seed("test_nerf_field")};
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log}, &ctx) != RD_OK ||
        rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 4, .log = test_log}, &ctx4) != RD_OK)
        return 1;
    rd_nerf_field f;
    rd_nerf_field_desc desc = {.grid = {.levels = 4, .features = 2, .log2_table_size = 10, .base_resolution = 4,
                                        .finest_resolution = 32},
                               .width = 16};
    if (!CHECK_OK(rd_nerf_field_make(ctx, &desc, &f))) return test_finish("test_nerf_field");
    CHECK(f.density.inputs == 8 && f.density.outputs == 16 && f.colour.inputs == 32 && f.colour.outputs == 3);
    CHECK(f.density_offset == f.grid.entries * 2 && f.params == f.colour_offset + rd_mlp_weights(&f.colour));
    CHECK_FAILS(rd_nerf_field_make(ctx, &(rd_nerf_field_desc){.width = 300}, &f), RD_ERROR_INVALID_ARGUMENT);
    CHECK_OK(rd_nerf_field_make(ctx, &desc, &f));

    enum { N = 24 };
    float *params = malloc(sizeof(float) * (size_t)f.params);
    rd_nerf_field_init(&f, 5, params);
    for (int64_t i = 0; i < f.density_offset; i++) params[i] = (float)rng_range(&r, -0.5, 0.5); /* a table with something in it */
    float *pos = random_floats(&r, 3 * N, 0.05, 0.95), dirs[3 * N];
    for (int i = 0; i < N; i++) {
        float d[3] = {(float)rng_normal(&r), (float)rng_normal(&r), (float)rng_normal(&r)};
        float len = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        for (int c = 0; c < 3; c++) dirs[3 * i + c] = d[c] / len;
    }
    float *g_sigma = random_floats(&r, N, -1, 1), *g_rgb = random_floats(&r, 3 * N, -1, 1);
    rd_nerf_field_scratch s, t;
    CHECK_OK(rd_nerf_field_scratch_alloc(ctx, &f, N, &s));
    CHECK_OK(rd_nerf_field_scratch_alloc(ctx, &f, N, &t));
    float sigma[N], rgb[3 * N], sigma2[N], rgb2[3 * N];

    /* forward against the parts by hand */
    rd_nerf_field_forward(ctx, &f, params, pos, dirs, N, &s, sigma, rgb);
    float features[N * 8], dens[N * 16], cin[N * 32], cout[N * 3];
    rd_hashgrid_forward(ctx, &f.grid, params, pos, N, features);
    rd_mlp_forward(ctx, &f.density, params + f.density_offset, features, N, dens, NULL);
    for (int i = 0; i < N; i++) {
        memcpy(cin + 32 * i, dens + 16 * i, sizeof(float) * 16);
        rd_direction_encode(dirs + 3 * i, cin + 32 * i + 16);
    }
    rd_mlp_forward(ctx, &f.colour, params + f.colour_offset, cin, N, cout, NULL);
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        wrong += fabsf(sigma[i] - expf(dens[16 * i])) > 1e-6f * expf(dens[16 * i]);
        for (int c = 0; c < 3; c++) wrong += fabsf(rgb[3 * i + c] - 1.0f / (1.0f + expf(-cout[3 * i + c]))) > 1e-6f;
    }
    CHECK(wrong == 0);

    /* backward against central differences, and on 4 threads */
    float *grad = calloc((size_t)f.params, sizeof(float)), *grad4 = calloc((size_t)f.params, sizeof(float));
    CHECK_OK(rd_nerf_field_backward(ctx, &f, params, pos, N, &s, g_sigma, g_rgb, grad));
    rd_nerf_field_forward(ctx4, &f, params, pos, dirs, N, &t, sigma2, rgb2);
    CHECK_OK(rd_nerf_field_backward(ctx4, &f, params, pos, N, &t, g_sigma, g_rgb, grad4));
    CHECK(memcmp(grad, grad4, sizeof(float) * (size_t)f.params) == 0);
    int checked[3] = {0, 0, 0}, bad = 0, read = 0;
    int64_t *read_entries = malloc(sizeof(int64_t) * (size_t)f.density_offset); /* the table entries the points read */
    for (int64_t i = 0; i < f.density_offset; i++)
        if (grad[i] != 0.0f) read_entries[read++] = i;
    for (int trial = 0; trial < 300; trial++) {
        int part = trial % 3; /* the table, the density network, the colour network */
        int64_t lo = part == 0 ? 0 : part == 1 ? f.density_offset : f.colour_offset;
        int64_t hi = part == 0 ? f.density_offset : part == 1 ? f.colour_offset : f.params;
        int64_t k = part == 0 ? read_entries[(int)(rng_uniform(&r) * read)] : lo + (int64_t)(rng_uniform(&r) * (double)(hi - lo));
        float keep = params[k], h = 1e-2f;
        double plus = 0.0, minus = 0.0;
        bool same = false;
        for (int attempt = 0; attempt < 2 && !same; attempt++, h *= 0.25f) { /* a smaller step where the first flips a ReLU */
            params[k] = keep + h;
            plus = loss(&f, params, pos, dirs, N, &t, g_sigma, g_rgb, sigma2, rgb2);
            same = same_relus(&f, &s, &t, N);
            params[k] = keep - h;
            minus = loss(&f, params, pos, dirs, N, &t, g_sigma, g_rgb, sigma2, rgb2);
            same &= same_relus(&f, &s, &t, N);
            params[k] = keep;
        }
        h *= 4.0f; /* the step the comparison used */
        if (!same) continue;
        double fd = (plus - minus) / (2.0 * h);
        checked[part]++;
        if (fabs(fd - grad[k]) > 2e-3 * fabs(fd) + 2e-4 && bad++ < 5)
            fprintf(stderr, "  parameter %lld (part %d): %g, differences %g\n", (long long)k, part, grad[k], fd);
    }
    if (!CHECK(bad == 0 && checked[0] >= 15 && checked[1] >= 15 && checked[2] >= 15))
        fprintf(stderr, "  compared %d table entries, %d density and %d colour weights\n", checked[0], checked[1], checked[2]);
    rd_nerf_field_scratch_free(&s), rd_nerf_field_scratch_free(&t);
    test_clamp(&f, params);
    test_masked(&r);
    free(params), free(pos), free(g_sigma), free(g_rgb), free(grad), free(grad4), free(read_entries);
    rd_context_destroy(ctx);
    rd_context_destroy(ctx4);
    return test_finish("test_nerf_field");
}
