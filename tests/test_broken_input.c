/* test_broken_input.c: every parser on broken input: truncated files, wrong property
   types, absurd counts, NaN and infinities, missing keys and missing images. Each must
   return the right rd_result with a message naming the file and the element, and
   nothing else: no crash (the sanitizer build runs this too), no half-built object. */
#include "test_util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static rd_context *ctx;
static const char *dir;

/* The call must fail with code and its message must contain every given fragment. */
static void expect(rd_result got, rd_result code, const char *fragment1, const char *fragment2, int line)
{
    char what[64];
    snprintf(what, sizeof what, "line %d", line);
    check_result_at(got, code, what, __FILE__, line);
    const char *msg = rd_last_error(ctx);
    bool ok = (!fragment1 || strstr(msg, fragment1)) && (!fragment2 || strstr(msg, fragment2));
    if (!check_at(ok, "message names the file and element", __FILE__, line)) fprintf(stderr, "  message: %s\n", msg);
}
#define EXPECT(call, code, f1, f2) expect((call), (code), (f1), (f2), __LINE__)

static rd_result load_scene_text(const char *name, const char *header, const void *body, size_t body_size)
{
    size_t n = strlen(header);
    char *buf = malloc(n + body_size + 1);
    memcpy(buf, header, n);
    if (body_size) memcpy(buf + n, body, body_size);
    const char *path = write_file(dir, name, buf, n + body_size);
    free(buf);
    rd_scene *s = (rd_scene *)0x1;
    rd_result r = rd_scene_load(ctx, path, &s);
    check_at(r != RD_OK ? s == NULL : true, "no scene on failure", __FILE__, __LINE__);
    rd_scene_destroy(r == RD_OK ? s : NULL);
    return r;
}

static const char *PLY14 =
    "ply\nformat binary_little_endian 1.0\nelement vertex %d\n"
    "property float x\nproperty float y\nproperty float z\nproperty float f_dc_0\nproperty float f_dc_1\n"
    "property float f_dc_2\nproperty float opacity\nproperty float scale_0\nproperty float scale_1\n"
    "property float scale_2\nproperty float rot_0\nproperty float rot_1\nproperty float rot_2\nproperty float rot_3\n"
    "end_header\n";

static void test_ply(void)
{
    char header[2048];
    float rows[3 * 14] = {0};
    snprintf(header, sizeof header, PLY14, 3);
    EXPECT(load_scene_text("ok.ply", header, rows, sizeof rows), RD_OK, NULL, NULL);
    /* truncated data */
    snprintf(header, sizeof header, PLY14, 10);
    EXPECT(load_scene_text("short.ply", header, rows, sizeof rows), RD_ERROR_FORMAT, "short.ply", "truncated");
    /* absurd and negative counts */
    EXPECT(load_scene_text("huge.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 99999999999999\nproperty float x\nend_header\n", rows, 8),
           RD_ERROR_FORMAT, "huge.ply", "vertex");
    EXPECT(load_scene_text("neg.ply", "ply\nformat binary_little_endian 1.0\nelement vertex -5\nend_header\n", NULL, 0),
           RD_ERROR_FORMAT, "neg.ply", "bad count");
    /* header cut short, no magic, empty, ascii */
    EXPECT(load_scene_text("cut.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 3\nproperty fl", NULL, 0),
           RD_ERROR_FORMAT, "cut.ply", "end_header");
    EXPECT(load_scene_text("junk.ply", "\x01\x02garbage", NULL, 0), RD_ERROR_FORMAT, "junk.ply", "unknown scene format");
    EXPECT(load_scene_text("empty.ply", "", NULL, 0), RD_ERROR_FORMAT, "empty.ply", NULL);
    EXPECT(load_scene_text("ascii.ply", "ply\nformat ascii 1.0\nelement vertex 1\nproperty float x\nend_header\n0\n", NULL, 0),
           RD_ERROR_UNSUPPORTED, "ascii.ply", "ascii");
    /* wrong property type, missing property, odd f_rest count, NaN */
    char typed[2048];
    snprintf(header, sizeof header, PLY14, 3);
    snprintf(typed, sizeof typed, "%s", header);
    char *p = strstr(typed, "property float opacity");
    memcpy(p, "property uchar opacity", 22);
    EXPECT(load_scene_text("typed.ply", typed, rows, sizeof rows), RD_ERROR_FORMAT, "typed.ply", "opacity has type uchar");
    char missing[2048];
    snprintf(missing, sizeof missing, "%s", header);
    p = strstr(missing, "property float rot_3\n");
    memmove(p, p + strlen("property float rot_3\n"), strlen(p + strlen("property float rot_3\n")) + 1);
    EXPECT(load_scene_text("missing.ply", missing, rows, sizeof rows), RD_ERROR_FORMAT, "missing.ply", "rot_3 is missing");
    char rest[4096];
    snprintf(rest, sizeof rest, "%s", header);
    p = strstr(rest, "end_header");
    strcpy(p, "property float f_rest_0\nproperty float f_rest_1\nend_header\n");
    EXPECT(load_scene_text("rest.ply", rest, rows, sizeof rows), RD_ERROR_FORMAT, "rest.ply", "2 f_rest");
    float nan_rows[3 * 14] = {0};
    nan_rows[14 + 7] = 0.0f / 0.0f;
    EXPECT(load_scene_text("nan.ply", header, nan_rows, sizeof nan_rows), RD_ERROR_FORMAT, "nan.ply", "vertex 1: property scale_0 is NaN");
    /* a compressed PLY missing most of its chunk properties */
    EXPECT(load_scene_text("chunk.ply", "ply\nformat binary_little_endian 1.0\nelement chunk 1\nproperty float min_x\nelement vertex 1\nproperty uint packed_position\nend_header\n", rows, 8),
           RD_ERROR_FORMAT, "chunk.ply", "element chunk: required property min_y is missing");
    EXPECT(load_scene_text("list.ply", "ply\nformat binary_little_endian 1.0\nelement vertex 1\nproperty list uchar int idx\nend_header\n", rows, 8),
           RD_ERROR_UNSUPPORTED, "list.ply", "list");
    EXPECT(load_scene_text("spz.spz", "NGSP\x04", NULL, 0), RD_ERROR_FORMAT, "spz.spz", "32-byte SPZ header");
    /* every truncation of a valid file fails cleanly */
    snprintf(header, sizeof header, PLY14, 3);
    size_t full = strlen(header) + sizeof rows;
    int clean = 0;
    for (size_t cut = 0; cut < full; cut += 7) {
        char *buf = malloc(full);
        memcpy(buf, header, strlen(header));
        memcpy(buf + strlen(header), rows, sizeof rows);
        const char *path = write_file(dir, "trunc.ply", buf, cut);
        free(buf);
        rd_scene *s = NULL;
        clean += rd_scene_load(ctx, path, &s) != RD_OK && s == NULL;
        rd_scene_destroy(s);
    }
    CHECK(clean == (int)((full + 6) / 7));
    EXPECT(rd_scene_load(ctx, dir, &(rd_scene *){NULL}), RD_ERROR_IO, "folder", NULL);
}

