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
static const uint32_t radix_scatter_spv[] = {
#include "radix_scatter.comp.inc"
};
static const uint32_t radix_scatter_partitioned_spv[] = {
#include "radix_scatter_partitioned.comp.inc"
};
static const uint32_t radix_totals_spv[] = {
#include "radix_totals.comp.inc"
};
static const uint32_t radix_histogram_spv[] = {
#include "radix_histogram.comp.inc"
};
static const uint32_t count_args_spv[] = {
#include "count_args.comp.inc"
};

/* A sort's per-block pipelines, built for one block size: the arguments, then radix_totals
   (single pass) or radix_histogram (reduce-then-scan), and the scatter. */
typedef struct sort_block_pipelines {
    rd_vk_pipeline args, count, scatter;
    uint32_t items; /* keys a thread (sort_block.glsl's SORT_ITEMS) */
} sort_block_pipelines;

struct rd_vk_sorter {
    rd_vk_pipeline scan_args, scan_reduce, scan_partials, scan_downsweep, count_args;
    sort_block_pipelines blocks[2]; /* small, large (choose_sort_blocks; large built only where its size differs) */
    bool single_pass;        /* decoupled look-back (choose_sort_path), else reduce-then-scan */
    bool partitioned;        /* the scatter ranks digits by subgroupPartitionNV (choose_sort_rank) */
    uint32_t wait_budget;    /* the look-back's, in radix_scatter.comp's WAIT_BUDGET units */
    rd_vk_buffer control, partials, totals_buffer;
    /* single pass: per pass, per block and digit, the scatter's look-back entries;
       reduce-then-scan: the pass's block digit counts, scanned in place */
    rd_vk_buffer lookback;
};

/* Shared memory radix_scatter takes at `items` keys a thread: s_block, s_base, s_local,
   s_work (the block's keys and values) and s_sums. */
static uint32_t scatter_shared_bytes(uint32_t items)
{
    return 4u * (1u + 2u * RD_RADIX + 2u * RD_SORT_THREADS * items + RD_SORT_THREADS);
}

/* The sorts' block sizes, in keys a thread. On GPUs, sorts of 2^21 keys or more take
   blocks of SORT_LARGE_ITEMS, which look back over fewer blocks, and smaller sorts
   SORT_SMALL_ITEMS, which spread them over more groups. H100, two runs each: 20 for
   every sort against 12 took 6M 2.757/2.760 -> 2.634/2.636 ms (tile sort 0.441 ->
   0.382) but biker 0.358/0.361 -> 0.365/0.368 (its depth sort of 153k keys, binning
   0.122 -> 0.135); 10 for every sort took biker to 0.348-0.352, donut 0.361 -> 0.346-0.352
   and demo 0.482 -> 0.468-0.479 (its tile sort of 1.5M keys 0.117 -> 0.102). The two
   sizes split at 2^21, against 12 and 20 split at 2^19: 1M 0.734/0.740 -> 0.729/0.727,
   biker 0.352/0.356 -> 0.348/0.348, donut 0.357/0.359 -> 0.345/0.348, demo 0.485/0.482
   -> 0.466/0.468, 6M unchanged. On CPU implementations RD_SORT_ITEMS for all (lavapipe's
   groups have 32 KiB). rd_tuning.vk_sort_items (8..20) gives every sort that size, so that
   the tests run others. Each is cut to what the device's shared memory holds, and is
   eight at least, so that the ranking's per-subgroup counts fit where the scatter then
   stages the block. */
enum { SORT_SMALL_ITEMS = 10, SORT_LARGE_ITEMS = 20, SORT_MIN_ITEMS = 8, SORT_MAX_ITEMS = 20, SORT_LARGE_FROM = 1 << 21,
       SORT_WAIT_BUDGET = 40000 };
static void choose_sort_blocks(const rd_vk_state *vk, const rd_tuning *tuning, rd_vk_sorter *s)
{
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties(vk->physical, &properties);
    uint32_t items[2] = {vk->cpu_device ? RD_SORT_ITEMS : SORT_SMALL_ITEMS, vk->cpu_device ? RD_SORT_ITEMS : SORT_LARGE_ITEMS};
    int wanted = tuning->vk_sort_items;
    if (wanted >= SORT_MIN_ITEMS && wanted <= SORT_MAX_ITEMS) items[0] = items[1] = (uint32_t)wanted;
    for (int b = 0; b < 2; b++) {
        while (items[b] > SORT_MIN_ITEMS && scatter_shared_bytes(items[b]) > properties.limits.maxComputeSharedMemorySize)
            items[b]--;
        s->blocks[b].items = items[b];
    }
}

