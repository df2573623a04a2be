/* json_util.c: see json_util.h. */
#include "json_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

rd_result rd_json_parse(rd_context *ctx, const char *path, const char *text, size_t size, cJSON **root)
{
    const char *end = NULL;
    *root = cJSON_ParseWithLengthOpts(text, size, &end, 0);
    if (*root) return RD_OK;
    int line = 1;
    for (const char *p = text; end && p < end && p < text + size; p++) line += *p == '\n';
    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: line %d: invalid JSON", rd_path_tail(path), line);
}

rd_result rd_json_load(rd_context *ctx, const char *path, cJSON **root)
{
    *root = NULL;
    char *text = NULL;
    size_t size = 0;
    rd_result r = rd_read_file(ctx, path, &text, &size);
    if (r != RD_OK) return r;
    r = rd_json_parse(ctx, path, text, size, root);
    free(text);
    return r;
}

rd_result rd_json_number(rd_context *ctx, const char *path, const char *where, const cJSON *obj,
                         const char *key, bool required, double *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    const char *dot = where[0] ? "." : "";
    if (!item) {
        if (!required) return RD_OK;
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s%s%s: missing", rd_path_tail(path), where, dot, key);
    }
    if (!cJSON_IsNumber(item))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s%s%s: expected a number", rd_path_tail(path), where, dot, key);
    if (!isfinite(item->valuedouble))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s%s%s: not a finite number", rd_path_tail(path), where, dot, key);
    *out = item->valuedouble;
    return RD_OK;
}

rd_result rd_json_whole(rd_context *ctx, const char *path, const char *where, const cJSON *obj, const char *key, bool required,
                        double lo, double hi, int64_t *out)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    const char *dot = where[0] ? "." : "";
    if (!item) {
        if (!required) return RD_OK;
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s%s%s: missing", path, where, dot, key);
    }
    double v = cJSON_IsNumber(item) ? item->valuedouble : NAN;
    if (!(v >= lo && v <= hi && v == floor(v)))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s%s%s: expected a whole number from %.0f to %.0f", path, where, dot, key, lo, hi);
    *out = (int64_t)v;
    return RD_OK;
}

int64_t rd_json_index_of(const cJSON *item, int64_t limit)
{
    double v = cJSON_IsNumber(item) ? item->valuedouble : -1.0;
    return v >= 0.0 && v < (double)limit && v == floor(v) ? (int64_t)v : -1;
}

rd_result rd_json_matrix4(rd_context *ctx, const char *path, const char *where, const cJSON *item,
                          double m[16])
{
    int n = 0;
    bool ok = cJSON_IsArray(item);
    int rows = ok ? cJSON_GetArraySize(item) : 0;
    const cJSON *row;
    if (ok && rows == 16) {
        cJSON_ArrayForEach(row, item) {
            if (!cJSON_IsNumber(row)) { ok = false; break; }
            m[n++] = row->valuedouble;
        }
    } else if (ok && rows == 4) {
        cJSON_ArrayForEach(row, item) {
            const cJSON *v;
            if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != 4) { ok = false; break; }
            cJSON_ArrayForEach(v, row) {
                if (!cJSON_IsNumber(v)) { ok = false; break; }
                m[n++] = v->valuedouble;
            }
        }
    } else {
        ok = false;
    }
    if (!ok || n != 16)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: expected 4x4 numbers", rd_path_tail(path), where);
    for (int i = 0; i < 16; i++)
        if (!isfinite(m[i]))
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: element %d is not finite", rd_path_tail(path), where, i);
    return RD_OK;
}
