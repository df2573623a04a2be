/* affine.c: affine maps of Gaussians (conventions.h, rd_affine). */
#include "conventions.h"

#include <string.h>

static double det3(const double m[9])
{
    return m[0] * (m[4] * m[8] - m[5] * m[7]) - m[1] * (m[3] * m[8] - m[5] * m[6]) + m[2] * (m[3] * m[7] - m[4] * m[6]);
}

static void mul3(const double a[9], const double b[9], double out[9])
{
    double t[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) t[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c];
    memcpy(out, t, sizeof t);
}

static void transpose3(const double a[9], double out[9])
{
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) out[3 * c + r] = a[3 * r + c];
}

/* Eigen-decomposition of a symmetric 3x3 by cyclic Jacobi rotations: s = V diag(vals) V^T,
   V's columns the unit eigenvectors. */
static void symmetric_eigen(const double s[9], double vecs[9], double vals[3])
{
    double a[9];
    memcpy(a, s, sizeof a);
    double v[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    for (int sweep = 0; sweep < 50; sweep++) {
        double off = a[1] * a[1] + a[2] * a[2] + a[5] * a[5], scale = a[0] * a[0] + a[4] * a[4] + a[8] * a[8];
        if (off <= 1e-30 * scale || off == 0.0) break;
        static const int PAIRS[3][2] = {{0, 1}, {0, 2}, {1, 2}};
        for (int k = 0; k < 3; k++) {
            int p = PAIRS[k][0], q = PAIRS[k][1];
            double apq = a[3 * p + q];
            if (apq == 0.0) continue;
            double theta = (a[3 * q + q] - a[3 * p + p]) / (2.0 * apq);
            double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
            double c = 1.0 / sqrt(t * t + 1.0), sn = t * c;
            for (int i = 0; i < 3; i++) { /* a <- a J (columns p, q) */
                double aip = a[3 * i + p], aiq = a[3 * i + q];
                a[3 * i + p] = c * aip - sn * aiq, a[3 * i + q] = sn * aip + c * aiq;
            }
            for (int i = 0; i < 3; i++) { /* a <- J^T a (rows p, q) */
                double api = a[3 * p + i], aqi = a[3 * q + i];
                a[3 * p + i] = c * api - sn * aqi, a[3 * q + i] = sn * api + c * aqi;
            }
            for (int i = 0; i < 3; i++) {
                double vip = v[3 * i + p], viq = v[3 * i + q];
                v[3 * i + p] = c * vip - sn * viq, v[3 * i + q] = sn * vip + c * viq;
            }
        }
    }
    memcpy(vecs, v, sizeof v);
    vals[0] = a[0], vals[1] = a[4], vals[2] = a[8];
}

/* The unit quaternion (w, x, y, z) of a rotation matrix (Shepperd: from its largest term). */
static void quat_from_rotation(const double m[9], double q[4])
{
    double tr = m[0] + m[4] + m[8];
    if (tr > 0.0) {
        double s = 2.0 * sqrt(tr + 1.0);
        q[0] = 0.25 * s, q[1] = (m[7] - m[5]) / s, q[2] = (m[2] - m[6]) / s, q[3] = (m[3] - m[1]) / s;
    } else if (m[0] > m[4] && m[0] > m[8]) {
        double s = 2.0 * sqrt(1.0 + m[0] - m[4] - m[8]);
        q[0] = (m[7] - m[5]) / s, q[1] = 0.25 * s, q[2] = (m[1] + m[3]) / s, q[3] = (m[2] + m[6]) / s;
    } else if (m[4] > m[8]) {
        double s = 2.0 * sqrt(1.0 + m[4] - m[0] - m[8]);
        q[0] = (m[2] - m[6]) / s, q[1] = (m[1] + m[3]) / s, q[2] = 0.25 * s, q[3] = (m[5] + m[7]) / s;
    } else {
        double s = 2.0 * sqrt(1.0 + m[8] - m[0] - m[4]);
        q[0] = (m[3] - m[1]) / s, q[1] = (m[2] + m[6]) / s, q[2] = (m[5] + m[7]) / s, q[3] = 0.25 * s;
    }
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    for (int i = 0; i < 4; i++) q[i] /= n;
}

static void rotation_from_quat(const float q_wxyz[4], double m[9])
{
    double w = q_wxyz[0], x = q_wxyz[1], y = q_wxyz[2], z = q_wxyz[3], n = w * w + x * x + y * y + z * z;
    if (!(n > 0.0)) w = 1.0, x = y = z = 0.0, n = 1.0;
    double s = 2.0 / n;
    m[0] = 1 - s * (y * y + z * z), m[1] = s * (x * y - w * z), m[2] = s * (x * z + w * y);
    m[3] = s * (x * y + w * z), m[4] = 1 - s * (x * x + z * z), m[5] = s * (y * z - w * x);
    m[6] = s * (x * z - w * y), m[7] = s * (y * z + w * x), m[8] = 1 - s * (x * x + y * y);
}

bool rd_affine_make(const double m[12], rd_affine *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < 12; i++)
        if (!isfinite(m[i])) return false;
    for (int r = 0; r < 3; r++) {
        memcpy(out->linear + 3 * r, m + 4 * r, 3 * sizeof(double));
        out->offset[r] = m[4 * r + 3];
    }
    const double *A = out->linear;
    double det = det3(A);
    if (!(fabs(det) > 1e-300)) return false;
    /* The polar factor Q = A (A^T A)^(-1/2); A^T A = s^2 I for a similarity. */
    double At[9], AtA[9], vecs[9], vals[3];
    transpose3(A, At);
    mul3(At, A, AtA);
    symmetric_eigen(AtA, vecs, vals);
    for (int k = 0; k < 3; k++)
        if (!(vals[k] > 0.0) || !isfinite(vals[k])) return false; /* a scale beyond double's range */
    double inv_root[9] = {0}, Q[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 3; k++) inv_root[3 * r + c] += vecs[3 * r + k] * vecs[3 * c + k] / sqrt(vals[k]);
    mul3(A, inv_root, Q);
    for (int i = 0; i < 9; i++)
        if (!isfinite(Q[i])) return false;
    double s2 = (vals[0] + vals[1] + vals[2]) / 3.0;
    out->similarity = true;
    for (int k = 0; k < 3; k++)
        if (fabs(vals[k] - s2) > 1e-9 * s2) out->similarity = false;
    float Qf[9];
    for (int i = 0; i < 9; i++) Qf[i] = fabs(Q[i] - round(Q[i])) < 1e-12 ? (float)round(Q[i]) : (float)Q[i];
    rd_sh_band_matrices(Qf, out->sh);
    if (out->similarity) {
        double proper[9], q[4];
        for (int i = 0; i < 9; i++) proper[i] = det < 0.0 ? -Q[i] : Q[i];
        quat_from_rotation(proper, q);
        for (int i = 0; i < 4; i++) out->turn_wxyz[i] = (float)q[i];
        out->log_scale = (float)(0.5 * log(s2));
    }
    return true;
}

