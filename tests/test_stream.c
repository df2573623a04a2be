/* test_stream.c: residual streams (radiant_streams.h): what a reader decodes is bit for
   bit the writer's state after every frame, sequentially and by any seek; the decode
   follows the spec's formula (checked here in double); damage is detected: a file cut at
   every frame boundary and inside frames plays to its last whole frame, a bit flipped in
   any section of any frame fails that frame by number and playback goes on from the next
   intra frame, a damaged index or trailer falls back to scanning, absurd counts are
   refused before anything is allocated; a residual that does not fit its state is
   refused and leaves the stream as it was; an unfinished writer leaves no file. */
#include "stream_fixture.h"
#include "../compress/stream.h"
#include "../compress/stream_encode_step.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static rd_context *ctx;
static test_rng rng;
static const char *tmp;

static size_t sh_floats(int degree) { return (size_t)3 * (degree + 1) * (degree + 1); }

static bool same_scene(const rd_scene_desc *a, const rd_scene_desc *b)
{
    if (a->count != b->count || a->sh_degree != b->sh_degree) return false;
    size_t n = (size_t)a->count;
    return memcmp(a->means, b->means, n * 12) == 0 && memcmp(a->log_scales, b->log_scales, n * 12) == 0 &&
           memcmp(a->rotations, b->rotations, n * 16) == 0 && memcmp(a->opacities, b->opacities, n * 4) == 0 &&
           memcmp(a->sh, b->sh, n * sh_floats(a->sh_degree) * 4) == 0;
}

