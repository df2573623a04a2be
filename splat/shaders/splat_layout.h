/* splat_layout.h: constants the splat shaders share with splat_vk.c, and the packed tiles'
   with splat_cuda.cu (through splat.h); plain #defines for GLSL and C. splat_vk.c checks
   the flags against radiant.h. */
#ifndef RD_SPLAT_LAYOUT_H
#define RD_SPLAT_LAYOUT_H

#define RD_VK_TILE 16
#define RD_VK_FLAG_ANTIALIASED 1u
#define RD_VK_FLAG_INRIA_EXTENT 2u
#define RD_VK_FLAG_EXPECTED_DEPTH 4u
#define RD_VK_SH_HALF 16 /* added to the preprocess's sh_degree: the SH array holds halves (RD_SCENE_HALF_SH) */
#define RD_VK_SHAPE_HALF 32 /* added too: the rotations' array holds the shape's eight halves a Gaussian
                               (RD_SCENE_HALF_SHAPE, rd_scene_shape_halves) */

/* A visible Gaussian's packed tiles on the GPUs (splat_cuda.cu's packed_tiles, TilesAt in
   splat_math.glsl): the head holds its rectangle's first tile id below bit
   RD_HEAD_TILE_BITS, the width less one above it, and RD_HEAD_WHOLE where the rectangle
   is kept whole, whose width and height then take 16 bits each (rd_tiles_fit_packed). */
#define RD_HEAD_TILE_BITS 26
#define RD_HEAD_WHOLE 0x80000000u

/* The frame's counters, in uints. */
#define RD_COUNTER_GAUSSIANS 0     /* n, written by the host's fill */
#define RD_COUNTER_VISIBLE 1
#define RD_COUNTER_PAIRS 2         /* Gaussian-tile pairs, saturated at 2^32 - 1 */
#define RD_COUNTER_SORT_STALLS 3   /* the sorts' look-back waits that ran out (vk_sort.h) */
#define RD_COUNTERS 4

/* The blend's launch order (tile_schedule.comp): tiles by the bit length of their list's
   length, 0 (empty) to 32. Its counters follow the tile ranges, in uints. */
#define RD_LENGTH_CLASSES 33
#define RD_SCHEDULE_HISTOGRAM 0                  /* tiles in each class */
#define RD_SCHEDULE_TAKEN RD_LENGTH_CLASSES      /* places handed out in each class */
#define RD_SCHEDULE_COUNTERS (2 * RD_LENGTH_CLASSES)

#endif
