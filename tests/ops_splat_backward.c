/* ops_splat_backward.c: the backward pass's row of the cross-backend harness
   (backend_ops.h): random scenes (degenerate members included), cameras, render settings
   and output gradients; every gradient array (the world covariances' too), the pose's
   and the densification statistics against the one-thread CPU. The threaded CPU must match it bit for bit (the
   CPU pass sums in a fixed order). CUDA also gets a case with every array in device
   memory and two large ones (100k Gaussians at 640x480, 1M at 1280x720, against the
   threaded CPU); the device-memory case and the 1M one render first with
   RD_RENDER_FOR_BACKWARD, so that the pass takes that frame rather than rendering again; the
   odd cases (the 100k one among them) ask for RD_RENDER_DETERMINISTIC, CUDA's ordered
   sums. Vulkan has no backward pass yet (its own issue) and runs no case.
   On GPUs a field compares by its relative L2 error and by the samples off by more than
   max_abs times (|reference| + the field's RMS): the GPU blends with the hardware's exp2
   (splat_cuda_alpha.cuh), undoes each step by dividing by 1 - alpha and sums a
   Gaussian's pixels in another order; where a pixel's alpha sits at 1/255 or its
   transmittance at the stop, one side blends a Gaussian that the other does not, and a
   Gaussian seen by few pixels then differs by more than rounding (the flip budget). */
#include "backend_ops.h"
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct backward_case {
    bool large, device; /* device: every array in device memory */
    bool kept;          /* rendered first with RD_RENDER_FOR_BACKWARD, whose frame the pass takes */
    rd_scene_desc arrays;
    rd_camera camera;
    rd_render_desc desc;
    float *grad_color, *grad_depth;
} backward_case;

enum { FIELDS = 9 }; /* means, log-scales, rotations, opacities, sh, mean2d_norm, views_seen (as floats), w2c, covariances */

typedef struct backward_outputs {
    float *field[FIELDS];
    size_t size[FIELDS];
} backward_outputs;

static bool has_backward(const op_env *env) { return rd_context_backend(env->ctx) != RD_BACKEND_VULKAN; }

static int backward_cases(const op_env *env)
{
    if (!has_backward(env)) return 0;
    return env->gpu && !env->variant ? 13 : 10;
}

static bool backward_large(const void *inputs) { return ((const backward_case *)inputs)->large; }

static void *backward_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const int counts[] = {1, 10, 300, 3000};
    static const int sizes[][2] = {{15, 17}, {64, 64}, {127, 33}, {200, 113}};
    static const int large_sizes[][2] = {{640, 480}, {1280, 720}};
    backward_case *c = calloc(1, sizeof *c);
    c->large = i >= 11, c->device = i == 10, c->kept = i == 10 || i == 12;
    if (c->large && env->reduced) { /* a sanitizer build: a tenth of each */
        free(c);
        return NULL;
    }
    random_scene_desc sd = {.count = c->large ? (i == 11 ? 100000 : 1000000) : counts[i % 4],
                            .sh_degree = (int)(rng_uniform(r) * 4), .degenerate = i % 3 == 0, .depth_min = 0.3,
                            .depth_max = 10, .spread = 0.9, .log_scale_min = c->large ? -7 : -6, .log_scale_max = c->large ? -3 : -0.5};
    c->arrays = random_scene(r, &sd);
    const int *size = c->large ? large_sizes[i - 11] : sizes[(int)(rng_uniform(r) * 4)];
    c->camera = random_camera(r, size[0], size[1]);
    /* odd cases sum in a fixed order on CUDA (RD_RENDER_DETERMINISTIC: splat_backward_ordered.cu) */
    c->desc = (rd_render_desc){.flags = ((uint32_t)(rng_uniform(r) * 8) & 7u) | (i % 2 ? RD_RENDER_DETERMINISTIC : 0u),
                               .background = {(float)rng_uniform(r), (float)rng_uniform(r), (float)rng_uniform(r)},
                               .sh_degree = i % 5 == 4 ? RD_SH_DEGREE(1) : 0};
    op_random_output_grads(r, (size_t)size[0] * (size_t)size[1], &c->grad_color, &c->grad_depth);
    return c;
}

