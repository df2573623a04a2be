/* splat_math.h: the per-Gaussian maths of spec/gaussians.md, written once for every
   backend: C11 includes it for the CPU renderer, nvcc for the CUDA kernels (RD_HD marks
   the functions for both). The Vulkan shaders transcribe the same lines into GLSL. */
#ifndef RD_SPLAT_MATH_H
#define RD_SPLAT_MATH_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __CUDACC__
#define RD_HD __host__ __device__
#else
#define RD_HD
#endif

#include "../renderer/include/radiant.h"

#define RD_TILE_SIZE 16
#define RD_DEFAULT_NEAR 0.01f
#define RD_DEFAULT_FAR 1e10f
#define RD_LOW_PASS 0.3f
#define RD_MIN_ALPHA (1.0f / 255.0f)
#define RD_MAX_ALPHA 0.99f
#define RD_MIN_TRANSMITTANCE 1e-4f
#define RD_AA_MIN_RHO 0.005f
#define RD_FRUSTUM_MARGIN 1.3f

/* The camera as the kernels use it. */
typedef struct rd_view_params {
    float rot[9];     /* world-to-camera rotation, row-major */
    float trans[3];
    float centre[3];  /* camera centre in world space */
    float fx, fy, cx, cy;
    float tan_half_fov_x, tan_half_fov_y;
    float near_plane, far_plane;
    int width, height;
    int tiles_x, tiles_y;
    int sh_degree;    /* degree used for colour: min(scene, requested) */
    uint32_t flags;   /* RD_RENDER_* in effect */
    float background[3];
} rd_view_params;

/* One Gaussian after preprocessing. tiles_touched == 0 means culled. */
typedef struct rd_splat2d {
    float u, v;          /* screen mean, pixels */
    float conic[3];      /* inverse 2D covariance: a, b, c of [[a, b], [b, c]] */
    float opacity;       /* sigmoid(logit), times rho in antialiased mode */
    float depth;         /* view-space z */
    float rgb[3];
    int32_t tile_min[2]; /* first tile x, y */
    int32_t tile_max[2]; /* one past the last tile x, y */
    uint32_t tiles_touched;
    uint32_t clamped;    /* bit c: colour channel c was clamped at 0 */
} __attribute__((aligned(16))) rd_splat2d; /* 64 bytes, stored with four 16-byte writes on GPUs */

/* Gaussian arrays as the kernels read them (host or device pointers). */
typedef struct rd_gaussians {
    int64_t count;
    int sh_degree;
    const float *means, *log_scales, *rotations, *opacities, *sh;
} rd_gaussians;

/* The spherical harmonics basis up to degree in direction dir (unit); returns how many of
   basis it filled, (degree + 1)^2. */
RD_HD static inline int rd_sh_basis(int degree, const float dir[3], float basis[16])
{
    const float C0 = 0.28209479177387814f, C1 = 0.4886025119029199f;
    const float C2[5] = {1.0925484305920792f, -1.0925484305920792f, 0.31539156525252005f, -1.0925484305920792f,
                         0.5462742152960396f};
    const float C3[7] = {-0.5900435899266435f, 2.890611442640554f, -0.4570457994644658f, 0.3731763325901154f,
                         -0.4570457994644658f, 1.445305721320277f, -0.5900435899266435f};
    float x = dir[0], y = dir[1], z = dir[2];
    int k = 1;
    basis[0] = C0;
    if (degree > 0) {
        basis[1] = -C1 * y;
        basis[2] = C1 * z;
        basis[3] = -C1 * x;
        k = 4;
    }
    if (degree > 1) {
        float xx = x * x, yy = y * y, zz = z * z;
        basis[4] = C2[0] * x * y;
        basis[5] = C2[1] * y * z;
        basis[6] = C2[2] * (2.0f * zz - xx - yy);
        basis[7] = C2[3] * x * z;
        basis[8] = C2[4] * (xx - yy);
        k = 9;
        if (degree > 2) {
            basis[9] = C3[0] * y * (3.0f * xx - yy);
            basis[10] = C3[1] * x * y * z;
            basis[11] = C3[2] * y * (4.0f * zz - xx - yy);
            basis[12] = C3[3] * z * (2.0f * zz - 3.0f * xx - 3.0f * yy);
            basis[13] = C3[4] * x * (4.0f * zz - xx - yy);
            basis[14] = C3[5] * z * (xx - yy);
            basis[15] = C3[6] * x * (xx - 3.0f * yy);
            k = 16;
        }
    }
    return k;
}

