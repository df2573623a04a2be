/* radiant_train.h: fitting Gaussian scenes to photos (included by radiant.h). A trainer
   holds a scene and a set of views (cameras with their images) and runs the 3DGS recipe
   (spec/gaussians.md, "Training") a step at a time: render one view, loss
   (1 - 0.2) L1 + 0.2 (1 - SSIM) against its image, backward pass (rd_render_backward),
   Adam per parameter group with the means' learning rate decaying exponentially, and one
   more SH degree every 1000 steps. On the CPU a seed makes a run repeatable bit for bit, and
   on CUDA with `deterministic`.

     rd_trainer *t;
     rd_trainer_create(ctx, &(rd_trainer_desc){.views = views, .view_count = n,
                       .box_min = {-1, -1, -1}, .box_max = {1, 1, 1}}, &t);
     for (int i = 0; i < 30; i++) rd_trainer_step(t, 1000, &stats);
     rd_scene_save(ctx, rd_trainer_scene(t), "fitted.ply", NULL);
     rd_trainer_destroy(t);
*/
#ifndef RADIANT_TRAIN_H
#define RADIANT_TRAIN_H

#include "radiant_core.h"
#include "radiant_images.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A view to fit: its camera and its photo (RGB, or RGBA whose alpha composites it on the
   step's background), the camera's size; the trainer copies the pixels. */
typedef struct rd_train_view {
    rd_camera camera;
    const rd_image *image;
    float time; /* when the photo was taken (4D scenes; 3D ones ignore it) */
} rd_train_view;

typedef struct rd_trainer_desc {
    const rd_train_view *views;
    int view_count;
    /* the initial Gaussians: at these points (xyz, count*3; colours count*3 in [0,1] or NULL
       for grey), else point_count random points in [box_min, box_max] */
    const float *points, *colors;
    int64_t point_count;     /* 0 with no points: 100,000 random ones */
    float box_min[3], box_max[3];
    int sh_degree;           /* RD_SH_DEGREE(n): the last degree raised to; 0: 3 */
    int iterations;          /* the schedules' length; 0: 30,000 */
    float background[3];     /* composited behind the render and under transparent photos */
    bool random_background;  /* a new random background every step instead */
    uint64_t seed;           /* view order, initialisation, backgrounds, split positions */
    bool densify;            /* adaptive density control (3DGS): clone and split where the screen-space
                                gradient is large, prune faint Gaussians, reset opacities every 3000 steps
                                (before step 15,000 and before `iterations`: never on the run's last step) */
    bool mcmc;               /* 3DGS-MCMC instead (densify is then not read): every 100 steps from 500 to
                                25,000, Gaussians of opacity 0.005 or less move onto live ones drawn by
                                opacity and 5% more are added so, up to max_gaussians; each step the means
                                get covariance-shaped noise and the loss 0.01 mean opacity + 0.01 mean scale */
    int64_t max_gaussians;   /* mcmc's cap (0: 1,000,000) */
    bool deterministic;      /* CUDA: the backward pass's sums in a fixed order (RD_RENDER_DETERMINISTIC), so
                                that a seed repeats a run bit for bit there too, at a cost (BENCHMARKS.md) */
    /* 4D scenes (radiant_4d.h): Yang's 4DGS recipe (spec/dynamic.md), each view rendered at
       its time; rd_trainer_scene is then a 4D scene. densify clones and splits in time as well
       as space; mcmc is not there yet. CPU and CUDA backends. */
    rd_scene_kind kind;      /* RD_SCENE_GAUSSIANS (0) or RD_SCENE_GAUSSIANS_4D */
    int time_degree;         /* 4D: RD_SH_DEGREE(n), n temporal cosine terms beyond the constant (0: 2) */
    float time_period;       /* 4D: T of the cosine terms (0: the views' time range, or 1 where they share one) */
    int batch;               /* 4D: views (camera and time) rendered per step, their losses averaged (0: 1) */
    /* Continuing a fitted scene (fine-tuning after pruning, `radiant compact`): its Gaussians
       in place of the points (a host scene of `kind`; sh_degree and, for 4D, time_degree and
       time_period 0 or the scene's own), at step start_iteration of the schedules (the SH
       degree raised, the means' rate, the density control's windows); Adam starts afresh. */
    const rd_scene *initial;
    int start_iteration;     /* 0..iterations */
} rd_trainer_desc;

typedef struct rd_train_stats {
    int iteration;      /* steps taken in all */
    double loss;        /* mean over the steps of this call */
    int64_t gaussians;
    int sh_degree;      /* active */
} rd_train_stats;

