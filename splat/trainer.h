/* trainer.h: the Gaussian trainer's state (train_gaussians.c runs it, train_checkpoint.c
   saves and restores it). */
#ifndef RD_TRAINER_H
#define RD_TRAINER_H

#include "scene.h"
#include "../renderer/random.h"

/* The most steps a run takes in all: keeps the step count, and Adam's powers of it, in range. */
#define RD_TRAINER_MAX_STEPS 1000000000

/* Adam's parameter groups, each with its own learning rate; DC and higher SH coefficients
   are separate groups (the recipe's rates differ by 20). */
enum { GROUP_MEANS, GROUP_SCALES, GROUP_ROTATIONS, GROUP_OPACITIES, GROUP_DC, GROUP_REST, GROUPS };

typedef struct train_device train_device; /* train_device.c's */
typedef struct rd_trainer4d rd_trainer4d; /* train4d.h's */

typedef struct view_data {
    rd_camera camera;
    float *rgba; /* the photo as RGBA (alpha 1 where it had none) */
    float time;
} view_data;

/* ---- the 3DGS recipe's schedule (spec/gaussians.md), both trainers ---- */

/* The learning rates that do not change over a run. */
#define RD_LR_SCALES 5e-3f
#define RD_LR_ROTATIONS 1e-3f
#define RD_LR_OPACITIES 0.05f
#define RD_LR_DC 2.5e-3f
#define RD_LR_REST (2.5e-3f / 20.0f)
/* The spatial means' rate at a step: 1.6e-4 decaying exponentially to 1.6e-6 over the
   run's iterations, times the scene's extent. */
static inline float rd_lr_means(float extent, int iteration, int iterations)
{
    float progress = fminf(1.0f, (float)iteration / (float)iterations);
    return extent * expf((1.0f - progress) * logf(1.6e-4f) + progress * logf(1.6e-6f));
}
/* The SH degree active after `iteration` steps: one more every 1000, up to max. */
static inline int rd_active_sh_degree(int iteration, int max) { return iteration / 1000 < max ? iteration / 1000 : max; }
/* A step's background: the desc's, or a new random one. */
static inline void rd_step_background(const rd_trainer_desc *d, rd_rng *rng, float out[3])
{
    for (int c = 0; c < 3; c++) out[c] = d->random_background ? rd_rng_uniform(rng) : d->background[c];
}

/* ---- the views, for every trainer of splats (train_common.c) ---- */

/* Copies count views (camera checked, photo's size its camera's, time finite) into *out,
   their photos as RGBA floats; *largest gets the most pixels of one. On failure nothing is
   left allocated (*out NULL). */
rd_result rd_train_views_copy(rd_context *ctx, const rd_train_view *in, int count, view_data **out, size_t *largest);
void rd_train_views_free(view_data *views, int count);
/* The 3DGS recipe's scene extent: 1.1 times the largest distance of a camera centre from
   their mean (1 for a single camera). */
float rd_train_views_extent(const view_data *views, int count);
/* The next view of a shuffled pass over all count of them (Fisher-Yates, seeded; a new
   pass where *at reached count). */
int rd_train_views_next(int *order, int *at, int count, rd_rng *rng);
/* The photo composited on background into target (RGBA, alpha the photo's). */
void rd_train_view_target(const view_data *view, const float background[3], float *target);

/* A host step's frame: the render, the photo on the step's background, the loss's
   gradient (each RGBA of the largest view) and the loss's scratch (train_common.c). */
typedef struct step_frame {
    float *render, *target, *loss_grad;
    double *loss_scratch;
} step_frame;
/* False (nothing left allocated) where memory runs out. */
bool rd_step_frame_alloc(const view_data *views, int count, size_t largest, step_frame *f);
void rd_step_frame_free(step_frame *f);

