/* reference_render.c: see reference_render.h. Written from the spec, not from the
   library's code: full 3x3 covariances, explicit J W Sigma W^T J^T, per-pixel depth sort. */
#include "reference_render.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct ref_gaussian {
    double u, v, a, b, c, opacity, depth, rgb[3];
    double rx, ry;            /* default extent */
    int tx0, tx1, ty0, ty1;   /* INRIA tile rect [t0, t1) */
    int ax0, ax1, ay0, ay1;   /* the same with edges moved out by 1e-3 px: tiles between are ambiguous */
    int index;
    int visible;
} ref_gaussian;

static void sh_colour(int deg_used, int K, const double *sh, const double d[3], double out[3])
{
    const double C0 = 0.28209479177387814, C1 = 0.4886025119029199;
    const double C2[5] = {1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396};
    const double C3[7] = {-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
                          -0.4570457994644658, 1.445305721320277, -0.5900435899266435};
    double x = d[0], y = d[1], z = d[2];
    for (int ch = 0; ch < 3; ch++) {
#define S(k) (sh[(k) * 3 + ch])
        double r = C0 * S(0);
        if (deg_used > 0) r += -C1 * y * S(1) + C1 * z * S(2) - C1 * x * S(3);
        if (deg_used > 1)
            r += C2[0] * x * y * S(4) + C2[1] * y * z * S(5) + C2[2] * (2 * z * z - x * x - y * y) * S(6) +
                 C2[3] * x * z * S(7) + C2[4] * (x * x - y * y) * S(8);
        if (deg_used > 2)
            r += C3[0] * y * (3 * x * x - y * y) * S(9) + C3[1] * x * y * z * S(10) +
                 C3[2] * y * (4 * z * z - x * x - y * y) * S(11) + C3[3] * z * (2 * z * z - 3 * x * x - 3 * y * y) * S(12) +
                 C3[4] * x * (4 * z * z - x * x - y * y) * S(13) + C3[5] * z * (x * x - y * y) * S(14) +
                 C3[6] * x * (x * x - 3 * y * y) * S(15);
#undef S
        out[ch] = r;
    }
    (void)K;
}

static int clampi(double v, int lo, int hi) { return v < lo ? lo : (v > hi ? hi : (int)v); }

