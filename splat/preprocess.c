/* preprocess.c: spec/gaussians.md steps 1-7 for one Gaussian, shared by the CPU renderer
   and the tests. GPU kernels mirror this function line by line. */
#include "splat.h"

#include <string.h>

void rd_view_params_init(rd_view_params *vp, const rd_camera *cam, const rd_render_desc *desc,
                         const rd_scene *scene)
{
    memset(vp, 0, sizeof *vp);
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) vp->rot[3 * r + c] = cam->w2c[4 * r + c];
        vp->trans[r] = cam->w2c[4 * r + 3];
    }
    rd_camera_center(cam, vp->centre);
    vp->fx = cam->fx;
    vp->fy = cam->fy;
    vp->cx = cam->cx;
    vp->cy = cam->cy;
    vp->tan_half_fov_x = 0.5f * (float)cam->width / cam->fx;
    vp->tan_half_fov_y = 0.5f * (float)cam->height / cam->fy;
    vp->near_plane = cam->near_plane > 0.0f ? cam->near_plane : RD_DEFAULT_NEAR;
    vp->far_plane = cam->far_plane > 0.0f ? cam->far_plane : RD_DEFAULT_FAR;
    vp->width = cam->width;
    vp->height = cam->height;
    vp->tiles_x = (cam->width + RD_TILE_SIZE - 1) / RD_TILE_SIZE;
    vp->tiles_y = (cam->height + RD_TILE_SIZE - 1) / RD_TILE_SIZE;
    vp->sh_degree = scene->sh_degree;
    if (desc->sh_degree > 0 && desc->sh_degree - 1 < vp->sh_degree) vp->sh_degree = desc->sh_degree - 1;
    vp->flags = desc->flags;
    if ((desc->flags & RD_RENDER_SCENE_FLAGS) && (scene->flags & RD_SCENE_ANTIALIASED))
        vp->flags |= RD_RENDER_ANTIALIASED;
    for (int c = 0; c < 3; c++) vp->background[c] = desc->background[c];
}

static float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Tile range [lo, hi) along one axis for a Gaussian at pixel coordinate p with radius r.
   Default rule: every pixel whose centre lies in [p - r, p + r]. INRIA rule: the original
   code's getRect, which uses integer-centred pixels (p - 0.5) and truncating division. */
static void tile_range(float p, float r, int tiles, bool inria, int32_t *lo, int32_t *hi)
{
    float a, b;
    if (inria) {
        float q = p - 0.5f;
        a = truncf((q - r) / RD_TILE_SIZE);
        b = truncf((q + r + RD_TILE_SIZE - 1) / RD_TILE_SIZE);
    } else {
        float first_pixel = ceilf(p - r - 0.5f), last_pixel = floorf(p + r - 0.5f);
        a = floorf(first_pixel / RD_TILE_SIZE);
        b = floorf(last_pixel / RD_TILE_SIZE) + 1.0f;
    }
    *lo = (int32_t)clampf(a, 0.0f, (float)tiles);
    *hi = (int32_t)clampf(b, 0.0f, (float)tiles);
}

