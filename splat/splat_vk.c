/* splat_vk.c: the Vulkan renderer, stage for stage the CUDA one (splat_cuda.cu), with
   the shaders in splat/shaders: preprocess (one thread per Gaussian), a radix sort of
   the Gaussians by depth whose last pass also gathers the tile counts in that order, a
   scan of them, the Gaussian that starts each group of pairs (pair_groups.comp), key
   emission (tile id alone, in depth order; a thread a pair, or with rd_tuning.vk_emit a
   group a block of Gaussians, emit_blocks.comp), a stable radix sort over the tile bits in
   use, per-tile ranges, on GPUs the blend's launch order (longest lists first), and a
   blend with a 16x16 group per tile. Everything runs in one submission with no host
   readback: the pair count the scan finds drives the tile sort and the ranges through
   indirect dispatch. Key buffers have a capacity, grown (the frame rendered again) and
   fitted as renderer/frame_driver.h says. Scenes come from host arrays (copied once per
   scene) or from the caller's device addresses (rd_buffer_alloc, used in place); outputs
   go to host memory through a readback buffer, or straight to device addresses. */
#include "splat.h"
#include "shaders/splat_layout.h"
#include "../renderer/vulkan/vk_sort.h"
#include "../renderer/frame_driver.h"
#include "../renderer/vulkan/shaders/vk_layout.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(RD_VK_FLAG_ANTIALIASED == RD_RENDER_ANTIALIASED && RD_VK_FLAG_INRIA_EXTENT == RD_RENDER_INRIA_EXTENT &&
                   RD_VK_FLAG_EXPECTED_DEPTH == RD_RENDER_EXPECTED_DEPTH && RD_VK_TILE == RD_TILE_SIZE,
               "splat_layout.h and radiant.h disagree");
_Static_assert(sizeof(rd_view_params) == 32 * 4, "ViewParams in splat_math.glsl mirrors rd_view_params field for field");

static const uint32_t preprocess_spv[] = {
#include "preprocess.comp.inc"
};
static const uint32_t pair_groups_spv[] = {
#include "pair_groups.comp.inc"
};
static const uint32_t emit_spv[] = {
#include "emit.comp.inc"
};
static const uint32_t emit_blocks_spv[] = {
#include "emit_blocks.comp.inc"
};
static const uint32_t ranges_spv[] = {
#include "ranges.comp.inc"
};
static const uint32_t tile_classes_spv[] = {
#include "tile_classes.comp.inc"
};
static const uint32_t tile_schedule_spv[] = {
#include "tile_schedule.comp.inc"
};
static const uint32_t blend_spv[] = {
#include "blend.comp.inc"
};

enum { OUTPUTS = 4 };

/* The last rendered scene's arrays on the device, recognised by the scene's uid. */
typedef struct vk_scene_copy {
    uint64_t uid;
    rd_vk_buffer arrays[RD_SCENE_ARRAYS]; /* in rd_scene_array_list's order; SH as halves for RD_SCENE_HALF_SH */
} vk_scene_copy;

typedef struct vk_frame {
    rd_vk_pipeline preprocess, pair_groups, emit, ranges, tile_classes, tile_schedule, blend;
    bool emit_blocks;               /* the emission a group a block of Gaussians (emit_blocks.comp), else a thread a pair */
    rd_vk_pipeline blend_colour; /* the blend where neither depth nor contributors are wanted */
    vk_scene_copy scene;
    rd_vk_buffer params, splats, tiles, touched, depth_keys[2], order[2], gathered, offsets, counters, keys[2], values[2],
        group_first, tile_ranges, tile_order;
    rd_vk_buffer outputs[OUTPUTS];  /* colour, depth, transmittance, contributors */
    rd_vk_buffer readback;          /* host-visible: counters, then the outputs */
    rd_pair_capacity capacity;      /* pairs the key buffers hold */
    bool longest_first;             /* the blend's launch order (tiles_longest_first) */
    rd_vk_timers timers;            /* rd_splat_stage_names */
    rd_vk_reusable frame_commands;  /* the last colour frame's recording (frame_key) */
    void *features;                 /* feature_vk.c's state, and how it goes */
    void (*free_features)(rd_context *ctx, void *state);
} vk_frame;

