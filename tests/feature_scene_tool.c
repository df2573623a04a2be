/* feature_scene_tool.c: `feature_scene_tool DIR [WIDTH HEIGHT DIM VIEWS]`: writes the
   feature fields' synthetic dataset (feature_scene.h) into DIR, with its Gaussian scene as
   DIR/scene.ply: for the command-line test at its small default (96x72, D 64, 10 views),
   and larger for timing the trainer (tools/device_run.sh's FEATURE_TRAIN: 988x730, D 512). */
#include "feature_scene.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 6) return fprintf(stderr, "usage: feature_scene_tool DIR [WIDTH HEIGHT DIM VIEWS]\n"), 2;
    int width = argc == 6 ? atoi(argv[2]) : 96, height = argc == 6 ? atoi(argv[3]) : 72;
    int dim = argc == 6 ? atoi(argv[4]) : 64, views = argc == 6 ? atoi(argv[5]) : 10;
    if (width < 1 || height < 1 || dim < 1 || views < 1 || width > 8192 || height > 8192 || views > 1000)
        return fprintf(stderr, "feature_scene_tool: WIDTH HEIGHT DIM VIEWS: expected positive sizes (8192 at most, 1000 views)\n"), 2;
    rd_context *ctx;
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU}, &ctx) != RD_OK) return 1;
    feature_scene fs;
    char path[1024];
    snprintf(path, sizeof path, "%s/scene.ply", argv[1]);
    int failed = feature_scene_make(ctx, dim, views, 2, width, height, 2, 7, &fs) || feature_scene_write(ctx, &fs, argv[1]) ||
                 rd_scene_save(ctx, fs.scene, path, NULL) != RD_OK;
    if (failed) fprintf(stderr, "feature_scene_tool: %s\n", rd_last_error(ctx));
    feature_scene_free(&fs);
    rd_context_destroy(ctx);
    return failed;
}
