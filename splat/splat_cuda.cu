/* splat_cuda.cu: the CUDA renderer, stage for stage the CPU one (splat_cpu.c):
   preprocess (splat_math.h, one thread per Gaussian, colour coefficients staged through
   shared memory), a sort of the Gaussians by depth (32-bit keys), key emission in that
   order (the tile id alone, at the running sum of the tile counts, scanned in the same
   pass), a stable radix sort over the tile bits in use (renderer/cuda/cuda_sort.h),
   per-tile ranges, and blending with a 16x16 block per tile, longest lists launched
   first (the few far longest alone on an SM where a frame has few busy tiles:
   blend_part), whose warps each walk the tile's list in batches staged in shared memory
   and stop when all their pixels are done. Sorting depths once and then only tile ids gives exactly the (tile, depth)
   order of a 64-bit key sort, with far fewer key bits per pair. Buffers live in the
   context and grow only when a frame needs more (the capacity of the pair buffers is
   renderer/frame_driver.h's); the frame's one host synchronisation is at its end
   (rd_splat_render_cuda). */
#include "splat_cuda_frame.cuh"
#include "splat_cuda_sh.cuh"
#include "splat_cuda_scene.h"
#include "../renderer/cuda/cuda_sort.h"
#include "../renderer/frame_driver.h"

#include <cub/cub.cuh>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

enum { BLOCK = RD_TILE_SIZE * RD_TILE_SIZE, THREADS = 256, PREPROCESS_THREADS = 128 };


/* A visible Gaussian's tiles, without testing again (splat_layout.h): the id of its
   rectangle's first tile, and either the tiles of the rectangle that
   rd_count_tiles_accepted tested and accepted (bit b: tile b, row by row, of a rectangle
   of width `(head >> 26) + 1`) or, where bit 31 of the head is set (kept whole), the
   rectangle's width and height. */
typedef struct packed_tiles {
    uint32_t head;  /* the first tile's id (bits 0-25), the width less one (26-30), kept whole (31) */
    uint32_t tiles; /* the accepted tiles, or kept whole: width | height << 16 */
} __align__(8) packed_tiles;

/* A Gaussian's packed_tiles as the emission uses them: where its keys start, how many,
   and how to find each one's tile. */
typedef struct splat_tiles {
    unsigned int first_tile, width, accepted; /* accepted 0: every tile of the rectangle */
    long long count;
} splat_tiles;

__device__ __forceinline__ packed_tiles pack_tiles(const rd_splat2d &s, unsigned int accepted, const rd_view_params &vp)
{
    unsigned int width = (unsigned int)(s.tile_max[0] - s.tile_min[0]), height = (unsigned int)(s.tile_max[1] - s.tile_min[1]);
    unsigned int first = (unsigned int)(s.tile_min[1] * vp.tiles_x + s.tile_min[0]);
    if (!accepted) return packed_tiles{first | RD_HEAD_WHOLE, width | height << 16};
    return packed_tiles{first | (width - 1) << RD_HEAD_TILE_BITS, accepted};
}

__device__ __forceinline__ splat_tiles unpack_tiles(packed_tiles packed)
{
    unsigned int head = packed.head, first = head & ((1u << RD_HEAD_TILE_BITS) - 1);
    if (head & RD_HEAD_WHOLE) {
        unsigned int width = packed.tiles & 0xffffu, height = packed.tiles >> 16;
        return splat_tiles{first, width, 0u, (long long)width * height};
    }
    return splat_tiles{first, (head >> RD_HEAD_TILE_BITS) + 1, packed.tiles, __popc(packed.tiles)};
}

/* Which tiles the blend runs alone on an SM each (blend_part): at most `most` of the
   longest, from the classes at or above that of pairs / per_long, and only in a frame with
   at most busy_most tiles that have pairs. Where tiles with pairs are many for the GPU's
   blocks (the synthetic scenes: all 8,160 of a 1080p frame), longest first balances the
   SMs and an SM given to one tile is lost throughput (1M blend 0.224 -> 0.239 ms); where
   they are few (biker: about 1,000, two blocks for each place an H100 has), the longest
   ones hold the blend's end. */
typedef struct long_tile_rule {
    unsigned int most;
    unsigned int per_long;
    unsigned int busy_most;
} long_tile_rule;

typedef struct splat_frame {
    rd_cuda_buffer splats, tiles, pair_scan, keys[2], values[2], ranges, schedule, temp;
    rd_cuda_buffer depth_keys[2], order[2]; /* the depth sort */
    rd_cuda_buffer color, depth, trans, contrib;
    rd_cuda_buffer last, flags;         /* a frame for the backward pass's (frame_outputs) */
    const unsigned int *sorted_values; /* the last frame's sorted pairs: values[0] or [1] */
    struct {
        bool valid;         /* the last frame was rendered for a backward pass, and nothing since */
        uint64_t uid;       /* of its scene */
        const float *means; /* the scene's own array (a device scene keeps its uid as its arrays change) */
        rd_view_params vp;  /* without the flags that do not change the frame (same_frame) */
    } kept;
    splat_backward_buffers backward;
    scene_copy scene;
    half_arrays halves; /* the frame's scene's arrays kept as halves (RD_SCENE_PACKED), NULL where floats */
    rd_pair_capacity capacity; /* pairs the key buffers hold, and the count the tile sort sorts */
    struct frame_counts *host_counts; /* pinned: as on the device (ranges_bytes) */
    bool long_tiles_seen;             /* the last frame gave the blend's long part tiles */
    double launch_ms, wait_ms;        /* the last frame's host time: launching, then waiting for the stream */
    rd_cuda_timers timers;            /* rd_splat_stage_names, then the frame's end */
    bool dependent_launch; /* rd_cuda_state's, for launch() */
    long long small_sort_below; /* sorts of fewer keys take the small block tile (cuda_sort.h) */
    long long two_emitted_from; /* frames of this many Gaussians or more emit two a thread (emit_items) */
    long_tile_rule long_tiles;  /* the tiles the blend runs alone (most 0: none, one launch) */
    size_t long_shared_bytes;   /* the dynamic shared memory that keeps a long tile's SM to itself */
    void *features;             /* feature_cuda.cu's state, and how it goes */
    void (*free_features)(rd_context *ctx, void *state);
} splat_frame;

