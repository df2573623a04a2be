/* font.h: the viewer's bitmap font: printable ASCII in 5x7 pixels, drawn here as text
   ('#' lit) so that a glyph can be read and fixed in place. */
#ifndef VW_FONT_H
#define VW_FONT_H

#include <stdbool.h>

enum { VW_GLYPH_W = 5, VW_GLYPH_H = 7, VW_CELL_W = 6, VW_CELL_H = 9 };

/* Whether pixel (x, y) of character ch is lit; characters outside ' '..'~' draw as '?'. */
bool vw_font_pixel(char ch, int x, int y);

#endif
