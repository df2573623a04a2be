/* test_loaders.c: every loader on the real files in shared/data (RADIANT_DATA): Blender
   lego, instant-ngp fox, the COLMAP set (undistorted and distorted), LLFF fern, the donut
   PLY, EXR, PNG and JPEG. Skips, saying so, when the data is absent. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static rd_context *ctx;
static const char *data;

static const char *data_path(const char *rel)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", data, rel);
    return path;
}

/* Projects a world point with a camera: returns view z and pixel coordinates. */
static float project(const rd_camera *c, const float p[3], float *u, float *v)
{
    float t[3];
    for (int r = 0; r < 3; r++) t[r] = c->w2c[4 * r] * p[0] + c->w2c[4 * r + 1] * p[1] + c->w2c[4 * r + 2] * p[2] + c->w2c[4 * r + 3];
    *u = c->fx * t[0] / t[2] + c->cx;
    *v = c->fy * t[1] / t[2] + c->cy;
    return t[2];
}

static void forward_axis(const rd_camera *c, float f[3])
{
    for (int a = 0; a < 3; a++) f[a] = c->w2c[8 + a]; /* third row of R: camera z in world */
}

static void test_lego(void)
{
    rd_dataset *ds;
    if (!CHECK_OK(rd_dataset_load(ctx, data_path("nerf_synthetic_lego"), &(rd_dataset_desc){.split = "test"}, &ds))) return;
    CHECK(strcmp(rd_dataset_kind(ds), "blender") == 0);
    CHECK(rd_dataset_view_count(ds) == 20 && rd_dataset_skipped(ds) == 180);
    const rd_view *v0 = rd_dataset_view(ds, 0);
    CHECK(strcmp(v0->name, "r_0") == 0 && strstr(v0->image_path, "test/r_0.png") != NULL);
    CHECK(v0->camera.width == 800 && v0->camera.height == 800);
    CHECK(fabsf(v0->camera.fx - 1111.111f) < 0.01f && v0->camera.cx == 400.0f);
    /* every camera is about 4 units out and looks at the origin */
    float origin[3] = {0, 0, 0};
    for (int i = 0; i < rd_dataset_view_count(ds); i++) {
        const rd_camera *c = &rd_dataset_view(ds, i)->camera;
        float centre[3], u, v;
        rd_camera_center(c, centre);
        float dist = sqrtf(centre[0] * centre[0] + centre[1] * centre[1] + centre[2] * centre[2]);
        CHECK(fabsf(dist - 4.03f) < 0.1f);
        CHECK(project(c, origin, &u, &v) > 3.5f && fabsf(u - 400) < 20 && fabsf(v - 400) < 20);
        /* world up (+z in Blender) shows as image up */
        float up[3] = {0, 0, 1}, u2, v2;
        project(c, up, &u2, &v2);
        CHECK(v2 < v);
    }
    /* the image composites its alpha on the background */
    rd_image img;
    if (CHECK_OK(rd_dataset_load_image(ctx, ds, 0, (float[3]){1, 1, 1}, &img))) {
        CHECK(img.width == 800 && img.height == 800 && img.channels == 3);
        CHECK(img.pixels[0] == 1.0f && img.pixels[1] == 1.0f); /* transparent corner on white */
        rd_image_free(&img);
    }
    rd_dataset_destroy(ds);
    CHECK_OK(rd_dataset_load(ctx, data_path("nerf_synthetic_lego"), &(rd_dataset_desc){.split = "train"}, &ds));
    CHECK(rd_dataset_view_count(ds) == 100 && rd_dataset_skipped(ds) == 0);
    rd_dataset_destroy(ds);
    /* a transforms file works as the path too */
    CHECK_OK(rd_dataset_load(ctx, data_path("nerf_synthetic_lego/transforms_val.json"), NULL, &ds));
    CHECK(rd_dataset_view_count(ds) == 10);
    rd_dataset_destroy(ds);
}

/* D-NeRF's mutant: Blender's layout with a time per frame (train: r_i at i / 149, the even
   half present). */
