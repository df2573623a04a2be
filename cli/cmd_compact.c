/* cmd_compact.c: `radiant compact SCENE --out FILE.rcompact`: a 3D or 4D scene pruned and
   quantised into the compact file (radiant_compact.h), with a report.json beside it; with
   a dataset, importance from its training views and PSNR before and after on its test
   views. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *USAGE =
    "usage: radiant compact SCENE --out FILE.rcompact [options]\n"
    "\n"
    "Prunes SCENE (3D or 4D Gaussians, any format radiant reads) by importance, quantises\n"
    "each attribute with k-means codebooks and writes radiant's compact file; FILE.report.json\n"
    "beside it says the size, the bits a Gaussian of each part and, with --dataset, the test\n"
    "views' PSNR before and after.\n"
    "  --prune F                  drop this share of the Gaussians, least important first (0..0.99;\n"
    "                             default 0)\n"
    "  --target-bits-per-gaussian B  shrink the codebooks until positions and indices fit B bits\n"
    "                             a Gaussian before entropy coding (default: 157 for 3D, 185 for 4D)\n"
    "  --zstd-level L             1..22 (default 19)\n"
    "  --dataset DIR              rank importance by its training views, fit the codebooks to their\n"
    "                             photos, and measure PSNR on its test split before and after\n"
    "  --views N                  use N of the training views, evenly spread (default: all; 0: none,\n"
    "                             the view-free importance, opacity times cross-section)\n"
    "  --recover-steps S          steps of the trainer on the kept Gaussians before quantising, as\n"
    "                             radiant train goes on after its last step (default: --finetune-steps')\n"
    "  --finetune-steps S         Adam steps fitting the codebooks to the photos (default 1000; 0: no\n"
    "                             fine-tuning at all)\n"
    "  --importance weights|gradients  rank by the colour weights in the views (default), or by\n"
    "                             OMG4's score: the photos' gradients by 2D mean and time\n"
    "  --appearance stored|networks  a 4D scene's colour and opacity quantised as stored (default),\n"
    "                             or OMG4's appearance networks: six quantised features a Gaussian\n"
    "                             and four small MLPs evaluated every frame\n"
    "  --network-steps S          steps fitting the networks to the stored colour (default 2000,\n"
    "                             or one pass over the kept Gaussians where that is more)\n"
    "  --merge                    OMG4's merging after pruning: similar neighbours become one\n"
    "                             Gaussian at their opacity-weighted average\n"
    "  --downscale F              the dataset's photos downscaled by F (as `radiant train`'s)\n"
    "  --background B             the photos' background: black (default), white or R,G,B\n"
    "  --backend B                cpu (default), cuda or vulkan: renders for importance and PSNR\n"
    "  --decode-limit MIB|none    memory SCENE may decode to\n";

typedef struct compact_options {
    const char *scene, *out, *dataset;
    rd_compact_desc desc;
    int views, downscale; /* views: -1 all */
    cli_options context;
} compact_options;

