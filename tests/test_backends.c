/* test_backends.c: the cross-backend harness. Every operation runs on every backend
   present, on fresh random inputs, with outputs poisoned (NaN) before the run, and is
   compared with the CPU reference (one thread) by max absolute and relative L2 error,
   with a tolerance per operation and backend. Backends that are not built, or have no
   device, are reported as skipped; the multi-threaded CPU always runs and must match
   the single-threaded one bit for bit. */
#include "compare.h"
#include "test_util.h"
#ifdef RADIANT_TEST_VULKAN
#include "radiant_vulkan.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct backend_config {
    const char *name;
    rd_backend backend;
    int threads;
    double max_abs, rel_l2; /* tolerances for the splat renderer's colour, alpha, T */
    size_t flip_per_mille;  /* threshold flips allowed, per mille of pixels */
    const char *setting;    /* NAME=value of one of VARIANT_SETTINGS for the context; NULL: the defaults */
    bool small_only;        /* only the small random cases (a second run of a backend) */
} backend_config;

/* GPUs reorder float sums (fused multiply-add, fast exp): colour may differ by ~1e-3
   and a few pixels flip at the 1/255 and 1e-4 thresholds. */
static const backend_config CONFIGS[] = {
    {"cpu (threads)", RD_BACKEND_CPU, 0, 0.0, 0.0, 0, NULL, false},
    {"cuda", RD_BACKEND_CUDA, 0, 2e-3, 1e-3, 5, NULL, false},
    {"vulkan", RD_BACKEND_VULKAN, 0, 2e-3, 1e-3, 5, NULL, false},
    /* the blend's two launch orders, whichever the device defaults to (splat_vk.c) */
    {"vulkan (tiles longest first)", RD_BACKEND_VULKAN, 0, 2e-3, 1e-3, 5, "RADIANT_VK_TILE_ORDER=longest", true},
    {"vulkan (tiles in row order)", RD_BACKEND_VULKAN, 0, 2e-3, 1e-3, 5, "RADIANT_VK_TILE_ORDER=rows", true},
    /* the sorts' blocks at another size than the device's default (vk_sort.c's sort_items;
       clamped to what its shared memory holds) */
    {"vulkan (sort blocks of 20 keys a thread)", RD_BACKEND_VULKAN, 0, 2e-3, 1e-3, 5, "RADIANT_VK_SORT_ITEMS=20", true},
    /* the sort's two paths (vk_sort.h): the single pass where the device promises that the
       workgroups it waits on run (GPUs; refused elsewhere), and reduce-then-scan, which
       software devices take by default (the "vulkan" row) */
    {"vulkan (single-pass sort)", RD_BACKEND_VULKAN, 0, 2e-3, 1e-3, 5, "RADIANT_VK_SORT_PATH=single-pass", true},
    {"vulkan (reduce-then-scan sort)", RD_BACKEND_VULKAN, 0, 2e-3, 1e-3, 5, "RADIANT_VK_SORT_PATH=reduce-then-scan", true},
    /* the emission kernel that large scenes take (splat_cuda.cu's emit_items) */
    {"cuda (two Gaussians an emission thread)", RD_BACKEND_CUDA, 0, 2e-3, 1e-3, 5, "RADIANT_CUDA_EMIT_ITEMS=2", true},
    /* the blend in two launches, the longest tiles alone on an SM (splat_cuda.cu's blend_part),
       and in one */
    {"cuda (longest tiles alone)", RD_BACKEND_CUDA, 0, 2e-3, 1e-3, 5, "RADIANT_CUDA_LONG_TILES=all", true},
    {"cuda (blend in one launch)", RD_BACKEND_CUDA, 0, 2e-3, 1e-3, 5, "RADIANT_CUDA_LONG_TILES=0", true},
};

/* The environment settings that pick a backend's variants; each context is created with
   all of them unset but its config's one. */
static const char *const VARIANT_SETTINGS[] = {"RADIANT_VK_TILE_ORDER", "RADIANT_VK_SORT_ITEMS", "RADIANT_VK_SORT_PATH",
                                               "RADIANT_CUDA_EMIT_ITEMS", "RADIANT_CUDA_LONG_TILES"};

