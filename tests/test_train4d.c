/* test_train4d.c: the 4D trainer (radiant_train.h with kind RD_SCENE_GAUSSIANS_4D) on
   the CPU. A known moving scene (rd_scene4d_create_synthetic, 1,500 Gaussians) is
   rendered from 10 cameras on a ring at 6 times (48x48); the trainer fits random points to
   the views of 8 cameras for 600 steps, two views a step; the views of the 2 held-out
   cameras must gain MIN_GAIN dB over the untrained scene, and the training cameras' views
   match their own time's photos MIN_TIME_GAIN dB better than a far time's (the scene has
   learned when, not only where). Measured over five seeds: held-out 14.2-14.6 -> 18.5-18.8
   dB (gains 3.9-4.5), time 1.1-1.5 dB. With density control, 300 Gaussians must pass 600
   in 700 steps (five seeds: 818-908). On a static scene the 4D trainer fits as well as
   the 3D one (600 steps, 1,500 points, 10 views at 48x48: 21.8 against 20.8 dB). Also: the same seed gives the same scene bit for bit; the
   spatial then temporal degree schedule leaves the temporal terms zero until their step;
   a run stopped and resumed from a checkpoint takes the same steps; broken input (a
   non-finite time, MCMC, a kind that is not trained, a damaged or 3D checkpoint) is
   refused with a message; on CUDA, where there is one, 300 steps fit as on the CPU. The
   sanitizer build fits for 100 steps, checking the loss and the repeat only. The repeat
   compares the first 50 steps of two runs. */
#include "test_util.h"
#include "radiant_bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;
static uint64_t seed; /* the trainer's */
enum { CAMERAS = 10, HELD_OUT = 2, TIMES = 6, SIZE = 48, VIEWS = CAMERAS * TIMES };
#define MIN_GAIN 3.0
#define MIN_TIME_GAIN 0.8

typedef struct truth {
    rd_scene *scene;
    rd_camera cameras[CAMERAS];
    rd_image photos[VIEWS]; /* camera k at time j: k * TIMES + j */
    rd_train_view train[VIEWS];
    int train_count;
    float box_min[3], box_max[3];
} truth;

static float time_of(int j) { return (float)j / (TIMES - 1); }

static void make_truth(truth *t)
{
    memset(t, 0, sizeof *t);
    CHECK_OK(rd_scene4d_create_synthetic(ctx, &(rd_synthetic4d_desc){.count = 1500, .seed = 7}, &t->scene));
    rd_synthetic_cameras(CAMERAS, SIZE, SIZE, t->cameras);
    rd_scene4d_info info;
    CHECK_OK(rd_scene4d_get_info(ctx, t->scene, &info));
    memcpy(t->box_min, info.bounds_min, sizeof t->box_min);
    memcpy(t->box_max, info.bounds_max, sizeof t->box_max);
    for (int k = 0; k < CAMERAS; k++)
        for (int j = 0; j < TIMES; j++) {
            rd_image *photo = &t->photos[k * TIMES + j];
            CHECK_OK(rd_image_alloc(SIZE, SIZE, 4, photo));
            CHECK_OK(rd_render(ctx, t->scene, &t->cameras[k], &(rd_render_desc){.time = time_of(j)},
                               &(rd_framebuffer){.color = photo->pixels}));
            /* composited on black already: the photo's (straight) colour taken whole */
            for (int p = 0; p < SIZE * SIZE; p++) photo->pixels[4 * p + 3] = 1.0f;
            if (k % (CAMERAS / HELD_OUT) != 0) t->train[t->train_count++] = (rd_train_view){t->cameras[k], photo, time_of(j)};
        }
}

static void free_truth(truth *t)
{
    rd_scene_destroy(t->scene);
    for (int v = 0; v < VIEWS; v++) rd_image_free(&t->photos[v]);
}

static double psnr_at(const rd_scene *scene, const rd_camera *cam, float time, const rd_image *photo)
{
    rd_image img;
    rd_image_alloc(SIZE, SIZE, 4, &img);
    rd_render(ctx, scene, cam, &(rd_render_desc){.time = time}, &(rd_framebuffer){.color = img.pixels});
    rd_metrics m = {0};
    rd_image_compare(ctx, &img, photo, &m);
    rd_image_free(&img);
    return m.psnr;
}

/* The mean PSNR of one camera in every HELD_OUT (first: the held-out ones; 1: training
   ones) at each time, and (other) against the photo of a time far off. */
