/* options.c: option parsing, context creation and scene loading for every command. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void log_to_stderr(rd_log_level level, const char *message, void *user)
{
    static const char *names[] = {"debug", "info", "warning", "error"};
    (void)user;
    fprintf(stderr, "radiant: %s: %s\n", names[level], message);
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || end == s || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

bool cli_parse_background(const char *s, float out[3])
{
    if (!s) return false;
    if (strcmp(s, "black") == 0) { out[0] = out[1] = out[2] = 0.0f; return true; }
    if (strcmp(s, "white") == 0) { out[0] = out[1] = out[2] = 1.0f; return true; }
    char tail;
    if (sscanf(s, "%f,%f,%f%c", &out[0], &out[1], &out[2], &tail) != 3) return false;
    for (int c = 0; c < 3; c++)
        if (!(out[c] >= 0.0f && out[c] <= 1.0f)) return false; /* NaN fails too */
    return true;
}

static bool known_split(const char *s)
{
    return strcmp(s, "train") == 0 || strcmp(s, "val") == 0 || strcmp(s, "test") == 0 || strcmp(s, "all") == 0;
}

int cli_parse(int argc, char **argv, unsigned allowed, const char *usage, cli_options *o)
{
    memset(o, 0, sizeof *o);
    o->split = "test";
    o->frames = 20;
    o->warmup = 3;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKES(flag, mask) (strcmp(a, flag) == 0 && (allowed & (mask)))
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return -1;
        } else if (TAKES("--demo", OPT_DEMO)) {
            o->demo = true;
        } else if (TAKES("--synth", OPT_DEMO) && next) {
            char *end;
            o->synth = strtoll(argv[++i], &end, 10);
            if (*end || end == argv[i] || o->synth < 1 || o->synth > 2000000000ll) {
                fprintf(stderr, "radiant: --synth %s: expected a Gaussian count in 1..2000000000 (a scene needs at least one)\n",
                        argv[i]);
                return EXIT_USAGE;
            }
            o->demo = true;
        } else if (TAKES("--dataset", OPT_DATASET) && next) {
            o->dataset = argv[++i];
        } else if (TAKES("--split", OPT_DATASET) && next) {
            o->split = argv[++i];
            o->split_given = true;
            if (!known_split(o->split)) {
                fprintf(stderr, "radiant: --split %s: expected train, val, test or all\n", o->split);
                return EXIT_USAGE;
            }
        } else if (TAKES("--cameras", OPT_CAMERAS) && next) {
            o->cameras = argv[++i];
        } else if (TAKES("--save-cameras", OPT_SAVE_CAMERAS) && next) {
            o->save_cameras = argv[++i];
        } else if (TAKES("--up", OPT_SAVE_CAMERAS) && next) {
            if (rd_axis_from_name(argv[++i], o->up) != RD_OK) {
                fprintf(stderr, "radiant: --up %s: expected x, y, z, -x, -y or -z\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if (TAKES("--views", OPT_SAVE_CAMERAS) && next) {
            if (!parse_int(argv[++i], 1, 10000, &o->views)) {
                fprintf(stderr, "radiant: --views %s: expected a whole number in 1..10000 (the orbit's views)\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if (TAKES("--out", OPT_OUT) && next) {
            o->out_dir = argv[++i];
        } else if (TAKES("--backend", OPT_BACKEND) && next) {
            int b = rd_backend_from_name(argv[++i]);
            if (b < 0) {
                fprintf(stderr, "radiant: --backend %s: expected auto, cpu, cuda or vulkan\n", argv[i]);
                return EXIT_USAGE;
            }
            o->backend = (rd_backend)b;
        } else if (TAKES("--background", OPT_BACKGROUND) && next) {
            if (!cli_parse_background(argv[++i], o->background)) {
                fprintf(stderr, "radiant: --background %s: expected black, white or R,G,B with each in [0, 1]\n", argv[i]);
                return EXIT_USAGE;
            }
            for (int c = 0; c < 3; c++) o->render.background[c] = o->background[c];
            o->background_given = true;
        } else if (TAKES("--exr", OPT_EXR)) {
            o->exr = true;
        } else if (TAKES("--backward", OPT_BACKWARD)) {
            o->backward = true;
        } else if (TAKES("--deterministic", OPT_BACKWARD)) {
            o->render.flags |= RD_RENDER_DETERMINISTIC;
        } else if (TAKES("--json", OPT_JSON)) {
            o->json = true;
        } else if ((TAKES("--width", OPT_SIZE) || TAKES("--height", OPT_SIZE)) && next) {
            int *dst = a[2] == 'w' ? &o->width : &o->height;
            if (!parse_int(argv[++i], 1, 65536, dst)) {
                fprintf(stderr, "radiant: %s %s: expected a whole number in 1..65536\n", a, argv[i]);
                return EXIT_USAGE;
            }
        } else if ((TAKES("--frames", OPT_FRAMES) || TAKES("--warmup", OPT_FRAMES)) && next) {
            int *dst = a[2] == 'f' ? &o->frames : &o->warmup;
            if (!parse_int(argv[++i], a[2] == 'f' ? 1 : 0, 100000, dst)) {
                fprintf(stderr, "radiant: %s %s: expected a whole number in %s..100000%s\n", a, argv[i], a[2] == 'f' ? "1" : "0",
                        a[2] == 'f' ? " (a benchmark times at least one frame)" : "");
                return EXIT_USAGE;
            }
        } else if (TAKES("--sh-degree", OPT_RENDER) && next) {
            int d;
            if (!parse_int(argv[++i], 0, 3, &d)) {
                fprintf(stderr, "radiant: --sh-degree %s: expected 0..3\n", argv[i]);
                return EXIT_USAGE;
            }
            o->render.sh_degree = RD_SH_DEGREE(d);
        } else if (TAKES("--time", OPT_RENDER) && next) {
            char *end = NULL;
            float t = strtof(argv[++i], &end);
            if (!end || end == argv[i] || *end || !isfinite(t)) {
                fprintf(stderr, "radiant: --time %s: expected a finite number (the 4D scene's time)\n", argv[i]);
                return EXIT_USAGE;
            }
            o->render.time = t;
            o->time_given = true;
        } else if (TAKES("--times", OPT_RENDER) && next) {
            char *end = NULL;
            const char *text = argv[++i];
            o->times_from = strtof(text, &end);
            bool ok = end != text && *end == ':' && isfinite(o->times_from);
            if (ok) o->times_to = strtof(text = end + 1, &end), ok = end != text && *end == ':' && isfinite(o->times_to);
            long n = ok ? strtol(text = end + 1, &end, 10) : 0;
            if (!ok || end == text || *end || n < 1 || n > 100000) {
                fprintf(stderr, "radiant: --times %s: expected FROM:TO:COUNT (finite times, COUNT 1..100000)\n", argv[i]);
                return EXIT_USAGE;
            }
            o->times_count = (int)n;
        } else if (TAKES("--video", OPT_VIDEO) && next) {
            o->video = argv[++i];
        } else if (TAKES("--fps", OPT_VIDEO) && next) {
            if (!parse_int(argv[++i], 1, 1000, &o->fps)) {
                fprintf(stderr, "radiant: --fps %s: expected 1..1000\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if (TAKES("--antialiased", OPT_RENDER)) {
            o->render.flags |= RD_RENDER_ANTIALIASED;
        } else if (TAKES("--half-sh", OPT_RENDER)) {
            o->halves |= RD_SCENE_HALF_SH;
        } else if (TAKES("--packed", OPT_RENDER)) {
            o->halves |= RD_SCENE_PACKED;
        } else if (TAKES("--float", OPT_RENDER)) {
            o->float_layout = true;
        } else if (TAKES("--inria-extent", OPT_RENDER)) {
            o->render.flags |= RD_RENDER_INRIA_EXTENT;
        } else if (TAKES("--expected-depth", OPT_RENDER)) {
            o->render.flags |= RD_RENDER_EXPECTED_DEPTH;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o->verbose = true;
        } else if (strcmp(a, "--spz-frame") == 0 && next) {
            o->spz_frame = argv[++i]; /* checked by rd_scene_load_with, whose message names it */
        } else if (strcmp(a, "--decode-limit") == 0 && next) {
            if (rd_decode_limit_from_text(argv[++i], &o->decode_limit) != RD_OK) {
                fprintf(stderr, "radiant: --decode-limit %s: expected a whole number of MiB (1..1073741824) or none\n", argv[i]);
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "radiant: unknown option or missing value: %s\n\n%s", a, usage);
            return EXIT_USAGE;
        } else if (!o->scene) {
            o->scene = a;
        } else {
            fprintf(stderr, "radiant: unexpected argument '%s'\n\n%s", a, usage);
            return EXIT_USAGE;
        }
#undef TAKES
    }
    if ((allowed & OPT_DEMO) && !o->scene == !o->demo) {
        fprintf(stderr, "radiant: give a SCENE file, --demo or --synth N (one of them)\n\n%s", usage);
        return EXIT_USAGE;
    }
    if (!(allowed & OPT_DEMO) && !o->scene) {
        fprintf(stderr, "radiant: missing FILE\n\n%s", usage);
        return EXIT_USAGE;
    }
    if (o->views && (o->dataset || o->cameras)) {
        fprintf(stderr, "radiant: --views sets how many views the orbit has: a %s gives its own\n", o->dataset ? "dataset" : "camera list");
        return EXIT_USAGE;
    }
    if ((allowed & OPT_DEMO) && o->split_given && !o->dataset) { /* render, bench: the views come from --dataset */
        fprintf(stderr, "radiant: --split chooses among a dataset's views: give --dataset too\n");
        return EXIT_USAGE;
    }
    if (o->dataset && o->cameras) {
        fprintf(stderr, "radiant: --dataset and --cameras exclude each other\n");
        return EXIT_USAGE;
    }
    if (!o->width != !o->height) {
        fprintf(stderr, "radiant: give --width and --height together\n");
        return EXIT_USAGE;
    }
    /* a scene's own hints (the antialiased flag) are honoured unless told otherwise */
    o->render.flags |= RD_RENDER_SCENE_FLAGS;
    return EXIT_DONE;
}

rd_context *cli_context(const cli_options *o)
{
    rd_context_desc desc = {.backend = o->backend, .log = log_to_stderr,
                            .log_level = o->verbose ? RD_LOG_DEBUG : RD_LOG_INFO, .decode_limit = o->decode_limit};
    rd_context *ctx = NULL;
    rd_result r = rd_context_create(&desc, &ctx);
    if (r != RD_OK) fprintf(stderr, "radiant: cannot use backend %s: %s\n", rd_backend_name(o->backend), rd_result_string(r));
    return ctx;
}

void cli_error(rd_context *ctx, const char *what)
{
    const char *msg = rd_last_error(ctx);
    fprintf(stderr, "radiant: %s%s%s\n", what ? what : "", what && msg[0] ? ": " : "", msg);
}

static rd_result load_scene(rd_context *ctx, const cli_options *o, rd_scene **scene)
{
    if (o->synth) return rd_scene_create_synthetic(ctx, &(rd_demo_desc){.count = o->synth}, scene);
    if (o->demo) { /* RADIANT_DEMO_COUNT: a smaller demo for tests (the scene's look is the same, its splats larger) */
        const char *count = getenv("RADIANT_DEMO_COUNT");
        return rd_scene_create_demo(ctx, &(rd_demo_desc){.count = count ? atoll(count) : 0}, scene);
    }
    return rd_scene_load_with(ctx, o->scene, &(rd_scene_load_desc){.spz_frame = o->spz_frame}, scene);
}

rd_result cli_load_scene(rd_context *ctx, const cli_options *o, rd_scene **scene)
{
    rd_result r = load_scene(ctx, o, scene);
    /* --half-sh, --packed: their messages name the scene's kind; by default on GPUs the packed
       layout for the 3D Gaussian scenes of commands that only render (issue 35: 6-10% off the
       frame at 1M and 6M on an H100, a third of the device memory, 80 dB or more from floats) */
    uint32_t halves = o->halves;
    if (r == RD_OK && !halves && o->packed_default && !o->float_layout && rd_context_backend(ctx) != RD_BACKEND_CPU &&
        rd_scene_get_kind(*scene) == RD_SCENE_GAUSSIANS)
        halves = RD_SCENE_PACKED;
    if (r == RD_OK && halves)
        r = halves & RD_SCENE_HALF_SHAPE ? rd_scene_use_packed(ctx, *scene) : rd_scene_use_half_sh(ctx, *scene);
    if (r != RD_OK) rd_scene_destroy(*scene), *scene = NULL;
    return r;
}
