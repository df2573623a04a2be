/* cmd_train.c: `radiant train DATASET --out SCENE`: fits a scene to a dataset's training
   views, Gaussians (rd_trainer, radiant_train.h) or a hash-grid NeRF (rd_nerf_trainer,
   radiant_nerf.h), through one loop (a fitter: step, scene, checkpoint), then writes the
   scene (any writable format, by its name) and prints each test view's PSNR. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *USAGE =
    "usage: radiant train DATASET --out SCENE [options]\n"
    "\n"
    "Fits a Gaussian scene (or with --model nerf a hash-grid NeRF, with --model 4d a 4D Gaussian\n"
    "scene) to the dataset's train split (Blender, instant-ngp, COLMAP, LLFF, RTMV; 4D: D-NeRF,\n"
    "Panoptic, N3DV), writes it to SCENE (.ply, .spz, .splat or .compressed.ply; a NeRF: .rnerf;\n"
    "4D: .ply) and prints the test split's PSNR.\n"
    "Beside SCENE it writes SCENE-STEM.report.json: the options, the training curve, each test\n"
    "view's PSNR and SSIM, the training time (evaluation excluded) and the peak memory (host, and on\n"
    "CUDA the GPU's in use, by every process, sampled every 100 steps).\n"
    "\n"
    "  --model M            gaussians (default), nerf (spec/nerf.md: Instant-NGP's hash grid, networks and\n"
    "                       occupancy grid), 4d (spec/dynamic.md: Yang's 4DGS, each view at its time) or\n"
    "                       features (a feature field over a trained scene: radiant train --model features -h)\n"
    "  --backend B          auto (default: cuda where there is a GPU, else cpu), cpu, cuda\n"
    "  --iterations N       steps (default 30000; --steps N is the same)\n"
    "  --seconds S          stop after S seconds of training instead (evaluation excluded), or at N steps\n"
    "  --sh-degree N        the SH degree raised to, one step every 1000 iterations (0..3, default 3)\n"
    "  --background B       black (default; RTMV: white), white, R,G,B in [0,1], or random (a new one\n"
    "                       each step); the test views are composited on it (RTMV's on white)\n"
    "  --eval-background B  the test views' background: black, white or R,G,B (default: --background's)\n"
    "  --points N           random initial Gaussians where the dataset has no sparse points (default 100000)\n"
    "  --strategy S         default (the 3DGS adaptive density control), mcmc (3DGS-MCMC: relocation,\n"
    "                       noise, a cap on the count) or none (a fixed count)\n"
    "  --max-gaussians N    mcmc's cap (default 1000000)\n"
    "  --downscale F        train on images F times smaller (1..16, default 1)\n"
    "                       (photos through a lens, such as the fox's, are undistorted first: rd_image_undistort)\n"
    "  --seed S             view order, initialisation and backgrounds (default 0)\n"
    "NeRF:\n"
    "  --levels L           the hash encoding's levels (1..32, default 16)\n"
    "  --table-size T       2^T entries a level (4..24, default 19)\n"
    "  --width W            the networks' hidden width (1..256, default 64)\n"
    "  --batch N            samples a step after empty-space skipping (default 262144)\n"
    "  --loss L             huber (default, delta 0.1) or l2\n"
    "  --prune-budget F     HollowNeRF's pruning (CPU and CUDA): a 64^3 saliency mask gates the hash\n"
    "                       features, held by ADMM to the fraction F of its cells (0..1)\n"
    "  --mask-resolution R  the saliency mask's cells a side (2..512, default 64)\n"
    "  --admm-rho P         the ADMM penalty's weight (default 1e-3)\n"
    "  --admm-every N       steps between ADMM's projections and dual updates (default 16)\n"
    "  --average D          the scene written is the parameters' moving average, step k back weighing D^k\n"
    "                       (0..0.999, default 0.95, Instant-NGP's; 0: the last step's parameters)\n"
    "  (the background defaults to random per ray for NeRFs; the test views go on black, or --eval-background)\n"
    "Gaussians:\n"
    "  --deterministic      CUDA: repeat a run bit for bit (the backward pass sums in a fixed order,\n"
    "                       no float atomics; slower: BENCHMARKS.md); the CPU always does\n"
    "  --eval-every N       measure the test split every N iterations into the report (default: at the end only)\n"
    "  --test-views N       measure only the test split's first N views (default: all)\n"
    "  --checkpoint-every N write SCENE-STEM.checkpoint every N iterations (default 5000; Ctrl-C writes one too,\n"
    "                       then exits with 130)\n"
    "  --resume FILE        continue the run a checkpoint holds (same dataset and options)\n"
    "4D Gaussians (CPU by default, or --backend cuda; no mcmc or --deterministic yet; checkpoints as Gaussians'):\n"
    "  --batch N            views (camera and time) a step, their losses averaged (1..64, default 1)\n"
    "  --time-degree N      the temporal colour terms beyond the constant one, raised after the SH degree\n"
    "                       (0..2, default 2)\n"
    "  -v, --verbose        debug messages\n";

typedef struct train_options {
    const char *dataset, *out, *resume;
    bool nerf;          /* --model nerf */
    bool four_d;        /* --model 4d */
    int time_degree;    /* --time-degree */
    rd_backend backend;
    int iterations, sh_degree, downscale, eval_every, checkpoint_every, test_views;
    double seconds;     /* 0: no limit */
    int levels, table_size, batch, width;
    rd_nerf_loss loss;
    float average; /* the trainer's average_decay: 0 default, negative none */
    float prune_budget;
    double admm_rho; /* as given: the report repeats it */
    int mask_resolution, admm_every;
    long long points, max_gaussians;
    const char *strategy; /* default, mcmc or none */
    unsigned long long seed;
    float background[3];
    float eval_background[3]; /* the test views' (RTMV: white, as its published evaluations) */
    bool background_given, eval_given, random_background, deterministic, verbose;
} train_options;

