/* vk_timers.c: stage timers from the context's timestamp query pool, whose slots each
   module claims by name once (vk_backend.h), so that no two modules share an index. */
#include "vk_backend.h"

rd_result rd_vk_timers_create(rd_context *ctx, const char *const *names, int stages, rd_vk_timers *out)
{
    rd_vk_state *vk = rd_vk(ctx);
    if (stages < 1 || stages > RD_MAX_STATS)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "vulkan: %d timed stages (1 to %d)", stages, RD_MAX_STATS);
    uint32_t slots = (uint32_t)stages + 1;
    if (vk->timestamps_claimed + slots > RD_VK_TIMESTAMP_SLOTS)
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: the context's %d timestamp slots are all claimed (%s needs %u)",
                       RD_VK_TIMESTAMP_SLOTS, names[0], slots);
    *out = (rd_vk_timers){.first = vk->timestamps_claimed, .stages = stages, .names = names};
    vk->timestamps_claimed += slots;
    return RD_OK;
}

void rd_vk_timers_mark(rd_context *ctx, VkCommandBuffer cmd, const rd_vk_timers *t, int mark)
{
    rd_vk_state *vk = rd_vk(ctx);
    if (mark == 0) vkCmdResetQueryPool(cmd, vk->timestamps, t->first, (uint32_t)t->stages + 1);
    vkCmdWriteTimestamp(cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, vk->timestamps, t->first + (uint32_t)mark);
}

rd_result rd_vk_timers_read(rd_context *ctx, const rd_vk_timers *t, rd_render_stats *stats)
{
    rd_vk_state *vk = rd_vk(ctx);
    uint64_t ticks[RD_MAX_STATS + 1];
    uint32_t slots = (uint32_t)t->stages + 1;
    rd_result r = rd_vk_check(ctx, vkGetQueryPoolResults(vk->device, vk->timestamps, t->first, slots, sizeof ticks, ticks,
                                                         sizeof ticks[0], VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                              "timestamps");
    if (r != RD_OK) return r;
    double ms[RD_MAX_STATS];
    for (int s = 0; s < t->stages; s++) ms[s] = (double)(ticks[s + 1] - ticks[s]) * vk->timestamp_ns * 1e-6;
    rd_stats_set_stages(stats, t->names, ms, t->stages, (double)(ticks[t->stages] - ticks[0]) * vk->timestamp_ns * 1e-6);
    return RD_OK;
}
