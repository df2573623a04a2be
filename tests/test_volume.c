/* test_volume.c: volume rendering of a ray (nerf/volume.h): the composite against a
   double-precision sum written from the spec, the early stop at transmittance 1e-4, and the
   backward pass (densities and colours, for colour, alpha and depth losses) against central
   differences of rd_volume_composite in double over random rays: empty ones, thin ones,
   ones that turn opaque early and ones that end with most of the background showing. The
   batch forms over packed rays (threaded, on a context) equal the one-ray functions bit
   for bit, ray by ray. */
#include "test_util.h"
#include "../nerf/volume.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SAMPLES = 64 };

typedef struct ray {
    int count;
    float t[MAX_SAMPLES], dt[MAX_SAMPLES], sigma[MAX_SAMPLES], rgb[3 * MAX_SAMPLES], background[3];
} ray;

static rd_ray_samples samples_of(const ray *r) { return (rd_ray_samples){r->count, r->t, r->dt, r->sigma, r->rgb}; }

/* The spec's sums in double, with the same stop; the loss is g_rgb . colour + g_alpha
   alpha + g_depth depth. */
static double reference_loss(const ray *r, const double g[5], int *used)
{
    double T = 1.0, rgb[3] = {0, 0, 0}, depth = 0.0;
    int i = 0;
    for (; i < r->count && T >= RD_VOLUME_MIN_TRANSMITTANCE; i++) {
        double alpha = 1.0 - exp(-(double)r->sigma[i] * r->dt[i]), w = T * alpha;
        for (int c = 0; c < 3; c++) rgb[c] += w * r->rgb[3 * i + c];
        depth += w * r->t[i];
        T *= 1.0 - alpha;
    }
    if (used) *used = i;
    double loss = g[3] * (1.0 - T) + g[4] * depth;
    for (int c = 0; c < 3; c++) loss += g[c] * (rgb[c] + T * r->background[c]);
    return loss;
}

static void random_ray(test_rng *g, int kind, ray *r)
{
    r->count = kind == 0 ? 0 : 1 + (int)(rng_uniform(g) * (MAX_SAMPLES - 1));
    double t = rng_range(g, 0.5, 2.0);
    double scale = kind == 1 ? 0.5 : kind == 2 ? 400.0 : 30.0; /* thin, opaque early, in between */
    for (int i = 0; i < r->count; i++) {
        r->dt[i] = (float)rng_range(g, 0.002, 0.02);
        r->t[i] = (float)t;
        t += r->dt[i] + rng_range(g, 0.0, 0.05); /* gaps: skipped empty space */
        r->sigma[i] = (float)(rng_uniform(g) < 0.3 ? 0.0 : rng_range(g, 0.0, scale));
        for (int c = 0; c < 3; c++) r->rgb[3 * i + c] = (float)rng_uniform(g);
    }
    for (int c = 0; c < 3; c++) r->background[c] = (float)rng_uniform(g);
}

/* Packed rays as the march packs them (some empty), composited and walked back in a batch
   on ctx, against the one-ray functions. */
static void test_batch(test_rng *g, rd_context *ctx)
{
    enum { RAYS = 300 };
    static ray rays[RAYS];
    int32_t offset[RAYS], count[RAYS], used[RAYS], total = 0;
    for (int k = 0; k < RAYS; k++) {
        random_ray(g, k % 5 == 4 ? 0 : k % 4, &rays[k]);
        offset[k] = total, count[k] = rays[k].count, total += rays[k].count;
    }
    rd_march_sample *samples = malloc(sizeof *samples * (size_t)total);
    float *sigma = malloc(sizeof(float) * (size_t)total), *rgb = malloc(sizeof(float) * 3 * (size_t)total);
    float *g_sigma = malloc(sizeof(float) * (size_t)total), *g_colour = malloc(sizeof(float) * 3 * (size_t)total);
    float background[3 * RAYS], out_rgb[3 * RAYS], alpha[RAYS], depth[RAYS], g_rgb[3 * RAYS], g_alpha[RAYS], g_depth[RAYS];
    for (int k = 0; k < RAYS; k++) {
        for (int i = 0; i < rays[k].count; i++) {
            samples[offset[k] + i] = (rd_march_sample){rays[k].t[i], rays[k].dt[i]};
            sigma[offset[k] + i] = rays[k].sigma[i];
            memcpy(rgb + 3 * (offset[k] + i), rays[k].rgb + 3 * i, 3 * sizeof(float));
        }
        memcpy(background + 3 * k, rays[k].background, sizeof rays[k].background);
        for (int c = 0; c < 3; c++) g_rgb[3 * k + c] = (float)rng_range(g, -1, 1);
        g_alpha[k] = (float)rng_range(g, -1, 1), g_depth[k] = (float)rng_range(g, -1, 1);
    }
    memset(g_sigma, 0xff, sizeof(float) * (size_t)total), memset(g_colour, 0xff, sizeof(float) * 3 * (size_t)total);
    rd_volume_composite_rays(ctx, RAYS, offset, count, samples, sigma, rgb, background, out_rgb, alpha, depth, used);
    rd_volume_backward_rays(ctx, RAYS, offset, count, samples, sigma, rgb, out_rgb, alpha, depth, used, g_rgb, g_alpha, g_depth, g_sigma,
                            g_colour);
    int wrong = 0;
    for (int k = 0; k < RAYS; k++) {
        rd_ray_samples s = samples_of(&rays[k]);
        rd_ray_colour want;
        rd_volume_composite(&s, rays[k].background, &want);
        wrong += memcmp(want.rgb, out_rgb + 3 * k, sizeof want.rgb) != 0 || want.alpha != alpha[k] || want.depth != depth[k] ||
                 want.used != used[k];
        float ws[MAX_SAMPLES], wc[3 * MAX_SAMPLES];
        rd_volume_backward(&s, &want, g_rgb + 3 * k, g_alpha[k], g_depth[k], ws, wc);
        wrong += memcmp(ws, g_sigma + offset[k], sizeof(float) * (size_t)count[k]) != 0 ||
                 memcmp(wc, g_colour + 3 * offset[k], 3 * sizeof(float) * (size_t)count[k]) != 0;
    }
    CHECK(wrong == 0);
    free(samples), free(sigma), free(rgb), free(g_sigma), free(g_colour);
}

