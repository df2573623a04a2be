/* test_gpu_repeat.c: a GPU renders the same frame the same way every time. Random small
   scenes and cameras (as the harness's splat_render cases), each rendered several times on
   one context per CUDA variant (the blend's launch orders, the emission kernel) and once on
   a fresh context: every render of a case must equal the first bit for bit (the forward
   blend has no atomics; a difference is a race or an unwritten buffer), and the first must
   be within the harness's bounds of the CPU's. The harness runs each case once, so a
   fault that shows one time in many passes there; this looks for it. Skipped, saying so,
   where no CUDA device is present. */
#include "test_util.h"
#include "../renderer/tuning.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CASES = 240, REPEATS = 4, MAX_PIXELS = 321 * 240 };

typedef struct frame {
    float color[MAX_PIXELS * 4], depth[MAX_PIXELS], trans[MAX_PIXELS];
    uint32_t contrib[MAX_PIXELS];
} frame;

static rd_result render(rd_context *ctx, const rd_scene_desc *arrays, const rd_camera *cam, const rd_render_desc *desc, frame *out)
{
    size_t P = (size_t)cam->width * cam->height;
    for (size_t i = 0; i < P * 4; i++) out->color[i] = NAN;
    for (size_t i = 0; i < P; i++) out->depth[i] = out->trans[i] = NAN, out->contrib[i] = 0xdeadbeef;
    rd_scene *scene = NULL;
    rd_result r = rd_scene_create(ctx, arrays, &scene);
    rd_framebuffer fb = {.color = out->color, .depth = out->depth, .transmittance = out->trans, .contributors = out->contrib};
    if (r == RD_OK) r = rd_render(ctx, scene, cam, desc, &fb);
    rd_scene_destroy(scene);
    return r;
}

/* What differs between two renders of a case, for the report. */
static void describe_difference(const frame *a, const frame *b, size_t P)
{
    size_t contrib = 0, trans = 0, color_pixels = 0;
    double color = 0.0, alpha = 0.0;
    for (size_t p = 0; p < P; p++) {
        contrib += a->contrib[p] != b->contrib[p];
        trans += memcmp(&a->trans[p], &b->trans[p], sizeof(float)) != 0;
        bool any = false;
        for (int c = 0; c < 4; c++) {
            double d = fabs((double)a->color[4 * p + c] - b->color[4 * p + c]);
            if (c < 3) color = fmax(color, d);
            else alpha = fmax(alpha, d);
            any |= d > 0.0;
        }
        color_pixels += any;
    }
    printf("    pixels: %zu of %zu with another colour (largest RGB difference %.3g, alpha %.3g), %zu another "
           "transmittance, %zu another contributor count\n", color_pixels, P, color, alpha, trans, contrib);
}

static size_t differing(const frame *a, const frame *b, size_t P)
{
    size_t n = 0;
    for (size_t i = 0; i < P * 4; i++) n += memcmp(&a->color[i], &b->color[i], sizeof(float)) != 0;
    for (size_t i = 0; i < P; i++)
        n += memcmp(&a->depth[i], &b->depth[i], sizeof(float)) != 0 || memcmp(&a->trans[i], &b->trans[i], sizeof(float)) != 0 ||
             a->contrib[i] != b->contrib[i];
    return n;
}