static rd_result load_dataset(const char *name, const char *text)
{
    const char *path = write_file(dir, name, text, strlen(text));
    rd_dataset *ds = (rd_dataset *)0x1;
    rd_result r = rd_dataset_load(ctx, path, &(rd_dataset_desc){.split = "all"}, &ds);
    check_at(r != RD_OK ? ds == NULL : true, "no dataset on failure", __FILE__, __LINE__);
    rd_dataset_destroy(r == RD_OK ? ds : NULL);
    return r;
}

static void test_transforms(void)
{
    /* an image for the frames to point at */
    rd_image img;
    rd_image_alloc(4, 4, 4, &img);
    memset(img.pixels, 0, 4 * 4 * 4 * sizeof(float));
    char png[512];
    snprintf(png, sizeof png, "%s/r_0.png", dir);
    CHECK_OK(rd_image_save(ctx, png, &img));
    rd_image_free(&img);
    const char *I = "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]";
    char text[2048];
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"frames\": [{\"file_path\": \"./r_0\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_ok.json", text), RD_OK, NULL, NULL);
    EXPECT(load_dataset("transforms_syntax.json", "{\"frames\": [\n{\"file_path\": \"r_0\",,}]}"), RD_ERROR_FORMAT, "transforms_syntax.json", "line 2");
    EXPECT(load_dataset("transforms_noframes.json", "{\"camera_angle_x\": 0.69}"), RD_ERROR_FORMAT, "transforms_noframes.json", "frames: missing");
    EXPECT(load_dataset("transforms_frames.json", "{\"frames\": 3}"), RD_ERROR_FORMAT, "transforms_frames.json", "frames: expected an array");
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"frames\": [{\"file_path\": \"./r_0\", \"transform_matrix\": %s}, "
                                "{\"file_path\": \"./r_0\", \"transform_matrix\": [[1,0,0,0],[0,1,0,0],[0,0,1,4]]}]}", I);
    EXPECT(load_dataset("transforms_3x4.json", text), RD_ERROR_FORMAT, "transforms_3x4.json", "frames[1].transform_matrix: expected 4x4 numbers");
    EXPECT(load_dataset("transforms_str.json", "{\"camera_angle_x\": 0.69, \"frames\": [{\"file_path\": \"r_0\", \"transform_matrix\": [[1,0,0,0],[0,\"a\",0,0],[0,0,1,4],[0,0,0,1]]}]}"),
           RD_ERROR_FORMAT, "frames[0].transform_matrix", "4x4");
    snprintf(text, sizeof text, "{\"camera_angle_x\": \"wide\", \"frames\": [{\"file_path\": \"r_0\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_type.json", text), RD_ERROR_FORMAT, "transforms_type.json", "camera_angle_x: expected a number");
    snprintf(text, sizeof text, "{\"camera_angle_x\": 1e999, \"frames\": [{\"file_path\": \"r_0\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_inf.json", text), RD_ERROR_FORMAT, "camera_angle_x", "finite");
    EXPECT(load_dataset("transforms_nan.json", "{\"camera_angle_x\": NaN, \"frames\": []}"), RD_ERROR_FORMAT, "transforms_nan.json", "invalid JSON");
    /* instant-ngp's aabb_scale: a power of two from 1 to 128 */
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"aabb_scale\": 3, \"frames\": [{\"file_path\": \"./r_0\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_aabb3.json", text), RD_ERROR_FORMAT, "transforms_aabb3.json", "aabb_scale: 3 is not a power of two");
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"aabb_scale\": 256, \"frames\": [{\"file_path\": \"./r_0\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_aabb256.json", text), RD_ERROR_FORMAT, "transforms_aabb256.json", "aabb_scale");
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"aabb_scale\": 16, \"frames\": [{\"file_path\": \"./r_0\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_aabb16.json", text), RD_OK, NULL, NULL);
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"frames\": [{\"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_nopath.json", text), RD_ERROR_FORMAT, "frames[0].file_path", NULL);
    snprintf(text, sizeof text, "{\"frames\": [{\"file_path\": \"r_0\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_nofocal.json", text), RD_ERROR_FORMAT, "transforms_nofocal.json", "focal");
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"frames\": [{\"file_path\": \"gone\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_gone.json", text), RD_ERROR_FORMAT, "no views", "missing");
    snprintf(text, sizeof text, "{\"fl_x\": 100, \"frames\": [{\"file_path\": \"r_0.png\", \"transform_matrix\": %s}, {\"file_path\": \"x.png\", \"transform_matrix\": %s}]}", I, I);
    const char *path = write_file(dir, "transforms.json", text, strlen(text));
    rd_dataset *ds;
    if (CHECK_OK(rd_dataset_load(ctx, path, &(rd_dataset_desc){.split = "all"}, &ds))) {
        CHECK(rd_dataset_view_count(ds) == 1 && rd_dataset_skipped(ds) == 1);
        CHECK(rd_dataset_view(ds, 0)->camera.width == 4); /* size from the image header */
        rd_dataset_destroy(ds);
    }
    /* instant-ngp's scale and offset place the unit cube, the box random points fill: 0.33 and
       0.5 unless said; a scale that is not positive, or an offset not of 3 numbers, refused */
    rd_train_set *set = NULL;
    float lo[3], hi[3];
    if (CHECK_OK(rd_train_set_load(ctx, path, &(rd_train_set_desc){.split = "all"}, &set))) {
        rd_train_set_box(set, lo, hi);
        CHECK(fabsf(lo[0] + 0.5f / 0.33f) < 1e-5f && fabsf(hi[2] - 0.5f / 0.33f) < 1e-5f);
        rd_train_set_destroy(set);
    }
    snprintf(text, sizeof text, "{\"fl_x\": 100, \"scale\": 0.5, \"offset\": [0.5, 0.25, 0.5], \"frames\": [{\"file_path\": \"r_0.png\", "
                                "\"transform_matrix\": %s}]}", I);
    if (CHECK_OK(rd_train_set_load(ctx, write_file(dir, "transforms.json", text, strlen(text)), &(rd_train_set_desc){.split = "all"}, &set))) {
        rd_train_set_box(set, lo, hi);
        CHECK(lo[0] == -1.0f && hi[0] == 1.0f && lo[1] == -0.5f && hi[1] == 1.5f && lo[2] == -1.0f && hi[2] == 1.0f);
        rd_train_set_destroy(set);
    }
    snprintf(text, sizeof text, "{\"fl_x\": 100, \"scale\": -1, \"frames\": [{\"file_path\": \"r_0.png\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("ngp_scale.json", text), RD_ERROR_FORMAT, "ngp_scale.json", "scale: -1 is not a positive number");
    snprintf(text, sizeof text, "{\"fl_x\": 100, \"offset\": [1, 2], \"frames\": [{\"file_path\": \"r_0.png\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("ngp_offset.json", text), RD_ERROR_FORMAT, "ngp_offset.json", "offset: expected 3 finite numbers");
    snprintf(text, sizeof text, "{\"fl_x\": 100, \"frames\": [{\"file_path\": \"r_0.png\", \"transform_matrix\": %s}, {\"file_path\": \"x.png\", \"transform_matrix\": %s}]}", I, I);
    write_file(dir, "transforms.json", text, strlen(text));
    /* D-NeRF's time: a number on every frame or on none */
    snprintf(text, sizeof text, "{\"fl_x\": 100, \"frames\": [{\"file_path\": \"r_0.png\", \"time\": 0, \"transform_matrix\": %s}, "
                                "{\"file_path\": \"r_0.png\", \"transform_matrix\": %s}]}", I, I);
    EXPECT(load_dataset("transforms_time_gap.json", text), RD_ERROR_FORMAT, "transforms_time_gap.json", "frames[1].time: missing");
    snprintf(text, sizeof text, "{\"fl_x\": 100, \"frames\": [{\"file_path\": \"r_0.png\", \"time\": \"soon\", \"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_time_text.json", text), RD_ERROR_FORMAT, "transforms_time_text.json", "frames[0].time: expected a finite number");
    /* image sizes are range-checked before they become integers (the fuzzer's 1e102) */
    snprintf(text, sizeof text, "{\"fl_x\": 100, \"w\": 1e102, \"h\": 4e9, \"frames\": [{\"file_path\": \"./r_0\", "
                                "\"transform_matrix\": %s}]}", I);
    EXPECT(load_dataset("transforms_huge.json", text), RD_ERROR_FORMAT, "transforms_huge.json", "out of range (1..65536)");
    /* poses that are not rigid transforms: named with the file, the view and the problem */
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"frames\": [{\"file_path\": \"./r_0\", \"transform_matrix\": "
                                "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,1,1]]}]}");
    EXPECT(load_dataset("transforms_lastrow.json", text), RD_ERROR_FORMAT, "transforms_lastrow.json", "frames[0].transform_matrix: the last row");
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"frames\": [{\"file_path\": \"./r_0\", \"transform_matrix\": "
                                "[[2,0,0,0],[0,2,0,0],[0,0,2,4],[0,0,0,1]]}]}");
    EXPECT(load_dataset("transforms_scaled.json", text), RD_ERROR_FORMAT, "transforms_scaled.json: camera r_0", "length 2");
    snprintf(text, sizeof text, "{\"camera_angle_x\": 0.69, \"frames\": [{\"file_path\": \"./r_0\", \"transform_matrix\": "
                                "[[1,0,0,0],[0,1,0,0],[0,0,-1,4],[0,0,0,1]]}]}");
    EXPECT(load_dataset("transforms_mirror.json", text), RD_ERROR_FORMAT, "transforms_mirror.json: camera r_0", "reflection");
    EXPECT(rd_dataset_load(ctx, path, &(rd_dataset_desc){.split = "bogus"}, &ds), RD_ERROR_INVALID_ARGUMENT, "bogus", NULL);
    EXPECT(rd_dataset_load(ctx, "/nonexistent", NULL, &ds), RD_ERROR_IO, "/nonexistent", NULL);
}

