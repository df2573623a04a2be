/* vk_sort.h: device-wide scan and radix sort for the Vulkan backend, driven by counts
   that live on the device (no host readback): a reduce-then-scan of uints (three
   dispatches whatever the size), and a stable LSD radix sort of 32-bit keys with 32-bit
   values in 8-bit digits, by one of two paths chosen from the device's properties:
   - single pass (GPUs): one read of the keys counts the digits of every pass, then one
     dispatch a pass ranks with subgroup ballots, finds each block's offsets by decoupled
     look-back (waiting on earlier workgroups), and scatters;
   - reduce-then-scan (devices that do not promise that a waited-on workgroup runs, such
     as lavapipe): a pass counts each block's digits, scans the counts, and scatters; no
     workgroup waits on another.
   Every dispatch size comes from the device's count through indirect dispatch. */
#ifndef RD_VK_SORT_H
#define RD_VK_SORT_H

#include "vk_backend.h"

typedef struct rd_vk_sorter rd_vk_sorter;

rd_result rd_vk_sorter_create(rd_context *ctx, rd_vk_sorter **out);
void rd_vk_sorter_destroy(rd_context *ctx, rd_vk_sorter *s);
/* Sizes the scratch for scans and sorts of up to max_count elements (below
   RD_SORT_MAX_KEYS). Call before recording: growing frees buffers that recorded commands
   would still use. */
rd_result rd_vk_sorter_reserve(rd_context *ctx, rd_vk_sorter *s, uint64_t max_count);

typedef struct rd_vk_scan_desc {
    VkDeviceAddress input, output; /* uints; output may equal input */
    VkDeviceAddress count;         /* a uint on the device: how many elements */
    bool exclusive;
} rd_vk_scan_desc;
void rd_vk_scan_record(rd_vk_sorter *s, VkCommandBuffer cmd, const rd_vk_scan_desc *desc);

typedef struct rd_vk_sort_desc {
    VkDeviceAddress keys[2], values[2]; /* ping-pong pairs; the input is in [0] */
    VkDeviceAddress count;              /* a uint on the device; clamped to max_count */
    uint32_t max_count;
    int bits;                           /* low key bits to sort by, 1..32 */
    /* optional: gather_to[i] = gather_from[sorted value i], written by the last pass */
    VkDeviceAddress gather_from, gather_to;
    /* a uint on the device, zeroed by the caller, that the single pass adds to where a
       look-back wait ran out of its budget: nonzero means the result is wrong. A sort
       given a nonzero status sorts nothing (nothing may follow from a wrong order). The
       gather reads gather_from only at values below the sort's count. */
    VkDeviceAddress status;
} rd_vk_sort_desc;
/* Returns which pair (0 or 1) holds the sorted result. */
int rd_vk_sort_pairs_record(rd_vk_sorter *s, VkCommandBuffer cmd, const rd_vk_sort_desc *desc);
/* Whether the sorts take the single pass (else reduce-then-scan). */
bool rd_vk_sorter_single_pass(const rd_vk_sorter *s);
/* The keys a thread of the sorts' blocks: items[0] below 2^21 keys, items[1] from there
   (choose_sort_blocks in vk_sort.c: the device's or rd_tuning's, cut to its shared memory). */
void rd_vk_sorter_items(const rd_vk_sorter *s, uint32_t items[2]);

/* Dispatch arguments, in the sorter's control block, for a kernel over min(count, limit)
   elements, per_group to a group, or over none where the uint at status (a sort's) is
   nonzero; returns where they are for rd_vk_dispatch_indirect. Scans and sorts leave them
   alone; the next call overwrites them. */
VkDeviceSize rd_vk_count_args_record(rd_vk_sorter *s, VkCommandBuffer cmd, VkDeviceAddress count, VkDeviceAddress status,
                                     uint32_t limit, uint32_t per_group, const rd_vk_buffer **args);

#endif
