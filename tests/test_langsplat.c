#define _GNU_SOURCE /* memmem */
/* test_langsplat.c: LangSplat's per-image mask files (x_f.npy, the masks' features; x_s.npy,
   four planes of mask ids), as the feature fields' evaluation reads them
   (rd_language_features_load, splat/feature_trainer.h): float and int32 maps, a
   downscaled read, and every file that does not fit refused, naming the file and the
   problem. */
#include "test_util.h"
#include "../datasets/npy.h"
#include "../splat/feature_trainer.h"

#include <stdlib.h>
#include <string.h>

/* LangSplat files that do not fit are refused, naming the file and the problem. */
static void expect_langsplat(rd_context *ctx, const char *dir, const char *words)
{
    rd_language_features lf;
    CHECK_FAILS(rd_language_features_load(ctx, dir, "x", 4, 3, 1, &lf), RD_ERROR_FORMAT);
    bool named = strstr(rd_last_error(ctx), words) != NULL;
    CHECK(named);
    if (!named) printf("  LangSplat error \"%s\" lacks \"%s\"\n", rd_last_error(ctx), words);
}

static void test_langsplat_files(void)
{
    rd_context *ctx;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    const char *dir = test_temp_dir("test_features_langsplat");
    char f_path[512], s_path[512];
    snprintf(f_path, sizeof f_path, "%s/x_f.npy", dir);
    snprintf(s_path, sizeof s_path, "%s/x_s.npy", dir);
    float rows[3 * 2] = {1, 0, 0, 1, 0.6f, 0.8f}, planes[4 * 3 * 4];
    for (int k = 0; k < 48; k++) planes[k] = (float)(k % 4) - 1.0f; /* -1, 0, 1, 2 */
    int32_t ints[48];
    for (int k = 0; k < 48; k++) ints[k] = (int32_t)planes[k];
    CHECK_OK(rd_npy_save(ctx, f_path, rows, NULL, 2, (const int64_t[]){3, 2}));
    CHECK_OK(rd_npy_save(ctx, s_path, planes, NULL, 3, (const int64_t[]){4, 3, 4}));
    rd_language_features lf;
    CHECK_OK(rd_language_features_load(ctx, dir, "x", 4, 3, 1, &lf));
    CHECK(lf.mask_count == 3 && lf.dim == 2 && lf.masks[0] == -1 && lf.masks[3] == 2 && lf.masks[12] == -1);
    rd_language_features_free(&lf);
    CHECK_OK(rd_npy_save(ctx, s_path, NULL, ints, 3, (const int64_t[]){4, 3, 4})); /* int32 maps read the same */
    CHECK_OK(rd_language_features_load(ctx, dir, "x", 4, 3, 1, &lf));
    CHECK(lf.masks[1] == 0 && lf.masks[2] == 1);
    rd_language_features_free(&lf);
    CHECK_OK(rd_language_features_load(ctx, dir, "x", 2, 1, 2, &lf)); /* half the size (rounded down): 2x2 blocks' centres */
    CHECK(lf.width == 2 && lf.height == 1 && lf.masks[0] == (int32_t)planes[12 + 1 * 4 + 1]);
    rd_language_features_free(&lf);
    CHECK_FAILS(rd_language_features_load(ctx, dir, "x", 5, 3, 1, &lf), RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(ctx), "x_s.npy: the maps are 4x3, the image 5x3") != NULL);
    planes[20] = 3.0f; /* past the 3 rows of _f */
    CHECK_OK(rd_npy_save(ctx, s_path, planes, NULL, 3, (const int64_t[]){4, 3, 4}));
    expect_langsplat(ctx, dir, "x_s.npy: plane 1, pixel (0, 2): 3 is not a mask row");
    CHECK_OK(rd_npy_save(ctx, s_path, planes, NULL, 2, (const int64_t[]){12, 4}));
    expect_langsplat(ctx, dir, "x_s.npy: shape: expected [4, H, W]");
    CHECK_OK(rd_npy_save(ctx, f_path, NULL, (const int32_t[]){1, 2, 3, 4, 5, 6}, 2, (const int64_t[]){3, 2}));
    expect_langsplat(ctx, dir, "x_f.npy: dtype int32: mask features must be floats");
    CHECK_OK(rd_npy_save(ctx, f_path, rows, NULL, 1, (const int64_t[]){6}));
    expect_langsplat(ctx, dir, "x_f.npy: shape: expected [masks, dim]");
    size_t size;
    CHECK_OK(rd_npy_save(ctx, f_path, rows, NULL, 2, (const int64_t[]){3, 2}));
    unsigned char *bytes = read_file(f_path, &size);
    write_file(dir, "x_f.npy", bytes, size - 5); /* truncated */
    expect_langsplat(ctx, dir, "x_f.npy: shape needs 24 bytes of data, the file holds 19");
    char *descr = memmem(bytes, size, "<f4", 3);
    if (descr) descr[0] = '>', write_file(dir, "x_f.npy", bytes, size); /* big-endian */
    expect_langsplat(ctx, dir, "descr: expected little-endian");
    free(bytes);
    CHECK_FAILS(rd_language_features_load(ctx, "/nonexistent", "x", 4, 3, 1, &lf), RD_ERROR_IO);
    rd_context_destroy(ctx);
}

int main(void)
{
    test_langsplat_files();
    return test_finish("test_langsplat");
}