static bool parse_float(const char *s, float lo, float hi, float *out)
{
    char *end;
    float v = s ? strtof(s, &end) : 0.0f;
    if (!s || *end || end == s || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, compact_options *o)
{
    *o = (compact_options){.views = -1, .downscale = 1, .desc = {.finetune_steps = 1000}, .context = {.backend = RD_BACKEND_CPU}};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        float v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            return -1;
        } else if (strcmp(a, "--out") == 0 && next) {
            o->out = argv[++i];
        } else if (strcmp(a, "--prune") == 0 && next) {
            if (!parse_float(argv[++i], 0.0f, 0.99f, &o->desc.prune_fraction))
                return fprintf(stderr, "radiant: --prune %s: expected a share 0..0.99\n", next), EXIT_USAGE;
        } else if (strcmp(a, "--target-bits-per-gaussian") == 0 && next) {
            if (!parse_float(argv[++i], 1.0f, 100000.0f, &o->desc.target_bits_per_gaussian))
                return fprintf(stderr, "radiant: --target-bits-per-gaussian %s: expected a number of bits\n", next), EXIT_USAGE;
        } else if (strcmp(a, "--zstd-level") == 0 && next) {
            if (!parse_float(argv[++i], 1, 22, &v) || v != floorf(v))
                return fprintf(stderr, "radiant: --zstd-level %s: expected 1..22\n", next), EXIT_USAGE;
            o->desc.zstd_level = (int)v;
        } else if ((strcmp(a, "--views") == 0 || strcmp(a, "--finetune-steps") == 0 || strcmp(a, "--network-steps") == 0 ||
                    strcmp(a, "--recover-steps") == 0) && next) {
            if (!parse_float(argv[++i], 0, 1000000, &v) || v != floorf(v))
                return fprintf(stderr, "radiant: %s %s: expected a whole number\n", a, next), EXIT_USAGE;
            *(a[2] == 'v'   ? &o->views
              : a[2] == 'f' ? &o->desc.finetune_steps
              : a[2] == 'r' ? &o->desc.recover_steps
                            : &o->desc.network_steps) = (int)v;
        } else if (strcmp(a, "--appearance") == 0 && next) {
            if (strcmp(next, "stored") && strcmp(next, "networks"))
                return fprintf(stderr, "radiant: --appearance %s: expected stored or networks\n", next), EXIT_USAGE;
            o->desc.appearance = strcmp(argv[++i], "networks") == 0 ? RD_COMPACT_APPEARANCE_NETWORKS : RD_COMPACT_APPEARANCE_STORED;
        } else if (strcmp(a, "--downscale") == 0 && next) {
            if (!parse_float(argv[++i], 1, 16, &v) || v != floorf(v))
                return fprintf(stderr, "radiant: --downscale %s: expected 1..16\n", next), EXIT_USAGE;
            o->downscale = (int)v;
        } else if (strcmp(a, "--importance") == 0 && next) {
            if (strcmp(next, "weights") && strcmp(next, "gradients"))
                return fprintf(stderr, "radiant: --importance %s: expected weights or gradients\n", next), EXIT_USAGE;
            o->desc.importance = strcmp(argv[++i], "gradients") == 0 ? RD_COMPACT_IMPORTANCE_GRADIENTS : RD_COMPACT_IMPORTANCE_DEFAULT;
        } else if (strcmp(a, "--dataset") == 0 && next) {
            o->dataset = argv[++i];
        } else if (strcmp(a, "--background") == 0 && next) {
            if (!cli_parse_background(argv[++i], o->desc.background))
                return fprintf(stderr, "radiant: --background %s: expected black, white or R,G,B in [0, 1]\n", next), EXIT_USAGE;
        } else if (strcmp(a, "--backend") == 0 && next) {
            int b = rd_backend_from_name(argv[++i]);
            if (b < 0) return fprintf(stderr, "radiant: --backend %s: expected cpu, cuda or vulkan\n", next), EXIT_USAGE;
            o->context.backend = (rd_backend)b;
        } else if (strcmp(a, "--decode-limit") == 0 && next) {
            if (rd_decode_limit_from_text(argv[++i], &o->context.decode_limit) != RD_OK)
                return fprintf(stderr, "radiant: --decode-limit %s: expected a whole number of MiB or none\n", next), EXIT_USAGE;
        } else if (strcmp(a, "--merge") == 0) {
            o->desc.merge = 1;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o->context.verbose = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "radiant: unknown option or missing value: %s\n\n%s", a, USAGE);
            return EXIT_USAGE;
        } else if (!o->scene) {
            o->scene = a;
        } else {
            fprintf(stderr, "radiant: unexpected argument '%s'\n\n%s", a, USAGE);
            return EXIT_USAGE;
        }
    }
    if (!o->scene || !o->out) return fprintf(stderr, "radiant: compact needs SCENE and --out FILE\n\n%s", USAGE), EXIT_USAGE;
    size_t n = strlen(o->out);
    if (n < 9 || strcmp(o->out + n - 9, ".rcompact") != 0)
        return fprintf(stderr, "radiant: --out %s: the compact file's name ends in .rcompact\n", o->out), EXIT_USAGE;
    return EXIT_DONE;
}