static void apply_setting(const char *setting)
{
    for (size_t k = 0; k < sizeof VARIANT_SETTINGS / sizeof VARIANT_SETTINGS[0]; k++) unsetenv(VARIANT_SETTINGS[k]);
    if (!setting) return;
    char name[64];
    const char *eq = strchr(setting, '=');
    snprintf(name, sizeof name, "%.*s", (int)(eq - setting), setting);
    setenv(name, eq + 1, 1);
}

/* A CPU implementation of Vulkan (lavapipe): its defaults differ (vk_sort.c, splat_vk.c),
   and it renders one to two orders of magnitude slower than a GPU. */
static bool software_device(rd_context *ctx)
{
#ifdef RADIANT_TEST_VULKAN
    rd_vulkan_device device;
    if (rd_context_backend(ctx) != RD_BACKEND_VULKAN || rd_vulkan_get_device(ctx, &device) != RD_OK) return false;
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties(device.physical, &properties);
    return properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
#else
    (void)ctx;
    return false;
#endif
}

typedef struct frame_outputs {
    float *color, *depth, *trans;
    uint32_t *contrib;
} frame_outputs;

static rd_result try_render_into(rd_context *ctx, const rd_scene *scene, const rd_camera *cam, const rd_render_desc *desc,
                                  frame_outputs *out)
{
    size_t P = (size_t)cam->width * cam->height;
    out->color = malloc(P * 4 * sizeof(float));
    out->depth = malloc(P * sizeof(float));
    out->trans = malloc(P * sizeof(float));
    out->contrib = malloc(P * sizeof(uint32_t));
    for (size_t i = 0; i < P * 4; i++) out->color[i] = NAN;
    for (size_t i = 0; i < P; i++) { out->depth[i] = NAN; out->trans[i] = NAN; out->contrib[i] = 0xdeadbeef; }
    rd_framebuffer fb = {.color = out->color, .depth = out->depth, .transmittance = out->trans, .contributors = out->contrib};
    return rd_render(ctx, scene, cam, desc, &fb);
}

static void render_into(rd_context *ctx, const rd_scene *scene, const rd_camera *cam, const rd_render_desc *desc,
                        frame_outputs *out)
{
    CHECK_OK(try_render_into(ctx, scene, cam, desc, out));
}

static void free_outputs(frame_outputs *o)
{
    free(o->color);
    free(o->depth);
    free(o->trans);
    free(o->contrib);
}

/* flags: the render's. With RD_RENDER_EXPECTED_DEPTH, the depth D / alpha of a pixel
   whose alpha is under 2/255 on either side is not compared: there it comes from a
   Gaussian or two at the 1/255 threshold, and a flip (a GPU's exponential on the other
   side of it) moves the depth by a whole depth value, not by a fraction of one (seen on
   the H100's Vulkan backend: one pixel 1.33 off, RADIANT_TEST_SEED=243447453). */
static bool compare_frames(const backend_config *cfg, const frame_outputs *got, const frame_outputs *want, size_t P,
                           uint32_t flags)
{
    size_t flips = P * cfg->flip_per_mille / 1000 + (cfg->flip_per_mille ? 2 : 0);
    double tol = cfg->max_abs;
    compare_result c = compare_floats(got->color, want->color, P * 4, tol);
    compare_result t = compare_floats(got->trans, want->trans, P, tol);
    unsigned char *faint = NULL; /* pixels whose depth is not compared */
    if (flags & RD_RENDER_EXPECTED_DEPTH) {
        if (!CHECK((faint = malloc(P)) != NULL)) return false;
        for (size_t p = 0; p < P; p++)
            faint[p] = 1.0f - got->trans[p] < 2.0f / 255.0f || 1.0f - want->trans[p] < 2.0f / 255.0f;
    }
    compare_result d = compare_floats_skip(got->depth, want->depth, P, tol * 10, faint);
    free(faint);
    bool ok = compare_ok("colour+alpha", c, flips, tol > 0 ? 0.05 : 0) && compare_ok("transmittance", t, flips, tol > 0 ? 0.05 : 0) &&
              compare_ok("depth", d, flips, tol > 0 ? 1.0 : 0);
    ok &= c.rel_l2 <= cfg->rel_l2 || c.rel_l2 == 0;
    size_t contrib_bad = 0;
    for (size_t p = 0; p < P; p++) contrib_bad += got->contrib[p] != want->contrib[p];
    return ok && contrib_bad <= flips;
}

