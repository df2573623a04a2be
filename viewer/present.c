/* present.c: swapchain, storage image, the present pass and the blit to the window. One
   frame in flight: each frame waits for the previous one's fence, which also makes the
   renderer's next frame safe to record. */
#include "present.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint32_t present_spv[] = {
#include "present.comp.inc"
};

/* present.comp's push constants, field for field. */
typedef struct present_push {
    VkDeviceAddress color, depth, overlay;
    uint32_t source_size[2], target_size[2], overlay_size[2];
    uint32_t mode, overlay_scale;
    float depth_range[2], pad[2];
} present_push;

static bool fail(vw_present *p, VkResult r, const char *step)
{
    snprintf(p->error, sizeof p->error, "vulkan: %s failed (VkResult %d)", step, (int)r);
    return false;
}

/* fail() for the functions that answer 1 / 0 / -1 */
static int failed(vw_present *p, VkResult r, const char *step)
{
    fail(p, r, step);
    return -1;
}

static bool create_pipeline(vw_present *p)
{
    VkDevice d = p->dev.device;
    /* the one binding present.comp declares: set 0, binding 0, a storage image */
    VkDescriptorSetLayoutBinding binding = {.binding = 0, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_IMAGE,
                                            .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo set_info = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                                .bindingCount = 1, .pBindings = &binding};
    VkResult r = vkCreateDescriptorSetLayout(d, &set_info, NULL, &p->set_layout);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateDescriptorSetLayout");
    VkPushConstantRange range = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = sizeof(present_push)};
    VkPipelineLayoutCreateInfo layout = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1,
                                         .pSetLayouts = &p->set_layout, .pushConstantRangeCount = 1,
                                         .pPushConstantRanges = &range};
    r = vkCreatePipelineLayout(d, &layout, NULL, &p->layout);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreatePipelineLayout");
    VkShaderModuleCreateInfo module_info = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                            .codeSize = sizeof present_spv, .pCode = present_spv};
    VkShaderModule module;
    r = vkCreateShaderModule(d, &module_info, NULL, &module);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateShaderModule");
    VkComputePipelineCreateInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO, .layout = p->layout,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = module, .pName = "main"}};
    r = vkCreateComputePipelines(d, VK_NULL_HANDLE, 1, &info, NULL, &p->pipeline);
    vkDestroyShaderModule(d, module, NULL);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateComputePipelines");
    VkDescriptorPoolSize size = {.type = VK_DESCRIPTOR_TYPE_STORAGE_IMAGE, .descriptorCount = 1};
    VkDescriptorPoolCreateInfo pool = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 1,
                                       .poolSizeCount = 1, .pPoolSizes = &size};
    r = vkCreateDescriptorPool(d, &pool, NULL, &p->descriptor_pool);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateDescriptorPool");
    VkDescriptorSetAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                         .descriptorPool = p->descriptor_pool, .descriptorSetCount = 1,
                                         .pSetLayouts = &p->set_layout};
    r = vkAllocateDescriptorSets(d, &alloc, &p->set);
    return r == VK_SUCCESS || fail(p, r, "vkAllocateDescriptorSets");
}

bool vw_present_create(vw_present *p, rd_context *ctx)
{
    memset(p, 0, sizeof *p);
    p->ctx = ctx;
    p->overlay.host = p->capture.host = true;
    if (rd_vulkan_get_device(ctx, &p->dev) != RD_OK || !p->dev.surface) {
        snprintf(p->error, sizeof p->error, "the presenting context has no Vulkan window surface");
        return false;
    }
    VkDevice d = p->dev.device;
    VkCommandPoolCreateInfo pool = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                    .queueFamilyIndex = p->dev.queue_family};
    VkResult r = vkCreateCommandPool(d, &pool, NULL, &p->command_pool);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateCommandPool");
    VkCommandBufferAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                         .commandPool = p->command_pool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                         .commandBufferCount = 1};
    r = vkAllocateCommandBuffers(d, &alloc, &p->cmd);
    if (r != VK_SUCCESS) return fail(p, r, "vkAllocateCommandBuffers");
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO, .flags = VK_FENCE_CREATE_SIGNALED_BIT};
    r = vkCreateFence(d, &fence, NULL, &p->fence);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateFence");
    VkSemaphoreCreateInfo sem = {.sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO};
    r = vkCreateSemaphore(d, &sem, NULL, &p->acquired);
    for (int i = 0; i < VW_MAX_IMAGES && r == VK_SUCCESS; i++) r = vkCreateSemaphore(d, &sem, NULL, &p->rendered[i]);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateSemaphore");
    return create_pipeline(p);
}

