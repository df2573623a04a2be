/* procedural.c: the built-in demo scene, a pure function of (count, seed): a beach ball
   with a tilted ring, standing on a checkered floor. Gaussians are flat discs on the
   surfaces; a degree-1 SH term darkens surfaces seen at grazing angles and a small
   degree-2/3 term adds sheen, so the colours change with the view. World is z-up. */
#include "scene.h"
#include "../renderer/random.h"

#include <stdio.h>
#include <math.h>
#include <string.h>

#define PI_F 3.14159265358979f
static const float SH_C1 = 0.4886025119029199f;

/* Quaternion (w, x, y, z) of the rotation whose columns are (t1, t2, n). */
static void frame_to_quat(const float t1[3], const float t2[3], const float n[3], float q[4])
{
    float m00 = t1[0], m11 = t2[1], m22 = n[2];
    float tr = m00 + m11 + m22;
    float w, x, y, z;
    if (tr > 0.0f) {
        float s = sqrtf(tr + 1.0f) * 2.0f;
        w = 0.25f * s; x = (t2[2] - n[1]) / s; y = (n[0] - t1[2]) / s; z = (t1[1] - t2[0]) / s;
    } else if (m00 > m11 && m00 > m22) {
        float s = sqrtf(1.0f + m00 - m11 - m22) * 2.0f;
        w = (t2[2] - n[1]) / s; x = 0.25f * s; y = (t2[0] + t1[1]) / s; z = (n[0] + t1[2]) / s;
    } else if (m11 > m22) {
        float s = sqrtf(1.0f + m11 - m00 - m22) * 2.0f;
        w = (n[0] - t1[2]) / s; x = (t2[0] + t1[1]) / s; y = 0.25f * s; z = (n[1] + t2[2]) / s;
    } else {
        float s = sqrtf(1.0f + m22 - m00 - m11) * 2.0f;
        w = (t1[1] - t2[0]) / s; x = (n[0] + t1[2]) / s; y = (n[1] + t2[2]) / s; z = 0.25f * s;
    }
    q[0] = w; q[1] = x; q[2] = y; q[3] = z;
}

static void cross(const float a[3], const float b[3], float o[3])
{
    o[0] = a[1] * b[2] - a[2] * b[1];
    o[1] = a[2] * b[0] - a[0] * b[2];
    o[2] = a[0] * b[1] - a[1] * b[0];
}

static void normalize(float v[3])
{
    float l = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    v[0] /= l; v[1] /= l; v[2] /= l;
}

/* Writes Gaussian i: a disc at p with normal n, tangent radius `size`, colour rgb. */
static void put_disc(rd_scene *s, int64_t i, rd_rng *r, const float p[3], const float n_in[3],
                     float size, const float rgb[3], float sheen)
{
    float n[3] = {n_in[0], n_in[1], n_in[2]};
    normalize(n);
    float helper[3] = {fabsf(n[0]) < 0.9f ? 1.0f : 0.0f, fabsf(n[0]) < 0.9f ? 0.0f : 1.0f, 0.0f};
    float t1[3], t2[3];
    cross(helper, n, t1);
    normalize(t1);
    cross(n, t1, t2);
    memcpy(s->means + 3 * i, p, 3 * sizeof(float));
    float ls = logf(size * (0.8f + 0.4f * rd_rng_uniform(r)));
    s->log_scales[3 * i + 0] = ls;
    s->log_scales[3 * i + 1] = ls + 0.3f * rd_rng_normal(r);
    s->log_scales[3 * i + 2] = ls + logf(0.15f);
    frame_to_quat(t1, t2, n, s->rotations + 4 * i);
    s->opacities[i] = 2.0f + 0.5f * rd_rng_normal(r);
    float *sh = s->sh + (size_t)i * 16 * 3;
    for (int c = 0; c < 3; c++) {
        float jitter = 0.03f * rd_rng_normal(r);
        sh[c] = rd_dc_from_color(rgb[c] + jitter);
        /* colour += -0.25 (d . n) * rgb: bright facing the viewer, darker at grazing angles */
        float k = 0.25f * rgb[c];
        sh[3 * 1 + c] = k * n[1] / SH_C1;
        sh[3 * 2 + c] = -k * n[2] / SH_C1;
        sh[3 * 3 + c] = k * n[0] / SH_C1;
        for (int j = 4; j < 16; j++) sh[3 * j + c] = sheen * rd_rng_normal(r);
    }
}

