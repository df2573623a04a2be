/* test_train.c: the trainer on the CPU. A known random scene is rendered from 12 cameras
   on a ring (64x64); the trainer fits 3,000 random points to 10 of them for 600 steps, and
   the two held-out views must reach 22 dB, and 4 dB more than the untrained scene gives
   (measured over four seeds: untrained 18.0-19.7 dB, trained 23.9-25.7 dB, the loss down
   14 times). From 300 points with adaptive density control (densifying at steps 500, 600
   and 700), 800 steps must more than double the count and gain 1.5 dB on a held-out view
   (measured over four seeds: 1,280-1,387 Gaussians, 16.2-17.8 dB before, 23.6-24.8 after;
   until the run's last step was no longer a densification step, 2,000-2,230 and 21.5-22.8).
   Also: the same seed
   gives the same scene bit for bit, with 1 or 3 threads; the loss goes down; broken
   input is refused with a message. */
#include "test_util.h"
#include "../train/adam.h"
#include "../splat/knn.h"

#include <float.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;
enum { VIEWS = 12, HELD_OUT = 2, SIZE = 64 };

static rd_camera ring_camera(int k)
{
    float angle = 6.2831853f * (float)k / VIEWS, eye[3] = {4.0f * cosf(angle), 1.2f * sinf(3.0f * angle), 4.0f * sinf(angle)};
    return rd_camera_look_at(eye, (float[3]){0, 0, 0}, (float[3]){0, -1, 0}, SIZE, SIZE, 45.0f);
}

static double psnr(const rd_scene *scene, const rd_camera *cam, const rd_image *truth)
{
    rd_image img;
    rd_image_alloc(SIZE, SIZE, 4, &img);
    rd_render(ctx, scene, cam, NULL, &(rd_framebuffer){.color = img.pixels});
    rd_metrics m = {0};
    rd_image_compare(ctx, &img, truth, &m);
    rd_image_free(&img);
    return m.psnr;
}

static bool same_scene(const rd_scene *a, const rd_scene *b)
{
    rd_scene_desc x = rd_scene_arrays(a), y = rd_scene_arrays(b);
    size_t K = (size_t)(x.sh_degree + 1) * (size_t)(x.sh_degree + 1);
    return x.count == y.count && !memcmp(x.means, y.means, (size_t)x.count * 12) &&
           !memcmp(x.opacities, y.opacities, (size_t)x.count * 4) && !memcmp(x.sh, y.sh, (size_t)x.count * K * 12);
}

/* Adam's first two steps, worked by hand: m = 0.05, v = 2.5e-4 after g = 0.5, so the
   bias-corrected step is lr * 0.5 / 0.5; then g = -0.5 gives m_hat = -0.005 / 0.19,
   v_hat = 0.25, a step of lr * 0.0263158 / 0.5 back. */
static void test_adam(void)
{
    float p = 1.0f, m = 0.0f, v = 0.0f, g = 0.5f;
    rd_adam_update(&p, &g, &m, &v, 1, &(rd_adam_step_desc){.lr = 0.1f, .step = 1});
    CHECK(fabsf(p - 0.9f) < 1e-6f);
    g = -0.5f;
    rd_adam_update(&p, &g, &m, &v, 1, &(rd_adam_step_desc){.lr = 0.1f, .step = 2});
    CHECK(fabsf(p - (0.9f + 0.1f * 0.0263158f / 0.5f)) < 1e-6f);
}

