/* ops_stream_encode.c: the residual encoder's step as a row of the cross-backend harness
   (backend_ops.h): a random parent scene (every SH degree), random latents, decoders,
   free positions and gate logits, and random scene gradients as the backward pass would
   give them; the step's gates and decode, its chain (dz, dx, d ln alpha a Gaussian; the
   decoders' dW and db summed over the Gaussians) and the settle (the gate logits' clamp,
   the latents' shrink toward their anchors, 0 or random), by the CPU
   reference (compress/stream_encode_step.c) and by CUDA's kernels (stream_encode_cuda.cu)
   on device copies. Half the cases draw noisy gates, a quarter evaluate them, a quarter
   turn them off. Tolerance on CUDA: the gates' logf and expf are not glibc's (a few ulps,
   times 1/tau), and the sums are a float tree against the CPU's double; the decode itself
   rounds as the CPU does. Vulkan has no training kernels and runs no case. Beside it the
   split's loss mask and a densification's rebuild on the device (rows gathered by a plan,
   fresh rows' moments zeroed, split children placed), both exact. */
#include "backend_ops.h"
#include "compare.h"
#include "../compress/stream.h"
#include "../compress/stream_encode_step.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { STEP_FIELDS = 7 + 4 * RD_STREAM_ATTRIBUTES }; /* per attribute: dz, dW, db, the latents settled */

typedef struct encode_case {
    stream_encode_step s;      /* host arrays: inputs, and outputs' shapes */
    float *parent, *grads;     /* blocks of count*(11 + sh_floats) */
    float *basis[RD_STREAM_ATTRIBUTES];
    uint8_t *dynamic;          /* the split's flags, in some cases */
    float *anchor[RD_STREAM_ATTRIBUTES]; /* the shrink's targets, in some cases */
} encode_case;

/* The outputs, host copies, in one list of arrays with their lengths. */
typedef struct encode_outputs {
    float *field[STEP_FIELDS];
    size_t size[STEP_FIELDS];
} encode_outputs;

static int64_t per_gaussian(const stream_encode_step *s) { return 11 + s->sh_floats; }

static int encode_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? 6 : 0; }

static void scene_block(stream_encode_step *s, float *block, const float **into)
{
    for (int k = 0; k < ENCODE_ARRAYS; k++) into[k] = block, block += s->count * stream_encode_array_width(k, s->sh_floats);
}

static void *encode_generate(const op_env *env, test_rng *r, int i)
{
    static const int64_t counts[] = {1, 37, 1000, 300, 20000, 4096};
    encode_case *c = calloc(1, sizeof *c);
    stream_encode_step *s = &c->s;
    int64_t n = s->count = env->reduced && counts[i] > 4096 ? 4096 : counts[i];
    int degree = i % 4;
    s->sh_floats = 3 * (degree + 1) * (degree + 1);
    int64_t per = per_gaussian(s);
    c->parent = random_floats(r, (size_t)(n * per), -1.0, 1.0);
    c->grads = random_floats(r, (size_t)(n * per), -0.01, 0.01);
    scene_block(s, c->parent, s->parent);
    scene_block(s, c->grads, s->grads);
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        stream_encode_latents *l = &s->latents[a];
        l->features = rd_stream_features((rd_stream_attribute)a, degree);
        l->ld = !l->features || rng_uniform(r) < 0.2 ? 0 : 1 + (int)(rng_uniform(r) * 8);
        if (!l->ld) continue;
        l->cosine = a == RD_STREAM_OPACITY, l->absolute = a == RD_STREAM_F_REST;
        if (i % 2) l->anchor = c->anchor[a] = random_floats(r, (size_t)(n * l->ld), -3.0, 3.0); /* the shrink's target (NULL: 0) */
        size_t w = (size_t)stream_encode_decoder_size(l);
        l->z = random_floats(r, (size_t)(n * l->ld), -3.0, 3.0);
        l->W = random_floats(r, w, -0.05, 0.05), l->b = random_floats(r, (size_t)l->features, -0.01, 0.01);
        c->basis[a] = malloc((size_t)l->ld * (size_t)l->features * sizeof(float));
        for (int k = 0; k < l->ld; k++)
            for (int f = 0; f < l->features; f++)
                c->basis[a][k * l->features + f] = l->cosine ? (float)rd_stream_cosine_basis(k, f, l->features) : 1.0f;
        l->basis = c->basis[a];
    }
    s->x = random_floats(r, (size_t)n * 3, -1.0, 1.0);
    s->log_alpha = random_floats(r, (size_t)n, -10.0, 10.0); /* some beyond the clamp's [ln 1e-3, ln 1e3] */
    s->seed = (uint32_t)(rng_uniform(r) * 4294967295.0), s->step = (uint32_t)(rng_uniform(r) * 1000);
    s->eval = i % 4 == 1, s->gates_off = i % 4 == 3;
    if (i % 2 == 0) { /* the split: random flags, the static Gaussians hidden in some */
        c->dynamic = malloc((size_t)n + 1);
        for (int64_t k = 0; k < n; k++) c->dynamic[k] = rng_uniform(r) < 0.3;
        s->dynamic = c->dynamic, s->hide_static = i % 3 == 0;
    }
    s->lambda = (float)(0.001 + rng_uniform(r) * 0.1);
    s->shrink = i % 3 == 2 ? 0.0f : (float)(rng_uniform(r) * 0.1);
    return c;
}

