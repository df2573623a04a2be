/* feature_modes.h: the viewer's feature modes (feature_modes.c): a feature field shown over the
   scene as the PCA colouring of a level's unit features, or the relevancy of one query
   embedding as a heat map over the greyed render. Rendered by the viewer's context
   (Vulkan blends the coefficients, the host decodes) into host memory. */
#ifndef VW_FEATURE_MODES_H
#define VW_FEATURE_MODES_H

#include "radiant.h"

#include <stdbool.h>

typedef struct vw_features {
    rd_feature_field *field;     /* NULL: no field for the current scene */
    rd_feature_field_info info;
    float *queries, *negatives;  /* --embeddings, --negatives (a zero vector where not given) */
    int query_count, negative_count;
    int levels[1];               /* the last relevancy's level */
    float *features, *alpha, *relevancy, *color;
    size_t pixels;
    char message[300];           /* why the modes show nothing, when they do not */
} vw_features;

/* The field beside scene_path (or field_path), and the embeddings; false (message set)
   where the field cannot be had; queries are optional. */
bool vw_features_open(vw_features *f, rd_context *ctx, const rd_scene *scene, const char *scene_path, const char *field_path,
                      const char *embeddings, const char *negatives);
void vw_features_close(vw_features *f);
/* The PCA colouring of level (1-based; clamped to the field's) or, with relevancy, query's
   heat map over rgba_under (the render, float RGBA), into f->color (float RGBA). */
bool vw_features_render(vw_features *f, rd_context *ctx, const rd_scene *scene, const rd_camera *cam, bool relevancy, int level,
                        int query, const float *rgba_under);

#endif
