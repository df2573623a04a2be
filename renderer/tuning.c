/* tuning.c: the environment's overrides of the backends' variant choices (tuning.h), the
   one place radiant reads them. */
#include "tuning.h"

#include <stdlib.h>
#include <string.h>

/* A variable naming one of values: *out becomes its place, counted from 1. */
static void setting(const char *name, const char *const *values, int count, int *out)
{
    const char *v = getenv(name);
    for (int i = 0; v && i < count; i++)
        if (strcmp(v, values[i]) == 0) *out = i + 1;
}

void rd_tuning_from_env(rd_tuning *t)
{
    static const char *const orders[] = {"longest", "rows"}, *const paths[] = {"single-pass", "reduce-then-scan"},
                             *const ranks[] = {"ballots", "partitioned"}, *const emits[] = {"pairs", "blocks"},
                             *const long_tiles[] = {"0", "all"}, *const off_on[] = {"0", "1"},
                             *const blends[] = {"sparse", "dense"}, *const relevancies[] = {"gram", "decode"},
                             *const decodes[] = {"cores", "tensor"}, *const sums[] = {"scatter", "tensor"},
                             *const marches[] = {"double", "single"};
    setting("RADIANT_VK_TILE_ORDER", orders, 2, &t->vk_tile_order);
    setting("RADIANT_VK_SORT_PATH", paths, 2, &t->vk_sort_path);
    setting("RADIANT_VK_SORT_RANK", ranks, 2, &t->vk_sort_rank);
    setting("RADIANT_VK_EMIT", emits, 2, &t->vk_emit);
    setting("RADIANT_VK_NERF_MARCH", marches, 2, &t->vk_nerf_march);
    setting("RADIANT_CUDA_LONG_TILES", long_tiles, 2, &t->cuda_long_tiles);
    setting("RADIANT_CUDA_DEPENDENT_LAUNCH", off_on, 2, &t->cuda_dependent_launch);
    setting("RADIANT_FEATURE_BLEND", blends, 2, &t->feature_blend);
    setting("RADIANT_FEATURE_RELEVANCY", relevancies, 2, &t->feature_relevancy);
    setting("RADIANT_CUDA_FEATURE_DECODE", decodes, 2, &t->cuda_feature_decode);
    setting("RADIANT_CUDA_FEATURE_SUM", sums, 2, &t->cuda_feature_sum);
    const char *v;
    if ((v = getenv("RADIANT_VK_SORT_ITEMS"))) t->vk_sort_items = atoi(v);
    if ((v = getenv("RADIANT_VK_SORT_WAIT_BUDGET"))) t->vk_sort_wait_budget = atoi(v) > 0 ? atoi(v) : -1;
    if ((v = getenv("RADIANT_CUDA_EMIT_ITEMS"))) t->cuda_emit_items = atoi(v);
    if ((v = getenv("RADIANT_CUDA_FEATURE_WALK"))) t->cuda_feature_walk = atoi(v);
    if ((v = getenv("RADIANT_VK_FENCE_SPIN_US"))) t->vk_fence_spin_us = atoi(v) > 0 ? atoi(v) : -1;
}
