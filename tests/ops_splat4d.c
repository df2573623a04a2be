/* ops_splat4d.c: the 4D Gaussians' row of the cross-backend harness (backend_ops.h):
   random 4D scenes (every SH and time degree, degenerate members among them; every third
   with random appearance networks in place of its stored colour and opacity) rendered at
   a random time on every backend (CPU threads, CUDA, Vulkan), against the CPU. On a GPU
   backend every other case makes its scene from device arrays, freed before the render
   (the scene is a copy). The backward row: the same kind of cases with random output
   gradients, every 4D gradient array, the densification statistics and the pose's
   against the one-thread CPU, on the backends with a backward pass (CPU, CUDA). */
#include "backend_ops.h"
#include "compare.h"
#include "../splat/appearance4d_cpu.h"
#include "../splat/scene4d.h"
#include "../splat/slice4d_math.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct scene4d_case {
    rd_scene4d_desc arrays;
    rd_appearance4d *networks; /* NULL, or appearance networks the render's scene gets a copy of */
    rd_camera camera;
    rd_render_desc desc;
    bool device_arrays; /* on GPU backends */
    float *grad_color, *grad_depth; /* the backward row's output gradients */
} scene4d_case;

typedef struct frame4d {
    float *color, *depth, *trans;
    uint32_t *contrib;
} frame4d;

static size_t case_pixels(const scene4d_case *c) { return (size_t)c->camera.width * c->camera.height; }

static int cases(const op_env *env) { return env->variant ? 6 : 14; }

/* Random appearance networks for n Gaussians (splat/appearance4d.h): the weights drawn
   as a trainer starts them, nudged (biases too), features within 1, the normalisation
   about the cases' Gaussians (depths 0.3-10, times 0-1). */
static rd_appearance4d *random_networks(test_rng *r, int sh_degree, int n)
{
    rd_appearance4d *a = rd_appearance4d_new(sh_degree, n);
    if (!a) return NULL;
    rd_appearance4d_init(a, n, (uint64_t)(rng_uniform(r) * 1e12) + 1);
    for (uint32_t k = 0; k < a->weight_count; k++) a->weights[k] += (float)rng_range(r, -0.05, 0.05);
    for (int64_t k = 0; k < (int64_t)n * RD_APPEARANCE_FEATURES; k++) a->features[k] = (float)rng_range(r, -1, 1);
    a->centre[0] = a->centre[1] = 0.0f, a->centre[2] = 4.0f, a->radius = (float)rng_range(r, 2, 6);
    a->time_origin = (float)rng_range(r, -0.1, 0.1), a->time_span = (float)rng_range(r, 0.9, 1.2);
    return a;
}

/* A timeless member (temporal scale e^30) whose rotation mixes time into space moves at
   any speed (seen: 110 units a second), so at the case's time its slice may lie thousands
   of pixels off screen while still covering it. There each backend's float evaluation of
   the Gaussian's exponent cancels terms of 1e5 (the CPU's from the pixel's offset to the
   centre, the GPUs' as a polynomial in the pixel's coordinates), and the backends differ
   by 1e-2 of alpha where none is wrong (RADIANT_TEST_SEED=5169817922 before 2026-12-06).
   The 3D rows keep their means on screen; here each timeless member's spatial mean is
   moved back along its velocity so that its slice at the case's time is where it was
   drawn, on screen. Under appearance networks, whose input is the 4D mean, a member that
   would move more than 10 units stays drawn and loses its wide temporal scale instead:
   thousands of units from the networks' centre their positional encoding's top frequencies
   turn an ulp of its input into any sine (RADIANT_TEST_SEED=18686106566 on lavapipe: a
   member moved to x = 5,707 drew alpha 0.82 on Vulkan, none on the CPU). */
static void keep_timeless_in_view(scene4d_case *c)
{
    rd_scene4d_desc *d = &c->arrays;
    float *means = (float *)d->means, *log_scales = (float *)d->log_scales;
    for (int64_t k = 0; k < d->count; k++) {
        if (!(d->log_scales[4 * k + 3] > 20.0f)) continue;
        rd_slice4d_static s;
        rd_slice4d_static_of(d->log_scales + 4 * k, d->rotations + 8 * k, &s);
        if (!isfinite(s.half_inv_w)) continue; /* never drawn */
        float dt = c->desc.time - means[4 * k + 3], moved = 0.0f;
        for (int a = 0; a < 3; a++) moved += s.velocity[a] * dt * s.velocity[a] * dt;
        if (c->networks && !(moved <= 100.0f)) {
            log_scales[4 * k + 3] = 0.0f;
            continue;
        }
        for (int a = 0; a < 3; a++) means[4 * k + a] -= s.velocity[a] * dt;
    }
}

