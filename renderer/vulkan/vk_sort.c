/* vk_sort.c: recording the scan and the radix sort (shaders in renderer/vulkan/shaders). */
#include "vk_sort.h"
#include "shaders/vk_layout.h"

#include <stdlib.h>

static const uint32_t scan_args_spv[] = {
#include "scan_args.comp.inc"
};
static const uint32_t scan_reduce_spv[] = {
#include "scan_reduce.comp.inc"
};
static const uint32_t scan_partials_spv[] = {
#include "scan_partials.comp.inc"
};
static const uint32_t scan_downsweep_spv[] = {
#include "scan_downsweep.comp.inc"
};
static const uint32_t sort_args_spv[] = {
#include "sort_args.comp.inc"
};
static const uint32_t radix_histogram_spv[] = {
#include "radix_histogram.comp.inc"
};
static const uint32_t radix_scatter_spv[] = {
#include "radix_scatter.comp.inc"
};
static const uint32_t count_args_spv[] = {
#include "count_args.comp.inc"
};

struct rd_vk_sorter {
    rd_vk_pipeline scan_args, scan_reduce, scan_partials, scan_downsweep, sort_args, histogram, scatter, count_args;
    rd_vk_buffer control, partials, hist;
};

rd_result rd_vk_sorter_create(rd_context *ctx, rd_vk_sorter **out)
{
    rd_vk_sorter *s = calloc(1, sizeof *s);
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: out of memory");
    struct { rd_vk_pipeline *p; const uint32_t *code; size_t bytes; const char *name; } shaders[] = {
        {&s->scan_args, scan_args_spv, sizeof scan_args_spv, "scan_args"},
        {&s->scan_reduce, scan_reduce_spv, sizeof scan_reduce_spv, "scan_reduce"},
        {&s->scan_partials, scan_partials_spv, sizeof scan_partials_spv, "scan_partials"},
        {&s->scan_downsweep, scan_downsweep_spv, sizeof scan_downsweep_spv, "scan_downsweep"},
        {&s->sort_args, sort_args_spv, sizeof sort_args_spv, "sort_args"},
        {&s->histogram, radix_histogram_spv, sizeof radix_histogram_spv, "radix_histogram"},
        {&s->scatter, radix_scatter_spv, sizeof radix_scatter_spv, "radix_scatter"},
        {&s->count_args, count_args_spv, sizeof count_args_spv, "count_args"}};
    rd_result r = RD_OK;
    for (size_t i = 0; i < sizeof shaders / sizeof shaders[0] && r == RD_OK; i++)
        r = rd_vk_pipeline_create(ctx, shaders[i].code, shaders[i].bytes, shaders[i].name, shaders[i].p);
    if (r == RD_OK) r = rd_vk_reserve(ctx, &s->control, RD_CONTROL_UINTS * 4, "sort control");
    if (r == RD_OK) r = rd_vk_sorter_reserve(ctx, s, 1);
    if (r != RD_OK) {
        rd_vk_sorter_destroy(rd_vk(ctx), s);
        return r;
    }
    *out = s;
    return RD_OK;
}

void rd_vk_sorter_destroy(rd_vk_state *vk, rd_vk_sorter *s)
{
    if (!s) return;
    rd_vk_pipeline *pipelines[] = {&s->scan_args, &s->scan_reduce, &s->scan_partials, &s->scan_downsweep,
                                   &s->sort_args, &s->histogram, &s->scatter, &s->count_args};
    for (size_t i = 0; i < sizeof pipelines / sizeof pipelines[0]; i++) rd_vk_pipeline_destroy(vk, pipelines[i]);
    rd_vk_release(vk, &s->control);
    rd_vk_release(vk, &s->partials);
    rd_vk_release(vk, &s->hist);
    free(s);
}

static uint64_t blocks(uint64_t n, uint64_t per) { return (n + per - 1) / per; }

