/* test_sog.c: PlayCanvas SOG. Round trips at SH degrees 0-3, bundled (.sog) and unbundled
   (DIR/meta.json), each attribute within what the format's quantization states: means
   within half a 16-bit step of sign(v) ln(|v| + 1), log scales and DC coefficients the
   codebook entry nearest the value (the codebook from meta.json), opacity within half a
   byte of sigmoid, rotations within half a byte a component, SH beyond DC exact where the
   palette has room for every distinct vector and codebook entries for every value; the
   fixtures splat-transform 3.7.0 wrote (tests/fixtures/sog) read as splat-transform itself
   decodes them; a version 1 SOG constructed here, byte by byte as splat-transform's
   read-sog-v1.ts reads one (no genuine v1 file was at hand: this checks radiant against
   that reading of the layout, not against a v1 writer); broken inputs (missing and wrong
   meta.json fields, wrong image sizes, bytes out of range, a truncated zip, a bad
   version) each fail with the file, the field and the problem named. With the shared data,
   biker's read time is printed (not checked). */
#include "test_util.h"
#include "../compress/formats.h"
#include "../compress/sog.h"
#include "../splat/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static rd_context *ctx;
static const char *tmp;
static char fixtures[1024];

static float *mut(const float *p) { return (float *)p; }

static float quat_misalignment(const float *a, const float *b)
{
    double na = 0, nb = 0, dot = 0;
    for (int i = 0; i < 4; i++) na += a[i] * a[i], nb += b[i] * b[i], dot += a[i] * b[i];
    return (float)(1.0 - fabs(dot) / sqrt(na * nb));
}

/* The 256 numbers after "KEY":{"codebook":[ in meta.json text (radiant's writer's form). */
static bool codebook_of(const char *meta, const char *key, float cb[256])
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\":{\"codebook\":[", key);
    const char *p = strstr(meta, pattern);
    if (!p) return false;
    p += strlen(pattern);
    for (int i = 0; i < 256; i++) {
        char *end;
        cb[i] = strtof(p, &end);
        if (end == p) return false;
        p = end + 1;
    }
    return true;
}

/* b is an entry of cb and no entry is nearer a */
static bool nearest_entry(const float cb[256], float a, float b)
{
    bool member = false;
    for (int i = 0; i < 256; i++) member |= cb[i] == b;
    for (int i = 0; i < 256; i++)
        if (fabsf(cb[i] - a) < fabsf(b - a)) return false;
    return member;
}

static char *path_in(const char *dir, const char *name)
{
    static char path[2][1200];
    static int turn;
    char base[1200]; /* dir may be the other turn's path */
    snprintf(base, sizeof base, "%s", dir);
    turn ^= 1;
    snprintf(path[turn], sizeof path[turn], "%s/%s", base, name);
    return path[turn];
}

/* A scene whose SH beyond DC takes `distinct` vectors (0: every Gaussian its own random
   one), each value from a grid of 97, so that the palette and its codebook can be exact. */
static rd_scene_desc make_scene(test_rng *r, int n, int degree, int distinct)
{
    random_scene_desc sd = {.count = n, .sh_degree = degree, .depth_min = 1, .depth_max = 30, .spread = 1,
                            .log_scale_min = -8, .log_scale_max = 1};
    rd_scene_desc a = random_scene(r, &sd);
    int K = rd_sh_coeffs(degree);
    float vectors[16][45];
    for (int v = 0; v < 16; v++)
        for (int j = 0; j < 45; j++) vectors[v][j] = (float)((int)rng_range(r, 0, 97) - 48) / 50.0f;
    for (int i = 0; i < n; i++) {
        mut(a.opacities)[i] = fminf(fmaxf(a.opacities[i], -9.0f), 9.0f);
        mut(a.means)[3 * i] -= 3.0f; /* negative and positive coordinates both */
        const float *v = vectors[(int)rng_range(r, 0, distinct ? distinct : 16)];
        for (int j = 0; j < 3 * (K - 1); j++) mut(a.sh)[(size_t)i * K * 3 + 3 + j] = distinct ? v[j] : (float)rng_range(r, -0.9, 0.9);
    }
    a.flags = RD_SCENE_ANTIALIASED;
    return a;
}

