/* ply_header.c: PLY header parsing and element layout (binary little-endian only). */
#include "ply_header.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_HEADER = 1 << 16 };

bool rd_ply_detect(const unsigned char *head, size_t n)
{
    return n >= 4 && memcmp(head, "ply", 3) == 0 && (head[3] == '\n' || head[3] == '\r');
}

static rd_ply_type type_of(const char *t, int *size)
{
    static const struct { const char *name; rd_ply_type type; int size; } types[] = {
        {"char", RD_PLY_INT8, 1}, {"uchar", RD_PLY_UINT8, 1}, {"int8", RD_PLY_INT8, 1}, {"uint8", RD_PLY_UINT8, 1},
        {"short", RD_PLY_INT16, 2}, {"ushort", RD_PLY_UINT16, 2}, {"int16", RD_PLY_INT16, 2},
        {"uint16", RD_PLY_UINT16, 2}, {"int", RD_PLY_INT32, 4}, {"uint", RD_PLY_UINT32, 4},
        {"int32", RD_PLY_INT32, 4}, {"uint32", RD_PLY_UINT32, 4}, {"float", RD_PLY_FLOAT32, 4},
        {"float32", RD_PLY_FLOAT32, 4}, {"double", RD_PLY_FLOAT64, 8}, {"float64", RD_PLY_FLOAT64, 8}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i].name) == 0) {
            *size = types[i].size;
            return types[i].type;
        }
    *size = 0;
    return RD_PLY_LIST;
}

static rd_result parse_line(rd_context *ctx, const char *path, int line_no, const char *line, rd_ply_header *h,
                            bool *format_ok)
{
    char a[64] = "", b[64] = "", c[64] = "", d[64] = "", e[64] = "";
    int n = sscanf(line, "%63s %63s %63s %63s %63s", a, b, c, d, e);
    if (strcmp(a, "format") == 0) {
        if (strcmp(b, "binary_little_endian") != 0)
            return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: format %s is not supported (binary_little_endian only)", path, b);
        *format_ok = true;
    } else if (strcmp(a, "comment") == 0 || strcmp(a, "obj_info") == 0) {
        if ((strcmp(b, "antialiased") == 0 && strcmp(c, "1") == 0) ||
            (strcmp(b, "SplatRenderMode:") == 0 && strcmp(c, "mip") == 0))
            h->antialiased = true;
        if (!h->comment[0]) snprintf(h->comment, sizeof h->comment, "%s", line + (line[7] == ' ' ? 8 : 7));
    } else if (strcmp(a, "element") == 0) {
        if (h->nelements == RD_PLY_MAX_ELEMENTS) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: too many elements", path);
        char *stop = NULL;
        long long count = n >= 3 ? strtoll(c, &stop, 10) : -1;
        if (n < 3 || !stop || *stop || count < 0)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d: element %s: bad count '%s'", path, line_no, b, c);
        rd_ply_element *el = &h->elements[h->nelements++];
        snprintf(el->name, sizeof el->name, "%s", b);
        el->count = count;
    } else if (strcmp(a, "property") == 0) {
        if (h->nelements == 0)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d: property before any element", path, line_no);
        rd_ply_element *el = &h->elements[h->nelements - 1];
        if (el->nprops == RD_PLY_MAX_PROPS)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element %s: too many properties", path, el->name);
        rd_ply_property *pr = &el->props[el->nprops++];
        if (strcmp(b, "list") == 0) {
            el->has_list = true;
            snprintf(pr->name, sizeof pr->name, "%s", e);
            snprintf(pr->type_name, sizeof pr->type_name, "list");
            return RD_OK;
        }
        if (n < 3)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d: property needs a type and a name", path, line_no);
        pr->type = type_of(b, &pr->size);
        if (!pr->size)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element %s: property %s has unknown type '%s'", path, el->name, c, b);
        snprintf(pr->name, sizeof pr->name, "%s", c);
        snprintf(pr->type_name, sizeof pr->type_name, "%s", b);
        pr->offset = el->stride;
        el->stride += (size_t)pr->size;
    } else if (a[0] != '\0') {
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d: unknown keyword '%s'", path, line_no, a);
    }
    return RD_OK;
}

