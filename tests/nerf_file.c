/* nerf_file.c: writes a small untrained NeRF snapshot (every cell of its grid occupied,
   so every ray takes samples) for the script tests: nerf_file OUT.rnerf */
#include "radiant.h"

#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: nerf_file OUT.rnerf\n");
        return 2;
    }
    rd_context *ctx = NULL;
    rd_scene *nerf = NULL;
    rd_nerf_desc desc = {.levels = 2, .log2_table_size = 10, .base_resolution = 4, .finest_resolution = 32, .width = 16,
                         .box_min = {-1.3f, -1.3f, -1.3f}, .box_max = {1.3f, 1.3f, 1.3f}, .seed = 1};
    rd_result r = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU}, &ctx);
    if (r == RD_OK) r = rd_nerf_create(ctx, &desc, &nerf);
    if (r == RD_OK) r = rd_nerf_save(ctx, nerf, argv[1]);
    if (r != RD_OK) fprintf(stderr, "nerf_file: %s\n", ctx ? rd_last_error(ctx) : rd_result_string(r));
    rd_scene_destroy(nerf);
    rd_context_destroy(ctx);
    return r == RD_OK ? 0 : 1;
}
