/* stream_encode_rest.c: where f_rest's latents start in a residual frame (stream_encode.h).
   f_rest is absolute (spec/streams.md: a = round(z) W + b, z carried over from the frame
   before and optimised further), so its latents start from the parent's:

   - the previous frame coded them (the writer's state holds its integer latents): z starts
     at those, and W, b at the least-squares fit of round(z) W + b to the parent's f_rest
     (the previous decoder, recovered where the latents span it);
   - else (after an intra frame): the principal directions of the parent's f_rest. b is
     the mean, latent k is the projection on direction k in steps of a tenth of its
     spread (W's row k: that step times the direction), so rounding costs about 3% of
     each direction's spread. Directions past the values' own count, or without spread (an
     f_rest still 0, as a first frame trained below SH degree 1 leaves it), start at z = 0
     with a small random row of W, as the other attributes' decoders do: with W = 0 no
     gradient would ever reach them.

   The start is also each latent's anchor: the settle's shrink pulls f_rest's latents back
   toward where they started, so that unchanged ones cost nothing against the parent's. */
#include "stream_encode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool rd_stream_solve(double *A, double *B, int n, int m)
{
    for (int c = 0; c < n; c++) {
        int pivot = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(A[r * n + c]) > fabs(A[pivot * n + c])) pivot = r;
        if (!(fabs(A[pivot * n + c]) > 0.0)) return false;
        for (int k = 0; pivot != c && k < n; k++) {
            double t = A[c * n + k];
            A[c * n + k] = A[pivot * n + k], A[pivot * n + k] = t;
        }
        for (int k = 0; pivot != c && k < m; k++) {
            double t = B[c * m + k];
            B[c * m + k] = B[pivot * m + k], B[pivot * m + k] = t;
        }
        for (int r = 0; r < n; r++) {
            if (r == c) continue;
            double factor = A[r * n + c] / A[c * n + c];
            for (int k = c; k < n; k++) A[r * n + k] -= factor * A[c * n + k];
            for (int k = 0; k < m; k++) B[r * m + k] -= factor * B[c * m + k];
        }
    }
    for (int r = 0; r < n; r++)
        for (int k = 0; k < m; k++) B[r * m + k] /= A[r * n + r];
    return true;
}

/* The eigenvalues (descending) and unit eigenvectors (rows of V) of the symmetric n x n
   matrix A (destroyed), by cyclic Jacobi rotations. */
static void eigen_symmetric(double *A, int n, double *values, double *V)
{
    for (int i = 0; i < n * n; i++) V[i] = i % (n + 1) == 0 ? 1.0 : 0.0;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0, diagonal = 0.0;
        for (int p = 0; p < n; p++) {
            diagonal += A[p * n + p] * A[p * n + p];
            for (int q = p + 1; q < n; q++) off += A[p * n + q] * A[p * n + q];
        }
        if (off <= 1e-30 * diagonal || off < 1e-300) break; /* relative to the matrix's size */
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                if (fabs(A[p * n + q]) < 1e-300) continue;
                double theta = (A[q * n + q] - A[p * n + p]) / (2.0 * A[p * n + q]);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0)), c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < n; k++) { /* A <- J^T A J, columns then rows */
                    double akp = A[k * n + p], akq = A[k * n + q];
                    A[k * n + p] = c * akp - s * akq, A[k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) {
                    double apk = A[p * n + k], aqk = A[q * n + k];
                    A[p * n + k] = c * apk - s * aqk, A[q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) { /* V's rows p and q: the eigenvectors */
                    double vp = V[p * n + k], vq = V[q * n + k];
                    V[p * n + k] = c * vp - s * vq, V[q * n + k] = s * vp + c * vq;
                }
            }
    }
    for (int i = 0; i < n; i++) values[i] = A[i * n + i];
    for (int i = 0; i < n; i++) /* sort descending, rows with them */
        for (int j = i + 1; j < n; j++)
            if (values[j] > values[i]) {
                double t = values[i];
                values[i] = values[j], values[j] = t;
                for (int k = 0; k < n; k++) t = V[i * n + k], V[i * n + k] = V[j * n + k], V[j * n + k] = t;
            }
}

