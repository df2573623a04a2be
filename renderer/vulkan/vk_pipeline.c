/* vk_pipeline.c: compute pipelines from embedded SPIR-V. The pipeline layout follows the
   shader: its push-constant range is the size of the shader's push-constant block, read
   from the SPIR-V (niagara's approach, for the one kind of binding this backend uses). */
#include "vk_backend.h"

#include <stdlib.h>
#include <string.h>

enum {
    OP_TYPE_INT = 21, OP_TYPE_FLOAT = 22, OP_TYPE_VECTOR = 23, OP_TYPE_ARRAY = 28, OP_TYPE_STRUCT = 30,
    OP_EXECUTION_MODE = 16, EXECUTION_MODE_LOCAL_SIZE = 17,
    OP_TYPE_POINTER = 32, OP_CONSTANT = 43, OP_VARIABLE = 59, OP_DECORATE = 71, OP_MEMBER_DECORATE = 72,
    DECORATION_BINDING = 33, DECORATION_DESCRIPTOR_SET = 34, DECORATION_OFFSET = 35,
    STORAGE_PUSH_CONSTANT = 9, STORAGE_PHYSICAL_BUFFER = 5349,
};

typedef struct spirv_id {
    uint32_t opcode;
    const uint32_t *words; /* the instruction that defines the id */
    uint32_t count;
    uint32_t last_offset, last_member; /* for structs: the largest member Offset and that member */
} spirv_id;

static uint32_t type_size(const spirv_id *ids, uint32_t bound, uint32_t id, int depth)
{
    if (id >= bound || depth > 8 || !ids[id].words) return 0;
    const spirv_id *t = &ids[id];
    switch (t->opcode) {
    case OP_TYPE_INT:
    case OP_TYPE_FLOAT: return t->words[2] / 8;
    case OP_TYPE_VECTOR: return t->words[3] * type_size(ids, bound, t->words[2], depth + 1);
    case OP_TYPE_POINTER: return t->words[2] == STORAGE_PHYSICAL_BUFFER ? 8 : 0;
    case OP_TYPE_ARRAY: {
        uint32_t len_id = t->words[3];
        uint32_t len = len_id < bound && ids[len_id].opcode == OP_CONSTANT ? ids[len_id].words[3] : 0;
        return len * type_size(ids, bound, t->words[2], depth + 1); /* std430: no padding for scalars and vec2/vec4 */
    }
    case OP_TYPE_STRUCT: {
        if (t->count <= 2) return 0;
        uint32_t member_type = t->words[2 + t->last_member];
        return t->last_offset + type_size(ids, bound, member_type, depth + 1);
    }
    default: return 0;
    }
}

/* The workgroup's x size (OpExecutionMode LocalSize), or 0. */
static uint32_t reflect_local_size_x(const uint32_t *spirv, size_t words)
{
    for (size_t w = 5; w < words;) {
        uint32_t opcode = spirv[w] & 0xffffu, count = spirv[w] >> 16;
        if (count == 0 || w + count > words) break;
        if (opcode == OP_EXECUTION_MODE && count >= 4 && spirv[w + 2] == EXECUTION_MODE_LOCAL_SIZE) return spirv[w + 3];
        w += count;
    }
    return 0;
}

int rd_vk_reflect_push_bytes(const uint32_t *spirv, size_t words)
{
    if (words < 5 || spirv[0] != 0x07230203u) return -1;
    uint32_t bound = spirv[3];
    spirv_id *ids = calloc(bound ? bound : 1, sizeof *ids);
    if (!ids) return -1;
    int result = 0;
    uint32_t push_pointer_type = 0;
    for (size_t w = 5; w < words;) {
        uint32_t opcode = spirv[w] & 0xffffu, count = spirv[w] >> 16;
        if (count == 0 || w + count > words) {
            result = -1;
            break;
        }
        const uint32_t *in = spirv + w;
        if ((opcode == OP_TYPE_INT || opcode == OP_TYPE_FLOAT || opcode == OP_TYPE_VECTOR || opcode == OP_TYPE_ARRAY ||
             opcode == OP_TYPE_STRUCT || opcode == OP_TYPE_POINTER) && count >= 2 && in[1] < bound) {
            ids[in[1]].opcode = opcode, ids[in[1]].words = in, ids[in[1]].count = count;
        }
        if (opcode == OP_CONSTANT && count >= 4 && in[2] < bound) ids[in[2]].opcode = opcode, ids[in[2]].words = in;
        if (opcode == OP_DECORATE && count >= 3 && (in[2] == DECORATION_BINDING || in[2] == DECORATION_DESCRIPTOR_SET))
            result = -1;
        if (opcode == OP_MEMBER_DECORATE && count >= 5 && in[3] == DECORATION_OFFSET && in[1] < bound &&
            in[4] >= ids[in[1]].last_offset) {
            ids[in[1]].last_offset = in[4];
            ids[in[1]].last_member = in[2];
        }
        if (opcode == OP_VARIABLE && count >= 4 && in[3] == STORAGE_PUSH_CONSTANT) push_pointer_type = in[1];
        w += count;
    }
    if (result == 0 && push_pointer_type && push_pointer_type < bound && ids[push_pointer_type].words)
        result = (int)type_size(ids, bound, ids[push_pointer_type].words[3], 0);
    free(ids);
    return result;
}

