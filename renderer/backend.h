/* backend.h: the backend plumbing every module shares. A context holds exactly one
   backend; modules ask which one and call their own backend file (splat_cpu.c,
   splat_cuda.cu, splat_vk.c), never another module's. */
#ifndef RD_BACKEND_H
#define RD_BACKEND_H

#include "internal.h"

/* Opens the requested backend; AUTO tries CUDA, Vulkan, then the CPU and logs the choice. */
rd_result rd_backend_open(rd_context *ctx, rd_backend requested, int device_index);
void rd_backend_close(rd_context *ctx);
/* Whether this build contains the backend (not whether a device is present). */
bool rd_backend_built(rd_backend backend);

#endif
