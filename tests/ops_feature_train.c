/* ops_feature_train.c: the feature trainer's row of the cross-backend harness
   (backend_ops.h): one training step's loss and gradients (rd_feature_trainer_gradients:
   the slots from the logits, the coefficient maps, the masked cosine loss, the blend's
   backward pass, the softmax's) on the CPU's threads and on CUDA against the one-thread
   CPU. Random scenes, fields of 1-3 levels (L up to 256: CUDA's half-tile blocks), random
   logits and codebooks set in place of the trainer's start, and targets as LangSplat's
   masks (some pixels without one) or as dense feature maps (some pixels all zero); one case
   is over 65,536 pixels, CUDA's chunk of the loss's matrix products. */
#include "backend_ops.h"
#include "compare.h"
#include "../splat/feature_trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct train_case {
    rd_scene_desc arrays;
    rd_camera camera;
    int levels, L, K, dim, mask_count;
    int32_t *masks;       /* levels*pixels, or NULL */
    float *mask_features; /* mask_count*dim */
    float *features;      /* levels*pixels*dim, where masks is NULL */
    float *logits, *codebooks;
} train_case;

typedef struct train_outputs {
    double loss;
    float *logit_grad, *code_grad;
} train_outputs;

enum { CASES = 8 };

static size_t logits_of(const train_case *c) { return (size_t)c->arrays.count * c->levels * c->L; }
static size_t values_of(const train_case *c) { return (size_t)c->levels * c->L * c->dim; }

static int cases(const op_env *env) { return op_cpu_or_cuda(env) && !env->variant ? CASES : 0; }

static void *generate(const op_env *env, test_rng *r, int i)
{
    (void)env;
    static const int sizes[][2] = {{1, 1}, {17, 13}, {40, 33}, {64, 48}, {97, 61}, {40, 33}, {64, 48}, {320, 240}};
    static const int counts[] = {1, 30, 300, 2000, 2000, 300, 30, 3000};
    train_case *c = calloc(1, sizeof *c);
    int n = counts[i];
    random_scene_desc sd = {.count = n, .sh_degree = 0, .degenerate = i % 3 == 1, .depth_min = 0.5, .depth_max = 8.0, .spread = 0.8,
                            .log_scale_min = -4.0, .log_scale_max = -0.8};
    c->arrays = random_scene(r, &sd);
    c->camera = random_camera(r, sizes[i][0], sizes[i][1]);
    c->levels = 1 + (int)(rng_uniform(r) * 3);
    c->L = i == 2 || i == 5 ? 256 : i == 7 ? 64 : 2 + (int)(rng_uniform(r) * 60);
    c->K = 1 + (int)(rng_uniform(r) * (c->L < 8 ? c->L : 8));
    c->dim = i == 4 ? 100 : 1 + (int)(rng_uniform(r) * 40);
    size_t pixels = (size_t)c->camera.width * c->camera.height;
    if (i % 2 == 0 || i == 7) { /* masks: a fifth of the pixels without one */
        c->mask_count = 1 + (int)(rng_uniform(r) * 6);
        c->masks = malloc(c->levels * pixels * sizeof(int32_t));
        for (size_t p = 0; p < c->levels * pixels; p++)
            c->masks[p] = rng_uniform(r) < 0.2 ? -1 : (int32_t)(rng_uniform(r) * c->mask_count);
        c->mask_features = random_floats(r, (size_t)c->mask_count * c->dim, -1.0, 1.0);
    } else { /* dense: a fifth of the pixels all zero */
        c->features = random_floats(r, c->levels * pixels * c->dim, -1.0, 1.0);
        for (size_t p = 0; p < c->levels * pixels; p++)
            if (rng_uniform(r) < 0.2) memset(c->features + p * c->dim, 0, (size_t)c->dim * sizeof(float));
    }
    c->logits = random_floats(r, logits_of(c), -2.0, 2.0);
    c->codebooks = random_floats(r, values_of(c), -1.0, 1.0);
    return c;
}

static void free_inputs(void *inputs)
{
    train_case *c = inputs;
    random_scene_free(&c->arrays);
    free(c->masks), free(c->mask_features), free(c->features), free(c->logits), free(c->codebooks);
    free(c);
}

static void free_outputs(void *outputs)
{
    train_outputs *o = outputs;
    if (!o) return;
    free(o->logit_grad), free(o->code_grad);
    free(o);
}

static rd_result run(rd_context *ctx, void *inputs, void **outputs)
{
    train_case *c = inputs;
    train_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    o->loss = NAN;
    rd_scene *scene = NULL;
    rd_feature_trainer *t = NULL;
    rd_feature_view view = {.camera = c->camera, .masks = c->masks, .mask_features = c->mask_features, .mask_count = c->mask_count,
                            .features = c->features};
    rd_feature_trainer_desc desc = {.views = &view, .view_count = 1, .levels = c->levels, .codebook_size = c->L, .slots = c->K,
                                    .dim = c->dim, .seed = 1};
    rd_result r = rd_scene_create(ctx, &c->arrays, &scene);
    if (r == RD_OK) r = rd_feature_trainer_create(ctx, scene, &desc, &t);
    if (r == RD_OK) { /* the case's logits and codebooks in place of the k-means start; the gradients poisoned */
        memcpy(t->logits, c->logits, logits_of(c) * sizeof(float));
        memcpy(t->codebooks, c->codebooks, values_of(c) * sizeof(float));
        for (size_t k = 0; k < logits_of(c); k++) t->logit_grad[k] = NAN;
        for (size_t k = 0; k < values_of(c); k++) t->code_grad[k] = NAN;
        r = rd_feature_trainer_sync(t, false);
    }
    if (r == RD_OK) r = rd_feature_trainer_gradients(t, 0, &o->loss);
    if (r == RD_OK) {
        o->logit_grad = malloc(logits_of(c) * sizeof(float) + 4), o->code_grad = malloc(values_of(c) * sizeof(float));
        memcpy(o->logit_grad, t->logit_grad, logits_of(c) * sizeof(float));
        memcpy(o->code_grad, t->code_grad, values_of(c) * sizeof(float));
    }
    rd_feature_trainer_destroy(t);
    rd_scene_destroy(scene);
    return r;
}

static bool compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    const train_case *c = inputs;
    const train_outputs *got = got_outputs, *want = want_outputs;
    double loss_off = fabs(got->loss - want->loss);
    bool ok = env->gpu ? loss_off <= 1e-4 : loss_off == 0.0;
    if (!ok || getenv("RADIANT_TEST_VERBOSE")) printf("  loss: %.9g against %.9g -> %s\n", got->loss, want->loss, ok ? "ok" : "FAIL");
    static const char *const names[] = {"logit gradients", "codebook gradients"};
    float *const got_fields[] = {got->logit_grad, got->code_grad}, *const want_fields[] = {want->logit_grad, want->code_grad};
    size_t sizes[] = {logits_of(c), values_of(c)};
    return op_compare_fields(env, 2, names, got_fields, want_fields, sizes) && ok;
}

static void describe(const void *inputs)
{
    const train_case *c = inputs;
    printf("    %lld Gaussians at %dx%d; %d levels, L %d, K %d, D %d; targets: %s\n", (long long)c->arrays.count, c->camera.width,
           c->camera.height, c->levels, c->L, c->K, c->dim, c->masks ? "masks" : "dense features");
}

static bool never_large(const void *inputs) { (void)inputs; return false; }

const backend_op OP_FEATURE_TRAIN = {"feature training step", {2e-3, 2e-3, 5}, cases, generate, never_large, run, compare, describe,
                                     free_inputs, free_outputs};
