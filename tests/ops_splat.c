/* ops_splat.c: the splat renderer's rows of the cross-backend harness (backend_ops.h):
   random scenes and cameras rendered on every backend against the CPU, several views in
   one call, means on pixel centres, the GPU frames' key capacity, device-memory scenes
   and images, and scene copies kept per context. */
#include "backend_ops.h"
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_VIEWS = 3 };

/* A case: Gaussians, the cameras rendered in one call, and the render settings. */
typedef struct splat_case {
    int index;
    random_scene_desc shape;
    rd_scene_desc arrays;
    rd_scene_desc second; /* splat_contexts' other scene */
    rd_camera cameras[MAX_VIEWS];
    int views;
    rd_render_desc desc;
    bool large, reduced, shrunk;
} splat_case;

/* A render's outputs, one set a view, poisoned before the run. */
typedef struct frame_outputs {
    float *color, *depth, *trans;
    uint32_t *contrib;
} frame_outputs;

typedef struct splat_outputs {
    frame_outputs views[MAX_VIEWS];
    int count;
} splat_outputs;

static size_t pixels(const rd_camera *c) { return (size_t)c->width * c->height; }

static void alloc_poisoned(const rd_camera *cam, frame_outputs *out)
{
    size_t P = pixels(cam);
    out->color = malloc(P * 4 * sizeof(float));
    out->depth = malloc(P * sizeof(float));
    out->trans = malloc(P * sizeof(float));
    out->contrib = malloc(P * sizeof(uint32_t));
    for (size_t i = 0; i < P * 4; i++) out->color[i] = NAN;
    for (size_t i = 0; i < P; i++) { out->depth[i] = NAN; out->trans[i] = NAN; out->contrib[i] = 0xdeadbeef; }
}

static rd_framebuffer framebuffer_of(frame_outputs *o)
{
    return (rd_framebuffer){.color = o->color, .depth = o->depth, .transmittance = o->trans, .contributors = o->contrib};
}

static void free_frame(frame_outputs *o)
{
    free(o->color);
    free(o->depth);
    free(o->trans);
    free(o->contrib);
}

static void free_outputs(void *outputs)
{
    splat_outputs *o = outputs;
    if (!o) return;
    for (int v = 0; v < o->count; v++) free_frame(&o->views[v]);
    free(o);
}

static splat_outputs *new_outputs(const splat_case *c)
{
    splat_outputs *o = calloc(1, sizeof *o);
    for (int v = 0; v < c->views; v++) alloc_poisoned(&c->cameras[v], &o->views[v]);
    o->count = c->views;
    return o;
}

/* A run's outputs, poisoned, handed to the harness at once (it frees them whatever the run returns). */
static splat_outputs *run_outputs(const splat_case *c, void **outputs)
{
    splat_outputs *out = new_outputs(c);
    *outputs = out;
    return out;
}

static splat_case *new_case(test_rng *r, int index, const random_scene_desc *shape)
{
    splat_case *c = calloc(1, sizeof *c);
    c->index = index;
    c->shape = *shape;
    c->arrays = random_scene(r, shape);
    c->views = 1;
    return c;
}

static void free_inputs(void *inputs)
{
    splat_case *c = inputs;
    random_scene_free(&c->arrays);
    random_scene_free(&c->second);
    free(c);
}

static bool is_large(const void *inputs) { return ((const splat_case *)inputs)->large; }

static void describe(const void *inputs)
{
    const splat_case *c = inputs;
    printf("%dx%d, %lld Gaussians, SH %d, render flags %u, scene flags %u\n", c->cameras[0].width, c->cameras[0].height,
           (long long)c->arrays.count, c->arrays.sh_degree, c->desc.flags, c->arrays.flags);
}

/* flags: the render's. With RD_RENDER_EXPECTED_DEPTH, the depth D / alpha of a pixel
   whose alpha is under 2/255 on either side is not compared: there it comes from a
   Gaussian or two at the 1/255 threshold, and a flip (a GPU's exponential on the other
   side of it) moves the depth by a whole depth value, not by a fraction of one (seen on
   the H100's Vulkan backend: one pixel 1.33 off, RADIANT_TEST_SEED=243447453). */