static double views_psnr(const truth *t, const rd_scene *scene, int first, double *other)
{
    double own = 0.0, off = 0.0;
    int n = 0;
    for (int k = first; k < CAMERAS; k += CAMERAS / HELD_OUT)
        for (int j = 0; j < TIMES; j++, n++) {
            own += psnr_at(scene, &t->cameras[k], time_of(j), &t->photos[k * TIMES + j]);
            off += psnr_at(scene, &t->cameras[k], time_of(j), &t->photos[k * TIMES + (j < TIMES / 2 ? TIMES - 1 : 0)]);
        }
    if (other) *other = off / n;
    return own / n;
}

static rd_trainer_desc base_desc(const truth *t)
{
    rd_trainer_desc d = {.views = t->train, .view_count = t->train_count, .point_count = 1500, .iterations = 600, .seed = seed,
                         .kind = RD_SCENE_GAUSSIANS_4D, .batch = 2};
    memcpy(d.box_min, t->box_min, sizeof d.box_min);
    memcpy(d.box_max, t->box_max, sizeof d.box_max);
    return d;
}

static bool same_scene(const rd_scene *a, const rd_scene *b)
{
    rd_scene4d_desc x = rd_scene4d_arrays(a), y = rd_scene4d_arrays(b);
    size_t shf = (size_t)(x.time_degree + 1) * (size_t)(x.sh_degree + 1) * (size_t)(x.sh_degree + 1) * 3;
    return x.count == y.count && !memcmp(x.means, y.means, (size_t)x.count * 16) &&
           !memcmp(x.log_scales, y.log_scales, (size_t)x.count * 16) && !memcmp(x.rotations, y.rotations, (size_t)x.count * 32) &&
           !memcmp(x.opacities, y.opacities, (size_t)x.count * 4) && !memcmp(x.sh, y.sh, (size_t)x.count * shf * 4);
}

static void test_fits(const truth *t)
{
    rd_trainer *tr = NULL;
    rd_trainer_desc d = base_desc(t);
    if (!CHECK_OK(rd_trainer_create(ctx, &d, &tr))) return;
    CHECK(rd_scene_get_kind(rd_trainer_scene(tr)) == RD_SCENE_GAUSSIANS_4D);
    /* the sanitizer build runs a sixth of it, and checks the loss and the repeat only */
    int steps = TEST_SANITIZED ? 100 : 600;
    double before = views_psnr(t, rd_trainer_scene(tr), 0, NULL);
    rd_train_stats first, last;
    CHECK_OK(rd_trainer_step(tr, 50, &first));
    rd_scene4d_desc early = rd_scene4d_arrays(rd_trainer_scene(tr));
    rd_scene *at50 = NULL; /* a copy, for the repeat below */
    CHECK_OK(rd_scene4d_create(ctx, &early, &at50));
    CHECK_OK(rd_trainer_step(tr, steps - 50, &last));
    double after = views_psnr(t, rd_trainer_scene(tr), 0, NULL), off = 0.0, fit = views_psnr(t, rd_trainer_scene(tr), 1, &off);
    printf("train4d: held-out cameras %.2f -> %.2f dB; training cameras %.2f dB, %.2f against another time's photo; "
           "loss %.4f -> %.4f\n", before, after, fit, off, first.loss, last.loss);
    CHECK(TEST_SANITIZED || after >= before + MIN_GAIN);
    CHECK(TEST_SANITIZED || fit >= off + MIN_TIME_GAIN);
    CHECK(last.loss < (TEST_SANITIZED ? 0.95 : 0.7) * first.loss);
    CHECK(last.iteration == steps && last.gaussians == 1500);
    /* spatial SH to degree 3 by step 3000 first: the temporal terms are still zero at 600 */
    rd_scene4d_desc a = rd_scene4d_arrays(rd_trainer_scene(tr));
    int K3 = 3 * (a.sh_degree + 1) * (a.sh_degree + 1), nonzero_time = 0, nonzero_dc = 0;
    for (int64_t i = 0; i < a.count; i++) {
        const float *sh = a.sh + i * (a.time_degree + 1) * K3;
        for (int k = K3; k < (a.time_degree + 1) * K3; k++) nonzero_time += sh[k] != 0.0f;
        nonzero_dc += sh[0] != 0.0f;
    }
    CHECK(nonzero_time == 0 && nonzero_dc > 0);
    /* the same seed, the same scene bit for bit: a second trainer's first 50 steps against
       the copy (a difference between runs shows within them: every step runs the same code
       on other views; the other 550 steps took 8 s) */
    rd_trainer *again = NULL;
    if (CHECK_OK(rd_trainer_create(ctx, &d, &again))) {
        CHECK_OK(rd_trainer_step(again, 50, NULL));
        CHECK(at50 && same_scene(at50, rd_trainer_scene(again)));
        rd_trainer_destroy(again);
    }
    rd_scene_destroy(at50);
    rd_trainer_destroy(tr);
}

