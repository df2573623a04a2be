/* feature_trainer.h: the feature trainer's state (feature_train.c), which its checkpoint
   (feature_checkpoint.c) writes and reads whole. */
#ifndef RD_FEATURE_TRAINER_H
#define RD_FEATURE_TRAINER_H

#include "features.h"
#include "../renderer/random.h"

struct rd_feature_trainer {
    rd_context *ctx;
    const rd_scene *scene;
    rd_feature_trainer_desc desc;
    int levels, L, K, dim, step;
    rd_rng rng;
    int64_t count;
    float *logits, *logit_m, *logit_v, *logit_grad;  /* count*levels*L */
    float *codebooks, *code_m, *code_v, *code_grad;  /* levels*L*dim */
    uint8_t *indices;                                /* count*levels*K: the step's slots */
    float *weights, *weight_grad;
    float *W, *W_grad;                               /* the largest view's pixels*levels*L */
    float *dF, *pixel_loss;                          /* CHUNK*levels*dim, CHUNK*levels */
};

/* A step's loss on one view and its gradients (logit_grad, code_grad), the parameters left
   as they are: the step before Adam, which the tests check against finite differences. */
rd_result rd_feature_trainer_gradients(rd_feature_trainer *t, int view, double *loss);

#endif
