/* test_frames.c: coordinate frames (rd_axis_change in compress/conventions.h,
   spec/formats.md) and SPZ's coordinate-system record (0xADBE0003). A change of axes
   applied to a scene and to its camera leaves the render unchanged (a mirroring frame
   mirrors the image, which is compared mirrored), for sign flips and for the z-up frames'
   quarter turn with its SH band matrices; an SPZ written in each of the 16 frames reads
   back to the scene within SPZ's quantization; without the record a file reads as RUB,
   the load desc's frame wins over the record, a gzip SPZ's records after its arrays are
   found, and broken records and bad frame names are clear errors. */
#include "compare.h"
#include "test_util.h"
#include "../compress/conventions.h"
#include "../compress/formats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;

static float *mut(const float *p) { return (float *)p; }

static const char *FRAMES[16] = {"LDB", "RDB", "LUB", "RUB", "LDF", "RDF", "LUF", "RUF",
                                 "LFD", "RFD", "LFU", "RFU", "LBD", "RBD", "LBU", "RBU"};

/* The scene in the frame's axes and the camera that sees it as before render the same
   picture (mirrored where the frame mirrors). */
static void test_render_unchanged(test_rng *r)
{
    static const char *names[] = {"RUB", "LDF", "RFU", "LBD", "LUF", "RBU", "rdf"};
    for (int f = 0; f < 7; f++) {
        rd_axis_change change;
        if (!CHECK(rd_axis_change_make(names[f], true, &change))) continue;
        const float *A = change.axes;
        float det = A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6]);
        random_scene_desc sd = {.count = 400, .sh_degree = 3, .depth_min = 2, .depth_max = 6, .spread = 0.5,
                                .log_scale_min = -4, .log_scale_max = -1.5};
        rd_scene_desc a = random_scene(r, &sd), b = random_scene(r, &sd);
        for (int i = 0; i < 400; i++) { /* b: a in the frame's axes */
            memcpy(mut(b.means) + 3 * i, a.means + 3 * i, 3 * sizeof(float));
            memcpy(mut(b.log_scales) + 3 * i, a.log_scales + 3 * i, 3 * sizeof(float));
            memcpy(mut(b.rotations) + 4 * i, a.rotations + 4 * i, 4 * sizeof(float));
            memcpy(mut(b.sh) + 48 * i, a.sh + 48 * i, 48 * sizeof(float));
            mut(b.opacities)[i] = a.opacities[i];
            rd_axis_change_apply(&change, mut(b.means) + 3 * i, mut(b.log_scales) + 3 * i, mut(b.rotations) + 4 * i,
                                 mut(b.sh) + 48 * i, 16);
        }
        rd_camera cam = random_camera(r, 96, 64), moved = cam;
        cam.cx = moved.cx = 48.0f;
        /* w2c' = w2c A^T; a mirroring A also turns the camera's x axis, so it stays a rotation */
        for (int row = 0; row < 3; row++)
            for (int col = 0; col < 3; col++) {
                float v = 0.0f;
                for (int k = 0; k < 3; k++) v += cam.w2c[4 * row + k] * A[3 * col + k];
                moved.w2c[4 * row + col] = det < 0 && row == 0 ? -v : v;
            }
        if (det < 0) moved.w2c[3] = -moved.w2c[3];
        rd_scene *sa = NULL, *sb = NULL;
        CHECK_OK(rd_scene_create(ctx, &a, &sa));
        CHECK_OK(rd_scene_create(ctx, &b, &sb));
        float *ia = calloc(96 * 64 * 4, sizeof(float)), *ib = calloc(96 * 64 * 4, sizeof(float));
        CHECK_OK(rd_render(ctx, sa, &cam, NULL, &(rd_framebuffer){.color = ia}));
        CHECK_OK(rd_render(ctx, sb, &moved, NULL, &(rd_framebuffer){.color = ib}));
        double lit = 0;
        for (int p = 0; p < 96 * 64 * 4; p++) lit += ia[p];
        CHECK(lit > 100.0); /* the scene is in view: the comparison means something */
        for (int y = 0; det < 0 && y < 64; y++) /* back to the first image's left and right */
            for (int x = 0; x < 48; x++)
                for (int c = 0; c < 4; c++) {
                    float *p = &ib[4 * (96 * y + x) + c], *q = &ib[4 * (96 * y + 95 - x) + c], t = *p;
                    *p = *q, *q = t;
                }
        char what[64];
        snprintf(what, sizeof what, "render in frame %s", names[f]);
        CHECK(compare_ok(what, compare_floats(ib, ia, 96 * 64 * 4, 1e-4), 4, 1e-2));
        /* and back: from the frame into RDF undoes it */
        rd_axis_change back;
        CHECK(rd_axis_change_make(names[f], false, &back));
        float worst = 0.0f;
        for (int i = 0; i < 400; i++) {
            float m[3], s[3], q[4], sh[48];
            memcpy(m, b.means + 3 * i, sizeof m), memcpy(s, b.log_scales + 3 * i, sizeof s);
            memcpy(q, b.rotations + 4 * i, sizeof q), memcpy(sh, b.sh + 48 * i, sizeof sh);
            rd_axis_change_apply(&back, m, s, q, sh, 16);
            for (int k = 0; k < 3; k++) worst = fmaxf(worst, fabsf(m[k] - a.means[3 * i + k]) + fabsf(s[k] - a.log_scales[3 * i + k]));
            for (int k = 0; k < 4; k++) worst = fmaxf(worst, fabsf(q[k] - a.rotations[4 * i + k]));
            for (int k = 0; k < 48; k++) worst = fmaxf(worst, fabsf(sh[k] - a.sh[48 * i + k]));
        }
        if (!CHECK(worst < 1e-5f)) printf("  frame %s and back: off by %g\n", names[f], worst);
        free(ia), free(ib);
        rd_scene_destroy(sa), rd_scene_destroy(sb);
        random_scene_free(&a), random_scene_free(&b);
    }
    rd_axis_change c;
    CHECK(!rd_axis_change_make("RUR", true, &c) && !rd_axis_change_make("RU", true, &c) && !rd_axis_change_make("RXB", true, &c));
}

