/* test_nerf_prune.c: HollowNeRF's pruning in NeRF training (radiant_nerf.h's
   prune_budget; nerf/saliency.h) on the CPU and, where there is a GPU, on CUDA (the mask
   in the field's kernels, the ADMM pruner on the device): on the boxes (nerf_boxes.h),
   the mask's mean keep value falls from sigmoid(1) = 0.73 to about the budget while the
   field still renders held-out views well (rendered by the same backend); the snapshot
   keeps the mask and leaves out table entries; a budget out of range is refused by name. */
#include "nerf_boxes.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* HollowNeRF's pruning on the boxes (a mask of 16^3, budget 10%): the mask's mean keep
   value falls from sigmoid(1) = 0.73 toward the budget, the field still renders the held-out
   views well, and the snapshot keeps the mask. */
static void test_pruning(rd_context *ctx, const char *backend, const rd_train_view *train, int n, const rd_train_view *held, int m)
{
    rd_nerf_trainer *t = NULL;
    rd_nerf_trainer_desc d = nerf_boxes_desc(train, n, 3);
    d.prune_budget = 0.1f, d.field.saliency_resolution = 16;
    if (!CHECK_OK(rd_nerf_trainer_create(ctx, &d, &t))) return;
    rd_nerf_train_stats stats;
    /* reached: kept 0.210 and 15.93 dB after 200 steps, 0.036 and 20.05 dB after 500 (untrained: 10.9 dB) */
    int steps = TEST_SANITIZED ? 200 : 500;
    CHECK_OK(rd_nerf_trainer_step(t, steps, &stats));
    double trained = nerf_boxes_psnr(ctx, rd_nerf_trainer_scene(t), held, m);
    printf("  pruning on %s: mask kept %.3f (budget 0.10), held-out PSNR %.2f dB after %d steps\n", backend, stats.mask_kept, trained,
           steps);
    CHECK(stats.mask_kept < (TEST_SANITIZED ? 0.35 : 0.15));
    CHECK(trained > (TEST_SANITIZED ? 14.0 : 18.0));
    rd_nerf_info info;
    CHECK_OK(rd_nerf_get_info(ctx, rd_nerf_trainer_scene(t), &info));
    CHECK(info.desc.saliency_resolution == 16 && info.mask_params == 16 * 16 * 16 && info.desc.gate_sharpness == 1000.0f);
    char path[4096];
    snprintf(path, sizeof path, "%s/pruned_%s.rnerf", test_temp_dir("nerf_pruned"), backend);
    CHECK_OK(rd_nerf_save(ctx, rd_nerf_trainer_scene(t), path));
    int64_t stored = 0, bytes = 0; /* the table entries the emptied grid no longer reaches are left out */
    CHECK_OK(rd_nerf_snapshot_size(ctx, rd_nerf_trainer_scene(t), &stored, &bytes));
    printf("  pruned snapshot: %lld of %lld parameters stored, %lld bytes; %lld occupied cells\n", (long long)stored,
           (long long)info.params, (long long)bytes, (long long)info.occupied_cells);
    CHECK(stored < info.params);
    rd_scene *back = NULL;
    if (CHECK_OK(rd_scene_load(ctx, path, &back))) {
        rd_nerf_info again;
        CHECK_OK(rd_nerf_get_info(ctx, back, &again));
        CHECK(again.desc.saliency_resolution == 16 && again.mask_params == info.mask_params && again.params == info.params);
        double loaded = nerf_boxes_psnr(ctx, back, held, m);
        printf("  the file: %lld occupied cells (the mask cleared %lld), held-out PSNR %.2f dB\n", (long long)again.occupied_cells,
               (long long)(info.occupied_cells - again.occupied_cells), loaded);
        CHECK(fabs(loaded - trained) < 0.5);
        rd_scene_destroy(back);
    }
    rd_nerf_trainer_destroy(t);
    d = nerf_boxes_desc(train, n, 3), d.prune_budget = 1.5f;
    CHECK_FAILS(rd_nerf_trainer_create(ctx, &d, &t), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "prune_budget") != NULL);
}

int main(void)
{
    rd_context *ctx = NULL, *gpu = NULL;
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    enum { TRAIN = 24, HELD = 4, SIZE = 32 };
    rd_image images[TRAIN + HELD];
    rd_train_view views[TRAIN + HELD];
    nerf_boxes_views(views, images, TRAIN, HELD, SIZE);
    test_pruning(ctx, "cpu", views, TRAIN, views + TRAIN, HELD);
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA, .log = test_log}, &gpu) == RD_OK)
        test_pruning(gpu, "cuda", views, TRAIN, views + TRAIN, HELD);
    else
        printf("  pruning on CUDA: skipped (no CUDA device here)\n");
    rd_context_destroy(gpu);
    for (int k = 0; k < TRAIN + HELD; k++) rd_image_free(&images[k]);
    rd_context_destroy(ctx);
    return test_finish("test_nerf_prune");
}
