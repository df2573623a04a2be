/* test_formats.c: the splat file formats. Each convention conversion once (activations,
   quaternion packings, half floats; the changes of axes are test_frames.c's); the
   splat-transform fixtures decode to their known values; biker.spz and
   biker.compressed.ply (one scene, two formats) agree within the formats' quantization
   and render to the same picture; every writable format round-trips within its
   quantization step, with the SH degree and SPZ precision options. */
#include "compare.h"
#include "test_util.h"
#include "../compress/conventions.h"
#include "../compress/formats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rd_context *ctx;

static float quat_misalignment(const float *a, const float *b) /* 1 - |cos| of the angle between */
{
    double na = 0, nb = 0, dot = 0;
    for (int i = 0; i < 4; i++) na += a[i] * a[i], nb += b[i] * b[i], dot += a[i] * b[i];
    return (float)(1.0 - fabs(dot) / sqrt(na * nb));
}

/* random_scene's arrays are malloc'd: writable behind rd_scene_desc's const */
static float *mut(const float *p) { return (float *)p; }

static void random_unit_quat(test_rng *r, float q[4])
{
    double n = 0;
    for (int i = 0; i < 4; i++) q[i] = (float)rng_normal(r), n += q[i] * q[i];
    for (int i = 0; i < 4; i++) q[i] /= (float)sqrt(n);
}

static void test_conventions(test_rng *r)
{
    for (float x = -12.0f; x <= 12.0f; x += 0.37f) CHECK(fabsf(rd_logit(rd_sigmoid(x)) - x) < 2e-3f * fmaxf(1.0f, fabsf(x)));
    CHECK(isfinite(rd_logit(0.0f)) && isfinite(rd_logit(1.0f)));
    CHECK(fabsf(rd_color_from_dc(rd_dc_from_color(0.3f)) - 0.3f) < 1e-6f);
    /* halves: every finite half survives a round trip, and known bit patterns */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000u; h++) {
        if ((h & 0x7c00u) == 0x7c00u) continue;
        if (rd_half_from_float(rd_half_to_float((uint16_t)h)) != h) bad++;
    }
    CHECK(bad == 0);
    CHECK(rd_half_to_float(0x3c00) == 1.0f && rd_half_to_float(0x7bff) == 65504.0f && rd_half_to_float(0x0001) == ldexpf(1.0f, -24));
    CHECK(rd_half_from_float(0.1f) == 0x2e66 && rd_half_from_float(-2.0f) == 0xc000 && rd_half_from_float(1e6f) == 0x7c00);
    /* smallest-three packings: q and -q pack alike and come back as the same rotation */
    float worst_spz = 0, worst_pc = 0;
    for (int i = 0; i < 5000; i++) {
        float q[4], neg[4], back[4];
        random_unit_quat(r, q);
        if (i < 4) memset(q, 0, sizeof q), q[i] = 1.0f; /* each axis the largest once */
        for (int c = 0; c < 4; c++) neg[c] = -q[c];
        CHECK(rd_quat_pack_spz(q) == rd_quat_pack_spz(neg) || i < 4);
        rd_quat_unpack_spz(rd_quat_pack_spz(q), back);
        worst_spz = fmaxf(worst_spz, quat_misalignment(q, back));
        rd_quat_unpack_playcanvas(rd_quat_pack_playcanvas(q), back);
        worst_pc = fmaxf(worst_pc, quat_misalignment(q, back));
    }
    /* 9 or 10 bits over +-sqrt(1/2): each component within 7e-4, so 1 - cos < 3e-6 */
    CHECK(worst_spz < 3e-6f);
    CHECK(worst_pc < 3e-6f);
    printf("quaternion packings: worst 1-cos %.2g (SPZ), %.2g (PlayCanvas)\n", worst_spz, worst_pc);
}

static rd_scene *load(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rd_scene *s = NULL;
    if (!CHECK_OK(rd_scene_load(ctx, path, &s))) fprintf(stderr, "  %s: %s\n", name, rd_last_error(ctx));
    return s;
}

