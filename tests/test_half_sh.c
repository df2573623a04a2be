/* test_half_sh.c: the inference layout (issue 35, RD_SCENE_PACKED): RD_SCENE_HALF_SH, the
   SH in half precision, and RD_SCENE_HALF_SHAPE, the rotations, log-scales and opacities,
   on the CPU reference (the harness's splat_packed row checks the GPUs against it):
   - rd_scene_use_half_sh leaves every SH value at its half-precision rounding, sets the
     flag, and a scene created with the flag holds the same values; such a scene saves and
     loads back (PLY, compact, SPZ);
   - renders of random scenes (SH 3), the demo scene and, where the shared data is here,
     the real biker scene stay at least 50 dB from the full-precision scene's;
   - the rows CUDA and Vulkan upload (rd_scene_sh_halves) hold each Gaussian's halves, then
     zeros to the row's length, the same from many threads as from one;
   - rd_scene_use_packed rounds the shape's arrays too (and the SH once), leaves the means;
     the shape's upload (rd_scene_shape_halves) holds each Gaussian's eight halves, the
     same from many threads as from one, and the arrays it holds upload nothing of their own;
   - packed renders of the same scenes (and the donut) stay at least 50 dB from the full;
   - a trainer continuing such a scene hands back one without the flags;
   - what it refuses: no scene; device arrays with either flag; gradients of such a scene. */
#include "test_util.h"
#include "../compress/conventions.h"
#include "../splat/scene.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;
static test_rng rng;

/* The lowest PSNR over `views` orbit views of the half-SH copy against the scene. */
static double worst_psnr(rd_scene *full, rd_scene *half, int views, int width, int height)
{
    rd_camera cams[8];
    if (!CHECK_OK(rd_scene_orbit_cameras(full, views, width, height, cams))) return 0.0;
    size_t n = (size_t)width * height;
    float *a = malloc(n * 4 * sizeof(float)), *b = malloc(n * 4 * sizeof(float));
    double worst = 1e9;
    for (int v = 0; v < views; v++) {
        rd_render_desc desc = {.background = {0.2f, 0.3f, 0.4f}};
        if (!CHECK_OK(rd_render(ctx, full, &cams[v], &desc, &(rd_framebuffer){.color = a})) ||
            !CHECK_OK(rd_render(ctx, half, &cams[v], &desc, &(rd_framebuffer){.color = b})))
            break;
        rd_metrics m;
        if (!CHECK_OK(rd_image_compare(ctx, &(rd_image){width, height, 4, a}, &(rd_image){width, height, 4, b}, &m))) break;
        if (m.psnr < worst) worst = m.psnr; /* infinite where they are equal */
    }
    free(a), free(b);
    return worst;
}

/* A copy of scene's arrays as a new scene (flags as given). */
static rd_scene *copy_of(const rd_scene *scene, uint32_t flags)
{
    rd_scene_desc d = rd_scene_arrays(scene);
    d.flags = flags;
    rd_scene *out = NULL;
    CHECK_OK(rd_scene_create(ctx, &d, &out));
    return out;
}

