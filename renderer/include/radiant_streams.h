/* radiant_streams.h: quantised residual streams (included by radiant.h): free-viewpoint
   video as a Gaussian scene per frame, after QUEEN (spec/streams.md). Frame 1 is an intra
   frame, the whole scene; each later frame is either another intra frame or a residual
   of the frame before it: a parent mapping (densification and pruning inside a frame),
   the positions that moved (gated, in steps of position_step), and per attribute integer
   latents decoded by one small linear layer, a = round(z) W + b, added to the parent's
   value (f_rest: absolute, its latents coded against the parent's).

     rd_stream_writer *w;
     rd_stream_writer_create(ctx, "scene.rstream", &(rd_stream_desc){.sh_degree = 2}, &w);
     rd_stream_write_intra(w, &first_frame);      // the whole scene, exactly
     rd_stream_write_residual(w, &residual);      // then residuals (or intra frames)
     rd_stream_writer_state(w);                   // what a decoder now holds: predict from it
     rd_stream_writer_finish(w);                  // the index; the file appears whole, or not at all

     rd_stream *s;
     rd_stream_open(ctx, "scene.rstream", &s);
     rd_stream_seek(s, 42);                       // decodes from the last intra frame at or before 42
     const rd_scene *frame;
     rd_stream_scene(s, &frame);                  // render it (on a GPU, decoded there)
     rd_stream_next(s);                           // frame 43

   The container (.rstream, little-endian; the README lays it out): a header (magic
   "RDSTREAM", version, the configuration as JSON, its checksum), then the frames, each
   with a header of its own (magic, kind, number, timestamp, Gaussians, payload size and
   the payload's XXH64; the header checked by its own checksum), so that a player reading
   a file still arriving needs nothing else; then an index of every frame (offset, size,
   kind, timestamp) and a trailer pointing at it, for seeking without parsing the frames.
   Payloads are sections (positions, mapping, latents, decoders...), each zstd-compressed.
   A file without its index (truncated, or still being written) is scanned frame by frame
   up to its last whole frame; a frame whose checksum fails is reported by number and the
   player may go on from the next intra frame. */
#ifndef RADIANT_STREAMS_H
#define RADIANT_STREAMS_H

#include "radiant_core.h"
#include "radiant_splats.h"
#include "radiant_train.h"

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The attributes a residual frame carries latents for. Features per Gaussian: f_dc 3,
   f_rest 3((d+1)^2 - 1) for SH degree d, log-scales 3, rotation 4 (w x y z), opacity 1
   (logit); positions are carried apart (moved_*). */
typedef enum rd_stream_attribute {
    RD_STREAM_F_DC,
    RD_STREAM_F_REST,
    RD_STREAM_SCALE,
    RD_STREAM_ROTATION,
    RD_STREAM_OPACITY,
    RD_STREAM_ATTRIBUTES
} rd_stream_attribute;

typedef enum rd_stream_decoder {
    RD_STREAM_LINEAR = 0, /* a = round(z) W + b, W latent_dim x features */
    RD_STREAM_COSINE = 1, /* a = scale * round(z) B + b, B the fixed cosine basis (spec: the opacity's) */
} rd_stream_decoder;

enum {
    RD_STREAM_MAX_LATENT = 64,               /* latent_dim */
    RD_STREAM_MAX_GAUSSIANS = 0x7fffffff,    /* a frame's count (and its state within the decode limit) */
};

/* One attribute's latents in a residual frame. latent_dim 0: the attribute keeps its
   parent's value (f_rest: that too). */
typedef struct rd_stream_latents {
    int latent_dim;
    rd_stream_decoder decoder;
    const int32_t *values;  /* count*latent_dim: round(z), Gaussian-major */
    const float *weights;   /* latent_dim*features (RD_STREAM_LINEAR) */
    float scale;            /* RD_STREAM_COSINE */
    const float *bias;      /* features */
} rd_stream_latents;

typedef struct rd_stream_residual {
    int64_t count;                /* Gaussians in this frame */
    const int64_t *mapping;       /* count: each one's parent in the previous frame; NULL: the identity */
    int64_t moved;                /* Gaussians whose position changes (open gates) */
    const int64_t *moved_indices; /* moved, strictly increasing, < count */
    const int32_t *moved_steps;   /* moved*3: the change in units of position_step */
    rd_stream_latents attributes[RD_STREAM_ATTRIBUTES];
} rd_stream_residual;