static void release_scene(rd_context *ctx, vk_scene_copy *c)
{
    for (int k = 0; k < RD_SCENE_ARRAYS; k++) rd_vk_release(ctx, &c->arrays[k]);
    c->uid = 0;
}

void rd_splat_vk_free_state(rd_context *ctx, void *state)
{
    vk_frame *f = state;
    rd_vk_state *vk = rd_vk(ctx);
    if (!f) return;
    if (vk && vk->device) {
        vkDeviceWaitIdle(vk->device);
        if (f->free_features) f->free_features(ctx, f->features);
        rd_vk_pipeline *pipelines[] = {&f->preprocess,   &f->pair_groups,   &f->emit, &f->ranges,
                                       &f->tile_classes, &f->tile_schedule, &f->blend, &f->blend_colour};
        for (size_t i = 0; i < sizeof pipelines / sizeof pipelines[0]; i++) rd_vk_pipeline_destroy(vk, pipelines[i]);
        release_scene(ctx, &f->scene);
        rd_vk_buffer *bufs[] = {&f->params, &f->splats, &f->tiles, &f->touched, &f->depth_keys[0], &f->depth_keys[1], &f->order[0],
                                &f->order[1], &f->gathered, &f->offsets, &f->counters, &f->keys[0], &f->keys[1],
                                &f->values[0], &f->values[1], &f->group_first, &f->tile_ranges, &f->tile_order, &f->readback,
                                &f->outputs[0], &f->outputs[1], &f->outputs[2], &f->outputs[3]};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) rd_vk_release(ctx, bufs[i]);
        rd_vk_reusable_free(ctx, &f->frame_commands);
    }
    free(f);
}

/* The blend's launch order: longest tile lists first on GPUs (tile_schedule.comp); row
   order on CPU implementations such as lavapipe, where a few threads take the groups in
   turn so no tile runs alone at the end, and row order keeps neighbouring tiles'
   Gaussians in cache (longest first took lavapipe's donut blend from 160 to 270 ms).
   rd_tuning.vk_tile_order overrides it, so that the tests run both. */
static bool tiles_longest_first(const rd_context *ctx)
{
    if (ctx->tuning.vk_tile_order) return ctx->tuning.vk_tile_order == RD_TILE_ORDER_LONGEST;
    return !rd_vk((rd_context *)ctx)->cpu_device;
}

static rd_result get_frame(rd_context *ctx, vk_frame **out)
{
    void **slot = rd_context_slot(ctx, RD_SCENE_GAUSSIANS);
    if (!*slot) {
        vk_frame *f = calloc(1, sizeof *f);
        if (!f) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: out of memory");
        f->params.host = f->readback.host = true;
        f->longest_first = tiles_longest_first(ctx);
        /* a thread a pair until a GPU run times the blocks (BENCHMARKS.md); the tests run both */
        f->emit_blocks = ctx->tuning.vk_emit == RD_EMIT_BLOCKS;
        /* blend.comp with EXTRAS off, for frames that want colour alone */
        static const VkBool32 no_extras = VK_FALSE;
        static const VkSpecializationMapEntry extras_entry = {.constantID = 0, .offset = 0, .size = sizeof(VkBool32)};
        const VkSpecializationInfo colour_only = {
            .mapEntryCount = 1, .pMapEntries = &extras_entry, .dataSize = sizeof no_extras, .pData = &no_extras};
        const rd_vk_shader shaders[] = {
            {&f->preprocess, preprocess_spv, sizeof preprocess_spv, "preprocess"},
            {&f->pair_groups, pair_groups_spv, sizeof pair_groups_spv, "pair_groups"},
            f->emit_blocks ? (rd_vk_shader){&f->emit, emit_blocks_spv, sizeof emit_blocks_spv, "emit_blocks"}
                           : (rd_vk_shader){&f->emit, emit_spv, sizeof emit_spv, "emit"},
            {&f->ranges, ranges_spv, sizeof ranges_spv, "ranges"},
            {&f->tile_classes, tile_classes_spv, sizeof tile_classes_spv, "tile_classes"},
            {&f->tile_schedule, tile_schedule_spv, sizeof tile_schedule_spv, "tile_schedule"},
            {&f->blend, blend_spv, sizeof blend_spv, "blend"},
            {&f->blend_colour, blend_spv, sizeof blend_spv, "blend (colour only)", &colour_only}};
        rd_result r = rd_vk_pipelines_create(ctx, shaders, sizeof shaders / sizeof shaders[0]);
        if (r == RD_OK) r = rd_vk_timers_create(ctx, rd_splat_stage_names, RD_SPLAT_STAGES, &f->timers);
        if (r != RD_OK) {
            rd_splat_vk_free_state(ctx, f);
            return r;
        }
        *slot = f;
    }
    *out = *slot;
    return RD_OK;
}