/* A scene of SPZ's ranges (SH within its bytes, log scales within its 1/16 steps). */
static rd_scene_desc spz_scene(test_rng *r)
{
    random_scene_desc sd = {.count = 300, .sh_degree = 3, .depth_min = 1, .depth_max = 6, .spread = 1,
                            .log_scale_min = -6, .log_scale_max = 1};
    rd_scene_desc a = random_scene(r, &sd);
    for (int i = 0; i < 300; i++)
        for (int k = 0; k < 48; k++) mut(a.sh)[48 * i + k] = fminf(fmaxf(a.sh[48 * i + k], k < 3 ? -1.7f : -0.5f), k < 3 ? 1.7f : 0.5f);
    return a;
}

/* got against want: means within the position step, log-scales within 1/32, quaternions
   within SPZ's 9 bits, SH within its steps carried through an orthogonal band matrix. */
static bool close_to(const char *what, const rd_scene *got, const rd_scene_desc *want)
{
    rd_scene_desc g = rd_scene_arrays(got);
    float worst[4] = {0};
    for (int64_t i = 0; g.count == want->count && i < g.count; i++) {
        for (int k = 0; k < 3; k++) {
            worst[0] = fmaxf(worst[0], fabsf(g.means[3 * i + k] - want->means[3 * i + k]));
            worst[1] = fmaxf(worst[1], fabsf(g.log_scales[3 * i + k] - want->log_scales[3 * i + k]));
        }
        double dot = 0, n = 0;
        for (int k = 0; k < 4; k++) dot += g.rotations[4 * i + k] * want->rotations[4 * i + k], n += want->rotations[4 * i + k] * want->rotations[4 * i + k];
        worst[2] = fmaxf(worst[2], (float)(1.0 - fabs(dot) / sqrt(n)));
        for (int k = 0; k < 48; k++) worst[3] = fmaxf(worst[3], fabsf(g.sh[48 * i + k] - want->sh[48 * i + k]));
    }
    bool ok = g.count == want->count && worst[0] <= 0.5f / 4096 + 1e-6f && worst[1] <= 1.0f / 32 + 1e-5f && worst[2] < 3e-6f &&
              worst[3] <= 0.17f;
    if (!ok)
        printf("  %s: %lld Gaussians; worst mean %g, log-scale %g, 1-cos %g, SH %g\n", what, (long long)g.count, worst[0], worst[1],
               worst[2], worst[3]);
    return ok;
}

static rd_scene *decode(rd_bytes *b, int frame, rd_scene_info *info)
{
    rd_scene *s = NULL;
    if (rd_spz_decode(ctx, "frames.spz", b->data, b->size, frame, &s) != RD_OK) return NULL;
    rd_scene_get_info(s, info);
    return s;
}

