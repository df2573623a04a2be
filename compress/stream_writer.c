/* stream_writer.c: rd_stream_writer (radiant_streams.h): the container's header, each
   frame's header and payload as it comes, then the index and trailer; the file goes
   through a temporary beside the path (writer.c), so that it appears whole or not at
   all. Each frame written is decoded back at once (stream_frames.c, the reader's own
   code), so that the state an encoder predicts from is exactly a reader's. */
#include "stream.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

typedef struct index_entry {
    int64_t offset, bytes, count;
    double timestamp;
    rd_stream_frame_kind kind;
} index_entry;

struct rd_stream_writer {
    rd_context *ctx;
    rd_writer *file;
    char path[4096];
    int sh_degree, level;
    double frame_rate;
    float position_step;
    stream_state state, spare; /* the decoded state after the last frame; the next one's room */
    index_entry *frames;
    int64_t frame_count, frame_capacity, offset, last_bytes;
};

uint64_t rd_stream_hash(const void *data, size_t bytes) { return XXH64(data, bytes, 0); }

void rd_stream_header_write(rd_bytes *b, const stream_frame_header *h)
{
    size_t at = b->size;
    rd_bytes_append(b, RD_STREAM_FRAME_MAGIC, 8);
    rd_bytes_u32(b, h->number);
    rd_bytes_u8(b, (uint8_t)h->kind);
    rd_bytes_append(b, "\0\0\0", 3);
    uint64_t t;
    memcpy(&t, &h->timestamp, 8);
    rd_bytes_u64(b, t);
    rd_bytes_u64(b, h->count);
    rd_bytes_u64(b, h->payload_bytes);
    rd_bytes_u64(b, h->payload_hash);
    if (!b->failed) rd_bytes_u64(b, rd_stream_hash(b->data + at, RD_STREAM_FRAME_HEADER - 8));
}

const char *rd_stream_header_parse(const unsigned char *p, stream_frame_header *h)
{
    if (memcmp(p, RD_STREAM_FRAME_MAGIC, 8) != 0) return "no frame header here (magic)";
    if (rd_le64(p + 48) != rd_stream_hash(p, RD_STREAM_FRAME_HEADER - 8)) return "the frame header's checksum fails";
    h->number = rd_le32(p + 8);
    h->kind = (rd_stream_frame_kind)p[12];
    uint64_t t = rd_le64(p + 16);
    memcpy(&h->timestamp, &t, 8);
    h->count = rd_le64(p + 24), h->payload_bytes = rd_le64(p + 32), h->payload_hash = rd_le64(p + 40);
    if (h->kind != RD_STREAM_INTRA && h->kind != RD_STREAM_RESIDUAL) return "the frame's kind is neither intra nor residual";
    if (h->count > RD_STREAM_MAX_GAUSSIANS || !isfinite(h->timestamp)) return "the frame header's count or timestamp is out of range";
    return NULL;
}

static bool write_bytes(rd_stream_writer *w, const rd_bytes *b)
{
    if (b->failed || !rd_writer_write(w->file, b->data, b->size)) return false;
    w->offset += (int64_t)b->size;
    return true;
}