/* The device address of each scene array: the caller's (a device-memory scene, given as
   rd_buffer_alloc addresses), or our copy of the host arrays. */
static void scene_addresses(const vk_frame *f, const rd_scene *scene, VkDeviceAddress out[RD_SCENE_ARRAYS])
{
    const float *arrays[RD_SCENE_ARRAYS];
    size_t floats[RD_SCENE_ARRAYS];
    rd_scene_array_list(scene, arrays, floats);
    for (int k = 0; k < RD_SCENE_ARRAYS; k++)
        out[k] = scene->head.memory == RD_MEMORY_DEVICE ? (VkDeviceAddress)(uintptr_t)arrays[k] : f->scene.arrays[k].address;
}

static rd_result upload_scene(rd_context *ctx, vk_frame *f, const rd_scene *scene)
{
    if (f->scene.uid == scene->head.uid || scene->head.memory == RD_MEMORY_DEVICE) return RD_OK;
    release_scene(ctx, &f->scene);
    const float *src[RD_SCENE_ARRAYS];
    size_t floats[RD_SCENE_ARRAYS];
    rd_scene_array_list(scene, src, floats);
    rd_result r = RD_OK;
    for (int k = 0; k < RD_SCENE_ARRAYS && r == RD_OK; k++) {
        const void *from;
        size_t bytes;
        uint16_t *converted;
        r = rd_scene_upload_source(ctx, scene, k, 0, &from, &bytes, &converted); /* SH rows as they are */
        if (r == RD_OK) r = rd_vk_reserve(ctx, &f->scene.arrays[k], bytes + 4, "scene upload"); /* + 4: the last half's word */
        if (r == RD_OK && bytes > 0) r = rd_vk_upload(ctx, &f->scene.arrays[k], 0, from, bytes);
        free(converted);
    }
    if (r != RD_OK) {
        release_scene(ctx, &f->scene);
        return r;
    }
    f->scene.uid = scene->head.uid;
    return RD_OK;
}

/* The caller's outputs in the order of vk_frame.outputs; NULL where not wanted. */
static void wanted_outputs(const rd_framebuffer *target, const void *wanted[OUTPUTS])
{
    wanted[0] = target->color, wanted[1] = target->depth, wanted[2] = target->transmittance, wanted[3] = target->contributors;
}

static size_t output_bytes(int output, size_t pixels) { return pixels * (output == 0 ? 4 * sizeof(float) : sizeof(float)); }


/* The tile ranges ([start, end) a tile), then the schedule's counters, cleared together. */
static uint64_t ranges_bytes(uint64_t tiles) { return tiles * 8 + RD_SCHEDULE_COUNTERS * 4; }

