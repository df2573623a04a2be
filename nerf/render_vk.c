/* render_vk.c: a NeRF frame on Vulkan compute (render_vk.h): the CPU's frame
   (render_cpu.c) a workgroup 64 pixels' rays, march, field and compositing fused in one
   kernel (nerf/shaders/nerf_render.comp: the rays' samples evaluated together, a tile at a
   time), in waves where the device needs them. The scene's parameters and occupancy bits
   are copied to the device once per scene (its uid, as render_cuda.cu keeps them), with
   the networks' weights transposed; the frame's parameters go through a host-visible
   buffer, the outputs to the caller's device addresses or, for a host target, to our
   buffers copied into a readback buffer.

   Waves: on GPUs one dispatch renders the frame (one submission, one wait). On CPU
   devices (lavapipe, whose loop limiter ends a shader's loops after 65535 iterations)
   each wave has a loop budget and leaves unfinished rays' state in a buffer for the next;
   WAVES_A_SUBMISSION waves are recorded at a time, and the count of unfinished rays the
   last one leaves says whether another submission follows (a host wait every few waves,
   as render_cuda.cu waits once a wave).

   Exactness: the rays and the march are written with every rounding explicit and t in
   double (nerf_march.glsl), so that where the device's double division is IEEE (lavapipe)
   the samples are the CPU's bit for bit; the field's features, networks and SH are
   summed in the CPU's order in fp32, so that only exp (density, sigmoid, alpha) differs
   from libm's by a few ulp (tests/ops_nerf_field.c gives the bounds). A device without
   shaderFloat64 (Intel's Arc, Apple's GPUs through MoltenVK) marches with t in float
   (nerf_render_single.comp, or asked: rd_tuning.vk_nerf_march): the same samples as the
   CPU's but where a far camera's float t runs out of bits (nerf_march.glsl), t within
   float rounding (the harness's "vulkan (NeRF march in single precision)" row).

   Networks: the shared-memory path (nerf_field.glsl): a tile's activations in shared
   memory (8 KiB), each layer a product of the tile and the weights, read from their
   transposed copy, in fp32. A VK_KHR_cooperative_matrix path (fp16 tiles) would be a
   second pipeline chosen here by the device's properties. */
#include "render_vk.h"
#include "shaders/nerf_layout.h"
#include "../renderer/vulkan/vk_backend.h"

#include <stdlib.h>
#include <string.h>

static const uint32_t render_spv[] = {
#include "nerf_render.comp.inc"
};
/* the same kernel with its phases timed (RADIANT_NERF_VK_PROFILE=1 on a device with
   VK_KHR_shader_clock): the frame's counts gain each phase's subgroup clock ticks / 4096,
   summed over workgroups (the march, the field's tiles, the compositing) */
static const uint32_t profile_spv[] = {
#include "nerf_render_profile.comp.inc"
};
static const uint32_t single_spv[] = {
#include "nerf_render_single.comp.inc"
};

enum {
    OUTPUTS = 4,
    WAVES_A_SUBMISSION = 8,
    CPU_BUDGET = 60000, /* loop iterations a wave on a CPU device: lavapipe's limit is 65535 */
    MAX_WAVES = 1 << 20, /* a wave always advances every unfinished ray; more says something is wrong */
};

/* nerf_view.glsl's NerfView, field for field */
typedef struct nerf_vk_view {
    float w2c[16];
    float fx, fy, cx, cy;
    float scale, near_plane, far_plane, cone;
    float offset[4], background[4];
    uint32_t width, pixels, expected_depth, cascades;
    uint32_t levels, features, dense_levels, density_inputs;
    uint32_t net_width, density_hidden, colour_hidden, colour_weights;
    uint32_t saliency_resolution, saliency_offset;
    float gate_sharpness;
    uint32_t bit_offset[RD_NERF_VK_BIT_LEVELS];
    float level_scale[RD_NERF_VK_MAX_LEVELS];
    uint32_t resolution[RD_NERF_VK_MAX_LEVELS], size[RD_NERF_VK_MAX_LEVELS], level_offset[RD_NERF_VK_MAX_LEVELS];
} nerf_vk_view;
_Static_assert(sizeof(nerf_vk_view) == (47 + RD_NERF_VK_BIT_LEVELS + 4 * RD_NERF_VK_MAX_LEVELS) * 4, "NerfView is packed");
_Static_assert(RD_NERF_VK_MAX_SAMPLES == RD_NERF_MAX_SAMPLES && RD_NERF_VK_MAX_LEVELS == RD_HASHGRID_MAX_LEVELS &&
                   RD_NERF_VK_BIT_LEVELS == RD_OCCUPANCY_LEVELS && RD_NERF_VK_MAX_ROW == RD_MLP_MAX_WIDTH,
               "nerf_layout.h and the NeRF's headers disagree");

