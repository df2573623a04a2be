/* compact_test.c: what the compact file's tests share (compact_test.h). */
#include "compact_test.h"
#include "../compress/bytes.h"
#include "../splat/appearance4d_cpu.h"
#include "../splat/scene4d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

rd_context *ctx;
const char *tmp;
test_rng rng;

/* Half-float rounding of v: at most 2^-11 of it (and 2^-24 near zero). */
bool near_half(double got, double want) { return fabs(got - want) <= fabs(want) * 4.9e-4 + 6e-8; }

/* Real scenes' colour beyond DC is small beside it (trained scenes: a tenth or less):
   the rest scaled by 0.15, so that a codebook of it is judged on data of that kind. */
void damp_rest(rd_scene *s)
{
    rd_compact_arrays a;
    if (!rd_compact_arrays_of(s, &a)) return;
    int c = rd_compact_sh_floats(&a);
    for (int64_t i = 0; i < a.count; i++)
        for (int k = 3; k < c; k++) a.sh[i * c + k] *= 0.15f;
}


int64_t count_of(const rd_scene *s)
{
    rd_compact_arrays a;
    return rd_compact_arrays_of(s, &a) ? a.count : -1;
}

rd_scene *random_3d(int n, int degree, bool degenerate)
{
    rd_scene_desc d = random_scene(&rng, &(random_scene_desc){.count = n, .sh_degree = degree, .degenerate = degenerate, .depth_min = 2,
                                                                 .depth_max = 8, .spread = 0.5, .log_scale_min = -4,
                                                                 .log_scale_max = -1.5});
    rd_scene *s = NULL;
    CHECK_OK(rd_scene_create(ctx, &d, &s));
    random_scene_free(&d);
    return s;
}

rd_scene *random_4d(int n, int sh_degree, int time_degree)
{
    return random_scene4d(ctx, &rng, n, sh_degree, time_degree, 2.0f);
}



/* scene rendered from cam at time into out (RGBA, allocated here). */
void render_image(const rd_scene *scene, const rd_camera *cam, float time, rd_image *out)
{
    CHECK_OK(rd_image_alloc(cam->width, cam->height, 4, out));
    CHECK_OK(rd_render(ctx, scene, cam, &(rd_render_desc){.time = time}, &(rd_framebuffer){.color = out->pixels}));
}

/* scene's render from cam at time against truth (rd_image_compare's PSNR). */
double psnr_of(const rd_scene *scene, const rd_camera *cam, float time, const rd_image *truth)
{
    rd_image x;
    render_image(scene, cam, time, &x);
    rd_metrics m = {0};
    CHECK_OK(rd_image_compare(ctx, &x, truth, &m));
    rd_image_free(&x);
    return isfinite(m.psnr) ? m.psnr : 100.0;
}

/* The PSNR between a's and b's renders from cam (NULL: at the origin looking down +z, 96x72). */
double render_psnr_from(const rd_scene *a, const rd_scene *b, float time, const rd_camera *from)
{
    rd_camera cam = from ? *from : rd_camera_look_at((float[]){0, 0, 0}, (float[]){0, 0, 1}, (float[]){0, -1, 0}, 96, 72, 50.0f);
    rd_image truth;
    render_image(a, &cam, time, &truth);
    double psnr = psnr_of(b, &cam, time, &truth);
    rd_image_free(&truth);
    return psnr;
}

double render_psnr(const rd_scene *a, const rd_scene *b, float time) { return render_psnr_from(a, b, time, NULL); }

rd_scene *round_trip(const rd_scene *s, const char *name, const rd_compact_desc *desc, rd_compact_report *report)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmp, name);
    rd_compact_report local;
    if (!CHECK_OK(rd_scene_compact(ctx, s, path, desc, report ? report : &local))) {
        fprintf(stderr, "  %s\n", rd_last_error(ctx));
        return NULL;
    }
    rd_scene *back = NULL;
    if (!CHECK_OK(rd_scene_load(ctx, path, &back))) fprintf(stderr, "  %s\n", rd_last_error(ctx));
    return back;
}

/* Renders of scene from n cameras about it, as photos. */
/* n photos of scene, at time 0, or (over_time) spread over 0..1. */
rd_train_view *photos_of(const rd_scene *scene, int n, int width, int height, bool over_time)
{
    rd_train_view *views = calloc((size_t)n, sizeof *views);
    for (int v = 0; v < n; v++) {
        float eye[3] = {(float)rng_range(&rng, -0.6, 0.6), (float)rng_range(&rng, -0.6, 0.6), 0.0f};
        views[v].camera = rd_camera_look_at(eye, (float[]){0, 0, 5}, (float[]){0, -1, 0}, width, height, 60.0f);
        views[v].time = over_time ? ((float)v + 0.5f) / (float)n : 0.0f;
        rd_image *photo = calloc(1, sizeof *photo);
        render_image(scene, &views[v].camera, views[v].time, photo);
        for (int p = 0; p < width * height; p++) photo->pixels[4 * p + 3] = 1.0f; /* opaque: the render on black as it is */
        views[v].image = photo;
    }
    return views;
}

void photos_free(rd_train_view *views, int n)
{
    for (int v = 0; v < n; v++) {
        rd_image_free((rd_image *)views[v].image);
        free((rd_image *)views[v].image);
    }
    free(views);
}

