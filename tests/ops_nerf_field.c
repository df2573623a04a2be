/* ops_nerf_field.c: the NeRF field's and the NeRF frame's rows of the cross-backend harness
   (backend_ops.h), against the CPU (nerf/field.c, nerf/render_cpu.c). CUDA runs the field
   through nerf/field_cuda.cu and the frame through rd_render (nerf/render_cuda.cu); Vulkan
   has no NeRF kernels and runs no case.

   nerf field: the spec's field (16 levels of 2, 2^19 entries, width 64) and smaller random
   ones (1 to 12 levels of 1 to 8 features, 2^8 to 2^16 entries, widths 16 to 128), 1 to
   2^16 points (2^12 in the sanitizer build) in the unit cube with random unit directions;
   tables uniform in +-1 rather than +-1e-4 (a trained table's size: near zero the networks
   see nothing and every backend agrees trivially), Glorot networks; cases 1 and 3 with a
   saliency mask (2^3 to 32^3 logits in +-3, or -7..3 where some points are pruned, the density gate's sharpness 0.5 to 1000
   log-uniform, the points in runs of 32 along random rays), its logits' gradient compared
   as the networks' (float atomics, as the table's). Forward: sigma (as its
   log, the density network's clamped output 0) and rgb; backward: the parameters' gradient
   of random sigma and rgb gradients. Tolerances on CUDA: ops_mlp.c bounds one half-
   precision network at 4e-3 (relative L2, and largest error over largest value); the
   colour network takes the density network's 16 outputs, already off by that, so its
   logits may be off by about twice it, and rgb (sigmoid, slope at most 1/4) by less: 1e-2
   for log sigma and rgb, log sigma's relative to the density network's largest output
   where that is larger (a few points' log sigma can be near zero, its error not). The gradient, as in ops_mlp.c, is compared with the CPU's backward
   pass run on the backend's own kept values (features, density outputs, colour inputs and
   logits, the half hidden activations widened), so that a ReLU decided the other way
   within rounding does not count as an error: two networks' backward passes in half
   precision and the table's float atomics, 1e-2 of the largest gradient. Measured on an
   H200 (2^16 points of the spec's field): log sigma 4.6e-4 relative L2 (largest error 5.5e-4
   of the largest), rgb 4.5e-5 (1.9e-4), table gradient 4.2e-4 (4.7e-4), networks' 3.4e-4
   (1.8e-4).

   nerf render: random small fields (2 to 8 levels, 2^10 to 2^14 entries, widths 16 to 64,
   case 4's 128 or 256, aabb_scale 1 to 4, a random box), tables uniform in +-1 and the density network's output
   0 row scaled so that rays range from clear to dense, occupancy bits set by hand (8^3-cell
   blocks occupied at random in the inner cascade, some in the outer ones), random cameras
   around the box (near planes before and inside it, a far plane in one case), host and
   device targets, accumulated and expected depth, random backgrounds; colour, alpha, depth
   and contributors of every pixel. Both backends march the same samples bit for bit
   (render_cuda.cu spells out the CPU's roundings), so the outputs differ only through the
   networks: a sample's density is exp of a logit off by ~4e-3 of the largest logits (~6
   here: 2.4e-2 at worst, ~1e-3 typically) and its colour by ~1e-3. A ray's colour moves by
   at most sum_k |dC/dtau_k| |dtau_k| <= 2 max relative density error (the weights below
   the transmittance sum to at most 1) plus the largest colour error: 5e-2 at worst for
   colour and alpha, 1e-2 relative L2; depth (t over the ray's field distance per unit of
   depth, up to ~5 here) 5e-2 of the largest depth. Contributors are equal except where the
   transmittance crosses 1e-4 a sample earlier or later, which only an opaque ray can do:
   a differing count must have a reference alpha of at least 0.999 (case 2's density row is
   made positive so that its rays turn opaque; the last case is over 2^20 pixels, more rays
   than the CUDA frame's first wave takes; 110x100 on the CPU row). Measured on an H200 (before case 2 was made
   opaque; 6 frames up to 1100x1000): colour and alpha within 6.3e-4, relative L2 under
   1.4e-4, depth within 8e-4 (1.2e-4 relative L2), contributors equal at every pixel.

   nerf render on Vulkan (nerf/render_vk.c; on lavapipe the cases are those above with the
   last cut to 110x100, and in the sanitizer build the others at half each side too): the rays
   and the march spell out the CPU's roundings with t in double, so the samples are the
   CPU's bit for bit where the device's divisions and square root are IEEE (lavapipe's
   are); the features, both networks and the SH are fp32 sums in the CPU's order without
   fused multiply-adds, so a sample's density and colour differ from the CPU's only
   through exp (the density, the sigmoid, alpha), a few ulp from libm's. A ray's
   transmittance is a product over up to 1024 samples, each factor off by ~1e-7 relative:
   1e-4 at worst. Bounds: 2e-3 for colour, alpha and transmittance (largest error), 1e-3
   relative L2, depth 2e-3 of the largest depth, contributors as above (only where the
   reference is opaque). Measured on lavapipe (Mesa 22.3, 6 frames): colour within 8e-5,
   alpha within 1.8e-4 (relative L2 under 2.3e-5), depth within 2e-4, contributors equal at
   every pixel. A GPU whose float division or square root is not IEEE (Vulkan allows
   2.5 ulp) could put a ray an ulp off and march it elsewhere at a cell's face; these
   bounds would then say so. The variant row "vulkan (NeRF march in single precision)"
   runs the same cases with the march in float, as devices without shaderFloat64 do
   (nerf_march.glsl: its leaps land past faces by more than any float rounding, t a
   compensated sum), held to the same bounds: the samples are the CPU's but for a rare
   pixel, one sample more or less (lavapipe: 6 of 6 cases, 1 such pixel). */
