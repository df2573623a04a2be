/* feature_vk.c: a feature field's outputs on Vulkan: the splat frame's preprocess, binning
   and sorts (splat_vk.c), then in place of the colour blend feature_blend.comp a level at a
   time (the coefficient maps, which stay on the device), and after it as asked
   feature_relevancy.comp (each query's relevancy at every level, the gram path) and
   feature_decode.comp (one level's unit features, float or half), then each query's level
   (relevancy_row_sums, _peaks, _choose). Only what was asked is read back. The field's
   slots go to the device once per field (recognised by its uid); the pipelines and
   buffers stay in the splat frame's state. */
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
static const uint32_t feature_decode_spv[] = {
#include "feature_decode.comp.inc"
};
static const uint32_t feature_decode_tiles_spv[] = {
#include "feature_decode_tiles.comp.inc"
};
static const uint32_t relevancy_row_sums_spv[] = {
#include "relevancy_row_sums.comp.inc"
};
static const uint32_t relevancy_peaks_spv[] = {
#include "relevancy_peaks.comp.inc"
};
static const uint32_t relevancy_choose_spv[] = {
#include "relevancy_choose.comp.inc"
};

typedef struct feature_vk {
    rd_vk_pipeline blend, relevancy, norms, decode, decode_tiles, row_sums, peaks, choose;
    uint64_t field_uid; /* whose slots indices and weights hold, and codebooks */
    rd_vk_buffer indices, weights, codebooks, coefficients, alpha, gram, projected, scores, pixel_norms, features, readback;
    rd_vk_buffer smoothing, maps; /* the level choice's row sums and peaks; the chosen relevancy maps for the host */
} feature_vk;

static void free_state(rd_context *ctx, void *state)
{
    feature_vk *s = state;
    if (!s) return;
    rd_vk_pipeline *pipelines[] = {&s->blend, &s->relevancy, &s->norms, &s->decode, &s->decode_tiles, &s->row_sums, &s->peaks, &s->choose};
    for (size_t k = 0; k < sizeof pipelines / sizeof pipelines[0]; k++) rd_vk_pipeline_destroy(rd_vk(ctx), pipelines[k]);
    rd_vk_buffer *buffers[] = {&s->indices, &s->weights, &s->codebooks, &s->coefficients, &s->alpha, &s->gram,
                               &s->projected, &s->scores, &s->pixel_norms, &s->features, &s->readback, &s->smoothing, &s->maps};
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
        static const VkBool32 no = VK_FALSE;
        static const VkSpecializationMapEntry entry = {.constantID = 0, .offset = 0, .size = sizeof(VkBool32)};
        const VkSpecializationInfo elements = {.mapEntryCount = 1, .pMapEntries = &entry, .dataSize = sizeof no, .pData = &no};
        const rd_vk_shader shaders[] = {{&s->blend, feature_blend_spv, sizeof feature_blend_spv, "feature_blend"},
                                        {&s->relevancy, feature_relevancy_spv, sizeof feature_relevancy_spv, "feature_relevancy"},
                                        {&s->norms, feature_decode_spv, sizeof feature_decode_spv, "feature_decode (norms)"},
                                        {&s->decode, feature_decode_spv, sizeof feature_decode_spv, "feature_decode", &elements},
                                        {&s->decode_tiles, feature_decode_tiles_spv, sizeof feature_decode_tiles_spv, "feature_decode_tiles"},
                                        {&s->row_sums, relevancy_row_sums_spv, sizeof relevancy_row_sums_spv, "relevancy_row_sums"},
                                        {&s->peaks, relevancy_peaks_spv, sizeof relevancy_peaks_spv, "relevancy_peaks"},
                                        {&s->choose, relevancy_choose_spv, sizeof relevancy_choose_spv, "relevancy_choose"}};
        r = rd_vk_pipelines_create(ctx, shaders, sizeof shaders / sizeof shaders[0]);
        if (r != RD_OK) {
            free_state(ctx, s);
            return r;
        }
        *slot = s;
    }
    *out = *slot;
    return RD_OK;
}

/* The field's slot indices (bytes), weights (halves), codebooks and each level's G = D D^T
   on the device. */
