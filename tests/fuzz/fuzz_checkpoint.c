/* fuzz_checkpoint.c: rd_trainer_load_checkpoint, the training checkpoint reader, into a
   trainer of two 8x8 views, SH degree 1, and into a 4D trainer of the same views at times
   0 and 1, time degree 1 (what the seed corpus's checkpoints were written from:
   tests/fuzz/make_checkpoints.c). A checkpoint that loads is trained one more step, so
   that whatever it held meets the renderer, the backward pass and Adam. */
#include "fuzz_file.h"

#include <stdbool.h>
#include <string.h>

rd_trainer *fuzz_checkpoint_trainer(bool four_d);

rd_trainer *fuzz_checkpoint_trainer(bool four_d)
{
    static rd_trainer *trainers[2];
    static rd_image images[2];
    rd_trainer **t = &trainers[four_d];
    if (*t) return *t;
    rd_context *ctx = fuzz_context();
    if (!ctx) return NULL;
    rd_train_view views[2];
    for (int k = 0; k < 2; k++) {
        float eye[3] = {k ? 2.0f : -2.0f, 0.0f, -3.0f}, target[3] = {0, 0, 0}, up[3] = {0, -1, 0};
        views[k].camera = rd_camera_look_at(eye, target, up, 8, 8, 50.0f);
        if (!images[k].pixels && rd_image_alloc(8, 8, 3, &images[k]) != RD_OK) return NULL;
        for (int p = 0; p < 8 * 8 * 3; p++) images[k].pixels[p] = (float)((p * 37 + k * 11) % 100) / 100.0f;
        views[k].image = &images[k];
        views[k].time = (float)k;
    }
    rd_trainer_create(ctx, &(rd_trainer_desc){.views = views, .view_count = 2, .point_count = 20, .box_min = {-1, -1, -1},
                                              .box_max = {1, 1, 1}, .sh_degree = RD_SH_DEGREE(1), .seed = 3, .densify = true,
                                              .kind = four_d ? RD_SCENE_GAUSSIANS_4D : RD_SCENE_GAUSSIANS,
                                              .time_degree = RD_SH_DEGREE(1)},
                      t);
    return *t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("run.checkpoint", data, size);
    for (int four_d = 0; four_d < 2 && path; four_d++) {
        rd_trainer *t = fuzz_checkpoint_trainer(four_d);
        if (t && rd_trainer_load_checkpoint(t, path) == RD_OK) rd_trainer_step(t, 1, NULL);
    }
    return 0;
}