int main(void)
{
    static const struct {
        const char *name;
        rd_tuning tuning;
    } VARIANTS[] = {{"cuda", {0}},
                    {"cuda (blend in one launch)", {.cuda_long_tiles = RD_LONG_TILES_NEVER}},
                    {"cuda (longest tiles alone)", {.cuda_long_tiles = RD_LONG_TILES_ALL}},
                    {"cuda (two Gaussians an emission thread)", {.cuda_emit_items = 2}},
                    {"cuda (no dependent launches)", {.cuda_dependent_launch = RD_DEPENDENT_LAUNCH_OFF}},
                    {"cuda (one blend launch, no dependent launches)",
                     {.cuda_long_tiles = RD_LONG_TILES_NEVER, .cuda_dependent_launch = RD_DEPENDENT_LAUNCH_OFF}}};
    enum { VARIANT_COUNT = sizeof VARIANTS / sizeof VARIANTS[0] };
    rd_context *gpu[VARIANT_COUNT] = {0}, *cpu = NULL;
    for (int v = 0; v < VARIANT_COUNT; v++) {
        rd_result r = rd_context_create_tuned(&(rd_context_desc){.backend = RD_BACKEND_CUDA, .log = test_log}, &VARIANTS[v].tuning,
                                              &gpu[v]);
        if (r == RD_ERROR_BACKEND_UNAVAILABLE) {
            printf("test_gpu_repeat: skipped (no CUDA device here, or radiant built without CUDA)\n");
            return SKIP_CODE;
        }
        if (!CHECK_OK(r)) return test_finish("test_gpu_repeat");
    }
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &cpu));
    test_rng r = {test_seed("test_gpu_repeat")};
    frame *first = malloc(sizeof *first), *again = malloc(sizeof *again), *want = malloc(sizeof *want);
    static const int sizes[][2] = {{1, 1}, {15, 17}, {64, 64}, {127, 33}, {200, 113}, {321, 240}};
    static const int counts[] = {0, 1, 10, 300, 3000, 20000};
    int unstable = 0, off = 0;
    for (int i = 0; i < CASES; i++) {
        random_scene_desc sd = {.count = counts[(int)(rng_uniform(&r) * 6)], .sh_degree = (int)(rng_uniform(&r) * 4),
                                .degenerate = i % 3 == 0, .depth_min = 0.3, .depth_max = 10, .spread = 0.9,
                                .log_scale_min = -6, .log_scale_max = -0.5};
        rd_scene_desc arrays = random_scene(&r, &sd);
        rd_camera cam = random_camera(&r, sizes[i % 6][0], sizes[i % 6][1]);
        rd_render_desc desc = {.flags = (uint32_t)(rng_uniform(&r) * 8) & 7u,
                               .background = {(float)rng_uniform(&r), (float)rng_uniform(&r), (float)rng_uniform(&r)}};
        size_t P = (size_t)cam.width * cam.height;
        CHECK_OK(render(cpu, &arrays, &cam, &desc, want));
        for (int v = 0; v < VARIANT_COUNT; v++) {
            if (!CHECK_OK(render(gpu[v], &arrays, &cam, &desc, first))) continue;
            double worst = 0.0;
            for (size_t k = 0; k < P * 4; k++) worst = fmax(worst, fabs((double)first->color[k] - want->color[k]));
            if (!(worst <= 0.05) && off++ < 10)
                printf("  case %d (%dx%d, %lld Gaussians, SH %d, flags %u) on %s: colour %g from the CPU's\n", i, cam.width,
                       cam.height, (long long)arrays.count, arrays.sh_degree, desc.flags, VARIANTS[v].name, worst);
            for (int k = 0; k <= REPEATS; k++) {
                rd_context *ctx = gpu[v], *fresh = NULL;
                if (k == REPEATS) { /* a fresh context of the variant */
                    if (!CHECK_OK(rd_context_create_tuned(&(rd_context_desc){.backend = RD_BACKEND_CUDA, .log = test_log},
                                                          &VARIANTS[v].tuning, &fresh)))
                        break;
                    ctx = fresh;
                }
                if (CHECK_OK(render(ctx, &arrays, &cam, &desc, again))) {
                    size_t n = differing(first, again, P);
                    if (n && unstable < 10) describe_difference(first, again, P);
                    if (n && unstable++ < 10)
                        printf("  case %d (%dx%d, %lld Gaussians, SH %d, flags %u) on %s: render %d%s differs from the first in "
                               "%zu values\n", i, cam.width, cam.height, (long long)arrays.count, arrays.sh_degree, desc.flags,
                               VARIANTS[v].name, k + 2, fresh ? " (a fresh context)" : "", n);
                }
                rd_context_destroy(fresh);
            }
        }
        random_scene_free(&arrays);
    }
    printf("test_gpu_repeat: %d renders differed from their case's first, %d first renders off the CPU's\n", unstable, off);
    CHECK(unstable == 0 && off == 0);
    free(first), free(again), free(want);
    for (int v = 0; v < VARIANT_COUNT; v++) rd_context_destroy(gpu[v]);
    rd_context_destroy(cpu);
    return test_finish("test_gpu_repeat");
}
