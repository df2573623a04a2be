/* npy.c: NumPy .npy arrays (npy.h). The header is a Python dict literal
   {'descr': '<f4', 'fortran_order': False, 'shape': (4, 730, 988), } padded with spaces
   to a multiple of 64 bytes with its preamble. */
#include "npy.h"
#include "../compress/bytes.h"
#include "../compress/conventions.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *descr, *name;
    int bytes;
} TYPES[] = {{"<f2", "float16", 2}, {"<f4", "float32", 4}, {"<f8", "float64", 8}, {"<i4", "int32", 4}, {"<i8", "int64", 8}};

const char *rd_npy_type_name(rd_npy_type type) { return TYPES[type].name; }

/* The shape tuple after "'shape': (": up to RD_NPY_MAX_RANK whole numbers. */
static bool parse_shape(const char *s, rd_npy *a)
{
    a->rank = 0;
    a->count = 1;
    while (*s == ' ') s++;
    while (*s != ')') {
        if (a->rank == RD_NPY_MAX_RANK || *s < '0' || *s > '9') return false;
        int64_t v = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (v > ((int64_t)1 << 40)) return false;
            v = v * 10 + (*s - '0');
        }
        a->shape[a->rank++] = v;
        a->count = v && a->count > ((int64_t)1 << 50) / v ? -1 : a->count * v;
        if (a->count < 0) return false;
        while (*s == ' ') s++;
        if (*s == ',') s++;
        while (*s == ' ') s++;
    }
    return true;
}

rd_result rd_npy_parse(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_npy *a)
{
    memset(a, 0, sizeof *a);
    const char *name = rd_path_tail(path);
    if (size < 10 || memcmp(data, "\x93NUMPY", 6) != 0) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a .npy file (bad magic)", name);
    int major = data[6];
    size_t header_len, start;
    if (major == 1) {
        header_len = rd_le16(data + 8), start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: truncated header", name);
        header_len = rd_le32(data + 8), start = 12;
    } else {
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: .npy version %d is not supported", name, major);
    }
    if (header_len > size - start || header_len > 65536) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: truncated header", name);
    char header[65537];
    memcpy(header, data + start, header_len);
    header[header_len] = '\0';
    const char *descr = strstr(header, "'descr': '");
    int type = -1;
    for (int t = 0; descr && t < (int)(sizeof TYPES / sizeof TYPES[0]); t++)
        if (strncmp(descr + 10, TYPES[t].descr, 3) == 0 && descr[13] == '\'') type = t;
    if (type < 0)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: descr: expected little-endian float16, float32, float64, int32 or int64 ('<f4' ...)",
                       name);
    a->type = (rd_npy_type)type;
    if (!strstr(header, "'fortran_order': False"))
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: fortran_order: only C order is supported", name);
    const char *shape = strstr(header, "'shape': (");
    if (!shape || !parse_shape(shape + 10, a))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: shape: expected a tuple of at most %d whole numbers", name, RD_NPY_MAX_RANK);
    size_t body = start + header_len;
    if ((uint64_t)a->count > (size - body) / (uint64_t)TYPES[type].bytes)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: shape needs %llu bytes of data, the file holds %zu (truncated?)", name,
                       (unsigned long long)a->count * (unsigned long long)TYPES[type].bytes, size - body);
    a->data = data + body;
    return RD_OK;
}

rd_result rd_npy_read(rd_context *ctx, const char *path, char **data, rd_npy *out)
{
    size_t size;
    rd_result r = rd_read_file(ctx, path, data, &size);
    if (r != RD_OK) return r;
    r = rd_npy_parse(ctx, path, (const unsigned char *)*data, size, out);
    if (r != RD_OK) free(*data), *data = NULL;
    return r;
}

double rd_npy_get(const rd_npy *a, int64_t i)
{
    const unsigned char *p = a->data + (size_t)i * (size_t)TYPES[a->type].bytes;
    switch (a->type) {
    case RD_NPY_F16: return rd_half_to_float(rd_le16(p));
    case RD_NPY_F32: return rd_lef32(p);
    case RD_NPY_F64: {
        uint64_t u = rd_le64(p);
        double d;
        memcpy(&d, &u, sizeof d);
        return d;
    }
    case RD_NPY_I32: return (double)(int32_t)rd_le32(p);
    case RD_NPY_I64: return (double)(int64_t)rd_le64(p);
    }
    return 0.0;
}

rd_result rd_npy_save(rd_context *ctx, const char *path, const float *values, const int32_t *ints, int rank, const int64_t *shape)
{
    char dict[256];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", values ? "<f4" : "<i4");
    int64_t count = 1;
    for (int k = 0; k < rank; k++) {
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%lld,%s", (long long)shape[k], k + 1 < rank ? " " : "");
        count *= shape[k];
    }
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    size_t padded = (10 + (size_t)n + 1 + 63) / 64 * 64 - 10; /* the dict, spaces and a newline */
    rd_bytes b = {0};
    rd_bytes_append(&b, "\x93NUMPY\x01\x00", 8);
    rd_bytes_u16(&b, (uint16_t)padded);
    rd_bytes_append(&b, dict, (size_t)n);
    for (size_t k = (size_t)n; k + 1 < padded; k++) rd_bytes_u8(&b, ' ');
    rd_bytes_u8(&b, '\n');
    for (int64_t i = 0; i < count; i++) {
        if (values) rd_bytes_f32(&b, values[i]);
        else rd_bytes_u32(&b, (uint32_t)ints[i]);
    }
    rd_result r = b.failed ? rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path) : rd_bytes_save(ctx, path, &b);
    rd_bytes_free(&b);
    return r;
}

rd_result rd_npy_load_matrix(rd_context *ctx, const char *path, int64_t *rows, int64_t *cols, float **values)
{
    *values = NULL;
    char *data;
    rd_npy a;
    rd_result r = rd_npy_read(ctx, path, &data, &a);
    if (r != RD_OK) return r;
    if (a.rank < 1 || a.rank > 2 || a.count < 1)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: shape: expected a non-empty 1-D or 2-D array, found %d dimensions", rd_path_tail(path),
                    a.rank);
    if (r == RD_OK && (*values = rd_alloc_array(a.count, sizeof(float))) == NULL)
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (int64_t i = 0; r == RD_OK && i < a.count; i++) {
        (*values)[i] = (float)rd_npy_get(&a, i);
        if (!isfinite((*values)[i])) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: value %lld is not finite", rd_path_tail(path), (long long)i);
    }
    if (r == RD_OK) *rows = a.rank == 2 ? a.shape[0] : 1, *cols = a.shape[a.rank - 1];
    else free(*values), *values = NULL;
    free(data);
    return r;
}

rd_result rd_npy_save_floats(rd_context *ctx, const char *path, const float *values, int rank, const int64_t *shape)
{
    if (!values || !shape || rank < 1 || rank > RD_NPY_MAX_RANK)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_npy_save_floats: %s: values, shape or rank (1..4) is not valid", path);
    return rd_npy_save(ctx, path, values, NULL, rank, shape);
}