static void test_camera_list(void)
{
    const char *W = "[[1,0,0,0],[0,1,0,0],[0,0,1,0],[0,0,0,1]]";
    char text[1024];
    /* a camera list has cameras, not splits */
    EXPECT(load_dataset("cams_none.json", "{\"cameras\": []}"), RD_ERROR_FORMAT, "cams_none.json", "holds no cameras");
    CHECK(strstr(rd_last_error(ctx), "split") == NULL);
    /* the COLMAP model folder inside a dataset: the message gives the root to load */
    char model[1200], cmd[1400];
    snprintf(model, sizeof model, "%s/colmap_root/sparse/0", dir);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' '%s/colmap_root/images'", model, dir);
    CHECK(system(cmd) == 0);
    rd_dataset *none = NULL;
    EXPECT(rd_dataset_load(ctx, model, NULL, &none), RD_ERROR_INVALID_ARGUMENT, "give the dataset's root folder", "/colmap_root");
    CHECK(none == NULL);
    snprintf(text, sizeof text, "{\"cameras\": [{\"width\": 8, \"height\": 6, \"fx\": 5, \"fy\": 5, \"cx\": 4, \"cy\": 3, \"w2c\": %s}]}", W);
    EXPECT(load_dataset("cams_ok.json", text), RD_OK, NULL, NULL);
    /* cameras that cannot be rendered: the file, the camera and the problem */
    snprintf(text, sizeof text, "{\"cameras\": [{\"width\": 8, \"height\": 6, \"fx\": 5, \"fy\": 5, \"cx\": 4, \"cy\": 3, \"w2c\": %s},"
             "{\"width\": 8, \"height\": 6, \"fx\": 5, \"fy\": 5, \"cx\": 4, \"cy\": 3, \"w2c\": [[0,0,0,0],[0,0,0,0],[0,0,0,0],[0,0,0,0]]}]}", W);
    EXPECT(load_dataset("cams_zero.json", text), RD_ERROR_FORMAT, "cams_zero.json: camera 0001", "last row");
    snprintf(text, sizeof text, "{\"cameras\": [{\"width\": 8, \"height\": 6, \"fx\": 5, \"fy\": 5, \"cx\": 4, \"cy\": 3, "
             "\"w2c\": [[1,0,0,0],[0.5,1,0,0],[0,0,1,0],[0,0,0,1]]}]}");
    EXPECT(load_dataset("cams_skew.json", text), RD_ERROR_FORMAT, "cams_skew.json: camera 0000", "not perpendicular");
    snprintf(text, sizeof text, "{\"cameras\": [{\"width\": 8, \"height\": 6, \"fx\": 5, \"fy\": 5, \"cx\": 1e39, \"cy\": 3, \"w2c\": %s}]}", W);
    EXPECT(load_dataset("cams_cx.json", text), RD_ERROR_FORMAT, "cams_cx.json: camera 0000", "intrinsics");
    EXPECT(load_dataset("cams_type.json", "{\"cameras\": {}}"), RD_ERROR_FORMAT, "cams_type.json", "cameras: expected an array");
    snprintf(text, sizeof text, "{\"cameras\": [{\"width\": 8, \"height\": 6, \"fx\": 5, \"cx\": 4, \"cy\": 3, \"w2c\": %s}]}", W);
    EXPECT(load_dataset("cams_key.json", text), RD_ERROR_FORMAT, "cams_key.json", "cameras[0].fy: missing");
    snprintf(text, sizeof text, "{\"cameras\": [{\"width\": 0, \"height\": 6, \"fx\": 5, \"fy\": 5, \"cx\": 4, \"cy\": 3, \"w2c\": %s}]}", W);
    EXPECT(load_dataset("cams_zero.json", text), RD_ERROR_FORMAT, "cams_zero.json", "width");
    snprintf(text, sizeof text, "{\"cameras\": [{\"width\": 8, \"height\": 6, \"fx\": -5, \"fy\": 5, \"cx\": 4, \"cy\": 3, \"w2c\": %s}]}", W);
    EXPECT(load_dataset("cams_fx.json", text), RD_ERROR_FORMAT, "cameras[0]", "positive");
    EXPECT(load_dataset("cams_w2c.json", "{\"cameras\": [{\"width\": 8, \"height\": 6, \"fx\": 5, \"fy\": 5, \"cx\": 4, \"cy\": 3, \"w2c\": [1,2,3]}]}"),
           RD_ERROR_FORMAT, "cams_w2c.json", "cameras[0].w2c: expected 4x4");
    /* save, then load the same cameras back */
    rd_camera cams[2];
    float eye[3] = {1, 2, 3}, at[3] = {0, 0, 0}, up[3] = {0, 0, 1};
    cams[0] = rd_camera_look_at(eye, at, up, 64, 48, 50);
    cams[1] = rd_camera_look_at(at, eye, up, 32, 32, 70);
    char path[512];
    snprintf(path, sizeof path, "%s/saved.json", dir);
    CHECK_OK(rd_cameras_save(ctx, path, cams, 2));
    rd_dataset *ds;
    if (CHECK_OK(rd_dataset_load(ctx, path, NULL, &ds))) {
        CHECK(rd_dataset_view_count(ds) == 2 && strcmp(rd_dataset_kind(ds), "cameras") == 0);
        const rd_camera *c = &rd_dataset_view(ds, 1)->camera;
        CHECK(c->width == 32 && c->fx == cams[1].fx && memcmp(c->w2c, cams[1].w2c, sizeof c->w2c) == 0);
        CHECK(strcmp(rd_dataset_view(ds, 1)->name, "0001") == 0 && rd_dataset_view(ds, 1)->image_path == NULL);
        rd_dataset_destroy(ds);
    }
}

