/* vk_backend.h: the Vulkan backend's plumbing, shared by every module's *_vk.c file: the
   instance, device and queue of a context, growable buffers addressed by device address
   (shaders reach every buffer through GL_EXT_buffer_reference, so there are no descriptor
   sets and no 128 MiB maxStorageBufferRange limit), compute pipelines whose push-constant
   range is read from the shader's SPIR-V, recording helpers, and error translation.

   A frame is recorded into the context's one command buffer, submitted, and waited for;
   nothing inside it reads back to the host (counts drive indirect dispatches). */
#ifndef RD_VK_BACKEND_H
#define RD_VK_BACKEND_H

#include "../internal.h"
#include "radiant_vulkan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A growable buffer (radiant_vulkan.h); host-visible ones hold staging data and the
   counters read after a frame. */
typedef rd_vulkan_buffer rd_vk_buffer;

/* The staging buffer's largest size: bigger copies go through it in pieces. */
enum { RD_VK_STAGING_BYTES = 32 << 20 };

typedef struct rd_vk_state {
    VkInstance instance;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice physical;
    VkDevice device;
    VkQueue queue;
    uint32_t queue_family;
    VkCommandPool pool;
    VkCommandBuffer cmd;
    VkFence fence;
    VkQueryPool timestamps;         /* slots handed out by rd_vk_timers_create */
    uint32_t timestamps_claimed;
    double timestamp_ns;            /* nanoseconds per timestamp tick */
    bool cpu_device;                /* a CPU implementation (lavapipe) */
    uint32_t subgroup_size;         /* the size every pipeline runs with */
    bool require_subgroup_size;     /* pipelines request subgroup_size explicitly */
    bool shader_float64;            /* shaderFloat64, enabled where the device has it (the NeRF march's doubles) */
    bool subgroup_partitioned;      /* VK_NV_shader_subgroup_partitioned, enabled for compute where the device has it */
    bool shader_clock;              /* VK_KHR_shader_clock's subgroup clock, enabled where the device has it */
    VkPhysicalDeviceMemoryProperties memory;
    VkDeviceSize max_allocation;    /* maxMemoryAllocationSize: a soft limit, tried past (reserve) */
    VkDeviceSize max_buffer;        /* maxBufferSize (VK_KHR_maintenance4), else max_allocation */
    char name[256];
    rd_context *ctx;                /* for the messenger's log */
    rd_vk_buffer staging;           /* host-visible bounce buffer for uploads and downloads */
    struct rd_vk_sorter *sorter;    /* scans and sorts (vk_sort.h) */
    VkSurfaceKHR surface;           /* with rd_context_desc.vulkan_window */
    uint64_t buffer_generation;     /* counts every buffer made or freed: recorded commands that
                                       name buffers stay valid while it stands (rd_vk_reusable) */
    rd_vk_buffer *allocations;      /* rd_buffer_alloc's, for rd_buffer_free and rd_buffer_copy */
    int allocation_count, allocation_capacity;
} rd_vk_state;

static inline rd_vk_state *rd_vk(rd_context *ctx) { return (rd_vk_state *)ctx->backend_state; }

/* Opens desc->device_index among the devices that have Vulkan 1.2, buffer device
   addresses and 64-bit integers (and can present to desc->vulkan_window's surface, when
   given). hardware_only (the auto backend) refuses software devices such as lavapipe,
   where the CPU backend is faster. desc->subgroup_size 0 takes the device's. */
rd_result rd_vk_open(rd_context *ctx, const rd_context_desc *desc, bool hardware_only);
void rd_vk_close(rd_context *ctx);

/* rd_buffer_alloc, rd_buffer_free and rd_buffer_copy on a Vulkan context (vk_memory.c). */
rd_result rd_vk_alloc(rd_context *ctx, size_t bytes, void **ptr);
void rd_vk_free(rd_context *ctx, void *ptr);
rd_result rd_vk_copy(rd_context *ctx, void *dst, rd_memory dst_memory, const void *src, rd_memory src_memory, size_t bytes);
/* RD_OK where [ptr, ptr + bytes) lies in one of rd_buffer_alloc's buffers of this context. */
rd_result rd_vk_check_memory(rd_context *ctx, const void *ptr, size_t bytes, const char *what);

/* RD_OK, or the failure recorded in ctx as "vulkan: <step>: <VkResult name>". */
rd_result rd_vk_check(rd_context *ctx, VkResult result, const char *step);

/* Makes buf hold at least bytes (device-local, or host-visible when buf->host is set);
   keeps its contents only when no growth is needed. A device-local one counts as the
   context's own (rd_context_device_bytes). */
rd_result rd_vk_reserve(rd_context *ctx, rd_vk_buffer *buf, VkDeviceSize bytes, const char *what);
/* As rd_vk_reserve, but a buffer that must grow gets a quarter to spare (within the device's
   largest allocation), as rd_cuda_reserve's do: for sizes that creep up frame by frame. */
rd_result rd_vk_reserve_room(rd_context *ctx, rd_vk_buffer *buf, VkDeviceSize bytes, const char *what);
void rd_vk_release(rd_context *ctx, rd_vk_buffer *buf);
/* The same for the caller's buffers (rd_buffer_alloc, rd_vulkan_buffer_reserve), which the
   context's count leaves out. */