static rd_result upload_field(rd_context *ctx, feature_vk *s, const rd_feature_field *field)
{
    if (s->field_uid == field->uid) return RD_OK;
    size_t slots = (size_t)(field->count * field->levels * field->K);
    size_t codebook = (size_t)field->levels * field->L * field->dim * sizeof(float);
    size_t gram = (size_t)field->levels * field->L * field->L * sizeof(float);
    float *host_gram = malloc(gram);
    if (!host_gram) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: out of memory for the feature gram");
    rd_feature_gram(field, host_gram);
    rd_result r = rd_vk_reserve(ctx, &s->gram, gram, "feature gram");
    if (r == RD_OK) r = rd_vk_upload(ctx, &s->gram, 0, host_gram, gram);
    free(host_gram);
    if (r == RD_OK) r = rd_vk_reserve(ctx, &s->indices, (slots + 3) / 4 * 4 + 4, "feature slots");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &s->weights, (slots + 1) / 2 * 4 + 4, "feature weights");
    if (r == RD_OK) r = rd_vk_reserve(ctx, &s->codebooks, codebook, "feature codebooks");
    if (r == RD_OK && slots) r = rd_vk_upload(ctx, &s->indices, 0, field->indices, slots);
    if (r == RD_OK && slots) r = rd_vk_upload(ctx, &s->weights, 0, field->weights, slots * sizeof(uint16_t));
    if (r == RD_OK) r = rd_vk_upload(ctx, &s->codebooks, 0, field->codebooks, codebook);
    s->field_uid = r == RD_OK ? field->uid : 0;
    return r;
}

typedef struct stage_call {
    feature_vk *s;
    const rd_feature_field *field;
    const rd_feature_gpu_outputs *out;
    size_t pixels;
    int width, height;
    uint64_t tiles;
    VkDeviceAddress coefficients, alpha; /* where the blend writes: the caller's device memory or ours */
    VkDeviceAddress relevancy, features; /* where the level choice and the decode write: likewise */
    size_t at[5];                        /* readback offsets: coefficients, relevancy, features, alpha, levels */
} stage_call;

static size_t map_bytes(const stage_call *c) { return c->pixels * (size_t)(c->field->levels * c->field->L) * sizeof(float); }
static size_t score_bytes(const stage_call *c) /* every level's */
{
    return c->out->queries ? c->pixels * (size_t)c->out->queries->query_count * (size_t)c->field->levels * sizeof(float) : 0;
}
static size_t relevancy_bytes(const stage_call *c) /* the chosen levels' */
{
    return c->out->queries && c->out->queries->relevancy ? c->pixels * (size_t)c->out->queries->query_count * sizeof(float) : 0;
}
static size_t feature_bytes(const stage_call *c)
{
    size_t n = c->out->features ? c->pixels * (size_t)c->field->dim : 0;
    return c->out->half_features ? (n + 1) / 2 * 4 : n * sizeof(float);
}

/* Every buffer the stage uses, and the readback's layout: what the host asked for only. */
static rd_result reserve(rd_context *ctx, void *user)
{
    stage_call *c = user;
    const rd_feature_gpu_outputs *o = c->out;
    feature_vk *s = c->s;
    bool device = o->memory == RD_MEMORY_DEVICE;
    rd_result r = RD_OK;
    if (!device || !o->coefficients) r = rd_vk_reserve_room(ctx, &s->coefficients, map_bytes(c) + 4, "feature coefficients");
    if (r == RD_OK && !device) r = rd_vk_reserve_room(ctx, &s->alpha, c->pixels * sizeof(float) + 4, "feature alpha");
    c->coefficients = device && o->coefficients ? (VkDeviceAddress)(uintptr_t)o->coefficients : s->coefficients.address;
    c->alpha = device ? (VkDeviceAddress)(uintptr_t)o->alpha : o->alpha ? s->alpha.address : 0;
    size_t at = 0, queries = o->queries ? (size_t)o->queries->query_count : 0;
    c->at[0] = at, at += !device && o->coefficients ? map_bytes(c) : 0;
    c->at[1] = at, at += device ? 0 : relevancy_bytes(c);
    c->at[2] = at, at += device ? 0 : feature_bytes(c);
    c->at[3] = at, at += !device && o->alpha ? c->pixels * sizeof(float) : 0;
    c->at[4] = at, at += queries * sizeof(uint32_t);
    if (r == RD_OK) r = rd_vk_reserve_room(ctx, &s->readback, at + 4, "feature readback");
    const rd_feature_queries *q = o->queries;
    if (r == RD_OK && q) {
        size_t projected = (size_t)c->field->levels * (q->query_count + q->negative_count) * c->field->L * sizeof(float);
        r = rd_vk_reserve(ctx, &s->projected, projected, "feature projections");
        if (r == RD_OK) r = rd_vk_reserve_room(ctx, &s->scores, score_bytes(c) + 4, "feature relevancy");
        /* the row sums, then each plane's peak and each query's level */
        size_t smoothing = score_bytes(c) + (size_t)c->field->levels * queries * sizeof(float) + queries * sizeof(uint32_t);
        if (r == RD_OK) r = rd_vk_reserve_room(ctx, &s->smoothing, smoothing + 4, "feature relevancy smoothing");
        if (r == RD_OK && !device) r = rd_vk_reserve_room(ctx, &s->maps, relevancy_bytes(c) + 4, "feature relevancy maps");
        if (r == RD_OK) r = rd_vk_upload(ctx, &s->projected, 0, q->projected, projected);
    }
    c->relevancy = !o->queries || !o->queries->relevancy ? 0 : device ? (VkDeviceAddress)(uintptr_t)o->queries->relevancy : s->maps.address;
    if (r == RD_OK && o->features) r = rd_vk_reserve_room(ctx, &s->pixel_norms, c->pixels * sizeof(float) + 4, "feature norms");
    if (r == RD_OK && o->features && !device) r = rd_vk_reserve_room(ctx, &s->features, feature_bytes(c) + 4, "feature maps");
    c->features = device ? (VkDeviceAddress)(uintptr_t)o->features : s->features.address;
    return r;
}

