/* stream_encode.c: `radiant stream encode DATASET --out S.rstream`: a multi-view video
   dataset (views with times: Panoptic, or any dataset whose frames share times) encoded as
   a residual stream: frame 0 trained as a 3D scene (rd_trainer) and written whole, each
   later frame trained as a residual of the decoded one before (rd_stream_encode_frame),
   an intra frame every --keyframe-every frames. A line a frame (frame, loss, Gaussians,
   bytes, seconds, PSNR on the test split's views of that time) and report.json beside the
   stream. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: radiant stream encode DATASET --out S.rstream [options]\n"
    "\n"
    "Encodes a multi-view video dataset (views grouped into frames by their times) as a residual\n"
    "stream (spec/streams.md, QUEEN): frame 0 trained as a 3D scene and stored whole, each later\n"
    "frame trained as a residual of the decoded frame before it. Writes S.rstream and beside it\n"
    "S.report.json (per frame: bytes, Gaussians, moved, loss, seconds, test PSNR). Frames from 0.\n"
    "\n"
    "  --frames A:B          the dataset's frames A to B (default: all)\n"
    "  --first-iterations N  frame 0's training steps (default 3000)\n"
    "  --points N            frame 0's random initial points where the dataset has no sparse points\n"
    "                        (default 100000)\n"
    "  --iterations N        each residual frame's steps (default: ten passes over its views, QUEEN's\n"
    "                        10 epochs; 270 for Panoptic's 27 training cameras)\n"
    "  --keyframe-every N    an intra frame every N frames (default 0: frame 0 only)\n"
    "  --latents A,B,C,D     latent sizes of f_dc, log-scale, rotation and opacity (1..64 each;\n"
    "                        default 8,8,6,3, the spec's for N3DV)\n"
    "  --rest-latents N      f_rest's latents (absolute, carried from frame to frame; 0..64, default\n"
    "                        0: f_rest kept from the parent, no bits; the spec's N3DV uses 4)\n"
    "  --gate-lambda X       the position gates' L0 weight (default 0.01; negative: no gates)\n"
    "  --latent-shrink X     after each step every latent moves X toward 0, so that latents without a\n"
    "                        steady gradient stay 0 and cost few bits (default 0.06; 0: none)\n"
    "  --split               the static/dynamic split (QUEEN's N3DV recipe): each gate starts from\n"
    "                        the change between a frame's photos and the last's, and the first 30%\n"
    "                        of the steps train only the changing Gaussians (default: off, as\n"
    "                        QUEEN's Immersive configs; it cost test PSNR on Panoptic)\n"
    "  --no-split            every gate starts at P(open) = 1/2 (the default)\n"
    "  --densify             clone, split and prune inside each residual frame every two passes over\n"
    "                        its views, as QUEEN (default: none, every residual frame keeps its\n"
    "                        parent's Gaussians: new ones cost test PSNR in a frame's few steps)\n"
    "  --densify-every N     the same every N steps\n"
    "  --densify-gradient X  the mean view-space gradient that grows a Gaussian (default 1.25e-3)\n"
    "  --no-densify          no densification (the default)\n"
    "  --sh-degree N         the stream's SH degree (0..3, default 2, as QUEEN on N3DV)\n"
    "  --downscale F         photos F times smaller (1..16, default 1)\n"
    "  --background B        black (default), white or R,G,B in [0,1]\n"
    "  --backend B           auto (default), cpu, cuda (each residual frame's steps on the device)\n"
    "  --seed S              (default 0)\n"
    "  --deterministic       CUDA: repeat a run bit for bit (the backward passes sum in a fixed order,\n"
    "                        as radiant train's), so that runs with other options start from the same\n"
    "                        frame 0\n";

typedef struct encode_options {
    const char *dataset, *out;
    long long first, last;
    int first_iterations, iterations, keyframe_every, sh_degree, downscale;
    long long points;
    float gate_lambda, background[3], densify_gradient, latent_shrink; /* latent_shrink: as the desc's */
    int densify_every; /* as the desc's: 0 none (the default), -1 QUEEN's two passes */
    bool split, deterministic;
    int latents[RD_STREAM_ATTRIBUTES]; /* 0: the encoder's default */
    unsigned long long seed;
    rd_backend backend;
} encode_options;

