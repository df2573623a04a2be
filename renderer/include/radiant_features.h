/* radiant_features.h: feature fields (included by radiant.h): LangSplatV2's sparse
   coefficient splats (spec/features.md) attached to a 3D Gaussian scene. Per Gaussian and
   level (1 to 3) a field holds K slots of (codebook entry, weight); per level a codebook of
   L entries of dimension D. A render blends only the slots' weights into L coefficients a
   pixel and level (W), decodes F = D^T W once a pixel, normalises it, and compares it with
   query embeddings. radiant does not run CLIP: embeddings come from the caller, as floats
   of any dimension D.

   Rendered outputs (rd_feature_target), each optional:
   - coefficients: W, width*height*levels*L floats, per pixel level-major, entry innermost;
     a level's coefficients sum to the pixel's alpha (1 - T);
   - features: one level's unit feature phi = F / (|F| + 1e-10), width*height*D, channel
     innermost, float or IEEE half; an empty pixel gives 0;
   - relevancy: per query r = sigmoid(10 (phi.t - max_j phi.n_j)) against the negatives n_j
     (LangSplat's canonical "object", "things", "stuff", "texture", given as embeddings),
     width*height per query (query-major), at the level the spec's segmentation protocol
     picks: the level whose r' = (r + mean29x29(r)) / 2 peaks highest. An empty pixel
     gives 0.5.

   Files: our own .rfeat (magic "RDFEATUR", version, the configuration as JSON, codebooks
   as float32, slot indices as bytes, weights as half, an FNV-1a checksum over the rest),
   written atomically; a field is found beside its scene by name (scene.ply ->
   scene.rfeat). */
#ifndef RADIANT_FEATURES_H
#define RADIANT_FEATURES_H

#include "radiant_core.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    RD_FEATURE_MAX_LEVELS = 3,
    RD_FEATURE_MAX_CODEBOOK = 256, /* L: entries index as one byte */
    RD_FEATURE_MAX_SLOTS = 8,      /* K */
    RD_FEATURE_MAX_DIM = 1 << 16,  /* D: far past CLIP's 512-1024 */
};

typedef struct rd_feature_field rd_feature_field;

/* A field from the caller's host arrays (copied). Zero means default: 3 levels, L 64, K 4,
   D 512. Within a Gaussian's level the slots name distinct entries; weights are finite and
   non-negative (a zero weight is legal) and are stored rounded to half precision. */
typedef struct rd_feature_field_desc {
    int64_t count;           /* Gaussians, as many as the scene the field goes with */
    int levels;              /* 1..3 */
    int codebook_size;       /* L, 1..256 */
    int slots;               /* K, 1..min(8, L) */
    int dim;                 /* D, 1..65536 */
    const uint8_t *indices;  /* count*levels*K, Gaussian-major then level; NULL: slot k names entry k */
    const float *weights;    /* count*levels*K; NULL: all 0 */
    const float *codebooks;  /* levels*L*D, entry-major; NULL: all 0 */
} rd_feature_field_desc;

typedef struct rd_feature_field_info {
    int64_t count;
    int levels, codebook_size, slots, dim;
    int64_t bytes_per_gaussian; /* in memory: K*levels index bytes and half weights */
    int64_t codebook_bytes;     /* levels*L*D floats */
} rd_feature_field_info;

rd_result rd_feature_field_create(rd_context *ctx, const rd_feature_field_desc *desc, rd_feature_field **out);
void rd_feature_field_destroy(rd_feature_field *field);
void rd_feature_field_get_info(const rd_feature_field *field, rd_feature_field_info *out);
/* Copies the field's arrays out, laid out as in the desc (weights as floats); NULL skips. */
void rd_feature_field_read(const rd_feature_field *field, uint8_t *indices, float *weights, float *codebooks);

rd_result rd_feature_field_load(rd_context *ctx, const char *path, rd_feature_field **out);
rd_result rd_feature_field_save(rd_context *ctx, const rd_feature_field *field, const char *path);
/* The name of the field beside a scene file: its path with the extension replaced by
   ".rfeat"; false when it does not fit in n bytes. */
bool rd_feature_path_beside(const char *scene_path, char *out, size_t n);

typedef struct rd_feature_render_desc {
    uint32_t flags;          /* RD_RENDER_ANTIALIASED, _INRIA_EXTENT, _SCENE_FLAGS, _STAGE_TIMES, as rd_render */
    int level;               /* the features output's level, 1..levels; 0: 1 */
    int half_features;       /* nonzero: features are IEEE half (uint16_t), else float */
    const float *queries;    /* query_count*D unit embeddings (host) */
    int query_count;
    const float *negatives;  /* negative_count*D (host); at least one when there are queries */
    int negative_count;
    void *stream;            /* CUDA: the stream; NULL: the context's */
} rd_feature_render_desc;

typedef struct rd_feature_target {
    float *coefficients; /* width*height*levels*L */
    void *features;      /* width*height*D of desc.level */
    float *relevancy;    /* query_count*width*height */
    int *query_levels;   /* query_count: the level (1-based) each relevancy map comes from (host) */
    float *alpha;        /* width*height: 1 - final transmittance */
    rd_memory memory;    /* of every array but query_levels */
} rd_feature_target;

/* Renders the field over the Gaussian scene it belongs to (same count) from camera. */
rd_result rd_render_features(rd_context *ctx, const rd_scene *scene, const rd_feature_field *field, const rd_camera *camera,
                             const rd_feature_render_desc *desc, const rd_feature_target *target);

/* The spec's evaluation of a relevancy map (host memory, width*height): smoothed gets
   r' = (r + m) / 2, m the mean of r over the in-image pixels of the 29x29 window about each
   pixel (LangSplatV2's filter; localisation takes the peak of r'). RD_ERROR_OUT_OF_MEMORY
   is the only failure. */
rd_result rd_relevancy_smooth(const float *relevancy, int width, int height, float *smoothed);
/* Segmentation: r' min-max normalised to [0, 1], 1 where above 0.7, then each pixel the
   majority of the in-image pixels of its 7x7 window; mask gets 0 or 1 a pixel.
   RD_ERROR_OUT_OF_MEMORY is the only failure. */
rd_result rd_relevancy_mask(const float *smoothed, int width, int height, uint8_t *mask);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_FEATURES_H */