rd_result rd_ply_parse_header(rd_context *ctx, const char *path, const char *text, size_t size, rd_ply_header *h)
{
    memset(h, 0, sizeof *h);
    const char *p = text, *end = text + (size < MAX_HEADER ? size : MAX_HEADER);
    bool format_ok = false;
    int line_no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        char line[512];
        size_t len = (size_t)(nl - p);
        if (len >= sizeof line) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d is too long", path, line_no + 1);
        memcpy(line, p, len);
        line[len] = '\0';
        if (len && line[len - 1] == '\r') line[len - 1] = '\0';
        p = nl + 1;
        line_no++;
        if (line_no == 1) {
            if (strncmp(line, "ply", 3) != 0) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a PLY file (no 'ply' magic)", path);
            continue;
        }
        if (strncmp(line, "end_header", 10) == 0) {
            if (!format_ok) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header has no format line", path);
            h->data_offset = (size_t)(p - text);
            return RD_OK;
        }
        rd_result r = parse_line(ctx, path, line_no, line, h, &format_ok);
        if (r != RD_OK) return r;
    }
    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header has no end_header (truncated file?)", path);
}

rd_result rd_ply_locate(rd_context *ctx, const char *path, rd_ply_header *h, int last, size_t file_size)
{
    size_t offset = h->data_offset;
    for (int e = 0; e <= last && e < h->nelements; e++) {
        rd_ply_element *el = &h->elements[e];
        if (el->has_list)
            return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: element %s has list properties (not supported here)", path, el->name);
        el->data_offset = offset;
        uint64_t available = offset <= file_size ? file_size - offset : 0;
        if (el->count > 0 && (el->stride == 0 || (uint64_t)el->count > available / el->stride))
            return rd_fail(ctx, RD_ERROR_FORMAT,
                           "%s: element %s: header declares %lld rows of %zu bytes but only %llu bytes follow (truncated file?)",
                           path, el->name, (long long)el->count, el->stride, (unsigned long long)available);
        offset += (size_t)el->count * el->stride;
    }
    return RD_OK;
}

int rd_ply_element_index(const rd_ply_header *h, const char *name)
{
    for (int e = 0; e < h->nelements; e++)
        if (strcmp(h->elements[e].name, name) == 0) return e;
    return -1;
}

const rd_ply_element *rd_ply_find_element(const rd_ply_header *h, const char *name)
{
    int e = rd_ply_element_index(h, name);
    return e < 0 ? NULL : &h->elements[e];
}

const rd_ply_property *rd_ply_find(const rd_ply_element *el, const char *name)
{
    for (int i = 0; i < el->nprops; i++)
        if (strcmp(el->props[i].name, name) == 0) return &el->props[i];
    return NULL;
}

float rd_ply_value(const unsigned char *row, const rd_ply_property *p)
{
    const unsigned char *v = row + p->offset;
    union { int8_t i8; uint8_t u8; int16_t i16; uint16_t u16; int32_t i32; uint32_t u32; float f; double d; } u;
    memcpy(&u, v, (size_t)p->size);
    switch (p->type) {
    case RD_PLY_INT8: return u.i8;
    case RD_PLY_UINT8: return u.u8;
    case RD_PLY_INT16: return u.i16;
    case RD_PLY_UINT16: return u.u16;
    case RD_PLY_INT32: return (float)u.i32;
    case RD_PLY_UINT32: return (float)u.u32;
    case RD_PLY_FLOAT32: return u.f;
    case RD_PLY_FLOAT64: return (float)u.d;
    default: return 0.0f;
    }
}
