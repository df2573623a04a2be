/* test_nerf_train.c: NeRF scenes end to end on the CPU (radiant_nerf.h): a fresh field
   renders finite colours through rd_render; a snapshot saves and loads to the same
   renders, and broken snapshots (truncated, damaged, absurd or newer configurations) and
   bad training options get clear errors; a seed repeats training bit for bit; the
   trainer's scene is the parameters' moving average where asked; and a
   small field trained on a few coloured boxes (photos drawn by an analytic renderer,
   nerf_boxes.h) renders held-out views far better than it did untrained. */
#include "nerf_boxes.h"
#include "../nerf/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rd_context *ctx;

/* ---- snapshots ---- */



/* A copy of a snapshot with its configuration replaced by json, the checksum made right. */
static const char *with_config(const char *dir, const unsigned char *good, size_t size, const char *json)
{
    uint32_t old_json;
    memcpy(&old_json, good + 12, 4);
    size_t rest = size - 16 - old_json - 8, n = 16 + strlen(json) + rest + 8;
    unsigned char *f = malloc(n);
    memcpy(f, good, 12);
    uint32_t j = (uint32_t)strlen(json);
    memcpy(f + 12, &j, 4);
    memcpy(f + 16, json, j);
    memcpy(f + 16 + j, good + 16 + old_json, rest);
    uint64_t sum = test_fnv1a(f, n - 8);
    memcpy(f + n - 8, &sum, 8);
    const char *path = write_file(dir, "edited.rnerf", f, n);
    free(f);
    return path;
}

static void expect_load_error(const char *path, const char *needle)
{
    rd_scene *s = NULL;
    rd_result r = rd_scene_load(ctx, path, &s);
    CHECK(r != RD_OK && s == NULL);
    if (!CHECK(strstr(rd_last_error(ctx), needle) != NULL)) fprintf(stderr, "  wanted \"%s\" in: %s\n", needle, rd_last_error(ctx));
}

