#define _GNU_SOURCE /* memmem */
/* test_features.c: feature fields (radiant_features.h, spec/features.md): the spec's
   invariants on fresh random fields (a level's coefficients sum to 1 - T; the sparse blend
   equals the dense one bit for bit; blend-then-decode equals a double-precision
   decode-then-blend by the independent reference renderer; an empty pixel's relevancy is
   0.5; the gram shortcut equals the decode), the blend's backward pass against finite
   differences, the .rfeat file both ways and broken, and the evaluation's filters
   (LangSplat's mask files: test_langsplat.c). */
#include "test_util.h"
#include "reference_render.h"
#include "../renderer/tuning.h"
#include "../splat/features.h"
#include "feature_scene.h"
#include "../datasets/npy.h"
#include "../splat/feature_trainer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    rd_scene_desc arrays;
    rd_scene *scene;
    rd_camera camera;
    int levels, L, K, dim;
    uint8_t *indices;
    float *weights, *codebooks;
    rd_feature_field *field;
} fixture;

/* Distinct random entries for each Gaussian's level; weights >= 0 (some exactly 0) summing
   to 1, as the top-K softmax makes them. */
static void random_slots(test_rng *r, int64_t count, int levels, int L, int K, uint8_t *indices, float *weights)
{
    for (int64_t g = 0; g < count * levels; g++) {
        for (int k = 0; k < K; k++) {
            int e;
            bool taken;
            do {
                e = (int)(rng_uniform(r) * L);
                taken = false;
                for (int m = 0; m < k; m++) taken |= indices[g * K + m] == e;
            } while (taken);
            indices[g * K + k] = (uint8_t)e;
            weights[g * K + k] = k > 0 && rng_uniform(r) < 0.1 ? 0.0f : (float)rng_range(r, 0.05, 1.0);
        }
        float sum = 0.0f;
        for (int k = 0; k < K; k++) sum += weights[g * K + k];
        for (int k = 0; k < K; k++) weights[g * K + k] /= sum;
    }
}

static void fixture_make(rd_context *ctx, test_rng *r, fixture *f, int count, int width, int height)
{
    memset(f, 0, sizeof *f);
    random_scene_desc sd = {.count = count, .sh_degree = 0, .depth_min = 1.0, .depth_max = 6.0, .spread = 0.6,
                            .log_scale_min = -3.5, .log_scale_max = -1.0};
    f->arrays = random_scene(r, &sd);
    CHECK_OK(rd_scene_create(ctx, &f->arrays, &f->scene));
    f->camera = random_camera(r, width, height);
    f->levels = 1 + (int)(rng_uniform(r) * 3), f->L = 4 + (int)(rng_uniform(r) * 20), f->K = 1 + (int)(rng_uniform(r) * 4);
    f->dim = 3 * (1 + (int)(rng_uniform(r) * 3));
    size_t slots = (size_t)count * f->levels * f->K;
    f->indices = malloc(slots + 1);
    f->weights = malloc((slots + 1) * sizeof(float));
    random_slots(r, count, f->levels, f->L, f->K, f->indices, f->weights);
    f->codebooks = random_floats(r, (size_t)f->levels * f->L * f->dim, -1.0, 1.0);
    rd_feature_field_desc fd = {.count = count, .levels = f->levels, .codebook_size = f->L, .slots = f->K, .dim = f->dim,
                                .indices = f->indices, .weights = f->weights, .codebooks = f->codebooks};
    CHECK_OK(rd_feature_field_create(ctx, &fd, &f->field));
    rd_feature_field_read(f->field, NULL, f->weights, NULL); /* as stored: rounded to half */
}

static void fixture_free(fixture *f)
{
    rd_feature_field_destroy(f->field);
    rd_scene_destroy(f->scene);
    random_scene_free(&f->arrays);
    free(f->indices), free(f->weights), free(f->codebooks);
}

/* The coefficient maps and alpha, each pixel's levels sum to its alpha, which is the RGB
   render's alpha; the dense blend gives the same bits. */
static void test_coefficients(test_rng *r)
{
    rd_context *sparse, *dense;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &sparse));
    CHECK_OK(rd_context_create_tuned(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log},
                                     &(rd_tuning){.feature_blend = RD_FEATURE_BLEND_DENSE}, &dense));
    for (int round = 0; round < 4; round++) {
        fixture f;
        fixture_make(sparse, r, &f, 40 + (int)(rng_uniform(r) * 300), 37 + round * 11, 29 + round * 7);
        size_t P = (size_t)f.camera.width * f.camera.height, row = (size_t)f.levels * f.L;
        float *W = malloc(P * row * sizeof(float)), *Wd = malloc(P * row * sizeof(float));
        float *alpha = malloc(P * sizeof(float)), *color = malloc(P * 4 * sizeof(float));
        for (size_t i = 0; i < P * row; i++) W[i] = Wd[i] = NAN;
        for (size_t p = 0; p < P; p++) alpha[p] = NAN;
        CHECK_OK(rd_render_features(sparse, f.scene, f.field, &f.camera, NULL,
                                    &(rd_feature_target){.coefficients = W, .alpha = alpha}));
        CHECK_OK(rd_render_features(dense, f.scene, f.field, &f.camera, NULL, &(rd_feature_target){.coefficients = Wd}));
        CHECK_OK(rd_render(sparse, f.scene, &f.camera, NULL, &(rd_framebuffer){.color = color}));
        CHECK(memcmp(W, Wd, P * row * sizeof(float)) == 0);
        double worst = 0.0, lit = 0.0;
        bool same_alpha = true;
        for (size_t p = 0; p < P; p++) {
            same_alpha &= alpha[p] == color[4 * p + 3];
            lit += alpha[p] > 0.0f;
            for (int l = 0; l < f.levels; l++) {
                double sum = 0.0;
                for (int c = 0; c < f.L; c++) sum += W[p * row + l * f.L + c];
                worst = fmax(worst, fabs(sum - alpha[p])); /* weights in half precision: sums within 2^-11 of 1 */
            }
        }
        CHECK(same_alpha);
        CHECK(lit > 0.2 * (double)P); /* the scene covers the view: the checks above are not vacuous */
        CHECK(worst < 1e-3);
        if (worst >= 1e-3) printf("  coefficients sum off alpha by %g\n", worst);
        free(W), free(Wd), free(alpha), free(color);
        fixture_free(&f);
    }
    rd_context_destroy(sparse);
    rd_context_destroy(dense);
}

