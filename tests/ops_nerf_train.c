/* ops_nerf_train.c: the NeRF training step's row of the cross-backend harness
   (backend_ops.h), against the CPU trainer (nerf/train.c). CUDA runs the step through
   nerf/train_cuda.cu (its draws, march, density of the marched samples, compaction,
   positions, field, compositing and loss, backward, Adam and the occupancy update);
   Vulkan has no NeRF trainer and runs no case.

   nerf train step: random small fields (2 to 8 levels of 1 to 8 features, 2^8 to 2^14
   entries, widths 16 to 64, aabb_scale 1 to 4), 2 to 5 views of 12x12 to 40x40 pixels
   looking at the field's box from random directions, photos of random RGBA (noise: one
   step only asks that both backends learn the same from it), random batch (2^9 to 2^13),
   background (random per ray or fixed), loss (Huber or L2) and seed; one step of a fresh
   trainer, without the moving average. Compared: the step's rays and samples, exactly
   (the draws are a hash both share; a fresh field's grid is all occupied, so the march is
   occupancy.h's on both; a fresh field's densities, about 1 at steps of 1.7e-3, never
   bring the transmittance near 1e-4, so the compaction keeps every marched sample alike);
   the loss, 2e-3 relative (the networks in half precision: ops_nerf_field.c bounds the
   colours at 1e-2 relative L2, the mean of a batch's squared or Huber errors sums
   thousands of them and averages most of it away); the gradient of the step, 2e-2 of the
   largest in relative L2 and largest error, the table's, the networks' and the mask's each
   on its own (the field row's 1e-2 for the backward pass on
   the same kept values, twice it here, where the backward runs on each backend's own
   forward, so a ReLU may fall the other way within rounding), and the largest error 5e-2
   of the largest (H100, 2026-12-07, the parts compared on their own for the first time:
   rel_l2 5.2e-3 to 1.1e-2, largest 9.9e-3 to 3.1e-2); and the occupancy grid
   after the step's update (every cell at step 0, at the same drawn points): thicknesses,
   sigma x 1.7e-3, 2e-2 relative L2 of the largest, and occupancy bits (bits_ok). The last
   GPU case prunes: the mask's logits' gradient (the field's and the ADMM penalty's after
   the pruner's first update) is part of the gradient compared.
   Measured on an H100 (2026-12-06, the parts compared together, so that the mask penalty's
   gradient set the scale): within 3.2e-5 relative L2. The CPU row (the
   threaded CPU against one thread, bit for bit) runs one case of a tiny field: the update's
   2M density evaluations a cascade take seconds on the CPU. */
#include "backend_ops.h"
#include "compare.h"
#include "../nerf/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { TRAIN_CASES = 3, MAX_VIEWS = 5 };
static const double LARGEST_BOUND = 5e-2; /* a gradient's largest error over its largest value */

typedef struct train_case {
    rd_nerf_trainer_desc desc;
    rd_image images[MAX_VIEWS];
    rd_train_view views[MAX_VIEWS];
} train_case;

typedef struct train_outputs {
    rd_nerf_train_stats stats;
    int64_t params, cells, table, mask; /* the field's layout: the networks from table on, the mask's logits from mask on */
    float *grad, *thickness, threshold;
    uint8_t *bits;
} train_outputs;

/* The step's occupancy update evaluates the density at every cell (2M a cascade): on the
   CPU row, whose only question is whether threads change a bit, one case of a tiny field. */
static int train_cases(const op_env *env)
{
    if (!op_cpu_or_cuda(env) || env->variant) return 0;
    return env->gpu ? TRAIN_CASES : 1;
}

/* A camera on a sphere around the box's centre, looking at it. */
static rd_camera view_camera(test_rng *r, int size)
{
    float eye[3], len = 0.0f;
    for (int a = 0; a < 3; a++) eye[a] = (float)rng_normal(r), len += eye[a] * eye[a];
    len = sqrtf(len) > 1e-3f ? sqrtf(len) : 1.0f;
    float distance = (float)rng_range(r, 2.5, 4.0);
    for (int a = 0; a < 3; a++) eye[a] *= distance / len;
    float up[3] = {0.0f, 1.0f, 0.0f};
    if (fabsf(eye[1]) > 0.9f * distance) up[1] = 0.0f, up[2] = 1.0f;
    return rd_camera_look_at(eye, (float[3]){0, 0, 0}, up, size, size, (float)rng_range(r, 35.0, 60.0));
}