static void destroy_target(vw_present *p)
{
    VkDevice d = p->dev.device;
    if (p->target_view) vkDestroyImageView(d, p->target_view, NULL);
    if (p->target) vkDestroyImage(d, p->target, NULL);
    if (p->target_memory) vkFreeMemory(d, p->target_memory, NULL);
    p->target_view = VK_NULL_HANDLE, p->target = VK_NULL_HANDLE, p->target_memory = VK_NULL_HANDLE;
}

static bool create_target(vw_present *p)
{
    VkDevice d = p->dev.device;
    VkImageCreateInfo info = {.sType = VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO, .imageType = VK_IMAGE_TYPE_2D,
                              .format = VK_FORMAT_R8G8B8A8_UNORM, .extent = {p->extent.width, p->extent.height, 1},
                              .mipLevels = 1, .arrayLayers = 1, .samples = VK_SAMPLE_COUNT_1_BIT,
                              .tiling = VK_IMAGE_TILING_OPTIMAL,
                              .usage = VK_IMAGE_USAGE_STORAGE_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT,
                              .initialLayout = VK_IMAGE_LAYOUT_UNDEFINED};
    VkResult r = vkCreateImage(d, &info, NULL, &p->target);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateImage (storage image)");
    VkMemoryRequirements req;
    vkGetImageMemoryRequirements(d, p->target, &req);
    VkPhysicalDeviceMemoryProperties mem;
    vkGetPhysicalDeviceMemoryProperties(p->dev.physical, &mem);
    uint32_t type = UINT32_MAX;
    for (uint32_t i = 0; i < mem.memoryTypeCount && type == UINT32_MAX; i++)
        if ((req.memoryTypeBits & (1u << i)) && (mem.memoryTypes[i].propertyFlags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT)) type = i;
    if (type == UINT32_MAX) return fail(p, VK_ERROR_FEATURE_NOT_PRESENT, "device-local memory for the storage image");
    VkMemoryAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
                                  .memoryTypeIndex = type};
    r = vkAllocateMemory(d, &alloc, NULL, &p->target_memory);
    if (r == VK_SUCCESS) r = vkBindImageMemory(d, p->target, p->target_memory, 0);
    if (r != VK_SUCCESS) return fail(p, r, "storage image memory");
    VkImageViewCreateInfo view = {.sType = VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO, .image = p->target,
                                  .viewType = VK_IMAGE_VIEW_TYPE_2D, .format = info.format,
                                  .subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    r = vkCreateImageView(d, &view, NULL, &p->target_view);
    if (r != VK_SUCCESS) return fail(p, r, "vkCreateImageView");
    VkDescriptorImageInfo image = {.imageView = p->target_view, .imageLayout = VK_IMAGE_LAYOUT_GENERAL};
    VkWriteDescriptorSet write = {.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = p->set, .dstBinding = 0,
                                  .descriptorCount = 1, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_IMAGE,
                                  .pImageInfo = &image};
    vkUpdateDescriptorSets(d, 1, &write, 0, NULL);
    return true;
}

/* A UNORM format, so that the blit copies values instead of encoding them as sRGB: the
   renderer's colours are already display values, as in the PNGs `radiant render` writes. */
static VkSurfaceFormatKHR choose_format(vw_present *p)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceSurfaceFormatsKHR(p->dev.physical, p->dev.surface, &n, NULL);
    VkSurfaceFormatKHR formats[64];
    if (n > 64) n = 64;
    vkGetPhysicalDeviceSurfaceFormatsKHR(p->dev.physical, p->dev.surface, &n, formats);
    for (uint32_t i = 0; i < n; i++)
        if (formats[i].format == VK_FORMAT_B8G8R8A8_UNORM || formats[i].format == VK_FORMAT_R8G8B8A8_UNORM) return formats[i];
    return n ? formats[0] : (VkSurfaceFormatKHR){VK_FORMAT_B8G8R8A8_UNORM, VK_COLOR_SPACE_SRGB_NONLINEAR_KHR};
}