/* Every buffer the frame records, sized before recording (growth frees old buffers). */
static rd_result reserve_frame(rd_context *ctx, vk_frame *f, uint64_t n, uint64_t tiles, size_t pixels,
                               const rd_framebuffer *target)
{
    uint64_t capacity = (uint64_t)f->capacity.pairs; /* frame_driver.h: under 2^31 */
    /* the per-Gaussian buffers with room to spare: a stream whose count creeps up reallocated
       them (and waited for the queue) every other frame, 4 ms a frame on an H100 */
    rd_result r = rd_vk_reserve(ctx, &f->params, sizeof(rd_view_params), "view parameters");
    if (r == RD_OK) r = rd_vk_reserve_room(ctx, &f->splats, n * 48, "preprocessed Gaussians"); /* SplatAt */
    if (r == RD_OK) r = rd_vk_reserve_room(ctx, &f->tiles, n * 8, "preprocessed Gaussians' tiles"); /* TilesAt */
    if (r == RD_OK) r = rd_vk_reserve_room(ctx, &f->touched, n * 4, "tile counts");
    if (r == RD_OK) r = rd_vk_reserve_room(ctx, &f->gathered, n * 4, "tile counts");
    if (r == RD_OK) r = rd_vk_reserve_room(ctx, &f->offsets, n * 4, "tile offsets");
    for (int b = 0; b < 2 && r == RD_OK; b++) {
        r = rd_vk_reserve_room(ctx, &f->depth_keys[b], n * 4, "depth keys");
        if (r == RD_OK) r = rd_vk_reserve_room(ctx, &f->order[b], n * 4, "depth order");
        if (r == RD_OK) r = rd_vk_reserve(ctx, &f->keys[b], capacity * 4, "sort keys");
        if (r == RD_OK) r = rd_vk_reserve(ctx, &f->values[b], capacity * 4, "sort values");
    }
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->counters, RD_COUNTERS * 4, "counters");
    uint64_t pair_groups = capacity / RD_LINEAR_THREADS + 1;
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->group_first, pair_groups * 4, "pair groups");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->tile_ranges, ranges_bytes(tiles), "tile ranges");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->tile_order, tiles * 4, "tile schedule");
    const void *wanted[OUTPUTS];
    wanted_outputs(target, wanted);
    size_t readback = RD_COUNTERS * 4;
    for (int o = 0; o < OUTPUTS && r == RD_OK; o++)
        if (wanted[o] && target->memory == RD_MEMORY_HOST) {
            size_t bytes = output_bytes(o, pixels);
            r = rd_vk_reserve(ctx, &f->outputs[o], bytes, "frame outputs");
            readback += bytes;
        }
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->readback, readback, "frame readback");
    if (r == RD_OK) r = rd_vk_sorter_reserve(ctx, rd_vk(ctx)->sorter, n > capacity ? n : capacity);
    return r;
}