/* The pipelines by the width of the activation rows they hold (nerf_field.glsl's ACT_ROW):
   64, 128 and 256 floats, the narrowest that holds the field's widest row. */
enum { ROW_CLASSES = 3 };
static const uint32_t ROW_WIDTHS[ROW_CLASSES] = {64, 128, RD_NERF_VK_MAX_ROW};

typedef struct nerf_vk_frame {
    rd_vk_pipeline render[ROW_CLASSES]; /* made when a field first needs one */
    rd_vk_pipeline profile[ROW_CLASSES]; /* the timed kernel's */
    bool profiling;                      /* RADIANT_NERF_VK_PROFILE set, the device has the clock, and
                                            the march is in double (the timed kernel's) */
    bool single;                         /* the march in float (single_spv): no shaderFloat64, or asked */
    uint64_t uid;            /* the scene whose copies these are; 0: none */
    rd_vk_buffer params, bits, weights; /* weights: both networks', each layer's W transposed */
    uint32_t bit_offset[RD_OCCUPANCY_LEVELS];
    rd_vk_buffer view, counters;    /* view: host-visible */
    rd_vk_buffer rays;              /* each ray's state between waves (RD_NERF_VK_RAY_UINTS) */
    rd_vk_buffer outputs[OUTPUTS];  /* a host target's: colour, depth, transmittance, contributors */
    rd_vk_buffer readback;          /* host-visible: counters, then the outputs */
    rd_vk_timers timers;
} nerf_vk_frame;

static const char *const stage_names[1] = {"render"};

void rd_nerf_vk_free_state(rd_context *ctx, void *state)
{
    nerf_vk_frame *f = state;
    rd_vk_state *vk = rd_vk(ctx);
    if (!f) return;
    if (vk && vk->device) {
        vkDeviceWaitIdle(vk->device);
        for (int k = 0; k < ROW_CLASSES; k++) rd_vk_pipeline_destroy(vk, &f->render[k]), rd_vk_pipeline_destroy(vk, &f->profile[k]);
        rd_vk_buffer *bufs[] = {&f->params,     &f->bits,       &f->weights,    &f->view,     &f->counters, &f->readback,
                                &f->rays,       &f->outputs[0], &f->outputs[1], &f->outputs[2], &f->outputs[3]};
        for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) rd_vk_release(ctx, bufs[i]);
    }
    free(f);
}

static rd_result get_frame(rd_context *ctx, nerf_vk_frame **out)
{
    void **slot = rd_context_slot(ctx, RD_SCENE_NERF);
    if (!*slot) {
        rd_vk_state *vk = rd_vk(ctx);
        nerf_vk_frame *f = calloc(1, sizeof *f);
        if (!f) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF render (vulkan): out of memory");
        f->view.host = f->readback.host = true;
        /* the double march's SPIR-V declares Float64, which a device without it refuses */
        f->single = !vk->shader_float64 || ctx->tuning.vk_nerf_march == RD_NERF_MARCH_SINGLE;
        f->profiling = getenv("RADIANT_NERF_VK_PROFILE") && vk->shader_clock && !f->single;
        rd_result r = rd_vk_timers_create(ctx, stage_names, 1, &f->timers);
        if (r != RD_OK) {
            rd_nerf_vk_free_state(ctx, f);
            return r;
        }
        *slot = f;
    }
    *out = *slot;
    return RD_OK;
}

/* The narrowest row class that holds the field's widest row (its hash features, its
   networks' width, the colour network's 32 inputs). */
