/* test_undistort.c: rd_image_undistort on a photo whose pixels hold their own coordinates
   (R = u / W, G = v / H): bilinear sampling reproduces such ramps exactly, so each output
   pixel must hold the coordinates OpenCV's lens model gives its centre (written again
   here from the formulas), for the fox's radial-tangential coefficients, a fisheye, and
   no distortion (the identity); pixels the lens maps outside the photo are transparent. */
#include "test_util.h"

#include <math.h>
#include <string.h>

static rd_context *ctx;

static void lens(const rd_distortion *d, double x, double y, double *u, double *v)
{
    double r2 = x * x + y * y;
    if (d->model == RD_DISTORTION_OPENCV_FISHEYE) {
        double th = atan(sqrt(r2)), t2 = th * th;
        double s = r2 > 0 ? th * (1 + d->k1 * t2 + d->k2 * t2 * t2 + d->k3 * t2 * t2 * t2 + d->k4 * t2 * t2 * t2 * t2) / sqrt(r2) : 1;
        *u = x * s, *v = y * s;
    } else if (d->model == RD_DISTORTION_OPENCV) {
        double k = 1 + d->k1 * r2 + d->k2 * r2 * r2 + d->k3 * r2 * r2 * r2;
        *u = x * k + 2 * d->p1 * x * y + d->p2 * (r2 + 2 * x * x);
        *v = y * k + d->p1 * (r2 + 2 * y * y) + 2 * d->p2 * x * y;
    } else {
        *u = x, *v = y;
    }
}

static void check_lens(const char *name, rd_distortion d)
{
    rd_camera cam = {.width = 108, .height = 192, .fx = 137.552f, .fy = 137.449f, .cx = 55.4558f, .cy = 96.5268f, .distortion = d};
    rd_image photo, out;
    rd_image_alloc(cam.width, cam.height, 3, &photo);
    for (int y = 0; y < cam.height; y++)
        for (int x = 0; x < cam.width; x++) {
            float *p = photo.pixels + 3 * ((size_t)y * cam.width + x);
            p[0] = (x + 0.5f) / cam.width, p[1] = (y + 0.5f) / cam.height, p[2] = 0.25f;
        }
    int inside = 0, wrong = 0, outside = 0;
    if (CHECK_OK(rd_image_undistort(ctx, &photo, &cam, &out))) {
        for (int y = 0; y < cam.height; y++)
            for (int x = 0; x < cam.width; x++) {
                double u, v;
                lens(&d, (x + 0.5 - cam.cx) / cam.fx, (y + 0.5 - cam.cy) / cam.fy, &u, &v);
                u = u * cam.fx + cam.cx, v = v * cam.fy + cam.cy;
                const float *p = out.pixels + 4 * ((size_t)y * cam.width + x);
                if (u < 0.5 || v < 0.5 || u > cam.width - 0.5 || v > cam.height - 0.5) { /* beyond the outer centres */
                    if (u < 0 || v < 0 || u > cam.width || v > cam.height) outside++, wrong += p[3] != 0.0f;
                    continue;
                }
                inside++;
                if (fabs(p[0] * cam.width - u) > 1e-3 || fabs(p[1] * cam.height - v) > 1e-3 || p[2] != 0.25f || p[3] != 1.0f)
                    if (wrong++ < 3) printf("  %s (%d, %d): sampled at (%.4f, %.4f), the lens says (%.4f, %.4f)\n", name, x, y,
                                            p[0] * cam.width, p[1] * cam.height, u, v);
            }
        rd_image_free(&out);
    }
    printf("undistort %-24s %5d pixels inside the photo, %4d outside, %d wrong\n", name, inside, outside, wrong);
    CHECK(wrong == 0 && inside > cam.width * cam.height / 2);
    rd_image_free(&photo);
}

int main(void)
{
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    check_lens("none", (rd_distortion){0});
    check_lens("fox (radial-tangential)", (rd_distortion){RD_DISTORTION_OPENCV, 0.0578421f, -0.0805099f, 0, 0, -0.000980296f, 0.00015575f});
    check_lens("strong barrel", (rd_distortion){RD_DISTORTION_OPENCV, -0.3f, 0.08f, 0.01f, 0, 0.002f, -0.001f});
    check_lens("fisheye", (rd_distortion){RD_DISTORTION_OPENCV_FISHEYE, 0.05f, -0.01f, 0.002f, -0.0005f, 0, 0});
    rd_image bad = {0}, out;
    CHECK(rd_image_undistort(ctx, &bad, &(rd_camera){.width = 4, .height = 4}, &out) == RD_ERROR_INVALID_ARGUMENT);
    rd_context_destroy(ctx);
    return test_finish("undistort");
}