#include "backend_ops.h"
#include "../compress/conventions.h"
#include "compare.h"
#include "../nerf/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const double FIELD_TOLERANCE = 1e-2;
static const double RENDER_MAX_ABS = 5e-2, RENDER_REL_L2 = 1e-2, OPAQUE_ALPHA = 0.999;
static const double RENDER_VK_MAX_ABS = 2e-3, RENDER_VK_REL_L2 = 1e-3; /* Vulkan's fp32 networks (header) */

static bool within(const char *what, const float *got, const float *want, size_t n, double tolerance, bool verbose)
{
    return compare_relative_ok(what, got, want, n, 0.0, tolerance, verbose);
}


/* ---- the field ------------------------------------------------------------------------ */

enum { FIELD_CASES = 4 };

typedef struct field_case {
    rd_nerf_field f;
    int64_t n;
    float *params, *positions, *dirs, *g_sigma, *g_rgb;
} field_case;

typedef struct field_outputs {
    float *sigma, *rgb, *grad;
    rd_nerf_field_scratch kept; /* CUDA: the forward's kept values, widened (compare's backward) */
} field_outputs;

static int field_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? FIELD_CASES : 0; }

static float *unit_dirs(test_rng *r, int64_t n)
{
    float *d = malloc(sizeof(float) * 3 * (size_t)n);
    for (int64_t i = 0; i < n; i++) {
        float len = 0.0f;
        for (int a = 0; a < 3; a++) d[3 * i + a] = (float)rng_normal(r), len += d[3 * i + a] * d[3 * i + a];
        len = sqrtf(len) > 0.0f ? sqrtf(len) : 1.0f;
        for (int a = 0; a < 3; a++) d[3 * i + a] /= len;
    }
    return d;
}

static void *field_generate(const op_env *env, test_rng *r, int i)
{
    static const int FEATURES[4] = {1, 2, 4, 8};
    rd_nerf_field_desc d = {{0}, 0};
    int64_t n = env->reduced ? 1 << 12 : 1 << 16;
    if (i == 1) d = (rd_nerf_field_desc){{4, 2, 10, 16.0f, 128.0f}, 64}, n = 1000;
    if (i == 2) d = (rd_nerf_field_desc){{8, 4, 14, 16.0f, 512.0f}, 32}, n = 1;
    if (i == 3) {
        d.grid = (rd_hashgrid_desc){1 + (int)(rng_uniform(r) * 12), FEATURES[(int)(rng_uniform(r) * 4)], 8 + (int)(rng_uniform(r) * 9),
                                    (float)rng_range(r, 2.0, 32.0), 0.0f};
        d.grid.finest_resolution = d.grid.base_resolution * (float)rng_range(r, 1.0, 64.0);
        d.width = 16 * (1 + (int)(rng_uniform(r) * 8));
        n = 100 + (int64_t)(rng_uniform(r) * 5000);
    }
    /* cases 1 and 3: HollowNeRF's saliency mask (random logits), the gate's sharpness
       log-uniform from soft (tanh's slope matters) to the default */
    bool masked = i == 1 || i == 3;
    if (masked) d.saliency_resolution = 2 + (int)(rng_uniform(r) * 31), d.gate_sharpness = (float)exp(rng_range(r, log(0.5), log(1000.0)));
    field_case *c = calloc(1, sizeof *c);
    if (rd_nerf_field_make(env->ctx, &d, &c->f) != RD_OK || c->f.density.inputs > 256) {
        free(c);
        return NULL;
    }
    c->n = n;
    c->params = malloc(sizeof(float) * (size_t)c->f.params);
    rd_nerf_field_init(&c->f, (uint64_t)(rng_uniform(r) * 1e9) + 1, c->params);
    for (int64_t k = 0; k < c->f.density_offset; k++) c->params[k] = (float)rng_range(r, -1.0, 1.0);
    /* case 3's logits reach -7: some points' keep falls below RD_SALIENCY_PRUNED_KEEP, where the
       table gets no gradient (an exact threshold a flip past which both backends are unlikely) */
    for (int64_t k = c->f.saliency_offset; masked && k < c->f.params; k++) c->params[k] = (float)rng_range(r, i == 3 ? -7.0 : -3.0, 3.0);
    c->positions = random_floats(r, 3 * (size_t)n, 0.0, 1.0);
    /* masked: the points in runs along random rays (steps of 1e-3 to 1e-2), as a training
       batch holds a ray's samples, so that neighbouring points share the mask's cells
       (the logits' scatter sums such runs before its atomics) */
    for (int64_t k = 0; masked && k < n; k += 32) {
        float step[3], step_size = (float)rng_range(r, 1e-3, 1e-2);
        for (int a = 0; a < 3; a++) step[a] = (float)rng_normal(r) * step_size;
        for (int64_t j = k + 1; j < k + 32 && j < n; j++)
            for (int a = 0; a < 3; a++) c->positions[3 * j + a] = fminf(fmaxf(c->positions[3 * (j - 1) + a] + step[a], 0.0f), 1.0f);
    }
    c->dirs = unit_dirs(r, n);
    c->g_sigma = random_floats(r, (size_t)n, -1.0, 1.0);
    c->g_rgb = random_floats(r, 3 * (size_t)n, -1.0, 1.0);
    return c;
}

