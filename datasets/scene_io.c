/* scene_io.c: rd_scene_load: recognises a scene file by its first bytes and hands it to
   the reader for that format. */
#include "ply.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

rd_result rd_scene_load(rd_context *ctx, const char *path, rd_scene **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_load: out is NULL");
    *out = NULL;
    if (!path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_load: path is NULL");
    if (rd_dir_exists(path)) return rd_fail(ctx, RD_ERROR_IO, "%s: is a folder, not a scene file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return rd_fail(ctx, RD_ERROR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char head[8] = {0};
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    if (rd_ply_detect(head, n)) return rd_ply_read(ctx, path, out);
    if (n >= 4 && memcmp(head, "NGSP", 4) == 0)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: SPZ v4 scenes are not supported yet", path);
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: gzip (legacy SPZ) scenes are not supported yet", path);
    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: unknown scene format (%zu bytes read; expected a PLY header)", path, n);
}
