/* train_features.c: `radiant train DATASET --model features --scene RGB --out FIELD.rfeat`:
   learns a feature field (radiant_features.h) over a trained Gaussian scene from LangSplat's
   preprocessed masks in DATASET/language_features/, one level or all three, then writes
   the field, its report (options, loss curve, each held-out view's mean cosine where the
   test split has masks too, time, peak memory) and prints progress as the other trainers. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

static const char *USAGE =
    "usage: radiant train DATASET --model features --scene RGB --out FIELD.rfeat [options]\n"
    "\n"
    "Learns a feature field (LangSplatV2's sparse coefficients: per Gaussian and level K weights over a\n"
    "codebook of L entries) over the trained Gaussian scene RGB (geometry frozen) from LangSplat's\n"
    "preprocessed masks: DATASET/language_features/<image>_f.npy (each mask's embedding) and\n"
    "<image>_s.npy (per pixel the mask at each level) of the train split's images. Writes FIELD and\n"
    "beside it FIELD-STEM.report.json.\n"
    "\n"
    "  --backend B          auto (default: cuda where there is a GPU, else cpu), cpu, cuda\n"
    "  --levels L           all (default: LangSplat's s, m and l as levels 1-3), or 1, 2 or 3 alone\n"
    "  --iterations N       steps, one random view each (default 10000)\n"
    "  --codebook-size L    entries a level (1..256, default 64)\n"
    "  --slots K            weights a Gaussian and level (1..8, default 4)\n"
    "  --lr R               Adam's rate for logits and codebooks (default 0.0025)\n"
    "  --downscale F        train on images F times smaller, masks sampled to match (1..16, default 1)\n"
    "  --seed S             view order (default 0)\n"
    "  --checkpoint-every N write FIELD-STEM.rfeat.checkpoint every N iterations (default 1000; Ctrl-C writes\n"
    "                       one too, then exits with 130)\n"
    "  --resume FILE        continue the run a checkpoint holds (same dataset, scene and options)\n"
    "  -v, --verbose        debug messages\n";

typedef struct feature_options {
    const char *dataset, *scene, *out, *resume;
    int level; /* 0: all */
    int iterations, codebook_size, slots, downscale, checkpoint_every;
    float lr;
    unsigned long long seed;
    rd_backend backend; /* 0: auto */
    bool verbose;
} feature_options;

static bool whole(const char *s, long long lo, long long hi, long long *out)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (!s || end == s || *end || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, feature_options *o)
{
    *o = (feature_options){.iterations = 10000, .codebook_size = 64, .slots = 4, .downscale = 1, .checkpoint_every = 1000};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        long long v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            return -1;
        } else if (strcmp(a, "--model") == 0 && next) {
            i++; /* features: how we got here */
        } else if ((strcmp(a, "--out") == 0 || strcmp(a, "--scene") == 0 || strcmp(a, "--resume") == 0) && next) {
            *(a[2] == 'o' ? &o->out : a[2] == 's' ? &o->scene : &o->resume) = argv[++i];
        } else if (strcmp(a, "--backend") == 0 && next) {
            int b = rd_backend_from_name(argv[++i]);
            if (b < 0 || b == RD_BACKEND_VULKAN)
                return fprintf(stderr, "radiant: --backend %s: expected auto, cpu or cuda (training)\n", next), EXIT_USAGE;
            o->backend = (rd_backend)b;
        } else if (strcmp(a, "--checkpoint-every") == 0 && next) {
            if (!whole(argv[++i], 1, 100000000, &v)) return fprintf(stderr, "radiant: %s %s: expected 1..100000000\n", a, next), EXIT_USAGE;
            o->checkpoint_every = (int)v;
        } else if (strcmp(a, "--levels") == 0 && next) {
            i++;
            if (strcmp(next, "all") == 0) o->level = 0;
            else if (whole(next, 1, 3, &v)) o->level = (int)v;
            else return fprintf(stderr, "radiant: --levels %s: expected all, 1, 2 or 3\n", next), EXIT_USAGE;
        } else if ((strcmp(a, "--iterations") == 0 || strcmp(a, "--steps") == 0) && next) {
            if (!whole(argv[++i], 1, 100000000, &v)) return fprintf(stderr, "radiant: %s %s: expected 1..100000000\n", a, next), EXIT_USAGE;
            o->iterations = (int)v;
        } else if (strcmp(a, "--codebook-size") == 0 && next) {
            if (!whole(argv[++i], 1, RD_FEATURE_MAX_CODEBOOK, &v)) return fprintf(stderr, "radiant: --codebook-size %s: expected 1..256\n", next), EXIT_USAGE;
            o->codebook_size = (int)v;
        } else if (strcmp(a, "--slots") == 0 && next) {
            if (!whole(argv[++i], 1, RD_FEATURE_MAX_SLOTS, &v)) return fprintf(stderr, "radiant: --slots %s: expected 1..8\n", next), EXIT_USAGE;
            o->slots = (int)v;
        } else if (strcmp(a, "--downscale") == 0 && next) {
            if (!whole(argv[++i], 1, 16, &v)) return fprintf(stderr, "radiant: --downscale %s: expected 1..16\n", next), EXIT_USAGE;
            o->downscale = (int)v;
        } else if (strcmp(a, "--seed") == 0 && next) {
            if (!whole(argv[++i], 0, 0x7fffffffffffffffll, &v)) return fprintf(stderr, "radiant: --seed %s: expected a whole number\n", next), EXIT_USAGE;
            o->seed = (unsigned long long)v;
        } else if (strcmp(a, "--lr") == 0 && next) {
            char *end;
            o->lr = strtof(argv[++i], &end);
            if (*end || !(o->lr > 0.0f && o->lr < 10.0f)) return fprintf(stderr, "radiant: --lr %s: expected a rate in (0, 10)\n", next), EXIT_USAGE;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o->verbose = true;
        } else if (!o->dataset && a[0] != '-') {
            o->dataset = a;
        } else {
            return fprintf(stderr, "radiant: train: unexpected argument '%s'\n\n%s", a, USAGE), EXIT_USAGE;
        }
    }
    if (!o->dataset || !o->scene || !o->out)
        return fprintf(stderr, "radiant: train --model features: give DATASET, --scene RGB and --out FIELD.rfeat\n\n%s", USAGE), EXIT_USAGE;
    size_t n = strlen(o->out);
    if (n < 6 || strcmp(o->out + n - 6, ".rfeat") != 0)
        return fprintf(stderr, "radiant: --out %s: a feature field is written as .rfeat\n", o->out), EXIT_USAGE;
    if (o->slots > o->codebook_size)
        return fprintf(stderr, "radiant: --slots %d exceeds --codebook-size %d\n", o->slots, o->codebook_size), EXIT_USAGE;
    return EXIT_DONE;
}

