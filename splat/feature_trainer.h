/* feature_trainer.h: the feature trainer's state (feature_train.c), which its checkpoint
   (feature_checkpoint.c) writes and reads whole; on CUDA its device copy
   (feature_train_cuda.cu), which holds the state between the host's reads. */
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
    struct rd_feature_train_cuda *cuda;              /* the state on the device; NULL on the CPU */
};

#ifdef __cplusplus
extern "C" {
#endif

/* A step's loss on one view and its gradients (logit_grad, code_grad), the parameters left
   as they are: the step before Adam, which the tests check against finite differences. */
rd_result rd_feature_trainer_gradients(rd_feature_trainer *t, int view, double *loss);

/* The host's copy of the state brought up to date from the device, or the device's from
   the host (after a checkpoint loads); nothing on the CPU backend. */
rd_result rd_feature_trainer_sync(rd_feature_trainer *t, bool to_host);

/* The trainer on CUDA (feature_train_cuda.cu): create copies the host's state to the device
   (t->cuda; the caller destroys the trainer on failure); gradients runs a step's stages up
   to the logits' and codebooks' gradients, which stay on the device; adam updates both at
   t->step; sync copies the state (logits, codebooks and their moments; with gradients the
   two gradients instead) to the host or from it. */
rd_result rd_feature_train_cuda_create(rd_feature_trainer *t);
void rd_feature_train_cuda_destroy(rd_feature_trainer *t);
rd_result rd_feature_train_cuda_gradients(rd_feature_trainer *t, int view, double *loss);
rd_result rd_feature_train_cuda_adam(rd_feature_trainer *t);
rd_result rd_feature_train_cuda_sync(rd_feature_trainer *t, bool to_host, bool gradients);

#ifdef __cplusplus
}
#endif

#endif