/* Spherical harmonics colour (before +0.5 and clamping) of one Gaussian, direction dir
   (unit), coefficients sh (K*3, RGB inner), evaluated up to degree. */
RD_HD static inline void rd_sh_to_rgb(int degree, const float *sh, const float dir[3], float rgb[3])
{
    float basis[16];
    int k = rd_sh_basis(degree, dir, basis);
    float r = 0.0f, g = 0.0f, b = 0.0f;
    for (int j = 0; j < k; j++) {
        r += basis[j] * sh[3 * j + 0];
        g += basis[j] * sh[3 * j + 1];
        b += basis[j] * sh[3 * j + 2];
    }
    rgb[0] = r;
    rgb[1] = g;
    rgb[2] = b;
}

RD_HD static inline float rd_clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Tile range [lo, hi) along one axis for a Gaussian at pixel coordinate p with radius r.
   Default rule: every pixel whose centre lies in [p - r, p + r]. INRIA rule: the original
   code's getRect, which uses integer-centred pixels (p - 0.5) and truncating division. */
RD_HD static inline void rd_tile_range(float p, float r, int tiles, bool inria, int32_t *lo, int32_t *hi)
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
    *lo = (int32_t)rd_clampf(a, 0.0f, (float)tiles);
    *hi = (int32_t)rd_clampf(b, 0.0f, (float)tiles);
}

/* Below this power a Gaussian's alpha is surely under 1/255, so blending may skip exp()
   there; the 1e-3 margin leaves every case near the threshold to the exact test. */
RD_HD static inline float rd_power_cutoff(float opacity) { return -logf(255.0f * opacity) - 1e-3f; }

/* Spec step 9's alpha of a Gaussian (conic a, b, c) at offset (dx, dy) from its mean to
   the pixel centre; false when the pixel skips it (power > 0, or alpha < 1/255). */
RD_HD static inline bool rd_splat_alpha(float a, float b, float c, float opacity, float cutoff, float dx, float dy,
                                        float *alpha)
{
    float power = -0.5f * (a * dx * dx + c * dy * dy) - b * dx * dy;
    if (power > 0.0f || power < cutoff) return false;
    *alpha = fminf(RD_MAX_ALPHA, opacity * expf(power));
    return *alpha >= RD_MIN_ALPHA;
}

/* Spec step 10's depth output from the accumulated depth D and final transmittance T. */
RD_HD static inline float rd_pixel_depth(float D, float T, uint32_t flags)
{
    if (!(flags & RD_RENDER_EXPECTED_DEPTH)) return D;
    return T < 1.0f ? D / (1.0f - T) : 0.0f;
}

/* Whether Gaussian s can reach alpha >= 1/255 at a pixel centre of tile (tx, ty): the
   minimum of its quadratic form over the tile's rectangle of pixel centres, against
   2 ln(255 opacity). For a convex form whose minimum (the mean) lies outside the rectangle,
   the minimum is on an edge, at the clamped 1-D minimiser. The threshold is loosened by
   1e-3 so that rounding never drops a tile that a pixel needs. INRIA's extent is defined
   by its square alone, so every tile of the rectangle counts there. Rectangles over
   RD_ELLIPSE_TEST_MAX_TILES tiles also keep every tile: testing each would cost a GPU
   thread more than the pairs it saves (measured on the donut scene). */
#define RD_ELLIPSE_TEST_MAX_TILES 32
RD_HD static inline float rd_touch_limit(float opacity) { return 2.0f * logf(255.0f * opacity) * 1.001f + 1e-3f; }
/* The division that places the clamped minimiser: exact on the CPU (the specification),
   on a GPU a multiply by the denominator's fast reciprocal. Where the form is minimised
   along an edge it is flat, so the point's few-ulp error moves the form's value far less
   than the 1e-3 margin. The binning's count (preprocess) and its keys (emission) run the
   same code on the same device, so they agree. IEEE division made the CUDA blend's
   per-warp culling 10% slower, and the binning's per-tile tests spend most of their time
   dividing. */