static void test_mutant(void)
{
    rd_dataset *ds;
    if (!CHECK_OK(rd_dataset_load(ctx, data_path("dnerf_mutant"), &(rd_dataset_desc){.split = "train"}, &ds))) return;
    CHECK(strcmp(rd_dataset_kind(ds), "d-nerf") == 0 && rd_dataset_has_time(ds));
    CHECK(rd_dataset_view_count(ds) == 75 && rd_dataset_skipped(ds) == 75);
    bool times = true;
    for (int i = 0; i < rd_dataset_view_count(ds); i++) {
        const rd_view *v = rd_dataset_view(ds, i);
        int frame = atoi(v->name + 2);
        times &= frame == 2 * i && fabsf(v->time - (float)frame / 149.0f) < 1e-6f;
    }
    CHECK(times);
    rd_dataset_destroy(ds);
    if (CHECK_OK(rd_dataset_load(ctx, data_path("nerf_synthetic_lego"), &(rd_dataset_desc){.split = "test"}, &ds))) {
        CHECK(!rd_dataset_has_time(ds) && rd_dataset_view(ds, 0)->time == 0.0f);
        rd_dataset_destroy(ds);
    }
}

/* Panoptic basketball (Dynamic 3D Gaussians' layout): the 27 train and 4 test cameras at
   the 10 timesteps present (of 150 listed), each view at step / 149, the rig's centres
   1 to 3.5 units above the floor (y down) and about 3 to 4 from the origin. */
static void test_panoptic(void)
{
    rd_dataset *ds;
    if (!CHECK_OK(rd_dataset_load(ctx, data_path("panoptic_basketball_subset"), &(rd_dataset_desc){.split = "test"}, &ds))) return;
    CHECK(strcmp(rd_dataset_kind(ds), "panoptic") == 0 && rd_dataset_has_time(ds));
    CHECK(rd_dataset_view_count(ds) == 40 && rd_dataset_skipped(ds) == 560);
    const rd_view *v = rd_dataset_view(ds, 4);
    CHECK(strcmp(v->name, "c00_t000001") == 0 && strstr(v->image_path, "ims/0/000001.jpg") && fabsf(v->time - 1.0f / 149.0f) < 1e-7f);
    bool rig = true;
    for (int i = 0; i < rd_dataset_view_count(ds); i++) {
        const rd_camera *c = &rd_dataset_view(ds, i)->camera;
        float centre[3];
        rd_camera_center(c, centre);
        float dist = sqrtf(centre[0] * centre[0] + centre[1] * centre[1] + centre[2] * centre[2]);
        rig &= c->width == 640 && c->height == 360 && centre[1] < -0.5f && centre[1] > -3.5f && dist > 2.5f && dist < 4.2f;
    }
    CHECK(rig);
    rd_dataset_destroy(ds);
    if (CHECK_OK(rd_dataset_load(ctx, data_path("panoptic_basketball_subset"), &(rd_dataset_desc){.split = "train"}, &ds))) {
        CHECK(rd_dataset_view_count(ds) == 270);
        rd_dataset_destroy(ds);
    }
    CHECK_FAILS(rd_dataset_load(ctx, data_path("panoptic_basketball_subset"), &(rd_dataset_desc){.split = "val"}, &ds),
                RD_ERROR_INVALID_ARGUMENT);
}

static void test_fox(void)
{
    rd_dataset *ds;
    if (!CHECK_OK(rd_dataset_load(ctx, data_path("instant_ngp_fox"), &(rd_dataset_desc){.split = "all"}, &ds))) return;
    CHECK(strcmp(rd_dataset_kind(ds), "instant-ngp") == 0);
    CHECK(rd_dataset_view_count(ds) == 50 && rd_dataset_skipped(ds) == 17);
    const rd_camera *c = &rd_dataset_view(ds, 0)->camera;
    CHECK(c->width == 1080 && c->height == 1920);
    CHECK(fabsf(c->fx - 1375.52f) < 0.01f && fabsf(c->fy - 1374.49f) < 0.01f && fabsf(c->cx - 554.558f) < 0.01f);
    CHECK(c->distortion.model == RD_DISTORTION_OPENCV && c->distortion.k1 != 0.0f);
    /* the cameras circle the fox: the point nearest to all optical axes is in front of each */
    double A[9] = {0}, b[3] = {0};
    for (int i = 0; i < rd_dataset_view_count(ds); i++) {
        const rd_camera *ci = &rd_dataset_view(ds, i)->camera;
        float o[3], f[3];
        rd_camera_center(ci, o);
        forward_axis(ci, f);
        for (int r = 0; r < 3; r++)
            for (int k = 0; k < 3; k++) {
                double m = (r == k) - (double)f[r] * f[k];
                A[3 * r + k] += m;
                b[r] += m * o[k];
            }
    }
    double det = A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6]);
    float target[3];
    for (int col = 0; col < 3; col++) {
        double M[9];
        memcpy(M, A, sizeof M);
        for (int r = 0; r < 3; r++) M[3 * r + col] = b[r];
        target[col] = (float)((M[0] * (M[4] * M[8] - M[5] * M[7]) - M[1] * (M[3] * M[8] - M[5] * M[6]) + M[2] * (M[3] * M[7] - M[4] * M[6])) / det);
    }
    int in_view = 0;
    for (int i = 0; i < rd_dataset_view_count(ds); i++) {
        float u, v;
        const rd_camera *ci = &rd_dataset_view(ds, i)->camera;
        if (project(ci, target, &u, &v) > 0 && u > 0 && u < ci->width && v > 0 && v < ci->height) in_view++;
    }
    CHECK(in_view == rd_dataset_view_count(ds));
    rd_image img;
    if (CHECK_OK(rd_dataset_load_image(ctx, ds, 0, NULL, &img))) {
        CHECK(img.width == 1080 && img.height == 1920 && img.channels == 3);
        rd_image_free(&img);
    }
    rd_dataset_destroy(ds);
    CHECK_OK(rd_dataset_load(ctx, data_path("instant_ngp_fox"), &(rd_dataset_desc){.split = "test"}, &ds));
    CHECK(rd_dataset_view_count(ds) > 0 && rd_dataset_view_count(ds) < 50);
    rd_dataset_destroy(ds);
}

