/* slice4d_math.h: the per-Gaussian maths of the 4D slice (spec/dynamic.md), written once
   for the CPU (slice4d.c, slice4d_backward.c) and the CUDA kernels (slice4d_train_cuda.cu),
   in double: the rotation R4 = P L(q_l) R̄(q_r) P, the statics of one Gaussian (the
   conditional covariance as a rotation and scales, the velocity, 1 / 2W) and the backward
   pass of one Gaussian's slice. RD_HD (splat_math.h) marks each function for both. */
#ifndef RD_SLICE4D_MATH_H
#define RD_SLICE4D_MATH_H

#include "splat_math.h"
#include "scene4d.h"

#include <string.h>

/* The left- and right-isoclinic matrices L(l) and R̄(r) of unit quaternions l, r (w x y z). */
RD_HD static inline void rd_4d_left_right(const double l[4], const double r[4], double L[4][4], double R[4][4])
{
    double a = l[0], b = l[1], c = l[2], d = l[3], p = r[0], q = r[1], rr = r[2], s = r[3];
    const double Lm[4][4] = {{a, -b, -c, -d}, {b, a, -d, c}, {c, d, a, -b}, {d, -c, b, a}};
    const double Rm[4][4] = {{p, q, rr, s}, {-q, p, -s, rr}, {-rr, s, p, -q}, {-s, -rr, q, p}};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) L[i][j] = Lm[i][j], R[i][j] = Rm[i][j];
}

/* R4 of the stored pair q (8: q_l then q_r), normalised; false where one is zero or not
   finite. unit (8) and lengths (2) may be NULL. */
RD_HD static inline bool rd_4d_rotation_of(const float *q, double R4[4][4], double unit[8], double lengths[2])
{
    double u[8], n[2];
    for (int h = 0; h < 2; h++) {
        const float *p = q + 4 * h;
        n[h] = sqrt((double)p[0] * p[0] + (double)p[1] * p[1] + (double)p[2] * p[2] + (double)p[3] * p[3]);
        if (!(n[h] > 0.0 && isfinite(n[h]))) return false;
        for (int k = 0; k < 4; k++) u[4 * h + k] = p[k] / n[h];
    }
    double M[4][4], L[4][4], R[4][4];
    rd_4d_left_right(u, u + 4, L, R);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            M[i][j] = 0.0;
            for (int k = 0; k < 4; k++) M[i][j] += L[i][k] * R[k][j];
        }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) R4[i][j] = M[3 - i][3 - j]; /* P M P: both axes reversed */
    if (unit)
        for (int k = 0; k < 8; k++) unit[k] = u[k];
    if (lengths) lengths[0] = n[0], lengths[1] = n[1];
    return true;
}

/* The precision's blocks Λxx = (R4 S^-2 R4^T)xx and Λxt, and W = (R4 S^2 R4^T)tt, with
   s2 = exp(2 log_scale) and is2 its reciprocal. */
RD_HD static inline void rd_4d_blocks(const double R4[4][4], const float *log_scale, double s2[4], double is2[4], double Lxx[3][3],
                                      double Lxt[3], double *W)
{
    for (int k = 0; k < 4; k++) s2[k] = exp(2.0 * (double)log_scale[k]), is2[k] = 1.0 / s2[k];
    *W = 0.0;
    for (int k = 0; k < 4; k++) *W += R4[3][k] * R4[3][k] * s2[k];
    for (int a = 0; a < 3; a++) {
        Lxt[a] = 0.0;
        for (int k = 0; k < 4; k++) Lxt[a] += R4[a][k] * R4[3][k] * is2[k];
        for (int b = 0; b < 3; b++) {
            Lxx[a][b] = 0.0;
            for (int k = 0; k < 4; k++) Lxx[a][b] += R4[a][k] * R4[b][k] * is2[k];
        }
    }
}

/* Eigenvectors (the columns of Q, a proper rotation) and eigenvalues of the symmetric A,
   by cyclic Jacobi rotations. */
RD_HD static inline void rd_eigen_symmetric3(const double A_in[3][3], double Q[3][3], double lambda[3])
{
    double A[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) A[i][j] = A_in[i][j], Q[i][j] = i == j;
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = fabs(A[0][1]) + fabs(A[0][2]) + fabs(A[1][2]);
        if (off <= 1e-300 || off <= 1e-17 * (fabs(A[0][0]) + fabs(A[1][1]) + fabs(A[2][2]))) break;
        for (int p = 0; p < 2; p++)
            for (int q = p + 1; q < 3; q++) {
                if (A[p][q] == 0.0) continue;
                double theta = (A[q][q] - A[p][p]) / (2.0 * A[p][q]);
                double t = (theta >= 0.0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int k = 0; k < 3; k++) { /* A = J^T A J, J rotating p and q */
                    double akp = A[k][p], akq = A[k][q];
                    A[k][p] = c * akp - s * akq, A[k][q] = s * akp + c * akq;
                }
                for (int k = 0; k < 3; k++) {
                    double apk = A[p][k], aqk = A[q][k];
                    A[p][k] = c * apk - s * aqk, A[q][k] = s * apk + c * aqk;
                }
                for (int k = 0; k < 3; k++) {
                    double qkp = Q[k][p], qkq = Q[k][q];
                    Q[k][p] = c * qkp - s * qkq, Q[k][q] = s * qkp + c * qkq;
                }
            }
    }
    for (int k = 0; k < 3; k++) lambda[k] = A[k][k];
    double det = Q[0][0] * (Q[1][1] * Q[2][2] - Q[1][2] * Q[2][1]) - Q[0][1] * (Q[1][0] * Q[2][2] - Q[1][2] * Q[2][0]) +
                 Q[0][2] * (Q[1][0] * Q[2][1] - Q[1][1] * Q[2][0]);
    if (det < 0.0)
        for (int k = 0; k < 3; k++) Q[k][2] = -Q[k][2]; /* a reflection: flip one axis */
}