static bool compare_frame(const op_tolerance *tol, const frame_outputs *got, const frame_outputs *want, size_t P, uint32_t flags)
{
    size_t flips = P * tol->flip_per_mille / 1000 + (tol->flip_per_mille ? 2 : 0);
    double max_abs = tol->max_abs;
    compare_result c = compare_floats(got->color, want->color, P * 4, max_abs);
    compare_result t = compare_floats(got->trans, want->trans, P, max_abs);
    unsigned char *faint = NULL; /* pixels whose depth is not compared */
    if (flags & RD_RENDER_EXPECTED_DEPTH) {
        if (!CHECK((faint = malloc(P)) != NULL)) return false;
        for (size_t p = 0; p < P; p++)
            faint[p] = 1.0f - got->trans[p] < 2.0f / 255.0f || 1.0f - want->trans[p] < 2.0f / 255.0f;
    }
    compare_result d = compare_floats_skip(got->depth, want->depth, P, max_abs * 10, faint);
    free(faint);
    bool ok = compare_ok("colour+alpha", c, flips, max_abs > 0 ? 0.05 : 0) &&
              compare_ok("transmittance", t, flips, max_abs > 0 ? 0.05 : 0) && compare_ok("depth", d, flips, max_abs > 0 ? 1.0 : 0);
    ok &= c.rel_l2 <= tol->rel_l2 || c.rel_l2 == 0;
    size_t contrib_bad = 0;
    for (size_t p = 0; p < P; p++) contrib_bad += got->contrib[p] != want->contrib[p];
    return ok && contrib_bad <= flips;
}

static bool compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const splat_case *c = inputs;
    const splat_outputs *got = got_outputs, *want = want_outputs;
    bool ok = true;
    for (int v = 0; v < c->views; v++)
        ok &= compare_frame(&env->tol, &got->views[v], &want->views[v], pixels(&c->cameras[v]), c->desc.flags);
    return ok;
}

/* The run every row shares: the case's Gaussians as a scene of ctx, its views in one call. */
static rd_result render_case(rd_context *ctx, splat_case *c, splat_outputs *out)
{
    rd_scene *scene = NULL;
    rd_result r = rd_scene_create(ctx, &c->arrays, &scene);
    rd_framebuffer fbs[MAX_VIEWS];
    for (int v = 0; v < c->views; v++) fbs[v] = framebuffer_of(&out->views[v]);
    if (r == RD_OK) r = rd_render_views(ctx, scene, c->views, c->cameras, &c->desc, fbs);
    rd_scene_destroy(scene);
    return r;
}

/* ---- splat_render: random scenes and cameras -------------------------------------------- */

/* After 24 small random cases, two scenes around the camera (most Gaussians behind it; the
   camera inside a dense cloud); GPUs also get large ones: 100k Gaussians at 640x480, a
   million at 1280x720, and 100k at 7680x4320 (~7e8 pairs, which no device's allocations
   hold: it must fail cleanly, then runs with smaller splats, ~1e8 pairs). On software
   devices and in the sanitizer build, where the device or the CPU reference runs many times
   slower, the million is left out and the 8K case runs again with splats of ~1e6 pairs: it
   still splits the blend's 129,600 groups over y and fills buffers past 128 MiB. The
   sanitizer build leaves all three large cases to the release build. */
static int render_cases(const op_env *env) { return env->variant ? 24 : env->gpu ? 29 : 26; }

