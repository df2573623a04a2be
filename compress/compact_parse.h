/* compact_parse.h: a compact file (compact.h) parsed and checked, for its two decoders:
   into host arrays (compact_read.c) and on the device (compact_device.c). */
#ifndef RD_COMPACT_PARSE_H
#define RD_COMPACT_PARSE_H

#include "compact.h"

typedef struct rd_compact_file_part {
    char name[24];
    const unsigned char *data;
    uint64_t bytes, raw_bytes;
} rd_compact_file_part;

/* The parts a file may have: positions, codebooks, each attribute's indices, the networks. */
enum { RD_COMPACT_FILE_PARTS = 3 + RD_COMPACT_ATTRIBUTES };

typedef struct rd_compact_parsed {
    rd_compact_arrays a; /* count, degrees, period, flags, appearance (arrays NULL) */
    float origin[4];
    rd_compact_slice slices[RD_COMPACT_MAX_SLICES];
    int slice_count;
    rd_compact_file_part parts[RD_COMPACT_FILE_PARTS];
    int part_count;
    rd_appearance4d networks; /* with appearance: the normalisation and layout (no arrays) */
} rd_compact_parsed;

/* The header, configuration and part table of the file's bytes, every field checked
   against the layout its kind and degrees imply. */
rd_result rd_compact_parse(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_compact_parsed *p);
/* The scene a parsed file holds, decoded on the host (rd_compact_decode parses, then this). */
rd_result rd_compact_decode_parsed(rd_context *ctx, const char *path, size_t size, const rd_compact_parsed *p, rd_scene **out);
/* Whether the decoded scene fits the context's decode limit for a file of size bytes. */
rd_result rd_compact_check_limit(rd_context *ctx, const char *path, size_t size, const rd_compact_parsed *p);
/* Every part inflated to exactly its raw size into raw[k] (each freed by the caller, NULL
   where not reached). */
rd_result rd_compact_inflate(rd_context *ctx, const char *path, const rd_compact_parsed *p, unsigned char *raw[RD_COMPACT_FILE_PARTS]);
/* The raw parts' values checked: each position finite, each index within its codebook. */
rd_result rd_compact_check_raw(rd_context *ctx, const char *path, const rd_compact_parsed *p, unsigned char *const raw[]);
/* Slice k's codebook (entries x width half floats) and index planes in the raw parts. */
const unsigned char *rd_compact_codebook_of(const rd_compact_parsed *p, unsigned char *const raw[], int k);
const unsigned char *rd_compact_planes_of(const rd_compact_parsed *p, unsigned char *const raw[], int k);
/* Gaussian i's index in byte planes of count Gaussians, two of them where bits > 8. */
static inline int32_t rd_compact_index_at(const unsigned char *planes, int bits, int64_t count, int64_t i)
{
    return planes[i] | (bits > 8 ? planes[count + i] << 8 : 0);
}

/* What the device decode gathers from (compact_device.c, compact_gather.h): a 3D file's
   count Gaussians' position halves (3 coordinates of two byte planes each), and each
   slice's codebook as the stored parameters' floats (entries x width) with its index
   planes, every index within its codebook. */
typedef struct rd_compact_gather_input {
    int64_t count;
    float origin[4];
    const unsigned char *positions;
    int slice_count;
    rd_compact_slice slices[RD_COMPACT_MAX_SLICES];
    const float *books[RD_COMPACT_MAX_SLICES];
    const unsigned char *planes[RD_COMPACT_MAX_SLICES];
} rd_compact_gather_input;
/* The Gaussians into scene's arrays (count and SH degree as in): the backend's kernel on a
   device scene, the reference gather on the CPU backend's host scene. */
rd_result rd_compact_gather(rd_context *ctx, const rd_compact_gather_input *in, rd_scene *scene);
/* A compact file decoded where ctx renders: a 3D file into a device scene on GPU backends
   (a host scene on the CPU backend, by the same gather); a 4D file as rd_compact_decode. */
rd_result rd_compact_decode_device(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);

#endif
