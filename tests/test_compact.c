/* test_compact.c: the compact file (radiant_compact.h). Small 3D scenes of SH degrees 0-3
   and 4D scenes (60 Gaussians: codebooks with a row for each) come back exact up to half-float
   rounding of each quantised value; larger ones (codebooks smaller than the scene) render
   within a stated PSNR of the original; pruning keeps the important Gaussians, with views
   and without; the bit budget is met or refused; the report adds up and agrees with
   rd_compact_file_info; non-finite Gaussians are dropped; broken files (truncated,
   flipped, a wrong version, configurations that disagree with the parts) fail naming the
   file and the field; a failed write leaves nothing behind. */
#include "test_util.h"
#include "../compress/compact.h"
#include "../compress/bytes.h"
#include "../splat/appearance4d_cpu.h"
#include "../splat/scene4d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

static rd_context *ctx;
static const char *tmp;
static test_rng rng;

/* Half-float rounding of v: at most 2^-11 of it (and 2^-24 near zero). */
static bool near_half(double got, double want) { return fabs(got - want) <= fabs(want) * 4.9e-4 + 6e-8; }

/* Real scenes' colour beyond DC is small beside it (trained scenes: a tenth or less):
   the rest scaled by 0.15, so that a codebook of it is judged on data of that kind. */
static void damp_rest(rd_scene *s)
{
    rd_compact_arrays a;
    if (!rd_compact_arrays_of(s, &a)) return;
    int c = rd_compact_sh_floats(&a);
    for (int64_t i = 0; i < a.count; i++)
        for (int k = 3; k < c; k++) a.sh[i * c + k] *= 0.15f;
}

/* Gaussians 2k and 2k + 1 trade colour rows. */
static void swap_neighbour_colours(rd_scene *s)
{
    rd_compact_arrays a;
    if (!rd_compact_arrays_of(s, &a)) return;
    int c = rd_compact_sh_floats(&a);
    for (int64_t i = 0; i + 1 < a.count; i += 2)
        for (int k = 0; k < c; k++) {
            float t = a.sh[i * c + k];
            a.sh[i * c + k] = a.sh[(i + 1) * c + k], a.sh[(i + 1) * c + k] = t;
        }
}

static int64_t count_of(const rd_scene *s)
{
    rd_compact_arrays a;
    return rd_compact_arrays_of(s, &a) ? a.count : -1;
}

static rd_scene *random_3d(int n, int degree, bool degenerate)
{
    rd_scene_desc d = random_scene(&rng, &(random_scene_desc){.count = n, .sh_degree = degree, .degenerate = degenerate, .depth_min = 2,
                                                                 .depth_max = 8, .spread = 0.5, .log_scale_min = -4,
                                                                 .log_scale_max = -1.5});
    rd_scene *s = NULL;
    CHECK_OK(rd_scene_create(ctx, &d, &s));
    random_scene_free(&d);
    return s;
}

static rd_scene *random_4d(int n, int sh_degree, int time_degree)
{
    return random_scene4d(ctx, &rng, n, sh_degree, time_degree, 2.0f);
}

/* The index of the Gaussian in a whose mean is nearest b's Gaussian j. */
static int64_t nearest(const rd_compact_arrays *a, const rd_compact_arrays *b, int64_t j)
{
    int m = rd_compact_mean_floats(a);
    int64_t best = -1;
    double best_d = INFINITY;
    for (int64_t i = 0; i < a->count; i++) {
        double d = 0;
        for (int c = 0; c < m; c++) d += pow(a->means[i * m + c] - b->means[j * m + c], 2);
        if (d < best_d) best_d = d, best = i;
    }
    return best;
}

/* Every Gaussian of back (decoded) is one of scene's up to half-float rounding: the mean
   (about the file's origin: within 2^-11 of the largest offset), and each attribute's row
   as the file quantises it. Returns how many did not match. */
static int compare_exact(const rd_scene *scene, const rd_scene *back)
{
    rd_compact_arrays a, b;
    if (!CHECK(rd_compact_arrays_of(scene, &a) && rd_compact_arrays_of(back, &b))) return 1;
    CHECK(a.count == b.count && a.sh_degree == b.sh_degree && a.time_degree == b.time_degree && a.four_d == b.four_d);
    if (a.count != b.count) return 1;
    int bad = 0, m = rd_compact_mean_floats(&a);
    float wa[200], wb[200];
    for (int64_t j = 0; j < b.count; j++) {
        int64_t i = nearest(&a, &b, j);
        bool ok = i >= 0;
        for (int c = 0; ok && c < m; c++) ok = fabs(a.means[i * m + c] - b.means[j * m + c]) <= 8.0 * 4.9e-4 + 1e-6;
        for (int attr = 0; ok && attr < RD_COMPACT_ATTRIBUTES; attr++) {
            int width = rd_compact_attribute_width(&a, attr);
            rd_compact_row_get(&a, attr, i, wa);
            rd_compact_row_get(&b, attr, j, wb);
            /* the decoded quaternions are the codebook's (normalised before, rounded after) */
            for (int c = 0; ok && c < width; c++) ok = near_half(wb[c], wa[c]) || (attr == RD_COMPACT_ROTATIONS && fabs(wb[c] - wa[c]) < 1e-3);
        }
        if (!ok && !bad && getenv("RADIANT_TEST_VERBOSE")) {
            fprintf(stderr, "  first mismatch: Gaussian %lld (source %lld): mean", (long long)j, (long long)i);
            for (int c = 0; c < m; c++) fprintf(stderr, " %g/%g", b.means[j * m + c], a.means[i * m + c]);
            for (int attr = 0; attr < RD_COMPACT_ATTRIBUTES; attr++) {
                rd_compact_row_get(&a, attr, i, wa), rd_compact_row_get(&b, attr, j, wb);
                fprintf(stderr, "\n   %s:", rd_compact_attribute_name(attr));
                for (int c = 0; c < rd_compact_attribute_width(&a, attr) && c < 6; c++) fprintf(stderr, " %g/%g", wb[c], wa[c]);
            }
            fprintf(stderr, "\n");
        }
        bad += !ok;
    }
    return bad;
}

/* scene rendered from cam at time into out (RGBA, allocated here). */
static void render_image(const rd_scene *scene, const rd_camera *cam, float time, rd_image *out)
{
    CHECK_OK(rd_image_alloc(cam->width, cam->height, 4, out));
    CHECK_OK(rd_render(ctx, scene, cam, &(rd_render_desc){.time = time}, &(rd_framebuffer){.color = out->pixels}));
}

/* scene's render from cam at time against truth (rd_image_compare's PSNR). */
static double psnr_of(const rd_scene *scene, const rd_camera *cam, float time, const rd_image *truth)
{
    rd_image x;
    render_image(scene, cam, time, &x);
    rd_metrics m = {0};
    CHECK_OK(rd_image_compare(ctx, &x, truth, &m));
    rd_image_free(&x);
    return isfinite(m.psnr) ? m.psnr : 100.0;
}