/* Training on c recovers held-out views of the truth, with and without densification. */
static void learns(rd_context *c, const rd_trainer_desc *desc, const rd_train_view *views, const rd_image *images)
{
    const char *backend = rd_backend_name(rd_context_backend(c));
    rd_trainer *t = NULL;
    if (CHECK_OK(rd_trainer_create(c, desc, &t))) {
        double before[HELD_OUT], after[HELD_OUT];
        for (int k = 0; k < HELD_OUT; k++) before[k] = psnr(rd_trainer_scene(t), &views[VIEWS - HELD_OUT + k].camera, &images[VIEWS - HELD_OUT + k]);
        rd_train_stats first, last;
        CHECK_OK(rd_trainer_step(t, 100, &first));
        CHECK_OK(rd_trainer_step(t, 400, &last));
        CHECK_OK(rd_trainer_step(t, 100, &last));
        CHECK(last.iteration == 600 && last.gaussians == 3000 && last.sh_degree == 0);
        CHECK(last.loss < 0.5 * first.loss);
        for (int k = 0; k < HELD_OUT; k++) {
            after[k] = psnr(rd_trainer_scene(t), &views[VIEWS - HELD_OUT + k].camera, &images[VIEWS - HELD_OUT + k]);
            printf("train (%s): held-out view %d: PSNR %.2f dB untrained, %.2f dB after 600 steps (loss %.4f -> %.4f)\n", backend, k,
                   before[k], after[k], first.loss, last.loss);
            CHECK(after[k] >= 26.0);
            CHECK(after[k] >= before[k] + 4.0);
        }
        /* the trainer's own evaluation of the held-out views: the same PSNR (on the CPU the same
           bits: the same render and comparison), their mean */
        rd_metrics each[HELD_OUT], mean;
        rd_evaluate_desc held_out = {&views[VIEWS - HELD_OUT], HELD_OUT, {0, 0, 0}, each};
        if (CHECK_OK(rd_trainer_evaluate(t, &held_out, &mean))) {
            double tolerance = rd_context_backend(c) == RD_BACKEND_CPU ? 0.0 : 0.05;
            for (int k = 0; k < HELD_OUT; k++) CHECK(fabs(each[k].psnr - after[k]) <= tolerance && each[k].ssim > 0.5);
            CHECK(fabs(mean.psnr - (each[0].psnr + each[1].psnr) / 2) < 1e-9 && fabs(mean.ssim - (each[0].ssim + each[1].ssim) / 2) < 1e-9);
        }
        rd_trainer_destroy(t);
    }
    /* adaptive density control: from 300 points, 800 steps (densifying at 500, 600, 700) */
    rd_trainer_desc grow = *desc;
    grow.point_count = 300, grow.iterations = 800, grow.densify = true;
    if (CHECK_OK(rd_trainer_create(c, &grow, &t))) {
        rd_train_stats stats;
        double before = psnr(rd_trainer_scene(t), &views[VIEWS - 1].camera, &images[VIEWS - 1]);
        CHECK_OK(rd_trainer_step(t, 800, &stats));
        double after = psnr(rd_trainer_scene(t), &views[VIEWS - 1].camera, &images[VIEWS - 1]);
        printf("train (%s): densifying from 300 points: %lld Gaussians after 800 steps, held-out PSNR %.2f -> %.2f dB\n",
               backend, (long long)stats.gaussians, before, after);
        CHECK(stats.gaussians > 600);
        CHECK(after >= before + 1.5);
        rd_trainer_destroy(t);
    }
}

/* A trainer continuing a scene (desc.initial at start_iteration, as `radiant compact`'s
   fine-tuning does): it starts as the scene bit for bit, at its SH degree; Adam starts
   afresh (the first step moves each opacity it sees by its rate, 0.05, where a step count
   carried from the schedule would move it 3.2x that); and from the truth with its colours
   and opacities disturbed it wins back the held-out views, keeping its count. */
