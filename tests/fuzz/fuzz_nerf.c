/* fuzz_nerf.c: the NeRF snapshot reader (.rnerf, nerf/snapshot.c), as a user reaches it
   through rd_scene_load. A snapshot ends in its occupancy grid, 256 KiB a cascade, past
   libFuzzer's 64 KiB inputs, so the input is the file without it: the first byte picks
   the cascades (1 or 2), the rest is everything after the magic up to the grid (version,
   the configuration's length, the configuration, the table's bitmap and the parameters);
   the harness adds the magic, a grid of that many cascades (its bits a pattern of the
   first byte) and the checksum made right, so that the checks behind them are reached. A
   snapshot that loads is rendered once (8x6, the CPU) and saved and loaded again, which
   must succeed. */
#include "fuzz_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GRID_BYTES = 128 * 128 * 128 / 8 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_context *ctx = fuzz_context();
    if (!ctx || size < 1) return 0;
    size_t cascades = 1 + data[0] % 2, body = size - 1, total = 8 + body + cascades * GRID_BYTES + 8;
    uint8_t *file = malloc(total);
    if (!file) return 0;
    memcpy(file, "RDNERF\r\n", 8);
    memcpy(file + 8, data + 1, body);
    memset(file + 8 + body, data[0] | 1, cascades * GRID_BYTES); /* some cells occupied */
    fuzz_fix_checksum(file, total);
    const char *path = fuzz_file("in.rnerf", file, total);
    free(file);
    rd_scene *scene = NULL;
    if (!path || rd_scene_load(ctx, path, &scene) != RD_OK) return 0;
    rd_nerf_info info;
    if (rd_nerf_get_info(ctx, scene, &info) == RD_OK) { /* from outside the field's box, at its centre */
        float target[3], eye[3], up[3] = {0.0f, 0.0f, 1.0f}, rgba[8 * 6 * 4];
        for (int a = 0; a < 3; a++) target[a] = 0.5f * (info.desc.box_min[a] + info.desc.box_max[a]);
        for (int a = 0; a < 3; a++) eye[a] = target[a] + (a == 1 ? 2.0f : 0.5f) * (info.desc.box_max[a] - info.desc.box_min[a]);
        rd_camera camera = rd_camera_look_at(eye, target, up, 8, 6, 50.0f);
        rd_render(ctx, scene, &camera, &(rd_render_desc){0}, &(rd_framebuffer){.color = rgba});
    }
    char again[4096];
    snprintf(again, sizeof again, "%s/again.rnerf", fuzz_dir());
    rd_scene *reloaded = NULL;
    if (rd_nerf_save(ctx, scene, again) != RD_OK || rd_scene_load(ctx, again, &reloaded) != RD_OK) abort();
    rd_scene_destroy(reloaded);
    rd_scene_destroy(scene);
    return 0;
}