/* Each Gaussian's feature f_i = sum_k w_ik D[idx_ik] in double (dim floats a Gaussian). */
static double *gaussian_features(const fixture *f, int level)
{
    int64_t n = f->arrays.count;
    double *feat = calloc((size_t)n * f->dim, sizeof(double));
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < f->K; k++) {
            size_t slot = ((size_t)i * f->levels + level) * f->K + k;
            const float *entry = f->codebooks + ((size_t)level * f->L + f->indices[slot]) * f->dim;
            for (int d = 0; d < f->dim; d++) feat[i * f->dim + d] += (double)f->weights[slot] * entry[d];
        }
    return feat;
}

/* Blend-then-decode (ours, in float) against decode-then-blend by the reference renderer in
   double: each Gaussian's feature, shifted positive, rendered as colour 3 channels a time. */
static void test_decode_against_reference(test_rng *r)
{
    rd_context *ctx;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    for (int round = 0; round < 3; round++) {
        fixture f;
        fixture_make(ctx, r, &f, 30 + (int)(rng_uniform(r) * 200), 41, 33);
        size_t P = (size_t)f.camera.width * f.camera.height, row = (size_t)f.levels * f.L;
        int level = (int)(rng_uniform(r) * f.levels);
        float *W = malloc(P * row * sizeof(float)), *phi = malloc(P * f.dim * sizeof(float));
        for (size_t i = 0; i < P * f.dim; i++) phi[i] = NAN;
        CHECK_OK(rd_render_features(ctx, f.scene, f.field, &f.camera, &(rd_feature_render_desc){.level = level + 1},
                                    &(rd_feature_target){.coefficients = W, .features = phi}));
        double *feat = gaussian_features(&f, level), *F_ref = calloc(P * f.dim, sizeof(double));
        float *dc = malloc((size_t)f.arrays.count * 3 * sizeof(float));
        unsigned char *ambiguous = calloc(P, 1);
        for (int d0 = 0; d0 < f.dim; d0 += 3) {
            for (int64_t i = 0; i < f.arrays.count; i++)
                for (int c = 0; c < 3; c++) dc[i * 3 + c] = (float)((feat[i * f.dim + d0 + c] + 2.0 - 0.5) / 0.28209479177387814);
            rd_scene_desc colour = f.arrays;
            colour.sh = dc;
            reference_output ref;
            CHECK(reference_render(&colour, &f.camera, &(rd_render_desc){0}, &ref) == 0);
            for (size_t p = 0; p < P; p++) {
                ambiguous[p] |= ref.ambiguous[p];
                for (int c = 0; c < 3; c++) F_ref[p * f.dim + d0 + c] = ref.color[4 * p + c] - 2.0 * (1.0 - ref.transmittance[p]);
            }
            reference_free(&ref);
        }
        double worst = 0.0, worst_phi = 0.0;
        size_t compared = 0;
        for (size_t p = 0; p < P; p++) {
            if (ambiguous[p]) continue;
            double norm = 0.0;
            for (int d = 0; d < f.dim; d++) {
                double F = 0.0;
                for (int c = 0; c < f.L; c++) F += (double)W[p * row + level * f.L + c] * f.codebooks[((size_t)level * f.L + c) * f.dim + d];
                worst = fmax(worst, fabs(F - F_ref[p * f.dim + d]));
                norm += F_ref[p * f.dim + d] * F_ref[p * f.dim + d];
            }
            norm = sqrt(norm);
            compared++;
            if (norm < 0.05) continue;
            for (int d = 0; d < f.dim; d++) worst_phi = fmax(worst_phi, fabs(phi[p * f.dim + d] - F_ref[p * f.dim + d] / norm));
        }
        CHECK(compared > P / 2);
        CHECK(worst < 1e-4);
        CHECK(worst_phi < 1e-4);
        if (worst >= 1e-4 || worst_phi >= 1e-4) printf("  decode off the reference by %g (unit features %g)\n", worst, worst_phi);
        free(W), free(phi), free(feat), free(F_ref), free(dc), free(ambiguous);
        fixture_free(&f);
    }
    rd_context_destroy(ctx);
}

static float *unit_vectors(test_rng *r, int count, int dim)
{
    float *v = malloc((size_t)count * dim * sizeof(float));
    for (int q = 0; q < count; q++) {
        double norm = 0.0;
        for (int d = 0; d < dim; d++) v[q * dim + d] = (float)rng_normal(r), norm += (double)v[q * dim + d] * v[q * dim + d];
        for (int d = 0; d < dim; d++) v[q * dim + d] = (float)(v[q * dim + d] / sqrt(norm));
    }
    return v;
}

/* Relevancy: the gram shortcut equals the decode; both follow the formula on the unit
   features of the level they chose; an empty pixel gives exactly 0.5. */
