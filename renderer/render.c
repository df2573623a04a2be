/* render.c: rd_render and rd_render_views: check the caller's arguments once, then hand
   each view to the scene's kind on the context's backend (kinds.h). */
#include "kinds.h"
#include "backend.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static rd_result check_camera(rd_context *ctx, const rd_camera *c)
{
    char why[256];
    const char *problem = rd_camera_problem(c, why, sizeof why);
    return problem ? rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "camera: %s", problem) : RD_OK;
}

/* A device-memory target's outputs are memory the backend can write, each as large as
   the camera's image. */
static rd_result check_target(rd_context *ctx, const rd_camera *c, const rd_framebuffer *t)
{
    if (t->memory != RD_MEMORY_DEVICE) return RD_OK;
    if (ctx->backend == RD_BACKEND_CPU)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: the CPU backend renders into host memory only");
    size_t pixels = (size_t)c->width * (size_t)c->height;
    struct { const void *ptr; size_t bytes; const char *what; } outputs[] = {
        {t->color, pixels * 4 * sizeof(float), "rd_render: framebuffer color"},
        {t->depth, pixels * sizeof(float), "rd_render: framebuffer depth"},
        {t->transmittance, pixels * sizeof(float), "rd_render: framebuffer transmittance"},
        {t->contributors, pixels * sizeof(uint32_t), "rd_render: framebuffer contributors"}};
    for (size_t k = 0; k < sizeof outputs / sizeof outputs[0]; k++) {
        if (!outputs[k].ptr) continue;
        rd_result r = rd_backend_check_memory(ctx, outputs[k].ptr, outputs[k].bytes, outputs[k].what);
        if (r != RD_OK) return r;
    }
    return RD_OK;
}

/* The scene's renderer on the context's backend, after the checks that do not depend on
   the camera. */
static rd_result find_renderer(rd_context *ctx, const rd_scene *scene, const rd_render_desc *desc, rd_render_fn *out)
{
    if (!scene) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: scene is required");
    const rd_scene_head *head = rd_scene_head_of(scene);
    const rd_kind_ops *ops = rd_kind(head->kind);
    if (!ops) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: scene of unknown kind %d", (int)head->kind);
    if (ctx->backend == RD_BACKEND_CPU && head->memory != RD_MEMORY_HOST)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: the CPU backend cannot read a device-memory scene");
    *out = ops->backends[ctx->backend].render;
    if (!*out)
        return rd_fail(ctx, RD_ERROR_BACKEND_UNAVAILABLE, "rd_render: backend %s has no renderer for %s",
                       rd_backend_name(ctx->backend), ops->name);
    return ops->check_render ? ops->check_render(ctx, scene, desc) : RD_OK;
}

/* Sums a view's stats into the call's (the views of one scene report the same names). */
static void add_stats(rd_render_stats *total, const rd_render_stats *s)
{
    total->total_ms += s->total_ms;
    total->stage_count = s->stage_count;
    total->count_count = s->count_count;
    for (int k = 0; k < s->stage_count; k++) {
        total->stages[k].name = s->stages[k].name;
        total->stages[k].value += s->stages[k].value;
    }
    for (int k = 0; k < s->count_count; k++) {
        total->counts[k].name = s->counts[k].name;
        total->counts[k].value += s->counts[k].value;
    }
}

void rd_stats_set_stages(rd_render_stats *stats, const char *const *names, const double *ms, int count, double total_ms)
{
    if (count > RD_MAX_STATS) count = RD_MAX_STATS;
    stats->total_ms = total_ms;
    stats->stage_count = count;
    for (int k = 0; k < count; k++) stats->stages[k] = (rd_stat){names[k], ms[k]};
}

void rd_stats_add_count(rd_render_stats *stats, const char *name, double value)
{
    if (stats->count_count < RD_MAX_STATS) stats->counts[stats->count_count++] = (rd_stat){name, value};
}

static double stat_named(const rd_stat *stats, int count, const char *name)
{
    for (int k = 0; k < count; k++)
        if (stats[k].name && name && strcmp(stats[k].name, name) == 0) return stats[k].value;
    return 0.0;
}

double rd_render_stats_stage(const rd_render_stats *stats, const char *name)
{
    return stats ? stat_named(stats->stages, stats->stage_count, name) : 0.0;
}

double rd_render_stats_count(const rd_render_stats *stats, const char *name)
{
    return stats ? stat_named(stats->counts, stats->count_count, name) : 0.0;
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
    rd_render_fn render = NULL;
    rd_result r = find_renderer(ctx, scene, desc, &render);
    for (int v = 0; v < count && r == RD_OK; v++) {
        r = check_camera(ctx, &cameras[v]);
        if (r == RD_OK) r = check_target(ctx, &cameras[v], &targets[v]);
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
        r = render(ctx, scene, &cameras[v], desc, &targets[v], &stats);
        add_stats(&total, &stats);
    }
    if (r == RD_OK) ctx->last_stats = total;
    return r;
}

rd_result rd_render_backward(rd_context *ctx, const rd_scene *scene, int count, const rd_camera *cameras,
                             const rd_render_desc *desc, const rd_render_grads *outputs, const rd_scene_grads *grads)
{
    static const rd_render_desc defaults = {0};
    if (!ctx) return RD_ERROR_INVALID_ARGUMENT;
    if (!scene || !cameras || !outputs || !grads || count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "rd_render_backward: scene, at least one camera, its output gradients and the scene's gradients are required");
    if (!desc) desc = &defaults;
    rd_render_fn render = NULL;
    rd_result r = find_renderer(ctx, scene, desc, &render);
    if (r != RD_OK) return r;
    const rd_kind_ops *ops = rd_kind(rd_scene_head_of(scene)->kind);
    if (grads->kind != rd_scene_head_of(scene)->kind || !grads->params)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_backward: grads are for kind %d with params %s; the scene is %s",
                       (int)grads->kind, grads->params ? "given" : "NULL", ops->name);
    rd_backward_fn backward = ops->backends[ctx->backend].backward;
    if (!backward)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_render_backward: backend %s has no backward pass for %s yet",
                       rd_backend_name(ctx->backend), ops->name);
    bool host = ctx->backend == RD_BACKEND_CPU;
    for (int v = 0; v < count && r == RD_OK; v++) {
        r = check_camera(ctx, &cameras[v]);
        if (r == RD_OK && host && (outputs[v].memory != RD_MEMORY_HOST || grads->memory != RD_MEMORY_HOST))
            r = rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render_backward: the CPU backend reads and writes host memory only");
        if (r != RD_OK && count > 1) {
            char view[32];
            snprintf(view, sizeof view, "view %d", v);
            rd_error_prefix(ctx, view);
        }
    }
    for (int v = 0; v < count && r == RD_OK; v++)
        r = backward(ctx, scene, &cameras[v], desc, &outputs[v], grads, grads->w2c ? grads->w2c + 16 * v : NULL);
    return r;
}

void rd_render_last_stats(const rd_context *ctx, rd_render_stats *out)
{
    if (ctx && out) *out = ctx->last_stats;
}