static bool field_large(const void *inputs) { return ((const field_case *)inputs)->n > 10000; }

#ifdef RADIANT_TEST_CUDA
static void *to_device(rd_context *ctx, const void *host, size_t bytes)
{
    void *p = NULL;
    rd_memory memory;
    if (rd_buffer_alloc(ctx, bytes ? bytes : 4, &p, &memory) != RD_OK) return NULL;
    if (host && bytes && rd_buffer_copy(ctx, p, memory, host, RD_MEMORY_HOST, bytes) != RD_OK) {
        rd_buffer_free(ctx, p);
        return NULL;
    }
    return p;
}

static rd_result down(rd_context *ctx, void *host, const void *device, size_t bytes)
{
    return rd_buffer_copy(ctx, host, RD_MEMORY_HOST, device, RD_MEMORY_DEVICE, bytes);
}

/* The half activations (n x layers x width) widened into floats. */
static rd_result down_halves(rd_context *ctx, float *host, const void *device, size_t count)
{
    uint16_t *h = malloc(sizeof(uint16_t) * (count ? count : 1));
    rd_result r = h ? down(ctx, h, device, sizeof(uint16_t) * count) : RD_ERROR_OUT_OF_MEMORY;
    for (size_t k = 0; r == RD_OK && k < count; k++) host[k] = rd_half_to_float(h[k]);
    free(h);
    return r;
}

static rd_result field_run_cuda(rd_context *ctx, const field_case *c, field_outputs *o)
{
    const rd_nerf_field *f = &c->f;
    size_t n = (size_t)c->n, params = sizeof(float) * (size_t)f->params;
    rd_nerf_field_scratch_cuda s = {0};
    rd_result r = rd_nerf_field_scratch_cuda_reserve(ctx, f, c->n, &s);
    if (r == RD_OK) r = rd_nerf_field_scratch_alloc(ctx, f, c->n, &o->kept);
    float *p = to_device(ctx, c->params, params), *pos = to_device(ctx, c->positions, 12 * n), *dirs = to_device(ctx, c->dirs, 12 * n);
    float *sigma = to_device(ctx, o->sigma, 4 * n), *rgb = to_device(ctx, o->rgb, 12 * n); /* poisoned */
    float *gs = to_device(ctx, c->g_sigma, 4 * n), *grgb = to_device(ctx, c->g_rgb, 12 * n), *grad = to_device(ctx, o->grad, params);
    if (r == RD_OK && !(p && pos && dirs && sigma && rgb && gs && grgb && grad)) r = RD_ERROR_OUT_OF_MEMORY;
    if (r == RD_OK) r = rd_nerf_field_forward_cuda(ctx, f, p, pos, dirs, c->n, &s, sigma, rgb, NULL);
    if (r == RD_OK) r = down(ctx, o->sigma, sigma, 4 * n);
    if (r == RD_OK) r = down(ctx, o->rgb, rgb, 12 * n);
    /* what the forward kept, before the backward uses the activations' buffers' tail */
    if (r == RD_OK) r = down(ctx, o->kept.features, s.features.ptr, sizeof(float) * n * (size_t)f->density.inputs);
    if (r == RD_OK) r = down(ctx, o->kept.density_out, s.density_out.ptr, sizeof(float) * n * 16);
    if (r == RD_OK) r = down(ctx, o->kept.colour_in, s.colour_in.ptr, sizeof(float) * n * (size_t)f->colour.inputs);
    if (r == RD_OK) r = down(ctx, o->kept.colour_out, s.colour_out.ptr, sizeof(float) * n * 3);
    if (r == RD_OK) r = down_halves(ctx, o->kept.density_hidden, s.density_act.ptr, n * (size_t)f->density.width);
    if (r == RD_OK) r = down_halves(ctx, o->kept.colour_hidden, s.colour_act.ptr, n * 2 * (size_t)f->colour.width);
    if (r == RD_OK && f->saliency.resolution) r = down(ctx, o->kept.hash_features, s.hash_features.ptr, sizeof(float) * n * (size_t)f->density.inputs);
    if (r == RD_OK && f->saliency.resolution) r = down(ctx, o->kept.keep, s.keep.ptr, sizeof(float) * n);
    if (r == RD_OK) r = rd_nerf_field_backward_cuda(ctx, f, p, pos, c->n, &s, gs, grgb, grad, NULL);
    if (r == RD_OK) r = down(ctx, o->grad, grad, params);
    void *all[] = {p, pos, dirs, sigma, rgb, gs, grgb, grad};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) rd_buffer_free(ctx, all[k]);
    rd_nerf_field_scratch_cuda_free(ctx, &s);
    return r;
}
#endif