static void test_relevancy(test_rng *r)
{
    rd_context *gram, *decode;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &gram));
    CHECK_OK(rd_context_create_tuned(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log},
                                     &(rd_tuning){.feature_relevancy = RD_RELEVANCY_DECODE}, &decode));
    for (int round = 0; round < 3; round++) {
        fixture f;
        fixture_make(gram, r, &f, 20 + (int)(rng_uniform(r) * 150), 45, 38);
        size_t P = (size_t)f.camera.width * f.camera.height;
        int Q = 1 + (int)(rng_uniform(r) * 3), N = 1 + (int)(rng_uniform(r) * 4);
        float *queries = unit_vectors(r, Q, f.dim), *negatives = unit_vectors(r, N, f.dim);
        float *rel_gram = malloc(P * Q * sizeof(float)), *rel_decode = malloc(P * Q * sizeof(float));
        float *alpha = malloc(P * sizeof(float)), *phi = malloc(P * f.dim * sizeof(float));
        int levels_gram[4], levels_decode[4];
        rd_feature_render_desc desc = {.queries = queries, .query_count = Q, .negatives = negatives, .negative_count = N};
        CHECK_OK(rd_render_features(gram, f.scene, f.field, &f.camera, &desc,
                                    &(rd_feature_target){.relevancy = rel_gram, .query_levels = levels_gram, .alpha = alpha}));
        CHECK_OK(rd_render_features(decode, f.scene, f.field, &f.camera, &desc,
                                    &(rd_feature_target){.relevancy = rel_decode, .query_levels = levels_decode}));
        double worst = 0.0, worst_formula = 0.0;
        bool empty_half = true;
        for (int q = 0; q < Q; q++) {
            CHECK(levels_gram[q] == levels_decode[q] && levels_gram[q] >= 1 && levels_gram[q] <= f.levels);
            desc.level = levels_gram[q];
            CHECK_OK(rd_render_features(decode, f.scene, f.field, &f.camera, &desc, &(rd_feature_target){.features = phi}));
            for (size_t p = 0; p < P; p++) {
                float got = rel_gram[q * P + p];
                worst = fmax(worst, fabs(got - rel_decode[q * P + p]));
                double dot = 0.0, negative = -INFINITY;
                for (int d = 0; d < f.dim; d++) dot += (double)phi[p * f.dim + d] * queries[q * f.dim + d];
                for (int n = 0; n < N; n++) {
                    double nd = 0.0;
                    for (int d = 0; d < f.dim; d++) nd += (double)phi[p * f.dim + d] * negatives[n * f.dim + d];
                    negative = fmax(negative, nd);
                }
                worst_formula = fmax(worst_formula, fabs(got - 1.0 / (1.0 + exp(-10.0 * (dot - negative)))));
                if (alpha[p] == 0.0f) empty_half &= got == 0.5f;
            }
        }
        CHECK(worst < 1e-5);
        CHECK(worst_formula < 1e-5);
        CHECK(empty_half);
        if (worst >= 1e-5 || worst_formula >= 1e-5) printf("  relevancy: gram against decode %g, against the formula %g\n", worst, worst_formula);
        if (round == 0) { /* turned away from the scene: every pixel empty, every relevancy 0.5 */
            rd_camera away = f.camera;
            for (int k = 4; k < 12; k++) away.w2c[k] = -away.w2c[k];
            CHECK_OK(rd_render_features(gram, f.scene, f.field, &away, &desc, &(rd_feature_target){.relevancy = rel_gram}));
            for (size_t p = 0; p < P * Q; p++) empty_half &= rel_gram[p] == 0.5f;
            CHECK(empty_half);
        }
        free(queries), free(negatives), free(rel_gram), free(rel_decode), free(alpha), free(phi);
        fixture_free(&f);
    }
    rd_context_destroy(gram);
    rd_context_destroy(decode);
}

/* The blend's backward pass against central differences of the forward pass, with the
   loss sum_p G(p).W(p) for a random G and float weights as the trainer holds them. */
static void test_backward(test_rng *r)
{
    rd_context *ctx;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 2, .log = test_log}, &ctx));
    fixture f;
    fixture_make(ctx, r, &f, 60, 34, 27);
    size_t P = (size_t)f.camera.width * f.camera.height, row = (size_t)f.levels * f.L;
    size_t slots = (size_t)f.arrays.count * f.levels * f.K;
    float *G = random_floats(r, P * row, -1.0, 1.0), *W = malloc(P * row * sizeof(float));
    float *grad = calloc(slots, sizeof(float));
    rd_view_params vp;
    rd_view_params_init(&vp, &f.camera, &(rd_render_desc){0}, f.scene);
    rd_cpu_frame frame;
    CHECK_OK(rd_cpu_frame_prepare(ctx, f.scene, &vp, &frame, NULL));
    rd_feature_slots view = {.count = f.arrays.count, .levels = f.levels, .L = f.L, .K = f.K, .indices = f.indices,
                             .weights = f.weights};
    CHECK_OK(rd_feature_coefficients_backward_cpu(ctx, &frame, &view, G, grad));
    int checked = 0, bad = 0;
    for (size_t j = 0; j < slots && checked < 40; j++) {
        if (fabsf(grad[j]) < 1e-3f) continue;
        double loss[2];
        float keep = f.weights[j], h = 1e-2f;
        for (int side = 0; side < 2; side++) {
            f.weights[j] = keep + (side ? h : -h);
            CHECK_OK(rd_feature_coefficients_cpu(ctx, &frame, &view, W, NULL));
            loss[side] = 0.0;
            for (size_t c = 0; c < P * row; c++) loss[side] += (double)G[c] * W[c];
        }
        f.weights[j] = keep;
        double fd = (loss[1] - loss[0]) / (2.0 * h);
        if (fabs(fd - grad[j]) > 1e-3 + 1e-3 * fabs(fd)) bad++, printf("  slot %zu: backward %g, differences %g\n", j, grad[j], fd);
        checked++;
    }
    CHECK(checked >= 10);
    CHECK(bad == 0);
    rd_cpu_frame_free(&frame);
    free(G), free(W), free(grad);
    fixture_free(&f);
    rd_context_destroy(ctx);
}