static void *render_generate(const op_env *env, test_rng *r, int i)
{
    if (i == 27 && env->reduced) {
        printf("  %s: splat_render case 27 (a million Gaussians) left out here (a software device or the sanitizer build)\n",
               env->name);
        return NULL;
    }
    if (i >= 26 && TEST_SANITIZED) { /* the release build runs them on the same host code; here their CPU references took 80 s */
        printf("  %s: splat_render case %d (large) left out in the sanitizer build\n", env->name, i);
        return NULL;
    }
    static const int sizes[][2] = {{1, 1}, {15, 17}, {64, 64}, {127, 33}, {200, 113}, {321, 240}};
    static const int counts[] = {0, 1, 10, 300, 3000, 20000};
    static const int large_sizes[3][2] = {{640, 480}, {1280, 720}, {7680, 4320}};
    static const int large_counts[3] = {100000, 1000000, 100000};
    bool around = i == 24 || i == 25, large = i >= 26;
    const int *size = large ? large_sizes[i - 26] : around ? sizes[5] : sizes[i % 6];
    random_scene_desc sd = {.count = large ? large_counts[i - 26] : around ? 20000 : counts[(int)(rng_uniform(r) * 6)],
                            .sh_degree = (int)(rng_uniform(r) * 4),
                            .degenerate = i % 3 == 0, .depth_min = 0.3, .depth_max = 10, .spread = 0.9,
                            .log_scale_min = -6, .log_scale_max = -0.5};
    if (i == 24) { sd.depth_min = -30; sd.depth_max = 3; }                        /* ~90% behind */
    if (i == 25) { sd.depth_min = -2; sd.depth_max = 2; sd.spread = 2; sd.log_scale_max = -2; } /* inside */
    splat_case *c = new_case(r, i, &sd);
    c->cameras[0] = random_camera(r, size[0], size[1]);
    c->desc = (rd_render_desc){.flags = (uint32_t)(rng_uniform(r) * 8) & 7u,
                               .background = {(float)rng_uniform(r), (float)rng_uniform(r), (float)rng_uniform(r)}};
    c->large = large;
    c->reduced = env->reduced;
    return c;
}

/* The log-scales' range [min, max] mapped onto [min, to]: the same scene with smaller splats. */
static void shrink_splats(splat_case *c, double to)
{
    float *scales = (float *)c->arrays.log_scales;
    double lo = c->shape.log_scale_min, hi = c->shape.log_scale_max;
    for (int64_t k = 0; k < 3 * c->arrays.count; k++)
        if (isfinite(scales[k])) scales[k] = (float)(lo + (scales[k] - lo) * (to - lo) / (hi - lo));
    c->shrunk = true;
}

/* The backend under test runs first: where its allocations cannot hold the large case's
   pairs, it must say so cleanly, and the case then shrinks for it and the reference. */
static rd_result render_run(rd_context *ctx, void *inputs, void **outputs)
{
    splat_case *c = inputs;
    splat_outputs *out = run_outputs(c, outputs);
    rd_result r = render_case(ctx, c, out);
    if (r == RD_ERROR_OUT_OF_MEMORY && c->large && !c->shrunk && rd_context_backend(ctx) != RD_BACKEND_CPU) {
        printf("  splat_render case %d: %s; again with smaller splats\n", c->index, rd_last_error(ctx));
        CHECK(strstr(rd_last_error(ctx), "GiB") != NULL); /* what it needed against the limit (heap, buffer or allocation) */
        shrink_splats(c, c->reduced ? -4.5 : -2);
        free_outputs(out);
        return render_run(ctx, c, outputs);
    }
    return r;
}

const backend_op OP_SPLAT_RENDER = {"splat_render", {2e-3, 1e-3, 5}, render_cases, render_generate, is_large, render_run,
                                    compare, describe, free_inputs, free_outputs};

/* ---- splat_packed: scenes of the inference layout (issue 35, RD_SCENE_PACKED) ------------- */

/* The small render cases with the layout's flags, in turn RD_SCENE_HALF_SH,
   RD_SCENE_HALF_SHAPE and both: every backend renders the values rounded to half
   precision, CUDA and Vulkan from halves (the SH at every degree: degree 0's rows of
   three halves start at odd ones; every other case renders at a random degree, capped by
   the stored one), within the render row's tolerance of the CPU: the halves hold the
   rounded values exactly, so the layout costs nothing here (what the rounding costs
   against the floats, test_half_sh measures: at least 50 dB). */
