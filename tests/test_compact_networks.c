/* test_compact_networks.c: 4D scenes' appearance networks in the compact file (OMG4): the
   networks stand in for colour and opacity and render close to the scene; a network's
   weights damaged in the file fail naming it; the fit draws every Gaussian once an epoch
   and repeats bit for bit; twins merge. Shared helpers: compact_test.h. */
#include "compact_test.h"
#include "../compress/bytes.h"
#include "../splat/appearance4d_cpu.h"
#include "../splat/scene4d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* path's networks file with weight k of its networks part (the last) set to the half `bits`. */
static const char *with_weight(const char *path, const char *name, uint32_t k, uint16_t bits)
{
    const unsigned char half[2] = {bits & 0xff, (unsigned char)(bits >> 8)};
    return with_last_part(path, name, "networks", 2 * (long long)k, half, 2);
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
    rng.state = test_seed("compact_networks");
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 2, .log = test_log}, &ctx) != RD_OK) return 1;
    tmp = test_temp_dir("compact_networks");
    test_networks();
    test_fit_epochs();
    test_merge();
    rd_context_destroy(ctx);
    return test_finish("compact_networks");
}
