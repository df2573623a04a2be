/* test_ply_roundtrip.c: scenes written as INRIA PLY read back bit for bit, for every SH
   degree and the antialiased hint; the file has the INRIA property order. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

int main(void)
{
    test_rng r = {test_seed("ply_roundtrip")};
    rd_context *ctx;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    const char *dir = test_temp_dir("ply");
    for (int degree = 0; degree <= 3; degree++) {
        random_scene_desc sd = {.count = 257, .sh_degree = degree, .depth_min = 1, .depth_max = 5, .spread = 1,
                                .log_scale_min = -5, .log_scale_max = 0};
        rd_scene_desc a = random_scene(&r, &sd);
        a.flags = degree == 2 ? RD_SCENE_ANTIALIASED : 0;
        rd_scene *s, *back;
        CHECK_OK(rd_scene_create(ctx, &a, &s));
        char path[512];
        snprintf(path, sizeof path, "%s/scene%d.ply", dir, degree);
        CHECK_OK(rd_scene_save_ply(ctx, s, path));
        if (!CHECK_OK(rd_scene_load(ctx, path, &back))) continue;
        rd_scene_desc b = rd_scene_arrays(back);
        int K = (degree + 1) * (degree + 1);
        CHECK(b.count == a.count && b.sh_degree == degree && b.flags == a.flags);
        CHECK(memcmp(a.means, b.means, sizeof(float) * 3 * 257) == 0);
        CHECK(memcmp(a.log_scales, b.log_scales, sizeof(float) * 3 * 257) == 0);
        CHECK(memcmp(a.rotations, b.rotations, sizeof(float) * 4 * 257) == 0);
        CHECK(memcmp(a.opacities, b.opacities, sizeof(float) * 257) == 0);
        CHECK(memcmp(a.sh, b.sh, sizeof(float) * 3 * (size_t)K * 257) == 0);
        rd_scene_info info;
        rd_scene_get_info(back, &info);
        /* INRIA order: x y z nx ny nz f_dc_0.. f_rest_.. opacity scale_0.. rot_0.. */
        CHECK(strncmp(info.properties, "x y z nx ny nz f_dc_0 f_dc_1 f_dc_2", 34) == 0);
        CHECK(strstr(info.properties, "opacity scale_0 scale_1 scale_2 rot_0 rot_1 rot_2 rot_3") != NULL);
        if (degree == 3) CHECK(strstr(info.properties, "f_rest_44 opacity") != NULL);
        rd_scene_destroy(s);
        rd_scene_destroy(back);
        random_scene_free(&a);
    }
    /* a failed save leaves nothing behind */
    rd_scene *demo;
    CHECK_OK(rd_scene_create_demo(ctx, &(rd_demo_desc){.count = 100}, &demo));
    CHECK_FAILS(rd_scene_save_ply(ctx, demo, "/nonexistent-dir/x.ply"), RD_ERROR_IO);
    CHECK(strstr(rd_last_error(ctx), "/nonexistent-dir/x.ply") != NULL);
    rd_scene_destroy(demo);
    rd_context_destroy(ctx);
    return test_finish("ply_roundtrip");
}
