/* npy.h: NumPy .npy arrays (format versions 1 to 3): little-endian float16/32/64 and
   int32/64 in C order, read in place and checked against the file's size; float32 and
   int32 arrays written atomically. LLFF's poses_bounds.npy and LangSplat's
   language_features use them. */
#ifndef RD_NPY_H
#define RD_NPY_H

#include "../renderer/internal.h"

typedef enum rd_npy_type { RD_NPY_F16, RD_NPY_F32, RD_NPY_F64, RD_NPY_I32, RD_NPY_I64 } rd_npy_type;
enum { RD_NPY_MAX_RANK = 4 };

typedef struct rd_npy {
    rd_npy_type type;
    int rank;
    int64_t shape[RD_NPY_MAX_RANK];
    int64_t count;              /* elements: the product of the shape */
    const unsigned char *data;  /* count elements, little-endian, inside the parsed bytes */
} rd_npy;

/* Parses size bytes of a .npy file (path names it in messages): a wrong magic, an
   unsupported dtype or order, a rank above 4 or a shape the data does not hold is an
   error naming the file and the field. */
rd_result rd_npy_parse(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_npy *out);
/* Reads path and parses it: *data (free it) holds the array that *out points into. */
rd_result rd_npy_read(rd_context *ctx, const char *path, char **data, rd_npy *out);
/* Element i as a double. */
double rd_npy_get(const rd_npy *a, int64_t i);
/* "float32" and so on. */
const char *rd_npy_type_name(rd_npy_type type);
/* Writes a float32 (values) or int32 (ints) array of that shape; exactly one is non-NULL. */
rd_result rd_npy_save(rd_context *ctx, const char *path, const float *values, const int32_t *ints, int rank, const int64_t *shape);

#endif
