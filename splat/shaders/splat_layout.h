/* splat_layout.h: constants the splat shaders share with splat_vk.c (plain #defines for
   GLSL and C). splat_vk.c checks the flags against radiant.h. */
#ifndef RD_SPLAT_LAYOUT_H
#define RD_SPLAT_LAYOUT_H

#define RD_VK_TILE 16
#define RD_VK_FLAG_ANTIALIASED 1u
#define RD_VK_FLAG_INRIA_EXTENT 2u
#define RD_VK_FLAG_EXPECTED_DEPTH 4u

/* The frame's counters, in uints. */
#define RD_COUNTER_GAUSSIANS 0     /* n, written by the host's fill */
#define RD_COUNTER_VISIBLE 1
#define RD_COUNTER_PAIRS 2         /* Gaussian-tile pairs, saturated at 2^32 - 1 */
#define RD_COUNTERS 4

/* The blend's launch order (tile_schedule.comp): tiles by the bit length of their list's
   length, 0 (empty) to 32. Its counters follow the tile ranges, in uints. */
#define RD_LENGTH_CLASSES 33
#define RD_SCHEDULE_HISTOGRAM 0                  /* tiles in each class */
#define RD_SCHEDULE_TAKEN RD_LENGTH_CLASSES      /* places handed out in each class */
#define RD_SCHEDULE_COUNTERS (2 * RD_LENGTH_CLASSES)

#endif