/* Records the whole frame: every stage, then the copies of counters and outputs. */
static void record_frame(rd_context *ctx, vk_frame *f, VkCommandBuffer cmd, const rd_scene *scene, const rd_view_params *vp,
                         const rd_framebuffer *target, const rd_splat_vk_stage *stage)
{
    uint32_t n = (uint32_t)scene->count, capacity = (uint32_t)f->capacity.pairs;
    uint64_t tiles = (uint64_t)vp->tiles_x * vp->tiles_y;
    size_t pixels = (size_t)vp->width * vp->height;
    VkDeviceAddress counters = f->counters.address, params = f->params.address;
    rd_vk_sorter *sorter = rd_vk(ctx)->sorter;
    _Static_assert(RD_COUNTER_GAUSSIANS == 0, "the counters are filled as n, then zeros");
    vkCmdFillBuffer(cmd, f->counters.buffer, 0, 4, n);
    vkCmdFillBuffer(cmd, f->counters.buffer, 4, (RD_COUNTERS - 1) * 4, 0);
    vkCmdFillBuffer(cmd, f->tile_ranges.buffer, 0, ranges_bytes(tiles), 0);
    rd_vk_barrier(cmd);
    rd_vk_timers_mark(ctx, cmd, &f->timers, 0);
    int tile_result = 0;
    if (n > 0) {
        VkDeviceAddress arrays[RD_SCENE_ARRAYS];
        scene_addresses(f, scene, arrays);
        struct { VkDeviceAddress vp, means, log_scales, rotations, opacities, sh, splats, tiles, touched, depth_keys, order,
                 counters; uint32_t count; int32_t sh_degree; } pre = {
            params, arrays[RD_ARRAY_MEANS], arrays[RD_ARRAY_LOG_SCALES], arrays[RD_ARRAY_ROTATIONS],
            arrays[RD_ARRAY_OPACITIES], arrays[RD_ARRAY_SH], f->splats.address, f->tiles.address, f->touched.address,
            f->depth_keys[0].address, f->order[0].address, counters, n,
            scene->sh_degree + (scene->flags & RD_SCENE_HALF_SH ? RD_VK_SH_HALF : 0) +
                (scene->flags & RD_SCENE_HALF_SHAPE ? RD_VK_SHAPE_HALF : 0)}; /* host scenes only: upload_scene's halves */
        uint64_t groups = (n + RD_LINEAR_THREADS - 1) / RD_LINEAR_THREADS;
        rd_vk_dispatch(cmd, &f->preprocess, &pre, groups);
        rd_vk_barrier(cmd);
        rd_vk_timers_mark(ctx, cmd, &f->timers, 1);
        int depth_result = rd_vk_sort_pairs_record(sorter, cmd, &(rd_vk_sort_desc){
            .keys = {f->depth_keys[0].address, f->depth_keys[1].address}, .values = {f->order[0].address, f->order[1].address},
            .count = counters + RD_COUNTER_GAUSSIANS * 4, .max_count = n, .bits = 32,
            .gather_from = f->touched.address, .gather_to = f->gathered.address,
            .status = counters + RD_COUNTER_SORT_STALLS * 4});
        VkDeviceAddress order = f->order[depth_result].address;
        rd_vk_scan_record(sorter, cmd, &(rd_vk_scan_desc){.input = f->gathered.address, .output = f->offsets.address,
                                                               .count = counters + RD_COUNTER_GAUSSIANS * 4});
        /* the pair count is the scan's last element */
        VkBufferCopy last = {.srcOffset = (VkDeviceSize)(n - 1) * 4, .dstOffset = RD_COUNTER_PAIRS * 4, .size = 4};
        vkCmdCopyBuffer(cmd, f->offsets.buffer, f->counters.buffer, 1, &last);
        rd_vk_barrier(cmd);
        /* where each group of pairs starts, for the emission a thread a pair; the barrier after
           the arguments below covers it too */
        struct { VkDeviceAddress offsets, group_first, counters; uint32_t count, capacity; } pair_groups = {
            f->offsets.address, f->group_first.address, counters, n, capacity};
        if (!f->emit_blocks) rd_vk_dispatch(cmd, &f->pair_groups, &pair_groups, groups);
        /* one thread per sorted pair, for the emission and again for the ranges (the sort
           leaves these arguments alone) */
        const rd_vk_buffer *args;
        VkDeviceSize at = rd_vk_count_args_record(sorter, cmd, counters + RD_COUNTER_PAIRS * 4,
                                                  counters + RD_COUNTER_SORT_STALLS * 4, capacity, RD_LINEAR_THREADS, &args);
        struct { VkDeviceAddress vp, tiles, order, offsets, group_first, keys, values, counters; uint32_t count, capacity; }
            emit = {params, f->tiles.address, order, f->offsets.address, f->group_first.address, f->keys[0].address,
                    f->values[0].address, counters, n, capacity};
        struct { VkDeviceAddress vp, tiles, order, offsets, keys, values, counters; uint32_t count, capacity; } emit_blocks = {
            params, f->tiles.address, order, f->offsets.address, f->keys[0].address, f->values[0].address, counters, n, capacity};
        if (f->emit_blocks) rd_vk_dispatch(cmd, &f->emit, &emit_blocks, groups); /* a group a block of Gaussians */
        else rd_vk_dispatch_indirect(cmd, &f->emit, &emit, args, at);           /* a thread a pair */
        rd_vk_barrier(cmd);
        rd_vk_timers_mark(ctx, cmd, &f->timers, 2);
        /* stable: within a tile the pairs keep the depth order they were emitted in */
        tile_result = rd_vk_sort_pairs_record(sorter, cmd, &(rd_vk_sort_desc){
            .keys = {f->keys[0].address, f->keys[1].address}, .values = {f->values[0].address, f->values[1].address},
            .count = counters + RD_COUNTER_PAIRS * 4, .max_count = capacity, .bits = rd_key_bits(tiles),
            .status = counters + RD_COUNTER_SORT_STALLS * 4});
        struct { VkDeviceAddress keys, ranges, counters; uint32_t capacity; } ranges = {
            f->keys[tile_result].address, f->tile_ranges.address, counters, capacity};
        rd_vk_dispatch_indirect(cmd, &f->ranges, &ranges, args, at);
        rd_vk_barrier(cmd);
    } else {
        for (int s = 1; s < 3; s++) rd_vk_timers_mark(ctx, cmd, &f->timers, s);
    }
    if (f->longest_first) { /* the blend's launch order */
        VkDeviceAddress schedule_counters = f->tile_ranges.address + tiles * 8;
        uint64_t tile_groups = (tiles + RD_LINEAR_THREADS - 1) / RD_LINEAR_THREADS;
        struct { VkDeviceAddress ranges, schedule_counters; uint32_t tiles; } classes = {
            f->tile_ranges.address, schedule_counters, (uint32_t)tiles};
        rd_vk_dispatch(cmd, &f->tile_classes, &classes, tile_groups);
        rd_vk_barrier(cmd);
        struct { VkDeviceAddress ranges, schedule, schedule_counters; uint32_t tiles; } schedule = {
            f->tile_ranges.address, f->tile_order.address, schedule_counters, (uint32_t)tiles};
        rd_vk_dispatch(cmd, &f->tile_schedule, &schedule, tile_groups);
        rd_vk_barrier(cmd);
    }
    rd_vk_timers_mark(ctx, cmd, &f->timers, 3);
    if (stage) {
        rd_splat_vk_bins bins = {params, f->tile_ranges.address, f->tile_order.address, f->values[tile_result].address,
                                 f->splats.address, f->longest_first};
        stage->record(ctx, stage->user, cmd, &bins);
        rd_vk_barrier(cmd);
        rd_vk_timers_mark(ctx, cmd, &f->timers, 4);
        VkBufferCopy counters_copy = {.size = RD_COUNTERS * 4};
        vkCmdCopyBuffer(cmd, f->counters.buffer, f->readback.buffer, 1, &counters_copy);
        VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                   .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
        return;
    }
    uint32_t outputs = 0;
    const void *wanted[OUTPUTS];
    wanted_outputs(target, wanted);
    /* the blend writes to the caller's device addresses (radiant_vulkan.h), or to our
       buffers, copied to the host after the frame */
    VkDeviceAddress out[OUTPUTS];
    for (int o = 0; o < OUTPUTS; o++) {
        outputs |= wanted[o] ? 1u << o : 0u;
        out[o] = target->memory == RD_MEMORY_DEVICE ? (VkDeviceAddress)(uintptr_t)wanted[o] : f->outputs[o].address;
    }
    struct { VkDeviceAddress vp, ranges, schedule, values, splats, color, depth, trans, contrib; uint32_t outputs, scheduled; }
        blend = {params, f->tile_ranges.address, f->tile_order.address, f->values[tile_result].address, f->splats.address,
                 out[0], out[1], out[2], out[3], outputs, f->longest_first};
    rd_vk_dispatch(cmd, wanted[1] || wanted[3] ? &f->blend : &f->blend_colour, &blend, tiles);
    rd_vk_barrier(cmd);
    rd_vk_timers_mark(ctx, cmd, &f->timers, 4);
    VkBufferCopy copy = {.size = RD_COUNTERS * 4};
    vkCmdCopyBuffer(cmd, f->counters.buffer, f->readback.buffer, 1, &copy);
    copy.dstOffset = copy.size;
    for (int o = 0; o < OUTPUTS && target->memory == RD_MEMORY_HOST; o++)
        if (outputs & (1u << o)) {
            copy.size = output_bytes(o, pixels);
            vkCmdCopyBuffer(cmd, f->outputs[o].buffer, f->readback.buffer, 1, &copy);
            copy.dstOffset += copy.size;
        }
    VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                               .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
}

