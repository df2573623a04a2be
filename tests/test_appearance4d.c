/* test_appearance4d.c: a 4D scene's appearance networks on the CPU (splat/appearance4d.h),
   on fresh random networks each run:
   - the backward pass of one Gaussian (weights of all four networks, its six features)
     against central differences of the forward pass, for SH degrees 0 and 3; the loss is
     piecewise linear in each of them, so a difference whose step crosses no ReLU's kink is
     exact up to rounding (a step that crosses one is skipped, and counted);
   - the encoding: contracted positions in [0, 1], the frequencies' sines and cosines of the
     reduced argument against double sin and cos of pi 2^k v;
   - a slice of a scene with networks equals, bit for bit, the slice of the same scene
     whose stored colour and opacity are the networks' outputs at that time (both the
     threaded pass and the calling thread's), and so does its CPU render;
   - the backward pass of a render refuses such a scene with a clear error;
   - a GPU context's views at one time reuse the networks' outputs, and only then. */
#include "test_util.h"
#include "../splat/appearance4d_cpu.h"
#include "../splat/scene4d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;
static test_rng rng;

static rd_appearance4d *random_networks(int sh_degree, int64_t count)
{
    rd_appearance4d *a = rd_appearance4d_new(sh_degree, count);
    if (!CHECK(a != NULL)) return NULL;
    rd_appearance4d_init(a, count, (uint64_t)(rng_uniform(&rng) * 1e12) + 1);
    for (uint32_t k = 0; k < a->weight_count; k++) a->weights[k] += (float)rng_range(&rng, -0.05, 0.05); /* biases too */
    for (int64_t k = 0; k < count * RD_APPEARANCE_FEATURES; k++) a->features[k] = (float)rng_range(&rng, -1.0, 1.0);
    for (int d = 0; d < 3; d++) a->centre[d] = (float)rng_range(&rng, -1, 1);
    a->radius = (float)rng_range(&rng, 0.5, 2.0), a->time_origin = (float)rng_range(&rng, -0.2, 0.2);
    a->time_span = (float)rng_range(&rng, 0.8, 1.5);
    return a;
}

/* The loss c . sh + c_logit logit of one Gaussian, in double; signs (may be NULL) gets
   each hidden unit's sign, to tell whether a step crossed a kink. */
static double loss_of(const rd_appearance4d *a, const float xyz[3], float t, const float *features, const double *c,
                      unsigned char *signs)
{
    float sh[48], logit;
    rd_appearance_trace trace;
    rd_appearance_eval(a, a->weights, xyz, t, features, sh, &logit, &trace);
    int floats = 3 * (a->sh_degree + 1) * (a->sh_degree + 1);
    double L = c[floats] * logit;
    for (int k = 0; k < floats; k++) L += c[k] * sh[k];
    if (signs)
        for (int n = 0; n < RD_APPEARANCE_NETS; n++)
            for (int j = 0; j < RD_APPEARANCE_HIDDEN; j++)
                signs[n * RD_APPEARANCE_HIDDEN + j] = a->mlp[n].outputs > 0 && trace.hidden[n][j] > 0.0f;
    return L;
}