/* A reconstruction tool's path (and the viewer's): Gaussians already in device memory,
   used in place, and the image left in device memory (CUDA pointers, Vulkan buffer device
   addresses). It must equal the same scene rendered from host arrays, bit for bit; that
   render wants every output and this one colour alone, which the CUDA and Vulkan blends
   do without the depth and count (EXTRAS in blend_kernel and blend.comp). */
static void device_arrays_case(rd_context *ctx, test_rng *r)
{
    random_scene_desc sd = {.count = 5000, .sh_degree = 3, .depth_min = 0.5, .depth_max = 8, .spread = 0.8,
                            .log_scale_min = -5, .log_scale_max = -1};
    rd_scene_desc host = random_scene(r, &sd);
    rd_scene_desc dev = host;
    dev.memory = RD_MEMORY_DEVICE;
    const float *src[5] = {host.means, host.log_scales, host.rotations, host.opacities, host.sh};
    const float **dst[5] = {&dev.means, &dev.log_scales, &dev.rotations, &dev.opacities, &dev.sh};
    size_t floats[5] = {3, 3, 4, 1, 48};
    rd_memory mem = RD_MEMORY_HOST;
    for (int k = 0; k < 5; k++) {
        void *p = NULL;
        CHECK_OK(rd_buffer_alloc(ctx, floats[k] * sizeof(float) * 5000, &p, &mem));
        CHECK_OK(rd_buffer_copy(ctx, p, mem, src[k], RD_MEMORY_HOST, floats[k] * sizeof(float) * 5000));
        *dst[k] = p;
    }
    CHECK(mem == RD_MEMORY_DEVICE);
    rd_camera cam = random_camera(r, 200, 150);
    rd_scene *s_host, *s_dev;
    CHECK_OK(rd_scene_create(ctx, &host, &s_host));
    CHECK_OK(rd_scene_create(ctx, &dev, &s_dev));
    frame_outputs want;
    render_into(ctx, s_host, &cam, NULL, &want);
    void *color_dev = NULL;
    CHECK_OK(rd_buffer_alloc(ctx, 200 * 150 * 4 * sizeof(float), &color_dev, &mem));
    rd_framebuffer fb = {.color = color_dev, .memory = mem};
    CHECK_OK(rd_render(ctx, s_dev, &cam, NULL, &fb));
    float *got = malloc(200 * 150 * 4 * sizeof(float));
    CHECK_OK(rd_buffer_copy(ctx, got, RD_MEMORY_HOST, color_dev, mem, 200 * 150 * 4 * sizeof(float)));
    bool same = memcmp(got, want.color, 200 * 150 * 4 * sizeof(float)) == 0;
    CHECK(same);
    if (rd_context_backend(ctx) == RD_BACKEND_VULKAN) { /* no buffer of the context: refused, not dereferenced */
        CHECK_FAILS(rd_buffer_copy(ctx, got, RD_MEMORY_HOST, (void *)(uintptr_t)16, RD_MEMORY_DEVICE, 4), RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "the source") != NULL);
    }
    printf("device arrays in place, image in device memory: %s\n", same ? "identical to the host-array render" : "DIFFERENT");
    rd_scene_info info;
    rd_scene_get_info(s_dev, &info);
    CHECK(info.count == 5000 && strcmp(info.format, "device-arrays") == 0);
    CHECK_FAILS(rd_scene_save_ply(ctx, s_dev, "/tmp/never-written.ply"), RD_ERROR_INVALID_ARGUMENT);
    free(got);
    free_outputs(&want);
    rd_buffer_free(ctx, color_dev);
    rd_scene_destroy(s_host);
    rd_scene_destroy(s_dev);
    for (int k = 0; k < 5; k++) rd_buffer_free(ctx, (void *)*dst[k]);
    random_scene_free(&host);
}

/* Several cameras in one call (different sizes) must equal the reference's single
   renders; a bad camera anywhere fails the call before any target is written. */
