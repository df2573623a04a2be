/* vk_backend.c: instance, device choice, queue, growable buffers, staging copies, and
   VkResult translation for the Vulkan backend. Validation layers are enabled when
   RADIANT_VK_VALIDATION=1; their messages go to the log (errors at RD_LOG_ERROR). */
#include "vk_backend.h"
#include "vk_sort.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FENCE_TIMEOUT_NS 600000000000ull /* ten minutes: a big frame on lavapipe is slow, a hang is not */
#define FENCE_SPIN_DEFAULT_US 10000 /* rd_tuning.vk_fence_spin_us on a GPU: a 6M frame (2.7 ms) is seen polled */

static const char *vk_result_name(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_TIMEOUT: return "VK_TIMEOUT (the device did not finish in time)";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST (create a new context)";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER (no Vulkan driver)";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    default: return "VkResult error";
    }
}

rd_result rd_vk_check(rd_context *ctx, VkResult result, const char *step)
{
    if (result == VK_SUCCESS) return RD_OK;
    rd_result code = RD_ERROR_DEVICE;
    if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY) code = RD_ERROR_OUT_OF_MEMORY;
    return rd_fail(ctx, code, "vulkan: %s: %s (%d)", step, vk_result_name(result), (int)result);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_validation(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                    VkDebugUtilsMessageTypeFlagsEXT types,
                                                    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
    (void)types;
    rd_vk_state *vk = user;
    bool error = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    rd_log(vk->ctx, error ? RD_LOG_ERROR : RD_LOG_WARN, "vulkan validation: %s", data->pMessage);
    return VK_FALSE;
}

static bool layer_present(const char *name)
{
    uint32_t n = 0;
    vkEnumerateInstanceLayerProperties(&n, NULL);
    VkLayerProperties *layers = calloc(n ? n : 1, sizeof *layers);
    bool found = false;
    if (layers && vkEnumerateInstanceLayerProperties(&n, layers) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(layers[i].layerName, name) == 0;
    free(layers);
    return found;
}

static rd_result create_instance(rd_context *ctx, rd_vk_state *vk, const rd_vulkan_window_desc *window)
{
    const char *want = getenv("RADIANT_VK_VALIDATION");
    bool validation = want && strcmp(want, "1") == 0;
    const char *layer = "VK_LAYER_KHRONOS_validation";
    if (validation && !layer_present(layer)) {
        rd_log(ctx, RD_LOG_WARN, "vulkan: RADIANT_VK_VALIDATION=1 but %s is not installed (vulkan-validationlayers)", layer);
        validation = false;
    }
    const char *extensions[32];
    uint32_t count = 0;
    if (validation) extensions[count++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    if (window && window->instance_extension_count > 31)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "vulkan_window: %u instance extensions, at most 31 are taken",
                       window->instance_extension_count);
    for (uint32_t i = 0; window && i < window->instance_extension_count; i++)
        extensions[count++] = window->instance_extensions[i];
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "radiant",
                             .pEngineName = "radiant", .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app,
                                 .enabledLayerCount = validation, .ppEnabledLayerNames = &layer,
                                 .enabledExtensionCount = count, .ppEnabledExtensionNames = extensions};
    VkResult res = vkCreateInstance(&info, NULL, &vk->instance);
    if (res != VK_SUCCESS)
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "backend vulkan: no Vulkan instance (%s); is a Vulkan driver installed?",
                       vk_result_name(res));
    if (validation) {
        PFN_vkCreateDebugUtilsMessengerEXT create =
            (PFN_vkCreateDebugUtilsMessengerEXT)vkGetInstanceProcAddr(vk->instance, "vkCreateDebugUtilsMessengerEXT");
        VkDebugUtilsMessengerCreateInfoEXT m = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_validation, .pUserData = vk};
        if (create) create(vk->instance, &m, NULL, &vk->messenger);
        rd_log(ctx, RD_LOG_INFO, "vulkan: validation layers on");
    }
    if (window) {
        if (!window->create_surface) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "vulkan_window: create_surface is required");
        rd_result r = rd_vk_check(ctx, window->create_surface(vk->instance, window->user, &vk->surface), "window surface");
        if (r != RD_OK) return r;
    }
    return RD_OK;
}

