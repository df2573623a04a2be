/* cuda_backend.cu: device choice, the context's stream, growable device buffers. */
#include "cuda_internal.h"

#include <stdio.h>
#include <stdlib.h>

extern "C" rd_result rd_cuda_open(rd_context *ctx, int device_index)
{
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess || count == 0) {
        cudaGetLastError();
        /* no NVIDIA driver shows as an insufficient driver or none at all: say it plainly */
        bool no_driver = err == cudaErrorInsufficientDriver || err == cudaErrorNoDevice || count == 0;
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "backend cuda: %s (CUDA: %s)",
                       no_driver ? "no NVIDIA GPU with a working driver on this machine" : "CUDA cannot start",
                       err != cudaSuccess ? cudaGetErrorString(err) : "no devices");
    }
    if (device_index < 0 || device_index >= count)
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "backend cuda: device %d does not exist (%d present)",
                       device_index, count);
    rd_cuda_state *s = (rd_cuda_state *)calloc(1, sizeof *s);
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "backend cuda: out of memory");
    s->device = device_index;
    cudaDeviceProp prop;
    rd_result r = rd_cuda_check(ctx, cudaSetDevice(device_index), "cudaSetDevice");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaGetDeviceProperties(&prop, device_index), "cudaGetDeviceProperties");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    if (r != RD_OK) {
        free(s);
        return r;
    }
    snprintf(s->name, sizeof s->name, "%s", prop.name);
    /* the device's where the context leaves it open; a device without it cannot be asked */
    s->dependent_launch = prop.major >= 9 && ctx->tuning.cuda_dependent_launch != RD_DEPENDENT_LAUNCH_OFF;
    s->multiprocessors = prop.multiProcessorCount;
    ctx->backend_state = s;
    ctx->backend = RD_BACKEND_CUDA;
    rd_log(ctx, RD_LOG_INFO, "backend cuda: %s (sm_%d%d, %.1f GiB)", prop.name, prop.major, prop.minor,
           prop.totalGlobalMem / 1073741824.0);
    return RD_OK;
}

extern "C" void rd_cuda_close(rd_context *ctx)
{
    rd_cuda_state *s = rd_cuda(ctx);
    if (!s) return;
    cudaSetDevice(s->device);
    rd_cuda_release(ctx, &s->scratch);
    if (s->stream) cudaStreamDestroy(s->stream);
    free(s);
    ctx->backend_state = NULL;
}

/* buf (empty) made to hold bytes with headroom, so that slowly growing needs do not
   reallocate every frame; not counted here (rd_cuda_reserve counts the context's own). */
static rd_result allocate_exactly(rd_context *ctx, rd_cuda_buffer *buf, size_t grown, const char *what)
{
    cudaError_t err = cudaMalloc(&buf->ptr, grown);
    if (err != cudaSuccess) {
        buf->ptr = NULL;
        cudaGetLastError();
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "cuda: cannot allocate %.1f MiB for %s: %s", grown / 1048576.0, what,
                       cudaGetErrorString(err));
    }
    buf->bytes = grown;
    return RD_OK;
}

static rd_result allocate(rd_context *ctx, rd_cuda_buffer *buf, size_t bytes, const char *what)
{
    return allocate_exactly(ctx, buf, bytes + bytes / 4 + 256, what);
}

extern "C" rd_result rd_cuda_reserve(rd_context *ctx, rd_cuda_buffer *buf, size_t bytes, const char *what)
{
    if (bytes <= buf->bytes && buf->ptr) return RD_OK;
    rd_cuda_release(ctx, buf);
    rd_result r = allocate(ctx, buf, bytes, what);
    if (r == RD_OK) rd_device_bytes_add(ctx, (int64_t)buf->bytes);
    return r;
}

extern "C" void rd_cuda_release(rd_context *ctx, rd_cuda_buffer *buf)
{
    if (buf->ptr) cudaFree(buf->ptr), rd_device_bytes_add(ctx, -(int64_t)buf->bytes);
    buf->ptr = NULL;
    buf->bytes = 0;
}

/* The copies below are synchronous and on the legacy default stream, which does not wait
   for the context's (non-blocking) stream: each waits for the context's work first, so
   that a copy sees what kernels enqueued before it wrote, and they see what it wrote. */
static rd_result wait_for_context(rd_context *ctx)
{
    return rd_cuda_check(ctx, cudaStreamSynchronize(rd_cuda(ctx)->stream), "waiting for the context's work");
}

/* A copy on the context's stream, finished when this returns. A plain cudaMemcpy runs on
   the legacy default stream, which the context's non-blocking stream does not wait for,
   and from pageable memory it returns once the bytes are staged, before they land: a
   frame's kernels then read the device array half written (a scene's SH, uploaded last,
   gave colours that changed from render to render: tests/test_gpu_repeat.c). */
static rd_result copy_on_stream(rd_context *ctx, void *dst, const void *src, size_t bytes, const char *what)
{
    cudaStream_t st = rd_cuda(ctx)->stream;
    rd_result r = wait_for_context(ctx);
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, st), what);
    return r == RD_OK ? wait_for_context(ctx) : r;
}