/* Past step 4000 the first temporal term is active and moves (a short run with a
   schedule that ends soon: iterations only sets the decay). */
static void test_time_terms(const truth *t)
{
    rd_trainer *tr = NULL;
    rd_trainer_desc d = base_desc(t);
    d.point_count = 200, d.sh_degree = RD_SH_DEGREE(0), d.time_degree = RD_SH_DEGREE(1), d.batch = 1;
    if (!CHECK_OK(rd_trainer_create(ctx, &d, &tr))) return;
    CHECK_OK(rd_trainer_step(tr, 1000, NULL)); /* degree 0 in space: time's first term from step 1000 */
    rd_scene4d_desc a = rd_scene4d_arrays(rd_trainer_scene(tr));
    int moved_before = 0, moved_after = 0;
    for (int64_t i = 0; i < a.count; i++) moved_before += a.sh[i * 6 + 3] != 0.0f;
    CHECK_OK(rd_trainer_step(tr, 20, NULL));
    a = rd_scene4d_arrays(rd_trainer_scene(tr));
    for (int64_t i = 0; i < a.count; i++) moved_after += a.sh[i * 6 + 3] != 0.0f;
    printf("train4d: temporal colour terms nonzero: %d at step 1000, %d at 1020 (of %lld)\n", moved_before, moved_after,
           (long long)a.count);
    CHECK(a.time_degree == 1 && moved_before == 0 && moved_after > (int)a.count / 2);
    rd_trainer_destroy(tr);
}

static void test_densifies(const truth *t)
{
    rd_trainer *tr = NULL;
    rd_trainer_desc d = base_desc(t);
    d.point_count = 300, d.densify = true, d.batch = 1, d.iterations = 800; /* densifying at 500, 600 and 700 */
    if (!CHECK_OK(rd_trainer_create(ctx, &d, &tr))) return;
    rd_train_stats st;
    CHECK_OK(rd_trainer_step(tr, 700, &st));
    rd_scene4d_info info;
    CHECK_OK(rd_scene4d_get_info(ctx, rd_trainer_scene(tr), &info));
    printf("train4d: density control: 300 -> %lld Gaussians in 700 steps, times %.2f..%.2f\n", (long long)st.gaussians,
           info.time_min, info.time_max);
    CHECK(st.gaussians > 600);
    rd_trainer_destroy(tr);
}

static void test_refusals(const truth *t)
{
    rd_trainer *tr = NULL;
    rd_trainer_desc d = base_desc(t);
    d.mcmc = true;
    CHECK(rd_trainer_create(ctx, &d, &tr) == RD_ERROR_UNSUPPORTED && tr == NULL);
    CHECK(strstr(rd_last_error(ctx), "MCMC") != NULL);
    d = base_desc(t), d.kind = RD_SCENE_NERF;
    CHECK(rd_trainer_create(ctx, &d, &tr) == RD_ERROR_INVALID_ARGUMENT && tr == NULL);
    rd_train_view views[2] = {t->train[0], t->train[1]};
    views[1].time = NAN;
    d = base_desc(t), d.views = views, d.view_count = 2;
    CHECK(rd_trainer_create(ctx, &d, &tr) == RD_ERROR_INVALID_ARGUMENT && tr == NULL);
    CHECK(strstr(rd_last_error(ctx), "view 1: time") != NULL);
    d = base_desc(t), d.time_degree = RD_SH_DEGREE(3);
    CHECK(rd_trainer_create(ctx, &d, &tr) == RD_ERROR_INVALID_ARGUMENT && tr == NULL);
}

/* A trainer continuing a 4D scene (desc.initial, as `radiant compact`'s fine-tuning): it
   starts as the scene bit for bit with its degrees and period, Adam afresh (the first
   step moves each opacity it sees by its rate, 0.05), and a scene of other degrees is
   refused by name. */
