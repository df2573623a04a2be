/* ops_stream.c: the residual stream decode's row of the cross-backend harness
   (backend_ops.h): a random previous state (every SH degree, with and without f_rest
   latents) and a random parsed residual frame (a parent mapping, as a parent a Gaussian or
   as runs of consecutive parents, or the identity, a moved
   subset, latents of random sizes for random attributes, each a row a Gaussian or rows
   listed for a random tenth of them (none in case 4), linear weights, f_rest coded
   absolutely or against the parent's latents; the GPUs read half the cases' latents as
   int32 values and half as the stream's zigzag byte planes), decoded by the CPU reference
   (stream_frames.c) and on each GPU from device arrays (stream_device.c). The decode
   is every product and sum rounded one by one on every backend, so the GPUs must give the
   CPU's bits: the tolerance is zero. */
#include "backend_ops.h"
#include "compare.h"
#include "../compress/stream_device.h"

#include <stdlib.h>
#include <string.h>

typedef struct stream_case {
    stream_state prev;
    stream_parsed_residual frame;
    float step;
} stream_case;

static int stream_cases(const op_env *env) { return env->variant ? 0 : 6; }

static int32_t *random_ints(test_rng *r, size_t n, int lo, int hi)
{
    int32_t *v = malloc(4 * n + 4);
    for (size_t i = 0; i < n; i++) v[i] = lo + (int32_t)(rng_uniform(r) * (hi - lo + 1));
    return v;
}

/* The frame's latents also as the stream stores them: zigzag byte planes of the narrowest
   width (1, 2 or 4) each, as rd_stream_get_int_planes leaves them for the device decode. */
static void add_planes(stream_parsed_residual *f)
{
    f->planes = calloc(1, sizeof *f->planes);
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        size_t n = f->rows[a] * (size_t)f->latent_dim[a];
        if (!f->latent_dim[a]) continue;
        uint32_t largest = 0;
        for (size_t e = 0; e < n; e++) {
            int32_t v = f->latents[a][e];
            uint32_t z = ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
            largest = z > largest ? z : largest;
        }
        int width = largest < 256 ? 1 : largest < 65536 ? 2 : 4;
        size_t start = (f->planes->size + 3) & ~(size_t)3;
        rd_bytes_grow(f->planes, start - f->planes->size + n * (size_t)width);
        for (size_t e = 0; e < n; e++) {
            int32_t v = f->latents[a][e];
            uint32_t z = ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
            for (int b = 0; b < width; b++) f->planes->data[start + (size_t)b * n + e] = (unsigned char)(z >> (8 * b));
        }
        f->latent_at[a] = start, f->latent_width[a] = width;
    }
}

static void *stream_generate(const op_env *env, test_rng *r, int i)
{
    stream_case *c = calloc(1, sizeof *c);
    int degree = i % 4, rest = i == 2 || i == 5 ? 4 : 0;
    int64_t prev_count = i == 5 ? (env->reduced ? 20000 : 200000) : 500 + (int64_t)(rng_uniform(r) * 3000);
    if (!rd_stream_state_reserve(&c->prev, prev_count, degree, rest)) {
        free(c);
        return NULL;
    }
    size_t n = (size_t)prev_count, C = 3 * (size_t)(degree + 1) * (size_t)(degree + 1);
    float *arrays[5] = {c->prev.means, c->prev.log_scales, c->prev.rotations, c->prev.opacities, c->prev.sh};
    size_t sizes[5] = {3 * n, 3 * n, 4 * n, n, C * n};
    for (int k = 0; k < 5; k++) {
        float *v = random_floats(r, sizes[k], -2, 2);
        memcpy(arrays[k], v, 4 * sizes[k]);
        free(v);
    }
    if (rest) {
        int32_t *v = random_ints(r, n * (size_t)rest, -40, 40);
        memcpy(c->prev.rest_latents, v, 4 * n * (size_t)rest);
        free(v);
    }
    stream_parsed_residual *f = &c->frame;
    bool mapped = i % 2 == 1;
    f->count = mapped ? (uint64_t)(prev_count + prev_count / 5) : (uint64_t)prev_count;
    if (mapped) { /* densification: every parent once in order, then a fifth again at random */
        f->mapping = malloc(8 * f->count);
        for (uint64_t g = 0; g < f->count; g++) /* every 13th parent dropped, its slot another's */
            f->mapping[g] = g < n && g % 13 ? (int64_t)g : (int64_t)(rng_uniform(r) * (double)n);
        if (i != 1) { /* as runs of consecutive parents (the stream's version 2 coding) */
            f->run_start = malloc(8 * f->count), f->run_parent = malloc(8 * f->count);
            for (uint64_t g = 0; g < f->count; g++)
                if (g == 0 || f->mapping[g] != f->mapping[g - 1] + 1)
                    f->run_start[f->runs] = (int64_t)g, f->run_parent[f->runs++] = f->mapping[g];
            free(f->mapping);
            f->mapping = NULL;
        }
    }
    f->moved = f->count / 7;
    f->moved_indices = malloc(8 * f->moved + 8);
    for (uint64_t j = 0; j < f->moved; j++) f->moved_indices[j] = (int64_t)(7 * j + 3);
    f->moved_steps = random_ints(r, 3 * f->moved, -300, 300);
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        int features = rd_stream_features((rd_stream_attribute)a, degree);
        bool used = features > 0 && (a != RD_STREAM_F_REST || i >= 2) && rng_uniform(r) < 0.8;
        f->latent_dim[a] = used ? 1 + (int)(rng_uniform(r) * 8) : 0;
        if (a == RD_STREAM_F_REST && used && rest && i == 5) f->latent_dim[a] = rest, f->rest_delta = true;
        if (!used) continue;
        f->rows[a] = f->count;
        if (rng_uniform(r) < 0.5) { /* rows listed: a tenth of the Gaussians at random (case 4: none) */
            f->row_index[a] = malloc(8 * f->count + 8);
            f->rows[a] = 0;
            for (uint64_t g = 0; g < f->count && i != 4; g++)
                if (rng_uniform(r) < 0.1) f->row_index[a][f->rows[a]++] = (int64_t)g;
        }
        f->latents[a] = random_ints(r, f->rows[a] * (uint64_t)f->latent_dim[a], -20, 20);
        f->W[a] = random_floats(r, (size_t)f->latent_dim[a] * (size_t)features, -0.05, 0.05);
        f->bias[a] = random_floats(r, (size_t)features, -0.1, 0.1); /* its own array here (parsed: in decoders) */
    }
    c->step = 1e-3f;
    if (i >= 3) add_planes(f); /* the GPUs read these latents as the stream stores them */
    return c;
}

