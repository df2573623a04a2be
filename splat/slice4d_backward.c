/* slice4d_backward.c: the backward pass of slice4d.c's slice, on the CPU: from the
   gradients of one time's sliced 3D Gaussians (mean, world covariance, logit opacity,
   folded SH) to each source's 4D mean, log-scales, quaternion pair, logit opacity and
   spherindrical colour. Per Gaussian in double, from the forward's definitions:

     Λ = R4 S^-2 R4^T (precision), Σ3 = Λxx^-1, v = -Σ3 Λxt, W = (R4 S^2 R4^T)tt
     mean3 = μxyz + v dt, dt = t - μt
     α3 = σ(o) p, p = exp(-e), e = dt^2 / 2W, sliced logit = logit(α3)
     sh3 = Σn cos(2π n (μt - t) / T) sh_n

   The covariance's gradient reaches Σ3 itself (rd_gaussian_grads.covariances), not the
   sliced rotation and scales the forward hands the renderer: those come from an
   eigendecomposition, whose derivative is singular where eigenvalues meet. */
#include "scene4d.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>
#include <string.h>

/* The 3x3 inverse of a symmetric positive definite A (adjugate over determinant). */
static void inverse3(const double A[3][3], double out[3][3])
{
    double c00 = A[1][1] * A[2][2] - A[1][2] * A[2][1], c01 = A[1][2] * A[2][0] - A[1][0] * A[2][2],
           c02 = A[1][0] * A[2][1] - A[1][1] * A[2][0];
    double det = A[0][0] * c00 + A[0][1] * c01 + A[0][2] * c02;
    out[0][0] = c00 / det, out[1][0] = c01 / det, out[2][0] = c02 / det;
    out[0][1] = (A[0][2] * A[2][1] - A[0][1] * A[2][2]) / det;
    out[1][1] = (A[0][0] * A[2][2] - A[0][2] * A[2][0]) / det;
    out[2][1] = (A[0][1] * A[2][0] - A[0][0] * A[2][1]) / det;
    out[0][2] = (A[0][1] * A[1][2] - A[0][2] * A[1][1]) / det;
    out[1][2] = (A[0][2] * A[1][0] - A[0][0] * A[1][2]) / det;
    out[2][2] = (A[0][0] * A[1][1] - A[0][1] * A[1][0]) / det;
}

/* dL/d(l, r) (unit quaternions) from dL/dL(l) and dL/dR̄(r), the matrices' own layouts
   (rd_4d_left_right). */
static void isoclinic_backward(const double gL[4][4], const double gR[4][4], double g_l[4], double g_r[4])
{
    g_l[0] = gL[0][0] + gL[1][1] + gL[2][2] + gL[3][3];
    g_l[1] = -gL[0][1] + gL[1][0] - gL[2][3] + gL[3][2];
    g_l[2] = -gL[0][2] + gL[1][3] + gL[2][0] - gL[3][1];
    g_l[3] = -gL[0][3] - gL[1][2] + gL[2][1] + gL[3][0];
    g_r[0] = gR[0][0] + gR[1][1] + gR[2][2] + gR[3][3];
    g_r[1] = gR[0][1] - gR[1][0] - gR[2][3] + gR[3][2];
    g_r[2] = gR[0][2] + gR[1][3] - gR[2][0] - gR[3][1];
    g_r[3] = gR[0][3] - gR[1][2] + gR[2][1] - gR[3][0];
}

