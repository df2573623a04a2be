/* language_features.c: LangSplat's preprocessed masks of one image (radiant_features.h,
   spec/features.md): <stem>_f.npy holds each mask's embedding, <stem>_s.npy four planes of
   per-pixel mask rows (default, s, m, l; plane 0 is unused). Both are checked whole before
   anything is kept: shapes, dtypes, every index, the image size. */
#include "npy.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rd_language_features_free(rd_language_features *lf)
{
    if (!lf) return;
    free(lf->masks);
    free(lf->features);
    memset(lf, 0, sizeof *lf);
}

/* _f.npy: [M, D] float32 (float16 and float64 accepted), finite. */
static rd_result load_rows(rd_context *ctx, const char *path, const rd_npy *np, rd_language_features *lf)
{
    rd_npy a = *np;
    if (a.type == RD_NPY_I32 || a.type == RD_NPY_I64)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: dtype %s: mask features must be floats (float32 as LangSplat writes them)", path,
                       rd_npy_type_name(a.type));
    if (a.rank != 2 || a.shape[0] < 1 || a.shape[0] > (1 << 20) || a.shape[1] < 1 || a.shape[1] > RD_FEATURE_MAX_DIM)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: shape: expected [masks, dim] with 1..1048576 masks and dim 1..%d", path,
                       RD_FEATURE_MAX_DIM);
    lf->mask_count = (int)a.shape[0], lf->dim = (int)a.shape[1];
    if ((lf->features = rd_alloc_array(a.count, sizeof(float))) == NULL) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (int64_t i = 0; i < a.count; i++) {
        lf->features[i] = (float)rd_npy_get(&a, i);
        if (!isfinite(lf->features[i]))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: mask %lld: value %lld is not finite", path, (long long)(i / lf->dim),
                           (long long)(i % lf->dim));
    }
    return RD_OK;
}

/* _s.npy: [4, H, W] of whole numbers in [-1, M), H and W the image's; planes 1-3 sampled. */
static rd_result load_maps(rd_context *ctx, const char *path, const rd_npy *np, int width, int height, int downscale,
                           rd_language_features *lf)
{
    rd_npy a = *np;
    if (a.type == RD_NPY_F16) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: dtype float16: index maps are float32 or int32", path);
    int64_t H = a.rank == 3 ? a.shape[1] : 0, W = a.rank == 3 ? a.shape[2] : 0;
    if (a.rank != 3 || a.shape[0] != 4)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: shape: expected [4, H, W] (LangSplat's default, s, m, l planes), found a %d-D array", path,
                       a.rank);
    if (W / downscale != width || H / downscale != height) /* a downscaled image drops the last W % downscale columns */
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the maps are %lldx%lld, the image %dx%d%s", path, (long long)W, (long long)H,
                       width * downscale, height * downscale, downscale > 1 ? " (before downscaling)" : "");
    lf->width = width, lf->height = height;
    size_t pixels = (size_t)width * (size_t)height;
    if ((lf->masks = rd_alloc_array(3 * (int64_t)pixels, sizeof(int32_t))) == NULL)
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (int plane = 1; plane < 4; plane++)
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++) {
                int64_t sy = (int64_t)y * downscale + downscale / 2, sx = (int64_t)x * downscale + downscale / 2;
                double v = rd_npy_get(&a, ((int64_t)plane * H + sy) * W + sx);
                if (!(v >= -1.0 && v < (double)lf->mask_count) || v != floor(v))
                    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: plane %d, pixel (%lld, %lld): %g is not a mask row (-1 or 0..%d of the "
                                   "_f.npy beside it)", path, plane, (long long)sx, (long long)sy, v, lf->mask_count - 1);
                lf->masks[(size_t)(plane - 1) * pixels + (size_t)y * width + x] = (int32_t)v;
            }
    return RD_OK;
}

rd_result rd_language_features_load(rd_context *ctx, const char *folder, const char *stem, int width, int height, int downscale,
                                    rd_language_features *out)
{
    memset(out, 0, sizeof *out);
    if (!folder || !stem || width < 1 || height < 1 || downscale < 1 || downscale > 16)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_language_features_load: folder, stem, size or downscale is not valid");
    char path[4096];
    char *data = NULL;
    rd_npy a;
    snprintf(path, sizeof path, "%s/%s_f.npy", folder, stem);
    rd_result r = rd_npy_read(ctx, path, &data, &a);
    if (r == RD_OK) r = load_rows(ctx, path, &a, out);
    free(data);
    data = NULL;
    snprintf(path, sizeof path, "%s/%s_s.npy", folder, stem);
    if (r == RD_OK) r = rd_npy_read(ctx, path, &data, &a);
    if (r == RD_OK) r = load_maps(ctx, path, &a, width, height, downscale, out);
    free(data);
    if (r != RD_OK) rd_language_features_free(out);
    return r;
}