static bool has_extension(VkPhysicalDevice dev, const char *name)
{
    uint32_t n = 0;
    vkEnumerateDeviceExtensionProperties(dev, NULL, &n, NULL);
    VkExtensionProperties *ext = calloc(n ? n : 1, sizeof *ext);
    bool found = false;
    if (ext && vkEnumerateDeviceExtensionProperties(dev, NULL, &n, ext) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = strcmp(ext[i].extensionName, name) == 0;
    free(ext);
    return found;
}

/* Why dev cannot run the renderer (and present to surface, when there is one), or NULL
   when it can. */
static const char *unsuitable(VkPhysicalDevice dev, VkSurfaceKHR surface, uint32_t *family)
{
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(dev, &props);
    if (props.apiVersion < VK_API_VERSION_1_2) return "Vulkan 1.2 is required";
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES};
    VkPhysicalDeviceFeatures2 f = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12};
    vkGetPhysicalDeviceFeatures2(dev, &f);
    if (!f12.bufferDeviceAddress) return "bufferDeviceAddress is required";
    if (!f.features.shaderInt64) return "shaderInt64 is required";
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    vkGetPhysicalDeviceProperties2(dev, &p2);
    VkSubgroupFeatureFlags ops = VK_SUBGROUP_FEATURE_BASIC_BIT | VK_SUBGROUP_FEATURE_BALLOT_BIT | VK_SUBGROUP_FEATURE_ARITHMETIC_BIT |
                                 VK_SUBGROUP_FEATURE_VOTE_BIT;
    if (!(sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) || (sub.supportedOperations & ops) != ops)
        return "subgroup basic, vote, ballot and arithmetic operations in compute shaders are required";
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, NULL);
    VkQueueFamilyProperties *q = calloc(n ? n : 1, sizeof *q);
    if (!q) return "out of memory";
    vkGetPhysicalDeviceQueueFamilyProperties(dev, &n, q);
    uint32_t found = UINT32_MAX;
    for (uint32_t i = 0; i < n && found == UINT32_MAX; i++) {
        VkBool32 present = VK_TRUE;
        if (surface) vkGetPhysicalDeviceSurfaceSupportKHR(dev, i, surface, &present);
        if ((q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) && q[i].timestampValidBits >= 32 && present) found = i;
    }
    free(q);
    if (found == UINT32_MAX) return surface ? "no compute queue with timestamps that can present to the window"
                                            : "no compute queue with timestamps";
    if (surface && !has_extension(dev, VK_KHR_SWAPCHAIN_EXTENSION_NAME)) return "VK_KHR_swapchain is required to present";
    *family = found;
    return NULL;
}

static rd_result choose_device(rd_context *ctx, rd_vk_state *vk, int device_index, bool hardware_only)
{
    uint32_t n = 0;
    vkEnumeratePhysicalDevices(vk->instance, &n, NULL);
    if (n == 0) return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "backend vulkan: no Vulkan device present");
    VkPhysicalDevice *devs = calloc(n, sizeof *devs);
    if (!devs) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "backend vulkan: out of memory");
    vkEnumeratePhysicalDevices(vk->instance, &n, devs);
    char why[512] = "";
    int usable = 0;
    for (uint32_t i = 0; i < n && !vk->physical; i++) {
        VkPhysicalDeviceProperties props;
        vkGetPhysicalDeviceProperties(devs[i], &props);
        const char *reason = unsuitable(devs[i], vk->surface, &vk->queue_family);
        if (!reason && hardware_only && props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
            reason = "a software device (the CPU backend is faster)";
        if (reason) {
            size_t len = strlen(why);
            snprintf(why + len, sizeof why - len, "%s%s: %s", len ? "; " : "", props.deviceName, reason);
            continue;
        }
        if (usable++ == device_index) {
            vk->physical = devs[i];
            snprintf(vk->name, sizeof vk->name, "%s", props.deviceName);
            vk->cpu_device = props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
            vk->timestamp_ns = props.limits.timestampPeriod;
        }
    }
    free(devs);
    if (!vk->physical)
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "backend vulkan: no usable device %d (%d usable of %u%s%s)",
                       device_index, usable, n, why[0] ? "; " : "", why);
    vkGetPhysicalDeviceMemoryProperties(vk->physical, &vk->memory);
    VkPhysicalDeviceMaintenance4Properties m4 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES};
    bool maintenance4 = has_extension(vk->physical, VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
    VkPhysicalDeviceMaintenance3Properties m3 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
                                                 .pNext = maintenance4 ? &m4 : NULL};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &m3};
    vkGetPhysicalDeviceProperties2(vk->physical, &p2);
    vk->max_allocation = m3.maxMemoryAllocationSize;
    vk->max_buffer = maintenance4 ? m4.maxBufferSize : vk->max_allocation; /* a hard limit, above or below the soft one */
    return RD_OK;
}

