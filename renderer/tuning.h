/* tuning.h: the variant choices of the backends (block sizes, paths), in one struct that
   a context keeps. Zero means "as the device suggests"; the tests set fields to run every
   variant (rd_context_create_tuned), and environment variables override them for
   experiments, read in one place (rd_tuning_from_env). Each field's comment names the
   code that decides its default. */
#ifndef RD_TUNING_H
#define RD_TUNING_H

#include "radiant.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { RD_TILE_ORDER_LONGEST = 1, RD_TILE_ORDER_ROWS };            /* rd_tuning.vk_tile_order */
enum { RD_SORT_SINGLE_PASS = 1, RD_SORT_REDUCE_THEN_SCAN };        /* rd_tuning.vk_sort_path */
enum { RD_SORT_RANK_BALLOTS = 1, RD_SORT_RANK_PARTITIONED };       /* rd_tuning.vk_sort_rank */
enum { RD_EMIT_PAIRS = 1, RD_EMIT_BLOCKS };                        /* rd_tuning.vk_emit */
enum { RD_LONG_TILES_NEVER = 1, RD_LONG_TILES_ALL };               /* rd_tuning.cuda_long_tiles */
enum { RD_DEPENDENT_LAUNCH_OFF = 1, RD_DEPENDENT_LAUNCH_ON };      /* rd_tuning.cuda_dependent_launch */
enum { RD_FEATURE_BLEND_SPARSE = 1, RD_FEATURE_BLEND_DENSE };      /* rd_tuning.feature_blend */
enum { RD_RELEVANCY_GRAM = 1, RD_RELEVANCY_DECODE };               /* rd_tuning.feature_relevancy */
enum { RD_FEATURE_DECODE_CORES = 1, RD_FEATURE_DECODE_TENSOR };    /* rd_tuning.cuda_feature_decode */
enum { RD_FEATURE_SUM_SCATTER = 1, RD_FEATURE_SUM_TENSOR };        /* rd_tuning.cuda_feature_sum */
enum { RD_NERF_MARCH_DOUBLE = 1, RD_NERF_MARCH_SINGLE };           /* rd_tuning.vk_nerf_march */

typedef struct rd_tuning {
    /* Vulkan */
    int vk_tile_order;       /* the blend's launch order (splat_vk.c's tiles_longest_first);
                                RADIANT_VK_TILE_ORDER=longest|rows */
    int vk_sort_items;       /* keys a sort thread takes, 8..20 (vk_sort.c's choose_sort_blocks);
                                RADIANT_VK_SORT_ITEMS=N */
    int vk_sort_path;        /* single pass or reduce-then-scan (vk_sort.c's choose_sort_path);
                                RADIANT_VK_SORT_PATH=single-pass|reduce-then-scan */
    int vk_sort_rank;        /* how the sort's scatter finds the lanes holding a key's digit: eight
                                ballots (the default), or one subgroupPartitionNV where the device
                                has it (vk_sort.c's choose_sort_rank); RADIANT_VK_SORT_RANK=ballots|partitioned */
    int vk_emit;             /* the splat emission: a thread a pair (emit.comp, the default) or a group a
                                block of Gaussians (emit_blocks.comp); splat_vk.c's emit_blocks;
                                RADIANT_VK_EMIT=pairs|blocks */
    int vk_nerf_march;       /* the NeRF march's t in double (the CPU's bits: the default where the
                                device has shaderFloat64) or float (nerf/render_vk.c: devices
                                without it); RADIANT_VK_NERF_MARCH=double|single */
    int vk_sort_wait_budget; /* the look-back's budget (radix_scatter.comp's WAIT_BUDGET); < 0:
                                none at all; RADIANT_VK_SORT_WAIT_BUDGET=N */
    int vk_fence_spin_us;    /* microseconds the host polls a submission's fence before it sleeps
                                in vkWaitForFences (vk_backend.c's rd_vk_submit_wait: 10,000 on
                                a GPU, none on a CPU device); < 0: none;
                                RADIANT_VK_FENCE_SPIN_US=N (0: none) */
    /* CUDA */
    int cuda_emit_items;     /* Gaussians an emission thread takes, 1 or 2 (splat_cuda.cu's
                                emit_two_from); RADIANT_CUDA_EMIT_ITEMS=N */
    int cuda_long_tiles;     /* the blend's long part (splat_cuda.cu's split_long_tiles);
                                RADIANT_CUDA_LONG_TILES=0|all */
    int cuda_dependent_launch; /* programmatic dependent launch (cuda_backend.cu: where the
                                device has it, sm_90 on); RADIANT_CUDA_DEPENDENT_LAUNCH=0|1 */
    int cuda_feature_walk;   /* levels a feature blend's walk takes together, at most as many as the
                                shared memory holds (feature_cuda.cu; default 1, measured);
                                RADIANT_CUDA_FEATURE_WALK=N */
    int cuda_feature_decode; /* a feature field's products with D and G (half unit features, |F|^2)
                                on tensor cores where L is a multiple of 16 up to 64 (the default:
                                feature_cuda_decode.cuh, feature_cuda_norms.cuh) or on CUDA cores;
                                RADIANT_CUDA_FEATURE_DECODE=cores|tensor */
    int cuda_feature_sum;    /* how a feature blend's walk sums its hits: where L is a multiple of 16
                                up to 64, 32 hits at a time as products of their weights and dense
                                slots on tensor cores (feature_cuda_tensor_walk.cuh, the default), else
                                or when asked each hit's K slots added into shared-memory accumulators
                                (feature_cuda.cu's walk_warp_staged); RADIANT_CUDA_FEATURE_SUM=scatter|tensor */
    /* feature fields, every backend */
    int feature_blend;       /* K adds a slot (sparse) or all L entries a Gaussian (dense, the
                                spec's training path, kept to test the sparse one against);
                                RADIANT_FEATURE_BLEND=sparse|dense */
    int feature_relevancy;   /* queries from W through u = D t and G = D D^T (gram) or through
                                the decoded D-wide feature (decode), feature_render.c;
                                RADIANT_FEATURE_RELEVANCY=gram|decode */
} rd_tuning;

/* The environment's overrides of *t (fields whose variable is unset are kept). */
void rd_tuning_from_env(rd_tuning *t);

/* rd_context_create with these choices rather than the environment's (the tests); NULL: the
   device's defaults. */
rd_result rd_context_create_tuned(const rd_context_desc *desc, const rd_tuning *tuning, rd_context **out);

#ifdef __cplusplus
}
#endif
#endif