static void test_gradients(int sh_degree)
{
    rd_appearance4d *a = random_networks(sh_degree, 1);
    if (!a) return;
    int floats = 3 * (sh_degree + 1) * (sh_degree + 1);
    float *dweights = calloc(a->weight_count, sizeof(float));
    double worst = 0.0;
    int checked = 0, skipped = 0;
    for (int trial = 0; trial < 4 && dweights; trial++) {
        float xyz[3], t = (float)rng_range(&rng, 0.0, 1.0), dfeatures[RD_APPEARANCE_FEATURES] = {0};
        for (int d = 0; d < 3; d++) xyz[d] = (float)rng_range(&rng, -3.0, 3.0); /* inside and outside the unit ball */
        double c[49];
        float dsh[49];
        for (int k = 0; k <= floats; k++) c[k] = rng_range(&rng, -1.0, 1.0), dsh[k] = (float)c[k];
        float sh[48], logit;
        rd_appearance_trace trace;
        rd_appearance_eval(a, a->weights, xyz, t, a->features, sh, &logit, &trace);
        memset(dweights, 0, a->weight_count * sizeof(float));
        rd_appearance_backward(a, a->features, &trace, dsh, (float)c[floats], dweights, dfeatures);
        unsigned char base[RD_APPEARANCE_NETS * RD_APPEARANCE_HIDDEN], plus[sizeof base], minus[sizeof base];
        loss_of(a, xyz, t, a->features, c, base);
        /* 60 weights spread over the networks, then the six features */
        for (int probe = 0; probe < 60 + RD_APPEARANCE_FEATURES; probe++) {
            bool feature = probe >= 60;
            float *x = feature ? &a->features[probe - 60]
                               : &a->weights[(uint32_t)(rng_uniform(&rng) * a->weight_count) % a->weight_count];
            double analytic = feature ? dfeatures[probe - 60] : dweights[x - a->weights];
            /* a step that moves a hidden unit across its ReLU's kink is tried again 0.3x as long
               (seed 6293958508: 65 of 264 crossed at 1e-2, 43 at both; it checked 199 of the 200 asked) */
            const float keep = *x;
            bool smooth = false;
            for (float h = 1e-2f; h >= 2e-3f && !smooth; h *= 0.3f) {
                *x = keep + h;
                double up = loss_of(a, xyz, t, a->features, c, plus);
                *x = keep - h;
                double down = loss_of(a, xyz, t, a->features, c, minus);
                *x = keep;
                smooth = !memcmp(plus, base, sizeof base) && !memcmp(minus, base, sizeof base);
                if (!smooth) continue;
                double numeric = (up - down) / (2.0 * (double)h), error = fabs(numeric - analytic) / fmax(1.0, fabs(analytic));
                worst = fmax(worst, error);
                checked++;
            }
            skipped += !smooth;
        }
    }
    printf("  SH degree %d: %d derivatives against central differences (%d steps crossed a kink, skipped), largest error %.2g\n",
           sh_degree, checked, skipped, worst);
    CHECK(checked >= 200);
    CHECK(worst < 2e-3);
    free(dweights);
    rd_appearance4d_free(a);
}

static void test_encoding(void)
{
    rd_appearance4d *a = random_networks(0, 1);
    if (!a) return;
    double worst = 0.0;
    bool in_range = true;
    for (int trial = 0; trial < 200; trial++) {
        float xyz[3], t = (float)rng_range(&rng, -0.5, 1.5), input[RD_APPEARANCE_INPUTS];
        for (int d = 0; d < 3; d++) xyz[d] = (float)rng_range(&rng, -20.0, 20.0);
        rd_appearance_input(a, xyz, t, input);
        for (int d = 0; d < 3; d++) in_range &= input[d] >= 0.0f && input[d] <= 1.0f;
        for (int k = 0; k < RD_APPEARANCE_FREQUENCIES; k++)
            for (int d = 0; d < 4; d++) {
                double arg = 3.14159265358979323846 * ldexp((double)input[d], k);
                worst = fmax(worst, fabs(input[4 + 8 * k + 2 * d] - sin(arg)));
                worst = fmax(worst, fabs(input[4 + 8 * k + 2 * d + 1] - cos(arg)));
            }
    }
    printf("  encoding: contracted positions in [0, 1]: %s; sines and cosines within %.2g of double\n", in_range ? "yes" : "no",
           worst);
    CHECK(in_range);
    CHECK(worst < 2e-6);
    rd_appearance4d_free(a);
}

/* The GPUs' layout: every weight of every MLP where the transposition puts it, the biases
   where they were, nothing else touched. */
static void test_transposed(void)
{
    rd_appearance4d *a = random_networks(3, 1);
    float *t = a ? malloc(a->weight_count * sizeof(float)) : NULL;
    if (!t) {
        CHECK(!"out of memory");
        rd_appearance4d_free(a);
        return;
    }
    rd_appearance4d_transposed(a, t);
    int64_t wrong = 0, moved = 0;
    for (int n = 0; n < RD_APPEARANCE_NETS; n++) {
        const rd_appearance_mlp m = a->mlp[n];
        const float *W1 = a->weights + m.offset, *b1 = W1 + RD_APPEARANCE_HIDDEN * m.inputs, *W2 = b1 + RD_APPEARANCE_HIDDEN;
        const float *b2 = W2 + m.outputs * RD_APPEARANCE_HIDDEN;
        const float *T1 = t + m.offset, *tb1 = T1 + RD_APPEARANCE_HIDDEN * m.inputs, *T2 = tb1 + RD_APPEARANCE_HIDDEN;
        const float *tb2 = T2 + m.outputs * RD_APPEARANCE_HIDDEN;
        for (int j = 0; j < RD_APPEARANCE_HIDDEN; j++) {
            wrong += tb1[j] != b1[j];
            for (int k = 0; k < m.inputs; k++) wrong += T1[k * RD_APPEARANCE_HIDDEN + j] != W1[j * m.inputs + k], moved++;
            for (int o = 0; o < m.outputs; o++) wrong += T2[j * m.outputs + o] != W2[o * RD_APPEARANCE_HIDDEN + j], moved++;
        }
        for (int o = 0; o < m.outputs; o++) wrong += tb2[o] != b2[o];
    }
    printf("  transposed weights: %lld of %lld moved weights and the biases misplaced\n", (long long)wrong, (long long)moved);
    CHECK(wrong == 0 && moved > 10000);
    free(t);
    rd_appearance4d_free(a);
}