static bool parse_number(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || *end || end == s || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, train_options *o)
{
    *o = (train_options){.iterations = 30000, .sh_degree = 3, .downscale = 1, .points = 100000, .checkpoint_every = 5000,
                         .strategy = "default", .time_degree = 2};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            return -1;
        } else if (strcmp(a, "--out") == 0 && next) {
            o->out = argv[++i];
        } else if (strcmp(a, "--backend") == 0 && next) {
            int b = rd_backend_from_name(argv[++i]);
            if (b < 0 || b == RD_BACKEND_VULKAN)
                return fprintf(stderr, "radiant: --backend %s: expected auto, cpu or cuda (training)\n", next), EXIT_USAGE;
            o->backend = (rd_backend)b;
        } else if ((strcmp(a, "--eval-every") == 0 || strcmp(a, "--checkpoint-every") == 0 || strcmp(a, "--test-views") == 0) && next) {
            if (!parse_number(argv[++i], 1, 10000000, &v))
                return fprintf(stderr, "radiant: %s %s: expected a whole number in 1..10000000\n", a, next), EXIT_USAGE;
            *(a[2] == 'e' ? &o->eval_every : a[2] == 't' ? &o->test_views : &o->checkpoint_every) = (int)v;
        } else if (strcmp(a, "--max-gaussians") == 0 && next) {
            if (!parse_number(argv[++i], 1, 2000000000, &v))
                return fprintf(stderr, "radiant: --max-gaussians %s: expected a whole number in 1..2000000000\n", next), EXIT_USAGE;
            o->max_gaussians = v;
        } else if (strcmp(a, "--resume") == 0 && next) {
            o->resume = argv[++i];
        } else if ((strcmp(a, "--iterations") == 0 || strcmp(a, "--sh-degree") == 0 || strcmp(a, "--downscale") == 0 ||
                    strcmp(a, "--points") == 0) && next) {
            bool iterations = a[2] == 'i', degree = a[2] == 's', down = a[2] == 'd';
            long long hi = iterations ? 10000000 : degree ? 3 : down ? 16 : 100000000;
            if (!parse_number(argv[++i], degree ? 0 : 1, hi, &v))
                return fprintf(stderr, "radiant: %s %s: expected a whole number in %d..%lld\n", a, next, degree ? 0 : 1, hi), EXIT_USAGE;
            if (iterations) o->iterations = (int)v;
            else if (degree) o->sh_degree = (int)v;
            else if (down) o->downscale = (int)v;
            else o->points = v;
        } else if (strcmp(a, "--model") == 0 && next) {
            if (strcmp(next, "gaussians") != 0 && strcmp(next, "nerf") != 0 && strcmp(next, "4d") != 0)
                return fprintf(stderr, "radiant: --model %s: expected gaussians, nerf, 4d or features\n", next), EXIT_USAGE;
            o->nerf = strcmp(next, "nerf") == 0, o->four_d = strcmp(next, "4d") == 0;
            i++;
        } else if (strcmp(a, "--time-degree") == 0 && next) {
            if (!parse_number(argv[++i], 0, 2, &v))
                return fprintf(stderr, "radiant: --time-degree %s: expected a whole number in 0..2\n", next), EXIT_USAGE;
            o->time_degree = (int)v;
        } else if (strcmp(a, "--steps") == 0 && next) {
            if (!parse_number(argv[++i], 1, 10000000, &v))
                return fprintf(stderr, "radiant: --steps %s: expected a whole number in 1..10000000\n", next), EXIT_USAGE;
            o->iterations = (int)v;
        } else if (strcmp(a, "--seconds") == 0 && next) {
            char *end;
            o->seconds = strtod(argv[++i], &end);
            if (*end || end == next || !(o->seconds > 0.0 && o->seconds <= 1e7))
                return fprintf(stderr, "radiant: --seconds %s: expected a number of seconds above 0\n", next), EXIT_USAGE;
        } else if ((strcmp(a, "--levels") == 0 || strcmp(a, "--table-size") == 0 || strcmp(a, "--batch") == 0 ||
                    strcmp(a, "--width") == 0) && next) {
            bool levels = a[2] == 'l', table = a[2] == 't', width = a[2] == 'w';
            long long lo = table ? 4 : 1, hi = levels ? 32 : table ? 24 : width ? 256 : 1 << 26;
            if (!parse_number(argv[++i], lo, hi, &v))
                return fprintf(stderr, "radiant: %s %s: expected a whole number in %lld..%lld\n", a, next, lo, hi), EXIT_USAGE;
            *(levels ? &o->levels : table ? &o->table_size : width ? &o->width : &o->batch) = (int)v;
        } else if (strcmp(a, "--loss") == 0 && next) {
            if (strcmp(next, "huber") != 0 && strcmp(next, "l2") != 0)
                return fprintf(stderr, "radiant: --loss %s: expected huber or l2\n", next), EXIT_USAGE;
            o->loss = strcmp(argv[++i], "l2") == 0 ? RD_NERF_LOSS_L2 : RD_NERF_LOSS_HUBER;
        } else if (strcmp(a, "--prune-budget") == 0 && next) {
            char *end;
            double f = strtod(argv[++i], &end);
            if (*end || end == next || !(f > 0.0 && f <= 1.0))
                return fprintf(stderr, "radiant: --prune-budget %s: expected a fraction in (0, 1]\n", next), EXIT_USAGE;
            o->prune_budget = (float)f;
        } else if ((strcmp(a, "--mask-resolution") == 0 || strcmp(a, "--admm-every") == 0) && next) {
            long long v;
            bool mask = a[2] == 'm';
            if (!parse_number(argv[++i], mask ? 2 : 1, mask ? 512 : 1000000, &v))
                return fprintf(stderr, "radiant: %s %s: expected a whole number in %s\n", a, next, mask ? "2..512" : "1..1000000"),
                       EXIT_USAGE;
            *(mask ? &o->mask_resolution : &o->admm_every) = (int)v;
        } else if (strcmp(a, "--admm-rho") == 0 && next) {
            char *end;
            double f = strtod(argv[++i], &end);
            if (*end || end == next || !(f > 0.0 && f < 1e6))
                return fprintf(stderr, "radiant: --admm-rho %s: expected a positive weight\n", next), EXIT_USAGE;
            o->admm_rho = f;
        } else if (strcmp(a, "--average") == 0 && next) {
            char *end;
            double d = strtod(argv[++i], &end);
            if (*end || end == next || !(d >= 0.0 && d <= 0.999))
                return fprintf(stderr, "radiant: --average %s: expected a decay in 0..0.999\n", next), EXIT_USAGE;
            o->average = d > 0.0 ? (float)d : -1.0f;
        } else if (strcmp(a, "--seed") == 0 && next) {
            if (!parse_number(argv[++i], 0, 1ll << 62, &v)) return fprintf(stderr, "radiant: --seed %s: expected a whole number\n", next), EXIT_USAGE;
            o->seed = (unsigned long long)v;
        } else if ((strcmp(a, "--background") == 0 || strcmp(a, "--eval-background") == 0) && next) {
            const char *b = argv[++i];
            bool eval = a[2] == 'e';
            float *colour = eval ? o->eval_background : o->background;
            *(eval ? &o->eval_given : &o->background_given) = true;
            char tail;
            if (strcmp(b, "random") == 0 && !eval) o->random_background = true;
            else if (strcmp(b, "white") == 0) colour[0] = colour[1] = colour[2] = 1.0f;
            else if (strcmp(b, "black") != 0 &&
                     (sscanf(b, "%f,%f,%f%c", &colour[0], &colour[1], &colour[2], &tail) != 3 ||
                      !(colour[0] >= 0 && colour[0] <= 1 && colour[1] >= 0 && colour[1] <= 1 && colour[2] >= 0 && colour[2] <= 1)))
                return fprintf(stderr, "radiant: %s %s: expected black, white%s or R,G,B with each in [0, 1]\n", a, b,
                               eval ? "" : ", random"),
                       EXIT_USAGE;
        } else if (strcmp(a, "--strategy") == 0 && next) {
            o->strategy = argv[++i];
            if (strcmp(next, "default") != 0 && strcmp(next, "mcmc") != 0 && strcmp(next, "none") != 0)
                return fprintf(stderr, "radiant: --strategy %s: expected default, mcmc or none\n", next), EXIT_USAGE;
        } else if (strcmp(a, "--deterministic") == 0) {
            o->deterministic = true;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o->verbose = true;
        } else if (a[0] == '-' && a[1]) {
            return fprintf(stderr, "radiant: unknown option or missing value: %s\n\n%s", a, USAGE), EXIT_USAGE;
        } else if (!o->dataset) {
            o->dataset = a;
        } else {
            return fprintf(stderr, "radiant: unexpected argument '%s'\n\n%s", a, USAGE), EXIT_USAGE;
        }
    }
    if (!o->dataset || !o->out) return fprintf(stderr, "radiant: train needs DATASET and --out SCENE\n\n%s", USAGE), EXIT_USAGE;
    size_t n = strlen(o->out);
    bool rnerf = n > 6 && strcasecmp(o->out + n - 6, ".rnerf") == 0;
    if (o->nerf != rnerf)
        return fprintf(stderr, "radiant: --out %s: %s\n", o->out,
                       o->nerf ? "a NeRF is written as a snapshot, named .rnerf" : ".rnerf holds NeRFs: add --model nerf"),
               EXIT_USAGE;
    if (o->nerf && (o->resume || o->deterministic || strcmp(o->strategy, "default") != 0 || o->max_gaussians))
        return fprintf(stderr, "radiant: --resume, --deterministic, --strategy and --max-gaussians are for Gaussians, not --model nerf\n"),
               EXIT_USAGE;
    if (o->nerf && !o->background_given) o->random_background = true; /* the spec's for transparent data */
    if (o->four_d && (o->deterministic || strcmp(o->strategy, "mcmc") == 0 || o->max_gaussians))
        return fprintf(stderr, "radiant: --deterministic, --strategy mcmc and --max-gaussians are not there for --model 4d yet\n"),
               EXIT_USAGE;
    if (o->four_d && o->batch > 64) return fprintf(stderr, "radiant: --batch %d: 4D trains on 1..64 views a step\n", o->batch), EXIT_USAGE;
    if (o->four_d && !(n > 4 && strcasecmp(o->out + n - 4, ".ply") == 0))
        return fprintf(stderr, "radiant: --out %s: a 4D scene is written as a 4D PLY, named .ply\n", o->out), EXIT_USAGE;
    return EXIT_DONE;
}