/* mkdir that accepts a folder already there (test_colmap's sweeps reuse theirs) */
static void make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) fprintf(stderr, "%s: %s\n", path, strerror(errno));
}

/* A COLMAP model folder with the given binary files. Its folders are made here, not by
   `mkdir -p` through system(): the sweeps below make one per truncation length, and in
   the sanitizer build each shell loads the preloaded runtime (0.15 s, 20 s in all). */
static const char *colmap_dir(const char *name, const void *cams, size_t ncams, const void *imgs, size_t nimgs)
{
    static char path[512];
    char folder[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    make_dir(path);
    snprintf(folder, sizeof folder, "%s/images", path);
    make_dir(folder);
    snprintf(folder, sizeof folder, "%s/sparse", path);
    make_dir(folder);
    snprintf(folder, sizeof folder, "%s/sparse/0", path);
    make_dir(folder);
    write_file(folder, "cameras.bin", cams, ncams);
    if (imgs) write_file(folder, "images.bin", imgs, nimgs);
    return path;
}

static size_t put(unsigned char *buf, size_t at, const void *v, size_t n)
{
    memcpy(buf + at, v, n);
    return at + n;
}

static void check_colmap_lenses(const char *tdir, const char *sparse);

static void test_colmap(void)
{
    unsigned char cams[256], imgs[256];
    uint64_t one = 1, w = 64, h = 48, zero = 0;
    int32_t id = 1, pinhole = 1;
    double params[4] = {50, 50, 32, 24};
    size_t nc = 0;
    nc = put(cams, nc, &one, 8);
    nc = put(cams, nc, &id, 4);
    nc = put(cams, nc, &pinhole, 4);
    nc = put(cams, nc, &w, 8);
    nc = put(cams, nc, &h, 8);
    nc = put(cams, nc, params, 32);
    size_t ni = 0;
    uint32_t image_id = 1, cam_id = 1;
    double q[4] = {1, 0, 0, 0}, t[3] = {0, 0, 0};
    ni = put(imgs, ni, &one, 8);
    ni = put(imgs, ni, &image_id, 4);
    ni = put(imgs, ni, q, 32);
    ni = put(imgs, ni, t, 24);
    ni = put(imgs, ni, &cam_id, 4);
    ni = put(imgs, ni, "a.png", 6);
    ni = put(imgs, ni, &zero, 8);
    rd_dataset *ds;
    const char *ok = colmap_dir("colmap_ok", cams, nc, imgs, ni);
    /* a.png is missing: no views */
    EXPECT(rd_dataset_load(ctx, ok, &(rd_dataset_desc){.split = "all"}, &ds), RD_ERROR_FORMAT, "no views", "missing");

    /* truncated cameras.bin at every length */
    int clean = 0;
    for (size_t cut = 0; cut < nc; cut++) {
        const char *d = colmap_dir("colmap_cut", cams, cut, imgs, ni);
        rd_dataset *x = NULL;
        clean += rd_dataset_load(ctx, d, &(rd_dataset_desc){.split = "all"}, &x) != RD_OK && x == NULL;
    }
    CHECK(clean == (int)nc);
    EXPECT(rd_dataset_load(ctx, colmap_dir("colmap_cut", cams, nc - 3, imgs, ni), NULL, &ds), RD_ERROR_FORMAT, "cameras.bin", "camera 1: truncated");
    /* truncated images.bin at every length */
    clean = 0;
    for (size_t cut = 0; cut < ni; cut++) {
        const char *d = colmap_dir("colmap_icut", cams, nc, imgs, cut);
        rd_dataset *x = NULL;
        clean += rd_dataset_load(ctx, d, &(rd_dataset_desc){.split = "all"}, &x) != RD_OK && x == NULL;
    }
    CHECK(clean == (int)ni);
    /* absurd counts */
    unsigned char absurd[256];
    memcpy(absurd, cams, nc);
    uint64_t huge = UINT64_MAX;
    memcpy(absurd, &huge, 8);
    EXPECT(rd_dataset_load(ctx, colmap_dir("colmap_huge", absurd, nc, imgs, ni), NULL, &ds), RD_ERROR_FORMAT, "cameras.bin", "camera count");
    /* unknown model, missing images.bin, image pointing at a missing camera */
    memcpy(absurd, cams, nc);
    int32_t bad_model = 99;
    memcpy(absurd + 12, &bad_model, 4);
    EXPECT(rd_dataset_load(ctx, colmap_dir("colmap_model", absurd, nc, imgs, ni), NULL, &ds), RD_ERROR_FORMAT, "cameras.bin", "unknown model id 99");
    EXPECT(rd_dataset_load(ctx, colmap_dir("colmap_noimages", cams, nc, NULL, 0), NULL, &ds), RD_ERROR_IO, "images.bin", NULL);
    unsigned char bad_imgs[256];
    memcpy(bad_imgs, imgs, ni);
    uint32_t missing_cam = 7;
    memcpy(bad_imgs + 8 + 4 + 56, &missing_cam, 4);
    EXPECT(rd_dataset_load(ctx, colmap_dir("colmap_cam", cams, nc, bad_imgs, ni), &(rd_dataset_desc){.split = "all"}, &ds),
           RD_ERROR_FORMAT, "image a.png", "camera 7");
    /* text files */
    const char *tdir = colmap_dir("colmap_txt", "", 0, NULL, 0);
    char sparse[512];
    snprintf(sparse, sizeof sparse, "%s/sparse/0", tdir);
    char rm[600];
    snprintf(rm, sizeof rm, "rm -f '%s/cameras.bin'", sparse);
    CHECK(system(rm) == 0);
    const char *cams_txt = "# Camera list\n1 PINHOLE 64 48 50 50 32 24\n2 SIMPLE_PINHOLE 32 32 40 16 16\n";
    const char *imgs_txt = "# Image list\n1 1 0 0 0 0 0 1 1 b.png\n\n2 0.7071068 0 0.7071068 0 1 0 0 2 a.png\n10 20 -1\n";
    const char *pts_txt = "# points\n1 0.5 0.25 3 255 0 128 0.5 1 0\n";
    write_file(sparse, "cameras.txt", cams_txt, strlen(cams_txt));
    write_file(sparse, "images.txt", imgs_txt, strlen(imgs_txt));
    write_file(sparse, "points3D.txt", pts_txt, strlen(pts_txt));
    rd_image img;
    rd_image_alloc(64, 48, 3, &img);
    memset(img.pixels, 0, 64 * 48 * 3 * sizeof(float));
    char ipath[600];
    snprintf(ipath, sizeof ipath, "%s/images/a.png", tdir);
    rd_image_save(ctx, ipath, &img);
    snprintf(ipath, sizeof ipath, "%s/images/b.png", tdir);
    rd_image_save(ctx, ipath, &img);
    rd_image_free(&img);
    if (CHECK_OK(rd_dataset_load(ctx, tdir, &(rd_dataset_desc){.split = "all"}, &ds))) {
        CHECK(rd_dataset_view_count(ds) == 2);
        const rd_view *a = rd_dataset_view(ds, 0); /* sorted by name */
        CHECK(strcmp(a->name, "a") == 0 && a->camera.width == 32 && a->camera.fx == 40 && a->camera.cx == 16);
        CHECK(fabsf(a->camera.w2c[2] - 1.0f) < 1e-5f && a->camera.w2c[3] == 1.0f); /* 90 degrees about y, t = (1,0,0) */
        const float *xyz, *rgb;
        CHECK(rd_dataset_points(ds, &xyz, &rgb) == 1 && xyz[1] == 0.25f && rgb[0] == 1.0f);
        rd_dataset_destroy(ds);
    }
    const char *bad_txt = "1 PINHOLE 64 48 50 50\n";
    write_file(sparse, "cameras.txt", bad_txt, strlen(bad_txt));
    EXPECT(rd_dataset_load(ctx, tdir, NULL, &ds), RD_ERROR_FORMAT, "cameras.txt", "PINHOLE needs 4 params");
    check_colmap_lenses(tdir, sparse);
    /* cameras are found by id (a sorted index): listed out of order they still match, and
       an id twice is an error */
    const char *reversed = "2 SIMPLE_PINHOLE 32 32 40 16 16\n1 PINHOLE 64 48 50 50 32 24\n";
    write_file(sparse, "cameras.txt", reversed, strlen(reversed));
    if (CHECK_OK(rd_dataset_load(ctx, tdir, &(rd_dataset_desc){.split = "all"}, &ds))) {
        CHECK(rd_dataset_view(ds, 0)->camera.width == 32 && rd_dataset_view(ds, 1)->camera.width == 64);
        rd_dataset_destroy(ds);
    }
    const char *twice = "1 PINHOLE 64 48 50 50 32 24\n2 SIMPLE_PINHOLE 32 32 40 16 16\n1 PINHOLE 8 8 5 5 4 4\n";
    write_file(sparse, "cameras.txt", twice, strlen(twice));
    EXPECT(rd_dataset_load(ctx, tdir, &(rd_dataset_desc){.split = "all"}, &ds), RD_ERROR_FORMAT, "cameras", "camera id 1 appears twice");
}

/* COLMAP's lens models in COLMAP's parameter order: SIMPLE_RADIAL, RADIAL, OPENCV and
   OPENCV_FISHEYE load with their distortion, and a training set undistorts their photos
   (camera 1's k1 0.1 pushes the corners out of the photo: transparent); FULL_OPENCV is
   refused by name, a NaN coefficient as not finite. The folder's images are a.png (camera
   2) and b.png (camera 1), both 64x48. */
static void check_colmap_lenses(const char *tdir, const char *sparse)
{
    rd_dataset *ds = NULL;
    const char *lenses[2] = {"1 SIMPLE_RADIAL 64 48 50 32 24 0.1\n2 OPENCV 64 48 40 41 16 17 0.01 -0.02 0.003 -0.004\n",
                             "1 RADIAL 64 48 50 32 24 0.1 0.2\n2 OPENCV_FISHEYE 64 48 40 41 16 17 0.1 0.2 0.3 0.4\n"};
    const rd_distortion want_b[2] = {{RD_DISTORTION_OPENCV, 0.1f, 0, 0, 0, 0, 0}, {RD_DISTORTION_OPENCV, 0.1f, 0.2f, 0, 0, 0, 0}};
    const rd_distortion want_a[2] = {{RD_DISTORTION_OPENCV, 0.01f, -0.02f, 0, 0, 0.003f, -0.004f},
                                     {RD_DISTORTION_OPENCV_FISHEYE, 0.1f, 0.2f, 0.3f, 0.4f, 0, 0}};
    for (int k = 0; k < 2; k++) {
        write_file(sparse, "cameras.txt", lenses[k], strlen(lenses[k]));
        if (!CHECK_OK(rd_dataset_load(ctx, tdir, &(rd_dataset_desc){.split = "all"}, &ds))) continue;
        const rd_camera *a = &rd_dataset_view(ds, 0)->camera, *b = &rd_dataset_view(ds, 1)->camera;
        CHECK(a->fx == 40 && a->fy == 41 && a->cx == 16 && a->cy == 17 && memcmp(&a->distortion, &want_a[k], sizeof want_a[k]) == 0);
        CHECK(b->fx == 50 && b->fy == 50 && b->cx == 32 && b->cy == 24 && memcmp(&b->distortion, &want_b[k], sizeof want_b[k]) == 0);
        rd_dataset_destroy(ds);
    }
    write_file(sparse, "cameras.txt", lenses[0], strlen(lenses[0]));
    rd_train_set *set = NULL;
    if (CHECK_OK(rd_train_set_load(ctx, tdir, &(rd_train_set_desc){.split = "all"}, &set))) {
        const rd_train_view *b = &rd_train_set_views(set)[1];
        CHECK(b->camera.distortion.model == RD_DISTORTION_NONE && b->image->channels == 4);
        CHECK(b->image->pixels[3] == 0.0f && b->image->pixels[4 * (24 * 64 + 32) + 3] == 1.0f); /* a corner, the centre */
        rd_train_set_destroy(set);
    }
    /* a photo whose size is not its camera's fails the training set, naming the photo */
    const char *small = "1 PINHOLE 64 48 50 50 32 24\n2 PINHOLE 32 32 40 40 16 16\n";
    write_file(sparse, "cameras.txt", small, strlen(small));
    set = (rd_train_set *)0x1;
    EXPECT(rd_train_set_load(ctx, tdir, &(rd_train_set_desc){.split = "all"}, &set), RD_ERROR_FORMAT, "a.png", "the image is 64x48, its camera 32x32");
    CHECK(set == NULL);
    const char *full = "1 FULL_OPENCV 64 48 50 50 32 24 0 0 0 0 0 0 0 0\n2 PINHOLE 32 32 40 40 16 16\n";
    write_file(sparse, "cameras.txt", full, strlen(full));
    EXPECT(rd_dataset_load(ctx, tdir, &(rd_dataset_desc){.split = "all"}, &ds), RD_ERROR_UNSUPPORTED, "camera 1", "FULL_OPENCV");
    const char *nan_k = "1 SIMPLE_RADIAL 64 48 50 32 24 nan\n2 PINHOLE 32 32 40 40 16 16\n";
    write_file(sparse, "cameras.txt", nan_k, strlen(nan_k));
    EXPECT(rd_dataset_load(ctx, tdir, &(rd_dataset_desc){.split = "all"}, &ds), RD_ERROR_FORMAT, "camera 1", "not finite");
}

static void test_npy(void)
{
    char sub[512];
    snprintf(sub, sizeof sub, "%s/llff", dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sub);
    CHECK(system(cmd) == 0);
    /* a valid v1 header padded to 128 bytes, then 2 rows */
    char header[128];
    const char *dict = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 17), }";
    int hl = 128 - 10;
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    header[8] = (char)hl;
    header[9] = 0;
    memset(header + 10, ' ', (size_t)hl);
    memcpy(header + 10, dict, strlen(dict));
    header[127] = '\n';
    double rows[34] = {0};
    for (int r = 0; r < 2; r++) {
        double *m = rows + 17 * r;
        m[1] = 1; m[5] = 1; m[12] = -1; /* R columns: down = y, right = x, back = -z (a rotation) */
        m[4] = 378; m[9] = 504; m[14] = 400; m[15] = 1; m[16] = 10;
    }
    unsigned char file[128 + sizeof rows];
    memcpy(file, header, 128);
    memcpy(file + 128, rows, sizeof rows);
    rd_dataset *ds;
    const char *path = write_file(sub, "poses_bounds.npy", file, sizeof file);
    if (CHECK_OK(rd_dataset_load(ctx, path, &(rd_dataset_desc){.split = "all"}, &ds))) {
        CHECK(rd_dataset_view_count(ds) == 2 && rd_dataset_view(ds, 0)->camera.fx == 400.0f);
        rd_dataset_destroy(ds);
    }
    /* truncated at every length */
    int clean = 0;
    for (size_t cut = 0; cut < sizeof file; cut += 5) {
        path = write_file(sub, "poses_bounds.npy", file, cut);
        rd_dataset *x = NULL;
        clean += rd_dataset_load(ctx, path, NULL, &x) != RD_OK && x == NULL;
    }
    CHECK(clean == (int)((sizeof file + 4) / 5));
    unsigned char bad[sizeof file];
    memcpy(bad, file, sizeof file);
    memcpy(bad + 10 + 11, "<f4", 3);
    EXPECT(rd_dataset_load(ctx, write_file(sub, "poses_bounds.npy", bad, sizeof bad), NULL, &ds), RD_ERROR_FORMAT, "poses_bounds.npy", "descr");
    memcpy(bad, file, sizeof file);
    memcpy(strstr((char *)bad + 10, "(2, 17)"), "(9, 17)", 7);
    EXPECT(rd_dataset_load(ctx, write_file(sub, "poses_bounds.npy", bad, sizeof bad), NULL, &ds), RD_ERROR_FORMAT, "shape", "truncated");
    memcpy(bad, file, sizeof file);
    memcpy(strstr((char *)bad + 10, "(2, 17)"), "(2, 15)", 7);
    EXPECT(rd_dataset_load(ctx, write_file(sub, "poses_bounds.npy", bad, sizeof bad), NULL, &ds), RD_ERROR_FORMAT, "shape", "(N, 17)");
    memcpy(bad, file, sizeof file);
    bad[0] = 'X';
    EXPECT(rd_dataset_load(ctx, write_file(sub, "poses_bounds.npy", bad, sizeof bad), NULL, &ds), RD_ERROR_FORMAT, "poses_bounds.npy", "magic");
    memcpy(bad, file, sizeof file);
    double nan = 0.0 / 0.0;
    memcpy(bad + 128 + 8 * 20, &nan, 8);
    EXPECT(rd_dataset_load(ctx, write_file(sub, "poses_bounds.npy", bad, sizeof bad), &(rd_dataset_desc){.split = "all"}, &ds),
           RD_ERROR_FORMAT, "row 1", "not finite");
}