/* A split's views with their masks: the levels asked, as planes the trainer reads. */
typedef struct feature_set {
    rd_train_set *set;
    int count, levels;
    rd_language_features *files;
    int32_t **planes;
    rd_feature_view *views;
} feature_set;

static void feature_set_free(feature_set *s)
{
    for (int k = 0; s->files && k < s->count; k++) rd_language_features_free(&s->files[k]);
    for (int k = 0; s->planes && k < s->count; k++) free(s->planes[k]);
    free(s->files), free(s->planes), free(s->views);
    rd_train_set_destroy(s->set);
    memset(s, 0, sizeof *s);
}

/* The split's views and masks; optional: a split without masks (test) loads as empty.
   False (said why) on failure. */
static bool feature_set_load(rd_context *ctx, const feature_options *o, const char *split, bool optional, feature_set *s)
{
    memset(s, 0, sizeof *s);
    if (rd_train_set_load(ctx, o->dataset, &(rd_train_set_desc){split, o->downscale}, &s->set) != RD_OK) return cli_error(ctx, NULL), false;
    int n = rd_train_set_count(s->set);
    s->levels = o->level ? 1 : 3;
    s->files = calloc((size_t)n + 1, sizeof *s->files);
    s->planes = calloc((size_t)n + 1, sizeof *s->planes);
    s->views = calloc((size_t)n + 1, sizeof *s->views);
    if (!s->files || !s->planes || !s->views) return fprintf(stderr, "radiant: out of memory\n"), false;
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/language_features", o->dataset);
    for (int k = 0; k < n; k++) {
        const rd_camera *cam = &rd_train_set_views(s->set)[k].camera;
        char probe[4400];
        snprintf(probe, sizeof probe, "%s/%s_s.npy", folder, rd_train_set_view_name(s->set, k));
        if (optional && access(probe, F_OK) != 0) continue;
        rd_language_features *lf = &s->files[s->count];
        if (rd_language_features_load(ctx, folder, rd_train_set_view_name(s->set, k), cam->width, cam->height, o->downscale, lf) != RD_OK)
            return cli_error(ctx, NULL), false;
        size_t pixels = (size_t)cam->width * cam->height;
        s->planes[s->count] = malloc(pixels * s->levels * sizeof(int32_t));
        if (!s->planes[s->count]) {
            rd_language_features_free(lf);
            return fprintf(stderr, "radiant: out of memory\n"), false;
        }
        for (int l = 0; l < s->levels; l++)
            memcpy(s->planes[s->count] + l * pixels, lf->masks + (size_t)(o->level ? o->level - 1 : l) * pixels, pixels * sizeof(int32_t));
        s->views[s->count] = (rd_feature_view){.camera = *cam, .masks = s->planes[s->count], .mask_features = lf->features,
                                                .mask_count = lf->mask_count};
        s->count++;
    }
    for (int k = 1; k < s->count; k++)
        if (s->files[k].dim != s->files[0].dim)
            return fprintf(stderr, "radiant: %s: %s_f.npy has %d dimensions, %s_f.npy %d\n", folder, rd_train_set_view_name(s->set, k),
                           s->files[k].dim, rd_train_set_view_name(s->set, 0), s->files[0].dim), false;
    return true;
}