/* ---- kernels ---------------------------------------------------------------------------- */

/* The first statement of a kernel that launch() may start before the previous kernel in
   the stream has finished: it waits for that kernel's results (a no-op otherwise). */
__device__ __forceinline__ void wait_for_previous_kernel()
{
#if __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

/* The running sum of the tile counts in depth order, carried from block to block of
   emit_keys_kernel by decoupled look-back (CUB's single-pass scan, its tile a block's
   THREADS Gaussians): the sum and the emission in one pass, with no offsets array. */
typedef cub::ScanTileState<long long> pair_scan_state;

/* The culled Gaussians' depth key, above every visible one's (whose float bits are those
   of a positive depth): they sort last. */
enum : unsigned int { CULLED_KEY = 0xffffffffu };

/* Resets the scan state for a frame, and clears the `words` 8-byte words at `clear` (the
   ranges buffer: see ranges_bytes), as a memset before preprocess did. A kernel of its
   own, as the 3 registers the reset took in preprocess cost that kernel a resident block
   an SM (6M preprocess 0.69 -> 0.74 ms). */
__global__ void pair_scan_init_kernel(pair_scan_state scan, int blocks, unsigned long long *clear, long long words)
{
    wait_for_previous_kernel(); /* so that emit's wait covers the depth sort too */
    scan.InitializeStatus(blocks);
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long w = (long long)blockIdx.x * blockDim.x + threadIdx.x; w < words; w += stride) clear[w] = 0;
}

/* What preprocess writes: a record and the tiles of each visible Gaussian, and every
   Gaussian's depth key and index for the depth sort. */
typedef struct preprocess_output {
    device_splat *splats;
    packed_tiles *tiles;
    unsigned int *depth_keys, *order;
    unsigned char *flags; /* for the backward pass (frame_outputs), or NULL */
} preprocess_output;

/* Spec steps 1-7, one thread a Gaussian. The colour coefficients a block needs are
   contiguous in the scene, so the block copies them into shared memory (stage_sh_async)
   and each thread shades from there; read per thread from global memory, a warp's loads
   spread over 32 rows of up to 192 bytes each. HALF_SH: the scene's coefficients are the
   halves at halves.sh (RD_SCENE_HALF_SH, splat_cuda_sh.cuh), not g.sh. HALF_SHAPE: its
   rotation, log-scales and opacity are eight halves at halves.shape (RD_SCENE_HALF_SHAPE),
   one 16-byte load where the floats take three. */
template <bool HALF_SH, bool HALF_SHAPE>
__global__ void preprocess_kernel(rd_view_params vp, rd_gaussians g, half_arrays halves, preprocess_output out)
{
    extern __shared__ unsigned int s_sh[]; /* floats, or pairs of halves */
    long long first = (long long)blockIdx.x * blockDim.x, i = first + threadIdx.x;
    if (HALF_SH) stage_sh_half_async(halves.sh, g, vp.sh_degree, first, s_sh);
    else stage_sh_async(g, vp.sh_degree, first, (float *)s_sh);
    rd_splat2d s = {};
    bool kept;
    if (HALF_SHAPE) {
        float shape[8];
        if (i < g.count) unpack_shape(halves.shape[i], shape);
        kept = i < g.count && rd_splat_project_at(&vp, g.means + 3 * i, shape, shape + 4, shape + 7, &s);
    } else {
        kept = i < g.count && rd_splat_project(&vp, &g, i, &s);
    }
    asm volatile("cp.async.wait_all;" ::: "memory");
    unsigned int accepted = 0;
    bool shaded = __syncthreads_or(kept) && kept &&
                  (HALF_SH ? splat_colour_half(vp, g.means + 3 * i, s_sh + threadIdx.x * sh_half_stride(vp.sh_degree), &s)
                           : rd_splat_colour(&vp, g.means + 3 * i, (const float *)s_sh + threadIdx.x * sh_row_stride(vp.sh_degree), &s));
    if (shaded) s.tiles_touched = rd_count_tiles_accepted(&s, &vp, &accepted);
    bool seen = s.tiles_touched != 0;
    if (i < g.count) {
        if (seen) { /* emission reads only the visible (see emit_keys_kernel) */
            out.splats[i] = device_splat{s.u, s.v, {s.conic[0], s.conic[1], s.conic[2]}, s.opacity, s.depth,
                                         {s.rgb[0], s.rgb[1], s.rgb[2]}, {0.0f, 0.0f}};
            out.tiles[i] = pack_tiles(s, accepted, vp);
        }
        /* visible depths are past the near plane, so their float bits sort as the floats */
        out.depth_keys[i] = seen ? __float_as_uint(s.depth) : CULLED_KEY;
        out.order[i] = (unsigned int)i;
        if (out.flags) out.flags[i] = (unsigned char)(seen ? SPLAT_SEEN | s.clamped : 0u);
    }
}

/* Where emit_keys_kernel writes the pairs. */
typedef struct key_output {
    unsigned int *keys, *values;
    long long capacity; /* pairs past it are dropped */
} key_output;

/* The position of the set bit of `mask` that has `rank` set bits below it (rank under
   popc(mask)): halving the word five times, without a loop over the bits. */
__device__ __forceinline__ unsigned int nth_set_bit(unsigned int mask, unsigned int rank)
{
    unsigned int position = 0;
#pragma unroll
    for (unsigned int half = 16; half; half >>= 1) {
        unsigned int below = (unsigned int)__popc(mask & ((1u << half) - 1u));
        bool upper = rank >= below;
        rank -= upper ? below : 0u;
        mask >>= upper ? half : 0u;
        position += upper ? half : 0u;
    }
    return position;
}

/* A block's Gaussians as its key writes read them, one entry each in the block's depth
   order: where its keys start in the block's run (clamped to the run's end), the tile
   id of its rectangle's first tile, the rectangle's width, the accepted tiles (0: the
   whole rectangle) and its index. */