static void *generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const int sizes[][2] = {{1, 1}, {15, 17}, {64, 64}, {127, 33}, {200, 113}};
    static const int counts[] = {0, 1, 10, 300, 3000, 20000};
    scene4d_case *c = calloc(1, sizeof *c);
    int n = counts[i % 6];
    rd_scene4d_desc *d = &c->arrays;
    d->count = n, d->sh_degree = (int)(rng_uniform(r) * 4), d->time_degree = (int)(rng_uniform(r) * 3);
    d->time_period = (float)rng_range(r, 0.5, 4);
    int64_t shf = (int64_t)(d->time_degree + 1) * (d->sh_degree + 1) * (d->sh_degree + 1) * 3;
    float *means = malloc(sizeof(float) * 4 * (n + 1)), *ls = malloc(sizeof(float) * 4 * (n + 1));
    float *rot = malloc(sizeof(float) * 8 * (n + 1)), *op = malloc(sizeof(float) * (n + 1));
    float *sh = malloc(sizeof(float) * (size_t)(shf * (n + 1)));
    for (int k = 0; k < n; k++) {
        float depth = (float)rng_range(r, 0.3, 10);
        means[4 * k] = (float)rng_range(r, -0.9, 0.9) * depth, means[4 * k + 1] = (float)rng_range(r, -0.9, 0.9) * depth;
        means[4 * k + 2] = depth, means[4 * k + 3] = (float)rng_uniform(r);
        for (int a = 0; a < 3; a++) ls[4 * k + a] = (float)rng_range(r, -6, -0.5);
        ls[4 * k + 3] = (float)rng_range(r, log(0.03), log(2.0));
        for (int q = 0; q < 8; q++) rot[8 * k + q] = (float)rng_normal(r);
        op[k] = (float)rng_range(r, -3, 5);
        if (i % 3 == 0 && k % 7 == 3) memset(rot + 8 * k, 0, 4 * sizeof(float)); /* a zero q_l: never drawn */
        if (i % 3 == 0 && k % 7 == 5) ls[4 * k + 3] = 30.0f;                     /* timeless */
    }
    for (int64_t k = 0; k < shf * n; k++) sh[k] = (float)rng_range(r, -1, 1) * (k % (3 * (d->sh_degree + 1) * (d->sh_degree + 1)) < 3 ? 1.0f : 0.2f);
    d->means = means, d->log_scales = ls, d->rotations = rot, d->opacities = op, d->sh = sh;
    const int *size = sizes[i % 5];
    c->device_arrays = i % 2 == 1;
    c->camera = random_camera(r, size[0], size[1]);
    c->desc = (rd_render_desc){.flags = (uint32_t)(rng_uniform(r) * 8) & 7u, .time = (float)rng_range(r, -0.2, 1.2),
                               .background = {(float)rng_uniform(r), (float)rng_uniform(r), (float)rng_uniform(r)}};
    /* networks in cases 2, 9 and 4: 10 Gaussians at 64x64, 300 at 200x113 and 3,000 at
       200x113 (one GPU tile, several, many; not the 20,000: its CPU reference is slow) */
    if (i == 2 || i == 4 || i == 9) c->networks = random_networks(r, d->sh_degree, n);
    keep_timeless_in_view(c);
    return c;
}

static void free_inputs(void *inputs)
{
    scene4d_case *c = inputs;
    free((void *)c->arrays.means), free((void *)c->arrays.log_scales), free((void *)c->arrays.rotations);
    free((void *)c->arrays.opacities), free((void *)c->arrays.sh);
    free(c->grad_color), free(c->grad_depth);
    rd_appearance4d_free(c->networks);
    free(c);
}

static void free_outputs(void *outputs)
{
    frame4d *f = outputs;
    if (!f) return;
    free(f->color), free(f->depth), free(f->trans), free(f->contrib);
    free(f);
}

