/* test_nerf_reachable.c: the hash table entries a NeRF's renderer can read
   (nerf/reachable.h) and the snapshot that stores only them. On a field whose occupancy
   grid holds a small ball in the inner cascade and a slab in the outer one: every corner
   that random points in occupied cells read is marked; the marked entries are a fraction
   of the table; poisoning every unmarked entry with NaN changes no rendered bit, from
   outside the field or inside it; the snapshot holds only the marked entries (its size
   says so), loads to the same renders, refuses a bitmap that disagrees with its
   configuration, and a version 1 snapshot (every entry) still loads. */
#include "nerf_boxes.h"
#include "../nerf/reachable.h"
#include "../nerf/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;
static test_rng rng;

enum { SIZE = 32, VIEWS = 4 };

/* Cells of cascade 0 within 0.06 of (0.4, 0.55, 0.5), and of cascade 1 a slab 4 cells
   thick at its low x face (outside cascade 0's cube, so cascade 1's). */
static bool chosen(int c, const int i[3])
{
    if (c == 0) {
        float d2 = 0.0f, centre[3] = {0.4f, 0.55f, 0.5f};
        for (int a = 0; a < 3; a++) {
            float p = ((float)i[a] + 0.5f) / RD_OCCUPANCY_SIDE - centre[a];
            d2 += p * p;
        }
        return d2 < 0.06f * 0.06f;
    }
    return i[0] < 4 && i[1] >= 50 && i[1] < 70 && i[2] >= 60 && i[2] < 64;
}

static void occupy_some(rd_occupancy *g)
{
    for (int c = 0; c < g->cascades; c++)
        for (int k = 0; k < RD_OCCUPANCY_CELLS; k++) {
            int i[3] = {k % RD_OCCUPANCY_SIDE, k / RD_OCCUPANCY_SIDE % RD_OCCUPANCY_SIDE, k / (RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE)};
            g->thickness[(int64_t)c * RD_OCCUPANCY_CELLS + k] = chosen(c, i) ? 1.0f : 0.0f;
        }
    rd_occupancy_rebuild_bits(g);
}

/* Every corner that random points in occupied cells read is marked. */
static void test_points_read_marked(const rd_nerf_scene *s, const uint8_t *marks)
{
    const rd_hashgrid *g = &s->field.grid;
    int64_t cells = (int64_t)s->occupancy.cascades * RD_OCCUPANCY_CELLS, occupied = 0, unmarked = 0, tried = 0;
    int64_t *list = malloc(sizeof(int64_t) * (size_t)cells);
    for (int64_t k = 0; k < cells; k++)
        if (s->occupancy.bits[0][k]) list[occupied++] = k;
    for (int draw = 0; occupied && draw < 50000; draw++) {
        int64_t pick = list[(int64_t)(rng_uniform(&rng) * (double)occupied)];
        int c = (int)(pick / RD_OCCUPANCY_CELLS), k = (int)(pick % RD_OCCUPANCY_CELLS);
        int i[3] = {k % RD_OCCUPANCY_SIDE, k / RD_OCCUPANCY_SIDE % RD_OCCUPANCY_SIDE, k / (RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE)};
        float p[3];
        for (int a = 0; a < 3; a++)
            p[a] = 0.5f + (((float)i[a] + (float)rng_uniform(&rng)) / RD_OCCUPANCY_SIDE - 0.5f) * (float)(1 << c);
        tried++;
        for (int l = 0; l < g->levels; l++) {
            uint32_t corner[3];
            float fraction[3];
            for (int a = 0; a < 3; a++) rd_hashgrid_locate(g, l, p[a], &corner[a], &fraction[a]);
            for (int q = 0; q < 8; q++) {
                uint32_t e = rd_hashgrid_index(g, l, corner[0] + (q & 1), corner[1] + (q >> 1 & 1), corner[2] + (q >> 2 & 1));
                unmarked += !marks[g->offset[l] + e];
            }
        }
    }
    free(list);
    CHECK(tried == 50000 && occupied > 100);
    if (!CHECK(unmarked == 0)) fprintf(stderr, "  %lld corners read by points in occupied cells are unmarked\n", (long long)unmarked);
}

