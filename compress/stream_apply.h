/* stream_apply.h: a residual frame's decode as the GPU kernels read it (stream_cuda.cu,
   stream_vk.c and shaders/stream_residual.comp): plain C, so that the CUDA file needs
   nothing else of compress/. stream_device.c fills it. */
#ifndef RD_STREAM_APPLY_H
#define RD_STREAM_APPLY_H

#include "radiant.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A state's arrays on the device, as addresses (CUDA pointers or Vulkan device addresses). */
typedef struct stream_device_arrays {
    uint64_t means, log_scales, rotations, opacities, sh, rest_latents;
} stream_device_arrays;

/* One residual's decode as the kernels read it: every array a device address. */
typedef struct stream_apply_args {
    uint32_t count, moved;
    uint32_t sh_floats;               /* 3 (d+1)^2 */
    uint32_t rest_dim, keep_rest;     /* this frame's f_rest latents, and those the next state keeps */
    uint32_t rest_delta;              /* f_rest's latents added to the parent's */
    float step;                       /* position_step */
    stream_device_arrays prev, next;
    uint64_t mapping;                 /* int32 a Gaussian: its parent; 0: the identity */
    uint64_t moved_indices;           /* uint32 a moved Gaussian */
    uint64_t moved_steps;             /* int32, 3 a moved Gaussian */
    uint32_t latent_dim[RD_STREAM_ATTRIBUTES];
    uint32_t latent_width[RD_STREAM_ATTRIBUTES]; /* 0: int32 values; 1, 2, 4: zigzag byte planes as stored */
    uint64_t latents[RD_STREAM_ATTRIBUTES], W[RD_STREAM_ATTRIBUTES], bias[RD_STREAM_ATTRIBUTES];
    uint64_t overflow;                /* a uint32 set to 1 where an f_rest latent leaves 32 bits */
    uint64_t row_index[RD_STREAM_ATTRIBUTES]; /* uint32 a row: the Gaussians whose latents are listed; 0: all */
    uint32_t rows[RD_STREAM_ATTRIBUTES];      /* the latents' rows (count where every Gaussian has one) */
    uint32_t runs;                    /* the mapping as runs (mapping 0): their first Gaussians and */
    uint64_t run_start, run_parent;   /* first parents, uint32 each; runs 0 and mapping 0: the identity */
    uint64_t gaussian_rows;           /* the passes' scratch (rd_stream_apply_scratch_bytes): each Gaussian's parent and rows */
} stream_apply_args;

/* Device bytes a decode of count Gaussians needs beside its arguments: a parent and five
   latent rows a Gaussian, which the first pass finds for the others. */
static inline size_t rd_stream_apply_scratch_bytes(uint32_t count) { return 24 * (size_t)count + 16; }

/* Vulkan's upload of the frame: bytes of host memory that go to device (the arrays that
   the arguments point into, the arguments themselves at args), copied in the decode's
   own submission. */
typedef struct stream_vk_upload {
    void *device;
    const void *host;
    size_t bytes;
    uint64_t args;
} stream_vk_upload;

/* The backends' kernels: the decode enqueued on the context's stream (CUDA, its arrays
   already uploaded), or finished when it returns (Vulkan, which uploads them first in the
   same submission, reads the arguments from their copy in device memory, and keeps its
   pipeline in *kernels, made at the first call and freed by rd_stream_vk_free). */
rd_result rd_stream_apply_cuda(rd_context *ctx, const stream_apply_args *a);
rd_result rd_stream_apply_vk(rd_context *ctx, const stream_apply_args *a, const stream_vk_upload *up, void **kernels);
void rd_stream_vk_free(rd_context *ctx, void *kernels);

#ifdef __cplusplus
}
#endif

#endif