/* The unit quaternion (w x y z) of the rotation matrix Q (Shepperd's method). */
RD_HD static inline void rd_quaternion_of3(const double Q[3][3], float out[4])
{
    double trace = Q[0][0] + Q[1][1] + Q[2][2], w, x, y, z;
    if (trace > 0.0) {
        double s = 2.0 * sqrt(trace + 1.0);
        w = 0.25 * s, x = (Q[2][1] - Q[1][2]) / s, y = (Q[0][2] - Q[2][0]) / s, z = (Q[1][0] - Q[0][1]) / s;
    } else if (Q[0][0] > Q[1][1] && Q[0][0] > Q[2][2]) {
        double s = 2.0 * sqrt(1.0 + Q[0][0] - Q[1][1] - Q[2][2]);
        w = (Q[2][1] - Q[1][2]) / s, x = 0.25 * s, y = (Q[0][1] + Q[1][0]) / s, z = (Q[0][2] + Q[2][0]) / s;
    } else if (Q[1][1] > Q[2][2]) {
        double s = 2.0 * sqrt(1.0 + Q[1][1] - Q[0][0] - Q[2][2]);
        w = (Q[0][2] - Q[2][0]) / s, x = (Q[0][1] + Q[1][0]) / s, y = 0.25 * s, z = (Q[1][2] + Q[2][1]) / s;
    } else {
        double s = 2.0 * sqrt(1.0 + Q[2][2] - Q[0][0] - Q[1][1]);
        w = (Q[1][0] - Q[0][1]) / s, x = (Q[0][2] + Q[2][0]) / s, y = (Q[1][2] + Q[2][1]) / s, z = 0.25 * s;
    }
    out[0] = (float)w, out[1] = (float)x, out[2] = (float)y, out[3] = (float)z;
}

/* One Gaussian's statics from its log-scales (4) and quaternion pair (8). The conditional
   at time t is read off the precision matrix Λ = Σ4^-1 = R4 S^-2 R4^T, not off Σ4: the
   conditional covariance is Λxx^-1 and the velocity -Λxx^-1 Λxt, with no subtraction of
   large terms (U - V V^T / W cancels to nothing where the temporal scale is huge and the
   rotation mixes t into space). Λxx's eigenvectors are the covariance's, its eigenvalues
   their reciprocals. W, the marginal variance in t, is a sum of positive terms. Unusable
   input leaves half_inv_w NaN: never drawn. */
RD_HD static inline void rd_slice4d_static_of(const float *log_scale, const float *q, rd_slice4d_static *out)
{
    for (int k = 0; k < 4; k++) out->rotation[k] = k == 0 ? 1.0f : 0.0f;
    for (int a = 0; a < 3; a++) out->log_scale[a] = out->velocity[a] = 0.0f;
    out->half_inv_w = NAN;
    double R4[4][4], s2[4], is2[4], W, Lxx[3][3], Lxt[3], Q[3][3], mu[3];
    if (!rd_4d_rotation_of(q, R4, NULL, NULL)) return;
    rd_4d_blocks(R4, log_scale, s2, is2, Lxx, Lxt, &W);
    if (!(W > 0.0) || !isfinite(W)) return;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            if (!isfinite(Lxx[a][b])) return;
    rd_eigen_symmetric3(Lxx, Q, mu);
    for (int a = 0; a < 3; a++)
        if (!(mu[a] > 0.0)) return; /* rounding left the precision singular: no usable covariance */
    rd_quaternion_of3(Q, out->rotation);
    double projected[3]; /* Q^T Λxt, divided by the eigenvalues, back through Q: Λxx^-1 Λxt */
    for (int k = 0; k < 3; k++) projected[k] = (Q[0][k] * Lxt[0] + Q[1][k] * Lxt[1] + Q[2][k] * Lxt[2]) / mu[k];
    for (int a = 0; a < 3; a++) {
        out->log_scale[a] = (float)(-0.5 * log(mu[a]));
        out->velocity[a] = (float)-(Q[a][0] * projected[0] + Q[a][1] * projected[1] + Q[a][2] * projected[2]);
    }
    out->half_inv_w = (float)(0.5 / W);
}

#include "slice4d_backward_math.h"

#endif