template <int ENTRIES>
struct emit_entries {
    unsigned int start[ENTRIES], first_tile[ENTRIES], width[ENTRIES], accepted[ENTRIES], index[ENTRIES];
};

/* Gaussians in depth order; each one's keys start at the sum of the tile counts before it
   in that order (the block's scan plus the blocks before, see pair_scan_state), so the
   keys come out sorted by depth within every tile before the tile sort. A Gaussian's
   keys are the tiles that preprocess accepted (device_splat.tiles), or every
   tile of its rectangle (all large ones: see rd_count_tiles_accepted). Taking the
   accepted tiles from preprocess spares the gather of the record's first half (the mean
   and conic) and the tests run again (6M binning 0.553 -> 0.531 ms, biker 0.077 ->
   0.070). The block's keys are one run, which its threads write a key each in turn,
   finding the key's Gaussian by a binary search of the entries' starts: each store of
   a warp then lands beside the next, and every lane has one, where a thread writing its
   own Gaussians' keys left half the lanes idle (15.7 of 32 active under ncu at 6M) and a
   huge splat held its warp for a thousand serial stores. Within a Gaussian's run the
   order does not matter: its tiles differ. Pairs past the key buffers' capacity are
   dropped. The visible Gaussians come first in depth order (the culled have the largest
   key, CULLED_KEY); only they have a record (preprocess writes no other, 48 bytes of
   writes saved for every culled one), and blocks of culled ones alone leave at once
   rather than join the scan. The last visible Gaussian's thread writes the frame's counts
   (counts[0] the visible, counts[1] the pairs; both 0 from pair_scan_init_kernel where
   none is), which the host sees afterwards. Each thread takes ITEMS consecutive
   Gaussians (emit_items). */
template <int ITEMS>
__global__ void emit_keys_kernel(rd_view_params vp, const packed_tiles *packed, const unsigned int *order,
                                 const unsigned int *sorted_depths, long long n, pair_scan_state scan, key_output out,
                                 long long *counts)
{
    enum { ENTRIES = THREADS * ITEMS };
    wait_for_previous_kernel();
    long long first = (long long)blockIdx.x * ENTRIES;
    if (sorted_depths[first] == CULLED_KEY) return; /* no keys, and no block before waits for this one */
    typedef cub::BlockScan<long long, THREADS> block_scan;
    typedef cub::TilePrefixCallbackOp<long long, cuda::std::plus<long long>, pair_scan_state> blocks_before;
    __shared__ struct {
        typename blocks_before::TempStorage prefix;
        typename block_scan::TempStorage scan;
        emit_entries<ENTRIES> entries;
        long long run_start, run_end; /* the block's keys, [start, end) */
    } temp;
    splat_tiles tiles[ITEMS];
    unsigned int index[ITEMS];
    long long count[ITEMS], k[ITEMS];
    unsigned int depth[ITEMS + 1]; /* the thread's sorted depth keys, and the next thread's first */
    bool seen[ITEMS], last[ITEMS]; /* visible; the last visible in depth order */
    long long mine = first + threadIdx.x * ITEMS;
    /* the indices and the keys are loaded side by side (a record's load waiting on a key's,
       then an index's, took 6M binning 0.504 -> 0.534 ms) */
#pragma unroll
    for (int q = 0; q <= ITEMS; q++) {
        depth[q] = mine + q < n ? sorted_depths[mine + q] : CULLED_KEY;
        if (q < ITEMS) index[q] = mine + q < n ? order[mine + q] : 0u;
    }
#pragma unroll
    for (int q = 0; q < ITEMS; q++) {
        tiles[q] = splat_tiles{0u, 0u, 0u, 0ll};
        seen[q] = depth[q] != CULLED_KEY;
        last[q] = seen[q] && depth[q + 1] == CULLED_KEY;
    }
#pragma unroll
    for (int q = 0; q < ITEMS; q++)
        if (seen[q]) tiles[q] = unpack_tiles(packed[index[q]]);
#pragma unroll
    for (int q = 0; q < ITEMS; q++) count[q] = tiles[q].count;
    if (blockIdx.x == 0) {
        long long block_total;
        block_scan(temp.scan).ExclusiveSum(count, k, block_total);
        if (threadIdx.x == 0) scan.SetInclusive(0, block_total);
    } else {
        blocks_before prefix(scan, temp.prefix, cuda::std::plus<long long>(), (int)blockIdx.x);
        block_scan(temp.scan).ExclusiveSum(count, k, prefix);
    }
    if (threadIdx.x == 0) temp.run_start = k[0];
    if (threadIdx.x == THREADS - 1) temp.run_end = min(k[ITEMS - 1] + count[ITEMS - 1], out.capacity);
    __syncthreads();
    long long run_start = temp.run_start, run = temp.run_end - run_start; /* under 2^31: the capacity is */
#pragma unroll
    for (int q = 0; q < ITEMS; q++) {
        if (last[q]) counts[0] = mine + q + 1, counts[1] = k[q] + count[q];
        int e = threadIdx.x * ITEMS + q;
        temp.entries.start[e] = (unsigned int)max(0ll, min(k[q] - run_start, run));
        temp.entries.first_tile[e] = tiles[q].first_tile;
        temp.entries.width[e] = tiles[q].width;
        temp.entries.accepted[e] = tiles[q].accepted;
        temp.entries.index[e] = index[q];
    }
    __syncthreads();
    for (unsigned int key = threadIdx.x; key < (unsigned int)max(run, 0ll); key += THREADS) {
        unsigned int e = 0; /* the last entry that starts at or before the key: the key's, as it has a tile */
#pragma unroll
        for (unsigned int step = ENTRIES / 2; step; step >>= 1)
            if (temp.entries.start[e + step] <= key) e += step;
        unsigned int rank = key - temp.entries.start[e], accepted = temp.entries.accepted[e], width = temp.entries.width[e];
        unsigned int b = accepted ? nth_set_bit(accepted, rank) : rank; /* the tile's place in the rectangle */
        out.keys[run_start + key] = temp.entries.first_tile[e] + (b / width) * (unsigned int)vp.tiles_x + b % width;
        out.values[run_start + key] = temp.entries.index[e];
    }
}