static void continues(rd_context *c, test_rng *r, const rd_trainer_desc *base, const rd_train_view *views, const rd_image *images,
                      const rd_scene_desc *truth)
{
    const char *backend = rd_backend_name(rd_context_backend(c));
    int64_t n = truth->count;
    float *sh = calloc((size_t)n * 12, sizeof(float)), *opacities = malloc((size_t)n * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        for (int a = 0; a < 3; a++) sh[12 * i + a] = truth->sh[3 * i + a] + (float)rng_range(r, -0.6, 0.6);
        for (int k = 3; k < 12; k++) sh[12 * i + k] = (float)rng_range(r, -0.1, 0.1);
        opacities[i] = truth->opacities[i] + (float)rng_range(r, -1.5, 0.5);
    }
    rd_scene_desc disturbed = *truth;
    disturbed.sh_degree = 1, disturbed.sh = sh, disturbed.opacities = opacities;
    rd_scene *initial = NULL;
    rd_trainer *t = NULL, *bad = NULL;
    rd_trainer_desc d = *base;
    d.point_count = 0, d.sh_degree = 0, d.densify = d.mcmc = false, d.iterations = 3000, d.start_iteration = 3000;
    if (CHECK_OK(rd_scene_create(ctx, &disturbed, &initial))) d.initial = initial;
    if (initial && CHECK_OK(rd_trainer_create(c, &d, &t))) {
        CHECK(same_scene(rd_trainer_scene(t), initial));
        double before = psnr(rd_trainer_scene(t), &views[VIEWS - 1].camera, &images[VIEWS - 1]);
        rd_train_stats stats;
        CHECK_OK(rd_trainer_step(t, 1, &stats));
        CHECK(stats.iteration == 3001 && stats.sh_degree == 1 && stats.gaussians == n);
        rd_scene_desc now = rd_scene_arrays(rd_trainer_scene(t));
        float largest = 0.0f;
        for (int64_t i = 0; i < n; i++) largest = fmaxf(largest, fabsf(now.opacities[i] - opacities[i]));
        printf("continue (%s): the first step's largest opacity move %.6f (its rate 0.05)\n", backend, largest);
        CHECK(largest >= 0.049f && largest <= 0.0501f);
        CHECK_OK(rd_trainer_step(t, 299, &stats));
        double after = psnr(rd_trainer_scene(t), &views[VIEWS - 1].camera, &images[VIEWS - 1]);
        printf("continue (%s): from the disturbed truth, held-out PSNR %.2f -> %.2f dB after 300 steps\n", backend, before, after);
        CHECK(after >= before + 3.0 && stats.gaussians == n);
    }
    rd_trainer_destroy(t);
    rd_trainer_desc wrong = d;
    wrong.start_iteration = 3001;
    CHECK(rd_trainer_create(c, &wrong, &bad) == RD_ERROR_INVALID_ARGUMENT && bad == NULL);
    CHECK(strstr(rd_last_error(c), "start_iteration 3001 is outside 0..3000") != NULL);
    wrong = d, wrong.sh_degree = RD_SH_DEGREE(3);
    CHECK(rd_trainer_create(c, &wrong, &bad) == RD_ERROR_INVALID_ARGUMENT && bad == NULL);
    CHECK(strstr(rd_last_error(c), "sh_degree 3, and the initial scene's is 1") != NULL);
    wrong = d, wrong.kind = RD_SCENE_GAUSSIANS_4D;
    CHECK(rd_trainer_create(c, &wrong, &bad) == RD_ERROR_INVALID_ARGUMENT && bad == NULL);
    CHECK(strstr(rd_last_error(c), "initial: a Gaussians scene, and the trainer fits 4D Gaussians") != NULL);
    rd_scene_destroy(initial);
    free(sh), free(opacities);
}

/* 3DGS-MCMC on the CPU: the count grows 5% at each refinement after step 500 up to the cap,
   the held-out view improves, and the run is the same bit for bit on 1 and 3 threads. */
static void mcmc(const rd_trainer_desc *d, const rd_train_view *views, const rd_image *images)
{
    rd_trainer_desc desc = *d;
    desc.point_count = 300, desc.iterations = 800, desc.mcmc = true, desc.max_gaussians = 320;
    rd_context *contexts[2] = {NULL, NULL};
    rd_trainer *runs[2] = {NULL, NULL};
    double before = 0.0, after = 0.0;
    rd_train_stats stats = {0};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1 + 2 * k, .log = test_log}, &contexts[k]));
        if (!CHECK_OK(rd_trainer_create(contexts[k], &desc, &runs[k]))) continue;
        if (k == 0) before = psnr(rd_trainer_scene(runs[k]), &views[VIEWS - 1].camera, &images[VIEWS - 1]);
        CHECK_OK(rd_trainer_step(runs[k], 800, &stats));
    }
    if (runs[0] && runs[1]) {
        after = psnr(rd_trainer_scene(runs[0]), &views[VIEWS - 1].camera, &images[VIEWS - 1]);
        printf("train (cpu): 3DGS-MCMC from 300 points: %lld Gaussians after 800 steps (cap 320), held-out PSNR %.2f -> %.2f dB\n",
               (long long)stats.gaussians, before, after);
        CHECK(stats.gaussians == 320); /* 300 -> 315 at 600 -> 320 (the cap) at 700 */
        CHECK(after >= before + 1.5);
        CHECK(same_scene(rd_trainer_scene(runs[0]), rd_trainer_scene(runs[1])));
    }
    for (int k = 0; k < 2; k++) rd_trainer_destroy(runs[k]), rd_context_destroy(contexts[k]);
}

