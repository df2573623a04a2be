/* cmd_info.c: `radiant info FILE|DIR`: what a scene file or dataset holds. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *USAGE =
    "usage: radiant info FILE|DIR\n"
    "\n"
    "A scene file: format, Gaussian count, SH degree, bounds, properties found; a NeRF snapshot:\n"
    "its encoding, networks, parameter count, box, occupied cells and what a snapshot of it stores.\n"
    "A feature field (.rfeat): levels, codebook entries, slots, dimension, memory a Gaussian.\n"
    "A residual stream (.rstream): frames, intra frames, sizes, bitrate, damage, configuration.\n"
    "A dataset folder or file: kind, views, skipped frames, sparse points.\n"
    "  --split S   the dataset split to list (default: all)\n"
    "  --decode-limit MIB|none  memory FILE may decode to (default: 64 times its size, at least 256 MiB)\n"
    "  --spz-frame NAME      read an SPZ as in this frame (RUB, RDF, ...), whatever its record says\n";

static int feature_info(rd_context *ctx, const char *path)
{
    rd_feature_field *field = NULL;
    if (rd_feature_field_load(ctx, path, &field) != RD_OK) return cli_error(ctx, NULL), EXIT_FAILED;
    rd_feature_field_info info;
    rd_feature_field_get_info(field, &info);
    printf("file:        %s\nformat:      rfeat (feature field: sparse coefficients over codebooks)\ngaussians:   %lld\n", path,
           (long long)info.count);
    printf("levels:      %d\ncodebook:    %d entries of %d dimensions a level (%.1f KiB in all)\nslots:       %d a Gaussian and level\n",
           info.levels, info.codebook_size, info.dim, (double)info.codebook_bytes / 1024.0, info.slots);
    printf("memory:      %lld bytes a Gaussian (index bytes, half weights)\n", (long long)info.bytes_per_gaussian);
    rd_feature_field_destroy(field);
    return EXIT_DONE;
}

/* Whether two views were taken by one camera: the same size, intrinsics and pose (to
   1e-5: per-frame camera tables repeat each camera's in text). */
static bool same_camera(const rd_camera *a, const rd_camera *b)
{
    bool same = a->width == b->width && a->height == b->height && fabsf(a->fx - b->fx) <= 1e-5f * fabsf(a->fx) &&
                fabsf(a->fy - b->fy) <= 1e-5f * fabsf(a->fy) && fabsf(a->cx - b->cx) <= 1e-5f * fabsf(a->cx) + 1e-5f &&
                fabsf(a->cy - b->cy) <= 1e-5f * fabsf(a->cy) + 1e-5f;
    for (int k = 0; same && k < 12; k++) same = fabsf(a->w2c[k] - b->w2c[k]) <= 1e-5f * (1.0f + fabsf(a->w2c[k]));
    return same;
}

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* A dynamic dataset's cameras (distinct poses) and frames (distinct times), and how many
   of the grid of the two have no view (a missing frame, or a camera that moves). */
static void print_grid(const rd_dataset *ds)
{
    int n = rd_dataset_view_count(ds), cameras = 0, frames = 0;
    int *first = malloc((size_t)n * sizeof *first); /* each distinct camera's first view */
    float *times = malloc((size_t)n * sizeof *times);
    if (!first || !times) {
        free(first), free(times);
        return;
    }
    for (int i = 0; i < n; i++) {
        const rd_camera *c = &rd_dataset_view(ds, i)->camera;
        int k = 0;
        while (k < cameras && !same_camera(&rd_dataset_view(ds, first[k])->camera, c)) k++;
        if (k == cameras) first[cameras++] = i;
        times[i] = rd_dataset_view(ds, i)->time;
    }
    qsort(times, (size_t)n, sizeof *times, compare_floats);
    for (int i = 0; i < n; i++) frames += i == 0 || times[i] != times[i - 1];
    long long grid = (long long)cameras * frames;
    printf("cameras:  %d (%s)\nframes:   %d (distinct times)\n", cameras, cameras == n && n > 1 ? "each view its own pose: a moving camera" : "distinct poses", frames);
    if (cameras > 1 && frames > 1 && cameras < n)
        printf("grid:     %lld of %lld camera-frame pairs have no view (missing frames, or cameras that move)\n", grid - n, grid);
    free(first), free(times);
}

