/* video_dataset_tool.c: `video_dataset_tool DIR`: a small multi-view video in D-NeRF's
   layout (transforms_train.json, transforms_test.json with a "time" per frame, PNGs): 200
   random Gaussians, a fifth of them drifting sideways over 3 times, seen by 6 train and 2
   test cameras at 48x36, for the stream encoder's command-line test. */
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { N = 200, TIMES = 3, TRAIN = 6, TEST = 2, W = 48, H = 36 };

/* The camera's c2w in Blender's convention (OpenGL axes: y up, z back) as JSON rows. */
static void write_matrix(FILE *f, const rd_camera *c)
{
    const float *m = c->w2c; /* row-major rigid w2c: c2w = [R^T, -R^T t] */
    double c2w[3][4];
    for (int i = 0; i < 3; i++) {
        for (int j = 0; j < 3; j++) c2w[i][j] = m[j * 4 + i] * (j == 0 ? 1.0 : -1.0); /* columns y and z flipped */
        c2w[i][3] = -(m[0 * 4 + i] * m[3] + m[1 * 4 + i] * m[7] + m[2 * 4 + i] * m[11]);
    }
    fprintf(f, "\"transform_matrix\": [");
    for (int i = 0; i < 3; i++) fprintf(f, "[%.9g, %.9g, %.9g, %.9g], ", c2w[i][0], c2w[i][1], c2w[i][2], c2w[i][3]);
    fprintf(f, "[0, 0, 0, 1]]");
}

int main(int argc, char **argv)
{
    if (argc != 2) return fprintf(stderr, "usage: video_dataset_tool DIR\n"), 2;
    rd_context *ctx;
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU}, &ctx) != RD_OK) return 1;
    test_rng rng = {7};
    random_scene_desc sd = {.count = N, .sh_degree = 0, .depth_min = -0.6, .depth_max = 0.6, .spread = 0, .log_scale_min = -3.0,
                            .log_scale_max = -2.2};
    rd_scene_desc s = random_scene(&rng, &sd);
    for (int i = 0; i < N; i++) /* a cube about the origin */
        for (int c = 0; c < 2; c++) ((float *)s.means)[i * 3 + c] = (float)rng_range(&rng, -0.6, 0.6);
    float fov = 50.0f, angle_x = fov * (float)M_PI / 180.0f; /* rd_camera_look_at's field of view is horizontal */
    int failed = 0;
    for (int split = 0; split < 2 && !failed; split++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/transforms_%s.json", argv[1], split ? "test" : "train");
        FILE *f = fopen(path, "w");
        if (!f) return fprintf(stderr, "video_dataset_tool: cannot write %s\n", path), 1;
        fprintf(f, "{\"camera_angle_x\": %.9g, \"frames\": [\n", angle_x);
        int cams = split ? TEST : TRAIN;
        for (int t = 0; t < TIMES && !failed; t++) {
            for (int i = 0; i < N / 5; i++) ((float *)s.means)[i * 3] += t ? 0.03f : 0.0f;
            rd_scene *scene;
            failed |= rd_scene_create(ctx, &s, &scene) != RD_OK;
            for (int k = 0; k < cams && !failed; k++) {
                float a = (split ? 0.5f + k : (float)k) * 2.0f * (float)M_PI / (float)TRAIN;
                float eye[3] = {3.0f * sinf(a), -0.8f, 3.0f * cosf(a)}, at[3] = {0, 0, 0}, up[3] = {0, -1, 0};
                rd_camera cam = rd_camera_look_at(eye, at, up, W, H, fov);
                rd_image im;
                float *rgba = malloc(W * H * 16);
                failed |= rd_image_alloc(W, H, 3, &im) != RD_OK || rd_render(ctx, scene, &cam, NULL, &(rd_framebuffer){.color = rgba}) != RD_OK;
                for (int p = 0; !failed && p < W * H; p++)
                    for (int c = 0; c < 3; c++) im.pixels[p * 3 + c] = rgba[p * 4 + c];
                char name[64], png[1100];
                snprintf(name, sizeof name, "%s_c%d_t%d", split ? "test" : "train", k, t);
                snprintf(png, sizeof png, "%s/%s.png", argv[1], name);
                failed |= failed || rd_image_save(ctx, png, &im) != RD_OK;
                fprintf(f, "%s{\"file_path\": \"./%s\", \"time\": %g, ", t || k ? "," : "", name, t / (double)(TIMES - 1));
                write_matrix(f, &cam);
                fprintf(f, "}\n");
                free(rgba);
                rd_image_free(&im);
            }
            rd_scene_destroy(scene);
        }
        fprintf(f, "]}\n");
        failed |= fclose(f) != 0;
    }
    if (failed) fprintf(stderr, "video_dataset_tool: %s\n", rd_last_error(ctx));
    random_scene_free(&s);
    rd_context_destroy(ctx);
    return failed;
}