static void test_continues(const truth *t, rd_context *c)
{
    rd_trainer *tr = NULL, *bad = NULL;
    rd_scene *dimmed = NULL; /* the truth fits its photos: a gradient needs a difference */
    rd_scene4d_desc in = rd_scene4d_arrays(t->scene);
    float *opacities = malloc((size_t)in.count * sizeof(float));
    for (int64_t i = 0; i < in.count; i++) opacities[i] = in.opacities[i] - 1.0f;
    in.opacities = opacities;
    CHECK_OK(rd_scene4d_create(ctx, &in, &dimmed));
    rd_trainer_desc d = base_desc(t);
    d.point_count = 0, d.iterations = 3000, d.start_iteration = 3000, d.initial = dimmed;
    if (dimmed && CHECK_OK(rd_trainer_create(c, &d, &tr))) {
        CHECK(same_scene(rd_trainer_scene(tr), dimmed));
        rd_scene4d_desc copy = rd_scene4d_arrays(rd_trainer_scene(tr));
        CHECK(copy.sh_degree == in.sh_degree && copy.time_degree == in.time_degree && copy.time_period == in.time_period);
        rd_train_stats stats;
        CHECK_OK(rd_trainer_step(tr, 1, &stats));
        CHECK(stats.iteration == 3001 && stats.gaussians == in.count);
        rd_scene4d_desc now = rd_scene4d_arrays(rd_trainer_scene(tr));
        float largest = 0.0f;
        for (int64_t i = 0; i < in.count; i++) largest = fmaxf(largest, fabsf(now.opacities[i] - in.opacities[i]));
        printf("train4d: continuing (%s): the first step's largest opacity move %.6f (its rate 0.05)\n",
               rd_backend_name(rd_context_backend(c)), largest);
        CHECK(largest >= 0.049f && largest <= 0.0501f);
    }
    rd_trainer_destroy(tr);
    d.time_degree = in.time_degree == 0 ? RD_SH_DEGREE(1) : RD_SH_DEGREE(0);
    CHECK(rd_trainer_create(c, &d, &bad) == RD_ERROR_INVALID_ARGUMENT && bad == NULL);
    CHECK(strstr(rd_last_error(c), "and the initial scene's is") != NULL);
    rd_scene_destroy(dimmed);
    free(opacities);
}

/* A run stopped at step 31 (three views a step: mid-way through a pass over them) and
   resumed from its checkpoint takes the same steps as one that
   ran through; a damaged checkpoint and a 3D trainer's are refused by name. */
static void test_checkpoint(const truth *t)
{
    rd_trainer_desc d = base_desc(t);
    d.point_count = 300, d.batch = 3;
    char path[1024], path3d[1024];
    snprintf(path, sizeof path, "%s/run4d.checkpoint", test_temp_dir("train4d"));
    snprintf(path3d, sizeof path3d, "%s/run3d.checkpoint", test_temp_dir("train4d"));
    rd_trainer *through = NULL, *first = NULL, *resumed = NULL, *flat = NULL;
    CHECK_OK(rd_trainer_create(ctx, &d, &through));
    CHECK_OK(rd_trainer_create(ctx, &d, &first));
    d.seed += 1; /* the checkpoint brings back the generator too */
    CHECK_OK(rd_trainer_create(ctx, &d, &resumed));
    if (!through || !first || !resumed) goto done;
    CHECK_OK(rd_trainer_save_checkpoint(first, path)); /* before any step: loads too */
    CHECK_OK(rd_trainer_load_checkpoint(resumed, path));
    CHECK_OK(rd_trainer_step(through, 50, NULL));
    CHECK_OK(rd_trainer_step(first, 31, NULL));
    CHECK_OK(rd_trainer_save_checkpoint(first, path));
    CHECK_OK(rd_trainer_load_checkpoint(resumed, path));
    CHECK_OK(rd_trainer_step(resumed, 19, NULL));
    CHECK(same_scene(rd_trainer_scene(through), rd_trainer_scene(resumed)));
    FILE *f = fopen(path, "r+b");
    if (f) fseek(f, 200, SEEK_SET), fputc(0x5a, f), fclose(f);
    CHECK(rd_trainer_load_checkpoint(resumed, path) == RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(ctx), "checksum") && strstr(rd_last_error(ctx), "run4d.checkpoint"));
    rd_trainer_desc flat_desc = base_desc(t);
    flat_desc.kind = RD_SCENE_GAUSSIANS, flat_desc.point_count = 50;
    if (CHECK_OK(rd_trainer_create(ctx, &flat_desc, &flat))) {
        CHECK_OK(rd_trainer_save_checkpoint(flat, path3d)); /* before any step: loads too */
        CHECK_OK(rd_trainer_load_checkpoint(flat, path3d));
        CHECK(rd_trainer_load_checkpoint(resumed, path3d) == RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "a 3D trainer's checkpoint") != NULL);
    }
