/* files.c: whole-file reads and path helpers used by every loader (writes: writer.c). */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rd_path_tail(const char *path)
{
    /* keep the parent folder too: "lego/transforms_test.json" reads better than the file alone */
    if (!path) return "";
    const char *end = path + strlen(path);
    int slashes = 0;
    for (const char *p = end; p > path; p--) {
        if (p[-1] == '/' && p != end && ++slashes == 2) return p;
    }
    return path;
}

bool rd_file_exists(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool rd_dir_exists(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool rd_path_join(char *out, size_t n, const char *dir, const char *name)
{
    int len = (dir && dir[0]) ? snprintf(out, n, "%s/%s", dir, name) : snprintf(out, n, "%s", name);
    return len >= 0 && (size_t)len < n;
}

rd_result rd_read_file(rd_context *ctx, const char *path, char **data, size_t *size)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return rd_fail(ctx, RD_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return rd_fail(ctx, RD_ERROR_IO, "%s: cannot seek", path);
    }
    long len = ftell(f);
    rewind(f);
    char *buf = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!buf) {
        fclose(f);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold %ld bytes", path, len);
    }
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    if (got != (size_t)len) {
        free(buf);
        return rd_fail(ctx, RD_ERROR_IO, "%s: short read (%zu of %ld bytes)", path, got, len);
    }
    buf[len] = '\0';
    *data = buf;
    *size = (size_t)len;
    return RD_OK;
}