/* want of the training views (all: -1), evenly spread; -1 when out of memory. */
static int pick_views(const rd_train_set *train, int want, rd_train_view **out)
{
    int n = rd_train_set_count(train), k = want >= 0 && want < n ? want : n;
    *out = calloc(k > 0 ? (size_t)k : 1, sizeof **out);
    if (!*out) return -1;
    const rd_train_view *views = rd_train_set_views(train);
    for (int j = 0; j < k; j++) (*out)[j] = views[(long long)j * n / k];
    return k;
}

static cJSON *report_json(const compact_options *o, const rd_compact_report *r, long long in_bytes, double seconds)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "scene", o->scene);
    cJSON_AddStringToObject(j, "out", o->out);
    cJSON_AddStringToObject(j, "kind", r->kind == RD_SCENE_GAUSSIANS_4D ? "gaussians4d" : "gaussians");
    cJSON_AddNumberToObject(j, "gaussians_in", (double)r->count_in);
    cJSON_AddNumberToObject(j, "gaussians", (double)r->count);
    cJSON_AddNumberToObject(j, "merged", (double)r->merged);
    cJSON_AddNumberToObject(j, "prune_fraction", o->desc.prune_fraction);
    cJSON_AddNumberToObject(j, "importance_views", o->desc.view_count);
    cJSON_AddStringToObject(j, "importance", o->desc.importance == RD_COMPACT_IMPORTANCE_GRADIENTS ? "gradients"
                                             : o->desc.view_count                                  ? "weights"
                                                                                                   : "view-free");
    cJSON_AddNumberToObject(j, "finetune_steps", o->desc.view_count ? o->desc.finetune_steps : 0);
    int recover = o->desc.recover_steps ? o->desc.recover_steps : o->desc.finetune_steps;
    cJSON_AddNumberToObject(j, "recover_steps", o->desc.view_count && o->desc.finetune_steps ? recover : 0);
    cJSON_AddStringToObject(j, "appearance", o->desc.appearance == RD_COMPACT_APPEARANCE_NETWORKS ? "networks" : "stored");
    if (o->desc.appearance == RD_COMPACT_APPEARANCE_NETWORKS)
        cJSON_AddNumberToObject(j, "network_steps", r->network_steps);
    cJSON_AddNumberToObject(j, "input_bytes", (double)in_bytes);
    cJSON_AddNumberToObject(j, "file_bytes", (double)r->file_bytes);
    if (in_bytes > 0) cJSON_AddNumberToObject(j, "times_smaller", (double)in_bytes / (double)r->file_bytes);
    cJSON_AddNumberToObject(j, "bits_per_gaussian", r->bits_per_gaussian);
    cJSON_AddNumberToObject(j, "index_bits_per_gaussian", r->index_bits_per_gaussian);
    cJSON_AddNumberToObject(j, "seconds", seconds);
    cJSON *parts = cJSON_AddObjectToObject(j, "parts");
    for (int k = 0; k < r->part_count; k++) {
        cJSON *p = cJSON_AddObjectToObject(parts, r->parts[k].name);
        cJSON_AddNumberToObject(p, "bytes", (double)r->parts[k].bytes);
        cJSON_AddNumberToObject(p, "raw_bytes", (double)r->parts[k].raw_bytes);
        cJSON_AddNumberToObject(p, "bits_per_gaussian", r->parts[k].bits_per_gaussian);
    }
    if (r->cost_count) { /* the mean PSNR against training photos after each step */
        cJSON *costs = cJSON_AddObjectToObject(j, "steps_psnr");
        for (int k = 0; k < r->cost_count; k++) cJSON_AddNumberToObject(costs, r->costs[k].name, r->costs[k].psnr);
    }
    return j;
}

