/* feature_output.c: `radiant render SCENE --output features [--features F] [--level N]`:
   beside each view's render, its feature field's unit features at one level as a PCA
   colouring (NAME_features.png) and as they are (NAME_features.npy, float32 [H, W, D]). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_feature_options(int *argc, char **argv, cli_feature_output *out)
{
    memset(out, 0, sizeof *out);
    int kept = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *next = i + 1 < *argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--features") == 0 && next) {
            out->path = argv[++i];
        } else if (strcmp(a, "--output") == 0 && next) {
            if (strcmp(next, "features") != 0 && strcmp(next, "rgb") != 0)
                return fprintf(stderr, "radiant: --output %s: expected rgb (default) or features\n", next), EXIT_USAGE;
            out->wanted = strcmp(argv[++i], "features") == 0;
        } else if (strcmp(a, "--level") == 0 && next) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > RD_FEATURE_MAX_LEVELS) return fprintf(stderr, "radiant: --level %s: expected 1, 2 or 3\n", next), EXIT_USAGE;
            out->level = (int)v;
        } else {
            argv[kept++] = argv[i];
        }
    }
    *argc = kept;
    if ((out->path || out->level) && !out->wanted)
        return fprintf(stderr, "radiant: --features and --level go with --output features\n"), EXIT_USAGE;
    return EXIT_DONE;
}

rd_result cli_feature_field_load(rd_context *ctx, const char *scene_path, cli_feature_output *out)
{
    char beside[4096];
    const char *path = out->path;
    if (!path) {
        if (!scene_path || !rd_feature_path_beside(scene_path, beside, sizeof beside)) {
            fprintf(stderr, "radiant: --output features: give --features FILE.rfeat\n");
            return RD_ERROR_INVALID_ARGUMENT;
        }
        path = beside;
    }
    rd_result r = rd_feature_field_load(ctx, path, &out->field);
    if (r != RD_OK) cli_error(ctx, NULL);
    return r;
}

rd_result cli_feature_view(rd_context *ctx, const rd_scene *scene, const cli_feature_output *out, const rd_camera *cam,
                           const char *dir, const char *name)
{
    rd_feature_field_info info;
    rd_feature_field_get_info(out->field, &info);
    size_t pixels = (size_t)cam->width * cam->height;
    float *features = malloc(pixels * (size_t)info.dim * sizeof(float)), *alpha = malloc(pixels * sizeof(float));
    rd_image colours = {0};
    rd_result r = features && alpha ? rd_image_alloc(cam->width, cam->height, 3, &colours) : RD_ERROR_OUT_OF_MEMORY;
    if (r == RD_OK)
        r = rd_render_features(ctx, scene, out->field, cam, &(rd_feature_render_desc){.level = out->level},
                               &(rd_feature_target){.features = features, .alpha = alpha});
    if (r == RD_OK) r = rd_feature_pca_colors(features, alpha, (int64_t)pixels, info.dim, colours.pixels);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s_features.png", dir, name);
    if (r == RD_OK) r = rd_image_save(ctx, path, &colours);
    snprintf(path, sizeof path, "%s/%s_features.npy", dir, name);
    if (r == RD_OK) r = rd_npy_save_floats(ctx, path, features, 3, (const int64_t[]){cam->height, cam->width, info.dim});
    if (r == RD_ERROR_OUT_OF_MEMORY) fprintf(stderr, "radiant: %s: out of memory for its features\n", name);
    else if (r != RD_OK) cli_error(ctx, name);
    rd_image_free(&colours);
    free(features), free(alpha);
    return r;
}