void op_random_output_grads(test_rng *r, size_t pixels, float **color, float **depth)
{
    *color = malloc(4 * pixels * sizeof(float));
    *depth = malloc(pixels * sizeof(float));
    for (size_t p = 0; *color && p < 4 * pixels; p++) (*color)[p] = (float)rng_range(r, -1, 1);
    for (size_t p = 0; *depth && p < pixels; p++) (*depth)[p] = (float)rng_range(r, -0.1, 0.1);
}

static void backward_free_outputs(void *outputs)
{
    backward_outputs *o = outputs;
    for (int k = 0; o && k < FIELDS; k++) free(o->field[k]);
    free(o);
}

/* Where a case's arrays live for the pass: the host arrays themselves, or (c->device)
   copies in the context's own memory (device memory on GPUs), copied back afterwards. */
typedef struct placed_array {
    void *host, *used;
    size_t bytes;
} placed_array;

static rd_result place(rd_context *ctx, bool device, placed_array *a, rd_memory *memory)
{
    a->used = a->host;
    if (!device) return RD_OK;
    rd_result r = rd_buffer_alloc(ctx, a->bytes, &a->used, memory);
    return r == RD_OK ? rd_buffer_copy(ctx, a->used, *memory, a->host, RD_MEMORY_HOST, a->bytes) : r;
}

static rd_result backward_run(rd_context *ctx, void *inputs, void **outputs)
{
    backward_case *c = inputs;
    backward_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t n = (size_t)c->arrays.count, K = (size_t)(c->arrays.sh_degree + 1) * (size_t)(c->arrays.sh_degree + 1);
    size_t P = (size_t)c->camera.width * (size_t)c->camera.height;
    size_t sizes[FIELDS] = {3 * n, 3 * n, 4 * n, n, 3 * K * n, n, n, 16, 6 * n};
    for (int k = 0; k < FIELDS; k++) {
        o->size[k] = sizes[k];
        o->field[k] = calloc(sizes[k] + 1, sizeof(float));
    }
    uint32_t *seen = calloc(n + 1, sizeof(uint32_t));
    enum { ARRAYS = FIELDS + 2 }; /* the fields (views_seen as seen), then the output gradients */
    placed_array a[ARRAYS];
    for (int k = 0; k < FIELDS; k++) a[k] = (placed_array){k == 6 ? (void *)seen : o->field[k], NULL, sizes[k] * sizeof(float)};
    a[FIELDS] = (placed_array){c->grad_color, NULL, 4 * P * sizeof(float)};
    a[FIELDS + 1] = (placed_array){c->grad_depth, NULL, P * sizeof(float)};
    rd_memory memory = RD_MEMORY_HOST;
    rd_scene *scene = NULL;
    rd_result r = rd_scene_create(ctx, &c->arrays, &scene);
    for (int k = 0; k < ARRAYS && r == RD_OK; k++) r = place(ctx, c->device, &a[k], &memory);
    rd_gaussian_grads g = {a[0].used, a[1].used, a[2].used, a[3].used, a[4].used, a[5].used, a[6].used, a[8].used};
    rd_render_desc keep = c->desc;
    keep.flags |= RD_RENDER_FOR_BACKWARD;
    float *image = c->kept ? malloc(4 * P * sizeof(float)) : NULL;
    if (r == RD_OK && c->kept) r = rd_render(ctx, scene, &c->camera, &keep, &(rd_framebuffer){.color = image});
    free(image);
    if (r == RD_OK)
        r = rd_render_backward(ctx, scene, 1, &c->camera, c->kept ? &keep : &c->desc, &(rd_render_grads){a[FIELDS].used, a[FIELDS + 1].used, memory},
                               &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g, a[7].used, memory});
    for (int k = 0; k < ARRAYS; k++) {
        if (!c->device || !a[k].used) continue;
        if (r == RD_OK && k < FIELDS) r = rd_buffer_copy(ctx, a[k].host, RD_MEMORY_HOST, a[k].used, memory, a[k].bytes);
        rd_buffer_free(ctx, a[k].used);
    }
    for (size_t i = 0; i < n; i++) o->field[6][i] = (float)seen[i];
    free(seen);
    rd_scene_destroy(scene);
    return r;
}