/* b (read back, in the writer's Morton order) against a, within the stated steps */
static void check_round_trip(const char *what, const rd_scene_desc *a, const rd_scene *written, const rd_scene *back, const char *meta,
                             bool sh_exact)
{
    rd_scene_desc b = rd_scene_arrays(back);
    if (!CHECK(b.count == a->count && b.sh_degree == a->sh_degree && b.flags == RD_SCENE_ANTIALIASED)) return;
    int64_t n = a->count, *order = malloc((size_t)n * sizeof *order);
    rd_morton_order(written, order);
    double lo[3] = {INFINITY, INFINITY, INFINITY}, hi[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) {
            double v = a->means[3 * i + c], l = (v < 0 ? -1 : 1) * log(fabs(v) + 1);
            lo[c] = fmin(lo[c], l), hi[c] = fmax(hi[c], l);
        }
    float scales_cb[256], dc_cb[256];
    bool books = codebook_of(meta, "scales", scales_cb) && codebook_of(meta, "sh0", dc_cb);
    CHECK(books);
    int K = rd_sh_coeffs(a->sh_degree);
    int bad_mean = 0, bad_scale = 0, bad_dc = 0, bad_alpha = 0, bad_rot = 0, bad_sh = 0;
    double sh_error = 0, sh_energy = 0;
    for (int64_t j = 0; j < n; j++) {
        int64_t i = order[j];
        for (int c = 0; c < 3; c++) {
            double x = a->means[3 * i + c], step = (hi[c] - lo[c]) / 65535.0;
            bad_mean += fabs(b.means[3 * j + c] - x) > 0.5 * step * (fabs(x) + 1.0) * 1.001 + 1e-6 * fabs(x);
            bad_scale += books && !nearest_entry(scales_cb, a->log_scales[3 * i + c], b.log_scales[3 * j + c]);
            bad_dc += books && !nearest_entry(dc_cb, a->sh[(size_t)i * K * 3 + c], b.sh[(size_t)j * K * 3 + c]);
        }
        bad_alpha += fabsf(rd_sigmoid(b.opacities[j]) - rd_sigmoid(a->opacities[i])) > 0.5f / 255.0f + 1e-5f;
        bad_rot += quat_misalignment(a->rotations + 4 * i, b.rotations + 4 * j) > 5e-5f;
        for (int k = 3; k < 3 * K; k++) {
            float x = a->sh[(size_t)i * K * 3 + k], y = b.sh[(size_t)j * K * 3 + k];
            bad_sh += sh_exact && x != y;
            sh_error += (double)(x - y) * (x - y), sh_energy += (double)x * x;
        }
    }
    double sh_rms = sh_energy > 0 ? sqrt(sh_error / sh_energy) : 0;
    printf("%s: %lld Gaussians, degree %d: outside the steps: means %d, log scales %d, DC %d, opacity %d, rotations %d, SH %d; "
           "SH error %.3g of its RMS\n", what, (long long)n, a->sh_degree, bad_mean, bad_scale, bad_dc, bad_alpha, bad_rot, bad_sh,
           sh_rms);
    CHECK(bad_mean == 0 && bad_scale == 0 && bad_dc == 0 && bad_alpha == 0 && bad_rot == 0 && bad_sh == 0);
    CHECK(sh_rms < (sh_exact ? 1e-9 : 0.6)); /* random SH: a palette of fewer entries than Gaussians */
    free(order);
}

