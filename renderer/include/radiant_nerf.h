/* radiant_nerf.h: hash-grid NeRFs (spec/nerf.md; included by radiant.h), radiant's second
   kind of scene (RD_SCENE_NERF): a multiresolution hash encoding, a density network and a
   colour network, with an occupancy grid that lets rays leap empty space. A NeRF scene
   renders through rd_render like any scene (RGB, alpha, depth and transmittance into the
   same framebuffer; "contributors" counts a pixel's samples), saves to its own snapshot
   file (.rnerf, below) and loads with rd_scene_load.

   The field lives in its own unit cube: a world point p is at p * scale + offset there,
   the cube of side 1 / scale about the box's centre (rd_nerf_desc.box_min/box_max), and
   the occupancy grid's cascades reach aabb_scale times as far (instant-ngp's aabb_scale).

     rd_scene *nerf;
     rd_nerf_create(ctx, &(rd_nerf_desc){.box_min = {-1.5f, -1.5f, -1.5f}, .box_max = {1.5f, 1.5f, 1.5f}}, &nerf);
     rd_render(ctx, nerf, &camera, &(rd_render_desc){0}, &framebuffer);
     rd_nerf_save(ctx, nerf, "field.rnerf");

   Training (rd_nerf_trainer) fits a field to photos, on the CPU or, on a CUDA context,
   wholly on the GPU (the host copy of the field refreshed when rd_nerf_trainer_scene asks): rays drawn across the views, a batch
   of about batch_samples samples after empty-space skipping, Huber or L2 loss on RGB,
   Adam with the spec's settings (lr 1e-2, betas 0.9 / 0.99, epsilon 1e-15, L2 1e-6 on the
   networks' weights, hash entries without gradient left alone, lr x 0.33 every 10,000
   steps from 20,000), occupancy updates on the spec's schedule.

   Snapshot file (.rnerf), little-endian, written whole or not at all:
     8 bytes "RDNERF\r\n", u32 version (2), u32 J, J bytes of JSON (the configuration:
     levels, features, log2_table_size, base_resolution, finest_resolution, width,
     aabb_scale, saliency_resolution and gate_sharpness where there is a mask, scale,
     offset[3], params, cascades, table_entries, table_entries_stored), the table's
     entry bitmap (table_entries bits, least significant first, padding bits 0: 1 for each
     entry stored), the stored entries' features (features float32 each, in entry order),
     the rest of the params float32 values (the density network's weights, the colour
     network's, the saliency mask's logits: nerf/field.h), the occupancy bits (cascades *
     128^3 bits, cell i of the cascades in order, least significant bit first), u64 FNV-1a
     of every byte before it. An entry is stored where rendering can read it: the corner of
     a level cell in an occupied cell of the grid (nerf/reachable.h); the others load as 0.
     Version 1 had no bitmap and every entry (still read). */
#ifndef RADIANT_NERF_H
#define RADIANT_NERF_H

#include "radiant_core.h"
#include "radiant_train.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A field's configuration; zero for each default (the spec's). */
typedef struct rd_nerf_desc {
    int levels;              /* the hash encoding's L, 1..32; 0: 16 */
    int features;            /* F per level, 1, 2, 4 or 8; 0: 2 */
    int log2_table_size;     /* T, 4..24; 0: 19 */
    float base_resolution;   /* N_min; 0: 16 */
    float finest_resolution; /* N_max; 0: 2048 */
    int width;               /* the networks' hidden width, 1..256; 0: 64 */
    int aabb_scale;          /* a power of two, 1..128; 0: 1 */
    float box_min[3], box_max[3]; /* the world's box the unit cube is laid on (its longest side); all zero: the unit cube */
    uint64_t seed;           /* the initial table and weights */
    int saliency_resolution; /* HollowNeRF's saliency mask, R^3 logits gating the hash features (2..512; rendered
                                on the CPU and Vulkan, trained on the CPU, so far); 0: none */
    float gate_sharpness;    /* the mask's density gate tanh(alpha |features|): alpha; 0: 1000 */
} rd_nerf_desc;

/* A fresh field (table uniform in +-1e-4, Glorot weights) whose occupancy grid marks every
   cell occupied; host memory, on any backend. */
rd_result rd_nerf_create(rd_context *ctx, const rd_nerf_desc *desc, rd_scene **out);
/* Writes a NeRF scene as a snapshot file (above). */
rd_result rd_nerf_save(rd_context *ctx, const rd_scene *scene, const char *path);
/* What rd_nerf_save would write: the parameters it stores (the table entries rendering can
   reach, every weight and the mask) and the file's bytes; either pointer may be NULL. A
   pass over the occupancy grid per level: a fraction of a second for the spec's table. */