static void test_snapshots(void)
{
    const char *dir = test_temp_dir("nerf_snapshot");
    rd_scene *nerf = NULL;
    rd_nerf_desc desc = nerf_boxes_desc(NULL, 0, 0).field;
    desc.aabb_scale = 2, desc.seed = 5;
    CHECK_OK(rd_nerf_create(ctx, &desc, &nerf));
    CHECK(rd_scene_get_kind(nerf) == RD_SCENE_NERF);
    rd_camera cam = nerf_boxes_camera(1, 8, 0.4f, 24);
    size_t pixels = 24 * 24;
    float *a = malloc(4 * pixels * sizeof(float)), *b = malloc(4 * pixels * sizeof(float));
    float *depth = malloc(pixels * sizeof(float));
    uint32_t *contributors = malloc(pixels * sizeof(uint32_t));
    CHECK_OK(rd_render(ctx, nerf, &cam, &(rd_render_desc){0}, &(rd_framebuffer){.color = a, .depth = depth, .contributors = contributors}));
    bool sane = true;
    for (size_t i = 0; i < pixels; i++) {
        sane &= isfinite(a[4 * i]) && a[4 * i + 3] >= 0.0f && a[4 * i + 3] <= 1.0f && depth[i] >= 0.0f && contributors[i] <= 1024;
        sane &= contributors[i] > 0; /* every cell occupied: each ray takes samples */
    }
    CHECK(sane);
    char path[4096];
    snprintf(path, sizeof path, "%s/field.rnerf", dir);
    CHECK_OK(rd_scene_save(ctx, nerf, path, NULL));
    rd_scene *back = NULL;
    CHECK_OK(rd_scene_load(ctx, path, &back));
    rd_nerf_info before, after;
    CHECK_OK(rd_nerf_get_info(ctx, nerf, &before));
    if (back) {
        CHECK_OK(rd_nerf_get_info(ctx, back, &after));
        CHECK(after.params == before.params && after.cascades == 2 && after.occupied_cells == before.occupied_cells);
        CHECK(after.scale == before.scale && memcmp(after.offset, before.offset, sizeof after.offset) == 0);
        CHECK_OK(rd_render(ctx, back, &cam, &(rd_render_desc){0}, &(rd_framebuffer){.color = b}));
        CHECK(memcmp(a, b, 4 * pixels * sizeof(float)) == 0);
    }
    rd_scene_destroy(back);
    /* a Gaussian format name, or a NeRF where a Gaussian is expected, is refused */
    snprintf(path, sizeof path, "%s/field.ply", dir);
    CHECK_FAILS(rd_scene_save(ctx, nerf, path, NULL), RD_ERROR_UNSUPPORTED);
    CHECK(access(path, F_OK) != 0);
    rd_scene_info info;
    rd_scene_get_info(nerf, &info);
    CHECK(info.count == 0);

    snprintf(path, sizeof path, "%s/field.rnerf", dir);
    size_t size = 0;
    unsigned char *good = read_file(path, &size);
    CHECK(good && size > 1000);
    if (good && size > 1000) {
        const size_t cuts[] = {4, 15, 40, size / 2, size - 1};
        for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
            expect_load_error(write_file(dir, "cut.rnerf", good, cuts[k]), cuts[k] < 8 ? "unknown scene format" : "");
            CHECK(strstr(rd_last_error(ctx), "cut.rnerf") != NULL);
        }
        unsigned char *bad = malloc(size);
        memcpy(bad, good, size);
        bad[size / 2] ^= 0x40;
        expect_load_error(write_file(dir, "flipped.rnerf", bad, size), "checksum");
        memcpy(bad, good, size);
        bad[8] = 3;
        expect_load_error(write_file(dir, "newer.rnerf", bad, size), "version 3");
        free(bad);
        expect_load_error(with_config(dir, good, size, "{\"levels\":1000}"), "levels");
        expect_load_error(with_config(dir, good, size, "[1,2]"), "expected a JSON object");
        expect_load_error(with_config(dir, good, size,
                                      "{\"levels\":8,\"features\":2,\"log2_table_size\":24,\"width\":32,\"aabb_scale\":2,"
                                      "\"params\":1000000000000,\"cascades\":2,\"base_resolution\":8,\"finest_resolution\":256,"
                                      "\"scale\":0.5,\"offset\":[0.5,0.5,0.5],\"table_entries\":9000,\"table_entries_stored\":10}"),
                          "bytes");
        /* version 2 says how many table entries it holds */
        expect_load_error(with_config(dir, good, size,
                                      "{\"levels\":8,\"features\":2,\"log2_table_size\":14,\"width\":32,\"aabb_scale\":2,"
                                      "\"params\":1,\"cascades\":2,\"base_resolution\":8,\"finest_resolution\":256,"
                                      "\"scale\":0.5,\"offset\":[0.5,0.5,0.5]}"),
                          "table_entries");
        expect_load_error(with_config(dir, good, size,
                                      "{\"levels\":8,\"features\":2,\"log2_table_size\":14,\"width\":32,\"aabb_scale\":2,"
                                      "\"params\":100000,\"cascades\":2,\"base_resolution\":8,\"finest_resolution\":256,"
                                      "\"scale\":0.5,\"offset\":[0.5,0.5,0.5],\"table_entries\":9000,\"table_entries_stored\":9001}"),
                          "table_entries_stored");
        expect_load_error(with_config(dir, good, size,
                                      "{\"levels\":8,\"features\":2,\"log2_table_size\":14,\"width\":32,\"aabb_scale\":2,"
                                      "\"params\":1,\"cascades\":2,\"base_resolution\":8,\"finest_resolution\":256,"
                                      "\"scale\":-1,\"offset\":[0.5,0.5,0.5]}"),
                          "");
        /* a saliency mask's configuration: a resolution out of range, a mask without its gate */
        expect_load_error(with_config(dir, good, size,
                                      "{\"levels\":8,\"features\":2,\"log2_table_size\":14,\"width\":32,\"aabb_scale\":2,"
                                      "\"params\":1,\"cascades\":2,\"base_resolution\":8,\"finest_resolution\":256,"
                                      "\"scale\":0.5,\"offset\":[0.5,0.5,0.5],\"saliency_resolution\":1,\"gate_sharpness\":1000}"),
                          "saliency_resolution 1");
        expect_load_error(with_config(dir, good, size,
                                      "{\"levels\":8,\"features\":2,\"log2_table_size\":14,\"width\":32,\"aabb_scale\":2,"
                                      "\"params\":1,\"cascades\":2,\"base_resolution\":8,\"finest_resolution\":256,"
                                      "\"scale\":0.5,\"offset\":[0.5,0.5,0.5],\"saliency_resolution\":16}"),
                          "gate_sharpness");
    }
    free(good);
    free(a), free(b), free(depth), free(contributors);
    rd_scene_destroy(nerf);
}

