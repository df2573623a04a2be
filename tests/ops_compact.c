/* ops_compact.c: the compact file's device decode row of the cross-backend harness
   (backend_ops.h): random 3D layouts (every SH degree, the file's own slices with random
   index bits, one or two bytes, and codebook sizes), random codebooks, indices and position
   halves (subnormals, zeros and both signs among them, never infinite: the reader refuses
   those) about origins anywhere or at zeros and subnormals, gathered into a scene's arrays by the CPU reference (compact_device.c) and on
   each GPU into a device scene (compact_cuda.cu, compact_vk.c). Nothing rounds but each
   mean's one addition, so the GPUs must give the CPU's bits: the tolerance is zero. */
#include "backend_ops.h"
#include "compare.h"
#include "../compress/compact_parse.h"
#include "../splat/scene.h"

#include <stdlib.h>
#include <string.h>

typedef struct compact_case {
    rd_compact_gather_input in;
    int sh_degree;
    unsigned char *positions, *planes[RD_COMPACT_MAX_SLICES];
    float *books[RD_COMPACT_MAX_SLICES];
} compact_case;

typedef struct compact_outputs {
    size_t floats[RD_SCENE_ARRAYS];
    float *arrays[RD_SCENE_ARRAYS];
} compact_outputs;

static int compact_cases(const op_env *env) { return env->variant ? 0 : 6; }

static void *compact_generate(const op_env *env, test_rng *r, int i)
{
    compact_case *c = calloc(1, sizeof *c);
    c->sh_degree = i % 4;
    /* case 5, of SH degree 3: on a GPU 2M Gaussians, 118M threads (Vulkan's dispatch split
       over y) and an upload past Vulkan's 32 MiB staging buffer */
    int64_t n = i == 4 ? 0 : i == 5 ? (env->reduced ? 20000 : 2000000) : 1 + (int64_t)(rng_uniform(r) * 5000);
    if (i == 5) c->sh_degree = 3;
    rd_compact_arrays like = {.count = n, .sh_degree = c->sh_degree};
    c->in.count = n;
    c->in.slice_count = rd_compact_default_slices(&like, c->in.slices);
    /* origins anywhere, or zeros of either sign and subnormals, where the offsets' own low bits
       and the sign of a zero sum show */
    static const float small[4] = {0.0f, -0.0f, 1e-40f, -3e-39f};
    for (int k = 0; k < 3; k++) c->in.origin[k] = i % 3 == 2 ? small[(i + k) % 4] : (float)rng_range(r, -100, 100);
    c->positions = malloc(6 * (size_t)n + 1);
    for (size_t e = 0; e < 3 * (size_t)n; e++) { /* a random half, its exponent anything but 31; a few subnormals and zeros */
        uint16_t h = (uint16_t)(rng_uniform(r) * 65536.0);
        double kind = rng_uniform(r);
        if ((h & 0x7c00) == 0x7c00 || kind < 0.05) h &= 0x83ff; /* subnormal or zero */
        if (kind < 0.01) h &= 0x8000;
        c->positions[(2 * (e / (size_t)n)) * (size_t)n + e % (size_t)n] = (unsigned char)h;
        c->positions[(2 * (e / (size_t)n) + 1) * (size_t)n + e % (size_t)n] = (unsigned char)(h >> 8);
    }
    c->in.positions = c->positions;
    for (int k = 0; k < c->in.slice_count; k++) {
        rd_compact_slice *s = &c->in.slices[k];
        s->bits = 1 + (int)(rng_uniform(r) * 16);
        int most = 1 << s->bits;
        s->entries = 1 + (int)(rng_uniform(r) * (most < 3000 ? most : 3000));
        c->books[k] = random_floats(r, (size_t)s->entries * (size_t)s->width, -3, 3);
        size_t bytes = rd_compact_index_bytes(s, n);
        c->planes[k] = malloc(bytes + 1);
        for (int64_t g = 0; g < n; g++) {
            int label = (int)(rng_uniform(r) * s->entries);
            c->planes[k][g] = (unsigned char)label;
            if (s->bits > 8) c->planes[k][n + g] = (unsigned char)(label >> 8);
        }
        c->in.books[k] = c->books[k], c->in.planes[k] = c->planes[k];
    }
    return c;
}

