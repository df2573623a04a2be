/* test_device_arrays.c: a scene whose arrays are in device memory renders as the same
   arrays given from the host on each GPU present: bit for bit with each array in its own
   buffer or packed in one at 16-byte-aligned places (as a decoded stream keeps them, at
   256), and within 1e-6 packed at 4-byte-aligned places, where NVIDIA's Vulkan driver
   rounds differently (H100, driver 580.159.04: 477 of 7,680 floats 1 ulp off, with every
   array equal; the stream test's device scene did the same before its arrays were
   aligned). The context's count of its own device buffers (rd_context_device_bytes) grows
   with the frames from what the context made at its start, leaves out the caller's rd_buffer_alloc buffers, and
   its peak bounds it. Skipped, saying so, where no GPU is present. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CASES = 24, ARRAYS = 5, LAYOUTS = 3 };

typedef enum layout { OWN_BUFFERS, PACKED_16, PACKED_4 } layout;
static const char *const LAYOUT_NAMES[LAYOUTS] = {"a buffer an array", "one buffer, 16-byte aligned",
                                                  "one buffer, 4-byte aligned"};

/* The desc's arrays in device memory as `how` lays them out; false on failure. */
static bool to_device(rd_context *ctx, const rd_scene_desc *host, layout how, void *buffers[ARRAYS], rd_scene_desc *out)
{
    bool packed = how != OWN_BUFFERS;
    size_t align = how == PACKED_16 ? 16 : 4;
    size_t n = (size_t)host->count, K = (size_t)3 * (host->sh_degree + 1) * (host->sh_degree + 1);
    const float *from[ARRAYS] = {host->means, host->log_scales, host->rotations, host->opacities, host->sh};
    const size_t bytes[ARRAYS] = {12 * n, 12 * n, 16 * n, 4 * n, 4 * K * n};
    size_t total = 0;
    for (int k = 0; k < ARRAYS; k++) total += (bytes[k] + align - 1) / align * align;
    const float *at[ARRAYS];
    rd_memory memory;
    size_t offset = 0;
    for (int k = 0; k < ARRAYS; k++) {
        if ((packed && k == 0) || !packed) {
            if (rd_buffer_alloc(ctx, packed ? total : bytes[k], &buffers[k], &memory) != RD_OK) return false;
            offset = 0;
        }
        char *base = packed ? buffers[0] : buffers[k];
        if (rd_buffer_copy(ctx, base + offset, RD_MEMORY_DEVICE, from[k], RD_MEMORY_HOST, bytes[k]) != RD_OK) return false;
        at[k] = (const float *)(base + offset);
        offset += (bytes[k] + align - 1) / align * align;
    }
    *out = *host;
    out->means = at[0], out->log_scales = at[1], out->rotations = at[2], out->opacities = at[3], out->sh = at[4];
    out->memory = RD_MEMORY_DEVICE;
    return true;
}

static bool render(rd_context *ctx, const rd_scene_desc *arrays, const rd_camera *cam, float *color)
{
    rd_scene *scene = NULL;
    bool ok = CHECK_OK(rd_scene_create(ctx, arrays, &scene)) && CHECK_OK(rd_render(ctx, scene, cam, NULL, &(rd_framebuffer){.color = color}));
    rd_scene_destroy(scene);
    return ok;
}

static bool run_backend(rd_backend backend)
{
    rd_context *ctx = NULL;
    if (rd_context_create(&(rd_context_desc){.backend = backend, .log = test_log}, &ctx) != RD_OK) {
        printf("device arrays on %s: skipped (no such device here)\n", rd_backend_name(backend));
        return false;
    }
    uint64_t held = 1, peak = 1, held_before = 0, held_after = 0, peak_before = 0, peak_after = 0;
    rd_context_device_bytes(ctx, &held, &peak);
    uint64_t at_start = held;
    CHECK(held == peak); /* nothing freed yet */
    bool counted = true; /* the caller's buffers left out of the count */
    test_rng r = {test_seed("test_device_arrays")};
    static const int counts[] = {10, 301, 395, 2999}; /* each packs its arrays off 16 bytes at 4 */
    int differ[LAYOUTS] = {0};
    double worst = 0.0; /* of the 4-byte-aligned layout */
    for (int i = 0; i < CASES; i++) {
        random_scene_desc sd = {.count = counts[i % 4], .sh_degree = (int)(rng_uniform(&r) * 4), .depth_min = 0.3, .depth_max = 10,
                                .spread = 0.9, .log_scale_min = -6, .log_scale_max = -0.5};
        rd_scene_desc host = random_scene(&r, &sd);
        rd_camera cam = random_camera(&r, 48, 40);
        size_t floats = 4 * (size_t)cam.width * cam.height;
        float *want = calloc(floats, sizeof(float)), *got = calloc(floats, sizeof(float));
        if (CHECK(want && got) && render(ctx, &host, &cam, want))
            for (int how = 0; how < LAYOUTS; how++) {
                void *buffers[ARRAYS] = {0};
                rd_scene_desc device;
                rd_context_device_bytes(ctx, &held_before, &peak_before);
                bool made = CHECK(to_device(ctx, &host, (layout)how, buffers, &device));
                rd_context_device_bytes(ctx, &held_after, &peak_after);
                counted &= held_after == held_before && peak_after == peak_before; /* not even for a moment */
                if (made && render(ctx, &device, &cam, got)) {
                    size_t n = 0;
                    for (size_t k = 0; k < floats; k++) {
                        n += memcmp(&got[k], &want[k], 4) != 0;
                        if (how == PACKED_4) worst = fmax(worst, fabs((double)got[k] - want[k]));
                    }
                    if (n && differ[how]++ < 4)
                        printf("  case %d (%lld Gaussians, SH %d), %s: %zu of %zu floats differ from the host arrays' render\n", i,
                               (long long)host.count, host.sh_degree, LAYOUT_NAMES[how], n, floats);
                }
                for (int k = 0; k < ARRAYS; k++) rd_buffer_free(ctx, buffers[k]);
            }
        free(want), free(got);
        random_scene_free(&host);
    }
    printf("device arrays on %s: of %d cases, %d differ from the host arrays' render (%s), %d (%s), %d (%s, by at most %.3g)\n",
           rd_backend_name(backend), CASES, differ[0], LAYOUT_NAMES[0], differ[1], LAYOUT_NAMES[1], differ[2], LAYOUT_NAMES[2], worst);
    CHECK(differ[OWN_BUFFERS] == 0 && differ[PACKED_16] == 0 && worst <= 1e-6);
    rd_context_device_bytes(ctx, &held, &peak);
    printf("device arrays on %s: the context's own device buffers %.2f MiB, at most %.2f\n", rd_backend_name(backend), held / 1048576.0,
           peak / 1048576.0);
    CHECK(held > at_start && held <= peak && counted);
    rd_context_destroy(ctx);
    return true;
}

int main(void)
{
    bool vulkan = run_backend(RD_BACKEND_VULKAN), cuda = run_backend(RD_BACKEND_CUDA);
    if (!vulkan && !cuda) return SKIP_CODE;
    return test_finish("test_device_arrays");
}
