/* feature_scene.h: the feature fields' real test without CLIP (spec/features.md, last
   paragraph): a Gaussian scene of 4 objects, each of 2 parts of 2 subparts, on a floor,
   seen from a ring of cameras; per view an object-id image at the three nested groupings
   (subpart, part, object; the floor is one more id in each) made by rendering one-hot
   slots; one random unit vector per id and
   grouping (orthogonal to the others), rounded through half precision, written with the id images in LangSplat's
   exact layout (language_features/<stem>_f.npy and _s.npy) beside a Blender dataset of
   the RGB renders. */
#ifndef RD_FEATURE_SCENE_H
#define RD_FEATURE_SCENE_H

#include "radiant.h"

enum { FEATURE_SCENE_OBJECTS = 4, FEATURE_SCENE_IDS = 16 + 8 + 4, FEATURE_SCENE_NEGATIVES = 4 };

typedef struct feature_scene {
    rd_scene *scene;
    int dim;
    float *vectors;    /* FEATURE_SCENE_IDS rows of dim: subparts 0-15, parts 16-23, objects 24-27 */
    float *floor;      /* 3 rows: the floor's at each grouping (ids 16, 8 and 4) */
    float *negatives;  /* FEATURE_SCENE_NEGATIVES rows of dim */
    int train_count, test_count;
    rd_camera *train, *test; /* train views r_k, held-out views t_k */
} feature_scene;

/* The grouping (level 1-3) and id within it of vector row q. */
static inline int feature_scene_level(int q) { return q < 16 ? 1 : q < 24 ? 2 : 3; }
static inline int feature_scene_id(int q) { return q < 16 ? q : q < 24 ? q - 16 : q - 24; }

/* The scene and its vectors, training views width x height, held-out views test_scale
   times that. */
int feature_scene_make(rd_context *ctx, int dim, int train_count, int test_count, int width, int height, int test_scale,
                       unsigned long long seed, feature_scene *out);
void feature_scene_free(feature_scene *s);
/* Per pixel of the camera's view the id (or -1) at each grouping: 3 planes of width*height. */
int feature_scene_ids(rd_context *ctx, const feature_scene *s, const rd_camera *camera, int32_t *ids);
/* The field the training aims at: each Gaussian holds its own id's vector at each
   grouping. Its masks are the most the segmentation protocol can recover in a view. */
int feature_scene_exact_field(rd_context *ctx, const feature_scene *s, rd_feature_field **out);
/* Writes dir/transforms_{train,test}.json, the PNGs, language_features/ for every view,
   and dir/queries.npy (the vectors) and dir/negatives.npy. Returns 0 on success. */
int feature_scene_write(rd_context *ctx, const feature_scene *s, const char *dir);

#endif