extern "C" rd_result rd_cuda_upload(rd_context *ctx, rd_cuda_buffer *dst, size_t offset, const void *src, size_t bytes)
{
    if (offset + bytes > dst->bytes) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "cuda: upload past the buffer's end");
    return copy_on_stream(ctx, (char *)dst->ptr + offset, src, bytes, "upload");
}

extern "C" rd_result rd_cuda_download(rd_context *ctx, void *dst, const rd_cuda_buffer *src, size_t offset, size_t bytes)
{
    if (offset + bytes > src->bytes) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "cuda: download past the buffer's end");
    return copy_on_stream(ctx, dst, (const char *)src->ptr + offset, bytes, "download");
}

extern "C" rd_result rd_cuda_timers_create(rd_context *ctx, const char *const *names, int stages, rd_cuda_timers *out)
{
    if (stages < 1 || stages > RD_MAX_STATS)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "cuda: %d timed stages (1 to %d)", stages, RD_MAX_STATS);
    *out = rd_cuda_timers{};
    out->stages = stages, out->names = names;
    for (int e = 0; e <= stages; e++) {
        rd_result r = rd_cuda_check(ctx, cudaEventCreate(&out->events[e]), "cudaEventCreate");
        if (r != RD_OK) {
            rd_cuda_timers_destroy(out);
            return r;
        }
    }
    return RD_OK;
}

extern "C" void rd_cuda_timers_destroy(rd_cuda_timers *t)
{
    for (int e = 0; e <= t->stages; e++)
        if (t->events[e]) cudaEventDestroy(t->events[e]);
    *t = rd_cuda_timers{};
}

extern "C" void rd_cuda_timers_mark(const rd_cuda_timers *t, int mark, cudaStream_t stream)
{
    cudaEventRecord(t->events[mark], stream);
}

extern "C" rd_result rd_cuda_timers_read(rd_context *ctx, const rd_cuda_timers *t, bool stages, rd_render_stats *stats)
{
    float whole = 0.0f;
    double ms[RD_MAX_STATS] = {0};
    rd_result r = rd_cuda_check(ctx, cudaEventElapsedTime(&whole, t->events[0], t->events[t->stages]), "frame time");
    for (int s = 0; stages && r == RD_OK && s < t->stages; s++) {
        float part = 0.0f;
        r = rd_cuda_check(ctx, cudaEventElapsedTime(&part, t->events[s], t->events[s + 1]), "stage time");
        ms[s] = part;
    }
    if (r == RD_OK) rd_stats_set_stages(stats, t->names, ms, t->stages, whole);
    return r;
}

extern "C" rd_result rd_cuda_check_memory(rd_context *ctx, const void *ptr, size_t bytes, const char *what)
{
    const char *ends[2] = {(const char *)ptr, (const char *)ptr + (bytes ? bytes - 1 : 0)};
    for (const char *p : ends) {
        cudaPointerAttributes a;
        cudaError_t err = cudaPointerGetAttributes(&a, p);
        if (err != cudaSuccess) cudaGetLastError();
        bool device = err == cudaSuccess && (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged);
        if (!device)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %p is not CUDA device memory (it is %s)", what, (const void *)p,
                           err != cudaSuccess ? cudaGetErrorString(err) : a.type == cudaMemoryTypeHost ? "pinned host memory"
                                                                                                : "host memory");
        if (a.type == cudaMemoryTypeDevice && a.device != rd_cuda(ctx)->device)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %p is memory of CUDA device %d, not of this context's device %d",
                           what, (const void *)p, a.device, rd_cuda(ctx)->device);
    }
    return RD_OK;
}

extern "C" rd_result rd_cuda_alloc(rd_context *ctx, size_t bytes, void **ptr)
{
    rd_cuda_buffer buf = {NULL, 0};
    /* the caller's, of the size asked (no headroom: a scene's arrays are a few GB); not
       counted, as rd_cuda_free does not */
    rd_result r = allocate_exactly(ctx, &buf, bytes ? bytes : 1, "rd_buffer_alloc");
    *ptr = buf.ptr;
    return r;
}

extern "C" void rd_cuda_free(void *ptr)
{
    cudaFree(ptr);
}

extern "C" rd_result rd_cuda_copy(rd_context *ctx, void *dst, const void *src, size_t bytes)
{
    return copy_on_stream(ctx, dst, src, bytes, "rd_buffer_copy");
}

extern "C" rd_result rd_cuda_zero(rd_context *ctx, void *ptr, size_t bytes, void *stream)
{
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    return rd_cuda_check(ctx, cudaMemsetAsync(ptr, 0, bytes, st), "clear");
}

extern "C" rd_result rd_cuda_memory(rd_context *ctx, uint64_t *used, uint64_t *total)
{
    size_t free_bytes = 0, total_bytes = 0;
    rd_result r = rd_cuda_check(ctx, cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    *used = r == RD_OK ? (uint64_t)(total_bytes - free_bytes) : 0, *total = (uint64_t)total_bytes;
    return r;
}
