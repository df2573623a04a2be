/* train_from_set.c: a Gaussian trainer on a dataset's views (rd_trainer_create_from_set,
   radiant_train.h), started from what the set offers. */
#include "trainer.h"

rd_result rd_trainer_create_from_set(rd_context *ctx, const rd_train_set *train, const rd_trainer_desc *desc, rd_trainer **out)
{
    if (!train || !desc) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create_from_set: train and desc are required");
    if (rd_train_set_count(train) == 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_trainer_create_from_set: the dataset's split has no views with images");
    rd_trainer_desc d = *desc;
    d.views = rd_train_set_views(train), d.view_count = rd_train_set_count(train);
    const float *xyz, *rgb;
    int64_t points = rd_train_set_points(train, &xyz, &rgb);
    d.points = points ? xyz : NULL, d.colors = points ? rgb : NULL;
    if (points) d.point_count = points;
    rd_train_set_box(train, d.box_min, d.box_max);
    return rd_trainer_create(ctx, &d, out);
}