typedef struct rd_trainer rd_trainer;
rd_result rd_trainer_create(rd_context *ctx, const rd_trainer_desc *desc, rd_trainer **out);
void rd_trainer_destroy(rd_trainer *trainer);
/* Runs steps more iterations; stats (may be NULL) afterwards. */
rd_result rd_trainer_step(rd_trainer *trainer, int steps, rd_train_stats *stats);
/* The scene as fitted so far (host arrays), valid until the next step or destroy. */
const rd_scene *rd_trainer_scene(const rd_trainer *trainer);
/* A scene's quality on views (a held-out split, or the photos it was fitted to): each
   view rendered at its time on `background` against its photo composited on the same,
   PSNR and SSIM as rd_image_compare gives them. */
typedef struct rd_evaluate_desc {
    const rd_train_view *views;
    int view_count;         /* at least 1 */
    float background[3];
    rd_metrics *per_view;   /* view_count of them, or NULL */
} rd_evaluate_desc;
/* *mean: the views' mean PSNR, SSIM and MSE. A photo whose size is not its camera's fails
   the call, naming the view. */
rd_result rd_scene_evaluate(rd_context *ctx, const rd_scene *scene, const rd_evaluate_desc *desc, rd_metrics *mean);
/* rd_scene_evaluate of the scene fitted so far (rd_trainer_scene). */
rd_result rd_trainer_evaluate(rd_trainer *trainer, const rd_evaluate_desc *desc, rd_metrics *mean);
/* The trainer's whole state (scene, optimiser moments, densification statistics, step,
   random generator) in one file, written whole or not at all; loading it into a trainer
   created with the same views and settings continues the run exactly where it stopped
   (bit for bit on the CPU). A damaged file is refused by its checksum. */
rd_result rd_trainer_save_checkpoint(rd_trainer *trainer, const char *path);
rd_result rd_trainer_load_checkpoint(rd_trainer *trainer, const char *path);

/* ---- training views from a dataset folder (radiant_datasets.h's kinds) ---- */

typedef struct rd_train_set_desc {
    const char *split; /* "train" (NULL), "val", "test" or "all" */
    int downscale;     /* photos averaged down by this factor, 1..16 (0: 1) */
} rd_train_set_desc;

/* A split's views that have photos: each photo undistorted to a pinhole image where its
   camera has a lens (rd_image_undistort, bilinear), then downscaled, its camera to match.
   A photo that cannot be read, or whose size is not its camera's, fails the load and is
   named in the error. */
typedef struct rd_train_set rd_train_set;
rd_result rd_train_set_load(rd_context *ctx, const char *dataset, const rd_train_set_desc *desc, rd_train_set **out);
void rd_train_set_destroy(rd_train_set *set);
int rd_train_set_count(const rd_train_set *set);
const rd_train_view *rd_train_set_views(const rd_train_set *set); /* count of them, valid while the set is */
const char *rd_train_set_view_name(const rd_train_set *set, int k);
/* The dataset's kind (rd_dataset_kind: "blender", "rtmv", ...). */
const char *rd_train_set_kind(const rd_train_set *set);
/* The dataset's sparse points (COLMAP's points3D: xyz and rgb in [0,1], count*3 each);
   0 where it has none. */
int64_t rd_train_set_points(const rd_train_set *set, const float **xyz, const float **rgb);
/* The box random points fill: the dataset's own where it says one (RTMV's scene box),
   NeRF-synthetic's cube of side 2.6 for Blender datasets, instant-ngp's unit cube for
   instant-ngp ones (where p scale + offset lies in [0, 1]^3: the file's `scale` and
   `offset`, else 0.33 and 0.5, a cube of side 1 / 0.33 about the origin), else the bounds
   of the camera centres. */
void rd_train_set_box(const rd_train_set *set, float lo[3], float hi[3]);
/* instant-ngp's aabb_scale where the dataset says one (transforms.json), else 0. */
int rd_train_set_aabb_scale(const rd_train_set *set);
/* A trainer on the set's views, started from the dataset's sparse points where it has
   them, else from desc->point_count random points in the dataset's box (NeRF-synthetic:
   the cube of side 2.6; else the bounds of the camera centres). desc's views, points and
   box are ignored; the set may be destroyed afterwards. */
rd_result rd_trainer_create_from_set(rd_context *ctx, const rd_train_set *train, const rd_trainer_desc *desc, rd_trainer **out);

#ifdef __cplusplus
}
#endif
#endif