static void stream_free_inputs(void *inputs)
{
    stream_case *c = inputs;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) free(c->frame.bias[a]);
    if (c->frame.planes) rd_bytes_free(c->frame.planes), free(c->frame.planes);
    rd_stream_parsed_free(&c->frame);
    rd_stream_state_free(&c->prev);
    free(c);
}

static rd_result stream_run(rd_context *ctx, void *inputs, void **outputs)
{
    stream_case *c = inputs;
    stream_state *next = calloc(1, sizeof *next);
    *outputs = next;
    if (rd_context_backend(ctx) == RD_BACKEND_CPU) { /* the reference reads the int32 latents */
        stream_parsed_residual values = c->frame;
        values.planes = NULL;
        return rd_stream_apply_residual(ctx, "harness", &values, &c->prev, c->step, next);
    }
    stream_device_state prev = {0}, dev = {0};
    stream_device_scratch scratch = {0};
    rd_result r = rd_stream_device_upload(ctx, &c->prev, &prev);
    if (r == RD_OK) r = rd_stream_device_apply(ctx, "harness", &c->frame, &prev, c->step, &dev, &scratch);
    if (r == RD_OK) r = rd_stream_device_download(ctx, &dev, next);
    rd_stream_device_free(ctx, &prev), rd_stream_device_free(ctx, &dev);
    rd_stream_scratch_free(ctx, &scratch);
    return r;
}

static bool stream_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)env, (void)inputs;
    const stream_state *got = got_outputs, *want = want_outputs;
    if (got->count != want->count || got->rest_latent_dim != want->rest_latent_dim) {
        printf("    count %lld, f_rest latents %d; the CPU's %lld, %d\n", (long long)got->count, got->rest_latent_dim,
               (long long)want->count, want->rest_latent_dim);
        return false;
    }
    size_t n = (size_t)want->count, C = 3 * (size_t)(want->sh_degree + 1) * (size_t)(want->sh_degree + 1);
    const float *g[5] = {got->means, got->log_scales, got->rotations, got->opacities, got->sh};
    const float *w[5] = {want->means, want->log_scales, want->rotations, want->opacities, want->sh};
    const char *names[5] = {"means", "log-scales", "rotations", "opacities", "SH"};
    size_t sizes[5] = {3 * n, 3 * n, 4 * n, n, C * n};
    bool ok = true;
    for (int k = 0; k < 5; k++) ok &= compare_ok(names[k], compare_floats(g[k], w[k], sizes[k], 0.0), 0, 0.0);
    size_t rest = n * (size_t)want->rest_latent_dim;
    if (rest && memcmp(got->rest_latents, want->rest_latents, 4 * rest) != 0) {
        printf("    f_rest latents differ\n");
        ok = false;
    }
    return ok;
}

static void stream_describe(const void *inputs)
{
    const stream_case *c = inputs;
    printf("%lld Gaussians of SH degree %d -> %llu (%s), %llu moved, latents %d %d %d %d %d%s\n", (long long)c->prev.count,
           c->prev.sh_degree, (unsigned long long)c->frame.count, c->frame.mapping ? "mapped" : c->frame.runs ? "mapped by runs" : "identity",
           (unsigned long long)c->frame.moved, c->frame.latent_dim[0], c->frame.latent_dim[1], c->frame.latent_dim[2],
           c->frame.latent_dim[3], c->frame.latent_dim[4], c->frame.rest_delta ? ", f_rest against the parent's" : "");
    if (c->frame.planes) printf("  (the GPUs read the latents as byte planes)\n");
}

static void stream_free_outputs(void *outputs)
{
    if (outputs) rd_stream_state_free(outputs);
    free(outputs);
}

const backend_op OP_STREAM_DECODE = {"stream_decode", {0, 0, 0}, stream_cases, stream_generate, NULL, stream_run, stream_compare,
                                     stream_describe, stream_free_inputs, stream_free_outputs};