/* Blocks for the grid-stride kernels that take the pair count from the device: enough to
   fill any current GPU, and none idle where the frame has far fewer pairs than capacity. */
enum { STRIDE_BLOCKS = 1024 };

/* The keys past the frame's pairs, up to the capacity the sort takes, get the pad key
   (above every tile id), so that they sort last and the ranges skip them. The pair count
   is only on the device, so the kernel strides from it rather than launching a thread
   for every key of the capacity. */
__global__ void pad_keys_kernel(const long long *pairs, long long capacity, unsigned int pad, unsigned int *keys)
{
    wait_for_previous_kernel();
    long long stride = (long long)gridDim.x * blockDim.x;
    for (long long k = min(*pairs, capacity) + blockIdx.x * blockDim.x + threadIdx.x; k < capacity; k += stride)
        keys[k] = pad;
}

/* The start and end of every tile's run in the sorted keys, over the frame's pairs only
   (the padding sorts after them). Four keys a thread, read as one 16-byte load (the
   capacity is a multiple of four): with one, each thread's stride loop waited out a load
   at a time (6M: 28 us under ncu for 8.4M keys, twice what their bytes take). */
__global__ void tile_ranges_kernel(const unsigned int *keys, const long long *pairs, long long capacity, unsigned int tiles,
                                   tile_range *ranges)
{
    wait_for_previous_kernel();
    long long n = min(*pairs, capacity), stride = (long long)gridDim.x * blockDim.x;
    for (long long q = (long long)blockIdx.x * blockDim.x + threadIdx.x; 4 * q < n; q += stride) {
        long long k = 4 * q;
        uint4 four = ((const uint4 *)keys)[q];
        unsigned int run[6] = {k > 0 ? keys[k - 1] : 0xffffffffu, four.x, four.y, four.z, four.w,
                               k + 4 < capacity ? keys[k + 4] : 0xffffffffu};
#pragma unroll
        for (int e = 1; e <= 4; e++) {
            unsigned int tile = run[e];
            if (tile >= tiles) return; /* padding, which sorts after every pair */
            if (run[e - 1] != tile) ranges[tile].start = k + e - 1;
            if (run[e + 1] != tile) ranges[tile].end = k + e;
        }
    }
}

#include "splat_cuda_schedule.cuh"
#include "splat_cuda_blend.cuh"

/* ---- host side -------------------------------------------------------------------------- */

/* The frame's scene on the device (splat_cuda_scene.cu), and the arrays it keeps as halves. */
static rd_result device_gaussians(rd_context *ctx, splat_frame *f, const rd_scene *scene, rd_gaussians *g)
{
    return rd_splat_cuda_scene_arrays(ctx, &f->scene, scene, g, &f->halves);
}

void rd_splat_cuda_free_state(rd_context *ctx, void *state)
{
    splat_frame *f = (splat_frame *)state;
    if (!f) return;
    if (f->free_features) f->free_features(ctx, f->features);
    rd_splat_cuda_scene_release(ctx, &f->scene);
    rd_cuda_buffer *bufs[] = {&f->splats, &f->tiles, &f->pair_scan, &f->keys[0], &f->keys[1], &f->values[0],
                                &f->values[1], &f->ranges, &f->schedule, &f->temp, &f->color, &f->depth, &f->trans, &f->contrib,
                                &f->depth_keys[0], &f->depth_keys[1], &f->order[0], &f->order[1], &f->last, &f->flags,
                                &f->backward.grads2d, &f->backward.pose_parts, &f->backward.outputs, &f->backward.params,
                                &f->backward.ordered};
    for (rd_cuda_buffer *b : bufs) rd_cuda_release(ctx, b);
    rd_cuda_timers_destroy(&f->timers);
    if (f->host_counts) cudaFreeHost(f->host_counts);
    free(f);
}

/* splat_frame.two_emitted_from: see emit_items. rd_tuning.cuda_emit_items = 1 or 2 makes
   every frame take that many Gaussians a thread, so that the tests run both kernels. */
static long long emit_two_from(const rd_tuning *tuning, int multiprocessors)
{
    if (tuning->cuda_emit_items == 1) return LLONG_MAX;
    if (tuning->cuda_emit_items == 2) return 0;
    return (long long)multiprocessors * 80 * THREADS;
}

/* Sets up the blend's long part (blend_part): a quarter of the SMs at most, each block
   with the shared memory that an SM has left after its static arrays. Without
   programmatic dependent launch the shared part would wait for the long one, so there is
   no split there, nor where the device does not give a block that much.
   rd_tuning.cuda_long_tiles: RD_LONG_TILES_NEVER renders in one launch, RD_LONG_TILES_ALL
   gives the long part the longest tiles whatever their length, so that the tests run both
   parts on small scenes. */
static void split_long_tiles(splat_frame *f, const rd_tuning *tuning, int multiprocessors)
{
    if (tuning->cuda_long_tiles == RD_LONG_TILES_NEVER) return;
    bool all = tuning->cuda_long_tiles == RD_LONG_TILES_ALL;
    int device = 0, optin = 0;
    cudaFuncAttributes attributes;
    bool ready = cudaGetDevice(&device) == cudaSuccess &&
                 cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) == cudaSuccess &&
                 cudaFuncGetAttributes(&attributes, blend_kernel<true, true>) == cudaSuccess;
    size_t bytes = ready ? (size_t)optin - attributes.sharedSizeBytes : 0;
    for (auto kernel : {blend_kernel<false, true>, blend_kernel<true, true>})
        ready = ready && cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)bytes) == cudaSuccess;
    if (!ready) {
        cudaGetLastError(); /* not sticky: cleared, so that the frame's launch check does not report it */
        return;
    }
    f->long_shared_bytes = bytes;
    unsigned int sms = (unsigned int)multiprocessors;
    f->long_tiles = all ? long_tile_rule{sms / 4, UINT_MAX, UINT_MAX} : long_tile_rule{sms / 4, 3 * sms, 16 * sms};
}

