/* test_viewer_parts.c: radiant-view's window-free parts. The controls: an untouched view
   is the starting camera exactly; orbit keeps the pivot and its distance and a full turn
   comes back; pan keeps the orientation; zoom scales the distance; fly moves along the
   camera's axes; reset undoes everything; the window fit keeps the field of view. The
   font and overlay: every printable character has a glyph, text lands where it should. The
   timeline: it plays the range in its seconds, loops or stops at the end, steps and scrubs
   within the range, keeps its speed within bounds and draws its position. The overlay's
   scene line: a Gaussian scene's count and visible count, a NeRF's grid and size (it said
   "0 Gaussians" for a NeRF before). */
#include "content.h"
#include "controls.h"
#include "font.h"
#include "overlay.h"
#include "timeline.h"
#include "test_util.h"

#include <math.h>
#include <string.h>

static float dist3(const float a[3], const float b[3])
{
    return sqrtf((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) + (a[2] - b[2]) * (a[2] - b[2]));
}

static bool near_camera(const rd_camera *a, const rd_camera *b, float tol)
{
    for (int k = 0; k < 16; k++)
        if (fabsf(a->w2c[k] - b->w2c[k]) > tol) return false;
    return true;
}

static void controls_case(test_rng *r)
{
    float eye[3] = {(float)rng_range(r, -5, 5), (float)rng_range(r, -5, 5), (float)rng_range(r, -8, -3)};
    float target[3] = {(float)rng_range(r, -1, 1), (float)rng_range(r, -1, 1), (float)rng_range(r, -1, 1)};
    float up[3] = {0, -1, 0};
    rd_camera start = rd_camera_look_at(eye, target, up, 640, 360, 60.0f);
    vw_controls c;
    vw_controls_init(&c, &start, dist3(eye, target), 2.0f);
    rd_camera same = vw_controls_camera(&c, 640, 360);
    CHECK(memcmp(&same, &start, sizeof same) == 0);
    float pivot[3], moved[3];
    vw_controls_pivot(&c, pivot);
    CHECK(dist3(pivot, target) < 1e-4f * (1 + dist3(eye, target)));

    /* orbit: pivot fixed, distance kept; a full turn about up comes back */
    vw_controls_orbit(&c, 0.7f, 0.3f);
    vw_controls_pivot(&c, moved);
    CHECK(dist3(pivot, moved) < 1e-4f);
    CHECK(fabsf(dist3(c.eye, pivot) - c.distance) < 1e-3f);
    CHECK(c.moved);
    vw_controls_reset(&c);
    for (int i = 0; i < 8; i++) vw_controls_orbit(&c, 6.2831853f / 8, 0.0f);
    rd_camera around = vw_controls_camera(&c, 640, 360);
    CHECK(near_camera(&around, &start, 1e-3f));
    /* pitch stops short of the up axis */
    vw_controls_orbit(&c, 0.0f, 10.0f);
    float forward[3] = {c.rotation[2], c.rotation[5], c.rotation[8]};
    float along_up = fabsf(forward[0] * c.up[0] + forward[1] * c.up[1] + forward[2] * c.up[2]);
    CHECK(along_up < 0.9999f && along_up > 0.99f);

    /* pan keeps the rotation and moves eye and pivot together */
    vw_controls_reset(&c);
    float rotation[9];
    memcpy(rotation, c.rotation, sizeof rotation);
    vw_controls_pan(&c, 0.25f, -0.1f);
    CHECK(memcmp(rotation, c.rotation, sizeof rotation) == 0);
    vw_controls_pivot(&c, moved);
    CHECK(fabsf(dist3(moved, pivot) - c.distance * sqrtf(0.25f * 0.25f + 0.01f)) < 1e-3f);

    /* zoom: 8 steps in divide the distance by e, towards the same pivot */
    vw_controls_reset(&c);
    float d0 = c.distance;
    vw_controls_zoom(&c, 8.0f);
    CHECK(fabsf(c.distance - d0 / 2.7182818f) < 1e-3f * d0);
    vw_controls_pivot(&c, moved);
    CHECK(dist3(moved, pivot) < 1e-3f);

    /* fly forward for a second at the speed from the scene radius (2: 1 unit/s), 4x boosted */
    vw_controls_reset(&c);
    vw_controls_fly(&c, (float[3]){0, 0, 1}, 1.0f, 4.0f);
    float fwd[3] = {c.rotation[2], c.rotation[5], c.rotation[8]};
    float expect[3] = {eye[0] + 4 * fwd[0], eye[1] + 4 * fwd[1], eye[2] + 4 * fwd[2]};
    CHECK(dist3(c.eye, expect) < 1e-3f);
    vw_controls_reset(&c);
    same = vw_controls_camera(&c, 640, 360);
    CHECK(memcmp(&same, &start, sizeof same) == 0);

    /* another aspect: the vertical field of view is kept, the principal point scaled */
    rd_camera wide = vw_controls_camera(&c, 1000, 360);
    CHECK(wide.width == 1000 && wide.height == 360 && fabsf(wide.fy - start.fy) < 1e-4f && fabsf(wide.cx - 500.0f) < 1e-3f);
    rd_camera half = vw_controls_camera(&c, 320, 180);
    CHECK(fabsf(half.fx - start.fx / 2) < 1e-4f && fabsf(half.cy - 90.0f) < 1e-4f);
}

