/* outputs.c: the files a scene's report and checkpoint take beside it, and what a render
   finds in its --out folder. Files of the names it writes are
   replaced (and counted, so that the command can say so); frames of an earlier render
   that this one does not write are removed only where the earlier render's report.json
   names them, so nothing radiant did not write is ever touched. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

static bool exists(const char *dir, const char *name, const char *ext)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s%s", dir, name, ext);
    return access(path, F_OK) == 0;
}

int cli_outputs_existing(const char *dir, const cli_views *v, bool exr)
{
    int n = exists(dir, "report", ".json");
    for (int i = 0; i < v->count; i++) n += exists(dir, v->names[i], ".png") + (exr && exists(dir, v->names[i], ".exr"));
    return n;
}

cli_names cli_outputs_earlier(const char *dir)
{
    cli_names earlier = {0};
    char path[4200], *text = NULL;
    snprintf(path, sizeof path, "%s/report.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return earlier;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size > 0 && size < (64 << 20) && fseek(f, 0, SEEK_SET) == 0 && (text = calloc(1, (size_t)size + 1)))
        if (fread(text, 1, (size_t)size, f) != (size_t)size) text[0] = '\0';
    fclose(f);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    free(text);
    const cJSON *views = cJSON_GetObjectItemCaseSensitive(root, "views"), *view;
    int count = cJSON_GetArraySize(views);
    earlier.names = count > 0 ? calloc((size_t)count, sizeof *earlier.names) : NULL;
    cJSON_ArrayForEach(view, views) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(view, "name");
        /* a plain file name only: a report edited by hand cannot point outside the folder */
        if (earlier.names && cJSON_IsString(name) && name->valuestring[0] && !strchr(name->valuestring, '/') &&
            strcmp(name->valuestring, "..") && strlen(name->valuestring) < sizeof earlier.names[0])
            snprintf(earlier.names[earlier.count++], sizeof earlier.names[0], "%s", name->valuestring);
    }
    cJSON_Delete(root);
    return earlier;
}

int cli_outputs_remove_stale(const char *dir, const cli_names *earlier, const cli_views *v)
{
    int removed = 0;
    for (int e = 0; e < earlier->count; e++) {
        bool current = false;
        for (int i = 0; i < v->count && !current; i++) current = strcmp(earlier->names[e], v->names[i]) == 0;
        if (current) continue;
        static const char *const exts[] = {".png", ".exr"};
        for (int k = 0; k < 2; k++) {
            char path[4200];
            snprintf(path, sizeof path, "%s/%s%s", dir, earlier->names[e], exts[k]);
            removed += unlink(path) == 0;
        }
    }
    return removed;
}

void cli_names_free(cli_names *n)
{
    free(n->names);
    *n = (cli_names){0};
}

void cli_beside_scene(const char *scene, const char *suffix, char *out, size_t size)
{
    static const char *const extensions[] = {".compressed.ply", ".ply", ".spz", ".splat", ".rnerf", ".rcompact", ".rstream"};
    size_t n = strlen(scene);
    for (size_t k = 0; k < sizeof extensions / sizeof extensions[0]; k++) {
        size_t e = strlen(extensions[k]);
        if (n > e && strcasecmp(scene + n - e, extensions[k]) == 0) {
            n -= e;
            break;
        }
    }
    snprintf(out, size, "%.*s%s", (int)n, scene, suffix);
}

bool cli_write_report(rd_context *ctx, const char *path, const cJSON *report)
{
    char *text = cJSON_Print(report);
    rd_result written = text ? rd_file_write(ctx, path, text, strlen(text)) : RD_ERROR_OUT_OF_MEMORY;
    free(text);
    if (written == RD_OK) return true;
    if (written == RD_ERROR_OUT_OF_MEMORY) fprintf(stderr, "radiant: out of memory for the report\n");
    else cli_error(ctx, NULL);
    return false;
}

bool cli_make_dirs(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST) return false;
        *p = '/';
    }
    return mkdir(tmp, 0755) == 0 || errno == EEXIST;
}
