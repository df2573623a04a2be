/* stream_reader.c: rd_stream (radiant_streams.h): opens a stream by its header and index
   or, where the index is missing or damaged (a file cut short, or still being written), by
   scanning the frames' headers, each checked by its own checksum; past a damaged header
   the scan looks for the next whole one. Seeking decodes from the last intra frame at or
   before the frame asked for (or on from the current frame), each payload checked against
   its XXH64 before it is decoded, so a damaged frame is named and nothing past it is
   decoded until the next intra frame. On a GPU context the state lives in device memory
   (two states: the current frame and the one being decoded): intra frames are decoded on
   the host and copied up, residual frames are parsed on the host and decoded on the
   device (stream_device.h), and the host arrays are copied down only when asked for. */
#include "stream_device.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct frame_entry {
    int64_t offset, bytes, count; /* bytes 0: missing (the scan found no whole frame of this number) */
    double timestamp;
    rd_stream_frame_kind kind;
} frame_entry;

struct rd_stream {
    rd_context *ctx;
    FILE *file;
    char path[4096];
    char *config;
    int sh_degree;
    double frame_rate;
    float position_step;
    int64_t file_bytes, data_start, damaged_at;
    bool indexed;
    frame_entry *frames;
    int64_t frame_count, frame_capacity; /* count: the highest frame number found + 1 */
    stream_state state, spare;
    bool on_device;              /* the context is a GPU's: states in device memory */
    stream_device_state device[2];
    int current;                 /* device[current] holds the frame at position */
    stream_device_scratch scratch;
    stream_section_scratch sections; /* the zstd context and planes, kept from frame to frame */
    rd_bytes latent_planes;          /* a residual's latents as stored, for the device decode */
    bool host_stale;             /* state is not yet the device's current frame */
    rd_scene *host_scene;        /* rd_stream_scene's on the CPU */
    bool piped;                  /* read from a pipe: its bytes kept as read, frames found as they arrive */
    bool pipe_ended;             /* the pipe has closed, or its index came: no frame follows */
    rd_bytes held;               /* a pipe's bytes from held_from on, as read */
    int64_t held_from;           /* the stream offset of held's first byte: what lies before the
                                    intra frame of the frame played last is let go */
    int64_t scan_at, scan_last;  /* where the scan goes on, and the last frame number it found */
    int64_t position;
    unsigned char *payload;
    size_t payload_capacity;
    uint64_t limit;
};

/* The stream offset just past a pipe's bytes read so far. */
static int64_t pipe_end(const rd_stream *s) { return s->held_from + (int64_t)s->held.size; }

/* A pipe's bytes up to end read into held (blocking until they arrive); false at its end. */
static bool pipe_fill(rd_stream *s, int64_t end)
{
    while (pipe_end(s) < end && !s->pipe_ended) {
        unsigned char *at = rd_bytes_grow(&s->held, 1 << 16);
        if (!at) return false;
        size_t got = fread(at, 1, 1 << 16, s->file);
        s->held.size -= (1 << 16) - got;
        if (got == 0) s->pipe_ended = true;
    }
    return pipe_end(s) >= end;
}

static bool read_at(rd_stream *s, int64_t offset, void *dst, size_t bytes)
{
    if (s->piped) {
        if (offset < s->held_from || !pipe_fill(s, offset + (int64_t)bytes)) return false;
        memcpy(dst, s->held.data + (offset - s->held_from), bytes);
        return true;
    }
    return fseeko(s->file, offset, SEEK_SET) == 0 && fread(dst, 1, bytes, s->file) == bytes;
}