int cmd_compact(int argc, char **argv)
{
    compact_options o;
    int status = parse(argc, argv, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    rd_context *ctx = cli_context(&o.context);
    if (!ctx) return EXIT_FAILED;
    rd_scene *scene = NULL, *back = NULL;
    rd_train_set *train = NULL, *test = NULL;
    rd_train_view *views = NULL;
    cJSON *report = NULL;
    status = EXIT_FAILED;
    if (rd_scene_load(ctx, o.scene, &scene) != RD_OK) { cli_error(ctx, NULL); goto done; }
    if (o.dataset) {
        rd_train_set_desc split = {"train", o.downscale};
        if ((o.views != 0 && rd_train_set_load(ctx, o.dataset, &split, &train) != RD_OK) ||
            (split.split = "test", rd_train_set_load(ctx, o.dataset, &split, &test)) != RD_OK) {
            cli_error(ctx, NULL);
            goto done;
        }
        int k = train ? pick_views(train, o.views, &views) : 0;
        if (k < 0) { fprintf(stderr, "radiant: out of memory\n"); goto done; }
        o.desc.views = views, o.desc.view_count = k;
    }
    double start = cli_now_ms();
    rd_compact_report r;
    if (rd_scene_compact(ctx, scene, o.out, &o.desc, &r) != RD_OK) { cli_error(ctx, NULL); goto done; }
    double seconds = (cli_now_ms() - start) / 1000.0;
    struct stat st;
    long long in_bytes = stat(o.scene, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : -1;
    report = report_json(&o, &r, in_bytes, seconds);
    printf("%s: %lld of %lld Gaussians, %llu bytes (%.1f bits a Gaussian; %.0f before zstd)", o.out, (long long)r.count,
           (long long)r.count_in, (unsigned long long)r.file_bytes, r.bits_per_gaussian, r.index_bits_per_gaussian);
    if (in_bytes > 0) printf(", %.1fx smaller than %s", (double)in_bytes / (double)r.file_bytes, o.scene);
    printf(", %.1f s\n", seconds);
    for (int k = 0; k < r.part_count; k++)
        printf("  %-10s %10llu bytes  %7.2f bits a Gaussian\n", r.parts[k].name, (unsigned long long)r.parts[k].bytes,
               r.parts[k].bits_per_gaussian);
    if (r.cost_count) printf("PSNR against up to 8 training photos after each step (the codebooks one attribute at a time, then all):\n");
    for (int k = 0; k < r.cost_count; k++)
        printf("  %-10s %6.2f dB (%+.2f)\n", r.costs[k].name, r.costs[k].psnr, r.costs[k].psnr - r.costs[0].psnr);
    double load_start = cli_now_ms();
    if (rd_scene_load(ctx, o.out, &back) != RD_OK) { cli_error(ctx, NULL); goto done; }
    cJSON_AddNumberToObject(report, "load_ms", cli_now_ms() - load_start);
    if (test) {
        int n = rd_train_set_count(test);
        double before = cli_evaluate(ctx, scene, test, n, o.desc.background, NULL);
        double after = cli_evaluate(ctx, back, test, n, o.desc.background, NULL);
        cJSON_AddStringToObject(report, "dataset", o.dataset);
        cJSON_AddNumberToObject(report, "test_views", n);
        cJSON_AddItemToObject(report, "background", cJSON_CreateFloatArray(o.desc.background, 3));
        cJSON_AddNumberToObject(report, "psnr_before", before);
        cJSON_AddNumberToObject(report, "psnr_after", after);
        printf("test PSNR on %d views: %.2f dB before, %.2f dB after (%+.2f)\n", n, before, after, after - before);
    }
    char path[4200];
    cli_beside_scene(o.out, ".report.json", path, sizeof path);
    if (cli_write_report(ctx, path, report)) status = EXIT_DONE;
done:
    cJSON_Delete(report);
    free(views);
    rd_train_set_destroy(train), rd_train_set_destroy(test);
    rd_scene_destroy(scene), rd_scene_destroy(back);
    rd_context_destroy(ctx);
    return status;
}