/* Written in each frame (the record says which), read back into RDF. */
static void test_spz_frames(test_rng *r)
{
    rd_scene_desc a = spz_scene(r);
    rd_scene *s = NULL;
    CHECK_OK(rd_scene_create(ctx, &a, &s));
    for (int f = 1; f <= 16; f++) {
        rd_bytes b = {0};
        CHECK_OK(rd_spz_encode(ctx, "frames.spz", s, 12, f, &b));
        rd_scene_info info;
        rd_scene *back = decode(&b, 0, &info);
        char what[64], says[64];
        snprintf(what, sizeof what, "SPZ written in %s", FRAMES[f - 1]);
        snprintf(says, sizeof says, "frame %s (the file's coordinate-system record)", FRAMES[f - 1]);
        if (CHECK(back)) {
            CHECK(close_to(what, back, &a));
            if (!CHECK(strstr(info.header, says))) printf("  header: %s\n", info.header);
        }
        rd_scene_destroy(back);
        if (f == 12) { /* RFU: read as RUB instead, the caller's word wins and the means come out turned */
            back = decode(&b, rd_spz_frame_parse("rub"), &info);
            if (CHECK(back)) {
                CHECK(strstr(info.header, "frame RUB (given by the caller)") != NULL);
                CHECK(fabsf(rd_scene_arrays(back).means[1] - a.means[1]) > 1e-3f || fabsf(rd_scene_arrays(back).means[2] - a.means[2]) > 1e-3f);
            }
            rd_scene_destroy(back);
            b.data[14] &= (unsigned char)~2u; /* the header says there are no records: Niantic's reader reads none */
            back = decode(&b, 0, &info);
            if (CHECK(back)) CHECK(strstr(info.header, "frame RUB (no coordinate-system record") != NULL);
            rd_scene_destroy(back);
        }
        rd_bytes_free(&b);
    }
    /* without the record (as Niantic's converter writes them): RUB */
    rd_bytes b = {0};
    CHECK_OK(rd_spz_encode(ctx, "frames.spz", s, 12, 4, &b));
    CHECK(b.size > 44 && rd_le32(b.data + 16) == 44 && rd_le32(b.data + 32) == 0xADBE0003u && (b.data[14] & 2));
    memmove(b.data + 32, b.data + 44, b.size - 44);
    b.size -= 12;
    b.data[14] &= (unsigned char)~2u;
    b.data[16] = 32;
    rd_scene_info info;
    rd_scene *back = decode(&b, 0, &info);
    if (CHECK(back)) {
        CHECK(close_to("SPZ without a record", back, &a));
        CHECK(strstr(info.header, "frame RUB (no coordinate-system record") != NULL);
    }
    rd_scene_destroy(back);
    rd_bytes_free(&b);
    /* the public API: bad names are refused, naming the field */
    char path[1024];
    snprintf(path, sizeof path, "%s/scene.spz", test_temp_dir("frames"));
    CHECK(rd_scene_save(ctx, s, path, &(rd_scene_save_desc){.spz_frame = "up"}) == RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "spz_frame \"up\"") != NULL);
    CHECK_OK(rd_scene_save(ctx, s, path, &(rd_scene_save_desc){.spz_frame = "LUF"}));
    CHECK(rd_scene_load_with(ctx, path, &(rd_scene_load_desc){.spz_frame = "RUX"}, &back) == RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "spz_frame \"RUX\"") != NULL);
    if (CHECK_OK(rd_scene_load_with(ctx, path, NULL, &back))) CHECK(close_to("saved in LUF", back, &a));
    rd_scene_destroy(back);
    rd_scene_destroy(s);
    random_scene_free(&a);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int b = 0; b < 4; b++) p[b] = (unsigned char)(v >> (8 * b));
}

static uint32_t crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c >> 1 ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* A gzip SPZ v3 of one Gaussian at (1, 2, 3) as stored, degree 0, then `records` (bytes)
   after its arrays, in one stored deflate block. */