rd_result rd_vk_sorter_reserve(rd_context *ctx, rd_vk_sorter *s, uint64_t max_count)
{
    uint64_t hist = blocks(max_count, RD_SORT_BLOCK) * RD_RADIX;
    /* partials serve the scans of max_count elements and of the sort's histogram */
    uint64_t scanned = max_count > hist ? max_count : hist;
    rd_result r = rd_vk_reserve(ctx, &s->hist, hist * 4, "sort histogram");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &s->partials, blocks(scanned, RD_SCAN_BLOCK) * 4, "scan partials");
    return r;
}

void rd_vk_scan_record(rd_vk_sorter *s, VkCommandBuffer cmd, const rd_vk_scan_desc *desc)
{
    VkDeviceAddress control = s->control.address, partials = s->partials.address;
    struct { VkDeviceAddress count, control; } args = {desc->count, control};
    rd_vk_dispatch(cmd, &s->scan_args, &args, 1);
    rd_vk_barrier(cmd);
    struct { VkDeviceAddress input, control, partials; } reduce = {desc->input, control, partials};
    rd_vk_dispatch_indirect(cmd, &s->scan_reduce, &reduce, &s->control, RD_CONTROL_SCAN_DISPATCH * 4);
    rd_vk_barrier(cmd);
    struct { VkDeviceAddress control, partials; } offsets = {control, partials};
    rd_vk_dispatch(cmd, &s->scan_partials, &offsets, 1);
    rd_vk_barrier(cmd);
    struct { VkDeviceAddress input, output, control, partials; uint32_t exclusive; } down = {
        desc->input, desc->output, control, partials, desc->exclusive};
    rd_vk_dispatch_indirect(cmd, &s->scan_downsweep, &down, &s->control, RD_CONTROL_SCAN_DISPATCH * 4);
    rd_vk_barrier(cmd);
}

int rd_vk_sort_record(rd_vk_sorter *s, VkCommandBuffer cmd, const rd_vk_sort_desc *desc)
{
    VkDeviceAddress control = s->control.address;
    struct { VkDeviceAddress count, control; uint32_t limit; } args = {desc->count, control, desc->max_count};
    rd_vk_dispatch(cmd, &s->sort_args, &args, 1);
    rd_vk_barrier(cmd);
    int from = 0;
    for (int shift = 0; shift < desc->bits; shift += 8, from ^= 1) {
        /* the last digit may be narrower: bits above desc->bits do not count */
        uint32_t mask = desc->bits - shift >= 8 ? 255u : (1u << (desc->bits - shift)) - 1u;
        struct { VkDeviceAddress keys, control, hist; uint32_t shift, mask; } histogram = {desc->keys[from], control,
                                                                                          s->hist.address, (uint32_t)shift, mask};
        rd_vk_dispatch_indirect(cmd, &s->histogram, &histogram, &s->control, RD_CONTROL_SORT_DISPATCH * 4);
        rd_vk_barrier(cmd);
        rd_vk_scan_record(s, cmd, &(rd_vk_scan_desc){.input = s->hist.address, .output = s->hist.address,
                                                     .count = control + RD_CONTROL_SORT_HIST_COUNT * 4, .exclusive = true});
        struct { VkDeviceAddress keys_in, values_in, keys_out, values_out, control, hist; uint32_t shift, mask; } scatter = {
            desc->keys[from], desc->values[from], desc->keys[from ^ 1], desc->values[from ^ 1], control, s->hist.address,
            (uint32_t)shift, mask};
        rd_vk_dispatch_indirect(cmd, &s->scatter, &scatter, &s->control, RD_CONTROL_SORT_DISPATCH * 4);
        rd_vk_barrier(cmd);
    }
    return from;
}

VkDeviceSize rd_vk_count_args_record(rd_vk_sorter *s, VkCommandBuffer cmd, VkDeviceAddress count, uint32_t limit,
                                     uint32_t per_group, const rd_vk_buffer **args)
{
    struct { VkDeviceAddress count, control; uint32_t limit, per_group; } push = {count, s->control.address, limit, per_group};
    rd_vk_dispatch(cmd, &s->count_args, &push, 1);
    rd_vk_barrier(cmd);
    *args = &s->control;
    return RD_CONTROL_ARGS_DISPATCH * 4;
}
