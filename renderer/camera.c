/* camera.c: camera construction helpers, and the check every camera passes before it is
   rendered or taken from a file (rd_camera_problem). */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void normalize3(float v[3])
{
    float n = sqrtf(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (n > 0.0f) { v[0] /= n; v[1] /= n; v[2] /= n; }
}

static void cross3(const float a[3], const float b[3], float out[3])
{
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

rd_camera rd_camera_look_at(const float eye[3], const float target[3], const float up[3],
                            int width, int height, float fov_x_degrees)
{
    rd_camera cam;
    memset(&cam, 0, sizeof cam);
    /* OpenCV axes: z forward, x right, y down */
    float z[3] = {target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]};
    normalize3(z);
    float x[3], y[3];
    float down[3] = {-up[0], -up[1], -up[2]};
    cross3(down, z, x); /* right = down x forward */
    normalize3(x);
    cross3(z, x, y);
    const float *rows[3] = {x, y, z};
    for (int r = 0; r < 3; r++) {
        cam.w2c[4 * r + 0] = rows[r][0];
        cam.w2c[4 * r + 1] = rows[r][1];
        cam.w2c[4 * r + 2] = rows[r][2];
        cam.w2c[4 * r + 3] = -(rows[r][0] * eye[0] + rows[r][1] * eye[1] + rows[r][2] * eye[2]);
    }
    cam.w2c[15] = 1.0f;
    cam.width = width;
    cam.height = height;
    cam.fx = cam.fy = 0.5f * (float)width / tanf(0.5f * fov_x_degrees * 3.14159265f / 180.0f);
    cam.cx = 0.5f * (float)width;
    cam.cy = 0.5f * (float)height;
    return cam;
}

rd_camera rd_camera_resized(const rd_camera *camera, int width, int height)
{
    rd_camera c = *camera;
    float sx = (float)width / (float)camera->width, sy = (float)height / (float)camera->height;
    c.width = width;
    c.height = height;
    c.fx *= sx;
    c.cx *= sx;
    c.fy *= sy;
    c.cy *= sy;
    return c;
}

void rd_camera_center(const rd_camera *c, float out[3])
{
    /* centre = -R^T t */
    for (int a = 0; a < 3; a++)
        out[a] = -(c->w2c[0 * 4 + a] * c->w2c[3] + c->w2c[1 * 4 + a] * c->w2c[7] +
                   c->w2c[2 * 4 + a] * c->w2c[11]);
}

const char *rd_camera_problem(const rd_camera *c, char *buf, size_t n)
{
    if (c->width < 1 || c->height < 1 || c->width > 65536 || c->height > 65536) {
        snprintf(buf, n, "size %dx%d is out of range (1..65536)", c->width, c->height);
        return buf;
    }
    if (!(c->fx > 0.0f) || !(c->fy > 0.0f) || !isfinite(c->fx) || !isfinite(c->fy) || !isfinite(c->cx) || !isfinite(c->cy)) {
        snprintf(buf, n, "intrinsics fx=%g fy=%g cx=%g cy=%g must be finite, focal lengths positive", c->fx, c->fy, c->cx,
                 c->cy);
        return buf;
    }
    for (int k = 0; k < 16; k++)
        if (!isfinite(c->w2c[k])) {
            snprintf(buf, n, "w2c[%d][%d] is %g, not a finite number", k / 4, k % 4, c->w2c[k]);
            return buf;
        }
    const float *m = c->w2c;
    if (m[12] != 0.0f || m[13] != 0.0f || m[14] != 0.0f || m[15] != 1.0f) {
        snprintf(buf, n, "w2c's last row is [%g %g %g %g], not [0 0 0 1]", m[12], m[13], m[14], m[15]);
        return buf;
    }
    /* rows of the rotation: unit length and perpendicular, within the tolerance */
    for (int a = 0; a < 3; a++)
        for (int b = a; b < 3; b++) {
            double dot = (double)m[4 * a] * m[4 * b] + (double)m[4 * a + 1] * m[4 * b + 1] + (double)m[4 * a + 2] * m[4 * b + 2];
            double want = a == b ? 1.0 : 0.0;
            if (!(fabs(dot - want) <= RD_ROTATION_TOLERANCE)) {
                if (a == b) snprintf(buf, n, "w2c is not a rigid transform: row %d of its rotation has length %.6g, not 1 "
                                     "(tolerance %g)", a, sqrt(fabs(dot)), RD_ROTATION_TOLERANCE);
                else snprintf(buf, n, "w2c is not a rigid transform: rows %d and %d of its rotation are not perpendicular "
                              "(dot product %.6g, tolerance %g)", a, b, dot, RD_ROTATION_TOLERANCE);
                return buf;
            }
        }
    double det = (double)m[0] * ((double)m[5] * m[10] - (double)m[6] * m[9]) -
                 (double)m[1] * ((double)m[4] * m[10] - (double)m[6] * m[8]) +
                 (double)m[2] * ((double)m[4] * m[9] - (double)m[5] * m[8]);
    if (det < 0.0) {
        snprintf(buf, n, "w2c is a reflection (its rotation's determinant is %.6g), not a rigid transform", det);
        return buf;
    }
    return NULL;
}

float rd_camera_orbit_distance(float radius, int width, int height)
{
    float tan_half_x = tanf(0.5f * 50.0f * 3.14159265f / 180.0f);
    float tan_half_min = fminf(tan_half_x, tan_half_x * (float)height / (float)width);
    return 1.15f * radius * sqrtf(1.0f + 1.0f / (tan_half_min * tan_half_min));
}

void rd_camera_orbit(const float centre[3], float dist, const float up[3], int n, int width, int height, rd_camera *out)
{
    /* the ring's plane: x and z about y, x and y about z, y and z about x; another up takes
       two perpendicular axes of its own */
    float ring[2][3] = {{1, 0, 0}, {0, 0, 1}};
    int axis = fabsf(up[0]) == 1.0f ? 0 : fabsf(up[1]) == 1.0f ? 1 : fabsf(up[2]) == 1.0f ? 2 : -1;
    if (axis == 0) ring[0][0] = 0.0f, ring[0][1] = 1.0f;
    if (axis == 2) ring[1][1] = 1.0f, ring[1][2] = 0.0f;
    if (axis < 0) {
        float *a = ring[0], *b = ring[1];
        const float ref[3] = {fabsf(up[0]) < 0.9f ? 1.0f : 0.0f, fabsf(up[0]) < 0.9f ? 0.0f : 1.0f, 0.0f};
        a[0] = up[1] * ref[2] - up[2] * ref[1], a[1] = up[2] * ref[0] - up[0] * ref[2], a[2] = up[0] * ref[1] - up[1] * ref[0];
        float la = sqrtf(a[0] * a[0] + a[1] * a[1] + a[2] * a[2]);
        for (int k = 0; k < 3; k++) a[k] /= la;
        b[0] = up[1] * a[2] - up[2] * a[1], b[1] = up[2] * a[0] - up[0] * a[2], b[2] = up[0] * a[1] - up[1] * a[0];
    }
    for (int i = 0; i < n; i++) {
        float angle = 6.2831853f * (float)i / (float)n, c = cosf(angle), sn = sinf(angle), eye[3];
        for (int k = 0; k < 3; k++) eye[k] = centre[k] + dist * c * ring[0][k] + dist * sn * ring[1][k] + 0.45f * dist * up[k];
        out[i] = rd_camera_look_at(eye, centre, up, width, height, 50.0f);
    }
}
