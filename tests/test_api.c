/* test_api.c: the public API's contracts: results and messages, log callback, backend
   choice and fallback, NULL handling, scene creation checks, cameras, the demo scene. */
#include "test_util.h"
#include "../renderer/kinds.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct log_capture {
    int count, info; /* messages; those at INFO or above */
    char last[1024];
} log_capture;

static void capture(rd_log_level level, const char *message, void *user)
{
    log_capture *c = user;
    c->count++;
    c->info += level >= RD_LOG_INFO;
    snprintf(c->last, sizeof c->last, "%s", message);
}

static uint64_t hash_scene(const rd_scene *s)
{
    rd_scene_desc a = rd_scene_arrays(s);
    uint64_t h = 1469598103934665603ull;
    const float *arrays[5] = {a.means, a.log_scales, a.rotations, a.opacities, a.sh};
    size_t sizes[5] = {3, 3, 4, 1, (size_t)((a.sh_degree + 1) * (a.sh_degree + 1) * 3)};
    for (int k = 0; k < 5; k++) {
        const unsigned char *p = (const unsigned char *)arrays[k];
        for (size_t i = 0; i < (size_t)a.count * sizes[k] * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    }
    return h;
}

int main(void)
{
    /* result strings */
    for (int r = 0; r < RD_RESULT_COUNT; r++) CHECK(rd_result_string((rd_result)r)[0] != '\0');
    CHECK(strcmp(rd_result_string((rd_result)999), "unknown result") == 0);
    CHECK(rd_backend_from_name("vulkan") == RD_BACKEND_VULKAN && rd_backend_from_name("gpu") == -1);

    /* destroy accepts NULL */
    rd_context_destroy(NULL);
    rd_scene_destroy(NULL);
    rd_dataset_destroy(NULL);
    rd_image_free(NULL);
    CHECK(rd_last_error(NULL)[0] == '\0');
    CHECK_FAILS(rd_context_create(NULL, NULL), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(NULL), "rd_context_create") != NULL); /* no context, still a message */

    /* auto falls back to the CPU and says so in the log */
    log_capture logs = {0};
    rd_context *ctx = NULL;
    rd_context_desc desc = {.log = capture, .log_user = &logs};
    CHECK_OK(rd_context_create(&desc, &ctx));
    CHECK(rd_context_backend(ctx) != RD_BACKEND_AUTO);
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) CHECK(logs.count > 0 && strstr(logs.last, "CPU") != NULL);
    CHECK(logs.info == 1); /* the choice in one line, whichever backend it is */
    if (logs.info != 1) printf("  auto backend logged %d lines at INFO\n", logs.info);

    /* a backend that is not built or has no device is an error with a message */
    rd_context *gpu = NULL;
    rd_result r = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA}, &gpu);
    CHECK(r == RD_OK || r == RD_ERROR_BACKEND_UNAVAILABLE);
    CHECK(r == RD_OK || gpu == NULL);
    /* without a log callback the reason is still readable, and says what is missing */
    if (r != RD_OK) CHECK(strstr(rd_last_error(NULL), "backend cuda") != NULL);
    if (r != RD_OK) printf("no CUDA here: %s\n", rd_last_error(NULL));
    rd_context_destroy(gpu);
    CHECK_FAILS(rd_context_create(&(rd_context_desc){.backend = (rd_backend)42}, &gpu), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(NULL), "unknown value 42") != NULL);

    /* errors keep a message naming the problem, and go to the log at DEBUG */
    rd_scene *scene = NULL;
    logs.count = 0;
    CHECK_FAILS(rd_scene_load(ctx, "/nonexistent/scene.ply", &scene), RD_ERROR_IO);
    CHECK(strstr(rd_last_error(ctx), "/nonexistent/scene.ply") != NULL);
    CHECK(logs.count == 1 && strstr(logs.last, "scene.ply") != NULL);
    CHECK(scene == NULL);

    /* scene creation checks its arguments */
    CHECK_FAILS(rd_scene_create(ctx, &(rd_scene_desc){.count = 3}, &scene), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "required") != NULL);
    float m[3] = {0, 0, 1}, ls[3] = {0}, q[4] = {1, 0, 0, 0}, o = 0, sh[3] = {0};
    rd_scene_desc one = {.count = 1, .means = m, .log_scales = ls, .rotations = q, .opacities = &o, .sh = sh};
    one.sh_degree = 4;
    CHECK_FAILS(rd_scene_create(ctx, &one, &scene), RD_ERROR_INVALID_ARGUMENT);
    one.sh_degree = 0;
    one.memory = RD_MEMORY_DEVICE;
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) CHECK_FAILS(rd_scene_create(ctx, &one, &scene), RD_ERROR_INVALID_ARGUMENT);
    one.memory = RD_MEMORY_HOST;
    CHECK_OK(rd_scene_create(ctx, &one, &scene));
    rd_scene_info info;
    rd_scene_get_info(scene, &info);
    CHECK(info.count == 1 && info.sh_degree == 0 && info.bounds_min[2] == 1.0f && info.bounds_max[2] == 1.0f);

    /* rendering checks the camera and the target */
    float color[4 * 4 * 4];
    rd_framebuffer fb = {.color = color};
    rd_camera cam = {.width = 4, .height = 4, .fx = 4, .fy = 4, .cx = 2, .cy = 2, .w2c = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}};
    CHECK_OK(rd_render(ctx, scene, &cam, NULL, &fb));
    rd_render_stats st;
    rd_render_last_stats(ctx, &st);
    CHECK(rd_render_stats_count(&st, "visible") == 1 && rd_render_stats_count(&st, "pairs") == 1 && st.total_ms > 0);
    CHECK(st.stage_count == 4 && rd_render_stats_count(&st, "no such count") == 0);
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) { /* how the pairs spread over the tiles: lists of 2 and 1 */
        float means[9] = {-0.375f, -0.125f, 1, -0.375f, -0.125f, 1, 0.125f, -0.125f, 1}, scales[9], rots[12] = {0}, ops[3] = {0},
              shs[9] = {0}, wide_color[32 * 16 * 4];
        for (int k = 0; k < 9; k++) scales[k] = -5.0f;
        for (int k = 0; k < 3; k++) rots[4 * k] = 1.0f;
        rd_scene *three = NULL;
        rd_camera wide = {.width = 32, .height = 16, .fx = 32, .fy = 32, .cx = 16, .cy = 8,
                          .w2c = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}};
        if (CHECK_OK(rd_scene_create(ctx, &(rd_scene_desc){.count = 3, .means = means, .log_scales = scales, .rotations = rots,
                                                           .opacities = ops, .sh = shs}, &three)) &&
            CHECK_OK(rd_render(ctx, three, &wide, NULL, &(rd_framebuffer){.color = wide_color}))) {
            rd_render_last_stats(ctx, &st);
            CHECK(rd_render_stats_count(&st, "pairs") == 3 && rd_render_stats_count(&st, "tile_pairs_max") == 2 &&
                  rd_render_stats_count(&st, "tile_pairs_p99") == 2 && rd_render_stats_count(&st, "tile_pairs_mean") == 1.5 &&
                  fabs(rd_render_stats_count(&st, "tile_pairs_top1pct") - 200.0 / 3.0) < 1e-9);
        }
        rd_scene_destroy(three);
    }
    /* asked for, the stage times add up to the frame (device timers: within their 0.5 us) */
    CHECK_OK(rd_render(ctx, scene, &cam, &(rd_render_desc){.flags = RD_RENDER_STAGE_TIMES}, &fb));
    rd_render_last_stats(ctx, &st);
    double stages = rd_render_stats_stage(&st, "preprocess") + rd_render_stats_stage(&st, "binning") +
                    rd_render_stats_stage(&st, "sort") + rd_render_stats_stage(&st, "blend");
    CHECK(st.total_ms > 0 && stages > 0 && fabs(stages - st.total_ms) <= 0.01 * st.total_ms + 3e-3);
    rd_camera bad = cam;
    bad.fx = 0;
    CHECK_FAILS(rd_render(ctx, scene, &bad, NULL, &fb), RD_ERROR_INVALID_ARGUMENT);
    bad = cam;
    bad.w2c[3] = NAN;
    CHECK_FAILS(rd_render(ctx, scene, &bad, NULL, &fb), RD_ERROR_INVALID_ARGUMENT);
    bad = cam;
    bad.width = 0;
    CHECK_FAILS(rd_render(ctx, scene, &bad, NULL, &fb), RD_ERROR_INVALID_ARGUMENT);
    /* a w2c that is not a rigid transform is refused, with the problem named: rotation
       rows, then the last row */
    struct { float rows[3][3], last[4]; const char *says; } broken[] = {
        {{{0}}, {0, 0, 0, 0}, "last row"},                                  /* all zero */
        {{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}}, {0, 0, 0.5f, 1}, "last row"},  /* projective */
        {{{0}}, {0, 0, 0, 1}, "length 0"},                                  /* no rotation */
        {{{2, 0, 0}, {0, 2, 0}, {0, 0, 2}}, {0, 0, 0, 1}, "length 2"},     /* a scale */
        {{{1, 0, 0}, {0.6f, 0.8f, 0}, {0, 0, 1}}, {0, 0, 0, 1}, "not perpendicular"}, /* a shear */
        {{{1, 0, 0}, {0, 1, 0}, {0, 0, -1}}, {0, 0, 0, 1}, "reflection"},  /* a mirror */
    };
    for (size_t k = 0; k < sizeof broken / sizeof broken[0]; k++) {
        bad = cam;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 3; c++) bad.w2c[4 * r + c] = broken[k].rows[r][c];
        for (int c = 0; c < 4; c++) bad.w2c[12 + c] = broken[k].last[c];
        rd_result got = rd_render(ctx, scene, &bad, NULL, &fb);
        bool named = strstr(rd_last_error(ctx), "camera:") && strstr(rd_last_error(ctx), broken[k].says);
        if (!CHECK(got == RD_ERROR_INVALID_ARGUMENT && named)) printf("  case %zu: %s\n", k, rd_last_error(ctx));
    }
    /* rounded by hand, within the stated tolerance: rendered */
    bad = cam;
    float rounded[3][3] = {{0, 1, 0}, {0.45f, 0, -0.89f}, {-0.89f, 0, -0.45f}};
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) bad.w2c[4 * r + c] = rounded[r][c];
    CHECK_OK(rd_render(ctx, scene, &bad, NULL, &fb));
    CHECK_FAILS(rd_render(ctx, scene, &cam, &(rd_render_desc){.sh_degree = 9}, &fb), RD_ERROR_INVALID_ARGUMENT);
    rd_framebuffer device_fb = {.color = color, .memory = RD_MEMORY_DEVICE};
    if (rd_context_backend(ctx) == RD_BACKEND_CPU)
        CHECK_FAILS(rd_render(ctx, scene, &cam, NULL, &device_fb), RD_ERROR_INVALID_ARGUMENT);
    rd_scene_destroy(scene);

    /* cameras: look_at puts the target on the optical axis in front */
    float eye[3] = {3, -2, 1}, target[3] = {0, 0, 0.5f}, up[3] = {0, 0, 1}, centre[3];
    rd_camera la = rd_camera_look_at(eye, target, up, 640, 480, 60);
    rd_camera_center(&la, centre);
    for (int a = 0; a < 3; a++) CHECK(fabsf(centre[a] - eye[a]) < 1e-5f);
    float tz = la.w2c[8] * target[0] + la.w2c[9] * target[1] + la.w2c[10] * target[2] + la.w2c[11];
    float tx = la.w2c[0] * target[0] + la.w2c[1] * target[1] + la.w2c[2] * target[2] + la.w2c[3];
    CHECK(tz > 0 && fabsf(tx) < 1e-5f);
    /* world up appears as image up (negative y) */
    float uy = la.w2c[4] * up[0] + la.w2c[5] * up[1] + la.w2c[6] * up[2];
    CHECK(uy < 0);
    CHECK(fabsf(la.fx - 320.0f / tanf(30.0f * 3.14159265f / 180.0f)) < 1e-2f);
    rd_camera half = rd_camera_resized(&la, 320, 240);
    CHECK(half.fx == la.fx / 2 && half.cx == 160 && half.cy == 120);

    /* the demo scene is deterministic and depends on its seed */
    rd_scene *d1, *d2, *d3;
    CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 5000}, &d1));
    CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 5000}, &d2));
    CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 5000, .seed = 7}, &d3));
    CHECK(hash_scene(d1) == hash_scene(d2) && hash_scene(d1) != hash_scene(d3));
    rd_scene_destroy(d3);
    rd_scene_get_info(d1, &info);
    CHECK(info.count == 5000 && info.sh_degree == 3 && strcmp(info.format, "procedural") == 0);
    CHECK_FAILS(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 3}, &d3 ), RD_ERROR_INVALID_ARGUMENT);
    /* the orbit cameras see the demo: most of the frame is covered */
    rd_camera orbit[2];
    CHECK_OK(rd_scene_orbit_cameras(d1, 2, 64, 36, orbit));
    float *img = malloc(64 * 36 * 4 * sizeof(float));
    rd_framebuffer ofb = {.color = img};
    CHECK_OK(rd_render(ctx, d1, &orbit[0], NULL, &ofb));
    int covered = 0;
    for (int p = 0; p < 64 * 36; p++) covered += img[4 * p + 3] > 0.5f;
    CHECK(covered > 64 * 36 / 3);
    free(img);
    rd_scene_destroy(d1);
    rd_scene_destroy(d2);

    /* an empty scene needs no arrays and renders the background */
    rd_scene *empty = NULL;
    CHECK_OK(rd_scene_create(ctx, &(rd_scene_desc){.flags = RD_SCENE_ANTIALIASED}, &empty));
    rd_scene_get_info(empty, &info);
    CHECK(info.count == 0 && info.flags == RD_SCENE_ANTIALIASED);
    float bg[4 * 6];
    rd_framebuffer efb = {.color = bg};
    rd_camera ecam = rd_camera_look_at((float[3]){0, 0, -1}, (float[3]){0}, (float[3]){0, -1, 0}, 3, 2, 60);
    CHECK_OK(rd_render(ctx, empty, &ecam, &(rd_render_desc){.background = {0.25f, 0.5f, 1}}, &efb));
    CHECK(bg[0] == 0.25f && bg[1] == 0.5f && bg[2] == 1.0f && bg[3] == 0.0f && bg[20] == 0.25f);
    rd_scene_destroy(empty);

    /* the orbit's up: told from the scene (flat along z: +z, else -y), or given */
    {
        enum { N = 2000 };
        float *means = calloc(3 * N, sizeof(float)), *scales = calloc(3 * N, sizeof(float)), *rots = calloc(4 * N, sizeof(float));
        float *opac = calloc(N, sizeof(float)), *sh = calloc(3 * N, sizeof(float));
        test_rng rr = {7};
        for (int flat = 0; flat < 2; flat++) {
            for (int i = 0; i < N; i++) {
                means[3 * i + 0] = (float)rng_range(&rr, -1, 1);
                means[3 * i + 1] = (float)rng_range(&rr, -1, 1) * (flat ? 1.0f : 2.0f);
                means[3 * i + 2] = (float)rng_range(&rr, -1, 1) * (flat ? 0.1f : 1.0f);
                rots[4 * i] = 1.0f;
            }
            rd_scene *sc = NULL;
            float up[3];
            CHECK_OK(rd_scene_create(ctx, &(rd_scene_desc){.count = N, .means = means, .log_scales = scales, .rotations = rots,
                                                           .opacities = opac, .sh = sh}, &sc));
            rd_scene_up(sc, up);
            CHECK(flat ? up[2] == 1.0f && up[1] == 0.0f : up[1] == -1.0f && up[2] == 0.0f);
            /* the orbit's cameras see up as up: their image's up (-y) points along it */
            rd_camera ring[4];
            CHECK_OK(rd_scene_orbit(sc, &(rd_orbit_desc){.count = 4, .width = 64, .height = 48, .up = {1, 0, 0}}, ring));
            for (int k = 0; k < 4; k++) CHECK(-ring[k].w2c[4] > 0.8f); /* row 1 is the camera's y (down) in the world */
            rd_scene_destroy(sc);
        }
        free(means), free(scales), free(rots), free(opac), free(sh);
    }

    /* a scene of a kind no module fills (a module that is not built, a corrupt handle):
       the Gaussian functions refuse it or report nothing, rather than read it as Gaussians */
    struct { rd_scene_head head; char rest[256]; } alien = {{.kind = (rd_scene_kind)77}, {0}};
    const rd_scene *other = (const rd_scene *)&alien;
    CHECK(rd_scene_get_kind(other) == (rd_scene_kind)77);
    CHECK_FAILS(rd_render(ctx, other, &ecam, NULL, &efb), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "unknown kind") != NULL);
    CHECK_FAILS(rd_scene_save(ctx, other, "/tmp/radiant-never-written.spz", NULL), RD_ERROR_UNSUPPORTED);
    CHECK_FAILS(rd_scene_save_ply(ctx, other, "/tmp/radiant-never-written.ply"), RD_ERROR_UNSUPPORTED);
    CHECK(strstr(rd_last_error(ctx), "kind 77") != NULL);
    rd_scene_get_info(other, &info);
    CHECK(info.count == 0 && rd_scene_arrays(other).means == NULL);
    CHECK(rd_scene_orbit_cameras(other, 1, 8, 8, orbit) == RD_ERROR_INVALID_ARGUMENT);

    /* device memory: reported on CUDA, refused with a reason elsewhere */
    uint64_t used = 0, total = 0;
    rd_result memory = rd_device_memory(ctx, &used, &total);
    if (rd_context_backend(ctx) == RD_BACKEND_CUDA) CHECK(memory == RD_OK && used > 0 && used <= total);
    else CHECK(memory == RD_ERROR_UNSUPPORTED && strstr(rd_last_error(ctx), "does not report") != NULL);
    CHECK_FAILS(rd_device_memory(ctx, NULL, &total), RD_ERROR_INVALID_ARGUMENT);

    rd_context_destroy(ctx);
    return test_finish("api");
}