rd_result rd_vk_reserve_for_caller(rd_context *ctx, rd_vk_buffer *buf, VkDeviceSize bytes, const char *what);
void rd_vk_release_for_caller(rd_context *ctx, rd_vk_buffer *buf);
/* Synchronous copies between host memory and a buffer, through the staging buffer. */
rd_result rd_vk_upload(rd_context *ctx, rd_vk_buffer *dst, VkDeviceSize offset, const void *src, size_t bytes);
rd_result rd_vk_download(rd_context *ctx, void *dst, const rd_vk_buffer *src, VkDeviceSize offset, size_t bytes);
/* Starts recording the context's command buffer with bytes from host memory copied into
   dst (rd_buffer_alloc memory of this context) and a barrier after, so that the commands
   recorded next read them in the same submission: one round trip, not two. The bytes go
   through the staging buffer, which holds them until the submission's wait; where they
   outgrow it (or dst is host-visible) the copy is made synchronously first. */
rd_result rd_vk_begin_upload(rd_context *ctx, VkCommandBuffer *cmd, void *dst, const void *src, size_t bytes);

/* A compute pipeline; its push-constant size comes from the SPIR-V. */
typedef struct rd_vk_pipeline {
    VkPipeline pipeline;
    VkPipelineLayout layout;
    uint32_t push_bytes;
} rd_vk_pipeline;
/* A shader to build one from: its SPIR-V words, their size in bytes, a name for messages,
   the pipeline to fill, and the values of its specialization constants (NULL: the
   shader's own defaults). */
typedef struct rd_vk_shader {
    rd_vk_pipeline *pipeline;
    const uint32_t *spirv;
    size_t bytes;
    const char *name;
    const VkSpecializationInfo *specialization;
} rd_vk_shader;
rd_result rd_vk_pipeline_create(rd_context *ctx, const rd_vk_shader *shader);
void rd_vk_pipeline_destroy(rd_vk_state *vk, rd_vk_pipeline *p);
/* Several at once; stops at the first failure. */
rd_result rd_vk_pipelines_create(rd_context *ctx, const rd_vk_shader *shaders, size_t count);
/* Push-constant block size of a SPIR-V module (0 when it has none); -1 when the module
   uses descriptor sets, which this backend does not bind. */
int rd_vk_reflect_push_bytes(const uint32_t *spirv, size_t words);

/* Recording. Dispatches of more than 65535 groups are split over y; shaders compute
   their linear group index as gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x. */
void rd_vk_dispatch(VkCommandBuffer cmd, const rd_vk_pipeline *p, const void *push, uint64_t groups);
void rd_vk_dispatch_indirect(VkCommandBuffer cmd, const rd_vk_pipeline *p, const void *push, const rd_vk_buffer *args,
                             VkDeviceSize offset);
/* Every earlier compute or transfer write is visible to every later read, write, or
   indirect dispatch. */
void rd_vk_barrier(VkCommandBuffer cmd);
/* Starts recording the context's command buffer; submit waits for it to finish. */
rd_result rd_vk_begin(rd_context *ctx, VkCommandBuffer *cmd);
rd_result rd_vk_submit_wait(rd_context *ctx, const char *step);

/* A command buffer of a module's own that is recorded once and submitted again while what
   it was recorded for stands (a frame whose buffers, sizes and arguments are those of the
   last one): recording a frame cost the host 40-50 us of each biker frame on an H100,
   before the GPU could start. The module compares its key (a zeroed struct of what its
   recording reads; the buffers' generation is added here) with rd_vk_reusable_matches;
   where it differs, rd_vk_reusable_begin records anew and rd_vk_reusable_end keeps the key. */
typedef struct rd_vk_reusable {
    VkCommandBuffer cmd;
    bool recorded;
    uint64_t generation;
    unsigned char key[256];
} rd_vk_reusable;
bool rd_vk_reusable_matches(rd_context *ctx, const rd_vk_reusable *c, const void *key, size_t bytes);
rd_result rd_vk_reusable_begin(rd_context *ctx, rd_vk_reusable *c, VkCommandBuffer *cmd);
rd_result rd_vk_reusable_end(rd_context *ctx, rd_vk_reusable *c, const void *key, size_t bytes);
/* Submits c's commands and waits, as rd_vk_submit_wait. */
rd_result rd_vk_reusable_submit_wait(rd_context *ctx, rd_vk_reusable *c, const char *step);
void rd_vk_reusable_free(rd_context *ctx, rd_vk_reusable *c);

/* Stage timers (vk_timers.c). A module claims a run of the context's timestamp slots for
   its named stages once (its frame state keeps them; they last as long as the context),
   marks the start (mark 0) and each stage's end (mark s + 1) while recording, and reads
   them into its stats after the frame. */
enum { RD_VK_TIMESTAMP_SLOTS = 64 }; /* the context's query pool */
typedef struct rd_vk_timers {
    uint32_t first;           /* the run's first slot in the query pool */
    int stages;               /* the run has stages + 1 slots */
    const char *const *names; /* the stages', static strings */
} rd_vk_timers;
rd_result rd_vk_timers_create(rd_context *ctx, const char *const *names, int stages, rd_vk_timers *out);
/* Mark 0 resets the run's slots first: record it before the others, outside a render pass. */
void rd_vk_timers_mark(rd_context *ctx, VkCommandBuffer cmd, const rd_vk_timers *t, int mark);
/* After the frame's submission has finished: the stages' milliseconds and their total. */
rd_result rd_vk_timers_read(rd_context *ctx, const rd_vk_timers *t, rd_render_stats *stats);

/* Groups of one indirect dispatch: VkDispatchIndirectCommand. */
typedef struct rd_vk_dispatch_args {
    uint32_t x, y, z;
} rd_vk_dispatch_args;

#ifdef __cplusplus
}
#endif
#endif
