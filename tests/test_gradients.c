/* test_gradients.c: rd_render_backward on the CPU against central finite differences of
   the forward, evaluated in double precision by the independent reference renderer
   (reference_render.c), for every stored parameter (means, log-scales, quaternions, logit
   opacities, SH of degrees 0-3) and the camera's w2c, on random small scenes: both
   extents, antialiased, accumulated and expected depth, colour, alpha and depth losses,
   Gaussians at the image border and near the near plane; and the same for 4D Gaussians
   (means, log-scales, quaternion pairs, opacities, spherindrical colour, w2c) through the
   slice at a time, against the reference's render of an independent double-precision
   slice (reference_slice4d.c), Gaussians culled at that time getting nothing.

   The loss is L = sum(wc . colour) + sum(wd . depth) with random weights, so that
   dL/d(outputs) = (wc, wd). The differences are taken with steps h, h/2 and h/4 (h = 2e-4
   for the scene, 2e-5 for the pose), each with the step the float parameter really took.
   The forward has discontinuities (an alpha crossing 1/255 or the 0.99 clamp, the
   transmittance stop, which expected depth magnifies; an INRIA rectangle's edge; the
   frustum clamp's corner); a jump inside a step shows as quotients that change with the
   step (a jump J adds J/2s to the quotient of step s). So:
   - a parameter whose three quotients spread by more than 1% straddles a jump and is not
     compared; at most 20% of a case may be (expected depth turns every 1/255 crossing
     into a jump of the depth itself);
   - otherwise it passes when |analytic - fd(h/4)| <= 2e-3 |fd| + 1e-4 max|fd| of its group
     + 1e-5 max|analytic| of the case + 2 spread: the analytic sum runs in float over
     about a thousand pixels (relative error ~1e-5);
     the truncation error at these steps is below 1e-6; a small jump's share of fd(h/4),
     2J/h, is under twice the spread, 1.5J/h.
   Expected depth divides by 1 - T, which float computes with a relative error of
   1e-7 / (1 - T): the forward itself is that ill-conditioned where coverage is thin, so
   the expected-depth loss weighs only pixels of alpha >= 0.3 (error under 3e-7).
   Scenes whose reference render has an ambiguous pixel (a decision float may rightly take
   the other way) are drawn again, so that the forward differentiated is the one the
   reference evaluates. */
#include "test_util.h"
#include "reference_render.h"
#include "reference_slice4d.h"
#include "../train/loss.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;

typedef struct grad_case {
    const char *name;
    int sh_degree;
    uint32_t flags;      /* RD_RENDER_* */
    bool colour, alpha, depth; /* which outputs the loss weighs */
    bool edges;          /* Gaussians at the border, beyond the frustum clamp and near the near plane */
    int render_degree;   /* rd_render_desc.sh_degree (0: all the scene has) */
} grad_case;

typedef struct problem {
    rd_scene_desc scene;
    bool four_d;            /* the scene rendered is scene4d at time (4D cases) */
    rd_scene4d_desc scene4d;
    float time;
    rd_camera camera;
    rd_render_desc desc;
    double *wc, *wd; /* loss weights: w*h*4, w*h */
    float *wc_f, *wd_f;
    double scale; /* the largest analytic gradient of the case: float's cancellations are relative to it */
    double floor; /* the share of it that rounding may leave (header) */
} problem;

/* The reference's render of the problem's scene (of the 4D scene's slice in 4D cases). */
static int render_problem(const problem *p, reference_output *out)
{
    if (!p->four_d) return reference_render(&p->scene, &p->camera, &p->desc, out);
    reference_scene sliced;
    int r = reference_slice4d(&p->scene4d, p->time, &sliced);
    if (r == 0) r = reference_render_scene(&sliced, &p->camera, &p->desc, out);
    reference_slice4d_free(&sliced);
    return r;
}

static double loss(const problem *p)
{
    reference_output out;
    if (render_problem(p, &out) != 0) return NAN;
    size_t pixels = (size_t)p->camera.width * (size_t)p->camera.height;
    double L = 0.0;
    for (size_t i = 0; i < 4 * pixels; i++) L += p->wc[i] * out.color[i];
    for (size_t i = 0; i < pixels; i++) L += p->wd[i] * out.depth[i];
    reference_free(&out);
    return L;
}