static void render_views(const rd_scene *scene, float *out)
{
    for (int v = 0; v < VIEWS; v++) {
        rd_camera cam = v < VIEWS - 1 ? nerf_boxes_camera(v, VIEWS - 1, 0.3f * (float)v - 0.3f, SIZE)
                                      : rd_camera_look_at((float[3]){-0.3f, 0.1f, 0.0f}, (float[3]){1, 0.2f, 0}, (float[3]){0, 1, 0},
                                                          SIZE, SIZE, 70.0f); /* inside the field */
        float *color = out + (size_t)v * 4 * SIZE * SIZE;
        CHECK_OK(rd_render(ctx, scene, &cam, &(rd_render_desc){0}, &(rd_framebuffer){.color = color}));
    }
}

static void test_snapshot_formats(const char *dir, rd_nerf_scene *s, const float *expected, int64_t stored);

int main(void)
{
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    rng.state = test_seed("test_nerf_reachable");
    const char *dir = test_temp_dir("nerf_reachable");
    rd_nerf_desc desc = nerf_boxes_desc(NULL, 0, 0).field;
    desc.aabb_scale = 2, desc.seed = 3;
    rd_scene *scene = NULL;
    CHECK_OK(rd_nerf_create(ctx, &desc, &scene));
    rd_nerf_scene *s = (rd_nerf_scene *)scene;
    /* a table far from its 1e-4 start, so that renders show it */
    for (int64_t e = 0; e < s->field.density_offset; e++) s->params[e] = (float)(rng_uniform(&rng) * 4.0 - 2.0);
    occupy_some(&s->occupancy);
    const rd_hashgrid *g = &s->field.grid;
    uint8_t *marks = malloc((size_t)g->entries);
    int64_t count = -1;
    CHECK_OK(rd_nerf_reachable_entries(ctx, g, &s->occupancy, marks, &count));
    int64_t recount = 0;
    for (int64_t e = 0; e < g->entries; e++) recount += marks[e];
    CHECK(recount == count && count > 0);
    if (!CHECK(count < g->entries / 2)) fprintf(stderr, "  %lld of %lld entries marked\n", (long long)count, (long long)g->entries);
    test_points_read_marked(s, marks);

    size_t floats = (size_t)VIEWS * 4 * SIZE * SIZE;
    float *before = malloc(sizeof(float) * floats), *after = malloc(sizeof(float) * floats);
    render_views(scene, before);
    bool drawn = false;
    for (size_t k = 3; k < floats; k += 4) drawn |= before[k] > 0.01f;
    CHECK(drawn); /* the views see the occupied cells */
    for (int64_t e = 0; e < g->entries; e++)
        if (!marks[e])
            for (int f = 0; f < g->features; f++) s->params[e * g->features + f] = NAN;
    render_views(scene, after);
    CHECK(memcmp(before, after, sizeof(float) * floats) == 0);

    test_snapshot_formats(dir, s, before, count);
    free(marks), free(before), free(after);
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return test_finish("test_nerf_reachable");
}

/* ---- the snapshot ---- */



static void expect_renders(const char *path, const float *expected)
{
    rd_scene *back = NULL;
    CHECK_OK(rd_scene_load(ctx, path, &back));
    if (!back) return;
    size_t floats = (size_t)VIEWS * 4 * SIZE * SIZE;
    float *got = malloc(sizeof(float) * floats);
    render_views(back, got);
    if (!CHECK(memcmp(got, expected, sizeof(float) * floats) == 0)) fprintf(stderr, "  %s renders otherwise\n", path);
    free(got);
    rd_scene_destroy(back);
}