static bool compact_large(const void *inputs) { return ((const compact_case *)inputs)->in.count > 100000; }

static rd_result compact_run(rd_context *ctx, void *inputs, void **outputs)
{
    compact_case *c = inputs;
    compact_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    rd_scene *scene = NULL;
    rd_result r = rd_context_backend(ctx) == RD_BACKEND_CPU ? rd_scene_alloc(ctx, c->in.count, c->sh_degree, &scene)
                                                           : rd_scene_device_alloc(ctx, c->in.count, c->sh_degree, &scene);
    if (r != RD_OK) return r;
    const float *arrays[RD_SCENE_ARRAYS];
    rd_scene_array_list(scene, arrays, o->floats);
    for (int k = 0; k < RD_SCENE_ARRAYS; k++) { /* poisoned: a float the kernel leaves is NaN */
        o->arrays[k] = malloc(o->floats[k] * sizeof(float) + 4);
        memset(o->arrays[k], 0xff, o->floats[k] * sizeof(float));
        if (o->floats[k] && r == RD_OK)
            r = rd_buffer_copy(ctx, (void *)arrays[k], scene->head.memory, o->arrays[k], RD_MEMORY_HOST, o->floats[k] * sizeof(float));
    }
    if (r == RD_OK) r = rd_compact_gather(ctx, &c->in, scene);
    for (int k = 0; k < RD_SCENE_ARRAYS && r == RD_OK; k++)
        if (o->floats[k])
            r = rd_buffer_copy(ctx, o->arrays[k], RD_MEMORY_HOST, arrays[k], scene->head.memory, o->floats[k] * sizeof(float));
    rd_scene_destroy(scene);
    return r;
}

static bool compact_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)env, (void)inputs;
    const compact_outputs *got = got_outputs, *want = want_outputs;
    const char *names[RD_SCENE_ARRAYS] = {"means", "log-scales", "rotations", "opacities", "SH"};
    bool ok = true;
    for (int k = 0; k < RD_SCENE_ARRAYS; k++) /* bit for bit: NaN (poison) differs from everything */
        if (memcmp(got->arrays[k], want->arrays[k], want->floats[k] * sizeof(float)) != 0) {
            compare_ok(names[k], compare_floats(got->arrays[k], want->arrays[k], want->floats[k], 0.0), 0, 0.0);
            printf("    %s: not the CPU's bits\n", names[k]);
            ok = false;
        }
    return ok;
}

static void compact_describe(const void *inputs)
{
    const compact_case *c = inputs;
    printf("%lld Gaussians of SH degree %d, %d slices; bits/entries:", (long long)c->in.count, c->sh_degree, c->in.slice_count);
    for (int k = 0; k < c->in.slice_count; k++) printf(" %d/%d", c->in.slices[k].bits, c->in.slices[k].entries);
    printf("\n");
}

static void compact_free_inputs(void *inputs)
{
    compact_case *c = inputs;
    for (int k = 0; k < RD_COMPACT_MAX_SLICES; k++) free(c->books[k]), free(c->planes[k]);
    free(c->positions);
    free(c);
}

static void compact_free_outputs(void *outputs)
{
    compact_outputs *o = outputs;
    for (int k = 0; o && k < RD_SCENE_ARRAYS; k++) free(o->arrays[k]);
    free(o);
}

const backend_op OP_COMPACT_DECODE = {"compact_decode", {0, 0, 0}, compact_cases, compact_generate, compact_large, compact_run,
                                      compact_compare, compact_describe, compact_free_inputs, compact_free_outputs};