static void test_colmap(void)
{
    rd_dataset *ds;
    if (!CHECK_OK(rd_dataset_load(ctx, data_path("colmap_bartoszek_test"), &(rd_dataset_desc){.split = "all"}, &ds))) return;
    CHECK(strcmp(rd_dataset_kind(ds), "colmap") == 0 && rd_dataset_view_count(ds) == 23);
    const rd_view *v0 = rd_dataset_view(ds, 0);
    CHECK(strcmp(v0->name, "DSC_5283") == 0);
    CHECK(fabsf(v0->camera.fx - 2048.05f) < 0.01f && fabsf(v0->camera.fy - 2046.56f) < 0.01f && v0->camera.cx == 500.0f);
    const float *xyz, *rgb;
    int64_t n = rd_dataset_points(ds, &xyz, &rgb);
    CHECK(n == 1443);
    /* the sparse points project into the images they were triangulated from */
    int good_views = 0;
    for (int i = 0; i < rd_dataset_view_count(ds); i++) {
        const rd_view *v = rd_dataset_view(ds, i);
        int inside = 0, front = 0;
        for (int64_t p = 0; p < n; p++) {
            float u, w;
            if (project(&v->camera, xyz + 3 * p, &u, &w) > 0) {
                front++;
                inside += u >= 0 && u < v->camera.width && w >= 0 && w < v->camera.height;
            }
        }
        CHECK(front > n * 9 / 10);
        good_views += inside > n / 5;
        int w, h;
        CHECK_OK(rd_image_size(ctx, v->image_path, &w, &h));
        CHECK(w == v->camera.width && h == v->camera.height);
    }
    CHECK(good_views == rd_dataset_view_count(ds));
    rd_dataset_destroy(ds);
    CHECK_OK(rd_dataset_load(ctx, data_path("colmap_bartoszek_test"), NULL, &ds));
    CHECK(rd_dataset_view_count(ds) == 3); /* every 8th of 23 */
    rd_dataset_destroy(ds);
    /* the distorted model (one SIMPLE_RADIAL camera, k -0.134) reads; its 3031x2006 photos are
       not in the shared data, so no view has a photo */
    CHECK_FAILS(rd_dataset_load(ctx, data_path("colmap_bartoszek_test/sparse_distorted/0"), NULL, &ds), RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(ctx), "no views") != NULL && strstr(rd_last_error(ctx), "missing") != NULL);
}

static void test_fern(void)
{
    rd_dataset *ds;
    if (!CHECK_OK(rd_dataset_load(ctx, data_path("nerf_llff_fern"), &(rd_dataset_desc){.split = "all"}, &ds))) return;
    CHECK(strcmp(rd_dataset_kind(ds), "llff") == 0 && rd_dataset_view_count(ds) == 20);
    const rd_view *v0 = rd_dataset_view(ds, 0);
    CHECK(strcmp(v0->name, "image000") == 0 && v0->camera.width == 504 && v0->camera.height == 378);
    CHECK(fabsf(v0->camera.fx - 3260.53f / 8) < 0.1f);
    /* forward-facing capture: all optical axes nearly parallel, and the rotations proper */
    float f0[3];
    forward_axis(&v0->camera, f0);
    for (int i = 0; i < 20; i++) {
        const rd_camera *c = &rd_dataset_view(ds, i)->camera;
        float f[3];
        forward_axis(c, f);
        CHECK(f[0] * f0[0] + f[1] * f0[1] + f[2] * f0[2] > 0.95f);
        const float *R = c->w2c;
        float det = R[0] * (R[5] * R[10] - R[6] * R[9]) - R[1] * (R[4] * R[10] - R[6] * R[8]) + R[2] * (R[4] * R[9] - R[5] * R[8]);
        CHECK(fabsf(det - 1.0f) < 1e-4f);
    }
    rd_dataset_destroy(ds);
    CHECK_OK(rd_dataset_load(ctx, data_path("nerf_llff_fern/poses_bounds.npy"), NULL, &ds));
    CHECK(rd_dataset_view_count(ds) == 3);
    rd_dataset_destroy(ds);
}