/* ---- training ---- */

static void test_bad_options(const rd_train_view *views, int n)
{
    rd_nerf_trainer *t = (rd_nerf_trainer *)1;
    rd_nerf_trainer_desc d = nerf_boxes_desc(views, n, 1);
    d.view_count = 0;
    CHECK_FAILS(rd_nerf_trainer_create(ctx, &d, &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(t == NULL && strstr(rd_last_error(ctx), "views"));
    d = nerf_boxes_desc(views, n, 1), d.batch_samples = -5;
    CHECK_FAILS(rd_nerf_trainer_create(ctx, &d, &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "batch_samples") != NULL);
    d = nerf_boxes_desc(views, n, 1), d.background[1] = 2.0f;
    CHECK_FAILS(rd_nerf_trainer_create(ctx, &d, &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "background[1]") != NULL);
    d = nerf_boxes_desc(views, n, 1), d.field.aabb_scale = 3;
    CHECK_FAILS(rd_nerf_trainer_create(ctx, &d, &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "aabb_scale") != NULL);
    d = nerf_boxes_desc(views, n, 1), d.field.levels = 40;
    CHECK_FAILS(rd_nerf_trainer_create(ctx, &d, &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "levels") != NULL);
    d = nerf_boxes_desc(views, n, 1), d.average_decay = 1.0f;
    CHECK_FAILS(rd_nerf_trainer_create(ctx, &d, &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "average_decay") != NULL);
    rd_train_view wrong = views[0];
    wrong.camera.width += 1;
    d = nerf_boxes_desc(&wrong, 1, 1);
    CHECK_FAILS(rd_nerf_trainer_create(ctx, &d, &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "views[0]") != NULL);
}

/* A seed repeats a run bit for bit, on 1 thread as on 4: every sum runs in a fixed order. */
static void test_repeatable(const rd_train_view *views, int n)
{
    const char *dir = test_temp_dir("nerf_repeat");
    unsigned char *files[2] = {NULL, NULL};
    size_t sizes[2] = {0, 0};
    rd_context *threads[2] = {NULL, NULL};
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log}, &threads[0]));
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 4, .log = test_log}, &threads[1]));
    for (int run = 0; run < 2 && threads[run]; run++) {
        rd_nerf_trainer *t = NULL;
        rd_nerf_trainer_desc d = nerf_boxes_desc(views, n, 77);
        d.batch_samples = 1 << 10;
        CHECK_OK(rd_nerf_trainer_create(threads[run], &d, &t));
        if (!t) break;
        rd_nerf_train_stats stats;
        CHECK_OK(rd_nerf_trainer_step(t, 3, &stats));
        CHECK(stats.iteration == 3 && stats.samples > 0 && stats.samples <= 1024 && stats.rays > 0 && isfinite(stats.loss));
        char path[4096];
        snprintf(path, sizeof path, "%s/run%d.rnerf", dir, run);
        CHECK_OK(rd_nerf_save(ctx, rd_nerf_trainer_scene(t), path));
        files[run] = read_file(path, &sizes[run]);
        rd_nerf_trainer_destroy(t);
    }
    CHECK(files[0] && files[1] && sizes[0] == sizes[1] && memcmp(files[0], files[1], sizes[0]) == 0);
    free(files[0]), free(files[1]);
    rd_context_destroy(threads[0]), rd_context_destroy(threads[1]);
    /* a negative step count is refused, saying so */
    rd_nerf_trainer *t = NULL;
    rd_nerf_trainer_desc d = nerf_boxes_desc(views, n, 1);
    if (CHECK_OK(rd_nerf_trainer_create(ctx, &d, &t))) {
        CHECK_FAILS(rd_nerf_trainer_step(t, -1, NULL), RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "steps -1") != NULL);
    }
    rd_nerf_trainer_destroy(t);
    CHECK_FAILS(rd_nerf_trainer_step(NULL, 1, NULL), RD_ERROR_INVALID_ARGUMENT);
}

