/* cmd_query.c: `radiant query SCENE --features F --embeddings Q.npy [--negatives N.npy]`:
   renders each view's relevancy to each query embedding (radiant_features.h: the level
   chosen per query as the spec's segmentation protocol does) and writes per view and
   query a heat map over the greyed render with a colour bar (PNG), the raw map (.npy),
   and report.json with each query's level, peak (the smoothed map's, as localisation
   takes it) and mask area. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: radiant query SCENE --embeddings Q.npy [options]\n"
    "\n"
    "Renders the relevancy of each query embedding (a row of Q.npy: [queries, D] or [D]) over the\n"
    "feature field of SCENE, per view: r = sigmoid(10 (phi.t - max_j phi.n_j)) against the negatives\n"
    "n_j, at the level whose smoothed map peaks highest. Writes NAME_qK.png (a heat map over the\n"
    "greyed render, colour bar at the right: 0 bottom, 1 top), NAME_qK.npy (float32 [H, W]) and\n"
    "report.json into --out.\n"
    "\n"
    "  --features F         the feature field (default: SCENE's name with .rfeat)\n"
    "  --embeddings Q.npy   the queries, unit vectors of the field's dimension\n"
    "  --negatives N.npy    the canonical negatives (LangSplat's \"object\", \"things\", \"stuff\",\n"
    "                       \"texture\" embedded by the same model); default: the zero vector, so that\n"
    "                       r = sigmoid(10 phi.t)\n"
    "  --dataset DIR        views of a dataset folder (--split S: train, val, test (default) or all)\n"
    "  --cameras FILE       a camera list (neither: 8 views orbiting the scene)\n"
    "  --width W --height H render at this size (intrinsics scale)\n"
    "  --backend B          cpu (default), cuda or vulkan (the coefficient blend on the device; decode and\n"
    "                       relevancy on the host)\n"
    "  --out DIR            output folder (default: out)\n"
    "  -v, --verbose        debug messages\n";

enum { BAR_GAP = 4, BAR_WIDTH = 16 };

/* The heat map of r over the render (grey at 40%), and the bar to its right. */
static rd_result save_heat(rd_context *ctx, const char *path, const float *rgba, const float *r, int w, int h)
{
    rd_image img;
    rd_result res = rd_image_alloc(w + BAR_GAP + BAR_WIDTH, h, 3, &img);
    if (res != RD_OK) return res;
    int W = img.width;
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < W; x++) {
            float *out = img.pixels + 3 * ((size_t)y * W + x), c[3];
            if (x < w) {
                size_t p = (size_t)y * w + x;
                float grey = 0.299f * rgba[4 * p] + 0.587f * rgba[4 * p + 1] + 0.114f * rgba[4 * p + 2];
                rd_relevancy_color(r[p], c);
                for (int k = 0; k < 3; k++) out[k] = 0.4f * fminf(fmaxf(grey, 0.0f), 1.0f) + 0.6f * c[k];
            } else if (x < w + BAR_GAP) {
                out[0] = out[1] = out[2] = 1.0f;
            } else {
                rd_relevancy_color(h > 1 ? 1.0f - (float)y / (float)(h - 1) : 1.0f, c);
                memcpy(out, c, sizeof c);
            }
        }
    }
    res = rd_image_save(ctx, path, &img);
    rd_image_free(&img);
    return res;
}

/* Takes the query's own options out of argv (the rest go to cli_parse). */
static int take_options(int *argc, char **argv, const char **features, const char **embeddings, const char **negatives)
{
    int kept = 0;
    for (int i = 0; i < *argc; i++) {
        const char **slot = strcmp(argv[i], "--features") == 0 ? features : strcmp(argv[i], "--embeddings") == 0 ? embeddings
                            : strcmp(argv[i], "--negatives") == 0                                             ? negatives
                                                                                                              : NULL;
        if (slot && i + 1 < *argc) *slot = argv[++i];
        else if (slot) return fprintf(stderr, "radiant: query: %s needs a file\n", argv[i]), EXIT_USAGE;
        else argv[kept++] = argv[i];
    }
    *argc = kept;
    return EXIT_DONE;
}