/* dL/dR4 into the stored quaternion pair q (8, added into g_q). */
static void rotation_backward(const float *q, const double gR4[4][4], float *g_q)
{
    double R4[4][4], unit[8], lengths[2], L[4][4], R[4][4], gM[4][4], gL[4][4], gR[4][4], g_unit[8];
    if (!rd_4d_rotation(q, q + 4, R4, unit, lengths)) return;
    rd_4d_left_right(unit, unit + 4, L, R);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) gM[i][j] = gR4[3 - i][3 - j];
    for (int i = 0; i < 4; i++) /* M = L R̄: dL/dL = gM R̄^T, dL/dR̄ = L^T gM */
        for (int j = 0; j < 4; j++) {
            gL[i][j] = gR[i][j] = 0.0;
            for (int k = 0; k < 4; k++) gL[i][j] += gM[i][k] * R[j][k], gR[i][j] += L[k][i] * gM[k][j];
        }
    isoclinic_backward(gL, gR, g_unit, g_unit + 4);
    for (int h = 0; h < 2; h++) { /* unit = q / |q|: the tangential part, over |q| */
        const double *u = unit + 4 * h, *gu = g_unit + 4 * h;
        double along = u[0] * gu[0] + u[1] * gu[1] + u[2] * gu[2] + u[3] * gu[3];
        for (int k = 0; k < 4; k++) g_q[4 * h + k] += (float)((gu[k] - u[k] * along) / lengths[h]);
    }
}

/* One Gaussian: g_mean3 (3), g_cov (6: xx xy xz yy yz zz), g_logit (1) of its slice at
   time into its 4D gradients (mean 4, log-scale 4, rotation 8, opacity; added). */
static void gaussian_backward(const rd_scene4d *s, int64_t i, float time, const float *g_mean3, const float *g_cov,
                              float g_logit, const rd_gaussian4d_grads *out)
{
    double R4[4][4], s2[4], is2[4], W = 0.0, Lxx[3][3], Lxt[3], Sigma[3][3], v[3];
    const float *q = s->rotations + 8 * i, *mean = s->means + 4 * i;
    if (!rd_4d_rotation(q, q + 4, R4, NULL, NULL)) return;
    for (int k = 0; k < 4; k++) s2[k] = exp(2.0 * (double)s->log_scales[4 * i + k]), is2[k] = 1.0 / s2[k];
    for (int k = 0; k < 4; k++) W += R4[3][k] * R4[3][k] * s2[k];
    for (int a = 0; a < 3; a++) {
        Lxt[a] = 0.0;
        for (int k = 0; k < 4; k++) Lxt[a] += R4[a][k] * R4[3][k] * is2[k];
        for (int b = 0; b < 3; b++) {
            Lxx[a][b] = 0.0;
            for (int k = 0; k < 4; k++) Lxx[a][b] += R4[a][k] * R4[b][k] * is2[k];
        }
    }
    inverse3(Lxx, Sigma);
    for (int a = 0; a < 3; a++) v[a] = -(Sigma[a][0] * Lxt[0] + Sigma[a][1] * Lxt[1] + Sigma[a][2] * Lxt[2]);
    double dt = (double)time - mean[3], e = dt * dt / (2.0 * W), p = exp(-e);
    double sig = 1.0 / (1.0 + exp(-(double)s->opacities[i])), alpha = sig * p;

    /* opacity: logit(α3), α3 = σ(o) p */
    double g_e = -g_logit / (1.0 - alpha), g_dt = 0.0, g_W = 0.0;
    if (out->opacities) out->opacities[i] += (float)(g_logit * (1.0 - sig) / (1.0 - alpha));
    g_dt += g_e * dt / W;
    g_W -= g_e * dt * dt / (2.0 * W * W);
    /* mean3 = μxyz + v dt */
    double g_v[3], g_Sigma[3][3], g_Lxt[3], g_Lxx[3][3];
    for (int a = 0; a < 3; a++) g_v[a] = g_mean3[a] * dt, g_dt += g_mean3[a] * v[a];
    static const int entry[3][3] = {{0, 1, 2}, {1, 3, 4}, {2, 4, 5}};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) g_Sigma[a][b] = g_cov[entry[a][b]] - g_v[a] * Lxt[b]; /* v = -Σ3 Λxt */
    for (int a = 0; a < 3; a++) g_Lxt[a] = -(Sigma[0][a] * g_v[0] + Sigma[1][a] * g_v[1] + Sigma[2][a] * g_v[2]);
    for (int a = 0; a < 3; a++) /* Σ3 = Λxx^-1: dL/dΛxx = -Σ3^T gΣ Σ3^T */
        for (int b = 0; b < 3; b++) {
            double sum = 0.0;
            for (int c = 0; c < 3; c++)
                for (int d = 0; d < 3; d++) sum += Sigma[c][a] * g_Sigma[c][d] * Sigma[b][d];
            g_Lxx[a][b] = -sum;
        }
    if (out->means) {
        for (int a = 0; a < 3; a++) out->means[4 * i + a] += g_mean3[a];
        out->means[4 * i + 3] += (float)-g_dt;
    }
    /* Λ's blocks and W back to R4 and the scales */
    double gR4[4][4] = {{0}}, g_s2[4] = {0}, g_is2[4] = {0};
    for (int k = 0; k < 4; k++) {
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                gR4[a][k] += (g_Lxx[a][b] + g_Lxx[b][a]) * R4[b][k] * is2[k];
                g_is2[k] += g_Lxx[a][b] * R4[a][k] * R4[b][k];
            }
            gR4[a][k] += g_Lxt[a] * R4[3][k] * is2[k];
            gR4[3][k] += g_Lxt[a] * R4[a][k] * is2[k];
            g_is2[k] += g_Lxt[a] * R4[a][k] * R4[3][k];
        }
        gR4[3][k] += g_W * 2.0 * R4[3][k] * s2[k];
        g_s2[k] += g_W * R4[3][k] * R4[3][k];
    }
    for (int k = 0; out->log_scales && k < 4; k++) /* s2 = exp(2 ls), is2 = exp(-2 ls) */
        out->log_scales[4 * i + k] += (float)(2.0 * (g_s2[k] * s2[k] - g_is2[k] * is2[k]));
    if (out->rotations) rotation_backward(q, gR4, out->rotations + 8 * i);
}