rd_splat2d rd_splat_preprocess_one(const rd_view_params *vp, const rd_scene *scene, int64_t i)
{
    rd_splat2d out;
    memset(&out, 0, sizeof out);
    const float *m = scene->means + 3 * i;
    const float *R = vp->rot;

    /* 1. view space */
    float t[3];
    for (int r = 0; r < 3; r++) t[r] = R[3 * r] * m[0] + R[3 * r + 1] * m[1] + R[3 * r + 2] * m[2] + vp->trans[r];
    if (!(t[2] > vp->near_plane && t[2] < vp->far_plane) || !isfinite(t[0]) || !isfinite(t[1]))
        return out;

    /* 2. 3D covariance factor M = Rq S, so that Sigma = M M^T */
    /* normalise after dividing by the largest component, so tiny quaternions do not underflow */
    const float *q = scene->rotations + 4 * i;
    float qmax = fmaxf(fmaxf(fabsf(q[0]), fabsf(q[1])), fmaxf(fabsf(q[2]), fabsf(q[3])));
    if (!(qmax > 0.0f) || !isfinite(qmax)) return out;
    float w = q[0] / qmax, x = q[1] / qmax, y = q[2] / qmax, z = q[3] / qmax;
    float qn = sqrtf(w * w + x * x + y * y + z * z);
    w /= qn; x /= qn; y /= qn; z /= qn;
    float Rq[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                   2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                   2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)};
    const float *ls = scene->log_scales + 3 * i;
    float s[3] = {expf(ls[0]), expf(ls[1]), expf(ls[2])};

    /* 3. EWA projection with the frustum-clamped Jacobian */
    float limx = RD_FRUSTUM_MARGIN * vp->tan_half_fov_x, limy = RD_FRUSTUM_MARGIN * vp->tan_half_fov_y;
    float tz = t[2];
    float tx = clampf(t[0] / tz, -limx, limx) * tz, ty = clampf(t[1] / tz, -limy, limy) * tz;
    float J[6] = {vp->fx / tz, 0.0f, -vp->fx * tx / (tz * tz), 0.0f, vp->fy / tz, -vp->fy * ty / (tz * tz)};
    float P[6]; /* P = J Rw Rq S (2x3); Sigma2 = P P^T */
    for (int r = 0; r < 2; r++) {
        float JR[3];
        for (int c = 0; c < 3; c++) JR[c] = J[3 * r] * R[c] + J[3 * r + 1] * R[3 + c] + J[3 * r + 2] * R[6 + c];
        for (int c = 0; c < 3; c++)
            P[3 * r + c] = (JR[0] * Rq[c] + JR[1] * Rq[3 + c] + JR[2] * Rq[6 + c]) * s[c];
    }
    float a = P[0] * P[0] + P[1] * P[1] + P[2] * P[2];
    float b = P[0] * P[3] + P[1] * P[4] + P[2] * P[5];
    float c = P[3] * P[3] + P[4] * P[4] + P[5] * P[5];
    /* det(P P^T) as the sum of squared 2x2 minors of P (Cauchy-Binet): the same value as
       a*c - b*b without its cancellation, which in float wipes out elongated or huge
       Gaussians. The low-pass term then adds 0.3*(a + c) + 0.09. */
    float m01 = P[0] * P[4] - P[1] * P[3], m02 = P[0] * P[5] - P[2] * P[3], m12 = P[1] * P[5] - P[2] * P[4];
    float det_before = m01 * m01 + m02 * m02 + m12 * m12;
    float det = det_before + RD_LOW_PASS * (a + c) + RD_LOW_PASS * RD_LOW_PASS;
    a += RD_LOW_PASS;
    c += RD_LOW_PASS;

    float opacity = 1.0f / (1.0f + expf(-scene->opacities[i]));
    if (vp->flags & RD_RENDER_ANTIALIASED)
        opacity *= sqrtf(fmaxf(det_before / det, RD_AA_MIN_RHO * RD_AA_MIN_RHO));

    /* 4. screen mean from the unclamped position */
    float u = vp->fx * t[0] / tz + vp->cx, v = vp->fy * t[1] / tz + vp->cy;

    /* 5. conic */
    if (!(det > 0.0f) || !isfinite(det) || !isfinite(u) || !isfinite(v) || !isfinite(opacity)) return out;
    out.conic[0] = c / det;
    out.conic[1] = -b / det;
    out.conic[2] = a / det;

    /* 6. extent */
    float rx, ry;
    bool inria = (vp->flags & RD_RENDER_INRIA_EXTENT) != 0;
    if (inria) {
        float mid = 0.5f * (a + c);
        float lambda = mid + sqrtf(fmaxf(0.1f, mid * mid - det));
        rx = ry = ceilf(3.0f * sqrtf(lambda));
    } else {
        if (opacity < RD_MIN_ALPHA) return out;
        float k = fminf(3.33f, sqrtf(2.0f * logf(opacity * 255.0f)));
        rx = ceilf(k * sqrtf(a));
        ry = ceilf(k * sqrtf(c));
    }
    tile_range(u, rx, vp->tiles_x, inria, &out.tile_min[0], &out.tile_max[0]);
    tile_range(v, ry, vp->tiles_y, inria, &out.tile_min[1], &out.tile_max[1]);
    if (out.tile_max[0] <= out.tile_min[0] || out.tile_max[1] <= out.tile_min[1]) return out;

    /* 7. colour */
    float d[3] = {m[0] - vp->centre[0], m[1] - vp->centre[1], m[2] - vp->centre[2]};
    float dn = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (dn > 0.0f) { d[0] /= dn; d[1] /= dn; d[2] /= dn; }
    int K = rd_sh_coeffs(scene->sh_degree);
    rd_sh_to_rgb(vp->sh_degree, scene->sh + (size_t)i * (size_t)K * 3, d, out.rgb);
    for (int ch = 0; ch < 3; ch++) {
        out.rgb[ch] += 0.5f;
        if (!isfinite(out.rgb[ch])) return out;
        if (out.rgb[ch] < 0.0f) {
            out.rgb[ch] = 0.0f;
            out.clamped |= 1u << ch;
        }
    }

    out.u = u;
    out.v = v;
    out.opacity = opacity;
    out.depth = tz;
    out.tiles_touched = (uint32_t)((out.tile_max[0] - out.tile_min[0]) * (out.tile_max[1] - out.tile_min[1]));
    return out;
}