static const char *path_of(const char *name)
{
    static char path[4][1024];
    static int turn;
    char *p = path[turn++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", tmp, name);
    return p;
}

/* Every frame sequentially, then random seeks, equal the writer's states. */
static void test_round_trip(void)
{
    for (int round = 0; round < 4; round++) {
        stream_fixture_desc d = {.frames = 12 + round * 3, .gaussians = 50 + (int)(rng_uniform(&rng) * 400), .sh_degree = round % 4,
                                 .keyframe_every = round == 0 ? 0 : 3 + round};
        rd_scene_desc states[32];
        const char *path = path_of("round.rstream");
        if (!CHECK_OK(stream_fixture_write(ctx, &rng, path, &d, states))) return;
        rd_stream *s;
        CHECK_OK(rd_stream_open(ctx, path, &s));
        rd_stream_info info;
        rd_stream_get_info(s, &info);
        CHECK(info.indexed && info.frames == d.frames && info.sh_degree == d.sh_degree && info.damaged_at == -1);
        CHECK(info.intra_frames == (d.keyframe_every ? (d.frames - 1) / d.keyframe_every + 1 : 1));
        CHECK(strstr(rd_stream_config(s), "\"fixture\":true") != NULL);
        bool all = true;
        for (int k = 0; k < d.frames; k++) {
            all &= rd_stream_next(s) == RD_OK && rd_stream_position(s) == k;
            rd_scene_desc got = rd_stream_state(s);
            all &= same_scene(&got, &states[k]);
        }
        CHECK(all);
        CHECK_FAILS(rd_stream_next(s), RD_ERROR_INVALID_ARGUMENT); /* past the end */
        for (int t = 0; t < 20; t++) {
            int k = (int)(rng_uniform(&rng) * d.frames);
            all &= rd_stream_seek(s, k) == RD_OK;
            rd_scene_desc got = rd_stream_state(s);
            all &= same_scene(&got, &states[k]);
        }
        CHECK(all);
        rd_stream_close(s);
        stream_fixture_free_states(states, d.frames);
    }
}

/* One residual frame by hand, its decode against the spec's formula in double. */
static void test_formula(void)
{
    const char *path = path_of("formula.rstream");
    int degree = 1, n = 5, C = (int)sh_floats(degree);
    random_scene_desc sd = {.count = n, .sh_degree = degree, .depth_min = 2, .depth_max = 6, .spread = 0.5, .log_scale_min = -4, .log_scale_max = -2};
    rd_scene_desc first = random_scene(&rng, &sd);
    rd_stream_writer *w;
    CHECK_OK(rd_stream_writer_create(ctx, path, &(rd_stream_desc){.sh_degree = degree, .position_step = 0.01f}, &w));
    CHECK_OK(rd_stream_write_intra(w, &first));
    int64_t mapping[6] = {4, 0, 0, 2, 3, 1};
    int64_t moved[2] = {1, 5};
    int32_t steps[6] = {3, -2, 100, 0, 0, -7};
    int32_t z_dc[6 * 2], z_rest[6 * 2], z_op[6 * 3];
    for (int k = 0; k < 12; k++) z_dc[k] = k % 5 - 2, z_rest[k] = k % 3 - 1;
    for (int k = 0; k < 18; k++) z_op[k] = k % 4 - 1;
    float W_dc[2 * 3] = {0.1f, -0.2f, 0.3f, 0.05f, 0.0f, -0.1f}, b_dc[3] = {0.01f, 0.02f, -0.03f};
    float *W_rest = random_floats(&rng, 2 * 9, -0.1, 0.1), *b_rest = random_floats(&rng, 9, -0.1, 0.1), b_op[1] = {0.25f};
    rd_stream_residual f = {.count = 6, .mapping = mapping, .moved = 2, .moved_indices = moved, .moved_steps = steps};
    f.attributes[RD_STREAM_F_DC] = (rd_stream_latents){2, RD_STREAM_LINEAR, z_dc, W_dc, 0, b_dc};
    f.attributes[RD_STREAM_F_REST] = (rd_stream_latents){2, RD_STREAM_LINEAR, z_rest, W_rest, 0, b_rest};
    f.attributes[RD_STREAM_OPACITY] = (rd_stream_latents){3, RD_STREAM_COSINE, z_op, NULL, 0.5f, b_op};
    float b_scale[3] = {0.1f, -0.2f, 0.05f};
    f.attributes[RD_STREAM_SCALE] = (rd_stream_latents){3, RD_STREAM_COSINE, z_op, NULL, 0.25f, b_scale}; /* C = 3: the basis proper */
    CHECK_OK(rd_stream_write_residual(w, &f));
    CHECK_OK(rd_stream_writer_finish(w));
    rd_stream *s;
    if (!CHECK_OK(rd_stream_open(ctx, path, &s))) return;
    CHECK_OK(rd_stream_seek(s, 1));
    rd_scene_desc got = rd_stream_state(s);
    double worst = 0;
    for (int i = 0; i < 6; i++) {
        int p = (int)mapping[i];
        for (int c = 0; c < 3; c++) {
            double x = first.means[p * 3 + c];
            for (int j = 0; j < 2; j++) x += moved[j] == i ? steps[j * 3 + c] * 0.01 : 0.0;
            worst = fmax(worst, fabs(x - got.means[i * 3 + c]));
            double dc = first.sh[p * C + c] + b_dc[c];
            for (int k = 0; k < 2; k++) dc += z_dc[i * 2 + k] * (double)W_dc[k * 3 + c];
            worst = fmax(worst, fabs(dc - got.sh[i * C + c]));
            double scale = first.log_scales[p * 3 + c] + b_scale[c]; /* the spec's basis, B_kf = cos(pi (k + 1/2) f / C) / sqrt(C) (x sqrt 2, f > 0) */
            for (int k = 0; k < 3; k++) scale += 0.25 * z_op[i * 3 + k] * cos(M_PI * (k + 0.5) * c / 3.0) / sqrt(3.0) * (c > 0 ? sqrt(2.0) : 1.0);
            worst = fmax(worst, fabs(scale - got.log_scales[i * 3 + c]));
        }
        for (int f_ = 0; f_ < 9; f_++) { /* f_rest absolute: its latents replace the parent's value */
            double rest = b_rest[f_];
            for (int k = 0; k < 2; k++) rest += z_rest[i * 2 + k] * (double)W_rest[k * 9 + f_];
            worst = fmax(worst, fabs(rest - got.sh[i * C + 3 + f_]));
        }
        double op = first.opacities[p] + 0.25; /* C = 1: the basis is all ones */
        for (int k = 0; k < 3; k++) op += 0.5 * z_op[i * 3 + k];
        worst = fmax(worst, fabs(op - got.opacities[i]));
    }
    printf("  residual decode against the formula in double: worst difference %.2e\n", worst);
    CHECK(worst < 1e-5);
    rd_stream_close(s);
    random_scene_free(&first);
    free(W_rest), free(b_rest);
}

static unsigned char *file_bytes(const char *path, size_t *n) { return read_file(path, n); }

/* The file's bytes, and where each frame lies in it. */
static unsigned char *file_and_frames(const char *path, size_t *n, rd_stream_frame_info *fi, int frames)
{
    rd_stream *s;
    if (CHECK_OK(rd_stream_open(ctx, path, &s))) {
        for (int k = 0; k < frames; k++) CHECK_OK(rd_stream_get_frame(s, k, &fi[k]));
        rd_stream_close(s);
    }
    return file_bytes(path, n);
}

/* Cut at every frame boundary and inside frames: plays to the last whole frame. */
static void test_truncation(const rd_scene_desc *states, const char *path, int frames)
{
    size_t n;
    rd_stream_frame_info fi[64];
    unsigned char *whole = file_and_frames(path, &n, fi, frames);
    rd_stream *s;
    bool all = true;
    int cuts = 0;
    for (int k = 0; k <= frames; k++) {
        int64_t boundary = k < frames ? fi[k].offset : fi[frames - 1].offset + fi[frames - 1].bytes;
        int64_t inside[3] = {boundary, boundary + 20, k < frames ? boundary + fi[k].bytes / 2 : boundary + 9};
        for (int c = 0; c < 3; c++) {
            if (inside[c] >= (int64_t)n) continue;
            const char *cut = write_file(tmp, "cut.rstream", whole, (size_t)inside[c]);
            cuts++;
            if (rd_stream_open(ctx, cut, &s) != RD_OK) {
                all = false;
                continue;
            }
            rd_stream_info info;
            rd_stream_get_info(s, &info);
            all &= !info.indexed && info.frames == k;
            all &= c == 0 ? info.damaged_at == -1 : info.damaged_at >= 0; /* a cut at a boundary looks like a whole file */
            for (int j = 0; j < k; j++) {
                all &= rd_stream_next(s) == RD_OK;
                rd_scene_desc got = rd_stream_state(s);
                all &= same_scene(&got, &states[j]);
            }
            rd_stream_close(s);
        }
    }
    printf("  truncation: %d cuts, each played to its last whole frame\n", cuts);
    CHECK(all);
    free(whole);
}

/* A bit flipped in every section of every frame: that frame fails by number; playback
   goes on from the next intra frame, which decodes as written. */
static void test_bit_flips(const rd_scene_desc *states, const char *path, int frames)
{
    size_t n;
    rd_stream_frame_info fi[64];
    unsigned char *whole = file_and_frames(path, &n, fi, frames);
    rd_stream *s;
    bool all = true;
    int flips = 0;
    char expect[64];
    for (int k = 0; k < frames; k++) {
        for (int64_t at = fi[k].offset; at < fi[k].offset + fi[k].bytes; at += 1 + (int64_t)(rng_uniform(&rng) * fi[k].bytes / 12)) {
            unsigned char saved = whole[at];
            whole[at] ^= (unsigned char)(1u << (int)(rng_uniform(&rng) * 8));
            const char *bad = write_file(tmp, "flip.rstream", whole, n);
            flips++;
            all &= rd_stream_open(ctx, bad, &s) == RD_OK;
            if (!all) break;
            rd_result r = rd_stream_seek(s, k);
            snprintf(expect, sizeof expect, "frame %d", k);
            all &= r == RD_ERROR_FORMAT && strstr(rd_last_error(ctx), expect) != NULL;
            int64_t next = rd_stream_next_intra(s, k);
            if (next >= 0) {
                all &= rd_stream_seek(s, next) == RD_OK;
                rd_scene_desc got = rd_stream_state(s);
                all &= same_scene(&got, &states[next]);
            }
            if (k > 0) { /* the frame before still decodes */
                all &= rd_stream_seek(s, k - 1) == RD_OK;
                rd_scene_desc got = rd_stream_state(s);
                all &= same_scene(&got, &states[k - 1]);
            }
            rd_stream_close(s);
            whole[at] = saved;
        }
    }
    printf("  bit flips: %d, each failing its frame by number and skipped to the next intra frame\n", flips);
    CHECK(all);
    /* the index and trailer, and the file header */
    bool fallback = true;
    for (int64_t at = fi[frames - 1].offset + fi[frames - 1].bytes; at < (int64_t)n; at += 7) {
        whole[at] ^= 0x10;
        const char *bad = write_file(tmp, "flip.rstream", whole, n);
        fallback &= rd_stream_open(ctx, bad, &s) == RD_OK;
        if (!fallback) break;
        rd_stream_info info;
        rd_stream_get_info(s, &info);
        fallback &= !info.indexed && info.frames == frames && rd_stream_seek(s, frames - 1) == RD_OK;
        rd_scene_desc got = rd_stream_state(s);
        fallback &= same_scene(&got, &states[frames - 1]);
        rd_stream_close(s);
        whole[at] ^= 0x10;
    }
    CHECK(fallback);
    whole[20] ^= 1;
    CHECK_FAILS(rd_stream_open(ctx, write_file(tmp, "flip.rstream", whole, n), &s), RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(ctx), "header") != NULL);
    free(whole);
}

