/* metrics.c: PSNR and SSIM exactly as spec/datasets.md defines them: RGB in [0,1] per
   image; SSIM with an 11x11 Gaussian window (sigma 1.5), C1 = 0.01^2, C2 = 0.03^2, per
   channel over the valid region only, averaged. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

enum { WINDOW = 11 };

/* Channel c of pixel p, clamped to [0, 1] as the metrics are defined on that range. */
static double value(const rd_image *im, size_t p, int c)
{
    double v = im->pixels[p * (size_t)im->channels + (size_t)c];
    return v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : (v == v ? v : 0.0));
}

static void gaussian_window(double w[WINDOW])
{
    double sum = 0.0;
    for (int i = 0; i < WINDOW; i++) {
        double x = i - WINDOW / 2;
        w[i] = exp(-x * x / (2.0 * 1.5 * 1.5));
        sum += w[i];
    }
    for (int i = 0; i < WINDOW; i++) w[i] /= sum;
}

/* Valid-region separable filter of the five SSIM statistics of one channel. */
static double ssim_channel(const rd_image *a, const rd_image *b, int c, double *buf)
{
    const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;
    int W = a->width, H = a->height, ow = W - WINDOW + 1, oh = H - WINDOW + 1;
    double w[WINDOW];
    gaussian_window(w);
    /* horizontal pass: 5 planes of H x ow */
    double *h = buf;
    size_t plane = (size_t)H * (size_t)ow;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < ow; x++) {
            double s[5] = {0};
            for (int k = 0; k < WINDOW; k++) {
                size_t p = ((size_t)y * W + (size_t)(x + k));
                double va = value(a, p, c), vb = value(b, p, c);
                s[0] += w[k] * va;
                s[1] += w[k] * vb;
                s[2] += w[k] * va * va;
                s[3] += w[k] * vb * vb;
                s[4] += w[k] * va * vb;
            }
            for (int q = 0; q < 5; q++) h[q * plane + (size_t)y * ow + (size_t)x] = s[q];
        }
    }
    double total = 0.0;
    for (int y = 0; y < oh; y++) {
        for (int x = 0; x < ow; x++) {
            double s[5] = {0};
            for (int k = 0; k < WINDOW; k++)
                for (int q = 0; q < 5; q++) s[q] += w[k] * h[q * plane + (size_t)(y + k) * ow + (size_t)x];
            double mu_a = s[0], mu_b = s[1];
            double var_a = s[2] - mu_a * mu_a, var_b = s[3] - mu_b * mu_b, cov = s[4] - mu_a * mu_b;
            total += ((2 * mu_a * mu_b + C1) * (2 * cov + C2)) /
                     ((mu_a * mu_a + mu_b * mu_b + C1) * (var_a + var_b + C2));
        }
    }
    return total / ((double)ow * (double)oh);
}

rd_result rd_image_compare(rd_context *ctx, const rd_image *a, const rd_image *b, rd_metrics *out)
{
    if (!a || !b || !out || !a->pixels || !b->pixels)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_image_compare: NULL image");
    if (a->width != b->width || a->height != b->height)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_image_compare: sizes differ (%dx%d vs %dx%d)",
                       a->width, a->height, b->width, b->height);
    if (a->channels < 3 || b->channels < 3)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_image_compare: RGB images are required");
    if (a->width < WINDOW || a->height < WINDOW)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_image_compare: images under %dx%d have no SSIM", WINDOW, WINDOW);
    size_t n = (size_t)a->width * (size_t)a->height;
    double sum = 0.0;
    for (size_t p = 0; p < n; p++)
        for (int c = 0; c < 3; c++) {
            double d = value(a, p, c) - value(b, p, c);
            sum += d * d;
        }
    out->mse = sum / (3.0 * (double)n);
    out->psnr = out->mse > 0.0 ? -10.0 * log10(out->mse) : INFINITY;
    double *buf = rd_alloc_array((int64_t)a->height * (a->width - WINDOW + 1), 5 * sizeof(double));
    if (!buf) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_image_compare: out of memory");
    double ssim = 0.0;
    for (int c = 0; c < 3; c++) ssim += ssim_channel(a, b, c, buf);
    free(buf);
    out->ssim = ssim / 3.0;
    return RD_OK;
}
