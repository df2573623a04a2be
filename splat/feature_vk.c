/* feature_vk.c: a feature field's coefficient maps on Vulkan: the splat frame's
   preprocess, binning and sorts (splat_vk.c), then feature_blend.comp a level at a time in
   place of the colour blend, the maps read back to the host, or with queries
   feature_relevancy.comp after it and only the relevancy read back. The field's slots go to the
   device once per field (recognised by its uid); the pipeline and buffers stay in the
   splat frame's state. */
#include "features.h"
#include "../renderer/vulkan/vk_backend.h"

#include <stdlib.h>
#include <string.h>

static const uint32_t feature_blend_spv[] = {
#include "feature_blend.comp.inc"
};
static const uint32_t feature_relevancy_spv[] = {
#include "feature_relevancy.comp.inc"
};

typedef struct feature_vk {
    rd_vk_pipeline blend, relevancy;
    uint64_t field_uid;       /* whose slots indices and weights hold */
    rd_vk_buffer indices, weights, coefficients, alpha, readback, gram, projected, scores;
} feature_vk;

static void free_state(rd_context *ctx, void *state)
{
    feature_vk *s = state;
    if (!s) return;
    rd_vk_pipeline_destroy(rd_vk(ctx), &s->blend);
    rd_vk_pipeline_destroy(rd_vk(ctx), &s->relevancy);
    rd_vk_buffer *buffers[] = {&s->indices, &s->weights, &s->coefficients, &s->alpha, &s->readback, &s->gram, &s->projected, &s->scores};
    for (size_t k = 0; k < sizeof buffers / sizeof buffers[0]; k++) rd_vk_release(ctx, buffers[k]);
    free(s);
}

static rd_result get_state(rd_context *ctx, feature_vk **out)
{
    void **slot;
    rd_result r = rd_splat_vk_feature_slot(ctx, free_state, &slot);
    if (r != RD_OK) return r;
    if (!*slot) {
        feature_vk *s = calloc(1, sizeof *s);
        if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: out of memory");
        s->readback.host = true;
        const rd_vk_shader shaders[] = {{&s->blend, feature_blend_spv, sizeof feature_blend_spv, "feature_blend"},
                                        {&s->relevancy, feature_relevancy_spv, sizeof feature_relevancy_spv, "feature_relevancy"}};
        r = rd_vk_pipelines_create(ctx, shaders, 2);
        if (r != RD_OK) {
            free_state(ctx, s);
            return r;
        }
        *slot = s;
    }
    *out = *slot;
    return RD_OK;
}

/* The field's slot indices (bytes) and weights (halves) on the device, in whole words. */
static rd_result upload_slots(rd_context *ctx, feature_vk *s, const rd_feature_field *field)
{
    if (s->field_uid == field->uid) return RD_OK;
    size_t slots = (size_t)(field->count * field->levels * field->K);
    rd_result r = rd_vk_reserve(ctx, &s->indices, (slots + 3) / 4 * 4 + 4, "feature slots");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &s->weights, (slots + 1) / 2 * 4 + 4, "feature weights");
    if (r == RD_OK && slots) r = rd_vk_upload(ctx, &s->indices, 0, field->indices, slots);
    if (r == RD_OK && slots) r = rd_vk_upload(ctx, &s->weights, 0, field->weights, slots * sizeof(uint16_t));
    s->field_uid = r == RD_OK ? field->uid : 0;
    return r;
}

typedef struct stage_call {
    feature_vk *s;
    const rd_feature_field *field;
    size_t pixels;
    uint64_t tiles;
    VkDeviceAddress coefficients, alpha; /* the caller's device addresses; 0: ours, read back */
    const rd_feature_queries *queries;   /* relevancy instead of the maps: only it (and alpha) read back */
} stage_call;

static size_t coefficient_bytes(const stage_call *c) { return c->pixels * (size_t)(c->field->levels * c->field->L) * sizeof(float); }
/* What is read back first: the maps, or the relevancy of each query at each level. */
static size_t result_bytes(const stage_call *c)
{
    return c->queries ? c->pixels * (size_t)c->queries->query_count * (size_t)c->field->levels * sizeof(float) : coefficient_bytes(c);
}