typedef struct backward_job {
    const rd_scene4d *s;
    float time;
    const int64_t *source;
    const rd_gaussian_grads *g3;
    const rd_gaussian4d_grads *out;
} backward_job;

static void backward_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const backward_job *job = user;
    const rd_scene4d *s = job->s;
    const rd_gaussian_grads *g3 = job->g3;
    const rd_gaussian4d_grads *out = job->out;
    const int K = rd_sh_coeffs(s->sh_degree), terms = s->time_degree + 1;
    const double omega = 6.283185307179586 / s->time_period;
    for (int64_t j = begin; j < end; j++) {
        if (!g3->views_seen[j]) continue; /* no view saw it: every gradient is zero */
        int64_t i = job->source ? job->source[j] : j;
        const float *mean = s->means + 4 * i, *g_sh3 = g3->sh + j * (int64_t)K * 3;
        /* colour: sh3 = Σn cos(ω n (μt - t)) sh_n */
        double g_mu_t = 0.0;
        for (int n = 0; n < terms; n++) {
            double phase = omega * n * ((double)mean[3] - job->time), weight = cos(phase), slope = -sin(phase) * omega * n;
            const float *sh = s->sh + (i * terms + n) * (int64_t)K * 3;
            float *g_sh = out->sh ? out->sh + (i * terms + n) * (int64_t)K * 3 : NULL;
            for (int k = 0; k < 3 * K; k++) {
                if (g_sh) g_sh[k] += (float)(weight * g_sh3[k]);
                g_mu_t += slope * sh[k] * g_sh3[k];
            }
        }
        if (out->means) out->means[4 * i + 3] += (float)g_mu_t;
        gaussian_backward(s, i, job->time, g3->means + 3 * j, g3->covariances + 6 * j, g3->opacities[j], out);
        if (out->mean2d_norm) out->mean2d_norm[i] += g3->mean2d_norm[j];
        if (out->views_seen) out->views_seen[i] += g3->views_seen[j];
    }
}

void rd_slice4d_backward_cpu(rd_context *ctx, const rd_scene4d *s, float time, const int64_t *source, int64_t sliced,
                             const rd_gaussian_grads *g3, const rd_gaussian4d_grads *out)
{
    backward_job job = {s, time, source, g3, out};
    rd_parallel_for(ctx ? ctx->threads : 1, sliced, 1024, backward_range, &job);
}