/* On a device trainer, a checkpoint holds the device's state: saved after 520 steps and
   loaded into a fresh trainer, the scene is the same bit for bit, and both go on. */
static void device_checkpoint(rd_context *c, const rd_trainer_desc *d)
{
    rd_trainer_desc desc = *d;
    desc.point_count = 400, desc.densify = true, desc.iterations = 600;
    rd_trainer *first = NULL, *resumed = NULL;
    char checkpoint[1024];
    snprintf(checkpoint, sizeof checkpoint, "%s/device.checkpoint", test_temp_dir("train_device"));
    if (CHECK_OK(rd_trainer_create(c, &desc, &first)) && CHECK_OK(rd_trainer_create(c, &desc, &resumed))) {
        rd_train_stats stats;
        CHECK_OK(rd_trainer_step(first, 520, NULL)); /* past a densification (500) */
        CHECK_OK(rd_trainer_save_checkpoint(first, checkpoint));
        CHECK_OK(rd_trainer_load_checkpoint(resumed, checkpoint));
        CHECK(same_scene(rd_trainer_scene(first), rd_trainer_scene(resumed)));
        CHECK_OK(rd_trainer_step(resumed, 20, &stats));
        CHECK(stats.iteration == 540 && stats.loss > 0.0 && stats.loss < 1.0);
    }
    rd_trainer_destroy(first), rd_trainer_destroy(resumed);
}

/* The gradients of one backward pass of a scene on c, host arrays (free the means; the
   rest follow it in one block). */
static float *backward_once(rd_context *c, const rd_scene *scene, const rd_camera *cam, uint32_t flags, const float *g_color,
                            size_t *floats)
{
    rd_scene_info info;
    rd_scene_get_info(scene, &info);
    size_t n = (size_t)info.count, K = (size_t)(info.sh_degree + 1) * (size_t)(info.sh_degree + 1);
    *floats = n * (3 + 3 + 4 + 1 + 3 * K + 1);
    float *all = calloc(*floats, sizeof(float));
    rd_gaussian_grads g = {all, all + 3 * n, all + 6 * n, all + 10 * n, all + 11 * n, all + (11 + 3 * K) * n, NULL};
    rd_render_desc desc = {.flags = flags};
    CHECK_OK(rd_render_backward(c, scene, 1, cam, &desc, &(rd_render_grads){g_color, NULL, RD_MEMORY_HOST},
                                &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g, NULL, RD_MEMORY_HOST}));
    return all;
}

/* RD_RENDER_DETERMINISTIC on CUDA: a backward pass of 200,000 overlapping Gaussians gives
   the same gradients bit for bit twice (without it, float atomics add in the order the
   warps arrive: counted, not required), and a densifying training run repeats bit for bit. */
static void device_deterministic(rd_context *c, test_rng *r, const rd_trainer_desc *d)
{
    rd_scene_desc sd = random_scene(r, &(random_scene_desc){.count = 200000, .sh_degree = 3, .depth_min = 0.5, .depth_max = 8,
                                                            .spread = 0.9, .log_scale_min = -5, .log_scale_max = -2});
    rd_scene *scene = NULL;
    rd_camera cam = random_camera(r, 640, 480);
    float *g_color = malloc(sizeof(float) * 4 * 640 * 480);
    for (int p = 0; p < 4 * 640 * 480; p++) g_color[p] = (float)rng_range(r, -1, 1);
    if (CHECK_OK(rd_scene_create(c, &sd, &scene))) {
        size_t floats = 0, differ = 0;
        float *runs[4];
        for (int k = 0; k < 4; k++) runs[k] = backward_once(c, scene, &cam, k < 2 ? RD_RENDER_DETERMINISTIC : 0u, g_color, &floats);
        CHECK(!memcmp(runs[0], runs[1], floats * sizeof(float)));
        for (size_t k = 0; k < floats; k++) differ += memcmp(&runs[2][k], &runs[3][k], sizeof(float)) != 0;
        printf("train (cuda): deterministic backward pass of 200,000 Gaussians repeats bit for bit; "
               "with atomics %zu of %zu gradients differed between two runs\n", differ, floats);
        for (int k = 0; k < 4; k++) free(runs[k]);
    }
    rd_scene_destroy(scene);
    free(g_color);
    random_scene_free(&sd);
    rd_trainer_desc desc = *d;
    desc.point_count = 2000, desc.densify = true, desc.iterations = 700, desc.deterministic = true;
    rd_trainer *runs[2] = {NULL, NULL};
    for (int k = 0; k < 2; k++)
        if (CHECK_OK(rd_trainer_create(c, &desc, &runs[k]))) CHECK_OK(rd_trainer_step(runs[k], 700, NULL));
    if (runs[0] && runs[1]) CHECK(same_scene(rd_trainer_scene(runs[0]), rd_trainer_scene(runs[1])));
    for (int k = 0; k < 2; k++) rd_trainer_destroy(runs[k]);
}

