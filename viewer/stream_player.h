/* stream_player.h: a residual stream (.rstream) played in the viewer on the timeline 4D
   scenes use: the timeline's time picks the frame (time x frame rate); the next frame is
   decoded onto the current one, any other is a seek (from the intra frame at or before
   it, decoding forward); a damaged frame is named and playback goes on from the next
   intra frame. Frames are decoded on the renderer's context: on a GPU in device memory,
   and shown as the stream's own device scene. */
#ifndef VW_STREAM_PLAYER_H
#define VW_STREAM_PLAYER_H

#include "radiant.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct vw_stream_player {
    rd_stream *stream; /* NULL: no stream open */
    rd_context *ctx;   /* the stream's (its errors) */
    rd_stream_info info;
    int64_t shown;     /* the frame shown, -1 none */
} vw_stream_player;

/* Whether path names a stream (by its extension). */
bool vw_is_stream_path(const char *path);
/* Opens path on ctx and decodes frame 0 (or the first intra frame that decodes) into
   *scene (the stream's; valid until the next show or close); on failure says why in message. */
bool vw_stream_open(vw_stream_player *p, rd_context *ctx, const char *path, const rd_scene **scene, char *message, size_t size);
/* The stream's length in seconds (the last frame's time). */
float vw_stream_duration(const vw_stream_player *p);
/* The frame at time seconds, decoded into *scene where it is not the one shown; false on
   damage (message names it, the next intra frame is shown where there is one). */
bool vw_stream_show(vw_stream_player *p, float time, const rd_scene **scene, char *message, size_t size);
/* "stream frame 3 of 10 (residual, 4.1 KB)  1.23 Mbit/s" */
void vw_stream_text(const vw_stream_player *p, char *text, size_t size);
void vw_stream_close(vw_stream_player *p);

#endif