static void test_images(void)
{
    rd_image img;
    char png[1024];
    snprintf(png, sizeof png, "%s", write_file(dir, "broken.png", "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDRgarbage", 24));
    EXPECT(rd_image_load(ctx, png, &img), RD_ERROR_FORMAT, "broken.png", NULL);
    CHECK(img.pixels == NULL);
    EXPECT(rd_image_load(ctx, "/nonexistent/x.png", &img), RD_ERROR_IO, "/nonexistent/x.png", NULL);
    const char *exr = write_file(dir, "broken.exr", "\x76\x2f\x31\x01\x02\0\0\0channels", 16);
    EXPECT(rd_image_load(ctx, exr, &img), RD_ERROR_FORMAT, "broken.exr", NULL);
    int w, h;
    EXPECT(rd_image_size(ctx, png, &w, &h), RD_ERROR_FORMAT, "broken.png", NULL);
}

/* ---- splat formats: files written by radiant, then broken ---- */

static unsigned char *read_all(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*size ? *size : 1);
    if (fread(b, 1, *size, f) != *size) *size = 0;
    fclose(f);
    return b;
}

static void put32(unsigned char *p, uint32_t v) { for (int b = 0; b < 4; b++) p[b] = (unsigned char)(v >> (8 * b)); }
static void put64(unsigned char *p, uint64_t v) { put32(p, (uint32_t)v), put32(p + 4, (uint32_t)(v >> 32)); }

