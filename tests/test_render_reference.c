/* test_render_reference.c: the CPU renderer against the independent double-precision
   brute-force evaluation (reference_render.c) on fresh random scenes: SH degrees 0-3,
   both extents, antialiased mode, expected depth, backgrounds, odd image sizes,
   off-centre principal points, and degenerate Gaussians (zero and huge scales, zero
   quaternions, NaN, behind the camera, straddling the near plane).

   Tolerances: float computes det(Sigma2) with cancellation for elongated Gaussians, so
   alpha carries relative errors up to ~1e-3; colour, alpha and transmittance must agree
   to 2e-3. Pixels where the reference finds a decision numerically ambiguous (alpha at
   1/255, the 1e-4 transmittance stop, an INRIA tile edge) are excluded except that
   they must be finite; beyond those, 0.5% of the pixels may still flip (compare.h),
   by at most 0.05. */
#include "compare.h"
#include "reference_render.h"
#include "test_util.h"
#include "../splat/splat_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void run_case(rd_context *ctx, test_rng *r, int case_index)
{
    static const int sizes[][2] = {{1, 1}, {17, 13}, {64, 48}, {97, 61}, {160, 120}, {33, 200}};
    static const int counts[] = {0, 1, 7, 60, 400, 1500};
    const int *size = sizes[(int)(rng_uniform(r) * 6)];
    random_scene_desc sd = {
        .count = counts[(int)(rng_uniform(r) * 6)],
        .sh_degree = (int)(rng_uniform(r) * 4),
        .degenerate = rng_uniform(r) < 0.5,
        .depth_min = 0.5, .depth_max = 8.0, .spread = 0.8,
        .log_scale_min = -5.0, .log_scale_max = -0.5,
    };
    rd_scene_desc arrays = random_scene(r, &sd);
    rd_camera cam = random_camera(r, size[0], size[1]);
    rd_render_desc desc = {0};
    unsigned mode = (unsigned)(rng_uniform(r) * 8);
    if (mode & 1) desc.flags |= RD_RENDER_ANTIALIASED;
    if (mode & 2) desc.flags |= RD_RENDER_INRIA_EXTENT;
    if (mode & 4) desc.flags |= RD_RENDER_EXPECTED_DEPTH;
    if (rng_uniform(r) < 0.3) desc.sh_degree = RD_SH_DEGREE((int)(rng_uniform(r) * 4));
    for (int c = 0; c < 3; c++) desc.background[c] = (float)rng_uniform(r);

    rd_scene *scene = NULL;
    CHECK_OK(rd_scene_create(ctx, &arrays, &scene));
    size_t P = (size_t)cam.width * cam.height;
    float *color = malloc(P * 4 * sizeof(float)), *depth = malloc(P * sizeof(float)), *trans = malloc(P * sizeof(float));
    uint32_t *contrib = malloc(P * sizeof(uint32_t));
    /* poison the outputs so that a pixel left unwritten cannot pass */
    for (size_t i = 0; i < P * 4; i++) color[i] = NAN;
    for (size_t i = 0; i < P; i++) { depth[i] = NAN; trans[i] = NAN; contrib[i] = 0xdeadbeef; }
    rd_framebuffer fb = {.color = color, .depth = depth, .transmittance = trans, .contributors = contrib};
    CHECK_OK(rd_render(ctx, scene, &cam, &desc, &fb));

    reference_output ref;
    CHECK(reference_render(&arrays, &cam, &desc, &ref) == 0);
    size_t flips = (size_t)(0.005 * P) + 2;
    bool ok = true;
    for (int c = 0; c < 4; c++)
        ok &= compare_ok(c < 3 ? "colour" : "alpha", compare_float_double(color + c, 4, ref.color + c, 4, P, 2e-3, ref.ambiguous), flips, 0.05);
    ok &= compare_ok("transmittance", compare_float_double(trans, 1, ref.transmittance, 1, P, 2e-3, ref.ambiguous), flips, 0.05);
    /* Depth sums alpha*T*z with z up to depth_max, so an alpha error e (float cancellation in
       det for elongated Gaussians reaches ~1e-3) moves it by e*depth_max; expected depth
       divides by alpha as well. */
    size_t depth_bad = 0, contrib_bad = 0;
    bool expected = (desc.flags & RD_RENDER_EXPECTED_DEPTH) != 0;
    for (size_t p = 0; p < P; p++) {
        double d = ref.depth[p], tol = 2e-3 * sd.depth_max;
        if (expected) tol = 2.0 * tol / fmax(1.0 - ref.transmittance[p], 0.02);
        if (!isfinite(depth[p])) depth_bad += P; /* never allowed */
        if (ref.ambiguous[p]) continue;
        if (!(fabs(depth[p] - d) <= tol)) depth_bad++;
        if ((int)contrib[p] != ref.blended[p]) contrib_bad++;
    }
    ok &= CHECK(depth_bad <= flips);
    ok &= CHECK(contrib_bad <= flips);
    if (!ok)
        printf("case %d failed: %dx%d, %d Gaussians, SH %d, flags %u, sh cap %d, degenerate %d\n", case_index, cam.width,
               cam.height, sd.count, sd.sh_degree, desc.flags, desc.sh_degree, sd.degenerate);
    reference_free(&ref);
    free(color);
    free(depth);
    free(trans);
    free(contrib);
    rd_scene_destroy(scene);
    random_scene_free(&arrays);
}