static bool same_gaussians(const rd_scene *x, const rd_scene *y)
{
    rd_scene_desc a = rd_scene_arrays(x), b = rd_scene_arrays(y);
    if (a.count != b.count || a.sh_degree != b.sh_degree) return false;
    int K = rd_sh_coeffs(a.sh_degree);
    return !memcmp(a.means, b.means, 3 * a.count * sizeof(float)) && !memcmp(a.log_scales, b.log_scales, 3 * a.count * sizeof(float)) &&
           !memcmp(a.rotations, b.rotations, 4 * a.count * sizeof(float)) && !memcmp(a.opacities, b.opacities, a.count * sizeof(float)) &&
           !memcmp(a.sh, b.sh, (size_t)a.count * K * 3 * sizeof(float));
}

static void test_round_trips(test_rng *r)
{
    for (int degree = 0; degree <= 3; degree++)
        for (int exact = 0; exact <= 1; exact++) {
            if (exact && degree == 0) continue;
            int n = TEST_SANITIZED ? 700 : 3000;
            rd_scene_desc a = make_scene(r, n, degree, exact ? 12 : 0);
            rd_scene *s = NULL, *folder = NULL, *bundle = NULL;
            CHECK_OK(rd_scene_create(ctx, &a, &s));
            char dir[64], what[96];
            snprintf(dir, sizeof dir, "sh%d_%d", degree, exact);
            mkdir(path_in(tmp, dir), 0755);
            const char *meta_path = path_in(path_in(tmp, dir), "meta.json");
            char meta_copy[1200], sog_path[1200];
            snprintf(meta_copy, sizeof meta_copy, "%s", meta_path);
            snprintf(sog_path, sizeof sog_path, "%s/%s.sog", tmp, dir);
            if (!CHECK_OK(rd_scene_save(ctx, s, meta_copy, NULL)) || !CHECK_OK(rd_scene_save(ctx, s, sog_path, NULL)))
                fprintf(stderr, "  %s\n", rd_last_error(ctx));
            size_t size = 0;
            char *meta = (char *)read_file(meta_copy, &size);
            if (CHECK(meta) && CHECK_OK(rd_scene_load(ctx, meta_copy, &folder))) {
                snprintf(what, sizeof what, "unbundled, %s SH", exact ? "12 distinct" : "random");
                check_round_trip(what, &a, s, folder, meta, exact);
                /* the bundle holds the same images: the same Gaussians; so does the folder by its name */
                CHECK(CHECK_OK(rd_scene_load(ctx, sog_path, &bundle)) && same_gaussians(folder, bundle));
                rd_scene_destroy(bundle);
                CHECK(CHECK_OK(rd_scene_load(ctx, path_in(tmp, dir), &bundle)) && same_gaussians(folder, bundle));
                rd_scene_info info;
                rd_scene_get_info(bundle, &info);
                CHECK(strcmp(info.format, "sog") == 0);
                rd_scene_destroy(bundle);
            } else {
                fprintf(stderr, "  %s\n", rd_last_error(ctx));
            }
            /* written twice, the same bytes (a fixed zip time stamp, a deterministic quantizer) */
            if (degree == 1) {
                size_t s1 = 0, s2 = 0;
                unsigned char *b1 = read_file(sog_path, &s1), *b2 = NULL;
                CHECK_OK(rd_scene_save(ctx, s, sog_path, NULL));
                b2 = read_file(sog_path, &s2);
                CHECK(b1 && b2 && s1 == s2 && !memcmp(b1, b2, s1));
                free(b1);
                free(b2);
            }
            free(meta);
            rd_scene_destroy(folder);
            rd_scene_destroy(s);
            random_scene_free(&a);
        }
    /* SH degree options and a scene of one Gaussian */
    rd_scene_desc a = make_scene(r, 1, 2, 1);
    rd_scene *s = NULL, *back = NULL;
    CHECK_OK(rd_scene_create(ctx, &a, &s));
    CHECK_OK(rd_scene_save(ctx, s, path_in(tmp, "one.sog"), &(rd_scene_save_desc){.sh_degree = RD_SH_DEGREE(1)}));
    if (CHECK_OK(rd_scene_load(ctx, path_in(tmp, "one.sog"), &back))) {
        rd_scene_desc b = rd_scene_arrays(back);
        CHECK(b.count == 1 && b.sh_degree == 1 && b.sh[3] == a.sh[3] && fabsf(b.means[0] - a.means[0]) < 1e-6f);
    }
    rd_scene_destroy(back);
    rd_scene_destroy(s);
    random_scene_free(&a);
}

