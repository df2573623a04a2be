/* slice4d.c: 4D Gaussians sliced at a time into 3D ones on the CPU (scene4d.h), after
   spec/dynamic.md: the 4D covariance from the scales and the quaternion pair, its
   conditional at time t (mean mu_xyz + V/W (t - mu_t), covariance U - V V^T / W, opacity
   times p(t)), and the colour's temporal cosine terms folded into plain SH. The 3D
   covariance goes to the 3D renderer as a rotation and three scales: its eigenvectors and
   the square roots of its eigenvalues, found once per scene in double (from the precision
   matrix: rd_slice4d_prepare says why). The GPU slices write into an rd_slice4d_target,
   made here for every GPU backend alike. */
#include "scene4d.h"

#include <math.h>
#include <string.h>

static void normalised(const float q[4], double out[4], double *length)
{
    *length = sqrt((double)q[0] * q[0] + (double)q[1] * q[1] + (double)q[2] * q[2] + (double)q[3] * q[3]);
    for (int k = 0; k < 4; k++) out[k] = q[k] / *length;
}

/* R4 = P L(q_l) R̄(q_r) P, the quaternions normalised; false where one is zero or not finite. */
bool rd_4d_rotation(const float q_l[4], const float q_r[4], double R4[4][4], double unit[8], double lengths[2])
{
    double l[4], r[4], nl, nr;
    normalised(q_l, l, &nl);
    normalised(q_r, r, &nr);
    if (!(nl > 0.0 && nr > 0.0 && isfinite(nl) && isfinite(nr))) return false;
    double M[4][4], L[4][4], R[4][4];
    rd_4d_left_right(l, r, L, R);
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            M[i][j] = 0.0;
            for (int k = 0; k < 4; k++) M[i][j] += L[i][k] * R[k][j];
        }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) R4[i][j] = M[3 - i][3 - j]; /* P M P: both axes reversed */
    if (unit) memcpy(unit, l, sizeof l), memcpy(unit + 4, r, sizeof r);
    if (lengths) lengths[0] = nl, lengths[1] = nr;
    return true;
}

