/* test_vk_host.c: the Vulkan backend's host side of a frame (issue 35, item 3): a frame
   whose fence the host polls first (rd_tuning.vk_fence_spin_us, RADIANT_VK_FENCE_SPIN_US;
   the default on a GPU) equals the frame it waits for asleep, bit for bit, on a fresh random scene; the polled
   and the sleeping contexts both report the host's times (recording, submit and wait, the
   call); a frame like the last submits its recording again (rd_vk_reusable) and renders
   what a fresh context renders, over a random run of frames too. Skipped, saying so, where no Vulkan device opens. */
#include "test_util.h"
#include "../renderer/tuning.h"
#ifdef RADIANT_TEST_VULKAN
#include "radiant_vulkan.h"
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static test_rng rng;

/* The scene rendered on ctx into color (w*h*4); the frame's stats in *stats. */
static rd_result render(rd_context *ctx, const rd_scene_desc *arrays, const rd_camera *cam, float *color, rd_render_stats *stats)
{
    rd_scene *scene = NULL;
    rd_result r = rd_scene_create(ctx, arrays, &scene);
    if (r == RD_OK) r = rd_render(ctx, scene, cam, &(rd_render_desc){0}, &(rd_framebuffer){.color = color});
    rd_render_last_stats(ctx, stats);
    rd_scene_destroy(scene);
    return r;
}

/* A run of frames on one context, each a random pick of two scenes (one with half SH),
   two sizes, two cameras and the outputs wanted (colour, or colour, depth and
   transmittance, into host or device memory): every image equals a fresh context's, bit
   for bit, whether the frame reused the last recording or made its own. */
static void test_frame_sequence(rd_context *ctx, rd_context *fresh, const rd_scene_desc *arrays)
{
    rd_scene_desc half_arrays = *arrays;
    half_arrays.flags |= RD_SCENE_HALF_SH;
    const rd_scene_desc *descs[2] = {arrays, &half_arrays};
    rd_scene *scenes[2] = {NULL, NULL};
    rd_camera cams[2][2] = {{random_camera(&rng, 80, 48), random_camera(&rng, 80, 48)},
                            {random_camera(&rng, 64, 64), random_camera(&rng, 64, 64)}};
    size_t most = 80 * 64;
    float *color = malloc(most * 4 * sizeof(float)), *depth = malloc(most * sizeof(float)), *trans = malloc(most * sizeof(float));
    float *want_color = malloc(most * 4 * sizeof(float)), *want_depth = malloc(most * sizeof(float));
    void *device = NULL;
    rd_memory device_memory;
    int reused = 0, same = 0, frames = 24;
    if (!color || !depth || !trans || !want_color || !want_depth || !CHECK_OK(rd_scene_create(ctx, descs[0], &scenes[0])) ||
        !CHECK_OK(rd_scene_create(ctx, descs[1], &scenes[1])) ||
        !CHECK_OK(rd_buffer_alloc(ctx, most * 4 * sizeof(float), &device, &device_memory)))
        frames = 0;
    int which = 0, size = 0;
    bool extras = false, on_device = false;
    for (int k = 0; k < frames; k++) {
        if (k == 0 || rng_uniform(&rng) < 0.5) { /* else the last frame's, but for the camera: its recording serves */
            which = rng_uniform(&rng) < 0.5, size = rng_uniform(&rng) < 0.3;
            extras = rng_uniform(&rng) < 0.3, on_device = rng_uniform(&rng) < 0.3;
        }
        int view = rng_uniform(&rng) < 0.5;
        const rd_camera *cam = &cams[size][view];
        size_t pixels = (size_t)cam->width * cam->height;
        rd_framebuffer fb = on_device ? (rd_framebuffer){.color = device, .memory = device_memory}
                                      : (rd_framebuffer){.color = color, .depth = extras ? depth : NULL,
                                                         .transmittance = extras ? trans : NULL};
        rd_render_stats st = {0};
        if (!CHECK_OK(rd_render(ctx, scenes[which], cam, NULL, &fb))) break;
        rd_render_last_stats(ctx, &st);
        reused += rd_render_stats_count(&st, "host_recorded") == 0;
        if (on_device && !CHECK_OK(rd_buffer_copy(ctx, color, RD_MEMORY_HOST, device, device_memory, pixels * 4 * sizeof(float))))
            break;
        rd_scene *again = NULL;
        if (CHECK_OK(rd_scene_create(fresh, descs[which], &again)) &&
            CHECK_OK(rd_render(fresh, again, cam, NULL,
                               &(rd_framebuffer){.color = want_color, .depth = extras && !on_device ? want_depth : NULL}))) {
            bool equal = memcmp(color, want_color, pixels * 4 * sizeof(float)) == 0 &&
                         (!extras || on_device || memcmp(depth, want_depth, pixels * sizeof(float)) == 0);
            same += equal;
            if (!CHECK(equal)) printf("frame %d (scene %d, %dx%d, view %d, extras %d, device %d) differs from a fresh context's\n", k,
                                      which, cam->width, cam->height, view, extras, on_device);
        }
        rd_scene_destroy(again);
    }
    printf("a run of %d frames: %d reused the last recording, %d equal to a fresh context's\n", frames, reused, same);
    CHECK(frames == 0 || reused > 0);
    if (device) rd_buffer_free(ctx, device);
    rd_scene_destroy(scenes[0]), rd_scene_destroy(scenes[1]);
    free(color), free(depth), free(trans), free(want_color), free(want_depth);
}