/* ---- splat-transform's fixtures ---- */

static void test_fixtures(void)
{
    static const char *pairs[][2] = {{"splat_transform_sh3.sog", "splat_transform_sh3.decoded.ply"},
                                     {"unbundled_sh1/meta.json", "unbundled_sh1.decoded.ply"},
                                     {"unbundled_sh1", "unbundled_sh1.decoded.ply"}};
    for (int k = 0; k < 3; k++) {
        rd_scene *sog = NULL, *ply = NULL;
        if (CHECK_OK(rd_scene_load(ctx, path_in(fixtures, pairs[k][0]), &sog)) &&
            CHECK_OK(rd_scene_load(ctx, path_in(fixtures, pairs[k][1]), &ply))) {
            bool same = same_gaussians(sog, ply);
            printf("%s: %lld Gaussians, %s splat-transform's decode\n", pairs[k][0], (long long)rd_scene_arrays(sog).count,
                   same ? "identical to" : "NOT identical to");
            CHECK(same);
        } else {
            fprintf(stderr, "  %s\n", rd_last_error(ctx));
        }
        rd_scene_destroy(sog);
        rd_scene_destroy(ply);
    }
}

/* ---- a version 1 SOG, constructed ---- */

static void put_image(const char *dir, const char *name, int w, int h, const unsigned char *rgba)
{
    rd_sog_image img = {w, h, (unsigned char *)rgba};
    rd_bytes out = {0};
    CHECK(rd_sog_webp_encode(&img, &out));
    write_file(dir, name, out.data, out.size);
    rd_bytes_free(&out);
}

