/* slice4d_vk.c: a 4D scene's frame on Vulkan: the scene's arrays and statics copied to
   the device once per scene (its uid), the slice at the frame's time into 3D arrays in
   device memory (splat/shaders/slice4d.comp), and those drawn by the 3D Gaussians'
   Vulkan renderer as a device scene. The slice is its own submission (one host wait)
   before the 3D frame's. */
#include "slice4d_vk.h"
#include "appearance4d.h"
#include "../renderer/vulkan/vk_backend.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t slice_spv[] = {
#include "slice4d.comp.inc"
};
static const uint32_t appearance_spv[] = {
#include "appearance4d.comp.inc"
};
static const uint32_t kept_spv[] = {
#include "appearance4d_kept.comp.inc"
};

enum {
    SLICE_GAUSSIANS = 32, /* a workgroup's Gaussians (slice4d.comp) */
    TILE = 32,            /* appearance4d.comp's, and its shared memory: */
    TILE_SHARED_BYTES = 4 * (RD_APPEARANCE_INPUTS * TILE + RD_APPEARANCE_HEAD_INPUTS * TILE + TILE),
    SOURCES = RD_SLICE4D_SOURCES
};

typedef struct slice_vk_state {
    rd_vk_pipeline slice, appearance, keep;
    uint64_t uid;                  /* the scene whose copies these are; 0: none */
    rd_vk_buffer source[SOURCES];  /* means (4), statics (11), opacities, SH (terms * K * 3) */
    rd_slice4d_target target;      /* the 3D arrays written (device addresses) and their scene */
    /* a scene with appearance networks: their weights and features, and each Gaussian's
       opacity logit and colour at the frame's time (appearance4d.comp), and the list of
       the Gaussians kept at that time (appearance4d_kept.comp) */
    rd_vk_buffer networks[2], evaluated[2], kept;
    rd_slice4d_evaluated evaluated_at;
} slice_vk_state;

_Static_assert(sizeof(rd_slice4d_static) == 11 * sizeof(float), "slice4d.comp reads the statics as 11 floats");

void rd_slice4d_vk_free_state(rd_context *ctx, void *state)
{
    slice_vk_state *st = state;
    rd_vk_state *vk = rd_vk(ctx);
    if (!st) return;
    if (vk && vk->device) vkDeviceWaitIdle(vk->device); /* nothing in flight reads what goes below */
    rd_slice4d_target_free(ctx, &st->target);
    if (vk && vk->device) {
        rd_vk_pipeline_destroy(vk, &st->slice);
        rd_vk_pipeline_destroy(vk, &st->appearance);
        rd_vk_pipeline_destroy(vk, &st->keep);
        rd_vk_release(ctx, &st->kept);
        for (int k = 0; k < SOURCES; k++) rd_vk_release(ctx, &st->source[k]);
        for (int k = 0; k < 2; k++) rd_vk_release(ctx, &st->networks[k]), rd_vk_release(ctx, &st->evaluated[k]);
    }
    free(st);
}

static rd_result get_state(rd_context *ctx, slice_vk_state **out)
{
    void **slot = rd_context_slot(ctx, RD_SCENE_GAUSSIANS_4D);
    if (!*slot) {
        slice_vk_state *st = calloc(1, sizeof *st);
        if (!st) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D render (vulkan): out of memory");
        rd_result r = rd_vk_pipeline_create(ctx, &(rd_vk_shader){&st->slice, slice_spv, sizeof slice_spv, "slice4d", NULL});
        if (r == RD_OK)
            r = rd_vk_pipeline_create(ctx, &(rd_vk_shader){&st->appearance, appearance_spv, sizeof appearance_spv, "appearance4d", NULL});
        if (r == RD_OK)
            r = rd_vk_pipeline_create(ctx, &(rd_vk_shader){&st->keep, kept_spv, sizeof kept_spv, "appearance4d_kept", NULL});
        if (r != RD_OK) {
            rd_slice4d_vk_free_state(ctx, st);
            return r;
        }
        *slot = st;
    }
    *out = *slot;
    return RD_OK;
}

/* The networks' weights (transposed for the tiles) and features on the device, room for
   their outputs and for the list of kept Gaussians. */
static rd_result upload_networks(rd_context *ctx, slice_vk_state *st, const rd_scene4d *s)
{
    VkPhysicalDeviceProperties properties;
    vkGetPhysicalDeviceProperties(rd_vk(ctx)->physical, &properties);
    if (properties.limits.maxComputeSharedMemorySize < TILE_SHARED_BYTES)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "4D appearance networks (vulkan): the device's workgroups have %u bytes of shared "
                       "memory, the networks' tiles %u", properties.limits.maxComputeSharedMemorySize, (unsigned)TILE_SHARED_BYTES);
    rd_slice4d_networks up;
    rd_result r = rd_slice4d_networks_make(ctx, s, "4D render (vulkan)", &up);
    for (int k = 0; k < 2 && r == RD_OK; k++) {
        r = rd_vk_reserve(ctx, &st->networks[k], up.bytes[k], "4D appearance networks");
        if (r == RD_OK && s->count > 0) r = rd_vk_upload(ctx, &st->networks[k], 0, up.from[k], up.bytes[k]);
        if (r == RD_OK) r = rd_vk_reserve(ctx, &st->evaluated[k], up.out_bytes[k], "4D appearance networks");
    }
    if (r == RD_OK) r = rd_vk_reserve(ctx, &st->kept, up.list_bytes, "4D appearance networks");
    rd_slice4d_networks_free(&up);
    return r;
}