struct rd_trainer {
    rd_context *ctx;
    rd_trainer_desc desc;
    view_data *views;
    int view_count;
    rd_scene *scene;
    float *grads[GROUPS], *m[GROUPS], *v[GROUPS];
    size_t sizes[GROUPS];
    float extent; /* the cameras' spread: the means' learning rate scales with it */
    int iteration, max_degree;
    int *order, order_at;
    rd_rng rng;
    step_frame frame; /* a host step's (none where the device steps) */
    float *grad_norm;     /* per Gaussian: the densification statistic summed over views */
    uint32_t *views_seen; /* per Gaussian */
    train_device *device; /* on a GPU backend: the state there, ahead of the host arrays above */
    bool host_stale;      /* the device has stepped since the host arrays were downloaded */
    rd_trainer4d *four_d; /* a 4D trainer's state, which the calls hand on to: none of the above is used */
};

/* One row of the new scene: a copy of Gaussian `from`, with fresh (zero) moments when it is
   new; split children move and shrink. */
typedef struct new_row {
    int64_t from;
    bool fresh, child;
} new_row;

/* A trainer's per-Gaussian arrays beside its scene: each group's gradient and Adam
   moments, and the densification statistics. Allocated together, zeroed, and handed over
   together (the 3D trainer keeps them in its fields of the same names:
   rd_trainer_arrays_adopt frees the old; the 4D trainer holds one of these). */
enum { TRAINER_MAX_GROUPS = 7 };
_Static_assert((int)GROUPS <= (int)TRAINER_MAX_GROUPS, "trainer_arrays holds every 3D group");
typedef struct trainer_arrays {
    float *grads[TRAINER_MAX_GROUPS], *m[TRAINER_MAX_GROUPS], *v[TRAINER_MAX_GROUPS];
    size_t sizes[TRAINER_MAX_GROUPS];
    float *grad_norm;
    uint32_t *views_seen;
} trainer_arrays;
/* groups' arrays of widths[g] floats per Gaussian for count Gaussians; false (nothing left
   allocated) where memory runs out. */
bool rd_group_arrays_alloc(int groups, const int *widths, int64_t count, trainer_arrays *a);
/* The 3D trainer's groups (rd_trainer_group_width). */
bool rd_trainer_arrays_alloc(const rd_trainer *t, int64_t count, trainer_arrays *a);
void rd_trainer_arrays_free(trainer_arrays *a);
void rd_trainer_arrays_adopt(rd_trainer *t, trainer_arrays *a);

/* ---- the initial Gaussians' places, sizes and colours (both trainers) ---- */

/* The given points (scale: as the 3DGS recipe, the root of the mean squared distance to
   the 3 nearest other points, at least 1e-7 squared so that coincident points stay finite;
   colour the points' or grey), or point_count (0: 100,000) random ones in the box (scale:
   the mean spacing, the box's volume shared among them, which their nearest neighbours
   measure only noisily; colour random). */
typedef struct seed_points {
    int64_t count;
    float *xyz, *log_scale, *rgb; /* count*3, count (isotropic), count*3 in [0, 1] */
} seed_points;
rd_result rd_seed_points_make(rd_context *ctx, const rd_trainer_desc *d, rd_rng *rng, seed_points *out);
/* desc's initial scene and start_iteration against the rest of it (both trainers). */
rd_result rd_trainer_check_initial(rd_context *ctx, const rd_trainer_desc *d);
void rd_seed_points_free(seed_points *p);

/* ---- adaptive density control (the 3DGS recipe's defaults, both trainers) ---- */

enum { DENSIFY_FROM = 500, DENSIFY_UNTIL = 15000, DENSIFY_EVERY = 100, RESET_EVERY = 3000 };
#define DENSIFY_GRAD_THRESHOLD 2e-4f
#define DENSIFY_PERCENT_DENSE 0.01f
#define DENSIFY_PRUNE_OPACITY 0.005f
#define DENSIFY_PRUNE_SCALE 0.1f /* of the extent, once opacities have been reset */

