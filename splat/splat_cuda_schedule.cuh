/* splat_cuda_schedule.cuh: the blend's launch order for splat_cuda.cu (included there,
   after the kernels before it and before splat_cuda_blend.cuh, which reads the schedule):
   tile lists classed by length, the places each class takes, and what the host reads of a
   frame. For splat_cuda.cu only. */
#ifndef RD_SPLAT_CUDA_SCHEDULE_CUH
#define RD_SPLAT_CUDA_SCHEDULE_CUH

/* The blend's launch order. Blocks start roughly in launch order and a tile's time grows
   with its list, so a long list launched late ran alone at the end (biker: the busiest SM
   was active 1.5x as long as the average one). Tiles are launched longest first, by the
   bit length of their list's length (LPT scheduling, coarsely); within a class the order
   does not matter, as tiles write disjoint pixels. Two passes: a histogram of the classes,
   then each tile's place = the tiles of longer classes + its rank in its own. */
enum { LENGTH_CLASSES = 65 };

/* counters: [LENGTH_CLASSES] histogram, then [LENGTH_CLASSES] places taken; zero at start.
   long_places: the first places of the schedule that the blend gives an SM each (see
   blend_part); shared_finished: the blocks of the blend's shared part that have ended. */
typedef struct tile_schedule_counters {
    unsigned int histogram[LENGTH_CLASSES], taken[LENGTH_CLASSES];
    unsigned int long_places, shared_finished;
} tile_schedule_counters;
static_assert(sizeof(tile_schedule_counters) % 8 == 0, "the frame's 64-bit counts follow the schedule's (ranges_bytes)");

/* What the host reads of a frame: the end of the ranges buffer from the schedule's long
   places on (ranges_bytes), one download. */
typedef struct frame_counts {
    unsigned int long_places, shared_finished;
    long long visible, pairs;
} frame_counts;
static_assert(offsetof(tile_schedule_counters, long_places) + offsetof(frame_counts, visible) == sizeof(tile_schedule_counters),
              "frame_counts: the tail of tile_schedule_counters, then the frame's counts");


__device__ __forceinline__ int length_class(tile_range r) { return 64 - __clzll(r.end - r.start); }

/* Adds one to counters[c] for every lane (c < 0: none), one atomic per distinct class in
   the warp; returns the lane's count before its own one, lanes of a class in lane order. */
__device__ __forceinline__ unsigned int warp_increment(unsigned int *counters, int c)
{
    int lane = threadIdx.x & 31;
    unsigned int group = __match_any_sync(0xffffffffu, c), leader = __ffs(group) - 1, before = 0;
    if (c >= 0 && lane == (int)leader) before = atomicAdd(&counters[c], __popc(group));
    return __shfl_sync(0xffffffffu, before, leader) + __popc(group & ((1u << lane) - 1));
}

__global__ void tile_classes_kernel(const tile_range *ranges, unsigned int tiles, tile_schedule_counters *counters)
{
    wait_for_previous_kernel();
    unsigned int t = blockIdx.x * blockDim.x + threadIdx.x;
    warp_increment(counters->histogram, t < tiles ? length_class(ranges[t]) : -1);
}

__global__ void tile_schedule_kernel(const tile_range *ranges, unsigned int tiles, tile_schedule_counters *counters,
                                     tile_work *schedule, const long long *pairs, long_tile_rule rule)
{
    wait_for_previous_kernel();
    __shared__ unsigned int s_first[LENGTH_CLASSES]; /* the places before each class */
    if (threadIdx.x == 0) {
        unsigned int sum = 0, long_places = 0;
        int long_from = 64 - __clzll(max(*pairs / max(rule.per_long, 1u), 1ll));
        for (int c = LENGTH_CLASSES - 1; c >= 0; c--) {
            s_first[c] = sum;
            sum += counters->histogram[c];
            if (c >= long_from) long_places = min(sum, rule.most);
        }
        if (sum - counters->histogram[0] > rule.busy_most) long_places = 0; /* class 0: no pairs */
        if (blockIdx.x == 0) counters->long_places = long_places;
    }
    __syncthreads();
    unsigned int t = blockIdx.x * blockDim.x + threadIdx.x;
    tile_range r = t < tiles ? ranges[t] : tile_range{0, 0};
    int c = t < tiles ? length_class(r) : -1;
    unsigned int rank = warp_increment(counters->taken, c);
    if (c >= 0) schedule[s_first[c] + rank] = tile_work{r.start, (unsigned int)(r.end - r.start), t};
}

#endif