static void test_version1(void)
{
    const char *dir = path_in(tmp, "v1");
    mkdir(dir, 0755);
    char d[1200];
    snprintf(d, sizeof d, "%s", dir);
    enum { N = 5, W = 4, H = 2 };
    unsigned char lo[W * H * 4] = {0}, hi[W * H * 4] = {0}, quats[W * H * 4] = {0}, scales[W * H * 4] = {0}, sh0[W * H * 4] = {0};
    unsigned char labels[W * H * 4] = {0}, centroids[192 * 1 * 4] = {0};
    for (int i = 0; i < N; i++) {
        for (int c = 0; c < 3; c++) {
            unsigned v = (unsigned)(i * 13000 + c * 7);
            lo[4 * i + c] = v & 0xff, hi[4 * i + c] = v >> 8;
            scales[4 * i + c] = (unsigned char)(i * 50 + c);
            sh0[4 * i + c] = (unsigned char)(255 - i * 40 - c);
        }
        sh0[4 * i + 3] = (unsigned char)(i * 60);
        quats[4 * i] = 128, quats[4 * i + 1] = 100, quats[4 * i + 2] = 200, quats[4 * i + 3] = (unsigned char)(252 + i % 4);
        labels[4 * i] = (unsigned char)(i % 2);
    }
    for (int p = 0; p < 2; p++)
        for (int j = 0; j < 3; j++)
            for (int c = 0; c < 3; c++) centroids[4 * (p * 3 + j) + c] = (unsigned char)(p * 100 + j * 30 + c * 5);
    put_image(d, "means_l.webp", W, H, lo);
    put_image(d, "means_u.webp", W, H, hi);
    put_image(d, "quats.webp", W, H, quats);
    put_image(d, "scales.webp", W, H, scales);
    put_image(d, "sh0.webp", W, H, sh0);
    put_image(d, "shN_labels.webp", W, H, labels);
    put_image(d, "shN_centroids.webp", 192, 1, centroids);
    const char *meta =
        "{\"means\":{\"shape\":[5,3],\"dtype\":\"float32\",\"mins\":[-1,-2,0.5],\"maxs\":[2,1,3],\"files\":[\"means_l.webp\",\"means_u.webp\"]},"
        "\"scales\":{\"shape\":[5,3],\"dtype\":\"float32\",\"mins\":[-6,-5,-4],\"maxs\":[0,1,2],\"files\":[\"scales.webp\"]},"
        "\"quats\":{\"shape\":[5,4],\"dtype\":\"uint8\",\"encoding\":\"quaternion_packed\",\"files\":[\"quats.webp\"]},"
        "\"sh0\":{\"shape\":[5,1,4],\"dtype\":\"float32\",\"mins\":[-2,-1,0,-5],\"maxs\":[2,3,1,5],\"files\":[\"sh0.webp\"]},"
        "\"shN\":{\"shape\":[5,15],\"dtype\":\"float32\",\"mins\":-0.5,\"maxs\":0.75,\"quantization\":8,"
        "\"files\":[\"shN_centroids.webp\",\"shN_labels.webp\"]}}";
    write_file(d, "meta.json", meta, strlen(meta));
    rd_scene *s = NULL;
    if (!CHECK_OK(rd_scene_load(ctx, d, &s))) {
        fprintf(stderr, "  %s\n", rd_last_error(ctx));
        return;
    }
    rd_scene_desc b = rd_scene_arrays(s);
    CHECK(b.count == N && b.sh_degree == 1);
    const double mins[3] = {-1, -2, 0.5}, maxs[3] = {2, 1, 3}, smin[3] = {-6, -5, -4}, smax[3] = {0, 1, 2};
    const double cmin[4] = {-2, -1, 0, -5}, cmax[4] = {2, 3, 1, 5};
    int bad = 0;
    for (int i = 0; i < N && b.count == N; i++) {
        for (int c = 0; c < 3; c++) {
            double t = mins[c] + (maxs[c] - mins[c]) * ((i * 13000 + c * 7) / 65535.0);
            bad += b.means[3 * i + c] != (float)((t < 0 ? -1 : 1) * (exp(fabs(t)) - 1));
            bad += b.log_scales[3 * i + c] != (float)(smin[c] + (smax[c] - smin[c]) * ((i * 50 + c) / 255.0));
            bad += b.sh[12 * i + c] != (float)(cmin[c] + (cmax[c] - cmin[c]) * ((255 - i * 40 - c) / 255.0));
            for (int j = 0; j < 3; j++) /* coefficient j + 1, channel c, of palette entry i % 2 */
                bad += b.sh[12 * i + 3 * (j + 1) + c] != (float)(-0.5 + 1.25 * (((i % 2) * 100 + j * 30 + c * 5) / 255.0));
        }
        bad += b.opacities[i] != (float)(cmin[3] + (cmax[3] - cmin[3]) * ((i * 60) / 255.0)); /* v1 stores the logit */
        double a = (128 / 255.0 * 2 - 1) / sqrt(2.0), bb = (100 / 255.0 * 2 - 1) / sqrt(2.0), cc = (200 / 255.0 * 2 - 1) / sqrt(2.0);
        double q[4], big = sqrt(1 - (a * a + bb * bb + cc * cc));
        int m = i % 4, slot = 0;
        const double small[3] = {a, bb, cc};
        for (int k = 0; k < 4; k++) q[k] = k == m ? big : small[slot++];
        for (int k = 0; k < 4; k++) bad += b.rotations[4 * i + k] != (float)q[k];
    }
    printf("constructed version 1 SOG: %d values differ from read-sog-v1.ts's reading\n", bad);
    CHECK(bad == 0);
    rd_scene_destroy(s);
}