/* splat-transform's fixtures: four isotropic splats at (gx - 1, 0, gz - 1), scale 0.1,
   alpha byte 230, colour bytes r = round((gx + 1) / 3 * 255), g likewise from gz, b 128.
   minimal-v2.spz was written by hand with those raw numbers in SPZ's own axes (RUB) and
   the colour bytes stored as they are; v3 and v4 came from the SPZ library, which
   converts axes and colours, so they decode to the values themselves. */
static void test_fixtures(const char *data)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/gaussian_splats/splat_transform_fixtures", data);
    const char *names[] = {"minimal.splat", "minimal.ksplat", "minimal-v2.spz", "minimal-v3.spz", "minimal-v4.spz"};
    const char *formats[] = {"splat", "ksplat", "spz", "spz", "spz"};
    for (int f = 0; f < 5; f++) {
        rd_scene *s = load(dir, names[f]);
        if (!s) continue;
        rd_scene_desc d = rd_scene_arrays(s);
        rd_scene_info info;
        rd_scene_get_info(s, &info);
        bool spz = f >= 2, raw_rub = f == 2;
        CHECK(d.count == 4 && d.sh_degree == 0 && strcmp(info.format, formats[f]) == 0);
        float pos_tol = spz ? 0.5f / 256.0f : 0.0f, scale_tol = spz ? 1.0f / 32.0f : 1e-6f;
        for (int i = 0; i < 4 && d.count == 4; i++) {
            int gx = i % 2, gz = i / 2;
            float want[3] = {(float)(gx - 1), 0.0f, raw_rub ? (float)(1 - gz) : (float)(gz - 1)};
            for (int c = 0; c < 3; c++) {
                CHECK(fabsf(d.means[3 * i + c] - want[c]) <= pos_tol);
                CHECK(fabsf(d.log_scales[3 * i + c] - logf(0.1f)) <= scale_tol);
            }
            CHECK(fabsf(rd_sigmoid(d.opacities[i]) - 230.0f / 255.0f) < 1e-5f);
            float rgb[3] = {roundf((gx + 1) / 3.0f * 255.0f) / 255.0f, roundf((gz + 1) / 3.0f * 255.0f) / 255.0f, 128.0f / 255.0f};
            for (int c = 0; c < 3; c++) {
                float got = rd_color_from_dc(d.sh[3 * i + c]);
                if (raw_rub) got = (d.sh[3 * i + c] * 0.15f + 0.5f); /* the byte itself, / 255 */
                float tol = spz && !raw_rub ? 0.5f / (0.15f * 255.0f) * RD_SH_C0 + 1e-3f : 1e-5f;
                if (!CHECK(fabsf(got - rgb[c]) <= tol)) fprintf(stderr, "  %s splat %d colour %d: %g, want %g\n", names[f], i, c, got, rgb[c]);
            }
            float n = 0;
            for (int c = 0; c < 4; c++) n += d.rotations[4 * i + c] * d.rotations[4 * i + c];
            CHECK(fabsf(sqrtf(n) - 1.0f) < 0.01f);
        }
        if (spz) CHECK(strstr(info.header, f == 4 ? "SPZ v4" : "gzip") != NULL);
        rd_scene_destroy(s);
    }
}

static double render_psnr(rd_scene *a, rd_scene *b, const rd_camera *cam)
{
    rd_image ia, ib;
    rd_image_alloc(cam->width, cam->height, 4, &ia);
    rd_image_alloc(cam->width, cam->height, 4, &ib);
    CHECK_OK(rd_render(ctx, a, cam, NULL, &(rd_framebuffer){.color = ia.pixels}));
    CHECK_OK(rd_render(ctx, b, cam, NULL, &(rd_framebuffer){.color = ib.pixels}));
    rd_metrics m = {0};
    CHECK_OK(rd_image_compare(ctx, &ia, &ib, &m));
    rd_image_free(&ia);
    rd_image_free(&ib);
    return m.psnr;
}

