/* fuzz_scene.c: every scene format rd_scene_load reads (PLY, the 4D PLY, compressed PLY, SPZ,
   .splat, .ksplat, glTF .glb and .gltf, PlayCanvas SOG; recognised by content), and a scene that loads is written back in each format
   rd_scene_save writes, so that the writers see what the readers let through (NaN,
   infinities, extreme values). The input's first byte picks the file name's extension,
   which decides between the formats that have no magic: its value modulo 7, or '8' for a
   .sog bundle and '9' for a SOG's meta.json alone (its images absent: the meta.json
   parser), which came later and so leave the other seeds' choices as they were. A compact
   file (.rcompact) is recognised by its magic; its checksum is made right before it is
   read, so that mutations reach the parser behind it, and one that loads must load the same
   through the device decode (its CPU reference). */
#include "fuzz_file.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[] = {"in.ply", "in.splat", "in.ksplat", "in.spz", "in.compressed.ply", "in.glb", "in.gltf",
                                    "in.sog", "in_sog/meta.json"};

/* A compact file that loads loads alike into "device" memory (on the CPU context: the
   device decode's reference gather), or the harness stops: the two decoders must agree. */
static void same_on_device(rd_context *ctx, const char *path, const rd_scene *host)
{
    rd_scene *device = NULL;
    if (rd_scene_load_with(ctx, path, &(rd_scene_load_desc){.memory = RD_MEMORY_DEVICE}, &device) != RD_OK) abort();
    if (rd_scene_get_kind(host) == RD_SCENE_GAUSSIANS) {
        rd_scene_desc a = rd_scene_arrays(host), b = rd_scene_arrays(device);
        size_t n = (size_t)a.count, sh = 3 * n * (size_t)(a.sh_degree + 1) * (size_t)(a.sh_degree + 1);
        if (a.count != b.count || a.sh_degree != b.sh_degree || a.flags != b.flags ||
            (n && (memcmp(a.means, b.means, 12 * n) || memcmp(a.log_scales, b.log_scales, 12 * n) ||
                   memcmp(a.rotations, b.rotations, 16 * n) || memcmp(a.opacities, b.opacities, 4 * n) ||
                   memcmp(a.sh, b.sh, 4 * sh))))
            abort();
    }
    rd_scene_destroy(device);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_context *ctx = fuzz_context();
    if (!ctx || size < 1) return 0;
    int pick = data[0] == '8' ? 7 : data[0] == '9' ? 8 : data[0] % 7;
    const char *path;
    bool compact = size >= 1 + 24 && memcmp(data + 1, "RDCOMPCT", 8) == 0;
    if (compact) {
        size_t n = size - 1;
        unsigned char *copy = malloc(n);
        if (!copy) return 0;
        memcpy(copy, data + 1, n);
        fuzz_fix_checksum(copy, n);
        path = fuzz_file(names[pick], copy, n);
        free(copy);
    } else {
        path = fuzz_file(names[pick], data + 1, size - 1);
    }
    rd_scene *scene = NULL;
    if (!path || rd_scene_load(ctx, path, &scene) != RD_OK) return 0;
    if (compact) same_on_device(ctx, path, scene);
    static const char *const outs[] = {"out.ply", "out.spz", "out.splat", "out.compressed.ply", "out.glb", "out.gltf", "out.sog",
                                       "out_sog/meta.json", "out.rcompact"};
    for (int k = 0; k < 9; k++) {
        const char *out = fuzz_file(outs[k], NULL, 0);
        if (out) rd_scene_save(ctx, scene, out, NULL);
    }
    rd_scene_destroy(scene);
    return 0;
}
