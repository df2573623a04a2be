/* slice4d_backward_math.h: the backward pass of one Gaussian's slice (included by
   slice4d_math.h), for the CPU (slice4d_backward.c) and CUDA (slice4d_train_cuda.cu) alike:
   from the gradients of its sliced 3D Gaussian (mean, world covariance, logit opacity,
   folded SH) to its 4D mean, log-scales, quaternion pair, logit opacity and spherindrical
   colour. In double, from the forward's definitions:

     Λ = R4 S^-2 R4^T (precision), Σ3 = Λxx^-1, v = -Σ3 Λxt, W = (R4 S^2 R4^T)tt
     mean3 = μxyz + v dt, dt = t - μt
     α3 = σ(o) p, p = exp(-e), e = dt^2 / 2W, sliced logit = logit(α3)
     sh3 = Σn cos(2π n (μt - t) / T) sh_n

   The covariance's gradient reaches Σ3 itself (rd_gaussian_grads.covariances), not the
   sliced rotation and scales the forward hands the renderer: those come from an
   eigendecomposition, whose derivative is singular where eigenvalues meet. */
#ifndef RD_SLICE4D_BACKWARD_MATH_H
#define RD_SLICE4D_BACKWARD_MATH_H

/* One Gaussian's stored parameters and its sliced Gaussian's gradients. */
typedef struct rd_slice4d_backward_in {
    const float *mean, *log_scale, *rotation, *sh; /* 4, 4, 8, terms * 3K */
    float opacity, time;
    double omega;                                  /* 2π / period */
    int K, terms;
    const float *g_mean3, *g_cov, *g_sh3;          /* 3, 6 (xx xy xz yy yz zz), 3K */
    float g_logit;
} rd_slice4d_backward_in;

/* Where its 4D gradients are added (any may be NULL). */
typedef struct rd_slice4d_backward_out {
    float *mean, *log_scale, *rotation, *opacity, *sh;
} rd_slice4d_backward_out;

/* The 3x3 inverse of a symmetric positive definite A (adjugate over determinant). */
RD_HD static inline void rd_inverse3(const double A[3][3], double out[3][3])
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
RD_HD static inline void rd_isoclinic_backward(const double gL[4][4], const double gR[4][4], double g_l[4], double g_r[4])
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
RD_HD static inline void rd_4d_rotation_backward(const float *q, const double gR4[4][4], float *g_q)
{
    double R4[4][4], unit[8], lengths[2], L[4][4], R[4][4], gM[4][4], gL[4][4], gR[4][4], g_unit[8];
    if (!rd_4d_rotation_of(q, R4, unit, lengths)) return;
    rd_4d_left_right(unit, unit + 4, L, R);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) gM[i][j] = gR4[3 - i][3 - j];
    for (int i = 0; i < 4; i++) /* M = L R̄: dL/dL = gM R̄^T, dL/dR̄ = L^T gM */
        for (int j = 0; j < 4; j++) {
            gL[i][j] = gR[i][j] = 0.0;
            for (int k = 0; k < 4; k++) gL[i][j] += gM[i][k] * R[j][k], gR[i][j] += L[k][i] * gM[k][j];
        }
    rd_isoclinic_backward(gL, gR, g_unit, g_unit + 4);
    for (int h = 0; h < 2; h++) { /* unit = q / |q|: the tangential part, over |q| */
        const double *u = unit + 4 * h, *gu = g_unit + 4 * h;
        double along = u[0] * gu[0] + u[1] * gu[1] + u[2] * gu[2] + u[3] * gu[3];
        for (int k = 0; k < 4; k++) g_q[4 * h + k] += (float)((gu[k] - u[k] * along) / lengths[h]);
    }
}

/* The geometry's part: mean3, the covariance and the logit opacity back to the 4D mean,
   log-scales, rotation and opacity. */
RD_HD static inline void rd_slice4d_geometry_backward(const rd_slice4d_backward_in *in, const rd_slice4d_backward_out *out)
{
    double R4[4][4], s2[4], is2[4], W, Lxx[3][3], Lxt[3], Sigma[3][3], v[3];
    if (!rd_4d_rotation_of(in->rotation, R4, NULL, NULL)) return;
    rd_4d_blocks(R4, in->log_scale, s2, is2, Lxx, Lxt, &W);
    rd_inverse3(Lxx, Sigma);
    for (int a = 0; a < 3; a++) v[a] = -(Sigma[a][0] * Lxt[0] + Sigma[a][1] * Lxt[1] + Sigma[a][2] * Lxt[2]);
    double dt = (double)in->time - in->mean[3], e = dt * dt / (2.0 * W), p = exp(-e);
    double sig = 1.0 / (1.0 + exp(-(double)in->opacity)), alpha = sig * p;

    /* opacity: logit(α3), α3 = σ(o) p */
    double g_e = -in->g_logit / (1.0 - alpha), g_dt = 0.0, g_W = 0.0;
    if (out->opacity) *out->opacity += (float)(in->g_logit * (1.0 - sig) / (1.0 - alpha));
    g_dt += g_e * dt / W;
    g_W -= g_e * dt * dt / (2.0 * W * W);
    /* mean3 = μxyz + v dt */
    double g_v[3], g_Sigma[3][3], g_Lxt[3], g_Lxx[3][3];
    const float *g_mean3 = in->g_mean3, *g_cov = in->g_cov;
    for (int a = 0; a < 3; a++) g_v[a] = g_mean3[a] * dt, g_dt += g_mean3[a] * v[a];
    const int entry[3][3] = {{0, 1, 2}, {1, 3, 4}, {2, 4, 5}};
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
    if (out->mean) {
        for (int a = 0; a < 3; a++) out->mean[a] += g_mean3[a];
        out->mean[3] += (float)-g_dt;
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
    for (int k = 0; out->log_scale && k < 4; k++) /* s2 = exp(2 ls), is2 = exp(-2 ls) */
        out->log_scale[k] += (float)(2.0 * (g_s2[k] * s2[k] - g_is2[k] * is2[k]));
    if (out->rotation) rd_4d_rotation_backward(in->rotation, gR4, out->rotation);
}

/* The whole slice of one Gaussian: the colour (sh3 = Σn cos(ω n (μt - t)) sh_n) to its
   terms and to μt, then the geometry. */
RD_HD static inline void rd_slice4d_backward_one(const rd_slice4d_backward_in *in, const rd_slice4d_backward_out *out)
{
    double g_mu_t = 0.0;
    int floats = 3 * in->K;
    for (int n = 0; n < in->terms; n++) {
        double phase = in->omega * n * ((double)in->mean[3] - in->time), weight = cos(phase), slope = -sin(phase) * in->omega * n;
        const float *sh = in->sh + n * floats;
        float *g_sh = out->sh ? out->sh + n * floats : NULL;
        for (int k = 0; k < floats; k++) {
            if (g_sh) g_sh[k] += (float)(weight * in->g_sh3[k]);
            g_mu_t += slope * sh[k] * in->g_sh3[k];
        }
    }
    if (out->mean) out->mean[3] += (float)g_mu_t;
    rd_slice4d_geometry_backward(in, out);
}

#endif