static size_t gzip_spz(const unsigned char *records, size_t record_bytes, unsigned char *out)
{
    unsigned char raw[16 + 20 + 64] = {0};
    size_t n = 16 + 20 + record_bytes;
    put32(raw, 0x5053474e), put32(raw + 4, 3), put32(raw + 8, 1);
    raw[12] = 0, raw[13] = 12, raw[14] = record_bytes ? 2 : 0;
    for (int c = 0; c < 3; c++) { /* (c + 1) * 4096: c + 1 at 12 fractional bits */
        uint32_t v = (uint32_t)(c + 1) << 12;
        raw[16 + 3 * c] = (unsigned char)v, raw[17 + 3 * c] = (unsigned char)(v >> 8), raw[18 + 3 * c] = (unsigned char)(v >> 16);
    }
    raw[25] = 200;                                         /* alpha */
    raw[26] = raw[27] = raw[28] = 128;                     /* colour */
    raw[29] = raw[30] = raw[31] = 100;                     /* scales */
    put32(raw + 32, 3u << 30);                             /* the identity: w largest, the rest 0 */
    if (record_bytes) memcpy(raw + 36, records, record_bytes);
    static const unsigned char head[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
    memcpy(out, head, 10);
    out[10] = 1, out[11] = (unsigned char)n, out[12] = 0, out[13] = (unsigned char)~n, out[14] = 0xff;
    memcpy(out + 15, raw, n);
    put32(out + 15 + n, crc32_of(raw, n)), put32(out + 19 + n, (uint32_t)n);
    return 23 + n;
}

/* gzip SPZ: the records follow the arrays; broken ones are errors that say so. */
static void test_gzip_records(void)
{
    unsigned char gz[128], rdf[12], other[20];
    put32(rdf, 0xADBE0003u), put32(rdf + 4, 4), put32(rdf + 8, 6); /* RDF */
    put32(other, 0xADBE0002u), put32(other + 4, 0), memcpy(other + 8, rdf, 12); /* an empty record first */
    /* (1, 2, 3) as stored, read in radiant's RDF: no record (RUB), RDF, RDF after a record
       not understood, and by the frames' numbers as Niantic's library numbers them (the
       z-up ones turn y and z: RFU's +y is forward, its +z up) */
    unsigned char numbered[12];
    put32(numbered, 0xADBE0003u), put32(numbered + 4, 4);
    const struct {
        const unsigned char *records;
        size_t bytes;
        uint32_t frame; /* numbered's, where records is numbered */
        float mean[3];  /* read back */
    } cases[] = {{NULL, 0, 0, {1, -2, -3}},       {rdf, 12, 0, {1, 2, 3}},         {other, 20, 0, {1, 2, 3}},
                 {numbered, 12, 12, {1, -3, 2}},  {numbered, 12, 16, {1, -3, -2}}, {numbered, 12, 9, {-1, 3, 2}},
                 {numbered, 12, 7, {-1, -2, 3}},  {numbered, 12, 1, {-1, 2, -3}}};
    for (int k = 0; k < 8; k++) {
        put32(numbered + 8, cases[k].frame);
        size_t n = gzip_spz(cases[k].records, cases[k].bytes, gz);
        rd_scene *s = NULL;
        if (CHECK_OK(rd_spz_decode(ctx, "gz.spz", gz, n, 0, &s))) {
            rd_scene_desc d = rd_scene_arrays(s);
            if (!CHECK(d.count == 1 && d.means[0] == cases[k].mean[0] && d.means[1] == cases[k].mean[1] && d.means[2] == cases[k].mean[2]))
                printf("  case %d: mean (%g, %g, %g)\n", k, d.means[0], d.means[1], d.means[2]);
        }
        rd_scene_destroy(s);
    }
    rd_scene *s = NULL;
    put32(rdf + 8, 99);
    size_t n = gzip_spz(rdf, 12, gz);
    CHECK(rd_spz_decode(ctx, "gz.spz", gz, n, 0, &s) == RD_ERROR_FORMAT && strstr(rd_last_error(ctx), "frame 99"));
    put32(rdf + 8, 6), put32(rdf + 4, 40);
    n = gzip_spz(rdf, 12, gz);
    CHECK(rd_spz_decode(ctx, "gz.spz", gz, n, 0, &s) == RD_ERROR_FORMAT && strstr(rd_last_error(ctx), "byte length 40"));
    put32(rdf + 4, 4);
    n = gzip_spz(rdf, 11, gz); /* a record cut short: 3 bytes left over */
    CHECK(rd_spz_decode(ctx, "gz.spz", gz, n, 0, &s) == RD_ERROR_FORMAT && strstr(rd_last_error(ctx), "byte length 4 runs past"));
    n = gzip_spz(rdf, 5, gz); /* fewer bytes than a type and a length */
    CHECK(rd_spz_decode(ctx, "gz.spz", gz, n, 0, &s) == RD_ERROR_FORMAT && strstr(rd_last_error(ctx), "5 bytes left over"));
    CHECK(s == NULL);
}

int main(void)
{
    test_rng r = {test_seed("frames")};
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    test_render_unchanged(&r);
    test_spz_frames(&r);
    test_gzip_records();
    rd_context_destroy(ctx);
    return test_finish("frames");
}
