/* interop_tool.c: the C half of interop_test.sh (splat-transform against radiant).
     interop_tool make OUT.ply
       writes a random scene (SH degree 3, 600 Gaussians, anisotropic, every opacity) as an
       INRIA PLY: the scene every conversion starts from.
     interop_tool compare A B [--frame-a F] [--frame-b F] [--values TOL] [--render-db DB]
       loads both (an SPZ in frame F when given), checks equal counts and SH degrees, each
       Gaussian's parameters within TOL (means, log-scales, SH; opacity after the sigmoid;
       rotations as 1 - |cos| of the angle between them), and renders from four views around
       the scene at least DB dB apart (PSNR over RGB). Prints what it found; exit 1 if
       anything is out of bounds. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int make(rd_context *ctx, const char *out)
{
    test_rng r = {20261204};
    random_scene_desc sd = {.count = 600, .sh_degree = 3, .depth_min = 1, .depth_max = 4, .spread = 0.5,
                            .log_scale_min = -5, .log_scale_max = -2};
    rd_scene_desc d = random_scene(&r, &sd);
    rd_scene *scene = NULL;
    rd_result res = rd_scene_create(ctx, &d, &scene);
    if (res == RD_OK) res = rd_scene_save(ctx, scene, out, NULL);
    rd_scene_destroy(scene);
    random_scene_free(&d);
    if (res != RD_OK) fprintf(stderr, "interop_tool: %s\n", rd_last_error(ctx));
    return res == RD_OK ? 0 : 1;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* The largest differences between the two scenes' Gaussians, parameter by parameter. */
static double compare_values(const rd_scene_desc *a, const rd_scene_desc *b)
{
    int Ka = (a->sh_degree + 1) * (a->sh_degree + 1), Kb = (b->sh_degree + 1) * (b->sh_degree + 1);
    double mean = 0, scale = 0, rotation = 0, opacity = 0, sh = 0;
    for (int64_t i = 0; i < a->count; i++) {
        for (int c = 0; c < 3; c++) {
            mean = fmax(mean, fabs(a->means[3 * i + c] - b->means[3 * i + c]));
            scale = fmax(scale, fabs(a->log_scales[3 * i + c] - b->log_scales[3 * i + c]));
        }
        const float *p = a->rotations + 4 * i, *q = b->rotations + 4 * i;
        double np = 0, nq = 0, dot = 0;
        for (int c = 0; c < 4; c++) np += p[c] * p[c], nq += q[c] * q[c], dot += p[c] * q[c];
        rotation = fmax(rotation, 1.0 - fabs(dot) / sqrt(np * nq));
        opacity = fmax(opacity, fabs(sigmoid(a->opacities[i]) - sigmoid(b->opacities[i])));
        for (int k = 0; k < 3 * Ka; k++) sh = fmax(sh, fabs(a->sh[(size_t)i * 3 * Ka + k] - b->sh[(size_t)i * 3 * Kb + k]));
    }
    printf("  largest differences: mean %.3g, log-scale %.3g, rotation %.3g, opacity %.3g, SH %.3g\n", mean, scale, rotation,
           opacity, sh);
    return fmax(fmax(fmax(mean, scale), fmax(rotation, opacity)), sh);
}

