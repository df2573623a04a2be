/* feature_scene.c: see feature_scene.h. */
#include "feature_scene.h"
#include "test_util.h"
#include "../datasets/npy.h"
#include "../compress/conventions.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { PER_SUBPART = 1000, SUBPARTS = 16, FLOOR_SIDE = 56 };
#define FLOOR_HALF 2.8f

/* Object o at a corner of a square on the ground; its parts are its left and right
   halves, their subparts the upper and lower quarters. */
static void place(test_rng *r, int subpart, float xyz[3])
{
    static const float centres[4][2] = {{-0.7f, -0.7f}, {0.7f, -0.6f}, {-0.6f, 0.7f}, {0.65f, 0.65f}};
    int object = subpart / 4, right = (subpart / 2) % 2, upper = subpart % 2;
    xyz[0] = centres[object][0] + (right ? 0.0f : -0.4f) + (float)rng_range(r, 0.02, 0.38);
    xyz[1] = (upper ? 0.4f : 0.0f) + (float)rng_range(r, 0.02, 0.38);
    xyz[2] = centres[object][1] + (float)rng_range(r, -0.35, 0.35);
}

/* rows random unit vectors, orthogonal to each other (Gram-Schmidt on Gaussian draws, so
   that their directions are uniformly random), each rounded through half precision as
   LangSplat's fp16 CLIP features are. Orthogonal stand-ins keep chance similarity out of
   the test, as real text embeddings of different things mostly are far apart. */
static void unit_rows(test_rng *r, int rows, int dim, float *out)
{
    double *v = malloc((size_t)rows * dim * sizeof(double));
    for (int q = 0; q < rows; q++) {
        double *x = v + (size_t)q * dim, norm = 0.0;
        for (int d = 0; d < dim; d++) x[d] = rng_normal(r);
        for (int p = 0; p < q; p++) {
            double dot = 0.0;
            for (int d = 0; d < dim; d++) dot += x[d] * v[(size_t)p * dim + d];
            for (int d = 0; d < dim; d++) x[d] -= dot * v[(size_t)p * dim + d];
        }
        for (int d = 0; d < dim; d++) norm += x[d] * x[d];
        for (int d = 0; d < dim; d++) x[d] /= sqrt(norm);
        for (int d = 0; d < dim; d++) out[(size_t)q * dim + d] = rd_half_to_float(rd_half_from_float((float)x[d]));
    }
    free(v);
}