static int row_class(const rd_nerf_field *field)
{
    uint32_t row = (uint32_t)field->density.inputs;
    if ((uint32_t)field->density.width > row) row = (uint32_t)field->density.width;
    if ((uint32_t)field->colour.inputs > row) row = (uint32_t)field->colour.inputs;
    int k = 0;
    while (k + 1 < ROW_CLASSES && ROW_WIDTHS[k] < row) k++;
    return k;
}

/* The pipeline of the field's row class, made the first time one is asked. */
static rd_result pipeline_for(rd_context *ctx, nerf_vk_frame *f, const rd_nerf_field *field, rd_vk_pipeline **out)
{
    int k = row_class(field);
    rd_vk_pipeline *p = f->profiling ? &f->profile[k] : &f->render[k];
    if (!p->pipeline) {
        const VkSpecializationMapEntry entry = {.constantID = 0, .offset = 0, .size = sizeof(uint32_t)};
        const VkSpecializationInfo spec = {.mapEntryCount = 1, .pMapEntries = &entry, .dataSize = sizeof(uint32_t), .pData = &ROW_WIDTHS[k]};
        rd_vk_shader shader = f->profiling ? (rd_vk_shader){p, profile_spv, sizeof profile_spv, "nerf_render_profile", &spec}
                              : f->single  ? (rd_vk_shader){p, single_spv, sizeof single_spv, "nerf_render_single", &spec}
                                           : (rd_vk_shader){p, render_spv, sizeof render_spv, "nerf_render", &spec};
        rd_result r = rd_vk_pipeline_create(ctx, &shader);
        if (r != RD_OK) return r;
    }
    *out = p;
    return RD_OK;
}

/* Both networks' weights (mlp.h's layout, from the density network's first), each
   layer's W (outputs x inputs, row major) transposed in place of it: nerf_field.glsl's
   layers read the outputs of an input side by side. */
static float *transposed_weights(const rd_nerf_field *field, const float *params, size_t *count)
{
    *count = (size_t)(field->saliency_offset - field->density_offset);
    float *out = malloc(*count * sizeof(float) + 1);
    if (!out) return NULL;
    const rd_mlp *nets[2] = {&field->density, &field->colour};
    const int64_t starts[2] = {field->density_offset, field->colour_offset};
    for (int n = 0; n < 2; n++) {
        int64_t at = starts[n];
        for (int k = 0; k <= nets[n]->hidden_layers; k++) {
            int64_t in = rd_mlp_layer_inputs(nets[n], k), outs = rd_mlp_layer_outputs(nets[n], k);
            for (int64_t o = 0; o < outs; o++)
                for (int64_t i = 0; i < in; i++) out[at - field->density_offset + i * outs + o] = params[at + o * in + i];
            at += in * outs;
        }
    }
    return out;
}

/* The scene's parameters and occupancy bytes on the device, copied when the scene (its
   uid: a trainer's scene takes a new one each step) differs from the last one rendered. */
static rd_result upload_scene(rd_context *ctx, nerf_vk_frame *f, const rd_nerf_scene *s)
{
    if (f->uid == s->head.uid) return RD_OK;
    f->uid = 0;
    size_t param_bytes = sizeof(float) * (size_t)s->field.params, offset[RD_OCCUPANCY_LEVELS];
    size_t bit_bytes = rd_occupancy_packed_levels(s->occupancy.cascades, offset);
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) f->bit_offset[k] = (uint32_t)offset[k];
    /* the shader reads the bytes a uint at a time */
    rd_result r = rd_vk_reserve(ctx, &f->params, param_bytes, "NeRF parameters");
    if (r == RD_OK) r = rd_vk_upload(ctx, &f->params, 0, s->params, param_bytes);
    size_t weights = 0;
    float *transposed = r == RD_OK ? transposed_weights(&s->field, s->params, &weights) : NULL;
    if (r == RD_OK && !transposed) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF render (vulkan): out of memory");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->weights, weights * sizeof(float) + 4, "NeRF network weights");
    if (r == RD_OK && weights) r = rd_vk_upload(ctx, &f->weights, 0, transposed, weights * sizeof(float));
    free(transposed);
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->bits, (bit_bytes + 3) / 4 * 4, "NeRF occupancy bits");
    for (int k = 0; k < RD_OCCUPANCY_LEVELS && r == RD_OK; k++)
        r = rd_vk_upload(ctx, &f->bits, offset[k], s->occupancy.bits[k], (size_t)(s->occupancy.cascades * rd_occupancy_level_cells(k)));
    if (r == RD_OK) f->uid = s->head.uid;
    return r;
}

