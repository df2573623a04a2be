/* gltf.h: glTF 2.0 files holding KHR_gaussian_splatting primitives (spec/formats.md, the
   extension's review draft): read from .glb and from .gltf with embedded (data: URI) or
   external buffers, written as any of the three. A file's splats are in glTF's frame (LUF:
   +x left, +y up, +z forward) after its node transforms; radiant's are RDF, so reading maps
   by a turn of 180 degrees about z after the node transforms, and writing maps back.
   Scales are stored linear and opacities after the sigmoid, as the ratified text and
   splat-transform's writer have them (an earlier draft said log scales: a negative scale,
   which only that reading could hold, is refused with a message saying so).

   gltf_file.c holds the container (GLB chunks, buffers, base64, typed accessors),
   gltf_read.c the scene graph and the extension, gltf_write.c the writer. */
#ifndef RD_GLTF_H
#define RD_GLTF_H

#include "../splat/scene.h"
#include "../compress/bytes.h"
#include "json_util.h"
#include "srgb.h"

#include <math.h>

bool rd_gltf_detect(const unsigned char *data, size_t size);
rd_result rd_gltf_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);

typedef enum rd_gltf_layout {
    RD_GLTF_BINARY,   /* .glb: JSON and binary chunks in one file */
    RD_GLTF_EXTERNAL, /* .gltf with its buffer beside it, NAME.bin */
    RD_GLTF_EMBEDDED  /* .gltf with its buffer inside, as a base64 data: URI */
} rd_gltf_layout;
rd_result rd_gltf_save(rd_context *ctx, const char *path, const rd_scene *scene, rd_gltf_layout layout);

/* ---- the container (gltf_file.c) ---------------------------------------------------- */
enum { RD_GLTF_MAX_BUFFERS = 64 };
typedef struct rd_gltf {
    const char *path;
    cJSON *root;
    bool binary;                         /* a .glb */
    const unsigned char *bin;            /* a .glb's BIN chunk, or NULL */
    size_t bin_size;
    uint64_t bytes_read;                 /* the file and the buffers loaded, for the decode limit */
    int buffer_count;
    unsigned char *buffers[RD_GLTF_MAX_BUFFERS]; /* loaded on first use; the BIN chunk is not copied */
    size_t buffer_sizes[RD_GLTF_MAX_BUFFERS];
    bool loaded[RD_GLTF_MAX_BUFFERS];
} rd_gltf;
rd_result rd_gltf_open(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_gltf *g);
void rd_gltf_close(rd_gltf *g);

/* Loads every buffer the file names (those accessors read come from here), so that
   g->bytes_read counts them for the decode limit. */
rd_result rd_gltf_load_buffers(rd_context *ctx, rd_gltf *g);

/* Accessor component kinds a caller allows (the draft's table lists them per attribute). */
enum {
    RD_GLTF_FLOAT = 1u << 0,
    RD_GLTF_BYTE_NORM = 1u << 1,
    RD_GLTF_UBYTE_NORM = 1u << 2,
    RD_GLTF_SHORT_NORM = 1u << 3,
    RD_GLTF_USHORT_NORM = 1u << 4,
    RD_GLTF_BYTE = 1u << 5,
    RD_GLTF_UBYTE = 1u << 6,
    RD_GLTF_SHORT = 1u << 7,
    RD_GLTF_USHORT = 1u << 8,
    RD_GLTF_ANY_INTEGER = 0x1feu
};
/* The number of components of accessor `index` (1 SCALAR .. 4 VEC4), 0 for another type
   or a bad index. */
int rd_gltf_accessor_components(const rd_gltf *g, int index);
/* Reads accessor `index` (named by `semantic` in messages) as *count elements of
   `components` floats into *out (malloc'd), normalized integers mapped as glTF maps them. */
rd_result rd_gltf_accessor(rd_context *ctx, rd_gltf *g, int index, const char *semantic, int components, unsigned allowed,
                           int64_t *count, float **out);

/* base64 (RFC 4648, the data: URIs of glTF) */
size_t rd_base64_decoded_size(size_t text_size);
bool rd_base64_decode(const char *text, size_t text_size, unsigned char *out, size_t *out_size);
void rd_base64_encode(const unsigned char *data, size_t size, rd_bytes *out);

#endif