static rd_result choose_subgroup_size(rd_context *ctx, rd_vk_state *vk, int requested, bool *size_control)
{
    VkPhysicalDeviceSubgroupSizeControlPropertiesEXT range = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES_EXT};
    VkPhysicalDeviceSubgroupProperties sub = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES, .pNext = &range};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sub};
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT features = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &features};
    *size_control = has_extension(vk->physical, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    if (*size_control) {
        vkGetPhysicalDeviceFeatures2(vk->physical, &f2);
        *size_control = features.subgroupSizeControl && features.computeFullSubgroups;
    }
    vkGetPhysicalDeviceProperties2(vk->physical, &p2);
    bool controllable = *size_control && (range.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT);
    uint32_t lo = controllable ? range.minSubgroupSize : sub.subgroupSize;
    uint32_t hi = controllable ? range.maxSubgroupSize : sub.subgroupSize;
    uint32_t size = requested ? (uint32_t)requested : sub.subgroupSize;
    if (requested && (size < lo || size > hi || (size & (size - 1))))
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "backend vulkan: subgroup size %d is not available on %s (%u..%u%s)",
                       requested, vk->name, lo, hi, controllable ? "" : "; no VK_EXT_subgroup_size_control");
    /* the shaders' per-subgroup tables assume at least 8 lanes and at most 128 (a ballot's uvec4) */
    if (size < 8 || size > 128)
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "backend vulkan: %s: subgroup size %u is outside 8..128", vk->name, size);
    vk->subgroup_size = size;
    /* subgroupPartitionNV (one match where the sort's ranking takes eight ballots) where the
       device has it for compute shaders: vk_sort.c's choose_sort_rank */
    vk->subgroup_partitioned = has_extension(vk->physical, VK_NV_SHADER_SUBGROUP_PARTITIONED_EXTENSION_NAME) &&
                               (sub.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                               (sub.supportedOperations & VK_SUBGROUP_FEATURE_PARTITIONED_BIT_NV);
    /* pin the size whenever the device lets us, so that the shaders' tables fit */
    vk->require_subgroup_size = controllable;
    if (!controllable && lo != hi)
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "backend vulkan: %s: subgroup size varies and cannot be fixed", vk->name);
    return RD_OK;
}