/* One frame as renderer/frame_driver.h drives it. */
typedef struct vk_frame_call {
    vk_frame *f;
    const rd_scene *scene;
    const rd_view_params *vp;
    const rd_framebuffer *target;
    const rd_splat_vk_stage *stage; /* NULL: the colour blend */
    double record_ms, submit_wait_ms; /* the host's, summed over the driver's tries */
    int recorded;                     /* tries that recorded their commands (the others reused the last) */
} vk_frame_call;

static rd_result reserve_call(rd_context *ctx, void *user, int64_t capacity)
{
    vk_frame_call *c = user;
    (void)capacity; /* f->capacity.pairs, which reserve_frame reads */
    size_t pixels = (size_t)c->vp->width * c->vp->height;
    rd_result r = reserve_frame(ctx, c->f, (uint64_t)c->scene->count, (uint64_t)c->vp->tiles_x * c->vp->tiles_y, pixels, c->target);
    return r == RD_OK && c->stage ? c->stage->reserve(ctx, c->stage->user) : r;
}

/* What record_frame reads of a colour frame besides the view parameters' buffer (whose
   contents it does not record) and the buffers (rd_vk_reusable adds their generation):
   equal keys record equal commands. Zeroed before it is filled, so that its bytes compare. */
typedef struct frame_key {
    uint64_t scene_uid;
    VkDeviceAddress arrays[RD_SCENE_ARRAYS];
    int64_t count, capacity;
    int32_t sh_degree, tiles_x, tiles_y, width, height, memory;
    uint32_t scene_flags, longest_first;
    const void *wanted[OUTPUTS];
} frame_key;