static void encode_free_inputs(void *inputs)
{
    encode_case *c = inputs;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        stream_encode_latents *l = &c->s.latents[a];
        free(l->z), free(l->W), free(l->b), free(c->basis[a]);
    }
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) free(c->anchor[a]);
    free(c->parent), free(c->grads), free(c->s.x), free(c->s.log_alpha), free(c->dynamic);
    free(c);
}

static void encode_free_outputs(void *outputs)
{
    encode_outputs *o = outputs;
    for (int k = 0; o && k < STEP_FIELDS; k++) free(o->field[k]);
    free(o);
}

/* The outputs' list: decoded, gate, slope, gx, galpha, clamped ln alpha, then dz, dW, db
   and the settled latents of each attribute (empty where it has no latents). */
static encode_outputs *outputs_for(const stream_encode_step *s)
{
    encode_outputs *o = calloc(1, sizeof *o);
    size_t n = (size_t)s->count;
    size_t sizes[7] = {n * (size_t)per_gaussian(s), n, n, 3 * n, n, n, 0};
    for (int k = 0; k < 6; k++) o->size[k] = sizes[k];
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &s->latents[a];
        if (!l->ld) continue;
        o->size[7 + 4 * a] = n * (size_t)l->ld, o->size[8 + 4 * a] = (size_t)stream_encode_decoder_size(l);
        o->size[9 + 4 * a] = (size_t)l->features, o->size[10 + 4 * a] = n * (size_t)l->ld;
    }
    for (int k = 0; k < STEP_FIELDS; k++) {
        o->field[k] = malloc((o->size[k] + 1) * sizeof(float));
        for (size_t e = 0; e < o->size[k]; e++) o->field[k][e] = NAN;
    }
    return o;
}

/* The step's output pointers over the arrays in o's order (host or device). */
static void point_outputs(stream_encode_step *s, float *const field[STEP_FIELDS])
{
    const float *decoded[ENCODE_ARRAYS];
    scene_block(s, field[0], decoded);
    for (int k = 0; k < ENCODE_ARRAYS; k++) s->decoded[k] = (float *)decoded[k];
    s->gate = field[1], s->gate_slope = field[2], s->gx = field[3], s->galpha = field[4], s->log_alpha = field[5];
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        stream_encode_latents *l = &s->latents[a];
        if (l->ld) l->gz = field[7 + 4 * a], l->gW = field[8 + 4 * a], l->gb = field[9 + 4 * a], l->z = field[10 + 4 * a];
    }
}

#ifdef RADIANT_TEST_CUDA
/* Device copies of a case's arrays, freed together. */
typedef struct device_list {
    rd_context *ctx;
    bool ok;
    int count;
    void *all[2 * STEP_FIELDS + 8];
} device_list;

/* floats of host (NULL: zeros) on the device, listed in d. */
static float *up(device_list *d, const float *host, size_t floats)
{
    float *p = d->ok && d->count < (int)(sizeof d->all / sizeof d->all[0]) ? op_device_copy(d->ctx, host, floats * sizeof(float)) : NULL;
    if (p) d->all[d->count++] = p;
    d->ok = d->ok && p;
    return p;
}
#endif