static rd_result create_device(rd_context *ctx, rd_vk_state *vk, bool size_control)
{
    float priority = 1.0f;
    VkDeviceQueueCreateInfo queue = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = vk->queue_family,
                                     .queueCount = 1, .pQueuePriorities = &priority};
    VkPhysicalDeviceSubgroupSizeControlFeaturesEXT sizes = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES_EXT,
        .subgroupSizeControl = VK_TRUE, .computeFullSubgroups = VK_TRUE};
    /* the subgroup clock where the device has it: RADIANT_NERF_VK_PROFILE's timers (render_vk.c) */
    vk->shader_clock = has_extension(vk->physical, VK_KHR_SHADER_CLOCK_EXTENSION_NAME);
    VkPhysicalDeviceShaderClockFeaturesKHR clock = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR,
                                                    .pNext = size_control ? &sizes : NULL, .shaderSubgroupClock = VK_TRUE};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .pNext = vk->shader_clock ? (void *)&clock : (size_control ? (void *)&sizes : NULL),
                                            .bufferDeviceAddress = VK_TRUE, .hostQueryReset = VK_FALSE};
    /* doubles where the device has them: the NeRF march keeps t in double (occupancy.h);
       without them the NeRF renderer says so and the rest works */
    VkPhysicalDeviceFeatures available;
    vkGetPhysicalDeviceFeatures(vk->physical, &available);
    vk->shader_float64 = available.shaderFloat64 == VK_TRUE;
    VkPhysicalDeviceFeatures2 features = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f12,
                                          .features = {.shaderInt64 = VK_TRUE, .shaderFloat64 = available.shaderFloat64}};
    const char *ext[4];
    uint32_t ext_count = 0;
    if (vk->subgroup_partitioned) ext[ext_count++] = VK_NV_SHADER_SUBGROUP_PARTITIONED_EXTENSION_NAME;
    if (size_control) ext[ext_count++] = VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
    if (vk->shader_clock) ext[ext_count++] = VK_KHR_SHADER_CLOCK_EXTENSION_NAME;
    if (vk->surface) ext[ext_count++] = VK_KHR_SWAPCHAIN_EXTENSION_NAME;
    VkDeviceCreateInfo info = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .pNext = &features, .queueCreateInfoCount = 1,
                               .pQueueCreateInfos = &queue, .enabledExtensionCount = ext_count,
                               .ppEnabledExtensionNames = ext};
    rd_result r = rd_vk_check(ctx, vkCreateDevice(vk->physical, &info, NULL, &vk->device), "vkCreateDevice");
    if (r != RD_OK) return r;
    vkGetDeviceQueue(vk->device, vk->queue_family, 0, &vk->queue);
    VkCommandPoolCreateInfo pool = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT, .queueFamilyIndex = vk->queue_family};
    r = rd_vk_check(ctx, vkCreateCommandPool(vk->device, &pool, NULL, &vk->pool), "vkCreateCommandPool");
    VkCommandBufferAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = vk->pool,
                                         .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
    if (r == RD_OK) r = rd_vk_check(ctx, vkAllocateCommandBuffers(vk->device, &alloc, &vk->cmd), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (r == RD_OK) r = rd_vk_check(ctx, vkCreateFence(vk->device, &fence, NULL, &vk->fence), "vkCreateFence");
    VkQueryPoolCreateInfo query = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO, .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                   .queryCount = RD_VK_TIMESTAMP_SLOTS};
    if (r == RD_OK) r = rd_vk_check(ctx, vkCreateQueryPool(vk->device, &query, NULL, &vk->timestamps), "vkCreateQueryPool");
    vk->staging.host = true;
    if (r == RD_OK) r = rd_vk_reserve(ctx, &vk->staging, 1 << 20, "staging buffer");
    return r;
}

rd_result rd_vk_open(rd_context *ctx, const rd_context_desc *desc, bool hardware_only)
{
    rd_vk_state *vk = calloc(1, sizeof *vk);
    if (!vk) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "backend vulkan: out of memory");
    vk->ctx = ctx;
    ctx->backend_state = vk;
    ctx->backend = RD_BACKEND_VULKAN;
    bool size_control = false;
    rd_result r = create_instance(ctx, vk, desc->vulkan_window);
    if (r == RD_OK) r = choose_device(ctx, vk, desc->device_index, hardware_only);
    if (r == RD_OK) r = choose_subgroup_size(ctx, vk, desc->subgroup_size, &size_control);
    if (r == RD_OK) r = create_device(ctx, vk, size_control);
    if (r == RD_OK) r = rd_vk_sorter_create(ctx, &vk->sorter);
    if (r != RD_OK) {
        rd_vk_close(ctx); /* keeps ctx->last_error: closing reports nothing */
        ctx->backend = RD_BACKEND_CPU;
        return r;
    }
    rd_log(ctx, RD_LOG_INFO, "backend vulkan: %s (subgroup size %u%s)", vk->name, vk->subgroup_size,
           vk->require_subgroup_size ? ", required" : "");
    return RD_OK;
}