/* A residual frame claiming 2^31 - 1 Gaussians with valid checksums: refused by the
   decode limit before anything is allocated. */
static void test_absurd_counts(const char *path)
{
    size_t n;
    unsigned char *whole = file_bytes(path, &n);
    rd_stream *s;
    CHECK_OK(rd_stream_open(ctx, path, &s));
    rd_stream_frame_info fi;
    CHECK_OK(rd_stream_get_frame(s, 1, &fi));
    rd_stream_close(s);
    unsigned char *payload = whole + fi.offset + RD_STREAM_FRAME_HEADER;
    size_t bytes = (size_t)fi.bytes - RD_STREAM_FRAME_HEADER;
    uint64_t absurd = RD_STREAM_MAX_GAUSSIANS;
    for (int k = 0; k < 8; k++) payload[k] = (unsigned char)(absurd >> (8 * k)); /* count */
    payload[16] = 1;                                                               /* with a mapping */
    stream_frame_header h;
    CHECK(rd_stream_header_parse(whole + fi.offset, &h) == NULL);
    h.payload_hash = rd_stream_hash(payload, bytes), h.count = absurd;
    rd_bytes head = {0};
    rd_stream_header_write(&head, &h);
    memcpy(whole + fi.offset, head.data, RD_STREAM_FRAME_HEADER);
    rd_bytes_free(&head);
    /* the index still says the old count: cut it off, so that the scan takes the header's */
    const char *bad = write_file(tmp, "absurd.rstream", whole, (size_t)(fi.offset + fi.bytes));
    CHECK_OK(rd_stream_open(ctx, bad, &s));
    CHECK_FAILS(rd_stream_seek(s, 1), RD_ERROR_LIMIT);
    printf("  absurd count: %s\n", rd_last_error(ctx));
    rd_stream_close(s);
    free(whole);
}

/* Bad residuals are refused and the stream goes on as before; an unfinished writer
   leaves nothing. */
static void test_writer(void)
{
    const char *path = path_of("writer.rstream");
    random_scene_desc sd = {.count = 10, .sh_degree = 0, .depth_min = 2, .depth_max = 6, .spread = 0.5, .log_scale_min = -4, .log_scale_max = -2};
    rd_scene_desc first = random_scene(&rng, &sd);
    rd_stream_writer *w;
    CHECK_OK(rd_stream_writer_create(ctx, path, NULL, &w));
    CHECK_FAILS(rd_stream_write_residual(w, &(rd_stream_residual){.count = 10}), RD_ERROR_INVALID_ARGUMENT); /* no intra yet */
    CHECK_OK(rd_stream_write_intra(w, &first));
    int64_t bad_mapping[3] = {0, 10, 2}, moved[2] = {3, 3};
    int32_t steps[6] = {0};
    CHECK_FAILS(rd_stream_write_residual(w, &(rd_stream_residual){.count = 3, .mapping = bad_mapping}), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "mapping[1]") != NULL);
    CHECK_FAILS(rd_stream_write_residual(w, &(rd_stream_residual){.count = 9}), RD_ERROR_INVALID_ARGUMENT); /* count without mapping */
    CHECK_FAILS(rd_stream_write_residual(w, &(rd_stream_residual){.count = 10, .moved = 2, .moved_indices = moved, .moved_steps = steps}),
                RD_ERROR_INVALID_ARGUMENT);
    float nan_bias[3] = {NAN, 0, 0}, W[3] = {1, 1, 1};
    int32_t z[10] = {0};
    rd_stream_residual nan_frame = {.count = 10};
    nan_frame.attributes[RD_STREAM_SCALE] = (rd_stream_latents){1, RD_STREAM_LINEAR, z, W, 0, nan_bias};
    CHECK_FAILS(rd_stream_write_residual(w, &nan_frame), RD_ERROR_INVALID_ARGUMENT);
    CHECK_OK(rd_stream_write_residual(w, &(rd_stream_residual){.count = 10})); /* nothing changes */
    rd_scene_desc state = rd_stream_writer_state(w);
    CHECK(same_scene(&state, &first));
    rd_stream_writer_destroy(w); /* unfinished */
    FILE *left = fopen(path, "rb");
    CHECK(left == NULL);
    if (left) fclose(left);
    first.sh_degree = 1; /* not the stream's */
    CHECK_OK(rd_stream_writer_create(ctx, path, NULL, &w));
    CHECK_FAILS(rd_stream_write_intra(w, &first), RD_ERROR_INVALID_ARGUMENT);
    rd_stream_writer_destroy(w);
    first.sh_degree = 0;
    CHECK_FAILS(rd_stream_writer_create(ctx, path, &(rd_stream_desc){.config_json = "[1]"}, &w), RD_ERROR_INVALID_ARGUMENT);
    CHECK_FAILS(rd_stream_open(ctx, path_of("absent.rstream"), &(rd_stream *){0}), RD_ERROR_IO);
    random_scene_free(&first);
}

