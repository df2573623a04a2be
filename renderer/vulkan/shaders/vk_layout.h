/* vk_layout.h: sizes shared by the Vulkan shaders and the C code that dispatches them
   (plain #defines, so that GLSL and C both include this file). */
#ifndef RD_VK_LAYOUT_H
#define RD_VK_LAYOUT_H

#define RD_SCAN_THREADS 256
#define RD_SCAN_ITEMS 8                     /* consecutive elements per thread */
#define RD_SCAN_BLOCK (RD_SCAN_THREADS * RD_SCAN_ITEMS)
#define RD_SORT_THREADS 256
#define RD_SORT_ITEMS 12                    /* keys a sort thread takes by default (sort_block.glsl) */
#define RD_SORT_MIN_SUBGROUP 8              /* the scatter's per-subgroup tables assume at least 8 lanes */
#define RD_SORT_MAX_SUBGROUPS (RD_SORT_THREADS / RD_SORT_MIN_SUBGROUP)
#define RD_RADIX 256                        /* 8-bit digits */
#define RD_SORT_MAX_PASSES 4                /* 32-bit keys */
#define RD_SORT_MAX_KEYS (1u << 30)         /* exclusive: look-back entries count in 30 bits */
#define RD_LINEAR_THREADS 256               /* one element per thread kernels */

/* The control block, in uints: a scan's element count and groups with its dispatch, then
   a sort's clamped count and groups with its dispatch, its passes' block tickets (the
   single-pass path) and the length of its table of block digit counts (groups * 256, the
   reduce-then-scan path, which scans the table). */
#define RD_CONTROL_SCAN_COUNT 0
#define RD_CONTROL_SCAN_GROUPS 1
#define RD_CONTROL_SCAN_DISPATCH 4
#define RD_CONTROL_SORT_COUNT 8
#define RD_CONTROL_SORT_GROUPS 9
#define RD_CONTROL_SORT_DISPATCH 12
#define RD_CONTROL_ARGS_DISPATCH 16         /* rd_vk_count_args writes here */
#define RD_CONTROL_SORT_TICKETS 20          /* RD_SORT_MAX_PASSES of them */
#define RD_CONTROL_SORT_TABLE 24
#define RD_CONTROL_UINTS 28

#endif
