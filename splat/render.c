/* render.c: rd_render and rd_render_views: check the caller's arguments once, then hand
   each view to the context's backend. */
#include "splat.h"

#include <math.h>
#include <stdio.h>

static rd_result check_camera(rd_context *ctx, const rd_camera *c)
{
    if (c->width < 1 || c->height < 1 || c->width > 65536 || c->height > 65536)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "camera: size %dx%d is out of range (1..65536)",
                       c->width, c->height);
    if (!(c->fx > 0.0f) || !(c->fy > 0.0f) || !isfinite(c->fx) || !isfinite(c->fy) ||
        !isfinite(c->cx) || !isfinite(c->cy))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "camera: intrinsics fx=%g fy=%g cx=%g cy=%g must be finite, focal lengths positive",
                       c->fx, c->fy, c->cx, c->cy);
    for (int k = 0; k < 12; k++)
        if (!isfinite(c->w2c[k]))
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "camera: w2c[%d] is not finite", k);
    return RD_OK;
}

static rd_result check_call(rd_context *ctx, const rd_scene *scene, const rd_render_desc *desc)
{
    if (!scene) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: scene is required");
    if (desc->sh_degree < 0 || desc->sh_degree > RD_SH_DEGREE(3))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: sh_degree %d is out of range", desc->sh_degree);
    if (ctx->backend == RD_BACKEND_CPU && scene->memory != RD_MEMORY_HOST)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: the CPU backend cannot read a device-memory scene");
    return RD_OK;
}

/* One view, arguments already checked. */
static rd_result render_view(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                             const rd_framebuffer *target, rd_render_stats *stats)
{
    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    switch (ctx->backend) {
    case RD_BACKEND_CPU:
        if (target->memory != RD_MEMORY_HOST)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: the CPU backend renders into host memory only");
        return rd_splat_render_cpu(ctx, scene, &vp, target, stats);
#ifdef RD_HAVE_CUDA
    case RD_BACKEND_CUDA:
        /* the scene caches its device copy: the one mutable part of a const scene */
        return rd_splat_render_cuda(ctx, (rd_scene *)scene, &vp, target, desc->stream, stats);
#endif
#ifdef RD_HAVE_VULKAN
    case RD_BACKEND_VULKAN:
        return rd_splat_render_vk(ctx, scene, &vp, target, stats);
#endif
    default:
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "rd_render: backend %s has no splat renderer",
                       rd_backend_name(ctx->backend));
    }
}

rd_result rd_render(rd_context *ctx, const rd_scene *scene, const rd_camera *camera,
                    const rd_render_desc *desc, const rd_framebuffer *target)
{
    return rd_render_views(ctx, scene, 1, camera, desc, target);
}

rd_result rd_render_views(rd_context *ctx, const rd_scene *scene, int count, const rd_camera *cameras,
                          const rd_render_desc *desc, const rd_framebuffer *targets)
{
    static const rd_render_desc defaults = {0};
    if (!ctx) return RD_ERROR_INVALID_ARGUMENT;
    if (!scene || !cameras || !targets || count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: scene, at least one camera and its target are required");
    if (!desc) desc = &defaults;
    rd_result r = check_call(ctx, scene, desc);
    for (int v = 0; v < count && r == RD_OK; v++) {
        r = check_camera(ctx, &cameras[v]);
        if (r != RD_OK && count > 1) {
            char view[32];
            snprintf(view, sizeof view, "view %d", v);
            rd_error_prefix(ctx, view);
        }
    }
    if (r != RD_OK) return r;
    rd_render_stats total = {0};
    for (int v = 0; v < count && r == RD_OK; v++) {
        rd_render_stats stats = {0};
        r = render_view(ctx, scene, &cameras[v], desc, &targets[v], &stats);
        total.total_ms += stats.total_ms;
        total.preprocess_ms += stats.preprocess_ms;
        total.binning_ms += stats.binning_ms;
        total.sort_ms += stats.sort_ms;
        total.blend_ms += stats.blend_ms;
        total.visible += stats.visible;
        total.intersections += stats.intersections;
    }
    if (r == RD_OK) ctx->last_stats = total;
    return r;
}
