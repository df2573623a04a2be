/* readme_check.c: the README example's image (example.png in the working folder) holds
   straight RGBA: composited over white it equals the same view rendered over white, within
   8-bit rounding. An image whose colour was already blended with a background fails. The
   scene and camera are the example's. */
#include "test_util.h"

#include <stdlib.h>

int main(void)
{
    rd_context *ctx = NULL;
    rd_scene *scene = NULL;
    rd_image png = {0}, over_white = {0}, want = {0};
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU}, &ctx));
    CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 50000}, &scene));
    float eye[3] = {4, -4, 2.5f}, target[3] = {0, 0, 1}, up[3] = {0, 0, 1};
    rd_camera camera = rd_camera_look_at(eye, target, up, 320, 240, 60);
    CHECK_OK(rd_image_alloc(320, 240, 4, &want));
    CHECK_OK(rd_render(ctx, scene, &camera, &(rd_render_desc){.background = {1, 1, 1}}, &(rd_framebuffer){.color = want.pixels}));
    if (CHECK_OK(rd_image_load(ctx, "example.png", &png)) && CHECK(png.channels == 4 && png.width == 320)) {
        static const float white[3] = {1, 1, 1};
        CHECK_OK(rd_image_composite(&png, white, &over_white));
        double worst = 0.0;
        int partial = 0; /* pixels whose alpha is neither 0 nor 1: where the two differ */
        for (int p = 0; p < 320 * 240; p++) {
            float a = png.pixels[4 * p + 3];
            partial += a > 0.02f && a < 0.98f;
            for (int c = 0; c < 3; c++) {
                double w = want.pixels[4 * p + c] > 1.0f ? 1.0 : want.pixels[4 * p + c]; /* the PNG's range */
                double d = over_white.pixels[3 * p + c] - w;
                if (d < 0) d = -d;
                if (d > worst) worst = d;
            }
        }
        printf("readme example: %d partly covered pixels; over white, largest difference %.4f\n", partial, worst);
        CHECK(partial > 100);
        CHECK(worst <= 3.0 / 255.0);
    }
    rd_image_free(&png);
    rd_image_free(&over_white);
    rd_image_free(&want);
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return test_finish("readme_check");
}