/* The PSNR between a's and b's renders from cam (NULL: at the origin looking down +z, 96x72). */
static double render_psnr_from(const rd_scene *a, const rd_scene *b, float time, const rd_camera *from)
{
    rd_camera cam = from ? *from : rd_camera_look_at((float[]){0, 0, 0}, (float[]){0, 0, 1}, (float[]){0, -1, 0}, 96, 72, 50.0f);
    rd_image truth;
    render_image(a, &cam, time, &truth);
    double psnr = psnr_of(b, &cam, time, &truth);
    rd_image_free(&truth);
    return psnr;
}

static double render_psnr(const rd_scene *a, const rd_scene *b, float time) { return render_psnr_from(a, b, time, NULL); }

static rd_scene *round_trip(const rd_scene *s, const char *name, const rd_compact_desc *desc, rd_compact_report *report)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    rd_compact_report local;
    if (!CHECK_OK(rd_scene_compact(ctx, s, path, desc, report ? report : &local))) {
        fprintf(stderr, "  %s\n", rd_last_error(ctx));
        return NULL;
    }
    rd_scene *back = NULL;
    if (!CHECK_OK(rd_scene_load(ctx, path, &back))) fprintf(stderr, "  %s\n", rd_last_error(ctx));
    return back;
}

static void test_exact_small(void)
{
    for (int degree = 0; degree <= 3; degree++) {
        rd_scene *s = random_3d(60, degree, false), *back = round_trip(s, "small.rcompact", NULL, NULL);
        if (back) {
            int bad = compare_exact(s, back);
            if (!CHECK(bad == 0)) fprintf(stderr, "  3D degree %d: %d of 60 Gaussians differ beyond half-float rounding\n", degree, bad);
            rd_scene_info info;
            rd_scene_get_info(back, &info);
            CHECK(strcmp(info.format, "rcompact") == 0);
        }
        rd_scene_destroy(s), rd_scene_destroy(back);
    }
    for (int time_degree = 0; time_degree <= 2; time_degree++) {
        rd_scene *s = random_4d(60, 2, time_degree), *back = round_trip(s, "small4d.rcompact", NULL, NULL);
        if (back) {
            int bad = compare_exact(s, back);
            if (!CHECK(bad == 0)) fprintf(stderr, "  4D time degree %d: %d of 60 differ beyond half-float rounding\n", time_degree, bad);
            CHECK(((const rd_scene4d *)back)->time_period == 2.0f);
            double psnr = render_psnr(s, back, 0.4f);
            if (!CHECK(psnr > 45)) fprintf(stderr, "  4D exact round trip renders %.1f dB from the original\n", psnr);
        }
        rd_scene_destroy(s), rd_scene_destroy(back);
    }
    /* an empty scene, and rd_scene_save's .rcompact */
    rd_scene *empty = random_3d(0, 1, false), *back = round_trip(empty, "empty.rcompact", NULL, NULL);
    CHECK(back && count_of(back) == 0);
    rd_scene_destroy(back);
    char path[1024];
    snprintf(path, sizeof path, "%s/saved.rcompact", tmp);
    rd_scene *s = random_3d(60, 3, false);
    CHECK_OK(rd_scene_save(ctx, s, path, NULL));
    CHECK_OK(rd_scene_load(ctx, path, &back));
    CHECK(back && compare_exact(s, back) == 0);
    rd_scene_destroy(back), rd_scene_destroy(s), rd_scene_destroy(empty);
}

/* Codebooks smaller than the scene: each attribute near its original, the image close. */
static void test_quantised(void)
{
    int n = TEST_SANITIZED ? 3000 : 12000;
    rd_scene *s = random_3d(n, 3, false);
    damp_rest(s);
    rd_compact_report rep;
    rd_scene *back = round_trip(s, "big.rcompact", NULL, &rep);
    if (back) {
        CHECK(count_of(back) == n);
        double psnr = render_psnr(s, back, 0);
        printf("3D, %d Gaussians: %.1f bits a Gaussian in the file (%.0f before zstd), renders %.1f dB from the original\n", n,
               rep.bits_per_gaussian, rep.index_bits_per_gaussian, psnr);
        /* 32.5-36 dB over seeds; a random scene with a large Gaussian near the camera gives
           29.4 (seed 6934522431); a codebook that lost its attribute's shape gives far less */
        CHECK(psnr > 28);
        /* the default 157 bits (SH rest a codebook a band), less where a codebook's rows would
           outnumber what its indices are worth */
        CHECK(rep.index_bits_per_gaussian <= 48 + 27 + 26 + 8 + 12 + 36 && rep.index_bits_per_gaussian >= 120);
        CHECK(rep.bits_per_gaussian < rep.index_bits_per_gaussian + 8.0 * 200000 / n); /* zstd did not grow it, codebooks aside */
        /* the report adds up, and the file's own account agrees */
        uint64_t parts = 0;
        for (int k = 0; k < rep.part_count; k++) parts += rep.parts[k].bytes;
        CHECK(rep.part_count == 7 && parts < rep.file_bytes && rep.file_bytes - parts < 4096);
        CHECK(fabs(rep.bits_per_gaussian - 8.0 * (double)rep.file_bytes / n) < 1e-6);
        rd_compact_report info;
        char path[1024];
        snprintf(path, sizeof path, "%s/big.rcompact", tmp);
        CHECK_OK(rd_compact_file_info(ctx, path, &info));
        CHECK(info.file_bytes == rep.file_bytes && info.part_count == rep.part_count && info.count == n);
        for (int k = 0; k < info.part_count && k < rep.part_count; k++)
            CHECK(strcmp(info.parts[k].name, rep.parts[k].name) == 0 && info.parts[k].bytes == rep.parts[k].bytes);
    }
    rd_scene_destroy(back);
    /* a budget: met, or refused with the least it could be */
    back = round_trip(s, "budget.rcompact", &(rd_compact_desc){.target_bits_per_gaussian = 100}, &rep);
    CHECK(back && rep.index_bits_per_gaussian <= 100);
    rd_scene_destroy(back);
    char path[1024];
    snprintf(path, sizeof path, "%s/low.rcompact", tmp);
    CHECK_FAILS(rd_scene_compact(ctx, s, path, &(rd_compact_desc){.target_bits_per_gaussian = 60}, NULL), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "low.rcompact") && strstr(rd_last_error(ctx), "at least 88"));
    CHECK(access(path, F_OK) != 0);
    CHECK_FAILS(rd_scene_compact(ctx, s, path, &(rd_compact_desc){.prune_fraction = 1.5f}, NULL), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "prune fraction"));
    CHECK_FAILS(rd_scene_compact(ctx, s, path, &(rd_compact_desc){.recover_steps = -1}, NULL), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "recover_steps -1 is negative"));
    rd_scene_destroy(s);

    rd_scene *s4 = random_4d(TEST_SANITIZED ? 2000 : 6000, 3, 2);
    damp_rest(s4);
    back = round_trip(s4, "big4d.rcompact", NULL, &rep);
    if (back) {
        double psnr = render_psnr(s4, back, 0.5f);
        printf("4D: %.1f bits a Gaussian in the file (%.0f before zstd), renders %.1f dB from the original at t = 0.5\n",
               rep.bits_per_gaussian, rep.index_bits_per_gaussian, psnr);
        /* 141 colour values a row, 256 rows for 6000 Gaussians: 26.2-29.3 dB over a dozen
           seeds, so a fixed line at 25 failed now and then. The line is the same file with
           its neighbours' colours swapped (a mapping bug's image, 23 dB on these scenes):
           the round trip beats it by 2 dB, and clears 22 dB whatever the seed. */
        swap_neighbour_colours(back);
        double swapped = render_psnr(s4, back, 0.5f);
        printf("  the same with neighbours' colours swapped: %.1f dB\n", swapped);
        CHECK(psnr > 22 && psnr > swapped + 2);
        CHECK(rep.index_bits_per_gaussian <= 64 + 36 + 52 + 8 + 12 + 13 && rep.index_bits_per_gaussian >= 150);
    }
    rd_scene_destroy(back), rd_scene_destroy(s4);
}