static void test_rounding(void)
{
    rd_scene_desc d = random_scene(&rng, &(random_scene_desc){.count = 500, .sh_degree = 3, .depth_min = 2, .depth_max = 6,
                                                              .spread = 0.5, .log_scale_min = -4, .log_scale_max = -2});
    float *sh = (float *)d.sh;
    sh[0] = 70000.0f, sh[1] = 1e-9f, sh[2] = -3.14159f; /* beyond the halves' range, under their smallest, an ordinary one */
    rd_scene *full = NULL, *created = NULL;
    CHECK_OK(rd_scene_create(ctx, &d, &full));
    d.flags = RD_SCENE_HALF_SH;
    CHECK_OK(rd_scene_create(ctx, &d, &created));
    rd_scene *used = full ? copy_of(full, 0) : NULL;
    if (used && created && CHECK_OK(rd_scene_use_half_sh(ctx, used))) {
        rd_scene_desc a = rd_scene_arrays(used), b = rd_scene_arrays(created);
        size_t floats = (size_t)d.count * 48;
        int off = 0;
        for (size_t k = 0; k < floats; k++) off += a.sh[k] != rd_half_to_float(rd_half_from_float(d.sh[k]));
        CHECK(off == 0 && memcmp(a.sh, b.sh, floats * sizeof(float)) == 0);
        CHECK(isinf(a.sh[0]) && a.sh[1] == 0.0f && fabsf(a.sh[2] + 3.14159f) < 2e-3f && a.sh[2] != sh[2]);
        CHECK((a.flags & RD_SCENE_HALF_SH) && (b.flags & RD_SCENE_HALF_SH));
        /* a file keeps what the scene is, not how it is held: saved and loaded back (the
           compact file refused the flag before) */
        const char *dir = test_temp_dir("test_half_sh");
        static const char *const names[] = {"half.ply", "half.rcompact", "half.spz"};
        for (int f = 0; f < 3; f++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, names[f]);
            rd_scene *back = NULL;
            if (CHECK_OK(rd_scene_save(ctx, used, path, NULL)) && CHECK_OK(rd_scene_load(ctx, path, &back)))
                CHECK(rd_scene_arrays(back).count >= d.count - 1); /* Gaussian 0's SH is infinite: a format may drop it */
            rd_scene_destroy(back);
        }
        /* the rest of the arrays untouched */
        CHECK(memcmp(a.means, d.means, (size_t)d.count * 3 * sizeof(float)) == 0 &&
              memcmp(a.rotations, d.rotations, (size_t)d.count * 4 * sizeof(float)) == 0);
    }
    rd_scene_destroy(full), rd_scene_destroy(created), rd_scene_destroy(used);
    random_scene_free(&d);
}

/* The rows a GPU uploads (rd_scene_sh_halves): each Gaussian's halves, then zeros to the
   row's length, the same from many threads as from one. */
static void test_upload_rows(void)
{
    for (int degree = 0; degree <= 3; degree++) {
        rd_scene_desc d = random_scene(&rng, &(random_scene_desc){.count = 70001, .sh_degree = degree, .depth_min = 2,
                                                                  .depth_max = 6, .spread = 0.5, .log_scale_min = -4,
                                                                  .log_scale_max = -2});
        rd_context *one = NULL;
        rd_scene *scene = NULL;
        int used = 3 * (degree + 1) * (degree + 1), row = (used + 1) & ~1; /* CUDA's: whole words */
        size_t bytes = 0, bytes_one = 0;
        uint16_t *rows = NULL, *rows_one = NULL;
        if (CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1}, &one)) &&
            CHECK_OK(rd_scene_create(ctx, &d, &scene)) && (rows = rd_scene_sh_halves(ctx, scene, row, &bytes)) != NULL &&
            (rows_one = rd_scene_sh_halves(one, scene, row, &bytes_one)) != NULL) {
            CHECK(bytes == (size_t)d.count * (size_t)row * 2 && bytes_one == bytes && memcmp(rows, rows_one, bytes) == 0);
            int off = 0;
            for (int64_t i = 0; i < d.count; i++)
                for (int c = 0; c < row; c++)
                    off += rows[i * row + c] != (c < used ? rd_half_from_float(d.sh[i * used + c]) : 0);
            CHECK(off == 0);
            free(rows), rows = NULL;
            CHECK((rows = rd_scene_sh_halves(ctx, scene, 0, &bytes)) != NULL && bytes == (size_t)d.count * (size_t)used * 2);
        }
        free(rows), free(rows_one);
        rd_scene_destroy(scene);
        rd_context_destroy(one);
        random_scene_free(&d);
    }
}

