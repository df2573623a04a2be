/* nerf_boxes.c: the NeRF tests' scene (nerf_boxes.h): three coloured boxes, drawn by an
   analytic renderer, photographed from orbits. */
#include "nerf_boxes.h"

#include <math.h>

typedef struct box {
    float lo[3], hi[3], rgb[3];
} box;
static const box BOXES[3] = {
    {{-0.55f, -0.5f, -0.35f}, {-0.05f, 0.15f, 0.3f}, {0.9f, 0.2f, 0.15f}},
    {{0.1f, -0.25f, -0.45f}, {0.6f, 0.45f, 0.05f}, {0.15f, 0.8f, 0.25f}},
    {{-0.2f, 0.25f, 0.15f}, {0.35f, 0.65f, 0.6f}, {0.2f, 0.3f, 0.95f}},
};

/* The nearest box face the ray meets: its colour, darker on faces turned from the light;
   alpha 0 where it meets none. */
static void trace(const float o[3], const float d[3], float out[4])
{
    float best = INFINITY;
    out[0] = out[1] = out[2] = out[3] = 0.0f;
    for (int b = 0; b < 3; b++) {
        float t0 = -INFINITY, t1 = INFINITY;
        int axis = 0;
        for (int a = 0; a < 3; a++) {
            float inv = 1.0f / d[a], ta = (BOXES[b].lo[a] - o[a]) * inv, tb = (BOXES[b].hi[a] - o[a]) * inv;
            if (ta > tb) { float s = ta; ta = tb; tb = s; }
            if (ta > t0) t0 = ta, axis = a;
            if (tb < t1) t1 = tb;
        }
        if (t0 <= t1 && t0 > 0.0f && t0 < best) {
            best = t0;
            static const float shade[3] = {0.75f, 1.0f, 0.55f};
            for (int c = 0; c < 3; c++) out[c] = BOXES[b].rgb[c] * shade[axis];
            out[3] = 1.0f;
        }
    }
}

rd_camera nerf_boxes_camera(int k, int n, float elevation, int size)
{
    float angle = 6.2831853f * (float)k / (float)n + 0.3f;
    float eye[3] = {3.0f * cosf(angle) * cosf(elevation), 3.0f * sinf(elevation), 3.0f * sinf(angle) * cosf(elevation)};
    return rd_camera_look_at(eye, (float[3]){0, 0, 0}, (float[3]){0, 1, 0}, size, size, 45.0f);
}

void nerf_boxes_photo(const rd_camera *c, rd_image *out)
{
    rd_image_alloc(c->width, c->height, 4, out);
    float centre[3];
    rd_camera_center(c, centre);
    for (int y = 0; y < c->height; y++)
        for (int x = 0; x < c->width; x++) {
            float cam[3] = {((float)x + 0.5f - c->cx) / c->fx, ((float)y + 0.5f - c->cy) / c->fy, 1.0f}, d[3];
            for (int a = 0; a < 3; a++) d[a] = c->w2c[a] * cam[0] + c->w2c[4 + a] * cam[1] + c->w2c[8 + a] * cam[2];
            trace(centre, d, out->pixels + 4 * ((size_t)y * c->width + x));
        }
}

/* Mean PSNR of the scene's renders of the views against their photos, on white. */
double nerf_boxes_psnr(rd_context *ctx, const rd_scene *scene, const rd_train_view *views, int n)
{
    double sum = 0.0;
    const float white[3] = {1, 1, 1};
    for (int k = 0; k < n; k++) {
        rd_image render, truth;
        rd_image_alloc(views[k].camera.width, views[k].camera.height, 4, &render);
        CHECK_OK(rd_render(ctx, scene, &views[k].camera, &(rd_render_desc){.background = {1, 1, 1}},
                           &(rd_framebuffer){.color = render.pixels}));
        CHECK_OK(rd_image_composite(views[k].image, white, &truth));
        rd_metrics m = {0};
        CHECK_OK(rd_image_compare(ctx, &render, &truth, &m));
        sum += m.psnr;
        rd_image_free(&render), rd_image_free(&truth);
    }
    return sum / n;
}

/* a small field: 8 levels of 2^14 entries, networks of width 32 */
static const rd_nerf_desc SMALL = {.levels = 8, .log2_table_size = 14, .base_resolution = 8, .finest_resolution = 256,
                                   .width = 32, .box_min = {-1, -1, -1}, .box_max = {1, 1, 1}};

rd_nerf_trainer_desc nerf_boxes_desc(const rd_train_view *views, int n, uint64_t seed)
{
    return (rd_nerf_trainer_desc){.views = views, .view_count = n, .field = SMALL, .background = {1, 1, 1},
                                  .random_background = true, .batch_samples = 1 << 12, .occupancy_warmup = 2,
                                  .occupancy_every = 64, .seed = seed};
}

void nerf_boxes_views(rd_train_view *views, rd_image *images, int train, int held, int size)
{
    for (int k = 0; k < train + held; k++) {
        /* train: three rings; held out: between the rings, at azimuths between the train views' */
        views[k].camera = k < train ? nerf_boxes_camera(k, train, k % 3 == 0 ? -0.3f : k % 3 == 1 ? 0.35f : 0.8f, size)
                                    : nerf_boxes_camera(2 * (k - train) + 1, 2 * held, 0.5f, size);
        nerf_boxes_photo(&views[k].camera, &images[k]);
        views[k].image = &images[k];
    }
}