/* Renders of scene from n cameras about it, as photos. */
/* n photos of scene, at time 0, or (over_time) spread over 0..1. */
static rd_train_view *photos_of(const rd_scene *scene, int n, int width, int height, bool over_time)
{
    rd_train_view *views = calloc((size_t)n, sizeof *views);
    for (int v = 0; v < n; v++) {
        float eye[3] = {(float)rng_range(&rng, -0.6, 0.6), (float)rng_range(&rng, -0.6, 0.6), 0.0f};
        views[v].camera = rd_camera_look_at(eye, (float[]){0, 0, 5}, (float[]){0, -1, 0}, width, height, 60.0f);
        views[v].time = over_time ? ((float)v + 0.5f) / (float)n : 0.0f;
        rd_image *photo = calloc(1, sizeof *photo);
        render_image(scene, &views[v].camera, views[v].time, photo);
        for (int p = 0; p < width * height; p++) photo->pixels[4 * p + 3] = 1.0f; /* opaque: the render on black as it is */
        views[v].image = photo;
    }
    return views;
}

static void photos_free(rd_train_view *views, int n)
{
    for (int v = 0; v < n; v++) {
        rd_image_free((rd_image *)views[v].image);
        free((rd_image *)views[v].image);
    }
    free(views);
}

/* The mean PSNR of scene's renders against the photos. */
static double psnr_against(const rd_scene *scene, const rd_train_view *views, int n)
{
    double sum = 0;
    for (int v = 0; v < n; v++) sum += psnr_of(scene, &views[v].camera, views[v].time, views[v].image);
    return sum / n;
}

/* The file desc writes without fine-tuning, then with `steps` of it (name.rcompact and
   name_untuned.rcompact): the tuned one renders desc's photos at least 0.3 dB closer. */
static void check_tuning_gains(const rd_scene *s, const rd_compact_desc *desc, int steps, const char *name, const char *what)
{
    char untuned_name[256], tuned_name[256];
    snprintf(untuned_name, sizeof untuned_name, "%s_untuned.rcompact", name);
    snprintf(tuned_name, sizeof tuned_name, "%s.rcompact", name);
    rd_compact_desc d = *desc;
    d.finetune_steps = 0;
    rd_scene *plain = round_trip(s, untuned_name, &d, NULL);
    d.finetune_steps = steps;
    rd_scene *tuned = round_trip(s, tuned_name, &d, NULL);
    if (plain && tuned) {
        double before = psnr_against(plain, d.views, d.view_count), after = psnr_against(tuned, d.views, d.view_count);
        printf("%s %d steps: %.2f -> %.2f dB against the photos\n", what, steps, before, after);
        CHECK(after > before + 0.3);
    }
    rd_scene_destroy(plain), rd_scene_destroy(tuned);
}

/* Each step's cost in the report: photos that are the scene's own renders give the scene
   100 dB and the Gaussians kept (none pruned) above 80 dB (not 100: the file's Morton order
   renumbers them, and two Gaussians at exactly the same view depth, which the renderer
   orders by index, may swap; CI's seed 12463782582 had 94.97 dB); each later step less; "all" is the untuned
   file's own mean PSNR over the same photos, render for render; coarse codebooks cost more
   than the default budget's; pruning half costs "kept" some. */
static void test_step_costs(void)
{
    rd_scene *s = random_3d(TEST_SANITIZED ? 600 : 1500, 2, false);
    int n = 6;
    rd_train_view *views = photos_of(s, n, 64, 48, false);
    static const char *const names[] = {"scene", "kept", "positions", "log_scales", "rotations", "opacities", "sh_dc", "sh_rest", "all"};
    enum { ALL = 8 };
    double all[2] = {0.0, 0.0};
    for (int coarse = 0; coarse < 2; coarse++) {
        rd_compact_report report;
        rd_compact_desc desc = {.views = views, .view_count = n, .target_bits_per_gaussian = coarse ? 85.0f : 0.0f};
        rd_scene *back = round_trip(s, "cost.rcompact", &desc, &report);
        if (!back || !CHECK(report.cost_count == ALL + 1)) {
            rd_scene_destroy(back);
            continue;
        }
        bool named = true, below = true;
        for (int k = 0; k < report.cost_count; k++) {
            named &= strcmp(report.costs[k].name, names[k]) == 0;
            below &= k < 2 || report.costs[k].psnr < report.costs[1].psnr;
            printf("  %s step %-10s %.2f dB\n", coarse ? "coarse" : "default", report.costs[k].name, report.costs[k].psnr);
        }
        all[coarse] = report.costs[ALL].psnr;
        CHECK(named && below && report.costs[0].psnr == 100.0 && report.costs[1].psnr > 80.0);
        /* the file, untuned, renders the photos at "all"'s PSNR */
        rd_compact_frame frame = {0};
        double sum = 0.0;
        for (int v = 0; v < n; v++)
            if (CHECK_OK(rd_compact_render_view(ctx, back, &views[v], desc.background, &frame)))
                sum += rd_compact_psnr(frame.color, views[v].image, desc.background);
        rd_compact_frame_free(&frame);
        CHECK(fabs(sum / n - all[coarse]) <= 1e-9 * all[coarse]);
        rd_scene_destroy(back);
    }
    CHECK(all[1] < all[0]);
    rd_compact_report report;
    rd_scene *back = round_trip(s, "cost_pruned.rcompact", &(rd_compact_desc){.prune_fraction = 0.5f, .views = views, .view_count = n},
                                &report);
    if (back && CHECK(report.cost_count == ALL + 1))
        CHECK(report.costs[0].psnr == 100.0 && report.costs[1].psnr < 60.0);
    rd_scene_destroy(back);
    rd_scene_destroy(s);
    photos_free(views, n);
}

