/* splat_grad.h: the backward pass of splat_math.h's per-Gaussian steps (spec/gaussians.md,
   "Backward pass"), written once for every backend like the forward: the blend's
   per-pixel step, then colour (step 7) and projection (steps 1-5) back to the stored
   parameters and the camera pose. Each function recomputes the forward's intermediates
   from the same inputs in the same order, so that it differentiates exactly what the
   forward computed. */
#ifndef RD_SPLAT_GRAD_H
#define RD_SPLAT_GRAD_H

#include "splat_math.h"

/* dL/d of one Gaussian's 2D quantities, summed over the pixels it touched. */
typedef struct rd_splat2d_grad {
    float u, v;     /* screen mean */
    float conic[3]; /* a, b, c as rd_splat2d holds them */
    float opacity;  /* the opacity blended (after the antialiasing factor) */
    float rgb[3];   /* the colour blended (after the clamp) */
    float depth;    /* view-space z */
} rd_splat2d_grad;

/* dL/d of one Gaussian's stored parameters, and of the camera's w2c rows 0-2 (row-major,
   4 floats a row) through this Gaussian. */
typedef struct rd_gaussian_grad {
    float mean[3], log_scale[3], rotation[4], opacity;
    float w2c[12];
    float covariance[6]; /* dL/dSigma3 of the full matrix: xx xy xz yy yz zz */
} rd_gaussian_grad;

/* One pixel's blend, replayed back to front: Gaussian j (colour rgb, depth z) was blended
   with alpha (before: transmittance T_before) where exp(power) = G and the opacity's
   product o*G was clamped to 0.99 or not. pixel carries dL/dC (3) and dL/dD (accumulated
   depth) in, and `after`, the loss's sensitivity to everything behind j:
   sum_k>j (dL/dC . c_k + dL/dD z_k) alpha_k T_k + T_final dL/dT_final.
   Expected depth d = D / (1 - T) is differentiated as sum_k alpha_k T_k (z_k - d) / (1 - T)
   with d held: the same derivative at the point, without the large terms that cancel
   when 1 - T is small (the pixel's dL/dD is then dL/dd / (1 - T), depth_shift d, and
   dL/dT_final has no depth term). */
typedef struct rd_pixel_grad {
    float color[3], depth; /* dL/dC, dL/dD */
    float depth_shift;     /* expected depth: the pixel's depth, taken from every z (below) */
    float after;           /* accumulated back to front */
} rd_pixel_grad;

/* A pixel's state before its back-to-front walk, from its output gradients (gc: dL/d
   RGBA, or NULL; g_depth: dL/d its depth output), its final transmittance T and its depth
   output (rd_pixel_depth's, only read for expected depth). The outputs are colour =
   C + T bg, alpha = 1 - T and depth = D, or D / (1 - T) as rd_pixel_grad says. */
RD_HD static inline rd_pixel_grad rd_pixel_grad_start(const rd_view_params *vp, const float *gc, float g_depth, float T,
                                                      float depth_out)
{
    rd_pixel_grad px = {{gc ? gc[0] : 0.0f, gc ? gc[1] : 0.0f, gc ? gc[2] : 0.0f}, g_depth, 0.0f, 0.0f};
    float g_T = gc ? gc[0] * vp->background[0] + gc[1] * vp->background[1] + gc[2] * vp->background[2] - gc[3] : 0.0f;
    if (vp->flags & RD_RENDER_EXPECTED_DEPTH) {
        px.depth = T < 1.0f ? g_depth / (1.0f - T) : 0.0f;
        px.depth_shift = depth_out;
    }
    px.after = T * g_T;
    return px;
}

