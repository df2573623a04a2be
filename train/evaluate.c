/* evaluate.c: a scene's PSNR and SSIM on views with photos (rd_scene_evaluate,
   radiant_train.h): what `radiant train` and `radiant compact` report, and what a tool
   driving a trainer asks between its steps. */
#include "../renderer/internal.h"

/* One view: rendered at its time on background, against its photo composited on it. */
static rd_result evaluate_view(rd_context *ctx, const rd_scene *scene, const rd_train_view *view, int k, const float background[3],
                               rd_metrics *out)
{
    const rd_image *photo = view->image;
    if (!photo || !photo->pixels)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_evaluate: view %d has no photo", k);
    if (photo->width != view->camera.width || photo->height != view->camera.height)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_evaluate: view %d: the photo is %dx%d, its camera %dx%d", k,
                       photo->width, photo->height, view->camera.width, view->camera.height);
    rd_image render = {0}, truth = {0};
    rd_result r = rd_image_alloc(photo->width, photo->height, 4, &render);
    if (r != RD_OK) return rd_fail(ctx, r, "rd_scene_evaluate: view %d: out of memory for its %dx%d render", k, photo->width, photo->height);
    rd_render_desc desc = {.background = {background[0], background[1], background[2]}, .time = view->time};
    r = rd_render(ctx, scene, &view->camera, &desc, &(rd_framebuffer){.color = render.pixels});
    if (r == RD_OK && (r = rd_image_composite(photo, background, &truth)) != RD_OK)
        r = rd_fail(ctx, r, "rd_scene_evaluate: view %d: its photo could not be composited on the background", k);
    if (r == RD_OK) r = rd_image_compare(ctx, &render, &truth, out);
    rd_image_free(&truth), rd_image_free(&render);
    return r;
}

rd_result rd_scene_evaluate(rd_context *ctx, const rd_scene *scene, const rd_evaluate_desc *desc, rd_metrics *mean)
{
    if (!scene || !desc || !mean || !desc->views || desc->view_count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_evaluate: %s", !scene ? "scene is NULL" : !desc ? "desc is NULL"
                                                                                      : !mean ? "mean is NULL"
                                                                                              : "no views to evaluate");
    rd_metrics sum = {0};
    for (int k = 0; k < desc->view_count; k++) {
        rd_metrics m;
        rd_result r = evaluate_view(ctx, scene, &desc->views[k], k, desc->background, &m);
        if (r != RD_OK) return r;
        if (desc->per_view) desc->per_view[k] = m;
        sum.psnr += m.psnr, sum.ssim += m.ssim, sum.mse += m.mse;
    }
    *mean = (rd_metrics){sum.psnr / desc->view_count, sum.ssim / desc->view_count, sum.mse / desc->view_count};
    return RD_OK;
}
