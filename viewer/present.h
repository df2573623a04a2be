/* present.h: the viewer's path from the renderer's output to the window: a compute pass
   (shaders/present.comp) writes the frame, as RGB, depth or alpha with the overlay on
   top, into a storage image, which is blitted to the swapchain image and presented. The
   device is the rendering context's (radiant_vulkan.h), so nothing goes through the host
   except the overlay's few kilobytes. */
#ifndef VW_PRESENT_H
#define VW_PRESENT_H

#include "overlay.h"
#include "radiant_vulkan.h"

/* the feature modes reach the present pass as RGB (feature_modes.h colours them on the host) */
enum { VW_MODE_RGB, VW_MODE_DEPTH, VW_MODE_ALPHA, VW_MODE_FEATURES, VW_MODE_RELEVANCY, VW_MODES };
enum { VW_MAX_IMAGES = 8 };

/* What one frame shows. */
typedef struct vw_frame_desc {
    VkDeviceAddress color;       /* float RGBA, source_width x source_height; 0: black */
    VkDeviceAddress depth;       /* float, for VW_MODE_DEPTH */
    int source_width, source_height;
    int mode;                    /* VW_MODE_* */
    float depth_range[2];        /* near, far shown in VW_MODE_DEPTH */
    const vw_overlay *overlay;   /* NULL or empty: none */
    int overlay_scale;           /* 0: 1 */
    bool capture;                /* keep this frame for vw_present_capture */
    bool capture_overlay;        /* with the overlay (else the overlay is left out of this frame) */
} vw_frame_desc;

typedef struct vw_present {
    rd_context *ctx;             /* the Vulkan context whose device and surface present */
    rd_vulkan_device dev;
    VkSwapchainKHR swapchain;
    VkSurfaceFormatKHR format;
    VkExtent2D extent;
    bool vsync;                  /* of the current swapchain */
    uint32_t image_count;
    VkImage images[VW_MAX_IMAGES];
    VkSemaphore acquired, rendered[VW_MAX_IMAGES];
    VkImage target;              /* the storage image, extent-sized, RGBA8 */
    VkDeviceMemory target_memory;
    VkImageView target_view;
    VkDescriptorSetLayout set_layout;
    VkDescriptorPool descriptor_pool;
    VkDescriptorSet set;
    VkPipelineLayout layout;
    VkPipeline pipeline;
    VkCommandPool command_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    rd_vulkan_buffer overlay;    /* host-visible copy of the overlay mask */
    rd_vulkan_buffer capture;    /* host-visible RGBA8 copy of the last captured frame */
    int capture_width, capture_height;
    char error[512];
} vw_present;

/* Sets up the pipeline on ctx's device (ctx made with rd_context_desc.vulkan_window). */
bool vw_present_create(vw_present *p, rd_context *ctx);
/* Draws and presents one frame at width x height (the window's framebuffer): recreates the
   swapchain when the size or vsync changed or the old one went out of date. Returns 1 when
   presented, 0 when skipped (minimised, out of date: try again), -1 on failure (p->error). */
int vw_present_frame(vw_present *p, const vw_frame_desc *frame, int width, int height, bool vsync);
/* The last captured frame as an RGB image (rd_image_free it). */
bool vw_present_capture(vw_present *p, rd_image *out);
void vw_present_destroy(vw_present *p);

#endif