static void *train_generate(const op_env *env, test_rng *r, int i)
{
    static const int FEATURES[4] = {1, 2, 4, 8};
    train_case *c = calloc(1, sizeof *c);
    int views = 2 + (int)(rng_uniform(r) * (MAX_VIEWS - 1)), size = 12 + (int)(rng_uniform(r) * 29);
    for (int k = 0; k < views; k++) {
        c->views[k].camera = view_camera(r, size);
        rd_image_alloc(size, size, 4, &c->images[k]);
        for (size_t p = 0; p < (size_t)size * size * 4; p++) c->images[k].pixels[p] = (float)rng_uniform(r);
        c->views[k].image = &c->images[k];
    }
    rd_nerf_desc field = {.levels = 2 + (int)(rng_uniform(r) * 7), .features = FEATURES[(int)(rng_uniform(r) * 4)],
                          .log2_table_size = 8 + (int)(rng_uniform(r) * 7), .base_resolution = (float)rng_range(r, 4.0, 16.0),
                          .width = 16 * (1 + (int)(rng_uniform(r) * 4)), .aabb_scale = 1 << (int)(rng_uniform(r) * 3),
                          .box_min = {-1, -1, -1}, .box_max = {1, 1, 1}};
    field.finest_resolution = field.base_resolution * (float)rng_range(r, 2.0, 32.0);
    if (!env->gpu) field = (rd_nerf_desc){.levels = 2, .features = 2, .log2_table_size = 10, .base_resolution = 8,
                                          .finest_resolution = 32, .width = 16, .aabb_scale = 1, .box_min = {-1, -1, -1},
                                          .box_max = {1, 1, 1}};
    else if (i == 0) field = (rd_nerf_desc){.levels = 8, .features = 2, .log2_table_size = 14, .base_resolution = 8,
                                       .finest_resolution = 256, .width = 64, .aabb_scale = 1, .box_min = {-1, -1, -1},
                                       .box_max = {1, 1, 1}};
    c->desc = (rd_nerf_trainer_desc){.views = c->views, .view_count = views, .field = field,
                                     .random_background = rng_uniform(r) < 0.5,
                                     .loss = rng_uniform(r) < 0.5 ? RD_NERF_LOSS_HUBER : RD_NERF_LOSS_L2,
                                     .batch_samples = 1 << (9 + (int)(rng_uniform(r) * 5)), .average_decay = -1.0f,
                                     .seed = 1 + (uint64_t)(rng_uniform(r) * 1e9)};
    for (int a = 0; a < 3; a++) c->desc.background[a] = (float)rng_uniform(r);
    /* the last GPU case prunes (HollowNeRF's mask, 4^3 to 35^3, and the ADMM pruner's
       first update and penalty, rho large enough that its gradient shows beside the
       loss's) */
    if (env->gpu && i == TRAIN_CASES - 1) {
        c->desc.prune_budget = (float)rng_range(r, 0.05, 0.6), c->desc.field.saliency_resolution = 4 + (int)(rng_uniform(r) * 32);
        c->desc.admm_rho = (float)rng_range(r, 1e-2, 1.0);
    }
    return c;
}

/* The GPU rows' fields: their reference is the threaded CPU (the update's millions of
   density evaluations). */
static bool train_large(const void *inputs) { return ((const train_case *)inputs)->desc.field.levels > 2; }

static rd_result train_run(rd_context *ctx, void *inputs, void **outputs)
{
    train_case *c = inputs;
    train_outputs *o = calloc(1, sizeof *o);
    *outputs = o;
    rd_nerf_trainer *t = NULL;
    rd_result res = rd_nerf_trainer_create(ctx, &c->desc, &t);
    if (res == RD_OK) res = rd_nerf_trainer_step(t, 1, &o->stats);
    const rd_nerf_scene *scene = res == RD_OK ? (const rd_nerf_scene *)rd_nerf_trainer_scene(t) : NULL;
    if (res == RD_OK && !scene) res = RD_ERROR_INVALID_ARGUMENT;
    if (res == RD_OK) {
        o->params = scene->field.params, o->table = scene->field.density_offset, o->mask = scene->field.saliency_offset;
        o->cells = (int64_t)scene->occupancy.cascades * RD_OCCUPANCY_CELLS;
        o->grad = malloc(sizeof(float) * (size_t)o->params);
        o->thickness = malloc(sizeof(float) * (size_t)o->cells);
        o->bits = malloc((size_t)o->cells);
        if (!o->grad || !o->thickness || !o->bits) res = RD_ERROR_OUT_OF_MEMORY;
    }
    if (res == RD_OK) res = rd_nerf_trainer_last_gradient(t, o->grad);
    if (res == RD_OK) {
        memcpy(o->thickness, scene->occupancy.thickness, sizeof(float) * (size_t)o->cells);
        memcpy(o->bits, scene->occupancy.bits[0], (size_t)o->cells);
        o->threshold = scene->occupancy.threshold;
    }
    rd_nerf_trainer_destroy(t);
    return res;
}

static bool bits_ok(const train_outputs *got, const train_outputs *want, size_t cells, bool verbose);

