/* splat_cuda_frame.cuh: what the CUDA renderer's frame (splat_cuda.cu) leaves for its
   backward pass (splat_backward_cuda.cu): the preprocessed records, the sorted
   Gaussian-tile pairs and each tile's run of them, and per pixel the final
   transmittance and where its blend stopped. For .cu files only. */
#ifndef RD_SPLAT_CUDA_FRAME_CUH
#define RD_SPLAT_CUDA_FRAME_CUH

#include "splat.h"
#include "../renderer/cuda/cuda_internal.h"

/* A Gaussian's record on the device: rd_splat2d's fields that the blend reads, 40 bytes,
   padded to 48 so that the blend reads it with three 16-byte loads (at a stride of 40,
   five 8-byte loads took 6M's blend 0.560 -> 0.595 ms). The tiles the emission writes
   keys for are in an array of their own (splat_cuda.cu's packed_tiles), which fits in L2
   where the records do not (6M binning 0.507 -> 0.457 ms against their being the
   record's last 8 bytes). Records of 64 bytes that held both cost the blend 0.635 ms at
   6M against 0.560 for 48: fewer of its gathers hit L2. rd_splat2d's colour clamp bits,
   which only a backward pass needs, are in a frame's flags (SPLAT_SEEN). */
typedef struct device_splat {
    float u, v, conic[3], opacity, depth, rgb[3];
    float padding[2]; /* written too: leaving it, the partial sectors took 6M preprocess 0.645 -> 0.709 ms */
} __align__(16) device_splat; /* stored with three 16-byte writes */
static_assert(sizeof(device_splat) == 48 && offsetof(device_splat, rgb) == offsetof(rd_splat2d, rgb),
              "device_splat: rd_splat2d's layout up to the colour");

typedef struct tile_range {
    long long start, end; /* [start, end) into the sorted keys; 64-bit, as intersections may pass 2^31 */
} tile_range;

/* A place of the blend's schedule (splat_cuda_schedule.cuh: tiles longest first): the
   tile and its run of the sorted keys, so that a blend block finds its list with one read
   rather than two dependent ones (a quarter of the biker blend's stall samples were its
   warps waiting for the tile id and then its range). */
typedef struct tile_work {
    long long start;    /* the tile's first pair in the sorted keys */
    unsigned int count; /* its pairs: fewer than MAX_CAPACITY */
    unsigned int tile;
} tile_work;
static_assert(sizeof(tile_work) == 16, "tile_work: one 16-byte read");

/* Where a frame's outputs go on the device (NULL where not wanted). last and flags are
   the backward pass's: per pixel one past the position in its tile's list of the last
   Gaussian it blended, and per Gaussian its SPLAT_SEEN and colour clamp bits. */
typedef struct frame_outputs {
    void *color, *depth, *trans, *contrib;
    unsigned int *last;
    unsigned char *flags;
} frame_outputs;

/* flags: the Gaussian touched a tile (bits 0-2: rd_splat2d.clamped) */
enum { SPLAT_SEEN = 8 };

/* The backward pass's own buffers, kept with the frame's. */
typedef struct splat_backward_buffers {
    rd_cuda_buffer grads2d, pose_parts, outputs, params, ordered; /* ordered: splat_backward_ordered.cu's */
} splat_backward_buffers;

/* A forward frame rendered for the backward pass: everything on the device, valid until
   the context renders again. */
typedef struct splat_saved_frame {
    rd_gaussians g;
    long long tiles, pairs; /* pairs: the sorted list's length */
    const device_splat *splats;
    const unsigned char *flags;
    const tile_range *ranges;
    const unsigned int *values; /* the sorted pairs' Gaussians */
    const tile_work *schedule;  /* every tile's list, longest first (the blend's launch order) */
    const float *trans, *depth;
    const unsigned int *last;
    splat_backward_buffers *buffers;
} splat_saved_frame;

/* Renders the view's frame (no colour) on stream and waits for it. */
rd_result rd_splat_cuda_forward_saved(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, cudaStream_t stream,
                                      splat_saved_frame *out);
/* The view's preprocess, binning and sorts alone (no blend) on stream, waited for: out's
   records, ranges and sorted pairs (no per-pixel state, no flags), for a feature field's
   own blend (feature_cuda.cu). */
rd_result rd_splat_cuda_forward_bins(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, cudaStream_t stream,
                                     splat_saved_frame *out);

/* Where a feature field's outputs (feature_cuda.cu) keep their state beside the frame's,
   freed with it by free_state. */
rd_result rd_splat_cuda_feature_slot(rd_context *ctx, void (*free_state)(rd_context *ctx, void *state), void ***slot);

#endif