rd_result rd_stream_writer_create(rd_context *ctx, const char *path, const rd_stream_desc *desc, rd_stream_writer **out)
{
    static const rd_stream_desc defaults = {0};
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_writer_create: out is NULL");
    *out = NULL;
    if (!desc) desc = &defaults;
    if (desc->sh_degree < 0 || desc->sh_degree > 3 || desc->frame_rate < 0 || !isfinite(desc->frame_rate) || desc->position_step < 0 ||
        !isfinite(desc->position_step) || desc->zstd_level < 0 || desc->zstd_level > 22)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_writer_create: SH degree, frame rate, position step or zstd level out of range");
    cJSON *encoder = desc->config_json ? cJSON_Parse(desc->config_json) : NULL;
    if (desc->config_json && (!cJSON_IsObject(encoder) || strlen(desc->config_json) > RD_STREAM_MAX_CONFIG / 2)) {
        cJSON_Delete(encoder);
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_writer_create: config_json is not a JSON object of at most 512 KiB");
    }
    rd_stream_writer *w = calloc(1, sizeof *w);
    if (!w) {
        cJSON_Delete(encoder);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_writer_create: out of memory");
    }
    w->ctx = ctx, w->sh_degree = desc->sh_degree, w->level = desc->zstd_level ? desc->zstd_level : 9;
    w->frame_rate = desc->frame_rate > 0 ? desc->frame_rate : 30.0, w->position_step = desc->position_step > 0 ? desc->position_step : 1e-4f;
    w->state.count = -1;
    snprintf(w->path, sizeof w->path, "%s", path ? path : "");
    cJSON *config = cJSON_CreateObject();
    cJSON_AddStringToObject(config, "format", "radiant-stream");
    cJSON_AddNumberToObject(config, "version", RD_STREAM_VERSION);
    cJSON_AddNumberToObject(config, "sh_degree", w->sh_degree);
    cJSON_AddNumberToObject(config, "frame_rate", w->frame_rate);
    cJSON_AddNumberToObject(config, "position_step", w->position_step);
    if (encoder) cJSON_AddItemToObject(config, "encoder", encoder);
    char *json = cJSON_PrintUnformatted(config);
    cJSON_Delete(config);
    rd_result r = json ? rd_writer_open(ctx, path, &w->file) : rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_stream_writer_create: out of memory");
    rd_bytes header = {0};
    if (r == RD_OK) {
        rd_bytes_append(&header, RD_STREAM_MAGIC, 8);
        rd_bytes_u32(&header, RD_STREAM_VERSION);
        rd_bytes_u32(&header, (uint32_t)strlen(json));
        rd_bytes_append(&header, json, strlen(json));
        if (!header.failed) rd_bytes_u64(&header, rd_stream_hash(header.data, header.size));
        if (!write_bytes(w, &header)) r = rd_fail(ctx, RD_ERROR_IO, "%s: cannot write the stream's header", path);
    }
    rd_bytes_free(&header);
    free(json);
    if (r != RD_OK) {
        rd_stream_writer_destroy(w);
        return r;
    }
    *out = w;
    return RD_OK;
}

