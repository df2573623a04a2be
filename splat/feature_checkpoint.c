/* feature_checkpoint.c: the feature trainer's checkpoint (radiant_features.h). Layout,
   little-endian: "RDFTRAIN", u32 version (1), u32 json_bytes, the configuration as JSON
   (count, levels, codebook_size, slots, dim, step), the random generator's u64 state,
   then as float32 the logits, their Adam moments m and v (count*levels*L each), the
   codebooks and their moments (levels*L*dim each), and the FNV-1a of all before it. */
#include "feature_trainer.h"
#include "../compress/bytes.h"
#include "../datasets/json_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define CHECKPOINT_MAGIC "RDFTRAIN"
enum { CHECKPOINT_VERSION = 1, HEADER_BYTES = 16, TRAILER_BYTES = 8 };

/* The arrays in file order, and each one's floats. */
static int state_arrays(rd_feature_trainer *t, float **arrays, size_t *floats)
{
    size_t logits = (size_t)(t->count * t->levels * t->L), values = (size_t)t->levels * t->L * t->dim;
    float *list[] = {t->logits, t->logit_m, t->logit_v, t->codebooks, t->code_m, t->code_v};
    for (int k = 0; k < 6; k++) arrays[k] = list[k], floats[k] = k < 3 ? logits : values;
    return 6;
}

rd_result rd_feature_trainer_save_checkpoint(rd_feature_trainer *t, const char *path)
{
    if (!t || !path) return rd_fail(t ? t->ctx : NULL, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_save_checkpoint: trainer or path is NULL");
    rd_result synced = rd_feature_trainer_sync(t, true);
    if (synced != RD_OK) return synced;
    rd_bytes b = {0};
    rd_bytes_append(&b, CHECKPOINT_MAGIC, 8);
    rd_bytes_u32(&b, CHECKPOINT_VERSION);
    size_t json_at = b.size;
    rd_bytes_u32(&b, 0);
    size_t json_start = b.size;
    rd_bytes_printf(&b, "{\"count\": %lld, \"levels\": %d, \"codebook_size\": %d, \"slots\": %d, \"dim\": %d, \"step\": %d}",
                    (long long)t->count, t->levels, t->L, t->K, t->dim, t->step);
    if (!b.failed) {
        uint32_t json_bytes = (uint32_t)(b.size - json_start);
        for (int k = 0; k < 4; k++) b.data[json_at + k] = (unsigned char)(json_bytes >> (8 * k));
    }
    rd_bytes_u64(&b, t->rng.state);
    float *arrays[6];
    size_t floats[6];
    for (int k = 0, n = state_arrays(t, arrays, floats); k < n; k++)
        for (size_t i = 0; i < floats[k]; i++) rd_bytes_f32(&b, arrays[k][i]);
    if (!b.failed) rd_bytes_u64(&b, rd_fnv1a(RD_FNV1A_START, b.data, b.size));
    rd_result r = b.failed ? rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the checkpoint", path)
                           : rd_bytes_save(t->ctx, path, &b);
    rd_bytes_free(&b);
    return r;
}

/* The configuration must be this trainer's; the step comes back in *step. */
static rd_result check_config(rd_feature_trainer *t, const char *path, const unsigned char *text, uint32_t bytes, int64_t *step)
{
    cJSON *j;
    rd_result r = rd_json_parse(t->ctx, path, (const char *)text, bytes, &j);
    if (r != RD_OK) return r;
    const char *keys[] = {"count", "levels", "codebook_size", "slots", "dim"};
    int64_t mine[] = {t->count, t->levels, t->L, t->K, t->dim};
    for (int k = 0; k < 5 && r == RD_OK; k++) {
        int64_t v;
        r = rd_json_whole(t->ctx, path, "configuration", j, keys[k], true, 0, (double)((int64_t)1 << 40), &v);
        if (r == RD_OK && v != mine[k])
            r = rd_fail(t->ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %s %lld, where this trainer has %lld (another run's checkpoint?)", path,
                        keys[k], (long long)v, (long long)mine[k]);
    }
    if (r == RD_OK) r = rd_json_whole(t->ctx, path, "configuration", j, "step", true, 0, 2147483647.0, step);
    cJSON_Delete(j);
    return r;
}

rd_result rd_feature_trainer_load_checkpoint(rd_feature_trainer *t, const char *path)
{
    if (!t || !path) return rd_fail(t ? t->ctx : NULL, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_load_checkpoint: trainer or path is NULL");
    char *text;
    size_t size;
    rd_result r = rd_read_file(t->ctx, path, &text, &size);
    if (r != RD_OK) return r;
    const unsigned char *data = (const unsigned char *)text;
    if (size < HEADER_BYTES + TRAILER_BYTES || memcmp(data, CHECKPOINT_MAGIC, 8) != 0)
        r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: not a feature trainer's checkpoint (no RDFTRAIN magic)", path);
    uint32_t json_bytes = r == RD_OK ? rd_le32(data + 12) : 0;
    if (r == RD_OK && rd_le32(data + 8) != CHECKPOINT_VERSION)
        r = rd_fail(t->ctx, RD_ERROR_UNSUPPORTED, "%s: checkpoint version %u (this radiant reads %d)", path, rd_le32(data + 8),
                    CHECKPOINT_VERSION);
    if (r == RD_OK && json_bytes > size - HEADER_BYTES - TRAILER_BYTES)
        r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: too short for its configuration (truncated?)", path);
    if (r == RD_OK && rd_fnv1a(RD_FNV1A_START, data, size - TRAILER_BYTES) != rd_le64(data + size - TRAILER_BYTES))
        r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: the checksum does not match (the file is damaged or truncated)", path);
    int64_t step = 0;
    if (r == RD_OK) r = check_config(t, path, data + HEADER_BYTES, json_bytes, &step);
    float *arrays[6];
    size_t floats[6], total = 0;
    int n = state_arrays(t, arrays, floats);
    for (int k = 0; k < n; k++) total += floats[k];
    const unsigned char *at = data + HEADER_BYTES + json_bytes;
    if (r == RD_OK && (size_t)(data + size - TRAILER_BYTES - at) != 8 + 4 * total)
        r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: the state takes %zu bytes, the file holds %zu", path, 8 + 4 * total,
                    (size_t)(data + size - TRAILER_BYTES - at));
    for (size_t i = 0; r == RD_OK && i < total; i++)
        if (!isfinite(rd_lef32(at + 8 + 4 * i)))
            r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: state value %zu is not finite", path, i);
    if (r == RD_OK) { /* checked whole: only now does the trainer change */
        t->rng.state = rd_le64(at), at += 8;
        for (int k = 0; k < n; k++)
            for (size_t i = 0; i < floats[k]; i++, at += 4) arrays[k][i] = rd_lef32(at);
        t->step = (int)step;
        r = rd_feature_trainer_sync(t, false);
    }
    free(text);
    return r;
}
