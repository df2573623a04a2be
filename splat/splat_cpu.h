/* splat_cpu.h: the CPU renderer's frame (splat_cpu.c): every Gaussian preprocessed,
   binned into tiles and sorted by depth per tile. The forward blend and the backward
   pass (splat_backward_cpu.c) both walk it. */
#ifndef RD_SPLAT_CPU_H
#define RD_SPLAT_CPU_H

#include "splat.h"

typedef struct rd_tile_entry {
    float depth;
    uint32_t index;
} rd_tile_entry;

typedef struct rd_cpu_frame {
    rd_gaussians scene;
    const rd_view_params *vp;
    const rd_framebuffer *target; /* the forward blend's */
    int threads;
    rd_splat2d *splats;           /* one per Gaussian */
    int64_t *tile_offsets;        /* tiles+1: tile t's entries are [offsets[t], offsets[t+1]) */
    rd_tile_entry *entries;       /* Gaussian-tile pairs, nearest first within a tile */
    int64_t max_tile_len, visible;
    float **scratch;              /* per worker, the pass's own */
} rd_cpu_frame;

/* Tile t's pixels: [x0, x1) x [y0, y1). */
static inline void rd_tile_pixels(const rd_view_params *vp, int64_t t, int *x0, int *y0, int *x1, int *y1)
{
    *x0 = (int)(t % vp->tiles_x) * RD_TILE_SIZE, *y0 = (int)(t / vp->tiles_x) * RD_TILE_SIZE;
    *x1 = *x0 + RD_TILE_SIZE < vp->width ? *x0 + RD_TILE_SIZE : vp->width;
    *y1 = *y0 + RD_TILE_SIZE < vp->height ? *y0 + RD_TILE_SIZE : vp->height;
}

/* Preprocess, binning and sort; ms (may be NULL) gets each stage's milliseconds. */
rd_result rd_cpu_frame_prepare(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, rd_cpu_frame *frame,
                               double ms[3]);
/* Frees what the frame holds, scratch included (each of f->threads entries). */
void rd_cpu_frame_free(rd_cpu_frame *frame);

#endif
