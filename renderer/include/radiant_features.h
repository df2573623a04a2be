/* radiant_features.h: feature fields (included by radiant.h): LangSplatV2's sparse
   coefficient splats (spec/features.md) attached to a 3D Gaussian scene. Per Gaussian and
   level (1 to 3) a field holds K slots of (codebook entry, weight); per level a codebook of
   L entries of dimension D. A render blends only the slots' weights into L coefficients a
   pixel and level (W), decodes F = D^T W once a pixel, normalises it, and compares it with
   query embeddings. radiant does not run CLIP: embeddings come from the caller, as floats
   of any dimension D.

   Rendered outputs (rd_feature_target), each optional:
   - coefficients: W, width*height*levels*L floats, per pixel level-major, entry innermost;
     a level's coefficients sum to the pixel's alpha (1 - T) where its weights sum to 1
     (to their half-precision rounding);
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
#include "radiant_train.h" /* rd_train_stats */

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
    rd_memory memory;    /* of every array but query_levels (always host); device memory (rd_buffer_alloc's, on
                            CUDA and Vulkan) keeps the whole render on the GPU: nothing crosses to the host
                            but the levels (CUDA: on desc.stream, which the call waits for) */
} rd_feature_target;

/* Renders the field over the Gaussian scene it belongs to (same count) from camera. */
rd_result rd_render_features(rd_context *ctx, const rd_scene *scene, const rd_feature_field *field, const rd_camera *camera,
                             const rd_feature_render_desc *desc, const rd_feature_target *target);

/* ---- training (spec/features.md, "Training (V2)") ----
   A field learned over a frozen Gaussian scene: per Gaussian and level L logits whose top K
   give the slots (their softmax as weights), and per level a codebook that starts as the
   k-means centroids of the targets, both by Adam (eps 1e-15, constant rate) under the
   masked cosine loss 1 - mean_p cos(D^T W(p), f(p)) of one random view a step (pixels
   without a target count as cosine 0), averaged over the levels. CPU and CUDA backends (CUDA sums the slot weights' gradients
   with float atomics: not bit-repeatable, where the CPU is). */

/* A view's targets, levels planes of the camera's width*height pixels: either masks (row
   of mask_features, or -1 where no mask covers the pixel) as LangSplat keeps them, or
   features (dim floats a pixel; an all-zero pixel has no target). Read in place: the
   arrays outlive the trainer. */
typedef struct rd_feature_view {
    rd_camera camera;
    const int32_t *masks;        /* levels*width*height */
    const float *mask_features;  /* mask_count*dim */
    int mask_count;
    const float *features;       /* levels*width*height*dim, where masks is NULL */
} rd_feature_view;

typedef struct rd_feature_trainer_desc {
    const rd_feature_view *views;
    int view_count;
    int levels;          /* planes of each view's targets: the field's levels (0: 3) */
    int codebook_size;   /* L (0: 64) */
    int slots;           /* K (0: 4) */
    int dim;             /* D of the targets (required) */
    float lr;            /* 0: 2.5e-3 */
    uint64_t seed;       /* view order; a run repeats bit for bit */
} rd_feature_trainer_desc;

typedef struct rd_feature_trainer rd_feature_trainer;
/* A trainer for the field of scene (host Gaussians, which must outlive the trainer). */
rd_result rd_feature_trainer_create(rd_context *ctx, const rd_scene *scene, const rd_feature_trainer_desc *desc,
                                    rd_feature_trainer **out);
void rd_feature_trainer_destroy(rd_feature_trainer *trainer);
/* Runs steps more iterations; stats (may be NULL): iteration, mean loss of these steps,
   the scene's Gaussians. */
rd_result rd_feature_trainer_step(rd_feature_trainer *trainer, int steps, rd_train_stats *stats);
/* The field as learned so far: each Gaussian's top K entries in ascending order, their
   softmax as weights. */
rd_result rd_feature_trainer_field(rd_feature_trainer *trainer, rd_feature_field **out);
/* The trainer's whole state (step, random generator, logits and codebooks with their Adam
   moments) in one file, written whole or not at all; loading it into a trainer made with
   the same scene, views and settings continues the run bit for bit. A file of another
   field's shape (count, levels, L, K, dim), damaged (its checksum) or holding non-finite
   values is refused; the views, rate and seed are the caller's to keep the same. */
rd_result rd_feature_trainer_save_checkpoint(rd_feature_trainer *trainer, const char *path);
rd_result rd_feature_trainer_load_checkpoint(rd_feature_trainer *trainer, const char *path);

/* ---- LangSplat's preprocessed data (spec/features.md, "Preprocessed data") ---- */

/* One image's masks from folder/<stem>_f.npy (float32 [M, D]: the masks' embeddings) and
   folder/<stem>_s.npy (float32 or int32 [4, H, W]: per plane the row into _f, or -1),
   planes 1-3 (LangSplat's s, m, l) as levels 1-3. W and H must be the dataset image's
   size, W / downscale = width and H / downscale = height (rounded down, as the training
   views are); the maps are sampled at each downscaled pixel's centre. Errors name the file and what does not fit: dtype, shape, an index past
   the rows of _f, a size other than the image's. */
typedef struct rd_language_features {
    int width, height;   /* of masks: the training view's */
    int mask_count, dim;
    int32_t *masks;      /* 3 planes of width*height: levels 1-3 */
    float *features;     /* mask_count*dim */
} rd_language_features;
rd_result rd_language_features_load(rd_context *ctx, const char *folder, const char *stem, int width, int height, int downscale,
                                    rd_language_features *out);
void rd_language_features_free(rd_language_features *features);

/* The spec's evaluation of a relevancy map (host memory, width*height): smoothed gets
   r' = (r + m) / 2, m the mean of r over the in-image pixels of the 29x29 window about each
   pixel (LangSplatV2's filter; localisation takes the peak of r'). RD_ERROR_OUT_OF_MEMORY
   is the only failure. */
rd_result rd_relevancy_smooth(const float *relevancy, int width, int height, float *smoothed);
/* Segmentation: r' min-max normalised to [0, 1], 1 where above 0.7, then each pixel the
   majority of the in-image pixels of its 7x7 window; mask gets 0 or 1 a pixel.
   RD_ERROR_OUT_OF_MEMORY is the only failure. */
rd_result rd_relevancy_mask(const float *smoothed, int width, int height, uint8_t *mask);

/* A colouring of feature maps for people to look at: the first three principal components
   of the features (pixels*dim, host) of the pixels whose alpha (may be NULL: all) is at
   least 0.5, found on at most 65,536 of them taken evenly, each pixel's projections
   min-max normalised into rgb (pixels*3); pixels below half alpha are black. The same
   features give the same colours. RD_ERROR_OUT_OF_MEMORY is the only failure. */
rd_result rd_feature_pca_colors(const float *features, const float *alpha, int64_t pixels, int dim, float *rgb);
/* The heat colour of a relevancy r in [0, 1] (clamped): dark blue through green to red. */
void rd_relevancy_color(float r, float rgb[3]);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_FEATURES_H */