static rd_result run(rd_context *ctx, void *inputs, void **outputs)
{
    scene4d_case *c = inputs;
    size_t P = case_pixels(c);
    frame4d *f = calloc(1, sizeof *f);
    *outputs = f;
    f->color = malloc(P * 16), f->depth = malloc(P * 4), f->trans = malloc(P * 4), f->contrib = malloc(P * 4);
    for (size_t p = 0; p < P; p++) {
        for (int k = 0; k < 4; k++) f->color[4 * p + k] = NAN;
        f->depth[p] = f->trans[p] = NAN, f->contrib[p] = 0xdeadbeef;
    }
    rd_scene *scene = NULL;
    rd_result r = RD_OK;
    if (c->device_arrays && rd_context_backend(ctx) != RD_BACKEND_CPU && c->arrays.count > 0) {
        const rd_scene4d_desc *a = &c->arrays;
        size_t n = (size_t)a->count, shf = (size_t)(a->time_degree + 1) * (a->sh_degree + 1) * (a->sh_degree + 1) * 3;
        const float *from[5] = {a->means, a->log_scales, a->rotations, a->opacities, a->sh};
        size_t bytes[5] = {16 * n, 16 * n, 32 * n, 4 * n, 4 * shf * n};
        void *on_device[5] = {0};
        for (int k = 0; k < 5 && r == RD_OK; k++) {
            rd_memory memory;
            r = rd_buffer_alloc(ctx, bytes[k], &on_device[k], &memory);
            if (r == RD_OK) r = rd_buffer_copy(ctx, on_device[k], memory, from[k], RD_MEMORY_HOST, bytes[k]);
        }
        rd_scene4d_desc d = *a;
        d.means = on_device[0], d.log_scales = on_device[1], d.rotations = on_device[2], d.opacities = on_device[3];
        d.sh = on_device[4], d.memory = RD_MEMORY_DEVICE;
        if (r == RD_OK) r = rd_scene4d_create(ctx, &d, &scene);
        for (int k = 0; k < 5; k++) rd_buffer_free(ctx, on_device[k]);
    } else {
        r = rd_scene4d_create(ctx, &c->arrays, &scene);
    }
    if (r == RD_OK && c->networks) {
        rd_appearance4d *copy = rd_appearance4d_copy(c->networks, c->arrays.count);
        if (!copy) r = RD_ERROR_OUT_OF_MEMORY;
        else rd_scene4d_set_appearance((rd_scene4d *)scene, copy);
    }
    if (r == RD_OK)
        r = rd_render(ctx, scene, &c->camera, &c->desc,
                      &(rd_framebuffer){.color = f->color, .depth = f->depth, .transmittance = f->trans, .contributors = f->contrib});
    rd_scene_destroy(scene);
    return r;
}

static bool compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const scene4d_case *c = inputs;
    const frame4d *got = got_outputs, *want = want_outputs;
    size_t P = case_pixels(c), flips = P * env->tol.flip_per_mille / 1000 + (env->tol.flip_per_mille ? 2 : 0);
    double max_abs = env->tol.max_abs;
    compare_result colour = compare_floats(got->color, want->color, P * 4, max_abs);
    compare_result trans = compare_floats(got->trans, want->trans, P, max_abs);
    unsigned char *faint = malloc(P); /* as ops_splat.c: expected depth under 2/255 of alpha is not compared */
    for (size_t p = 0; p < P; p++)
        faint[p] = (c->desc.flags & RD_RENDER_EXPECTED_DEPTH) && (1.0f - got->trans[p] < 2.0f / 255.0f || 1.0f - want->trans[p] < 2.0f / 255.0f);
    compare_result depth = compare_floats_skip(got->depth, want->depth, P, max_abs * 10, faint);
    free(faint);
    bool ok = compare_ok("colour+alpha", colour, flips, max_abs > 0 ? 0.05 : 0) &&
              compare_ok("transmittance", trans, flips, max_abs > 0 ? 0.05 : 0) &&
              compare_ok("depth", depth, flips, max_abs > 0 ? 1.0 : 0);
    ok &= colour.rel_l2 <= env->tol.rel_l2 || colour.rel_l2 == 0;
    size_t contrib_bad = 0;
    for (size_t p = 0; p < P; p++) contrib_bad += got->contrib[p] != want->contrib[p];
    return ok && contrib_bad <= flips;
}