static rd_result read_header(rd_stream *s)
{
    unsigned char head[16];
    if (s->file_bytes < 24 || !read_at(s, 0, head, 16) || memcmp(head, RD_STREAM_MAGIC, 8) != 0)
        return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: not a radiant stream (no RDSTREAM header)", s->path);
    uint32_t version = rd_le32(head + 8), json_bytes = rd_le32(head + 12);
    if (version < 1 || version > RD_STREAM_VERSION)
        return rd_fail(s->ctx, RD_ERROR_UNSUPPORTED, "%s: stream version %u (this build reads 1 to %d)", s->path, version, RD_STREAM_VERSION);
    if (json_bytes > RD_STREAM_MAX_CONFIG || (int64_t)json_bytes > s->file_bytes - 24)
        return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: header: a configuration of %u bytes does not fit the file", s->path, json_bytes);
    unsigned char *all = malloc(16 + (size_t)json_bytes + 8);
    if (!all) return rd_fail(s->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", s->path);
    memcpy(all, head, 16);
    rd_result r = read_at(s, 16, all + 16, json_bytes + 8) ? RD_OK : rd_fail(s->ctx, RD_ERROR_IO, "%s: cannot read the header", s->path);
    if (r == RD_OK && rd_le64(all + 16 + json_bytes) != rd_stream_hash(all, 16 + json_bytes))
        r = rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: header: the checksum fails (damaged)", s->path);
    if (r == RD_OK && !(s->config = malloc(json_bytes + 1))) r = rd_fail(s->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", s->path);
    if (r == RD_OK) memcpy(s->config, all + 16, json_bytes), s->config[json_bytes] = 0;
    free(all);
    if (r != RD_OK) return r;
    s->data_start = 16 + (int64_t)json_bytes + 8;
    cJSON *config = cJSON_Parse(s->config);
    const cJSON *degree = cJSON_GetObjectItemCaseSensitive(config, "sh_degree");
    const cJSON *rate = cJSON_GetObjectItemCaseSensitive(config, "frame_rate");
    const cJSON *step = cJSON_GetObjectItemCaseSensitive(config, "position_step");
    bool ok = cJSON_IsNumber(degree) && cJSON_IsNumber(rate) && cJSON_IsNumber(step) && degree->valuedouble >= 0 &&
              degree->valuedouble <= 3 && degree->valuedouble == (int)degree->valuedouble && isfinite(rate->valuedouble) &&
              rate->valuedouble > 0 && isfinite(step->valuedouble) && step->valuedouble > 0 && step->valuedouble < 1e30;
    if (ok) s->sh_degree = degree->valueint, s->frame_rate = rate->valuedouble, s->position_step = (float)step->valuedouble;
    cJSON_Delete(config);
    return ok ? RD_OK
              : rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: header: the configuration lacks a valid sh_degree (0-3), frame_rate or position_step",
                        s->path);
}

/* Frame number's entry; the table grows geometrically (a number is checked against the
   file's size first: at most one frame every 56 bytes). */
static bool add_frame(rd_stream *s, int64_t number, frame_entry e)
{
    if (number >= s->frame_capacity) {
        int64_t cap = s->frame_capacity ? s->frame_capacity : 64;
        while (cap <= number) cap *= 2;
        frame_entry *grown = realloc(s->frames, (size_t)cap * sizeof *grown);
        if (!grown) return false;
        memset(grown + s->frame_capacity, 0, (size_t)(cap - s->frame_capacity) * sizeof *grown);
        s->frames = grown, s->frame_capacity = cap;
    }
    if (number >= s->frame_count) s->frame_count = number + 1;
    s->frames[number] = e;
    return true;
}

/* The index through the trailer; false (nothing kept) where either is missing or damaged. */
static bool read_index(rd_stream *s)
{
    unsigned char trailer[RD_STREAM_TRAILER];
    int64_t end = s->file_bytes - RD_STREAM_TRAILER;
    if (end < s->data_start + 24 || !read_at(s, end, trailer, sizeof trailer) || memcmp(trailer + 16, RD_STREAM_TRAILER_MAGIC, 8) != 0 ||
        rd_le64(trailer + 8) != rd_stream_hash(trailer, 8))
        return false;
    int64_t at = (int64_t)rd_le64(trailer);
    if (at < s->data_start || at > end - 24) return false;
    size_t bytes = (size_t)(end - at);
    unsigned char *index = malloc(bytes);
    bool ok = index && read_at(s, at, index, bytes) && memcmp(index, RD_STREAM_INDEX_MAGIC, 8) == 0 &&
              rd_le64(index + bytes - 8) == rd_stream_hash(index, bytes - 8);
    uint64_t n = ok ? rd_le64(index + 8) : 0;
    ok = ok && n <= (bytes - 24) / RD_STREAM_INDEX_ENTRY && bytes == 24 + n * RD_STREAM_INDEX_ENTRY;
    int64_t next = s->data_start;
    for (uint64_t k = 0; ok && k < n; k++) {
        const unsigned char *e = index + 16 + k * RD_STREAM_INDEX_ENTRY;
        frame_entry f = {(int64_t)rd_le64(e), (int64_t)rd_le64(e + 8), (int64_t)rd_le64(e + 16), 0, (rd_stream_frame_kind)e[32]};
        uint64_t t = rd_le64(e + 24);
        memcpy(&f.timestamp, &t, 8);
        ok = f.offset == next && f.bytes >= RD_STREAM_FRAME_HEADER && f.bytes <= at - f.offset && f.count >= 0 &&
             f.count <= RD_STREAM_MAX_GAUSSIANS && (f.kind == RD_STREAM_INTRA || f.kind == RD_STREAM_RESIDUAL) && isfinite(f.timestamp) &&
             add_frame(s, (int64_t)k, f);
        if (ok) next = f.offset + f.bytes;
    }
    ok = ok && next == at;
    free(index);
    if (!ok) free(s->frames), s->frames = NULL, s->frame_count = s->frame_capacity = 0;
    return ok;
}

/* The next offset at or after from where a frame header's magic starts, or -1. */
static int64_t find_magic(rd_stream *s, int64_t from)
{
    enum { CHUNK = 1 << 16 };
    unsigned char *buf = malloc(CHUNK);
    int64_t found = -1;
    while (buf && found < 0 && from + 8 <= s->file_bytes) {
        size_t want = (size_t)(s->file_bytes - from < CHUNK ? s->file_bytes - from : CHUNK);
        if (s->piped) { /* what has arrived, up to a chunk */
            pipe_fill(s, from + CHUNK);
            int64_t held = pipe_end(s) - from;
            if (held < 8) break;
            want = (size_t)(held < CHUNK ? held : CHUNK);
        }
        if (!read_at(s, from, buf, want)) break;
        for (size_t k = 0; k + 8 <= want; k++)
            if (buf[k] == 'R' && memcmp(buf + k, RD_STREAM_FRAME_MAGIC, 8) == 0) {
                found = from + (int64_t)k;
                break;
            }
        from += (int64_t)want - 7;
        if (want < CHUNK) break;
    }
    free(buf);
    return found;
}

/* One step of the scan without an index: the frame header at scan_at, if it checks, into
   the table; past a damaged one, on to the next magic. False when the scan is over (the end,
   a frame cut short, out of memory: *r says which). */
static bool scan_one(rd_stream *s, rd_result *r)
{
    unsigned char head[RD_STREAM_FRAME_HEADER];
    int64_t at = s->scan_at;
    *r = RD_OK;
    if (at < 0 || !read_at(s, at, head, sizeof head)) { /* the file's (or the pipe's) end */
        int64_t end = s->piped ? pipe_end(s) : s->file_bytes; /* bytes after the last whole frame: damage or a cut */
        if (at >= 0 && at < end && s->damaged_at < 0) s->damaged_at = at;
        return false;
    }
    stream_frame_header h;
    const char *problem = rd_stream_header_parse(head, &h);
    if (problem && s->piped && memcmp(head, RD_STREAM_INDEX_MAGIC, 8) == 0) { /* a whole stream's index: no frame follows */
        s->pipe_ended = true;
        return false;
    }
    if (!problem && (int64_t)h.number <= s->scan_last) problem = "frame numbers out of order";
    if (!problem && !s->piped && h.payload_bytes > (uint64_t)(s->file_bytes - at - RD_STREAM_FRAME_HEADER)) problem = "cut short";
    if (!problem && s->piped && (h.payload_bytes > (uint64_t)INT64_MAX / 2 || !pipe_fill(s, at + RD_STREAM_FRAME_HEADER + (int64_t)h.payload_bytes)))
        problem = "cut short";
    int64_t span = s->piped ? pipe_end(s) : s->file_bytes;
    if (!problem && (int64_t)h.number > (span - s->data_start) / RD_STREAM_FRAME_HEADER) problem = "an absurd frame number";
    if (problem) {
        if (s->damaged_at < 0) s->damaged_at = at;
        if (strcmp(problem, "cut short") == 0) return false;
        s->scan_at = find_magic(s, at + 1);
        return s->scan_at >= 0;
    }
    frame_entry e = {at, RD_STREAM_FRAME_HEADER + (int64_t)h.payload_bytes, (int64_t)h.count, h.timestamp, h.kind};
    if (!add_frame(s, h.number, e)) {
        *r = rd_fail(s->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", s->path);
        return false;
    }
    s->scan_last = h.number, s->scan_at = at + e.bytes;
    return true;
}

/* Without an index: every whole frame whose header checks, in order; damaged_at where a
   damaged or cut-off frame was passed over. */
static rd_result scan(rd_stream *s)
{
    rd_result r = RD_OK;
    s->scan_at = s->data_start, s->scan_last = -1;
    while (s->scan_at + RD_STREAM_FRAME_HEADER <= s->file_bytes && scan_one(s, &r)) {}
    if (r == RD_OK && s->scan_at >= 0 && s->scan_at < s->file_bytes && s->damaged_at < 0) s->damaged_at = s->scan_at;
    return r;
}

/* A pipe: frames read on until frame is known or the pipe ends. */
static rd_result read_on(rd_stream *s, int64_t frame)
{
    rd_result r = RD_OK;
    while (s->piped && frame >= s->frame_count && scan_one(s, &r)) {}
    return r;
}

rd_result rd_stream_open(rd_context *ctx, const char *path, rd_stream **out)
{
    if (!out || !path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_stream_open: path or out is NULL");
    *out = NULL;
    rd_stream *s = calloc(1, sizeof *s);
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    s->ctx = ctx, s->position = -1, s->damaged_at = -1, s->state.count = -1;
    s->on_device = rd_context_backend(ctx) == RD_BACKEND_CUDA || rd_context_backend(ctx) == RD_BACKEND_VULKAN;
    snprintf(s->path, sizeof s->path, "%s", path);
    rd_result r = RD_OK;
    if (!(s->file = fopen(path, "rb"))) r = rd_fail(ctx, RD_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (r == RD_OK && (fseeko(s->file, 0, SEEK_END) != 0 || (s->file_bytes = ftello(s->file)) < 0)) {
        if (errno != ESPIPE) r = rd_fail(ctx, RD_ERROR_IO, "%s: cannot seek: %s", path, strerror(errno));
        s->piped = r == RD_OK;         /* a pipe or FIFO: frames are found as they arrive, a seek ahead waits for them */
        s->file_bytes = INT64_MAX / 4; /* not known: the header's checks take any size */
    }
    if (r == RD_OK) r = read_header(s);
    if (r == RD_OK && s->piped) {
        s->limit = rd_decode_limit(ctx, 0);
        s->scan_at = s->data_start, s->scan_last = -1;
        r = read_on(s, 0); /* the first frame, so that a player can start */
    } else if (r == RD_OK) {
        s->limit = rd_decode_limit(ctx, (uint64_t)s->file_bytes);
        s->indexed = read_index(s);
        if (!s->indexed) r = scan(s);
    }
    if (r != RD_OK) {
        rd_stream_close(s);
        return r;
    }
    *out = s;
    return RD_OK;
}

void rd_stream_get_info(const rd_stream *s, rd_stream_info *out)
{
    memset(out, 0, sizeof *out);
    out->sh_degree = s->sh_degree, out->frame_rate = s->frame_rate, out->position_step = s->position_step;
    out->file_bytes = s->piped ? pipe_end(s) : s->file_bytes, out->indexed = s->indexed, out->damaged_at = s->damaged_at;
    out->piped = s->piped && !s->pipe_ended;
    out->frame_numbers = s->frame_count;
    int64_t residual_bytes = 0, residuals = 0, bytes = 0;
    for (int64_t k = 0; k < s->frame_count; k++) {
        const frame_entry *e = &s->frames[k];
        if (!e->bytes) continue;
        out->frames++, bytes += e->bytes;
        out->intra_frames += e->kind == RD_STREAM_INTRA;
        if (e->kind == RD_STREAM_RESIDUAL) residual_bytes += e->bytes, residuals++;
        if (e->bytes > out->largest_frame) out->largest_frame = e->bytes;
    }
    out->mean_residual_bytes = residuals ? (double)residual_bytes / (double)residuals : 0.0;
    out->bits_per_second = out->frames ? 8.0 * (double)bytes * s->frame_rate / (double)out->frames : 0.0;
}

rd_result rd_stream_get_frame(const rd_stream *s, int64_t frame, rd_stream_frame_info *out)
{
    if (frame < 0 || frame >= s->frame_count || !s->frames[frame].bytes)
        return rd_fail(s->ctx, RD_ERROR_INVALID_ARGUMENT, "%s: no frame %lld (%lld frames)", s->path, (long long)frame,
                       (long long)s->frame_count);
    const frame_entry *e = &s->frames[frame];
    *out = (rd_stream_frame_info){e->offset, e->bytes, e->count, e->timestamp, e->kind};
    return RD_OK;
}

const char *rd_stream_config(const rd_stream *s) { return s->config; }
int64_t rd_stream_position(const rd_stream *s) { return s->position; }
rd_scene_desc rd_stream_state(rd_stream *s)
{
    if (!s || s->position < 0) return (rd_scene_desc){0};
    if (s->on_device && s->host_stale) {
        if (rd_stream_device_download(s->ctx, &s->device[s->current], &s->state) != RD_OK) return (rd_scene_desc){.count = -1};
        s->host_stale = false;
    }
    return rd_stream_state_scene(&s->state);
}

rd_result rd_stream_scene(rd_stream *s, const rd_scene **out)
{
    if (!s || !out) return rd_fail(s ? s->ctx : NULL, RD_ERROR_INVALID_ARGUMENT, "rd_stream_scene: stream or out is NULL");
    *out = NULL;
    if (s->position < 0) return rd_fail(s->ctx, RD_ERROR_INVALID_ARGUMENT, "%s: no frame decoded yet", s->path);
    if (s->on_device) return rd_stream_device_scene(s->ctx, &s->device[s->current], out);
    if (!s->host_scene) {
        rd_scene_desc desc = rd_stream_state_scene(&s->state);
        rd_result r = rd_scene_create(s->ctx, &desc, &s->host_scene);
        if (r != RD_OK) return r;
    }
    *out = s->host_scene;
    return RD_OK;
}

int64_t rd_stream_next_intra(const rd_stream *s, int64_t frame)
{
    for (int64_t k = frame + 1; k < s->frame_count; k++)
        if (s->frames[k].bytes && s->frames[k].kind == RD_STREAM_INTRA) return k;
    return -1;
}

static rd_result check_decoded(rd_stream *s, const char *where, int sh_degree, int64_t count, int64_t header_count)
{
    if (sh_degree != s->sh_degree)
        return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: SH degree %d in a stream of degree %d", where, sh_degree, s->sh_degree);
    if (count != header_count) return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: the count does not match its header", where);
    return RD_OK;
}

/* Frame k's payload (read and checked) decoded into the device state after the current one. */
static rd_result decode_on_device(rd_stream *s, int64_t k, const char *where, size_t payload)
{
    const frame_entry *e = &s->frames[k];
    stream_device_state *prev = &s->device[s->current], *next = &s->device[1 - s->current];
    /* the previous frame's shape, which a residual is parsed against (its arrays are on the device) */
    stream_state shape = {.count = s->position >= 0 ? prev->count : -1, .sh_degree = prev->sh_degree,
                          .rest_latent_dim = prev->rest_latent_dim};
    s->latent_planes.size = 0;
    stream_parsed_residual parsed = {.planes = &s->latent_planes}; /* the latents go up as stored */
    rd_result r = rd_stream_parse_payload(s->ctx, where, e->kind, s->payload, payload, &shape, s->limit, &s->sections, &s->spare, &parsed);
    if (r == RD_OK && e->kind == RD_STREAM_INTRA) r = check_decoded(s, where, s->spare.sh_degree, s->spare.count, e->count);
    if (r == RD_OK && e->kind == RD_STREAM_INTRA) r = rd_stream_device_upload(s->ctx, &s->spare, next);
    if (r == RD_OK && e->kind != RD_STREAM_INTRA) r = check_decoded(s, where, prev->sh_degree, (int64_t)parsed.count, e->count);
    if (r == RD_OK && e->kind != RD_STREAM_INTRA)
        r = rd_stream_device_apply(s->ctx, where, &parsed, prev, s->position_step, next, &s->scratch);
    rd_stream_parsed_free(&parsed);
    if (r != RD_OK) return r;
    s->current = 1 - s->current;
    s->host_stale = true;
    s->position = k;
    return RD_OK;
}

/* Frame k decoded onto the current state (its header checked against the index, its
   payload against its checksum). */
static rd_result decode_frame(rd_stream *s, int64_t k)
{
    char where[4200];
    snprintf(where, sizeof where, "%s: frame %lld", s->path, (long long)k);
    const frame_entry *e = &s->frames[k];
    if (!e->bytes) return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s is missing (damaged or cut off)", where);
    size_t payload = (size_t)(e->bytes - RD_STREAM_FRAME_HEADER);
    unsigned char head[RD_STREAM_FRAME_HEADER];
    stream_frame_header h;
    if (!read_at(s, e->offset, head, sizeof head)) return rd_fail(s->ctx, RD_ERROR_IO, "%s: cannot read its header", where);
    const char *problem = rd_stream_header_parse(head, &h);
    if (problem) return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: %s", where, problem);
    if (h.number != (uint64_t)k || h.kind != e->kind || h.payload_bytes != payload || (int64_t)h.count != e->count)
        return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: its header does not match the index", where);
    if (payload > s->payload_capacity) {
        unsigned char *grown = realloc(s->payload, payload);
        if (!grown) return rd_fail(s->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for %zu bytes", where, payload);
        s->payload = grown, s->payload_capacity = payload;
    }
    if (!read_at(s, e->offset + RD_STREAM_FRAME_HEADER, s->payload, payload)) return rd_fail(s->ctx, RD_ERROR_IO, "%s: cannot read it", where);
    if (rd_stream_hash(s->payload, payload) != h.payload_hash)
        return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: the checksum fails (damaged)", where);
    rd_scene_destroy(s->host_scene), s->host_scene = NULL;
    if (s->on_device) return decode_on_device(s, k, where, payload);
    rd_result r = rd_stream_decode_payload(s->ctx, where, e->kind, s->payload, payload, &s->state, s->position_step, s->limit, &s->sections,
                                           &s->spare);
    if (r == RD_OK) r = check_decoded(s, where, s->spare.sh_degree, s->spare.count, e->count);
    if (r != RD_OK) return r;
    stream_state previous = s->state;
    s->state = s->spare, s->spare = previous;
    s->position = k;
    return RD_OK;
}

/* A pipe lets go of the bytes before the intra frame of the frame played last: memory
   holds one group of frames and what has been read ahead, however long the stream runs. */
static void pipe_let_go(rd_stream *s)
{
    int64_t k = s->position;
    while (k >= 0 && !(s->frames[k].bytes && s->frames[k].kind == RD_STREAM_INTRA)) k--;
    int64_t from = k >= 0 ? s->frames[k].offset : s->held_from;
    if (from <= s->held_from) return;
    size_t drop = (size_t)(from - s->held_from);
    memmove(s->held.data, s->held.data + drop, s->held.size - drop);
    s->held.size -= drop, s->held_from = from;
}

rd_result rd_stream_seek(rd_stream *s, int64_t frame)
{
    if (!s) return rd_fail(NULL, RD_ERROR_INVALID_ARGUMENT, "rd_stream_seek: the stream is NULL");
    rd_result read = read_on(s, frame);
    if (read != RD_OK) return read;
    if (frame < 0 || frame >= s->frame_count)
        return rd_fail(s->ctx, RD_ERROR_INVALID_ARGUMENT, "%s: no frame %lld (%lld frames)", s->path, (long long)frame, (long long)s->frame_count);
    int64_t start = frame;
    while (start >= 0 && !(s->frames[start].bytes && s->frames[start].kind == RD_STREAM_INTRA)) start--;
    if (s->position >= 0 && s->position <= frame && s->position >= start) start = s->position + 1; /* go on from here */
    if (start < 0) return rd_fail(s->ctx, RD_ERROR_FORMAT, "%s: frame %lld has no intra frame before it", s->path, (long long)frame);
    if (s->piped && start <= frame && s->frames[start].offset < s->held_from) /* start > frame: the frame is the current one */
        return rd_fail(s->ctx, RD_ERROR_UNSUPPORTED, "%s: frame %lld is no longer held: a pipe keeps its frames from the intra frame of the frame played last (frame %lld) on",
                       s->path, (long long)frame, (long long)s->position);
    for (int64_t k = start; k <= frame; k++) {
        rd_result r = decode_frame(s, k);
        if (r != RD_OK) {
            s->position = -1, s->state.count = -1;
            return r;
        }
    }
    if (s->piped) pipe_let_go(s);
    return RD_OK;
}

rd_result rd_stream_next(rd_stream *s)
{
    if (!s) return rd_fail(NULL, RD_ERROR_INVALID_ARGUMENT, "rd_stream_next: the stream is NULL");
    return rd_stream_seek(s, s->position + 1);
}

void rd_stream_close(rd_stream *s)
{
    if (!s) return;
    if (s->file) fclose(s->file);
    rd_stream_state_free(&s->state);
    rd_stream_state_free(&s->spare);
    rd_scene_destroy(s->host_scene);
    for (int k = 0; k < 2; k++) rd_stream_device_free(s->ctx, &s->device[k]);
    rd_stream_scratch_free(s->ctx, &s->scratch);
    rd_stream_section_scratch_free(&s->sections);
    rd_bytes_free(&s->latent_planes);
    rd_bytes_free(&s->held);
    free(s->frames);
    free(s->payload);
    free(s->config);
    free(s);
}