static void test_packed_rounding(void)
{
    rd_scene_desc d = random_scene(&rng, &(random_scene_desc){.count = 70001, .sh_degree = 2, .depth_min = 2, .depth_max = 6,
                                                              .spread = 0.5, .log_scale_min = -4, .log_scale_max = -2});
    ((float *)d.rotations)[0] = 1e6f, ((float *)d.log_scales)[0] = 1e-9f, ((float *)d.opacities)[0] = -3.14159f;
    rd_scene *full = NULL, *created = NULL, *used = NULL;
    rd_context *one = NULL;
    CHECK_OK(rd_scene_create(ctx, &d, &full));
    d.flags = RD_SCENE_PACKED;
    CHECK_OK(rd_scene_create(ctx, &d, &created));
    d.flags = 0;
    /* half SH first, then the rest: the scene ends with both flags, every array rounded once
       as a scene created packed has them */
    if (full && created && (used = copy_of(full, 0)) != NULL && CHECK_OK(rd_scene_use_half_sh(ctx, used)) &&
        CHECK_OK(rd_scene_use_packed(ctx, used))) {
        rd_scene_desc a = rd_scene_arrays(used), b = rd_scene_arrays(created);
        size_t n = (size_t)d.count;
        struct { const float *got, *was; size_t count; } arrays[] = {
            {a.rotations, d.rotations, 4 * n}, {a.log_scales, d.log_scales, 3 * n}, {a.opacities, d.opacities, n}, {a.sh, d.sh, 27 * n}};
        int off = 0;
        for (size_t k = 0; k < 4; k++)
            for (size_t j = 0; j < arrays[k].count; j++) off += arrays[k].got[j] != rd_half_to_float(rd_half_from_float(arrays[k].was[j]));
        CHECK(off == 0);
        CHECK(isinf(a.rotations[0]) && a.log_scales[0] == 0.0f && fabsf(a.opacities[0] + 3.14159f) < 2e-3f);
        CHECK(memcmp(a.means, d.means, n * 3 * sizeof(float)) == 0); /* positions stay single precision */
        CHECK(memcmp(a.rotations, b.rotations, n * 4 * sizeof(float)) == 0 && memcmp(a.sh, b.sh, n * 27 * sizeof(float)) == 0);
        CHECK((a.flags & RD_SCENE_PACKED) == RD_SCENE_PACKED && (b.flags & RD_SCENE_PACKED) == RD_SCENE_PACKED);
        /* the shape's upload: eight halves a Gaussian, the same from one thread */
        size_t bytes = 0, bytes_one = 0;
        uint16_t *h = rd_scene_shape_halves(ctx, used, &bytes), *h_one = NULL;
        if (CHECK(h != NULL && bytes == n * 16) && CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1}, &one)) &&
            CHECK((h_one = rd_scene_shape_halves(one, used, &bytes_one)) != NULL && bytes_one == bytes)) {
            CHECK(memcmp(h, h_one, bytes) == 0);
            off = 0;
            for (size_t i = 0; i < n; i++) {
                for (int c = 0; c < 4; c++) off += h[8 * i + c] != rd_half_from_float(a.rotations[4 * i + c]);
                for (int c = 0; c < 3; c++) off += h[8 * i + 4 + c] != rd_half_from_float(a.log_scales[3 * i + c]);
                off += h[8 * i + 7] != rd_half_from_float(a.opacities[i]);
            }
            CHECK(off == 0);
        }
        free(h), free(h_one);
        /* what a GPU uploads of each array: the rotations' halves hold the log-scales and opacities */
        static const size_t expect[RD_SCENE_ARRAYS] = {12, 0, 16, 0, 27 * 2};
        for (int k = 0; k < RD_SCENE_ARRAYS; k++) {
            const void *src;
            uint16_t *converted = NULL;
            if (CHECK_OK(rd_scene_upload_source(ctx, used, k, 0, &src, &bytes, &converted)))
                CHECK(bytes == n * expect[k] && (k == RD_ARRAY_MEANS ? src == (const void *)a.means && !converted : true));
            free(converted);
        }
    }
    rd_scene_destroy(full), rd_scene_destroy(created), rd_scene_destroy(used);
    rd_context_destroy(one);
    random_scene_free(&d);
}

