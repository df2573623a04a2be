/* test_metrics.c: PSNR and SSIM against a direct, unoptimised evaluation of the
   definitions in spec/datasets.md (double loops over every 11x11 window), plus known
   values. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>

static double direct_ssim(const rd_image *a, const rd_image *b)
{
    double w[11][11], sum = 0;
    for (int i = 0; i < 11; i++)
        for (int j = 0; j < 11; j++) sum += w[i][j] = exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
    double total = 0;
    int count = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y + 11 <= a->height; y++)
            for (int x = 0; x + 11 <= a->width; x++) {
                double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
                for (int i = 0; i < 11; i++)
                    for (int j = 0; j < 11; j++) {
                        size_t p = (size_t)(y + i) * a->width + (x + j);
                        double va = a->pixels[p * a->channels + c], vb = b->pixels[p * b->channels + c], k = w[i][j] / sum;
                        ma += k * va; mb += k * vb; saa += k * va * va; sbb += k * vb * vb; sab += k * va * vb;
                    }
                double C1 = 1e-4, C2 = 9e-4, va = saa - ma * ma, vb = sbb - mb * mb, cov = sab - ma * mb;
                total += (2 * ma * mb + C1) * (2 * cov + C2) / ((ma * ma + mb * mb + C1) * (va + vb + C2));
                count++;
            }
    return total / count;
}

int main(void)
{
    test_rng r = {test_seed("metrics")};
    rd_image a, b, c4;
    CHECK_OK(rd_image_alloc(37, 23, 3, &a));
    CHECK_OK(rd_image_alloc(37, 23, 3, &b));
    for (int i = 0; i < 37 * 23 * 3; i++) {
        a.pixels[i] = (float)rng_uniform(&r);
        b.pixels[i] = a.pixels[i] * 0.8f + 0.2f * (float)rng_uniform(&r);
    }
    rd_metrics m;
    CHECK_OK(rd_image_compare(NULL, &a, &b, &m));
    CHECK(fabs(m.ssim - direct_ssim(&a, &b)) < 1e-9);
    double mse = 0;
    for (int i = 0; i < 37 * 23 * 3; i++) mse += ((double)a.pixels[i] - b.pixels[i]) * ((double)a.pixels[i] - b.pixels[i]);
    mse /= 37 * 23 * 3;
    CHECK(fabs(m.psnr + 10 * log10(mse)) < 1e-9);

    /* identical images: SSIM 1, infinite PSNR; a constant offset of 0.1: PSNR 20 dB */
    CHECK_OK(rd_image_compare(NULL, &a, &a, &m));
    CHECK(fabs(m.ssim - 1.0) < 1e-12 && isinf(m.psnr));
    for (int i = 0; i < 37 * 23 * 3; i++) { a.pixels[i] = 0.5f; b.pixels[i] = 0.6f; }
    CHECK_OK(rd_image_compare(NULL, &a, &b, &m));
    CHECK(fabs(m.psnr - 20.0) < 1e-4);

    /* RGBA against RGB compares RGB; sizes must match; tiny images have no SSIM */
    CHECK_OK(rd_image_alloc(37, 23, 4, &c4));
    for (int p = 0; p < 37 * 23; p++) { for (int k = 0; k < 3; k++) c4.pixels[4 * p + k] = 0.5f; c4.pixels[4 * p + 3] = 0.1f; }
    CHECK_OK(rd_image_compare(NULL, &c4, &a, &m));
    CHECK(isinf(m.psnr));
    rd_image small;
    CHECK_OK(rd_image_alloc(8, 8, 3, &small));
    CHECK_FAILS(rd_image_compare(NULL, &small, &small, &m), RD_ERROR_INVALID_ARGUMENT);
    CHECK_FAILS(rd_image_compare(NULL, &small, &a, &m), RD_ERROR_INVALID_ARGUMENT);
    rd_image_free(&a);
    rd_image_free(&b);
    rd_image_free(&c4);
    rd_image_free(&small);
    return test_finish("metrics");
}
