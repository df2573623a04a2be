/* saliency.c: the saliency mask and the ADMM pruner on the CPU (saliency.h). */
#include "saliency.h"
#include "../renderer/internal.h"

#include <math.h>

rd_result rd_saliency_make(rd_context *ctx, int resolution, rd_saliency *out)
{
    if (resolution < RD_SALIENCY_MIN_RESOLUTION || resolution > RD_SALIENCY_MAX_RESOLUTION)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "saliency grid: resolution %d is outside %d..%d", resolution,
                       RD_SALIENCY_MIN_RESOLUTION, RD_SALIENCY_MAX_RESOLUTION);
    out->resolution = resolution;
    return RD_OK;
}

void rd_saliency_init(const rd_saliency *s, float initial, float *logits)
{
    for (int64_t k = 0; k < rd_saliency_cells(s); k++) logits[k] = initial;
}

void rd_saliency_forward(const rd_saliency *s, const float *logits, const float *positions, int64_t n, float *keep)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t at[8];
        float weight[8], sum = 0.0f;
        rd_saliency_corners(s->resolution, positions + 3 * i, at, weight);
        for (int c = 0; c < 8; c++) sum += weight[c] * logits[at[c]];
        keep[i] = rd_saliency_keep(sum);
    }
}

void rd_saliency_backward(const rd_saliency *s, const float *positions, int64_t n, const float *keep, const float *g_keep,
                          float *grad_logits)
{
    for (int64_t i = 0; i < n; i++) {
        int64_t at[8];
        float weight[8], g = g_keep[i] * keep[i] * (1.0f - keep[i]); /* through the sigmoid */
        rd_saliency_corners(s->resolution, positions + 3 * i, at, weight);
        for (int c = 0; c < 8; c++) grad_logits[at[c]] += weight[c] * g;
    }
}

/* sum of clamp(y - tau, 0, 1), in double */
static double kept_sum(const float *y, int64_t n, double tau)
{
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += fmin(fmax((double)y[i] - tau, 0.0), 1.0);
    return sum;
}

void rd_admm_project(const float *y, int64_t n, double budget, float *z)
{
    double tau = 0.0;
    if (kept_sum(y, n, 0.0) > budget) {
        /* the sum falls continuously from above the budget at 0 to 0 at max(y): bisect,
           keeping the upper end, where the budget holds */
        double lo = 0.0, hi = 0.0;
        for (int64_t i = 0; i < n; i++) hi = fmax(hi, (double)y[i]);
        for (int k = 0; k < 80 && hi - lo > 1e-12 * fmax(1.0, hi); k++) {
            double mid = 0.5 * (lo + hi);
            if (kept_sum(y, n, mid) > budget) lo = mid;
            else hi = mid;
        }
        tau = hi;
    }
    for (int64_t i = 0; i < n; i++) z[i] = (float)fmin(fmax((double)y[i] - tau, 0.0), 1.0);
}

void rd_admm_penalty_gradient(const float *logits, const float *z, const float *u, int64_t n, float rho, float *grad)
{
    for (int64_t i = 0; i < n; i++) {
        float p = rd_saliency_keep(logits[i]);
        grad[i] += rho * (p - z[i] + u[i]) * p * (1.0f - p);
    }
}

void rd_admm_update(const float *logits, int64_t n, double budget, float *z, float *u)
{
    for (int64_t i = 0; i < n; i++) z[i] = rd_saliency_keep(logits[i]) + u[i]; /* y, in z's room */
    rd_admm_project(z, n, budget, z);
    for (int64_t i = 0; i < n; i++) u[i] += rd_saliency_keep(logits[i]) - z[i];
}

int64_t rd_saliency_prune_cells(const rd_saliency *s, const float *logits, int cascades, float keep_below, uint8_t *bits)
{
    const int R = s->resolution, side = 128;
    float below = logf(keep_below / (1.0f - keep_below)); /* keep < keep_below where the logit is below this */
    int64_t cleared = 0;
    for (int c = 0; c < cascades; c++) {
        double size = ldexp(1.0, c), low = 0.5 - 0.5 * size, cell = size / side;
        for (int z = 0; z < side; z++)
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++) {
                    uint8_t *bit = bits + (int64_t)c * side * side * side + x + side * ((int64_t)y + side * z);
                    if (!*bit) continue;
                    /* the mask's vertices whose trilinear patches meet the cell (clamped onto
                       the unit cube, as rd_saliency_forward clamps points): the keep value
                       anywhere in the cell is at most the sigmoid of their largest logit */
                    int lo[3], hi[3], at[3] = {x, y, z};
                    for (int a = 0; a < 3; a++) {
                        double from = fmin(fmax(low + at[a] * cell, 0.0), 1.0), to = fmin(fmax(low + (at[a] + 1) * cell, 0.0), 1.0);
                        lo[a] = (int)floor(from * (R - 1)), hi[a] = (int)ceil(to * (R - 1));
                        lo[a] = lo[a] < 0 ? 0 : lo[a] > R - 1 ? R - 1 : lo[a];
                        hi[a] = hi[a] < 0 ? 0 : hi[a] > R - 1 ? R - 1 : hi[a];
                    }
                    bool kept = false;
                    for (int k = lo[2]; k <= hi[2] && !kept; k++)
                        for (int j = lo[1]; j <= hi[1] && !kept; j++)
                            for (int i = lo[0]; i <= hi[0] && !kept; i++) kept = logits[i + R * ((int64_t)j + R * k)] >= below;
                    if (!kept) *bit = 0, cleared++;
                }
    }
    return cleared;
}