static bool number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v = s ? strtod(s, &end) : 0;
    if (!s || end == s || *end || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, encode_options *o)
{
    *o = (encode_options){.last = -1, .first_iterations = 3000, .iterations = 0, .sh_degree = 2, .downscale = 1,
                          .backend = RD_BACKEND_AUTO};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        double v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return fputs(USAGE, stdout), -1;
        if (strcmp(a, "--out") == 0 && next) {
            o->out = argv[++i];
        } else if (strcmp(a, "--frames") == 0 && next) {
            char end;
            if (sscanf(argv[++i], "%lld:%lld%c", &o->first, &o->last, &end) != 2 || o->first < 0 || o->last < o->first)
                return fprintf(stderr, "radiant: --frames %s: expected A:B, 0 <= A <= B\n", next), EXIT_USAGE;
        } else if ((strcmp(a, "--first-iterations") == 0 || strcmp(a, "--iterations") == 0) && next) {
            if (!number(argv[++i], 1, 1e8, &v) || v != (int)v) return fprintf(stderr, "radiant: %s %s: expected 1..1e8\n", a, next), EXIT_USAGE;
            *(a[2] == 'f' ? &o->first_iterations : &o->iterations) = (int)v;
        } else if (strcmp(a, "--points") == 0 && next) {
            if (!number(argv[++i], 1, 1e8, &v) || v != floor(v)) return fprintf(stderr, "radiant: %s %s: expected 1..1e8\n", a, next), EXIT_USAGE;
            o->points = (long long)v;
        } else if (strcmp(a, "--keyframe-every") == 0 && next) {
            if (!number(argv[++i], 0, 1e6, &v) || v != (int)v) return fprintf(stderr, "radiant: %s %s: expected 0..1e6\n", a, next), EXIT_USAGE;
            o->keyframe_every = (int)v;
        } else if (strcmp(a, "--sh-degree") == 0 && next) {
            if (!number(argv[++i], 0, 3, &v) || v != (int)v) return fprintf(stderr, "radiant: %s %s: expected 0..3\n", a, next), EXIT_USAGE;
            o->sh_degree = (int)v;
        } else if (strcmp(a, "--downscale") == 0 && next) {
            if (!number(argv[++i], 1, 16, &v) || v != (int)v) return fprintf(stderr, "radiant: %s %s: expected 1..16\n", a, next), EXIT_USAGE;
            o->downscale = (int)v;
        } else if (strcmp(a, "--gate-lambda") == 0 && next) {
            if (!number(argv[++i], -1, 100, &v)) return fprintf(stderr, "radiant: %s %s: expected a weight (negative: no gates)\n", a, next), EXIT_USAGE;
            o->gate_lambda = (float)v;
        } else if (strcmp(a, "--latents") == 0 && next) {
            int v4[4];
            char end;
            bool ok = sscanf(argv[++i], "%d,%d,%d,%d%c", &v4[0], &v4[1], &v4[2], &v4[3], &end) == 4;
            for (int k = 0; k < 4; k++) ok = ok && v4[k] >= 1 && v4[k] <= 64;
            if (!ok) return fprintf(stderr, "radiant: --latents %s: expected four sizes A,B,C,D, each 1..64\n", next), EXIT_USAGE;
            o->latents[RD_STREAM_F_DC] = v4[0], o->latents[RD_STREAM_SCALE] = v4[1], o->latents[RD_STREAM_ROTATION] = v4[2];
            o->latents[RD_STREAM_OPACITY] = v4[3];
        } else if (strcmp(a, "--no-split") == 0) {
            o->split = false;
        } else if (strcmp(a, "--split") == 0) {
            o->split = true;
        } else if (strcmp(a, "--deterministic") == 0) {
            o->deterministic = true;
        } else if (strcmp(a, "--rest-latents") == 0 && next) {
            if (!number(argv[++i], 0, 64, &v) || v != (int)v) return fprintf(stderr, "radiant: %s %s: expected 0..64\n", a, next), EXIT_USAGE;
            o->latents[RD_STREAM_F_REST] = (int)v;
        } else if (strcmp(a, "--latent-shrink") == 0 && next) {
            if (!number(argv[++i], 0, 10, &v)) return fprintf(stderr, "radiant: %s %s: expected 0..10\n", a, next), EXIT_USAGE;
            o->latent_shrink = v > 0 ? (float)v : -1.0f;
        } else if (strcmp(a, "--no-densify") == 0) {
            o->densify_every = 0;
        } else if (strcmp(a, "--densify") == 0) {
            o->densify_every = -1;
        } else if (strcmp(a, "--densify-every") == 0 && next) {
            if (!number(argv[++i], 1, 1e8, &v) || v != (int)v) return fprintf(stderr, "radiant: %s %s: expected 1..1e8 steps\n", a, next), EXIT_USAGE;
            o->densify_every = (int)v;
        } else if (strcmp(a, "--densify-gradient") == 0 && next) {
            if (!number(argv[++i], 1e-9, 1e3, &v)) return fprintf(stderr, "radiant: %s %s: expected a positive gradient\n", a, next), EXIT_USAGE;
            o->densify_gradient = (float)v;
        } else if (strcmp(a, "--seed") == 0 && next) {
            if (!number(argv[++i], 0, 9e15, &v) || v != floor(v)) return fprintf(stderr, "radiant: %s %s: expected a whole number\n", a, next), EXIT_USAGE;
            o->seed = (unsigned long long)v;
        } else if (strcmp(a, "--background") == 0 && next) {
            if (!cli_parse_background(argv[++i], o->background))
                return fprintf(stderr, "radiant: --background %s: black, white or R,G,B each in [0, 1]\n", next), EXIT_USAGE;
        } else if (strcmp(a, "--backend") == 0 && next) {
            const char *b = argv[++i];
            if (strcmp(b, "auto") == 0) o->backend = RD_BACKEND_AUTO;
            else if (strcmp(b, "cpu") == 0) o->backend = RD_BACKEND_CPU;
            else if (strcmp(b, "cuda") == 0) o->backend = RD_BACKEND_CUDA;
            else return fprintf(stderr, "radiant: --backend %s: auto, cpu or cuda (the encoder's backward pass)\n", b), EXIT_USAGE;
        } else if (!o->dataset && a[0] != '-') {
            o->dataset = a;
        } else {
            return fprintf(stderr, "radiant: stream encode: unexpected argument '%s'\n\n%s", a, USAGE), EXIT_USAGE;
        }
    }
    if (!o->dataset || !o->out) return fprintf(stderr, "radiant: stream encode: give DATASET and --out S.rstream\n\n%s", USAGE), EXIT_USAGE;
    if (!cli_is_stream(o->out)) return fprintf(stderr, "radiant: --out %s: a stream is written as .rstream\n", o->out), EXIT_USAGE;
    return EXIT_DONE;
}

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The distinct times of a set's views, sorted; their count. */
static int frame_times(const rd_train_set *set, float **times)
{
    int n = rd_train_set_count(set), count = 0;
    const rd_train_view *v = rd_train_set_views(set);
    *times = malloc(sizeof **times * (size_t)(n + 1));
    if (!*times) return 0;
    for (int k = 0; k < n; k++) (*times)[k] = v[k].time;
    qsort(*times, (size_t)n, sizeof **times, compare_floats);
    for (int k = 0; k < n; k++)
        if (!count || (*times)[k] != (*times)[count - 1]) (*times)[count++] = (*times)[k];
    return count;
}