static bool views_case(const backend_config *cfg, rd_context *ctx, rd_context *ref, test_rng *r)
{
    random_scene_desc sd = {.count = 4000, .sh_degree = 3, .depth_min = 0.5, .depth_max = 8, .spread = 0.8,
                            .log_scale_min = -5, .log_scale_max = -1};
    rd_scene_desc arrays = random_scene(r, &sd);
    rd_scene *s_ref, *s_got;
    CHECK_OK(rd_scene_create(ref, &arrays, &s_ref));
    CHECK_OK(rd_scene_create(ctx, &arrays, &s_got));
    rd_camera cams[3] = {random_camera(r, 160, 90), random_camera(r, 33, 77), random_camera(r, 256, 256)};
    frame_outputs want[3], got[3];
    rd_framebuffer fbs[3];
    rd_render_desc desc = {.flags = RD_RENDER_EXPECTED_DEPTH, .background = {0.2f, 0.3f, 0.4f}};
    for (int v = 0; v < 3; v++) {
        render_into(ref, s_ref, &cams[v], &desc, &want[v]);
        size_t P = (size_t)cams[v].width * cams[v].height;
        got[v].color = malloc(P * 4 * sizeof(float)), got[v].depth = malloc(P * sizeof(float));
        got[v].trans = malloc(P * sizeof(float)), got[v].contrib = malloc(P * sizeof(uint32_t));
        got[v].color[0] = NAN;
        fbs[v] = (rd_framebuffer){.color = got[v].color, .depth = got[v].depth, .transmittance = got[v].trans,
                                  .contributors = got[v].contrib};
    }
    rd_camera bad[3] = {cams[0], cams[1], cams[2]};
    bad[2].fx = -1.0f;
    CHECK_FAILS(rd_render_views(ctx, s_got, 3, bad, &desc, fbs), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "view 2") != NULL && isnan(got[0].color[0]));
    CHECK_OK(rd_render_views(ctx, s_got, 3, cams, &desc, fbs));
    bool ok = true;
    for (int v = 0; v < 3; v++) {
        ok &= compare_frames(cfg, &got[v], &want[v], (size_t)cams[v].width * cams[v].height, desc.flags);
        free_outputs(&want[v]);
        free_outputs(&got[v]);
    }
    printf("backend %s: 3 cameras in one call %s\n", cfg->name, ok ? "equal the single renders" : "DIFFER");
    rd_scene_destroy(s_ref);
    rd_scene_destroy(s_got);
    random_scene_free(&arrays);
    return CHECK(ok);
}

/* Gaussians whose means project onto pixel centres, opaque enough to be seen there: at
   such a pixel the quadratic form is zero up to rounding, and the GPU blends evaluate it
   differently from the CPU (a polynomial in the pixel's offset from its block), so they
   must not read a rounding error above zero as the CPU's power > 0 and drop the
   Gaussian. */
static bool centred_means_case(const backend_config *cfg, rd_context *ctx, rd_context *ref, test_rng *r)
{
    random_scene_desc sd = {.count = 3000, .sh_degree = 0, .depth_min = 1, .depth_max = 6, .spread = 0.5,
                            .log_scale_min = -6, .log_scale_max = -3};
    rd_scene_desc arrays = random_scene(r, &sd);
    rd_camera cam = random_camera(r, 160, 120);
    float *means = (float *)arrays.means, *opacities = (float *)arrays.opacities;
    for (int i = 0; i < sd.count; i++) {
        float z = means[3 * i + 2];
        int px = (int)(rng_uniform(r) * cam.width), py = (int)(rng_uniform(r) * cam.height);
        means[3 * i + 0] = ((float)px + 0.5f - cam.cx) * z / cam.fx;
        means[3 * i + 1] = ((float)py + 0.5f - cam.cy) * z / cam.fy;
        opacities[i] = 4.0f; /* sigmoid: 0.98 */
    }
    rd_scene *s_ref, *s_got;
    CHECK_OK(rd_scene_create(ref, &arrays, &s_ref));
    CHECK_OK(rd_scene_create(ctx, &arrays, &s_got));
    frame_outputs want, got;
    rd_render_desc desc = {.background = {0.5f, 0.5f, 0.5f}};
    render_into(ref, s_ref, &cam, &desc, &want);
    render_into(ctx, s_got, &cam, &desc, &got);
    bool ok = compare_frames(cfg, &got, &want, (size_t)cam.width * cam.height, desc.flags);
    printf("backend %s: means on pixel centres %s\n", cfg->name, ok ? "blend as on the CPU" : "DIFFER");
    free_outputs(&want);
    free_outputs(&got);
    rd_scene_destroy(s_ref);
    rd_scene_destroy(s_got);
    random_scene_free(&arrays);
    return CHECK(ok);
}