int feature_scene_make(rd_context *ctx, int dim, int train_count, int test_count, int width, int height, int test_scale,
                       unsigned long long seed, feature_scene *s)
{
    memset(s, 0, sizeof *s);
    test_rng r = {seed};
    int objects = SUBPARTS * PER_SUBPART, n = objects + FLOOR_SIDE * FLOOR_SIDE;
    float *means = malloc((size_t)n * 3 * sizeof(float)), *scales = malloc((size_t)n * 3 * sizeof(float));
    float *rot = malloc((size_t)n * 4 * sizeof(float)), *opacity = malloc((size_t)n * sizeof(float)), *sh = malloc((size_t)n * 3 * sizeof(float));
    static const float colours[4][3] = {{0.9f, 0.3f, 0.2f}, {0.2f, 0.8f, 0.3f}, {0.25f, 0.35f, 0.9f}, {0.9f, 0.8f, 0.2f}};
    for (int i = 0; i < n; i++) {
        rot[4 * i] = 1.0f, rot[4 * i + 1] = rot[4 * i + 2] = rot[4 * i + 3] = 0.0f;
        opacity[i] = 3.0f;
        if (i >= objects) { /* the floor: flat grey tiles the objects stand on, which fill the views behind them */
            int f = i - objects;
            float step = 2.0f * FLOOR_HALF / FLOOR_SIDE;
            means[3 * i] = -FLOOR_HALF + step * ((float)(f % FLOOR_SIDE) + 0.5f), means[3 * i + 1] = -0.03f;
            means[3 * i + 2] = -FLOOR_HALF + step * ((float)(f / FLOOR_SIDE) + 0.5f);
            scales[3 * i] = scales[3 * i + 2] = logf(0.7f * step), scales[3 * i + 1] = logf(0.01f);
            for (int c = 0; c < 3; c++) sh[3 * i + c] = (0.55f + 0.1f * (float)((f + f / FLOOR_SIDE) % 2) - 0.5f) / 0.2820948f;
            continue;
        }
        int subpart = i / PER_SUBPART;
        place(&r, subpart, means + 3 * i);
        for (int c = 0; c < 3; c++) scales[3 * i + c] = logf(0.015f), sh[3 * i + c] = (colours[subpart / 4][c] * (0.8f + 0.1f * (float)(subpart % 4)) - 0.5f) / 0.2820948f;
    }
    rd_scene_desc desc = {.count = n, .means = means, .log_scales = scales, .rotations = rot, .opacities = opacity, .sh = sh};
    int failed = rd_scene_create(ctx, &desc, &s->scene) != RD_OK;
    free(means), free(scales), free(rot), free(opacity), free(sh);
    s->dim = dim;
    enum { ROWS = FEATURE_SCENE_IDS + 3 + FEATURE_SCENE_NEGATIVES };
    float *rows = malloc((size_t)ROWS * dim * sizeof(float));
    unit_rows(&r, ROWS, dim, rows);
    s->vectors = rows, s->floor = rows + (size_t)FEATURE_SCENE_IDS * dim, s->negatives = s->floor + (size_t)3 * dim;
    s->train_count = train_count, s->test_count = test_count;
    s->train = malloc((size_t)train_count * sizeof(rd_camera));
    s->test = malloc((size_t)test_count * sizeof(rd_camera));
    const float target[3] = {0.0f, 0.3f, 0.0f}, up[3] = {0.0f, 1.0f, 0.0f};
    for (int k = 0; k < train_count + test_count; k++) {
        bool train = k < train_count;
        double angle = train ? 2.0 * M_PI * k / train_count : 2.0 * M_PI * ((k - train_count) + 0.5) / test_count + 0.3;
        float eye[3] = {2.3f * (float)cos(angle), 2.4f, 2.3f * (float)sin(angle)};
        rd_camera *camera = train ? &s->train[k] : &s->test[k - train_count];
        int scale = train ? 1 : test_scale;
        *camera = rd_camera_look_at(eye, target, up, width * scale, height * scale, 55.0f);
    }
    return failed;
}

void feature_scene_free(feature_scene *s)
{
    rd_scene_destroy(s->scene);
    free(s->vectors), free(s->train), free(s->test); /* vectors holds floor and negatives too */
    memset(s, 0, sizeof *s);
}

/* A field of one slot a Gaussian and level naming its id at that grouping (the floor's
   after the grouping's ids), weight 1, over codebooks (NULL: zero rows of dim). */
enum { ID_ROWS = 17 };
static int id_field(rd_context *ctx, int dim, const float *codebooks, rd_feature_field **out)
{
    int64_t objects = SUBPARTS * PER_SUBPART, n = objects + FLOOR_SIDE * FLOOR_SIDE;
    uint8_t *indices = malloc((size_t)n * 3);
    float *weights = malloc((size_t)n * 3 * sizeof(float));
    for (int64_t i = 0; i < n; i++) {
        int subpart = (int)(i / PER_SUBPART);
        indices[3 * i] = (uint8_t)(i < objects ? subpart : 16), indices[3 * i + 1] = (uint8_t)(i < objects ? subpart / 2 : 8);
        indices[3 * i + 2] = (uint8_t)(i < objects ? subpart / 4 : 4);
        weights[3 * i] = weights[3 * i + 1] = weights[3 * i + 2] = 1.0f;
    }
    int failed = rd_feature_field_create(ctx, &(rd_feature_field_desc){.count = n, .levels = 3, .codebook_size = ID_ROWS, .slots = 1,
                                                                       .dim = dim, .indices = indices, .weights = weights,
                                                                       .codebooks = codebooks}, out) != RD_OK;
    free(indices), free(weights);
    return failed;
}

