/* cmd_info.c: `radiant info FILE|DIR`: what a scene file or dataset holds. */
#include "cli.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *USAGE =
    "usage: radiant info FILE|DIR\n"
    "\n"
    "A scene file: format, Gaussian count, SH degree, bounds, properties found.\n"
    "A dataset folder or file: kind, views, skipped frames, sparse points.\n"
    "  --split S   the dataset split to list (default: all)\n"
    "  --decode-limit MIB|none  memory FILE may decode to (default: 64 times its size, at least 256 MiB)\n"
    "  --spz-frame NAME      read an SPZ as in this frame (RUB, RDF, ...), whatever its record says\n";

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
    for (int i = 0; i < n && i < 3; i++) {
        const rd_camera *c = &rd_dataset_view(ds, i)->camera;
        printf("view %-4d %s: %dx%d fx=%.2f fy=%.2f cx=%.2f cy=%.2f%s\n", i, rd_dataset_view(ds, i)->name, c->width,
               c->height, c->fx, c->fy, c->cx, c->cy, c->distortion.model ? " (distorted)" : "");
    }
    if (n > 3) printf("...\n");
    rd_dataset_destroy(ds);
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
    if (is_dataset) {
        status = dataset_info(ctx, &o);
        rd_context_destroy(ctx);
        return status;
    }
    rd_scene *scene = NULL;
    if (rd_scene_load_with(ctx, o.scene, &(rd_scene_load_desc){.spz_frame = o.spz_frame}, &scene) != RD_OK) {
        cli_error(ctx, NULL);
        rd_context_destroy(ctx);
        return EXIT_FAILED;
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
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return EXIT_DONE;
}