/* Fine-tuning moves the codebooks towards the photos: a coarsely quantised scene fitted to
   renders of the original renders them closer than the same file untuned; and the row
   gradients it sums (the opacity's through the sigmoid) agree with finite differences of
   the CPU forward pass. */
static void test_finetune(void)
{
    rd_scene *s = random_3d(TEST_SANITIZED ? 600 : 1500, 1, false);
    damp_rest(s);
    int n = 6;
    rd_train_view *views = photos_of(s, n, 64, 48, false);
    int steps = TEST_SANITIZED ? 60 : 150;
    check_tuning_gains(s, &(rd_compact_desc){.target_bits_per_gaussian = 90, .views = views, .view_count = n}, steps, "tuned",
                       "fine-tuning");
    /* half of it pruned: the rest, tuned before quantising, make up for some of it */
    check_tuning_gains(s, &(rd_compact_desc){.prune_fraction = 0.5f, .views = views, .view_count = n}, steps, "pruned_tuned",
                       "half pruned, fine-tuning");
    rd_scene_destroy(s);
    photos_free(views, n);

    /* the row gradients against finite differences of L = sum(w * colour): the opacity's (through
       the sigmoid) and the colour's; log-scales' and rotations' rows are the parameters
       themselves, whose gradients test_gradients checks with the care their extent's edges need */
    rd_scene *small = random_3d(40, 1, false);
    rd_compact_arrays a, g;
    CHECK(rd_compact_arrays_of(small, &a) && rd_compact_arrays_alloc(&a, a.count, &g));
    rd_camera cam = rd_camera_look_at((float[]){0, 0, 0}, (float[]){0, 0, 5}, (float[]){0, -1, 0}, 40, 30, 60.0f);
    float *weights = random_floats(&rng, 40 * 30 * 4, -1, 1), *color = calloc(40 * 30 * 4, sizeof(float));
    for (int p = 0; p < 40 * 30; p++) weights[4 * p + 3] = 0;
    memset(g.log_scales, 0, 40 * 3 * sizeof(float)), memset(g.rotations, 0, 40 * 4 * sizeof(float));
    memset(g.opacities, 0, 40 * sizeof(float)), memset(g.sh, 0, 40 * 12 * sizeof(float));
    rd_gaussian_grads g3 = {.log_scales = g.log_scales, .rotations = g.rotations, .opacities = g.opacities, .sh = g.sh};
    CHECK_OK(rd_render(ctx, small, &cam, &(rd_render_desc){0}, &(rd_framebuffer){.color = color}));
    CHECK_OK(rd_render_backward(ctx, small, 1, &cam, &(rd_render_desc){0}, &(rd_render_grads){.color = weights},
                                &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g3, NULL, RD_MEMORY_HOST}));
    int checked = 0, bad = 0;
    for (int i = 0; i < 40; i++) {
        if (g.opacities[i] == 0.0f) continue; /* not seen */
        for (int attr = RD_COMPACT_OPACITIES; attr <= RD_COMPACT_SH_REST; attr++) {
            float row[16], analytic[16];
            int width = rd_compact_attribute_width(&a, attr);
            rd_compact_row_grad(&a, &g, attr, i, analytic);
            rd_compact_row_get(&a, attr, i, row);
            int c = (int)(rng_uniform(&rng) * width);
            double h = attr == RD_COMPACT_OPACITIES ? 1e-3 * fmin(row[0], 1 - row[0]) : 1e-3, value[2];
            float keep[16];
            memcpy(keep, row, sizeof keep);
            for (int side = 0; side < 2; side++) {
                row[c] = (float)(keep[c] + (side ? h : -h));
                rd_compact_row_set(&a, attr, i, row);
                rd_scene *moved = NULL;
                CHECK_OK(rd_scene_create(ctx, &(rd_scene_desc){.count = 40, .sh_degree = 1, .means = a.means, .log_scales = a.log_scales,
                                                               .rotations = a.rotations, .opacities = a.opacities, .sh = a.sh}, &moved));
                CHECK_OK(rd_render(ctx, moved, &cam, &(rd_render_desc){0}, &(rd_framebuffer){.color = color}));
                value[side] = 0;
                for (int k = 0; k < 40 * 30 * 4; k++) value[side] += (double)weights[k] * color[k];
                rd_scene_destroy(moved);
            }
            row[c] = keep[c];
            rd_compact_row_set(&a, attr, i, row);
            double numeric = (value[1] - value[0]) / (2 * h);
            checked++;
            if (fabs(numeric - analytic[c]) > 0.02 * fmax(fabs(numeric), fabs(analytic[c])) + 1e-3) {
                bad++;
                fprintf(stderr, "  Gaussian %d %s[%d]: analytic %g, finite differences %g\n", i, rd_compact_attribute_name(attr), c,
                        analytic[c], numeric);
            }
        }
    }
    /* the forward pass has kinks (alpha's 1/255 floor and 0.99 cap, colour clamped at 0) that a
       finite difference may straddle: nine in ten within 2% */
    CHECK(checked > 30 && bad <= checked / 10);
    free(weights), free(color);
    rd_compact_arrays_free(&g);
    rd_scene_destroy(small);
}

/* A trained scene from the shared data (gshair's donut, SH degree 0): its compact file
   renders within 45 dB of it from its orbit views. */
static void test_real_scene(void)
{
    const char *data = test_data_dir();
    char path[1024];
    if (!data) {
        printf("compact: no shared data: the real-scene check did not run\n");
        return;
    }
    snprintf(path, sizeof path, "%s/gaussian_splats/gshairlod_donut/fused.ply", data);
    rd_scene *s = NULL, *back = NULL;
    if (!CHECK_OK(rd_scene_load(ctx, path, &s))) return;
    rd_compact_report rep;
    back = round_trip(s, "donut.rcompact", NULL, &rep);
    rd_camera cams[4];
    if (back && CHECK_OK(rd_scene_orbit_cameras(s, 4, 200, 150, cams)))
        for (int k = 0; k < 4; k++) {
            double psnr = render_psnr_from(s, back, 0, &cams[k]);
            if (k == 0) printf("donut: %.1f bits a Gaussian, %.1f dB from the original (view 0)\n", rep.bits_per_gaussian, psnr);
            CHECK(psnr > 45);
        }
    rd_scene_destroy(back), rd_scene_destroy(s);
}

/* Half the Gaussians nearly transparent (view-free), or behind the camera (views): pruning
   half keeps exactly the others. Non-finite Gaussians are dropped before pruning. */