static bool same_floats(const float *x, const float *y, size_t n) { return memcmp(x, y, n * sizeof(float)) == 0; }

/* The scene with networks against the one that stores their outputs at time t. */
static void test_slice_and_render(void)
{
    enum { N = 600, SH = 2 };
    rd_scene *with = random_scene4d(ctx, &rng, N, SH, 1, 1.0f), *plain = NULL;
    if (!with) return;
    rd_scene4d *s = (rd_scene4d *)with;
    rd_appearance4d *a = random_networks(SH, N);
    if (!a) return;
    rd_scene4d_set_appearance(s, a);
    const float t = (float)rng_range(&rng, 0.2, 0.8);
    const int floats = 3 * 9;
    float *opacities = malloc(N * sizeof(float)), *sh = malloc((size_t)N * floats * sizeof(float));
    int64_t *source = malloc(N * sizeof(int64_t));
    rd_scene *one = NULL, *two = NULL, *three = NULL;
    bool made = opacities && sh && source;
    if (made) {
        rd_appearance4d_eval_cpu(2, a, s->means, N, t, opacities, sh);
        made = CHECK_OK(rd_scene4d_create(ctx, &(rd_scene4d_desc){N, SH, 0, 1.0f, s->means, s->log_scales, s->rotations, opacities, sh,
                                                              RD_MEMORY_HOST},
                                          &plain));
    }
    made = made && CHECK_OK(rd_scene_alloc(ctx, N, SH, &one)) && CHECK_OK(rd_scene_alloc(ctx, N, SH, &two)) &&
           CHECK_OK(rd_scene_alloc(ctx, N, SH, &three));
    if (made) {
        rd_slice4d_cpu(ctx, s, t, one, source);                  /* networks on the threads */
        rd_slice4d_cpu(ctx, s, t, two, NULL);                    /* on the calling thread */
        rd_slice4d_cpu(ctx, (rd_scene4d *)plain, t, three, NULL); /* their outputs stored */
        size_t n = (size_t)three->count;
        printf("  slice at t = %.3f: %zu of %d Gaussians kept\n", t, n, N);
        CHECK(n > 0 && n < N && one->count == three->count && two->count == three->count);
        for (int k = 0; k < 2 && one->count == three->count && two->count == three->count; k++) {
            const rd_scene *x = k ? two : one;
            CHECK(same_floats(x->means, three->means, 3 * n) && same_floats(x->opacities, three->opacities, n) &&
                  same_floats(x->sh, three->sh, floats * n) && same_floats(x->rotations, three->rotations, 4 * n));
        }
        /* the CPU renders agree bit for bit, and the backward pass refuses the networks */
        rd_camera camera;
        CHECK_OK(rd_scene_orbit(with, &(rd_orbit_desc){.count = 1, .width = 64, .height = 48}, &camera));
        float *image[2] = {calloc(64 * 48 * 4, sizeof(float)), calloc(64 * 48 * 4, sizeof(float))};
        for (int k = 0; k < 2 && image[0] && image[1]; k++)
            CHECK_OK(rd_render(ctx, k ? plain : with, &camera, &(rd_render_desc){.time = t},
                               &(rd_framebuffer){.color = image[k], .memory = RD_MEMORY_HOST}));
        if (image[0] && image[1]) {
            double energy = 0.0;
            for (int p = 0; p < 64 * 48; p++) energy += image[0][4 * p + 3];
            printf("  render: %.1f pixels' worth of alpha\n", energy);
            CHECK(energy > 1.0 && same_floats(image[0], image[1], 64 * 48 * 4));
        }
        float *grad = calloc(64 * 48 * 4, sizeof(float)), *dsh = calloc((size_t)N * 27 * 2, sizeof(float));
        rd_gaussian4d_grads g4 = {.sh = dsh};
        if (grad && dsh) {
            CHECK_FAILS(rd_render_backward(ctx, with, 1, &camera, &(rd_render_desc){.time = t}, &(rd_render_grads){.color = grad},
                                           &(rd_scene_grads){RD_SCENE_GAUSSIANS_4D, &g4, NULL, RD_MEMORY_HOST}),
                        RD_ERROR_UNSUPPORTED);
            CHECK(strstr(rd_last_error(ctx), "appearance networks") != NULL);
        }
        free(grad), free(dsh), free(image[0]), free(image[1]);
    }
    rd_scene_destroy(one), rd_scene_destroy(two), rd_scene_destroy(three), rd_scene_destroy(plain), rd_scene_destroy(with);
    free(opacities), free(sh), free(source);
}