/* The mean over a view's masked pixels of cos(phi, target), each level in turn; NaN
   where the view has none. */
static double view_cosine(rd_context *ctx, const rd_scene *scene, const rd_feature_field *field, const rd_feature_view *v, int levels,
                          int dim)
{
    size_t pixels = (size_t)v->camera.width * v->camera.height;
    float *phi = malloc(pixels * (size_t)dim * sizeof(float));
    double sum = 0.0;
    size_t n = 0;
    for (int l = 0; phi && l < levels; l++) {
        if (rd_render_features(ctx, scene, field, &v->camera, &(rd_feature_render_desc){.level = l + 1},
                               &(rd_feature_target){.features = phi}) != RD_OK)
            break;
        for (size_t p = 0; p < pixels; p++) {
            int32_t m = v->masks[l * pixels + p];
            if (m < 0) continue;
            const float *f = v->mask_features + (size_t)m * dim;
            double dot = 0.0, ff = 0.0;
            for (int d = 0; d < dim; d++) dot += (double)phi[p * dim + d] * f[d], ff += (double)f[d] * f[d];
            sum += ff > 0.0 ? dot / sqrt(ff) : 0.0, n++;
        }
    }
    free(phi);
    return n ? sum / (double)n : NAN;
}

static volatile sig_atomic_t interrupted;
static void on_interrupt(int signal) { (void)signal, interrupted = 1; }