/* Bad descs are refused with what is wrong. */
static void test_create_errors(void)
{
    rd_context *ctx;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    rd_feature_field *f = NULL;
    CHECK_FAILS(rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = 2, .levels = 4}, &f), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "levels 4") != NULL);
    CHECK_FAILS(rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = 2, .codebook_size = 4, .slots = 5}, &f),
                RD_ERROR_INVALID_ARGUMENT);
    uint8_t dup[] = {0, 1, 1, 2};
    CHECK_FAILS(rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = 1, .levels = 1, .codebook_size = 8, .dim = 2, .indices = dup},
                                        &f), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "both name entry 1") != NULL);
    uint8_t past[] = {0, 1, 2, 9};
    CHECK_FAILS(rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = 1, .levels = 1, .codebook_size = 8, .dim = 2, .indices = past},
                                        &f), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "index 9 is past") != NULL);
    float negative[] = {0.5f, -0.1f, 0.0f, 0.0f};
    CHECK_FAILS(rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = 1, .levels = 1, .codebook_size = 8, .dim = 2,
                                                                      .weights = negative}, &f), RD_ERROR_INVALID_ARGUMENT);
    float codebook[16] = {[5] = NAN};
    CHECK_FAILS(rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = 1, .levels = 1, .codebook_size = 8, .dim = 2,
                                                                      .codebooks = codebook}, &f), RD_ERROR_INVALID_ARGUMENT);
    CHECK(f == NULL);
    /* the defaults: 3 levels of 64 entries, 4 slots, 512 dimensions, 36 bytes a Gaussian */
    CHECK_OK(rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = 5}, &f));
    rd_feature_field_info info;
    rd_feature_field_get_info(f, &info);
    CHECK(info.levels == 3 && info.codebook_size == 64 && info.slots == 4 && info.dim == 512 && info.bytes_per_gaussian == 36);
    rd_feature_field_destroy(f);
    /* a field of another size than the scene's is refused at render */
    rd_scene *scene;
    CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 100}, &scene));
    CHECK_OK(rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = 99, .dim = 4}, &f));
    rd_camera cam;
    CHECK_OK(rd_scene_orbit_cameras(scene, 1, 16, 16, &cam));
    float W[16 * 16 * 192];
    CHECK_FAILS(rd_render_features(ctx, scene, f, &cam, NULL, &(rd_feature_target){.coefficients = W}), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "99 Gaussians") != NULL);
    rd_feature_field_destroy(f);
    rd_scene_destroy(scene);
    rd_feature_field_destroy(NULL);
    rd_context_destroy(ctx);
}

/* Overwrites the file's checksum so that a test's damage reaches the checks past it. */
static void fix_checksum(unsigned char *data, size_t size)
{
    uint64_t sum = test_fnv1a(data, size - 8);
    for (int k = 0; k < 8; k++) data[size - 8 + k] = (unsigned char)(sum >> (8 * k));
}

static void expect_broken(rd_context *ctx, const char *dir, const unsigned char *data, size_t size, rd_result code, const char *words)
{
    const char *path = write_file(dir, "broken.rfeat", data, size);
    rd_feature_field *f = (rd_feature_field *)&f;
    CHECK_FAILS(rd_feature_field_load(ctx, path, &f), code);
    CHECK(f == NULL);
    bool named = strstr(rd_last_error(ctx), "broken.rfeat") && strstr(rd_last_error(ctx), words);
    CHECK(named);
    if (!named) printf("  broken file: \"%s\" lacks \"%s\"\n", rd_last_error(ctx), words);
}

/* .rfeat both ways, bit for bit, and broken in each way the reader names. */
static void test_file(test_rng *r)
{
    rd_context *ctx;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    fixture f;
    fixture_make(ctx, r, &f, 25, 8, 8);
    const char *dir = test_temp_dir("test_features");
    char path[512];
    snprintf(path, sizeof path, "%s/field.rfeat", dir);
    CHECK_OK(rd_feature_field_save(ctx, f.field, path));
    rd_feature_field *back = NULL;
    CHECK_OK(rd_feature_field_load(ctx, path, &back));
    size_t slots = (size_t)25 * f.levels * f.K, values = (size_t)f.levels * f.L * f.dim;
    uint8_t *indices = malloc(slots);
    float *weights = malloc(slots * sizeof(float)), *codebooks = malloc(values * sizeof(float));
    rd_feature_field_read(back, indices, weights, codebooks);
    CHECK(memcmp(indices, f.indices, slots) == 0 && memcmp(weights, f.weights, slots * sizeof(float)) == 0 &&
          memcmp(codebooks, f.codebooks, values * sizeof(float)) == 0);
    rd_feature_field_destroy(back);
    char beside[512];
    CHECK(rd_feature_path_beside("a/b.c/scene.ply", beside, sizeof beside) && strcmp(beside, "a/b.c/scene.rfeat") == 0);
    CHECK(rd_feature_path_beside("a.d/scene", beside, sizeof beside) && strcmp(beside, "a.d/scene.rfeat") == 0);

    size_t size;
    unsigned char *data = read_file(path, &size), *copy = malloc(size);
    uint32_t json = (uint32_t)(data[12] | data[13] << 8 | data[14] << 16 | (uint32_t)data[15] << 24);
    size_t cuts[] = {0, 7, 15, 16 + json / 2, 16 + json + 3, size / 2, size - 9, size - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++)
        expect_broken(ctx, dir, data, cuts[c], RD_ERROR_FORMAT, cuts[c] < 8 ? "magic" : cuts[c] < 24 ? "truncated" : "checksum");
    for (int flip = 0; flip < 20; flip++) {
        memcpy(copy, data, size);
        size_t at = 8 + (size_t)(rng_uniform(r) * (double)(size - 16));
        copy[at] ^= (unsigned char)(1u << (int)(rng_uniform(r) * 8));
        expect_broken(ctx, dir, copy, size, at < 12 ? RD_ERROR_UNSUPPORTED : RD_ERROR_FORMAT, at < 12 ? "version" : "checksum");
    }
    /* damage behind a valid checksum: an index past L, a negative weight, a NaN codebook
       value, a count the file cannot hold, a configuration that is not JSON */
    size_t codebook_at = 16 + json, index_at = codebook_at + 4 * values, weight_at = index_at + slots;
    memcpy(copy, data, size), copy[index_at + 3] = (uint8_t)f.L, fix_checksum(copy, size);
    expect_broken(ctx, dir, copy, size, RD_ERROR_FORMAT, "past the codebook");
    memcpy(copy, data, size), copy[weight_at + 1] = 0xbc, fix_checksum(copy, size);
    expect_broken(ctx, dir, copy, size, RD_ERROR_FORMAT, "weight");
    memcpy(copy, data, size), memcpy(copy + codebook_at, "\x00\x00\xc0\x7f", 4), fix_checksum(copy, size);
    expect_broken(ctx, dir, copy, size, RD_ERROR_FORMAT, "not finite");
    memcpy(copy, data, size);
    char *count = strstr((char *)copy + 16, "\"count\": 25");
    CHECK(count != NULL);
    if (count) memcpy(count, "\"count\": 99", 11), fix_checksum(copy, size);
    expect_broken(ctx, dir, copy, size, RD_ERROR_FORMAT, "99 Gaussians");
    memcpy(copy, data, size), copy[16] = '[', fix_checksum(copy, size);
    expect_broken(ctx, dir, copy, size, RD_ERROR_FORMAT, "JSON");
    CHECK_FAILS(rd_feature_field_load(ctx, "/nonexistent/x.rfeat", &back), RD_ERROR_IO);
    free(data), free(copy), free(indices), free(weights), free(codebooks);
    fixture_free(&f);
    rd_context_destroy(ctx);
}