static rd_result reserve(rd_context *ctx, void *user)
{
    stage_call *c = user;
    if (c->coefficients) return RD_OK; /* straight into the caller's memory */
    rd_result r = rd_vk_reserve(ctx, &c->s->coefficients, coefficient_bytes(c) + 4, "feature coefficients");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &c->s->alpha, c->pixels * sizeof(float) + 4, "feature alpha");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &c->s->readback, result_bytes(c) + c->pixels * sizeof(float) + 4, "feature readback");
    const rd_feature_queries *q = c->queries;
    if (r == RD_OK && q) {
        size_t gram = (size_t)c->field->levels * c->field->L * c->field->L * sizeof(float);
        size_t projected = (size_t)c->field->levels * (q->query_count + q->negative_count) * c->field->L * sizeof(float);
        r = rd_vk_reserve(ctx, &c->s->gram, gram, "feature gram");
        if (r == RD_OK) r = rd_vk_reserve(ctx, &c->s->projected, projected, "feature projections");
        if (r == RD_OK) r = rd_vk_reserve(ctx, &c->s->scores, result_bytes(c) + 4, "feature relevancy");
        if (r == RD_OK) r = rd_vk_upload(ctx, &c->s->gram, 0, q->gram, gram);
        if (r == RD_OK) r = rd_vk_upload(ctx, &c->s->projected, 0, q->projected, projected);
    }
    return r;
}

static void record(rd_context *ctx, void *user, void *command_buffer, const rd_splat_vk_bins *bins)
{
    (void)ctx;
    stage_call *c = user;
    const rd_feature_field *f = c->field;
    VkCommandBuffer cmd = command_buffer;
    struct { VkDeviceAddress vp, ranges, schedule, values, splats, indices, weights, coefficients, alpha;
             uint32_t level, levels, L, K, scheduled, write_alpha; } push = {
        bins->params, bins->ranges, bins->schedule, bins->values, bins->splats, c->s->indices.address, c->s->weights.address,
        c->coefficients ? c->coefficients : c->s->coefficients.address, c->coefficients ? c->alpha : c->s->alpha.address, 0,
        (uint32_t)f->levels, (uint32_t)f->L, (uint32_t)f->K, bins->scheduled, 1};
    for (int l = 0; l < f->levels; l++) {
        push.level = (uint32_t)l, push.write_alpha = l == 0 && push.alpha;
        rd_vk_dispatch(cmd, &c->s->blend, &push, c->tiles);
    }
    rd_vk_barrier(cmd);
    if (c->coefficients) return;
    const rd_feature_queries *q = c->queries;
    if (q) {
        struct { VkDeviceAddress coefficients, gram, projected, scores; uint32_t pixels, levels, L, queries, negatives; } rel = {
            c->s->coefficients.address, c->s->gram.address, c->s->projected.address, c->s->scores.address, (uint32_t)c->pixels,
            (uint32_t)f->levels, (uint32_t)f->L, (uint32_t)q->query_count, (uint32_t)q->negative_count};
        rd_vk_dispatch(cmd, &c->s->relevancy, &rel, (c->pixels + 63) / 64);
        rd_vk_barrier(cmd);
    }
    VkBufferCopy copy = {.size = result_bytes(c)};
    if (copy.size) vkCmdCopyBuffer(cmd, q ? c->s->scores.buffer : c->s->coefficients.buffer, c->s->readback.buffer, 1, &copy);
    copy = (VkBufferCopy){.dstOffset = result_bytes(c), .size = c->pixels * sizeof(float)};
    vkCmdCopyBuffer(cmd, c->s->alpha.buffer, c->s->readback.buffer, 1, &copy);
}

rd_result rd_feature_coefficients_vk(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_feature_field *field,
                                     const rd_feature_queries *queries, float *coefficients, float *alpha, rd_memory memory,
                                     rd_render_stats *stats)
{
    feature_vk *s = NULL;
    rd_result r = get_state(ctx, &s);
    if (r == RD_OK) r = upload_slots(ctx, s, field);
    if (r != RD_OK) return r;
    stage_call call = {s, field, (size_t)vp->width * vp->height, (uint64_t)vp->tiles_x * vp->tiles_y, 0, 0, queries};
    if (memory == RD_MEMORY_DEVICE) /* buffer device addresses (radiant_vulkan.h) */
        call.coefficients = (VkDeviceAddress)(uintptr_t)coefficients, call.alpha = (VkDeviceAddress)(uintptr_t)alpha;
    rd_splat_vk_stage stage = {&call, reserve, record};
    r = rd_splat_render_vk_stage(ctx, scene, vp, &stage, stats);
    if (r != RD_OK || memory == RD_MEMORY_DEVICE) return r;
    const char *back = s->readback.mapped;
    if (queries) memcpy(queries->scores, back, result_bytes(&call));
    else if (coefficients) memcpy(coefficients, back, coefficient_bytes(&call));
    if (alpha) memcpy(alpha, back + result_bytes(&call), call.pixels * sizeof(float));
    return RD_OK;
}