/* ---- broken inputs ---- */

static void expect(rd_result got, rd_result code, const char *f1, const char *f2, const char *f3, int line)
{
    char what[64];
    snprintf(what, sizeof what, "line %d", line);
    check_result_at(got, code, what, __FILE__, line);
    const char *msg = rd_last_error(ctx);
    bool ok = (!f1 || strstr(msg, f1)) && (!f2 || strstr(msg, f2)) && (!f3 || strstr(msg, f3));
    if (!check_at(ok, "message names the file, the field and the problem", __FILE__, line)) fprintf(stderr, "  message: %s\n", msg);
}
#define EXPECT(call, code, f1, f2, f3) expect((call), (code), (f1), (f2), (f3), __LINE__)

static rd_result load(const char *path)
{
    rd_scene *s = (rd_scene *)0x1;
    rd_result r = rd_scene_load(ctx, path, &s);
    check_at(r != RD_OK ? s == NULL : true, "no scene on failure", __FILE__, __LINE__);
    if (r == RD_OK) rd_scene_destroy(s);
    return r;
}

static const char *IMAGES[] = {"means_l.webp", "means_u.webp", "quats.webp", "scales.webp", "sh0.webp", "shN_centroids.webp",
                               "shN_labels.webp"};

/* A copy of the unbundled fixture in tmp/name with meta.json's `from` replaced by `to`
   (NULL: unchanged); returns its meta.json's path. */
static const char *mutated(const char *name, const char *from, const char *to)
{
    static char meta_path[1200];
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/%s", tmp, name);
    mkdir(dir, 0755);
    for (int k = 0; k < 7; k++) {
        size_t size = 0;
        unsigned char *bytes = read_file(path_in(path_in(fixtures, "unbundled_sh1"), IMAGES[k]), &size);
        write_file(dir, IMAGES[k], bytes, size);
        free(bytes);
    }
    size_t size = 0;
    char *meta = (char *)read_file(path_in(path_in(fixtures, "unbundled_sh1"), "meta.json"), &size);
    char *text = malloc(size + (to ? strlen(to) : 0) + 1);
    char *at = from ? strstr(meta, from) : NULL;
    CHECK(!from || at);
    if (at) {
        size_t head = (size_t)(at - meta);
        memcpy(text, meta, head);
        strcpy(text + head, to);
        strcat(text, at + strlen(from));
    } else {
        memcpy(text, meta, size);
        text[size] = 0;
    }
    snprintf(meta_path, sizeof meta_path, "%s/meta.json", dir);
    write_file(dir, "meta.json", text, strlen(text));
    free(meta);
    free(text);
    return meta_path;
}

/* An image of the mutated folder replaced: w x h pixels, each `pixel` */
static void replace_image(const char *meta_path, const char *name, int w, int h, const unsigned char pixel[4])
{
    char dir[1200];
    snprintf(dir, sizeof dir, "%s", meta_path);
    *strrchr(dir, '/') = 0;
    unsigned char *rgba = malloc((size_t)w * h * 4);
    for (int i = 0; i < w * h; i++) memcpy(rgba + 4 * i, pixel, 4);
    put_image(dir, name, w, h, rgba);
    free(rgba);
}