/* A case with a known answer: one opaque isotropic Gaussian at the image centre. */
static void analytic_case(rd_context *ctx)
{
    float mean[3] = {0, 0, 2}, ls[3] = {-2.3f, -2.3f, -2.3f}, rot[4] = {1, 0, 0, 0}, op = 3.0f, sh[3] = {1.0f, 0.0f, -1.0f};
    rd_scene_desc d = {.count = 1, .means = mean, .log_scales = ls, .rotations = rot, .opacities = &op, .sh = sh};
    rd_scene *scene;
    CHECK_OK(rd_scene_create(ctx, &d, &scene));
    rd_camera cam = {.width = 32, .height = 32, .fx = 40, .fy = 40, .cx = 16, .cy = 16};
    cam.w2c[0] = cam.w2c[5] = cam.w2c[10] = cam.w2c[15] = 1;
    float color[32 * 32 * 4];
    rd_framebuffer fb = {.color = color};
    rd_render_desc desc = {.background = {0.25f, 0.5f, 0.75f}};
    CHECK_OK(rd_render(ctx, scene, &cam, &desc, &fb));
    /* pixel (15,15) has its centre 0.5 px from the mean in x and y */
    double s = exp(-2.3) * 40 / 2, var = s * s + 0.3;
    double alpha = 1 / (1 + exp(-3.0)) * exp(-0.5 * (0.25 + 0.25) / var);
    double rgb[3] = {0.5 + 0.28209479177387814, 0.5, fmax(0, 0.5 - 0.28209479177387814)};
    for (int c = 0; c < 3; c++)
        CHECK(fabs(color[(15 * 32 + 15) * 4 + c] - (alpha * rgb[c] + (1 - alpha) * desc.background[c])) < 1e-5);
    CHECK(fabs(color[(15 * 32 + 15) * 4 + 3] - alpha) < 1e-5);
    /* a corner pixel is background */
    CHECK(fabs(color[0] - 0.25f) < 1e-6 && color[3] == 0.0f);
    rd_scene_destroy(scene);
}

/* The minimum of a x^2 + 2 b x y + c y^2 over [x0, x1] x [y0, y1] in double, the long way:
   0 if the origin is inside, else the least of the four edges' clamped minimisers. */