void rd_vk_close(rd_context *ctx)
{
    rd_vk_state *vk = rd_vk(ctx);
    if (!vk) return;
    if (vk->device) {
        vkDeviceWaitIdle(vk->device);
        rd_vk_sorter_destroy(ctx, vk->sorter);
        rd_vk_release(ctx, &vk->staging);
        for (int i = 0; i < vk->allocation_count; i++) rd_vk_release_for_caller(ctx, &vk->allocations[i]);
        if (vk->timestamps) vkDestroyQueryPool(vk->device, vk->timestamps, NULL);
        if (vk->fence) vkDestroyFence(vk->device, vk->fence, NULL);
        if (vk->pool) vkDestroyCommandPool(vk->device, vk->pool, NULL);
        vkDestroyDevice(vk->device, NULL);
    }
    if (vk->messenger) {
        PFN_vkDestroyDebugUtilsMessengerEXT destroy =
            (PFN_vkDestroyDebugUtilsMessengerEXT)vkGetInstanceProcAddr(vk->instance, "vkDestroyDebugUtilsMessengerEXT");
        if (destroy) destroy(vk->instance, vk->messenger, NULL);
    }
    if (vk->surface) vkDestroySurfaceKHR(vk->instance, vk->surface, NULL);
    if (vk->instance) vkDestroyInstance(vk->instance, NULL);
    free(vk->allocations);
    free(vk);
    ctx->backend_state = NULL;
}

static int memory_type(const rd_vk_state *vk, uint32_t allowed, bool host)
{
    VkMemoryPropertyFlags need = host ? VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT
                                      : VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    /* host buffers are read back: prefer cached memory there */
    VkMemoryPropertyFlags prefer = host ? need | VK_MEMORY_PROPERTY_HOST_CACHED_BIT : need;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < vk->memory.memoryTypeCount; i++) {
            VkMemoryPropertyFlags flags = vk->memory.memoryTypes[i].propertyFlags;
            if ((allowed & (1u << i)) && (flags & (pass ? need : prefer)) == (pass ? need : prefer)) return (int)i;
        }
    return -1;
}

/* counted: the buffer is the context's own (rd_context_device_bytes) */
static void release(rd_context *ctx, rd_vk_buffer *buf, bool counted)
{
    rd_vk_state *vk = rd_vk(ctx);
    if (!vk || !buf) return;
    if (counted && buf->buffer && buf->bytes) rd_device_bytes_add(ctx, -(int64_t)buf->bytes);
    if (buf->buffer) vkDestroyBuffer(vk->device, buf->buffer, NULL), vk->buffer_generation++;
    if (buf->memory) vkFreeMemory(vk->device, buf->memory, NULL);
    bool host = buf->host;
    memset(buf, 0, sizeof *buf);
    buf->host = host;
}

void rd_vk_release(rd_context *ctx, rd_vk_buffer *buf) { release(ctx, buf, buf && !buf->host); }
void rd_vk_release_for_caller(rd_context *ctx, rd_vk_buffer *buf) { release(ctx, buf, false); }

rd_result rd_vk_reserve_room(rd_context *ctx, rd_vk_buffer *buf, VkDeviceSize bytes, const char *what)
{
    if (buf->buffer && bytes <= buf->bytes) return RD_OK;
    /* the spare quarter within the soft limit where the size is, within the largest buffer past it */
    rd_vk_state *vk = rd_vk(ctx);
    VkDeviceSize most = (bytes <= vk->max_allocation ? vk->max_allocation : vk->max_buffer) & ~(VkDeviceSize)255;
    VkDeviceSize room = bytes + bytes / 4;
    if (most && room > most) room = bytes > most ? bytes : most; /* past it, rd_vk_reserve says so */
    return rd_vk_reserve(ctx, buf, room, what);
}