/* The mean PSNR of scene's renders against the photos. */
double psnr_against(const rd_scene *scene, const rd_train_view *views, int n)
{
    double sum = 0;
    for (int v = 0; v < n; v++) sum += psnr_of(scene, &views[v].camera, views[v].time, views[v].image);
    return sum / n;
}

/* The file desc writes without fine-tuning, then with `steps` of it (name.rcompact and
   name_untuned.rcompact): the tuned one renders desc's photos at least 0.3 dB closer. */
void check_tuning_gains(const rd_scene *s, const rd_compact_desc *desc, int steps, const char *name, const char *what)
{
    char untuned_name[256], tuned_name[256];
    snprintf(untuned_name, sizeof untuned_name, "%s_untuned.rcompact", name);
    snprintf(tuned_name, sizeof tuned_name, "%s.rcompact", name);
    rd_compact_desc d = *desc;
    d.finetune_steps = 0;
    rd_scene *plain = round_trip(s, untuned_name, &d, NULL);
    d.finetune_steps = steps;
    rd_scene *tuned = round_trip(s, tuned_name, &d, NULL);
    if (plain && tuned) {
        double before = psnr_against(plain, d.views, d.view_count), after = psnr_against(tuned, d.views, d.view_count);
        printf("%s %d steps: %.2f -> %.2f dB against the photos\n", what, steps, before, after);
        CHECK(after > before + 0.3);
    }
    rd_scene_destroy(plain), rd_scene_destroy(tuned);
}


/* path's file with its configuration's text `from` replaced by `to` and, where tail is not
   0, its last part's `tail` bytes by new_tail's new_tail_bytes; the checksum made right. */
const char *rebuilt(const char *path, const char *name, const char *from, const char *to, size_t tail,
                           const unsigned char *new_tail, size_t new_tail_bytes)
{
    size_t size;
    unsigned char *data = read_file(path, &size);
    if (!data) return NULL;
    uint32_t j = rd_le32(data + 12);
    char *json = malloc(j + 1);
    memcpy(json, data + 16, j), json[j] = 0;
    char *at = strstr(json, from);
    CHECK(at != NULL);
    size_t out_j = j - strlen(from) + strlen(to), body = size - 16 - j - 8 - tail;
    size_t out_size = 16 + out_j + body + (tail ? new_tail_bytes : 0) + 8;
    unsigned char *out = malloc(out_size);
    memcpy(out, data, 16);
    out[12] = out_j & 0xff, out[13] = out_j >> 8 & 0xff, out[14] = out_j >> 16 & 0xff, out[15] = (unsigned char)(out_j >> 24);
    size_t pre = at ? (size_t)(at - json) : 0;
    memcpy(out + 16, json, pre);
    memcpy(out + 16 + pre, to, strlen(to));
    if (at) memcpy(out + 16 + pre + strlen(to), at + strlen(from), j - pre - strlen(from));
    memcpy(out + 16 + out_j, data + 16 + j, body);
    if (tail) memcpy(out + 16 + out_j + body, new_tail, new_tail_bytes);
    uint64_t sum = test_fnv1a(out, out_size - 8);
    for (int k = 0; k < 8; k++) out[out_size - 8 + k] = (unsigned char)(sum >> (8 * k));
    const char *p = write_file(tmp, name, out, out_size);
    free(data), free(json), free(out);
    return p;
}

const char *edited(const char *path, const char *name, const char *from, const char *to)
{
    return rebuilt(path, name, from, to, 0, NULL, 0);
}

const char *with_last_part(const char *path, const char *name, const char *part, long long at, const unsigned char *values, size_t n)
{
    size_t size;
    unsigned char *data = read_file(path, &size);
    if (!data) return NULL;
    char key[64];
    snprintf(key, sizeof key, "{\"name\":\"%s\",\"bytes\":", part);
    const char *found = strstr((const char *)data + 16, key), *p = NULL;
    if (CHECK(found != NULL)) {
        char *end, from[96], to[96];
        size_t bytes = strtoull(found + strlen(key), &end, 10), raw_bytes = strtoull(strstr(end, ":") + 1, NULL, 10);
        size_t first = at < 0 ? raw_bytes - (size_t)-at : (size_t)at;
        unsigned char *raw = malloc(raw_bytes), *packed = malloc(ZSTD_compressBound(raw_bytes));
        if (CHECK(ZSTD_decompress(raw, raw_bytes, data + size - 8 - bytes, bytes) == raw_bytes && first + n <= raw_bytes)) {
            memcpy(raw + first, values, n);
            size_t packed_bytes = ZSTD_compress(packed, ZSTD_compressBound(raw_bytes), raw, raw_bytes, 3);
            snprintf(from, sizeof from, "%s%zu,", key, bytes);
            snprintf(to, sizeof to, "%s%zu,", key, packed_bytes);
            p = rebuilt(path, name, from, to, bytes, packed, packed_bytes);
        }
        free(raw), free(packed);
    }
    free(data);
    return p;
}

void expect_error(const char *path, rd_result code, const char *a, const char *b)
{
    rd_scene *s = NULL;
    if (!path) return;
    if (!CHECK_FAILS(rd_scene_load(ctx, path, &s), code)) {
        rd_scene_destroy(s);
        return;
    }
    const char *e = rd_last_error(ctx);
    if (!CHECK(strstr(e, rd_path_tail(path)) && strstr(e, a) && (!b || strstr(e, b))))
        fprintf(stderr, "  %s: unexpected message: %s\n", path, e);
}
