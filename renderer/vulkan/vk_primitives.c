/* vk_primitives.c: rd_scan and rd_sort_pairs on a Vulkan context (primitives.h): the
   recorded scan and sort in a submission of their own, waited for. The arrays are
   rd_buffer_alloc's device addresses; the count the recorded forms read from the device
   comes from a small host-visible buffer. */
#include "../primitives.h"
#include "vk_sort.h"

/* The start every call shares: a host-visible buffer holding the count and then a sort's
   status word, scratch for count elements, and the command buffer begun. */
static rd_result begin(rd_context *ctx, rd_vk_buffer *counter, int64_t count, VkCommandBuffer *cmd)
{
    counter->host = true;
    uint32_t words[2] = {(uint32_t)count, 0};
    rd_result r = rd_vk_reserve(ctx, counter, sizeof words, "count");
    if (r == RD_OK) r = rd_vk_upload(ctx, counter, 0, words, sizeof words);
    if (r == RD_OK) r = rd_vk_sorter_reserve(ctx, rd_vk(ctx)->sorter, (uint64_t)count);
    return r == RD_OK ? rd_vk_begin(ctx, cmd) : r;
}

rd_result rd_vk_run_scan(rd_context *ctx, const uint32_t *in, uint32_t *out, int64_t count, bool exclusive)
{
    rd_vk_state *vk = rd_vk(ctx);
    rd_vk_buffer counter = {0};
    VkCommandBuffer cmd;
    rd_result r = begin(ctx, &counter, count, &cmd);
    if (r == RD_OK) {
        rd_vk_scan_record(vk->sorter, cmd, &(rd_vk_scan_desc){.input = (VkDeviceAddress)(uintptr_t)in,
                                                              .output = (VkDeviceAddress)(uintptr_t)out,
                                                              .count = counter.address, .exclusive = exclusive});
        r = rd_vk_submit_wait(ctx, "scan");
    }
    rd_vk_release(ctx, &counter);
    return r;
}

rd_result rd_vk_run_sort_pairs(rd_context *ctx, uint32_t *keys[2], uint32_t *values[2], int64_t count, int bits, int *result)
{
    rd_vk_state *vk = rd_vk(ctx);
    rd_vk_buffer counter = {0};
    VkCommandBuffer cmd;
    rd_result r = begin(ctx, &counter, count, &cmd);
    if (r == RD_OK) {
        *result = rd_vk_sort_pairs_record(vk->sorter, cmd, &(rd_vk_sort_desc){
            .keys = {(VkDeviceAddress)(uintptr_t)keys[0], (VkDeviceAddress)(uintptr_t)keys[1]},
            .values = {(VkDeviceAddress)(uintptr_t)values[0], (VkDeviceAddress)(uintptr_t)values[1]},
            .count = counter.address, .max_count = (uint32_t)count, .bits = bits, .status = counter.address + 4});
        r = rd_vk_submit_wait(ctx, "sort");
    }
    uint32_t words[2] = {0, 0};
    if (r == RD_OK) r = rd_vk_download(ctx, words, &counter, 0, sizeof words);
    if (r == RD_OK && words[1])
        r = rd_fail(ctx, RD_ERROR_DEVICE, "vulkan: sort: %u of the radix sort's look-back waits ran out of their budget; the "
                    "order is wrong", words[1]);
    rd_vk_release(ctx, &counter);
    return r;
}