static rd_result field_run(rd_context *ctx, void *inputs, void **outputs)
{
    const field_case *c = inputs;
    size_t n = (size_t)c->n, params = (size_t)c->f.params;
    field_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    o->sigma = malloc(sizeof(float) * n), o->rgb = malloc(sizeof(float) * 3 * n), o->grad = calloc(params, sizeof(float));
    memset(o->sigma, 0xff, sizeof(float) * n), memset(o->rgb, 0xff, sizeof(float) * 3 * n);
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        rd_nerf_field_scratch s;
        rd_result r = rd_nerf_field_scratch_alloc(ctx, &c->f, c->n, &s);
        if (r != RD_OK) return r;
        rd_nerf_field_forward(ctx, &c->f, c->params, c->positions, c->dirs, c->n, &s, o->sigma, o->rgb);
        r = rd_nerf_field_backward(ctx, &c->f, c->params, c->positions, c->n, &s, c->g_sigma, c->g_rgb, o->grad);
        rd_nerf_field_scratch_free(&s);
        return r;
    }
#ifdef RADIANT_TEST_CUDA
    return field_run_cuda(ctx, c, o);
#else
    return RD_ERROR_BACKEND_UNAVAILABLE;
#endif
}

static bool field_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const field_case *c = inputs;
    const field_outputs *got = got_outputs, *want = want_outputs;
    size_t n = (size_t)c->n, params = (size_t)c->f.params, table = (size_t)c->f.density_offset, mask = (size_t)c->f.saliency_offset;
    if (!env->gpu) {
        bool ok = compare_ok("sigma", compare_floats(got->sigma, want->sigma, n, 0.0), 0, 0.0);
        ok &= compare_ok("rgb", compare_floats(got->rgb, want->rgb, 3 * n, 0.0), 0, 0.0);
        return ok & compare_ok("gradient", compare_floats(got->grad, want->grad, params, 0.0), 0, 0.0);
    }
    bool verbose = getenv("RADIANT_TEST_VERBOSE") != NULL || c->n > 10000;
    float *log_got = malloc(sizeof(float) * n), *log_want = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) log_got[i] = logf(got->sigma[i]), log_want[i] = logf(want->sigma[i]);
    /* log sigma is the density network's output 0, whose half-precision error goes with
       the size of the network's outputs, not with its own: a few points' log sigma may be
       near zero while their error is not (case 2's one point) */
    double outputs = 0.0;
    for (size_t k = 0; k < 16 * n; k++) outputs = fmax(outputs, fabs((double)got->kept.density_out[k]));
    bool ok = compare_relative_ok("log sigma", log_got, log_want, n, outputs, FIELD_TOLERANCE, verbose);
    ok &= within("rgb", got->rgb, want->rgb, 3 * n, FIELD_TOLERANCE, verbose);
    free(log_got), free(log_want);
    /* the CPU's backward on the backend's kept values (header) */
    rd_context *cpu = NULL;
    float *grad = calloc(params, sizeof(float));
    if (!CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &cpu)) ||
        !CHECK_OK(rd_nerf_field_backward(cpu, &c->f, c->params, c->positions, c->n, (rd_nerf_field_scratch *)&got->kept, c->g_sigma,
                                         c->g_rgb, grad)))
        ok = false;
    else {
        ok &= within("table gradient", got->grad, grad, table, FIELD_TOLERANCE, verbose);
        ok &= within("networks' gradient", got->grad + table, grad + table, mask - table, FIELD_TOLERANCE, verbose);
        if (params > mask) ok &= within("mask's gradient", got->grad + mask, grad + mask, params - mask, FIELD_TOLERANCE, verbose);
    }
    rd_context_destroy(cpu);
    free(grad);
    return ok;
}