/* The central difference of the loss in *x, with the step the float parameter really took. */
static double difference(problem *p, float *x, double h)
{
    float keep = *x;
    float up = (float)(keep + h), down = (float)(keep - h);
    *x = up;
    double lu = loss(p);
    *x = down;
    double ld = loss(p);
    *x = keep;
    return (lu - ld) / ((double)up - (double)down);
}

/* A rigid camera looking roughly down +z at the scene, rotated and moved at random. */
static void make_camera(test_rng *r, problem *p)
{
    p->camera = random_camera(r, 40, 32);
    double q[4] = {1.0, rng_range(r, -0.15, 0.15), rng_range(r, -0.15, 0.15), rng_range(r, -0.15, 0.15)};
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    double R[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                   2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                   2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) p->camera.w2c[4 * i + j] = (float)R[3 * i + j];
        p->camera.w2c[4 * i + 3] = (float)rng_range(r, -0.3, 0.3);
    }
}

/* Scene means are drawn in camera space, then moved to the world. */
static void to_world(const rd_camera *c, float *m)
{
    double t[3];
    for (int i = 0; i < 3; i++) t[i] = m[i] - c->w2c[4 * i + 3];
    for (int j = 0; j < 3; j++) m[j] = (float)(c->w2c[j] * t[0] + c->w2c[4 + j] * t[1] + c->w2c[8 + j] * t[2]);
}

static void make_problem(test_rng *r, const grad_case *gc, problem *p)
{
    memset(p, 0, sizeof *p);
    make_camera(r, p);
    int n = 14;
    p->scene = random_scene(r, &(random_scene_desc){.count = n, .sh_degree = gc->sh_degree, .depth_min = 2.0, .depth_max = 4.0,
                                                     .spread = 0.35, .log_scale_min = -2.6, .log_scale_max = -1.4});
    float *means = (float *)p->scene.means, *opac = (float *)p->scene.opacities;
    double tan_x = 0.5 * p->camera.width / p->camera.fx, tan_y = 0.5 * p->camera.height / p->camera.fy;
    for (int i = 0; i < n; i++) {
        opac[i] = (float)rng_range(r, -1.5, 1.5); /* alphas well inside (1/255, 0.99) */
        if (gc->edges && i % 3 == 0) { /* beyond the frustum clamp (1.3 tan), on the border, or near the near plane */
            double z = means[3 * i + 2];
            if (i % 9 == 0) means[3 * i] = (float)(1.45 * tan_x * z), means[3 * i + 1] = (float)(0.3 * tan_y * z);
            else if (i % 9 == 3) means[3 * i + 1] = (float)(-1.02 * tan_y * z);
            else means[3 * i + 2] = (float)rng_range(r, 0.25, 0.4), means[3 * i] *= 0.1f, means[3 * i + 1] *= 0.1f;
        }
        to_world(&p->camera, means + 3 * i);
    }
    p->desc.flags = gc->flags;
    p->desc.sh_degree = gc->render_degree;
    size_t pixels = (size_t)p->camera.width * (size_t)p->camera.height;
    p->wc = calloc(4 * pixels, sizeof(double));
    p->wd = calloc(pixels, sizeof(double));
    p->wc_f = calloc(4 * pixels, sizeof(float));
    p->wd_f = calloc(pixels, sizeof(float));
    for (size_t i = 0; i < pixels; i++) {
        for (int ch = 0; ch < 4; ch++) {
            bool on = ch < 3 ? gc->colour : gc->alpha;
            p->wc_f[4 * i + ch] = on ? (float)rng_range(r, -1.0, 1.0) : 0.0f;
            p->wc[4 * i + ch] = p->wc_f[4 * i + ch];
        }
        p->wd_f[i] = gc->depth ? (float)rng_range(r, -0.3, 0.3) : 0.0f;
        p->wd[i] = p->wd_f[i];
    }
}

static void free_problem(problem *p)
{
    random_scene_free(&p->scene);
    free(p->wc), free(p->wd), free(p->wc_f), free(p->wd_f);
}

typedef struct group_result {
    int compared, skipped, failed;
} group_result;