/* The initial scales' neighbours (splat/knn.h) against brute force, on random, flat and
   lattice clouds. */
static void nearest_neighbours(test_rng *r)
{
    enum { N = 3000 };
    float *xyz = malloc(sizeof(float) * 3 * N), *got = malloc(sizeof(float) * N);
    for (int shape = 0; shape < 3; shape++) {
        int n = shape == 2 ? 1000 : N;
        for (int i = 0; i < n; i++)
            for (int a = 0; a < 3; a++)
                xyz[3 * i + a] = shape == 2 ? 0.1f * (float)(a == 0 ? i % 10 : a == 1 ? i / 10 % 10 : i / 100)
                                            : shape == 1 && a == 2 ? 0.0f : (float)rng_range(r, -1, 1) * (a ? 1.0f : 30.0f);
        CHECK(rd_knn_mean_sq(xyz, n, 3, got));
        double worst = 0.0;
        for (int i = 0; i < n; i++) {
            float best[3] = {FLT_MAX, FLT_MAX, FLT_MAX};
            for (int j = 0; j < n; j++) {
                if (j == i) continue;
                float d = 0.0f;
                for (int a = 0; a < 3; a++) d += (xyz[3 * i + a] - xyz[3 * j + a]) * (xyz[3 * i + a] - xyz[3 * j + a]);
                for (int k = 0; k < 3; k++)
                    if (d < best[k]) {
                        for (int m = 2; m > k; m--) best[m] = best[m - 1];
                        best[k] = d;
                        break;
                    }
            }
            double want = ((double)best[0] + best[1] + best[2]) / 3.0;
            worst = fmax(worst, fabs(got[i] - want) / fmax(want, 1e-12));
        }
        printf("train: nearest neighbours, cloud %d: largest relative difference %.2g\n", shape, worst);
        CHECK(worst < 1e-5);
        if (shape == 2) CHECK(fabsf(got[555] - 0.01f) < 1e-6f && fabsf(got[0] - 0.01f) < 1e-6f);
    }
    CHECK(rd_knn_mean_sq(xyz, 1, 3, got) && got[0] == 0.0f);
    free(xyz), free(got);
}

