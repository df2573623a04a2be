/* scene.h: the NeRF scene (radiant_nerf.h) inside the library: the field's layout and
   parameters, its occupancy grid and where it sits in the world, and the pieces the
   renderer, the trainer and the snapshot file share. */
#ifndef RD_NERF_SCENE_H
#define RD_NERF_SCENE_H

#include "field.h"
#include "occupancy.h"
#include "rays.h"
#include "../renderer/kinds.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Samples a rendered ray may take (the spec's training cap, rendering alike). */
enum { RD_NERF_MAX_SAMPLES = 1024 };

typedef struct rd_nerf_scene {
    rd_scene_head head;
    rd_nerf_desc desc;      /* defaults filled in */
    rd_nerf_field field;
    float *params;          /* field.params floats, host */
    rd_occupancy occupancy;
    float scale, offset[3]; /* world to field: p * scale + offset */
} rd_nerf_scene;

static inline bool rd_is_nerf(const rd_scene *s) { return s && rd_scene_head_of(s)->kind == RD_SCENE_NERF; }

/* A scene for desc (its defaults filled in, placed on its box), parameters and grid
   allocated but not set; RD_ERROR_INVALID_ARGUMENT naming a field out of range. */
rd_result rd_nerf_scene_new(rd_context *ctx, const rd_nerf_desc *desc, rd_nerf_scene **out);
void rd_nerf_scene_free(rd_nerf_scene *s);

/* Every cell of the grid occupied, every thickness 0: a fresh field's grid, which marches
   everywhere until the first update has measured the density. */
void rd_nerf_occupancy_open(rd_occupancy *g);

/* The gradient of the trainer's last step, field.params floats into host memory (the
   cross-backend harness compares a CPU and a CUDA step with it); RD_ERROR_INVALID_ARGUMENT
   before the first step (train.c). */
rd_result rd_nerf_trainer_last_gradient(rd_nerf_trainer *t, float *out);

/* Snapshot files (snapshot.c): whether data starts like one, and the reader behind
   rd_scene_load. */
bool rd_nerf_snapshot_detect(const unsigned char *data, size_t size);
rd_result rd_nerf_snapshot_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);

#ifdef __cplusplus
}
#endif
#endif