static rd_result get_frame(rd_context *ctx, splat_frame **out)
{
    void **slot = rd_context_slot(ctx, RD_SCENE_GAUSSIANS);
    if (!*slot) {
        splat_frame *f = (splat_frame *)calloc(1, sizeof *f);
        if (!f) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "cuda: out of memory");
        f->dependent_launch = rd_cuda(ctx)->dependent_launch;
        f->small_sort_below = rd_cuda_sort_small_below(rd_cuda(ctx)->multiprocessors);
        f->two_emitted_from = emit_two_from(&ctx->tuning, rd_cuda(ctx)->multiprocessors);
        if (f->dependent_launch) split_long_tiles(f, &ctx->tuning, rd_cuda(ctx)->multiprocessors);
        rd_result r = rd_cuda_check(ctx, cudaMallocHost(&f->host_counts, sizeof(frame_counts)), "cudaMallocHost");
        if (r == RD_OK) r = rd_cuda_timers_create(ctx, rd_splat_stage_names, RD_SPLAT_STAGES, &f->timers);
        if (r != RD_OK) {
            rd_splat_cuda_free_state(ctx, f);
            return r;
        }
        *slot = f;
    }
    *out = (splat_frame *)*slot;
    return RD_OK;
}

static unsigned int blocks_for(long long n) { return (unsigned int)((n + THREADS - 1) / THREADS); }
/* Gaussians an emission thread takes: two where one a thread would make 80 blocks an SM
   or more, so that each thread has two records' loads in flight (6M binning 0.523 ->
   0.505 ms); with fewer blocks, halving them cost more than that gained (1M 0.140 ->
   0.145, biker 0.070 -> 0.074). */
static int emit_items(const splat_frame *f, long long n) { return n >= f->two_emitted_from ? 2 : 1; }
static unsigned int emit_blocks(const splat_frame *f, long long n)
{
    long long per_block = (long long)THREADS * emit_items(f, n);
    return (unsigned int)((n + per_block - 1) / per_block);
}

/* Launches a kernel that begins with wait_for_previous_kernel. Where the device allows
   it, the launch is a programmatic dependent one: the kernel is set up while the one
   before it in the stream still runs, and its blocks start as soon as that one ends,
   which hides most of the few microseconds each of the frame's launches costs. */
template <typename... Params, typename... Args>
static void launch_shared(const splat_frame *f, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes,
                          cudaStream_t st, Args... args)
{
    cudaLaunchAttribute dependent = {};
    dependent.id = cudaLaunchAttributeProgrammaticStreamSerialization;
    dependent.val.programmaticStreamSerializationAllowed = 1;
    cudaLaunchConfig_t config = {};
    config.gridDim = grid, config.blockDim = block, config.dynamicSmemBytes = shared_bytes, config.stream = st;
    config.attrs = &dependent, config.numAttrs = f->dependent_launch ? 1 : 0;
    cudaLaunchKernelEx(&config, kernel, args...);
}
template <typename... Params, typename... Args>
static void launch(const splat_frame *f, void (*kernel)(Params...), dim3 grid, dim3 block, cudaStream_t st, Args... args)
{
    launch_shared(f, kernel, grid, block, 0, st, args...);
}

/* Where an output goes: the caller's device pointer, or our buffer to copy to the host. */
static rd_result output_target(rd_context *ctx, void *caller, rd_memory memory, rd_cuda_buffer *own, size_t bytes,
                               void **device_ptr)
{
    *device_ptr = NULL;
    if (!caller) return RD_OK;
    if (memory == RD_MEMORY_DEVICE) {
        *device_ptr = caller;
        return RD_OK;
    }
    rd_result r = rd_cuda_reserve(ctx, own, bytes, "frame outputs");
    *device_ptr = own->ptr;
    return r;
}

/* The tile ranges, the schedule's counters, then the frame's counts (the visible
   Gaussians and the pairs; frame_counts is what the host reads of the last two):
   pair_scan_init_kernel clears them all (a memset where the frame has no Gaussians). */
static size_t ranges_bytes(long long tiles)
{
    return (size_t)tiles * sizeof(tile_range) + sizeof(tile_schedule_counters) + 2 * sizeof(long long);
}

/* Every buffer a frame uses, sized before anything is enqueued (growth frees old buffers). */
static rd_result reserve_frame(rd_context *ctx, splat_frame *f, long long n, long long capacity, long long tiles, int tile_bits,
                               const rd_framebuffer *target, size_t pixels, frame_outputs *out)
{
    size_t scan_state_bytes = 0;
    pair_scan_state::AllocationSize((int)emit_blocks(f, n), scan_state_bytes);
    rd_result r = rd_cuda_reserve(ctx, &f->splats, (size_t)n * sizeof(device_splat), "preprocessed Gaussians");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->tiles, (size_t)n * sizeof(packed_tiles), "preprocessed Gaussians' tiles");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->pair_scan, scan_state_bytes, "tile count scan");
    for (int b = 0; b < 2; b++) {
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->depth_keys[b], (size_t)n * 4 + 4, "depth keys");
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->order[b], (size_t)n * 4 + 4, "depth order");
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->keys[b], (size_t)capacity * 4, "sort keys");
        if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->values[b], (size_t)capacity * 4, "sort values");
    }
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->ranges, ranges_bytes(tiles), "tile ranges");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->schedule, (size_t)tiles * sizeof(tile_work), "tile schedule");
    if (r == RD_OK) r = output_target(ctx, target->color, target->memory, &f->color, pixels * 4 * sizeof(float), &out->color);
    if (r == RD_OK) r = output_target(ctx, target->depth, target->memory, &f->depth, pixels * sizeof(float), &out->depth);
    if (r == RD_OK) r = output_target(ctx, target->transmittance, target->memory, &f->trans, pixels * sizeof(float), &out->trans);
    if (r == RD_OK)
        r = output_target(ctx, target->contributors, target->memory, &f->contrib, pixels * sizeof(unsigned), &out->contrib);
    if (r != RD_OK) return r;
    /* one scratch buffer for the two sorts, which never overlap */
    rd_cuda_sort_plan depth_sort = {NULL, 0, 0, f->small_sort_below}, tile_sort = depth_sort;
    cub::DoubleBuffer<unsigned int> none(NULL, NULL);
    r = rd_cuda_check(ctx, rd_cuda_sort_pairs(&depth_sort, none, none, n, 32), "sort scratch size");
    if (r == RD_OK) r = rd_cuda_check(ctx, rd_cuda_sort_pairs(&tile_sort, none, none, capacity, tile_bits), "sort scratch size");
    if (r != RD_OK) return r;
    size_t temp_bytes = depth_sort.temp_bytes > tile_sort.temp_bytes ? depth_sort.temp_bytes : tile_sort.temp_bytes;
    return rd_cuda_reserve(ctx, &f->temp, temp_bytes, "sort scratch");
}