static void make_view(const nerf_vk_frame *f, const rd_nerf_scene *s, const rd_camera *c, const rd_render_desc *desc,
                      nerf_vk_view *v)
{
    memset(v, 0, sizeof *v);
    memcpy(v->w2c, c->w2c, sizeof v->w2c);
    v->fx = c->fx, v->fy = c->fy, v->cx = c->cx, v->cy = c->cy;
    v->scale = s->scale, v->near_plane = rd_nerf_near(c), v->far_plane = rd_nerf_far(c), v->cone = s->occupancy.cone;
    memcpy(v->offset, s->offset, sizeof s->offset);
    memcpy(v->background, desc->background, 3 * sizeof(float));
    v->width = (uint32_t)c->width, v->pixels = (uint32_t)((int64_t)c->width * c->height);
    v->expected_depth = (desc->flags & RD_RENDER_EXPECTED_DEPTH) != 0, v->cascades = (uint32_t)s->occupancy.cascades;
    const rd_nerf_field *field = &s->field;
    const rd_hashgrid *g = &field->grid;
    v->levels = (uint32_t)g->levels, v->features = (uint32_t)g->features, v->dense_levels = g->dense_levels;
    v->density_inputs = (uint32_t)field->density.inputs, v->net_width = (uint32_t)field->density.width;
    v->density_hidden = (uint32_t)field->density.hidden_layers, v->colour_hidden = (uint32_t)field->colour.hidden_layers;
    v->colour_weights = (uint32_t)(field->colour_offset - field->density_offset);
    v->saliency_resolution = (uint32_t)field->saliency.resolution, v->saliency_offset = (uint32_t)field->saliency_offset;
    v->gate_sharpness = field->gate_sharpness;
    memcpy(v->bit_offset, f->bit_offset, sizeof v->bit_offset);
    for (int l = 0; l < g->levels; l++)
        v->level_scale[l] = g->scale[l], v->resolution[l] = g->resolution[l], v->size[l] = g->size[l], v->level_offset[l] = g->offset[l];
}

/* An upper bound on the loop iterations an invocation takes in one field_tile of
   nerf_field.glsl, for activation rows `row` floats wide: every loop counted as if not
   unrolled, its failing exit test included (lavapipe's limiter counts that trip too):
   what a wave's budget counts on a CPU device (nerf_render.glsl). */
static uint32_t tile_cost(const rd_nerf_field *f, uint32_t row)
{
    uint32_t tile = RD_NERF_VK_TILE_FLOATS / row, passes = row / 64, groups = RD_NERF_VK_THREADS / tile, narrow = 16 / groups;
    uint32_t accumulators = RD_NERF_VK_TILE_FLOATS / 64, F = (uint32_t)f->grid.features;
    uint32_t levels = ((uint32_t)f->grid.levels + groups - 1) / groups;
    uint32_t cost = 64; /* the SH (17), the sigmoids (4), slack */
    cost += levels + 1 + levels * (4u + 9u + 8u * (4u + F + 1u) + F + 1u); /* the encoding: axes, corners, features */
    if (f->saliency.resolution) cost += 4u + 9u + (uint32_t)f->density.inputs + 1u; /* the mask and its gate */
    const rd_mlp *nets[2] = {&f->density, &f->colour};
    for (int n = 0; n < 2; n++) {
        cost += (uint32_t)nets[n]->hidden_layers + 2u;
        for (int k = 0; k <= nets[n]->hidden_layers; k++) {
            uint32_t in = (uint32_t)rd_mlp_layer_inputs(nets[n], k), out = (uint32_t)rd_mlp_layer_outputs(nets[n], k);
            if (out > 16) /* accumulators; inputs, passes, samples; the writes' passes and samples */
                cost += accumulators + 1 + in + 1 + in * (passes + 1) + in * passes * (tile + 1) + passes + 1 + passes * (tile + 1);
            else /* accumulators; inputs, outputs; the writes */
                cost += narrow + 1 + in + 1 + in * (narrow + 1) + narrow + 1;
        }
    }
    return cost + cost / 8;
}

