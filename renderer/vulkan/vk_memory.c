/* vk_memory.c: the caller's memory on a Vulkan context: rd_buffer_alloc's buffers (their
   pointers are device addresses), copies to and from them, and radiant_vulkan.h's access
   to the device and to growable buffers. */
#include "vk_backend.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static rd_vk_buffer *find(rd_vk_state *vk, const void *ptr, VkDeviceSize *offset)
{
    VkDeviceAddress a = (VkDeviceAddress)(uintptr_t)ptr;
    for (int i = 0; i < vk->allocation_count; i++) {
        rd_vk_buffer *b = &vk->allocations[i];
        if (a >= b->address && a < b->address + b->bytes) {
            *offset = a - b->address;
            return b;
        }
    }
    return NULL;
}

rd_result rd_vk_check_memory(rd_context *ctx, const void *ptr, size_t bytes, const char *what)
{
    VkDeviceSize offset = 0;
    const rd_vk_buffer *b = find(rd_vk(ctx), ptr, &offset);
    if (!b)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %p is not device memory of this Vulkan context (rd_buffer_alloc "
                       "returns such memory)", what, ptr);
    if (bytes > b->bytes - offset)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %zu bytes from %p run %llu bytes past the end of its buffer", what,
                       bytes, ptr, (unsigned long long)(bytes - (b->bytes - offset)));
    return RD_OK;
}

rd_result rd_vk_alloc(rd_context *ctx, size_t bytes, void **ptr)
{
    rd_vk_state *vk = rd_vk(ctx);
    *ptr = NULL;
    if (vk->allocation_count == vk->allocation_capacity) {
        int grown = vk->allocation_capacity ? 2 * vk->allocation_capacity : 8;
        rd_vk_buffer *list = realloc(vk->allocations, (size_t)grown * sizeof *list);
        if (!list) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_buffer_alloc: out of memory");
        vk->allocations = list;
        vk->allocation_capacity = grown;
    }
    rd_vk_buffer buf = {0};
    rd_result r = rd_vk_reserve_for_caller(ctx, &buf, bytes, "rd_buffer_alloc");
    if (r != RD_OK) return r;
    vk->allocations[vk->allocation_count++] = buf;
    *ptr = (void *)(uintptr_t)buf.address;
    return RD_OK;
}

void rd_vk_free(rd_context *ctx, void *ptr)
{
    rd_vk_state *vk = rd_vk(ctx);
    VkDeviceSize offset;
    rd_vk_buffer *b = find(vk, ptr, &offset);
    if (!b || offset != 0) {
        rd_log(ctx, RD_LOG_WARN, "rd_buffer_free: %p is not a buffer of this Vulkan context", ptr);
        return;
    }
    vkQueueWaitIdle(vk->queue);
    rd_vk_release_for_caller(ctx, b);
    *b = vk->allocations[--vk->allocation_count];
}

rd_result rd_vk_copy(rd_context *ctx, void *dst, rd_memory dst_memory, const void *src, rd_memory src_memory, size_t bytes)
{
    rd_vk_state *vk = rd_vk(ctx);
    VkDeviceSize dst_offset = 0, src_offset = 0;
    rd_vk_buffer *d = dst_memory == RD_MEMORY_DEVICE ? find(vk, dst, &dst_offset) : NULL;
    rd_vk_buffer *s = src_memory == RD_MEMORY_DEVICE ? find(vk, src, &src_offset) : NULL;
    bool bad_dst = dst_memory == RD_MEMORY_DEVICE && !d, bad_src = src_memory == RD_MEMORY_DEVICE && !s;
    if (bad_dst || bad_src)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_buffer_copy: the %s is not an rd_buffer_alloc buffer of this Vulkan context",
                       bad_dst ? "destination" : "source");
    if ((d && dst_offset + bytes > d->bytes) || (s && src_offset + bytes > s->bytes))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_buffer_copy: %zu bytes pass the end of the %s buffer", bytes,
                       d && dst_offset + bytes > d->bytes ? "destination" : "source");
    if (d && !s) return rd_vk_upload(ctx, d, dst_offset, src, bytes);
    if (s && !d) return rd_vk_download(ctx, dst, s, src_offset, bytes);
    VkCommandBuffer cmd;
    rd_result r = rd_vk_begin(ctx, &cmd);
    if (r != RD_OK) return r;
    VkBufferCopy region = {.srcOffset = src_offset, .dstOffset = dst_offset, .size = bytes};
    if (bytes) vkCmdCopyBuffer(cmd, s->buffer, d->buffer, 1, &region);
    return rd_vk_submit_wait(ctx, "rd_buffer_copy");
}

rd_result rd_vk_begin_upload(rd_context *ctx, VkCommandBuffer *cmd, void *dst, const void *src, size_t bytes)
{
    rd_vk_state *vk = rd_vk(ctx);
    VkDeviceSize offset = 0;
    rd_vk_buffer *d = find(vk, dst, &offset);
    if (!d || offset + bytes > d->bytes)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "vulkan: an upload of %zu bytes to %p is not within an rd_buffer_alloc buffer", bytes, dst);
    bool staged = bytes && !d->host && bytes <= RD_VK_STAGING_BYTES;
    rd_result r = staged ? rd_vk_reserve(ctx, &vk->staging, bytes, "staging buffer") : rd_vk_upload(ctx, d, offset, src, bytes);
    if (r == RD_OK) r = rd_vk_begin(ctx, cmd);
    if (r != RD_OK) return r;
    if (!staged) { /* copied in submissions of its own: made visible to what is recorded next all the same */
        rd_vk_barrier(*cmd);
        return RD_OK;
    }
    memcpy(vk->staging.mapped, src, bytes);
    VkBufferCopy region = {.srcOffset = 0, .dstOffset = offset, .size = bytes};
    vkCmdCopyBuffer(*cmd, vk->staging.buffer, d->buffer, 1, &region);
    rd_vk_barrier(*cmd);
    return RD_OK;
}

static rd_result require_vulkan(rd_context *ctx, const char *call)
{
    if (!ctx) return RD_ERROR_INVALID_ARGUMENT;
    if (ctx->backend != RD_BACKEND_VULKAN)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the context's backend is %s, not vulkan", call,
                       rd_backend_name(ctx->backend));
    return RD_OK;
}

rd_result rd_vulkan_get_device(rd_context *ctx, rd_vulkan_device *out)
{
    rd_result r = require_vulkan(ctx, "rd_vulkan_get_device");
    if (r != RD_OK) return r;
    rd_vk_state *vk = rd_vk(ctx);
    *out = (rd_vulkan_device){.instance = vk->instance, .physical = vk->physical, .device = vk->device, .queue = vk->queue,
                              .queue_family = vk->queue_family, .surface = vk->surface, .subgroup_size = vk->subgroup_size,
                              .name = vk->name};
    return RD_OK;
}

rd_result rd_vulkan_buffer_reserve(rd_context *ctx, rd_vulkan_buffer *buf, size_t bytes)
{
    rd_result r = require_vulkan(ctx, "rd_vulkan_buffer_reserve");
    return r == RD_OK ? rd_vk_reserve_for_caller(ctx, buf, bytes, "caller's buffer") : r;
}

void rd_vulkan_buffer_release(rd_context *ctx, rd_vulkan_buffer *buf)
{
    if (require_vulkan(ctx, "rd_vulkan_buffer_release") != RD_OK || !buf) return;
    vkQueueWaitIdle(rd_vk(ctx)->queue);
    rd_vk_release_for_caller(ctx, buf);
}
