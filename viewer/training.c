/* training.c: radiant-view's training thread (training.h). */
#include "training.h"
#include "viewer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Steps between snapshots: a stop waits for the chunk in progress, and a CPU step of a
   full-size photo takes a good part of a second. */
static int chunk_for(const rd_context *ctx) { return rd_context_backend(ctx) == RD_BACKEND_CUDA ? 100 : 10; }

static void free_snapshot(rd_scene_desc *s)
{
    free((void *)s->means), free((void *)s->log_scales), free((void *)s->rotations), free((void *)s->opacities), free((void *)s->sh);
    memset(s, 0, sizeof *s);
}

/* A copy of the trainer's scene, made while the lock is not held (the render thread only
   waits for the swap). */
static bool copy_scene(const rd_scene *scene, rd_scene_desc *out)
{
    rd_scene_desc a = rd_scene_arrays(scene);
    size_t n = (size_t)a.count, K = (size_t)(a.sh_degree + 1) * (size_t)(a.sh_degree + 1);
    const float *src[5] = {a.means, a.log_scales, a.rotations, a.opacities, a.sh};
    size_t floats[5] = {3 * n, 3 * n, 4 * n, n, 3 * K * n};
    float *dst[5];
    bool ok = true;
    for (int k = 0; k < 5; k++) {
        dst[k] = malloc(floats[k] * sizeof(float) + 4);
        ok = ok && dst[k];
        if (dst[k] && floats[k]) memcpy(dst[k], src[k], floats[k] * sizeof(float));
    }
    *out = (rd_scene_desc){a.count, a.sh_degree, dst[0], dst[1], dst[2], dst[3], dst[4], RD_MEMORY_HOST, a.flags};
    if (!ok) free_snapshot(out);
    return ok;
}

static void fail(vw_training *t, rd_context *ctx, const char *what)
{
    pthread_mutex_lock(&t->lock);
    t->status.failed = true, t->status.running = false;
    snprintf(t->status.message, sizeof t->status.message, "training: %s%s%s", what, ctx ? ": " : "", ctx ? rd_last_error(ctx) : "");
    pthread_mutex_unlock(&t->lock);
    vw_log(RD_LOG_ERROR, t->status.message, NULL);
}

static void *train_thread(void *arg)
{
    vw_training *t = arg;
    rd_context *ctx = NULL;
    rd_train_set *set = NULL;
    rd_trainer *trainer = NULL;
    /* CUDA where there is a GPU (probed without a log: its absence is no error), else the CPU */
    rd_context_desc desc = {.backend = RD_BACKEND_CUDA};
    if (rd_context_create(&desc, &ctx) != RD_OK) desc.backend = RD_BACKEND_CPU;
    rd_context_destroy(ctx);
    ctx = NULL;
    desc.log = vw_log;
    if (rd_context_create(&desc, &ctx) != RD_OK) {
        fail(t, NULL, "cannot create a context");
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    snprintf(t->status.backend, sizeof t->status.backend, "%s", rd_backend_name(rd_context_backend(ctx)));
    pthread_mutex_unlock(&t->lock);
    if (rd_train_set_load(ctx, t->dataset, &(rd_train_set_desc){.split = "train", .downscale = t->downscale}, &set) != RD_OK)
        fail(t, ctx, t->dataset);
    else if (rd_trainer_create_from_set(ctx, set, &(rd_trainer_desc){.iterations = t->iterations, .densify = true}, &trainer) != RD_OK)
        fail(t, ctx, "cannot start");
    rd_train_set_destroy(set);
    for (bool go = trainer != NULL; go;) {
        rd_train_stats stats;
        int left = t->iterations - t->status.iteration; /* only this thread writes the iteration */
        if (rd_trainer_step(trainer, left < chunk_for(ctx) ? left : chunk_for(ctx), &stats) != RD_OK) {
            fail(t, ctx, "step");
            break;
        }
        rd_scene_desc copy;
        bool copied = copy_scene(rd_trainer_scene(trainer), &copy);
        pthread_mutex_lock(&t->lock);
        if (copied) {
            free_snapshot(&t->snapshot);
            t->snapshot = copy, t->fresh = true;
        }
        t->status.iteration = stats.iteration, t->status.loss = stats.loss, t->status.gaussians = stats.gaussians;
        go = !t->stop && stats.iteration < t->iterations;
        t->status.running = go;
        pthread_mutex_unlock(&t->lock);
    }
    rd_trainer_destroy(trainer);
    rd_context_destroy(ctx);
    return NULL;
}

bool vw_training_start(vw_training *t, const char *dataset, int downscale, int iterations)
{
    memset(t, 0, sizeof *t);
    pthread_mutex_init(&t->lock, NULL);
    t->dataset = strdup(dataset);
    t->downscale = downscale > 0 ? downscale : 1;
    t->iterations = t->status.iterations = iterations > 0 ? iterations : 30000;
    t->status.running = true;
    t->started = t->dataset && pthread_create(&t->thread, NULL, train_thread, t) == 0;
    if (!t->started) {
        t->status.running = false, t->status.failed = true;
        snprintf(t->status.message, sizeof t->status.message, "training: cannot start its thread");
    }
    return t->started;
}

void vw_training_take(vw_training *t, rd_context *ctx, rd_scene **scene, vw_training_status *status)
{
    *scene = NULL;
    pthread_mutex_lock(&t->lock);
    rd_scene_desc snapshot = t->snapshot;
    bool fresh = t->fresh;
    if (fresh) memset(&t->snapshot, 0, sizeof t->snapshot), t->fresh = false;
    *status = t->status;
    pthread_mutex_unlock(&t->lock);
    if (!fresh) return;
    if (rd_scene_create(ctx, &snapshot, scene) != RD_OK) *scene = NULL; /* the next snapshot may do */
    free_snapshot(&snapshot);
}

void vw_training_stop(vw_training *t)
{
    if (!t->dataset && !t->started) return; /* never started */
    if (t->started) {
        pthread_mutex_lock(&t->lock);
        t->stop = true;
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
    }
    free_snapshot(&t->snapshot);
    free(t->dataset);
    pthread_mutex_destroy(&t->lock);
    memset(t, 0, sizeof *t);
}
