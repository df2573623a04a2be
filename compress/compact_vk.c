/* compact_vk.c: a compact 3D file's decode on Vulkan (compact_gather.h): the upload and one
   dispatch of compress/shaders/compact_gather.comp in one submission, the arguments read
   from their copy in device memory (they outgrow a push-constant block). The pipeline is
   made for the load and destroyed after it: a scene loads once. */
#include "compact_gather.h"
#include "../renderer/vulkan/vk_backend.h"

#include <stddef.h>

static const uint32_t gather_spv[] = {
#include "compact_gather.comp.inc"
};

enum { INVOCATIONS = 256 }; /* the shader's local size */

_Static_assert(sizeof(compact_gather_args) == 656 && offsetof(compact_gather_args, start) == 32 &&
                   offsetof(compact_gather_args, origin) == 128 && offsetof(compact_gather_args, slice) == 144 &&
                   sizeof(compact_gather_slice) == 32,
               "compact_gather.comp reads compact_gather_args with this layout");

rd_result rd_compact_gather_vk(rd_context *ctx, const compact_gather_args *a, void *device, const void *host, size_t bytes,
                               uint64_t device_args)
{
    rd_vk_pipeline pipeline = {0};
    rd_result r = rd_vk_pipeline_create(ctx, &(rd_vk_shader){&pipeline, gather_spv, sizeof gather_spv, "compact_gather", NULL});
    if (r != RD_OK) return r;
    VkCommandBuffer cmd;
    r = rd_vk_begin_upload(ctx, &cmd, device, host, bytes);
    if (r == RD_OK) {
        uint64_t push = device_args;
        rd_vk_dispatch(cmd, &pipeline, &push, (a->start[RD_COMPACT_GATHER_ARRAYS] + INVOCATIONS - 1) / INVOCATIONS);
        rd_vk_barrier(cmd);
        r = rd_vk_submit_wait(ctx, "compact decode");
    }
    rd_vk_pipeline_destroy(rd_vk(ctx), &pipeline);
    return r;
}
