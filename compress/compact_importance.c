/* compact_importance.c: how much each Gaussian matters, for pruning (radiant_compact.h).
   With photos and RD_COMPACT_IMPORTANCE_GRADIENTS: OMG4's sampling score (spec/dynamic.md).
   With views: LightGaussian's global significance, the sum over the views' pixels of the
   weight alpha * T the Gaussian's colour gets there. That is the derivative of the summed
   image colour by the Gaussian's DC colour, so the renderer's own backward pass of an
   all-ones colour gradient gives it on every backend that has one: the DC coefficient's
   gradient divided by SH_C0 (the largest of the three channels, as a channel whose colour
   was clamped at 0 passes none). Without views: opacity times the area of the largest
   cross-section, and for a 4D Gaussian times its time scale (how long it is seen). */
#include "compact.h"
#include "../renderer/internal.h"
#include "../splat/scene.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double rd_compact_l1_gradient(const float *render, const rd_image *photo, const float background[3], float *grad)
{
    size_t pixels = (size_t)photo->width * photo->height;
    double loss = 0.0, scale = 1.0 / (3.0 * (double)pixels);
    for (size_t p = 0; p < pixels; p++) {
        for (int c = 0; c < 3; c++) {
            float d = render[4 * p + c] - rd_compact_photo_value(photo, p, c, background);
            loss += fabs(d) * scale;
            grad[4 * p + c] = (float)(d > 0 ? scale : d < 0 ? -scale : 0.0);
        }
        grad[4 * p + 3] = 0.0f;
    }
    return loss;
}

static void view_free(const rd_compact_arrays *a, float *importance)
{
    int m = rd_compact_mean_floats(a);
    for (int64_t i = 0; i < a->count; i++) {
        const float *ls = a->log_scales + (size_t)i * (size_t)m;
        float lo = fminf(ls[0], fminf(ls[1], ls[2])), area = ls[0] + ls[1] + ls[2] - lo; /* the two largest, as logs */
        float score = rd_sigmoid(a->opacities[i]) * expf(area);
        if (a->four_d) score *= fminf(expf(ls[3]), a->time_period > 0.0f ? a->time_period : 1.0f);
        importance[i] = isfinite(score) ? score : 0.0f;
    }
}

rd_result rd_compact_render_view(rd_context *ctx, const rd_scene *scene, const rd_train_view *view, const float background[3],
                                 rd_compact_frame *frame)
{
    size_t need = (size_t)view->camera.width * (size_t)view->camera.height;
    if (need > frame->pixels) {
        rd_compact_frame_free(frame);
        frame->color = rd_alloc_array((int64_t)need, 4 * sizeof(float)), frame->grad = rd_alloc_array((int64_t)need, 4 * sizeof(float));
        if (!frame->color || !frame->grad)
            return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: no memory for a %dx%d view", view->camera.width, view->camera.height);
        frame->pixels = need;
    }
    frame->desc = (rd_render_desc){.flags = RD_RENDER_FOR_BACKWARD | RD_RENDER_SCENE_FLAGS, .time = view->time,
                                   .background = {background[0], background[1], background[2]}};
    return rd_render(ctx, scene, &view->camera, &frame->desc, &(rd_framebuffer){.color = frame->color});
}

void rd_compact_frame_free(rd_compact_frame *frame)
{
    free(frame->color), free(frame->grad);
    *frame = (rd_compact_frame){0};
}

/* v's minmax-normalised value (0 where all are equal). */
static void minmax(float *v, int64_t n)
{
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) lo = fminf(lo, v[i]), hi = fmaxf(hi, v[i]);
    for (int64_t i = 0; i < n; i++) v[i] = hi > lo ? (v[i] - lo) / (hi - lo) : 0.0f;
}

/* The views' passes: each rendered, then the backward pass of an all-ones colour gradient
   (significance: the DC gradients sum the colour weights) or of the L1 loss against the
   view's photo (gradients: |dL/d 2D mean| and |dL/d mu_t| summed per view). */