typedef struct query_inputs {
    float *queries, *negatives;
    int64_t query_count, negative_count, dim;
} query_inputs;

/* The queries and negatives, checked against the field's dimension; false (said why) on failure. */
static bool load_inputs(rd_context *ctx, const char *embeddings, const char *negatives, int dim, query_inputs *in)
{
    int64_t rows, cols;
    if (rd_npy_load_matrix(ctx, embeddings, &rows, &cols, &in->queries) != RD_OK) return cli_error(ctx, NULL), false;
    if (cols != dim || rows > 4096)
        return fprintf(stderr, "radiant: %s: %lld queries of %lld dimensions; the field's features have %d (at most 4096 queries)\n",
                       embeddings, (long long)rows, (long long)cols, dim), false;
    in->query_count = rows, in->dim = cols;
    if (!negatives) { /* one zero vector: max_j phi.n_j = 0 */
        in->negatives = calloc((size_t)dim, sizeof(float));
        in->negative_count = 1;
        return in->negatives ? true : (fprintf(stderr, "radiant: out of memory\n"), false);
    }
    if (rd_npy_load_matrix(ctx, negatives, &in->negative_count, &cols, &in->negatives) != RD_OK) return cli_error(ctx, NULL), false;
    if (cols != dim || in->negative_count > 4096)
        return fprintf(stderr, "radiant: %s: %lld negatives of %lld dimensions; the field's features have %d (at most 4096)\n", negatives,
                       (long long)in->negative_count, (long long)cols, dim), false;
    return true;
}

/* The peak of the smoothed map, and the segmentation mask's area, into the report. */
static void report_query(cJSON *queries, int q, int level, const float *r, float *smoothed, uint8_t *mask, int w, int h)
{
    cJSON *item = cJSON_CreateObject();
    cJSON_AddNumberToObject(item, "query", q);
    cJSON_AddNumberToObject(item, "level", level);
    size_t pixels = (size_t)w * h, best = 0, area = 0;
    if (rd_relevancy_smooth(r, w, h, smoothed) == RD_OK && rd_relevancy_mask(smoothed, w, h, mask) == RD_OK) {
        for (size_t p = 0; p < pixels; p++) best = smoothed[p] > smoothed[best] ? p : best, area += mask[p];
        cJSON *peak = cJSON_AddArrayToObject(item, "peak");
        cJSON_AddItemToArray(peak, cJSON_CreateNumber((double)(best % (size_t)w)));
        cJSON_AddItemToArray(peak, cJSON_CreateNumber((double)(best / (size_t)w)));
        cJSON_AddNumberToObject(item, "peak_relevancy", smoothed[best]);
        cJSON_AddNumberToObject(item, "mask_pixels", (double)area);
    }
    cJSON_AddItemToArray(queries, item);
}