RD_HD static inline float rd_minimiser_div(float num, float den)
{
#ifdef __CUDA_ARCH__
    float rcp;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(rcp) : "f"(den));
    return num * rcp;
#else
    return num / den;
#endif
}
/* The test on any rectangle of pixel centres [x0, x1] x [y0, y1] (absolute pixel
   coordinates); limit is rd_touch_limit(opacity). The form's minimum over the rectangle
   is 0 where the mean is inside it, and otherwise lies on an edge that faces the mean
   (from a point of any other edge, the way to the mean leads into the rectangle, where
   the form falls): the vertical one at dx = clamp(0, x0, x1), the horizontal one at
   dy = clamp(0, y0, y1). Where no edge of a direction faces the mean, that clamp gives
   the segment through the mean, which lies in the rectangle, so testing it changes
   nothing. Along each segment the form's minimiser is clamped to it: two evaluations,
   where testing all four edges took up to four. The CUDA blend also uses it to skip, per
   warp, the Gaussians that miss the warp's pixels of the tile. */
RD_HD static inline bool rd_rect_touches(float u, float v, const float *conic, float limit, float x0, float x1, float y0,
                                         float y1)
{
    x0 -= u, x1 -= u, y0 -= v, y1 -= v;
    if (x0 <= 0.0f && x1 >= 0.0f && y0 <= 0.0f && y1 >= 0.0f) return true; /* no division for a splat's own tile */
    float a = conic[0], b = conic[1], c = conic[2];
    float dx = rd_clampf(0.0f, x0, x1), dy = rd_clampf(rd_minimiser_div(-b * dx, c), y0, y1);
    if (a * dx * dx + 2.0f * b * dx * dy + c * dy * dy <= limit) return true;
    dy = rd_clampf(0.0f, y0, y1);
    dx = rd_clampf(rd_minimiser_div(-b * dy, a), x0, x1);
    return a * dx * dx + 2.0f * b * dx * dy + c * dy * dy <= limit;
}
RD_HD static inline bool rd_tile_touches(const rd_splat2d *s, const rd_view_params *vp, int tx, int ty)
{
    if (vp->flags & RD_RENDER_INRIA_EXTENT) return true;
    if ((s->tile_max[0] - s->tile_min[0]) * (s->tile_max[1] - s->tile_min[1]) > RD_ELLIPSE_TEST_MAX_TILES) return true;
    int px1 = (tx + 1) * RD_TILE_SIZE < vp->width ? (tx + 1) * RD_TILE_SIZE : vp->width;
    int py1 = (ty + 1) * RD_TILE_SIZE < vp->height ? (ty + 1) * RD_TILE_SIZE : vp->height;
    return rd_rect_touches(s->u, s->v, s->conic, rd_touch_limit(s->opacity), (float)(tx * RD_TILE_SIZE) + 0.5f,
                           (float)px1 - 0.5f, (float)(ty * RD_TILE_SIZE) + 0.5f, (float)py1 - 0.5f);
}

/* Tiles of s's rectangle that rd_tile_touches accepts: all of them where it accepts every
   tile (so that a huge splat costs no loop over its tiles). Where the tiles are tested one
   by one, *accepted gets a bit for each tile accepted, bit (y - tile_min y) * width +
   (x - tile_min x), which RD_ELLIPSE_TEST_MAX_TILES = 32 lets one word hold; otherwise it
   is 0. The CUDA emission writes the keys from it rather than testing each tile again. */
RD_HD static inline uint32_t rd_count_tiles_accepted(const rd_splat2d *s, const rd_view_params *vp, uint32_t *accepted)
{
    int32_t area = (s->tile_max[0] - s->tile_min[0]) * (s->tile_max[1] - s->tile_min[1]);
    *accepted = 0;
    if ((vp->flags & RD_RENDER_INRIA_EXTENT) || area > RD_ELLIPSE_TEST_MAX_TILES) return (uint32_t)area;
    uint32_t mask = 0, bit = 1;
    for (int y = s->tile_min[1]; y < s->tile_max[1]; y++)
        for (int x = s->tile_min[0]; x < s->tile_max[0]; x++, bit <<= 1)
            if (rd_tile_touches(s, vp, x, y)) mask |= bit;
    *accepted = mask;
#ifdef __CUDA_ARCH__
    return (uint32_t)__popc(mask);
#else
    return (uint32_t)__builtin_popcount(mask);
#endif
}
RD_HD static inline uint32_t rd_count_tiles(const rd_splat2d *s, const rd_view_params *vp)
{
    uint32_t accepted;
    return rd_count_tiles_accepted(s, vp, &accepted);
}