static void test_pruning(void)
{
    rd_scene_desc d = random_scene(&rng, &(random_scene_desc){.count = 400, .sh_degree = 1, .depth_min = 2, .depth_max = 8, .spread = 0.5,
                                                                 .log_scale_min = -4, .log_scale_max = -1.5});
    float *op = (float *)d.opacities, *means = (float *)d.means, *ls = (float *)d.log_scales;
    for (int i = 0; i < 400; i++) op[i] = i % 2 ? 1.0f : -9.0f;
    for (int k = 0; k < 3 * 400; k++) ls[k] = -2.5f; /* opacity alone decides */
    rd_scene *s = NULL;
    CHECK_OK(rd_scene_create(ctx, &d, &s));
    rd_compact_report rep;
    rd_scene *back = round_trip(s, "pruned.rcompact", &(rd_compact_desc){.prune_fraction = 0.5f}, &rep);
    if (back) {
        rd_scene_desc b = rd_scene_arrays(back);
        int faint = 0;
        for (int64_t i = 0; i < b.count; i++) faint += b.opacities[i] < -5.0f;
        if (!CHECK(b.count == 200 && rep.count == 200 && rep.count_in == 400 && faint == 0))
            fprintf(stderr, "  view-free pruning kept %lld of %lld, %d faint\n", (long long)rep.count, (long long)rep.count_in, faint);
    }
    rd_scene_destroy(back), rd_scene_destroy(s);

    /* with a view: the Gaussians behind the camera get no weight */
    for (int i = 0; i < 400; i++) op[i] = 2.0f;
    for (int i = 0; i < 400; i += 2) means[3 * i + 2] = -means[3 * i + 2];
    CHECK_OK(rd_scene_create(ctx, &d, &s));
    rd_train_view view = {rd_camera_look_at((float[]){0, 0, 0}, (float[]){0, 0, 1}, (float[]){0, -1, 0}, 80, 60, 100.0f)}; /* sees all in front */
    back = round_trip(s, "pruned_views.rcompact", &(rd_compact_desc){.prune_fraction = 0.5f, .views = &view, .view_count = 1}, NULL);
    if (back) {
        rd_scene_desc b = rd_scene_arrays(back);
        int behind = 0;
        for (int64_t i = 0; i < b.count; i++) behind += b.means[3 * i + 2] < 0;
        if (!CHECK(b.count == 200 && behind == 0)) fprintf(stderr, "  pruning by a view kept %lld, %d behind it\n", (long long)b.count, behind);
    }
    rd_scene_destroy(back), rd_scene_destroy(s);
    random_scene_free(&d);

    /* OMG4's gradient score on a 4D scene: grey photos at four times; the half behind the
       camera gets no gradient and goes; without photos the ranking is refused */
    rd_scene *s4 = random_4d(300, 1, 1);
    rd_compact_arrays a4;
    CHECK(rd_compact_arrays_of(s4, &a4));
    for (int64_t i = 0; i < a4.count; i++) { /* alive at every view's time, faint enough that none is hidden */
        if (i % 2 == 0) a4.means[4 * i + 2] = -a4.means[4 * i + 2];
        a4.log_scales[4 * i + 3] = logf(2.0f), a4.opacities[i] = -1.5f;
    }
    rd_scene4d_refresh(ctx, (rd_scene4d *)s4);
    rd_train_view grey[4];
    rd_image photo;
    CHECK_OK(rd_image_alloc(80, 60, 3, &photo));
    for (int p = 0; p < 80 * 60 * 3; p++) photo.pixels[p] = 0.5f;
    for (int v = 0; v < 4; v++)
        grey[v] = (rd_train_view){rd_camera_look_at((float[]){0, 0, 0}, (float[]){0, 0, 1}, (float[]){0, -1, 0}, 80, 60, 100.0f),
                                  &photo, 0.125f + 0.25f * (float)v};
    back = round_trip(s4, "pruned_gradients.rcompact",
                      &(rd_compact_desc){.prune_fraction = 0.5f, .views = grey, .view_count = 4, .importance = RD_COMPACT_IMPORTANCE_GRADIENTS},
                      NULL);
    if (back) {
        rd_compact_arrays b;
        CHECK(rd_compact_arrays_of(back, &b));
        int behind = 0;
        for (int64_t i = 0; i < b.count; i++) behind += b.means[4 * i + 2] < 0;
        /* minmax sends the lowest g_view and the lowest g_t in front to 0: two that tie with the hidden */
        if (!CHECK(b.count == 150 && behind <= 2)) fprintf(stderr, "  gradient pruning kept %lld, %d behind\n", (long long)b.count, behind);
    }
    rd_scene_destroy(back);
    for (int v = 0; v < 4; v++) grey[v].image = NULL;
    char none[1024];
    snprintf(none, sizeof none, "%s/no_photos.rcompact", tmp);
    CHECK_FAILS(rd_scene_compact(ctx, s4, none,
                                 &(rd_compact_desc){.views = grey, .view_count = 4, .importance = RD_COMPACT_IMPORTANCE_GRADIENTS}, NULL),
                RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "photos") != NULL);
    rd_image_free(&photo);
    rd_scene_destroy(s4);

    /* degenerate members: the NaN ones go, the rest stay */
    rd_scene *odd = random_3d(300, 2, true);
    rd_scene_desc o = rd_scene_arrays(odd);
    int64_t finite = 0;
    for (int64_t i = 0; i < o.count; i++) {
        bool ok = !isnan(o.opacities[i]);
        for (int c = 0; c < 3; c++) ok = ok && isfinite(o.means[3 * i + c]) && isfinite(o.log_scales[3 * i + c]);
        for (int c = 0; c < 4; c++) ok = ok && isfinite(o.rotations[4 * i + c]);
        for (int c = 0; c < 27; c++) ok = ok && isfinite(o.sh[27 * i + c]);
        finite += ok;
    }
    back = round_trip(odd, "odd.rcompact", NULL, NULL);
    CHECK(back && count_of(back) == finite && finite < 300);
    rd_scene_destroy(back), rd_scene_destroy(odd);
}

/* path's file with its configuration's text `from` replaced by `to` and, where tail is not
   0, its last part's `tail` bytes by new_tail's new_tail_bytes; the checksum made right. */
static const char *rebuilt(const char *path, const char *name, const char *from, const char *to, size_t tail,
                           const unsigned char *new_tail, size_t new_tail_bytes)
{
    size_t size;
    unsigned char *data = read_file(path, &size);
    if (!data) return NULL;
    uint32_t j = rd_le32(data + 12);
    char *json = malloc(j + 1);
    memcpy(json, data + 16, j), json[j] = 0;
    char *at = strstr(json, from);
    CHECK(at != NULL);
    size_t out_j = j - strlen(from) + strlen(to), body = size - 16 - j - 8 - tail;
    size_t out_size = 16 + out_j + body + (tail ? new_tail_bytes : 0) + 8;
    unsigned char *out = malloc(out_size);
    memcpy(out, data, 16);
    out[12] = out_j & 0xff, out[13] = out_j >> 8 & 0xff, out[14] = out_j >> 16 & 0xff, out[15] = (unsigned char)(out_j >> 24);
    size_t pre = at ? (size_t)(at - json) : 0;
    memcpy(out + 16, json, pre);
    memcpy(out + 16 + pre, to, strlen(to));
    if (at) memcpy(out + 16 + pre + strlen(to), at + strlen(from), j - pre - strlen(from));
    memcpy(out + 16 + out_j, data + 16 + j, body);
    if (tail) memcpy(out + 16 + out_j + body, new_tail, new_tail_bytes);
    uint64_t sum = test_fnv1a(out, out_size - 8);
    for (int k = 0; k < 8; k++) out[out_size - 8 + k] = (unsigned char)(sum >> (8 * k));
    const char *p = write_file(tmp, name, out, out_size);
    free(data), free(json), free(out);
    return p;
}

