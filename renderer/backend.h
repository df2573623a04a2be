/* backend.h: the backend plumbing every module shares. A context holds exactly one
   backend; modules ask which one and call their own backend file (splat_cpu.c,
   splat_cuda.cu, splat_vk.c), never another module's. */
#ifndef RD_BACKEND_H
#define RD_BACKEND_H

#include "internal.h"

/* Opens desc's backend; AUTO tries CUDA, a hardware Vulkan device, then the CPU and logs
   the choice. */
rd_result rd_backend_open(rd_context *ctx, const rd_context_desc *desc);
void rd_backend_close(rd_context *ctx);
/* RD_OK where [ptr, ptr + bytes) is device memory the context's backend can use (CUDA:
   the pointer's attributes; Vulkan: one of rd_buffer_alloc's buffers of this context);
   what names it in the message. The CPU backend has no device memory. */
rd_result rd_backend_check_memory(rd_context *ctx, const void *ptr, size_t bytes, const char *what);
/* Whether this build contains the backend (not whether a device is present). */
bool rd_backend_built(rd_backend backend);

#endif
