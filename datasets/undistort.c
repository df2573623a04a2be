/* undistort.c: a distorted camera's photo as the pinhole camera of the same intrinsics
   would have taken it (rd_image_undistort). Each output pixel centre is pushed through
   the lens model to where the photo has it, and the photo is sampled there bilinearly
   (pixel centres at +0.5); outside the photo the pixel is transparent black. */
#include "../renderer/internal.h"

#include <math.h>
#include <string.h>

/* Where the lens puts the normalised pinhole point (x, y). */
static void distort(const rd_distortion *d, double x, double y, double *xd, double *yd)
{
    double r2 = x * x + y * y;
    if (d->model == RD_DISTORTION_OPENCV_FISHEYE) {
        double r = sqrt(r2), theta = atan(r), t2 = theta * theta;
        double thetad = theta * (1 + t2 * (d->k1 + t2 * (d->k2 + t2 * (d->k3 + t2 * d->k4))));
        double s = r > 1e-12 ? thetad / r : 1.0;
        *xd = x * s, *yd = y * s;
        return;
    }
    double radial = 1 + r2 * (d->k1 + r2 * (d->k2 + r2 * d->k3));
    *xd = x * radial + 2 * d->p1 * x * y + d->p2 * (r2 + 2 * x * x);
    *yd = y * radial + d->p1 * (r2 + 2 * y * y) + 2 * d->p2 * x * y;
}

static void sample(const rd_image *in, double u, double v, float *out)
{
    int ch = in->channels;
    double x = u - 0.5, y = v - 0.5;
    int x0 = (int)floor(x), y0 = (int)floor(y);
    double fx = x - x0, fy = y - y0;
    for (int c = 0; c < 4; c++) out[c] = 0.0f;
    if (x0 < 0 || y0 < 0 || x0 + 1 >= in->width || y0 + 1 >= in->height) {
        if (x < -0.5 || y < -0.5 || x > in->width - 0.5 || y > in->height - 0.5) return; /* outside: transparent */
        x0 = x0 < 0 ? 0 : x0 > in->width - 2 ? in->width - 2 : x0; /* the border half-pixel: clamp */
        y0 = y0 < 0 ? 0 : y0 > in->height - 2 ? in->height - 2 : y0;
        fx = fmin(fmax(x - x0, 0.0), 1.0), fy = fmin(fmax(y - y0, 0.0), 1.0);
    }
    const float *p = in->pixels + ((size_t)y0 * (size_t)in->width + (size_t)x0) * (size_t)ch;
    size_t row = (size_t)in->width * (size_t)ch;
    for (int c = 0; c < ch; c++)
        out[c] = (float)((1 - fy) * ((1 - fx) * p[c] + fx * p[ch + c]) + fy * ((1 - fx) * p[row + c] + fx * p[row + ch + c]));
    if (ch < 4) out[3] = 1.0f;
}

rd_result rd_image_undistort(rd_context *ctx, const rd_image *in, const rd_camera *camera, rd_image *out)
{
    if (!in || !camera || !out || !in->pixels)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_image_undistort: image, camera and out are required");
    memset(out, 0, sizeof *out);
    if (in->width != camera->width || in->height != camera->height || in->width < 2 || in->height < 2)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_image_undistort: a %dx%d image for a %dx%d camera", in->width,
                       in->height, camera->width, camera->height);
    rd_result r = rd_image_alloc(in->width, in->height, 4, out);
    if (r != RD_OK) return rd_fail(ctx, r, "rd_image_undistort: out of memory for %dx%d", in->width, in->height);
    for (int y = 0; y < in->height; y++)
        for (int x = 0; x < in->width; x++) {
            double nx = (x + 0.5 - camera->cx) / camera->fx, ny = (y + 0.5 - camera->cy) / camera->fy, dx = nx, dy = ny;
            if (camera->distortion.model != RD_DISTORTION_NONE) distort(&camera->distortion, nx, ny, &dx, &dy);
            sample(in, dx * camera->fx + camera->cx, dy * camera->fy + camera->cy,
                   out->pixels + 4 * ((size_t)y * (size_t)in->width + (size_t)x));
        }
    return RD_OK;
}