/* Enqueues the whole frame, then the copies of the counts (and of the outputs, for host
   memory); nothing waits on the device here. Returns the first error of a sort (CUB
   reports its launch and argument errors there rather than in cudaGetLastError). */
static cudaError_t record_frame(splat_frame *f, const rd_gaussians *g, const rd_view_params *vp, long long n, long long tiles,
                                int tile_bits, const frame_outputs *out, cudaStream_t st)
{
    long long capacity = f->capacity.pairs;
    tile_range *ranges = (tile_range *)f->ranges.ptr;
    tile_schedule_counters *schedule_counters = (tile_schedule_counters *)(ranges + tiles);
    long long *counts = (long long *)(schedule_counters + 1); /* visible, pairs: see ranges_bytes */
    long long *pairs = counts + 1;
    cub::DoubleBuffer<unsigned int> depth_keys((unsigned int *)f->depth_keys[0].ptr, (unsigned int *)f->depth_keys[1].ptr);
    cub::DoubleBuffer<unsigned int> order((unsigned int *)f->order[0].ptr, (unsigned int *)f->order[1].ptr);
    cub::DoubleBuffer<unsigned int> keys((unsigned int *)f->keys[0].ptr, (unsigned int *)f->keys[1].ptr);
    cub::DoubleBuffer<unsigned int> values((unsigned int *)f->values[0].ptr, (unsigned int *)f->values[1].ptr);
    rd_cuda_sort_plan sort = {f->temp.ptr, f->temp.bytes, st, f->small_sort_below}; /* reserve_frame sized it for both sorts */
    /* The stages' boundaries are timed only where the caller asks (RD_RENDER_STAGE_TIMES):
       an event between two kernels ends the overlap of a programmatic dependent launch,
       and the three cost the frame 10 us on the H100 (biker 0.261 -> 0.251 ms without). */
    bool stage_times = (vp->flags & RD_RENDER_STAGE_TIMES) != 0;
    auto stage_end = [&](int e) {
        if (stage_times) rd_cuda_timers_mark(&f->timers, e, st);
    };
    rd_cuda_timers_mark(&f->timers, 0, st);
    cudaError_t sorted = cudaSuccess;
    if (n > 0) {
        unsigned int groups = (unsigned int)((n + PREPROCESS_THREADS - 1) / PREPROCESS_THREADS);
        half_arrays halves = f->halves;
        size_t sh_bytes = (size_t)PREPROCESS_THREADS * (halves.sh ? sh_half_stride(vp->sh_degree) : sh_row_stride(vp->sh_degree)) * 4;
        pair_scan_state scan;
        scan.Init((int)emit_blocks(f, n), f->pair_scan.ptr, f->pair_scan.bytes);
        preprocess_output pre = {(device_splat *)f->splats.ptr, (packed_tiles *)f->tiles.ptr, depth_keys.Current(), order.Current(),
                                 out->flags};
        auto preprocess = halves.sh ? (halves.shape ? preprocess_kernel<true, true> : preprocess_kernel<true, false>)
                                    : (halves.shape ? preprocess_kernel<false, true> : preprocess_kernel<false, false>);
        preprocess<<<groups, PREPROCESS_THREADS, sh_bytes, st>>>(*vp, *g, halves, pre);
        stage_end(1);
        sorted = rd_cuda_sort_pairs(&sort, depth_keys, order, n, 32);
        long long words = (long long)(ranges_bytes(tiles) / 8);
        unsigned int init_blocks = max(blocks_for(emit_blocks(f, n)), min(blocks_for(words), (unsigned int)STRIDE_BLOCKS));
        launch(f, pair_scan_init_kernel, init_blocks, THREADS, st, scan, (int)emit_blocks(f, n), (unsigned long long *)f->ranges.ptr,
               words);
        launch(f, emit_items(f, n) == 2 ? emit_keys_kernel<2> : emit_keys_kernel<1>, emit_blocks(f, n), THREADS, st, *vp,
               (const packed_tiles *)f->tiles.ptr, order.Current(), (const unsigned int *)depth_keys.Current(), n, scan,
               key_output{keys.Current(), values.Current(), capacity}, counts);
        unsigned int stride_blocks = min(blocks_for(capacity), (unsigned int)STRIDE_BLOCKS);
        launch(f, pad_keys_kernel, stride_blocks, THREADS, st, pairs, capacity, (unsigned int)tiles, keys.Current());
        stage_end(2);
        /* stable: within a tile the pairs keep the depth order they were emitted in */
        cudaError_t tile_sorted = rd_cuda_sort_pairs(&sort, keys, values, capacity, tile_bits);
        if (sorted == cudaSuccess) sorted = tile_sorted;
        launch(f, tile_ranges_kernel, stride_blocks, THREADS, st, keys.Current(), pairs, capacity, (unsigned int)tiles,
               ranges);
    } else {
        cudaMemsetAsync(f->ranges.ptr, 0, ranges_bytes(tiles), st);
        stage_end(1);
        stage_end(2);
    }
    launch(f, tile_classes_kernel, blocks_for(tiles), THREADS, st, ranges, (unsigned int)tiles, schedule_counters);
    long_tile_rule long_tiles = f->long_tiles;
    if (tiles <= long_tiles.most) long_tiles.most = (unsigned int)tiles - 1; /* leaving the shared part a place */
    /* Two launches cost the blend about 15 us more than one (1M 0.224 -> 0.239 ms with no
       long tiles), so a frame splits only where the last one had long tiles, and every
       window of the pair capacity (frame_driver.h) to look again. */
    if ((!f->long_tiles_seen && f->capacity.window_frames != 0) || out->last) long_tiles.most = 0;
    launch(f, tile_schedule_kernel, blocks_for(tiles), THREADS, st, ranges, (unsigned int)tiles, schedule_counters,
           (tile_work *)f->schedule.ptr, (const long long *)pairs, long_tiles);
    stage_end(3);
    dim3 block(RD_TILE_SIZE, RD_TILE_SIZE);
    bool extras = out->depth || out->contrib;
    auto blend = out->last ? blend_kernel<true, false, true> : extras ? blend_kernel<true, false> : blend_kernel<false, false>;
    auto blend_alone = extras ? blend_kernel<true, true> : blend_kernel<false, true>;
    const tile_work *schedule = (const tile_work *)f->schedule.ptr;
    const device_splat *splats = (const device_splat *)f->splats.ptr;
    /* no output at all (rd_splat_cuda_forward_bins: a feature field's frame): the bins are the frame */
    bool blends = out->color || out->depth || out->trans || out->contrib || out->last;
    if (blends && long_tiles.most)
        launch_shared(f, blend_alone, long_tiles.most, block, f->long_shared_bytes, st, *vp, schedule, values.Current(), splats, *out,
                      blend_part{schedule_counters, BLEND_LONG});
    if (blends)
        launch(f, blend, (unsigned int)tiles, block, st, *vp, schedule, values.Current(), splats, *out,
               blend_part{schedule_counters, long_tiles.most ? BLEND_SHARED : BLEND_WHOLE});
    rd_cuda_timers_mark(&f->timers, RD_SPLAT_STAGES, st);
    f->sorted_values = values.Current();
    cudaMemcpyAsync(f->host_counts, &schedule_counters->long_places, sizeof(frame_counts), cudaMemcpyDeviceToHost, st);
    return sorted;
}

