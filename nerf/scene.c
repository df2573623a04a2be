/* scene.c: the NeRF scene: its configuration and placement, creation, description, and
   its row of the core's table of kinds (renderer/kinds.h). */
#include "scene.h"
#include "render_cpu.h"
#ifdef RD_HAVE_CUDA
#include "render_cuda.h"
#endif
#ifdef RD_HAVE_VULKAN
#include "render_vk.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* desc with each zero replaced by its default into s->desc, the world-to-field placement
   its box gives, and the field's layout; RD_ERROR_INVALID_ARGUMENT naming a field out of
   range. */
static rd_result resolve(rd_context *ctx, const rd_nerf_desc *desc, rd_nerf_scene *s)
{
    rd_nerf_desc d = desc ? *desc : (rd_nerf_desc){0};
    if (!d.levels) d.levels = 16;
    if (!d.features) d.features = 2;
    if (!d.log2_table_size) d.log2_table_size = 19;
    if (d.base_resolution == 0.0f) d.base_resolution = 16.0f;
    if (d.finest_resolution == 0.0f) d.finest_resolution = 2048.0f;
    if (!d.width) d.width = 64;
    if (!d.aabb_scale) d.aabb_scale = 1;
    if (d.saliency_resolution && d.gate_sharpness == 0.0f) d.gate_sharpness = 1000.0f;
    if (d.aabb_scale < 1 || d.aabb_scale > 128 || (d.aabb_scale & (d.aabb_scale - 1)))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF: aabb_scale %d is not a power of two from 1 to 128", d.aabb_scale);
    bool zero_box = true;
    float side = 0.0f, centre[3];
    for (int a = 0; a < 3; a++) {
        zero_box &= d.box_min[a] == 0.0f && d.box_max[a] == 0.0f;
        if (!isfinite(d.box_min[a]) || !isfinite(d.box_max[a]))
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF: box_min/box_max: not finite");
    }
    if (zero_box)
        for (int a = 0; a < 3; a++) d.box_max[a] = 1.0f;
    for (int a = 0; a < 3; a++) {
        if (!(d.box_max[a] >= d.box_min[a]))
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF: box_max[%d] %g is below box_min[%d] %g", a, d.box_max[a], a,
                           d.box_min[a]);
        side = fmaxf(side, d.box_max[a] - d.box_min[a]);
        centre[a] = 0.5f * (d.box_min[a] + d.box_max[a]);
    }
    if (!(side > 0.0f) || !isfinite(1.0f / side))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF: box_min/box_max: the box has no extent");
    /* the box becomes the cube of its longest side about its centre */
    for (int a = 0; a < 3; a++) d.box_min[a] = centre[a] - 0.5f * side, d.box_max[a] = centre[a] + 0.5f * side;
    s->scale = 1.0f / side;
    for (int a = 0; a < 3; a++) s->offset[a] = 0.5f - centre[a] * s->scale;
    s->desc = d;
    return rd_nerf_field_make(ctx,
                              &(rd_nerf_field_desc){.grid = {d.levels, d.features, d.log2_table_size, d.base_resolution,
                                                             d.finest_resolution},
                                                    .width = d.width,
                                                    .saliency_resolution = d.saliency_resolution,
                                                    .gate_sharpness = d.gate_sharpness},
                              &s->field);
}

rd_result rd_nerf_scene_new(rd_context *ctx, const rd_nerf_desc *desc, rd_nerf_scene **out)
{
    *out = NULL;
    rd_nerf_scene *s = calloc(1, sizeof *s);
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF: out of memory");
    s->head = rd_scene_head_new(RD_SCENE_NERF);
    rd_result r = resolve(ctx, desc, s);
    const rd_nerf_desc *d = &s->desc;
    if (r == RD_OK && !(s->params = malloc(sizeof(float) * (size_t)s->field.params)))
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF: cannot hold %lld parameters", (long long)s->field.params);
    if (r == RD_OK) r = rd_occupancy_create(ctx, d->aabb_scale, d->seed, &s->occupancy);
    if (r != RD_OK) {
        rd_nerf_scene_free(s);
        return r;
    }
    *out = s;
    return RD_OK;
}