static int dataset_info(rd_context *ctx, const cli_options *o)
{
    rd_dataset *ds = NULL;
    rd_dataset_desc desc = {.split = o->split};
    if (rd_dataset_load(ctx, o->scene, &desc, &ds) != RD_OK) {
        cli_error(ctx, NULL);
        return EXIT_FAILED;
    }
    int n = rd_dataset_view_count(ds);
    printf("dataset:  %s\nkind:     %s\nsplit:    %s\nviews:    %d\nskipped:  %d (image file missing)\npoints:   %lld\n",
           o->scene, rd_dataset_kind(ds), o->split, n, rd_dataset_skipped(ds), (long long)rd_dataset_points(ds, NULL, NULL));
    if (rd_dataset_has_time(ds) && n > 0) {
        float lo = rd_dataset_view(ds, 0)->time, hi = lo;
        for (int i = 1; i < n; i++) lo = fminf(lo, rd_dataset_view(ds, i)->time), hi = fmaxf(hi, rd_dataset_view(ds, i)->time);
        printf("time:     %g .. %g (each view its own: a dynamic scene)\n", lo, hi);
        print_grid(ds);
    }
    for (int i = 0; i < n && i < 3; i++) {
        const rd_camera *c = &rd_dataset_view(ds, i)->camera;
        printf("view %-4d %s: %dx%d fx=%.2f fy=%.2f cx=%.2f cy=%.2f%s", i, rd_dataset_view(ds, i)->name, c->width,
               c->height, c->fx, c->fy, c->cx, c->cy, c->distortion.model ? " (distorted)" : "");
        if (rd_dataset_has_time(ds)) printf(" time %g", rd_dataset_view(ds, i)->time);
        printf("\n");
    }
    if (n > 3) printf("...\n");
    rd_dataset_destroy(ds);
    return EXIT_DONE;
}

static int nerf_info(rd_context *ctx, const char *path, const rd_scene *scene)
{
    rd_nerf_info n;
    if (rd_nerf_get_info(ctx, scene, &n) != RD_OK) {
        cli_error(ctx, path);
        return EXIT_FAILED;
    }
    const rd_nerf_desc *d = &n.desc;
    int64_t cells = (int64_t)n.cascades * 128 * 128 * 128;
    printf("file:        %s\nformat:      NeRF snapshot (hash grid)\n", path);
    printf("encoding:    %d levels x %d features, 2^%d entries a level, resolution %g to %g\n", d->levels, d->features,
           d->log2_table_size, d->base_resolution, d->finest_resolution);
    printf("networks:    width %d (density 1 hidden layer, colour 2)\n", d->width);
    printf("parameters:  %lld (%lld in the table, %lld in the networks), %.1f MiB\n", (long long)n.params,
           (long long)n.table_params, (long long)n.network_params, (double)n.params * 4.0 / 1048576.0);
    if (d->saliency_resolution)
        printf("mask:        saliency %d^3 (%lld logits), density gate sharpness %g\n", d->saliency_resolution,
               (long long)n.mask_params, d->gate_sharpness);
    printf("box:         [%.4g, %.4g, %.4g] .. [%.4g, %.4g, %.4g], aabb_scale %d (%d cascades)\n", d->box_min[0] + 0.0f,
           d->box_min[1] + 0.0f, d->box_min[2] + 0.0f, d->box_max[0] + 0.0f, d->box_max[1] + 0.0f, d->box_max[2] + 0.0f,
           d->aabb_scale, n.cascades);
    printf("occupied:    %lld of %lld cells (%.2f%%)\n", (long long)n.occupied_cells, (long long)cells,
           100.0 * (double)n.occupied_cells / (double)cells);
    int64_t stored = 0, bytes = 0;
    if (rd_nerf_snapshot_size(ctx, scene, &stored, &bytes) != RD_OK) {
        cli_error(ctx, path);
        return EXIT_FAILED;
    }
    printf("stored:      %lld parameters (%.1f%%; the table entries rendering reaches), %.1f MiB as a snapshot\n",
           (long long)stored, 100.0 * (double)stored / (double)n.params, (double)bytes / 1048576.0);
    return EXIT_DONE;
}

/* A compact file's parts: bytes in the file, before zstd, and bits a Gaussian. */
static void compact_parts(const rd_compact_report *r)
{
    printf("size:        %llu bytes, %.1f bits a Gaussian (%.0f before entropy coding)\n", (unsigned long long)r->file_bytes,
           r->bits_per_gaussian, r->index_bits_per_gaussian);
    for (int k = 0; k < r->part_count; k++)
        printf("  %-10s %10llu bytes (%llu before zstd), %6.2f bits a Gaussian\n", r->parts[k].name,
               (unsigned long long)r->parts[k].bytes, (unsigned long long)r->parts[k].raw_bytes, r->parts[k].bits_per_gaussian);
}