/* The trainer's scene with the default average_decay (0.95) is the unbiased moving average
   of the parameters a trainer without one (negative) shows after each step: the two train
   alike, the average only changes what they show. */
static void test_average(const rd_train_view *views, int n)
{
    rd_nerf_trainer *averaged = NULL, *live = NULL;
    rd_nerf_trainer_desc d = nerf_boxes_desc(views, n, 5);
    d.batch_samples = 1 << 10;
    CHECK_OK(rd_nerf_trainer_create(ctx, &d, &averaged));
    d.average_decay = -1.0f;
    CHECK_OK(rd_nerf_trainer_create(ctx, &d, &live));
    if (!averaged || !live) goto done;
    enum { STEPS = 4 };
    int64_t count = ((const rd_nerf_scene *)rd_nerf_trainer_scene(live))->field.params;
    double *expected = calloc((size_t)count, sizeof(double)), weight = 0.0;
    float *gradient = malloc(sizeof(float) * (size_t)count);
    CHECK_FAILS(rd_nerf_trainer_last_gradient(live, gradient), RD_ERROR_INVALID_ARGUMENT); /* no step yet */
    CHECK(strstr(rd_last_error(ctx), "no step") != NULL);
    for (int k = 0; expected && k < STEPS; k++) {
        CHECK_OK(rd_nerf_trainer_step(averaged, 1, NULL));
        CHECK_OK(rd_nerf_trainer_step(live, 1, NULL));
        const float *p = ((const rd_nerf_scene *)rd_nerf_trainer_scene(live))->params;
        for (int64_t i = 0; i < count; i++) expected[i] = 0.95 * expected[i] + 0.05 * p[i];
        weight = 0.95 * weight + 0.05;
    }
    const float *got = ((const rd_nerf_scene *)rd_nerf_trainer_scene(averaged))->params;
    const float *last = ((const rd_nerf_scene *)rd_nerf_trainer_scene(live))->params;
    int64_t wrong = 0, unlike_last = 0;
    for (int64_t i = 0; expected && i < count; i++) {
        double e = expected[i] / weight;
        wrong += !(fabs(got[i] - e) <= 1e-7 + 1e-5 * fabs(e));
        unlike_last += fabs(got[i] - last[i]) > 1e-5 * fabs(last[i]) + 1e-9;
    }
    if (!CHECK(expected && wrong == 0)) fprintf(stderr, "  %lld of %lld averaged parameters are wrong\n", (long long)wrong, (long long)count);
    CHECK(unlike_last > count / 10); /* the average is not the last step's */
    /* the last step's gradient: finite, and not all zero */
    int64_t nonzero = 0, nonfinite = 0;
    if (CHECK_OK(rd_nerf_trainer_last_gradient(live, gradient)))
        for (int64_t i = 0; i < count; i++) nonzero += gradient[i] != 0.0f, nonfinite += !isfinite(gradient[i]);
    CHECK(nonzero > 0 && nonfinite == 0);
    free(expected), free(gradient);
done:
    rd_nerf_trainer_destroy(averaged);
    rd_nerf_trainer_destroy(live);
}