static const char *edited(const char *path, const char *name, const char *from, const char *to)
{
    return rebuilt(path, name, from, to, 0, NULL, 0);
}

static void expect_error(const char *path, rd_result code, const char *a, const char *b)
{
    rd_scene *s = NULL;
    if (!path) return;
    if (!CHECK_FAILS(rd_scene_load(ctx, path, &s), code)) {
        rd_scene_destroy(s);
        return;
    }
    const char *e = rd_last_error(ctx);
    if (!CHECK(strstr(e, rd_path_tail(path)) && strstr(e, a) && (!b || strstr(e, b))))
        fprintf(stderr, "  %s: unexpected message: %s\n", path, e);
}

static void test_broken(void)
{
    rd_scene *s = random_3d(300, 2, false);
    char path[1024];
    snprintf(path, sizeof path, "%s/good.rcompact", tmp);
    CHECK_OK(rd_scene_compact(ctx, s, path, NULL, NULL));
    rd_scene_destroy(s);
    size_t size;
    unsigned char *good = read_file(path, &size);
    if (!good) return;
    expect_error(write_file(tmp, "truncated.rcompact", good, size - 100), RD_ERROR_FORMAT, "checksum", NULL);
    expect_error(write_file(tmp, "tiny.rcompact", good, 12), RD_ERROR_FORMAT, "", NULL);
    good[size / 2] ^= 0x40;
    expect_error(write_file(tmp, "flipped.rcompact", good, size), RD_ERROR_FORMAT, "checksum", NULL);
    good[size / 2] ^= 0x40;
    good[8] = 2;
    expect_error(write_file(tmp, "version.rcompact", good, size), RD_ERROR_UNSUPPORTED, "version 2", NULL);
    good[8] = 1;
    write_file(tmp, "good2.rcompact", good, size);
    snprintf(path, sizeof path, "%s/good2.rcompact", tmp);
    expect_error(edited(path, "count.rcompact", "\"count\":300", "\"count\":301"), RD_ERROR_FORMAT, "raw_bytes", "positions");
    expect_error(edited(path, "kind.rcompact", "\"kind\":\"gaussians\"", "\"kind\":\"nerf\""), RD_ERROR_FORMAT, "\"kind\"", NULL);
    expect_error(edited(path, "degree.rcompact", "\"sh_degree\":2", "\"sh_degree\":7"), RD_ERROR_FORMAT, "\"sh_degree\"", NULL);
    expect_error(edited(path, "bits.rcompact", "\"bits\":", "\"bits\":-"), RD_ERROR_FORMAT, "slice 0", "\"bits\"");
    expect_error(edited(path, "attr.rcompact", "\"attribute\":\"opacities\"", "\"attribute\":\"colour\""), RD_ERROR_FORMAT,
                 "\"attribute\"", "opacities");
    expect_error(edited(path, "part.rcompact", "\"name\":\"codebooks\"", "\"name\":\"books\""), RD_ERROR_FORMAT, "part 1", "codebooks");
    expect_error(edited(path, "origin.rcompact", "\"origin\":[", "\"origin\":[1e999,"), RD_ERROR_FORMAT, "\"origin\"", NULL);
    expect_error(edited(path, "json.rcompact", "{", "["), RD_ERROR_FORMAT, "JSON", NULL);
    /* a huge count: refused by the decode limit before anything is allocated */
    expect_error(edited(path, "huge.rcompact", "\"count\":300", "\"count\":200000000"), RD_ERROR_FORMAT, "raw_bytes", NULL);
    free(good);
    /* a NeRF does not compact, saying what it is */
    rd_scene *nerf = NULL;
    snprintf(path, sizeof path, "%s/nerf.rcompact", tmp);
    if (CHECK_OK(rd_nerf_create(ctx, &(rd_nerf_desc){.box_min = {-1, -1, -1}, .box_max = {1, 1, 1}}, &nerf))) {
        CHECK_FAILS(rd_scene_compact(ctx, nerf, path, NULL, NULL), RD_ERROR_UNSUPPORTED);
        CHECK(strstr(rd_last_error(ctx), "only 3D and 4D Gaussian scenes compact") && access(path, F_OK) != 0);
    }
    rd_scene_destroy(nerf);
    /* a failed write leaves nothing */
    snprintf(path, sizeof path, "%s/missing/folder.rcompact", tmp);
    s = random_3d(50, 0, false);
    CHECK_FAILS(rd_scene_compact(ctx, s, path, NULL, NULL), RD_ERROR_IO);
    CHECK(strstr(rd_last_error(ctx), "folder.rcompact") != NULL);
    rd_scene_destroy(s);
}

/* path's networks file with weight k of its networks part (the last) set to the half
   `bits`: the part inflated, changed, deflated again, its "bytes" made right. */
static const char *with_weight(const char *path, const char *name, uint32_t k, uint16_t bits)
{
    size_t size;
    unsigned char *data = read_file(path, &size);
    if (!data) return NULL;
    const char *key = "{\"name\":\"networks\",\"bytes\":", *at = strstr((const char *)data + 16, key), *p = NULL;
    if (CHECK(at != NULL)) {
        char *end, from[96], to[96];
        size_t bytes = strtoull(at + strlen(key), &end, 10), raw_bytes = strtoull(strstr(end, ":") + 1, NULL, 10);
        unsigned char *raw = malloc(raw_bytes), *packed = malloc(ZSTD_compressBound(raw_bytes));
        if (CHECK(ZSTD_decompress(raw, raw_bytes, data + size - 8 - bytes, bytes) == raw_bytes && 2 * (size_t)k + 1 < raw_bytes)) {
            raw[2 * k] = bits & 0xff, raw[2 * k + 1] = (unsigned char)(bits >> 8);
            size_t packed_bytes = ZSTD_compress(packed, ZSTD_compressBound(raw_bytes), raw, raw_bytes, 3);
            snprintf(from, sizeof from, "%s%zu,", key, bytes);
            snprintf(to, sizeof to, "%s%zu,", key, packed_bytes);
            p = rebuilt(path, name, from, to, bytes, packed, packed_bytes);
        }
        free(raw), free(packed);
    }
    free(data);
    return p;
}

/* The networks' fit draws every Gaussian once an epoch: after one epoch's steps (3,000
   Gaussians, batches of 1,024: three steps) every Gaussian's features have moved from their
   start (drawn with replacement, about a third would keep theirs: 1,107 did), and the same
   fit twice gives the same bits. */
