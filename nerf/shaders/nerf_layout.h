/* nerf_layout.h: what the NeRF shaders share with render_vk.c (plain #defines, so that
   GLSL and C both include this file). NerfView in nerf_view.glsl mirrors render_vk.c's
   nerf_vk_view field for field (render_vk.c checks its size). */
#ifndef RD_NERF_LAYOUT_H
#define RD_NERF_LAYOUT_H

#define RD_NERF_VK_THREADS 64         /* rays (pixels) a workgroup */
#define RD_NERF_VK_MAX_ROW 256        /* the widest row a network reads or writes: mlp.h's RD_MLP_MAX_WIDTH */
#define RD_NERF_VK_MAX_SAMPLES 1024   /* scene.h's RD_NERF_MAX_SAMPLES */
#define RD_NERF_VK_MAX_LEVELS 32      /* hashgrid.h's RD_HASHGRID_MAX_LEVELS */
#define RD_NERF_VK_BIT_LEVELS 8       /* occupancy.h's RD_OCCUPANCY_LEVELS */
#define RD_NERF_VK_DENSITY_OUTPUTS 16 /* field.c's */
#define RD_NERF_VK_SLOTS 64           /* samples a workgroup evaluates an iteration at most (nerf_render.comp) */
#define RD_NERF_VK_TILE_FLOATS 2048   /* activations a tile of samples holds (nerf_field.glsl) */
#define RD_NERF_VK_RAY_STEPS 16       /* samples a ray takes an iteration at most */

/* outputs: bits of the push constants' mask */
#define RD_NERF_VK_OUT_COLOR 1u
#define RD_NERF_VK_OUT_DEPTH 2u
#define RD_NERF_VK_OUT_TRANS 4u
#define RD_NERF_VK_OUT_CONTRIB 8u

/* the frame's counters, in uints */
#define RD_NERF_VK_COUNTER_USED 0     /* samples composited */
#define RD_NERF_VK_COUNTER_ALIVE 1    /* rays the last wave left unfinished */
#define RD_NERF_VK_COUNTER_PROFILE 4  /* RADIANT_NERF_VK_PROFILE's: march, field, compositing (4096 ticks) */
#define RD_NERF_VK_COUNTERS 8

/* A ray between waves, in uints: the march's t and leave (nerf_march.glsl's march_words:
   doubles as two uints each, or in float t, its compensation and leave), samples
   marched, transmittance, rgb, depth, samples composited, and 1 while it is unfinished. */
#define RD_NERF_VK_RAY_UINTS 12

/* A wave's loop budget (nerf_render.glsl), counting each loop's failing exit test too:
   march steps an iteration at most (a ray's, and on CPU devices a SIMD vector's), what a
   step counts in loop iterations (its loops over axes, cascades and block levels), and
   what an iteration's bookkeeping counts (up to 16 samples a ray marched, stored and
   composited, the march calls' count, the tiles' loop); the march calls a ray makes an
   iteration at most (16 finding a sample, 17 pausing) */
#define RD_NERF_VK_MARCH_CAP 64u
#define RD_NERF_VK_STEP_ITERATIONS 40u
#define RD_NERF_VK_ITERATION_ITERATIONS 320u
#define RD_NERF_VK_MARCH_CALLS 34u

#endif