static rd_result reserve(rd_context *ctx, rd_vk_buffer *buf, VkDeviceSize bytes, const char *what, bool counted)
{
    rd_vk_state *vk = rd_vk(ctx);
    if (bytes == 0) bytes = 4;
    if (buf->buffer && bytes <= buf->bytes) return RD_OK;
    /* wait for work that may still read the old buffer */
    vkQueueWaitIdle(vk->queue);
    release(ctx, buf, counted);
    bytes = (bytes + 255) & ~(VkDeviceSize)255;
    /* Past maxMemoryAllocationSize an allocation may fail, and it is tried: NVIDIA's 4 GiB is
       such a soft limit, which capped a scene's SH at 22M Gaussians of degree 3 (validation
       layers newer than Debian's report such an allocation as an error). Past the largest
       buffer, or the memory heap, it is refused here. */
    if (vk->max_buffer && bytes > vk->max_buffer)
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: %s needs %.2f GiB, more than the %.2f GiB %s allows a buffer", what,
                       bytes / 1073741824.0, vk->max_buffer / 1073741824.0, vk->name);
    VkBufferCreateInfo info = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = bytes,
                               .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                        VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_INDIRECT_BUFFER_BIT |
                                        VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT,
                               .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    char step[160];
    snprintf(step, sizeof step, "%s (%.1f MiB)", what, bytes / 1048576.0);
    rd_result r = rd_vk_check(ctx, vkCreateBuffer(vk->device, &info, NULL, &buf->buffer), step);
    if (r != RD_OK) return r;
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(vk->device, buf->buffer, &req);
    int type = memory_type(vk, req.memoryTypeBits, buf->host);
    if (type < 0) {
        release(ctx, buf, counted);
        return rd_fail(ctx, RD_ERROR_DEVICE, "vulkan: %s: no suitable memory type", step);
    }
    VkDeviceSize heap = vk->memory.memoryHeaps[vk->memory.memoryTypes[type].heapIndex].size;
    if (req.size > heap) {
        release(ctx, buf, counted);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: %s needs %.2f GiB, more than the %.2f GiB of %s's memory heap", what,
                       req.size / 1073741824.0, heap / 1073741824.0, vk->name);
    }
    VkMemoryAllocateFlagsInfo flags = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
                                       .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT};
    VkMemoryAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .pNext = &flags,
                                  .allocationSize = req.size, .memoryTypeIndex = (uint32_t)type};
    VkResult allocated = vkAllocateMemory(vk->device, &alloc, NULL, &buf->memory);
    if ((allocated == VK_ERROR_OUT_OF_DEVICE_MEMORY || allocated == VK_ERROR_OUT_OF_HOST_MEMORY) && vk->max_allocation &&
        req.size > vk->max_allocation) {
        release(ctx, buf, counted);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "vulkan: %s needs %.2f GiB in one allocation, past the %.2f GiB %s promises, "
                       "and it refused (%s)", what, req.size / 1073741824.0, vk->max_allocation / 1073741824.0, vk->name,
                       vk_result_name(allocated));
    }
    r = rd_vk_check(ctx, allocated, step);
    if (r == RD_OK) r = rd_vk_check(ctx, vkBindBufferMemory(vk->device, buf->buffer, buf->memory, 0), step);
    if (r == RD_OK && buf->host) r = rd_vk_check(ctx, vkMapMemory(vk->device, buf->memory, 0, VK_WHOLE_SIZE, 0, &buf->mapped), step);
    if (r != RD_OK) {
        release(ctx, buf, counted);
        return r;
    }
    VkBufferDeviceAddressInfo address = {.sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO, .buffer = buf->buffer};
    buf->address = vkGetBufferDeviceAddress(vk->device, &address);
    buf->bytes = bytes;
    vk->buffer_generation++;
    if (counted) rd_device_bytes_add(ctx, (int64_t)bytes);
    return RD_OK;
}