/* FIFO waits for vertical blank; without vsync, MAILBOX or IMMEDIATE where offered. */
static VkPresentModeKHR choose_mode(vw_present *p, bool vsync)
{
    if (vsync) return VK_PRESENT_MODE_FIFO_KHR;
    uint32_t n = 0;
    vkGetPhysicalDeviceSurfacePresentModesKHR(p->dev.physical, p->dev.surface, &n, NULL);
    VkPresentModeKHR modes[16];
    if (n > 16) n = 16;
    vkGetPhysicalDeviceSurfacePresentModesKHR(p->dev.physical, p->dev.surface, &n, modes);
    VkPresentModeKHR best = VK_PRESENT_MODE_FIFO_KHR;
    for (uint32_t i = 0; i < n; i++) {
        if (modes[i] == VK_PRESENT_MODE_IMMEDIATE_KHR) return modes[i];
        if (modes[i] == VK_PRESENT_MODE_MAILBOX_KHR) best = modes[i];
    }
    return best;
}

/* 1: ready, 0: the window has no area (minimised), -1: failure. */
static int create_swapchain(vw_present *p, int width, int height, bool vsync)
{
    VkDevice d = p->dev.device;
    vkDeviceWaitIdle(d);
    VkSurfaceCapabilitiesKHR caps;
    VkResult r = vkGetPhysicalDeviceSurfaceCapabilitiesKHR(p->dev.physical, p->dev.surface, &caps);
    if (r != VK_SUCCESS) return failed(p, r, "vkGetPhysicalDeviceSurfaceCapabilitiesKHR");
    VkExtent2D extent = caps.currentExtent;
    if (extent.width == UINT32_MAX) {
        extent.width = (uint32_t)width, extent.height = (uint32_t)height;
        if (extent.width < caps.minImageExtent.width) extent.width = caps.minImageExtent.width;
        if (extent.height < caps.minImageExtent.height) extent.height = caps.minImageExtent.height;
        if (extent.width > caps.maxImageExtent.width) extent.width = caps.maxImageExtent.width;
        if (extent.height > caps.maxImageExtent.height) extent.height = caps.maxImageExtent.height;
    }
    if (extent.width == 0 || extent.height == 0) return 0;
    if (!(caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_DST_BIT)) {
        snprintf(p->error, sizeof p->error, "vulkan: the window's swapchain images cannot be blitted to");
        return -1;
    }
    p->format = choose_format(p);
    uint32_t count = caps.minImageCount + 1;
    if (caps.maxImageCount && count > caps.maxImageCount) count = caps.maxImageCount;
    VkSwapchainKHR old = p->swapchain;
    VkSwapchainCreateInfoKHR info = {
        .sType = VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR, .surface = p->dev.surface, .minImageCount = count,
        .imageFormat = p->format.format, .imageColorSpace = p->format.colorSpace, .imageExtent = extent,
        .imageArrayLayers = 1, .imageUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT,
        .imageSharingMode = VK_SHARING_MODE_EXCLUSIVE, .preTransform = caps.currentTransform,
        .compositeAlpha = VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR, .presentMode = choose_mode(p, vsync), .clipped = VK_TRUE,
        .oldSwapchain = old};
    if (!(caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR))
        info.compositeAlpha = (VkCompositeAlphaFlagBitsKHR)(caps.supportedCompositeAlpha & -caps.supportedCompositeAlpha);
    r = vkCreateSwapchainKHR(d, &info, NULL, &p->swapchain);
    if (old) vkDestroySwapchainKHR(d, old, NULL);
    if (r != VK_SUCCESS) {
        p->swapchain = VK_NULL_HANDLE;
        return failed(p, r, "vkCreateSwapchainKHR");
    }
    p->image_count = VW_MAX_IMAGES;
    r = vkGetSwapchainImagesKHR(d, p->swapchain, &p->image_count, p->images);
    if (r != VK_SUCCESS && r != VK_INCOMPLETE) return failed(p, r, "vkGetSwapchainImagesKHR");
    p->extent = extent;
    p->vsync = vsync;
    destroy_target(p);
    return create_target(p) ? 1 : -1;
}