int cmd_query(int argc, char **argv)
{
    const char *features = NULL, *embeddings = NULL, *negatives = NULL;
    int status = take_options(&argc, argv, &features, &embeddings, &negatives);
    if (status != EXIT_DONE) return status;
    cli_options o;
    status = cli_parse(argc, argv, OPT_DATASET | OPT_CAMERAS | OPT_OUT | OPT_SIZE | OPT_BACKEND, USAGE, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    if (!embeddings) return fprintf(stderr, "radiant: query: give --embeddings Q.npy\n\n%s", USAGE), EXIT_USAGE;
    if (o.backend == RD_BACKEND_AUTO) o.backend = RD_BACKEND_CPU;
    rd_context *ctx = cli_context(&o);
    if (!ctx) return EXIT_FAILED;
    status = EXIT_FAILED;
    rd_scene *scene = NULL;
    rd_feature_field *field = NULL;
    cli_views views = {0};
    query_inputs in = {0};
    cJSON *report = cJSON_CreateObject();
    float *rgba = NULL, *relevancy = NULL, *smoothed = NULL;
    int *levels = NULL;
    uint8_t *mask = NULL;
    char beside[4096];
    if (!features) {
        if (!rd_feature_path_beside(o.scene, beside, sizeof beside)) {
            fprintf(stderr, "radiant: %s: path too long\n", o.scene);
            goto done;
        }
        features = beside;
    }
    rd_feature_field_info info;
    if (cli_load_scene(ctx, &o, &scene) != RD_OK || rd_feature_field_load(ctx, features, &field) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    rd_feature_field_get_info(field, &info);
    if (!load_inputs(ctx, embeddings, negatives, info.dim, &in)) goto done;
    if (cli_views_load(ctx, &o, scene, &views) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    const char *out_dir = o.out_dir ? o.out_dir : "out";
    if (!cli_make_dirs(out_dir)) {
        fprintf(stderr, "radiant: %s: cannot create folder: %s\n", out_dir, strerror(errno));
        goto done;
    }
    cJSON_AddStringToObject(report, "scene", o.scene);
    cJSON_AddStringToObject(report, "features", features);
    cJSON_AddStringToObject(report, "embeddings", embeddings);
    cJSON_AddNumberToObject(report, "query_count", (double)in.query_count);
    cJSON *view_list = cJSON_AddArrayToObject(report, "views");
    levels = calloc((size_t)in.query_count, sizeof(int));
    double start = cli_now_ms();
    for (int v = 0; v < views.count; v++) {
        rd_camera cam = views.cameras[v];
        if (o.width && o.height) cam = rd_camera_resized(&cam, o.width, o.height);
        size_t pixels = (size_t)cam.width * cam.height;
        float *grown[] = {realloc(rgba, pixels * 4 * sizeof(float)), realloc(relevancy, pixels * (size_t)in.query_count * sizeof(float)),
                          realloc(smoothed, pixels * sizeof(float))};
        rgba = grown[0] ? grown[0] : rgba, relevancy = grown[1] ? grown[1] : relevancy, smoothed = grown[2] ? grown[2] : smoothed;
        uint8_t *grown_mask = realloc(mask, pixels);
        mask = grown_mask ? grown_mask : mask;
        if (!grown[0] || !grown[1] || !grown[2] || !grown_mask || !levels) {
            fprintf(stderr, "radiant: query: out of memory at %dx%d\n", cam.width, cam.height);
            goto done;
        }
        rd_feature_render_desc desc = {.queries = in.queries, .query_count = (int)in.query_count, .negatives = in.negatives,
                                       .negative_count = (int)in.negative_count};
        if (rd_render(ctx, scene, &cam, NULL, &(rd_framebuffer){.color = rgba}) != RD_OK ||
            rd_render_features(ctx, scene, field, &cam, &desc, &(rd_feature_target){.relevancy = relevancy, .query_levels = levels}) != RD_OK) {
            cli_error(ctx, views.names[v]);
            goto done;
        }
        cJSON *view = cJSON_CreateObject();
        cJSON_AddStringToObject(view, "name", views.names[v]);
        cJSON *queries = cJSON_AddArrayToObject(view, "queries");
        cJSON_AddItemToArray(view_list, view);
        for (int q = 0; q < in.query_count; q++) {
            const float *r = relevancy + (size_t)q * pixels;
            char path[4400];
            snprintf(path, sizeof path, "%s/%s_q%d.png", out_dir, views.names[v], q);
            rd_result res = save_heat(ctx, path, rgba, r, cam.width, cam.height);
            snprintf(path, sizeof path, "%s/%s_q%d.npy", out_dir, views.names[v], q);
            if (res == RD_OK) res = rd_npy_save_floats(ctx, path, r, 2, (const int64_t[]){cam.height, cam.width});
            if (res != RD_OK) {
                cli_error(ctx, NULL);
                goto done;
            }
            report_query(queries, q, levels[q], r, smoothed, mask, cam.width, cam.height);
        }
        cli_progress("query", v + 1, views.count, start);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", out_dir);
    if (!cli_write_report(ctx, path, report)) goto done;
    printf("queried %d view%s with %lld quer%s into %s/ (report: %s)\n", views.count, views.count == 1 ? "" : "s",
           (long long)in.query_count, in.query_count == 1 ? "y" : "ies", out_dir, path);
    status = EXIT_DONE;
done:
    cJSON_Delete(report);
    free(rgba), free(relevancy), free(smoothed), free(levels), free(mask);
    free(in.queries), free(in.negatives);
    cli_views_free(&views);
    rd_feature_field_destroy(field);
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return status;
}