static int packed_cases(const op_env *env) { return env->variant ? 9 : 18; }

static void *packed_generate(const op_env *env, test_rng *r, int i)
{
    static const uint32_t flags[3] = {RD_SCENE_HALF_SH, RD_SCENE_HALF_SHAPE, RD_SCENE_PACKED};
    splat_case *c = render_generate(env, r, i); /* small cases: i < 24 */
    c->arrays.flags |= flags[(i / 3) % 3]; /* each with the degenerate cases (i % 3 == 0) and both degree paths */
    if (i % 2) c->desc.sh_degree = RD_SH_DEGREE((int)(rng_uniform(r) * 4)); /* at most the stored degree: its row's slow path */
    return c;
}

const backend_op OP_SPLAT_PACKED = {"splat_packed", {2e-3, 1e-3, 5}, packed_cases, packed_generate, is_large, render_run,
                                    compare, describe, free_inputs, free_outputs};

/* ---- splat_render_views: several cameras in one call -------------------------------------- */

/* Three cameras of different sizes in one call; a bad camera anywhere fails the call before
   any target is written. (The CPU reference renders them in one call too: the core loops
   over the views, and the CPU renders each as alone.) */
static int one_case(const op_env *env) { (void)env; return 1; }

static void *views_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    random_scene_desc sd = {.count = 4000, .sh_degree = 3, .depth_min = 0.5, .depth_max = 8, .spread = 0.8,
                            .log_scale_min = -5, .log_scale_max = -1};
    splat_case *c = new_case(r, i, &sd);
    c->views = 3;
    c->cameras[0] = random_camera(r, 160, 90);
    c->cameras[1] = random_camera(r, 33, 77);
    c->cameras[2] = random_camera(r, 256, 256);
    c->desc = (rd_render_desc){.flags = RD_RENDER_EXPECTED_DEPTH, .background = {0.2f, 0.3f, 0.4f}};
    return c;
}

static rd_result views_run(rd_context *ctx, void *inputs, void **outputs)
{
    splat_case *c = inputs;
    splat_outputs *out = run_outputs(c, outputs);
    rd_scene *scene = NULL;
    rd_result r = rd_scene_create(ctx, &c->arrays, &scene);
    rd_camera bad[MAX_VIEWS] = {c->cameras[0], c->cameras[1], c->cameras[2]};
    bad[2].fx = -1.0f;
    rd_framebuffer fbs[MAX_VIEWS];
    for (int v = 0; v < c->views; v++) fbs[v] = framebuffer_of(&out->views[v]);
    if (r == RD_OK) {
        CHECK_FAILS(rd_render_views(ctx, scene, 3, bad, &c->desc, fbs), RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "view 2") != NULL && isnan(out->views[0].color[0]));
    }
    rd_scene_destroy(scene);
    return r == RD_OK ? render_case(ctx, c, out) : r;
}

const backend_op OP_SPLAT_RENDER_VIEWS = {"splat_render_views", {2e-3, 1e-3, 5}, one_case, views_generate, NULL, views_run,
                                          compare, describe, free_inputs, free_outputs};

/* ---- splat_centred_means: means on pixel centres ------------------------------------------ */

/* Gaussians whose means project onto pixel centres, opaque enough to be seen there: at such
   a pixel the quadratic form is zero up to rounding, and the GPU blends evaluate it
   differently from the CPU (a polynomial in the pixel's offset from its block), so they
   must not read a rounding error above zero as the CPU's power > 0 and drop the Gaussian. */