static void field_describe(const void *inputs)
{
    const field_case *c = inputs;
    printf("%d levels of %d, %u entries a level at most, width %d, %lld points, mask %d^3 (gate %g)\n", c->f.grid.levels, c->f.grid.features,
           c->f.grid.table_size, c->f.density.width, (long long)c->n, c->f.saliency.resolution, c->f.gate_sharpness);
}

static void field_free_inputs(void *inputs)
{
    field_case *c = inputs;
    free(c->params), free(c->positions), free(c->dirs), free(c->g_sigma), free(c->g_rgb), free(c);
}

static void field_free_outputs(void *outputs)
{
    field_outputs *o = outputs;
    if (o) free(o->sigma), free(o->rgb), free(o->grad), rd_nerf_field_scratch_free(&o->kept);
    free(o);
}

const backend_op OP_NERF_FIELD = {"nerf field", {0, 0, 0}, field_cases, field_generate, field_large, field_run, field_compare,
                                  field_describe, field_free_inputs, field_free_outputs};

/* ---- the frame ------------------------------------------------------------------------ */

enum { RENDER_CASES = 6 };

typedef struct render_case {
    rd_scene *scene;
    rd_camera camera;
    rd_render_desc desc;
    bool device_target;
    float density_scale;
} render_case;

typedef struct render_outputs {
    float *color, *depth, *trans;
    uint32_t *contrib;
} render_outputs;

/* Every backend renders NeRFs (Vulkan's march in double where the device has shaderFloat64,
   else in float: render_vk.c); of the variant rows, the one asking for the float march. */
static bool float_march(const op_env *env) { return env->tuning && env->tuning->vk_nerf_march == RD_NERF_MARCH_SINGLE; }

static int render_cases(const op_env *env)
{
    return !env->variant ? RENDER_CASES : float_march(env) ? RENDER_CASES - 1 : 0; /* a variant: the small frames */
}

/* Blocks of 8^3 cells occupied with probability `fill` in the inner cascade (within `reach`
   of its centre, in cells), a sparser few in the outer ones; bits rebuilt. */
static void random_occupancy(test_rng *r, rd_occupancy *g, double fill, int reach)
{
    int64_t cells = (int64_t)g->cascades * RD_OCCUPANCY_CELLS;
    memset(g->thickness, 0, sizeof(float) * (size_t)cells);
    for (int c = 0; c < g->cascades; c++)
        for (int bz = 0; bz < 16; bz++)
            for (int by = 0; by < 16; by++)
                for (int bx = 0; bx < 16; bx++) {
                    int b[3] = {bx, by, bz};
                    bool inner = true;
                    for (int a = 0; a < 3; a++) inner &= abs(8 * b[a] + 4 - 64) <= reach;
                    double p = c == 0 ? (inner ? fill : 0.0) : 0.02;
                    if (rng_uniform(r) >= p) continue;
                    for (int z = 0; z < 8; z++)
                        for (int y = 0; y < 8; y++)
                            for (int x = 0; x < 8; x++)
                                g->thickness[(int64_t)c * RD_OCCUPANCY_CELLS + (8 * bx + x) + (8 * by + y) * 128 + (8 * bz + z) * 16384] = 1.0f;
                }
    rd_occupancy_rebuild_bits(g);
}

