/* feature_modes.c: see feature_modes.h. */
#include "feature_modes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vw_features_close(vw_features *f)
{
    rd_feature_field_destroy(f->field);
    free(f->queries), free(f->negatives), free(f->features), free(f->alpha), free(f->relevancy), free(f->color);
    memset(f, 0, sizeof *f);
}

static bool failed(vw_features *f, rd_context *ctx, const char *what)
{
    snprintf(f->message, sizeof f->message, "%s: %s", what, rd_last_error(ctx));
    rd_feature_field_destroy(f->field);
    f->field = NULL;
    return false;
}

bool vw_features_open(vw_features *f, rd_context *ctx, const rd_scene *scene, const char *scene_path, const char *field_path,
                      const char *embeddings, const char *negatives)
{
    vw_features_close(f);
    char beside[4096];
    if (!field_path && (!scene_path || !rd_feature_path_beside(scene_path, beside, sizeof beside))) {
        snprintf(f->message, sizeof f->message, "no feature field (--features FILE.rfeat)");
        return false;
    }
    if (rd_feature_field_load(ctx, field_path ? field_path : beside, &f->field) != RD_OK) return failed(f, ctx, "features");
    rd_feature_field_get_info(f->field, &f->info);
    rd_scene_info scene_info;
    rd_scene_get_info(scene, &scene_info);
    if (f->info.count != scene_info.count) {
        snprintf(f->message, sizeof f->message, "the feature field has %lld Gaussians, the scene %lld", (long long)f->info.count,
                 (long long)scene_info.count);
        rd_feature_field_destroy(f->field), f->field = NULL;
        return false;
    }
    int64_t rows = 0, cols = 0;
    if (embeddings && rd_npy_load_matrix(ctx, embeddings, &rows, &cols, &f->queries) != RD_OK) { /* the PCA mode still works */
        snprintf(f->message, sizeof f->message, "embeddings: %s", rd_last_error(ctx));
        return true;
    }
    if (embeddings && cols != f->info.dim) {
        snprintf(f->message, sizeof f->message, "%s: %lld dimensions, the field's features %d", embeddings, (long long)cols, f->info.dim);
        free(f->queries), f->queries = NULL;
        return true; /* the PCA mode still works */
    }
    f->query_count = (int)(rows < 4096 ? rows : 4096);
    if (negatives && rd_npy_load_matrix(ctx, negatives, &rows, &cols, &f->negatives) == RD_OK && cols == f->info.dim) {
        f->negative_count = (int)(rows < 4096 ? rows : 4096);
    } else {
        if (negatives) /* said, as the relevancy then means another thing */
            snprintf(f->message, sizeof f->message, "%s: not negatives of %d dimensions; relevancy against the zero vector", negatives,
                     f->info.dim);
        free(f->negatives);
        f->negatives = calloc((size_t)f->info.dim, sizeof(float));
        f->negative_count = 1;
    }
    return true;
}

bool vw_features_render(vw_features *f, rd_context *ctx, const rd_scene *scene, const rd_camera *cam, bool relevancy, int level,
                        int query, const float *rgba_under)
{
    if (!f->field) return false;
    if (relevancy && !f->query_count) {
        snprintf(f->message, sizeof f->message, "no query embeddings (--embeddings Q.npy)");
        return false;
    }
    size_t pixels = (size_t)cam->width * cam->height;
    if (pixels > f->pixels) {
        free(f->features), free(f->alpha), free(f->relevancy), free(f->color);
        f->features = malloc(pixels * (size_t)f->info.dim * sizeof(float));
        f->alpha = malloc(pixels * sizeof(float)), f->relevancy = malloc(pixels * sizeof(float));
        f->color = malloc(pixels * 4 * sizeof(float));
        f->pixels = f->features && f->alpha && f->relevancy && f->color ? pixels : 0;
        if (!f->pixels) return snprintf(f->message, sizeof f->message, "out of memory for the feature maps"), false;
    }
    rd_feature_render_desc desc = {.level = level < 1 ? 1 : level > f->info.levels ? f->info.levels : level};
    rd_feature_target target = {.alpha = f->alpha};
    if (relevancy) {
        int q = ((query % f->query_count) + f->query_count) % f->query_count;
        desc.queries = f->queries + (size_t)q * f->info.dim, desc.query_count = 1;
        desc.negatives = f->negatives, desc.negative_count = f->negative_count;
        target.relevancy = f->relevancy, target.query_levels = f->levels;
    } else {
        target.features = f->features;
    }
    if (rd_render_features(ctx, scene, f->field, cam, &desc, &target) != RD_OK) {
        snprintf(f->message, sizeof f->message, "features: %s", rd_last_error(ctx));
        return false;
    }
    /* the PCA's colours packed as RGB at the front of color, spread to RGBA from the back */
    if (!relevancy && rd_feature_pca_colors(f->features, f->alpha, (int64_t)pixels, f->info.dim, f->color) != RD_OK)
        return snprintf(f->message, sizeof f->message, "out of memory for the PCA"), false;
    for (size_t p = pixels; p-- > 0;) {
        float c[3];
        if (relevancy) {
            float grey = 0.299f * rgba_under[4 * p] + 0.587f * rgba_under[4 * p + 1] + 0.114f * rgba_under[4 * p + 2];
            rd_relevancy_color(f->relevancy[p], c);
            for (int k = 0; k < 3; k++) f->color[4 * p + k] = 0.4f * grey + 0.6f * c[k];
        } else {
            memcpy(c, f->color + 3 * p, sizeof c);
            memcpy(f->color + 4 * p, c, sizeof c);
        }
        f->color[4 * p + 3] = 1.0f;
    }
    f->message[0] = '\0';
    return true;
}