static void test_broken(void)
{
    const unsigned char tag[4] = {128, 128, 128, 252};
    EXPECT(load(mutated("ok", NULL, NULL)), RD_OK, NULL, NULL, NULL);
    EXPECT(load(mutated("version", "\"version\":2", "\"version\":3")), RD_ERROR_UNSUPPORTED, "meta.json", "version", "3");
    EXPECT(load(mutated("version_text", "\"version\":2", "\"version\":\"2\"")), RD_ERROR_UNSUPPORTED, "meta.json", "version",
           "not a number");
    EXPECT(load(mutated("no_count", "\"count\":205,", "")), RD_ERROR_FORMAT, "meta.json", "count", "missing");
    EXPECT(load(mutated("neg_count", "\"count\":205", "\"count\":-5")), RD_ERROR_FORMAT, "meta.json", "count", NULL);
    EXPECT(load(mutated("big_count", "\"count\":205", "\"count\":257")), RD_ERROR_FORMAT, "means_l.webp", "means.files[0]",
           "16x16 pixels, fewer than count");
    /* a count the images hold but whose pixels past 205 are padding: their tags say so */
    EXPECT(load(mutated("padding", "\"count\":205", "\"count\":206")), RD_ERROR_FORMAT, "quats.files[0]", "Gaussian 205",
           "largest-component tag");
    EXPECT(load(mutated("no_means", "\"means\"", "\"meens\"")), RD_ERROR_FORMAT, "meta.json", "means", "missing");
    EXPECT(load(mutated("no_mins", "\"mins\"", "\"minz\"")), RD_ERROR_FORMAT, "meta.json", "means.mins", "missing");
    EXPECT(load(mutated("short_mins", "\"mins\":[", "\"mins\":[1,")), RD_ERROR_FORMAT, "means.mins", "array of 3", NULL);
    EXPECT(load(mutated("codebook", "\"scales\":{\"codebook\":[", "\"scales\":{\"codebook\":[1,")), RD_ERROR_FORMAT,
           "scales.codebook", "256", NULL);
    EXPECT(load(mutated("no_files", "\"quats\":{\"files\"", "\"quats\":{\"filez\"")), RD_ERROR_FORMAT, "quats.files", "missing", NULL);
    EXPECT(load(mutated("bands", "\"bands\":1", "\"bands\":7")), RD_ERROR_FORMAT, "shN", "bands", NULL);
    EXPECT(load(mutated("escape", "\"sh0.webp\"", "\"../sh0.webp\"")), RD_ERROR_FORMAT, "sh0.files[0]", "../sh0.webp", "beside meta.json");
    EXPECT(load(mutated("missing_file", "\"scales.webp\"", "\"gone.webp\"")), RD_ERROR_IO, "scales.files[0]", "gone.webp",
           "does not exist");
    EXPECT(load(mutated("not_json", "{", "[")), RD_ERROR_FORMAT, "meta.json", NULL, NULL);
    const char *m = mutated("small_quats", NULL, NULL);
    replace_image(m, "quats.webp", 8, 8, tag);
    EXPECT(load(m), RD_ERROR_FORMAT, "quats.webp", "quats.files[0]", "8x8 pixels, fewer than count");
    m = mutated("centroids", NULL, NULL);
    replace_image(m, "shN_centroids.webp", 100, 4, tag);
    EXPECT(load(m), RD_ERROR_FORMAT, "shN_centroids.webp", "100x4", "expected 192 wide");
    m = mutated("bad_tag", NULL, NULL);
    replace_image(m, "quats.webp", 16, 16, (const unsigned char[4]){1, 2, 3, 4});
    EXPECT(load(m), RD_ERROR_FORMAT, "quats.webp", "Gaussian 0", "largest-component tag");
    m = mutated("bad_label", NULL, NULL);
    replace_image(m, "shN_labels.webp", 16, 16, (const unsigned char[4]){255, 255, 0, 255});
    EXPECT(load(m), RD_ERROR_FORMAT, "shN_labels.webp", "label 65535", "shN.count");
    m = mutated("not_webp", NULL, NULL);
    write_file(path_in(tmp, "not_webp"), "sh0.webp", "RIFF....WEBPjunk", 16);
    EXPECT(load(m), RD_ERROR_FORMAT, "sh0.webp", "sh0.files[0]", "not a WebP");
    m = mutated("cut_webp", NULL, NULL);
    size_t size = 0;
    unsigned char *bytes = read_file(path_in(path_in(fixtures, "unbundled_sh1"), "means_u.webp"), &size);
    write_file(path_in(tmp, "cut_webp"), "means_u.webp", bytes, size / 2);
    free(bytes);
    EXPECT(load(m), RD_ERROR_FORMAT, "means_u.webp", "means.files[1]", NULL);
    /* a folder without meta.json stays "a folder" */
    mkdir(path_in(tmp, "empty"), 0755);
    EXPECT(load(path_in(tmp, "empty")), RD_ERROR_IO, "empty", "folder", NULL);
    /* the bundle: cut anywhere, never a crash and always the file named */
    bytes = read_file(path_in(fixtures, "splat_transform_sh3.sog"), &size);
    int wrong = 0, cuts = 0;
    for (size_t cut = 0; bytes && cut < size; cut += cut < 64 ? 7 : 997, cuts++) {
        const char *p = write_file(tmp, "cut.sog", bytes, cut);
        rd_result r = load(p);
        wrong += r == RD_OK || !strstr(rd_last_error(ctx), "cut.sog");
    }
    printf("truncated bundles: %d cuts, %d without a clear error\n", cuts, wrong);
    CHECK(wrong == 0);
    write_file(tmp, "half.sog", bytes, size / 2);
    EXPECT(load(path_in(tmp, "half.sog")), RD_ERROR_FORMAT, "half.sog", "zip", "truncated or corrupt");
    /* a bundle without meta.json */
    rd_sog_entry entry = {"means_l.webp", {0}};
    rd_bytes_append(&entry.bytes, bytes, 100);
    rd_bytes zip = {0};
    CHECK_OK(rd_sog_zip(ctx, "nometa.sog", &entry, 1, &zip));
    write_file(tmp, "nometa.sog", zip.data, zip.size);
    EXPECT(load(path_in(tmp, "nometa.sog")), RD_ERROR_FORMAT, "nometa.sog", "meta.json", "not in the bundle");
    rd_bytes_free(&zip);
    rd_bytes_free(&entry.bytes);
    free(bytes);
    /* writing: nothing to write, or a name that says no format */
    rd_scene *none = NULL;
    CHECK_OK(rd_scene_create(ctx, &(rd_scene_desc){.count = 0}, &none));
    EXPECT(rd_scene_save(ctx, none, path_in(tmp, "none.sog"), NULL), RD_ERROR_INVALID_ARGUMENT, "none.sog", "without Gaussians", NULL);
    rd_scene_destroy(none);
}