rd_result rd_nerf_snapshot_size(rd_context *ctx, const rd_scene *scene, int64_t *stored_params, int64_t *bytes);

typedef struct rd_nerf_info {
    rd_nerf_desc desc;       /* the configuration, defaults filled in (the box as the cube it became) */
    float scale, offset[3];  /* world to field: p * scale + offset */
    int64_t params;          /* floats: table and weights */
    int64_t table_params, network_params, mask_params; /* the parts: table, networks, saliency mask */
    int cascades;
    int64_t occupied_cells;  /* of cascades * 128^3 */
} rd_nerf_info;
/* RD_ERROR_INVALID_ARGUMENT for a scene of another kind. */
rd_result rd_nerf_get_info(rd_context *ctx, const rd_scene *scene, rd_nerf_info *out);

/* ---- training ------------------------------------------------------------------------ */

typedef enum rd_nerf_loss { RD_NERF_LOSS_HUBER = 0, RD_NERF_LOSS_L2 } rd_nerf_loss;

typedef struct rd_nerf_trainer_desc {
    const rd_train_view *views; /* cameras and photos (RGB, or RGBA composited on the background) */
    int view_count;
    rd_nerf_desc field;         /* its box and aabb_scale place the field (rd_nerf_trainer_create_from_set fills them) */
    float background[3];        /* behind the field and under transparent photos */
    bool random_background;     /* a random colour per ray instead (the spec's for transparent data) */
    rd_nerf_loss loss;          /* Huber (delta 0.1, the default) or L2, on RGB */
    int batch_samples;          /* samples a step after skipping; 0: 2^18 */
    float learning_rate;        /* 0: 1e-2 */
    int occupancy_warmup;       /* the first steps, each of which updates every cell; 0: 256 (the spec's) */
    int occupancy_every;        /* then every this many steps; 0: 16 (the spec's) */
    uint64_t seed;              /* ray draws, backgrounds, occupancy draws, the initial field */
    float prune_budget;         /* HollowNeRF's pruning (CPU and CUDA): the fraction of the saliency mask
                                   kept, sum(sigmoid(G)) <= budget x cells by ADMM (0..1); 0: no pruning. The
                                   field gets a mask of 64^3 unless field.saliency_resolution says */
    float admm_rho;             /* the ADMM penalty's weight; 0: 1e-3 (the spec gives none) */
    int admm_every;             /* steps between ADMM's projections and dual updates; 0: 16 */
    float average_decay;        /* the field the trainer gives (rd_nerf_trainer_scene): the parameters' moving
                                   average, step k back weighing decay^k (Instant-NGP's EMA); 0: 0.95;
                                   negative: the parameters as trained, unaveraged */
} rd_nerf_trainer_desc;

typedef struct rd_nerf_train_stats {
    int iteration;      /* steps taken in all */
    double loss;        /* mean over the steps of this call */
    int64_t rays, samples; /* the last step's */
    int64_t occupied_cells; /* -1 on CUDA, where the grid stays on the device (rd_nerf_get_info of the trainer's scene counts) */
    double mask_kept;       /* with pruning: the mask's mean keep value, mean(sigmoid(G)) (else 0) */
} rd_nerf_train_stats;

typedef struct rd_nerf_trainer rd_nerf_trainer;
rd_result rd_nerf_trainer_create(rd_context *ctx, const rd_nerf_trainer_desc *desc, rd_nerf_trainer **out);
void rd_nerf_trainer_destroy(rd_nerf_trainer *trainer);
/* Runs steps more iterations; stats (may be NULL) afterwards. */
rd_result rd_nerf_trainer_step(rd_nerf_trainer *trainer, int steps, rd_nerf_train_stats *stats);
/* The field as trained so far, valid until the next step or destroy. */
const rd_scene *rd_nerf_trainer_scene(const rd_nerf_trainer *trainer);
/* A trainer on a dataset's views, the field placed on the dataset's box
   (rd_train_set_box) with the dataset's aabb_scale (instant-ngp's transforms.json; else
   1 for Blender and RTMV scenes, 16 for the rest, whose cameras look out past their box).
   desc's views and the field's box and aabb_scale are ignored (a nonzero aabb_scale in
   desc->field is kept). */
rd_result rd_nerf_trainer_create_from_set(rd_context *ctx, const rd_train_set *set, const rd_nerf_trainer_desc *desc,
                                          rd_nerf_trainer **out);

#ifdef __cplusplus
}
#endif
#endif