static void image_barrier(VkCommandBuffer cmd, VkImage image, VkImageLayout from, VkImageLayout to, VkAccessFlags src_access,
                          VkAccessFlags dst_access, VkPipelineStageFlags src_stage, VkPipelineStageFlags dst_stage)
{
    VkImageMemoryBarrier b = {.sType = VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER, .srcAccessMask = src_access,
                              .dstAccessMask = dst_access, .oldLayout = from, .newLayout = to,
                              .srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED, .dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED,
                              .image = image, .subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1}};
    vkCmdPipelineBarrier(cmd, src_stage, dst_stage, 0, 0, NULL, 0, NULL, 1, &b);
}

static bool upload_overlay(vw_present *p, const vw_frame_desc *f, present_push *push)
{
    const vw_overlay *o = f->overlay;
    if (!o || o->width == 0 || (f->capture && !f->capture_overlay)) return true;
    size_t bytes = (size_t)o->width * o->height * sizeof(uint32_t);
    if (rd_vulkan_buffer_reserve(p->ctx, &p->overlay, bytes) != RD_OK) {
        snprintf(p->error, sizeof p->error, "overlay: %s", rd_last_error(p->ctx));
        return false;
    }
    memcpy(p->overlay.mapped, o->mask, bytes);
    push->overlay = p->overlay.address;
    push->overlay_size[0] = (uint32_t)o->width, push->overlay_size[1] = (uint32_t)o->height;
    push->overlay_scale = f->overlay_scale > 0 ? (uint32_t)f->overlay_scale : 1;
    return true;
}

static void record(vw_present *p, const vw_frame_desc *f, const present_push *push, uint32_t index)
{
    VkCommandBuffer cmd = p->cmd;
    VkImage image = p->images[index];
    /* the renderer's writes (its last barrier covers later submissions) and host writes are visible here */
    image_barrier(cmd, p->target, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_GENERAL, 0, VK_ACCESS_SHADER_WRITE_BIT,
                  VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT);
    vkCmdBindPipeline(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->pipeline);
    vkCmdBindDescriptorSets(cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p->layout, 0, 1, &p->set, 0, NULL);
    vkCmdPushConstants(cmd, p->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof *push, push);
    vkCmdDispatch(cmd, (p->extent.width + 15) / 16, (p->extent.height + 15) / 16, 1);
    image_barrier(cmd, p->target, VK_IMAGE_LAYOUT_GENERAL, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, VK_ACCESS_SHADER_WRITE_BIT,
                  VK_ACCESS_TRANSFER_READ_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    image_barrier(cmd, image, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 0, VK_ACCESS_TRANSFER_WRITE_BIT,
                  VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT);
    VkOffset3D end = {(int32_t)p->extent.width, (int32_t)p->extent.height, 1};
    VkImageBlit blit = {.srcSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1}, .srcOffsets = {{0, 0, 0}, end},
                        .dstSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1}, .dstOffsets = {{0, 0, 0}, end}};
    vkCmdBlitImage(cmd, p->target, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &blit,
                   VK_FILTER_NEAREST);
    if (f->capture) {
        VkBufferImageCopy copy = {.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1},
                                  .imageExtent = {p->extent.width, p->extent.height, 1}};
        vkCmdCopyImageToBuffer(cmd, p->target, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, p->capture.buffer, 1, &copy);
        VkMemoryBarrier to_host = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER, .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                                   .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
        vkCmdPipelineBarrier(cmd, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
    }
    image_barrier(cmd, image, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR, VK_ACCESS_TRANSFER_WRITE_BIT,
                  0, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT);
}