rd_result rd_vk_reserve(rd_context *ctx, rd_vk_buffer *buf, VkDeviceSize bytes, const char *what)
{
    return reserve(ctx, buf, bytes, what, !buf->host);
}

rd_result rd_vk_reserve_for_caller(rd_context *ctx, rd_vk_buffer *buf, VkDeviceSize bytes, const char *what)
{
    return reserve(ctx, buf, bytes, what, false);
}

rd_result rd_vk_begin(rd_context *ctx, VkCommandBuffer *cmd)
{
    rd_vk_state *vk = rd_vk(ctx);
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                      .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    rd_result r = rd_vk_check(ctx, vkResetCommandBuffer(vk->cmd, 0), "vkResetCommandBuffer");
    if (r == RD_OK) r = rd_vk_check(ctx, vkBeginCommandBuffer(vk->cmd, &begin), "vkBeginCommandBuffer");
    *cmd = vk->cmd;
    return r;
}

/* Submits cmd (ended) with the context's fence and waits for it. */
static rd_result submit_wait(rd_context *ctx, VkCommandBuffer cmd, const char *step)
{
    rd_vk_state *vk = rd_vk(ctx);
    VkSubmitInfo submit = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &cmd};
    rd_result r = rd_vk_check(ctx, vkResetFences(vk->device, 1, &vk->fence), step);
    if (r == RD_OK) r = rd_vk_check(ctx, vkQueueSubmit(vk->queue, 1, &submit, vk->fence), step);
    /* polled first (rd_tuning.vk_fence_spin_us), as CUDA's synchronisation spins by default:
       the frame's end is then seen without the sleep's wake-up, which cost a biker frame 75
       us on an H100 (0.503 ms of wall time against 0.348 on the GPU; 0.428 polled). Not on
       a CPU device, whose work runs on the host's own cores. */
    int spin_us = ctx->tuning.vk_fence_spin_us > 0 ? ctx->tuning.vk_fence_spin_us
                  : ctx->tuning.vk_fence_spin_us < 0 || vk->cpu_device ? 0 : FENCE_SPIN_DEFAULT_US;
    VkResult polled = VK_NOT_READY;
    for (double until = rd_now_ms() + 1e-3 * spin_us; r == RD_OK && polled == VK_NOT_READY && rd_now_ms() < until;)
        polled = vkGetFenceStatus(vk->device, vk->fence);
    if (r == RD_OK && polled != VK_SUCCESS && polled != VK_NOT_READY) r = rd_vk_check(ctx, polled, step);
    if (r == RD_OK && polled != VK_SUCCESS)
        r = rd_vk_check(ctx, vkWaitForFences(vk->device, 1, &vk->fence, VK_TRUE, FENCE_TIMEOUT_NS), step);
    return r;
}

rd_result rd_vk_submit_wait(rd_context *ctx, const char *step)
{
    rd_vk_state *vk = rd_vk(ctx);
    rd_result r = rd_vk_check(ctx, vkEndCommandBuffer(vk->cmd), step);
    return r == RD_OK ? submit_wait(ctx, vk->cmd, step) : r;
}

bool rd_vk_reusable_matches(rd_context *ctx, const rd_vk_reusable *c, const void *key, size_t bytes)
{
    return c->recorded && c->generation == rd_vk(ctx)->buffer_generation && bytes <= sizeof c->key &&
           memcmp(c->key, key, bytes) == 0;
}

rd_result rd_vk_reusable_begin(rd_context *ctx, rd_vk_reusable *c, VkCommandBuffer *cmd)
{
    rd_vk_state *vk = rd_vk(ctx);
    c->recorded = false;
    rd_result r = RD_OK;
    if (!c->cmd) {
        VkCommandBufferAllocateInfo alloc = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO, .commandPool = vk->pool,
                                             .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY, .commandBufferCount = 1};
        r = rd_vk_check(ctx, vkAllocateCommandBuffers(vk->device, &alloc, &c->cmd), "vkAllocateCommandBuffers");
    }
    VkCommandBufferBeginInfo begin = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO}; /* submitted again and again */
    if (r == RD_OK) r = rd_vk_check(ctx, vkResetCommandBuffer(c->cmd, 0), "vkResetCommandBuffer");
    if (r == RD_OK) r = rd_vk_check(ctx, vkBeginCommandBuffer(c->cmd, &begin), "vkBeginCommandBuffer");
    *cmd = c->cmd;
    return r;
}