static void time_biker(const char *data)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/gaussian_splats/playcanvas/biker.spz", data);
    rd_scene *spz = NULL, *sog = NULL;
    if (!CHECK_OK(rd_scene_load(ctx, path, &spz))) return;
    CHECK_OK(rd_scene_save(ctx, spz, path_in(tmp, "biker.sog"), NULL));
    double best = INFINITY;
    for (int k = 0; k < 5; k++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        rd_result r = rd_scene_load(ctx, path_in(tmp, "biker.sog"), &sog);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (!CHECK_OK(r)) break;
        best = fmin(best, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) * 1e-6);
        if (k < 4) rd_scene_destroy(sog), sog = NULL;
    }
    struct stat st;
    stat(path_in(tmp, "biker.sog"), &st);
    printf("biker.sog: %lld Gaussians, %lld bytes; read in %.1f ms (best of 5, not checked)\n",
           (long long)rd_scene_arrays(spz).count, (long long)st.st_size, best);
    rd_scene_destroy(sog);
    rd_scene_destroy(spz);
}

int main(void)
{
    test_rng r = {test_seed("sog")};
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    tmp = test_temp_dir("sog");
    snprintf(fixtures, sizeof fixtures, "%s/tests/fixtures/sog", RADIANT_SOURCE_DIR);
    test_round_trips(&r);
    test_fixtures();
    test_version1();
    test_broken();
    const char *data = test_data_dir();
    if (data) time_biker(data);
    else printf("shared data not found: biker's timing skipped\n");
    rd_context_destroy(ctx);
    return test_finish("sog");
}