/* Frame header and payload into the file, the decoded state into w->state, the index entry. */
static rd_result write_frame(rd_stream_writer *w, rd_stream_frame_kind kind, rd_bytes *payload)
{
    char where[64];
    snprintf(where, sizeof where, "frame %lld being written", (long long)w->frame_count);
    rd_result r = rd_stream_decode_payload(w->ctx, where, kind, payload->data, payload->size, &w->state, w->position_step, UINT64_MAX, NULL,
                                           &w->spare);
    if (r != RD_OK) return r;
    if (w->frame_count == w->frame_capacity) {
        int64_t cap = w->frame_capacity ? 2 * w->frame_capacity : 64;
        index_entry *grown = realloc(w->frames, (size_t)cap * sizeof *grown);
        if (!grown) return rd_fail(w->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for the index", w->path);
        w->frames = grown, w->frame_capacity = cap;
    }
    stream_frame_header h = {(uint32_t)w->frame_count, kind, (double)w->frame_count / w->frame_rate, (uint64_t)w->spare.count,
                             payload->size, rd_stream_hash(payload->data, payload->size)};
    rd_bytes header = {0};
    rd_stream_header_write(&header, &h);
    int64_t offset = w->offset;
    bool ok = write_bytes(w, &header) && write_bytes(w, payload);
    rd_bytes_free(&header);
    if (!ok) return rd_fail(w->ctx, RD_ERROR_IO, "%s: cannot write frame %lld", w->path, (long long)w->frame_count);
    w->frames[w->frame_count++] = (index_entry){offset, w->offset - offset, w->spare.count, h.timestamp, kind};
    w->last_bytes = w->offset - offset;
    stream_state previous = w->state;
    w->state = w->spare, w->spare = previous;
    return RD_OK;
}

rd_result rd_stream_write_intra(rd_stream_writer *w, const rd_scene_desc *scene)
{
    if (!w) return rd_fail(NULL, RD_ERROR_INVALID_ARGUMENT, "rd_stream_write_intra: the writer is NULL");
    rd_scene_desc own = rd_stream_state_scene(&w->state);
    if (!scene && w->state.count < 0) return rd_fail(w->ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_write_intra: no frame to repeat yet");
    const rd_scene_desc *s = scene ? scene : &own;
    if (s->memory != RD_MEMORY_HOST || s->count < 0 || s->count > RD_STREAM_MAX_GAUSSIANS || s->sh_degree != w->sh_degree ||
        (s->count && (!s->means || !s->log_scales || !s->rotations || !s->opacities || !s->sh)))
        return rd_fail(w->ctx, RD_ERROR_INVALID_ARGUMENT,
                       "rd_stream_write_intra: the scene must be host arrays of SH degree %d (the stream's), count 0..2^31-1", w->sh_degree);
    rd_bytes payload = {0};
    rd_result r = rd_stream_encode_intra(w->ctx, s, scene ? NULL : &w->state, w->level, &payload);
    if (r == RD_OK) r = write_frame(w, RD_STREAM_INTRA, &payload);
    rd_bytes_free(&payload);
    return r;
}

rd_result rd_stream_write_residual(rd_stream_writer *w, const rd_stream_residual *frame)
{
    if (!w || !frame) return rd_fail(w ? w->ctx : NULL, RD_ERROR_INVALID_ARGUMENT, "rd_stream_write_residual: the writer or frame is NULL");
    if (w->state.count < 0) return rd_fail(w->ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_write_residual: the first frame must be intra");
    rd_bytes payload = {0};
    rd_result r = rd_stream_encode_residual(w->ctx, frame, &w->state, w->level, &payload);
    if (r == RD_OK) r = write_frame(w, RD_STREAM_RESIDUAL, &payload);
    rd_bytes_free(&payload);
    return r;
}

rd_scene_desc rd_stream_writer_state(const rd_stream_writer *w)
{
    return w && w->state.count >= 0 ? rd_stream_state_scene(&w->state) : (rd_scene_desc){0};
}

int64_t rd_stream_writer_last_bytes(const rd_stream_writer *w) { return w ? w->last_bytes : 0; }
rd_context *rd_stream_writer_context(const rd_stream_writer *w) { return w ? w->ctx : NULL; }
const stream_state *rd_stream_writer_decoded(const rd_stream_writer *w) { return &w->state; }
float rd_stream_writer_position_step(const rd_stream_writer *w) { return w->position_step; }

rd_result rd_stream_writer_finish(rd_stream_writer *w)
{
    if (!w) return rd_fail(NULL, RD_ERROR_INVALID_ARGUMENT, "rd_stream_writer_finish: the writer is NULL");
    rd_bytes index = {0};
    int64_t at = w->offset;
    rd_bytes_append(&index, RD_STREAM_INDEX_MAGIC, 8);
    rd_bytes_u64(&index, (uint64_t)w->frame_count);
    for (int64_t k = 0; k < w->frame_count; k++) {
        const index_entry *e = &w->frames[k];
        uint64_t t;
        memcpy(&t, &e->timestamp, 8);
        rd_bytes_u64(&index, (uint64_t)e->offset);
        rd_bytes_u64(&index, (uint64_t)e->bytes);
        rd_bytes_u64(&index, (uint64_t)e->count);
        rd_bytes_u64(&index, t);
        rd_bytes_u8(&index, (uint8_t)e->kind);
        rd_bytes_append(&index, "\0\0\0\0\0\0\0", 7);
    }
    if (!index.failed) rd_bytes_u64(&index, rd_stream_hash(index.data, index.size));
    rd_bytes_u64(&index, (uint64_t)at);
    unsigned char le[8];
    for (int k = 0; k < 8; k++) le[k] = (unsigned char)((uint64_t)at >> (8 * k));
    rd_bytes_u64(&index, rd_stream_hash(le, 8));
    rd_bytes_append(&index, RD_STREAM_TRAILER_MAGIC, 8);
    bool ok = write_bytes(w, &index);
    rd_bytes_free(&index);
    rd_result r = rd_writer_commit(w->ctx, w->file, ok);
    w->file = NULL;
    rd_stream_writer_destroy(w);
    return r;
}

void rd_stream_writer_destroy(rd_stream_writer *w)
{
    if (!w) return;
    rd_writer_abandon(w->file);
    rd_stream_state_free(&w->state);
    rd_stream_state_free(&w->spare);
    free(w->frames);
    free(w);
}