int main(void)
{
    rng.state = test_seed("test_vk_host");
    rd_context *sleeping = NULL, *polling = NULL;
    rd_context_desc desc = {.backend = RD_BACKEND_VULKAN, .log = test_log}; /* validation errors counted (ctest turns the layers on) */
    if (rd_context_create_tuned(&desc, &(rd_tuning){.vk_fence_spin_us = -1}, &sleeping) != RD_OK) { /* never polls */
        printf("test_vk_host: skipped: no Vulkan device opens here (%s)\n", rd_last_error(NULL));
        return test_finish("test_vk_host");
    }
    CHECK_OK(rd_context_create_tuned(&desc, &(rd_tuning){.vk_fence_spin_us = 100000}, &polling));
    rd_scene_desc arrays = random_scene(&rng, &(random_scene_desc){.count = 3000, .sh_degree = 2, .depth_min = 1, .depth_max = 6,
                                                                   .spread = 0.8, .log_scale_min = -4, .log_scale_max = -1.5});
    rd_camera cam = random_camera(&rng, 96, 64);
    size_t floats = (size_t)cam.width * cam.height * 4;
    float *a = malloc(floats * sizeof(float)), *b = malloc(floats * sizeof(float));
    rd_render_stats sa = {0}, sb = {0};
    if (polling && CHECK_OK(render(sleeping, &arrays, &cam, a, &sa)) && CHECK_OK(render(polling, &arrays, &cam, b, &sb))) {
        CHECK(memcmp(a, b, floats * sizeof(float)) == 0);
        for (int k = 0; k < 2; k++) {
            const rd_render_stats *st = k ? &sb : &sa;
            double record = rd_render_stats_count(st, "host_record_us"), wait = rd_render_stats_count(st, "host_submit_wait_us");
            double call = rd_render_stats_count(st, "host_call_us");
            printf("%s: recording %.0f us, submit and wait %.0f us, the call %.0f us\n", k ? "polled" : "asleep", record, wait, call);
            CHECK(record > 0.0 && wait > 0.0 && call >= record + wait);
        }
    }
    if (polling) test_frame_sequence(polling, sleeping, &arrays);
    /* a frame like the last (same scene, size and outputs; another camera, another host
       buffer) submits the last one's recording again, and its image is the one a fresh context renders; a frame of
       another size records anew */
    rd_scene *scene = NULL;
    rd_camera moved = random_camera(&rng, 96, 64), wider = random_camera(&rng, 112, 64);
    float *c = malloc((size_t)112 * 64 * 4 * sizeof(float)), *d = malloc((size_t)112 * 64 * 4 * sizeof(float));
    if (polling && c && d && CHECK_OK(rd_scene_create(polling, &arrays, &scene))) {
        const rd_camera *cams[4] = {&cam, &cam, &moved, &wider};
        const double want_recorded[4] = {1, 0, 0, 1};
        for (int k = 0; k < 4; k++) {
            rd_render_stats st = {0}, fresh = {0};
            size_t bytes = (size_t)cams[k]->width * cams[k]->height * 4 * sizeof(float);
            float *into = k == 2 ? d : c, *fresh_into = k == 2 ? c : d; /* another host buffer changes nothing recorded */
            if (!CHECK_OK(rd_render(polling, scene, cams[k], &(rd_render_desc){0}, &(rd_framebuffer){.color = into}))) break;
            rd_render_last_stats(polling, &st);
            printf("frame %d (%dx%d): recorded %.0f times\n", k, cams[k]->width, cams[k]->height,
                   rd_render_stats_count(&st, "host_recorded"));
            CHECK(rd_render_stats_count(&st, "host_recorded") == want_recorded[k]);
            if (CHECK_OK(render(sleeping, &arrays, cams[k], fresh_into, &fresh))) CHECK(memcmp(c, d, bytes) == 0);
        }
    }
    rd_scene_destroy(scene);
    /* past the largest device-local heap: refused, saying why, and nothing held (a buffer
       past maxMemoryAllocationSize alone is tried, as NVIDIA's 4 GiB allows) */
#ifdef RADIANT_TEST_VULKAN
    rd_vulkan_device device;
    if (CHECK_OK(rd_vulkan_get_device(sleeping, &device))) {
        VkPhysicalDeviceMemoryProperties memory;
        vkGetPhysicalDeviceMemoryProperties(device.physical, &memory);
        VkDeviceSize heap = 0;
        for (uint32_t h = 0; h < memory.memoryHeapCount; h++)
            if ((memory.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && memory.memoryHeaps[h].size > heap)
                heap = memory.memoryHeaps[h].size;
        void *big = NULL;
        rd_memory where;
        if (heap > 0 && (uint64_t)heap + (256u << 20) <= SIZE_MAX) {
            CHECK(rd_buffer_alloc(sleeping, (size_t)heap + (256u << 20), &big, &where) == RD_ERROR_OUT_OF_MEMORY && big == NULL);
            const char *why = rd_last_error(sleeping);
            printf("a buffer past the %.1f GiB heap: %s\n", heap / 1073741824.0, why);
            CHECK(strstr(why, "heap") != NULL || strstr(why, "allows a buffer") != NULL || strstr(why, "refused") != NULL);
            if (CHECK_OK(rd_buffer_alloc(sleeping, 1u << 20, &big, &where))) rd_buffer_free(sleeping, big);
        }
    }
#endif
    free(a), free(b), free(c), free(d);
    random_scene_free(&arrays);
    rd_context_destroy(polling);
    rd_context_destroy(sleeping);
    check_validation();
    return test_finish("test_vk_host");
}