static bool train_compare(const op_env *env, const void *inputs, const void *got_outputs, const void *want_outputs)
{
    (void)inputs;
    const train_outputs *got = got_outputs, *want = want_outputs;
    bool verbose = getenv("RADIANT_TEST_VERBOSE") != NULL;
    bool ok = got->stats.rays == want->stats.rays && got->stats.samples == want->stats.samples && got->params == want->params &&
              got->cells == want->cells;
    if (!ok || verbose)
        printf("    rays %lld / %lld, samples %lld / %lld, loss %.7g / %.7g\n", (long long)got->stats.rays, (long long)want->stats.rays,
               (long long)got->stats.samples, (long long)want->stats.samples, got->stats.loss, want->stats.loss);
    if (!ok) return false;
    size_t params = (size_t)want->params, cells = (size_t)want->cells;
    if (!env->gpu) /* the threaded CPU: the same bits */
        return got->stats.loss == want->stats.loss && memcmp(got->grad, want->grad, sizeof(float) * params) == 0 &&
               memcmp(got->thickness, want->thickness, sizeof(float) * cells) == 0 && memcmp(got->bits, want->bits, cells) == 0;
    ok &= fabs(got->stats.loss - want->stats.loss) <= 2e-3 * fabs(want->stats.loss);
    /* each part on its own: a mask's penalty gradient, the same in every cell at step 0,
       would otherwise set the scale the others are measured against */
    size_t table = (size_t)want->table, mask = (size_t)want->mask;
    ok &= compare_relative_bounds_ok("table gradient", got->grad, want->grad, table, 0.0, 2e-2, LARGEST_BOUND, verbose);
    ok &= compare_relative_bounds_ok("networks' gradient", got->grad + table, want->grad + table, mask - table, 0.0, 2e-2, LARGEST_BOUND,
                                     verbose);
    if (params > mask)
        ok &= compare_relative_bounds_ok("mask's gradient", got->grad + mask, want->grad + mask, params - mask, 0.0, 2e-2, LARGEST_BOUND,
                                         verbose);
    ok &= compare_relative_ok("occupancy thickness", got->thickness, want->thickness, cells, 0.0, 2e-2, verbose);
    return ok && bits_ok(got, want, cells, verbose);
}

/* The bits: each backend's its own thicknesses over its own threshold, exactly; the
   thresholds (the grid's mean, below 0.01) within 1e-3; and a bit that differs from the
   CPU's only in a cell whose CPU thickness lies within BAND of the threshold (a fresh
   field's thicknesses crowd around their mean, so the thicknesses' tolerance flips
   thousands there: H100, 1.6% of 6.3M cells). */
static bool bits_ok(const train_outputs *got, const train_outputs *want, size_t cells, bool verbose)
{
    const double BAND = 5e-2;
    size_t inconsistent = 0, flips = 0, far_flips = 0;
    double farthest = 0.0, threshold = want->threshold;
    for (size_t k = 0; k < cells; k++) {
        inconsistent += got->bits[k] != (got->thickness[k] > got->threshold);
        if (got->bits[k] == want->bits[k]) continue;
        double away = fabs(want->thickness[k] - threshold) / threshold; /* a zero threshold: every flip far */
        flips++, far_flips += !(away <= BAND), farthest = fmax(farthest, away);
    }
    bool ok = inconsistent == 0 && threshold > 0.0 && fabs(got->threshold - threshold) <= 1e-3 * threshold && far_flips == 0;
    if (!ok || verbose)
        printf("    occupancy: threshold %.7g / %.7g; %zu bits not their thickness's; %zu of %zu bits differ, %zu beyond %.0f%% "
               "of the threshold (farthest %.3g)\n",
               got->threshold, threshold, inconsistent, flips, cells, far_flips, 100.0 * BAND, farthest);
    return ok;
}

static void train_describe(const void *inputs)
{
    const train_case *c = inputs;
    const rd_nerf_desc *f = &c->desc.field;
    printf("%d levels of %d, 2^%d entries, width %d, aabb_scale %d, %d views of %dx%d, batch %d, %s loss, %s background, mask %d^3 "
           "(budget %g, rho %g)\n",
           f->levels, f->features, f->log2_table_size, f->width, f->aabb_scale, c->desc.view_count, c->images[0].width,
           c->images[0].height, c->desc.batch_samples, c->desc.loss == RD_NERF_LOSS_L2 ? "L2" : "Huber",
           c->desc.random_background ? "random" : "fixed", f->saliency_resolution, c->desc.prune_budget, c->desc.admm_rho);
}

static void train_free_inputs(void *inputs)
{
    train_case *c = inputs;
    for (int k = 0; k < MAX_VIEWS; k++) rd_image_free(&c->images[k]);
    free(c);
}

static void train_free_outputs(void *outputs)
{
    train_outputs *o = outputs;
    if (!o) return;
    free(o->grad), free(o->thickness), free(o->bits), free(o);
}

const backend_op OP_NERF_TRAIN = {"nerf train step", {0}, train_cases, train_generate, train_large, train_run, train_compare, train_describe,
                                  train_free_inputs, train_free_outputs};