/* The parent's f_rest value f of Gaussian i. */
static float rest_value(const stream_encoder *e, int64_t i, int f) { return e->s.parent[ENCODE_SH][i * e->C + 3 + f]; }

static bool fit_decoder(stream_encoder *e, stream_encode_latents *l, const int32_t *latents)
{
    int ld = l->ld, F = l->features, m = ld + 1;
    double *A = calloc((size_t)m * m, sizeof(double)), *B = calloc((size_t)m * F, sizeof(double));
    bool ok = A && B;
    for (int64_t i = 0; ok && i < e->n; i++) {
        double row[RD_STREAM_MAX_LATENT + 1];
        for (int k = 0; k < ld; k++) row[k] = latents[i * ld + k], l->z[i * ld + k] = (float)latents[i * ld + k];
        row[ld] = 1.0;
        for (int a = 0; a < m; a++) {
            for (int b = 0; b < m; b++) A[a * m + b] += row[a] * row[b];
            for (int f = 0; f < F; f++) B[a * F + f] += row[a] * rest_value(e, i, f);
        }
    }
    for (int a = 0; ok && a < m; a++) A[a * m + a] += 1e-9 * (A[a * m + a] + 1.0); /* a latent always 0 still solves */
    ok = ok && rd_stream_solve(A, B, m, F);
    for (int k = 0; ok && k < ld; k++)
        for (int f = 0; f < F; f++) l->W[k * F + f] = (float)B[k * F + f];
    for (int f = 0; ok && f < F; f++) l->b[f] = (float)B[ld * F + f];
    free(A), free(B);
    return ok;
}

static bool principal_start(stream_encoder *e, stream_encode_latents *l)
{
    int ld = l->ld, F = l->features;
    double *mean = calloc((size_t)F, sizeof(double)), *cov = calloc((size_t)F * F, sizeof(double));
    double *values = calloc((size_t)F, sizeof(double)), *V = calloc((size_t)F * F, sizeof(double));
    bool ok = mean && cov && values && V;
    for (int64_t i = 0; ok && i < e->n; i++)
        for (int f = 0; f < F; f++) mean[f] += rest_value(e, i, f) / (double)e->n;
    for (int64_t i = 0; ok && i < e->n; i++) /* one triangle, then mirrored and divided once */
        for (int a = 0; a < F; a++)
            for (int b = a; b < F; b++) cov[a * F + b] += (rest_value(e, i, a) - mean[a]) * (rest_value(e, i, b) - mean[b]);
    for (int a = 0; ok && a < F; a++)
        for (int b = a; b < F; b++) cov[a * F + b] /= (double)e->n, cov[b * F + a] = cov[a * F + b];
    if (ok) eigen_symmetric(cov, F, values, V);
    for (int f = 0; ok && f < F; f++) l->b[f] = (float)mean[f];
    for (int k = 0; ok && k < ld; k++) { /* directions without spread (under 1e-6 of the first's variance): z 0, W small and random */
        double step = k < F && values[k] > 1e-6 * values[0] && values[k] > 0.0 ? 0.1 * sqrt(values[k]) : 0.0;
        for (int f = 0; f < F; f++)
            l->W[k * F + f] = step > 0.0 ? (float)(step * V[k * F + f]) : 0.01f * (2.0f * rd_rng_uniform(&e->split_rng) - 1.0f);
        for (int64_t i = 0; i < e->n; i++) {
            double along = 0.0;
            for (int f = 0; step > 0.0 && f < F; f++) along += (rest_value(e, i, f) - mean[f]) * V[k * F + f];
            l->z[i * ld + k] = step > 0.0 ? (float)(along / step) : 0.0f;
        }
    }
    free(mean), free(cov), free(values), free(V);
    return ok;
}

bool rd_stream_encoder_rest_start(stream_encoder *e, const int32_t *latents, int latent_dim)
{
    stream_encode_latents *l = &e->s.latents[RD_STREAM_F_REST];
    if (!l->ld) return true;
    bool ok = latents && latent_dim == l->ld ? fit_decoder(e, l, latents) : principal_start(e, l);
    if (!ok) ok = principal_start(e, l); /* the fit failed (singular): start afresh */
    if (ok) memcpy(e->anchor[RD_STREAM_F_REST], l->z, (size_t)(e->n * l->ld) * sizeof(float));
    return ok;
}