/* Mean PSNR of the test views against their photos composited on the background; with
   views, each view's name, PSNR and SSIM go into it. */
static volatile sig_atomic_t interrupted;
static void on_interrupt(int signal) { (void)signal, interrupted = 1; }

static cJSON *options_json(const train_options *o, const rd_train_set *train, const rd_train_set *test, int64_t initial, bool sparse)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "dataset", o->dataset);
    cJSON_AddStringToObject(j, "scene", o->out);
    cJSON_AddStringToObject(j, "backend", rd_backend_name(o->backend ? o->backend : RD_BACKEND_CPU));
    cJSON_AddNumberToObject(j, "iterations", o->iterations);
    if (!o->nerf) { /* the Gaussians' own options */
        cJSON_AddStringToObject(j, "strategy", o->strategy);
        if (o->max_gaussians) cJSON_AddNumberToObject(j, "max_gaussians", (double)o->max_gaussians);
        cJSON_AddNumberToObject(j, "sh_degree", o->sh_degree);
        cJSON_AddBoolToObject(j, "deterministic", o->deterministic);
    }
    cJSON_AddNumberToObject(j, "downscale", o->downscale);
    cJSON_AddNumberToObject(j, "seed", (double)o->seed);
    if (o->random_background) cJSON_AddStringToObject(j, "background", "random");
    else cJSON_AddItemToObject(j, "background", cJSON_CreateFloatArray(o->background, 3));
    cJSON_AddItemToObject(j, "evaluation_background", cJSON_CreateFloatArray(o->eval_background, 3));
    if (strcmp(rd_train_set_kind(train), "rtmv") == 0)
        cJSON_AddStringToObject(j, "colour", "RTMV's linear HDR EXR converted to sRGB and clamped to [0, 1], straight alpha "
                                             "composited on the background (evaluation on white, as published RTMV evaluations)");
    cJSON_AddNumberToObject(j, "train_views", rd_train_set_count(train));
    cJSON_AddNumberToObject(j, "test_views", rd_train_set_count(test));
    cJSON_AddNumberToObject(j, "width", rd_train_set_views(train)[0].camera.width);
    cJSON_AddNumberToObject(j, "height", rd_train_set_views(train)[0].camera.height);
    if (!o->nerf) {
        cJSON_AddNumberToObject(j, "initial_gaussians", (double)initial);
        cJSON_AddStringToObject(j, "initialisation", sparse ? "sparse points" : "random");
    }
    return j;
}