/* Encoding: a scene whose Gaussians partly move and change colour between two frames; the
   residual trained from the second frame's renders brings the decoded stream closer to
   them than the first frame is, moving few positions, in far fewer bytes than the intra
   frame; and a reader decodes exactly the writer's state. On the CPU (the per-Gaussian
   work on the host) and, where present, on CUDA (every step on the device). */
static double mse_of(rd_context *c, const rd_scene_desc *sd, const rd_camera *cams, int views, rd_image *targets)
{
    rd_scene *scene;
    if (rd_scene_create(c, sd, &scene) != RD_OK) return INFINITY;
    double sum = 0;
    size_t P = (size_t)cams[0].width * cams[0].height;
    float *rgba = malloc(P * 16);
    for (int v = 0; v < views; v++) {
        rd_render(c, scene, &cams[v], NULL, &(rd_framebuffer){.color = rgba});
        for (size_t p = 0; p < P; p++)
            for (int k = 0; k < 3; k++) sum += pow((double)rgba[p * 4 + k] - targets[v].pixels[p * 3 + k], 2);
    }
    free(rgba);
    rd_scene_destroy(scene);
    return sum / ((double)views * P * 3);
}

/* The static/dynamic split: given the previous frame's photos (scene a's renders), the
   encoder finds some Gaussians changing and not all, their gates start open, so more
   positions move than without the split, over twice as often among the Gaussians that did
   move as the rest (less than with the gates alone: at 64x48 the masked first steps'
   48x48 dilation covers the frame, so they fit the whole view with the static Gaussians
   hidden), and the frame fits as well. A previous view of the wrong size is refused. */
static void test_encode_split(rd_context *enc, const rd_scene_desc *a, const rd_train_view *views, int count, int64_t intra_bytes,
                              double mse_without, int64_t moved_without)
{
    rd_image *before = calloc((size_t)count, sizeof *before);
    rd_train_view *previous = calloc((size_t)count, sizeof *previous);
    rd_scene *scene = NULL;
    CHECK_OK(rd_scene_create(ctx, a, &scene));
    for (int v = 0; v < count; v++) {
        const rd_camera *cam = &views[v].camera;
        float *rgba = malloc((size_t)cam->width * cam->height * 16);
        rd_render(ctx, scene, cam, NULL, &(rd_framebuffer){.color = rgba});
        CHECK_OK(rd_image_alloc(cam->width, cam->height, 3, &before[v]));
        for (int p = 0; p < cam->width * cam->height; p++)
            for (int k = 0; k < 3; k++) before[v].pixels[p * 3 + k] = rgba[p * 4 + k];
        free(rgba);
        previous[v] = (rd_train_view){*cam, &before[v], 0};
    }
    rd_scene_destroy(scene);
    rd_stream_writer *w;
    CHECK_OK(rd_stream_writer_create(enc, path_of("split.rstream"), &(rd_stream_desc){.sh_degree = a->sh_degree}, &w));
    CHECK_OK(rd_stream_write_intra(w, a));
    rd_stream_encode_report report;
    rd_stream_encode_desc d = {.iterations = TEST_SANITIZED ? 80 : 240, .seed = 5, .previous_views = previous};
    CHECK_OK(rd_stream_encode_frame(w, views, count, &d, &report));
    rd_scene_desc decoded = rd_stream_writer_state(w);
    double after = mse_of(ctx, &decoded, &views[0].camera, 1, (rd_image *)views[0].image);
    int64_t moved = 0, moved_changed = 0; /* the changed Gaussians are the first fifth (test_encode) */
    for (int64_t i = 0; i < a->count; i++)
        if (memcmp(decoded.means + 3 * i, a->means + 3 * i, 12) != 0) moved++, moved_changed += i < a->count / 5;
    printf("  encode on %s with the static/dynamic split: %lld of %lld Gaussians changing, %lld moved (%lld of them among the changed fifth), %lld bytes, first view's MSE %.5f\n",
           rd_backend_name(rd_context_backend(enc)), (long long)report.dynamic, (long long)a->count, (long long)moved,
           (long long)moved_changed, (long long)report.bytes, after);
    CHECK(moved == report.moved && 5 * moved_changed > 2 * moved); /* over 40%: twice the fifth's share */
    CHECK(moved > moved_without); /* the changed Gaussians' gates start open */
    CHECK(report.dynamic > 0 && report.dynamic < a->count);
    CHECK(report.bytes < intra_bytes / 2);
    CHECK(after < 2.0 * mse_without + 1e-4);
    rd_image small;
    CHECK_OK(rd_image_alloc(8, 8, 3, &small));
    previous[count - 1].image = &small;
    CHECK_FAILS(rd_stream_encode_frame(w, views, count, &d, NULL), RD_ERROR_INVALID_ARGUMENT);
    rd_image_free(&small);
    rd_stream_writer_destroy(w);
    for (int v = 0; v < count; v++) rd_image_free(&before[v]);
    free(before), free(previous);
}