/* The evaluation's filters: the smoothed map against a direct window sum, and the mask of
   a bright square recovering the square. */
static void test_filters(test_rng *r)
{
    int w = 70, h = 50;
    float *map = random_floats(r, (size_t)w * h, 0.0, 0.2), *smooth = malloc((size_t)w * h * sizeof(float));
    for (int y = 10; y < 30; y++)
        for (int x = 20; x < 45; x++) map[y * w + x] = 0.9f;
    CHECK_OK(rd_relevancy_smooth(map, w, h, smooth));
    double worst = 0.0;
    for (int y = 0; y < h; y += 7)
        for (int x = 0; x < w; x += 5) {
            double sum = 0.0;
            int n = 0;
            for (int v = y - 14; v <= y + 14; v++)
                for (int u = x - 14; u <= x + 14; u++)
                    if (u >= 0 && v >= 0 && u < w && v < h) sum += map[v * w + u], n++;
            worst = fmax(worst, fabs(smooth[y * w + x] - 0.5 * (map[y * w + x] + sum / n)));
        }
    CHECK(worst < 1e-5);
    uint8_t *mask = malloc((size_t)w * h);
    CHECK_OK(rd_relevancy_mask(smooth, w, h, mask));
    int both = 0, either = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            bool in = y >= 10 && y < 30 && x >= 20 && x < 45;
            both += in && mask[y * w + x], either += in || mask[y * w + x];
        }
    CHECK(both > 0.8 * either);
    free(map), free(smooth), free(mask);
    /* PCA colours: features of three kinds come out as three distinct colours, in [0, 1];
       pixels under half alpha black */
    int dim = 9, P = 300;
    float *features = random_floats(r, (size_t)P * dim, -0.02, 0.02), alpha[300], *rgb = malloc((size_t)P * 3 * sizeof(float));
    for (int p = 0; p < P; p++) features[p * dim + p % 3] += 1.0f, alpha[p] = p < 270 ? 1.0f : 0.2f;
    CHECK_OK(rd_feature_pca_colors(features, alpha, P, dim, rgb));
    double apart = INFINITY;
    bool in_range = true, dark = true;
    for (int p = 0; p < P; p++) {
        for (int c = 0; c < 3; c++) in_range &= rgb[3 * p + c] >= 0.0f && rgb[3 * p + c] <= 1.0f;
        if (p >= 270) dark &= rgb[3 * p] == 0.0f && rgb[3 * p + 1] == 0.0f && rgb[3 * p + 2] == 0.0f;
        for (int q = 0; q < 270 && p < 270; q += 37)
            if (p % 3 != q % 3) {
                double d = 0.0;
                for (int c = 0; c < 3; c++) d += pow(rgb[3 * p + c] - rgb[3 * q + c], 2.0);
                apart = fmin(apart, sqrt(d));
            }
    }
    CHECK(in_range && dark);
    CHECK(apart > 0.3);
    free(features), free(rgb);
}

/* Each query's IoU in held-out view v by the spec's segmentation protocol (-1 where its id
   covers under 2% of the view), and the level the field chose for it. */
static int mask_ious(rd_context *ctx, const feature_scene *fs, const rd_feature_field *field, int v, double *iou, int *levels)
{
    const rd_camera *camera = &fs->test[v];
    size_t P = (size_t)camera->width * camera->height;
    float *relevancy = malloc(P * FEATURE_SCENE_IDS * sizeof(float)), *smooth = malloc(P * sizeof(float));
    int32_t *ids = malloc(3 * P * sizeof(int32_t));
    uint8_t *mask = malloc(P);
    rd_feature_render_desc desc = {.queries = fs->vectors, .query_count = FEATURE_SCENE_IDS, .negatives = fs->negatives,
                                   .negative_count = FEATURE_SCENE_NEGATIVES};
    int failed = !relevancy || !smooth || !ids || !mask || feature_scene_ids(ctx, fs, camera, ids) != 0 ||
                 rd_render_features(ctx, fs->scene, field, camera, &desc, &(rd_feature_target){.relevancy = relevancy, .query_levels = levels}) != RD_OK;
    for (int q = 0; q < FEATURE_SCENE_IDS && !failed; q++) {
        int level = feature_scene_level(q), id = feature_scene_id(q);
        size_t area = 0, both = 0, either = 0;
        for (size_t p = 0; p < P; p++) area += ids[(level - 1) * P + p] == id;
        iou[q] = -1.0;
        if (area < P / 50) continue;
        failed = rd_relevancy_smooth(relevancy + q * P, camera->width, camera->height, smooth) != RD_OK ||
                 rd_relevancy_mask(smooth, camera->width, camera->height, mask) != RD_OK;
        for (size_t p = 0; p < P; p++) {
            bool in = ids[(level - 1) * P + p] == id;
            both += in && mask[p], either += in || mask[p];
        }
        iou[q] = (double)both / (double)either;
    }
    free(relevancy), free(smooth), free(ids), free(mask);
    return failed;
}

