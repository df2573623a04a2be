/* compact_importance.c: how much each Gaussian matters, for pruning (radiant_compact.h).
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

rd_result rd_compact_importance(rd_context *ctx, const rd_scene *scene, const rd_compact_arrays *a, const rd_compact_desc *desc,
                                float *importance)
{
    if (!desc->views || desc->view_count <= 0) {
        view_free(a, importance);
        return RD_OK;
    }
    int shf = rd_compact_sh_floats(a);
    float *sh_grad = rd_alloc_array(a->count > 0 ? a->count : 1, (size_t)shf * sizeof(float));
    if (!sh_grad) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: no memory for the importance of %lld Gaussians", (long long)a->count);
    for (int64_t k = 0; k < a->count * shf; k++) sh_grad[k] = 0.0f;
    rd_gaussian_grads g3 = {.sh = sh_grad};
    rd_gaussian4d_grads g4 = {.sh = sh_grad};
    rd_scene_grads grads = {a->four_d ? RD_SCENE_GAUSSIANS_4D : RD_SCENE_GAUSSIANS, a->four_d ? (const void *)&g4 : (const void *)&g3,
                            NULL, RD_MEMORY_HOST};
    rd_result r = RD_OK;
    float *color = NULL, *ones = NULL;
    size_t pixels = 0;
    for (int v = 0; v < desc->view_count && r == RD_OK; v++) {
        const rd_camera *cam = &desc->views[v].camera;
        size_t need = (size_t)cam->width * (size_t)cam->height;
        if (need > pixels) {
            free(color), free(ones);
            color = rd_alloc_array((int64_t)need, 4 * sizeof(float)), ones = rd_alloc_array((int64_t)need, 4 * sizeof(float));
            if (!color || !ones) {
                r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: no memory for a %dx%d view", cam->width, cam->height);
                break;
            }
            for (size_t p = 0; p < need; p++) ones[4 * p] = ones[4 * p + 1] = ones[4 * p + 2] = 1.0f, ones[4 * p + 3] = 0.0f;
            pixels = need;
        }
        rd_render_desc rdesc = {.flags = RD_RENDER_FOR_BACKWARD | RD_RENDER_SCENE_FLAGS, .time = desc->views[v].time};
        r = rd_render(ctx, scene, cam, &rdesc, &(rd_framebuffer){.color = color});
        if (r == RD_OK)
            r = rd_render_backward(ctx, scene, 1, cam, &rdesc, &(rd_render_grads){.color = ones}, &grads);
        if (r != RD_OK) rd_error_prefix(ctx, "compact: importance");
    }
    for (int64_t i = 0; r == RD_OK && i < a->count; i++) {
        const float *d = sh_grad + (size_t)i * (size_t)shf;
        float w = fmaxf(d[0], fmaxf(d[1], d[2])) / RD_SH_C0;
        importance[i] = isfinite(w) && w > 0.0f ? w : 0.0f;
    }
    free(color), free(ones), free(sh_grad);
    return r;
}