static void test_encode(rd_context *enc)
{
    enum { VIEWS = 6, N = 300 };
    random_scene_desc sd = {.count = N, .sh_degree = 1, .depth_min = 3, .depth_max = 5, .spread = 0.3, .log_scale_min = -3.2, .log_scale_max = -2.4};
    rd_scene_desc a = random_scene(&rng, &sd), b = random_scene(&rng, &sd);
    int C = (int)sh_floats(1);
    memcpy((float *)b.means, a.means, N * 12), memcpy((float *)b.log_scales, a.log_scales, N * 12);
    memcpy((float *)b.rotations, a.rotations, N * 16), memcpy((float *)b.opacities, a.opacities, N * 4), memcpy((float *)b.sh, a.sh, N * C * 4);
    for (int i = 0; i < N / 5; i++) { /* a fifth moves and turns redder */
        ((float *)b.means)[i * 3] += 0.04f;
        ((float *)b.sh)[i * C] += 0.6f;
    }
    rd_camera cams[VIEWS];
    rd_image targets[VIEWS];
    rd_train_view views[VIEWS];
    rd_scene *scene_b;
    CHECK_OK(rd_scene_create(ctx, &b, &scene_b));
    for (int v = 0; v < VIEWS; v++) {
        cams[v] = random_camera(&rng, 64, 48);
        float angle = 0.08f * (float)(v - VIEWS / 2); /* a small rig: each camera turned about y */
        cams[v].w2c[0] = cosf(angle), cams[v].w2c[2] = sinf(angle), cams[v].w2c[8] = -sinf(angle), cams[v].w2c[10] = cosf(angle);
        float *rgba = malloc(64 * 48 * 16);
        rd_render(ctx, scene_b, &cams[v], NULL, &(rd_framebuffer){.color = rgba});
        CHECK_OK(rd_image_alloc(64, 48, 3, &targets[v]));
        for (int p = 0; p < 64 * 48; p++)
            for (int k = 0; k < 3; k++) targets[v].pixels[p * 3 + k] = rgba[p * 4 + k];
        free(rgba);
        views[v] = (rd_train_view){cams[v], &targets[v], 0};
    }
    rd_scene_destroy(scene_b);
    const char *path = path_of("encoded.rstream");
    rd_stream_writer *w;
    CHECK_OK(rd_stream_writer_create(enc, path, &(rd_stream_desc){.sh_degree = 1}, &w));
    CHECK_OK(rd_stream_write_intra(w, &a));
    int64_t intra_bytes = rd_stream_writer_last_bytes(w);
    rd_stream_encode_report report;
    CHECK_OK(rd_stream_encode_frame(w, views, VIEWS, &(rd_stream_encode_desc){.iterations = TEST_SANITIZED ? 80 : 240, .seed = 5}, &report));
    rd_scene_desc decoded = rd_stream_writer_state(w);
    double before = mse_of(ctx, &a, cams, VIEWS, targets), after = mse_of(ctx, &decoded, cams, VIEWS, targets);
    printf("  encode on %s: MSE against the frame's views %.5f -> %.5f (loss %.4f -> %.4f), %lld of %d moved, %lld bytes against the intra's %lld, %.2f s\n",
           rd_backend_name(rd_context_backend(enc)), before, after, report.loss_first, report.loss_last, (long long)report.moved, N, (long long)report.bytes,
           (long long)intra_bytes, report.seconds);
    CHECK(after < 0.6 * before);
    CHECK(report.bytes < intra_bytes / 2);
    CHECK(report.moved < N);
    rd_scene_desc kept = decoded; /* copied: the writer's arrays go with it */
    float *copy = malloc((size_t)N * 4 * (3 + 3 + 4 + 1 + C));
    memcpy(copy, decoded.means, N * 12), kept.means = copy;
    memcpy(copy + N * 3, decoded.sh, N * C * 4), kept.sh = copy + N * 3;
    memcpy(copy + N * (3 + C), decoded.log_scales, N * 12), kept.log_scales = copy + N * (3 + C);
    memcpy(copy + N * (6 + C), decoded.rotations, N * 16), kept.rotations = copy + N * (6 + C);
    memcpy(copy + N * (10 + C), decoded.opacities, N * 4), kept.opacities = copy + N * (10 + C);
    CHECK_OK(rd_stream_writer_finish(w));
    rd_stream *s;
    if (CHECK_OK(rd_stream_open(ctx, path, &s))) {
        CHECK_OK(rd_stream_seek(s, 1));
        rd_scene_desc got = rd_stream_state(s);
        CHECK(same_scene(&got, &kept));
        rd_stream_close(s);
    }
    CHECK_FAILS(rd_stream_encode_frame(NULL, views, VIEWS, NULL, NULL), RD_ERROR_INVALID_ARGUMENT);
    test_encode_split(enc, &a, views, VIEWS, intra_bytes, after, report.moved);
    free(copy);
    for (int v = 0; v < VIEWS; v++) rd_image_free(&targets[v]);
    random_scene_free(&a), random_scene_free(&b);
}

/* The encoder's chain rule (stream_encode_step.h) against central differences of its
   decode: with L = sum(G . decoded) + lambda/n sum(1 - P(g = 0)) for random G, the chain's
   dx, d ln alpha, dW and db must be L's slopes (the gates' draws are fixed by seed and
   step, so the decode is a smooth function of them away from the clamps; dz is straight
   through by definition and has no difference to take). */
