/* feature_scene_tool.c: `feature_scene_tool DIR`: writes the feature fields' synthetic
   dataset (feature_scene.h) into DIR, with its Gaussian scene as DIR/scene.ply, for the
   command-line test. */
#include "feature_scene.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: feature_scene_tool DIR\n"), 2;
    rd_context *ctx;
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU}, &ctx) != RD_OK) return 1;
    feature_scene fs;
    char path[1024];
    snprintf(path, sizeof path, "%s/scene.ply", argv[1]);
    int failed = feature_scene_make(ctx, 64, 10, 2, 96, 72, 2, 7, &fs) || feature_scene_write(ctx, &fs, argv[1]) ||
                 rd_scene_save(ctx, fs.scene, path, NULL) != RD_OK;
    if (failed) fprintf(stderr, "feature_scene_tool: %s\n", rd_last_error(ctx));
    feature_scene_free(&fs);
    rd_context_destroy(ctx);
    return failed;
}