static rd_result encode_run(rd_context *ctx, void *inputs, void **outputs)
{
    encode_case *c = inputs;
    encode_outputs *o = outputs_for(&c->s);
    *outputs = o;
    size_t n = (size_t)c->s.count;
    memcpy(o->field[0], c->parent, o->size[0] * sizeof(float)); /* the decoded scene starts as the parent (the encoder's rule) */
    memcpy(o->field[5], c->s.log_alpha, n * sizeof(float));      /* the logits: read by the gates, then clamped in place */
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) /* the latents: read by the decode, then shrunk in place */
        if (c->s.latents[a].ld) memcpy(o->field[10 + 4 * a], c->s.latents[a].z, o->size[10 + 4 * a] * sizeof(float));
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        stream_encode_step s = c->s;
        point_outputs(&s, o->field);
        rd_stream_encode_decode_cpu(&s);
        rd_stream_encode_chain_cpu(&s);
        rd_stream_encode_settle_cpu(&s);
        return RD_OK;
    }
    rd_result r = RD_ERROR_UNSUPPORTED;
#ifdef RADIANT_TEST_CUDA
    /* every input and output array on the device: inputs copied up, outputs (poisoned) too */
    device_list d = {ctx, true, 0, {0}};
    stream_encode_step s = c->s;
    float *field[STEP_FIELDS];
    for (int k = 0; k < STEP_FIELDS; k++) field[k] = up(&d, o->field[k], o->size[k]);
    float *parent = up(&d, c->parent, o->size[0]), *grads = up(&d, c->grads, o->size[0]);
    s.x = up(&d, c->s.x, 3 * n);
    if (d.ok) {
        scene_block(&s, parent, s.parent), scene_block(&s, grads, s.grads);
        point_outputs(&s, field);
    }
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        stream_encode_latents *l = &s.latents[a];
        if (!l->ld) continue;
        l->W = up(&d, l->W, o->size[8 + 4 * a]), l->b = up(&d, l->b, (size_t)l->features); /* z: its output field */
        l->basis = up(&d, l->basis, (size_t)l->ld * (size_t)l->features);
        if (l->anchor) l->anchor = up(&d, l->anchor, n * (size_t)l->ld);
    }
    if (c->dynamic) { /* the flags as bytes in a float array's room */
        uint8_t *flags = (uint8_t *)up(&d, NULL, (n + 3) / 4);
        if (flags && rd_buffer_copy(ctx, flags, RD_MEMORY_DEVICE, c->dynamic, RD_MEMORY_HOST, n) != RD_OK) d.ok = false;
        s.dynamic = flags;
    }
    float *partials = d.ok ? up(&d, NULL, rd_stream_encode_partials_floats(&s)) : NULL;
    r = d.ok ? RD_OK : RD_ERROR_OUT_OF_MEMORY;
    if (r == RD_OK) r = rd_stream_encode_decode_cuda(ctx, &s);
    if (r == RD_OK) r = rd_stream_encode_chain_cuda(ctx, &s, partials);
    if (r == RD_OK) r = rd_stream_encode_settle_cuda(ctx, &s);
    for (int k = 0; k < STEP_FIELDS && r == RD_OK; k++)
        r = rd_buffer_copy(ctx, o->field[k], RD_MEMORY_HOST, field[k], RD_MEMORY_DEVICE, o->size[k] * sizeof(float));
    for (int k = 0; k < d.count; k++) rd_buffer_free(ctx, d.all[k]);
#endif
    return r;
}

/* Each field within the tolerance of its largest value (or of `scale` where that is
   larger); on GPUs a few samples a field may flip (a gate a rounding away from its clamp
   at 0 or 1 turns its slope, and so its d ln alpha, on or off). */
static bool encode_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)inputs;
    static const char *const names[7] = {"decoded scene", "gates", "gate slopes", "dx", "d ln alpha", "clamped ln alpha", ""};
    static const char *const parts[4] = {"dz", "dW", "db", "settled z"};
    static const char *const attributes[RD_STREAM_ATTRIBUTES] = {"f_dc", "f_rest", "scale", "rotation", "opacity"};
    const encode_outputs *got = got_outputs, *want = want_outputs;
    bool ok = true;
    for (int k = 0; k < STEP_FIELDS; k++) {
        size_t n = want->size[k];
        if (k == 6 || !n) continue;
        char what[64];
        if (k < 6) snprintf(what, sizeof what, "%s", names[k]);
        else snprintf(what, sizeof what, "%s %s", attributes[(k - 7) / 4], parts[(k - 7) % 4]);
        double largest = 1e-6;
        for (size_t e = 0; e < n; e++) largest = fmax(largest, fabs(want->field[k][e]));
        size_t flips = env->gpu ? n / 5000 + 1 : 0;
        ok &= compare_ok(what, compare_floats(got->field[k], want->field[k], n, env->tol.rel_l2 * largest), flips, INFINITY);
    }
    return ok;
}