static rd_result load_bytes(const char *name, const void *bytes, size_t n) { return load_scene_text(name, "", bytes, n); }

/* Every cut (in `step`s) of a valid file must fail cleanly, never load half a scene. */
static void truncation_sweep(const char *name, const unsigned char *bytes, size_t n, size_t step, int line)
{
    int clean = 0, cuts = 0;
    for (size_t cut = 0; cut < n; cut += step, cuts++) {
        rd_scene *s = NULL;
        rd_result r = rd_scene_load(ctx, write_file(dir, name, bytes, cut), &s);
        clean += r != RD_OK && s == NULL;
        rd_scene_destroy(s);
    }
    check_at(clean == cuts, "every truncation fails cleanly", __FILE__, line);
}

static rd_scene *small_scene(int degree)
{
    float means[3 * 300], scales[3 * 300], rots[4 * 300], opac[300], sh[300 * 16 * 3];
    for (int i = 0; i < 300; i++) {
        for (int a = 0; a < 3; a++) means[3 * i + a] = (float)(i % 7) * 0.1f * (float)(a + 1), scales[3 * i + a] = -3.0f;
        rots[4 * i] = 1.0f, rots[4 * i + 1] = rots[4 * i + 2] = rots[4 * i + 3] = 0.0f;
        opac[i] = 0.5f;
    }
    for (size_t k = 0; k < sizeof sh / sizeof sh[0]; k++) sh[k] = 0.1f;
    rd_scene *s = NULL;
    rd_scene_create(ctx, &(rd_scene_desc){.count = 300, .sh_degree = degree, .means = means, .log_scales = scales,
                                          .rotations = rots, .opacities = opac, .sh = sh}, &s);
    return s;
}