/* ---- the two kinds of trainer behind one loop ---- */

/* A chunk of steps' figures: the step count, the mean loss, and the model's own. */
typedef struct fit_stats {
    int iteration;
    double loss;
    double count;     /* Gaussians, or a NeRF's samples in the last step */
    char line[80];    /* the model's figures for a progress line */
} fit_stats;

typedef struct fitter {
    void *trainer;
    const char *count_name; /* the report curve's name for count */
    int chunk;              /* steps between progress lines */
    rd_result (*step)(void *trainer, int steps, fit_stats *stats);
    const rd_scene *(*scene)(const void *trainer);
    rd_result (*save_checkpoint)(void *trainer, const char *path); /* NULL: the model has none */
    rd_result (*load_checkpoint)(void *trainer, const char *path);
    void (*destroy)(void *trainer);
} fitter;

static rd_result gaussians_step(void *trainer, int steps, fit_stats *out)
{
    rd_train_stats st;
    rd_result r = rd_trainer_step(trainer, steps, &st);
    *out = (fit_stats){st.iteration, st.loss, (double)st.gaussians, ""};
    snprintf(out->line, sizeof out->line, "%lld Gaussians  SH %d", (long long)st.gaussians, st.sh_degree);
    return r;
}
static const rd_scene *gaussians_scene(const void *trainer) { return rd_trainer_scene(trainer); }
static rd_result gaussians_save(void *trainer, const char *path) { return rd_trainer_save_checkpoint(trainer, path); }
static rd_result gaussians_load(void *trainer, const char *path) { return rd_trainer_load_checkpoint(trainer, path); }
static void gaussians_destroy(void *trainer) { rd_trainer_destroy(trainer); }