/* The lowest PSNR of a copy of the scene with the flags against the scene, and its line. */
static void check_copy(rd_scene *scene, uint32_t flags, const char *name, int views, int width, int height)
{
    rd_scene *copy = copy_of(scene, flags);
    double p = copy ? worst_psnr(scene, copy, views, width, height) : 0.0;
    printf("%s: %s at least %.1f dB from full\n", name, flags == RD_SCENE_HALF_SH ? "half SH" : "packed", p);
    CHECK(p >= 50.0);
    rd_scene_destroy(copy);
}

static void test_quality(void)
{
    for (int k = 0; k < 3; k++) { /* random scenes, SH 3 */
        rd_scene_desc d = random_scene(&rng, &(random_scene_desc){.count = 5000, .sh_degree = 3, .depth_min = 2, .depth_max = 8,
                                                                  .spread = 0.6, .log_scale_min = -4, .log_scale_max = -1.5});
        rd_scene *full = NULL;
        char name[64];
        snprintf(name, sizeof name, "random scene %d (5,000 Gaussians, SH 3)", k);
        if (CHECK_OK(rd_scene_create(ctx, &d, &full))) {
            check_copy(full, RD_SCENE_HALF_SH, name, 4, 160, 120);
            check_copy(full, RD_SCENE_PACKED, name, 4, 160, 120);
        }
        rd_scene_destroy(full);
        random_scene_free(&d);
    }
    rd_scene *demo = NULL;
    if (CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 60000}, &demo))) {
        check_copy(demo, RD_SCENE_HALF_SH, "demo scene (60,000 Gaussians)", 3, 320, 240);
        check_copy(demo, RD_SCENE_PACKED, "demo scene (60,000 Gaussians)", 3, 320, 240);
    }
    rd_scene_destroy(demo);
    const char *data = test_data_dir();
    static const char *const files[2] = {"playcanvas/biker.spz", "gshairlod_donut/fused.ply"};
    for (int f = 0; f < 2; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/gaussian_splats/%s", data ? data : ".", files[f]);
        rd_scene *scene = NULL;
        if (!data || rd_scene_load(ctx, path, &scene) != RD_OK) {
            printf("%s: not here (%s); the random and demo scenes above stand for it\n", files[f], data ? path : "no shared data");
            continue;
        }
        check_copy(scene, RD_SCENE_HALF_SH, files[f], 3, 320, 240);
        check_copy(scene, RD_SCENE_PACKED, files[f], 3, 320, 240);
        rd_scene_destroy(scene);
    }
}

static void test_training_drops_the_flag(void)
{
    rd_scene *demo = NULL;
    if (!CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 2000}, &demo))) return;
    rd_scene *half = copy_of(demo, RD_SCENE_PACKED);
    rd_camera cam;
    rd_image photo = {0};
    rd_trainer *t = NULL;
    if (half && CHECK_OK(rd_scene_orbit_cameras(demo, 1, 32, 24, &cam)) && CHECK_OK(rd_image_alloc(32, 24, 4, &photo))) {
        rd_train_view view = {cam, &photo, 0.0f};
        rd_train_stats stats;
        if (CHECK_OK(rd_trainer_create(ctx, &(rd_trainer_desc){.views = &view, .view_count = 1, .iterations = 10, .initial = half}, &t)) &&
            CHECK_OK(rd_trainer_step(t, 2, &stats))) {
            rd_scene_info info;
            rd_scene_get_info(rd_trainer_scene(t), &info);
            CHECK(!(info.flags & RD_SCENE_PACKED));
        }
    }
    rd_trainer_destroy(t);
    rd_image_free(&photo);
    rd_scene_destroy(half), rd_scene_destroy(demo);
}

