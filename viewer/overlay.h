/* overlay.h: lines of text rasterised into a small mask that the present shader lays over
   the top-left corner of the frame: 0 outside, 1 the dark box behind the text, 2 a lit
   pixel of a glyph. */
#ifndef VW_OVERLAY_H
#define VW_OVERLAY_H

#include <stdbool.h>
#include <stdint.h>

enum { VW_OVERLAY_PAD = 4 };

typedef struct vw_overlay {
    int width, height; /* mask pixels, before the shader's scale */
    uint32_t *mask;    /* width*height */
    int capacity;      /* mask entries allocated */
} vw_overlay;

/* Draws count lines (NULL-terminated strings); false when memory runs out. An empty
   overlay (count 0) has width and height 0. */
bool vw_overlay_draw(vw_overlay *o, const char *const *lines, int count);
void vw_overlay_free(vw_overlay *o);

#endif