int vw_present_frame(vw_present *p, const vw_frame_desc *f, int width, int height, bool vsync)
{
    VkDevice d = p->dev.device;
    if (width <= 0 || height <= 0) return 0;
    if (!p->swapchain || vsync != p->vsync || (uint32_t)width != p->extent.width || (uint32_t)height != p->extent.height) {
        int ready = create_swapchain(p, width, height, vsync);
        if (ready <= 0) return ready;
    }
    present_push push = {.color = f->color, .depth = f->depth,
                         .source_size = {(uint32_t)f->source_width, (uint32_t)f->source_height},
                         .target_size = {p->extent.width, p->extent.height}, .mode = (uint32_t)f->mode,
                         .overlay_scale = 1, .depth_range = {f->depth_range[0], f->depth_range[1]}};
    if (!f->color || f->source_width <= 0 || f->source_height <= 0) {
        /* nothing rendered yet: the overlay on black */
        push.color = 0, push.source_size[0] = push.source_size[1] = 1;
    }
    if (!upload_overlay(p, f, &push)) return -1;
    if (f->capture) {
        if (rd_vulkan_buffer_reserve(p->ctx, &p->capture, (size_t)p->extent.width * p->extent.height * 4) != RD_OK) {
            snprintf(p->error, sizeof p->error, "screenshot: %s", rd_last_error(p->ctx));
            return -1;
        }
        p->capture_width = (int)p->extent.width, p->capture_height = (int)p->extent.height;
    }
    VkResult r = vkWaitForFences(d, 1, &p->fence, VK_TRUE, UINT64_MAX);
    if (r != VK_SUCCESS) return failed(p, r, "vkWaitForFences");
    uint32_t index = 0;
    r = vkAcquireNextImageKHR(d, p->swapchain, UINT64_MAX, p->acquired, VK_NULL_HANDLE, &index);
    if (r == VK_ERROR_OUT_OF_DATE_KHR) {
        p->extent.width = 0; /* recreate next time */
        return 0;
    }
    if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) return failed(p, r, "vkAcquireNextImageKHR");
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                      .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    vkResetCommandBuffer(p->cmd, 0);
    vkBeginCommandBuffer(p->cmd, &begin);
    record(p, f, &push, index);
    r = vkEndCommandBuffer(p->cmd);
    if (r != VK_SUCCESS) return failed(p, r, "vkEndCommandBuffer");
    VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
    VkSubmitInfo submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .waitSemaphoreCount = 1, .pWaitSemaphores = &p->acquired,
                           .pWaitDstStageMask = &wait_stage, .commandBufferCount = 1, .pCommandBuffers = &p->cmd,
                           .signalSemaphoreCount = 1, .pSignalSemaphores = &p->rendered[index]};
    vkResetFences(d, 1, &p->fence);
    r = vkQueueSubmit(p->dev.queue, 1, &submit, p->fence);
    if (r != VK_SUCCESS) return failed(p, r, "vkQueueSubmit (present)");
    VkPresentInfoKHR present = {.sType = VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, .waitSemaphoreCount = 1,
                                .pWaitSemaphores = &p->rendered[index], .swapchainCount = 1, .pSwapchains = &p->swapchain,
                                .pImageIndices = &index};
    r = vkQueuePresentKHR(p->dev.queue, &present);
    if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) p->extent.width = 0;
    else if (r != VK_SUCCESS) return failed(p, r, "vkQueuePresentKHR");
    /* the renderer reuses its buffers in the next frame: finish this one first */
    r = vkWaitForFences(d, 1, &p->fence, VK_TRUE, UINT64_MAX);
    return r == VK_SUCCESS ? 1 : failed(p, r, "vkWaitForFences");
}

bool vw_present_capture(vw_present *p, rd_image *out)
{
    if (!p->capture_width || rd_image_alloc(p->capture_width, p->capture_height, 3, out) != RD_OK) return false;
    const uint8_t *rgba = p->capture.mapped;
    for (size_t i = 0; i < (size_t)p->capture_width * p->capture_height; i++)
        for (int c = 0; c < 3; c++) out->pixels[3 * i + c] = rgba[4 * i + c] / 255.0f;
    return true;
}

void vw_present_destroy(vw_present *p)
{
    VkDevice d = p->dev.device;
    if (!d) return;
    vkDeviceWaitIdle(d);
    destroy_target(p);
    if (p->swapchain) vkDestroySwapchainKHR(d, p->swapchain, NULL);
    if (p->pipeline) vkDestroyPipeline(d, p->pipeline, NULL);
    if (p->layout) vkDestroyPipelineLayout(d, p->layout, NULL);
    if (p->descriptor_pool) vkDestroyDescriptorPool(d, p->descriptor_pool, NULL);
    if (p->set_layout) vkDestroyDescriptorSetLayout(d, p->set_layout, NULL);
    if (p->acquired) vkDestroySemaphore(d, p->acquired, NULL);
    for (int i = 0; i < VW_MAX_IMAGES; i++)
        if (p->rendered[i]) vkDestroySemaphore(d, p->rendered[i], NULL);
    if (p->fence) vkDestroyFence(d, p->fence, NULL);
    if (p->command_pool) vkDestroyCommandPool(d, p->command_pool, NULL);
    rd_vulkan_buffer_release(p->ctx, &p->overlay);
    rd_vulkan_buffer_release(p->ctx, &p->capture);
    memset(p, 0, sizeof *p);
}