int cli_train_features(int argc, char **argv)
{
    feature_options o;
    int status = parse(argc, argv, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    if (!o.backend) { /* auto: CUDA where this build and machine have it */
        rd_context *probe = NULL;
        o.backend = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA}, &probe) == RD_OK ? RD_BACKEND_CUDA : RD_BACKEND_CPU;
        rd_context_destroy(probe);
    }
    rd_context *ctx = cli_context(&(cli_options){.backend = o.backend, .verbose = o.verbose});
    if (!ctx) return EXIT_FAILED;
    status = EXIT_FAILED;
    rd_scene *scene = NULL;
    feature_set train = {0}, test = {0};
    rd_feature_trainer *trainer = NULL;
    rd_feature_field *field = NULL;
    cJSON *report = NULL;
    if (rd_scene_load(ctx, o.scene, &scene) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    if (!feature_set_load(ctx, &o, "train", false, &train) || !feature_set_load(ctx, &o, "test", true, &test)) goto done;
    if (train.count == 0) {
        fprintf(stderr, "radiant: %s: the train split has no views with images\n", o.dataset);
        goto done;
    }
    int dim = train.files[0].dim;
    if (test.count && test.files[0].dim != dim) test.count = 0; /* another embedding: nothing to compare */
    rd_feature_trainer_desc desc = {.views = train.views, .view_count = train.count, .levels = train.levels,
                                    .codebook_size = o.codebook_size, .slots = o.slots, .dim = dim, .lr = o.lr, .seed = o.seed};
    if (rd_feature_trainer_create(ctx, scene, &desc, &trainer) != RD_OK) {
        cli_error(ctx, "train");
        goto done;
    }
    rd_train_stats stats = {0};
    if (o.resume && (rd_feature_trainer_load_checkpoint(trainer, o.resume) != RD_OK || rd_feature_trainer_step(trainer, 0, &stats) != RD_OK)) {
        cli_error(ctx, "resume");
        goto done;
    }
    if (o.resume) printf("%s: resuming at iteration %d\n", o.resume, stats.iteration);
    char checkpoint[4096];
    cli_beside_scene(o.out, ".checkpoint", checkpoint, sizeof checkpoint);
    const rd_camera *first = &train.views[0].camera;
    printf("%s: %d train views at %dx%d with masks of %d dimensions; %lld Gaussians from %s; %d level%s\n", o.dataset, train.count,
           first->width, first->height, dim, (long long)rd_scene_arrays(scene).count, o.scene, train.levels,
           train.levels > 1 ? "s" : "");
    report = cJSON_CreateObject();
    cJSON_AddStringToObject(report, "model", "features");
    cJSON_AddStringToObject(report, "dataset", o.dataset);
    cJSON_AddStringToObject(report, "scene", o.scene);
    cJSON_AddStringToObject(report, "backend", rd_backend_name(o.backend));
    if (o.level) cJSON_AddNumberToObject(report, "level", o.level);
    else cJSON_AddStringToObject(report, "levels", "all");
    cJSON_AddNumberToObject(report, "iterations", o.iterations);
    cJSON_AddNumberToObject(report, "codebook_size", o.codebook_size);
    cJSON_AddNumberToObject(report, "slots", o.slots);
    cJSON_AddNumberToObject(report, "dim", dim);
    cJSON_AddNumberToObject(report, "lr", o.lr > 0.0f ? o.lr : 2.5e-3);
    cJSON_AddNumberToObject(report, "downscale", o.downscale);
    cJSON_AddNumberToObject(report, "seed", (double)o.seed);
    cJSON_AddNumberToObject(report, "train_views", train.count);
    cJSON *curve = cJSON_AddArrayToObject(report, "curve");
    double start = cli_now_ms(), training_ms = 0.0;
    interrupted = 0;
    void (*previous)(int) = signal(SIGINT, on_interrupt);
    for (int done_steps = stats.iteration; done_steps < o.iterations;) {
        int chunk = o.iterations - done_steps < 100 ? o.iterations - done_steps : 100;
        double t0 = cli_now_ms();
        if (rd_feature_trainer_step(trainer, chunk, &stats) != RD_OK) {
            cli_error(ctx, "train");
            signal(SIGINT, previous);
            goto done;
        }
        training_ms += cli_now_ms() - t0;
        done_steps += chunk;
        cli_progress("train", done_steps, o.iterations, start);
        cJSON *point = cJSON_CreateObject();
        cJSON_AddNumberToObject(point, "iteration", stats.iteration);
        cJSON_AddNumberToObject(point, "loss", stats.loss);
        cJSON_AddNumberToObject(point, "seconds", training_ms / 1000.0);
        cJSON_AddItemToArray(curve, point);
        if (done_steps % 1000 == 0 || done_steps == o.iterations)
            printf("iteration %6d  loss %.5f  %.1f it/s\n", stats.iteration, stats.loss, chunk / (cli_now_ms() - t0) * 1000.0);
        if (!interrupted && done_steps % o.checkpoint_every != 0) continue;
        if (rd_feature_trainer_save_checkpoint(trainer, checkpoint) != RD_OK) {
            cli_error(ctx, NULL);
            signal(SIGINT, previous);
            goto done;
        }
        if (interrupted) {
            fprintf(stderr, "radiant: interrupted at iteration %d: wrote %s (continue with --resume %s)\n", stats.iteration, checkpoint,
                    checkpoint);
            status = EXIT_INTERRUPTED;
            break;
        }
    }
    signal(SIGINT, previous);
    if (status == EXIT_INTERRUPTED || stats.iteration < o.iterations) goto done;
    if (rd_feature_trainer_field(trainer, &field) != RD_OK || rd_feature_field_save(ctx, field, o.out) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    cJSON_AddNumberToObject(report, "training_seconds", training_ms / 1000.0);
    cJSON *views = cJSON_AddArrayToObject(report, "test_views");
    double cosines = 0.0;
    int counted = 0;
    for (int k = 0; k < test.count; k++) {
        double c = view_cosine(ctx, scene, field, &test.views[k], test.levels, dim);
        if (c != c) continue;
        cJSON *view = cJSON_CreateObject();
        cJSON_AddNumberToObject(view, "cosine", c);
        cJSON_AddItemToArray(views, view);
        cosines += c, counted++;
    }
    if (counted) {
        cJSON_AddNumberToObject(report, "test_cosine", cosines / counted);
        printf("test: mean cosine %.4f over %d views with masks\n", cosines / counted, counted);
    }
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) == 0) cJSON_AddNumberToObject(report, "peak_host_memory_bytes", (double)usage.ru_maxrss * 1024.0);
    char path[4096];
    cli_beside_scene(o.out, ".report.json", path, sizeof path);
    if (!cli_write_report(ctx, path, report)) goto done;
    printf("wrote %s (%d level%s of %d entries, %d slots) in %.1f s of training; report %s\n", o.out, train.levels,
           train.levels == 1 ? "" : "s", o.codebook_size, o.slots, training_ms / 1000.0, path);
    status = EXIT_DONE;
done:
    cJSON_Delete(report);
    rd_feature_field_destroy(field);
    rd_feature_trainer_destroy(trainer);
    feature_set_free(&train);
    feature_set_free(&test);
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return status;
}