/* Everything zero means the default. */
typedef struct rd_stream_desc {
    int sh_degree;           /* 0..3 */
    double frame_rate;       /* frames a second; 0: 30 */
    float position_step;     /* the unit of moved_steps; 0: 1e-4 */
    int zstd_level;          /* 1..22; 0: 9 */
    const char *config_json; /* a JSON object stored as the configuration's "encoder" (settings), or NULL */
} rd_stream_desc;

typedef struct rd_stream_writer rd_stream_writer;

/* Opens path's temporary sibling; nothing appears at path until rd_stream_writer_finish. */
rd_result rd_stream_writer_create(rd_context *ctx, const char *path, const rd_stream_desc *desc, rd_stream_writer **out);
/* An intra frame: the whole scene (host arrays of the stream's SH degree), stored exactly;
   NULL writes the current decoded state (a keyframe). */
rd_result rd_stream_write_intra(rd_stream_writer *w, const rd_scene_desc *scene);
/* A residual frame of the current state; refused (nothing written) when it does not fit
   it: a parent past the previous count, indices out of order, non-finite decoders. */
rd_result rd_stream_write_residual(rd_stream_writer *w, const rd_stream_residual *frame);
/* The decoded state after the last frame written, exactly as a reader decodes it. */
rd_scene_desc rd_stream_writer_state(const rd_stream_writer *w);
/* Bytes of the last frame written, header included. */
int64_t rd_stream_writer_last_bytes(const rd_stream_writer *w);
/* Writes the index and trailer, moves the file into place, and frees the writer (also on
   failure: do not destroy it after). */
rd_result rd_stream_writer_finish(rd_stream_writer *w);
/* Frees the writer; unfinished, its temporary file is removed. */
void rd_stream_writer_destroy(rd_stream_writer *w);

/* ---- encoding: a residual frame trained from photos ---- */

/* Everything zero means the default. */
typedef struct rd_stream_encode_desc {
    int iterations;                          /* steps, one view each; 0: ten passes over the views (QUEEN's 10 epochs) */
    int latent_dims[RD_STREAM_ATTRIBUTES];   /* 0: the spec's N3DV sizes (f_dc 8, scale 8, rotation 6,
                                                opacity 3) and none for f_rest (kept from the parent, no
                                                bits); f_rest's (N3DV: 4) are absolute, carried from the
                                                frame before where it coded them */
    float gate_lambda;                       /* the gates' L0 weight; 0: 0.01; negative: no gates (every
                                                position free) */
    bool intra;                              /* write the trained frame whole (a keyframe: exact floats) */
    float background[3];                     /* behind the renders and under transparent photos */
    uint64_t seed;
    const rd_train_view *previous_views;     /* the previous frame's photos, view k from views[k]'s camera:
                                                the static/dynamic split (spec/streams.md) starts each gate
                                                from its Gaussian's share of the change between the two
                                                frames; NULL: every gate at P(g = 0) = 1/2 */
    int densify_every;                       /* steps between densifications (clone, split, prune faint
                                                Gaussians; the mapping records each one's parent); 0 (the
                                                default): none, as new Gaussians cost test PSNR in a few
                                                hundred quantised steps (BENCHMARKS.md); negative: two
                                                passes over the views, QUEEN's */
    float densify_gradient;                  /* the mean view-space gradient that grows a Gaussian; 0: 1.25e-3 */
    float latent_shrink;                     /* after each step every latent moves this far toward 0, so
                                                that those without a steady gradient stay 0 and cost few
                                                bits; 0: the default; negative: none */
    bool deterministic;                      /* CUDA: the backward passes' sums in a fixed order
                                                (RD_RENDER_DETERMINISTIC), so that a seed repeats a frame bit
                                                for bit there too, at a cost */
} rd_stream_encode_desc;

typedef struct rd_stream_encode_report {
    double loss_first, loss_last; /* the first and the last step's (0.8 L1 + 0.2 D-SSIM) */
    int64_t moved;                /* Gaussians whose stored position changed */
    int64_t bytes;                /* the frame's, header included */
    double seconds;
    int64_t dynamic;              /* Gaussians the split found changing (d > 1e-3); -1 without previous_views */
    int64_t count;                /* Gaussians in the frame */
    int64_t added, removed;       /* by densification: new ones (clones, split children), and the previous
                                     frame's not carried (faint ones pruned, split ones replaced) */
    double split_seconds;         /* the parts of seconds: the setup and static/dynamic split, */
    double train_seconds;         /* the steps with their densifications (on CUDA the photos' upload too), */
    double densify_seconds;       /* of which the densifications (on CUDA the state's trips to the host too), */
    double write_seconds;         /* and the frame's quantisation and writing (the writer decodes it) */
} rd_stream_encode_report;