/* Step 2's rotation: q (w x y z, any length) normalised into unit, dividing by its largest
   component first so that tiny quaternions do not underflow, and its matrix Rq; *length
   gets |q|. False for a zero or non-finite q. */
RD_HD static inline bool rd_quat_rotation(const float *q, float unit[4], float Rq[9], float *length)
{
    float qmax = fmaxf(fmaxf(fabsf(q[0]), fabsf(q[1])), fmaxf(fabsf(q[2]), fabsf(q[3])));
    if (!(qmax > 0.0f) || !isfinite(qmax)) return false;
    float w = q[0] / qmax, x = q[1] / qmax, y = q[2] / qmax, z = q[3] / qmax;
    float qn = sqrtf(w * w + x * x + y * y + z * z);
    w /= qn; x /= qn; y /= qn; z /= qn;
    unit[0] = w, unit[1] = x, unit[2] = y, unit[3] = z;
    Rq[0] = 1 - 2 * (y * y + z * z), Rq[1] = 2 * (x * y - w * z), Rq[2] = 2 * (x * z + w * y);
    Rq[3] = 2 * (x * y + w * z), Rq[4] = 1 - 2 * (x * x + z * z), Rq[5] = 2 * (y * z - w * x);
    Rq[6] = 2 * (x * z - w * y), Rq[7] = 2 * (y * z + w * x), Rq[8] = 1 - 2 * (x * x + y * y);
    *length = qn * qmax;
    return true;
}

/* Spec steps 1-6 for a Gaussian (its mean, rotation w x y z, log-scales and opacity logit,
   wherever the caller keeps them): view transform, covariance, projection, conic and tile
   range. False when it is culled (out's tiles_touched stays 0). */
RD_HD static inline bool rd_splat_project_at(const rd_view_params *vp, const float *m, const float *rotation,
                                             const float *log_scales, const float *opacity_logit, rd_splat2d *out)
{
    const float *R = vp->rot;

    /* 1. view space */
    float t[3];
    for (int r = 0; r < 3; r++) t[r] = R[3 * r] * m[0] + R[3 * r + 1] * m[1] + R[3 * r + 2] * m[2] + vp->trans[r];
    if (!(t[2] > vp->near_plane && t[2] < vp->far_plane) || !isfinite(t[0]) || !isfinite(t[1]))
        return false;

    /* 2. 3D covariance factor M = Rq S, so that Sigma = M M^T */
    float unit[4], Rq[9], qlen;
    if (!rd_quat_rotation(rotation, unit, Rq, &qlen)) return false;
    const float *ls = log_scales;
    float s[3] = {expf(ls[0]), expf(ls[1]), expf(ls[2])};

    /* 3. EWA projection with the frustum-clamped Jacobian */
    float limx = RD_FRUSTUM_MARGIN * vp->tan_half_fov_x, limy = RD_FRUSTUM_MARGIN * vp->tan_half_fov_y;
    float tz = t[2];
    float tx = rd_clampf(t[0] / tz, -limx, limx) * tz, ty = rd_clampf(t[1] / tz, -limy, limy) * tz;
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

    float opacity = 1.0f / (1.0f + expf(-*opacity_logit));
    if (vp->flags & RD_RENDER_ANTIALIASED)
        opacity *= sqrtf(fmaxf(det_before / det, RD_AA_MIN_RHO * RD_AA_MIN_RHO));

    /* 4. screen mean from the unclamped position */
    float u = vp->fx * t[0] / tz + vp->cx, v = vp->fy * t[1] / tz + vp->cy;

    /* 5. conic */
    if (!(det > 0.0f) || !isfinite(det) || !isfinite(u) || !isfinite(v) || !isfinite(opacity)) return false;
    out->conic[0] = c / det;
    out->conic[1] = -b / det;
    out->conic[2] = a / det;

    /* 6. extent */
    float rx, ry;
    bool inria = (vp->flags & RD_RENDER_INRIA_EXTENT) != 0;
    if (inria) {
        float mid = 0.5f * (a + c);
        float lambda = mid + sqrtf(fmaxf(0.1f, mid * mid - det));
        rx = ry = ceilf(3.0f * sqrtf(lambda));
    } else {
        if (opacity < RD_MIN_ALPHA) return false;
        float k = fminf(3.33f, sqrtf(2.0f * logf(opacity * 255.0f)));
        rx = ceilf(k * sqrtf(a));
        ry = ceilf(k * sqrtf(c));
    }
    rd_tile_range(u, rx, vp->tiles_x, inria, &out->tile_min[0], &out->tile_max[0]);
    rd_tile_range(v, ry, vp->tiles_y, inria, &out->tile_min[1], &out->tile_max[1]);
    if (out->tile_max[0] <= out->tile_min[0] || out->tile_max[1] <= out->tile_min[1]) return false;

    out->u = u;
    out->v = v;
    out->opacity = opacity;
    out->depth = tz;
    return true;
}

