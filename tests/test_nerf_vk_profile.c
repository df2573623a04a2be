/* test_nerf_vk_profile: RADIANT_NERF_VK_PROFILE=1's kernel (nerf/shaders/nerf_render_profile.comp,
   the frame's kernel with its phases timed by the subgroup clock) renders what the plain
   one renders, bit for bit, and reports each phase's ticks among the frame's counts. An
   untrained small field (every cell occupied: every ray takes samples) at 24x20. Skipped
   where there is no Vulkan device, or one without VK_KHR_shader_clock (no counts). */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { W = 24, H = 20 };

/* A frame on a fresh Vulkan context (the profiling choice is made with the context's
   NeRF state); its colour and its phase counts. */
static rd_result render(const char *path, bool profile, float *color, double phases[3])
{
    if (profile) setenv("RADIANT_NERF_VK_PROFILE", "1", 1);
    else unsetenv("RADIANT_NERF_VK_PROFILE");
    rd_context *ctx = NULL;
    rd_scene *scene = NULL;
    rd_result r = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_VULKAN, .log = test_log}, &ctx);
    if (r != RD_OK) return r;
    r = rd_scene_load(ctx, path, &scene);
    rd_camera cam = {.width = W, .height = H, .fx = 30, .fy = 30, .cx = W / 2.0f, .cy = H / 2.0f,
                     .w2c = {1, 0, 0, 0, 0, -1, 0, 0, 0, 0, -1, 4, 0, 0, 0, 1}};
    rd_framebuffer fb = {.color = color};
    if (r == RD_OK) r = rd_render(ctx, scene, &cam, &(rd_render_desc){.background = {1, 1, 1}}, &fb);
    if (r == RD_OK) {
        rd_render_stats st;
        rd_render_last_stats(ctx, &st);
        phases[0] = rd_render_stats_count(&st, "march ticks/4096");
        phases[1] = rd_render_stats_count(&st, "field ticks/4096");
        phases[2] = rd_render_stats_count(&st, "compositing ticks/4096");
        CHECK(rd_render_stats_count(&st, "samples") > 0);
    }
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return r;
}

int main(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/radiant-test-nerf-vk-profile-%d.rnerf", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    rd_context *cpu = NULL;
    rd_scene *nerf = NULL;
    rd_nerf_desc desc = {.levels = 4, .log2_table_size = 12, .base_resolution = 4, .finest_resolution = 64, .width = 32,
                         .box_min = {-1.3f, -1.3f, -1.3f}, .box_max = {1.3f, 1.3f, 1.3f}, .seed = 3};
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &cpu));
    CHECK_OK(rd_nerf_create(cpu, &desc, &nerf));
    CHECK_OK(rd_nerf_save(cpu, nerf, path));
    static float plain[W * H * 4], timed[W * H * 4];
    double none[3] = {0}, phases[3] = {0};
    rd_result r = render(path, false, plain, none);
    if (r == RD_ERROR_BACKEND_UNAVAILABLE || r == RD_ERROR_UNSUPPORTED) {
        printf("test_nerf_vk_profile: skipped (no Vulkan device here)\n");
        remove(path);
        return SKIP_CODE;
    }
    CHECK_OK(r);
    CHECK(none[0] == 0 && none[1] == 0 && none[2] == 0); /* counts only when asked for */
    CHECK_OK(render(path, true, timed, phases));
    if (phases[0] + phases[1] + phases[2] == 0) {
        printf("test_nerf_vk_profile: skipped (the Vulkan device has no VK_KHR_shader_clock or no shaderFloat64, which the "
               "timed kernel needs: the plain kernel ran)\n");
        remove(path);
        return SKIP_CODE;
    }
    CHECK(memcmp(plain, timed, sizeof plain) == 0);
    CHECK(phases[0] > 0 && phases[1] > 0); /* every ray marches, and takes samples */
    printf("  phases (ticks/4096, summed over workgroups): march %.0f, field %.0f, compositing %.0f\n", phases[0], phases[1], phases[2]);
    rd_scene_destroy(nerf);
    rd_context_destroy(cpu);
    remove(path);
    return test_finish("test_nerf_vk_profile");
}
