/* ops_splat_backward.c: the backward pass's row of the cross-backend harness
   (backend_ops.h): random scenes (degenerate members included), cameras, render settings
   and output gradients; every gradient array, the pose's and the densification
   statistics against the one-thread CPU. The threaded CPU must match it bit for bit (the
   CPU pass sums in a fixed order). Backends without a backward pass run no case: CUDA's
   is the next step of issue 24, Vulkan's its own issue. */
#include "backend_ops.h"
#include "compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct backward_case {
    rd_scene_desc arrays;
    rd_camera camera;
    rd_render_desc desc;
    float *grad_color, *grad_depth;
} backward_case;

enum { FIELDS = 8 }; /* means, log-scales, rotations, opacities, sh, mean2d_norm, views_seen (as floats), w2c */

typedef struct backward_outputs {
    float *field[FIELDS];
    size_t size[FIELDS];
} backward_outputs;

static int backward_cases(const op_env *env)
{
    (void)env;
    return env->gpu ? 0 : 10;
}

static void *backward_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const int counts[] = {1, 10, 300, 3000};
    static const int sizes[][2] = {{15, 17}, {64, 64}, {127, 33}, {200, 113}};
    backward_case *c = calloc(1, sizeof *c);
    random_scene_desc sd = {.count = counts[i % 4], .sh_degree = (int)(rng_uniform(r) * 4), .degenerate = i % 3 == 0,
                            .depth_min = 0.3, .depth_max = 10, .spread = 0.9, .log_scale_min = -6, .log_scale_max = -0.5};
    c->arrays = random_scene(r, &sd);
    const int *size = sizes[(int)(rng_uniform(r) * 4)];
    c->camera = random_camera(r, size[0], size[1]);
    c->desc = (rd_render_desc){.flags = (uint32_t)(rng_uniform(r) * 8) & 7u,
                               .background = {(float)rng_uniform(r), (float)rng_uniform(r), (float)rng_uniform(r)},
                               .sh_degree = i % 5 == 4 ? RD_SH_DEGREE(1) : 0};
    size_t P = (size_t)size[0] * (size_t)size[1];
    c->grad_color = malloc(4 * P * sizeof(float));
    c->grad_depth = malloc(P * sizeof(float));
    for (size_t p = 0; p < 4 * P; p++) c->grad_color[p] = (float)rng_range(r, -1, 1);
    for (size_t p = 0; p < P; p++) c->grad_depth[p] = (float)rng_range(r, -0.1, 0.1);
    return c;
}

static void backward_free_outputs(void *outputs)
{
    backward_outputs *o = outputs;
    for (int k = 0; o && k < FIELDS; k++) free(o->field[k]);
    free(o);
}

static rd_result backward_run(rd_context *ctx, void *inputs, void **outputs)
{
    backward_case *c = inputs;
    backward_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t n = (size_t)c->arrays.count, K = (size_t)(c->arrays.sh_degree + 1) * (size_t)(c->arrays.sh_degree + 1);
    size_t sizes[FIELDS] = {3 * n, 3 * n, 4 * n, n, 3 * K * n, n, n, 16};
    for (int k = 0; k < FIELDS; k++) {
        o->size[k] = sizes[k];
        o->field[k] = calloc(sizes[k] + 1, sizeof(float));
    }
    uint32_t *seen = calloc(n + 1, sizeof(uint32_t));
    rd_scene *scene = NULL;
    rd_result r = rd_scene_create(ctx, &c->arrays, &scene);
    rd_gaussian_grads g = {o->field[0], o->field[1], o->field[2], o->field[3], o->field[4], o->field[5], seen};
    if (r == RD_OK)
        r = rd_render_backward(ctx, scene, 1, &c->camera, &c->desc, &(rd_render_grads){c->grad_color, c->grad_depth, RD_MEMORY_HOST},
                               &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g, o->field[7], RD_MEMORY_HOST});
    for (size_t i = 0; i < n; i++) o->field[6][i] = (float)seen[i];
    free(seen);
    rd_scene_destroy(scene);
    return r;
}

static bool backward_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)inputs;
    const backward_outputs *got = got_outputs, *want = want_outputs;
    static const char *names[FIELDS] = {"means", "log_scales", "rotations", "opacities", "sh", "mean2d_norm", "views_seen", "w2c"};
    bool ok = true;
    for (int k = 0; k < FIELDS; k++) {
        compare_result c = compare_floats(got->field[k], want->field[k], want->size[k], env->tol.max_abs);
        ok &= compare_ok(names[k], c, 0, env->tol.max_abs);
    }
    return ok;
}

static void backward_describe(const void *inputs)
{
    const backward_case *c = inputs;
    printf("%dx%d, %lld Gaussians, SH %d, flags %u, render degree %d\n", c->camera.width, c->camera.height,
           (long long)c->arrays.count, c->arrays.sh_degree, c->desc.flags, c->desc.sh_degree);
}

static void backward_free_inputs(void *inputs)
{
    backward_case *c = inputs;
    random_scene_free(&c->arrays);
    free(c->grad_color), free(c->grad_depth);
    free(c);
}

const backend_op OP_SPLAT_BACKWARD = {"splat_backward", {2e-3, 1e-3, 0}, backward_cases, backward_generate, NULL,
                                      backward_run, backward_compare, backward_describe, backward_free_inputs,
                                      backward_free_outputs};
