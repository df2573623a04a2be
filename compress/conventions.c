/* conventions.c: quaternion packings, axis changes and half floats (see conventions.h). */
#include "conventions.h"
#include "../splat/splat_math.h" /* rd_sh_to_rgb: the basis the SH matrices rotate */

#include <ctype.h>
#include <string.h>

static void normalized(const float q[4], float out[4])
{
    float n = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (!(n > 0.0f) || !isfinite(n)) {
        out[0] = 1.0f, out[1] = out[2] = out[3] = 0.0f;
        return;
    }
    for (int i = 0; i < 4; i++) out[i] = q[i] / n;
}

static int largest(const float a[4])
{
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (fabsf(a[i]) > fabsf(a[best])) best = i;
    return best;
}

uint32_t rd_quat_pack_spz(const float q_wxyz[4])
{
    float q[4], a[4];
    normalized(q_wxyz, q);
    a[0] = q[1], a[1] = q[2], a[2] = q[3], a[3] = q[0]; /* x y z w */
    int big = largest(a);
    uint32_t negate = a[big] < 0.0f, packed = (uint32_t)big;
    for (int i = 0; i < 4; i++) {
        if (i == big) continue;
        uint32_t sign = (uint32_t)(a[i] < 0.0f) ^ negate;
        uint32_t mag = (uint32_t)(511.0f * (fabsf(a[i]) / (float)M_SQRT1_2) + 0.5f);
        if (mag > 511u) mag = 511u;
        packed = packed << 10 | sign << 9 | mag;
    }
    return packed;
}

void rd_quat_unpack_spz(uint32_t packed, float q_wxyz[4])
{
    float a[4];
    int big = (int)(packed >> 30);
    float sum = 0.0f;
    for (int i = 3; i >= 0; i--) {
        if (i == big) continue;
        float mag = (float)M_SQRT1_2 * (float)(packed & 511u) / 511.0f;
        a[i] = (packed >> 9) & 1u ? -mag : mag;
        sum += a[i] * a[i];
        packed >>= 10;
    }
    a[big] = sqrtf(fmaxf(0.0f, 1.0f - sum));
    q_wxyz[0] = a[3], q_wxyz[1] = a[0], q_wxyz[2] = a[1], q_wxyz[3] = a[2];
}

uint32_t rd_quat_pack_playcanvas(const float q_wxyz[4])
{
    float a[4];
    normalized(q_wxyz, a);
    int big = largest(a);
    if (a[big] < 0.0f)
        for (int i = 0; i < 4; i++) a[i] = -a[i];
    uint32_t packed = (uint32_t)big;
    for (int i = 0; i < 4; i++)
        if (i != big) packed = packed << 10 | rd_pack_unorm(a[i] * (float)M_SQRT1_2 + 0.5f, 10);
    return packed;
}

void rd_quat_unpack_playcanvas(uint32_t packed, float q_wxyz[4])
{
    float v[3];
    for (int i = 0; i < 3; i++) v[i] = (rd_unpack_unorm(packed >> (20 - 10 * i), 10) - 0.5f) / (float)M_SQRT1_2;
    float m = sqrtf(fmaxf(0.0f, 1.0f - (v[0] * v[0] + v[1] * v[1] + v[2] * v[2])));
    int big = (int)(packed >> 30), j = 0;
    for (int i = 0; i < 4; i++) q_wxyz[i] = i == big ? m : v[j++];
}

/* The unit vector, in RDF coordinates, of a direction letter; false for another letter. */
static bool direction(char letter, float v[3])
{
    static const char LETTERS[] = "RLDUFB";
    const char *at = strchr(LETTERS, toupper((unsigned char)letter));
    if (!letter || !at) return false;
    int k = (int)(at - LETTERS);
    v[0] = v[1] = v[2] = 0.0f;
    v[k / 2] = k % 2 ? -1.0f : 1.0f;
    return true;
}

/* Real SH basis functions 1..15 at a direction (rd_sh_to_rgb's, one coefficient at a time). */
static void sh_basis(const double d[3], double out[16])
{
    float dir[3] = {(float)d[0], (float)d[1], (float)d[2]}, coeff[48] = {0}, rgb[3];
    for (int k = 0; k < 16; k++) {
        coeff[3 * k] = 1.0f;
        rd_sh_to_rgb(3, coeff, dir, rgb);
        out[k] = rgb[0];
        coeff[3 * k] = 0.0f;
    }
}

/* Solves the n x n system m x = b in place (partial pivoting; n <= 7). */
static void solve(int n, double m[7][7], double b[7])
{
    for (int c = 0; c < n; c++) {
        int p = c;
        for (int r = c + 1; r < n; r++)
            if (fabs(m[r][c]) > fabs(m[p][c])) p = r;
        for (int k = 0; k < n; k++) {
            double t = m[c][k];
            m[c][k] = m[p][k], m[p][k] = t;
        }
        double t = b[c];
        b[c] = b[p], b[p] = t;
        for (int r = c + 1; r < n; r++) {
            double f = m[r][c] / m[c][c];
            for (int k = c; k < n; k++) m[r][k] -= f * m[c][k];
            b[r] -= f * b[c];
        }
    }
    for (int c = n - 1; c >= 0; c--) {
        for (int k = c + 1; k < n; k++) b[c] -= m[c][k] * b[k];
        b[c] /= m[c][c];
    }
}