/* The scene's arrays on the device, and room for its slice (with the device scene over
   it), where the scene differs from the last one rendered. */
static rd_result upload_scene(rd_context *ctx, slice_vk_state *st, const rd_scene4d *s)
{
    if (st->uid == s->head.uid) return RD_OK;
    st->uid = 0, st->evaluated_at.ready = false;
    const void *from[SOURCES];
    size_t source_bytes[SOURCES];
    rd_slice4d_sources(s, from, source_bytes);
    rd_result r = RD_OK;
    for (int k = 0; k < SOURCES && r == RD_OK; k++) {
        r = rd_vk_reserve(ctx, &st->source[k], source_bytes[k], "4D scene");
        if (r == RD_OK && s->count > 0) r = rd_vk_upload(ctx, &st->source[k], 0, from[k], source_bytes[k]);
    }
    if (r == RD_OK) r = rd_slice4d_target_make(ctx, s, &st->target);
    if (r == RD_OK && s->appearance) r = upload_networks(ctx, st, s);
    if (r == RD_OK) st->uid = s->head.uid;
    return r;
}

/* The networks' pass: the list of the Gaussians kept at the time, then their opacity
   logits and colours into st->evaluated. */
static void record_networks(VkCommandBuffer cmd, slice_vk_state *st, const rd_scene4d *s, float time)
{
    const rd_appearance4d *a = s->appearance;
    struct {
        VkDeviceAddress means4, statics, kept;
        uint32_t count;
        float time;
    } list = {st->source[0].address, st->source[1].address, st->kept.address, (uint32_t)s->count, time};
    struct {
        VkDeviceAddress means4, weights, features, kept, opacities, sh;
        uint32_t floats, offset[4];
        float time, inv_radius, time_origin, inv_time_span, centre[3];
    } push = {st->source[0].address, st->networks[0].address, st->networks[1].address, st->kept.address, st->evaluated[0].address,
              st->evaluated[1].address, 3 * (uint32_t)rd_sh_coeffs(s->sh_degree),
              {a->mlp[0].offset, a->mlp[1].offset, a->mlp[2].offset, a->mlp[3].offset}, time, 1.0f / a->radius, a->time_origin,
              1.0f / a->time_span, {a->centre[0], a->centre[1], a->centre[2]}};
    vkCmdFillBuffer(cmd, st->kept.buffer, 0, 4, 0);
    rd_vk_barrier(cmd);
    rd_vk_dispatch(cmd, &st->keep, &list, ((uint64_t)s->count + 127) / 128);
    rd_vk_barrier(cmd);
    rd_vk_dispatch(cmd, &st->appearance, &push, ((uint64_t)s->count + TILE - 1) / TILE);
    rd_vk_barrier(cmd);
}

rd_result rd_slice4d_render_vk(rd_context *ctx, const rd_scene4d *s, const rd_camera *camera, const rd_render_desc *desc,
                               const rd_framebuffer *target, rd_render_stats *stats)
{
    if (s->count > UINT32_MAX / 11) /* the shader's index of the statics' floats is 32-bit */
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "4D render (vulkan): %lld Gaussians are more than it indexes", (long long)s->count);
    slice_vk_state *st = NULL;
    rd_result r = get_state(ctx, &st);
    if (r == RD_OK) r = upload_scene(ctx, st, s);
    if (r != RD_OK) return r;
    struct {
        VkDeviceAddress means4, statics, opacities4, sh4, means, log_scales, rotations, opacities, sh;
        uint32_t count, coeffs, terms;
        float time, two_pi_over_period;
    } push = {st->source[0].address, st->source[1].address,
              s->appearance ? st->evaluated[0].address : st->source[2].address,
              s->appearance ? st->evaluated[1].address : st->source[3].address,
              (VkDeviceAddress)(uintptr_t)st->target.arrays[0], (VkDeviceAddress)(uintptr_t)st->target.arrays[1],
              (VkDeviceAddress)(uintptr_t)st->target.arrays[2], (VkDeviceAddress)(uintptr_t)st->target.arrays[3],
              (VkDeviceAddress)(uintptr_t)st->target.arrays[4], (uint32_t)s->count, (uint32_t)rd_sh_coeffs(s->sh_degree),
              s->appearance ? 1u : (uint32_t)s->time_degree + 1,
              desc->time, 6.283185307179586f / s->time_period};
    VkCommandBuffer cmd;
    r = rd_vk_begin(ctx, &cmd);
    if (r != RD_OK) return r;
    bool networks = s->appearance && !rd_slice4d_evaluated_at(st->evaluated_at, desc->time); /* else: as the last view's */
    if (networks) record_networks(cmd, st, s, desc->time);
    rd_vk_dispatch(cmd, &st->slice, &push, ((uint64_t)s->count + SLICE_GAUSSIANS - 1) / SLICE_GAUSSIANS);
    rd_vk_barrier(cmd);
    r = rd_vk_submit_wait(ctx, "4D slice");
    if (networks) st->evaluated_at = (rd_slice4d_evaluated){r == RD_OK, desc->time};
    if (r != RD_OK) return r;
    return rd_kind(RD_SCENE_GAUSSIANS)->backends[RD_BACKEND_VULKAN].render(ctx, st->target.scene, camera, desc, target, stats);
}