int main(void)
{
    test_rng g = {test_seed("test_volume")};
    int wrong_forward = 0, wrong_sigma = 0, wrong_colour = 0, stopped = 0;
    for (int n = 0; n < 400; n++) {
        ray r;
        random_ray(&g, n % 4, &r);
        rd_ray_samples s = samples_of(&r);
        rd_ray_colour out;
        rd_volume_composite(&s, r.background, &out);
        double gl[5];
        for (int k = 0; k < 5; k++) gl[k] = rng_range(&g, -1, 1);
        int used = 0;
        double want = reference_loss(&r, gl, &used);
        double got = gl[3] * out.alpha + gl[4] * out.depth;
        for (int c = 0; c < 3; c++) got += gl[c] * out.rgb[c];
        stopped += used < r.count;
        if ((fabs(got - want) > 1e-5 * (1.0 + fabs(want)) || used != out.used) && wrong_forward++ < 5)
            fprintf(stderr, "  ray %d: loss %g, reference %g; %d samples used, reference %d\n", n, got, want, out.used, used);
        float g_rgb[3] = {(float)gl[0], (float)gl[1], (float)gl[2]}, g_sigma[MAX_SAMPLES], g_colour[3 * MAX_SAMPLES];
        rd_volume_backward(&s, &out, g_rgb, (float)gl[3], (float)gl[4], g_sigma, g_colour);
        /* central differences in double; a step that moves the stop is not compared (the
           loss jumps there) */
        for (int i = 0; i < r.count; i++) {
            float keep = r.sigma[i], h = fmaxf(1e-3f, 1e-3f * keep);
            int used_plus, used_minus;
            r.sigma[i] = keep + h;
            double plus = reference_loss(&r, gl, &used_plus);
            r.sigma[i] = keep - h >= 0.0f ? keep - h : keep;
            double minus = reference_loss(&r, gl, &used_minus), step = keep + h - r.sigma[i];
            r.sigma[i] = keep;
            if (used_plus != used || used_minus != used) continue;
            double fd = (plus - minus) / step;
            if (fabs(fd - g_sigma[i]) > 2e-3 * fabs(fd) + 1e-4 && wrong_sigma++ < 5)
                fprintf(stderr, "  ray %d sample %d: d/dsigma %g, differences %g\n", n, i, g_sigma[i], fd);
            for (int c = 0; c < 3; c++) {
                float keep_c = r.rgb[3 * i + c];
                r.rgb[3 * i + c] = keep_c + 1e-3f;
                double cp = reference_loss(&r, gl, NULL);
                r.rgb[3 * i + c] = keep_c - 1e-3f;
                double cm = reference_loss(&r, gl, NULL);
                r.rgb[3 * i + c] = keep_c;
                double fdc = (cp - cm) / 2e-3;
                if (fabs(fdc - g_colour[3 * i + c]) > 1e-3 * fabs(fdc) + 1e-5 && wrong_colour++ < 5)
                    fprintf(stderr, "  ray %d sample %d: d/dcolour %g, differences %g\n", n, i, g_colour[3 * i + c], fdc);
            }
        }
        for (int i = out.used; i < r.count; i++) CHECK(g_sigma[i] == 0.0f && g_colour[3 * i] == 0.0f);
    }
    CHECK(wrong_forward == 0 && wrong_sigma == 0 && wrong_colour == 0);
    CHECK(stopped > 20); /* the opaque rays did stop early: the stop was exercised */
    rd_context *ctx;
    if (CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 4, .log = test_log}, &ctx))) {
        test_batch(&g, ctx);
        rd_context_destroy(ctx);
    }
    return test_finish("test_volume");
}
