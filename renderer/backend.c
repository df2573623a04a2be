/* backend.c: choosing and opening a backend. GPU backends register here as they land;
   a backend not compiled in answers RD_ERROR_BACKEND_UNAVAILABLE with a reason. */
#include "backend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef RD_HAVE_CUDA
#include "cuda/cuda_backend.h"
#endif
#ifdef RD_HAVE_VULKAN
#include "vulkan/vk_backend.h"
#endif

bool rd_backend_built(rd_backend backend)
{
    switch (backend) {
    case RD_BACKEND_CPU: return true;
#ifdef RD_HAVE_CUDA
    case RD_BACKEND_CUDA: return true;
#endif
#ifdef RD_HAVE_VULKAN
    case RD_BACKEND_VULKAN: return true;
#endif
    default: return false;
    }
}

rd_result rd_backend_check_memory(rd_context *ctx, const void *ptr, size_t bytes, const char *what)
{
    if (!ptr) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: NULL", what);
    switch (ctx->backend) {
#ifdef RD_HAVE_CUDA
    case RD_BACKEND_CUDA: return rd_cuda_check_memory(ctx, ptr, bytes, what);
#endif
#ifdef RD_HAVE_VULKAN
    case RD_BACKEND_VULKAN: return rd_vk_check_memory(ctx, ptr, bytes, what);
#endif
    default: return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the %s backend has no device memory", what,
                            rd_backend_name(ctx->backend));
    }
}

/* auto: what AUTO asked for (it skips software Vulkan devices) */
static rd_result open_one(rd_context *ctx, rd_backend backend, const rd_context_desc *desc, bool automatic)
{
    (void)automatic;
    if (backend == RD_BACKEND_CPU) {
        ctx->backend = RD_BACKEND_CPU;
        return RD_OK;
    }
#ifdef RD_HAVE_CUDA
    if (backend == RD_BACKEND_CUDA) return rd_cuda_open(ctx, desc->device_index);
#endif
#ifdef RD_HAVE_VULKAN
    if (backend == RD_BACKEND_VULKAN) return rd_vk_open(ctx, desc, automatic);
#endif
    return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE,
                   "backend %s: not available in this build of radiant",
                   rd_backend_name(backend));
}

rd_result rd_backend_open(rd_context *ctx, const rd_context_desc *desc)
{
    rd_backend requested = desc->backend;
    if (requested < RD_BACKEND_AUTO || requested > RD_BACKEND_VULKAN)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "backend: unknown value %d", (int)requested);
    if (requested != RD_BACKEND_AUTO) return open_one(ctx, requested, desc, false);

    /* one line at INFO: the backend chosen says so itself; where none of the GPU backends
       opens, the CPU's line gives each one's reason (each also at DEBUG as it fails) */
    const rd_backend order[] = {RD_BACKEND_CUDA, RD_BACKEND_VULKAN};
    char reasons[900] = "";
    for (int i = 0; i < 2; i++) {
        if (!rd_backend_built(order[i])) continue;
        if (open_one(ctx, order[i], desc, true) == RD_OK) return RD_OK;
        size_t used = strlen(reasons);
        snprintf(reasons + used, sizeof reasons - used, "%s%s", used ? "; " : "", ctx->last_error);
    }
    rd_log(ctx, RD_LOG_INFO, "auto backend: the CPU (%d threads)%s%s", ctx->threads, reasons[0] ? "; no GPU backend opened: " : "",
           reasons);
    ctx->last_error[0] = '\0';
    return open_one(ctx, RD_BACKEND_CPU, desc, true);
}

rd_result rd_buffer_alloc(rd_context *ctx, size_t bytes, void **ptr, rd_memory *memory)
{
    if (!ctx || !ptr || !memory) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_buffer_alloc: NULL argument");
#ifdef RD_HAVE_CUDA
    if (ctx->backend == RD_BACKEND_CUDA) {
        *memory = RD_MEMORY_DEVICE;
        return rd_cuda_alloc(ctx, bytes, ptr);
    }
#endif
#ifdef RD_HAVE_VULKAN
    if (ctx->backend == RD_BACKEND_VULKAN) {
        *memory = RD_MEMORY_DEVICE;
        return rd_vk_alloc(ctx, bytes, ptr);
    }
#endif
    *memory = RD_MEMORY_HOST;
    *ptr = malloc(bytes ? bytes : 1);
    return *ptr ? RD_OK : rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "rd_buffer_alloc: cannot allocate %zu bytes", bytes);
}

rd_result rd_device_memory(rd_context *ctx, uint64_t *used, uint64_t *total)
{
    if (!ctx || !used || !total) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_device_memory: NULL argument");
#ifdef RD_HAVE_CUDA
    if (ctx->backend == RD_BACKEND_CUDA) return rd_cuda_memory(ctx, used, total);
#endif
    return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_device_memory: the %s backend does not report its memory",
                   rd_backend_name(ctx->backend));
}

void rd_context_device_bytes(const rd_context *ctx, uint64_t *held, uint64_t *peak)
{
    if (held) *held = ctx ? ctx->device_held : 0;
    if (peak) *peak = ctx ? ctx->device_peak : 0;
}

void rd_buffer_free(rd_context *ctx, void *ptr)
{
    if (!ctx || !ptr) return;
#ifdef RD_HAVE_CUDA
    if (ctx->backend == RD_BACKEND_CUDA) {
        rd_cuda_free(ptr);
        return;
    }
#endif
#ifdef RD_HAVE_VULKAN
    if (ctx->backend == RD_BACKEND_VULKAN) {
        rd_vk_free(ctx, ptr);
        return;
    }
#endif
    free(ptr);
}

rd_result rd_buffer_copy(rd_context *ctx, void *dst, rd_memory dst_memory, const void *src, rd_memory src_memory,
                         size_t bytes)
{
    if (!ctx || (bytes && (!dst || !src))) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_buffer_copy: NULL argument");
    if (dst_memory == RD_MEMORY_HOST && src_memory == RD_MEMORY_HOST) {
        memmove(dst, src, bytes);
        return RD_OK;
    }
#ifdef RD_HAVE_CUDA
    if (ctx->backend == RD_BACKEND_CUDA) return rd_cuda_copy(ctx, dst, src, bytes);
#endif
#ifdef RD_HAVE_VULKAN
    if (ctx->backend == RD_BACKEND_VULKAN) return rd_vk_copy(ctx, dst, dst_memory, src, src_memory, bytes);
#endif
    return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_buffer_copy: backend %s has no device memory", rd_backend_name(ctx->backend));
}

void rd_backend_close(rd_context *ctx)
{
#ifdef RD_HAVE_VULKAN
    if (ctx->backend == RD_BACKEND_VULKAN) rd_vk_close(ctx);
#endif
#ifdef RD_HAVE_CUDA
    if (ctx->backend == RD_BACKEND_CUDA) rd_cuda_close(ctx);
#endif
    ctx->backend_state = NULL;
}
