/* writer.c: the one way radiant writes a file (internal.h: rd_write_atomically). The
   content goes to a temporary file beside the target through a buffer whose every write
   is checked, then the temporary is closed (checked) and renamed over the target. On any
   failure the temporary is removed and the error names the path and the OS's reason, so
   a full disk or a missing folder never leaves a truncated or empty file behind. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { BUFFER_BYTES = 1 << 16 };

struct rd_writer {
    char path[4096], tmp[4200];
    int fd;
    int error;           /* the first failure's errno; 0 while all is well */
    const char *reason;  /* or a failure that is not the OS's (an encoder's) */
    size_t used;
    unsigned char buffer[BUFFER_BYTES];
};

static bool flush(rd_writer *w)
{
    size_t done = 0;
    while (w->error == 0 && !w->reason && done < w->used) {
        ssize_t n = write(w->fd, w->buffer + done, w->used - done);
        if (n > 0) done += (size_t)n;
        else if (n < 0 && errno != EINTR) w->error = errno;
        else if (n == 0) w->error = EIO; /* no progress: not a regular file's behaviour */
    }
    w->used = 0;
    return w->error == 0 && !w->reason;
}

bool rd_writer_write(rd_writer *w, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    while (bytes > 0 && w->error == 0 && !w->reason) {
        if (w->used == BUFFER_BYTES && !flush(w)) break;
        size_t room = BUFFER_BYTES - w->used, n = bytes < room ? bytes : room;
        memcpy(w->buffer + w->used, p, n);
        w->used += n, p += n, bytes -= n;
    }
    return w->error == 0 && !w->reason;
}

bool rd_writer_printf(rd_writer *w, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) return rd_writer_fail(w, "a formatted line is too long");
    return rd_writer_write(w, line, (size_t)n);
}

bool rd_writer_fail(rd_writer *w, const char *reason)
{
    if (w->error == 0 && !w->reason) w->reason = reason;
    return false;
}

/* A fresh temporary name beside path: "<path>.tmp<pid>.<n>", created exclusively. */
static int open_temporary(const char *path, char *tmp, size_t size)
{
    static atomic_uint counter;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = atomic_fetch_add(&counter, 1);
        if (snprintf(tmp, size, "%s.tmp%ld.%u", path, (long)getpid(), n) >= (int)size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

rd_result rd_writer_open(rd_context *ctx, const char *path, rd_writer **out)
{
    *out = NULL;
    if (!path || !path[0]) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "cannot write: no path given");
    if (strlen(path) >= sizeof((rd_writer *)0)->path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "cannot write: the path is too long");
    rd_writer *w = malloc(sizeof *w);
    if (!w) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot write: out of memory", path);
    w->fd = -1, w->error = 0, w->reason = NULL, w->used = 0;
    snprintf(w->path, sizeof w->path, "%s", path);
    w->fd = open_temporary(path, w->tmp, sizeof w->tmp);
    if (w->fd < 0) {
        int e = errno;
        free(w);
        return rd_fail(ctx, RD_ERROR_IO, "%s: cannot write: %s", path, strerror(e));
    }
    *out = w;
    return RD_OK;
}

rd_result rd_writer_commit(rd_context *ctx, rd_writer *w, bool ok)
{
    if (!w) return RD_OK;
    ok = flush(w) && ok;
    if (close(w->fd) != 0 && w->error == 0) w->error = errno;
    ok = ok && w->error == 0 && !w->reason;
    if (ok && rename(w->tmp, w->path) != 0) w->error = errno, ok = false;
    rd_result r = RD_OK;
    if (!ok) {
        unlink(w->tmp);
        r = rd_fail(ctx, RD_ERROR_IO, "%s: cannot write: %s", w->path,
                    w->error ? strerror(w->error) : w->reason ? w->reason : "the encoder failed");
    }
    free(w);
    return r;
}

void rd_writer_abandon(rd_writer *w)
{
    if (!w) return;
    close(w->fd);
    unlink(w->tmp);
    free(w);
}

rd_result rd_write_atomically(rd_context *ctx, const char *path, rd_write_fn write_fn, void *user)
{
    rd_writer *w;
    rd_result r = rd_writer_open(ctx, path, &w);
    if (r != RD_OK) return r;
    return rd_writer_commit(ctx, w, write_fn(w, user));
}

typedef struct bytes_job {
    const void *data;
    size_t bytes;
} bytes_job;

static bool write_bytes(rd_writer *w, void *user)
{
    const bytes_job *job = user;
    return rd_writer_write(w, job->data, job->bytes);
}

rd_result rd_file_write(rd_context *ctx, const char *path, const void *data, size_t bytes)
{
    if (bytes && !data) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: nothing to write", path ? path : "(null)");
    bytes_job job = {data, bytes};
    return rd_write_atomically(ctx, path, write_bytes, &job);
}
