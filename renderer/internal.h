/* internal.h: what the library's modules share and callers never see: the context, error
   reporting, logging, timing and small helpers. */
#ifndef RD_INTERNAL_H
#define RD_INTERNAL_H

#include "radiant.h"
#include "tuning.h"

#include <stdarg.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Rows of the core's tables: backends by rd_backend, scene kinds by rd_scene_kind
   (kinds.h; a new kind moves the last one here). */
enum { RD_BACKEND_COUNT = RD_BACKEND_VULKAN + 1, RD_SCENE_KIND_COUNT = RD_SCENE_GAUSSIANS_4D + 1 };

struct rd_context {
    rd_backend backend;
    void *backend_state;   /* owned by the backend named above */
    int threads;
    rd_log_fn log;
    void *log_user;
    rd_log_level log_level;
    char last_error[1024];
    rd_render_stats last_stats;
    /* each scene kind's per-context state (buffers a GPU backend reuses across frames):
       rd_context_slot in kinds.h */
    void *kind_state[RD_SCENE_KIND_COUNT];
    rd_tuning tuning;      /* the backends' variant choices (tuning.h) */
    int64_t decode_limit;  /* rd_context_desc.decode_limit */
    uint64_t device_held, device_peak; /* bytes of the context's own device buffers (rd_context_device_bytes) */
};

/* A GPU backend's own buffer of `bytes` made (> 0) or freed (< 0): the context's count. */
static inline void rd_device_bytes_add(rd_context *ctx, int64_t bytes)
{
    if (!ctx) return;
    ctx->device_held += (uint64_t)bytes;
    if (ctx->device_held > ctx->device_peak) ctx->device_peak = ctx->device_held;
}

/* The memory a reader may decode a file of file_size bytes into (ctx may be NULL: the
   default), and the check each reader makes before allocating in proportion to what a
   file claims: RD_ERROR_LIMIT naming the path and what would be held (context.c). */
uint64_t rd_decode_limit(const rd_context *ctx, uint64_t file_size);
rd_result rd_decode_check(rd_context *ctx, const char *path, uint64_t file_size, uint64_t bytes, const char *what);
/* The same for a format whose files are denser than RD_DECODE_LIMIT_RATIO allows for (the
   compact file: 4-25 bytes a Gaussian that decode into 250-1400): ratio replaces it. */
uint64_t rd_decode_limit_ratio(const rd_context *ctx, uint64_t file_size, uint64_t ratio);
rd_result rd_decode_check_ratio(rd_context *ctx, const char *path, uint64_t file_size, uint64_t bytes, const char *what,
                                uint64_t ratio);

/* Records a failure: keeps the message in ctx (which may be NULL), logs it at DEBUG,
   and returns code so that callers can write `return rd_fail(ctx, RD_ERROR_IO, ...)`. */
rd_result rd_fail(rd_context *ctx, rd_result code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the context's last error with "prefix: " (for errors raised deeper down). */
void rd_error_prefix(rd_context *ctx, const char *prefix);
void rd_log(rd_context *ctx, rd_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Sets the stats' stages: names[k] took ms[k], all of them total_ms (render.c). */
void rd_stats_set_stages(rd_render_stats *stats, const char *const *names, const double *ms, int count, double total_ms);
/* Appends a named count (dropped past RD_MAX_STATS). */
void rd_stats_add_count(rd_render_stats *stats, const char *name, double value);

/* How far a camera's rotation rows may be from unit length and perpendicular (rows'
   dot products against the identity). */
#define RD_ROTATION_TOLERANCE 1e-2
/* Why the camera cannot be used, written into buf, or NULL when it can: its size,
   intrinsics (finite, focal lengths positive) and w2c (finite, last row 0 0 0 1, rotation
   orthonormal within RD_ROTATION_TOLERANCE, no reflection). camera.c */
const char *rd_camera_problem(const rd_camera *c, char *buf, size_t n);

/* Milliseconds on a monotonic clock. */
double rd_now_ms(void);

/* The last path component, for messages ("lego/transforms_test.json" style). */
const char *rd_path_tail(const char *path);
/* Every file radiant writes goes through here (writer.c): write_fn writes the content
   with rd_writer_write / rd_writer_printf (each checked; false once anything failed) and
   returns false on failure (rd_writer_fail names a reason that is not the OS's). The
   content lands in a temporary beside path, renamed into place only when every write and
   the close succeeded; otherwise the temporary is removed and the error is
   "<path>: cannot write: <reason>". */
typedef struct rd_writer rd_writer;
bool rd_writer_write(rd_writer *w, const void *data, size_t bytes);
bool rd_writer_printf(rd_writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool rd_writer_fail(rd_writer *w, const char *reason);
typedef bool (*rd_write_fn)(rd_writer *w, void *user);
rd_result rd_write_atomically(rd_context *ctx, const char *path, rd_write_fn write_fn, void *user);
/* The same for a file written over time (a stream): open, write, then commit (ok false:
   as a failed write_fn) or abandon (the temporary removed, nothing reported). */
rd_result rd_writer_open(rd_context *ctx, const char *path, rd_writer **out);
rd_result rd_writer_commit(rd_context *ctx, rd_writer *w, bool ok);
void rd_writer_abandon(rd_writer *w);
/* Reads a whole file (NUL-terminated for convenience). */
rd_result rd_read_file(rd_context *ctx, const char *path, char **data, size_t *size);
bool rd_file_exists(const char *path);
bool rd_dir_exists(const char *path);
/* dir + "/" + name into out (size n); false when it does not fit. */
bool rd_path_join(char *out, size_t n, const char *dir, const char *name);

/* FNV-1a (64-bit) of n bytes, continued from h (RD_FNV1A_START for a fresh sum): the
   checksum of radiant's own files (training checkpoints, NeRF snapshots). */
#define RD_FNV1A_START 1469598103934665603ull
static inline uint64_t rd_fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = (const unsigned char *)data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Overflow-checked allocation of count*size bytes; NULL on overflow or exhaustion. */
void *rd_alloc_array(int64_t count, size_t size);

/* qsort's comparison of two floats, ascending. */
int rd_compare_floats(const void *a, const void *b);

#ifdef __cplusplus
}
#endif
#endif