static rd_result nerf_step(void *trainer, int steps, fit_stats *out)
{
    rd_nerf_train_stats st;
    rd_result r = rd_nerf_trainer_step(trainer, steps, &st);
    *out = (fit_stats){st.iteration, st.loss, (double)st.samples, ""};
    snprintf(out->line, sizeof out->line, "%lld rays  %lld samples", (long long)st.rays, (long long)st.samples);
    return r;
}
static const rd_scene *nerf_scene(const void *trainer) { return rd_nerf_trainer_scene(trainer); }
static void nerf_destroy(void *trainer) { rd_nerf_trainer_destroy(trainer); }

/* The model's trainer on the train split; *initial and *sparse say how Gaussians start. */
static rd_result make_fitter(rd_context *ctx, const train_options *o, const rd_train_set *train, fitter *f, int64_t *initial,
                             bool *sparse)
{
    memset(f, 0, sizeof *f);
    *initial = 0, *sparse = false;
    if (o->nerf) {
        rd_nerf_trainer_desc desc = {.field = {.levels = o->levels, .log2_table_size = o->table_size, .width = o->width, .seed = o->seed,
                                               .saliency_resolution = o->prune_budget > 0 ? o->mask_resolution : 0},
                                     .random_background = o->random_background, .loss = o->loss, .batch_samples = o->batch,
                                     .seed = o->seed, .average_decay = o->average, .prune_budget = o->prune_budget,
                                     .admm_rho = (float)o->admm_rho, .admm_every = o->admm_every};
        memcpy(desc.background, o->background, sizeof desc.background);
        *f = (fitter){NULL, "samples", 16, nerf_step, nerf_scene, NULL, NULL, nerf_destroy};
        return rd_nerf_trainer_create_from_set(ctx, train, &desc, (rd_nerf_trainer **)&f->trainer);
    }
    const float *xyz = NULL, *rgb = NULL;
    int64_t points = rd_train_set_points(train, &xyz, &rgb);
    rd_trainer_desc desc = {.point_count = points ? points : o->points, .sh_degree = RD_SH_DEGREE(o->sh_degree),
                            .iterations = o->iterations, .random_background = o->random_background, .seed = o->seed,
                            .densify = strcmp(o->strategy, "default") == 0, .mcmc = strcmp(o->strategy, "mcmc") == 0,
                            .max_gaussians = o->max_gaussians, .deterministic = o->deterministic,
                            .kind = o->four_d ? RD_SCENE_GAUSSIANS_4D : RD_SCENE_GAUSSIANS,
                            .time_degree = RD_SH_DEGREE(o->time_degree), .batch = o->four_d ? o->batch : 0};
    memcpy(desc.background, o->background, sizeof desc.background);
    *initial = desc.point_count, *sparse = points > 0;
    *f = (fitter){NULL, "gaussians", 100, gaussians_step, gaussians_scene, gaussians_save, gaussians_load, gaussians_destroy};
    return rd_trainer_create_from_set(ctx, train, &desc, (rd_trainer **)&f->trainer);
}