static void *render_generate(const op_env *env, test_rng *r, int i)
{
    /* the last: over 2^20 pixels, more rays than render_cuda.cu's first wave takes, with a
       small cheap field in a small blob (the CPU's reference stays quick) */
    static const int SIZES[RENDER_CASES][2] = {{96, 72}, {64, 48}, {128, 96}, {80, 60}, {33, 17}, {1100, 1000}};
    static const float SCALES[RENDER_CASES] = {4.0f, 1.0f, 4.0f, 8.0f, 5.0f, 8.0f};
    bool big = i == RENDER_CASES - 1;
    rd_nerf_desc d = {.levels = 2 + (int)(rng_uniform(r) * 7), .features = 2, .log2_table_size = 10 + (int)(rng_uniform(r) * 5),
                      .width = 16 << (int)(rng_uniform(r) * 3), .aabb_scale = 1 << (int)(rng_uniform(r) * 3),
                      .seed = (uint64_t)(rng_uniform(r) * 1e9) + 1};
    if (big) d.levels = 2, d.width = 16, d.aabb_scale = 1;
    /* case 4 (a small frame): networks 128 or 256 wide, the Vulkan shader's wider rows. 256
       on Vulkan only: CUDA's fused networks keep a block's weights and activations in shared
       memory, which the colour network at 256 (two hidden layers) passes, 304,448 bytes
       against the H100's 232,448, and CUDA refuses it saying so (mlp_cuda.cu) */
    bool cuda = rd_context_backend(env->ctx) == RD_BACKEND_CUDA;
    if (i == 4) d.width = rng_uniform(r) < 0.5 || cuda ? 128 : 256;
    /* cases 1 and 3: a field with HollowNeRF's saliency mask (random logits, the gate's
       default sharpness) */
    bool masked = i == 1 || i == 3;
    if (masked) d.saliency_resolution = 2 + (int)(rng_uniform(r) * 15);
    float centre[3], side = (float)rng_range(r, 0.5, 4.0);
    for (int a = 0; a < 3; a++) {
        centre[a] = (float)rng_range(r, -2.0, 2.0);
        d.box_min[a] = centre[a] - 0.5f * side * (float)rng_range(r, 0.6, 1.0), d.box_max[a] = centre[a] + 0.5f * side;
    }
    render_case *c = calloc(1, sizeof *c);
    if (rd_nerf_create(env->ctx, &d, &c->scene) != RD_OK) {
        free(c);
        return NULL;
    }
    rd_nerf_scene *s = (rd_nerf_scene *)c->scene;
    for (int64_t k = 0; k < s->field.density_offset; k++) s->params[k] = (float)rng_range(r, -1.0, 1.0);
    for (int64_t k = s->field.saliency_offset; masked && k < s->field.params; k++) s->params[k] = (float)rng_range(r, -3.0, 3.0);
    /* the density network's output 0 (the last layer's first row): larger logits, so that
       some rays turn opaque within the box and others stay clear */
    c->density_scale = SCALES[i];
    const rd_mlp *m = &s->field.density;
    float *row = s->params + s->field.density_offset + m->offset[m->hidden_layers];
    for (int k = 0; k < m->width; k++) row[k] *= c->density_scale;
    /* case 2: the row made positive, so that output 0 (a sum of ReLUs times it) is too and
       most rays through occupied blocks turn opaque (the stop at transmittance 1e-4) */
    if (i == 2)
        for (int k = 0; k < m->width; k++) row[k] = fabsf(row[k]);
    random_occupancy(r, &s->occupancy, big ? 0.6 : rng_range(r, 0.2, 0.6), big ? 16 : 24 + (int)(rng_uniform(r) * 40));
    /* a camera around the box, looking near its centre */
    float eye[3], target[3], up[3] = {0, 0, 1}, dir[3], len = 0.0f;
    for (int a = 0; a < 3; a++) dir[a] = (float)rng_normal(r), len += dir[a] * dir[a];
    float distance = side * (float)rng_range(r, 0.9, 2.5);
    for (int a = 0; a < 3; a++) {
        eye[a] = centre[a] + dir[a] / sqrtf(len) * distance;
        target[a] = centre[a] + (float)rng_range(r, -0.1, 0.1) * side;
    }
    /* the large frame is CUDA's (more rays than its first wave): on lavapipe, in the
       sanitizer build and on the CPU row (threads against one thread, which 110x100's 172
       tiles of 64 pixels ask as well) it is cut to 110x100 */
    bool cut = big && (env->reduced || !env->gpu);
    int width = cut ? 110 : SIZES[i][0], height = cut ? 100 : SIZES[i][1];
    /* the sanitizer build: the other frames at half the width and height. Its memory checks
       want each case's kinds of ray and target, not every pixel (the release build compares
       those): an 80x60 frame of a wide field took it 25 s on lavapipe, 15 s on the reference */
    if (!big && TEST_SANITIZED) width = (width + 1) / 2, height = (height + 1) / 2;
    c->camera = rd_camera_look_at(eye, target, up, width, height, (float)rng_range(r, 30.0, 70.0));
    c->camera.cx += (float)rng_range(r, -5.0, 5.0), c->camera.cy += (float)rng_range(r, -5.0, 5.0);
    c->camera.near_plane = i == 3 ? distance * 0.8f : (float)rng_range(r, 0.0, 0.1);
    c->camera.far_plane = i == 1 ? distance : 0.0f;
    for (int a = 0; a < 3; a++) c->desc.background[a] = (float)rng_uniform(r);
    c->desc.flags = i % 2 ? RD_RENDER_EXPECTED_DEPTH : 0;
    c->device_target = i == 2 || i == 4;
    return c;
}

static bool render_large(const void *inputs)
{
    const render_case *c = inputs;
    return (int64_t)c->camera.width * c->camera.height > 4000;
}