/* The sort's path. The single pass waits on earlier workgroups (decoupled look-back),
   which ends only where every started workgroup keeps running: GPUs promise that (their
   resident groups run side by side). CPU implementations such as lavapipe run groups on a
   few threads that the system may stop at any time, and a group waiting there spins while
   the one it waits for is not scheduled (a 2-core machine under load took the tests past
   their time limits); they take reduce-then-scan, in which no group waits on another.
   rd_tuning.vk_sort_path overrides it; the single pass is refused where it is not
   promised. rd_tuning.vk_sort_wait_budget sets the look-back's budget (the tests run out
   of it on purpose). */
static rd_result choose_sort_path(rd_context *ctx, rd_vk_sorter *s)
{
    const rd_vk_state *vk = rd_vk(ctx);
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties(vk->physical, &properties);
    VkPhysicalDeviceType type = properties.deviceType;
    bool promised = type == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU || type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU ||
                    type == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU;
    s->single_pass = promised;
    const rd_tuning *tuning = &ctx->tuning;
    if (tuning->vk_sort_path == RD_SORT_REDUCE_THEN_SCAN) s->single_pass = false;
    if (tuning->vk_sort_path == RD_SORT_SINGLE_PASS) {
        if (!promised)
            return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE,
                           "vulkan: the single-pass sort: %s does not promise that the workgroups a sort waits on keep "
                           "running (not a GPU)", vk->name);
        s->single_pass = true;
    }
    int budget = tuning->vk_sort_wait_budget;
    s->wait_budget = budget == 0 ? SORT_WAIT_BUDGET : budget < 0 ? 0 : (uint32_t)budget;
    return RD_OK;
}

/* How the scatter finds the lanes of a subgroup that hold a key's digit: eight ballots
   (radix_scatter.comp) by default, or one subgroupPartitionNV where asked for and the
   device has it (radix_scatter_partitioned.comp). The partitioned path is not the default
   until a GPU run has timed it against the ballots (BENCHMARKS.md): its harness row runs
   it wherever a device has the extension. */
static rd_result choose_sort_rank(rd_context *ctx, rd_vk_sorter *s)
{
    const rd_vk_state *vk = rd_vk(ctx);
    s->partitioned = ctx->tuning.vk_sort_rank == RD_SORT_RANK_PARTITIONED;
    if (s->partitioned && !vk->subgroup_partitioned)
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE,
                       "vulkan: the sort ranked by subgroupPartitionNV: %s has no VK_NV_shader_subgroup_partitioned for "
                       "compute shaders", vk->name);
    return RD_OK;
}

/* The pipelines a sort of up to max_count keys takes (see choose_sort_blocks). */
static const sort_block_pipelines *sort_blocks(const rd_vk_sorter *s, uint32_t max_count)
{
    bool large = max_count >= SORT_LARGE_FROM && s->blocks[1].items != s->blocks[0].items;
    return &s->blocks[large];
}

/* Builds a block size's three pipelines for the sort's path, with radix_scatter.comp's
   specialization constants: SORT_ITEMS, LOOK_BACK, WAIT_BUDGET. */
static rd_result create_sort_blocks(rd_context *ctx, const rd_vk_sorter *s, sort_block_pipelines *b)
{
    struct { uint32_t items; VkBool32 look_back; uint32_t wait_budget; } values = {b->items, s->single_pass, s->wait_budget};
    static const VkSpecializationMapEntry entries[] = {{.constantID = 0, .offset = 0, .size = 4},
                                                       {.constantID = 1, .offset = 4, .size = 4},
                                                       {.constantID = 2, .offset = 8, .size = 4}};
    const VkSpecializationInfo constants = {.mapEntryCount = 3, .pMapEntries = entries, .dataSize = sizeof values,
                                            .pData = &values};
    const rd_vk_shader shaders[] = {
        {&b->args, sort_args_spv, sizeof sort_args_spv, "sort_args", &constants},
        s->single_pass ? (rd_vk_shader){&b->count, radix_totals_spv, sizeof radix_totals_spv, "radix_totals", &constants}
                       : (rd_vk_shader){&b->count, radix_histogram_spv, sizeof radix_histogram_spv, "radix_histogram", &constants},
        s->partitioned ? (rd_vk_shader){&b->scatter, radix_scatter_partitioned_spv, sizeof radix_scatter_partitioned_spv,
                                        "radix_scatter_partitioned", &constants}
                       : (rd_vk_shader){&b->scatter, radix_scatter_spv, sizeof radix_scatter_spv, "radix_scatter", &constants}};
    return rd_vk_pipelines_create(ctx, shaders, sizeof shaders / sizeof shaders[0]);
}