static void beach_ball_colour(float lon, float lat, float rgb[3])
{
    static const float segments[6][3] = {{0.85f, 0.12f, 0.10f}, {0.95f, 0.85f, 0.15f}, {0.10f, 0.35f, 0.85f},
                                         {0.95f, 0.95f, 0.92f}, {0.15f, 0.70f, 0.25f}, {0.95f, 0.50f, 0.10f}};
    if (fabsf(lat) > 1.25f) {
        rgb[0] = rgb[1] = rgb[2] = 0.95f;
        return;
    }
    int k = (int)floorf((lon + PI_F) / (2.0f * PI_F) * 6.0f) % 6;
    memcpy(rgb, segments[k < 0 ? k + 6 : k], 3 * sizeof(float));
}

rd_result rd_scene_create_demo(rd_context *ctx, const rd_demo_desc *desc, rd_scene **out)
{
    static const rd_demo_desc defaults = {0};
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_create_demo: out is NULL");
    if (!desc) desc = &defaults;
    int64_t count = desc->count > 0 ? desc->count : 300000;
    if (count < 16) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "demo scene: count %lld is below 16", (long long)count);
    rd_result res = rd_scene_alloc(ctx, count, 3, out);
    if (res != RD_OK) return res;
    rd_scene *s = *out;
    snprintf(s->format, sizeof s->format, "procedural");
    rd_rng r = {desc->seed ? desc->seed : 0x5241444941ull};

    const float ball_r = 1.0f, ball_c[3] = {0.0f, 0.0f, 1.05f};
    const float ring_R = 1.55f, ring_r = 0.09f, tilt = 0.35f, floor_r = 3.2f;
    int64_t n_floor = count * 35 / 100, n_ball = count * 42 / 100, n_ring = count - n_floor - n_ball;
    int64_t i = 0;

    float floor_size = 1.3f * sqrtf(PI_F * floor_r * floor_r / (float)n_floor);
    for (int64_t k = 0; k < n_floor; k++, i++) {
        float rad = floor_r * sqrtf(rd_rng_uniform(&r)), ang = 2.0f * PI_F * rd_rng_uniform(&r);
        float p[3] = {rad * cosf(ang), rad * sinf(ang), 0.0f}, n[3] = {0, 0, 1};
        bool dark = ((int)floorf(p[0] / 0.5f) + (int)floorf(p[1] / 0.5f)) & 1;
        float base = dark ? 0.30f : 0.80f;
        float shadow = 1.0f - 0.6f * expf(-(p[0] * p[0] + p[1] * p[1]) / 0.8f);
        float rgb[3] = {base * shadow, base * shadow * 0.97f, base * shadow * 0.92f};
        put_disc(s, i, &r, p, n, floor_size, rgb, 0.005f);
    }
    float ball_size = 1.3f * sqrtf(4.0f * PI_F * ball_r * ball_r / (float)n_ball);
    for (int64_t k = 0; k < n_ball; k++, i++) {
        float z = 2.0f * rd_rng_uniform(&r) - 1.0f, ang = 2.0f * PI_F * rd_rng_uniform(&r), rxy = sqrtf(1.0f - z * z);
        float n[3] = {rxy * cosf(ang), rxy * sinf(ang), z};
        float p[3] = {ball_c[0] + ball_r * n[0], ball_c[1] + ball_r * n[1], ball_c[2] + ball_r * n[2]};
        float rgb[3];
        beach_ball_colour(atan2f(n[1], n[0]), asinf(z), rgb);
        put_disc(s, i, &r, p, n, ball_size, rgb, 0.02f);
    }
    float ring_size = 1.3f * sqrtf(4.0f * PI_F * PI_F * ring_R * ring_r / (float)n_ring);
    float ct = cosf(tilt), st = sinf(tilt);
    for (int64_t k = 0; k < n_ring; k++, i++) {
        float a = 2.0f * PI_F * rd_rng_uniform(&r), b = 2.0f * PI_F * rd_rng_uniform(&r);
        /* torus in the xy plane, then tilted about x */
        float n0[3] = {cosf(b) * cosf(a), cosf(b) * sinf(a), sinf(b)};
        float p0[3] = {(ring_R + ring_r * cosf(b)) * cosf(a), (ring_R + ring_r * cosf(b)) * sinf(a), ring_r * sinf(b)};
        float p[3] = {p0[0] + ball_c[0], ct * p0[1] - st * p0[2] + ball_c[1], st * p0[1] + ct * p0[2] + ball_c[2]};
        float n[3] = {n0[0], ct * n0[1] - st * n0[2], st * n0[1] + ct * n0[2]};
        bool band = ((int)floorf(a / (2.0f * PI_F) * 48.0f)) & 1;
        float rgb[3] = {band ? 0.85f : 0.55f, band ? 0.70f : 0.35f, band ? 0.25f : 0.15f};
        put_disc(s, i, &r, p, n, ring_size, rgb, 0.03f);
    }
    return RD_OK;
}
