/* stream_player.c: streams on the viewer's timeline (stream_player.h). */
#include "stream_player.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool vw_is_stream_path(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n > 8 && strcmp(path + n - 8, ".rstream") == 0;
}

/* Decodes frame k, or where it is damaged the next intra frame after it. */
static bool decode(vw_stream_player *p, int64_t k, const rd_scene **scene, char *message, size_t size)
{
    rd_result r = rd_stream_seek(p->stream, k); /* from the shown frame where it can (the next: one residual) */
    bool ok = r == RD_OK;
    if (!ok) {
        snprintf(message, size, "%s", rd_last_error(p->ctx));
        int64_t next = rd_stream_next_intra(p->stream, k);
        r = next >= 0 ? rd_stream_seek(p->stream, next) : r;
        k = next;
    }
    if (r == RD_OK && rd_stream_scene(p->stream, scene) == RD_OK) p->shown = k;
    return ok;
}

bool vw_stream_open(vw_stream_player *p, rd_context *ctx, const char *path, const rd_scene **scene, char *message, size_t size)
{
    vw_stream_close(p);
    if (rd_stream_open(ctx, path, &p->stream) != RD_OK) {
        snprintf(message, size, "%s", rd_last_error(ctx));
        return false;
    }
    rd_stream_get_info(p->stream, &p->info);
    p->ctx = ctx, p->shown = -1;
    decode(p, 0, scene, message, size);
    if (p->shown < 0) {
        vw_stream_close(p);
        return false;
    }
    return true;
}

float vw_stream_duration(const vw_stream_player *p)
{
    return p->info.frame_numbers > 1 ? (float)((double)(p->info.frame_numbers - 1) / p->info.frame_rate) : 0.0f;
}

bool vw_stream_show(vw_stream_player *p, float time, const rd_scene **scene, char *message, size_t size)
{
    int64_t k = (int64_t)llround((double)time * p->info.frame_rate);
    if (k < 0) k = 0;
    if (k >= p->info.frame_numbers) k = p->info.frame_numbers - 1;
    if (k == p->shown) return true;
    return decode(p, k, scene, message, size);
}

void vw_stream_text(const vw_stream_player *p, char *text, size_t size)
{
    rd_stream_frame_info f = {0};
    bool known = p->shown >= 0 && rd_stream_get_frame(p->stream, p->shown, &f) == RD_OK;
    snprintf(text, size, "stream frame %lld of %lld (%s, %.1f KB)  %.2f Mbit/s", (long long)p->shown, (long long)p->info.frame_numbers,
             !known ? "?" : f.kind == RD_STREAM_INTRA ? "intra" : "residual", known ? (double)f.bytes / 1024.0 : 0.0,
             p->info.bits_per_second / 1e6);
}

void vw_stream_close(vw_stream_player *p)
{
    rd_stream_close(p->stream);
    memset(p, 0, sizeof *p);
    p->shown = -1;
}