enum { FD_N = 6, FD_DEGREE = 1, FD_C = 12, FD_PER = 11 + FD_C };
typedef struct fd_step {
    stream_encode_step s;
    float parent[FD_N * FD_PER], decoded[FD_N * FD_PER], grads[FD_N * FD_PER];
    float z[RD_STREAM_ATTRIBUTES][FD_N * 4], W[RD_STREAM_ATTRIBUTES][16], b[RD_STREAM_ATTRIBUTES][4], basis[RD_STREAM_ATTRIBUTES][16];
    float gz[RD_STREAM_ATTRIBUTES][FD_N * 4], gW[RD_STREAM_ATTRIBUTES][16], gb[RD_STREAM_ATTRIBUTES][4];
    float x[FD_N * 3], log_alpha[FD_N], gx[FD_N * 3], galpha[FD_N], gate[FD_N], slope[FD_N];
} fd_step;

static void fd_arrays(float *block, const float **into)
{
    for (int k = 0; k < ENCODE_ARRAYS; k++) into[k] = block, block += FD_N * stream_encode_array_width(k, FD_C);
}

static double fd_loss(fd_step *f)
{
    memcpy(f->decoded, f->parent, sizeof f->decoded);
    rd_stream_encode_decode_cpu(&f->s);
    double sum = 0.0;
    for (int k = 0; k < FD_N * FD_PER; k++) sum += (double)f->grads[k] * f->decoded[k];
    for (int i = 0; i < FD_N; i++) {
        double p0 = 1.0 / (1.0 + exp(-((double)stream_encode_closed_logit() - f->log_alpha[i])));
        sum += f->s.lambda / FD_N * (1.0 - p0);
    }
    return sum;
}

/* The largest relative miss of the analytic slopes of n parameters against differences. */
static double fd_miss(fd_step *f, float *param, const float *analytic, int n, float h)
{
    double worst = 0.0;
    for (int k = 0; k < n; k++) {
        float keep = param[k];
        param[k] = keep + h;
        double up = fd_loss(f);
        param[k] = keep - h;
        double down = fd_loss(f);
        param[k] = keep;
        double numeric = (up - down) / (2.0 * h), miss = fabs(numeric - analytic[k]) / fmax(fabs(numeric), 1e-2);
        worst = fmax(worst, miss);
    }
    return worst;
}

static void test_encode_gradients(void)
{
    fd_step *f = calloc(1, sizeof *f);
    stream_encode_step *s = &f->s;
    s->count = FD_N, s->sh_floats = FD_C, s->seed = 77, s->step = 3, s->lambda = 0.05f;
    for (int k = 0; k < FD_N * FD_PER; k++)
        f->parent[k] = (float)(rng_uniform(&rng) * 2 - 1), f->grads[k] = (float)(rng_uniform(&rng) * 2 - 1);
    fd_arrays(f->parent, s->parent), fd_arrays(f->grads, s->grads);
    const float *decoded[ENCODE_ARRAYS];
    fd_arrays(f->decoded, decoded);
    for (int k = 0; k < ENCODE_ARRAYS; k++) s->decoded[k] = (float *)decoded[k];
    static const int dims[RD_STREAM_ATTRIBUTES] = {3, 0, 2, 4, 3};
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        stream_encode_latents *l = &s->latents[a];
        l->ld = dims[a], l->features = rd_stream_features((rd_stream_attribute)a, FD_DEGREE), l->cosine = a == RD_STREAM_OPACITY;
        l->z = f->z[a], l->W = f->W[a], l->b = f->b[a], l->basis = f->basis[a], l->gz = f->gz[a], l->gW = f->gW[a], l->gb = f->gb[a];
        for (int k = 0; k < l->ld * FD_N; k++) l->z[k] = (float)(int)(rng_uniform(&rng) * 7 - 3); /* whole latents */
        for (int k = 0; k < 16; k++) l->W[k] = (float)(rng_uniform(&rng) - 0.5);
        for (int k = 0; k < l->ld * l->features; k++)
            f->basis[a][k] = l->cosine ? (float)rd_stream_cosine_basis(k / l->features, k % l->features, l->features) : 1.0f;
        for (int k = 0; k < 4; k++) l->b[k] = (float)(rng_uniform(&rng) * 0.1);
    }
    for (int k = 0; k < FD_N * 3; k++) f->x[k] = f->parent[k] + (float)(rng_uniform(&rng) - 0.5);
    for (int i = 0; i < FD_N; i++) { /* gates away from their clamps: the logit against the draw's noise, plus a little */
        float u = stream_encode_uniform(s->seed, s->step, (uint64_t)i);
        f->log_alpha[i] = logf(1.0f - u) - logf(u) + (float)(rng_uniform(&rng) * 0.4 - 0.1);
    }
    s->x = f->x, s->log_alpha = f->log_alpha, s->gx = f->gx, s->galpha = f->galpha, s->gate = f->gate, s->gate_slope = f->slope;
    fd_loss(f);
    rd_stream_encode_chain_cpu(s);
    double worst = fmax(fd_miss(f, f->x, f->gx, FD_N * 3, 1e-3f), fd_miss(f, f->log_alpha, f->galpha, FD_N, 1e-3f));
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        stream_encode_latents *l = &s->latents[a];
        if (!l->ld) continue;
        worst = fmax(worst, fd_miss(f, l->W, l->gW, stream_encode_decoder_size(l), 1e-3f));
        worst = fmax(worst, fd_miss(f, l->b, l->gb, l->features, 1e-3f));
    }
    bool gated = true;
    for (int i = 0; i < FD_N; i++) gated &= f->slope[i] > 0.0f;
    printf("  encoder chain against central differences: worst relative miss %.2g (dx, d ln alpha, dW, db)\n", worst);
    CHECK(gated);
    CHECK(worst < 2e-2);
    free(f);
}

/* The split's loss mask on the CPU (the reference the harness checks CUDA against): one
   pixel over alpha 1/2 at (50, 50) in a 200x150 frame masks exactly x and y in [27, 74]
   (a 48x48 max-pool); outside, the render's colour is the photo's over the background and
   the gradient is zero; inside, both are untouched. */
