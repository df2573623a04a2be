/* stream.h: residual streams inside compress/ (radiant_streams.h; spec/streams.md).
   stream_payload.c codes a payload's sections, stream_frames.c codes intra and residual
   frames and decodes them (the CPU reference), stream_writer.c and stream_reader.c write
   and read the container (headers, checksums, index, trailer), stream_encode.c trains a
   residual frame. */
#ifndef RD_STREAM_H
#define RD_STREAM_H

#include "../renderer/internal.h"
#include "bytes.h"

#include <stdio.h>

#define RD_STREAM_MAGIC "RDSTREAM"
#define RD_STREAM_FRAME_MAGIC "RDFRAME"  /* 8 bytes with its NUL */
#define RD_STREAM_INDEX_MAGIC "RDINDEX"  /* 8 bytes with its NUL */
#define RD_STREAM_TRAILER_MAGIC "RDSTREND"
enum {
    RD_STREAM_VERSION = 2, /* 2: residual frames may list their latents' rows; version 1 files read as before */
    RD_STREAM_FRAME_HEADER = 56, /* magic 8, number 4, kind 1, 3 zero, timestamp 8, count 8, payload 8, payload XXH64 8, header XXH64 8 */
    RD_STREAM_INDEX_ENTRY = 40,  /* offset 8, bytes 8, count 8, timestamp 8, kind 1, 7 zero */
    RD_STREAM_TRAILER = 24,      /* index offset 8, its XXH64 8, magic 8 */
    RD_STREAM_MAX_CONFIG = 1 << 20,
};

/* The decoded state of a frame: a Gaussian scene's arrays (host), and f_rest's integer
   latents where the frame decoded them (the next frame's f_rest is coded against them). */
typedef struct stream_state {
    int64_t count, capacity;
    int sh_degree;
    float *means, *log_scales, *rotations, *opacities, *sh;
    int rest_latent_dim;   /* 0: none kept */
    int32_t *rest_latents; /* count*rest_latent_dim */
} stream_state;

void rd_stream_state_free(stream_state *s);
/* Room for count Gaussians (contents undefined); false when out of memory. */
bool rd_stream_state_reserve(stream_state *s, int64_t count, int sh_degree, int rest_latent_dim);
int rd_stream_features(rd_stream_attribute a, int sh_degree);
/* A Gaussian's SH floats at sh_degree: 3 (d + 1)^2. */
static inline int rd_stream_sh_floats(int sh_degree) { return 3 * (sh_degree + 1) * (sh_degree + 1); }
/* The spec's fixed cosine basis B_kf for latent k and feature f of features (RD_STREAM_COSINE). */
double rd_stream_cosine_basis(int k, int f, int features);
rd_scene_desc rd_stream_state_scene(const stream_state *s);

/* Section tags (stream_payload.c); TAG_LATENTS + attribute for each attribute's latents. */
enum {
    TAG_MEANS = 1, TAG_SCALES, TAG_ROTATIONS, TAG_OPACITIES, TAG_SH, TAG_REST_LATENTS,
    TAG_DECODERS, TAG_MAPPING, TAG_MOVED_INDICES, TAG_MOVED_STEPS, TAG_LATENTS,
    /* + attribute: the rows an attribute lists (stream version 2), before its latents */
    TAG_LATENT_ROWS = TAG_LATENTS + RD_STREAM_ATTRIBUTES,
    /* the mapping as runs of consecutive parents (stream version 2) */
    TAG_MAPPING_RUNS = TAG_LATENT_ROWS + RD_STREAM_ATTRIBUTES,
};
const char *rd_stream_tag_name(uint32_t tag);

/* Sections appended to a payload (zstd at level); a failure sets out->failed. */
void rd_stream_put_floats(rd_bytes *out, uint32_t tag, const float *v, uint64_t n, int level);
void rd_stream_put_ints64(rd_bytes *out, uint32_t tag, const int64_t *v, uint64_t n, int level);
void rd_stream_put_ints32(rd_bytes *out, uint32_t tag, const int32_t *v, uint64_t n, int level);

/* What decoding sections needs from one to the next, kept by a reader from frame to frame
   (fresh arrays for every section of every frame cost more in page faults than the
   decode): a zstd context and the planes' buffer. */
typedef struct stream_section_scratch {
    struct ZSTD_DCtx_s *zstd;
    unsigned char *planes;
    size_t planes_bytes;
} stream_section_scratch;
void rd_stream_section_scratch_free(stream_section_scratch *s);

/* Sections read in order: each must be the tag asked for with exactly n elements. */
typedef struct section_reader {
    rd_context *ctx;
    const char *where; /* "frame 12 of x.rstream" */
    const unsigned char *at, *end;
    uint64_t limit;    /* bytes a section may decode to */
    stream_section_scratch *scratch;
} section_reader;
rd_result rd_stream_get_floats(section_reader *r, uint32_t tag, uint64_t n, float *out);
/* Whether a section of tag ahead declares n elements, in its header and its zstd frame's
   (checked before a state is allocated for a count, so that a count the data does not
   hold allocates nothing). */
