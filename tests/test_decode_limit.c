/* test_decode_limit.c: the decode limit (rd_context_desc.decode_limit): real scene files
   decode to less than RD_DECODE_LIMIT_RATIO times their size; a file that claims more
   than the limit allows is refused with RD_ERROR_LIMIT naming the file, before anything
   is allocated for it; a caller's limit lowers or raises the default, and a negative one
   removes it. */
#define _GNU_SOURCE /* memmem */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *dir;

static uint64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static rd_context *context(int64_t limit)
{
    rd_context *ctx = NULL;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log, .decode_limit = limit}, &ctx));
    return ctx;
}

/* The bytes a loaded scene's arrays hold: what the limit bounds. */
static uint64_t scene_bytes(const rd_scene *s)
{
    rd_scene_info info;
    rd_scene_get_info(s, &info);
    return (uint64_t)info.count * (11u + 3u * (uint64_t)((info.sh_degree + 1) * (info.sh_degree + 1))) * 4u;
}

static void expect_limit(rd_result r, rd_context *ctx, const char *path, int line)
{
    check_result_at(r, RD_ERROR_LIMIT, path, __FILE__, line);
    const char *msg = rd_last_error(ctx);
    if (!check_at(strstr(msg, path) && strstr(msg, "decode limit"), "the message names the file and the limit", __FILE__, line))
        fprintf(stderr, "  message: %s\n", msg);
}

/* A scene in every format radiant writes: the default limit loads each, and its scene is
   within the ratio; a limit of 1 KiB refuses each; no limit loads each. */
static void test_scene_formats(void)
{
    rd_context *ctx = context(0), *tight = context(1024), *none = context(-1);
    test_rng rng = {27};
    rd_scene_desc desc = random_scene(&rng, &(random_scene_desc){.count = 2000, .sh_degree = 3});
    rd_scene *scene = NULL;
    CHECK_OK(rd_scene_create(ctx, &desc, &scene));
    static const char *names[] = {"s.ply", "s.compressed.ply", "s.spz", "s.splat"};
    for (int k = 0; k < 4; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        CHECK_OK(rd_scene_save(ctx, scene, path, NULL));
        rd_scene *loaded = NULL;
        if (CHECK_OK(rd_scene_load(ctx, path, &loaded)))
            CHECK(scene_bytes(loaded) <= RD_DECODE_LIMIT_RATIO * file_size(path));
        rd_scene_destroy(loaded);
        loaded = (rd_scene *)0x1;
        expect_limit(rd_scene_load(tight, path, &loaded), tight, path, __LINE__);
        CHECK(loaded == NULL);
        if (CHECK_OK(rd_scene_load(none, path, &loaded))) CHECK(rd_scene_arrays(loaded).count == 2000);
        rd_scene_destroy(loaded);
    }
    rd_scene_destroy(scene);
    random_scene_free(&desc);
    rd_context_destroy(ctx);
    rd_context_destroy(tight);
    rd_context_destroy(none);
}

/* Other tools' files (../shared/data): each decodes to less than the ratio times its size. */
static void test_real_files(void)
{
    const char *data = test_data_dir();
    if (!data) {
        printf("decode_limit: ../shared/data absent: other tools' files not checked\n");
        return;
    }
    static const char *files[] = {"playcanvas/biker.spz", "playcanvas/biker.compressed.ply", "playcanvas/guitar.compressed.ply",
                                  "gshairlod_donut/fused.ply", "splat_transform_fixtures/minimal.ksplat",
                                  "splat_transform_fixtures/minimal-v2.spz", "splat_transform_fixtures/minimal.splat"};
    rd_context *ctx = context(0);
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/gaussian_splats/%s", data, files[k]);
        rd_scene *s = NULL;
        if (!CHECK_OK(rd_scene_load(ctx, path, &s))) continue;
        double ratio = (double)scene_bytes(s) / (double)file_size(path);
        printf("decode_limit: %s decodes to %.2f times its size\n", files[k], ratio);
        CHECK(ratio <= RD_DECODE_LIMIT_RATIO);
        rd_scene_destroy(s);
    }
    rd_context_destroy(ctx);
}

static void put_be32(unsigned char *p, uint32_t v) { for (int b = 0; b < 4; b++) p[b] = (unsigned char)(v >> (24 - 8 * b)); }

/* A 45-byte PNG (IHDR, IEND) whose header claims 16000 x 16000 RGB pixels (2.9 GiB as
   floats): refused by the default limit before stb decodes anything. */
static void test_image_bomb(void)
{
    unsigned char png[45] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'};
    memcpy(png + 33, "\0\0\0\0IEND\xae\x42\x60\x82", 12);
    put_be32(png + 16, 16000), put_be32(png + 20, 16000);
    png[24] = 8, png[25] = 2; /* 8 bits, RGB */
    char path[1024];
    snprintf(path, sizeof path, "%s", write_file(dir, "bomb.png", png, sizeof png));
    rd_context *ctx = context(0);
    rd_image img;
    expect_limit(rd_image_load(ctx, path, &img), ctx, path, __LINE__);
    CHECK(img.pixels == NULL);
    rd_context_destroy(ctx);
}

/* An EXR written by radiant, its dataWindow then made to claim 40000 x 40000 pixels. */
static void test_exr_bomb(void)
{
    rd_context *ctx = context(0);
    rd_image img;
    CHECK_OK(rd_image_alloc(8, 8, 4, &img));
    memset(img.pixels, 0, 8 * 8 * 4 * sizeof(float));
    char path[1024];
    snprintf(path, sizeof path, "%s/small.exr", dir);
    CHECK_OK(rd_image_save(ctx, path, &img));
    rd_image_free(&img);
    FILE *f = fopen(path, "rb");
    unsigned char bytes[4096];
    size_t n = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    if (f) fclose(f);
    static const char key[] = "dataWindow\0box2i";
    unsigned char *at = memmem(bytes, n, key, sizeof key);
    if (!CHECK(at != NULL)) return;
    unsigned char *box = at + sizeof key + 4; /* after the attribute's size: xmin ymin xmax ymax */
    for (int c = 2; c < 4; c++)
        for (int b = 0; b < 4; b++) box[4 * c + b] = (unsigned char)(39999u >> (8 * b));
    snprintf(path, sizeof path, "%s", write_file(dir, "bomb.exr", bytes, n));
    expect_limit(rd_image_load(ctx, path, &img), ctx, path, __LINE__);
    rd_context_destroy(ctx);
}

int main(void)
{
    dir = test_temp_dir("decode_limit");
    test_scene_formats();
    test_real_files();
    test_image_bomb();
    test_exr_bomb();
    return test_finish("decode_limit");
}
