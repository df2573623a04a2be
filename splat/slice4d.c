/* slice4d.c: 4D Gaussians sliced at a time into 3D ones on the CPU (scene4d.h), after
   spec/dynamic.md: the 4D covariance from the scales and the quaternion pair, its
   conditional at time t (mean mu_xyz + V/W (t - mu_t), covariance U - V V^T / W, opacity
   times p(t)), and the colour's temporal cosine terms folded into plain SH. The 3D
   covariance goes to the 3D renderer as a rotation and three scales: its eigenvectors and
   the square roots of its eigenvalues, found once per scene in double. */
#include "scene4d.h"

#include <math.h>
#include <string.h>

static void normalised(const float q[4], double out[4], double *length)
{
    *length = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
    for (int k = 0; k < 4; k++) out[k] = q[k] / *length;
}

bool rd_4d_covariance(const float log_scale[4], const float q_l[4], const float q_r[4], double sigma[4][4])
{
    double l[4], r[4], nl, nr;
    normalised(q_l, l, &nl);
    normalised(q_r, r, &nr);
    if (!(nl > 0.0 && nr > 0.0 && isfinite(nl) && isfinite(nr))) return false;
    double a = l[0], b = l[1], c = l[2], d = l[3], p = r[0], q = r[1], rr = r[2], s = r[3];
    const double L[4][4] = {{a, -b, -c, -d}, {b, a, -d, c}, {c, d, a, -b}, {d, -c, b, a}};
    const double R[4][4] = {{p, q, rr, s}, {-q, p, -s, rr}, {-rr, s, p, -q}, {-s, -rr, q, p}};
    double M[4][4], R4[4][4], s2[4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            M[i][j] = 0.0;
            for (int k = 0; k < 4; k++) M[i][j] += L[i][k] * R[k][j];
        }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) R4[i][j] = M[3 - i][3 - j]; /* P M P: both axes reversed */
    for (int k = 0; k < 4; k++) s2[k] = exp(2.0 * (double)log_scale[k]);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            sigma[i][j] = 0.0;
            for (int k = 0; k < 4; k++) sigma[i][j] += R4[i][k] * R4[j][k] * s2[k];
        }
    return true;
}

/* Eigenvectors (the columns of Q, a proper rotation) and eigenvalues of the symmetric A,
   by cyclic Jacobi rotations. */
static void eigen_symmetric(const double A_in[3][3], double Q[3][3], double lambda[3])
{
    double A[3][3];
    memcpy(A, A_in, sizeof A);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) Q[i][j] = i == j;
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
static void quaternion_of(const double Q[3][3], float out[4])
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

void rd_slice4d_prepare(const rd_scene4d *s, int64_t i, rd_slice4d_static *out)
{
    double sigma[4][4];
    memset(out, 0, sizeof *out);
    out->rotation[0] = 1.0f;
    out->half_inv_w = NAN;
    if (!rd_4d_covariance(s->log_scales + 4 * i, s->rotations + 8 * i, s->rotations + 8 * i + 4, sigma)) return;
    double W = sigma[3][3], U[3][3], Q[3][3], lambda[3];
    if (!(W > 0.0) || !isfinite(W)) return;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) U[a][b] = sigma[a][b] - sigma[a][3] * sigma[b][3] / W;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            if (!isfinite(U[a][b])) return;
    eigen_symmetric(U, Q, lambda);
    quaternion_of(Q, out->rotation);
    for (int a = 0; a < 3; a++) {
        out->log_scale[a] = (float)(0.5 * log(fmax(lambda[a], 1e-60))); /* rounding may leave a flat one just below 0 */
        out->velocity[a] = (float)(sigma[a][3] / W);
    }
    out->half_inv_w = (float)(0.5 / W);
}

static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

void rd_slice4d_cpu(rd_context *ctx, const rd_scene4d *s, float time, rd_scene *out)
{
    (void)ctx;
    const int K = rd_sh_coeffs(s->sh_degree), terms = s->time_degree + 1;
    const float two_pi_over_period = 6.283185307179586f / s->time_period;
    int64_t kept = 0;
    for (int64_t i = 0; i < s->count; i++) {
        const rd_slice4d_static *f = &s->fixed[i];
        const float *mean = s->means + 4 * i;
        float dt = time - mean[3], exponent = dt * dt * f->half_inv_w, p = expf(-exponent);
        if (!(p > RD_4D_CULL_WEIGHT)) continue; /* NaN statics too */
        for (int a = 0; a < 3; a++) {
            out->means[3 * kept + a] = mean[a] + f->velocity[a] * dt;
            out->log_scales[3 * kept + a] = f->log_scale[a];
        }
        memcpy(out->rotations + 4 * kept, f->rotation, sizeof f->rotation);
        /* logit(sigmoid(o) p) = log sigmoid(o) + log p - log(1 - sigmoid(o) p), with
           1 - sigmoid(o) p = (1 - p) + p sigmoid(-o): no cancellation where both are near 1 */
        float o = s->opacities[i];
        out->opacities[kept] = -softplus(-o) - exponent - logf((1.0f - p) + p / (1.0f + expf(o)));
        float weight[RD_4D_MAX_TIME_DEGREE + 1];
        for (int n = 0; n < terms; n++) weight[n] = cosf(two_pi_over_period * (float)n * (mean[3] - time));
        const float *sh = s->sh + i * (int64_t)terms * K * 3;
        float *folded = out->sh + kept * (int64_t)K * 3;
        for (int k = 0; k < 3 * K; k++) {
            float sum = 0.0f;
            for (int n = 0; n < terms; n++) sum += weight[n] * sh[n * 3 * K + k];
            folded[k] = sum;
        }
        kept++;
    }
    out->count = kept;
}