static void *centred_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    random_scene_desc sd = {.count = 3000, .sh_degree = 0, .depth_min = 1, .depth_max = 6, .spread = 0.5,
                            .log_scale_min = -6, .log_scale_max = -3};
    splat_case *c = new_case(r, i, &sd);
    rd_camera cam = random_camera(r, 160, 120);
    float *means = (float *)c->arrays.means, *opacities = (float *)c->arrays.opacities;
    for (int k = 0; k < sd.count; k++) {
        float z = means[3 * k + 2];
        int px = (int)(rng_uniform(r) * cam.width), py = (int)(rng_uniform(r) * cam.height);
        means[3 * k + 0] = ((float)px + 0.5f - cam.cx) * z / cam.fx;
        means[3 * k + 1] = ((float)py + 0.5f - cam.cy) * z / cam.fy;
        opacities[k] = 4.0f; /* sigmoid: 0.98 */
    }
    c->cameras[0] = cam;
    c->desc = (rd_render_desc){.background = {0.5f, 0.5f, 0.5f}};
    return c;
}

static rd_result plain_run(rd_context *ctx, void *inputs, void **outputs)
{
    splat_case *c = inputs;
    splat_outputs *out = run_outputs(c, outputs);
    return render_case(ctx, c, out);
}

const backend_op OP_SPLAT_CENTRED_MEANS = {"splat_centred_means", {2e-3, 1e-3, 5}, one_case, centred_generate, NULL, plain_run,
                                           compare, describe, free_inputs, free_outputs};

/* ---- splat_capacity: key buffers that shrink and grow again -------------------------------- */

/* A view with many pairs, then enough views with few that a GPU backend may shrink its
   capacity, then the first view again, which must then grow it within the frame and come
   out bit for bit as the first time (and within tolerance of the reference). GPUs only. */
static int gpu_case(const op_env *env) { return env->gpu ? 1 : 0; }

static void *capacity_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    random_scene_desc sd = {.count = 20000, .sh_degree = 1, .depth_min = 1, .depth_max = 6, .spread = 0.8,
                            .log_scale_min = -4, .log_scale_max = -2};
    splat_case *c = new_case(r, i, &sd);
    c->cameras[0] = random_camera(r, 640, 480);
    return c;
}

/* A GPU frame's host times (issue 35's Vulkan wall time against GPU time): both parts
   there, the whole call at least their sum, and Vulkan's submit-and-wait at least the GPU
   time its timestamps measured inside it (the clocks' rates agree to 10%). */
static bool host_times_ok(rd_context *ctx, const rd_render_stats *st)
{
    bool vulkan = rd_context_backend(ctx) == RD_BACKEND_VULKAN;
    if (!vulkan && rd_context_backend(ctx) != RD_BACKEND_CUDA) return true; /* the CPU reference's run */
    double first = rd_render_stats_count(st, vulkan ? "host_record_us" : "host_launch_us");
    double second = rd_render_stats_count(st, vulkan ? "host_submit_wait_us" : "host_wait_us");
    double call = rd_render_stats_count(st, "host_call_us"), gpu = 1e3 * st->total_ms;
    printf("  %s host times: %s %.0f us, %s %.0f us, the call %.0f us; GPU %.0f us\n", rd_backend_name(rd_context_backend(ctx)),
           vulkan ? "recording" : "launching", first, vulkan ? "submit and wait" : "waiting", second, call, gpu);
    return first > 0.0 && second > 0.0 && call >= first + second && (!vulkan || second >= 0.9 * gpu);
}