/* Version 1 of s (every parameter, no bitmap; unmarked entries 0 as a load makes them). */
static const char *write_version1(const char *dir, const rd_nerf_scene *s, const unsigned char *v2)
{
    uint32_t json_bytes;
    memcpy(&json_bytes, v2 + 12, 4);
    char *json = strndup((const char *)v2 + 16, json_bytes);
    char *cut = strstr(json, ",\"table_entries\"");
    if (cut) strcpy(cut, "}");
    size_t jn = strlen(json), bits = (size_t)s->occupancy.cascades * RD_OCCUPANCY_CELLS / 8;
    size_t n = 16 + jn + 4 * (size_t)s->field.params + bits + 8;
    unsigned char *f = calloc(1, n);
    uint32_t version = 1, j = (uint32_t)jn;
    memcpy(f, v2, 8), memcpy(f + 8, &version, 4), memcpy(f + 12, &j, 4), memcpy(f + 16, json, jn);
    memcpy(f + 16 + jn, s->params, 4 * (size_t)s->field.params);
    for (int64_t i = 0; i < s->field.grid.entries * s->field.grid.features; i++) {
        float v;
        memcpy(&v, f + 16 + jn + 4 * i, 4);
        if (isnan(v)) memset(f + 16 + jn + 4 * i, 0, 4);
    }
    for (int64_t i = 0; i < (int64_t)bits * 8; i++) f[16 + jn + 4 * (size_t)s->field.params + i / 8] |= (unsigned char)(s->occupancy.bits[0][i] << (i % 8));
    uint64_t sum = test_fnv1a(f, n - 8);
    memcpy(f + n - 8, &sum, 8);
    const char *path = write_file(dir, "version1.rnerf", f, n);
    free(f), free(json);
    return path;
}

static void test_snapshot_formats(const char *dir, rd_nerf_scene *s, const float *expected, int64_t stored)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/sparse.rnerf", dir);
    CHECK_OK(rd_scene_save(ctx, (rd_scene *)s, path, NULL)); /* the unmarked entries are NaN: none may be written */
    size_t size = 0;
    unsigned char *good = read_file(path, &size);
    if (!CHECK(good != NULL)) return;
    uint32_t json_bytes;
    memcpy(&json_bytes, good + 12, 4);
    const rd_nerf_field *f = &s->field;
    size_t values = (size_t)(f->params - (f->grid.entries - stored) * f->grid.features);
    size_t bytes = 16 + json_bytes + (size_t)(f->grid.entries + 7) / 8 + 4 * values + (size_t)s->occupancy.cascades * RD_OCCUPANCY_CELLS / 8 + 8;
    if (!CHECK(size == bytes)) fprintf(stderr, "  %zu bytes, expected %zu\n", size, bytes);
    CHECK(size < 16 + json_bytes + 4 * (size_t)f->params); /* smaller than the whole table */
    int64_t said_params = 0, said_bytes = 0;
    CHECK_OK(rd_nerf_snapshot_size(ctx, (rd_scene *)s, &said_params, &said_bytes));
    CHECK(said_params == (int64_t)values && said_bytes == (int64_t)size);
    expect_renders(path, expected);
    rd_scene *back = NULL;
    CHECK_OK(rd_scene_load(ctx, path, &back));
    if (back) { /* stored entries as they were, the others 0 */
        const float *p = ((rd_nerf_scene *)back)->params;
        bool same = true;
        for (int64_t i = 0; i < f->params; i++) same &= isnan(s->params[i]) ? p[i] == 0.0f : p[i] == s->params[i];
        CHECK(same);
    }
    rd_scene_destroy(back);

    /* a bitmap that marks one entry more than the configuration says */
    unsigned char *bad = malloc(size);
    memcpy(bad, good, size);
    size_t at = 16 + json_bytes;
    while (bad[at] == 0xff) at++;
    for (int b = 0; b < 8; b++)
        if (!(bad[at] >> b & 1)) {
            bad[at] |= (unsigned char)(1u << b);
            break;
        }
    uint64_t sum = test_fnv1a(bad, size - 8);
    memcpy(bad + size - 8, &sum, 8);
    rd_scene *none = NULL;
    CHECK(rd_scene_load(ctx, write_file(dir, "bitmap.rnerf", bad, size), &none) == RD_ERROR_FORMAT && !none);
    CHECK(strstr(rd_last_error(ctx), "bitmap.rnerf") && strstr(rd_last_error(ctx), "table_entries_stored"));
    free(bad);

    expect_renders(write_version1(dir, s, good), expected);
    free(good);
}