/* One scene in two formats, stored in the same order: each Gaussian agrees within the
   sum of both quantization steps, and the renders match (PSNR >= 35 dB). */
static void test_biker(const char *data)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/gaussian_splats/playcanvas", data);
    rd_scene *spz = load(dir, "biker.spz"), *ply = load(dir, "biker.compressed.ply");
    if (!spz || !ply) goto done;
    rd_scene_desc a = rd_scene_arrays(spz), b = rd_scene_arrays(ply);
    CHECK(a.count == 152746 && b.count == a.count && a.sh_degree == 0 && b.sh_degree == 0);
    float worst[5] = {0};
    for (int64_t i = 0; i < a.count && b.count == a.count; i++) {
        for (int c = 0; c < 3; c++) {
            worst[0] = fmaxf(worst[0], fabsf(a.means[3 * i + c] - b.means[3 * i + c]));
            /* SPZ's scale byte stops at log s = -10 (its floor); compare above it */
            worst[1] = fmaxf(worst[1], fabsf(fmaxf(a.log_scales[3 * i + c], -10.0f) - fmaxf(b.log_scales[3 * i + c], -10.0f)));
            worst[2] = fmaxf(worst[2], fabsf(rd_color_from_dc(a.sh[3 * i + c]) - rd_color_from_dc(b.sh[3 * i + c])));
        }
        worst[3] = fmaxf(worst[3], fabsf(rd_sigmoid(a.opacities[i]) - rd_sigmoid(b.opacities[i])));
        worst[4] = fmaxf(worst[4], quat_misalignment(a.rotations + 4 * i, b.rotations + 4 * i));
    }
    printf("biker spz vs compressed ply: position %.3g, log scale %.3g, colour %.3g, alpha %.3g, rotation 1-cos %.3g\n",
           worst[0], worst[1], worst[2], worst[3], worst[4]);
    /* SPZ: 1/4096 positions, 1/16 log scales, colour 1/(0.15*255) of DC; the compressed
       PLY: 11/10 bits of each 256-splat chunk's range, 8 bits of colour */
    CHECK(worst[0] < 3e-4f);
    CHECK(worst[1] < 0.07f);
    CHECK(worst[2] < 0.01f);
    CHECK(worst[3] <= 1.0f / 255.0f + 1e-5f);
    CHECK(worst[4] < 1e-5f);
    rd_camera cams[2];
    CHECK_OK(rd_scene_orbit_cameras(spz, 2, 320, 240, cams));
    for (int v = 0; v < 2; v++) {
        double psnr = render_psnr(spz, ply, &cams[v]);
        printf("biker view %d: PSNR %.2f dB between the two formats\n", v, psnr);
        CHECK(psnr >= 35.0);
    }
done:
    rd_scene_destroy(spz);
    rd_scene_destroy(ply);
}

typedef struct tolerance {
    float position, log_scale, color, alpha, rotation, sh1, sh_rest;
} tolerance;

