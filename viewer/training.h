/* training.h: radiant-view --train DATASET: a thread of its own fits a scene to the
   dataset's train split (rd_trainer on a context of its own: CUDA where there is a GPU,
   else the CPU) and hands the render thread a copy of the scene every 100 steps (10 on the
   CPU), which it shows in place of the last (CUDA's state comes through the host here). */
#ifndef VW_TRAINING_H
#define VW_TRAINING_H

#include "radiant.h"

#include <pthread.h>
#include <stdbool.h>

typedef struct vw_training_status {
    int iteration, iterations;
    double loss;
    int64_t gaussians;
    bool running, failed;
    char backend[16];
    char message[256]; /* why it failed */
} vw_training_status;

typedef struct vw_training {
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;     /* what follows */
    vw_training_status status;
    rd_scene_desc snapshot;   /* host arrays (malloc'd), the scene as of status.iteration */
    bool fresh;               /* a snapshot not taken yet */
    bool stop;
    /* the thread's own */
    char *dataset;
    int downscale, iterations;
} vw_training;

/* Starts training on the dataset (downscale: its photos averaged down; iterations: 0 for
   the recipe's 30,000). False (with status.message) where the thread cannot start. */
bool vw_training_start(vw_training *t, const char *dataset, int downscale, int iterations);
/* The newest snapshot as a scene in ctx, where there is one since the last call (*scene
   NULL otherwise), and the status as of now. */
void vw_training_take(vw_training *t, rd_context *ctx, rd_scene **scene, vw_training_status *status);
/* Stops the thread (after the steps in progress) and frees everything. */
void vw_training_stop(vw_training *t);

#endif