RD_HD static inline void rd_blend_backward(rd_pixel_grad *px, const float rgb[3], float z, float alpha, float T_before,
                                           float G, bool clamped, float dx, float dy, const float conic[3],
                                           rd_splat2d_grad *g)
{
    float w = alpha * T_before;
    float own = px->color[0] * rgb[0] + px->color[1] * rgb[1] + px->color[2] * rgb[2] + px->depth * (z - px->depth_shift);
    for (int ch = 0; ch < 3; ch++) g->rgb[ch] += px->color[ch] * w;
    g->depth += px->depth * w;
    /* C_j = c alpha T + (behind) / (1 - alpha) * (1 - alpha): d/dalpha of the rest is -after / (1 - alpha) */
    float g_alpha = T_before * own - px->after / (1.0f - alpha);
    px->after += own * w;
    if (clamped) return;
    /* alpha = o G, G = exp(power) */
    float g_power = g_alpha * alpha;
    g->opacity += g_alpha * G;
    g->conic[0] += g_power * (-0.5f * dx * dx);
    g->conic[1] += g_power * (-dx * dy);
    g->conic[2] += g_power * (-0.5f * dy * dy);
    g->u += g_power * (conic[0] * dx + conic[1] * dy);
    g->v += g_power * (conic[2] * dy + conic[1] * dx);
}

/* Step 7 backward for basis functions up to degree: g_sh (K*3, added) from dL/drgb (before
   the +0.5; zero for clamped channels), and dL/d(dir) into g_dir (set). */
RD_HD static inline void rd_sh_backward(int degree, const float *sh, const float dir[3], const float g_rgb[3], float *g_sh,
                                        float g_dir[3])
{
    const float C0 = 0.28209479177387814f, C1 = 0.4886025119029199f;
    const float C2[5] = {1.0925484305920792f, -1.0925484305920792f, 0.31539156525252005f, -1.0925484305920792f,
                         0.5462742152960396f};
    const float C3[7] = {-0.5900435899266435f, 2.890611442640554f, -0.4570457994644658f, 0.3731763325901154f,
                         -0.4570457994644658f, 1.445305721320277f, -0.5900435899266435f};
    float x = dir[0], y = dir[1], z = dir[2], xx = x * x, yy = y * y, zz = z * z;
    /* each basis function and its gradient in (x, y, z) */
    float basis[16], grad[16][3] = {{0}};
    int k = 1;
    basis[0] = C0;
    if (degree > 0) {
        basis[1] = -C1 * y, grad[1][1] = -C1;
        basis[2] = C1 * z, grad[2][2] = C1;
        basis[3] = -C1 * x, grad[3][0] = -C1;
        k = 4;
    }
    if (degree > 1) {
        basis[4] = C2[0] * x * y, grad[4][0] = C2[0] * y, grad[4][1] = C2[0] * x;
        basis[5] = C2[1] * y * z, grad[5][1] = C2[1] * z, grad[5][2] = C2[1] * y;
        basis[6] = C2[2] * (2.0f * zz - xx - yy), grad[6][0] = -2.0f * C2[2] * x, grad[6][1] = -2.0f * C2[2] * y,
        grad[6][2] = 4.0f * C2[2] * z;
        basis[7] = C2[3] * x * z, grad[7][0] = C2[3] * z, grad[7][2] = C2[3] * x;
        basis[8] = C2[4] * (xx - yy), grad[8][0] = 2.0f * C2[4] * x, grad[8][1] = -2.0f * C2[4] * y;
        k = 9;
    }
    if (degree > 2) {
        basis[9] = C3[0] * y * (3.0f * xx - yy), grad[9][0] = 6.0f * C3[0] * x * y, grad[9][1] = 3.0f * C3[0] * (xx - yy);
        basis[10] = C3[1] * x * y * z, grad[10][0] = C3[1] * y * z, grad[10][1] = C3[1] * x * z, grad[10][2] = C3[1] * x * y;
        basis[11] = C3[2] * y * (4.0f * zz - xx - yy), grad[11][0] = -2.0f * C3[2] * x * y,
        grad[11][1] = C3[2] * (4.0f * zz - xx - 3.0f * yy), grad[11][2] = 8.0f * C3[2] * y * z;
        basis[12] = C3[3] * z * (2.0f * zz - 3.0f * xx - 3.0f * yy), grad[12][0] = -6.0f * C3[3] * x * z,
        grad[12][1] = -6.0f * C3[3] * y * z, grad[12][2] = C3[3] * (6.0f * zz - 3.0f * xx - 3.0f * yy);
        basis[13] = C3[4] * x * (4.0f * zz - xx - yy), grad[13][0] = C3[4] * (4.0f * zz - 3.0f * xx - yy),
        grad[13][1] = -2.0f * C3[4] * x * y, grad[13][2] = 8.0f * C3[4] * x * z;
        basis[14] = C3[5] * z * (xx - yy), grad[14][0] = 2.0f * C3[5] * x * z, grad[14][1] = -2.0f * C3[5] * y * z,
        grad[14][2] = C3[5] * (xx - yy);
        basis[15] = C3[6] * x * (xx - 3.0f * yy), grad[15][0] = 3.0f * C3[6] * (xx - yy), grad[15][1] = -6.0f * C3[6] * x * y;
        k = 16;
    }
    g_dir[0] = g_dir[1] = g_dir[2] = 0.0f;
    for (int j = 0; j < k; j++) {
        float dot = 0.0f;
        for (int ch = 0; ch < 3; ch++) {
            g_sh[3 * j + ch] += basis[j] * g_rgb[ch];
            dot += sh[3 * j + ch] * g_rgb[ch];
        }
        for (int a = 0; a < 3; a++) g_dir[a] += dot * grad[j][a];
    }
}