int feature_scene_exact_field(rd_context *ctx, const feature_scene *s, rd_feature_field **out)
{
    float *codebooks = calloc((size_t)3 * ID_ROWS * s->dim, sizeof(float));
    static const int firsts[3] = {0, 16, 24}, counts[3] = {16, 8, 4};
    size_t row_bytes = (size_t)s->dim * sizeof(float);
    for (int l = 0; l < 3; l++) {
        memcpy(codebooks + (size_t)l * ID_ROWS * s->dim, s->vectors + (size_t)firsts[l] * s->dim, (size_t)counts[l] * row_bytes);
        memcpy(codebooks + (size_t)(l * ID_ROWS + counts[l]) * s->dim, s->floor + (size_t)l * s->dim, row_bytes);
    }
    int failed = id_field(ctx, s->dim, codebooks, out);
    free(codebooks);
    return failed;
}

int feature_scene_ids(rd_context *ctx, const feature_scene *s, const rd_camera *camera, int32_t *ids)
{
    enum { L = ID_ROWS };
    rd_feature_field *onehot = NULL;
    int failed = id_field(ctx, 1, NULL, &onehot);
    size_t P = (size_t)camera->width * camera->height;
    float *W = malloc(P * 3 * L * sizeof(float));
    if (!failed) failed = rd_render_features(ctx, s->scene, onehot, camera, NULL, &(rd_feature_target){.coefficients = W}) != RD_OK;
    /* a pixel takes the id that covers most of it; where none covers half, no mask (as SAM
       leaves edges and background) */
    for (size_t p = 0; !failed && p < P; p++)
        for (int l = 0; l < 3; l++) {
            int best = 0;
            for (int c = 1; c < L; c++) best = W[(p * 3 + l) * L + c] > W[(p * 3 + l) * L + best] ? c : best;
            ids[l * P + p] = W[(p * 3 + l) * L + best] >= 0.5f ? best : -1;
        }
    rd_feature_field_destroy(onehot);
    free(W);
    return failed;
}

/* c2w in Blender's (OpenGL) axes from an OpenCV w2c, as a JSON matrix. */
static void write_frame(FILE *f, const rd_camera *c, const char *name, bool last)
{
    double m[16] = {0};
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) m[4 * i + j] = (j == 0 ? 1.0 : -1.0) * c->w2c[4 * j + i]; /* R^T, columns 1, 2 negated */
        m[4 * i + 3] = -(c->w2c[i] * c->w2c[3] + c->w2c[4 + i] * c->w2c[7] + c->w2c[8 + i] * c->w2c[11]);
    }
    m[15] = 1.0;
    fprintf(f, "    {\"file_path\": \"./%s\", \"transform_matrix\": [", name);
    for (int i = 0; i < 4; i++)
        fprintf(f, "[%.9g, %.9g, %.9g, %.9g]%s", m[4 * i], m[4 * i + 1], m[4 * i + 2], m[4 * i + 3], i < 3 ? ", " : "");
    fprintf(f, "]}%s\n", last ? "" : ",");
}

/* The view's PNG and LangSplat files. _f rows: the default, s, m and l groups, each the
   grouping's ids then the floor (the default group repeats the objects). */