static void quat_mul(const float a[4], const float b[4], float out[4])
{
    float w = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
    float x = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
    float y = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
    float z = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
    out[0] = w, out[1] = x, out[2] = y, out[3] = z;
}

/* A general A: the covariance A R S^2 R^T A^T decomposed again. */
static void general_shape(const rd_affine *a, float log_scale[3], float q_wxyz[4])
{
    double R[9], M[9], Mt[9], cov[9], vecs[9], vals[3];
    rotation_from_quat(q_wxyz, R);
    for (int c = 0; c < 3; c++) {
        double s = exp((double)log_scale[c]);
        for (int r = 0; r < 3; r++) R[3 * r + c] *= s; /* R S */
    }
    mul3(a->linear, R, M);
    transpose3(M, Mt);
    mul3(M, Mt, cov);
    symmetric_eigen(cov, vecs, vals);
    if (det3(vecs) < 0.0)
        for (int r = 0; r < 3; r++) vecs[3 * r + 2] = -vecs[3 * r + 2];
    double q[4];
    quat_from_rotation(vecs, q);
    for (int i = 0; i < 4; i++) q_wxyz[i] = (float)q[i];
    for (int k = 0; k < 3; k++) log_scale[k] = rd_log_scale((float)sqrt(fmax(vals[k], 0.0)));
}

void rd_affine_apply(const rd_affine *a, float mean[3], float log_scale[3], float q_wxyz[4], float *sh, int K)
{
    if (mean) {
        double m[3] = {mean[0], mean[1], mean[2]};
        for (int r = 0; r < 3; r++)
            mean[r] = (float)(a->linear[3 * r] * m[0] + a->linear[3 * r + 1] * m[1] + a->linear[3 * r + 2] * m[2] + a->offset[r]);
    }
    if (log_scale && q_wxyz) {
        if (a->similarity) {
            float q[4];
            quat_mul(a->turn_wxyz, q_wxyz, q);
            memcpy(q_wxyz, q, sizeof q);
            for (int k = 0; k < 3; k++) log_scale[k] += a->log_scale;
        } else {
            general_shape(a, log_scale, q_wxyz);
        }
    }
    if (sh) rd_sh_bands_apply(a->sh, sh, K);
}