/* Key buffer capacity: a view with many pairs, then enough views with few that a GPU
   backend may shrink its capacity, then the first view again, which must then grow it
   within the frame and come out bit for bit as the first time. */
static bool capacity_case(const backend_config *cfg, rd_context *ctx, test_rng *r)
{
    random_scene_desc sd = {.count = 20000, .sh_degree = 1, .depth_min = 1, .depth_max = 6, .spread = 0.8,
                            .log_scale_min = -4, .log_scale_max = -2};
    rd_scene_desc arrays = random_scene(r, &sd);
    rd_scene *scene;
    CHECK_OK(rd_scene_create(ctx, &arrays, &scene));
    rd_camera wide = random_camera(r, 640, 480), small = wide;
    small.width = small.height = 16;
    small.cx = small.cy = 8.0f;
    rd_render_desc desc = {0};
    frame_outputs first, again, tiny;
    rd_render_stats wide_stats, small_stats;
    render_into(ctx, scene, &wide, &desc, &first);
    rd_render_last_stats(ctx, &wide_stats);
    bool ok = true;
    for (int k = 0; k < 20; k++) {
        render_into(ctx, scene, &small, &desc, &tiny);
        free_outputs(&tiny);
    }
    rd_render_last_stats(ctx, &small_stats);
    render_into(ctx, scene, &wide, &desc, &again);
    size_t P = (size_t)wide.width * wide.height;
    ok &= memcmp(first.color, again.color, P * 4 * sizeof(float)) == 0;
    ok &= memcmp(first.trans, again.trans, P * sizeof(float)) == 0;
    ok &= memcmp(first.contrib, again.contrib, P * sizeof(uint32_t)) == 0;
    /* the shrink needs the small views under a quarter of the wide one's pairs */
    ok &= small_stats.intersections * 8 < wide_stats.intersections;
    printf("backend %s: %llu pairs, then 20 views of %llu, then the first view again: %s\n", cfg->name,
           (unsigned long long)wide_stats.intersections, (unsigned long long)small_stats.intersections,
           ok ? "identical" : "DIFFERS");
    free_outputs(&first);
    free_outputs(&again);
    rd_scene_destroy(scene);
    random_scene_free(&arrays);
    return CHECK(ok);
}