/* The real test without CLIP: train from LangSplat-layout files of the synthetic scene,
   query the held-out views with the ids' own vectors; each object's relevancy mask (the
   spec's segmentation protocol) must recover its id mask with IoU >= 0.9, at the right
   level. Parts and subparts are judged against the exact field (each Gaussian its own id's
   vector) through the same protocol, within 0.1 of it: that field itself reaches only
   0.79 on their worst mask at this size (0.82 at 4x and 8x: thin slivers of parts seen
   edge-on, where a pixel of border on each side is a large share, and a pixel a quarter
   covered already gives phi.t near 1 once phi is normalised), so no training could meet
   0.9 there; the trained field's worst falls 0.075 short of it. 150 steps (10 + 140):
   objects 0.932 and parts 0.767 at worst (300 steps gave 0.941 and 0.741; 100 fail, 0.923
   and 0.647). The sanitizer build trains 20 steps and checks the loss only: its memory
   checks need every call here run once, not a trained field (the steps repeat one path;
   150 took 47 s there), and the release build checks the recovery. On CUDA (where there is
   a device) the same, and a checkpoint of the trained state, loaded into a second trainer,
   gives the same field: the state crosses between host and device whole. */
static void test_recovery(rd_backend backend)
{
    rd_context *ctx;
    if (rd_context_create(&(rd_context_desc){.backend = backend, .log = test_log}, &ctx) != RD_OK) {
        printf("  feature recovery on %s: skipped (no such device here)\n", rd_backend_name(backend));
        return;
    }
    int width = 96, height = 72, train_count = 10, dim = 64;
    feature_scene fs;
    CHECK(feature_scene_make(ctx, dim, train_count, 3, width, height, 2, 7, &fs) == 0);
    const char *dir = test_temp_dir("test_features_scene");
    CHECK(feature_scene_write(ctx, &fs, dir) == 0);
    char folder[512];
    snprintf(folder, sizeof folder, "%s/language_features", dir);
    rd_language_features *lf = calloc((size_t)train_count, sizeof *lf);
    rd_feature_view *views = calloc((size_t)train_count, sizeof *views);
    for (int k = 0; k < train_count; k++) {
        char stem[16];
        snprintf(stem, sizeof stem, "r_%d", k);
        CHECK_OK(rd_language_features_load(ctx, folder, stem, width, height, 1, &lf[k]));
        CHECK(lf[k].dim == dim && lf[k].mask_count == 36);
        views[k] = (rd_feature_view){.camera = fs.train[k], .masks = lf[k].masks, .mask_features = lf[k].features,
                                     .mask_count = lf[k].mask_count};
    }
    rd_feature_trainer *trainer = NULL;
    CHECK_OK(rd_feature_trainer_create(ctx, fs.scene, &(rd_feature_trainer_desc){.views = views, .view_count = train_count, .levels = 3,
                                                                                  .codebook_size = 40, .dim = dim, .seed = 3},
                                       &trainer));
    rd_train_stats first, last;
    CHECK_OK(rd_feature_trainer_step(trainer, 10, &first));
    CHECK_OK(rd_feature_trainer_step(trainer, TEST_SANITIZED ? 10 : 140, &last));
    printf("  feature training on %s: loss %.4f after 10 steps, %.4f after %d\n", rd_backend_name(backend), first.loss, last.loss,
           last.iteration);
    CHECK(last.loss < (TEST_SANITIZED ? 0.9 : 0.5) * first.loss); /* 0.83 -> 0.62 after 20 steps */
    rd_feature_field *field = NULL;
    CHECK_OK(rd_feature_trainer_field(trainer, &field));
    if (backend != RD_BACKEND_CPU) { /* the checkpoint's round trip through the device */
        char path[512];
        snprintf(path, sizeof path, "%s/recovery.checkpoint", dir);
        CHECK_OK(rd_feature_trainer_save_checkpoint(trainer, path));
        rd_feature_trainer *again = NULL;
        rd_feature_field *loaded = NULL;
        CHECK_OK(rd_feature_trainer_create(ctx, fs.scene, &(rd_feature_trainer_desc){.views = views, .view_count = train_count,
                                                                                      .levels = 3, .codebook_size = 40, .dim = dim, .seed = 3},
                                           &again));
        CHECK_OK(rd_feature_trainer_load_checkpoint(again, path));
        CHECK_OK(rd_feature_trainer_field(again, &loaded));
        rd_feature_field_info info;
        rd_feature_field_get_info(field, &info);
        size_t slots = (size_t)info.count * 3 * (size_t)info.slots, values = (size_t)3 * 40 * dim;
        uint8_t *idx[2] = {malloc(slots), malloc(slots)};
        float *code[2] = {malloc(values * sizeof(float)), malloc(values * sizeof(float))};
        rd_feature_field_read(field, idx[0], NULL, code[0]);
        rd_feature_field_read(loaded, idx[1], NULL, code[1]);
        CHECK(memcmp(idx[0], idx[1], slots) == 0 && memcmp(code[0], code[1], values * sizeof(float)) == 0);
        free(idx[0]), free(idx[1]), free(code[0]), free(code[1]);
        rd_feature_field_destroy(loaded);
        rd_feature_trainer_destroy(again);
    }
    rd_feature_field *exact = NULL;
    CHECK(feature_scene_exact_field(ctx, &fs, &exact) == 0);
    double worst_object = 1.0, worst_part = 1.0, worst_exact = 1.0, worst_shortfall = 0.0;
    int judged = 0, wrong_level = 0;
    for (int v = 0; field && exact && v < fs.test_count; v++) {
        double iou[FEATURE_SCENE_IDS], ceiling[FEATURE_SCENE_IDS];
        int levels[FEATURE_SCENE_IDS], exact_levels[FEATURE_SCENE_IDS];
        CHECK(mask_ious(ctx, &fs, field, v, iou, levels) == 0);
        CHECK(mask_ious(ctx, &fs, exact, v, ceiling, exact_levels) == 0);
        for (int q = 0; q < FEATURE_SCENE_IDS; q++) {
            if (iou[q] < 0) continue; /* hidden or nearly so in this view */
            int level = feature_scene_level(q), id = feature_scene_id(q);
            double need = level == 3 ? 0.9 : ceiling[q] - 0.1; /* see above */
            worst_object = level == 3 ? fmin(worst_object, iou[q]) : worst_object;
            worst_part = level < 3 ? fmin(worst_part, iou[q]) : worst_part;
            worst_exact = level < 3 ? fmin(worst_exact, ceiling[q]) : worst_exact;
            worst_shortfall = level < 3 ? fmax(worst_shortfall, ceiling[q] - iou[q]) : worst_shortfall;
            judged++;
            wrong_level += levels[q] != level;
            if (iou[q] < need || levels[q] != level)
                printf("  view t_%d, level %d id %d: IoU %.3f at level %d (the exact field's %.3f)\n", v, level, id, iou[q], levels[q],
                       ceiling[q]);
            CHECK(TEST_SANITIZED || iou[q] >= need);
        }
    }
    printf("  feature recovery: %d id masks judged; the worst IoU of an object %.3f, of a part or subpart %.3f (the exact field's "
           "worst %.3f; the most a mask falls short of it %.3f)\n", judged, worst_object, worst_part, worst_exact, worst_shortfall);
    CHECK(judged >= 30);
    CHECK(TEST_SANITIZED || wrong_level == 0);
    rd_feature_field_destroy(exact);
    rd_feature_field_destroy(field);
    rd_feature_trainer_destroy(trainer);
    for (int k = 0; k < train_count; k++) rd_language_features_free(&lf[k]);
    free(lf), free(views);
    feature_scene_free(&fs);
    rd_context_destroy(ctx);
}

