/* splat.h: the splat renderer's host-side interface: view parameters from a camera, the
   scene as kernels read it, and each backend's entry point. The per-Gaussian maths all
   backends share is in splat_math.h. */
#ifndef RD_SPLAT_H
#define RD_SPLAT_H

#include "scene.h"
#include "splat_math.h"
#include "shaders/splat_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills view params from a camera and render settings. */
void rd_view_params_init(rd_view_params *vp, const rd_camera *camera, const rd_render_desc *desc,
                         const rd_scene *scene);

/* Bits a sort key needs for values below n (at least 1, at most 63). */
static inline int rd_key_bits(uint64_t n)
{
    int bits = 1;
    while (bits < 63 && (1ull << bits) < n) bits++;
    return bits;
}

/* Whether a frame's tiles fit the GPU backends' packed tiles (splat_layout.h): tile ids
   under 2^RD_HEAD_TILE_BITS and rectangles under 65,536 tiles a side. rd_render's 65,536
   pixels a side keep far under both. */
static inline bool rd_tiles_fit_packed(const rd_view_params *vp)
{
    return (uint64_t)vp->tiles_x * (uint64_t)vp->tiles_y < (1ull << RD_HEAD_TILE_BITS) && vp->tiles_x <= 0xffff &&
           vp->tiles_y <= 0xffff;
}

/* The scene's host arrays as kernels read them. */
rd_gaussians rd_scene_gaussians(const rd_scene *scene);

/* A frame's stats as every Gaussian renderer reports them (render.c): the stages
   preprocess, binning, sort and blend (rd_splat_stage_names, which the GPU renderers' stage
   timers are created with), then the counts visible and pairs (rd_splat_counts). */
enum { RD_SPLAT_STAGES = 4 };
extern const char *const rd_splat_stage_names[RD_SPLAT_STAGES];
void rd_splat_counts(rd_render_stats *stats, int64_t visible, int64_t pairs);

/* The CPU renderer (splat_cpu.c). */
rd_result rd_splat_render_cpu(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                              const rd_framebuffer *target, rd_render_stats *stats);

/* The CPU backward pass (splat_backward_cpu.c): adds into grads and w2c_grad (12 floats,
   or NULL). */
rd_result rd_splat_backward_cpu(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_render_grads *output,
                                const rd_gaussian_grads *grads, float *w2c_grad);

/* The CUDA renderer (splat_cuda.cu), and the frame state it keeps in the context's slot. */
rd_result rd_splat_render_cuda(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                               const rd_framebuffer *target, void *stream, rd_render_stats *stats);
void rd_splat_cuda_free_state(rd_context *ctx, void *state);
/* The CUDA backward pass (splat_backward_cuda.cu): as the CPU's, with the arrays of grads
   and w2c_grad in grads_memory and output's in output->memory, on stream (NULL: the
   context's), which it waits for. */
rd_result rd_splat_backward_cuda(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_render_grads *output,
                                 const rd_gaussian_grads *grads, rd_memory grads_memory, float *w2c_grad, void *stream);

/* The Vulkan renderer (splat_vk.c), likewise. */
rd_result rd_splat_render_vk(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                             const rd_framebuffer *target, rd_render_stats *stats);
void rd_splat_vk_free_state(rd_context *ctx, void *state);

/* A stage that takes the colour blend's place in a Vulkan frame (feature fields'
   feature_vk.c): after the binning the frame records it with the binned frame's device
   addresses (the view parameters, each tile's [start, end) in the sorted pairs, the blend's
   launch order where scheduled, the pairs' Gaussians, the preprocessed Gaussians). */
typedef struct rd_splat_vk_bins {
    uint64_t params, ranges, schedule, values, splats; /* VkDeviceAddress */
    uint32_t scheduled;
} rd_splat_vk_bins;
typedef struct rd_splat_vk_stage {
    void *user;
    rd_result (*reserve)(rd_context *ctx, void *user); /* its buffers, before the frame is recorded */
    void (*record)(rd_context *ctx, void *user, void *cmd, const rd_splat_vk_bins *bins); /* cmd: a VkCommandBuffer */
} rd_splat_vk_stage;
rd_result rd_splat_render_vk_stage(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_splat_vk_stage *stage,
                                   rd_render_stats *stats);
/* The feature fields' Vulkan state, kept in the splat frame's state: *slot points to it
   (NULL until the caller sets it); free_state frees it when the context goes. */
rd_result rd_splat_vk_feature_slot(rd_context *ctx, void (*free_state)(rd_context *ctx, void *state), void ***slot);

#ifdef __cplusplus
}
#endif
#endif