static rd_result from_views(rd_context *ctx, const rd_scene *scene, const rd_compact_arrays *a, const rd_compact_desc *desc,
                            bool gradients, float *importance)
{
    int shf = rd_compact_sh_floats(a), m = rd_compact_mean_floats(a);
    int64_t n = a->count > 0 ? a->count : 1;
    float *sh_grad = gradients ? NULL : rd_alloc_array(n, (size_t)shf * sizeof(float));
    float *mean_grad = gradients ? rd_alloc_array(n, (size_t)m * sizeof(float)) : NULL;
    float *g_view = gradients ? rd_alloc_array(n, sizeof(float)) : NULL, *g_t = gradients ? rd_alloc_array(n, sizeof(float)) : NULL;
    if (gradients ? !mean_grad || !g_view || !g_t : !sh_grad) {
        free(sh_grad), free(mean_grad), free(g_view), free(g_t);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: no memory for the importance of %lld Gaussians", (long long)a->count);
    }
    if (sh_grad) memset(sh_grad, 0, (size_t)n * (size_t)shf * sizeof(float));
    if (gradients) memset(g_view, 0, (size_t)n * sizeof(float)), memset(g_t, 0, (size_t)n * sizeof(float));
    rd_gaussian_grads g3 = {.sh = sh_grad, .means = mean_grad, .mean2d_norm = g_view};
    rd_gaussian4d_grads g4 = {.sh = sh_grad, .means = mean_grad, .mean2d_norm = g_view};
    rd_scene_grads grads = {a->four_d ? RD_SCENE_GAUSSIANS_4D : RD_SCENE_GAUSSIANS, a->four_d ? (const void *)&g4 : (const void *)&g3,
                            NULL, RD_MEMORY_HOST};
    rd_result r = RD_OK;
    rd_compact_frame frame = {0};
    int used = 0;
    for (int v = 0; v < desc->view_count && r == RD_OK; v++) {
        const rd_train_view *view = &desc->views[v];
        if (gradients && !view->image) continue;
        r = rd_compact_render_view(ctx, scene, view, desc->background, &frame);
        if (r == RD_OK && gradients) {
            rd_compact_l1_gradient(frame.color, view->image, desc->background, frame.grad);
            memset(mean_grad, 0, (size_t)n * (size_t)m * sizeof(float));
        } else if (r == RD_OK) {
            for (size_t p = 0; p < (size_t)view->camera.width * view->camera.height; p++)
                frame.grad[4 * p] = frame.grad[4 * p + 1] = frame.grad[4 * p + 2] = 1.0f, frame.grad[4 * p + 3] = 0.0f;
        }
        if (r == RD_OK)
            r = rd_render_backward(ctx, scene, 1, &view->camera, &frame.desc, &(rd_render_grads){.color = frame.grad}, &grads);
        if (r != RD_OK) rd_error_prefix(ctx, "compact: importance");
        for (int64_t i = 0; r == RD_OK && gradients && a->four_d && i < a->count; i++) g_t[i] += fabsf(mean_grad[(size_t)i * m + 3]);
        used++;
    }
    if (r == RD_OK && gradients && !used)
        r = rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "compact: importance by gradients needs views with photos (none given)");
    if (r == RD_OK && gradients) { /* OMG4: minmax(g_view) * minmax(g_t) */
        minmax(g_view, a->count);
        if (a->four_d) minmax(g_t, a->count);
        for (int64_t i = 0; i < a->count; i++) importance[i] = g_view[i] * (a->four_d ? g_t[i] : 1.0f);
    }
    for (int64_t i = 0; r == RD_OK && !gradients && i < a->count; i++) {
        const float *d = sh_grad + (size_t)i * (size_t)shf;
        float w = fmaxf(d[0], fmaxf(d[1], d[2])) / RD_SH_C0;
        importance[i] = isfinite(w) && w > 0.0f ? w : 0.0f;
    }
    rd_compact_frame_free(&frame);
    free(sh_grad), free(mean_grad), free(g_view), free(g_t);
    return r;
}

rd_result rd_compact_rank(rd_context *ctx, const rd_scene *scene, const rd_compact_arrays *a, const rd_compact_desc *desc,
                                float *importance)
{
    if (desc->importance == RD_COMPACT_IMPORTANCE_GRADIENTS) return from_views(ctx, scene, a, desc, true, importance);
    if (desc->views && desc->view_count > 0) return from_views(ctx, scene, a, desc, false, importance);
    view_free(a, importance);
    return RD_OK;
}