static void test_boxes(const rd_train_view *train, int n, const rd_train_view *held, int m)
{
    rd_nerf_trainer *t = NULL;
    rd_nerf_trainer_desc d = nerf_boxes_desc(train, n, 3);
    CHECK_OK(rd_nerf_trainer_create(ctx, &d, &t));
    if (!t) return;
    double untrained = nerf_boxes_psnr(ctx, rd_nerf_trainer_scene(t), held, m);
    rd_nerf_train_stats stats = {0};
    /* the held-out PSNR plateaus: 17.8 dB after 200 steps, 22.4 after 400, 23.3 after 600,
       22.9 after 800 (800 steps were twice the time for half a dB) */
    int steps = TEST_SANITIZED ? 300 : 400;
    for (int done = 0; done < steps; done += 50) {
        CHECK_OK(rd_nerf_trainer_step(t, 50, &stats));
        printf("  step %d: loss %.5f, %lld rays, %lld samples, %lld cells occupied\n", stats.iteration, stats.loss,
               (long long)stats.rays, (long long)stats.samples, (long long)stats.occupied_cells);
    }
    double trained = nerf_boxes_psnr(ctx, rd_nerf_trainer_scene(t), held, m);
    printf("  held-out PSNR: %.2f dB untrained, %.2f dB after %d steps\n", untrained, trained, steps);
    CHECK(untrained < 14.0);
    CHECK(trained > (TEST_SANITIZED ? 18.0 : 20.0));
    /* empty space was found: far fewer cells than all of them stay occupied */
    CHECK(stats.occupied_cells < 128 * 128 * 128 / 2);
    rd_nerf_trainer_destroy(t);
}

/* The CUDA trainer (train_cuda.cu): the same rays as the CPU's (rays.h), so the first
   step's loss matches the CPU's but for the half-precision networks; then it trains the
   boxes as well as the CPU does. Skipped, saying so, without a GPU. */
static void test_cuda(const rd_train_view *train, int n, const rd_train_view *held, int m)
{
    rd_context *gpu = NULL;
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA, .log = test_log}, &gpu) != RD_OK) {
        printf("  CUDA trainer: skipped (no CUDA device here)\n");
        return;
    }
    rd_nerf_trainer *cpu = NULL, *cuda = NULL;
    rd_nerf_trainer_desc d = nerf_boxes_desc(train, n, 11);
    CHECK_OK(rd_nerf_trainer_create(ctx, &d, &cpu));
    CHECK_OK(rd_nerf_trainer_create(gpu, &d, &cuda));
    rd_nerf_train_stats a = {0}, b = {0};
    if (cpu && cuda) {
        CHECK_OK(rd_nerf_trainer_step(cpu, 1, &a));
        CHECK_OK(rd_nerf_trainer_step(cuda, 1, &b));
        printf("  first step: CPU loss %.6f (%lld rays, %lld samples), CUDA %.6f (%lld, %lld)\n", a.loss, (long long)a.rays,
               (long long)a.samples, b.loss, (long long)b.rays, (long long)b.samples);
        CHECK(a.rays == b.rays && a.samples == b.samples);
        CHECK(fabs(a.loss - b.loss) <= 2e-3 * a.loss);
        int steps = 800;
        for (int done = 1; done < steps; done += 100) CHECK_OK(rd_nerf_trainer_step(cuda, done == 1 ? 99 : 100, &b));
        double trained = nerf_boxes_psnr(ctx, rd_nerf_trainer_scene(cuda), held, m);
        printf("  CUDA: held-out PSNR %.2f dB after %d steps\n", trained, steps);
        CHECK(trained > 20.0);
    }
    rd_nerf_trainer_destroy(cpu);
    rd_nerf_trainer_destroy(cuda);
    rd_context_destroy(gpu);
}

int main(void)
{
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    enum { TRAIN = 24, HELD = 4, SIZE = 32 };
    rd_image images[TRAIN + HELD];
    rd_train_view views[TRAIN + HELD];
    nerf_boxes_views(views, images, TRAIN, HELD, SIZE);
    test_snapshots();
    test_bad_options(views, TRAIN);
    test_repeatable(views, TRAIN);
    test_average(views, TRAIN);
    test_boxes(views, TRAIN, views + TRAIN, HELD);
    test_cuda(views, TRAIN, views + TRAIN, HELD);
    for (int k = 0; k < TRAIN + HELD; k++) rd_image_free(&images[k]);
    rd_context_destroy(ctx);
    return test_finish("test_nerf_train");
}