static double form_min_over_rect(double a, double b, double c, double x0, double x1, double y0, double y1)
{
    if (x0 <= 0 && x1 >= 0 && y0 <= 0 && y1 >= 0) return 0;
    double best = INFINITY, xs[2] = {x0, x1}, ys[2] = {y0, y1};
    for (int e = 0; e < 2; e++) {
        double dx = xs[e], dy = fmin(fmax(-b * dx / c, y0), y1);
        best = fmin(best, a * dx * dx + 2 * b * dx * dy + c * dy * dy);
        dy = ys[e], dx = fmin(fmax(-b * dy / a, x0), x1);
        best = fmin(best, a * dx * dx + 2 * b * dx * dy + c * dy * dy);
    }
    return best;
}

/* rd_rect_touches (the binning's ellipse-against-rectangle test, which evaluates only the
   edges that face the mean) against form_min_over_rect on random ellipses, rectangles and
   limits: wherever the minimum is clearly below the limit it must say yes, clearly above
   it no. A 9x9 grid of the rectangle's points checks that the reference is a minimum. */
static void rect_test_case(test_rng *r)
{
    int wrong = 0, grid_below = 0, cases = 20000;
    for (int i = 0; i < cases; i++) {
        double sx = exp(rng_range(r, log(0.3), log(60))), sy = exp(rng_range(r, log(0.3), log(60))), t = rng_range(r, 0, M_PI);
        double ct = cos(t), st = sin(t), cxx = sx * sx * ct * ct + sy * sy * st * st, cyy = sx * sx * st * st + sy * sy * ct * ct;
        double cxy = (sx * sx - sy * sy) * ct * st, det = cxx * cyy - cxy * cxy;
        float conic[3] = {(float)(cyy / det), (float)(-cxy / det), (float)(cxx / det)};
        float u = (float)rng_range(r, -60, 100), v = (float)rng_range(r, -60, 100), limit = (float)rng_range(r, 0.01, 12);
        float x0 = (float)floor(rng_range(r, 0, 40)) + 0.5f, y0 = (float)floor(rng_range(r, 0, 40)) + 0.5f;
        float x1 = x0 + (float)floor(rng_range(r, 0, 16)), y1 = y0 + (float)floor(rng_range(r, 0, 16));
        double a = conic[0], b = conic[1], c = conic[2];
        double m = form_min_over_rect(a, b, c, x0 - (double)u, x1 - (double)u, y0 - (double)v, y1 - (double)v);
        for (int gy = 0; gy <= 8; gy++)
            for (int gx = 0; gx <= 8; gx++) {
                double dx = x0 + (x1 - x0) * gx / 8.0 - u, dy = y0 + (y1 - y0) * gy / 8.0 - v;
                grid_below += a * dx * dx + 2 * b * dx * dy + c * dy * dy < m * (1 - 1e-9) - 1e-9;
            }
        bool touches = rd_rect_touches(u, v, conic, limit, x0, x1, y0, y1);
        double margin = 1e-4 * (limit + m) + 1e-5;
        if ((m < limit - margin && !touches) || (m > limit + margin && touches)) {
            if (wrong++ < 5)
                fprintf(stderr, "rect test: conic (%g %g %g) mean (%g %g) rect [%g %g]x[%g %g] limit %g: min %g, says %d\n",
                        conic[0], conic[1], conic[2], u, v, x0, x1, y0, y1, limit, m, touches);
        }
    }
    CHECK(wrong == 0);
    CHECK(grid_below == 0);
    printf("rect test: %d random ellipses and rectangles, %d wrong\n", cases, wrong);
}

int main(void)
{
    test_rng r = {test_seed("render_reference")};
    rd_context *ctx;
    rd_context_desc cd = {.backend = RD_BACKEND_CPU, .log = test_log};
    if (!CHECK_OK(rd_context_create(&cd, &ctx))) return test_finish("render_reference");
    analytic_case(ctx);
    rect_test_case(&r);
    int cases = getenv("RADIANT_TEST_CASES") ? atoi(getenv("RADIANT_TEST_CASES")) : 60;
    for (int i = 0; i < cases; i++) run_case(ctx, &r, i);
    rd_context_destroy(ctx);
    return test_finish("render_reference");
}
