/* json_util.h: cJSON access with errors that name the file and the element. */
#ifndef RD_JSON_UTIL_H
#define RD_JSON_UTIL_H

#include "../renderer/internal.h"
#include <cjson/cJSON.h>

/* Parses a JSON file; a syntax error names its line. */
rd_result rd_json_load(rd_context *ctx, const char *path, cJSON **root);
/* The same for JSON text in memory (size bytes, no NUL needed); path names it in messages. */
rd_result rd_json_parse(rd_context *ctx, const char *path, const char *text, size_t size, cJSON **root);
/* Reads a finite number at obj[key]. where names obj in messages ("frames[3]").
   A missing key is an error when required; otherwise *out keeps its value. */
rd_result rd_json_number(rd_context *ctx, const char *path, const char *where, const cJSON *obj,
                         const char *key, bool required, double *out);
/* A whole number in [lo, hi] at obj[key] (indices, counts, byte offsets); where names obj
   in messages, which give path as it is. A missing key is an error when required;
   otherwise *out keeps its value. */
rd_result rd_json_whole(rd_context *ctx, const char *path, const char *where, const cJSON *obj, const char *key, bool required,
                        double lo, double hi, int64_t *out);
/* An array element's whole number in [0, limit), or -1. */
int64_t rd_json_index_of(const cJSON *item, int64_t limit);
/* A 4x4 matrix given as 4 rows of 4 numbers, or as 16 numbers, row-major. */
rd_result rd_json_matrix4(rd_context *ctx, const char *path, const char *where, const cJSON *item,
                          double m[16]);

#endif