/* A seed repeats a training run bit for bit, whatever the thread count; feature maps as
   trainer input (the other kind of target) train too. */
static void test_repeatable(test_rng *r)
{
    rd_context *one, *two;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 1, .log = test_log}, &one));
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 2, .log = test_log}, &two));
    fixture f;
    fixture_make(one, r, &f, 200, 24, 20);
    int dim = 6, levels = 2;
    size_t P = (size_t)f.camera.width * f.camera.height;
    float *maps = random_floats(r, (size_t)levels * P * dim, -1.0, 1.0);
    for (size_t p = 0; p < P; p += 5) memset(maps + p * dim, 0, (size_t)dim * sizeof(float)); /* no target there */
    rd_feature_view view = {.camera = f.camera, .features = maps};
    uint8_t *indices[2];
    float *codebooks[2];
    for (int run = 0; run < 2; run++) {
        rd_context *ctx = run ? two : one;
        rd_feature_trainer *t = NULL;
        CHECK_OK(rd_feature_trainer_create(ctx, f.scene, &(rd_feature_trainer_desc){.views = &view, .view_count = 1, .levels = levels,
                                                                                      .codebook_size = 8, .slots = 3, .dim = dim, .seed = 5},
                                           &t));
        rd_train_stats first, last;
        CHECK_OK(rd_feature_trainer_step(t, 2, &first));
        CHECK_OK(rd_feature_trainer_step(t, 30, &last));
        CHECK(last.loss < first.loss);
        rd_feature_field *field = NULL;
        CHECK_OK(rd_feature_trainer_field(t, &field));
        indices[run] = malloc(200 * (size_t)levels * 3);
        codebooks[run] = malloc((size_t)levels * 8 * dim * sizeof(float));
        rd_feature_field_read(field, indices[run], NULL, codebooks[run]);
        rd_feature_field_destroy(field);
        rd_feature_trainer_destroy(t);
    }
    CHECK(memcmp(indices[0], indices[1], 200 * (size_t)levels * 3) == 0);
    CHECK(memcmp(codebooks[0], codebooks[1], (size_t)levels * 8 * dim * sizeof(float)) == 0);
    /* a checkpoint after step 2 continues the run to the same bits */
    rd_feature_trainer_desc td = {.views = &view, .view_count = 1, .levels = levels, .codebook_size = 8, .slots = 3, .dim = dim, .seed = 5};
    const char *dir = test_temp_dir("test_features_checkpoint");
    char path[512];
    snprintf(path, sizeof path, "%s/run.checkpoint", dir);
    rd_feature_trainer *first = NULL, *second = NULL;
    CHECK_OK(rd_feature_trainer_create(two, f.scene, &td, &first));
    CHECK_OK(rd_feature_trainer_step(first, 2, NULL));
    CHECK_OK(rd_feature_trainer_save_checkpoint(first, path));
    rd_feature_trainer_destroy(first);
    CHECK_OK(rd_feature_trainer_create(two, f.scene, &td, &second));
    CHECK_OK(rd_feature_trainer_load_checkpoint(second, path));
    rd_train_stats resumed;
    CHECK_OK(rd_feature_trainer_step(second, 30, &resumed));
    CHECK(resumed.iteration == 32);
    rd_feature_field *field = NULL;
    CHECK_OK(rd_feature_trainer_field(second, &field));
    uint8_t *again = malloc(200 * (size_t)levels * 3);
    float *again_codebooks = malloc((size_t)levels * 8 * dim * sizeof(float));
    rd_feature_field_read(field, again, NULL, again_codebooks);
    CHECK(memcmp(again, indices[0], 200 * (size_t)levels * 3) == 0);
    CHECK(memcmp(again_codebooks, codebooks[0], (size_t)levels * 8 * dim * sizeof(float)) == 0);
    free(again), free(again_codebooks);
    rd_feature_field_destroy(field);
    size_t size;
    unsigned char *bytes = read_file(path, &size);
    bytes[size / 2] ^= 4;
    write_file(dir, "damaged.checkpoint", bytes, size);
    snprintf(path, sizeof path, "%s/damaged.checkpoint", dir);
    CHECK_FAILS(rd_feature_trainer_load_checkpoint(second, path), RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(two), "checksum") != NULL);
    free(bytes);
    rd_feature_trainer_destroy(second);
    td.codebook_size = 9; /* another configuration */
    snprintf(path, sizeof path, "%s/run.checkpoint", dir);
    CHECK_OK(rd_feature_trainer_create(two, f.scene, &td, &second));
    CHECK_FAILS(rd_feature_trainer_load_checkpoint(second, path), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(two), "codebook_size 8, where this trainer has 9") != NULL);
    rd_feature_trainer_destroy(second);
    /* views that cannot be trained on are refused, saying which */
    int32_t masks[4] = {0, 1, 5, -1};
    float mask_features[2 * 6] = {0};
    rd_feature_view bad = {.camera = rd_camera_look_at((float[3]){0, 0, 0}, (float[3]){0, 0, 1}, (float[3]){0, -1, 0}, 2, 2, 60),
                           .masks = masks, .mask_features = mask_features, .mask_count = 2};
    rd_feature_trainer *t = NULL;
    CHECK_FAILS(rd_feature_trainer_create(one, f.scene, &(rd_feature_trainer_desc){.views = &bad, .view_count = 1, .levels = 1, .dim = 6},
                                          &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(one), "view 0, level 1, pixel 2: mask 5 is past its 2 mask features") != NULL);
    for (int run = 0; run < 2; run++) free(indices[run]), free(codebooks[run]);
    free(maps);
    fixture_free(&f);
    rd_context_destroy(one);
    rd_context_destroy(two);
}