/* The set's views at time t into out; their count. */
static int views_at(const rd_train_set *set, float t, rd_train_view *out)
{
    int n = 0;
    const rd_train_view *v = rd_train_set_views(set);
    for (int k = 0; k < rd_train_set_count(set); k++)
        if (v[k].time == t) out[n++] = v[k];
    return n;
}

/* Whether a and b hold the same cameras' views (sizes and poses), in order. */
static bool same_cameras(const rd_train_view *a, const rd_train_view *b, int n)
{
    for (int k = 0; k < n; k++)
        if (a[k].camera.width != b[k].camera.width || a[k].camera.height != b[k].camera.height ||
            memcmp(a[k].camera.w2c, b[k].camera.w2c, sizeof a[k].camera.w2c) != 0)
            return false;
    return true;
}

/* Mean PSNR of the state over views; NaN without views. */
static double psnr_of(rd_context *ctx, const rd_scene_desc *state, const rd_train_view *views, int n, const float background[3])
{
    rd_scene *scene;
    if (n == 0 || rd_scene_create(ctx, state, &scene) != RD_OK) return NAN;
    double sum = 0.0;
    int done = 0;
    for (int k = 0; k < n; k++) {
        const rd_camera *c = &views[k].camera;
        rd_image rgba = {0}, rgb = {0}, ref = {0};
        rd_render_desc rd = {0};
        memcpy(rd.background, background, sizeof rd.background);
        rd_metrics m;
        bool ok = rd_image_alloc(c->width, c->height, 4, &rgba) == RD_OK && rd_image_alloc(c->width, c->height, 3, &rgb) == RD_OK &&
                  rd_image_alloc(c->width, c->height, 3, &ref) == RD_OK &&
                  rd_render(ctx, scene, c, &rd, &(rd_framebuffer){.color = rgba.pixels}) == RD_OK;
        for (int64_t p = 0; ok && p < (int64_t)c->width * c->height; p++) {
            const rd_image *im = views[k].image;
            const float *px = im->pixels + p * im->channels;
            float alpha = im->channels == 4 ? px[3] : 1.0f;
            for (int ch = 0; ch < 3; ch++) {
                rgb.pixels[p * 3 + ch] = rgba.pixels[p * 4 + ch];
                ref.pixels[p * 3 + ch] = px[im->channels == 1 ? 0 : ch] * alpha + background[ch] * (1.0f - alpha);
            }
        }
        if (ok && rd_image_compare(ctx, &rgb, &ref, &m) == RD_OK && isfinite(m.psnr)) sum += m.psnr, done++;
        rd_image_free(&rgba), rd_image_free(&rgb), rd_image_free(&ref);
    }
    rd_scene_destroy(scene);
    return done ? sum / done : NAN;
}