static int write_view(rd_context *ctx, const feature_scene *s, const rd_camera *c, const char *dir, const char *stem)
{
    size_t P = (size_t)c->width * c->height;
    char path[1024];
    float *rgba = malloc(P * 4 * sizeof(float));
    int failed = rd_render(ctx, s->scene, c, &(rd_render_desc){.background = {1, 1, 1}}, &(rd_framebuffer){.color = rgba}) != RD_OK;
    rd_image image;
    failed |= rd_image_alloc(c->width, c->height, 3, &image) != RD_OK;
    for (size_t p = 0; !failed && p < P; p++)
        for (int k = 0; k < 3; k++) image.pixels[3 * p + k] = fminf(fmaxf(rgba[4 * p + k], 0.0f), 1.0f);
    snprintf(path, sizeof path, "%s/%s.png", dir, stem);
    if (!failed) failed = rd_image_save(ctx, path, &image) != RD_OK;
    rd_image_free(&image);
    free(rgba);
    int32_t *ids = malloc(P * 3 * sizeof(int32_t));
    enum { ROWS = 5 + 17 + 9 + 5 };
    float *planes = malloc(P * 4 * sizeof(float)), *rows = malloc((size_t)ROWS * s->dim * sizeof(float));
    failed |= feature_scene_ids(ctx, s, c, ids);
    static const int offsets[4] = {0, 5, 22, 31}, firsts[4] = {24, 0, 16, 24}, counts[4] = {4, 16, 8, 4};
    size_t row_bytes = (size_t)s->dim * sizeof(float);
    for (int g = 0; g < 4; g++) {
        memcpy(rows + (size_t)offsets[g] * s->dim, s->vectors + (size_t)firsts[g] * s->dim, (size_t)counts[g] * row_bytes);
        memcpy(rows + (size_t)(offsets[g] + counts[g]) * s->dim, s->floor + (size_t)(g ? g - 1 : 2) * s->dim, row_bytes);
    }
    for (size_t p = 0; p < P; p++) {
        planes[p] = ids[2 * P + p] < 0 ? -1.0f : (float)(offsets[0] + ids[2 * P + p]);
        for (int l = 0; l < 3; l++) planes[(l + 1) * P + p] = ids[l * P + p] < 0 ? -1.0f : (float)(offsets[l + 1] + ids[l * P + p]);
    }
    snprintf(path, sizeof path, "%s/language_features/%s_f.npy", dir, stem);
    if (!failed) failed = rd_npy_save(ctx, path, rows, NULL, 2, (const int64_t[]){ROWS, s->dim}) != RD_OK;
    snprintf(path, sizeof path, "%s/language_features/%s_s.npy", dir, stem);
    if (!failed) failed = rd_npy_save(ctx, path, planes, NULL, 3, (const int64_t[]){4, c->height, c->width}) != RD_OK;
    free(ids), free(planes), free(rows);
    return failed;
}

int feature_scene_write(rd_context *ctx, const feature_scene *s, const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/language_features", dir);
    mkdir(dir, 0755);
    mkdir(path, 0755);
    int failed = 0;
    for (int split = 0; split < 2; split++) {
        int count = split ? s->test_count : s->train_count;
        const rd_camera *cams = split ? s->test : s->train;
        snprintf(path, sizeof path, "%s/transforms_%s.json", dir, split ? "test" : "train");
        FILE *f = fopen(path, "w");
        if (!f) return 1;
        fprintf(f, "{\n  \"camera_angle_x\": %.9g,\n  \"frames\": [\n", 2.0 * atan(0.5 * cams[0].width / cams[0].fx));
        for (int k = 0; k < count; k++) {
            char stem[32];
            snprintf(stem, sizeof stem, "%s_%d", split ? "t" : "r", k);
            write_frame(f, &cams[k], stem, k + 1 == count);
            failed |= write_view(ctx, s, &cams[k], dir, stem);
        }
        fprintf(f, "  ]\n}\n");
        failed |= fclose(f) != 0;
    }
    snprintf(path, sizeof path, "%s/queries.npy", dir);
    failed |= rd_npy_save(ctx, path, s->vectors, NULL, 2, (const int64_t[]){FEATURE_SCENE_IDS, s->dim}) != RD_OK;
    snprintf(path, sizeof path, "%s/negatives.npy", dir);
    failed |= rd_npy_save(ctx, path, s->negatives, NULL, 2, (const int64_t[]){FEATURE_SCENE_NEGATIVES, s->dim}) != RD_OK;
    return failed;
}
