/* radiant_vulkan.h: a Vulkan context's device in the caller's own Vulkan code. The viewer
   uses it to present frames that the renderer left on the device; any program that draws
   with Vulkan can do the same. Needs <vulkan/vulkan.h> (included here).

   Device memory on the Vulkan backend
   - rd_buffer_alloc on a Vulkan context returns a buffer device address (VkDeviceAddress)
     cast to a pointer, with RD_MEMORY_DEVICE; rd_render writes an RD_MEMORY_DEVICE
     rd_framebuffer's outputs straight to such addresses, and shaders read them through
     GL_EXT_buffer_reference.
   - rd_render on Vulkan returns once the frame is complete on the device, so the caller
     may use the outputs in its next submission on the context's queue without a semaphore.
   - The queue is the context's: submit to it only from the thread that renders.

   Presenting
   Put an rd_vulkan_window_desc in rd_context_desc.vulkan_window: the context's instance
   then enables the window system's extensions, calls create_surface, and picks a device
   whose compute queue can present to that surface, with VK_KHR_swapchain enabled. The
   context owns the surface from then on and destroys it with itself. */
#ifndef RADIANT_VULKAN_H
#define RADIANT_VULKAN_H

#include "radiant.h"

#include <stdbool.h>
#include <vulkan/vulkan.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rd_vulkan_window_desc {
    const char *const *instance_extensions; /* what the window system needs (glfwGetRequiredInstanceExtensions) */
    uint32_t instance_extension_count;
    /* Called once the instance exists; creates the surface the device must present to. */
    VkResult (*create_surface)(VkInstance instance, void *user, VkSurfaceKHR *surface);
    void *user;
} rd_vulkan_window_desc;

/* The handles of a Vulkan context (RD_ERROR_INVALID_ARGUMENT on other backends). */
typedef struct rd_vulkan_device {
    VkInstance instance;
    VkPhysicalDevice physical;
    VkDevice device;
    VkQueue queue;          /* compute (and present, with a window) */
    uint32_t queue_family;
    VkSurfaceKHR surface;   /* VK_NULL_HANDLE without a window */
    uint32_t subgroup_size;
    const char *name;       /* the device's name */
} rd_vulkan_device;
rd_result rd_vulkan_get_device(rd_context *ctx, rd_vulkan_device *out);

/* A buffer on the context's device with a device address: device-local, or host-visible
   and mapped (host = true) for data the host writes or reads every frame. */
typedef struct rd_vulkan_buffer {
    VkBuffer buffer;
    VkDeviceMemory memory;
    VkDeviceAddress address;
    void *mapped;        /* host-visible buffers only */
    VkDeviceSize bytes;
    bool host;           /* set before creating: host-visible */
} rd_vulkan_buffer;
/* Makes buf hold at least bytes (growing discards the contents); buf starts zeroed, with
   .host chosen. Waits for the queue before replacing a buffer the device may still read. */
rd_result rd_vulkan_buffer_reserve(rd_context *ctx, rd_vulkan_buffer *buf, size_t bytes);
void rd_vulkan_buffer_release(rd_context *ctx, rd_vulkan_buffer *buf);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_VULKAN_H */