bool rd_vk_sorter_single_pass(const rd_vk_sorter *s) { return s->single_pass; }

void rd_vk_sorter_items(const rd_vk_sorter *s, uint32_t items[2])
{
    items[0] = s->blocks[0].items, items[1] = s->blocks[1].items;
}

rd_result rd_vk_sorter_create(rd_context *ctx, rd_vk_sorter **out)
{
    rd_vk_sorter *s = calloc(1, sizeof *s);
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: out of memory");
    choose_sort_blocks(rd_vk(ctx), &ctx->tuning, s);
    rd_result r = choose_sort_path(ctx, s);
    if (r == RD_OK) r = choose_sort_rank(ctx, s);
    const rd_vk_shader shaders[] = {
        {&s->scan_args, scan_args_spv, sizeof scan_args_spv, "scan_args"},
        {&s->scan_reduce, scan_reduce_spv, sizeof scan_reduce_spv, "scan_reduce"},
        {&s->scan_partials, scan_partials_spv, sizeof scan_partials_spv, "scan_partials"},
        {&s->scan_downsweep, scan_downsweep_spv, sizeof scan_downsweep_spv, "scan_downsweep"},
        {&s->count_args, count_args_spv, sizeof count_args_spv, "count_args"}};
    if (r == RD_OK) r = rd_vk_pipelines_create(ctx, shaders, sizeof shaders / sizeof shaders[0]);
    if (r == RD_OK) r = create_sort_blocks(ctx, s, &s->blocks[0]);
    if (r == RD_OK && s->blocks[1].items != s->blocks[0].items) r = create_sort_blocks(ctx, s, &s->blocks[1]);
    if (r == RD_OK) r = rd_vk_reserve(ctx, &s->control, RD_CONTROL_UINTS * 4, "sort control");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &s->totals_buffer, RD_SORT_MAX_PASSES * RD_RADIX * 4, "sort digit totals");
    if (r == RD_OK) r = rd_vk_sorter_reserve(ctx, s, 1);
    if (r != RD_OK) {
        rd_vk_sorter_destroy(ctx, s);
        return r;
    }
    *out = s;
    return RD_OK;
}

void rd_vk_sorter_destroy(rd_context *ctx, rd_vk_sorter *s)
{
    if (!s) return;
    rd_vk_state *vk = rd_vk(ctx);
    rd_vk_pipeline *pipelines[] = {&s->scan_args,       &s->scan_reduce,        &s->scan_partials,     &s->scan_downsweep,
                                   &s->blocks[0].args,  &s->blocks[0].count,    &s->blocks[0].scatter, &s->blocks[1].args,
                                   &s->blocks[1].count, &s->blocks[1].scatter, &s->count_args};
    for (size_t i = 0; i < sizeof pipelines / sizeof pipelines[0]; i++) rd_vk_pipeline_destroy(vk, pipelines[i]);
    rd_vk_release(ctx, &s->control);
    rd_vk_release(ctx, &s->partials);
    rd_vk_release(ctx, &s->lookback);
    rd_vk_release(ctx, &s->totals_buffer);
    free(s);
}

/* radix_scatter.comp's push constants. */
typedef struct scatter_push {
    VkDeviceAddress keys_in, values_in, keys_out, values_out, control, lookback, totals, gather_from, gather_to, status;
    uint32_t mask, pass;
} scatter_push;

static uint64_t blocks(uint64_t n, uint64_t per) { return (n + per - 1) / per; }

rd_result rd_vk_sorter_reserve(rd_context *ctx, rd_vk_sorter *s, uint64_t max_count)
{
    /* look-back entries hold counts in 30 bits */
    if (max_count >= RD_SORT_MAX_KEYS)
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: cannot sort %llu keys (at most %u)", (unsigned long long)max_count,
                       RD_SORT_MAX_KEYS - 1);
    uint32_t items = s->blocks[0].items < s->blocks[1].items ? s->blocks[0].items : s->blocks[1].items;
    uint64_t groups = blocks(max_count, (uint64_t)RD_SORT_THREADS * items); /* the most either size takes */
    rd_result r = rd_vk_reserve(ctx, &s->lookback, RD_SORT_MAX_PASSES * groups * RD_RADIX * 4, "sort look-back");
    /* scans of max_count elements, and of the reduce-then-scan's table of groups * RD_RADIX */
    uint64_t scanned = max_count > groups * RD_RADIX ? max_count : groups * RD_RADIX;
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

/* The single pass: one read of the keys counts the digits of every pass, then one
   dispatch a pass ranks, looks back and scatters. */