static void test_encode_mask(void)
{
    enum { W = 200, H = 150 };
    float *render = calloc(4 * W * H, sizeof(float)), *photo = calloc(4 * W * H, sizeof(float)), *grad = calloc(4 * W * H, sizeof(float));
    float *rows = calloc(W * H, sizeof(float)), *mask = calloc(W * H, sizeof(float)), background[3] = {0.2f, 0.4f, 0.6f};
    for (int p = 0; p < W * H; p++)
        for (int c = 0; c < 4; c++) render[4 * p + c] = 0.3f, photo[4 * p + c] = c == 3 ? 0.5f : 0.8f, grad[4 * p + c] = 1.0f;
    render[4 * (50 * W + 50) + 3] = 0.9f;
    rd_stream_encode_mask_cpu(render, photo, background, W, H, rows, mask);
    rd_stream_encode_mask_grad_cpu(grad, mask, W * H);
    bool exact = true;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int p = y * W + x;
            bool inside = x >= 27 && x <= 74 && y >= 27 && y <= 74;
            exact &= mask[p] == (inside ? 1.0f : 0.0f);
            for (int c = 0; c < 3; c++) {
                exact &= render[4 * p + c] == (inside ? 0.3f : 0.8f * 0.5f + background[c] * 0.5f);
                exact &= grad[4 * p + c] == (inside ? 1.0f : 0.0f);
            }
        }
    printf("  encoder's loss mask: one opaque pixel masks its 48x48 box exactly: %s\n", exact ? "yes" : "no");
    CHECK(exact);
    free(render), free(photo), free(grad), free(rows), free(mask);
}

/* A byte changed inside a residual frame's latent sections, its checksums made to match
   again, so that the parsers see it: the GPU's decode (latents kept as stored) and the
   CPU's must agree, both refusing the frame or both giving the same state. */
static void test_gpu_damage(rd_context *gpu, const char *path)
{
    size_t n = 0;
    unsigned char *bytes = read_file(path, &n);
    rd_stream *s = NULL;
    rd_stream_frame_info fi;
    if (!CHECK(bytes) || !CHECK_OK(rd_stream_open(ctx, path, &s)) || !CHECK_OK(rd_stream_get_frame(s, 1, &fi))) {
        rd_stream_close(s), free(bytes);
        return;
    }
    rd_stream_close(s);
    const char *damaged = path_of("damaged_gpu.rstream");
    bool agree = true;
    int decoded = 0, refused = 0, by_checksum = 0;
    for (int t = 0; t < 24; t++) {
        unsigned char *copy = malloc(n);
        memcpy(copy, bytes, n);
        size_t payload = (size_t)fi.bytes - 56, at = (size_t)fi.offset + 56 + payload - 1 - (size_t)(rng_uniform(&rng) * (double)(payload / 3));
        copy[at] ^= (unsigned char)(1 + rng_uniform(&rng) * 255);
        uint64_t h = rd_stream_hash(copy + fi.offset + 56, payload);
        for (int b = 0; b < 8; b++) copy[fi.offset + 40 + b] = (unsigned char)(h >> (8 * b));
        h = rd_stream_hash(copy + fi.offset, 48);
        for (int b = 0; b < 8; b++) copy[fi.offset + 48 + b] = (unsigned char)(h >> (8 * b));
        FILE *f = fopen(damaged, "wb");
        if (f) fwrite(copy, 1, n, f), fclose(f);
        free(copy);
        rd_stream *cpu_s = NULL, *gpu_s = NULL;
        bool cpu_ok = rd_stream_open(ctx, damaged, &cpu_s) == RD_OK && rd_stream_seek(cpu_s, 1) == RD_OK;
        bool gpu_ok = rd_stream_open(gpu, damaged, &gpu_s) == RD_OK && rd_stream_seek(gpu_s, 1) == RD_OK;
        by_checksum += !cpu_ok && strstr(rd_last_error(ctx), "checksum") != NULL;
        decoded += cpu_ok && gpu_ok, refused += !cpu_ok && !gpu_ok;
        if (cpu_ok && gpu_ok) {
            rd_scene_desc a = rd_stream_state(cpu_s), b = rd_stream_state(gpu_s);
            agree &= same_scene(&a, &b);
        } else {
            agree &= cpu_ok == gpu_ok;
        }
        rd_stream_close(cpu_s), rd_stream_close(gpu_s);
    }
    CHECK(agree && by_checksum == 0); /* every change reached the parsers */
    printf("  damaged latents on %s: %d decoded alike, %d refused by both\n", rd_backend_name(rd_context_backend(gpu)), decoded, refused);
    free(bytes);
}

/* A stream decoded on each GPU present (residual frames in device memory) gives the
   writer's states bit for bit, frame by frame and by seeks, and its device scene renders
   as the host scene of the same state does. */
