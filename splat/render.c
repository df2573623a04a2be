/* render.c: the Gaussian scene's row of the core's table of kinds (renderer/kinds.h): the
   checks a render needs beyond the camera, each backend's entry point (view parameters
   from the camera, then the backend's pipeline), and its per-context state. */
#include "splat.h"

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

void rd_splat_stats(rd_render_stats *stats, double total_ms, const double stage_ms[4], int64_t visible, int64_t pairs)
{
    static const char *const stages[4] = {"preprocess", "binning", "sort", "blend"};
    *stats = (rd_render_stats){.total_ms = total_ms, .stage_count = 4, .count_count = 2,
                               .counts = {{"visible", (double)visible}, {"pairs", (double)pairs}}};
    for (int k = 0; k < 4; k++) stats->stages[k] = (rd_stat){stages[k], stage_ms[k]};
}

static rd_result render_cpu(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                            const rd_framebuffer *target, rd_render_stats *stats)
{
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    return rd_splat_render_cpu(ctx, scene, &vp, target, stats);
}

#ifdef RD_HAVE_CUDA
static rd_result render_cuda(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                             const rd_framebuffer *target, rd_render_stats *stats)
{
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    /* the scene caches its device copy: the one mutable part of a const scene */
    return rd_splat_render_cuda(ctx, (rd_scene *)scene, &vp, target, desc->stream, stats);
}
#endif

#ifdef RD_HAVE_VULKAN
static rd_result render_vk(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                           const rd_framebuffer *target, rd_render_stats *stats)
{
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    return rd_splat_render_vk(ctx, scene, &vp, target, stats);
}
#endif

const rd_kind_ops rd_gaussians_kind = {
    .name = "Gaussians",
    .check_render = check_render,
    .destroy = rd_gaussians_destroy,
    .backends = {
        [RD_BACKEND_CPU] = {.render = render_cpu},
#ifdef RD_HAVE_CUDA
        [RD_BACKEND_CUDA] = {.render = render_cuda, .free_state = rd_splat_cuda_free_state},
#endif
#ifdef RD_HAVE_VULKAN
        [RD_BACKEND_VULKAN] = {.render = render_vk, .free_state = rd_splat_vk_free_state},
#endif
    },
};