/* A GPU context keeps the networks' outputs for the next view at the same time: at times
   t1, t2, t1 the third frame is the first's bits, the second differs, and each is what a
   fresh context renders at its time (a stale cache or a missed re-evaluation fails). On
   every GPU backend present; skipped, and said so, where there is none. */
static void test_gpu_views_at_one_time(void)
{
    static const rd_backend backends[] = {RD_BACKEND_VULKAN, RD_BACKEND_CUDA};
    enum { N = 400, SH = 1, W = 48, H = 40 };
    rd_scene *with = random_scene4d(ctx, &rng, N, SH, 1, 1.0f);
    rd_appearance4d *a = with ? random_networks(SH, N) : NULL;
    if (!a) {
        rd_scene_destroy(with);
        return;
    }
    rd_scene4d_set_appearance((rd_scene4d *)with, a);
    rd_camera camera;
    CHECK_OK(rd_scene_orbit(with, &(rd_orbit_desc){.count = 1, .width = W, .height = H}, &camera));
    const float times[3] = {0.35f, 0.65f, 0.35f};
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        rd_context *gpu = NULL;
        if (rd_context_create(&(rd_context_desc){.backend = backends[b], .log = test_log}, &gpu) != RD_OK) {
            printf("  views at one time on %s skipped: no such device here\n", rd_backend_name(backends[b]));
            continue;
        }
        float *image[4];
        for (int k = 0; k < 4; k++) image[k] = calloc(W * H * 4, sizeof(float));
        bool ok = image[0] && image[1] && image[2] && image[3];
        for (int k = 0; k < 3 && ok; k++)
            ok = CHECK_OK(rd_render(gpu, with, &camera, &(rd_render_desc){.time = times[k]},
                                    &(rd_framebuffer){.color = image[k], .memory = RD_MEMORY_HOST}));
        rd_context *fresh = NULL; /* no state: the networks evaluated for this frame alone */
        ok = ok && CHECK_OK(rd_context_create(&(rd_context_desc){.backend = backends[b], .log = test_log}, &fresh)) &&
             CHECK_OK(rd_render(fresh, with, &camera, &(rd_render_desc){.time = times[1]},
                                &(rd_framebuffer){.color = image[3], .memory = RD_MEMORY_HOST}));
        rd_context_destroy(fresh);
        if (ok) {
            size_t bytes = W * H * 4 * sizeof(float);
            CHECK(memcmp(image[0], image[2], bytes) == 0 && memcmp(image[0], image[1], bytes) != 0 &&
                  memcmp(image[1], image[3], bytes) == 0);
            printf("  views at one time on %s: t1, t2, t1 as fresh renders of each\n", rd_backend_name(backends[b]));
        }
        for (int k = 0; k < 4; k++) free(image[k]);
        rd_context_destroy(gpu);
    }
    rd_scene_destroy(with);
}

int main(void)
{
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 2, .log = test_log}, &ctx));
    rng.state = test_seed("test_appearance4d");
    test_gradients(0);
    test_gradients(3);
    test_encoding();
    test_transposed();
    test_slice_and_render();
    test_gpu_views_at_one_time();
    rd_context_destroy(ctx);
    return test_finish("test_appearance4d");
}
