/* evaluate.c: a scene's PSNR on a split's photos (train, compact). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>

double cli_evaluate(rd_context *ctx, const rd_scene *scene, const rd_train_set *test, int limit, const float background[3],
                    cJSON *views)
{
    double sum = 0.0;
    int counted = 0;
    const rd_train_view *test_views = rd_train_set_views(test);
    for (int k = 0; k < rd_train_set_count(test) && k < limit; k++) {
        const rd_image *photo = test_views[k].image;
        rd_image render, truth;
        if (rd_image_alloc(photo->width, photo->height, 4, &render) != RD_OK) continue;
        rd_render_desc desc = {.background = {background[0], background[1], background[2]}, .time = test_views[k].time};
        if (rd_render(ctx, scene, &test_views[k].camera, &desc, &(rd_framebuffer){.color = render.pixels}) == RD_OK &&
            rd_image_composite(photo, background, &truth) == RD_OK) {
            rd_metrics m;
            if (rd_image_compare(ctx, &render, &truth, &m) == RD_OK) {
                sum += m.psnr, counted++;
                cJSON *entry = views ? cJSON_CreateObject() : NULL;
                if (entry) {
                    cJSON_AddStringToObject(entry, "name", rd_train_set_view_name(test, k));
                    cJSON_AddNumberToObject(entry, "psnr", m.psnr);
                    cJSON_AddNumberToObject(entry, "ssim", m.ssim);
                    cJSON_AddItemToArray(views, entry);
                }
            }
            rd_image_free(&truth);
        }
        rd_image_free(&render);
    }
    return counted ? sum / counted : NAN;
}