static void test_spz(void)
{
    rd_scene *s = small_scene(1);
    char path[1024];
    snprintf(path, sizeof path, "%s/good.spz", dir);
    CHECK_OK(rd_scene_save(ctx, s, path, NULL));
    size_t n = 0;
    unsigned char *good = read_all(path, &n), *bad = malloc(n + 64);
    truncation_sweep("cut.spz", good, n, 3, __LINE__);
    size_t toc = good[16] | (size_t)good[17] << 8; /* after the coordinate-system record */
#define BROKEN(name, edit, code, f1, f2) \
    do { memcpy(bad, good, n); edit; EXPECT(load_bytes(name, bad, n), code, f1, f2); } while (0)
    BROKEN("magic.spz", bad[0] = 'X', RD_ERROR_FORMAT, "magic.spz", "bad magic");
    BROKEN("version.spz", put32(bad + 4, 5), RD_ERROR_UNSUPPORTED, "version.spz", "version 5");
    BROKEN("points.spz", put32(bad + 8, 0x7fffffff), RD_ERROR_FORMAT, "points.spz", "numPoints");
    BROKEN("count.spz", put32(bad + 8, 299), RD_ERROR_FORMAT, "count.spz", "stream 0 (positions)");
    BROKEN("degree.spz", bad[12] = 9, RD_ERROR_FORMAT, "degree.spz", "shDegree 9");
    BROKEN("bits.spz", bad[13] = 40, RD_ERROR_FORMAT, "bits.spz", "fractionalBits 40");
    BROKEN("streams.spz", bad[15] = 5, RD_ERROR_FORMAT, "streams.spz", "numStreams 5");
    BROKEN("toc.spz", put32(bad + 16, (uint32_t)n), RD_ERROR_FORMAT, "toc.spz", "tocByteOffset");
    BROKEN("stream.spz", put64(bad + toc + 16 * 2, n), RD_ERROR_FORMAT, "stream.spz", "stream 2 (colours): table says");
    BROKEN("zstd.spz", bad[toc + 16 * 6 + 4] ^= 0xff, RD_ERROR_FORMAT, "zstd.spz", "ZSTD");
    BROKEN("frame.spz", put32(bad + 40, 17), RD_ERROR_FORMAT, "frame.spz", "coordinate-system record (0xADBE0003): frame 17");
    BROKEN("record.spz", put32(bad + 36, 9), RD_ERROR_FORMAT, "record.spz", "byte length 9");
    /* a bomb: 50M points whose tiny streams claim the matching sizes */
    BROKEN("bomb.spz", (put32(bad + 8, 50000000), put64(bad + toc + 8, 450000000ull), put64(bad + toc + 24, 50000000ull),
                        put64(bad + toc + 40, 150000000ull), put64(bad + toc + 56, 150000000ull), put64(bad + toc + 72, 200000000ull),
                        put64(bad + toc + 88, 450000000ull)), RD_ERROR_LIMIT, "bomb.spz", "decode limit");
    /* legacy gzip: a stored deflate block around a v2 header that claims too many points */
    unsigned char gz[18 + 5 + 16] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 16, 0, 0xef, 0xff};
    memcpy(gz + 15, "NGSP", 4);
    put32(gz + 19, 2), put32(gz + 23, 1000);
    put32(gz + 31, 0), put32(gz + 35, 16);
    EXPECT(load_bytes("legacy.spz", gz, sizeof gz), RD_ERROR_FORMAT, "legacy.spz", "0 bytes after the header, 19000 expected");
    put32(gz + 19, 1);
    EXPECT(load_bytes("v1.spz", gz, sizeof gz), RD_ERROR_UNSUPPORTED, "v1.spz", "version 1");
    put32(gz + 35, 0x7fffffff);
    EXPECT(load_bytes("gzbomb.spz", gz, sizeof gz), RD_ERROR_FORMAT, "gzbomb.spz", "decompression bomb");
    EXPECT(load_bytes("gzcut.spz", gz, 20), RD_ERROR_FORMAT, "gzcut.spz", "gzip");
#undef BROKEN
    free(good);
    free(bad);
    rd_scene_destroy(s);
}

static void test_splat_and_compressed_ply(void)
{
    rd_scene *s = small_scene(2);
    const char *names[2] = {"good.splat", "good.compressed.ply"};
    for (int f = 0; f < 2; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        CHECK_OK(rd_scene_save(ctx, s, path, NULL));
        size_t n = 0;
        unsigned char *good = read_all(path, &n);
        if (f == 0) {
            EXPECT(load_bytes("odd.splat", good, n - 5), RD_ERROR_FORMAT, "odd.splat", "whole number");
            float nan = 0.0f / 0.0f;
            memcpy(good + 32 * 7 + 4, &nan, 4);
            EXPECT(load_bytes("nan.splat", good, n), RD_ERROR_FORMAT, "nan.splat", "record 7: position 1");
        } else {
            truncation_sweep("cut.compressed.ply", good, n, 5, __LINE__);
            char *text = (char *)good;
            memcpy(strstr(text, "element chunk 2"), "element chunk 3", 15);
            EXPECT(load_bytes("chunks.compressed.ply", good, n), RD_ERROR_FORMAT, "chunks.compressed.ply", "element chunk");
            memcpy(strstr(text, "element chunk 3"), "element chunk 2", 15);
            memcpy(strstr(text, "uint packed_color"), "int  packed_color", 17);
            EXPECT(load_bytes("type.compressed.ply", good, n), RD_ERROR_FORMAT, "type.compressed.ply", "packed_color has type int");
        }
        free(good);
    }
    rd_scene_destroy(s);
}

/* A .ksplat of 4 splats in one section. Level 1: no SH, one full bucket at the origin.
   Level 2: SH degree 1 as bytes, one full bucket of 2 at the origin and one partial
   bucket of 2 centred at (5, 5, 5). */
static size_t ksplat_file(unsigned char *b, int level)
{
    int sh = level == 2 ? 9 : 0, record = 24 + sh, buckets = level == 2 ? 2 : 1, partial = level == 2 ? 1 : 0;
    size_t header = 4096 + 1024, meta = 4 * (size_t)partial, centres = 12 * (size_t)buckets;
    size_t size = header + meta + centres + 4 * (size_t)record;
    memset(b, 0, size);
    b[1] = 1;
    put32(b + 4, 1), put32(b + 16, 4), b[20] = (unsigned char)level;
    unsigned char *sec = b + 4096;
    put32(sec, 4), put32(sec + 4, 4), put32(sec + 8, level == 2 ? 2 : 4), put32(sec + 12, (uint32_t)buckets);
    float block = 10.0f, five = 5.0f;
    memcpy(sec + 16, &block, 4);
    sec[20] = 12, put32(sec + 24, 32767), put32(sec + 32, 1), put32(sec + 36, (uint32_t)partial), sec[40] = level == 2;
    if (partial) put32(b + header, 2);
    for (int c = 0; c < 3 && level == 2; c++) memcpy(b + header + meta + 12 + 4 * c, &five, 4);
    for (int i = 0; i < 4; i++) {
        unsigned char *p = b + header + meta + centres + (size_t)record * i;
        for (int c = 0; c < 3; c++) p[2 * c] = 0xff, p[2 * c + 1] = 0x7f, p[6 + 2 * c] = 0x66, p[6 + 2 * c + 1] = 0x2e; /* 0.1 */
        p[13] = 0x3c;                                                                                             /* w = 1 */
        p[20] = p[21] = p[22] = 128, p[23] = 200;
        for (int v = 0; v < sh; v++) p[24 + v] = (unsigned char)(v * 30);
    }
    return size;
}

