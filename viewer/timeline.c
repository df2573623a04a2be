/* timeline.c: a 4D scene's time as the viewer plays it (timeline.h). */
#include "timeline.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static float clamp(float x, float lo, float hi) { return x < lo ? lo : x > hi ? hi : x; }

vw_timeline vw_timeline_make(float start, float end)
{
    if (!(end >= start)) end = start;
    return (vw_timeline){.start = start, .end = end, .time = start, .speed = 1.0f, .playing = false, .loop = true};
}

void vw_timeline_advance(vw_timeline *t, double seconds)
{
    float range = t->end - t->start;
    if (!t->playing || !(range > 0.0f) || !(seconds > 0.0)) return;
    double next = t->time + (double)range * t->speed * seconds / VW_TIMELINE_SECONDS;
    if (next <= t->end) {
        t->time = (float)next;
    } else if (t->loop) {
        t->time = t->start + (float)fmod(next - t->start, (double)range);
    } else {
        t->time = t->end;
        t->playing = false;
    }
}

void vw_timeline_step(vw_timeline *t, int steps)
{
    t->playing = false;
    t->time = clamp(t->time + (t->end - t->start) * (float)steps / VW_TIMELINE_STEPS, t->start, t->end);
}

void vw_timeline_scrub(vw_timeline *t, float fraction)
{
    t->time = t->start + (t->end - t->start) * clamp(fraction, 0.0f, 1.0f);
}

void vw_timeline_seek(vw_timeline *t, float time) { t->time = clamp(time, t->start, t->end); }

void vw_timeline_speed(vw_timeline *t, bool faster) { t->speed = clamp(faster ? t->speed * 2.0f : t->speed * 0.5f, 1.0f / 64, 64.0f); }

bool vw_timeline_key(vw_timeline *t, char key)
{
    switch (key) {
    case ' ': t->playing = !t->playing; return true;
    case ',': case '.': vw_timeline_step(t, key == '.' ? 1 : -1); return true;
    case '[': case ']': vw_timeline_speed(t, key == ']'); return true;
    case 'l': t->loop = !t->loop; return true;
    default: return false;
    }
}

float vw_timeline_fraction(const vw_timeline *t)
{
    float range = t->end - t->start;
    return range > 0.0f ? clamp((t->time - t->start) / range, 0.0f, 1.0f) : 0.0f;
}

void vw_timeline_text(const vw_timeline *t, int width, char *text, size_t size)
{
    char bar[128];
    if (width > (int)sizeof bar - 3) width = (int)sizeof bar - 3;
    if (width < 2) width = 2;
    int at = (int)lroundf(vw_timeline_fraction(t) * (float)(width - 1));
    bar[0] = '[';
    for (int k = 0; k < width; k++) bar[1 + k] = k == at ? '|' : k < at ? '=' : '-';
    bar[1 + width] = ']', bar[2 + width] = '\0';
    snprintf(text, size, "time %.3f of %g .. %g  %s x%g%s  %s", t->time, t->start, t->end, t->playing ? "playing" : "paused", t->speed,
             t->loop ? " loop" : "", bar);
}