/* Each band's matrix: the colour in the new axes at a direction d is the old colour at
   A^T d, so new coefficients fit sum_j c'_j Y_j(d) = sum_j c_j Y_j(A^T d) at 64 fixed
   directions (least squares, exact for an orthogonal A); entries within 1e-6 of 0 or +-1
   are made exact, so that pure flips are exact sign changes. */
void rd_sh_band_matrices(const float A[9], float sh[16][16])
{
    enum { SAMPLES = 64 };
    double Y[SAMPLES][16], T[SAMPLES][16];
    for (int i = 0; i < SAMPLES; i++) { /* a spiral over the sphere */
        double z = 1.0 - (2.0 * i + 1.0) / SAMPLES, r = sqrt(1.0 - z * z), phi = 2.399963229728653 * i;
        double d[3] = {r * cos(phi), r * sin(phi), z}, back[3];
        for (int a = 0; a < 3; a++) back[a] = A[a] * d[0] + A[3 + a] * d[1] + A[6 + a] * d[2]; /* A^T d */
        sh_basis(d, Y[i]);
        sh_basis(back, T[i]);
    }
    memset(sh, 0, sizeof(float) * 256);
    sh[0][0] = 1.0f;
    for (int band = 1, first = 1; band <= 3; first += 2 * band + 1, band++) {
        int n = 2 * band + 1;
        for (int j = 0; j < n; j++) { /* column j: the new coefficients of old basis function j */
            double normal[7][7] = {{0}}, rhs[7] = {0};
            for (int i = 0; i < SAMPLES; i++)
                for (int r = 0; r < n; r++) {
                    for (int c = 0; c < n; c++) normal[r][c] += Y[i][first + r] * Y[i][first + c];
                    rhs[r] += Y[i][first + r] * T[i][first + j];
                }
            solve(n, normal, rhs);
            for (int r = 0; r < n; r++) {
                double v = rhs[r], whole = round(v);
                sh[first + r][first + j] = (float)(fabs(v - whole) < 1e-6 && fabs(whole) <= 1.0 ? whole : v);
            }
        }
    }
}

bool rd_axis_change_make(const char *name, bool to_frame, rd_axis_change *out)
{
    float cols[3][3], A[9];
    if (!name || strlen(name) != 3) return false;
    for (int a = 0; a < 3; a++)
        if (!direction(name[a], cols[a])) return false;
    for (int r = 0; r < 3; r++) /* into RDF: the file's axes are A's columns; out of it, A^T */
        for (int c = 0; c < 3; c++) A[3 * r + c] = to_frame ? cols[r][c] : cols[c][r];
    float det = A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6]);
    if (fabsf(det) != 1.0f) return false; /* two letters along one axis */
    memcpy(out->axes, A, sizeof A);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            out->quat_xyz[3 * r + c] = det * A[3 * r + c];
            if (A[3 * r + c] != 0.0f) out->scale_from[r] = c;
        }
    rd_sh_band_matrices(A, out->sh);
    return true;
}

void rd_axis_change_apply(const rd_axis_change *c, float mean[3], float log_scale[3], float q_wxyz[4], float *sh, int K)
{
    float old[3];
    if (mean) {
        memcpy(old, mean, 3 * sizeof(float));
        for (int r = 0; r < 3; r++) mean[r] = c->axes[3 * r] * old[0] + c->axes[3 * r + 1] * old[1] + c->axes[3 * r + 2] * old[2];
    }
    if (log_scale) {
        memcpy(old, log_scale, 3 * sizeof(float));
        for (int a = 0; a < 3; a++) log_scale[a] = old[c->scale_from[a]];
    }
    if (q_wxyz) {
        memcpy(old, q_wxyz + 1, 3 * sizeof(float));
        for (int r = 0; r < 3; r++)
            q_wxyz[1 + r] = c->quat_xyz[3 * r] * old[0] + c->quat_xyz[3 * r + 1] * old[1] + c->quat_xyz[3 * r + 2] * old[2];
    }
    if (sh) rd_sh_bands_apply(c->sh, sh, K);
}

void rd_sh_bands_apply(const float m[16][16], float *sh, int K)
{
    if (K <= 1) return;
    float old[48];
    memcpy(old, sh, (size_t)K * 3 * sizeof(float));
    for (int band = 1, first = 1; first < K; first += 2 * band + 1, band++)
        for (int r = first; r < first + 2 * band + 1; r++)
            for (int ch = 0; ch < 3; ch++) {
                float v = 0.0f;
                for (int j = first; j < first + 2 * band + 1; j++) v += m[r][j] * old[3 * j + ch];
                sh[3 * r + ch] = v;
            }
}

float rd_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t rd_half_from_float(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xff, man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0u));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift, rest = man & ((1u << shift) - 1u), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = (uint32_t)e << 10 | man >> 13, rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half++; /* may carry into the exponent: correct */
    return (uint16_t)(sign | half);
}
