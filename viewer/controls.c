/* controls.c: orbit, pan, zoom and fly on a camera-to-world rotation and an eye. */
#include "controls.h"

#include <math.h>
#include <string.h>

static float dot3(const float a[3], const float b[3]) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

static void normalize3(float v[3])
{
    float n = sqrtf(dot3(v, v));
    if (n > 0.0f) v[0] /= n, v[1] /= n, v[2] /= n;
}

/* Column k of the rotation: 0 right, 1 down, 2 forward, in world coordinates. */
static void axis(const vw_controls *c, int k, float out[3])
{
    for (int a = 0; a < 3; a++) out[a] = c->rotation[3 * a + k];
}

/* Rodrigues: v rotated by angle about the unit axis u. */
static void rotate3(float v[3], const float u[3], float angle)
{
    float cs = cosf(angle), sn = sinf(angle), d = dot3(u, v);
    float x[3] = {u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]};
    for (int a = 0; a < 3; a++) v[a] = v[a] * cs + x[a] * sn + u[a] * d * (1.0f - cs);
}

/* Rotates the camera's axes and its eye about the pivot. */
static void turn(vw_controls *c, const float u[3], float angle)
{
    c->moved = 1;
    float pivot[3];
    vw_controls_pivot(c, pivot);
    for (int k = 0; k < 3; k++) {
        float col[3];
        axis(c, k, col);
        rotate3(col, u, angle);
        normalize3(col);
        for (int a = 0; a < 3; a++) c->rotation[3 * a + k] = col[a];
    }
    float forward[3];
    axis(c, 2, forward);
    for (int a = 0; a < 3; a++) c->eye[a] = pivot[a] - forward[a] * c->distance;
}

void vw_controls_init(vw_controls *c, const rd_camera *camera, float distance, float scene_radius)
{
    memset(c, 0, sizeof *c);
    c->base = *camera;
    c->speed = scene_radius > 0.0f && isfinite(scene_radius) ? 0.5f * scene_radius : 1.0f;
    c->distance = distance > 1e-4f && isfinite(distance) ? distance : 1.0f;
    vw_controls_reset(c);
}

void vw_controls_reset(vw_controls *c)
{
    const float *m = c->base.w2c;
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) c->rotation[3 * r + k] = m[4 * k + r]; /* c2w = transpose of w2c's rotation */
    rd_camera_center(&c->base, c->eye);
    for (int a = 0; a < 3; a++) c->up[a] = -c->rotation[3 * a + 1];
    c->moved = 0;
}

void vw_controls_pivot(const vw_controls *c, float out[3])
{
    float forward[3];
    axis(c, 2, forward);
    for (int a = 0; a < 3; a++) out[a] = c->eye[a] + forward[a] * c->distance;
}

void vw_controls_orbit(vw_controls *c, float dx, float dy)
{
    turn(c, c->up, dx);
    /* pitch about right, but never past 89 degrees from the up axis */
    float forward[3], right[3];
    axis(c, 2, forward);
    axis(c, 0, right);
    float elevation = asinf(fmaxf(-1.0f, fminf(1.0f, dot3(forward, c->up))));
    const float limit = 1.553f;
    float target = fmaxf(-limit, fminf(limit, elevation - dy));
    turn(c, right, elevation - target);
}

void vw_controls_pan(vw_controls *c, float dx, float dy)
{
    c->moved = 1;
    float right[3], down[3];
    axis(c, 0, right);
    axis(c, 1, down);
    for (int a = 0; a < 3; a++) c->eye[a] += (right[a] * dx + down[a] * dy) * c->distance;
}

void vw_controls_zoom(vw_controls *c, float steps)
{
    c->moved = 1;
    float pivot[3], forward[3];
    vw_controls_pivot(c, pivot);
    axis(c, 2, forward);
    c->distance = fmaxf(1e-4f, c->distance * expf(-steps / 8.0f));
    for (int a = 0; a < 3; a++) c->eye[a] = pivot[a] - forward[a] * c->distance;
}

void vw_controls_fly(vw_controls *c, const float move[3], float seconds, float boost)
{
    c->moved = 1;
    float step = c->speed * seconds * boost;
    for (int k = 0; k < 3; k++) {
        float col[3];
        axis(c, k, col);
        for (int a = 0; a < 3; a++) c->eye[a] += col[a] * move[k] * step;
    }
}

rd_camera vw_controls_camera(const vw_controls *c, int width, int height)
{
    const rd_camera *b = &c->base;
    rd_camera cam;
    if (fabs((double)width * b->height - (double)height * b->width) < 0.5) {
        cam = rd_camera_resized(b, width, height);
    } else {
        float s = (float)height / (float)b->height;
        cam = *b;
        cam.width = width, cam.height = height;
        cam.fx = b->fx * s, cam.fy = b->fy * s;
        cam.cx = b->cx * (float)width / (float)b->width, cam.cy = b->cy * s;
    }
    if (!c->moved) return cam; /* exactly the view it started from */
    for (int r = 0; r < 3; r++) {
        float t = 0.0f;
        for (int a = 0; a < 3; a++) {
            cam.w2c[4 * r + a] = c->rotation[3 * a + r];
            t -= c->rotation[3 * a + r] * c->eye[a];
        }
        cam.w2c[4 * r + 3] = t;
    }
    cam.w2c[12] = cam.w2c[13] = cam.w2c[14] = 0.0f;
    cam.w2c[15] = 1.0f;
    return cam;
}