static void test_refusals(void)
{
    CHECK(rd_scene_use_half_sh(ctx, NULL) == RD_ERROR_INVALID_ARGUMENT);
    float mean[3] = {0}, scale[3] = {0}, rot[4] = {1, 0, 0, 0}, op = 0, sh[3] = {0};
    rd_scene *s = NULL;
    /* device arrays on the CPU backend: refused either way, and nothing made */
    rd_scene_desc d = {.count = 1, .means = mean, .log_scales = scale, .rotations = rot, .opacities = &op, .sh = sh,
                       .memory = RD_MEMORY_DEVICE, .flags = RD_SCENE_HALF_SH};
    CHECK(rd_scene_create(ctx, &d, &s) == RD_ERROR_INVALID_ARGUMENT);
    CHECK(s == NULL && strstr(rd_last_error(ctx), "RD_SCENE_HALF_SH") != NULL);
    d.flags = RD_SCENE_HALF_SHAPE;
    CHECK(rd_scene_create(ctx, &d, &s) == RD_ERROR_INVALID_ARGUMENT);
    CHECK(s == NULL && strstr(rd_last_error(ctx), "RD_SCENE_HALF_SHAPE") != NULL);
    CHECK(rd_scene_use_packed(ctx, NULL) == RD_ERROR_INVALID_ARGUMENT && strstr(rd_last_error(ctx), "rd_scene_use_packed") != NULL);
    /* another kind of scene: refused, naming the kind, and left as it was */
    float mean4[4] = {0, 0, 3, 0.5f}, ls4[4] = {-2, -2, -2, 0}, rot4[8] = {1, 0, 0, 0, 1, 0, 0, 0}, op4 = 1.0f, sh4[3] = {0.1f, 0.2f, 0.3f};
    rd_scene *dynamic = NULL;
    if (CHECK_OK(rd_scene4d_create(ctx, &(rd_scene4d_desc){1, 0, 0, 1.0f, mean4, ls4, rot4, &op4, sh4, RD_MEMORY_HOST}, &dynamic))) {
        CHECK(rd_scene_use_packed(ctx, dynamic) == RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "is for 3D Gaussian scenes") != NULL && strstr(rd_last_error(ctx), "4D") != NULL);
        printf("4D scene: %s\n", rd_last_error(ctx));
        rd_scene_info info;
        rd_scene_get_info(dynamic, &info);
        CHECK(!(info.flags & RD_SCENE_PACKED));
    }
    rd_scene_destroy(dynamic);
    /* gradients of a half-SH scene: refused (a layout for rendering; CUDA keeps no floats) */
    rd_scene *demo = NULL, *half = NULL;
    rd_camera cam;
    float *grad = calloc(16 * 12 * 4, sizeof(float)), *dsh = calloc(200 * 48, sizeof(float));
    if (grad && dsh && CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 200}, &demo)) &&
        (half = copy_of(demo, RD_SCENE_HALF_SH)) != NULL && CHECK_OK(rd_scene_orbit_cameras(demo, 1, 16, 12, &cam))) {
        rd_gaussian_grads g = {.sh = dsh};
        CHECK(rd_render_backward(ctx, half, 1, &cam, NULL, &(rd_render_grads){.color = grad},
                                 &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g, NULL, RD_MEMORY_HOST}) == RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "RD_SCENE_HALF_SH") != NULL);
        rd_scene *shape = copy_of(demo, RD_SCENE_HALF_SHAPE);
        CHECK(shape && rd_render_backward(ctx, shape, 1, &cam, NULL, &(rd_render_grads){.color = grad},
                                          &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g, NULL, RD_MEMORY_HOST}) == RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "RD_SCENE_HALF_SHAPE") != NULL);
        rd_scene_destroy(shape);
        CHECK_OK(rd_render_backward(ctx, demo, 1, &cam, NULL, &(rd_render_grads){.color = grad},
                                    &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g, NULL, RD_MEMORY_HOST}));
    }
    free(grad), free(dsh);
    rd_scene_destroy(half), rd_scene_destroy(demo);
}

int main(void)
{
    rng.state = test_seed("test_half_sh");
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU}, &ctx) != RD_OK) return 1;
    test_rounding();
    test_upload_rows();
    test_packed_rounding();
    test_quality();
    test_training_drops_the_flag();
    test_refusals();
    rd_context_destroy(ctx);
    return test_finish("test_half_sh");
}