/* A GPU's field (see the top): the samples off by more than max_abs (|want| + RMS(want)),
   at most flip_per_mille of them (and one at least), and the relative L2 error: in a
   per-Gaussian field of 1,000 samples or more, of the samples within that bound (a flipped
   Gaussian's sample, allowed by the budget, can outweigh every other sample's rounding:
   seed 2005045074's case 3 on "cuda (blend in one launch)", two log-scale samples of 9,000
   over and a relative error of 0.033 with them); in a smaller field (the pose's sums over
   every Gaussian) of all of them. */
bool op_gpu_field_ok(const op_env *env, const char *name, const float *got, const float *want, size_t n)
{
    double sum_sq = 0, diff_sq = 0;
    for (size_t i = 0; i < n; i++) sum_sq += (double)want[i] * want[i];
    double rms = sqrt(sum_sq / (double)(n ? n : 1));
    size_t over = 0, nonfinite = 0, budget = 1 + n * env->tol.flip_per_mille / 1000;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!isfinite(got[i])) nonfinite++;
        else if (d > env->tol.max_abs * (fabs(want[i]) + rms)) over++, diff_sq += n < 1000 ? d * d : 0.0;
        else diff_sq += d * d;
    }
    double rel = sum_sq > 0 ? sqrt(diff_sq / sum_sq) : sqrt(diff_sq);
    bool ok = nonfinite == 0 && over <= budget && rel <= env->tol.rel_l2;
    if (!ok || getenv("RADIANT_TEST_VERBOSE"))
        printf("  %s: rel_l2 %.3g, %zu of %zu over (budget %zu), %zu non-finite -> %s\n", name, rel, over, n, budget, nonfinite,
               ok ? "ok" : "FAIL");
    return ok;
}

bool op_compare_fields(const op_env *env, int fields, const char *const *names, float *const *got, float *const *want,
                       const size_t *sizes)
{
    bool ok = true;
    for (int k = 0; k < fields; k++) {
        if (env->gpu) {
            ok &= op_gpu_field_ok(env, names[k], got[k], want[k], sizes[k]);
            continue;
        }
        compare_result c = compare_floats(got[k], want[k], sizes[k], env->tol.max_abs);
        ok &= compare_ok(names[k], c, 0, env->tol.max_abs);
    }
    return ok;
}

static bool backward_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)inputs;
    const backward_outputs *got = got_outputs, *want = want_outputs;
    static const char *names[FIELDS] = {"means", "log_scales", "rotations", "opacities", "sh", "mean2d_norm", "views_seen", "w2c",
                                        "covariances"};
    return op_compare_fields(env, FIELDS, names, got->field, want->field, want->size);
}

static void backward_describe(const void *inputs)
{
    const backward_case *c = inputs;
    printf("%s%dx%d, %lld Gaussians, SH %d, flags %u, render degree %d\n", c->device ? "device memory, " : "", c->camera.width, c->camera.height,
           (long long)c->arrays.count, c->arrays.sh_degree, c->desc.flags, c->desc.sh_degree);
}

static void backward_free_inputs(void *inputs)
{
    backward_case *c = inputs;
    random_scene_free(&c->arrays);
    free(c->grad_color), free(c->grad_depth);
    free(c);
}

const backend_op OP_SPLAT_BACKWARD = {"splat_backward", {1e-2, 1e-2, 10}, backward_cases, backward_generate, backward_large,
                                      backward_run, backward_compare, backward_describe, backward_free_inputs,
                                      backward_free_outputs};