static void encode_describe(const void *inputs)
{
    const encode_case *c = inputs;
    const stream_encode_step *s = &c->s;
    printf("    %lld Gaussians, %d SH floats, latents %d %d %d %d %d, gates %s, seed %u step %u, split %s, shrink %.3f\n", (long long)s->count,
           s->sh_floats, s->latents[0].ld, s->latents[1].ld, s->latents[2].ld, s->latents[3].ld, s->latents[4].ld,
           s->gates_off ? "off" : s->eval ? "evaluated" : "drawn", s->seed, s->step,
           !s->dynamic ? "none" : s->hide_static ? "hiding the static" : "flags only", s->shrink);
}

static bool never_large(const void *inputs) { (void)inputs; return false; }

const backend_op OP_STREAM_ENCODE_STEP = {"stream_encode_step", {0, 2e-5, 0}, encode_cases, encode_generate, never_large, encode_run,
                                          encode_compare, encode_describe, encode_free_inputs, encode_free_outputs};

/* ---- the split's loss mask: random frames whose alpha has a few opaque islands ---- */

typedef struct mask_case {
    int width, height;
    float *render, *photo, *grad, background[3];
} mask_case;

static int mask_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? 5 : 0; }

static void *mask_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const int sizes[][2] = {{1, 1}, {30, 20}, {200, 113}, {97, 300}, {640, 360}};
    mask_case *c = calloc(1, sizeof *c);
    c->width = sizes[i][0], c->height = sizes[i][1];
    size_t pixels = (size_t)c->width * (size_t)c->height;
    c->render = random_floats(r, 4 * pixels, 0.0, 1.0), c->photo = random_floats(r, 4 * pixels, 0.0, 1.0);
    c->grad = random_floats(r, 4 * pixels, -1.0, 1.0);
    for (size_t p = 0; p < pixels; p++) c->render[4 * p + 3] = rng_uniform(r) < 0.002 ? 0.9f : 0.3f; /* islands over 1/2 */
    for (int k = 0; k < 3; k++) c->background[k] = (float)rng_uniform(r);
    return c;
}

static void mask_free_inputs(void *inputs)
{
    mask_case *c = inputs;
    free(c->render), free(c->photo), free(c->grad), free(c);
}

/* Outputs: the changed render, the mask, the masked gradient (an encode_outputs' first three). */
static rd_result mask_run(rd_context *ctx, void *inputs, void **outputs)
{
    mask_case *c = inputs;
    encode_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t pixels = (size_t)c->width * (size_t)c->height;
    size_t sizes[3] = {4 * pixels, pixels, 4 * pixels};
    const float *from[3] = {c->render, NULL, c->grad};
    for (int k = 0; k < 3; k++) {
        o->size[k] = sizes[k], o->field[k] = malloc((sizes[k] + 1) * sizeof(float));
        for (size_t e = 0; e < sizes[k]; e++) o->field[k][e] = from[k] ? from[k][e] : NAN;
    }
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        float *rows = malloc((pixels + 1) * sizeof(float));
        rd_stream_encode_mask_cpu(o->field[0], c->photo, c->background, c->width, c->height, rows, o->field[1]);
        rd_stream_encode_mask_grad_cpu(o->field[2], o->field[1], (int64_t)pixels);
        free(rows);
        return RD_OK;
    }
    rd_result r = RD_ERROR_UNSUPPORTED;
#ifdef RADIANT_TEST_CUDA
    device_list d = {ctx, true, 0, {0}};
    float *render = up(&d, o->field[0], sizes[0]), *photo = up(&d, c->photo, sizes[0]), *mask = up(&d, o->field[1], pixels);
    float *grad = up(&d, o->field[2], sizes[2]), *rows = up(&d, NULL, pixels);
    r = d.ok ? rd_stream_encode_mask_cuda(ctx, render, photo, c->background, c->width, c->height, rows, mask) : RD_ERROR_OUT_OF_MEMORY;
    if (r == RD_OK) r = rd_stream_encode_mask_grad_cuda(ctx, grad, mask, (int64_t)pixels);
    float *device[3] = {render, mask, grad};
    for (int k = 0; k < 3 && r == RD_OK; k++)
        r = rd_buffer_copy(ctx, o->field[k], RD_MEMORY_HOST, device[k], RD_MEMORY_DEVICE, sizes[k] * sizeof(float));
    for (int k = 0; k < d.count; k++) rd_buffer_free(ctx, d.all[k]);