/* Trains the next frame as a residual of the writer's state against views (cameras and
   photos of this frame; the stream's SH degree) and writes it: latents with learned
   decoders under straight-through rounding, positions behind hard-concrete gates with an
   L0 term (spec/streams.md), densified and pruned every densify_every steps where asked. The first frame comes from rd_trainer, written with
   rd_stream_write_intra. report may be NULL. */
rd_result rd_stream_encode_frame(rd_stream_writer *w, const rd_train_view *views, int view_count, const rd_stream_encode_desc *desc,
                                 rd_stream_encode_report *report);

typedef enum rd_stream_frame_kind { RD_STREAM_INTRA = 1, RD_STREAM_RESIDUAL = 2 } rd_stream_frame_kind;

typedef struct rd_stream_frame_info {
    int64_t offset, bytes; /* in the file, the frame's header included */
    int64_t count;         /* Gaussians */
    double timestamp;      /* seconds */
    rd_stream_frame_kind kind;
} rd_stream_frame_info;

typedef struct rd_stream_info {
    int64_t frames;        /* whole frames found */
    int64_t frame_numbers; /* the highest frame number found + 1: frames, and the damaged ones between */
    int64_t intra_frames;
    int sh_degree;
    double frame_rate;
    float position_step;
    int64_t file_bytes;
    int64_t largest_frame; /* bytes */
    double mean_residual_bytes;
    double bits_per_second; /* the frames' bytes over their duration */
    bool indexed;          /* false: no index (truncated or still written), frames found by scanning */
    int64_t damaged_at;    /* without an index: the offset of the first damage or cut the scan met; -1 none */
    bool piped;            /* read from a pipe still open: frames and sizes count what has arrived, and a
                              seek past them waits for more (a pipe's bytes are kept from the intra
                              frame of the frame played last on) */
} rd_stream_info;

typedef struct rd_stream rd_stream;

/* Reads the header and the index (or, without one, scans the frames' headers to the last
   whole frame). Nothing is decoded yet: rd_stream_seek decodes. A pipe or FIFO is read as
   it arrives: the header and the first frame at open, later frames when a seek or next
   reaches them (it waits for them), so a player starts before the end; a pipe's bytes
   before the intra frame of the frame played last are let go, and a seek before that
   intra frame fails with RD_ERROR_UNSUPPORTED. */
rd_result rd_stream_open(rd_context *ctx, const char *path, rd_stream **out);
void rd_stream_get_info(const rd_stream *s, rd_stream_info *out);
rd_result rd_stream_get_frame(const rd_stream *s, int64_t frame, rd_stream_frame_info *out);
/* The stream's configuration as stored (JSON text). */
const char *rd_stream_config(const rd_stream *s);
/* Decodes frame (0-based): from the current state where it is at or before frame and no
   intra frame lies between, else from the last intra frame at or before it. A damaged
   frame fails with RD_ERROR_FORMAT naming it; the state is then empty (rd_stream_position
   -1) until a seek succeeds. */
rd_result rd_stream_seek(rd_stream *s, int64_t frame);
rd_result rd_stream_next(rd_stream *s);
/* The current frame, -1 before the first decode. */
int64_t rd_stream_position(const rd_stream *s);
/* The decoded frame's arrays in host memory, valid until the next seek or next. On a
   GPU context (CUDA, Vulkan) the frames are decoded in device memory and this copies the
   current one down (once a frame); a count of -1 says that copy failed. */
rd_scene_desc rd_stream_state(rd_stream *s);
/* The decoded frame as a scene to render, valid until the next seek or next: on a GPU
   context a device scene over the decoder's own arrays (nothing is copied: a player's
   frame is the residual's bytes going up, its decode and the render), on the CPU a scene
   of rd_stream_state's arrays. */
rd_result rd_stream_scene(rd_stream *s, const rd_scene **out);
/* The first intra frame after frame, or -1: where a player goes on after damage. */
int64_t rd_stream_next_intra(const rd_stream *s, int64_t frame);
void rd_stream_close(rd_stream *s);

#ifdef __cplusplus
}
#endif

#endif