static void font_case(void)
{
    int blank = 0;
    for (char ch = ' '; ch <= '~'; ch++) {
        int lit = 0;
        for (int y = 0; y < VW_GLYPH_H; y++)
            for (int x = 0; x < VW_GLYPH_W; x++) lit += vw_font_pixel(ch, x, y);
        blank += lit == 0;
    }
    CHECK(blank == 1); /* the space only */
    CHECK(vw_font_pixel('|', 2, 0) && !vw_font_pixel('|', 0, 0));
    CHECK(!vw_font_pixel('A', 5, 0) && !vw_font_pixel('A', -1, 0)); /* outside the glyph */
    /* a character outside ASCII draws as '?' */
    for (int y = 0; y < VW_GLYPH_H; y++)
        for (int x = 0; x < VW_GLYPH_W; x++) CHECK(vw_font_pixel('\x01', x, y) == vw_font_pixel('?', x, y));

    vw_overlay o = {0};
    const char *lines[] = {"ab", "|"};
    CHECK(vw_overlay_draw(&o, lines, 2));
    CHECK(o.width == 2 * VW_CELL_W + 2 * VW_OVERLAY_PAD && o.height == 2 * VW_CELL_H + 2 * VW_OVERLAY_PAD - 2);
    int text = 0, box = 0;
    for (int p = 0; p < o.width * o.height; p++) text += o.mask[p] == 2, box += o.mask[p] == 1;
    int expect = 0;
    for (int y = 0; y < VW_GLYPH_H; y++)
        for (int x = 0; x < VW_GLYPH_W; x++) expect += vw_font_pixel('a', x, y) + vw_font_pixel('b', x, y) + vw_font_pixel('|', x, y);
    CHECK(text == expect && box == o.width * o.height - expect);
    /* the bar of '|' on the second line, column 2 of the first cell */
    CHECK(o.mask[(VW_OVERLAY_PAD + VW_CELL_H) * o.width + VW_OVERLAY_PAD + 2] == 2);
    CHECK(vw_overlay_draw(&o, lines, 0) && o.width == 0 && o.height == 0);
    vw_overlay_free(&o);
}