void rd_nerf_scene_free(rd_nerf_scene *s)
{
    if (!s) return;
    free(s->params);
    rd_occupancy_destroy(&s->occupancy);
    free(s);
}

void rd_nerf_occupancy_open(rd_occupancy *g)
{
    int64_t cells = (int64_t)g->cascades * RD_OCCUPANCY_CELLS;
    memset(g->thickness, 0, sizeof(float) * (size_t)cells);
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) memset(g->bits[k], 1, (size_t)(cells >> (3 * k)));
    g->threshold = 0.0f;
}

rd_result rd_nerf_create(rd_context *ctx, const rd_nerf_desc *desc, rd_scene **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_create: out is NULL");
    *out = NULL;
    rd_nerf_scene *s;
    rd_result r = rd_nerf_scene_new(ctx, desc, &s);
    if (r != RD_OK) return r;
    rd_nerf_field_init(&s->field, s->desc.seed, s->params);
    rd_nerf_occupancy_open(&s->occupancy);
    *out = (rd_scene *)s;
    return RD_OK;
}

rd_result rd_nerf_get_info(rd_context *ctx, const rd_scene *scene, rd_nerf_info *out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_get_info: out is NULL");
    memset(out, 0, sizeof *out);
    if (!rd_is_nerf(scene)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_nerf_get_info: the scene is not a NeRF");
    const rd_nerf_scene *s = (const rd_nerf_scene *)scene;
    out->desc = s->desc;
    out->scale = s->scale;
    memcpy(out->offset, s->offset, sizeof out->offset);
    out->params = s->field.params;
    out->table_params = s->field.density_offset;
    out->network_params = s->field.saliency_offset - s->field.density_offset;
    out->mask_params = s->field.params - s->field.saliency_offset;
    out->cascades = s->occupancy.cascades;
    out->occupied_cells = rd_occupancy_occupied(&s->occupancy);
    return RD_OK;
}

static rd_result check_render(rd_context *ctx, const rd_scene *scene, const rd_render_desc *desc)
{
    (void)scene;
    if (desc->feature_channels != 0)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_render: NeRF scenes have no feature channels (asked for %d)",
                       desc->feature_channels);
    return RD_OK;
}

static void destroy(rd_scene *scene) { rd_nerf_scene_free((rd_nerf_scene *)scene); }

static rd_result render_cpu(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                            const rd_framebuffer *target, rd_render_stats *stats)
{
    return rd_nerf_render_cpu(ctx, (const rd_nerf_scene *)scene, camera, desc, target, stats);
}

#ifdef RD_HAVE_CUDA
static rd_result render_cuda(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                             const rd_framebuffer *target, rd_render_stats *stats)
{
    return rd_nerf_render_cuda(ctx, (const rd_nerf_scene *)scene, camera, desc, target, stats);
}
#endif

#ifdef RD_HAVE_VULKAN
static rd_result render_vk(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                           const rd_framebuffer *target, rd_render_stats *stats)
{
    return rd_nerf_render_vk(ctx, (const rd_nerf_scene *)scene, camera, desc, target, stats);
}
#endif

const rd_kind_ops rd_nerf_kind = {
    .name = "NeRF",
    .file = {".rnerf", rd_nerf_snapshot_detect, rd_nerf_snapshot_decode, rd_nerf_save},
    .check_render = check_render,
    .destroy = destroy,
    .backends = {
        [RD_BACKEND_CPU] = {.render = render_cpu},
#ifdef RD_HAVE_CUDA
        [RD_BACKEND_CUDA] = {.render = render_cuda, .free_state = rd_nerf_cuda_free_state},
#endif
#ifdef RD_HAVE_VULKAN
        [RD_BACKEND_VULKAN] = {.render = render_vk, .free_state = rd_nerf_vk_free_state},
#endif
    },
};
