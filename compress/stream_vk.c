/* stream_vk.c: a residual frame's decode on Vulkan (stream_apply.h): the arguments read by
   the shader from device memory (they outgrow a push-constant block), four dispatches of
   compress/shaders/stream_residual.comp (each Gaussian's parent and rows; the small arrays'
   floats and the SH's; the moved positions) with barriers between, one submission with the
   frame's upload before them (a submission and its wait cost about as much as the
   dispatches). */
#include "stream_apply.h"
#include "../renderer/vulkan/vk_backend.h"

#include <stddef.h>
#include <stdlib.h>

static const uint32_t residual_spv[] = {
#include "stream_residual.comp.inc"
};

enum { INVOCATIONS = 256 }; /* the shader's local size */

_Static_assert(sizeof(stream_apply_args) == 408 && offsetof(stream_apply_args, latents) == 192 &&
                   offsetof(stream_apply_args, row_index) == 320 && offsetof(stream_apply_args, run_start) == 384,
               "stream_residual.comp reads stream_apply_args with this layout");

void rd_stream_vk_free(rd_context *ctx, void *kernels)
{
    rd_vk_state *vk = rd_vk(ctx);
    if (kernels && vk && vk->device) rd_vk_pipeline_destroy(vk, kernels);
    free(kernels);
}

rd_result rd_stream_apply_vk(rd_context *ctx, const stream_apply_args *a, const stream_vk_upload *up, void **kernels)
{
    if (!*kernels) {
        rd_vk_pipeline *pipeline = calloc(1, sizeof *pipeline);
        if (!pipeline) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "stream decode (vulkan): out of memory");
        rd_result r = rd_vk_pipeline_create(ctx, &(rd_vk_shader){pipeline, residual_spv, sizeof residual_spv, "stream_residual", NULL});
        if (r != RD_OK) {
            free(pipeline);
            return r;
        }
        *kernels = pipeline;
    }
    struct {
        uint64_t args;
        uint32_t mode, pad;
    } push = {up->args, 0, 0};
    VkCommandBuffer cmd;
    rd_result r = rd_vk_begin_upload(ctx, &cmd, up->device, up->host, up->bytes);
    if (r != RD_OK) return r;
    if (a->count) rd_vk_dispatch(cmd, *kernels, &push, ((uint64_t)a->count + INVOCATIONS - 1) / INVOCATIONS);
    rd_vk_barrier(cmd);
    push.mode = 2;
    if (a->count) rd_vk_dispatch(cmd, *kernels, &push, ((uint64_t)a->count * 11 + INVOCATIONS - 1) / INVOCATIONS);
    push.mode = 3; /* beside mode 2: both read the first pass's rows and write their own arrays */
    if (a->count) rd_vk_dispatch(cmd, *kernels, &push, ((uint64_t)a->count * a->sh_floats + INVOCATIONS - 1) / INVOCATIONS);
    rd_vk_barrier(cmd);
    push.mode = 1;
    if (a->moved) rd_vk_dispatch(cmd, *kernels, &push, ((uint64_t)a->moved + INVOCATIONS - 1) / INVOCATIONS);
    rd_vk_barrier(cmd);
    return rd_vk_submit_wait(ctx, "stream decode");
}