int cli_stream_encode(int argc, char **argv)
{
    encode_options o;
    int status = parse(argc, argv, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    rd_context *ctx = cli_context(&(cli_options){.backend = o.backend});
    if (!ctx) return EXIT_FAILED;
    rd_train_set *train = NULL, *test = NULL;
    rd_trainer *trainer = NULL;
    rd_stream_writer *w = NULL;
    float *times = NULL;
    rd_train_view *views = NULL, *test_views = NULL, *previous = NULL;
    cJSON *report = cJSON_CreateObject(), *frames = cJSON_AddArrayToObject(report, "frames");
    status = EXIT_FAILED;
    if (rd_train_set_load(ctx, o.dataset, &(rd_train_set_desc){"train", o.downscale}, &train) != RD_OK) goto fail;
    if (rd_train_set_load(ctx, o.dataset, &(rd_train_set_desc){"test", o.downscale}, &test) != RD_OK) test = NULL; /* optional */
    int count = frame_times(train, &times), n = rd_train_set_count(train);
    views = malloc(sizeof *views * (size_t)(n + 1)), previous = malloc(sizeof *previous * (size_t)(n + 1));
    test_views = malloc(sizeof *test_views * (size_t)(test ? rd_train_set_count(test) + 1 : 1));
    if (!times || !views || !previous || !test_views) goto fail;
    if (o.last < 0 || o.last >= count) o.last = count - 1;
    if (o.first > o.last) {
        fprintf(stderr, "radiant: --frames: %s has %d frames (0 to %d)\n", o.dataset, count, count - 1);
        status = EXIT_USAGE;
        goto done;
    }
    int first_views = views_at(train, times[o.first], views);
    float lo[3], hi[3];
    rd_train_set_box(train, lo, hi);
    const float *xyz, *rgb;
    int64_t points = rd_train_set_points(train, &xyz, &rgb);
    rd_trainer_desc td = {.views = views, .view_count = first_views, .points = points ? xyz : NULL, .colors = points ? rgb : NULL,
                          .point_count = points ? points : o.points, .sh_degree = RD_SH_DEGREE(o.sh_degree), .iterations = o.first_iterations,
                          .seed = o.seed, .densify = true, .deterministic = o.deterministic};
    memcpy(td.box_min, lo, sizeof lo), memcpy(td.box_max, hi, sizeof hi), memcpy(td.background, o.background, sizeof td.background);
    printf("encoding %s: %d frames (%lld to %lld), %d train views at frame %lld\n", o.dataset, count, o.first, o.last, first_views, o.first);
    double start = cli_now_ms();
    rd_train_stats stats;
    if (rd_trainer_create(ctx, &td, &trainer) != RD_OK || rd_trainer_step(trainer, o.first_iterations, &stats) != RD_OK) goto fail;
    if (rd_stream_writer_create(ctx, o.out, &(rd_stream_desc){.sh_degree = o.sh_degree}, &w) != RD_OK) goto fail;
    rd_scene_desc first = rd_scene_arrays(rd_trainer_scene(trainer));
    if (rd_stream_write_intra(w, &first) != RD_OK) goto fail;
    rd_trainer_destroy(trainer), trainer = NULL;
    for (long long f = o.first; f <= o.last; f++) {
        double t0 = cli_now_ms();
        int nv = views_at(train, times[f], views), nt = test ? views_at(test, times[f], test_views) : 0;
        rd_stream_encode_report er = {.loss_last = stats.loss, .dynamic = -1};
        const char *kind = f == o.first ? "intra" : "residual";
        if (f > o.first) { /* a keyframe: the frame trained as a residual, then stored whole */
            bool key = o.keyframe_every > 0 && (f - o.first) % o.keyframe_every == 0;
            rd_stream_encode_desc ed = {.iterations = o.iterations, .gate_lambda = o.gate_lambda, .seed = o.seed + (uint64_t)f, .intra = key,
                                        .densify_every = o.densify_every, .densify_gradient = o.densify_gradient, .deterministic = o.deterministic,
                                        .latent_shrink = o.latent_shrink};
            kind = key ? "intra" : "residual";
            memcpy(ed.background, o.background, sizeof ed.background);
            memcpy(ed.latent_dims, o.latents, sizeof ed.latent_dims);
            /* the split pairs the two frames' views by position: the same cameras in the same order */
            if (o.split && views_at(train, times[f - 1], previous) == nv && same_cameras(views, previous, nv)) ed.previous_views = previous;
            if (rd_stream_encode_frame(w, views, nv, &ed, &er) != RD_OK) goto fail;
        }
        rd_scene_desc state = rd_stream_writer_state(w);
        double psnr = psnr_of(ctx, &state, test_views, nt, o.background), seconds = (cli_now_ms() - t0) / 1000.0;
        int64_t bytes = rd_stream_writer_last_bytes(w);
        /* a residual frame's time is the encoder's (the test views' PSNR after it is not encoding) */
        printf("frame %lld (%s): loss %.4f, %lld Gaussians, %lld moved, %lld bytes, %.2f s", f, kind, er.loss_last, (long long)state.count,
               (long long)er.moved, (long long)bytes, f == o.first ? (cli_now_ms() - start) / 1000.0 : er.seconds);
        if (f > o.first && er.dynamic >= 0) printf(", %lld changing", (long long)er.dynamic);
        if (er.added || er.removed) printf(", %lld new, %lld gone", (long long)er.added, (long long)er.removed);
        if (isfinite(psnr)) printf(", test PSNR %.2f dB (%d views)", psnr, nt);
        printf("\n");
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "frame", (double)f);
        cJSON_AddStringToObject(e, "kind", kind);
        cJSON_AddNumberToObject(e, "bytes", (double)bytes);
        cJSON_AddNumberToObject(e, "gaussians", (double)state.count);
        cJSON_AddNumberToObject(e, "moved", (double)er.moved);
        if (f > o.first && er.dynamic >= 0) cJSON_AddNumberToObject(e, "changing", (double)er.dynamic);
        if (f > o.first) cJSON_AddNumberToObject(e, "added", (double)er.added), cJSON_AddNumberToObject(e, "removed", (double)er.removed);
        cJSON_AddNumberToObject(e, "loss", er.loss_last);
        cJSON_AddNumberToObject(e, "seconds", f == o.first ? (cli_now_ms() - start) / 1000.0 : seconds);
        if (f > o.first) {
            cJSON *parts = cJSON_AddObjectToObject(e, "encode_seconds");
            cJSON_AddNumberToObject(parts, "total", er.seconds);
            cJSON_AddNumberToObject(parts, "split", er.split_seconds);
            cJSON_AddNumberToObject(parts, "train", er.train_seconds);
            cJSON_AddNumberToObject(parts, "densify", er.densify_seconds);
            cJSON_AddNumberToObject(parts, "write", er.write_seconds);
        }
        if (isfinite(psnr)) cJSON_AddNumberToObject(e, "test_psnr", psnr);
        cJSON_AddItemToArray(frames, e);
    }
    if (rd_stream_writer_finish(w) != RD_OK) {
        w = NULL;
        goto fail;
    }
    w = NULL;
    cJSON_AddStringToObject(report, "dataset", o.dataset);
    cJSON_AddStringToObject(report, "backend", rd_backend_name(rd_context_backend(ctx)));
    cJSON_AddNumberToObject(report, "first_iterations", o.first_iterations);
    cJSON_AddNumberToObject(report, "iterations", o.iterations ? o.iterations : 10 * first_views); /* the first residual frame's */
    cJSON_AddNumberToObject(report, "seconds", (cli_now_ms() - start) / 1000.0);
    char path[4200];
    cli_beside_scene(o.out, ".report.json", path, sizeof path);
    if (!cli_write_report(ctx, path, report)) goto done;
    printf("wrote %s (report: %s)\n", o.out, path);
    status = EXIT_DONE;
    goto done;
fail:
    cli_error(ctx, NULL);
done:
    cJSON_Delete(report);
    rd_stream_writer_destroy(w);
    rd_trainer_destroy(trainer);
    free(times), free(views), free(previous), free(test_views);
    rd_train_set_destroy(train), rd_train_set_destroy(test);
    rd_context_destroy(ctx);
    return status;
}

int cmd_stream(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "encode") == 0) return cli_stream_encode(argc - 1, argv + 1);
    fprintf(stderr, "usage: radiant stream encode DATASET --out S.rstream [options]  (radiant stream encode --help)\n"
                    "(play streams with radiant render, info and bench)\n");
    return argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) ? EXIT_DONE : EXIT_USAGE;
}
