/* reference_slice4d.c: see reference_slice4d.h. Written from the spec, not from the
   library's slice (which reads the conditional off the precision matrix). */
#include "reference_slice4d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a (x) b, w x y z */
static void qmul(const double a[4], const double b[4], double out[4])
{
    out[0] = a[0] * b[0] - a[1] * b[1] - a[2] * b[2] - a[3] * b[3];
    out[1] = a[0] * b[1] + a[1] * b[0] + a[2] * b[3] - a[3] * b[2];
    out[2] = a[0] * b[2] - a[1] * b[3] + a[2] * b[0] + a[3] * b[1];
    out[3] = a[0] * b[3] + a[1] * b[2] - a[2] * b[1] + a[3] * b[0];
}

void reference_covariance4d(const float ls[4], const float ql_in[4], const float qr_in[4], double sigma[4][4])
{
    double ql[4], qr[4], nl = 0, nr = 0, R4[4][4];
    for (int k = 0; k < 4; k++) nl += (double)ql_in[k] * ql_in[k], nr += (double)qr_in[k] * qr_in[k];
    for (int k = 0; k < 4; k++) ql[k] = ql_in[k] / sqrt(nl), qr[k] = qr_in[k] / sqrt(nr);
    double conj_r[4] = {qr[0], -qr[1], -qr[2], -qr[3]};
    for (int axis = 0; axis < 4; axis++) { /* column `axis` of R4: the image of that basis vector */
        double e[4] = {0}, v[4], tmp[4], w[4];
        e[axis] = 1.0;
        v[0] = e[3], v[1] = e[2], v[2] = e[1], v[3] = e[0];
        qmul(ql, v, tmp);
        qmul(tmp, conj_r, w);
        double image[4] = {w[3], w[2], w[1], w[0]};
        for (int r = 0; r < 4; r++) R4[r][axis] = image[r];
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            sigma[i][j] = 0.0;
            for (int k = 0; k < 4; k++) sigma[i][j] += R4[i][k] * R4[j][k] * exp(2.0 * ls[k]);
        }
}

int reference_slice4d(const rd_scene4d_desc *d, float time, reference_scene *out)
{
    size_t n = (size_t)(d->count > 0 ? d->count : 1), K = (size_t)(d->sh_degree + 1) * (size_t)(d->sh_degree + 1);
    int terms = d->time_degree + 1;
    double period = d->time_period > 0.0f ? d->time_period : 1.0;
    double *means = calloc(3 * n, sizeof(double)), *cov = calloc(6 * n, sizeof(double));
    double *opacities = calloc(n, sizeof(double)), *sh = calloc(3 * K * n, sizeof(double));
    *out = (reference_scene){(int)d->count, d->sh_degree, 0, means, cov, opacities, sh};
    if (!means || !cov || !opacities || !sh) return -1;
    static const int row[6] = {0, 0, 0, 1, 1, 2}, col[6] = {0, 1, 2, 1, 2, 2};
    for (int64_t i = 0; i < d->count; i++) {
        const float *m = d->means + 4 * i;
        double sigma[4][4];
        reference_covariance4d(d->log_scales + 4 * i, d->rotations + 8 * i, d->rotations + 8 * i + 4, sigma);
        double W = sigma[3][3], dt = (double)time - m[3], p = exp(-0.5 * dt * dt / W);
        for (int a = 0; a < 3; a++) means[3 * i + a] = m[a] + sigma[a][3] / W * dt;
        for (int e = 0; e < 6; e++)
            cov[6 * i + e] = p > 0.05 ? sigma[row[e]][col[e]] - sigma[row[e]][3] * sigma[col[e]][3] / W : NAN;
        opacities[i] = p / (1.0 + exp(-(double)d->opacities[i]));
        for (size_t k = 0; k < 3 * K; k++) {
            double sum = 0.0;
            for (int t = 0; t < terms; t++)
                sum += cos(6.283185307179586 * t * ((double)m[3] - time) / period) * d->sh[(i * terms + t) * 3 * (int64_t)K + (int64_t)k];
            sh[3 * K * (size_t)i + k] = sum;
        }
    }
    return 0;
}

void reference_slice4d_free(reference_scene *s)
{
    free((void *)s->means), free((void *)s->covariances), free((void *)s->opacities), free((void *)s->sh);
    memset(s, 0, sizeof *s);
}
