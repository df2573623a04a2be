/* backend_ops.h: the cross-backend harness's table of operations (test_backends.c), in the
   style of ggml's test-backend-ops. A row names an operation and gives its case generator
   (fresh random inputs), its run (on any context, into outputs poisoned before the run),
   its comparison with the CPU reference, and its tolerance on GPUs. The harness runs every
   row on every backend present. A module adds rows in a file of its own (ops_splat.c) and
   one line in test_backends.c's table. */
#ifndef RD_BACKEND_OPS_H
#define RD_BACKEND_OPS_H

#include "test_util.h"
#include "../renderer/tuning.h"

#include <stddef.h>

/* Tolerances on GPUs (reordered float sums, fused multiply-add, fast exp): the largest
   difference, the relative L2 error, and threshold flips allowed (per mille of samples).
   The threaded CPU must match the one-thread reference exactly. */
typedef struct op_tolerance {
    double max_abs, rel_l2;
    size_t flip_per_mille;
} op_tolerance;

/* Where a row runs: the backend under test, and what it may leave out. */
typedef struct op_env {
    rd_context *ctx;    /* the backend under test */
    const char *name;   /* its row in the table of backends */
    bool gpu;           /* not the CPU backend */
    bool variant;       /* a second run of a backend with other tuning: the small cases only */
    const rd_tuning *tuning; /* that tuning (zero: the device's defaults) */
    bool reduced;       /* a software device or the sanitizer build: large cases cut (each row says how) */
    op_tolerance tol;   /* the row's tolerance on this backend (zero on the CPU: exact) */
} op_env;

typedef struct backend_op {
    const char *name;
    op_tolerance gpu_tolerance;
    /* How many cases run on this backend (0: none). */
    int (*cases)(const op_env *env);
    /* Case i's inputs from the run's random numbers; NULL to leave it out (said by the row). */
    void *(*generate)(const op_env *env, test_rng *r, int i);
    /* Whether case i is large: on a GPU row its reference is then the threaded CPU, which
       the first backend row (the threaded CPU, against one thread) checks. */
    bool (*large)(const void *inputs);
    /* Runs the case on ctx into freshly poisoned outputs (*outputs, allocated by the run). */
    rd_result (*run)(rd_context *ctx, void *inputs, void **outputs);
    /* Within tolerance of the reference's outputs. */
    bool (*compare)(const op_env *env, const void *inputs, const void *got, const void *want);
    /* Prints what the case was, after a failure. */
    void (*describe)(const void *inputs);
    void (*free_inputs)(void *inputs);
    void (*free_outputs)(void *outputs);
} backend_op;

/* Whether the backend under test has the compute kernels that CPU and CUDA share (the
   training kernels, the hash encoding): Vulkan has none yet. */
bool op_cpu_or_cuda(const op_env *env);
/* bytes of host (NULL: zeros) in memory of the context's backend (rd_buffer_alloc: the
   device's on GPUs, the host's on the CPU); NULL on failure. Free with rd_buffer_free. */
void *op_device_copy(rd_context *ctx, const void *host, size_t bytes);

/* The splat renderer's rows (ops_splat.c), and its backward pass's (ops_splat_backward.c). */
extern const backend_op OP_SPLAT_RENDER, OP_SPLAT_PACKED, OP_SPLAT_RENDER_VIEWS, OP_SPLAT_CENTRED_MEANS, OP_SPLAT_CAPACITY,
    OP_SPLAT_DEVICE_ARRAYS, OP_SPLAT_CONTEXTS, OP_SPLAT_BACKWARD;
/* A GPU's gradient field against the CPU's (ops_splat_backward.c says how): the samples
   off by more than max_abs (|want| + RMS(want)) within the flip budget, and the relative
   L2 error; prints the field's figures where it fails (or RADIANT_TEST_VERBOSE is set). */
bool op_gpu_field_ok(const op_env *env, const char *name, const float *got, const float *want, size_t n);
/* A backward case's output gradients: dL/dRGBA in [-1, 1] (pixels*4) and dL/ddepth in
   [-0.1, 0.1] (pixels), malloc'd. */
void op_random_output_grads(test_rng *r, size_t pixels, float **color, float **depth);
/* Gradient fields: on GPUs each by op_gpu_field_ok, on the CPU each exactly. */
bool op_compare_fields(const op_env *env, int fields, const char *const *names, float *const *got, float *const *want,
                       const size_t *sizes);
/* The feature fields' rows (ops_features.c). */
extern const backend_op OP_FEATURE_COEFFICIENTS, OP_FEATURE_RELEVANCY;
/* The feature trainer's step (ops_feature_train.c). */
extern const backend_op OP_FEATURE_TRAIN;
/* The 4D Gaussians' rows (ops_splat4d.c). */
extern const backend_op OP_SPLAT4D_RENDER, OP_SPLAT4D_BACKWARD;
/* The training kernels' rows (ops_train.c). */
extern const backend_op OP_TRAIN_LOSS, OP_TRAIN_ADAM, OP_TRAIN_MCMC;
/* The hash encoding's row (ops_hashgrid.c). */
extern const backend_op OP_HASHGRID;
/* The NeRF's occupancy grid and volume rendering rows (ops_nerf_volume.c). */
extern const backend_op OP_OCCUPANCY_MARCH, OP_OCCUPANCY_UPDATE, OP_VOLUME_COMPOSITE;
/* The residual stream decode's row (ops_stream.c). */
extern const backend_op OP_STREAM_DECODE;
/* The compact file's device decode row (ops_compact.c). */
extern const backend_op OP_COMPACT_DECODE;
/* The residual encoder's step (ops_stream_encode.c). */
extern const backend_op OP_STREAM_ENCODE_STEP, OP_STREAM_ENCODE_MASK, OP_STREAM_ENCODE_REBUILD;
/* The NeRF networks' row (ops_mlp.c). */
extern const backend_op OP_MLP;
/* The NeRF field's row and the whole NeRF frame's (ops_nerf_field.c). */
extern const backend_op OP_NERF_FIELD, OP_NERF_RENDER;
/* A whole NeRF training step's row (ops_nerf_train.c); the ADMM pruner's (ops_nerf_prune.c). */
extern const backend_op OP_NERF_TRAIN, OP_NERF_ADMM;

#endif