#endif
    return r;
}

/* Comparisons, copies and the photo's composite rounded one step at a time: exact. */
static bool mask_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)env, (void)inputs;
    static const char *const names[3] = {"masked render", "mask", "masked gradient"};
    const encode_outputs *got = got_outputs, *want = want_outputs;
    bool ok = true;
    for (int k = 0; k < 3; k++) ok &= compare_ok(names[k], compare_floats(got->field[k], want->field[k], want->size[k], 0.0), 0, 0.0);
    return ok;
}

static void mask_describe(const void *inputs)
{
    const mask_case *c = inputs;
    printf("    %dx%d\n", c->width, c->height);
}

const backend_op OP_STREAM_ENCODE_MASK = {"stream_encode_mask", {0, 0, 0}, mask_cases, mask_generate, never_large, mask_run,
                                          mask_compare, mask_describe, mask_free_inputs, encode_free_outputs};

/* ---- a densification's rebuild: rows gathered from the old state, split children placed ---- */

typedef struct rebuild_case {
    int64_t old_count, count, children;
    int width, scale_ld;
    float *old;                /* old_count*width */
    int64_t *from, *child_rows;
    uint8_t *fresh;
    float *child_x, shrink[RD_STREAM_MAX_LATENT];
    bool shrinks;
    float *x, *log_alpha, *z, *anchor; /* the gathered state the children change: count*3, count, count*scale_ld twice */
} rebuild_case;

static int rebuild_cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? 5 : 0; }

static void *rebuild_generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const int64_t counts[] = {1, 40, 3000, 777, 20000};
    rebuild_case *c = calloc(1, sizeof *c);
    c->old_count = counts[i], c->width = 1 + (int)(rng_uniform(r) * 48), c->scale_ld = i % 3 ? 1 + (int)(rng_uniform(r) * 8) : 0;
    c->count = 1 + (int64_t)(rng_uniform(r) * (double)(2 * c->old_count)); /* pruned below the old count, or grown to twice it */
    c->old = random_floats(r, (size_t)(c->old_count * c->width), -1.0, 1.0);
    c->from = malloc((size_t)c->count * sizeof(int64_t)), c->fresh = malloc((size_t)c->count);
    c->child_rows = malloc((size_t)c->count * sizeof(int64_t));
    for (int64_t j = 0; j < c->count; j++) {
        c->from[j] = (int64_t)(rng_uniform(r) * (double)c->old_count), c->fresh[j] = rng_uniform(r) < 0.1;
        if (rng_uniform(r) < 0.05) c->child_rows[c->children++] = j; /* distinct, in row order, as a plan's */
    }
    c->child_x = random_floats(r, (size_t)(3 * c->children + 1), -2.0, 2.0);
    c->shrinks = i != 3;
    for (int k = 0; k < RD_STREAM_MAX_LATENT; k++) c->shrink[k] = (float)(rng_uniform(r) - 0.5);
    c->x = random_floats(r, (size_t)(3 * c->count), -1.0, 1.0), c->log_alpha = random_floats(r, (size_t)c->count, -6.0, 6.0);
    c->z = random_floats(r, (size_t)(c->count * c->scale_ld + 1), -3.0, 3.0);
    c->anchor = random_floats(r, (size_t)(c->count * c->scale_ld + 1), -3.0, 3.0);
    return c;
}

static void rebuild_free_inputs(void *inputs)
{
    rebuild_case *c = inputs;
    free(c->old), free(c->from), free(c->fresh), free(c->child_rows), free(c->child_x);
    free(c->x), free(c->log_alpha), free(c->z), free(c->anchor), free(c);
}

/* Outputs: the array gathered as values and as moments (fresh rows zero), then x, ln alpha,
   the scale latents and their anchors after the children's placing. */