static void test_ksplat(void)
{
    static unsigned char good[8192], bad[8192];
    size_t n = ksplat_file(good, 2);
    rd_scene *s = NULL;
    /* level 2: positions from the right bucket (the partial one at 5, 5, 5), SH bytes
       spread over [-1.5, 1.5], value v of the degree-1 band being channel v / 3,
       coefficient 1 + v % 3 */
    if (CHECK_OK(rd_scene_load(ctx, write_file(dir, "sh.ksplat", good, n), &s))) {
        rd_scene_desc d = rd_scene_arrays(s);
        CHECK(d.count == 4 && d.sh_degree == 1 && fabsf(d.means[3]) < 1e-3f && fabsf(d.means[6] - 5.0f) < 1e-3f &&
              fabsf(d.means[11] - 5.0f) < 1e-3f && fabsf(d.log_scales[0] - logf(0.1f)) < 1e-3f);
        int worst = 0;
        for (int v = 0; v < 9; v++) {
            float want = -1.5f + (float)(v * 30) / 255.0f * 3.0f, got = d.sh[12 * 2 + 3 * (1 + v % 3) + v / 3];
            worst += fabsf(got - want) > 1e-5f;
        }
        CHECK(worst == 0);
    }
    rd_scene_destroy(s);
    n = ksplat_file(good, 1);
    CHECK_OK(rd_scene_load(ctx, write_file(dir, "good.ksplat", good, n), &s));
    rd_scene_desc d = rd_scene_arrays(s);
    CHECK(d.count == 4 && fabsf(d.means[0]) < 1e-3f && fabsf(d.log_scales[0] - logf(0.1f)) < 1e-3f);
    rd_scene_destroy(s);
    truncation_sweep("cut.ksplat", good, n, 11, __LINE__);
#define BROKEN(name, edit, code, f1, f2) \
    do { memcpy(bad, good, n); edit; EXPECT(load_bytes(name, bad, n), code, f1, f2); } while (0)
    BROKEN("version.ksplat", bad[1] = 0, RD_ERROR_UNSUPPORTED, "version.ksplat", "version 0.0");
    BROKEN("level.ksplat", bad[20] = 3, RD_ERROR_FORMAT, "level.ksplat", "compressionLevel 3");
    BROKEN("sections.ksplat", put32(bad + 4, 1000), RD_ERROR_FORMAT, "sections.ksplat", "maxSections");
    BROKEN("total.ksplat", put32(bad + 16, 5), RD_ERROR_FORMAT, "total.ksplat", "splatCount 5");
    BROKEN("capacity.ksplat", put32(bad + 4096, 9), RD_ERROR_FORMAT, "capacity.ksplat", "section 0");
    BROKEN("buckets.ksplat", put32(bad + 4096 + 32, 7), RD_ERROR_FORMAT, "buckets.ksplat", "bucket table");
    BROKEN("shdeg.ksplat", bad[4096 + 40] = 7, RD_ERROR_FORMAT, "shdeg.ksplat", "shDegree 7");
#undef BROKEN
}

/* Panoptic's meta files: tables that disagree on their timesteps or cameras, a skewed
   intrinsics matrix, an image name that climbs out of ims/; each named with its file. */
static void test_panoptic(void)
{
    char folder[4096], path[4200];
    snprintf(folder, sizeof folder, "%s/panoptic", dir);
    mkdir(folder, 0700);
    static const char *const K = "[[500,0,320],[0,500,180],[0,0,1]]", *const I = "[[1,0,0,0],[0,1,0,0],[0,0,1,4],[0,0,0,1]]";
    char good[1024], text[2048];
    snprintf(good, sizeof good, "{\"w\": 640, \"h\": 360, \"k\": [[%s]], \"w2c\": [[%s]], \"fn\": [[\"0/000000.jpg\"]], \"cam_id\": [[0]]}", K, I);
    snprintf(path, sizeof path, "%s/test_meta.json", folder);
    write_file(folder, "test_meta.json", good, strlen(good));
    struct { const char *what, *needle; } cases[] = {
        {"two cameras in fn, one in k", "k[0]: a different count of cameras where fn[0] lists 2"},
        {"two timesteps in fn, one in w2c", "w2c: 1 timesteps where fn has 2"},
        {"a skewed k", "k[0][0]: not a pinhole intrinsics matrix"},
        {"a name out of ims/", "fn[0][0]: expected an image name under ims/"},
    };
    for (int c = 0; c < 4; c++) {
        if (c == 0)
            snprintf(text, sizeof text, "{\"w\": 640, \"h\": 360, \"k\": [[%s]], \"w2c\": [[%s, %s]], \"fn\": [[\"0/a.jpg\", \"1/a.jpg\"]], "
                                        "\"cam_id\": [[0, 1]]}", K, I, I);
        else if (c == 1)
            snprintf(text, sizeof text, "{\"w\": 640, \"h\": 360, \"k\": [[%s], [%s]], \"w2c\": [[%s]], \"fn\": [[\"0/a.jpg\"], [\"0/b.jpg\"]], "
                                        "\"cam_id\": [[0], [0]]}", K, K, I);
        else if (c == 2)
            snprintf(text, sizeof text, "{\"w\": 640, \"h\": 360, \"k\": [[[[500,3,320],[0,500,180],[0,0,1]]]], \"w2c\": [[%s]], "
                                        "\"fn\": [[\"0/a.jpg\"]], \"cam_id\": [[0]]}", I);
        else
            snprintf(text, sizeof text, "{\"w\": 640, \"h\": 360, \"k\": [[%s]], \"w2c\": [[%s]], \"fn\": [[\"../../etc/passwd\"]], "
                                        "\"cam_id\": [[0]]}", K, I);
        write_file(folder, "train_meta.json", text, strlen(text));
        rd_dataset *ds = NULL;
        EXPECT(rd_dataset_load(ctx, folder, &(rd_dataset_desc){.split = "train"}, &ds), RD_ERROR_FORMAT, "train_meta.json", cases[c].needle);
        CHECK(ds == NULL);
    }
}

int main(void)
{
    dir = test_temp_dir("broken");
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    test_ply();
    test_transforms();
    test_camera_list();
    test_colmap();
    test_npy();
    test_images();
    test_spz();
    test_splat_and_compressed_ply();
    test_ksplat();
    test_panoptic();
    rd_context_destroy(ctx);
    return test_finish("broken_input");
}