/* N3DV's layout, made from fern's poses: a folder of frames per camera (camNN/images/, or
   camNN/ itself for cam01), each frame a view at frame / 30 s; cam00 is the test split;
   intrinsics scale to the frames' size; a camera without frames is named. */
static void test_n3dv(void)
{
    const char *dir = test_temp_dir("n3dv");
    size_t size = 0;
    unsigned char *npy = read_file(data_path("nerf_llff_fern/poses_bounds.npy"), &size);
    if (!CHECK(npy)) return;
    write_file(dir, "poses_bounds.npy", npy, size);
    free(npy);
    rd_image frame;
    rd_image_alloc(126, 94, 3, &frame); /* a 32nd of fern's 4032x3024 */
    for (size_t k = 0; k < 126 * 94 * 3; k++) frame.pixels[k] = 0.5f;
    char path[4096];
    for (int cam = 0; cam < 20; cam++)
        for (int f = 0; f < 3; f++) {
            snprintf(path, sizeof path, "%s/cam%02d", dir, cam);
            mkdir(path, 0700);
            if (cam != 1) {
                snprintf(path, sizeof path, "%s/cam%02d/images", dir, cam);
                mkdir(path, 0700);
            }
            snprintf(path + strlen(path), sizeof path - strlen(path), "/%04d.png", f);
            CHECK_OK(rd_image_save(ctx, path, &frame));
        }
    rd_image_free(&frame);
    rd_dataset *ds;
    if (CHECK_OK(rd_dataset_load(ctx, dir, &(rd_dataset_desc){.split = "test"}, &ds))) {
        CHECK(strcmp(rd_dataset_kind(ds), "n3dv") == 0 && rd_dataset_has_time(ds) && rd_dataset_view_count(ds) == 3);
        const rd_view *v = rd_dataset_view(ds, 2);
        CHECK(strcmp(v->name, "cam00_0002") == 0 && fabsf(v->time - 2.0f / 30.0f) < 1e-7f);
        CHECK(v->camera.width == 126 && fabsf(v->camera.fx - 3260.53f / 32) < 0.1f);
        rd_dataset_destroy(ds);
    }
    if (CHECK_OK(rd_dataset_load(ctx, dir, &(rd_dataset_desc){.split = "train"}, &ds))) {
        CHECK(rd_dataset_view_count(ds) == 57 && strcmp(rd_dataset_view(ds, 0)->name, "cam01_0000") == 0);
        rd_dataset_destroy(ds);
    }
    for (int f = 0; f < 3; f++) snprintf(path, sizeof path, "%s/cam07/images/%04d.png", dir, f), unlink(path); /* cam07 loses its frames */
    CHECK_FAILS(rd_dataset_load(ctx, dir, &(rd_dataset_desc){.split = "all"}, &ds), RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(ctx), "cam07") && strstr(rd_last_error(ctx), "no frames"));
}

static void test_donut(void)
{
    rd_scene *s;
    if (!CHECK_OK(rd_scene_load(ctx, data_path("gaussian_splats/gshairlod_donut/fused.ply"), &s))) return;
    rd_scene_info info;
    rd_scene_get_info(s, &info);
    CHECK(info.count == 45624 && info.sh_degree == 0 && strcmp(info.format, "inria-ply") == 0);
    CHECK(strcmp(info.properties, "x y z f_dc_0 f_dc_1 f_dc_2 opacity scale_0 scale_1 scale_2 rot_0 rot_1 rot_2 rot_3") == 0);
    CHECK(info.bounds_max[0] - info.bounds_min[0] > 0.15f && info.bounds_max[0] - info.bounds_min[0] < 0.3f);
    rd_scene_desc a = rd_scene_arrays(s);
    float smin = 1e9f, smax = -1e9f;
    for (int64_t i = 0; i < a.count * 3; i++) {
        smin = fminf(smin, a.log_scales[i]);
        smax = fmaxf(smax, a.log_scales[i]);
    }
    CHECK(smin > -10.0f && smax < -3.0f); /* log scales, as the README of the data says */
    rd_camera cam;
    CHECK_OK(rd_scene_orbit_cameras(s, 1, 96, 64, &cam));
    float color[96 * 64 * 4];
    rd_framebuffer fb = {.color = color};
    CHECK_OK(rd_render(ctx, s, &cam, NULL, &fb));
    CHECK(color[(32 * 96 + 48) * 4 + 3] > 0.9f); /* the donut is in the middle of the frame */
    rd_scene_destroy(s);
}