/* One frame as renderer/frame_driver.h drives it. */
typedef struct cuda_frame_call {
    splat_frame *f;
    const rd_gaussians *g;
    const rd_view_params *vp;
    const rd_framebuffer *target;
    long long n, tiles;
    int tile_bits;
    cudaStream_t stream;
    frame_outputs out;
    bool save; /* for the backward pass: out.trans, depth, last and flags in the frame's own buffers */
} cuda_frame_call;

static rd_result reserve_call(rd_context *ctx, void *user, int64_t capacity)
{
    cuda_frame_call *c = (cuda_frame_call *)user;
    size_t pixels = (size_t)c->vp->width * c->vp->height;
    rd_result r = reserve_frame(ctx, c->f, c->n, capacity, c->tiles, c->tile_bits, c->target, pixels, &c->out);
    if (r != RD_OK || !c->save) return r;
    /* the backward pass's outputs in the frame's own buffers (a caller's device-memory
       transmittance or depth gets a copy: run_call), the colour where the caller wants it */
    splat_frame *f = c->f;
    r = rd_cuda_reserve(ctx, &f->trans, pixels * sizeof(float), "backward frame");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->depth, pixels * sizeof(float), "backward frame");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->last, pixels * sizeof(unsigned int), "backward frame");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->flags, (size_t)c->n + 1, "backward frame");
    c->out = frame_outputs{c->out.color, f->depth.ptr, f->trans.ptr, c->out.contrib, (unsigned int *)f->last.ptr,
                           (unsigned char *)f->flags.ptr};
    return r;
}

/* Enqueues the frame and its downloads, then waits: the frame's one host synchronisation. */
static rd_result run_call(rd_context *ctx, void *user, int64_t capacity, int64_t *pairs)
{
    cuda_frame_call *c = (cuda_frame_call *)user;
    splat_frame *f = c->f;
    const rd_framebuffer *target = c->target;
    const frame_outputs &out = c->out;
    size_t pixels = (size_t)c->vp->width * c->vp->height;
    (void)capacity; /* f->capacity.pairs, which record_frame reads */
    double t0 = rd_now_ms();
    rd_result r = rd_cuda_check(ctx, record_frame(f, c->g, c->vp, c->n, c->tiles, c->tile_bits, &out, c->stream), "sort");
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaGetLastError(), "kernel launch");
    if (r == RD_OK && c->save && target->memory == RD_MEMORY_DEVICE) { /* see reserve_call */
        if (target->transmittance)
            r = rd_cuda_check(ctx, cudaMemcpyAsync(target->transmittance, out.trans, pixels * sizeof(float), cudaMemcpyDeviceToDevice,
                                                   c->stream), "copy");
        if (target->depth && r == RD_OK)
            r = rd_cuda_check(ctx, cudaMemcpyAsync(target->depth, out.depth, pixels * sizeof(float), cudaMemcpyDeviceToDevice, c->stream),
                              "copy");
    }
    if (r == RD_OK && target->memory == RD_MEMORY_HOST) {
        struct { void *dst; void *src; size_t bytes; } copies[] = {
            {target->color, out.color, pixels * 4 * sizeof(float)}, {target->depth, out.depth, pixels * sizeof(float)},
            {target->transmittance, out.trans, pixels * sizeof(float)},
            {target->contributors, out.contrib, pixels * sizeof(unsigned)}};
        for (auto &copy : copies)
            if (copy.dst && r == RD_OK)
                r = rd_cuda_check(ctx, cudaMemcpyAsync(copy.dst, copy.src, copy.bytes, cudaMemcpyDeviceToHost, c->stream), "download");
    }
    double t1 = rd_now_ms();
    if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(c->stream), "render");
    f->launch_ms += t1 - t0, f->wait_ms += rd_now_ms() - t1;
    if (r != RD_OK) return r;
    *pairs = f->host_counts->pairs;
    f->long_tiles_seen = f->host_counts->long_places > 0;
    return RD_OK;
}

