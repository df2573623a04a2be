/* render.c: the Gaussian scene's row of the core's table of kinds (renderer/kinds.h): the
   checks a render needs beyond the camera, each backend's entry point (view parameters
   from the camera, then the backend's pipeline), and its per-context state. */
#include "splat.h"
#include "../renderer/frame_driver.h"

static rd_result check_render(rd_context *ctx, const rd_scene *scene, const rd_render_desc *desc)
{
    (void)scene;
    if (desc->sh_degree < 0 || desc->sh_degree > RD_SH_DEGREE(3))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: sh_degree %d is out of range", desc->sh_degree);
    if (desc->feature_channels != 0)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_render: Gaussian scenes have no feature channels (asked for %d)",
                       desc->feature_channels);
    return RD_OK;
}

const char *const rd_splat_stage_names[RD_SPLAT_STAGES] = {"preprocess", "binning", "sort", "blend"};

void rd_splat_counts(rd_render_stats *stats, int64_t visible, int64_t pairs)
{
    stats->count_count = 0;
    rd_stats_add_count(stats, "visible", (double)visible);
    rd_stats_add_count(stats, "pairs", (double)pairs);
}

#if defined(RD_HAVE_CUDA) || defined(RD_HAVE_VULKAN)
/* What both GPU renderers' records and sorts hold (renderer/frame_driver.h for the pairs). */
static rd_result check_gpu_frame(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp)
{
    const char *backend = rd_backend_name(ctx->backend);
    if (!rd_tiles_fit_packed(vp))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %dx%d tiles exceed the 65,535 a side and 2^26 in all of a Gaussian's "
                       "tiles", backend, vp->tiles_x, vp->tiles_y);
    return rd_gpu_frame_check(ctx, backend, scene->count, "Gaussians");
}
#endif

static rd_result render_cpu(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                            const rd_framebuffer *target, rd_render_stats *stats)
{
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    return rd_splat_render_cpu(ctx, scene, &vp, target, stats);
}

/* Half precision is a layout for rendering (the GPUs keep no floats of those arrays). */
static rd_result check_backward(rd_context *ctx, const rd_scene *scene)
{
    if (scene->flags & RD_SCENE_HALF_SH)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_backward: the scene's SH are half precision (RD_SCENE_HALF_SH, "
                       "--half-sh or --packed), a layout for rendering only; take gradients of a scene without it");
    if (scene->flags & RD_SCENE_HALF_SHAPE)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_backward: the scene's rotations, scales and opacities are half "
                       "precision (RD_SCENE_HALF_SHAPE, --packed), a layout for rendering only; take gradients of a scene without it");
    return RD_OK;
}

static rd_result backward_cpu(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                              const rd_render_grads *output, const rd_scene_grads *grads, float *w2c_grad)
{
    rd_result r = check_backward(ctx, scene);
    if (r != RD_OK) return r;
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    return rd_splat_backward_cpu(ctx, scene, &vp, output, grads->params, w2c_grad);
}

#ifdef RD_HAVE_CUDA
static rd_result render_cuda(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                             const rd_framebuffer *target, rd_render_stats *stats)
{
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    rd_result r = check_gpu_frame(ctx, scene, &vp);
    return r == RD_OK ? rd_splat_render_cuda(ctx, scene, &vp, target, desc->stream, stats) : r;
}

static rd_result backward_cuda(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                               const rd_render_grads *output, const rd_scene_grads *grads, float *w2c_grad)
{
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    rd_result r = check_backward(ctx, scene);
    if (r == RD_OK) r = check_gpu_frame(ctx, scene, &vp);
    return r == RD_OK ? rd_splat_backward_cuda(ctx, scene, &vp, output, grads->params, grads->memory, w2c_grad, desc->stream) : r;
}
#endif

#ifdef RD_HAVE_VULKAN
static rd_result render_vk(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                           const rd_framebuffer *target, rd_render_stats *stats)
{
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    rd_result r = check_gpu_frame(ctx, scene, &vp);
    return r == RD_OK ? rd_splat_render_vk(ctx, scene, &vp, target, stats) : r;
}
#endif

const rd_kind_ops rd_gaussians_kind = {
    .name = "Gaussians",
    .check_render = check_render,
    .destroy = rd_gaussians_destroy,
    .backends = {
        [RD_BACKEND_CPU] = {.render = render_cpu, .backward = backward_cpu},
#ifdef RD_HAVE_CUDA
        [RD_BACKEND_CUDA] = {.render = render_cuda, .backward = backward_cuda, .free_state = rd_splat_cuda_free_state},
#endif
#ifdef RD_HAVE_VULKAN
        [RD_BACKEND_VULKAN] = {.render = render_vk, .free_state = rd_splat_vk_free_state},
#endif
    },
};