static rd_result capacity_run(rd_context *ctx, void *inputs, void **outputs)
{
    splat_case *c = inputs;
    splat_outputs *out = run_outputs(c, outputs);
    rd_scene *scene = NULL;
    rd_result r = rd_scene_create(ctx, &c->arrays, &scene);
    rd_camera wide = c->cameras[0], small = wide;
    small.width = small.height = 16;
    small.cx = small.cy = 8.0f;
    rd_framebuffer first_fb = framebuffer_of(&out->views[0]);
    rd_render_stats wide_stats = {0}, small_stats = {0};
    if (r == RD_OK) r = rd_render(ctx, scene, &wide, &c->desc, &first_fb);
    rd_render_last_stats(ctx, &wide_stats);
    for (int k = 0; k < 20 && r == RD_OK; k++) {
        frame_outputs tiny;
        alloc_poisoned(&small, &tiny);
        rd_framebuffer fb = framebuffer_of(&tiny);
        r = rd_render(ctx, scene, &small, &c->desc, &fb);
        free_frame(&tiny);
    }
    rd_render_last_stats(ctx, &small_stats);
    frame_outputs again;
    alloc_poisoned(&wide, &again);
    rd_framebuffer again_fb = framebuffer_of(&again);
    if (r == RD_OK) r = rd_render(ctx, scene, &wide, &c->desc, &again_fb);
    if (r == RD_OK) {
        const frame_outputs *first = &out->views[0];
        size_t P = pixels(&wide);
        bool same = memcmp(first->color, again.color, P * 4 * sizeof(float)) == 0 &&
                    memcmp(first->trans, again.trans, P * sizeof(float)) == 0 &&
                    memcmp(first->contrib, again.contrib, P * sizeof(uint32_t)) == 0;
        /* the shrink needs the small views under a quarter of the wide one's pairs */
        double wide_pairs = rd_render_stats_count(&wide_stats, "pairs"), small_pairs = rd_render_stats_count(&small_stats, "pairs");
        bool shrinks = small_pairs * 8 < wide_pairs;
        printf("  %s: %llu pairs, then 20 views of %llu, then the first view again: %s\n",
               rd_backend_name(rd_context_backend(ctx)), (unsigned long long)wide_pairs, (unsigned long long)small_pairs,
               same ? "identical" : "DIFFERS");
        CHECK(same && shrinks);
        CHECK(host_times_ok(ctx, &wide_stats));
    }
    free_frame(&again);
    rd_scene_destroy(scene);
    return r;
}

const backend_op OP_SPLAT_CAPACITY = {"splat_capacity", {2e-3, 1e-3, 5}, gpu_case, capacity_generate, NULL, capacity_run,
                                      compare, describe, free_inputs, free_outputs};

/* ---- splat_device_arrays: scenes and images in device memory --------------------------------- */

/* A reconstruction tool's path (and the viewer's): Gaussians already in device memory, used
   in place, and the image left in device memory (CUDA pointers, Vulkan buffer device
   addresses). It must equal the same scene rendered from host arrays, bit for bit; that
   render wants every output and this one colour alone, which the CUDA and Vulkan blends do
   without the depth and count (EXTRAS in blend_kernel and blend.comp). The host render is
   the row's output, compared with the reference. GPUs only, once a backend. */
static int device_case(const op_env *env) { return env->gpu && !env->variant ? 1 : 0; }

static void *device_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    random_scene_desc sd = {.count = 5000, .sh_degree = 3, .depth_min = 0.5, .depth_max = 8, .spread = 0.8,
                            .log_scale_min = -5, .log_scale_max = -1};
    splat_case *c = new_case(r, i, &sd);
    c->cameras[0] = random_camera(r, 200, 150);
    return c;
}