static rd_result render_run(rd_context *ctx, void *inputs, void **outputs)
{
    const render_case *c = inputs;
    size_t pixels = (size_t)c->camera.width * c->camera.height;
    render_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    o->color = malloc(sizeof(float) * 4 * pixels), o->depth = malloc(sizeof(float) * pixels);
    o->trans = malloc(sizeof(float) * pixels), o->contrib = malloc(sizeof(uint32_t) * pixels);
    memset(o->color, 0xff, sizeof(float) * 4 * pixels), memset(o->depth, 0xff, sizeof(float) * pixels);
    memset(o->trans, 0xff, sizeof(float) * pixels), memset(o->contrib, 0xff, sizeof(uint32_t) * pixels);
    if (!c->device_target || rd_context_backend(ctx) == RD_BACKEND_CPU)
        return rd_render(ctx, c->scene, &c->camera, &c->desc,
                         &(rd_framebuffer){.color = o->color, .depth = o->depth, .transmittance = o->trans, .contributors = o->contrib});
    /* the frame into device memory, poisoned, then copied back */
    void *p[4] = {0};
    size_t bytes[4] = {sizeof(float) * 4 * pixels, sizeof(float) * pixels, sizeof(float) * pixels, sizeof(uint32_t) * pixels};
    void *host[4] = {o->color, o->depth, o->trans, o->contrib};
    rd_memory memory = RD_MEMORY_DEVICE;
    rd_result r = RD_OK;
    for (int k = 0; k < 4 && r == RD_OK; k++) {
        r = rd_buffer_alloc(ctx, bytes[k], &p[k], &memory);
        if (r == RD_OK) r = rd_buffer_copy(ctx, p[k], memory, host[k], RD_MEMORY_HOST, bytes[k]);
    }
    if (r == RD_OK)
        r = rd_render(ctx, c->scene, &c->camera, &c->desc,
                      &(rd_framebuffer){.color = p[0], .depth = p[1], .transmittance = p[2], .contributors = p[3], .memory = memory});
    for (int k = 0; k < 4 && r == RD_OK; k++) r = rd_buffer_copy(ctx, host[k], RD_MEMORY_HOST, p[k], memory, bytes[k]);
    for (int k = 0; k < 4; k++) rd_buffer_free(ctx, p[k]);
    return r;
}

/* the bounds of one comparison: the largest error under max_abs, the relative L2 under
   rel_l2; a pixel marked in excused (one whose samples differ, see render_compare) is held
   to excused_abs instead of max_abs */
typedef struct render_bounds {
    double max_abs, rel_l2, excused_abs;
    const uint8_t *excused;
} render_bounds;

static bool render_within(const char *what, const float *got, const float *want, size_t n, size_t stride, render_bounds b,
                          bool verbose)
{
    double num = 0.0, den = 0.0, worst = 0.0, worst_excused = 0.0;
    size_t nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i * stride], w = want[i * stride];
        if (!isfinite(g)) {
            nonfinite++;
            continue;
        }
        /* a pixel whose samples differ (at most a few, each held to excused_abs) is left out of
           the relative L2 too: on a frame mostly empty its one sample's share of alpha (0.0103,
           the float march on lavapipe) was 0.00113 of the whole */
        if (b.excused && b.excused[i]) {
            worst_excused = fmax(worst_excused, fabs(g - w));
            continue;
        }
        num += (g - w) * (g - w), den += w * w;
        worst = fmax(worst, fabs(g - w));
    }
    double rel = den > 0.0 ? sqrt(num / den) : sqrt(num);
    bool ok = nonfinite == 0 && worst <= b.max_abs && worst_excused <= b.excused_abs && rel <= b.rel_l2;
    if (!ok || verbose)
        printf("    %s: largest error %.3g (bound %.3g; %.3g at pixels whose samples differ, bound %.3g), rel_l2 of the others %.3g (bound %.3g), "
               "%zu non-finite -> %s\n",
               what, worst, b.max_abs, worst_excused, b.excused_abs, rel, b.rel_l2, nonfinite, ok ? "ok" : "FAIL");
    return ok;
}

