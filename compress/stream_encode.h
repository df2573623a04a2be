/* stream_encode.h: the residual encoder's state on the host (stream_encode.c trains with it,
   stream_encode_density.c grows and prunes it). Every per-Gaussian array is count rows in
   the order of the frame being trained; `mapping` gives each row's parent in the previous
   frame, and `parent` holds that parent's decoded values (the previous frame remapped). */
#ifndef RD_STREAM_ENCODE_H
#define RD_STREAM_ENCODE_H

#include "stream.h"
#include "stream_encode_step.h"
#include "../renderer/random.h"
#include "../splat/trainer.h"

/* QUEEN's densification inside a residual frame (spec/streams.md): every two passes over
   the views, the view-space gradient threshold 1.25e-3, Gaussians under opacity 0.01 pruned. */
#define RD_ENCODE_DENSIFY_GRADIENT 1.25e-3f
#define RD_ENCODE_PRUNE_OPACITY 0.01f
/* The latents' shrink a step (rd_stream_encode_desc.latent_shrink's default). */
#define RD_ENCODE_LATENT_SHRINK 0.06f

typedef struct stream_encoder {
    rd_context *ctx;
    const rd_stream_encode_desc *desc;
    int64_t n;
    int sh_degree, C;
    rd_scene_desc parent;                                /* the previous frame remapped; its arrays in `arrays` */
    stream_encode_step s;                                /* host arrays */
    stream_encode_moments moments[RD_STREAM_ATTRIBUTES]; /* Adam's, of z, W and b */
    float *basis[RD_STREAM_ATTRIBUTES];
    float *anchor[RD_STREAM_ATTRIBUTES];                 /* the shrink's target: 0, f_rest's start, split children's shrink */
    float *arrays;                                       /* the parent's five arrays, one block */
    float *position_moments[4];                          /* Adam's: x's m and v, ln alpha's m and v */
    uint8_t *dynamic;                                    /* the split's: per Gaussian, changing (d > 1e-3) */
    int64_t *mapping;                                    /* per Gaussian: its parent in the previous frame */
    int64_t previous_count;                              /* the previous frame's Gaussians */
    float *grad_norm;                                    /* since the last densification: rd_gaussian_grads' */
    uint32_t *views_seen;
    float extent;                                        /* half the diagonal of the parent's positions' box */
    uint64_t rng;                                        /* the views' (stream_encode_pick_view) */
    rd_rng split_rng;                                    /* the split children's offsets */
} stream_encoder;

/* The encoder's arrays for state's count Gaussians (the identity mapping, residual latents
   at zero, gates closed; f_rest's latents from rest_latents, the previous frame's integer
   latents of rest_dim a Gaussian, where it has them: rd_stream_encoder_rest_start); false
   when out of memory. */
bool rd_stream_encoder_setup(stream_encoder *e, const rd_scene_desc *state, const int32_t *rest_latents, int rest_dim);
void rd_stream_encoder_free(stream_encoder *e);
/* Every array for n Gaussians, zeroed (e->desc, sh_degree, C and parent's degree set); the
   parent's desc points at the new block. False when out of memory (free what was made). */
bool rd_stream_encoder_allocate(stream_encoder *e, int64_t n);

/* Clone, split and prune by the statistics gathered since the last call (rd_density_rows's
   rule at the thresholds above), then zero them. A clone copies its source row; a split's
   two children replace it, each placed at a draw from its Gaussian (mean + R (s . n)),
   its gate open, its scale latents moved by the least-norm change that decodes to
   -ln 1.6 (the 3DGS split's shrink). Rows kept keep their Adam moments; new rows start
   from zero. *added and *pruned (either may be NULL) count the change. */
rd_result rd_stream_encoder_densify(stream_encoder *e, int64_t *added, int64_t *pruned);

/* rd_stream_encoder_densify in parts, for a state kept elsewhere (CUDA's,
   stream_encode_device.c): the plan from the frame as it decodes now (decoded: its means,
   log-scales, rotations and opacities, one block of 11 count floats, gates evaluated; the
   state's count, which e->n is not while the state is elsewhere) and
   the statistics, with the children's places drawn from e->split_rng; then the host's own
   rows follow it (the mapping and the split's flags, the only arrays the host keeps current
   while the state is elsewhere), and at the end e is resized to the state's count (every
   array zero but those two and the decoders' bases) for the state to come back into. */
typedef struct stream_density_plan {
    new_row *rows;            /* count of them (room for twice the old count) */
    int64_t *from;            /* rows' sources, */
    uint8_t *fresh;           /* and whether each is new (its Adam moments start at zero) */
    int64_t count, added, children;
    bool unchanged;           /* every row kept in place: only the statistics are zeroed */
    int64_t *child_rows;      /* the split children's rows, */
    float *child_x;           /* and their places (3 floats each) */
    float shrink[RD_STREAM_MAX_LATENT]; /* the scale latents' change that decodes to -ln 1.6 */
    bool shrinks;             /* false where the scale has no latents or the solve failed */
} stream_density_plan;
rd_result rd_stream_encoder_plan_density(stream_encoder *e, int64_t count, const float *decoded, const float *grad_norm,
                                         const uint32_t *views_seen, stream_density_plan *plan);
void rd_stream_density_plan_free(stream_density_plan *plan);
bool rd_stream_encoder_follow(stream_encoder *e, const stream_density_plan *plan);
bool rd_stream_encoder_resize(stream_encoder *e, int64_t count);

/* A frame's training on CUDA (stream_encode_device.c): e's state uploaded with the views'
   photos, iterations steps run on the device with fused Adam, densified there after each
   step densify_due names (the rows planned on the host), and at the end e resized to the
   frame's count and the trained values copied back (the parent, latents, decoders, free
   positions and gate logits: what the frame's writing reads; not Adam's moments). The
   views are drawn from e->rng as the CPU's loop draws them. */
typedef struct stream_encode_run {
    stream_encoder *e;
    const rd_train_view *views;
    int view_count, iterations;
    int masked_steps;                  /* the first steps hide the static Gaussians and mask the loss (e->s.dynamic) */
    float background[3];
    float position_lr;
    bool (*densify_due)(void *user, int step);
    void *user;
    double loss_first, loss_last;      /* out */
    double densify_ms;                 /* out: the densifications, their reads and plans included */
    int64_t added, removed;            /* out: by the densifications */
} stream_encode_run;
rd_result rd_stream_encode_run_cuda(rd_context *ctx, stream_encode_run *run);

/* f_rest's latents, decoder and anchors at the frame's start (stream_encode_rest.c). */
bool rd_stream_encoder_rest_start(stream_encoder *e, const int32_t *latents, int latent_dim);
/* Solves A X = B in place (A n x n, B n x m, row-major; X into B) by elimination with
   partial pivoting; false where A is singular. */
bool rd_stream_solve(double *A, double *B, int n, int m);

/* The render flags of the encoder's renders that a backward pass follows (the steps, the
   split): for backward, and with the desc's deterministic sums. */
static inline uint32_t rd_stream_encode_render_flags(const rd_stream_encode_desc *d)
{
    return RD_RENDER_FOR_BACKWARD | (d->deterministic ? RD_RENDER_DETERMINISTIC : 0u);
}

/* Whether the mapping is the identity (nothing grew or was pruned). */
bool rd_stream_encoder_identity(const stream_encoder *e);

#endif
