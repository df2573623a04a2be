/* train4d_checkpoint.c: the 4D trainer's checkpoints, in train_checkpoint.c's container
   (magic "RDTRN4D1"): the view order, the scene's five arrays, each group's first then
   second moments, the gradient statistic and views seen. The period is the views' (the
   trainer is made with the same views), so it is not stored. */
#include "train4d.h"

#include <stdlib.h>
#include <string.h>

enum { PIECES = 1 + 5 + 2 * GROUPS4 + 2 };

static void pieces_of(rd_scene4d *s, trainer_arrays *a, int *order, int views, checkpoint_piece out[PIECES])
{
    size_t n = (size_t)s->count, shf = (size_t)rd_scene4d_sh_floats(s->sh_degree, s->time_degree);
    int k = 0;
    out[k++] = (checkpoint_piece){order, (size_t)views * sizeof(int)};
    out[k++] = (checkpoint_piece){s->means, 4 * n * sizeof(float)};
    out[k++] = (checkpoint_piece){s->log_scales, 4 * n * sizeof(float)};
    out[k++] = (checkpoint_piece){s->rotations, 8 * n * sizeof(float)};
    out[k++] = (checkpoint_piece){s->opacities, n * sizeof(float)};
    out[k++] = (checkpoint_piece){s->sh, shf * n * sizeof(float)};
    for (int g = 0; g < GROUPS4; g++) out[k++] = (checkpoint_piece){a->m[g], a->sizes[g] * sizeof(float)};
    for (int g = 0; g < GROUPS4; g++) out[k++] = (checkpoint_piece){a->v[g], a->sizes[g] * sizeof(float)};
    out[k++] = (checkpoint_piece){a->grad_norm, n * sizeof(float)};
    out[k++] = (checkpoint_piece){a->views_seen, n * sizeof(uint32_t)};
}

rd_result rd_trainer4d_save_checkpoint(rd_trainer4d *t, const char *path)
{
    rd_result synced = rd_trainer4d_sync_host(t);
    if (synced != RD_OK) return synced;
    checkpoint_piece pieces[PIECES];
    pieces_of(t->scene, &t->a, t->order, t->view_count, pieces);
    checkpoint_head head = {(uint32_t)t->max_degree, t->scene->count, t->iteration, t->view_count, t->order_at,
                            (uint32_t)t->max_time_degree, t->rng.state};
    return rd_checkpoint_write(t->ctx, path, RD_CHECKPOINT_MAGIC_4D, &head, pieces, PIECES);
}

rd_result rd_trainer4d_load_checkpoint(rd_trainer4d *t, const char *path)
{
    checkpoint_head head;
    char *file = NULL;
    size_t bytes = 0;
    rd_result r = rd_checkpoint_open(t->ctx, path, RD_CHECKPOINT_MAGIC_4D, &head, &file, &bytes);
    if (r != RD_OK) return r;
    int64_t count = head.count;
    if ((int)head.degree != t->max_degree || (int)head.flags != t->max_time_degree || head.views != t->view_count)
        r = rd_fail(t->ctx, RD_ERROR_INVALID_ARGUMENT, "%s: a run with SH degree %u, time degree %u and %d views; this one has %d, %d and %d",
                    path, head.degree, head.flags, head.views, t->max_degree, t->max_time_degree, t->view_count);
    if (r == RD_OK) { /* the payload's size follows from count: it must be exactly what is there */
        size_t per = (4 + 4 + 8 + 1 + (size_t)rd_scene4d_sh_floats(t->max_degree, t->max_time_degree) + 2) * sizeof(float);
        for (int g = 0; g < GROUPS4; g++) per += 2 * sizeof(float) * (size_t)rd_trainer4d_group_width(t, g);
        size_t need = (size_t)head.views * sizeof(int) + per * (size_t)count;
        if ((uint64_t)count > bytes / per || need != bytes)
            r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: %zu payload bytes for %lld 4D Gaussians, %zu expected", path, bytes,
                        (long long)count, need);
    }
    rd_scene4d *s = NULL;
    trainer_arrays a = {0};
    int *order = NULL;
    if (r == RD_OK) r = rd_scene4d_alloc(t->ctx, count, t->max_degree, t->max_time_degree, t->scene->time_period, &s);
    if (r == RD_OK && (!rd_trainer4d_arrays_alloc(t, count, &a) || !(order = calloc((size_t)head.views + 1, sizeof(int)))))
        r = rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for %lld 4D Gaussians", path, (long long)count);
    if (r == RD_OK) {
        checkpoint_piece pieces[PIECES];
        pieces_of(s, &a, order, head.views, pieces);
        rd_checkpoint_unpack(file, pieces, PIECES);
        rd_scene4d_refresh(t->ctx, s);
        rd_scene_destroy((rd_scene *)t->scene);
        t->scene = s;
        rd_trainer_arrays_free(&t->a);
        t->a = a;
        free(t->order);
        t->order = order;
        t->iteration = head.iteration, t->order_at = head.order_at, t->rng.state = head.rng;
        t->host_stale = false;
        r = rd_trainer4d_sync_device(t);
    } else {
        rd_scene_destroy((rd_scene *)s);
        rd_trainer_arrays_free(&a);
        free(order);
    }
    free(file);
    return r;
}