static void copy_back(VkCommandBuffer cmd, const rd_vk_buffer *from, const rd_vk_buffer *readback, size_t at, size_t bytes)
{
    VkBufferCopy copy = {.dstOffset = at, .size = bytes};
    if (bytes) vkCmdCopyBuffer(cmd, from->buffer, readback->buffer, 1, &copy);
}

/* Where the levels chosen sit in the smoothing buffer: after the row sums and the peaks. */
static size_t levels_at(const stage_call *c)
{
    return score_bytes(c) + (size_t)c->field->levels * (size_t)c->out->queries->query_count * sizeof(float);
}

/* The spec's level choice on the device (relevancy_row_sums, _peaks, _choose): each query's
   level into the smoothing buffer (for the readback), its map into c->relevancy. */
static void choose_levels(VkCommandBuffer cmd, const stage_call *c)
{
    feature_vk *s = c->s;
    uint32_t queries = (uint32_t)c->out->queries->query_count, levels = (uint32_t)c->field->levels;
    VkDeviceAddress peaks = s->smoothing.address + score_bytes(c);
    struct { VkDeviceAddress scores, row_sums, peaks, relevancy, chosen; uint32_t width, height, planes, levels, queries; } push = {
        s->scores.address, s->smoothing.address, peaks, c->relevancy, s->smoothing.address + levels_at(c),
        (uint32_t)c->width, (uint32_t)c->height, queries * levels, levels, queries};
    vkCmdFillBuffer(cmd, s->smoothing.buffer, score_bytes(c), (VkDeviceSize)queries * levels * sizeof(float), 0);
    rd_vk_barrier(cmd);
    rd_vk_dispatch(cmd, &s->row_sums, &push, (c->pixels * queries * levels + 255) / 256);
    rd_vk_barrier(cmd);
    rd_vk_dispatch(cmd, &s->peaks, &push, (c->pixels * queries * levels + 255) / 256);
    rd_vk_barrier(cmd);
    rd_vk_dispatch(cmd, &s->choose, &push, (c->pixels * queries + 255) / 256);
}