static ref_gaussian project(const reference_scene *s, int i, const rd_camera *cam, const rd_render_desc *desc)
{
    ref_gaussian g = {0};
    g.index = i;
    double W[3][3], tw[3], m[3];
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) W[r][c] = cam->w2c[4 * r + c];
        tw[r] = cam->w2c[4 * r + 3];
        m[r] = s->means[3 * i + r];
    }
    double t[3];
    for (int r = 0; r < 3; r++) t[r] = W[r][0] * m[0] + W[r][1] * m[1] + W[r][2] * m[2] + tw[r];
    double near_p = cam->near_plane > 0 ? cam->near_plane : 0.01, far_p = cam->far_plane > 0 ? cam->far_plane : 1e10;
    if (!(t[2] > near_p && t[2] < far_p) || !isfinite(t[0]) || !isfinite(t[1])) return g;
    const double *cv = s->covariances + 6 * i;
    if (!isfinite(cv[0])) return g;
    double Sigma[3][3] = {{cv[0], cv[1], cv[2]}, {cv[1], cv[3], cv[4]}, {cv[2], cv[4], cv[5]}};
    double limx = 1.3 * 0.5 * cam->width / cam->fx, limy = 1.3 * 0.5 * cam->height / cam->fy;
    double tz = t[2], txz = t[0] / tz, tyz = t[1] / tz;
    txz = txz < -limx ? -limx : (txz > limx ? limx : txz);
    tyz = tyz < -limy ? -limy : (tyz > limy ? limy : tyz);
    double tx = txz * tz, ty = tyz * tz;
    double J[2][3] = {{cam->fx / tz, 0, -cam->fx * tx / (tz * tz)}, {0, cam->fy / tz, -cam->fy * ty / (tz * tz)}};
    /* Sigma' = W Sigma W^T, then Sigma2 = J Sigma' J^T */
    double Sv[3][3];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) {
            double v = 0;
            for (int k = 0; k < 3; k++)
                for (int l = 0; l < 3; l++) v += W[r][k] * Sigma[k][l] * W[c][l];
            Sv[r][c] = v;
        }
    double S2[2][2];
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 2; c++) {
            double v = 0;
            for (int k = 0; k < 3; k++)
                for (int l = 0; l < 3; l++) v += J[r][k] * Sv[k][l] * J[c][l];
            S2[r][c] = v;
        }
    double det0 = S2[0][0] * S2[1][1] - S2[0][1] * S2[1][0];
    S2[0][0] += 0.3;
    S2[1][1] += 0.3;
    double det = S2[0][0] * S2[1][1] - S2[0][1] * S2[1][0];
    double opacity = s->opacities[i];
    bool aa = (desc->flags & RD_RENDER_ANTIALIASED) ||
              ((desc->flags & RD_RENDER_SCENE_FLAGS) && (s->flags & RD_SCENE_ANTIALIASED));
    if (aa) {
        double rho = sqrt(det0 / det);
        opacity *= rho > 0.005 ? rho : 0.005;
    }
    g.u = cam->fx * t[0] / tz + cam->cx;
    g.v = cam->fy * t[1] / tz + cam->cy;
    if (!(det > 0) || !isfinite(det) || !isfinite(g.u) || !isfinite(g.v) || !isfinite(opacity)) return g;
    g.a = S2[1][1] / det;
    g.b = -S2[0][1] / det;
    g.c = S2[0][0] / det;
    if (desc->flags & RD_RENDER_INRIA_EXTENT) {
        double mid = 0.5 * (S2[0][0] + S2[1][1]);
        double l = mid + sqrt(fmax(0.1, mid * mid - det));
        double rad = ceil(3.0 * sqrt(l));
        int tiles_x = (cam->width + 15) / 16, tiles_y = (cam->height + 15) / 16;
        double px = g.u - 0.5, py = g.v - 0.5;
        const double e = 1e-3;
        g.tx0 = clampi(trunc((px + e - rad) / 16), 0, tiles_x);
        g.tx1 = clampi(trunc((px - e + rad + 15) / 16), 0, tiles_x);
        g.ty0 = clampi(trunc((py + e - rad) / 16), 0, tiles_y);
        g.ty1 = clampi(trunc((py - e + rad + 15) / 16), 0, tiles_y);
        g.ax0 = clampi(trunc((px - e - rad) / 16), 0, tiles_x);
        g.ax1 = clampi(trunc((px + e + rad + 15) / 16), 0, tiles_x);
        g.ay0 = clampi(trunc((py - e - rad) / 16), 0, tiles_y);
        g.ay1 = clampi(trunc((py + e + rad + 15) / 16), 0, tiles_y);
        g.rx = g.ry = INFINITY;
    } else {
        if (opacity < 1.0 / 255.0) return g;
        double k = fmin(3.33, sqrt(2.0 * log(opacity * 255.0)));
        g.rx = ceil(k * sqrt(S2[0][0]));
        g.ry = ceil(k * sqrt(S2[1][1]));
        g.tx0 = g.ty0 = g.ax0 = g.ay0 = 0;
        g.tx1 = g.ty1 = g.ax1 = g.ay1 = 1 << 30;
    }
    int K = (s->sh_degree + 1) * (s->sh_degree + 1);
    int deg = s->sh_degree;
    if (desc->sh_degree > 0 && desc->sh_degree - 1 < deg) deg = desc->sh_degree - 1;
    double centre[3];
    for (int a = 0; a < 3; a++) centre[a] = -(W[0][a] * tw[0] + W[1][a] * tw[1] + W[2][a] * tw[2]);
    double d[3] = {m[0] - centre[0], m[1] - centre[1], m[2] - centre[2]};
    double dn = sqrt(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    for (int a = 0; a < 3; a++) d[a] /= dn;
    sh_colour(deg, K, s->sh + (size_t)i * K * 3, d, g.rgb);
    for (int ch = 0; ch < 3; ch++) {
        g.rgb[ch] += 0.5;
        if (!isfinite(g.rgb[ch])) return g;
        if (g.rgb[ch] < 0) g.rgb[ch] = 0;
    }
    g.opacity = opacity;
    g.depth = tz;
    g.visible = 1;
    return g;
}