static void describe(const void *inputs)
{
    const scene4d_case *c = inputs;
    printf("%dx%d, %lld 4D Gaussians, SH %d, time degree %d, period %g, time %g, flags %u%s%s\n", c->camera.width, c->camera.height,
           (long long)c->arrays.count, c->arrays.sh_degree, c->arrays.time_degree, c->arrays.time_period, c->desc.time,
           c->desc.flags, c->device_arrays ? ", device arrays on GPUs" : "", c->networks ? ", appearance networks" : "");
}

static bool never_large(const void *inputs)
{
    (void)inputs;
    return false;
}

/* Flips 20 per mille (the 3D rows: 5): the slice's exp and log differ by ulps between libm
   and a GPU's, which moves more faint Gaussians across the 1/255 alpha threshold (seen on
   lavapipe: 26 samples of 4191 pixels 3e-3 off, RADIANT_TEST_SEED=8626841963, case 3) */
const backend_op OP_SPLAT4D_RENDER = {"splat4d_render", {2e-3, 1e-3, 20}, cases, generate, never_large, run,
                                      compare, describe, free_inputs, free_outputs};

/* ---- the backward pass ---- */

enum { FIELDS = 8 }; /* means, log-scales, rotations, opacities, sh, mean2d_norm, views_seen (as floats), w2c */

typedef struct backward4d_outputs {
    float *field[FIELDS];
    size_t size[FIELDS];
} backward4d_outputs;

static int backward_cases(const op_env *env) { return op_cpu_or_cuda(env) ? (env->variant ? 4 : 10) : 0; }

static void *backward_generate(const op_env *env, test_rng *r, int i)
{
    if (env->reduced && i % 6 == 5) return NULL; /* the sanitizer build: not the 20,000-Gaussian cases */
    scene4d_case *c = generate(env, r, i);
    c->device_arrays = false;
    rd_appearance4d_free(c->networks); /* a scene with networks has no backward pass */
    c->networks = NULL;
    op_random_output_grads(r, case_pixels(c), &c->grad_color, &c->grad_depth);
    return c;
}

static void backward_free_outputs(void *outputs)
{
    backward4d_outputs *o = outputs;
    for (int k = 0; o && k < FIELDS; k++) free(o->field[k]);
    free(o);
}

static rd_result backward_run(rd_context *ctx, void *inputs, void **outputs)
{
    scene4d_case *c = inputs;
    backward4d_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    const rd_scene4d_desc *a = &c->arrays;
    size_t n = (size_t)a->count, shf = (size_t)(a->time_degree + 1) * (a->sh_degree + 1) * (a->sh_degree + 1) * 3;
    size_t sizes[FIELDS] = {4 * n, 4 * n, 8 * n, n, shf * n, n, n, 16};
    for (int k = 0; k < FIELDS; k++) o->size[k] = sizes[k], o->field[k] = calloc(sizes[k] + 1, sizeof(float));
    uint32_t *seen = calloc(n + 1, sizeof(uint32_t));
    rd_gaussian4d_grads g = {o->field[0], o->field[1], o->field[2], o->field[3], o->field[4], o->field[5], seen};
    rd_scene *scene = NULL;
    rd_result r = rd_scene4d_create(ctx, a, &scene);
    if (r == RD_OK)
        r = rd_render_backward(ctx, scene, 1, &c->camera, &c->desc, &(rd_render_grads){c->grad_color, c->grad_depth, RD_MEMORY_HOST},
                               &(rd_scene_grads){RD_SCENE_GAUSSIANS_4D, &g, o->field[7], RD_MEMORY_HOST});
    for (size_t i = 0; i < n; i++) o->field[6][i] = (float)seen[i];
    free(seen);
    rd_scene_destroy(scene);
    return r;
}

static bool backward_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)inputs;
    const backward4d_outputs *got = got_outputs, *want = want_outputs;
    static const char *names[FIELDS] = {"means", "log_scales", "rotations", "opacities", "sh", "mean2d_norm", "views_seen", "w2c"};
    return op_compare_fields(env, FIELDS, names, got->field, want->field, want->size);
}

/* The GPU tolerance of the 3D backward row (ops_splat_backward.c): the 4D pass is that
   pass's on the device, then the CPU's own slice backward on its gradients. */
const backend_op OP_SPLAT4D_BACKWARD = {"splat4d_backward", {1e-2, 1e-2, 10}, backward_cases, backward_generate, never_large,
                                        backward_run, backward_compare, describe, free_inputs, backward_free_outputs};