/* Compares count analytic values against the differences of params (steps h). */
static group_result compare_group(problem *p, const char *what, float *params, const float *analytic, int count, double h)
{
    double *fd = malloc(sizeof(double) * (size_t)count), *spread = malloc(sizeof(double) * (size_t)count);
    bool *ok = malloc(sizeof(bool) * (size_t)count);
    double scale = 0.0;
    for (int k = 0; k < count; k++) {
        double a = difference(p, &params[k], h), b = difference(p, &params[k], 0.5 * h), c = difference(p, &params[k], 0.25 * h);
        fd[k] = c;
        spread[k] = fmax(fmax(a, b), c) - fmin(fmin(a, b), c);
        ok[k] = fabs(a - c) <= 0.01 * (fabs(c) + 1e-6) && fabs(b - c) <= 0.01 * (fabs(c) + 1e-6);
        if (ok[k] && fabs(b) > scale) scale = fabs(b);
    }
    group_result g = {0};
    for (int k = 0; k < count; k++) {
        if (!ok[k]) {
            g.skipped++;
            continue;
        }
        g.compared++;
        double err = fabs(analytic[k] - fd[k]);
        if (err > 2e-3 * fabs(fd[k]) + 1e-4 * scale + p->floor * p->scale + 2.0 * spread[k]) {
            if (g.failed++ < 4) printf("  %s[%d]: analytic %.7g, finite difference %.7g\n", what, k, analytic[k], fd[k]);
        }
    }
    free(fd);
    free(spread);
    free(ok);
    return g;
}

/* Whether the reference flags a pixel whose discrete decisions float may rightly take the
   other way (reference_render.h): the library's forward would then differ from the one
   the differences are taken of. */
static bool ambiguous(const problem *p)
{
    reference_output out;
    if (render_problem(p, &out) != 0) return true;
    bool any = false;
    for (int i = 0; i < p->camera.width * p->camera.height; i++) any = any || out.ambiguous[i];
    reference_free(&out);
    return any;
}

/* Expected depth: no weight on the depth of thinly covered pixels (header). */
static void weigh_covered_depth(problem *p)
{
    if (!(p->desc.flags & RD_RENDER_EXPECTED_DEPTH)) return;
    reference_output out;
    if (render_problem(p, &out) != 0) return;
    for (int i = 0; i < p->camera.width * p->camera.height; i++)
        if (out.color[4 * i + 3] < 0.3) p->wd[i] = 0.0, p->wd_f[i] = 0.0f;
    reference_free(&out);
}

static void run_case(test_rng *r, const grad_case *gc)
{
    problem p;
    make_problem(r, gc, &p);
    for (int tries = 0; ambiguous(&p) && tries < 20; tries++) {
        free_problem(&p);
        make_problem(r, gc, &p);
    }
    weigh_covered_depth(&p);
    int n = (int)p.scene.count, K = (gc->sh_degree + 1) * (gc->sh_degree + 1);
    rd_scene *scene = NULL;
    if (!CHECK_OK(rd_scene_create(ctx, &p.scene, &scene))) return;
    float *g_means = calloc(3 * (size_t)n, sizeof(float)), *g_scales = calloc(3 * (size_t)n, sizeof(float));
    float *g_rot = calloc(4 * (size_t)n, sizeof(float)), *g_opac = calloc((size_t)n, sizeof(float));
    float *g_sh = calloc(3 * (size_t)K * (size_t)n, sizeof(float)), g_w2c[16] = {0};
    rd_gaussian_grads gg = {g_means, g_scales, g_rot, g_opac, g_sh, NULL, NULL};
    rd_render_grads out = {p.wc_f, p.wd_f, RD_MEMORY_HOST};
    CHECK_OK(rd_render_backward(ctx, scene, 1, &p.camera, &p.desc, &out,
                                &(rd_scene_grads){RD_SCENE_GAUSSIANS, &gg, g_w2c, RD_MEMORY_HOST}));
    struct { const char *what; float *params; const float *analytic; int count; double h; } groups[] = {
        {"mean", (float *)p.scene.means, g_means, 3 * n, 2e-4},
        {"log_scale", (float *)p.scene.log_scales, g_scales, 3 * n, 2e-4},
        {"rotation", (float *)p.scene.rotations, g_rot, 4 * n, 2e-4},
        {"opacity", (float *)p.scene.opacities, g_opac, n, 2e-4},
        {"sh", (float *)p.scene.sh, g_sh, 3 * K * n, 2e-4},
        {"w2c", p.camera.w2c, g_w2c, 12, 2e-5},
    };
    for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++)
        for (int j = 0; j < groups[k].count; j++) p.scale = fmax(p.scale, fabs(groups[k].analytic[j]));
    p.floor = 1e-5;
    int compared = 0, skipped = 0, failed = 0;
    for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++) {
        group_result g = compare_group(&p, groups[k].what, groups[k].params, groups[k].analytic, groups[k].count, groups[k].h);
        compared += g.compared, skipped += g.skipped, failed += g.failed;
    }
    printf("gradients %-28s %4d parameters compared, %2d at a discontinuity, %d wrong\n", gc->name, compared, skipped, failed);
    CHECK(failed == 0);
    CHECK(skipped * 100 <= 20 * (compared + skipped));
    CHECK(compared > 0);
    rd_scene_destroy(scene);
    free(g_means), free(g_scales), free(g_rot), free(g_opac), free(g_sh);
    free_problem(&p);
}