bool rd_4d_covariance(const float log_scale[4], const float q_l[4], const float q_r[4], double sigma[4][4])
{
    double R4[4][4];
    if (!rd_4d_rotation(q_l, q_r, R4, NULL, NULL)) return false;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            sigma[i][j] = 0.0;
            for (int k = 0; k < 4; k++) sigma[i][j] += R4[i][k] * R4[j][k] * exp(2.0 * (double)log_scale[k]);
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

/* The conditional at time t is read off the precision matrix Λ = Σ4^-1 = R4 S^-2 R4^T,
   not off Σ4: the conditional covariance is Λ_xx^-1 and the velocity -Λ_xx^-1 Λ_xt, with no
   subtraction of large terms (U - V V^T / W cancels to nothing where the temporal scale is
   huge and the rotation mixes t into space). Λ_xx's eigenvectors are the covariance's, its
   eigenvalues their reciprocals. W, the marginal variance in t, is a sum of positive terms. */
void rd_slice4d_prepare(const rd_scene4d *s, int64_t i, rd_slice4d_static *out)
{
    memset(out, 0, sizeof *out);
    out->rotation[0] = 1.0f;
    out->half_inv_w = NAN;
    double R4[4][4], s2[4], inv_s2[4], W = 0.0, Lxx[3][3], Lxt[3], Q[3][3], mu[3];
    if (!rd_4d_rotation(s->rotations + 8 * i, s->rotations + 8 * i + 4, R4, NULL, NULL)) return;
    for (int k = 0; k < 4; k++) s2[k] = exp(2.0 * (double)s->log_scales[4 * i + k]), inv_s2[k] = 1.0 / s2[k];
    for (int k = 0; k < 4; k++) W += R4[3][k] * R4[3][k] * s2[k];
    for (int a = 0; a < 3; a++) {
        Lxt[a] = 0.0;
        for (int k = 0; k < 4; k++) Lxt[a] += R4[a][k] * R4[3][k] * inv_s2[k];
        for (int b = 0; b < 3; b++) {
            Lxx[a][b] = 0.0;
            for (int k = 0; k < 4; k++) Lxx[a][b] += R4[a][k] * R4[b][k] * inv_s2[k];
        }
    }
    if (!(W > 0.0) || !isfinite(W)) return;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            if (!isfinite(Lxx[a][b])) return;
    eigen_symmetric(Lxx, Q, mu);
    for (int a = 0; a < 3; a++)
        if (!(mu[a] > 0.0)) return; /* rounding left the precision singular: no usable covariance */
    quaternion_of(Q, out->rotation);
    double projected[3]; /* Q^T Λ_xt, divided by the eigenvalues, back through Q: Λ_xx^-1 Λ_xt */
    for (int k = 0; k < 3; k++) projected[k] = (Q[0][k] * Lxt[0] + Q[1][k] * Lxt[1] + Q[2][k] * Lxt[2]) / mu[k];
    for (int a = 0; a < 3; a++) {
        out->log_scale[a] = (float)(-0.5 * log(mu[a]));
        out->velocity[a] = (float)-(Q[a][0] * projected[0] + Q[a][1] * projected[1] + Q[a][2] * projected[2]);
    }
    out->half_inv_w = (float)(0.5 / W);
}

static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

void rd_slice4d_cpu(rd_context *ctx, const rd_scene4d *s, float time, rd_scene *out, int64_t *source)
{
    (void)ctx;
    const int K = rd_sh_coeffs(s->sh_degree), terms = s->time_degree + 1;
    const float two_pi_over_period = 6.283185307179586f / s->time_period;
    int64_t kept = 0;
    for (int64_t i = 0; i < s->count; i++) {
        const rd_slice4d_static *f = &s->fixed[i];
        const float *mean = s->means + 4 * i;
        float dt = time - mean[3], exponent = dt * dt * f->half_inv_w, p = expf(-exponent);
        if (!(exponent < RD_4D_CULL_EXPONENT)) continue; /* p <= 0.05, or NaN statics */
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
        if (source) source[kept] = i;
        kept++;
    }
    out->count = kept;
}

void rd_slice4d_target_free(rd_context *ctx, rd_slice4d_target *t)
{
    rd_scene_destroy(t->scene); /* a device scene: its arrays are ours, freed below */
    for (int k = 0; k < RD_SLICE4D_SLICED; k++) rd_buffer_free(ctx, t->arrays[k]);
    memset(t, 0, sizeof *t);
}

rd_result rd_slice4d_target_make(rd_context *ctx, const rd_scene4d *s, rd_slice4d_target *t)
{
    rd_slice4d_target_free(ctx, t);
    size_t n = (size_t)(s->count > 0 ? s->count : 1), K = (size_t)rd_sh_coeffs(s->sh_degree);
    const size_t bytes[RD_SLICE4D_SLICED] = {12 * n, 12 * n, 16 * n, 4 * n, 12 * K * n};
    rd_result r = RD_OK;
    for (int k = 0; k < RD_SLICE4D_SLICED && r == RD_OK; k++) {
        rd_memory memory;
        r = rd_buffer_alloc(ctx, bytes[k], &t->arrays[k], &memory);
    }
    if (r == RD_OK)
        r = rd_scene_create(ctx,
                            &(rd_scene_desc){.count = s->count, .sh_degree = s->sh_degree, .means = t->arrays[0],
                                             .log_scales = t->arrays[1], .rotations = t->arrays[2], .opacities = t->arrays[3],
                                             .sh = t->arrays[4], .memory = RD_MEMORY_DEVICE},
                            &t->scene);
    if (r != RD_OK) rd_slice4d_target_free(ctx, t);
    return r;
}