static void test_gpu_decode(void)
{
    static const rd_backend backends[] = {RD_BACKEND_VULKAN, RD_BACKEND_CUDA};
    for (size_t b = 0; b < sizeof backends / sizeof backends[0]; b++) {
        rd_context *gpu = NULL;
        if (rd_context_create(&(rd_context_desc){.backend = backends[b], .log = test_log}, &gpu) != RD_OK) {
            printf("stream: GPU decode on %s skipped: no such device here\n", rd_backend_name(backends[b]));
            continue;
        }
        stream_fixture_desc d = {.frames = 10, .gaussians = 300, .sh_degree = 3, .keyframe_every = 4};
        rd_scene_desc states[10];
        const char *path = path_of("gpu.rstream");
        rd_stream *s = NULL;
        if (CHECK_OK(stream_fixture_write(ctx, &rng, path, &d, states)) && CHECK_OK(rd_stream_open(gpu, path, &s))) {
            bool all = true;
            for (int k = 0; k < d.frames; k++) {
                all &= rd_stream_next(s) == RD_OK;
                rd_scene_desc got = rd_stream_state(s);
                all &= same_scene(&got, &states[k]);
            }
            for (int t = 0; t < 12; t++) {
                int k = (int)(rng_uniform(&rng) * d.frames);
                all &= rd_stream_seek(s, k) == RD_OK;
                rd_scene_desc got = rd_stream_state(s);
                all &= same_scene(&got, &states[k]);
            }
            CHECK(all);
            test_gpu_damage(gpu, path);
            const rd_scene *device_scene = NULL;
            rd_scene *host_scene = NULL;
            rd_scene_desc state = rd_stream_state(s);
            rd_camera cam = random_camera(&rng, 48, 40);
            size_t pixels = 48 * 40;
            float *a = calloc(4 * pixels, sizeof(float)), *c = calloc(4 * pixels, sizeof(float));
            if (CHECK_OK(rd_stream_scene(s, &device_scene)) && CHECK_OK(rd_scene_create(gpu, &state, &host_scene)) &&
                CHECK_OK(rd_render(gpu, device_scene, &cam, NULL, &(rd_framebuffer){.color = a})) &&
                CHECK_OK(rd_render(gpu, host_scene, &cam, NULL, &(rd_framebuffer){.color = c})))
                CHECK(memcmp(a, c, 4 * pixels * sizeof(float)) == 0);
            free(a), free(c);
            rd_scene_destroy(host_scene);
            printf("stream: decoded on %s, every frame as the writer's\n", rd_backend_name(backends[b]));
        }
        rd_stream_close(s);
        stream_fixture_free_states(states, d.frames);
        rd_context_destroy(gpu);
    }
}

typedef struct pipe_writer {
    const char *fifo, *from;
    size_t cut; /* bytes written before closing (SIZE_MAX: all) */
} pipe_writer;

static void *write_pipe(void *arg)
{
    const pipe_writer *w = arg;
    size_t n = 0;
    unsigned char *bytes = read_file(w->from, &n);
    FILE *f = fopen(w->fifo, "wb");
    if (f && bytes) fwrite(bytes, 1, n < w->cut ? n : w->cut, f);
    if (f) fclose(f);
    free(bytes);
    return NULL;
}

/* A stream read from a FIFO as a writer fills it: the first frame at open, each later one
   as a next reaches it, every state the writer's; cut short, it plays to its last whole
   frame and says where the damage starts. Only the last group of frames stays seekable. */
static void test_pipe(void)
{
    stream_fixture_desc d = {.frames = 9, .gaussians = 150, .sh_degree = 1, .keyframe_every = 4};
    rd_scene_desc states[9];
    const char *path = path_of("piped.rstream");
    if (!CHECK_OK(stream_fixture_write(ctx, &rng, path, &d, states))) return;
    char fifo[4200];
    snprintf(fifo, sizeof fifo, "%s", path_of("fifo.rstream"));
    size_t total = 0;
    free(read_file(path, &total));
    for (int round = 0; round < 2; round++) {
        unlink(fifo);
        if (!CHECK(mkfifo(fifo, 0600) == 0)) break;
        pipe_writer w = {fifo, path, round == 0 ? SIZE_MAX : total * 2 / 3};
        pthread_t thread;
        if (!CHECK(pthread_create(&thread, NULL, write_pipe, &w) == 0)) break;
        rd_stream *s = NULL;
        if (CHECK_OK(rd_stream_open(ctx, fifo, &s))) {
            rd_stream_info info;
            rd_stream_get_info(s, &info);
            CHECK(info.frames >= 1 && !info.indexed);
            int played = 0;
            bool same = true;
            while (rd_stream_next(s) == RD_OK) {
                rd_scene_desc got = rd_stream_state(s);
                same &= same_scene(&got, &states[played++]);
            }
            rd_stream_get_info(s, &info);
            CHECK(same && !info.piped);
            if (round == 0) CHECK(played == d.frames && info.damaged_at == -1);
            else CHECK(played > 0 && played < d.frames && info.damaged_at > 0);
            /* a seek back within the last group of frames (intra frames every 4) decodes from the
               bytes kept; one before it is refused: those bytes were let go */
            int group = (played - 1) / 4 * 4;
            CHECK_OK(rd_stream_seek(s, group));
            rd_scene_desc got = rd_stream_state(s);
            CHECK(same_scene(&got, &states[group]));
            if (group > 0) CHECK_FAILS(rd_stream_seek(s, group - 1), RD_ERROR_UNSUPPORTED);
            printf("  pipe%s: %d frames played as they arrived\n", round ? " cut short" : "", played);
        }
        rd_stream_close(s);
        pthread_join(thread, NULL);
    }
    unlink(fifo);
    stream_fixture_free_states(states, d.frames);
}

int main(void)
{
    rng.state = test_seed("stream");
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx) != RD_OK) return 1;
    tmp = test_temp_dir("stream");
    test_round_trip();
    test_formula();
    stream_fixture_desc d = {.frames = 9, .gaussians = 120, .sh_degree = 2, .keyframe_every = 4};
    rd_scene_desc states[9];
    const char *path = path_of("damage.rstream");
    if (CHECK_OK(stream_fixture_write(ctx, &rng, path, &d, states))) {
        test_truncation(states, path, d.frames);
        test_bit_flips(states, path, d.frames);
        test_absurd_counts(path);
        stream_fixture_free_states(states, d.frames);
    }
    test_writer();
    test_pipe();
    test_gpu_decode();
    test_encode(ctx);
    test_encode_gradients();
    test_encode_mask();
    rd_context *cuda = NULL;
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA, .log = test_log}, &cuda) == RD_OK) test_encode(cuda);
    else printf("stream: encode on cuda skipped: no such device here\n");
    rd_context_destroy(cuda);
    rd_context_destroy(ctx);
    return test_finish("stream");
}