/* ---- 4D Gaussians: the slice's backward (rd_gaussian4d_grads) ---- */

/* The problem's Gaussians lifted to 4D: two more cosine colour terms, a temporal scale of
   0.3..1, quaternions near one (lengths 0.7..1.4) whose pair mixes time into space, and a
   temporal mean that puts p(t) in [0.22, 1], far from the 0.05 cull, or (every fifth) at
   0.011: culled, so no gradient. */
static void lift_to_4d(test_rng *r, problem *p)
{
    int n = (int)p->scene.count, K = (p->scene.sh_degree + 1) * (p->scene.sh_degree + 1), terms = 3;
    float *means = malloc(sizeof(float) * 4 * n), *ls = malloc(sizeof(float) * 4 * n);
    float *rot = malloc(sizeof(float) * 8 * n), *sh = malloc(sizeof(float) * (size_t)(terms * 3 * K * n));
    p->time = 0.4f;
    for (int i = 0; i < n; i++) {
        for (int a = 0; a < 3; a++) means[4 * i + a] = p->scene.means[3 * i + a], ls[4 * i + a] = p->scene.log_scales[3 * i + a];
        ls[4 * i + 3] = (float)log(rng_range(r, 0.3, 1.0));
        for (int h = 0; h < 2; h++) {
            double length = rng_range(r, 0.7, 1.4);
            rot[8 * i + 4 * h] = (float)length;
            for (int k = 1; k < 4; k++) rot[8 * i + 4 * h + k] = (float)(length * rng_range(r, -0.25, 0.25));
        }
        double sigma[4][4];
        reference_covariance4d(ls + 4 * i, rot + 8 * i, rot + 8 * i + 4, sigma);
        double exponent = i % 5 == 4 ? 4.5 : rng_range(r, 0.0, 1.5), sign = rng_uniform(r) < 0.5 ? -1.0 : 1.0;
        means[4 * i + 3] = (float)(p->time - sign * sqrt(2.0 * sigma[3][3] * exponent));
        for (int t = 0; t < terms; t++)
            for (int k = 0; k < 3 * K; k++)
                sh[(i * terms + t) * 3 * K + k] = t == 0 ? p->scene.sh[i * 3 * K + k] : (float)rng_range(r, -0.3, 0.3);
    }
    p->four_d = true;
    p->scene4d = (rd_scene4d_desc){n, p->scene.sh_degree, terms - 1, 1.5f, means, ls, rot, p->scene.opacities, sh, RD_MEMORY_HOST};
}

static void free_4d(problem *p)
{
    free((void *)p->scene4d.means), free((void *)p->scene4d.log_scales), free((void *)p->scene4d.rotations);
    free((void *)p->scene4d.sh);
}