static int by_depth(const void *pa, const void *pb)
{
    const ref_gaussian *a = *(ref_gaussian *const *)pa, *b = *(ref_gaussian *const *)pb;
    if (a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
    return a->index - b->index;
}

int reference_render_scene(const reference_scene *s, const rd_camera *cam, const rd_render_desc *desc, reference_output *out)
{
    int n = (int)s->count, W = cam->width, H = cam->height;
    size_t P = (size_t)W * H;
    out->color = calloc(P * 4, sizeof(double));
    out->depth = calloc(P, sizeof(double));
    out->transmittance = calloc(P, sizeof(double));
    out->blended = calloc(P, sizeof(int));
    out->ambiguous = calloc(P, 1);
    ref_gaussian *g = calloc((size_t)(n ? n : 1), sizeof *g);
    ref_gaussian **order = calloc((size_t)(n ? n : 1), sizeof *order);
    if (!out->color || !out->depth || !out->transmittance || !out->blended || !out->ambiguous || !g || !order) return -1;
    int visible = 0;
    for (int i = 0; i < n; i++) {
        g[i] = project(s, i, cam, desc);
        if (g[i].visible) order[visible++] = &g[i];
    }
    qsort(order, (size_t)visible, sizeof *order, by_depth);
    for (int py = 0; py < H; py++)
        for (int px = 0; px < W; px++) {
            double T = 1, C[3] = {0, 0, 0}, D = 0, fx = px + 0.5, fy = py + 0.5;
            int blended = 0;
            unsigned char ambiguous = 0;
            int tx = px / 16, ty = py / 16;
            for (int j = 0; j < visible; j++) {
                const ref_gaussian *q = order[j];
                double dx = fx - q->u, dy = fy - q->v;
                if (fabs(dx) > q->rx || fabs(dy) > q->ry) continue;
                if (tx < q->ax0 || tx >= q->ax1 || ty < q->ay0 || ty >= q->ay1) continue;
                bool inside = tx >= q->tx0 && tx < q->tx1 && ty >= q->ty0 && ty < q->ty1;
                double power = -0.5 * (q->a * dx * dx + q->c * dy * dy) - q->b * dx * dy;
                if (power > 0) continue;
                double alpha = fmin(0.99, q->opacity * exp(power));
                if (fabs(alpha * 255.0 - 1.0) < 0.01) ambiguous = 1;
                if (alpha < 1.0 / 255.0) continue;
                if (!inside) { ambiguous = 1; continue; }
                if (fabs(T * (1 - alpha) * 1e4 - 1.0) < 0.01) ambiguous = 1;
                if (T * (1 - alpha) < 1e-4) break;
                for (int ch = 0; ch < 3; ch++) C[ch] += alpha * T * q->rgb[ch];
                D += alpha * T * q->depth;
                T *= 1 - alpha;
                blended++;
            }
            size_t p = (size_t)py * W + px;
            for (int ch = 0; ch < 3; ch++) out->color[4 * p + ch] = C[ch] + T * desc->background[ch];
            out->color[4 * p + 3] = 1 - T;
            out->depth[p] = (desc->flags & RD_RENDER_EXPECTED_DEPTH) ? (T < 1 ? D / (1 - T) : 0) : D;
            out->transmittance[p] = T;
            out->blended[p] = blended;
            out->ambiguous[p] = ambiguous;
        }
    free(g);
    free(order);
    return 0;
}

/* The stored parameters in double: R S^2 R^T from the normalised quaternion, sigmoid of
   the logit; a zero or non-finite quaternion gives a NaN covariance (not drawn). */
int reference_render(const rd_scene_desc *d, const rd_camera *cam, const rd_render_desc *desc, reference_output *out)
{
    size_t n = (size_t)(d->count > 0 ? d->count : 1), K = (size_t)(d->sh_degree + 1) * (size_t)(d->sh_degree + 1);
    double *means = calloc(3 * n, sizeof(double)), *cov = calloc(6 * n, sizeof(double));
    double *opacities = calloc(n, sizeof(double)), *sh = calloc(3 * K * n, sizeof(double));
    int result = -1;
    if (means && cov && opacities && sh) {
        for (int64_t i = 0; i < d->count; i++) {
            const float *qf = d->rotations + 4 * i;
            double q[4] = {qf[0], qf[1], qf[2], qf[3]};
            double qn = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
            double w = q[0] / qn, x = q[1] / qn, y = q[2] / qn, z = q[3] / qn;
            double R[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                              {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                              {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}};
            double sc[3];
            for (int a = 0; a < 3; a++) sc[a] = exp((double)d->log_scales[3 * i + a]);
            static const int row[6] = {0, 0, 0, 1, 1, 2}, col[6] = {0, 1, 2, 1, 2, 2};
            for (int e = 0; e < 6; e++) {
                double v = 0;
                for (int k = 0; k < 3; k++) v += R[row[e]][k] * sc[k] * sc[k] * R[col[e]][k];
                cov[6 * i + e] = qn > 0 && isfinite(qn) ? v : NAN;
            }
            for (int a = 0; a < 3; a++) means[3 * i + a] = d->means[3 * i + a];
            opacities[i] = 1.0 / (1.0 + exp(-(double)d->opacities[i]));
            for (size_t k = 0; k < 3 * K; k++) sh[3 * K * (size_t)i + k] = d->sh[3 * K * (size_t)i + k];
        }
        reference_scene rs = {(int)d->count, d->sh_degree, d->flags, means, cov, opacities, sh};
        result = reference_render_scene(&rs, cam, desc, out);
    }
    free(means), free(cov), free(opacities), free(sh);
    return result;
}

void reference_free(reference_output *out)
{
    free(out->color);
    free(out->depth);
    free(out->transmittance);
    free(out->blended);
    free(out->ambiguous);
    memset(out, 0, sizeof *out);
}