_Static_assert(sizeof(frame_key) <= sizeof(((rd_vk_reusable *)0)->key), "rd_vk_reusable holds the key");

static void fill_frame_key(const vk_frame *f, const rd_scene *scene, const rd_view_params *vp, const rd_framebuffer *target,
                           frame_key *k)
{
    memset(k, 0, sizeof *k);
    k->scene_uid = scene->head.uid;
    scene_addresses(f, scene, k->arrays);
    k->count = scene->count, k->capacity = f->capacity.pairs;
    k->sh_degree = scene->sh_degree, k->scene_flags = scene->flags;
    k->tiles_x = vp->tiles_x, k->tiles_y = vp->tiles_y, k->width = vp->width, k->height = vp->height;
    k->memory = (int32_t)target->memory, k->longest_first = f->longest_first;
    wanted_outputs(target, k->wanted);
    /* a host output is copied out of our buffers after the frame: which are wanted is what
       the recording reads, not where they go (a caller's fresh buffer each frame) */
    for (int o = 0; o < OUTPUTS && target->memory == RD_MEMORY_HOST; o++) k->wanted[o] = k->wanted[o] ? (const void *)1 : NULL;
}

/* Records the frame (or takes the last one's recording, where the key is the same),
   submits it and waits; the counters say how it went. A stage's frame (the viewer's feature
   maps) records every time, in the context's command buffer. */
static rd_result run_call(rd_context *ctx, void *user, int64_t capacity, int64_t *pairs)
{
    vk_frame_call *c = user;
    vk_frame *f = c->f;
    (void)capacity; /* f->capacity.pairs, which record_frame reads */
    VkCommandBuffer cmd;
    rd_result r = rd_vk_upload(ctx, &f->params, 0, c->vp, sizeof *c->vp);
    if (r != RD_OK) return r;
    double t0 = rd_now_ms();
    if (c->stage) {
        if ((r = rd_vk_begin(ctx, &cmd)) != RD_OK) return r;
        record_frame(ctx, f, cmd, c->scene, c->vp, c->target, c->stage);
        c->recorded++;
    } else {
        frame_key key;
        fill_frame_key(f, c->scene, c->vp, c->target, &key);
        if (!rd_vk_reusable_matches(ctx, &f->frame_commands, &key, sizeof key)) {
            if ((r = rd_vk_reusable_begin(ctx, &f->frame_commands, &cmd)) != RD_OK) return r;
            record_frame(ctx, f, cmd, c->scene, c->vp, c->target, NULL);
            if ((r = rd_vk_reusable_end(ctx, &f->frame_commands, &key, sizeof key)) != RD_OK) return r;
            c->recorded++;
        }
    }
    double t1 = rd_now_ms();
    r = c->stage ? rd_vk_submit_wait(ctx, "render") : rd_vk_reusable_submit_wait(ctx, &f->frame_commands, "render");
    c->record_ms += t1 - t0, c->submit_wait_ms += rd_now_ms() - t1;
    if (r != RD_OK) return r;
    const uint32_t *counters = f->readback.mapped;
    if (counters[RD_COUNTER_SORT_STALLS])
        return rd_fail(ctx, RD_ERROR_DEVICE, "vulkan: render: %u of the radix sort's look-back waits ran out of their "
                       "budget (a workgroup it waited on did not run); the frame is wrong and was not returned. "
                       "RADIANT_VK_SORT_PATH=reduce-then-scan sorts without such waits", counters[RD_COUNTER_SORT_STALLS]);
    if (counters[RD_COUNTER_PAIRS] == 0xffffffffu)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "vulkan: the Gaussian-tile pairs pass 2^32; use fewer Gaussians or pixels");
    *pairs = counters[RD_COUNTER_PAIRS];
    return RD_OK;
}

