/* evaluate.c: a scene's PSNR on a split's photos (train, compact), each view's in views'
   JSON where asked (rd_scene_evaluate). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

double cli_evaluate(rd_context *ctx, const rd_scene *scene, const rd_train_set *test, int limit, const float background[3],
                    cJSON *views)
{
    int n = rd_train_set_count(test) < limit ? rd_train_set_count(test) : limit;
    rd_metrics mean, *each = n > 0 ? calloc((size_t)n, sizeof *each) : NULL;
    rd_evaluate_desc desc = {rd_train_set_views(test), n, {background[0], background[1], background[2]}, each};
    bool ok = each && rd_scene_evaluate(ctx, scene, &desc, &mean) == RD_OK;
    for (int k = 0; ok && views && k < n; k++) {
        cJSON *entry = cJSON_CreateObject();
        if (!entry) break;
        cJSON_AddStringToObject(entry, "name", rd_train_set_view_name(test, k));
        cJSON_AddNumberToObject(entry, "psnr", each[k].psnr);
        cJSON_AddNumberToObject(entry, "ssim", each[k].ssim);
        cJSON_AddItemToArray(views, entry);
    }
    free(each);
    return ok ? mean.psnr : NAN;
}