static void test_fit_epochs(void)
{
    rd_scene *s = random_4d(3000, 1, 1);
    rd_compact_arrays a;
    rd_appearance4d *fitted = NULL, *again = NULL, *start = NULL;
    if (CHECK(rd_compact_arrays_of(s, &a))) {
        rd_compact_desc desc = {.appearance = RD_COMPACT_APPEARANCE_NETWORKS, .network_steps = 3};
        CHECK_OK(rd_compact_fit_networks(ctx, &a, &desc, &fitted));
        CHECK_OK(rd_compact_fit_networks(ctx, &a, &desc, &again));
        desc.network_steps = 1;
        CHECK_OK(rd_compact_fit_networks(ctx, &a, &desc, &start)); /* one step: a third drawn */
        desc.network_steps = 0; /* the default: 2,000, or one pass where that is more */
        CHECK(rd_compact_network_steps(&desc, 3000) == 2000 && rd_compact_network_steps(&desc, 3000000) == 2930);
    }
    if (fitted && again && start) {
        int64_t unmoved = 0, unmoved_after_one = 0;
        rd_appearance4d *init = rd_appearance4d_new(fitted->sh_degree, a.count);
        rd_appearance4d_init(init, a.count, 0x4f4d4734ull); /* the fit's start */
        for (int64_t i = 0; i < a.count; i++) {
            const size_t at = (size_t)i * RD_APPEARANCE_FEATURES, bytes = RD_APPEARANCE_FEATURES * sizeof(float);
            unmoved += memcmp(fitted->features + at, init->features + at, bytes) == 0;
            unmoved_after_one += memcmp(start->features + at, init->features + at, bytes) == 0;
        }
        if (!CHECK(unmoved == 0 && unmoved_after_one >= a.count / 2))
            fprintf(stderr, "  features unmoved: %lld after an epoch, %lld after one step, of %lld\n", (long long)unmoved,
                    (long long)unmoved_after_one, (long long)a.count);
        CHECK(memcmp(fitted->weights, again->weights, fitted->weight_count * sizeof(float)) == 0 &&
              memcmp(fitted->features, again->features, (size_t)a.count * RD_APPEARANCE_FEATURES * sizeof(float)) == 0);
        rd_appearance4d_free(init);
    }
    rd_appearance4d_free(fitted), rd_appearance4d_free(again), rd_appearance4d_free(start);
    rd_scene_destroy(s);
}

/* The mean PSNR of b's renders against a's at three times. */
static double psnr_over_time(const rd_scene *a, const rd_scene *b)
{
    return (render_psnr(a, b, 0.2f) + render_psnr(a, b, 0.5f) + render_psnr(a, b, 0.8f)) / 3.0;
}

/* Appearance networks in place of a 4D scene's colour and opacity (OMG4): the file holds
   features and the networks, not colour; it loads as a 4D scene with networks that renders
   closer to the original the longer they were fitted; the same settings write the same
   bytes (on two threads); fine-tuning against photos brings it closer to them; networks
   refuse a 3D scene, a scene that has networks, and a file with a broken normalisation. */
static void test_networks(void)
{
    rd_scene *s = random_4d(TEST_SANITIZED ? 150 : 300, 1, 1);
    rd_compact_report rep;
    rd_compact_desc desc = {.appearance = RD_COMPACT_APPEARANCE_NETWORKS, .network_steps = 30};
    rd_scene *few = round_trip(s, "networks_few.rcompact", &desc, NULL);
    desc.network_steps = 250;
    rd_scene *fitted = round_trip(s, "networks.rcompact", &desc, &rep);
    if (few && fitted) {
        double before = psnr_over_time(s, few), after = psnr_over_time(s, fitted);
        printf("appearance networks: %.1f bits a Gaussian; %.2f dB from the original after 30 steps, %.2f after %d\n",
               rep.bits_per_gaussian, before, after, desc.network_steps);
        CHECK(rd_is_gaussians4d(fitted) && ((const rd_scene4d *)fitted)->appearance != NULL);
        CHECK(rep.network_steps == desc.network_steps);
        CHECK(after > before + 2.0 && after > 20.0);
        bool features = false, networks = false, colour = false;
        const rd_appearance4d *net = ((const rd_scene4d *)fitted)->appearance;
        for (int k = 0; k < rep.part_count; k++) {
            features |= strcmp(rep.parts[k].name, "features") == 0;
            networks |= strcmp(rep.parts[k].name, "networks") == 0 && rep.parts[k].raw_bytes == 2ull * net->weight_count;
            colour |= !strcmp(rep.parts[k].name, "sh_dc") || !strcmp(rep.parts[k].name, "sh_rest") || !strcmp(rep.parts[k].name, "opacities");
        }
        CHECK(features && networks && !colour);
        rd_compact_report info;
        char path[1024];
        snprintf(path, sizeof path, "%s/networks.rcompact", tmp);
        CHECK_OK(rd_compact_file_info(ctx, path, &info));
        CHECK(info.part_count == rep.part_count && info.file_bytes == rep.file_bytes);
        /* the same settings, the same bytes (the 30-step file's, to keep the test short) */
        size_t size_a, size_b;
        desc.network_steps = 30;
        snprintf(path, sizeof path, "%s/networks_few.rcompact", tmp);
        unsigned char *a = read_file(path, &size_a);
        rd_scene *again = round_trip(s, "networks_again.rcompact", &desc, NULL);
        snprintf(path, sizeof path, "%s/networks_again.rcompact", tmp);
        unsigned char *b = read_file(path, &size_b);
        CHECK(a && b && size_a == size_b && memcmp(a, b, size_a) == 0);
        free(b), rd_scene_destroy(again);
        rd_context *one = NULL; /* and on one thread */
        snprintf(path, sizeof path, "%s/networks_one.rcompact", tmp);
        if (CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log}, &one)) &&
            CHECK_OK(rd_scene_compact(one, s, path, &desc, NULL))) {
            b = read_file(path, &size_b);
            CHECK(a && b && size_a == size_b && memcmp(a, b, size_a) == 0);
            free(b);
        }
        rd_context_destroy(one);
        free(a);
        /* a scene with networks does not compact again; a 3D scene takes none */
        snprintf(path, sizeof path, "%s/twice.rcompact", tmp);
        CHECK_FAILS(rd_scene_compact(ctx, fitted, path, &desc, NULL), RD_ERROR_UNSUPPORTED);
        CHECK(strstr(rd_last_error(ctx), "appearance networks") && access(path, F_OK) != 0);
        rd_scene *flat = random_3d(50, 1, false);
        CHECK_FAILS(rd_scene_compact(ctx, flat, path, &desc, NULL), RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "for 4D scenes") && access(path, F_OK) != 0);
        rd_scene_destroy(flat);
        snprintf(path, sizeof path, "%s/networks.rcompact", tmp);
        expect_error(edited(path, "radius.rcompact", "\"radius\":", "\"radius\":-"), RD_ERROR_FORMAT, "appearance", "\"radius\"");
        expect_error(edited(path, "no_networks.rcompact", "\"appearance\":", "\"elsewhere\":"), RD_ERROR_FORMAT, "slice", NULL);
        expect_error(with_weight(path, "infinite_weight.rcompact", 7, 0x7c00), RD_ERROR_FORMAT, "networks", "weight 7 is not finite");
        expect_error(with_weight(path, "nan_weight.rcompact", net->weight_count - 1, 0x7e00), RD_ERROR_FORMAT, "networks", "not finite");
        rd_scene *fine = NULL; /* the same edit to a finite half loads: only the weight's value refused it */
        if (CHECK_OK(rd_scene_load(ctx, with_weight(path, "finite_weight.rcompact", 7, 0x3c00), &fine)))
            CHECK(((const rd_scene4d *)fine)->appearance->weights[7] == 1.0f);
        rd_scene_destroy(fine);
    }
    /* SH degree 0: the rest network is empty; the file still writes, reads and fits */
    rd_scene *plain = random_4d(100, 0, 1);
    desc.network_steps = 100;
    rd_scene *plain_back = round_trip(plain, "networks_sh0.rcompact", &desc, NULL);
    if (plain_back) {
        const rd_appearance4d *net = ((const rd_scene4d *)plain_back)->appearance;
        CHECK(net != NULL && net->sh_degree == 0);
        double psnr = psnr_over_time(plain, plain_back);
        if (!CHECK(psnr > 24.0)) fprintf(stderr, "  SH degree 0 networks: %.2f dB from the original\n", psnr);
    }
    rd_scene_destroy(plain), rd_scene_destroy(plain_back);
    rd_scene_destroy(few), rd_scene_destroy(fitted);
    /* fitted to photos at four times: the networks and the features' codebooks move towards them */
    int n = 4;
    rd_train_view *views = photos_of(s, n, 64, 48, true);
    check_tuning_gains(s,
                       &(rd_compact_desc){.appearance = RD_COMPACT_APPEARANCE_NETWORKS, .network_steps = 100, .views = views,
                                          .view_count = n},
                       TEST_SANITIZED ? 30 : 60, "networks_tuned", "appearance networks, fine-tuning");
    rd_scene_destroy(s);
    photos_free(views, n);
}