/* The trainer's gradients (the cosine loss through the decode to W and the codebooks, the
   blend's backward pass, the top-K softmax to the logits) against central differences of
   its loss, with distinct random logits so that a small step keeps the top K. */
static void test_training_gradients(test_rng *r)
{
    rd_context *ctx;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 2, .log = test_log}, &ctx));
    fixture f;
    fixture_make(ctx, r, &f, 40, 20, 16);
    int dim = 5, levels = 2, L = 6, K = 3;
    size_t P = (size_t)f.camera.width * f.camera.height;
    float *maps = random_floats(r, (size_t)levels * P * dim, -1.0, 1.0);
    rd_feature_view view = {.camera = f.camera, .features = maps};
    rd_feature_trainer *t = NULL;
    CHECK_OK(rd_feature_trainer_create(ctx, f.scene, &(rd_feature_trainer_desc){.views = &view, .view_count = 1, .levels = levels,
                                                                                  .codebook_size = L, .slots = K, .dim = dim}, &t));
    if (!t) return;
    /* Each group's L logits a shuffled ladder with rungs at least 0.33 apart: uniform random
       logits put two within the step of each other often enough (seed 32949778134) that the
       step swapped the top K and the differences jumped. */
    for (int64_t g = 0; g < t->count * levels; g++) {
        float *group = t->logits + g * L;
        for (int k = 0; k < L; k++) group[k] = (float)k;
        for (int k = L - 1; k > 0; k--) {
            int other = (int)(rng_uniform(r) * (k + 1));
            float swap = group[k];
            group[k] = group[other], group[other] = swap;
        }
        for (int k = 0; k < L; k++) group[k] = (float)(-2.0 + 4.0 / L * (group[k] + rng_range(r, 0.0, 0.5)));
    }
    double loss;
    CHECK_OK(rd_feature_trainer_gradients(t, 0, &loss));
    size_t logits = (size_t)(t->count * levels * L), values = (size_t)levels * L * dim;
    float *logit_grad = malloc(logits * sizeof(float)), *code_grad = malloc(values * sizeof(float));
    memcpy(logit_grad, t->logit_grad, logits * sizeof(float));
    memcpy(code_grad, t->code_grad, values * sizeof(float));
    int checked = 0, bad = 0;
    for (int kind = 0; kind < 2; kind++) {
        float *param = kind ? t->codebooks : t->logits, *grad = kind ? code_grad : logit_grad;
        size_t n = kind ? values : logits;
        for (size_t j = 0, taken = 0; j < n && taken < 24; j++) {
            if (fabsf(grad[j]) < 1e-4f) continue;
            float keep = param[j], h = kind ? 1e-3f : 1e-3f;
            double side[2];
            for (int s = 0; s < 2; s++) {
                param[j] = keep + (s ? h : -h);
                CHECK_OK(rd_feature_trainer_gradients(t, 0, &side[s]));
            }
            param[j] = keep;
            double fd = (side[1] - side[0]) / (2.0 * h);
            if (fabs(fd - grad[j]) > 2e-4 + 2e-2 * fabs(fd)) {
                bad++;
                printf("  %s %zu: gradient %g, differences %g\n", kind ? "codebook" : "logit", j, grad[j], fd);
            }
            checked++, taken++;
        }
    }
    CHECK(checked >= 30);
    CHECK(bad == 0);
    free(logit_grad), free(code_grad), free(maps);
    rd_feature_trainer_destroy(t);
    fixture_free(&f);
    rd_context_destroy(ctx);
}

int main(void)
{
    test_rng r = {test_seed("test_features")};
    test_coefficients(&r);
    test_decode_against_reference(&r);
    test_relevancy(&r);
    test_backward(&r);
    test_training_gradients(&r);
    test_create_errors();
    test_file(&r);
    test_filters(&r);
    test_repeatable(&r);
    test_recovery(RD_BACKEND_CPU);
    test_recovery(RD_BACKEND_CUDA);
    return test_finish("test_features");
}