/* The frame on the device with one host synchronisation, at its end. The pairs are sorted
   at the key buffers' capacity (the keys past the frame's pairs padded to sort last), so
   nothing waits for their count mid-frame; renderer/frame_driver.h grows the buffers and
   renders again where a frame found more, and fits the capacity to the frames' needs. */
static rd_result drive_frame(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_framebuffer *target,
                             cudaStream_t stream, bool save, splat_frame **out_frame, rd_gaussians *g, int64_t *pairs)
{
    splat_frame *f = NULL;
    rd_result r = get_frame(ctx, &f);
    if (r == RD_OK) r = device_gaussians(ctx, f, scene, g);
    if (r != RD_OK) return r;
    *out_frame = f;
    f->kept.valid = false; /* the frame's buffers are overwritten */
    long long tiles = (long long)vp->tiles_x * vp->tiles_y;
    cuda_frame_call call = {f, g, vp, target, scene->count, tiles, rd_key_bits((uint64_t)tiles + 1) /* and the pad key */,
                            stream ? stream : rd_cuda(ctx)->stream, {}, save};
    rd_gpu_frame frame = {"cuda", &call, reserve_call, run_call};
    f->launch_ms = f->wait_ms = 0.0;
    r = rd_gpu_frame_drive(ctx, &f->capacity, &frame, pairs);
    if (r == RD_OK && save) {
        f->kept.valid = true, f->kept.uid = scene->head.uid, f->kept.means = rd_scene_gaussians(scene).means;
        f->kept.vp = *vp;
        f->kept.vp.flags &= ~(uint32_t)(RD_RENDER_STAGE_TIMES | RD_RENDER_FOR_BACKWARD | RD_RENDER_DETERMINISTIC);
    }
    return r;
}

/* Whether the kept frame is this one (same_frame's view parameters ignore the flags that
   do not change a frame; view parameters are zeroed before they are filled, so their
   bytes compare). */
static bool same_frame(const splat_frame *f, const rd_scene *scene, const rd_view_params *vp)
{
    rd_view_params v = *vp;
    v.flags &= ~(uint32_t)(RD_RENDER_STAGE_TIMES | RD_RENDER_FOR_BACKWARD | RD_RENDER_DETERMINISTIC);
    return f->kept.valid && f->kept.uid == scene->head.uid && f->kept.means == rd_scene_gaussians(scene).means &&
           memcmp(&f->kept.vp, &v, sizeof v) == 0;
}

extern "C" rd_result rd_splat_render_cuda(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                                          const rd_framebuffer *target, void *stream, rd_render_stats *stats)
{
    double start = rd_now_ms();
    splat_frame *f = NULL;
    rd_gaussians g;
    int64_t pairs = 0;
    bool keep = (vp->flags & RD_RENDER_FOR_BACKWARD) != 0;
    rd_result r = drive_frame(ctx, scene, vp, target, (cudaStream_t)stream, keep, &f, &g, &pairs);
    if (r == RD_OK) r = rd_cuda_timers_read(ctx, &f->timers, (vp->flags & RD_RENDER_STAGE_TIMES) != 0, stats);
    if (r == RD_OK) { /* where the host's time went (issue 35), in microseconds: launching, waiting, the whole call */
        rd_splat_counts(stats, f->host_counts->visible, pairs);
        rd_stats_add_count(stats, "host_launch_us", 1e3 * f->launch_ms);
        rd_stats_add_count(stats, "host_wait_us", 1e3 * f->wait_ms);
        rd_stats_add_count(stats, "host_call_us", 1e3 * (rd_now_ms() - start));
    }
    return r;
}

rd_result rd_splat_cuda_feature_slot(rd_context *ctx, void (*free_state)(rd_context *ctx, void *state), void ***slot)
{
    splat_frame *f = NULL;
    rd_result r = get_frame(ctx, &f);
    if (r != RD_OK) return r;
    f->free_features = free_state;
    *slot = &f->features;
    return RD_OK;
}

/* The view's frame on the device for a pass that reads it: save, the backward pass's per-pixel
   state too (a frame kept by RD_RENDER_FOR_BACKWARD serves it without rendering again); else
   the bins alone, no blend (the frame has no outputs). */
static rd_result forward_frame(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, cudaStream_t stream, bool save,
                               splat_saved_frame *out)
{
    splat_frame *f = NULL;
    rd_framebuffer none = {};
    none.memory = RD_MEMORY_DEVICE;
    int64_t pairs = 0;
    rd_result r = get_frame(ctx, &f);
    if (r != RD_OK) return r;
    if (save && same_frame(f, scene, vp)) r = device_gaussians(ctx, f, scene, &out->g);
    else r = drive_frame(ctx, scene, vp, &none, stream, save, &f, &out->g, &pairs);
    f->kept.valid = false; /* a kept frame serves the next backward pass only (RD_RENDER_FOR_BACKWARD) */
    if (r != RD_OK) return r;
    out->tiles = (long long)vp->tiles_x * vp->tiles_y;
    out->pairs = f->host_counts->pairs;
    out->splats = (const device_splat *)f->splats.ptr;
    out->ranges = (const tile_range *)f->ranges.ptr;
    out->values = f->sorted_values;
    out->schedule = (const tile_work *)f->schedule.ptr;
    out->flags = save ? (const unsigned char *)f->flags.ptr : NULL;
    out->trans = save ? (const float *)f->trans.ptr : NULL;
    out->depth = save ? (const float *)f->depth.ptr : NULL;
    out->last = save ? (const unsigned int *)f->last.ptr : NULL;
    out->buffers = save ? &f->backward : NULL;
    return RD_OK;
}

rd_result rd_splat_cuda_forward_bins(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, cudaStream_t stream,
                                     splat_saved_frame *out)
{
    return forward_frame(ctx, scene, vp, stream, false, out);
}

rd_result rd_splat_cuda_forward_saved(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, cudaStream_t stream,
                                      splat_saved_frame *out)
{
    return forward_frame(ctx, scene, vp, stream, true, out);
}