/* Step 7 backward: the colour's gradient (g_rgb after the clamp; clamped: the forward's
   bits) into g_sh (added) and, through the view direction, into g->mean and g->w2c. */
RD_HD static inline void rd_colour_backward(const rd_view_params *vp, const float mean[3], const float *sh, uint32_t clamped,
                                            const float g_rgb_in[3], float *g_sh, rd_gaussian_grad *g)
{
    float d[3] = {mean[0] - vp->centre[0], mean[1] - vp->centre[1], mean[2] - vp->centre[2]};
    float dn = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    float dir[3] = {d[0], d[1], d[2]};
    if (dn > 0.0f) dir[0] /= dn, dir[1] /= dn, dir[2] /= dn;
    float g_rgb[3], g_dir[3];
    for (int ch = 0; ch < 3; ch++) g_rgb[ch] = (clamped >> ch) & 1u ? 0.0f : g_rgb_in[ch];
    rd_sh_backward(vp->sh_degree, sh, dir, g_rgb, g_sh, g_dir);
    if (!(dn > 0.0f)) return;
    /* dir = d / |d|: the tangential part, over |d| */
    float along = dir[0] * g_dir[0] + dir[1] * g_dir[1] + dir[2] * g_dir[2], g_d[3];
    for (int a = 0; a < 3; a++) g_d[a] = (g_dir[a] - dir[a] * along) / dn;
    for (int a = 0; a < 3; a++) g->mean[a] += g_d[a];
    /* d = mean - centre, centre = -Rw^T tw */
    for (int r = 0; r < 3; r++) {
        float tw = vp->trans[r];
        for (int a = 0; a < 3; a++) {
            g->w2c[4 * r + a] += g_d[a] * tw;
            g->w2c[4 * r + 3] += g_d[a] * vp->rot[3 * r + a];
        }
    }
}

/* Steps 1-5 backward for Gaussian i, which rd_splat_project kept: from the 2D gradients
   (u, v, conic, opacity, depth) to mean, log-scale, quaternion, logit opacity and pose,
   added into g. */
