/* timeline.h: a 4D scene's time as the viewer plays it: play and pause, steps of a
   hundredth of the range, scrubbing to a fraction of it, speed halved or doubled, and
   looping or stopping at the end. Pure arithmetic, no window system, so the tests can
   drive it. */
#ifndef VW_TIMELINE_H
#define VW_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>

enum { VW_TIMELINE_STEPS = 100 };

typedef struct vw_timeline {
    float start, end;  /* the range played (end >= start) */
    float time;
    float speed;       /* playback rate: 1 plays the range in VW_TIMELINE_SECONDS of wall time */
    bool playing, loop;
} vw_timeline;
#define VW_TIMELINE_SECONDS 5.0

/* Paused at start, speed 1, looping. */
vw_timeline vw_timeline_make(float start, float end);
/* Moves a playing timeline on by `seconds` of wall time: past the end it wraps to the
   start (loop) or stops there (paused). */
void vw_timeline_advance(vw_timeline *t, double seconds);
/* Steps by `steps` hundredths of the range (negative: back), clamped to it; pauses. */
void vw_timeline_step(vw_timeline *t, int steps);
/* Jumps to the fraction (clamped to 0..1) of the range. */
void vw_timeline_scrub(vw_timeline *t, float fraction);
/* Sets the time (clamped to the range): a dataset view's own. */
void vw_timeline_seek(vw_timeline *t, float time);
/* Speed doubled (faster) or halved, within 1/64..64. */
void vw_timeline_speed(vw_timeline *t, bool faster);
/* A key's action: ' ' play/pause, ',' and '.' a step back or on, '[' and ']' slower or
   faster, 'l' loop on/off; false for other keys. */
bool vw_timeline_key(vw_timeline *t, char key);
/* Where the time sits in the range, 0..1 (0 for an empty range). */
float vw_timeline_fraction(const vw_timeline *t);
/* "time 0.420 of 0 .. 1  playing x1 loop", and a bar of `width` characters with the
   position marked, into text. */
void vw_timeline_text(const vw_timeline *t, int width, char *text, size_t size);

#endif