static rd_result rebuild_run(rd_context *ctx, void *inputs, void **outputs)
{
    rebuild_case *c = inputs;
    encode_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    size_t rows = (size_t)(c->count * c->width), sizes[6] = {rows, rows, (size_t)(3 * c->count), (size_t)c->count,
                                                               (size_t)(c->count * c->scale_ld), (size_t)(c->count * c->scale_ld)};
    const float *start[6] = {NULL, NULL, c->x, c->log_alpha, c->z, c->anchor};
    for (int k = 0; k < 6; k++) {
        o->size[k] = sizes[k], o->field[k] = malloc((sizes[k] + 1) * sizeof(float));
        for (size_t e = 0; e < sizes[k]; e++) o->field[k][e] = start[k] ? start[k][e] : NAN;
    }
    stream_encode_step s = {.count = c->count};
    s.latents[RD_STREAM_SCALE].ld = c->scale_ld;
    const float *shrink = c->shrinks ? c->shrink : NULL;
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) {
        for (int64_t j = 0; j < c->count; j++) {
            stream_encode_gather_one(o->field[0], c->old, c->width, c->from, NULL, j);
            stream_encode_gather_one(o->field[1], c->old, c->width, c->from, c->fresh, j);
        }
        s.x = o->field[2], s.log_alpha = o->field[3], s.latents[RD_STREAM_SCALE].z = o->field[4];
        for (int64_t k = 0; k < c->children; k++) stream_encode_place_child_one(&s, o->field[5], c->child_rows, c->child_x, shrink, k);
        return RD_OK;
    }
    rd_result r = RD_ERROR_UNSUPPORTED;
#ifdef RADIANT_TEST_CUDA
    device_list d = {ctx, true, 0, {0}};
    float *field[6];
    for (int k = 0; k < 6; k++) field[k] = up(&d, o->field[k], sizes[k]);
    float *old = up(&d, c->old, (size_t)(c->old_count * c->width)), *child_x = up(&d, c->child_x, (size_t)(3 * c->children));
    int64_t *from = d.ok ? op_device_copy(ctx, c->from, (size_t)c->count * sizeof(int64_t)) : NULL;
    int64_t *child_rows = d.ok ? op_device_copy(ctx, c->child_rows, (size_t)(c->children + 1) * sizeof(int64_t)) : NULL;
    uint8_t *fresh = d.ok ? op_device_copy(ctx, c->fresh, (size_t)c->count) : NULL;
    void *extra[3] = {from, child_rows, fresh};
    s.x = field[2], s.log_alpha = field[3], s.latents[RD_STREAM_SCALE].z = field[4];
    r = d.ok && from && child_rows && fresh ? RD_OK : RD_ERROR_OUT_OF_MEMORY;
    if (r == RD_OK) r = rd_stream_encode_gather_cuda(ctx, field[0], old, c->width, from, NULL, c->count);
    if (r == RD_OK) r = rd_stream_encode_gather_cuda(ctx, field[1], old, c->width, from, fresh, c->count);
    if (r == RD_OK) r = rd_stream_encode_children_cuda(ctx, &s, field[5], child_rows, child_x, shrink, c->children);
    for (int k = 0; k < 6 && r == RD_OK; k++)
        r = rd_buffer_copy(ctx, o->field[k], RD_MEMORY_HOST, field[k], RD_MEMORY_DEVICE, sizes[k] * sizeof(float));
    for (int k = 0; k < d.count; k++) rd_buffer_free(ctx, d.all[k]);
    for (int k = 0; k < 3; k++) rd_buffer_free(ctx, extra[k]);
#endif
    return r;
}

/* Copies, a max and a sum a float: exact. */
static bool rebuild_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)env, (void)inputs;
    static const char *const names[6] = {"gathered rows", "gathered moments", "children's x", "children's ln alpha", "scale latents",
                                         "scale anchors"};
    const encode_outputs *got = got_outputs, *want = want_outputs;
    bool ok = true;
    for (int k = 0; k < 6; k++) ok &= compare_ok(names[k], compare_floats(got->field[k], want->field[k], want->size[k], 0.0), 0, 0.0);
    return ok;
}

static void rebuild_describe(const void *inputs)
{
    const rebuild_case *c = inputs;
    printf("    %lld rows -> %lld (width %d), %lld children, scale latents %d, shrink %s\n", (long long)c->old_count, (long long)c->count,
           c->width, (long long)c->children, c->scale_ld, c->shrinks ? "yes" : "no");
}

const backend_op OP_STREAM_ENCODE_REBUILD = {"stream_encode_rebuild", {0, 0, 0}, rebuild_cases, rebuild_generate, never_large, rebuild_run,
                                             rebuild_compare, rebuild_describe, rebuild_free_inputs, encode_free_outputs};