/* The NeRF's configuration in the report. */
static void add_nerf_options(rd_context *ctx, cJSON *report, const rd_scene *scene, const train_options *o)
{
    rd_nerf_info info;
    if (rd_nerf_get_info(ctx, scene, &info) != RD_OK) return;
    cJSON_AddNumberToObject(report, "levels", info.desc.levels);
    cJSON_AddNumberToObject(report, "log2_table_size", info.desc.log2_table_size);
    cJSON_AddNumberToObject(report, "network_width", info.desc.width);
    cJSON_AddNumberToObject(report, "aabb_scale", info.desc.aabb_scale);
    cJSON_AddNumberToObject(report, "params", (double)info.params);
    cJSON_AddNumberToObject(report, "batch_samples", o->batch ? o->batch : 1 << 18);
    cJSON_AddStringToObject(report, "loss", o->loss == RD_NERF_LOSS_L2 ? "l2" : "huber");
    cJSON_AddNumberToObject(report, "average_decay", o->average > 0.0f ? o->average : o->average < 0.0f ? 0.0 : 0.95);
    if (o->prune_budget > 0) {
        cJSON_AddNumberToObject(report, "prune_budget", o->prune_budget);
        cJSON_AddNumberToObject(report, "admm_rho", o->admm_rho > 0 ? o->admm_rho : 1e-3);
        cJSON_AddNumberToObject(report, "admm_every", o->admm_every > 0 ? o->admm_every : 16);
    }
    if (info.desc.saliency_resolution) cJSON_AddNumberToObject(report, "mask_params", (double)info.mask_params);
    if (o->seconds > 0) cJSON_AddNumberToObject(report, "seconds", o->seconds);
}