static int info_4d(rd_context *ctx, const char *path, const rd_scene *scene)
{
    rd_scene4d_info n;
    if (rd_scene4d_get_info(ctx, scene, &n) != RD_OK) {
        cli_error(ctx, path);
        return EXIT_FAILED;
    }
    rd_compact_report compact;
    bool is_compact = rd_compact_file_info(ctx, path, &compact) == RD_OK;
    printf("file:        %s\nformat:      %s (XYZT Gaussians)\ngaussians:   %lld\n", path, is_compact ? "rcompact" : "4D PLY",
           (long long)n.count);
    printf("sh degree:   %d spatial, %d temporal (cosine terms of period %g)\n", n.sh_degree, n.time_degree, n.time_period);
    printf("time range:  %g .. %g (of the temporal means)\n", n.time_min + 0.0f, n.time_max + 0.0f);
    printf("bounds:      [%.4g, %.4g, %.4g] .. [%.4g, %.4g, %.4g]\n", n.bounds_min[0] + 0.0f, n.bounds_min[1] + 0.0f,
           n.bounds_min[2] + 0.0f, n.bounds_max[0] + 0.0f, n.bounds_max[1] + 0.0f, n.bounds_max[2] + 0.0f);
    if (is_compact) compact_parts(&compact);
    return EXIT_DONE;
}

int cmd_info(int argc, char **argv)
{
    cli_options o;
    int status = cli_parse(argc, argv, OPT_DATASET, USAGE, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    if (o.dataset) {
        fprintf(stderr, "radiant: info takes the path itself: radiant info %s\n", o.dataset);
        return EXIT_USAGE;
    }
    if (!o.split_given) o.split = "all"; /* info lists every view unless asked for a split */
    rd_context *ctx = cli_context(&(cli_options){.backend = RD_BACKEND_CPU, .verbose = o.verbose, .decode_limit = o.decode_limit});
    if (!ctx) return EXIT_FAILED;
    struct stat st;
    size_t len = 0;
    while (o.scene[len]) len++;
    bool is_dataset = (stat(o.scene, &st) == 0 && S_ISDIR(st.st_mode)) ||
                      (len > 5 && (strcmp(o.scene + len - 5, ".json") == 0 || strcmp(o.scene + len - 4, ".npy") == 0));
    if (cli_is_stream(o.scene)) {
        status = cli_stream_info(ctx, o.scene);
        rd_context_destroy(ctx);
        return status;
    }
    if (is_dataset || (len > 6 && strcmp(o.scene + len - 6, ".rfeat") == 0)) {
        status = is_dataset ? dataset_info(ctx, &o) : feature_info(ctx, o.scene);
        rd_context_destroy(ctx);
        return status;
    }
    rd_scene *scene = NULL;
    if (rd_scene_load_with(ctx, o.scene, &(rd_scene_load_desc){.spz_frame = o.spz_frame}, &scene) != RD_OK) {
        cli_error(ctx, NULL);
        rd_context_destroy(ctx);
        return EXIT_FAILED;
    }
    if (rd_scene_get_kind(scene) == RD_SCENE_NERF || rd_scene_get_kind(scene) == RD_SCENE_GAUSSIANS_4D) {
        status = rd_scene_get_kind(scene) == RD_SCENE_NERF ? nerf_info(ctx, o.scene, scene) : info_4d(ctx, o.scene, scene);
        rd_scene_destroy(scene);
        rd_context_destroy(ctx);
        return status;
    }
    rd_scene_info info;
    rd_scene_get_info(scene, &info);
    printf("file:        %s\nformat:      %s\ngaussians:   %lld\nsh degree:   %d\nantialiased: %s\n", o.scene, info.format,
           (long long)info.count, info.sh_degree, (info.flags & RD_SCENE_ANTIALIASED) ? "yes" : "no");
    /* + 0.0f: a bound of -0 prints as 0 */
    printf("bounds:      [%.4g, %.4g, %.4g] .. [%.4g, %.4g, %.4g]\n", info.bounds_min[0] + 0.0f, info.bounds_min[1] + 0.0f,
           info.bounds_min[2] + 0.0f, info.bounds_max[0] + 0.0f, info.bounds_max[1] + 0.0f, info.bounds_max[2] + 0.0f);
    if (info.header[0]) printf("header:      %s\n", info.header);
    if (info.properties[0]) printf("properties:  %s\n", info.properties); /* the formats with named properties (PLY) */
    rd_compact_report compact;
    if (strcmp(info.format, "rcompact") == 0 && rd_compact_file_info(ctx, o.scene, &compact) == RD_OK) compact_parts(&compact);
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return EXIT_DONE;
}