/* PSNR between the two scenes' renders from four views around A's bounds. */
static double compare_renders(rd_context *ctx, const rd_scene *a, const rd_scene *b, const rd_scene_desc *d)
{
    float low[3] = {INFINITY, INFINITY, INFINITY}, high[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < d->count; i++)
        for (int c = 0; c < 3; c++) low[c] = fminf(low[c], d->means[3 * i + c]), high[c] = fmaxf(high[c], d->means[3 * i + c]);
    float center[3], extent = 0.0f;
    for (int c = 0; c < 3; c++) center[c] = 0.5f * (low[c] + high[c]), extent = fmaxf(extent, high[c] - low[c]);
    enum { W = 160, H = 120 };
    float *ia = malloc(sizeof(float) * W * H * 4), *ib = malloc(sizeof(float) * W * H * 4);
    double se = 0.0, lit = 0.0;
    for (int v = 0; v < 4; v++) {
        float angle = 1.5707963f * (float)v + 0.3f, eye[3] = {center[0] + 1.6f * extent * sinf(angle), center[1] - 0.3f * extent,
                                                             center[2] - 1.6f * extent * cosf(angle)};
        const float up[3] = {0, -1, 0};
        rd_camera cam = rd_camera_look_at(eye, center, up, W, H, 60.0f);
        if (rd_render(ctx, a, &cam, NULL, &(rd_framebuffer){.color = ia}) != RD_OK ||
            rd_render(ctx, b, &cam, NULL, &(rd_framebuffer){.color = ib}) != RD_OK) {
            fprintf(stderr, "interop_tool: %s\n", rd_last_error(ctx));
            se = INFINITY;
            break;
        }
        for (int p = 0; p < W * H; p++)
            for (int c = 0; c < 3; c++) {
                double x = fmin(fmax(ia[4 * p + c], 0.0), 1.0), y = fmin(fmax(ib[4 * p + c], 0.0), 1.0);
                se += (x - y) * (x - y), lit += x;
            }
    }
    free(ia), free(ib);
    if (lit < 100.0) {
        printf("  renders: nothing in view\n");
        return -INFINITY;
    }
    double mse = se / (4.0 * W * H * 3), psnr = mse > 0 ? 10.0 * log10(1.0 / mse) : INFINITY;
    printf("  renders from 4 views: %.1f dB apart\n", psnr);
    return psnr;
}

static int compare(rd_context *ctx, int argc, char **argv)
{
    const char *paths[2] = {argv[0], argv[1]}, *frames[2] = {NULL, NULL};
    double tolerance = INFINITY, min_db = -INFINITY;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--frame-a") == 0) frames[0] = argv[i + 1];
        else if (strcmp(argv[i], "--frame-b") == 0) frames[1] = argv[i + 1];
        else if (strcmp(argv[i], "--values") == 0) tolerance = atof(argv[i + 1]);
        else if (strcmp(argv[i], "--render-db") == 0) min_db = atof(argv[i + 1]);
        else return fprintf(stderr, "interop_tool: unknown option %s\n", argv[i]), 2;
    }
    rd_scene *scenes[2] = {NULL, NULL};
    for (int s = 0; s < 2; s++)
        if (rd_scene_load_with(ctx, paths[s], &(rd_scene_load_desc){.spz_frame = frames[s]}, &scenes[s]) != RD_OK) {
            fprintf(stderr, "interop_tool: %s\n", rd_last_error(ctx));
            rd_scene_destroy(scenes[0]);
            return 1;
        }
    rd_scene_desc a = rd_scene_arrays(scenes[0]), b = rd_scene_arrays(scenes[1]);
    bool ok = a.count == b.count && a.sh_degree == b.sh_degree;
    printf("  %lld and %lld Gaussians, SH degrees %d and %d\n", (long long)a.count, (long long)b.count, a.sh_degree, b.sh_degree);
    if (ok && isfinite(tolerance)) ok = compare_values(&a, &b) <= tolerance;
    if (ok && isfinite(min_db)) ok = compare_renders(ctx, scenes[0], scenes[1], &a) >= min_db;
    rd_scene_destroy(scenes[0]);
    rd_scene_destroy(scenes[1]);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    rd_context *ctx = NULL;
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx) != RD_OK) return 1;
    int code = 2;
    if (argc == 3 && strcmp(argv[1], "make") == 0) code = make(ctx, argv[2]);
    else if (argc >= 4 && strcmp(argv[1], "compare") == 0) code = compare(ctx, argc - 2, argv + 2);
    else fprintf(stderr, "usage: interop_tool make OUT.ply | interop_tool compare A B [--frame-a F] [--frame-b F] "
                 "[--values TOL] [--render-db DB]\n");
    rd_context_destroy(ctx);
    return code;
}