/* rd_splat_project_at for Gaussian i of the scene's arrays. */
RD_HD static inline bool rd_splat_project(const rd_view_params *vp, const rd_gaussians *scene, int64_t i, rd_splat2d *out)
{
    return rd_splat_project_at(vp, scene->means + 3 * i, scene->rotations + 4 * i, scene->log_scales + 3 * i,
                               scene->opacities + i, out);
}

/* The unit direction from the camera's centre to mean (zero where they meet). */
RD_HD static inline void rd_view_direction(const rd_view_params *vp, const float mean[3], float d[3])
{
    d[0] = mean[0] - vp->centre[0], d[1] = mean[1] - vp->centre[1], d[2] = mean[2] - vp->centre[2];
    float dn = sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
    if (dn > 0.0f) { d[0] /= dn; d[1] /= dn; d[2] /= dn; }
}

/* The SH colour in out->rgb plus 0.5, clamped at 0 (out->clamped says which channels);
   false where a channel is not finite. */
RD_HD static inline bool rd_colour_finish(rd_splat2d *out)
{
    for (int ch = 0; ch < 3; ch++) {
        out->rgb[ch] += 0.5f;
        if (!isfinite(out->rgb[ch])) return false;
        if (out->rgb[ch] < 0.0f) {
            out->rgb[ch] = 0.0f;
            out->clamped |= 1u << ch;
        }
    }
    return true;
}

/* Spec step 7 for a Gaussian that rd_splat_project kept: colour from its coefficients sh
   (K*3 floats, wherever the caller keeps them). False when the colour is not finite. */
RD_HD static inline bool rd_splat_colour(const rd_view_params *vp, const float mean[3], const float *sh, rd_splat2d *out)
{
    float d[3];
    rd_view_direction(vp, mean, d);
    rd_sh_to_rgb(vp->sh_degree, sh, d, out->rgb);
    return rd_colour_finish(out);
}

/* rd_splat_colour, then the tile count (out keeps tiles_touched 0 where it fails). */
RD_HD static inline bool rd_splat_shade(const rd_view_params *vp, const float mean[3], const float *sh, rd_splat2d *out)
{
    if (!rd_splat_colour(vp, mean, sh, out)) return false;
    out->tiles_touched = rd_count_tiles(out, vp);
    return true;
}

/* Spec steps 1-7 for Gaussian i (tiles_touched 0: culled). */
RD_HD static inline rd_splat2d rd_splat_preprocess(const rd_view_params *vp, const rd_gaussians *scene, int64_t i)
{
    rd_splat2d out = {0};
    if (!rd_splat_project(vp, scene, i, &out)) return out;
    size_t K = (size_t)(scene->sh_degree + 1) * (size_t)(scene->sh_degree + 1);
    rd_splat_shade(vp, scene->means + 3 * i, scene->sh + (size_t)i * K * 3, &out);
    return out;
}

#endif