/* What selects Gaussians: per Gaussian the statistic summed over views and the views
   that saw it, the largest (spatial) scale and the logit opacity. */
typedef struct density_inputs {
    int64_t count;
    const float *grad_norm, *max_scale, *opacities;
    const uint32_t *views_seen;
    float extent;
    bool prune_big;        /* after the first opacity reset */
    float grad_threshold;  /* 0: DENSIFY_GRAD_THRESHOLD */
    float prune_opacity;   /* 0: DENSIFY_PRUNE_OPACITY */
} density_inputs;
/* Clone small Gaussians and split large ones whose mean statistic reached the threshold;
   prune faint ones (and with prune_big huge ones): rows (room for 2 count) and how many. */
int64_t rd_density_rows(const density_inputs *in, new_row *rows);

/* A split child's place against its parent's mean: R (s . n), n three normal draws in
   order, s the parent's scales, R its rotation (zero where q is not one). */
void rd_split_offset(const float log_scale[3], const float q[4], rd_rng *rng, float out[3]);

/* Rebuilds the scene and every group's moments from rows (train_gaussians.c): children
   are sampled from the parent's Gaussian (mean + R x, x ~ N(0, S^2)) with scales / 1.6. */
rd_result rd_trainer_rebuild(rd_trainer *t, const new_row *rows, int64_t count);

/* 3DGS-MCMC on the host arrays (train_mcmc.c): the regularisers' gradients before the
   update, the noise after it, and every 100 steps relocation and growth. */
void rd_mcmc_regularise_host(rd_trainer *t);
void rd_mcmc_noise_host(rd_trainer *t, float lr_means);
rd_result rd_mcmc_refine(rd_trainer *t);

/* ---- checkpoints (train_checkpoint.c): the container both trainers write ---- */

/* A checkpoint's header fields and its payload's pieces, in order. */
typedef struct checkpoint_head {
    uint32_t degree; /* the max SH degree */
    int64_t count;   /* Gaussians */
    int32_t iteration, views, order_at;
    uint32_t flags;  /* 3D: the scene's flags; 4D: the max temporal degree */
    uint64_t rng;
} checkpoint_head;
typedef struct checkpoint_piece {
    void *data;
    size_t bytes;
} checkpoint_piece;
extern const char RD_CHECKPOINT_MAGIC_3D[8], RD_CHECKPOINT_MAGIC_4D[8];
/* Writes head and the pieces (whole or not at all). */
rd_result rd_checkpoint_write(rd_context *ctx, const char *path, const char magic[8], const checkpoint_head *head,
                              const checkpoint_piece *pieces, int n);
/* Reads path and checks its magic (naming the other trainer's), version, header fields,
   checksum and view order: *file (free it) and the payload's bytes after the header. */
rd_result rd_checkpoint_open(rd_context *ctx, const char *path, const char magic[8], checkpoint_head *head, char **file,
                             size_t *payload);
/* Copies the payload of an opened file into the pieces. */
void rd_checkpoint_unpack(const char *file, const checkpoint_piece *pieces, int n);
rd_result rd_trainer4d_save_checkpoint(rd_trainer4d *t, const char *path);
rd_result rd_trainer4d_load_checkpoint(rd_trainer4d *t, const char *path);

/* The host arrays, brought up to date with the device where it trains (train_gaussians.c). */
rd_result rd_trainer_sync_host(rd_trainer *t);
/* After the host arrays changed (a checkpoint loaded): the device's state from them. */
rd_result rd_trainer_sync_device(rd_trainer *t);


/* Floats per Gaussian in group g. */
static inline int rd_trainer_group_width(const rd_trainer *t, int g)
{
    static const int widths[GROUPS] = {3, 3, 4, 1, 3, -1}; /* -1: 3 (K - 1) */
    return widths[g] >= 0 ? widths[g] : 3 * (rd_sh_coeffs(t->max_degree) - 1);
}

#endif
