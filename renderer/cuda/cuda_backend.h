/* cuda_backend.h: the CUDA backend's plumbing, shared by every module's .cu file: the
   device and stream of a context, growable device buffers, and error translation.
   Plain C declarations; the implementation is in cuda_backend.cu. The Vulkan backend
   offers the same operations under the same names (vk_backend.h: rd_vk_reserve,
   rd_vk_release, rd_vk_upload, rd_vk_download); the stream-ordered scan, sort and stage
   timers are in cuda_scan.h, cuda_sort.h and cuda_internal.h. */
#ifndef RD_CUDA_BACKEND_H
#define RD_CUDA_BACKEND_H

#include "../internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Opens device_index: fails with RD_ERROR_BACKEND_UNAVAILABLE when there is no device. */
rd_result rd_cuda_open(rd_context *ctx, int device_index);
void rd_cuda_close(rd_context *ctx);

/* A device allocation that grows only when asked for more than it holds (keeping its
   contents only when it need not grow). */
typedef struct rd_cuda_buffer {
    void *ptr;
    size_t bytes;
} rd_cuda_buffer;
rd_result rd_cuda_reserve(rd_context *ctx, rd_cuda_buffer *buf, size_t bytes, const char *what);
void rd_cuda_release(rd_context *ctx, rd_cuda_buffer *buf);
/* Synchronous copies between host memory and a buffer. */
rd_result rd_cuda_upload(rd_context *ctx, rd_cuda_buffer *dst, size_t offset, const void *src, size_t bytes);
rd_result rd_cuda_download(rd_context *ctx, void *dst, const rd_cuda_buffer *src, size_t offset, size_t bytes);
/* Plain device allocations for callers (rd_buffer_alloc). */
rd_result rd_cuda_alloc(rd_context *ctx, size_t bytes, void **ptr);
void rd_cuda_free(void *ptr);
/* RD_OK where [ptr, ptr + bytes) is device (or managed) memory of this context's device. */
rd_result rd_cuda_check_memory(rd_context *ctx, const void *ptr, size_t bytes, const char *what);
/* Any direction (unified addressing tells host from device), synchronous. */
rd_result rd_cuda_copy(rd_context *ctx, void *dst, const void *src, size_t bytes);
/* rd_device_memory on CUDA (cudaMemGetInfo). */
rd_result rd_cuda_memory(rd_context *ctx, uint64_t *used, uint64_t *total);
/* Zeroes device memory, in the order of stream (NULL: the context's). */
rd_result rd_cuda_zero(rd_context *ctx, void *ptr, size_t bytes, void *stream);

#ifdef __cplusplus
}
#endif
#endif