/* b (decoded) against a (written); b's Gaussian j is a's order[j] (NULL: the same order) */
static bool check_close(const char *what, const rd_scene_desc *a, const rd_scene_desc *b, const int64_t *order, tolerance t)
{
    if (!CHECK(b->count == a->count)) return false;
    int Ka = rd_sh_coeffs(a->sh_degree), Kb = rd_sh_coeffs(b->sh_degree);
    float worst[7] = {0};
    for (int64_t j = 0; j < b->count; j++) {
        int64_t i = order ? order[j] : j;
        for (int c = 0; c < 3; c++) {
            worst[0] = fmaxf(worst[0], fabsf(a->means[3 * i + c] - b->means[3 * j + c]));
            worst[1] = fmaxf(worst[1], fabsf(a->log_scales[3 * i + c] - b->log_scales[3 * j + c]));
            worst[2] = fmaxf(worst[2], fabsf(rd_color_from_dc(a->sh[(size_t)i * Ka * 3 + c]) - rd_color_from_dc(b->sh[(size_t)j * Kb * 3 + c])));
        }
        worst[3] = fmaxf(worst[3], fabsf(rd_sigmoid(a->opacities[i]) - rd_sigmoid(b->opacities[j])));
        worst[4] = fmaxf(worst[4], quat_misalignment(a->rotations + 4 * i, b->rotations + 4 * j));
        for (int k = 1; k < Kb; k++)
            for (int c = 0; c < 3; c++)
                worst[k < 4 ? 5 : 6] = fmaxf(worst[k < 4 ? 5 : 6], fabsf(a->sh[((size_t)i * Ka + k) * 3 + c] - b->sh[((size_t)j * Kb + k) * 3 + c]));
    }
    const float *limit = &t.position;
    bool ok = true;
    for (int f = 0; f < 7; f++) ok &= worst[f] <= limit[f];
    printf("%s: errors position %.3g, log scale %.3g, colour %.3g, alpha %.3g, rotation %.3g, sh1 %.3g, sh2-3 %.3g%s\n", what,
           worst[0], worst[1], worst[2], worst[3], worst[4], worst[5], worst[6], ok ? "" : "  <- over the quantization step");
    return CHECK(ok);
}

static rd_scene *round_trip(const rd_scene *s, const char *dir, const char *name, const rd_scene_save_desc *desc)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    rd_scene *back = NULL;
    if (!CHECK_OK(rd_scene_save(ctx, s, path, desc))) {
        fprintf(stderr, "  %s\n", rd_last_error(ctx));
        return NULL;
    }
    if (!CHECK_OK(rd_scene_load(ctx, path, &back))) fprintf(stderr, "  %s\n", rd_last_error(ctx));
    return back;
}

static void range_of(const float *v, int64_t n, int stride, float *lo, float *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) *lo = fminf(*lo, v[i * stride]), *hi = fmaxf(*hi, v[i * stride]);
}