static void run_case4d(test_rng *r, const grad_case *gc)
{
    problem p;
    make_problem(r, gc, &p);
    lift_to_4d(r, &p);
    for (int tries = 0; ambiguous(&p) && tries < 20; tries++) {
        free_4d(&p), free_problem(&p);
        make_problem(r, gc, &p);
        lift_to_4d(r, &p);
    }
    weigh_covered_depth(&p);
    p.desc.time = p.time;
    rd_scene4d_desc *d = &p.scene4d;
    int n = (int)d->count, shf = (d->time_degree + 1) * (d->sh_degree + 1) * (d->sh_degree + 1) * 3;
    rd_scene *scene = NULL;
    if (!CHECK_OK(rd_scene4d_create(ctx, d, &scene))) return;
    float *g_means = calloc(4 * (size_t)n, sizeof(float)), *g_scales = calloc(4 * (size_t)n, sizeof(float));
    float *g_rot = calloc(8 * (size_t)n, sizeof(float)), *g_opac = calloc((size_t)n, sizeof(float));
    float *g_sh = calloc((size_t)(shf * n), sizeof(float)), g_w2c[16] = {0};
    rd_gaussian4d_grads gg = {g_means, g_scales, g_rot, g_opac, g_sh, NULL, NULL};
    rd_render_grads out = {p.wc_f, p.wd_f, RD_MEMORY_HOST};
    CHECK_OK(rd_render_backward(ctx, scene, 1, &p.camera, &p.desc, &out,
                                &(rd_scene_grads){RD_SCENE_GAUSSIANS_4D, &gg, g_w2c, RD_MEMORY_HOST}));
    struct { const char *what; float *params; const float *analytic; int count; double h; } groups[] = {
        {"4D mean", (float *)d->means, g_means, 4 * n, 2e-4},
        {"4D log_scale", (float *)d->log_scales, g_scales, 4 * n, 2e-4},
        {"4D rotation", (float *)d->rotations, g_rot, 8 * n, 2e-4},
        {"4D opacity", (float *)d->opacities, g_opac, n, 2e-4},
        {"4D sh", (float *)d->sh, g_sh, shf * n, 2e-4},
        {"4D w2c", p.camera.w2c, g_w2c, 12, 2e-5},
    };
    for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++)
        for (int j = 0; j < groups[k].count; j++) p.scale = fmax(p.scale, fabs(groups[k].analytic[j]));
    p.floor = 1e-5;
    int compared = 0, skipped = 0, failed = 0, culled_touched = 0;
    for (size_t k = 0; k < sizeof groups / sizeof groups[0]; k++) {
        group_result g = compare_group(&p, groups[k].what, groups[k].params, groups[k].analytic, groups[k].count, groups[k].h);
        compared += g.compared, skipped += g.skipped, failed += g.failed;
    }
    for (int i = 4; i < n; i += 5) culled_touched += g_opac[i] != 0.0f || g_means[4 * i] != 0.0f || g_rot[8 * i] != 0.0f;
    printf("gradients %-28s %4d parameters compared, %2d at a discontinuity, %d wrong\n", gc->name, compared, skipped, failed);
    CHECK(failed == 0);
    CHECK(culled_touched == 0);
    CHECK(skipped * 100 <= 20 * (compared + skipped));
    CHECK(compared > 0);
    rd_scene_destroy(scene);
    free(g_means), free(g_scales), free(g_rot), free(g_opac), free(g_sh);
    free_4d(&p);
    free_problem(&p);
}

/* The pass adds: two views give twice one view's gradients; and it is repeatable bit for
   bit with any number of threads. */
static void test_accumulates(test_rng *r)
{
    grad_case gc = {"accumulate", 1, 0, true, true, false, false};
    problem p;
    make_problem(r, &gc, &p);
    rd_scene *scene = NULL;
    if (!CHECK_OK(rd_scene_create(ctx, &p.scene, &scene))) return;
    int n = (int)p.scene.count;
    float once[14 * 3] = {0}, twice[14 * 3] = {0};
    rd_render_grads out = {p.wc_f, p.wd_f, RD_MEMORY_HOST};
    rd_camera cams[2] = {p.camera, p.camera};
    rd_render_grads outs[2] = {out, out};
    CHECK_OK(rd_render_backward(ctx, scene, 1, &p.camera, &p.desc, &out,
                                &(rd_scene_grads){RD_SCENE_GAUSSIANS, &(rd_gaussian_grads){.means = once}, NULL, RD_MEMORY_HOST}));
    CHECK_OK(rd_render_backward(ctx, scene, 2, cams, &p.desc, outs,
                                &(rd_scene_grads){RD_SCENE_GAUSSIANS, &(rd_gaussian_grads){.means = twice}, NULL, RD_MEMORY_HOST}));
    bool doubled = true;
    for (int k = 0; k < 3 * n; k++) doubled = doubled && twice[k] == 2.0f * once[k];
    CHECK(doubled);
    /* the same bits with any number of threads */
    for (int threads = 1; threads <= 3; threads += 2) {
        rd_context *other = NULL;
        float again[14 * 3] = {0};
        CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = threads, .log = test_log}, &other));
        CHECK_OK(rd_render_backward(other, scene, 1, &p.camera, &p.desc, &out,
                                    &(rd_scene_grads){RD_SCENE_GAUSSIANS, &(rd_gaussian_grads){.means = again}, NULL, RD_MEMORY_HOST}));
        CHECK(memcmp(again, once, sizeof once) == 0);
        rd_context_destroy(other);
    }
    /* wrong kinds and memory are refused */
    CHECK(rd_render_backward(ctx, scene, 1, &p.camera, &p.desc, &out,
                             &(rd_scene_grads){(rd_scene_kind)7, &(rd_gaussian_grads){0}, NULL, RD_MEMORY_HOST}) ==
          RD_ERROR_INVALID_ARGUMENT);
    CHECK(rd_render_backward(ctx, scene, 1, &p.camera, &p.desc, &out,
                             &(rd_scene_grads){RD_SCENE_GAUSSIANS, &(rd_gaussian_grads){0}, NULL, RD_MEMORY_DEVICE}) ==
          RD_ERROR_INVALID_ARGUMENT);
    rd_scene_destroy(scene);
    free_problem(&p);
}

