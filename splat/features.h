/* features.h: feature fields (radiant_features.h; spec/features.md) inside the splat
   module: the field's arrays, a view of per-Gaussian slots that the field and the trainer
   both hand to the blend, and the CPU blend of coefficient maps with its backward pass.
   feature_field.c makes and checks fields, feature_file.c reads and writes .rfeat,
   feature_cpu.c blends, feature_render.c decodes and answers queries, feature_train.c
   learns slots and codebooks. */
#ifndef RD_FEATURES_H
#define RD_FEATURES_H

#include "splat_cpu.h"
#include "../compress/conventions.h" /* half floats */

#ifdef __cplusplus
extern "C" {
#endif

struct rd_feature_field {
    uint64_t uid;       /* unique in the process: what a GPU backend's copy recognises */
    int64_t count;
    int levels, L, K, dim;
    uint8_t *indices;   /* count*levels*K */
    uint16_t *weights;  /* count*levels*K, IEEE half */
    float *codebooks;   /* levels*L*dim */
};

/* Slots as the blend reads them: a stored field's (half weights) or a trainer's (float
   weights, from its logits each step). Slot j = (i*levels + level)*K + k. */
typedef struct rd_feature_slots {
    int64_t count;
    int levels, L, K;
    const uint8_t *indices;
    const uint16_t *half_weights; /* exactly one of these two */
    const float *weights;
} rd_feature_slots;

static inline float rd_feature_slot_weight(const rd_feature_slots *s, int64_t j)
{
    return s->weights ? s->weights[j] : rd_half_to_float(s->half_weights[j]);
}

rd_feature_slots rd_feature_field_slots(const rd_feature_field *field);

/* Why (levels, L, K, dim) is not a field's configuration, or NULL when it is. */
const char *rd_feature_config_problem(int levels, int L, int K, int dim, char *buf, size_t n);
/* A field with zeroed arrays; the configuration must pass rd_feature_config_problem. */
rd_result rd_feature_field_alloc(rd_context *ctx, int64_t count, int levels, int L, int K, int dim, rd_feature_field **out);
/* Why the slots are not a field's (an index past L, two slots of a Gaussian's level naming
   one entry, a weight negative or not finite), naming the first bad slot, or NULL. */
const char *rd_feature_slots_problem(const rd_feature_slots *slots, char *buf, size_t n);

/* The coefficient maps of one view on the CPU: coefficients (width*height*levels*L, may be
   NULL) and alpha (width*height, may be NULL). The blend (sparse or dense per the context's
   tuning) runs on the frame rd_cpu_frame_prepare made of the scene. */
rd_result rd_feature_coefficients_cpu(rd_context *ctx, const rd_cpu_frame *frame, const rd_feature_slots *slots,
                                      float *coefficients, float *alpha);
/* The backward pass of that blend with the geometry frozen: given dL/dW (as coefficients),
   ADDS dL/d(slot weight) into weight_grad (count*levels*K), summed in a fixed order. */
rd_result rd_feature_coefficients_backward_cpu(rd_context *ctx, const rd_cpu_frame *frame, const rd_feature_slots *slots,
                                               const float *coefficient_grad, float *weight_grad);

/* Queries as a GPU takes them: each embedding's u = D e (levels*(queries + negatives)*L,
   queries first), made on the host (the backend keeps each level's G = D D^T with the
   field's copy). The backend answers them wholly: each query's level (1-based, host, may
   be NULL) chosen as the spec's protocol does (rd_relevancy_smooth's r' peaks highest) and
   its relevancy at that level (query_count*pixels, in the outputs' memory; may be NULL). */
typedef struct rd_feature_queries {
    const float *projected;
    int query_count, negative_count;
    float *relevancy;
    int *levels;
} rd_feature_queries;

/* What a GPU renders of a field: the coefficient maps and alpha, each query's relevancy,
   one level's unit features (float or half); host memory, or the caller's device memory
   where memory says so; NULL where not wanted. */
typedef struct rd_feature_gpu_outputs {
    float *coefficients, *alpha;
    rd_memory memory;
    const rd_feature_queries *queries;
    void *features;
    int level;                          /* the features', 0-based */
    uint32_t half_features;
} rd_feature_gpu_outputs;

/* The level choice on the device (feature_cuda_levels.cu): scores holds each query's
   relevancy at every level (query_count*levels planes of width*height, device memory);
   chosen gets each query's level, 1-based, and relevancy (may be NULL) its map there, both
   device memory. row_sums (as many doubles as scores has floats) and peaks
   (query_count*levels floats) are scratch. */
typedef struct rd_feature_choice {
    const float *scores;
    int query_count, levels, width, height;
    double *row_sums;
    float *peaks;
    float *relevancy;
    int *chosen;
} rd_feature_choice;
rd_result rd_feature_choose_levels_cuda(rd_context *ctx, void *stream, const rd_feature_choice *choice);

/* The outputs on Vulkan (feature_vk.c): the splat frame's binning, then a blend a level at
   a time, then the relevancy and the decode on the device; only what was asked comes back;
   stats as the splat frame's. */
rd_result rd_feature_outputs_vk(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_feature_field *field,
                                const rd_feature_gpu_outputs *out, rd_render_stats *stats);

/* The same outputs on CUDA (feature_cuda.cu), on stream (NULL: the context's), which it
   waits for. */
rd_result rd_feature_outputs_cuda(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_feature_field *field,
                                  const rd_feature_gpu_outputs *out, void *stream, rd_render_stats *stats);

/* Each level's G = D D^T (levels*L*L floats, summed in double): the relevancy's and the
   decode's |F|^2 = W^T G W. GPU backends make it once per field, at upload. */
void rd_feature_gram(const rd_feature_field *field, float *gram);

/* One tile's blend (feature_cpu.c), for renderers that finish a tile at a time: the
   tile's pixels row by row into out (pixels*levels*L) and alpha (pixels). */
void rd_feature_blend_tile(const rd_cpu_frame *frame, const rd_feature_slots *slots, int64_t tile, bool dense, float *scratch,
                           float *out, float *alpha);
/* Floats of scratch rd_feature_blend_tile needs for the frame's longest tile (the dense
   blend spreads each Gaussian's slots over levels*L more). */
size_t rd_feature_tile_scratch(const rd_cpu_frame *frame, const rd_feature_slots *slots, bool dense);

#ifdef __cplusplus
}
#endif
#endif