int main(void)
{
    test_rng r = {test_seed("backends")};
    rd_context *ref;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log}, &ref));
    /* large cases take the threaded CPU as reference; the first row checks that it equals one thread */
    rd_context *ref_threads;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ref_threads));
    int ran = 0;
    for (size_t b = 0; b < sizeof CONFIGS / sizeof CONFIGS[0]; b++) {
        const backend_config *cfg = &CONFIGS[b];
        rd_context *ctx = NULL;
        apply_setting(cfg->setting);
        rd_result cr = rd_context_create(&(rd_context_desc){.backend = cfg->backend, .threads = cfg->threads, .log = test_log}, &ctx);
        if (cr == RD_ERROR_BACKEND_UNAVAILABLE) {
            printf("backend %s: skipped (not built, no device here, or the device refuses this variant; "
                   "RADIANT_TEST_VERBOSE=1 logs why)\n", cfg->name);
            continue;
        }
        if (!CHECK_OK(cr)) continue;
        bool software = software_device(ctx);
        if (software && cfg->setting && strcmp(cfg->setting, "RADIANT_VK_SORT_PATH=reduce-then-scan") == 0) {
            printf("backend %s: skipped (this device's default: the \"vulkan\" row ran it)\n", cfg->name);
            rd_context_destroy(ctx);
            continue;
        }
        /* After 24 small random cases, two scenes around the camera (most Gaussians behind it;
           the camera inside a dense cloud); GPUs also get large ones: 100k Gaussians at
           640x480, a million at 1280x720, and 100k at 7680x4320 (~7e8 pairs, which no
           device's allocations hold: it must fail cleanly, then runs with smaller splats,
           ~1e8 pairs). On software devices and in the sanitizer build, where the device
           or the CPU reference runs many times slower, the million is left out and the 8K
           case runs again with splats of ~1e6 pairs: it still splits the blend's 129,600
           groups over y and fills buffers past 128 MiB. */
        bool gpu = cfg->backend != RD_BACKEND_CPU, reduced = software || TEST_SANITIZED;
        int failed = 0, cases = cfg->small_only ? 24 : gpu ? 29 : 26;
        bool smaller = false; /* the case is retried with smaller splats after a device allocation limit */
        for (int i = 0; i < cases; i++) {
            if (i == 27 && reduced) {
                printf("  %s: case 27 (a million Gaussians) left out on %s\n", cfg->name,
                       software ? "a software device" : "the sanitizer build");
                continue;
            }
            static const int sizes[][2] = {{1, 1}, {15, 17}, {64, 64}, {127, 33}, {200, 113}, {321, 240}};
            static const int counts[] = {0, 1, 10, 300, 3000, 20000};
            static const int large_sizes[3][2] = {{640, 480}, {1280, 720}, {7680, 4320}};
            static const int large_counts[3] = {100000, 1000000, 100000};
            bool around = i == 24 || i == 25, large = i >= 26;
            const int *size = large ? large_sizes[i - 26] : around ? sizes[5] : sizes[i % 6];
            random_scene_desc sd = {.count = large ? large_counts[i - 26] : around ? 20000 : counts[(int)(rng_uniform(&r) * 6)],
                                    .sh_degree = (int)(rng_uniform(&r) * 4),
                                    .degenerate = i % 3 == 0, .depth_min = 0.3, .depth_max = 10, .spread = 0.9,
                                    .log_scale_min = -6, .log_scale_max = -0.5};
            if (i == 24) { sd.depth_min = -30; sd.depth_max = 3; }                        /* ~90% behind */
            if (i == 25) { sd.depth_min = -2; sd.depth_max = 2; sd.spread = 2; sd.log_scale_max = -2; } /* inside */
            if (smaller) sd.log_scale_max = reduced ? -4.5 : -2;
            rd_scene_desc arrays = random_scene(&r, &sd);
            rd_camera cam = random_camera(&r, size[0], size[1]);
            rd_render_desc desc = {.flags = (uint32_t)(rng_uniform(&r) * 8) & 7u,
                                   .background = {(float)rng_uniform(&r), (float)rng_uniform(&r), (float)rng_uniform(&r)}};
            rd_scene *s_ref, *s_got;
            CHECK_OK(rd_scene_create(ref, &arrays, &s_ref));
            CHECK_OK(rd_scene_create(ctx, &arrays, &s_got));
            frame_outputs want, got;
            /* The 8K case with the largest splats makes ~7e8 Gaussian-tile pairs: a device whose
               allocations stop short of their 2.9 GB of keys (lavapipe: 2 GiB) must say so
               cleanly; the case then runs again with smaller splats (~1e8 pairs). */
            rd_result got_result = try_render_into(ctx, s_got, &cam, &desc, &got);
            if (large && gpu && !smaller && got_result == RD_ERROR_OUT_OF_MEMORY) {
                printf("  %s: case %d: %s; again with smaller splats\n", cfg->name, i, rd_last_error(ctx));
                CHECK(strstr(rd_last_error(ctx), "allocation") != NULL);
                free_outputs(&got);
                rd_scene_destroy(s_ref);
                rd_scene_destroy(s_got);
                random_scene_free(&arrays);
                smaller = true;
                i--;
                continue;
            }
            CHECK_OK(got_result);
            smaller = false;
            render_into(large ? ref_threads : ref, s_ref, &cam, &desc, &want);
            if (!CHECK(compare_frames(cfg, &got, &want, (size_t)cam.width * cam.height, desc.flags))) {
                printf("  %s: splat_render case %d differs: %dx%d, %d Gaussians, SH %d, flags %u\n", cfg->name, i,
                       cam.width, cam.height, sd.count, sd.sh_degree, desc.flags);
                failed++;
            }
            free_outputs(&want);
            free_outputs(&got);
            rd_scene_destroy(s_ref);
            rd_scene_destroy(s_got);
            random_scene_free(&arrays);
        }
        printf("backend %s: splat_render %d/%d cases within tolerance\n", cfg->name, cases - failed, cases);
        views_case(cfg, ctx, ref, &r);
        centred_means_case(cfg, ctx, ref, &r);
        if (gpu && !cfg->small_only) device_arrays_case(ctx, &r);
        if (gpu) capacity_case(cfg, ctx, &r);
        ran++;
        rd_context_destroy(ctx);
    }
    rd_context_destroy(ref);
    rd_context_destroy(ref_threads);
    CHECK(ran >= 1);
    check_validation();
    return test_finish("backends");
}