static void test_round_trips(test_rng *r)
{
    const char *dir = test_temp_dir("formats");
    random_scene_desc sd = {.count = 1500, .sh_degree = 3, .depth_min = 1, .depth_max = 8, .spread = 1,
                            .log_scale_min = -8, .log_scale_max = 1};
    rd_scene_desc a = random_scene(r, &sd);
    /* keep every value inside what the lossy formats can hold, so errors are steps only */
    for (int i = 0; i < 1500; i++) {
        mut(a.opacities)[i] = fminf(fmaxf(a.opacities[i], -6.0f), 6.0f);
        for (int k = 0; k < 16; k++)
            for (int c = 0; c < 3; c++) {
                float *v = &mut(a.sh)[(i * 16 + k) * 3 + c];
                *v = k == 0 ? fminf(fmaxf(*v, -1.7f), 1.7f) : fminf(fmaxf(*v, -0.95f), 0.95f);
            }
    }
    a.flags = RD_SCENE_ANTIALIASED;
    rd_scene *s;
    CHECK_OK(rd_scene_create(ctx, &a, &s));
    float extent = 0, lo, hi;
    for (int c = 0; c < 3; c++) range_of(a.means + c, 1500, 3, &lo, &hi), extent = fmaxf(extent, hi - lo);
    float scale_range = 0, color_range = 0;
    for (int c = 0; c < 3; c++) range_of(a.log_scales + c, 1500, 3, &lo, &hi), scale_range = fmaxf(scale_range, hi - lo);
    for (int c = 0; c < 3; c++) range_of(a.sh + c, 1500, 48, &lo, &hi), color_range = fmaxf(color_range, (hi - lo) * RD_SH_C0);

    const float eps = 1e-5f;
    rd_scene *back = round_trip(s, dir, "scene.ply", NULL);
    if (back) {
        rd_scene_desc b = rd_scene_arrays(back);
        check_close("INRIA PLY", &a, &b, NULL, (tolerance){0});
        CHECK(b.sh_degree == 3 && b.flags == RD_SCENE_ANTIALIASED);
    }
    rd_scene_destroy(back);

    /* SPZ: positions in fractional bits (below), log scales in 1/16, colour bytes of 0.15 DC, 8-bit alpha,
       9-bit quaternion components, SH in 5 bits (degree 1) and 4 bits (2 and 3) */
    tolerance spz = {0.5f / 4096 + 1e-6f, 1.0f / 32 + eps, 0.5f / (0.15f * 255) * RD_SH_C0 + eps, 0.5f / 255 + eps, 3e-6f,
                     4.5f / 128 + eps, 8.5f / 128 + eps};
    /* by default the precision follows the scene's extent (radiant_datasets.h): steps of at
       most 2^-15 of the largest coordinate, at least 12 bits, within what the 24 bits hold */
    float largest = 0.0f;
    for (int i = 0; i < 3 * 1500; i++) largest = fmaxf(largest, fabsf(a.means[i]));
    int finest = 23;
    while (finest > 1 && largest * ldexpf(1.0f, finest) > 8388607.0f) finest--;
    int chosen = (int)ceilf(15.0f - log2f(largest));
    chosen = chosen < 12 ? 12 : chosen > finest ? finest : chosen;
    for (int fine = 0; fine < 2; fine++) {
        back = round_trip(s, dir, fine ? "fine.spz" : "scene.spz", &(rd_scene_save_desc){.spz_fractional_bits = fine ? 16 : 0});
        if (!back) continue;
        rd_scene_desc b = rd_scene_arrays(back);
        tolerance t = spz;
        int bits = fine ? 16 : chosen;
        t.position = 0.5f / ldexpf(1.0f, bits) + 1e-6f;
        check_close(fine ? "SPZ, 16 fractional bits" : "SPZ", &a, &b, NULL, t);
        rd_scene_info info;
        rd_scene_get_info(back, &info);
        char fragment[32];
        snprintf(fragment, sizeof fragment, "fractionalBits %d,", bits);
        CHECK(b.sh_degree == 3 && b.flags == RD_SCENE_ANTIALIASED && strstr(info.header, fragment));
        if (!strstr(info.header, fragment)) printf("  expected %s in: %s\n", fragment, info.header);
        rd_scene_destroy(back);
    }
    back = round_trip(s, dir, "degree1.spz", &(rd_scene_save_desc){.sh_degree = RD_SH_DEGREE(1)});
    if (back) {
        rd_scene_desc b = rd_scene_arrays(back);
        CHECK(b.sh_degree == 1);
        check_close("SPZ, SH degree 1 kept", &a, &b, NULL, spz);
    }
    rd_scene_destroy(back);

    /* .splat: float positions and scales, 8-bit colour and alpha, quaternion bytes */
    back = round_trip(s, dir, "scene.splat", NULL);
    if (back) {
        rd_scene_desc b = rd_scene_arrays(back);
        CHECK(b.sh_degree == 0);
        check_close(".splat", &a, &b, NULL, (tolerance){0, eps, 0.5f / 255 + 1e-6f, 0.5f / 255 + 1e-6f, 2e-4f, 0, 0});
    }
    rd_scene_destroy(back);

    /* compressed PLY: 11-10-11 bits of each chunk's range (y has 10), 8-bit colour in the
       chunk's range, 10-bit quaternion components, SH bytes over [-4, 4]; the file is in
       Morton order */
    back = round_trip(s, dir, "scene.compressed.ply", NULL);
    if (back) {
        rd_scene_desc b = rd_scene_arrays(back);
        int64_t *order = malloc(1500 * sizeof *order);
        rd_morton_order(s, order);
        tolerance t = {extent / 1023 / 2 + 1e-6f, scale_range / 1023 / 2 + eps, color_range / 255 / 2 + eps, 0.5f / 255 + eps, 3e-6f,
                       4.0f / 256 + eps, 4.0f / 256 + eps};
        CHECK(b.sh_degree == 3 && b.flags == RD_SCENE_ANTIALIASED);
        check_close("compressed PLY", &a, &b, order, t);
        free(order);
    }
    rd_scene_destroy(back);

    /* what cannot be written says so */
    char path[1024];
    snprintf(path, sizeof path, "%s/x.ksplat", dir);
    CHECK_FAILS(rd_scene_save(ctx, s, path, NULL), RD_ERROR_UNSUPPORTED);
    snprintf(path, sizeof path, "%s/x.xyz", dir);
    CHECK_FAILS(rd_scene_save(ctx, s, path, NULL), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "x.xyz") != NULL);
    snprintf(path, sizeof path, "%s/far.spz", dir);
    mut(a.means)[0] = 200.0f; /* beyond 2^23 / 2^16 */
    rd_scene *far;
    CHECK_OK(rd_scene_create(ctx, &a, &far));
    CHECK_FAILS(rd_scene_save(ctx, far, path, &(rd_scene_save_desc){.spz_fractional_bits = 16}), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "does not fit") != NULL && access(path, F_OK) != 0);
    CHECK_OK(rd_scene_save(ctx, far, path, NULL)); /* 12 bits reach 2048 */
    rd_scene_destroy(far);
    rd_scene_destroy(s);
    random_scene_free(&a);
}

