/* fuzz_features.c: the feature fields' readers, as a user reaches them. The first byte
   picks: 'f', a .rfeat file (its checksum made right first, so that the checks behind it
   are reached), rendered with its relevancy once where it loads over a scene of its
   count; anything else, LangSplat's language_features pair for one 8x6 image: a
   little-endian 16-bit length cuts the rest into <stem>_f.npy and <stem>_s.npy. */
#include "fuzz_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void render(rd_context *ctx, const rd_feature_field *field)
{
    rd_feature_field_info info;
    rd_feature_field_get_info(field, &info);
    if (info.count < 1 || info.count > 4096) return;
    rd_scene *scene = NULL;
    if (rd_scene_create_demo(ctx, &(rd_demo_desc){.count = info.count}, &scene) != RD_OK) return;
    rd_camera cam;
    float *query = calloc((size_t)info.dim, sizeof(float)), relevancy[8 * 6];
    int level;
    if (query && rd_scene_orbit_cameras(scene, 1, 8, 6, &cam) == RD_OK) {
        query[0] = 1.0f;
        rd_feature_render_desc desc = {.queries = query, .query_count = 1, .negatives = query, .negative_count = 1};
        rd_render_features(ctx, scene, field, &cam, &desc, &(rd_feature_target){.relevancy = relevancy, .query_levels = &level});
    }
    free(query);
    rd_scene_destroy(scene);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_context *ctx = fuzz_context();
    if (!ctx || size < 3) return 0;
    if (data[0] == 'f') {
        uint8_t *copy = malloc(size - 1);
        if (!copy) return 0;
        memcpy(copy, data + 1, size - 1);
        if (size - 1 >= 16) fuzz_fix_checksum(copy, size - 1);
        const char *path = fuzz_file("field.rfeat", copy, size - 1);
        free(copy);
        rd_feature_field *field = NULL;
        if (path && rd_feature_field_load(ctx, path, &field) == RD_OK) render(ctx, field);
        rd_feature_field_destroy(field);
        return 0;
    }
    size_t cut = (size_t)data[1] | (size_t)data[2] << 8, rest = size - 3;
    if (cut > rest) cut = rest;
    if (!fuzz_file("lf/x_f.npy", data + 3, cut) || !fuzz_file("lf/x_s.npy", data + 3 + cut, rest - cut)) return 0;
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/lf", fuzz_dir());
    rd_language_features lf;
    if (rd_language_features_load(ctx, folder, "x", 8, 6, 1, &lf) == RD_OK) rd_language_features_free(&lf);
    return 0;
}