RD_HD static inline void rd_project_backward(const rd_view_params *vp, const rd_gaussians *scene, int64_t i,
                                             const rd_splat2d_grad *g2, rd_gaussian_grad *g)
{
    const float *m = scene->means + 3 * i, *R = vp->rot;
    float t[3];
    for (int r = 0; r < 3; r++) t[r] = R[3 * r] * m[0] + R[3 * r + 1] * m[1] + R[3 * r + 2] * m[2] + vp->trans[r];
    float unit[4], Rq[9], qlen;
    if (!rd_quat_rotation(scene->rotations + 4 * i, unit, Rq, &qlen)) return; /* the forward culled it */
    float w = unit[0], x = unit[1], y = unit[2], z = unit[3];
    const float *ls = scene->log_scales + 3 * i;
    float s[3] = {expf(ls[0]), expf(ls[1]), expf(ls[2])};
    float limx = RD_FRUSTUM_MARGIN * vp->tan_half_fov_x, limy = RD_FRUSTUM_MARGIN * vp->tan_half_fov_y;
    float tz = t[2];
    bool clamp_x = !(fabsf(t[0] / tz) <= limx), clamp_y = !(fabsf(t[1] / tz) <= limy);
    float tx = rd_clampf(t[0] / tz, -limx, limx) * tz, ty = rd_clampf(t[1] / tz, -limy, limy) * tz;
    float J[6] = {vp->fx / tz, 0.0f, -vp->fx * tx / (tz * tz), 0.0f, vp->fy / tz, -vp->fy * ty / (tz * tz)};
    float JR[6], M[6], P[6]; /* JR = J Rw; M = JR Rq; P = M S */
    for (int r = 0; r < 2; r++) {
        for (int c = 0; c < 3; c++) JR[3 * r + c] = J[3 * r] * R[c] + J[3 * r + 1] * R[3 + c] + J[3 * r + 2] * R[6 + c];
        for (int c = 0; c < 3; c++) {
            M[3 * r + c] = JR[3 * r] * Rq[c] + JR[3 * r + 1] * Rq[3 + c] + JR[3 * r + 2] * Rq[6 + c];
            P[3 * r + c] = M[3 * r + c] * s[c];
        }
    }
    float a0 = P[0] * P[0] + P[1] * P[1] + P[2] * P[2];
    float b = P[0] * P[3] + P[1] * P[4] + P[2] * P[5];
    float c0 = P[3] * P[3] + P[4] * P[4] + P[5] * P[5];
    float m01 = P[0] * P[4] - P[1] * P[3], m02 = P[0] * P[5] - P[2] * P[3], m12 = P[1] * P[5] - P[2] * P[4];
    float det0 = m01 * m01 + m02 * m02 + m12 * m12;
    float det = det0 + RD_LOW_PASS * (a0 + c0) + RD_LOW_PASS * RD_LOW_PASS;
    float a = a0 + RD_LOW_PASS, c = c0 + RD_LOW_PASS;

    /* opacity: sigmoid(logit), times rho in antialiased mode */
    float sig = 1.0f / (1.0f + expf(-scene->opacities[i]));
    float rho = 1.0f, g_det0 = 0.0f, g_det = 0.0f;
    if (vp->flags & RD_RENDER_ANTIALIASED) {
        float ratio = det0 / det;
        rho = sqrtf(fmaxf(ratio, RD_AA_MIN_RHO * RD_AA_MIN_RHO));
        if (ratio > RD_AA_MIN_RHO * RD_AA_MIN_RHO) { /* rho = sqrt(det0 / det) */
            float g_rho = g2->opacity * sig;
            g_det0 += g_rho * 0.5f * rho / det0;
            g_det -= g_rho * 0.5f * rho / det;
        }
    }
    g->opacity += g2->opacity * rho * sig * (1.0f - sig);

    /* conic = (c, -b, a) / det */
    float ga = g2->conic[2] / det, gb = -g2->conic[1] / det, gc = g2->conic[0] / det;
    g_det -= (g2->conic[0] * c - g2->conic[1] * b + g2->conic[2] * a) / (det * det);
    /* det = a c - b^2 and det0 = a0 c0 - b^2 (a = a0 + 0.3, c = c0 + 0.3) */
    float g_a0 = ga + g_det * c + g_det0 * c0, g_c0 = gc + g_det * a + g_det0 * a0;
    float g_b = gb - 2.0f * b * (g_det + g_det0);

    /* Sigma2 = JR Sigma3 JR^T: dL/dSigma3 = JR^T G JR, G = dL/dSigma2 (b shared by both mirrors) */
    const int row[6] = {0, 0, 0, 1, 1, 2}, col[6] = {0, 1, 2, 1, 2, 2};
    for (int e = 0; e < 6; e++) {
        int i = row[e], j = col[e];
        g->covariance[e] += g_a0 * JR[i] * JR[j] + 0.5f * g_b * (JR[i] * JR[3 + j] + JR[3 + i] * JR[j]) + g_c0 * JR[3 + i] * JR[3 + j];
    }
    /* Sigma2 = P P^T: rows P0, P1 */
    float gP[6];
    for (int k = 0; k < 3; k++) {
        gP[k] = 2.0f * g_a0 * P[k] + g_b * P[3 + k];
        gP[3 + k] = 2.0f * g_c0 * P[3 + k] + g_b * P[k];
    }
    /* P = M S, M = JR Rq */
    float gM[6], g_s[3] = {0, 0, 0};
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 3; k++) {
            gM[3 * r + k] = gP[3 * r + k] * s[k];
            g_s[k] += gP[3 * r + k] * M[3 * r + k];
        }
    for (int k = 0; k < 3; k++) g->log_scale[k] += g_s[k] * s[k];
    float gRq[9], gJR[6];
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) gRq[3 * r + k] = JR[r] * gM[k] + JR[3 + r] * gM[3 + k];
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 3; k++)
            gJR[3 * r + k] = gM[3 * r] * Rq[3 * k] + gM[3 * r + 1] * Rq[3 * k + 1] + gM[3 * r + 2] * Rq[3 * k + 2];
    /* JR = J Rw: J's gradient, and Rw's (pose) */
    float gJ[6];
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 3; k++) gJ[3 * r + k] = gJR[3 * r] * R[3 * k] + gJR[3 * r + 1] * R[3 * k + 1] + gJR[3 * r + 2] * R[3 * k + 2];
    for (int mrow = 0; mrow < 3; mrow++)
        for (int k = 0; k < 3; k++) g->w2c[4 * mrow + k] += J[mrow] * gJR[k] + J[3 + mrow] * gJR[3 + k];

    /* the normalised quaternion's rotation matrix, then the normalisation */
    float gq[4] = {
        2.0f * (-z * gRq[1] + y * gRq[2] + z * gRq[3] - x * gRq[5] - y * gRq[6] + x * gRq[7]),
        2.0f * (y * gRq[1] + z * gRq[2] + y * gRq[3] - 2.0f * x * gRq[4] - w * gRq[5] + z * gRq[6] + w * gRq[7] - 2.0f * x * gRq[8]),
        2.0f * (-2.0f * y * gRq[0] + x * gRq[1] + w * gRq[2] + x * gRq[3] + z * gRq[5] - w * gRq[6] + z * gRq[7] - 2.0f * y * gRq[8]),
        2.0f * (-2.0f * z * gRq[0] - w * gRq[1] + x * gRq[2] + w * gRq[3] - 2.0f * z * gRq[4] + y * gRq[5] + x * gRq[6] + y * gRq[7])};
    float along = unit[0] * gq[0] + unit[1] * gq[1] + unit[2] * gq[2] + unit[3] * gq[3];
    for (int k = 0; k < 4; k++) g->rotation[k] += (gq[k] - unit[k] * along) / qlen;

    /* J from the clamped view-space position */
    float g_t[3] = {0.0f, 0.0f, 0.0f};
    float g_tx = -gJ[2] * vp->fx / (tz * tz), g_ty = -gJ[5] * vp->fy / (tz * tz);
    g_t[2] += -gJ[0] * vp->fx / (tz * tz) - gJ[4] * vp->fy / (tz * tz) + 2.0f * gJ[2] * vp->fx * tx / (tz * tz * tz) +
              2.0f * gJ[5] * vp->fy * ty / (tz * tz * tz);
    if (clamp_x) g_t[2] += g_tx * tx / tz; /* tx = +-limx tz */
    else g_t[0] += g_tx;
    if (clamp_y) g_t[2] += g_ty * ty / tz;
    else g_t[1] += g_ty;
    /* screen mean from the unclamped position, and the depth */
    g_t[0] += g2->u * vp->fx / tz;
    g_t[1] += g2->v * vp->fy / tz;
    g_t[2] += -(g2->u * vp->fx * t[0] + g2->v * vp->fy * t[1]) / (tz * tz) + g2->depth;
    /* t = Rw m + tw */
    for (int k = 0; k < 3; k++) g->mean[k] += R[k] * g_t[0] + R[3 + k] * g_t[1] + R[6 + k] * g_t[2];
    for (int r = 0; r < 3; r++) {
        for (int k = 0; k < 3; k++) g->w2c[4 * r + k] += g_t[r] * m[k];
        g->w2c[4 * r + 3] += g_t[r];
    }
}

#endif