static size_t output_bytes(int output, size_t pixels) { return pixels * (output == 0 ? 4 * sizeof(float) : sizeof(float)); }

rd_result rd_nerf_render_vk(rd_context *ctx, const rd_nerf_scene *s, const rd_camera *camera, const rd_render_desc *desc,
                            const rd_framebuffer *target, rd_render_stats *stats)
{
    if (s->head.memory == RD_MEMORY_DEVICE)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "NeRF render (vulkan): a scene in device memory is not supported yet");
    int64_t pixels = (int64_t)camera->width * camera->height;
    if (pixels > INT32_MAX)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF render (vulkan): %dx%d pixels exceed 2^31", camera->width, camera->height);
    /* the density network's rows and the colour network's fixed shapes (field.c) */
    if (s->field.density.outputs != RD_NERF_VK_DENSITY_OUTPUTS || s->field.colour.inputs != 2 * RD_NERF_VK_DENSITY_OUTPUTS ||
        s->field.colour.width != s->field.density.width || s->field.colour.outputs != 3)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "NeRF render (vulkan): the field's networks are not field.c's shapes");
    nerf_vk_frame *f = NULL;
    rd_vk_pipeline *pipeline = NULL;
    rd_result r = get_frame(ctx, &f);
    if (r == RD_OK) r = pipeline_for(ctx, f, &s->field, &pipeline);
    if (r == RD_OK) r = upload_scene(ctx, f, s);
    const void *wanted[OUTPUTS] = {target->color, target->depth, target->transmittance, target->contributors};
    size_t readback = RD_NERF_VK_COUNTERS * 4;
    for (int o = 0; o < OUTPUTS && r == RD_OK; o++)
        if (wanted[o] && target->memory == RD_MEMORY_HOST) {
            r = rd_vk_reserve_room(ctx, &f->outputs[o], output_bytes(o, (size_t)pixels), "NeRF frame outputs");
            readback += output_bytes(o, (size_t)pixels);
        }
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->view, sizeof(nerf_vk_view), "NeRF view parameters");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &f->counters, RD_NERF_VK_COUNTERS * 4, "NeRF counters");
    if (r == RD_OK) r = rd_vk_reserve_room(ctx, &f->readback, readback, "NeRF frame readback");
    if (r == RD_OK) r = rd_vk_reserve_room(ctx, &f->rays, (VkDeviceSize)pixels * RD_NERF_VK_RAY_UINTS * 4, "NeRF rays");
    if (r != RD_OK || pixels == 0) return r;
    make_view(f, s, camera, desc, (nerf_vk_view *)f->view.mapped);
    uint32_t row = ROW_WIDTHS[row_class(&s->field)], tile = RD_NERF_VK_TILE_FLOATS / row;
    struct {
        VkDeviceAddress view, table, weights, bits, counters, rays, out[OUTPUTS];
        uint32_t outputs, slots, first, budget, tile_cost;
    } push = {f->view.address, f->params.address, f->weights.address, f->bits.address, f->counters.address, f->rays.address,
              {0}, 0, RD_NERF_VK_SLOTS, 1, 0xffffffffu, tile_cost(&s->field, row)};
    for (int o = 0; o < OUTPUTS; o++) {
        push.outputs |= wanted[o] ? 1u << o : 0u;
        push.out[o] = target->memory == RD_MEMORY_DEVICE ? (VkDeviceAddress)(uintptr_t)wanted[o] : f->outputs[o].address;
    }
    bool cpu_device = rd_vk(ctx)->cpu_device;
    if (cpu_device) {
        /* an iteration's tiles within the budget: fewer slots where a tile costs much */
        push.budget = CPU_BUDGET;
        uint32_t fixed = 3 * RD_NERF_VK_MARCH_CAP * RD_NERF_VK_STEP_ITERATIONS + RD_NERF_VK_ITERATION_ITERATIONS;
        uint32_t tiles = fixed < CPU_BUDGET ? (CPU_BUDGET - fixed) / push.tile_cost : 0;
        if (tiles == 0)
            return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "NeRF render (vulkan): a tile of this field takes ~%u loop iterations, "
                           "more than a wave on %s may take", push.tile_cost, rd_vk(ctx)->name);
        if (tiles * tile < push.slots) push.slots = tiles * tile;
    }
    uint64_t groups = ((uint64_t)pixels + RD_NERF_VK_THREADS - 1) / RD_NERF_VK_THREADS;
    const uint32_t *counters = f->readback.mapped;
    int waves = 0;
    for (bool done = false; !done;) {
        VkCommandBuffer cmd;
        r = rd_vk_begin(ctx, &cmd);
        if (r != RD_OK) return r;
        if (push.first) {
            vkCmdFillBuffer(cmd, f->counters.buffer, 0, RD_NERF_VK_COUNTERS * 4, 0);
            rd_vk_barrier(cmd);
            rd_vk_timers_mark(ctx, cmd, &f->timers, 0);
        }
        for (int w = 0; w < (cpu_device ? WAVES_A_SUBMISSION : 1); w++, waves++) {
            vkCmdFillBuffer(cmd, f->counters.buffer, RD_NERF_VK_COUNTER_ALIVE * 4, 4, 0);
            rd_vk_barrier(cmd);
            rd_vk_dispatch(cmd, pipeline, &push, groups);
            rd_vk_barrier(cmd);
            push.first = 0;
        }
        VkBufferCopy copy = {.size = RD_NERF_VK_COUNTERS * 4};
        vkCmdCopyBuffer(cmd, f->counters.buffer, f->readback.buffer, 1, &copy);
        VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                   .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
        r = rd_vk_submit_wait(ctx, "NeRF render");
        if (r != RD_OK) return r;
        done = counters[RD_NERF_VK_COUNTER_ALIVE] == 0;
        if (!done && waves >= MAX_WAVES)
            return rd_fail(ctx, RD_ERROR_DEVICE, "NeRF render (vulkan): %u rays unfinished after %d waves", counters[RD_NERF_VK_COUNTER_ALIVE],
                           waves);
    }
    /* the end mark, and a host target's outputs after the last wave */
    VkCommandBuffer cmd;
    r = rd_vk_begin(ctx, &cmd);
    if (r != RD_OK) return r;
    rd_vk_timers_mark(ctx, cmd, &f->timers, 1);
    VkBufferCopy copy = {.dstOffset = RD_NERF_VK_COUNTERS * 4};
    for (int o = 0; o < OUTPUTS && target->memory == RD_MEMORY_HOST; o++)
        if (wanted[o]) {
            copy.size = output_bytes(o, (size_t)pixels);
            vkCmdCopyBuffer(cmd, f->outputs[o].buffer, f->readback.buffer, 1, &copy);
            copy.dstOffset += copy.size;
        }
    VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                               .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
    r = rd_vk_submit_wait(ctx, "NeRF render");
    if (r != RD_OK) return r;
    const char *image = (const char *)f->readback.mapped + RD_NERF_VK_COUNTERS * 4;
    for (int o = 0; o < OUTPUTS && target->memory == RD_MEMORY_HOST; o++)
        if (wanted[o]) {
            memcpy((void *)wanted[o], image, output_bytes(o, (size_t)pixels));
            image += output_bytes(o, (size_t)pixels);
        }
    r = rd_vk_timers_read(ctx, &f->timers, stats);
    if (r == RD_OK) {
        rd_stats_add_count(stats, "samples", (double)counters[RD_NERF_VK_COUNTER_USED]);
        rd_stats_add_count(stats, "waves", (double)waves);
        const char *phases[3] = {"march ticks/4096", "field ticks/4096", "compositing ticks/4096"};
        for (int k = 0; k < 3 && f->profiling; k++) rd_stats_add_count(stats, phases[k], (double)counters[RD_NERF_VK_COUNTER_PROFILE + k]);
    }
    return r;
}