/* The frame's counts, then where the host's time went (issue 35: a Vulkan frame's wall
   time against its GPU time): recording the commands, submitting them and waiting for the
   fence (the GPU's time within it), and the whole call, in microseconds. */
static void frame_counts(const vk_frame_call *c, int64_t pairs, double start_ms, rd_render_stats *stats)
{
    rd_splat_counts(stats, ((const uint32_t *)c->f->readback.mapped)[RD_COUNTER_VISIBLE], pairs);
    rd_stats_add_count(stats, "host_record_us", 1e3 * c->record_ms);
    rd_stats_add_count(stats, "host_recorded", (double)c->recorded);
    rd_stats_add_count(stats, "host_submit_wait_us", 1e3 * c->submit_wait_ms);
    rd_stats_add_count(stats, "host_call_us", 1e3 * (rd_now_ms() - start_ms));
}

rd_result rd_splat_render_vk(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                             const rd_framebuffer *target, rd_render_stats *stats)
{
    double start = rd_now_ms();
    vk_frame *f = NULL;
    rd_result r = get_frame(ctx, &f);
    if (r == RD_OK) r = upload_scene(ctx, f, scene);
    if (r != RD_OK) return r;
    vk_frame_call call = {f, scene, vp, target, NULL, 0.0, 0.0, 0};
    rd_gpu_frame frame = {"vulkan", &call, reserve_call, run_call};
    int64_t pairs = 0;
    r = rd_gpu_frame_drive(ctx, &f->capacity, &frame, &pairs);
    if (r != RD_OK) return r;
    size_t pixels = (size_t)vp->width * vp->height;
    const char *image = (const char *)f->readback.mapped + RD_COUNTERS * 4;
    const void *wanted[OUTPUTS];
    wanted_outputs(target, wanted);
    for (int o = 0; o < OUTPUTS && target->memory == RD_MEMORY_HOST; o++)
        if (wanted[o]) {
            size_t bytes = output_bytes(o, pixels);
            memcpy((void *)wanted[o], image, bytes);
            image += bytes;
        }
    r = rd_vk_timers_read(ctx, &f->timers, stats);
    if (r == RD_OK) frame_counts(&call, pairs, start, stats);
    return r;
}

rd_result rd_splat_render_vk_stage(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_splat_vk_stage *stage,
                                   rd_render_stats *stats)
{
    double start = rd_now_ms();
    vk_frame *f = NULL;
    rd_result r = get_frame(ctx, &f);
    if (r == RD_OK) r = upload_scene(ctx, f, scene);
    if (r != RD_OK) return r;
    static const rd_framebuffer none = {0};
    vk_frame_call call = {f, scene, vp, &none, stage, 0.0, 0.0, 0};
    rd_gpu_frame frame = {"vulkan", &call, reserve_call, run_call};
    int64_t pairs = 0;
    r = rd_gpu_frame_drive(ctx, &f->capacity, &frame, &pairs);
    if (r == RD_OK) r = rd_vk_timers_read(ctx, &f->timers, stats);
    if (r == RD_OK) frame_counts(&call, pairs, start, stats);
    return r;
}

rd_result rd_splat_vk_feature_slot(rd_context *ctx, void (*free_state)(rd_context *ctx, void *state), void ***slot)
{
    vk_frame *f = NULL;
    rd_result r = get_frame(ctx, &f);
    if (r != RD_OK) return r;
    f->free_features = free_state;
    *slot = &f->features;
    return RD_OK;
}