static void timeline_case(void)
{
    vw_timeline t = vw_timeline_make(2.0f, 4.0f);
    CHECK(t.time == 2.0f && !t.playing && t.loop && t.speed == 1.0f);
    vw_timeline_advance(&t, 1.0);
    CHECK(t.time == 2.0f); /* paused: no motion */
    t.playing = true;
    vw_timeline_advance(&t, VW_TIMELINE_SECONDS / 4);
    CHECK(fabsf(t.time - 2.5f) < 1e-5f);
    vw_timeline_advance(&t, VW_TIMELINE_SECONDS); /* a whole range later: wrapped to the same place */
    CHECK(fabsf(t.time - 2.5f) < 1e-4f && t.playing);
    t.loop = false;
    vw_timeline_advance(&t, VW_TIMELINE_SECONDS);
    CHECK(t.time == 4.0f && !t.playing); /* stopped at the end */
    vw_timeline_step(&t, 3);
    CHECK(t.time == 4.0f); /* clamped */
    vw_timeline_step(&t, -10);
    CHECK(fabsf(t.time - 3.8f) < 1e-5f);
    vw_timeline_scrub(&t, 0.25f);
    CHECK(fabsf(t.time - 2.5f) < 1e-6f && fabsf(vw_timeline_fraction(&t) - 0.25f) < 1e-6f);
    vw_timeline_scrub(&t, -3.0f);
    CHECK(t.time == 2.0f);
    vw_timeline_seek(&t, 9.0f);
    CHECK(t.time == 4.0f);
    for (int k = 0; k < 10; k++) vw_timeline_speed(&t, true);
    CHECK(t.speed == 64.0f);
    for (int k = 0; k < 20; k++) vw_timeline_speed(&t, false);
    CHECK(fabsf(t.speed - 1.0f / 64) < 1e-9f);
    char text[256];
    vw_timeline_scrub(&t, 0.5f);
    vw_timeline_text(&t, 11, text, sizeof text);
    CHECK(strstr(text, "time 3.000 of 2 .. 4") && strstr(text, "paused") && strstr(text, "[=====|-----]"));
    vw_timeline keyed = vw_timeline_make(0.0f, 1.0f);
    CHECK(vw_timeline_key(&keyed, ' ') && keyed.playing);
    CHECK(vw_timeline_key(&keyed, '.') && !keyed.playing && fabsf(keyed.time - 0.01f) < 1e-7f);
    CHECK(vw_timeline_key(&keyed, ']') && keyed.speed == 2.0f && vw_timeline_key(&keyed, 'l') && !keyed.loop);
    CHECK(!vw_timeline_key(&keyed, 'q'));
    vw_timeline empty = vw_timeline_make(1.0f, 1.0f);
    empty.playing = true;
    vw_timeline_advance(&empty, 3.0);
    CHECK(empty.time == 1.0f && vw_timeline_fraction(&empty) == 0.0f);
}

static void summary_case(void)
{
    rd_context *ctx = NULL;
    if (!CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx))) return;
    vw_content c = {0};
    char line[160];
    rd_scene *field = NULL;
    if (CHECK_OK(rd_nerf_create(ctx, &(rd_nerf_desc){.levels = 4, .log2_table_size = 10, .width = 16}, &field))) {
        vw_content_replace_scene(&c, field, "field.rnerf");
        vw_content_summary(&c, 0, line, sizeof line);
        printf("viewer_parts: the overlay's NeRF line: %s\n", line);
        CHECK(strstr(line, "field.rnerf: NeRF, 4 levels x 2^10, ") == line && strstr(line, "M parameters, ") &&
              strstr(line, "occupied cells") && !strstr(line, "Gaussians"));
    }
    float means[6] = {0, 0, 0, 1, 0, 0}, scales[6] = {-2, -2, -2, -2, -2, -2}, rotations[8] = {1, 0, 0, 0, 1, 0, 0, 0};
    float opacities[2] = {1, 1}, sh[6] = {0};
    rd_scene *splats = NULL;
    if (CHECK_OK(rd_scene_create(ctx, &(rd_scene_desc){.count = 2, .means = means, .log_scales = scales, .rotations = rotations,
                                                        .opacities = opacities, .sh = sh}, &splats))) {
        vw_content_replace_scene(&c, splats, "two.ply");
        vw_content_summary(&c, 1, line, sizeof line);
        CHECK(strcmp(line, "two.ply: 2 Gaussians, 1 visible") == 0);
    }
    vw_content_free(&c);
    rd_context_destroy(ctx);
}

int main(void)
{
    test_rng r = {test_seed("viewer_parts")};
    for (int i = 0; i < 20; i++) controls_case(&r);
    font_case();
    timeline_case();
    summary_case();
    return test_finish("viewer_parts");
}