rd_result rd_vk_reusable_end(rd_context *ctx, rd_vk_reusable *c, const void *key, size_t bytes)
{
    if (bytes > sizeof c->key)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "vulkan: a reusable recording's key of %zu bytes (at most %zu)", bytes,
                       sizeof c->key);
    rd_result r = rd_vk_check(ctx, vkEndCommandBuffer(c->cmd), "vkEndCommandBuffer");
    if (r != RD_OK) return r;
    memcpy(c->key, key, bytes);
    c->generation = rd_vk(ctx)->buffer_generation;
    c->recorded = true;
    return RD_OK;
}

rd_result rd_vk_reusable_submit_wait(rd_context *ctx, rd_vk_reusable *c, const char *step)
{
    rd_result r = submit_wait(ctx, c->cmd, step);
    if (r != RD_OK) c->recorded = false; /* recorded anew after a failure (a lost device, a wait that timed out) */
    return r;
}

void rd_vk_reusable_free(rd_context *ctx, rd_vk_reusable *c)
{
    rd_vk_state *vk = rd_vk(ctx);
    if (vk && vk->device && c->cmd) vkFreeCommandBuffers(vk->device, vk->pool, 1, &c->cmd);
    memset(c, 0, sizeof *c);
}

/* Copies between host memory and a buffer, a staging buffer's worth at a time. */
static rd_result staged_copy(rd_context *ctx, void *host_dst, const void *host_src, const rd_vk_buffer *dev, VkDeviceSize offset,
                             size_t bytes)
{
    rd_vk_state *vk = rd_vk(ctx);
    if (offset + bytes > dev->bytes)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "vulkan: copy of %zu bytes at %llu passes the buffer's end", bytes,
                       (unsigned long long)offset);
    size_t chunk_max = bytes < RD_VK_STAGING_BYTES ? bytes : RD_VK_STAGING_BYTES;
    rd_result r = rd_vk_reserve(ctx, &vk->staging, chunk_max, "staging buffer");
    for (size_t done = 0; r == RD_OK && done < bytes;) {
        size_t chunk = bytes - done < vk->staging.bytes ? bytes - done : (size_t)vk->staging.bytes;
        if (host_src) memcpy(vk->staging.mapped, (const char *)host_src + done, chunk);
        VkCommandBuffer cmd;
        r = rd_vk_begin(ctx, &cmd);
        VkBufferCopy region = {.srcOffset = host_src ? 0 : offset + done, .dstOffset = host_src ? offset + done : 0, .size = chunk};
        if (r == RD_OK) {
            if (host_src) vkCmdCopyBuffer(cmd, vk->staging.buffer, dev->buffer, 1, &region);
            else vkCmdCopyBuffer(cmd, dev->buffer, vk->staging.buffer, 1, &region);
            r = rd_vk_submit_wait(ctx, host_src ? "upload" : "download");
        }
        if (r == RD_OK && host_dst) memcpy((char *)host_dst + done, vk->staging.mapped, chunk);
        done += chunk;
    }
    return r;
}

rd_result rd_vk_upload(rd_context *ctx, rd_vk_buffer *dst, VkDeviceSize offset, const void *src, size_t bytes)
{
    if (dst->host) {
        memcpy((char *)dst->mapped + offset, src, bytes);
        return RD_OK;
    }
    return staged_copy(ctx, NULL, src, dst, offset, bytes);
}

rd_result rd_vk_download(rd_context *ctx, void *dst, const rd_vk_buffer *src, VkDeviceSize offset, size_t bytes)
{
    if (src->host) {
        memcpy(dst, (const char *)src->mapped + offset, bytes);
        return RD_OK;
    }
    return staged_copy(ctx, dst, NULL, src, offset, bytes);
}