/* NaN and infinities: every writer leaves out the Gaussians the renderers leave out (a
   non-finite mean, scale, rotation or SH, a NaN opacity) and writes the rest, an infinite
   opacity logit included, so that what it writes reads back. */
static void test_non_finite(test_rng *r)
{
    rd_scene_desc d = random_scene(r, &(random_scene_desc){.count = 10, .sh_degree = 1, .depth_min = 2, .depth_max = 5,
                                                          .spread = 0.5, .log_scale_min = -3, .log_scale_max = -1});
    float inf = 1.0f / 0.0f;
    mut(d.means)[3 * 3 + 1] = nanf("");
    mut(d.sh)[5 * 12 + 7] = inf;
    mut(d.log_scales)[6 * 3] = -inf;
    mut(d.opacities)[8] = nanf("");
    mut(d.opacities)[2] = inf; /* opacity 1: kept */
    rd_scene *s = NULL;
    CHECK_OK(rd_scene_create(ctx, &d, &s));
    const char *dir = test_temp_dir("formats_nan");
    static const char *names[] = {"nan.ply", "nan.spz", "nan.splat", "nan.compressed.ply"};
    for (int k = 0; k < 4; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        CHECK_OK(rd_scene_save(ctx, s, path, NULL));
        rd_scene *back = load(dir, names[k]);
        if (!CHECK(back != NULL)) continue;
        rd_scene_desc b = rd_scene_arrays(back);
        CHECK(b.count == 6);
        bool finite = true;
        for (int64_t i = 0; i < 3 * b.count; i++) finite = finite && isfinite(b.means[i]) && isfinite(b.log_scales[i]);
        CHECK(finite);
        if (k == 3) { /* compressed PLY reorders along a Morton curve */
            rd_scene_destroy(back);
            continue;
        }
        /* Gaussians 0-2 kept, 3 left out: the fourth written is Gaussian 4 */
        CHECK(fabsf(b.means[0] - d.means[0]) < 1e-2f && fabsf(b.means[3 * 3 + 2] - d.means[3 * 4 + 2]) < 1e-2f);
        CHECK(b.opacities[2] > 5.0f); /* the infinite logit: opacity 1 */
        rd_scene_destroy(back);
    }
    rd_scene_destroy(s);
    random_scene_free(&d);
}

int main(void)
{
    test_rng r = {test_seed("formats")};
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    test_conventions(&r);
    test_round_trips(&r);
    test_non_finite(&r);
    const char *data = test_data_dir();
    if (data) {
        test_fixtures(data);
        test_biker(data);
    } else {
        printf("shared data not found: fixture and biker checks skipped\n");
    }
    rd_context_destroy(ctx);
    return test_finish("formats");
}
