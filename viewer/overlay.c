/* overlay.c: text into the overlay mask, one font cell per character. */
#include "overlay.h"
#include "font.h"

#include <stdlib.h>
#include <string.h>

bool vw_overlay_draw(vw_overlay *o, const char *const *lines, int count)
{
    int columns = 0;
    for (int i = 0; i < count; i++) {
        int n = (int)strlen(lines[i]);
        if (n > columns) columns = n;
    }
    if (count == 0 || columns == 0) {
        o->width = o->height = 0;
        return true;
    }
    int w = columns * VW_CELL_W + 2 * VW_OVERLAY_PAD, h = count * VW_CELL_H + 2 * VW_OVERLAY_PAD - 2;
    if (w * h > o->capacity) {
        uint32_t *grown = realloc(o->mask, (size_t)w * h * sizeof *grown);
        if (!grown) return false;
        o->mask = grown;
        o->capacity = w * h;
    }
    o->width = w, o->height = h;
    for (int p = 0; p < w * h; p++) o->mask[p] = 1;
    for (int i = 0; i < count; i++)
        for (int k = 0; lines[i][k]; k++)
            for (int y = 0; y < VW_GLYPH_H; y++)
                for (int x = 0; x < VW_GLYPH_W; x++)
                    if (vw_font_pixel(lines[i][k], x, y)) {
                        int px = VW_OVERLAY_PAD + k * VW_CELL_W + x, py = VW_OVERLAY_PAD + i * VW_CELL_H + y;
                        o->mask[py * w + px] = 2;
                    }
    return true;
}

void vw_overlay_free(vw_overlay *o)
{
    free(o->mask);
    memset(o, 0, sizeof *o);
}