/* The device-memory render of c on a GPU context, checked against host (the host render). */
static void check_device_render(rd_context *ctx, const splat_case *c, const frame_outputs *host)
{
    const rd_scene_desc *h = &c->arrays;
    int64_t n = h->count;
    rd_scene_desc dev = *h;
    dev.memory = RD_MEMORY_DEVICE;
    const float *src[5] = {h->means, h->log_scales, h->rotations, h->opacities, h->sh};
    const float **dst[5] = {&dev.means, &dev.log_scales, &dev.rotations, &dev.opacities, &dev.sh};
    size_t floats[5] = {3, 3, 4, 1, 48};
    rd_memory mem = RD_MEMORY_HOST;
    for (int k = 0; k < 5; k++) {
        void *p = NULL;
        CHECK_OK(rd_buffer_alloc(ctx, floats[k] * sizeof(float) * (size_t)n, &p, &mem));
        CHECK_OK(rd_buffer_copy(ctx, p, mem, src[k], RD_MEMORY_HOST, floats[k] * sizeof(float) * (size_t)n));
        *dst[k] = p;
    }
    CHECK(mem == RD_MEMORY_DEVICE);
    rd_scene *s_dev = NULL;
    CHECK_OK(rd_scene_create(ctx, &dev, &s_dev));
    const rd_camera *cam = &c->cameras[0];
    size_t bytes = pixels(cam) * 4 * sizeof(float);
    void *color_dev = NULL;
    CHECK_OK(rd_buffer_alloc(ctx, bytes, &color_dev, &mem));
    rd_framebuffer fb = {.color = color_dev, .memory = mem};
    CHECK_OK(rd_render(ctx, s_dev, cam, &c->desc, &fb));
    float *got = malloc(bytes);
    CHECK_OK(rd_buffer_copy(ctx, got, RD_MEMORY_HOST, color_dev, mem, bytes));
    bool same = memcmp(got, host->color, bytes) == 0;
    CHECK(same);
    if (rd_context_backend(ctx) == RD_BACKEND_VULKAN) { /* no buffer of the context: refused, not dereferenced */
        CHECK_FAILS(rd_buffer_copy(ctx, got, RD_MEMORY_HOST, (void *)(uintptr_t)16, RD_MEMORY_DEVICE, 4), RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "the source") != NULL);
    }
    /* memory flagged as device memory that is not the context's: refused, never dereferenced */
    rd_framebuffer host_as_device = {.color = got, .memory = RD_MEMORY_DEVICE};
    CHECK_FAILS(rd_render(ctx, s_dev, cam, &c->desc, &host_as_device), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "framebuffer color") != NULL);
    rd_scene_desc host_arrays = *h;
    host_arrays.memory = RD_MEMORY_DEVICE;
    rd_scene *s_bad = NULL;
    CHECK_FAILS(rd_scene_create(ctx, &host_arrays, &s_bad), RD_ERROR_INVALID_ARGUMENT);
    CHECK(s_bad == NULL && strstr(rd_last_error(ctx), "rd_scene_create: means") != NULL);
    if (rd_context_backend(ctx) == RD_BACKEND_VULKAN) { /* a buffer smaller than the image */
        void *small = NULL;
        CHECK_OK(rd_buffer_alloc(ctx, bytes / 2, &small, &mem));
        rd_framebuffer short_fb = {.color = small, .memory = RD_MEMORY_DEVICE};
        CHECK_FAILS(rd_render(ctx, s_dev, cam, &c->desc, &short_fb), RD_ERROR_INVALID_ARGUMENT);
        CHECK(strstr(rd_last_error(ctx), "past the end") != NULL);
        rd_buffer_free(ctx, small);
    }
    printf("  device arrays in place, image in device memory: %s\n", same ? "identical to the host-array render" : "DIFFERENT");
    rd_scene_info info;
    rd_scene_get_info(s_dev, &info);
    CHECK(info.count == n && strcmp(info.format, "device-arrays") == 0);
    CHECK_FAILS(rd_scene_save_ply(ctx, s_dev, "/tmp/never-written.ply"), RD_ERROR_INVALID_ARGUMENT);
    free(got);
    rd_buffer_free(ctx, color_dev);
    rd_scene_destroy(s_dev);
    for (int k = 0; k < 5; k++) rd_buffer_free(ctx, (void *)*dst[k]);
}

static rd_result device_run(rd_context *ctx, void *inputs, void **outputs)
{
    splat_case *c = inputs;
    splat_outputs *out = run_outputs(c, outputs);
    rd_result r = render_case(ctx, c, out);
    if (r == RD_OK && rd_context_backend(ctx) != RD_BACKEND_CPU) check_device_render(ctx, c, &out->views[0]);
    return r;
}