rd_result rd_vk_pipeline_create(rd_context *ctx, const rd_vk_shader *shader)
{
    rd_vk_state *vk = rd_vk(ctx);
    const uint32_t *spirv = shader->spirv;
    size_t bytes = shader->bytes;
    const char *name = shader->name;
    rd_vk_pipeline *out = shader->pipeline;
    memset(out, 0, sizeof *out);
    int push = rd_vk_reflect_push_bytes(spirv, bytes / 4);
    if (push < 0)
        return rd_fail(ctx, RD_ERROR_DEVICE, "vulkan: shader %s: not SPIR-V, or it binds descriptor sets", name);
    out->push_bytes = (uint32_t)push;
    VkShaderModuleCreateInfo module_info = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO, .codeSize = bytes, .pCode = spirv};
    VkShaderModule module = VK_NULL_HANDLE;
    rd_result r = rd_vk_check(ctx, vkCreateShaderModule(vk->device, &module_info, NULL, &module), name);
    VkPushConstantRange range = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = out->push_bytes};
    VkPipelineLayoutCreateInfo layout_info = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                              .pushConstantRangeCount = push > 0, .pPushConstantRanges = &range};
    if (r == RD_OK) r = rd_vk_check(ctx, vkCreatePipelineLayout(vk->device, &layout_info, NULL, &out->layout), name);
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfoEXT subgroup = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO_EXT,
        .requiredSubgroupSize = vk->subgroup_size};
    /* full subgroups (the sort's per-subgroup tables rely on them) where the group is a
       whole number of subgroups; the one-thread argument kernels cannot be */
    uint32_t local_x = reflect_local_size_x(spirv, bytes / 4);
    bool full = vk->require_subgroup_size && local_x && local_x % vk->subgroup_size == 0;
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .pNext = vk->require_subgroup_size ? &subgroup : NULL,
                  .flags = full ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT_EXT : 0,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = module, .pName = "main",
                  .pSpecializationInfo = shader->specialization},
        .layout = out->layout};
    if (r == RD_OK)
        r = rd_vk_check(ctx, vkCreateComputePipelines(vk->device, VK_NULL_HANDLE, 1, &info, NULL, &out->pipeline), name);
    if (module) vkDestroyShaderModule(vk->device, module, NULL);
    if (r != RD_OK) rd_vk_pipeline_destroy(vk, out);
    return r;
}

rd_result rd_vk_pipelines_create(rd_context *ctx, const rd_vk_shader *shaders, size_t count)
{
    rd_result r = RD_OK;
    for (size_t i = 0; i < count && r == RD_OK; i++)
        r = rd_vk_pipeline_create(ctx, &shaders[i]);
    return r;
}

void rd_vk_pipeline_destroy(rd_vk_state *vk, rd_vk_pipeline *p)
{
    if (!vk || !p) return;
    if (p->pipeline) vkDestroyPipeline(vk->device, p->pipeline, NULL);
    if (p->layout) vkDestroyPipelineLayout(vk->device, p->layout, NULL);
    memset(p, 0, sizeof *p);
}

static void bind(VkCommandBuffer cmd, const rd_vk_pipeline *p, const void *push)
{
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    if (p->push_bytes) vkCmdPushConstants(cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, p->push_bytes, push);
}

void rd_vk_dispatch(VkCommandBuffer cmd, const rd_vk_pipeline *p, const void *push, uint64_t groups)
{
    if (groups == 0) return;
    bind(cmd, p, push);
    uint32_t x = groups > 65535 ? 65535 : (uint32_t)groups;
    uint32_t y = (uint32_t)((groups + x - 1) / x);
    vkCmdDispatch(cmd, x, y, 1);
}

void rd_vk_dispatch_indirect(VkCommandBuffer cmd, const rd_vk_pipeline *p, const void *push, const rd_vk_buffer *args,
                             VkDeviceSize offset)
{
    bind(cmd, p, push);
    vkCmdDispatchIndirect(cmd, args->buffer, offset);
}

void rd_vk_barrier(VkCommandBuffer cmd)
{
    VkMemoryBarrier barrier = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                               .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                               .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                                VK_ACCESS_INDIRECT_COMMAND_READ_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                                                VK_ACCESS_TRANSFER_WRITE_BIT};
    vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_DRAW_INDIRECT_BIT |
                             VK_PIPELINE_STAGE_TRANSFER_BIT,
                         0, 1, &barrier, 0, NULL, 0, NULL);
}
