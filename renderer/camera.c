/* camera.c: camera construction helpers. */
#include "internal.h"

#include <math.h>
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
