/* fuzz_file.c: the input as a file (fuzz_file.h). */
#define _XOPEN_SOURCE 700 /* nftw */
#include "fuzz_file.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

rd_context *fuzz_context(void)
{
    static rd_context *ctx;
    if (!ctx) rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1}, &ctx);
    return ctx;
}

static char dir[64];

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

/* libFuzzer ends a run with exit(): the folder goes with it (a crash leaves it to look at) */
static void remove_dir(void) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

const char *fuzz_dir(void)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/radiant-fuzz-XXXXXX");
        if (!mkdtemp(dir)) dir[0] = '\0';
        else atexit(remove_dir);
    }
    return dir[0] ? dir : NULL;
}

void fuzz_fix_checksum(uint8_t *p, size_t size)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i + 8 < size; i++) h = (h ^ p[i]) * 1099511628211ull;
    for (int k = 0; k < 8; k++) p[size - 8 + k] = (uint8_t)(h >> (8 * k));
}

const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    static char path[256];
    const char *dir = fuzz_dir();
    if (!dir) return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    for (char *slash = strchr(path + strlen(dir) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0'; /* the name's folders, made once */
        mkdir(path, 0700);
        *slash = '/';
    }
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t written = size ? fwrite(data, 1, size, f) : 0;
    if (fclose(f) != 0 || written != size) return NULL;
    return path;
}
