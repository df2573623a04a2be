/* radiant_compact.h: compact scenes (included by radiant.h): a 3D or 4D Gaussian scene
   pruned and quantised into radiant's own checked file (.rcompact), after LightGaussian's
   importance pruning and OMG4's sub-vector quantisation (spec/dynamic.md, "OMG4").

   What a Gaussian keeps: its mean (and a 4D one's time) as half floats about the scene's
   centre; every other attribute cut into slices of 1-3 values (log-scales one value a
   slice, each quaternion two pairs, opacity, the DC colour, the rest of the colour), each
   slice replaced by the index of its nearest entry in a k-means codebook of 2^bits rows
   (half floats; a codebook no larger than its indices, and at least 64 rows). The indices go out as byte planes, each part through zstd.

     rd_compact_report report;
     rd_scene_compact(ctx, scene, "scene.rcompact", &(rd_compact_desc){.prune_fraction = 0.3f}, &report);
     rd_scene_load(ctx, "scene.rcompact", &small);   // an ordinary scene of the same kind

   Pruning ranks Gaussians by importance: with views given, the weight each one's colour
   gets in the pixels of those views, summed (LightGaussian's global significance: the
   renderer's own backward pass of an all-ones colour gradient); without, opacity times
   the area of its largest cross-section (a view-free stand-in). With photos, a short
   fine-tuning fits the kept Gaussians to them (what pruning took away, the rest makes up
   for), and after quantising the codebooks: each row moves by Adam on the sum of the
   gradients of the Gaussians that use it (LightGaussian's and OMG4's codebook tuning).
   The file is decoded once at load into the scene arrays every backend renders. */
#ifndef RADIANT_COMPACT_H
#define RADIANT_COMPACT_H

#include "radiant_core.h"
#include "radiant_train.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How Gaussians are ranked for pruning. */
typedef enum rd_compact_importance {
    RD_COMPACT_IMPORTANCE_DEFAULT = 0, /* the colour weights in the views (LightGaussian), or without views the
                                          view-free estimate */
    RD_COMPACT_IMPORTANCE_GRADIENTS,   /* OMG4's sampling score: the views' photos' L1 gradients summed per
                                          Gaussian by their size, by the 2D mean (g_view) and, for 4D, by the
                                          temporal mean (g_t); score = minmax(g_view) * minmax(g_t). Needs photos */
} rd_compact_importance;

/* Where a 4D scene's colour and opacity come from in the file. */
typedef enum rd_compact_appearance {
    RD_COMPACT_APPEARANCE_STORED = 0, /* quantised as stored (the DC colour, the rest, the opacity) */
    RD_COMPACT_APPEARANCE_NETWORKS,   /* OMG4's appearance networks: six features a Gaussian (quantised) and
                                         four small MLPs shared by all (half floats) give each Gaussian's
                                         colour and opacity at the frame's time; the renderers evaluate them
                                         every frame. 4D scenes only */
} rd_compact_appearance;

/* Everything zero means the default. */
typedef struct rd_compact_desc {
    float prune_fraction;           /* share of the Gaussians dropped, least important first, 0..0.99; 0: none */
    float target_bits_per_gaussian; /* before entropy coding; 0: the default codebooks (3D SH degree 3: 157
                                       bits, 4D: 185); else every codebook one bit smaller at a time (to 4
                                       bits) until the sum fits, RD_ERROR_INVALID_ARGUMENT when it cannot */
    int zstd_level;                 /* 1..22; 0: 19 */
    const rd_train_view *views;     /* views (cameras, times) to rank importance by (NULL: the view-free
                                       estimate); with photos, what fine-tuning fits */
    int view_count;
    int finetune_steps;             /* with photos, Adam steps (each photo's alpha composited on background,
                                       L1) fitting the codebooks to them, after recover_steps; 0: neither */
    int recover_steps;              /* with photos and finetune_steps, steps of the trainer (radiant_train.h)
                                       on the kept Gaussians before quantising: LightGaussian's recovery
                                       after pruning (the 3DGS loss, every parameter, the schedules at
                                       their end); 0: finetune_steps */
    float background[3];            /* the photos' and the renders' background */
    rd_compact_importance importance;
    rd_compact_appearance appearance;
    int network_steps;              /* with networks: steps fitting them to the stored colour; 0: 2000, or one
                                       pass over the kept Gaussians (batches of 1,024) where that is more */
    int merge;                      /* nonzero: OMG4's merging after pruning: similar neighbours (position and
                                       DC colour, within cells of a tenth of the scene and 2.0 in time)
                                       become one Gaussian at their opacity-weighted average */
} rd_compact_desc;

enum { RD_COMPACT_MAX_PARTS = 16 };
/* What a compact file holds: the whole and each part's bytes in the file (after zstd) and
   per Gaussian. Parts: "positions", "log_scales", "rotations", "opacities", "sh_dc",
   "sh_rest" (indices), and "codebooks". */
typedef struct rd_compact_part {
    char name[24];
    uint64_t bytes, raw_bytes; /* in the file, and before zstd */
    double bits_per_gaussian;  /* bytes * 8 / count */
} rd_compact_part;
enum { RD_COMPACT_MAX_COSTS = 10 };
/* What each step costs, where views with photos were given (a 4D scene's appearance
   networks excepted): the mean PSNR against up to 8 of the photos, evenly spread, of the
   "scene" given, the Gaussians "kept" (after pruning and their fine-tuning), with
   "positions" in the file's half floats, then with one attribute at a time from its
   codebooks besides ("log_scales", "rotations", "opacities", "sh_dc", "sh_rest"), and "all"
   as the file decodes before the codebooks' fine-tuning. */
typedef struct rd_compact_cost {
    char name[16];
    double psnr; /* dB, at most 100 */
} rd_compact_cost;
typedef struct rd_compact_report {
    int64_t count_in, count; /* Gaussians given and kept */
    int64_t merged;          /* of those not pruned, how many merging took into their neighbours */
    int network_steps;       /* with appearance networks: the steps that fitted them; else 0 */
    int kind;                /* rd_scene_kind: RD_SCENE_GAUSSIANS or RD_SCENE_GAUSSIANS_4D */
    uint64_t file_bytes;
    double bits_per_gaussian;     /* the file's, all of it */
    double index_bits_per_gaussian; /* the codebook indices' and positions' bits before entropy coding */
    int part_count;
    rd_compact_part parts[RD_COMPACT_MAX_PARTS];
    int cost_count;
    rd_compact_cost costs[RD_COMPACT_MAX_COSTS];
} rd_compact_report;

/* Prunes, quantises and writes scene (3D or 4D Gaussians, host) to path, whole or not at all;
   report (may be NULL) says what went where. */
rd_result rd_scene_compact(rd_context *ctx, const rd_scene *scene, const char *path, const rd_compact_desc *desc,
                           rd_compact_report *report);
/* The report of a compact file already written (radiant info): its parts, read and
   checked, nothing decoded. RD_ERROR_FORMAT for another kind of file. */
rd_result rd_compact_file_info(rd_context *ctx, const char *path, rd_compact_report *out);

#ifdef __cplusplus
}
#endif
#endif
