/* loss.c: L1 + D-SSIM and its gradient (loss.h), in double (the specification; the
   maps are small beside a render). SSIM's statistics per channel are
   Gaussian-filtered maps (separable, zero padded): mu_x, mu_y, E[x^2], E[y^2], E[xy]. With
   A1 = 2 mu_x mu_y + C1, A2 = 2 (E[xy] - mu_x mu_y) + C2, B1 = mu_x^2 + mu_y^2 + C1,
   B2 = E[x^2] - mu_x^2 + E[y^2] - mu_y^2 + C2 and s = A1 A2 / (B1 B2):
     ds/dmu_x = 2 mu_y (A2 - A1) / (B1 B2) - 2 mu_x s (1/B1 - 1/B2),
     ds/dE[x^2] = -s / B2,   ds/dE[xy] = 2 A1 / (B1 B2),
   and since the window is symmetric, dL/dx = G*(g ds/dmu_x) + 2x G*(g ds/dE[x^2]) +
   y G*(g ds/dE[xy]) for the map's gradient g (G* the same zero-padded filter). */
#include "loss.h"

#include <math.h>
#include <string.h>

enum { RADIUS = 5, WINDOW = 2 * RADIUS + 1, MAPS = 8 };
static const double C1 = 0.01 * 0.01, C2 = 0.03 * 0.03;

static void window_weights(double w[WINDOW])
{
    double sum = 0.0;
    for (int k = 0; k < WINDOW; k++) sum += w[k] = exp(-(double)((k - RADIUS) * (k - RADIUS)) / (2.0 * 1.5 * 1.5));
    for (int k = 0; k < WINDOW; k++) w[k] /= sum;
}

/* out = G * in (zero padded), through tmp; all width*height. */
static void filter(const double *in, double *out, double *tmp, int width, int height)
{
    double w[WINDOW];
    window_weights(w);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            double s = 0.0;
            for (int k = -RADIUS; k <= RADIUS; k++)
                if (x + k >= 0 && x + k < width) s += w[k + RADIUS] * in[(size_t)y * width + x + k];
            tmp[(size_t)y * width + x] = s;
        }
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            double s = 0.0;
            for (int k = -RADIUS; k <= RADIUS; k++)
                if (y + k >= 0 && y + k < height) s += w[k + RADIUS] * tmp[(size_t)(y + k) * width + x];
            out[(size_t)y * width + x] = s;
        }
}

size_t rd_loss_scratch_doubles(int width, int height) { return (size_t)MAPS * 2 * (size_t)width * (size_t)height; }

/* One channel's mean SSIM; with grad, adds scale * dSSIM/dx into grad (stride 4). */
static double ssim_channel(const rd_loss_desc *d, int ch, float *grad, double scale, double *scratch)
{
    size_t n = (size_t)d->width * (size_t)d->height;
    double *x = scratch, *y = x + n, *mx = y + n, *my = mx + n, *sxx = my + n, *syy = sxx + n, *sxy = syy + n, *tmp = sxy + n;
    double *gm = tmp + n, *gxx = gm + n, *gxy = gxx + n; /* past the maps */
    for (size_t p = 0; p < n; p++) x[p] = d->render[4 * p + ch], y[p] = d->target[4 * p + ch];
    filter(x, mx, tmp, d->width, d->height);
    filter(y, my, tmp, d->width, d->height);
    for (size_t p = 0; p < n; p++) tmp[p] = x[p] * x[p];
    filter(tmp, sxx, gm, d->width, d->height);
    for (size_t p = 0; p < n; p++) tmp[p] = y[p] * y[p];
    filter(tmp, syy, gm, d->width, d->height);
    for (size_t p = 0; p < n; p++) tmp[p] = x[p] * y[p];
    filter(tmp, sxy, gm, d->width, d->height);
    double total = 0.0;
    for (size_t p = 0; p < n; p++) {
        double ux = mx[p], uy = my[p];
        double A1 = 2.0 * ux * uy + C1, A2 = 2.0 * (sxy[p] - ux * uy) + C2;
        double B1 = ux * ux + uy * uy + C1, B2 = sxx[p] - ux * ux + syy[p] - uy * uy + C2;
        double s = A1 * A2 / (B1 * B2);
        total += s;
        if (!grad) continue;
        gm[p] = scale * (2.0 * uy * (A2 - A1) / (B1 * B2) - 2.0 * ux * s * (1.0 / B1 - 1.0 / B2));
        gxx[p] = scale * (-s / B2);
        gxy[p] = scale * (2.0 * A1 / (B1 * B2));
    }
    if (grad) {
        /* the filtered maps are no longer needed: filter the gradients into them */
        filter(gm, mx, tmp, d->width, d->height);
        filter(gxx, sxx, tmp, d->width, d->height);
        filter(gxy, sxy, tmp, d->width, d->height);
        for (size_t p = 0; p < n; p++) grad[4 * p + ch] += (float)(mx[p] + 2.0 * x[p] * sxx[p] + y[p] * sxy[p]);
    }
    return total / (double)n;
}

double rd_loss_l1_dssim(const rd_loss_desc *d, float *grad, double *scratch)
{
    size_t n = (size_t)d->width * (size_t)d->height;
    double lambda = d->ssim_weight, l1 = 0.0, ssim = 0.0;
    if (grad) memset(grad, 0, 4 * n * sizeof(float));
    float l1_step = (float)((1.0 - lambda) / (3.0 * (double)n));
    for (size_t p = 0; p < n; p++)
        for (int ch = 0; ch < 3; ch++) {
            /* in double: a float difference rounds to 2^-24 of itself, which a finite
               difference of 1e-4 sees as 1e-4 of the L1 term's gradient */
            double diff = (double)d->render[4 * p + ch] - (double)d->target[4 * p + ch];
            l1 += fabs(diff);
            if (grad) grad[4 * p + ch] = diff > 0.0f ? l1_step : diff < 0.0f ? -l1_step : 0.0f;
        }
    if (lambda > 0.0)
        for (int ch = 0; ch < 3; ch++) ssim += ssim_channel(d, ch, grad, -lambda / (3.0 * (double)n), scratch) / 3.0;
    return (1.0 - lambda) * l1 / (3.0 * (double)n) + lambda * (1.0 - ssim);
}