/* OMG4's merging: in a sparse 4D scene whose every Gaussian has a twin (0-6e-5 away, the same
   colour) the twin pairs are most of the pairs that share a cell, so the 70th percentile
   falls among them: the closest of them merge (the exact duplicates at least), no more than
   one of a pair, and the merged file renders closer to the scene without twins than the
   unmerged one; without twins no pair is within the -3e-4 floor; twins at one place but
   far apart in time do not merge. */
static void test_merge(void)
{
    enum { N = 200 };
    rd_scene *s = random_4d(N, 1, 1), *twins = NULL;
    rd_scene4d_desc d = rd_scene4d_arrays(s);
    int c = 3 * 4 * 2;
    float *means = malloc(2 * N * 4 * sizeof(float)), *ls = malloc(2 * N * 4 * sizeof(float)), *rot = malloc(2 * N * 8 * sizeof(float));
    float *op = malloc(2 * N * sizeof(float)), *sh = malloc((size_t)2 * N * c * sizeof(float));
    for (int i = 0; i < 2 * N; i++) {
        int j = i / 2;
        memcpy(means + 4 * i, d.means + 4 * j, 4 * sizeof(float));
        if (i % 2) means[4 * i] += 1e-5f * (float)(j % 7); /* every seventh pair exact duplicates */
        memcpy(ls + 4 * i, d.log_scales + 4 * j, 4 * sizeof(float)), memcpy(rot + 8 * i, d.rotations + 8 * j, 8 * sizeof(float));
        memcpy(sh + (size_t)c * i, d.sh + (size_t)c * j, (size_t)c * sizeof(float));
        op[i] = d.opacities[j];
    }
    CHECK_OK(rd_scene4d_create(ctx, &(rd_scene4d_desc){2 * N, 1, 1, 2.0f, means, ls, rot, op, sh, RD_MEMORY_HOST}, &twins));
    rd_compact_report plain_report, twins_report;
    rd_scene *plain = round_trip(s, "merged.rcompact", &(rd_compact_desc){.merge = 1}, &plain_report);
    rd_scene *merged = round_trip(twins, "merged_twins.rcompact", &(rd_compact_desc){.merge = 1}, &twins_report);
    rd_scene *unmerged = round_trip(twins, "unmerged_twins.rcompact", NULL, NULL);
    if (plain && merged && unmerged) {
        printf("merging: %lld of %d twinned Gaussians merged, %lld of %d without twins\n", (long long)twins_report.merged, 2 * N,
               (long long)plain_report.merged, N);
        CHECK(twins_report.merged >= (N + 6) / 7 && twins_report.merged <= N && twins_report.count == 2 * N - twins_report.merged);
        CHECK(plain_report.merged == 0);
        double to_plain = render_psnr(s, merged, 0.5f), twinned_to_plain = render_psnr(s, unmerged, 0.5f);
        printf("  against the scene without twins: the twinned file %.1f dB, merged %.1f dB\n", twinned_to_plain, to_plain);
        CHECK(to_plain > twinned_to_plain + 0.2);
    }
    /* the same twins, each the other's time plus 0.5 (temporal deviations below 0.5): none merge */
    for (int i = 1; i < 2 * N; i += 2) {
        means[4 * i] = means[4 * (i - 1)];
        means[4 * i + 3] = means[4 * (i - 1) + 3] + 0.5f;
        ls[4 * i + 3] = ls[4 * (i - 1) + 3] = logf(0.1f);
    }
    rd_scene *apart = NULL, *apart_back = NULL;
    CHECK_OK(rd_scene4d_create(ctx, &(rd_scene4d_desc){2 * N, 1, 1, 2.0f, means, ls, rot, op, sh, RD_MEMORY_HOST}, &apart));
    rd_compact_report apart_report;
    if (apart && (apart_back = round_trip(apart, "merged_apart.rcompact", &(rd_compact_desc){.merge = 1}, &apart_report))) {
        printf("  twins 0.5 apart in time: %lld merged\n", (long long)apart_report.merged);
        CHECK(apart_report.merged == 0);
    }
    rd_scene_destroy(apart), rd_scene_destroy(apart_back);
    rd_scene_destroy(plain), rd_scene_destroy(merged), rd_scene_destroy(unmerged), rd_scene_destroy(twins), rd_scene_destroy(s);
    free(means), free(ls), free(rot), free(op), free(sh);
}

int main(void)
{
    rng.state = test_seed("compact");
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 2, .log = test_log}, &ctx) != RD_OK) return 1;
    tmp = test_temp_dir("compact");
    test_exact_small();
    test_quantised();
    test_pruning();
    test_step_costs();
    test_finetune();
    test_real_scene();
    test_broken();
    test_networks();
    test_fit_epochs();
    test_merge();
    rd_context_destroy(ctx);
    return test_finish("compact");
}