done:
    rd_trainer_destroy(through), rd_trainer_destroy(first), rd_trainer_destroy(resumed), rd_trainer_destroy(flat);
}

/* On CUDA (the slice and the 3D passes on the device): 300 steps fit as the CPU's do,
   the loss within 10% and the held-out views within 0.5 dB; a checkpoint saves and loads.
   Skipped where there is no CUDA device, and said. */
static void test_cuda(const truth *t)
{
    rd_context *cuda = NULL;
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA, .log = test_log}, &cuda) != RD_OK) {
        printf("train4d: CUDA skipped (not built, or no device here)\n");
        return;
    }
    rd_trainer_desc d = base_desc(t);
    d.iterations = 300;
    rd_trainer *on_cpu = NULL, *on_cuda = NULL;
    rd_train_stats a, b;
    if (CHECK_OK(rd_trainer_create(ctx, &d, &on_cpu)) && CHECK_OK(rd_trainer_create(cuda, &d, &on_cuda)) &&
        CHECK_OK(rd_trainer_step(on_cpu, 300, &a)) && CHECK_OK(rd_trainer_step(on_cuda, 300, &b))) {
        double cpu_psnr = views_psnr(t, rd_trainer_scene(on_cpu), 0, NULL), cuda_psnr = views_psnr(t, rd_trainer_scene(on_cuda), 0, NULL);
        printf("train4d: CUDA: loss %.4f (CPU %.4f), held-out %.2f dB (CPU %.2f)\n", b.loss, a.loss, cuda_psnr, cpu_psnr);
        CHECK(fabs(b.loss - a.loss) <= 0.1 * a.loss && fabs(cuda_psnr - cpu_psnr) <= 0.5);
    }
    rd_trainer_destroy(on_cpu), rd_trainer_destroy(on_cuda);
    /* a checkpoint on CUDA (the device's state brought back to the host and sent up again):
       a trainer of another seed that loads it holds the saved scene bit for bit, and 19
       more steps go as the saver's own do (their losses within 2%: the device's sums are
       not in a fixed order; a load that never reached the device would train the other
       seed's start) */
    d.point_count = 300, d.batch = 3;
    char path[1024];
    snprintf(path, sizeof path, "%s/cuda4d.checkpoint", test_temp_dir("train4d"));
    rd_trainer *first = NULL, *resumed = NULL;
    rd_train_stats went = {0}, after = {0};
    bool made = CHECK_OK(rd_trainer_create(cuda, &d, &first));
    d.seed += 1;
    if (made && CHECK_OK(rd_trainer_create(cuda, &d, &resumed)) && CHECK_OK(rd_trainer_step(first, 31, NULL)) &&
        CHECK_OK(rd_trainer_save_checkpoint(first, path)) && CHECK_OK(rd_trainer_load_checkpoint(resumed, path))) {
        CHECK(same_scene(rd_trainer_scene(first), rd_trainer_scene(resumed)));
        if (CHECK_OK(rd_trainer_step(first, 19, &went)) && CHECK_OK(rd_trainer_step(resumed, 19, &after))) {
            printf("train4d: CUDA checkpoint: loaded as saved; 19 steps on: loss %.5f (the saver's %.5f)\n", after.loss, went.loss);
            CHECK(isfinite(after.loss) && fabs(after.loss - went.loss) <= 0.02 * went.loss);
        }
    }
    rd_trainer_destroy(first), rd_trainer_destroy(resumed);
    test_continues(t, cuda);
    rd_context_destroy(cuda);
}

int main(void)
{
    seed = test_seed("train4d");
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    truth t;
    make_truth(&t);
    test_fits(&t);
    test_time_terms(&t);
    test_densifies(&t);
    test_refusals(&t);
    test_continues(&t, ctx);
    test_checkpoint(&t);
    test_cuda(&t);
    free_truth(&t);
    rd_context_destroy(ctx);
    return test_finish("train4d");
}