static void test_images(void)
{
    rd_image img;
    if (CHECK_OK(rd_image_load(ctx, data_path("exr/albert.exr"), &img))) {
        CHECK(img.width == 1024 && img.height == 1024 && img.channels == 4);
        rd_image_free(&img);
    }
    if (CHECK_OK(rd_image_load(ctx, data_path("exr/asakusa.exr"), &img))) {
        CHECK(img.width == 660 && img.height == 440);
        rd_image_free(&img);
    }
    if (CHECK_OK(rd_image_load(ctx, data_path("exr/tinyexr_regression/2by2.exr"), &img))) {
        CHECK(img.width == 2 && img.height == 2);
        rd_image_free(&img);
    }
    /* edge cases: each loads or fails with a message naming the file, never crashes */
    static const char *odd[] = {"000-issue194.exr", "issue-160-piz-decode.exr", "piz-bug-issue-100.exr", "flaga.exr",
                                "tiled_half_1x1_alpha.exr"};
    for (int i = 0; i < 5; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "exr/tinyexr_regression/%s", odd[i]);
        rd_result r = rd_image_load(ctx, data_path(rel), &img);
        CHECK(r == RD_OK || (r == RD_ERROR_FORMAT && strstr(rd_last_error(ctx), odd[i]) != NULL));
        if (r == RD_OK) CHECK(img.width > 0 && img.pixels != NULL);
        rd_image_free(&img);
    }
    if (CHECK_OK(rd_image_load(ctx, data_path("nerf_synthetic_lego/test/r_0.png"), &img))) {
        CHECK(img.width == 800 && img.channels == 4 && img.pixels[3] == 0.0f);
        rd_image_free(&img);
    }
    if (CHECK_OK(rd_image_load(ctx, data_path("instant_ngp_fox/images/0001.jpg"), &img))) {
        CHECK(img.width == 1080 && img.height == 1920 && img.channels == 3);
        rd_image_free(&img);
    }
}

static void test_image_write(void)
{
    const char *dir = test_temp_dir("images");
    rd_image img;
    CHECK_OK(rd_image_alloc(13, 7, 4, &img));
    for (int i = 0; i < 13 * 7 * 4; i++) img.pixels[i] = (float)(i % 11) / 10.0f;
    char path[512];
    snprintf(path, sizeof path, "%s/a.exr", dir);
    CHECK_OK(rd_image_save(ctx, path, &img));
    rd_image back;
    if (CHECK_OK(rd_image_load(ctx, path, &back))) {
        CHECK(back.width == 13 && back.height == 7 && memcmp(back.pixels, img.pixels, 13 * 7 * 4 * sizeof(float)) == 0);
        rd_image_free(&back);
    }
    snprintf(path, sizeof path, "%s/a.png", dir);
    CHECK_OK(rd_image_save(ctx, path, &img));
    if (CHECK_OK(rd_image_load(ctx, path, &back))) {
        float worst = 0;
        for (int i = 0; i < 13 * 7 * 4; i++) worst = fmaxf(worst, fabsf(back.pixels[i] - img.pixels[i]));
        CHECK(back.channels == 4 && worst <= 0.5f / 255.0f + 1e-6f);
        rd_image_free(&back);
    }
    snprintf(path, sizeof path, "%s/a.bmp", dir);
    CHECK_FAILS(rd_image_save(ctx, path, &img), RD_ERROR_UNSUPPORTED);
    rd_image_free(&img);
}

int main(void)
{
    data = test_data_dir();
    if (!data) {
        printf("loaders: skipped: no shared data (set RADIANT_DATA to shared/data)\n");
        return SKIP_CODE;
    }
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    test_lego();
    test_mutant();
    test_panoptic();
    test_fox();
    test_colmap();
    test_fern();
    test_n3dv();
    test_donut();
    test_images();
    test_image_write();
    rd_context_destroy(ctx);
    return test_finish("loaders");
}
