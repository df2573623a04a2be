/* ply_header.h: the header of a binary little-endian PLY file: its elements, their
   properties (name, type, byte offset in a row) and where each element's rows start.
   Shared by the INRIA reader (ply.c) and the compressed-PLY reader (compress/). */
#ifndef RD_PLY_HEADER_H
#define RD_PLY_HEADER_H

#include "../renderer/internal.h"

enum { RD_PLY_MAX_PROPS = 256, RD_PLY_MAX_ELEMENTS = 16 };

typedef enum rd_ply_type {
    RD_PLY_LIST = 0, RD_PLY_INT8, RD_PLY_UINT8, RD_PLY_INT16, RD_PLY_UINT16,
    RD_PLY_INT32, RD_PLY_UINT32, RD_PLY_FLOAT32, RD_PLY_FLOAT64
} rd_ply_type;

typedef struct rd_ply_property {
    char name[64];
    rd_ply_type type;
    int size;          /* bytes; 0 for list properties */
    char type_name[16];
    size_t offset;     /* in the element's row */
} rd_ply_property;

typedef struct rd_ply_element {
    char name[64];
    int64_t count;
    rd_ply_property props[RD_PLY_MAX_PROPS];
    int nprops;
    size_t stride;     /* bytes per row */
    bool has_list;
    size_t data_offset; /* where its rows start in the file (set by rd_ply_locate) */
} rd_ply_element;

typedef struct rd_ply_header {
    rd_ply_element elements[RD_PLY_MAX_ELEMENTS];
    int nelements;
    size_t data_offset; /* first byte after end_header */
    bool antialiased;   /* `comment antialiased 1` or `comment SplatRenderMode: mip` */
    char comment[128];  /* the first comment line, for `radiant info` */
} rd_ply_header;

/* True when the first bytes are a PLY header. */
bool rd_ply_detect(const unsigned char *head, size_t n);
/* Parses the header at the start of text (size bytes). */
rd_result rd_ply_parse_header(rd_context *ctx, const char *path, const char *text, size_t size, rd_ply_header *h);
/* Sets each element's data_offset and checks that every row up to and including element
   `last` lies inside the file (file_size bytes); elements before `last` may not hold lists. */
rd_result rd_ply_locate(rd_context *ctx, const char *path, rd_ply_header *h, int last, size_t file_size);
const rd_ply_element *rd_ply_find_element(const rd_ply_header *h, const char *name);
int rd_ply_element_index(const rd_ply_header *h, const char *name);
const rd_ply_property *rd_ply_find(const rd_ply_element *el, const char *name);
/* A property's value in a row, converted to float. */
float rd_ply_value(const unsigned char *row, const rd_ply_property *p);

#endif