int cmd_train(int argc, char **argv)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], "--model") == 0 && strcmp(argv[i + 1], "features") == 0) return cli_train_features(argc, argv);
    train_options o;
    int status = parse(argc, argv, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    /* auto: CUDA where this build and machine have it (the GPU backend with a backward
       pass), else the CPU */
    /* 4D: the CPU unless asked (its CUDA step is measured, 65-70 s for mutant's 30,000 steps,
       but a checkpoint's resume on CUDA has not yet run on a GPU) */
    if (!o.backend && o.four_d) o.backend = RD_BACKEND_CPU;
    if (!o.backend) {
        rd_context *probe = NULL;
        o.backend = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA}, &probe) == RD_OK ? RD_BACKEND_CUDA : RD_BACKEND_CPU;
        rd_context_destroy(probe);
    }
    rd_context *ctx = cli_context(&(cli_options){.backend = o.backend, .verbose = o.verbose});
    if (!ctx) return EXIT_FAILED;
    rd_train_set *train = NULL, *test = NULL;
    fitter fit = {0};
    cJSON *report = NULL;
    void (*previous)(int) = SIG_ERR; /* the SIGINT handler before ours, once ours is in */
    status = EXIT_FAILED;
    rd_train_set_desc split = {"train", o.downscale};
    if (rd_train_set_load(ctx, o.dataset, &split, &train) != RD_OK ||
        (split.split = "test", rd_train_set_load(ctx, o.dataset, &split, &test)) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    if (rd_train_set_count(train) == 0) {
        fprintf(stderr, "radiant: %s: the train split has no views with images\n", o.dataset);
        goto done;
    }
    if (!o.eval_given) memcpy(o.eval_background, o.background, sizeof o.background);
    if (strcmp(rd_train_set_kind(train), "rtmv") == 0) { /* white, unless asked otherwise for training */
        if (!o.eval_given)
            for (int c = 0; c < 3; c++) o.eval_background[c] = 1.0f;
        if (!o.background_given) memcpy(o.background, o.eval_background, sizeof o.background), o.random_background = false;
    }
    int64_t initial = 0;
    bool sparse = false;
    if (make_fitter(ctx, &o, train, &fit, &initial, &sparse) != RD_OK) {
        cli_error(ctx, "train");
        goto done;
    }
    char checkpoint[4096];
    cli_beside_scene(o.out, ".checkpoint", checkpoint, sizeof checkpoint);
    fit_stats stats = {0};
    if (o.resume) {
        if (fit.load_checkpoint(fit.trainer, o.resume) != RD_OK || fit.step(fit.trainer, 0, &stats) != RD_OK) {
            cli_error(ctx, "resume");
            goto done;
        }
        printf("%s: resuming at iteration %d with %lld Gaussians\n", o.resume, stats.iteration, (long long)stats.count);
    }
    const rd_camera *first = &rd_train_set_views(train)[0].camera;
    if (o.nerf) {
        rd_nerf_info info;
        rd_nerf_get_info(ctx, fit.scene(fit.trainer), &info);
        printf("%s: %d train views at %dx%d, a NeRF of %lld parameters, aabb_scale %d\n", o.dataset, rd_train_set_count(train),
               first->width, first->height, (long long)info.params, info.desc.aabb_scale);
    } else {
        printf("%s: %d train views at %dx%d, %lld initial Gaussians (%s)\n", o.dataset, rd_train_set_count(train), first->width,
               first->height, (long long)initial, sparse ? "sparse points" : "random");
    }
    interrupted = 0;
    previous = signal(SIGINT, on_interrupt);
    report = options_json(&o, train, test, initial, sparse);
    cJSON_AddStringToObject(report, "model", o.nerf ? "nerf" : o.four_d ? "4d" : "gaussians");
    if (o.four_d) {
        cJSON_AddNumberToObject(report, "batch", o.batch ? o.batch : 1);
        cJSON_AddNumberToObject(report, "time_degree", o.time_degree);
    }
    if (o.nerf) add_nerf_options(ctx, report, fit.scene(fit.trainer), &o);
    cJSON *curve = cJSON_AddArrayToObject(report, "curve");
    double training_ms = 0.0;
    uint64_t device_peak = 0, device_used = 0, device_total = 0; /* sampled after every chunk of steps */
    bool device_reports = rd_device_memory(ctx, &device_used, &device_total) == RD_OK;
    double last_psnr = NAN; /* the last evaluation's, printed with each line after it */
    int line_every = o.nerf ? 256 : 100;
    int test_count = rd_train_set_count(test); /* the views evaluated: the first --test-views of them */
    if (o.test_views && o.test_views < test_count) test_count = o.test_views;
    cJSON_AddNumberToObject(report, "test_views_evaluated", test_count);
    for (int done_steps = stats.iteration; done_steps < o.iterations;) {
        if (o.seconds > 0 && training_ms >= o.seconds * 1000.0) break;
        int chunk = o.iterations - done_steps < fit.chunk ? o.iterations - done_steps : fit.chunk;
        if (o.eval_every && chunk > o.eval_every - done_steps % o.eval_every) chunk = o.eval_every - done_steps % o.eval_every;
        double start = cli_now_ms();
        if (fit.step(fit.trainer, chunk, &stats) != RD_OK) {
            cli_error(ctx, "train");
            goto done;
        }
        double chunk_ms = cli_now_ms() - start;
        training_ms += chunk_ms;
        done_steps += chunk;
        if (device_reports && rd_device_memory(ctx, &device_used, &device_total) == RD_OK && device_used > device_peak)
            device_peak = device_used;
        bool evaluate_now = o.eval_every && done_steps % o.eval_every == 0 && test_count;
        bool last = done_steps >= o.iterations || (o.seconds > 0 && training_ms >= o.seconds * 1000.0);
        if (!evaluate_now && !last && done_steps % line_every != 0 && !interrupted) continue;
        cJSON *point = cJSON_CreateObject();
        cJSON_AddNumberToObject(point, "iteration", stats.iteration);
        cJSON_AddNumberToObject(point, "loss", stats.loss);
        cJSON_AddNumberToObject(point, fit.count_name, stats.count);
        cJSON_AddNumberToObject(point, "seconds", training_ms / 1000.0);
        if (evaluate_now) {
            last_psnr = cli_evaluate(ctx, fit.scene(fit.trainer), test, test_count, o.eval_background, NULL);
            cJSON_AddNumberToObject(point, "test_psnr", last_psnr);
        }
        cJSON_AddItemToArray(curve, point);
        char evaluation[48] = "";
        if (last_psnr == last_psnr) snprintf(evaluation, sizeof evaluation, "  test %.2f dB", last_psnr); /* not NaN: evaluated */
        printf("iteration %6d  loss %.5f  %s  %.1f it/s%s\n", stats.iteration, stats.loss, stats.line,
               chunk / (chunk_ms > 0 ? chunk_ms / 1000.0 : 1e-9), evaluation);
        if (interrupted || (fit.save_checkpoint && done_steps % o.checkpoint_every == 0)) {
            if (fit.save_checkpoint && fit.save_checkpoint(fit.trainer, checkpoint) != RD_OK) {
                cli_error(ctx, NULL);
                goto done;
            }
            if (interrupted) {
                if (fit.save_checkpoint)
                    fprintf(stderr, "radiant: interrupted at iteration %d: wrote %s (continue with --resume %s)\n", stats.iteration,
                            checkpoint, checkpoint);
                else fprintf(stderr, "radiant: interrupted at iteration %d\n", stats.iteration);
                status = EXIT_INTERRUPTED;
                goto done;
            }
        }
    }
    signal(SIGINT, previous);
    previous = SIG_ERR;
    if (rd_scene_save(ctx, fit.scene(fit.trainer), o.out, NULL) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    int64_t stored_params = 0, snapshot_bytes = 0;
    if (o.nerf && rd_nerf_snapshot_size(ctx, fit.scene(fit.trainer), &stored_params, &snapshot_bytes) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    if (o.nerf) {
        printf("wrote %s after %d steps, %.1f s of training: %lld parameters stored, %.1f MiB\n", o.out, stats.iteration,
               training_ms / 1000.0, (long long)stored_params, (double)snapshot_bytes / 1048576.0);
        cJSON_AddNumberToObject(report, "snapshot_params", (double)stored_params);
        cJSON_AddNumberToObject(report, "snapshot_bytes", (double)snapshot_bytes);
    }
    else printf("wrote %s (%lld Gaussians) after %.1f s of training\n", o.out, (long long)stats.count, training_ms / 1000.0);
    if (!o.nerf) cJSON_AddNumberToObject(report, "gaussians", stats.count);
    cJSON_AddNumberToObject(report, "steps", stats.iteration);
    cJSON_AddNumberToObject(report, "training_seconds", training_ms / 1000.0);
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) == 0) cJSON_AddNumberToObject(report, "peak_host_memory_bytes", (double)usage.ru_maxrss * 1024.0);
    if (device_reports) cJSON_AddNumberToObject(report, "peak_device_memory_bytes", (double)device_peak);
    if (test_count) {
        cJSON *views = cJSON_AddArrayToObject(report, "test");
        double mean = cli_evaluate(ctx, fit.scene(fit.trainer), test, test_count, o.eval_background, views);
        double ssim = 0.0;
        cJSON *v;
        cJSON_ArrayForEach(v, views) ssim += cJSON_GetObjectItem(v, "ssim")->valuedouble / test_count;
        cJSON_AddNumberToObject(report, "mean_psnr", mean);
        cJSON_AddNumberToObject(report, "mean_ssim", ssim);
        printf("test split: %d views, mean PSNR %.2f dB, SSIM %.4f\n", test_count, mean, ssim);
    }
    char path[4096];
    cli_beside_scene(o.out, ".report.json", path, sizeof path);
    if (!cli_write_report(ctx, path, report)) goto done;
    status = EXIT_DONE;
done:
    if (previous != SIG_ERR) signal(SIGINT, previous);
    cJSON_Delete(report);
    if (fit.trainer) fit.destroy(fit.trainer);
    rd_train_set_destroy(train);
    rd_train_set_destroy(test);
    rd_context_destroy(ctx);
    return status;
}
