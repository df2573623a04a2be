/* render.c: rd_render: checks the caller's arguments once, then hands the frame to the
   context's backend. */
#include "splat.h"

#include <math.h>

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

rd_result rd_render(rd_context *ctx, const rd_scene *scene, const rd_camera *camera,
                    const rd_render_desc *desc, const rd_framebuffer *target)
{
    static const rd_render_desc defaults = {0};
    if (!ctx) return RD_ERROR_INVALID_ARGUMENT;
    if (!scene || !camera || !target)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: scene, camera and target are required");
    if (!desc) desc = &defaults;
    rd_result r = check_camera(ctx, camera);
    if (r != RD_OK) return r;
    if (desc->sh_degree < 0 || desc->sh_degree > RD_SH_DEGREE(3))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: sh_degree %d is out of range",
                       desc->sh_degree);

    rd_view_params vp;
    rd_view_params_init(&vp, camera, desc, scene);
    rd_render_stats stats = {0};
    switch (ctx->backend) {
    case RD_BACKEND_CPU:
        if (scene->memory != RD_MEMORY_HOST)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: the CPU backend cannot read a device-memory scene");
        if (target->memory != RD_MEMORY_HOST)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: the CPU backend renders into host memory only");
        r = rd_splat_render_cpu(ctx, scene, &vp, target, &stats);
        break;
#ifdef RD_HAVE_CUDA
    case RD_BACKEND_CUDA:
        /* the scene caches its device copy: the one mutable part of a const scene */
        r = rd_splat_render_cuda(ctx, (rd_scene *)scene, &vp, target, desc->stream, &stats);
        break;
#endif
    default:
        r = rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "rd_render: backend %s has no splat renderer",
                    rd_backend_name(ctx->backend));
    }
    if (r == RD_OK) ctx->last_stats = stats;
    return r;
}