static int record_single_pass(rd_vk_sorter *s, VkCommandBuffer cmd, const rd_vk_sort_desc *desc,
                              const sort_block_pipelines *block, uint32_t passes, uint32_t last_mask)
{
    VkDeviceAddress control = s->control.address, totals = s->totals_buffer.address;
    /* a pass's look-back entries (a quarter of the buffer, whole blocks), cleared by radix_totals */
    VkDeviceSize block_entries = RD_RADIX * 4, table = s->lookback.bytes / RD_SORT_MAX_PASSES / block_entries * block_entries;
    struct { VkDeviceAddress keys, control, totals, lookback; uint64_t lookback_table; uint32_t passes, last_mask; } count = {
        desc->keys[0], control, totals, s->lookback.address, table, passes, last_mask};
    rd_vk_dispatch_indirect(cmd, &block->count, &count, &s->control, RD_CONTROL_SORT_DISPATCH * 4);
    rd_vk_barrier(cmd);
    int from = 0;
    for (uint32_t pass = 0; pass < passes; pass++, from ^= 1) {
        bool last = pass + 1 == passes;
        scatter_push scatter = {desc->keys[from], desc->values[from], desc->keys[from ^ 1], desc->values[from ^ 1], control,
                                s->lookback.address + pass * table, totals, last ? desc->gather_from : 0,
                                last ? desc->gather_to : 0, desc->status, last ? last_mask : 255u, pass};
        rd_vk_dispatch_indirect(cmd, &block->scatter, &scatter, &s->control, RD_CONTROL_SORT_DISPATCH * 4);
        rd_vk_barrier(cmd);
    }
    return from;
}

/* Reduce-then-scan: a pass counts each block's digits into a table, scans it, scatters. */
static int record_reduce_then_scan(rd_vk_sorter *s, VkCommandBuffer cmd, const rd_vk_sort_desc *desc,
                                   const sort_block_pipelines *block, uint32_t passes, uint32_t last_mask)
{
    VkDeviceAddress control = s->control.address, table = s->lookback.address;
    int from = 0;
    for (uint32_t pass = 0; pass < passes; pass++, from ^= 1) {
        bool last = pass + 1 == passes;
        uint32_t mask = last ? last_mask : 255u;
        struct { VkDeviceAddress keys, control, table; uint32_t mask, pass; } histogram = {desc->keys[from], control, table,
                                                                                            mask, pass};
        rd_vk_dispatch_indirect(cmd, &block->count, &histogram, &s->control, RD_CONTROL_SORT_DISPATCH * 4);
        rd_vk_barrier(cmd);
        rd_vk_scan_record(s, cmd, &(rd_vk_scan_desc){.input = table, .output = table,
                                                     .count = control + RD_CONTROL_SORT_TABLE * 4, .exclusive = true});
        scatter_push scatter = {desc->keys[from], desc->values[from], desc->keys[from ^ 1], desc->values[from ^ 1], control,
                                table, 0, last ? desc->gather_from : 0, last ? desc->gather_to : 0, desc->status, mask, pass};
        rd_vk_dispatch_indirect(cmd, &block->scatter, &scatter, &s->control, RD_CONTROL_SORT_DISPATCH * 4);
        rd_vk_barrier(cmd);
    }
    return from;
}

int rd_vk_sort_pairs_record(rd_vk_sorter *s, VkCommandBuffer cmd, const rd_vk_sort_desc *desc)
{
    const sort_block_pipelines *block = sort_blocks(s, desc->max_count);
    uint32_t passes = (uint32_t)(desc->bits + 7) / 8;
    /* the last digit may be narrower: bits above desc->bits do not count */
    uint32_t last_mask = desc->bits % 8 ? (1u << (desc->bits % 8)) - 1u : 255u;
    struct { VkDeviceAddress count, control, totals, status; uint32_t limit; } args = {
        desc->count, s->control.address, s->totals_buffer.address, desc->status, desc->max_count};
    rd_vk_dispatch(cmd, &block->args, &args, 1);
    rd_vk_barrier(cmd);
    return s->single_pass ? record_single_pass(s, cmd, desc, block, passes, last_mask)
                          : record_reduce_then_scan(s, cmd, desc, block, passes, last_mask);
}

VkDeviceSize rd_vk_count_args_record(rd_vk_sorter *s, VkCommandBuffer cmd, VkDeviceAddress count, VkDeviceAddress status,
                                     uint32_t limit, uint32_t per_group, const rd_vk_buffer **args)
{
    struct { VkDeviceAddress count, control, status; uint32_t limit, per_group; } push = {count, s->control.address, status,
                                                                                           limit, per_group};
    rd_vk_dispatch(cmd, &s->count_args, &push, 1);
    rd_vk_barrier(cmd);
    *args = &s->control;
    return RD_CONTROL_ARGS_DISPATCH * 4;
}