/* A trainer from a dataset folder: lego's train split at 1/8 size. */
static void from_dataset(void)
{
    const char *data = test_data_dir();
    if (!data) {
        printf("train: dataset part skipped (no shared data: set RADIANT_DATA)\n");
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/nerf_synthetic_lego/transforms_train.json", data);
    FILE *probe = fopen(path, "rb");
    if (!probe) { /* a partial copy of the data, as the GPU machine's */
        printf("train: dataset part skipped (%s has no nerf_synthetic_lego)\n", data);
        return;
    }
    fclose(probe);
    snprintf(path, sizeof path, "%s/nerf_synthetic_lego", data);
    rd_train_set *set = NULL;
    if (!CHECK_OK(rd_train_set_load(ctx, path, &(rd_train_set_desc){.split = "train", .downscale = 8}, &set))) return;
    CHECK(rd_train_set_count(set) == 100);
    const rd_train_view *views = rd_train_set_views(set);
    CHECK(views[0].camera.width == 100 && views[0].camera.height == 100 && views[0].image->width == 100);
    CHECK(rd_train_set_view_name(set, 0) != NULL && rd_train_set_view_name(set, 100) == NULL);
    const float *xyz, *rgb;
    CHECK(rd_train_set_points(set, &xyz, &rgb) == 0); /* Blender: no sparse points */
    rd_trainer *t = NULL;
    rd_train_stats stats;
    if (CHECK_OK(rd_trainer_create_from_set(ctx, set, &(rd_trainer_desc){.point_count = 500, .sh_degree = RD_SH_DEGREE(0)}, &t))) {
        rd_train_set_destroy(set); /* the trainer keeps copies */
        set = NULL;
        CHECK_OK(rd_trainer_step(t, 5, &stats));
        CHECK(stats.iteration == 5 && stats.gaussians == 500);
        /* the random points fill NeRF-synthetic's cube of side 2.6 */
        rd_scene_desc arrays = rd_scene_arrays(rd_trainer_scene(t));
        float most = 0.0f;
        for (int k = 0; k < 3 * 500; k++) most = fmaxf(most, fabsf(arrays.means[k]));
        CHECK(most > 1.0f && most < 1.4f);
    }
    rd_trainer_destroy(t);
    rd_train_set_destroy(set);
    /* broken input names the folder, and an absurd factor is refused */
    CHECK(rd_train_set_load(ctx, "/nonexistent/lego", NULL, &set) != RD_OK && set == NULL);
    CHECK(strstr(rd_last_error(ctx), "/nonexistent/lego") != NULL);
    CHECK(rd_train_set_load(ctx, path, &(rd_train_set_desc){.downscale = 40}, &set) == RD_ERROR_INVALID_ARGUMENT);
}

int main(void)
{
    test_rng r = {test_seed("train")};
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    test_adam();
    from_dataset();
    nearest_neighbours(&r);
    /* the scene to recover: 150 opaque-ish Gaussians of SH degree 0 in the unit cube */
    rd_scene_desc truth_desc = random_scene(&r, &(random_scene_desc){.count = 150, .sh_degree = 0, .depth_min = 1, .depth_max = 1,
                                                                      .log_scale_min = -2.4, .log_scale_max = -1.6});
    for (int i = 0; i < 150; i++) {
        for (int a = 0; a < 3; a++) ((float *)truth_desc.means)[3 * i + a] = (float)rng_range(&r, -0.8, 0.8);
        ((float *)truth_desc.opacities)[i] = (float)rng_range(&r, 0.5, 3.0);
    }
    rd_scene *truth = NULL;
    CHECK_OK(rd_scene_create(ctx, &truth_desc, &truth));
    rd_image images[VIEWS];
    rd_train_view views[VIEWS];
    for (int k = 0; k < VIEWS; k++) {
        views[k].camera = ring_camera(k);
        rd_image_alloc(SIZE, SIZE, 4, &images[k]);
        CHECK_OK(rd_render(ctx, truth, &views[k].camera, NULL, &(rd_framebuffer){.color = images[k].pixels}));
        /* the render's RGB is composited on black already; a photo's alpha says how much of
           its (straight) colour to take over the trainer's background, so: all of it */
        for (int p = 0; p < SIZE * SIZE; p++) images[k].pixels[4 * p + 3] = 1.0f;
        views[k].image = &images[k];
    }
    /* train on views 0..9; 10 and 11 are held out */
    rd_trainer_desc desc = {.views = views, .view_count = VIEWS - HELD_OUT, .point_count = 3000,
                            .box_min = {-1, -1, -1}, .box_max = {1, 1, 1}, .sh_degree = RD_SH_DEGREE(0), .iterations = 600, .seed = 7};
    learns(ctx, &desc, views, images);
    continues(ctx, &r, &desc, views, images, &truth_desc);
    mcmc(&desc, views, images);
    /* the same on CUDA, where the state lives on the device (splat/train_device.c) */
    rd_context *cuda = NULL;
    rd_result cr = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA, .log = test_log}, &cuda);
    if (cr == RD_ERROR_BACKEND_UNAVAILABLE) printf("train: CUDA skipped (not built, or no device here)\n");
    else if (CHECK_OK(cr)) {
        learns(cuda, &desc, views, images);
        continues(cuda, &r, &desc, views, images, &truth_desc);
        device_checkpoint(cuda, &desc);
        device_deterministic(cuda, &r, &desc);
    }
    rd_context_destroy(cuda);
    /* repeatable bit for bit, whatever the thread count */
    rd_context *contexts[2] = {NULL, NULL};
    rd_trainer *runs[2] = {NULL, NULL};
    desc.point_count = 500;
    for (int k = 0; k < 2; k++) {
        CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1 + 2 * k, .log = test_log}, &contexts[k]));
        if (CHECK_OK(rd_trainer_create(contexts[k], &desc, &runs[k]))) CHECK_OK(rd_trainer_step(runs[k], 30, NULL));
    }
    if (runs[0] && runs[1]) CHECK(same_scene(rd_trainer_scene(runs[0]), rd_trainer_scene(runs[1])));
    for (int k = 0; k < 2; k++) rd_trainer_destroy(runs[k]), rd_context_destroy(contexts[k]);
    /* a run stopped at step 20 and resumed from its checkpoint takes the same steps as one
       that ran through 40 */
    desc.point_count = 400, desc.densify = true, desc.iterations = 40;
    rd_trainer *straight = NULL, *first_half = NULL, *resumed = NULL;
    char checkpoint[1024];
    snprintf(checkpoint, sizeof checkpoint, "%s/run.checkpoint", test_temp_dir("train"));
    if (CHECK_OK(rd_trainer_create(ctx, &desc, &straight)) && CHECK_OK(rd_trainer_create(ctx, &desc, &first_half)) &&
        CHECK_OK(rd_trainer_create(ctx, &desc, &resumed))) {
        CHECK_OK(rd_trainer_step(straight, 40, NULL));
        CHECK_OK(rd_trainer_step(first_half, 20, NULL));
        CHECK_OK(rd_trainer_save_checkpoint(first_half, checkpoint));
        CHECK_OK(rd_trainer_load_checkpoint(resumed, checkpoint));
        rd_train_stats stats;
        CHECK_OK(rd_trainer_step(resumed, 20, &stats));
        CHECK(stats.iteration == 40);
        CHECK(same_scene(rd_trainer_scene(straight), rd_trainer_scene(resumed)));
        /* a damaged checkpoint is refused, naming the file, and leaves the trainer as it was */
        FILE *f = fopen(checkpoint, "r+b");
        if (f) fseek(f, 200, SEEK_SET), fputc(0x5a, f), fclose(f);
        CHECK(rd_trainer_load_checkpoint(resumed, checkpoint) == RD_ERROR_FORMAT);
        CHECK(strstr(rd_last_error(ctx), "checksum") && strstr(rd_last_error(ctx), "run.checkpoint"));
        CHECK(same_scene(rd_trainer_scene(straight), rd_trainer_scene(resumed)));
    }
    rd_trainer_destroy(straight), rd_trainer_destroy(first_half), rd_trainer_destroy(resumed);
    /* broken input */
    rd_trainer *bad = (rd_trainer *)0x1;
    CHECK(rd_trainer_create(ctx, &(rd_trainer_desc){0}, &bad) == RD_ERROR_INVALID_ARGUMENT && bad == NULL);
    rd_image small;
    rd_image_alloc(8, 8, 3, &small);
    rd_train_view wrong = {views[0].camera, &small};
    CHECK(rd_trainer_create(ctx, &(rd_trainer_desc){.views = &wrong, .view_count = 1}, &bad) == RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "view 0: the image is 8x8, its camera 64x64") != NULL);
    rd_metrics mean;
    rd_train_view two[2] = {views[0], wrong};
    CHECK(rd_scene_evaluate(ctx, truth, &(rd_evaluate_desc){two, 2}, &mean) == RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "view 1: the photo is 8x8, its camera 64x64") != NULL);
    CHECK(rd_scene_evaluate(ctx, truth, &(rd_evaluate_desc){views, 0}, &mean) == RD_ERROR_INVALID_ARGUMENT);
    /* the truth against its own renders: exact */
    if (CHECK_OK(rd_scene_evaluate(ctx, truth, &(rd_evaluate_desc){views, VIEWS}, &mean))) CHECK(mean.mse == 0.0 && mean.ssim > 0.9999);
    CHECK(rd_trainer_create(ctx, &(rd_trainer_desc){.views = views, .view_count = 1, .sh_degree = 9}, &bad) ==
          RD_ERROR_INVALID_ARGUMENT);
    rd_image_free(&small);
    for (int k = 0; k < VIEWS; k++) rd_image_free(&images[k]);
    rd_scene_destroy(truth);
    random_scene_free(&truth_desc);
    rd_context_destroy(ctx);
    return test_finish("train");
}