bool rd_stream_section_declares(const section_reader *r, uint32_t tag, uint64_t n);
/* The elements the next section declares when its tag is tag (else false); nothing read. */
bool rd_stream_section_elements(const section_reader *r, uint32_t tag, uint64_t *n);
rd_result rd_stream_get_ints64(section_reader *r, uint32_t tag, uint64_t n, int64_t *out);
/* A 32-bit integer section kept as stored: its byte planes (width bytes a value, plane b
   holding byte b of every value, zigzag coded) appended to into at *at, 4-byte aligned. */
rd_result rd_stream_get_int_planes(section_reader *r, uint32_t tag, uint64_t n, rd_bytes *into, size_t *at, int *width);
rd_result rd_stream_get_ints32(section_reader *r, uint32_t tag, uint64_t n, int32_t *out);

/* The writer's context, position step and decoded state (stream_encode.c's). */
rd_context *rd_stream_writer_context(const rd_stream_writer *w);
const stream_state *rd_stream_writer_decoded(const rd_stream_writer *w);
float rd_stream_writer_position_step(const rd_stream_writer *w);

/* A parsed frame header. */
typedef struct stream_frame_header {
    uint32_t number;
    rd_stream_frame_kind kind;
    double timestamp;
    uint64_t count, payload_bytes, payload_hash;
} stream_frame_header;

void rd_stream_header_write(rd_bytes *b, const stream_frame_header *h);
/* Why the 56 bytes are not a frame header (magic, checksum, kind), or NULL. */
const char *rd_stream_header_parse(const unsigned char *p, stream_frame_header *h);
uint64_t rd_stream_hash(const void *data, size_t bytes);

/* A residual frame as parsed: indices made absolute and checked against the previous
   frame's count, W as applied (cosine: scale times B). */
typedef struct stream_parsed_residual {
    uint64_t count, moved;
    int64_t *mapping, *moved_indices; /* mapping NULL: runs, or the identity where there are none */
    /* The mapping as runs (version 2): Gaussians run_start[r] .. run_start[r + 1] - 1 (the
       last to count) have parents run_parent[r], run_parent[r] + 1, ... */
    uint64_t runs;
    int64_t *run_start, *run_parent;
    int32_t *moved_steps;
    int latent_dim[RD_STREAM_ATTRIBUTES];
    bool rest_delta; /* f_rest's latents added to the parent's */
    float *W[RD_STREAM_ATTRIBUTES], *bias[RD_STREAM_ATTRIBUTES];
    int32_t *latents[RD_STREAM_ATTRIBUTES];       /* rows[a] x latent_dim[a] */
    /* The Gaussians an attribute's latent rows belong to, strictly increasing (every other
       Gaussian's latents are zero), or NULL: a row each, rows[a] = count. */
    int64_t *row_index[RD_STREAM_ATTRIBUTES];
    uint64_t rows[RD_STREAM_ATTRIBUTES];
    float *decoders;
    /* Set by the caller before parsing (the device decode): the latents kept as stored, each
       attribute's byte planes of latent_width[a] bytes at planes->data + latent_at[a];
       latents[a] is then NULL. The caller owns planes. */
    rd_bytes *planes;
    size_t latent_at[RD_STREAM_ATTRIBUTES];
    int latent_width[RD_STREAM_ATTRIBUTES];
} stream_parsed_residual;
void rd_stream_parsed_free(stream_parsed_residual *p);

/* A frame's payload. rd_stream_encode_intra / _residual append it to out; the residual is
   checked against prev (counts, parents, indices, finite decoders) first. */
rd_result rd_stream_encode_intra(rd_context *ctx, const rd_scene_desc *scene, const stream_state *latents_from, int zstd_level,
                                 rd_bytes *out);
rd_result rd_stream_encode_residual(rd_context *ctx, const rd_stream_residual *f, const stream_state *prev, int zstd_level,
                                    rd_bytes *out);
/* Parses a payload: an intra frame decoded into intra, a residual (against prev's count,
   SH degree and f_rest latent size; its arrays are not read) into residual. where names
   the frame in messages ("frame 12 of x.rstream"); limit bounds the bytes the state may
   take; scratch (NULL: one for this call) is kept between calls. */
rd_result rd_stream_parse_payload(rd_context *ctx, const char *where, rd_stream_frame_kind kind, const unsigned char *payload,
                                  size_t bytes, const stream_state *prev, uint64_t limit, stream_section_scratch *scratch,
                                  stream_state *intra, stream_parsed_residual *residual);
/* The CPU reference decode of a parsed residual (stream_frames.c's comment): prev to next. */
rd_result rd_stream_apply_residual(rd_context *ctx, const char *where, const stream_parsed_residual *p, const stream_state *prev,
                                   float step, stream_state *next);
/* The payload decoded into next (prev: the state before it, for a residual); scratch
   (NULL: one for this call) is kept between calls. */
rd_result rd_stream_decode_payload(rd_context *ctx, const char *where, rd_stream_frame_kind kind, const unsigned char *payload,
                                   size_t bytes, const stream_state *prev, float position_step, uint64_t limit,
                                   stream_section_scratch *scratch, stream_state *next);

#endif