static bool render_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const render_case *c = inputs;
    const render_outputs *got = got_outputs, *want = want_outputs;
    size_t pixels = (size_t)c->camera.width * c->camera.height;
    if (!env->gpu) {
        bool ok = compare_ok("colour", compare_floats(got->color, want->color, 4 * pixels, 0.0), 0, 0.0);
        ok &= compare_ok("depth", compare_floats(got->depth, want->depth, pixels, 0.0), 0, 0.0);
        ok &= compare_ok("transmittance", compare_floats(got->trans, want->trans, pixels, 0.0), 0, 0.0);
        return ok & (memcmp(got->contrib, want->contrib, sizeof(uint32_t) * pixels) == 0);
    }
    double largest_depth = 0.0, samples = 0.0, opaque = 0.0, clear = 0.0;
    size_t counts_differ = 0, clear_differ = 0;
    uint32_t clear_by = 0; /* the largest difference in samples at a pixel that is not opaque */
    uint8_t *excused = calloc(pixels, 1);
    if (!excused) return false;
    for (size_t p = 0; p < pixels; p++) {
        largest_depth = fmax(largest_depth, fabs(want->depth[p]));
        samples += want->contrib[p];
        opaque += want->color[4 * p + 3] >= OPAQUE_ALPHA, clear += want->color[4 * p + 3] == 0.0f;
        if (got->contrib[p] != want->contrib[p]) {
            counts_differ++;
            if (want->color[4 * p + 3] < OPAQUE_ALPHA) {
                clear_differ++, excused[p] = 1;
                uint32_t by = got->contrib[p] > want->contrib[p] ? got->contrib[p] - want->contrib[p] : want->contrib[p] - got->contrib[p];
                clear_by = by > clear_by ? by : clear_by;
            }
        }
    }
    /* where an opaque pixel's ray stops is a rounding away; elsewhere a sample whose t falls
       within rounding of a cell's face may be taken by one backend and not the other (seen
       in ~1 of 120 lavapipe cases: 1 pixel, once with its alpha 0.0099 off): a pixel in 1000
       (at least one) may differ by a sample or two, no more, and such a pixel's colour is
       held to CUDA's looser bound (one sample more or less moves it by that sample's share) */
    size_t clear_allowed = pixels / 1000 > 1 ? pixels / 1000 : 1;
    /* the float march (its variant row) meets a face's rounding more often: over 11 seeds' 5
       cases on lavapipe at most 2 such pixels in a frame of 3,072 and 3 in 12,288; twice the
       share, at least 2 */
    if (float_march(env)) clear_allowed = pixels / 500 > 2 ? pixels / 500 : 2;
    bool clear_ok = clear_differ <= clear_allowed && clear_by <= 2;
    bool verbose = true; /* a few lines a case: the measured errors next to their bounds */
    printf("    frame %dx%d, %.0f samples composited, %.0f%% opaque, %.0f%% empty pixels\n", c->camera.width, c->camera.height, samples,
           100.0 * opaque / (double)pixels, 100.0 * clear / (double)pixels);
    bool ok = true, vulkan = rd_context_backend(env->ctx) == RD_BACKEND_VULKAN;
    render_bounds b = {vulkan ? RENDER_VK_MAX_ABS : RENDER_MAX_ABS, vulkan ? RENDER_VK_REL_L2 : RENDER_REL_L2, RENDER_MAX_ABS,
                       excused};
    for (int k = 0; k < 4; k++) {
        static const char *const NAMES[4] = {"red", "green", "blue", "alpha"};
        ok &= render_within(NAMES[k], got->color + k, want->color + k, pixels, 4, b, verbose);
    }
    ok &= render_within("transmittance", got->trans, want->trans, pixels, 1, b, verbose);
    double depth_scale = fmax(largest_depth, 1e-3);
    b.max_abs *= depth_scale, b.excused_abs *= depth_scale;
    ok &= render_within("depth", got->depth, want->depth, pixels, 1, b, verbose);
    free(excused);
    printf("    contributors differ at %zu pixels, %zu of them not opaque (alpha < %g; allowed %zu, by at most 2 samples: %u) -> %s\n",
           counts_differ, clear_differ, OPAQUE_ALPHA, clear_allowed, clear_by, clear_ok ? "ok" : "FAIL");
    return ok && clear_ok;
}

static void render_describe(const void *inputs)
{
    const render_case *c = inputs;
    rd_nerf_info info;
    rd_nerf_get_info(NULL, c->scene, &info);
    printf("%dx%d, %d levels, 2^%d entries, width %d, aabb_scale %d, density x%g, near %g far %g, %s target%s, mask %d^3\n",
           c->camera.width, c->camera.height, info.desc.levels, info.desc.log2_table_size, info.desc.width, info.desc.aabb_scale,
           c->density_scale, c->camera.near_plane, c->camera.far_plane, c->device_target ? "device" : "host",
           c->desc.flags & RD_RENDER_EXPECTED_DEPTH ? ", expected depth" : "", info.desc.saliency_resolution);
}

static void render_free_inputs(void *inputs)
{
    render_case *c = inputs;
    rd_scene_destroy(c->scene);
    free(c);
}

static void render_free_outputs(void *outputs)
{
    render_outputs *o = outputs;
    if (o) free(o->color), free(o->depth), free(o->trans), free(o->contrib);
    free(o);
}

const backend_op OP_NERF_RENDER = {"nerf render", {0, 0, 0}, render_cases, render_generate, render_large, render_run,
                                   render_compare, render_describe, render_free_inputs, render_free_outputs};