static void record(rd_context *ctx, void *user, void *command_buffer, const rd_splat_vk_bins *bins)
{
    (void)ctx;
    stage_call *c = user;
    const rd_feature_field *f = c->field;
    const rd_feature_gpu_outputs *o = c->out;
    feature_vk *s = c->s;
    VkCommandBuffer cmd = command_buffer;
    struct { VkDeviceAddress vp, ranges, schedule, values, splats, indices, weights, coefficients, alpha;
             uint32_t level, levels, L, K, scheduled, write_alpha; } blend = {
        bins->params, bins->ranges, bins->schedule, bins->values, bins->splats, s->indices.address, s->weights.address,
        c->coefficients, c->alpha, 0, (uint32_t)f->levels, (uint32_t)f->L, (uint32_t)f->K, bins->scheduled, 0};
    for (int l = 0; l < f->levels; l++) {
        blend.level = (uint32_t)l, blend.write_alpha = l == 0 && c->alpha;
        rd_vk_dispatch(cmd, &s->blend, &blend, c->tiles);
    }
    rd_vk_barrier(cmd);
    uint64_t pixel_groups = (c->pixels + 63) / 64;
    if (o->queries) {
        struct { VkDeviceAddress coefficients, gram, projected, scores, codebooks; uint32_t pixels, levels, L, queries, negatives, dim; } rel = {
            c->coefficients, s->gram.address, s->projected.address, s->scores.address, s->codebooks.address, (uint32_t)c->pixels,
            (uint32_t)f->levels, (uint32_t)f->L, (uint32_t)o->queries->query_count, (uint32_t)o->queries->negative_count,
            (uint32_t)f->dim};
        rd_vk_dispatch(cmd, &s->relevancy, &rel, pixel_groups);
        rd_vk_barrier(cmd);
        choose_levels(cmd, c);
    }
    if (o->features) {
        struct { VkDeviceAddress coefficients, codebook, norms, features, gram; uint32_t pixels, row, offset, L, dim, half_features; } dec = {
            c->coefficients, s->codebooks.address + (VkDeviceAddress)o->level * f->L * f->dim * sizeof(float), s->pixel_norms.address,
            c->features, s->gram.address + (VkDeviceAddress)o->level * f->L * f->L * sizeof(float), (uint32_t)c->pixels,
            (uint32_t)(f->levels * f->L), (uint32_t)(o->level * f->L), (uint32_t)f->L, (uint32_t)f->dim, o->half_features};
        rd_vk_dispatch(cmd, &s->norms, &dec, pixel_groups);
        rd_vk_barrier(cmd);
        if (o->half_features && f->dim % 2) { /* a word's two halves may be two pixels': a word an invocation */
            uint64_t words = (c->pixels * (size_t)f->dim + 1) / 2;
            rd_vk_dispatch(cmd, &s->decode, &dec, (words + 63) / 64);
        } else { /* 64 pixels by 64 dimensions a group */
            rd_vk_dispatch(cmd, &s->decode_tiles, &dec, (c->pixels + 63) / 64 * (((size_t)f->dim + 63) / 64));
        }
    }
    rd_vk_barrier(cmd);
    size_t queries = o->queries ? (size_t)o->queries->query_count : 0;
    if (queries) { /* the levels, after the peaks in the smoothing buffer */
        VkBufferCopy levels = {.srcOffset = levels_at(c), .dstOffset = c->at[4], .size = queries * sizeof(uint32_t)};
        vkCmdCopyBuffer(cmd, s->smoothing.buffer, s->readback.buffer, 1, &levels);
    }
    if (o->memory == RD_MEMORY_DEVICE) return;
    if (o->coefficients) copy_back(cmd, &s->coefficients, &s->readback, c->at[0], map_bytes(c));
    copy_back(cmd, &s->maps, &s->readback, c->at[1], relevancy_bytes(c));
    copy_back(cmd, &s->features, &s->readback, c->at[2], feature_bytes(c));
    if (o->alpha) copy_back(cmd, &s->alpha, &s->readback, c->at[3], c->pixels * sizeof(float));
}

rd_result rd_feature_outputs_vk(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_feature_field *field,
                                const rd_feature_gpu_outputs *out, rd_render_stats *stats)
{
    feature_vk *s = NULL;
    rd_result r = get_state(ctx, &s);
    if (r == RD_OK) r = upload_field(ctx, s, field);
    if (r != RD_OK) return r;
    stage_call call = {s, field, out, (size_t)vp->width * vp->height, vp->width, vp->height, (uint64_t)vp->tiles_x * vp->tiles_y};
    rd_splat_vk_stage stage = {&call, reserve, record};
    r = rd_splat_render_vk_stage(ctx, scene, vp, &stage, stats);
    if (r != RD_OK) return r;
    const char *back = s->readback.mapped;
    if (out->queries && out->queries->levels) memcpy(out->queries->levels, back + call.at[4], out->queries->query_count * sizeof(int));
    if (out->memory == RD_MEMORY_DEVICE) return RD_OK;
    if (out->coefficients) memcpy(out->coefficients, back + call.at[0], map_bytes(&call));
    if (out->queries && out->queries->relevancy) memcpy(out->queries->relevancy, back + call.at[1], relevancy_bytes(&call));
    if (out->features) { /* halves: the words hold exactly the elements, the last one's upper half aside */
        size_t n = call.pixels * (size_t)field->dim;
        memcpy(out->features, back + call.at[2], out->half_features ? n * sizeof(uint16_t) : n * sizeof(float));
    }
    if (out->alpha) memcpy(out->alpha, back + call.at[3], call.pixels * sizeof(float));
    return RD_OK;
}