/* The training loss (train/loss.h) against central differences in each rendered value:
   L1 + D-SSIM and D-SSIM alone, on random images of an odd size (the window's zero
   padding reaches every border). The loss runs in double but its inputs are float, so
   each step is the one the float took; values within 2h of L1's kink are not compared. */
static void test_loss(test_rng *r)
{
    enum { W = 23, H = 19 };
    static float render[W * H * 4], target[W * H * 4], grad[W * H * 4];
    static double scratch[16 * W * H];
    for (int i = 0; i < W * H * 4; i++) render[i] = (float)rng_uniform(r), target[i] = (float)rng_uniform(r);
    for (int pass = 0; pass < 2; pass++) {
        float lambda = pass ? 1.0f : 0.2f;
        rd_loss_desc d = {W, H, render, target, lambda};
        rd_loss_l1_dssim(&d, grad, scratch);
        int compared = 0, wrong = 0;
        double scale = 0.0;
        for (int i = 0; i < W * H * 4; i++) scale = fmax(scale, fabs(grad[i]));
        for (int i = 0; i < W * H * 4; i++) {
            const double h = 1e-4;
            if (i % 4 == 3) {
                wrong += grad[i] != 0.0f; /* alpha is not compared */
                continue;
            }
            if (fabs(render[i] - target[i]) < 2 * h) continue;
            float keep = render[i], up = (float)(keep + h), down = (float)(keep - h);
            render[i] = up;
            double lu = rd_loss_l1_dssim(&d, NULL, scratch);
            render[i] = down;
            double ld = rd_loss_l1_dssim(&d, NULL, scratch);
            render[i] = keep;
            double fd = (lu - ld) / ((double)up - (double)down);
            compared++;
            if (fabs(fd - grad[i]) > 1e-3 * fabs(fd) + 1e-5 * scale) {
                if (wrong++ < 4) printf("  loss (lambda %.1f) d/d render[%d]: analytic %.7g, finite difference %.7g\n", lambda, i, grad[i], fd);
            }
        }
        printf("gradients loss, SSIM weight %.1f        %4d values compared, %d wrong\n", lambda, compared, wrong);
        CHECK(wrong == 0 && compared > W * H * 2);
    }
}

int main(void)
{
    test_rng r = {test_seed("gradients")};
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    static const grad_case cases[] = {
        {"SH 0, colour", 0, 0, true, false, false, false},
        {"SH 1, colour and alpha", 1, 0, true, true, false, false},
        {"SH 2, colour, depth", 2, 0, true, false, true, false},
        {"SH 3, all outputs", 3, 0, true, true, true, false},
        {"SH 3, edges and near plane", 3, 0, true, true, true, true},
        {"antialiased", 1, RD_RENDER_ANTIALIASED, true, true, false, false},
        {"antialiased, edges", 2, RD_RENDER_ANTIALIASED, true, true, true, true},
        {"INRIA extent", 2, RD_RENDER_INRIA_EXTENT, true, true, false, false},
        {"expected depth", 1, RD_RENDER_EXPECTED_DEPTH, false, false, true, false},
        {"expected depth, all outputs", 3, RD_RENDER_EXPECTED_DEPTH, true, true, true, true},
        {"alpha only", 0, 0, false, true, false, false},
        {"SH 3 scene rendered at degree 1", 3, 0, true, false, false, false, RD_SH_DEGREE(1)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) run_case(&r, &cases[k]);
    static const grad_case cases4d[] = {
        {"4D, SH 1, colour and alpha", 1, 0, true, true, false, false},
        {"4D, SH 3, all outputs", 3, 0, true, true, true, false},
        {"4D, antialiased, edges", 2, RD_RENDER_ANTIALIASED, true, true, true, true},
    };
    for (size_t k = 0; k < sizeof cases4d / sizeof cases4d[0]; k++) run_case4d(&r, &cases4d[k]);
    test_accumulates(&r);
    test_loss(&r);
    rd_context_destroy(ctx);
    return test_finish("gradients");
}