const backend_op OP_SPLAT_DEVICE_ARRAYS = {"splat_device_arrays", {2e-3, 1e-3, 5}, device_case, device_generate, NULL,
                                           device_run, compare, describe, free_inputs, free_outputs};

/* ---- splat_contexts: scene copies kept per context ------------------------------------------ */

/* Each GPU context keeps its own device copy of the last scene it rendered, recognised by
   the scene's uid. Two contexts render two scenes by turns, one context is destroyed and
   the other goes on: every render of a scene must equal its first bit for bit (a copy
   shared between contexts, or one not replaced when the scene changes, shows here as a
   different image or a fault). The first render is the row's output. GPUs only, once a
   backend. */
static void *contexts_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    random_scene_desc sd = {.count = 3000, .sh_degree = 2, .depth_min = 0.5, .depth_max = 8, .spread = 0.8,
                            .log_scale_min = -5, .log_scale_max = -1};
    splat_case *c = new_case(r, i, &sd);
    c->cameras[0] = random_camera(r, 160, 120);
    c->second = random_scene(r, &sd);
    return c;
}

static rd_result contexts_run(rd_context *ctx, void *inputs, void **outputs)
{
    splat_case *c = inputs;
    splat_outputs *out = run_outputs(c, outputs);
    const rd_camera *cam = &c->cameras[0];
    size_t bytes = pixels(cam) * 4 * sizeof(float);
    rd_context *other = NULL;
    rd_scene *scenes[2][2] = {{NULL, NULL}, {NULL, NULL}}; /* [context][scene] */
    rd_result r = rd_context_create(&(rd_context_desc){.backend = rd_context_backend(ctx), .log = test_log}, &other);
    rd_context *contexts[2] = {ctx, other};
    for (int k = 0; k < 2 && r == RD_OK; k++)
        for (int s = 0; s < 2 && r == RD_OK; s++) r = rd_scene_create(contexts[k], s ? &c->second : &c->arrays, &scenes[k][s]);
    float *first[2] = {malloc(bytes), malloc(bytes)}, *got = malloc(bytes);
    int differs = 0, renders = 0;
    /* context, scene: both contexts by turns, then the first alone after the other is gone */
    static const int order[][2] = {{0, 0}, {1, 1}, {0, 1}, {1, 0}, {0, 0}, {1, 1}, {0, 1}, {0, 0}};
    for (size_t k = 0; k < sizeof order / sizeof order[0] && r == RD_OK; k++) {
        int x = order[k][0], s = order[k][1];
        if (k == 6) { /* the second context goes, scenes first */
            rd_scene_destroy(scenes[1][0]), rd_scene_destroy(scenes[1][1]);
            scenes[1][0] = scenes[1][1] = NULL;
            rd_context_destroy(other);
            contexts[1] = other = NULL;
        }
        /* the first render fills the row's output, every output of it */
        rd_framebuffer fb = k == 0 ? framebuffer_of(&out->views[0]) : (rd_framebuffer){.color = k < 2 ? first[s] : got};
        r = rd_render(contexts[x], scenes[x][s], cam, &c->desc, &fb);
        if (r == RD_OK && k == 0) memcpy(first[0], out->views[0].color, bytes);
        if (r == RD_OK && k >= 2) differs += memcmp(got, first[s], bytes) != 0, renders++;
    }
    if (r == RD_OK) {
        printf("  two contexts, two scenes by turns, then one context alone: %d of %d renders differ from the first\n", differs,
               renders);
        CHECK(differs == 0 && memcmp(first[0], first[1], bytes) != 0); /* the scenes themselves differ */
    }
    for (int k = 0; k < 2; k++)
        for (int s = 0; s < 2; s++) rd_scene_destroy(scenes[k][s]);
    rd_context_destroy(other);
    free(first[0]), free(first[1]), free(got);
    return r;
}

const backend_op OP_SPLAT_CONTEXTS = {"splat_contexts", {2e-3, 1e-3, 5}, device_case, contexts_generate, NULL, contexts_run,
                                      compare, describe, free_inputs, free_outputs};
