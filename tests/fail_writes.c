/* fail_writes.c: an LD_PRELOAD layer for the full-disk test (full_disk_test.sh): writes to
   files under $FAIL_WRITES_DIR stop with ENOSPC once $FAIL_WRITES_AFTER bytes have gone to
   such files in the process, the last write cut short as a filling disk cuts it. Both
   write() and stdio's fwrite() are covered (stdio reaches the kernel through glibc's
   internal write, which a preload cannot see). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long written;

static bool under_dir(int fd)
{
    const char *dir = getenv("FAIL_WRITES_DIR");
    char link[64], path[4096];
    if (!dir || fd < 0) return false;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) return false;
    path[n] = '\0';
    return strncmp(path, dir, strlen(dir)) == 0;
}

/* How many of n bytes may still go to such a file. */
static size_t allowed(size_t n)
{
    const char *after = getenv("FAIL_WRITES_AFTER");
    long long limit = after ? atoll(after) : 0, left = limit > written ? limit - written : 0;
    return (long long)n < left ? n : (size_t)left;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    static ssize_t (*real_write)(int, const void *, size_t);
    if (!real_write) real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    if (n == 0 || !under_dir(fd)) return real_write(fd, buf, n);
    size_t part = allowed(n);
    if (part == 0) {
        errno = ENOSPC;
        return -1;
    }
    ssize_t done = real_write(fd, buf, part);
    if (done > 0) written += done;
    return done;
}

size_t fwrite(const void *buf, size_t size, size_t count, FILE *f)
{
    static size_t (*real_fwrite)(const void *, size_t, size_t, FILE *);
    if (!real_fwrite) real_fwrite = (size_t (*)(const void *, size_t, size_t, FILE *))dlsym(RTLD_NEXT, "fwrite");
    if (size == 0 || count == 0 || !under_dir(fileno(f))) return real_fwrite(buf, size, count, f);
    size_t items = allowed(size * count) / size;
    size_t done = items ? real_fwrite(buf, size, items, f) : 0;
    written += (long long)(done * size);
    if (done < count) errno = ENOSPC;
    return done;
}
