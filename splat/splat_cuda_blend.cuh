/* splat_cuda_blend.cuh: spec step 9 on CUDA, the blend (as blend_tiles in splat_cpu.c):
   a 16x16 block per tile whose warps walk the tile's Gaussians in batches staged in shared
   memory, in base 2 with the hardware's fast exp and log, in the launch order the
   schedule gives (longest first; the few longest alone on an SM: blend_part). Part of
   splat_cuda.cu, which includes it after the records and the schedule the blend reads
   (device_splat, tile_work, tile_schedule_counters, wait_for_previous_kernel). */
#ifndef RD_SPLAT_CUDA_BLEND_CUH
#define RD_SPLAT_CUDA_BLEND_CUH
#include "splat_cuda_alpha.cuh"

/* The blend in two parts, where launches may overlap (programmatic dependent launch): the
   longest tiles first, each on an SM of its own, then the rest. A tile's time grows with
   its list and with the warps it shares its SM with; biker's longest tiles (lists of
   1,500 to 2,900) ran 87 to 145 us beside three other blocks while the average SM was
   done after 72 to 81, and 1.35x faster alone. The long part's blocks take all of an SM's shared
   memory, so nothing runs beside them; each lets the shared part launch once it has
   started, and the shared part, which needs nothing of the long part's, starts without
   waiting for it, on the other SMs and then on each one the long part leaves. Its last
   block to end waits for the long part, so that the shared part, and so the frame, ends
   after it. BLEND_WHOLE: one launch, every place. */
enum blend_role { BLEND_WHOLE, BLEND_LONG, BLEND_SHARED };
typedef struct blend_part {
    tile_schedule_counters *counters; /* long_places, shared_finished */
    blend_role role;
} blend_part;

/* The last block of the shared part to end waits for the long part (see blend_part). */
__device__ __forceinline__ void end_shared_block(blend_part part)
{
    if (part.role == BLEND_SHARED && threadIdx.x == 0 && threadIdx.y == 0 &&
        atomicAdd(&part.counters->shared_finished, 1u) == gridDim.x - 1)
        wait_for_previous_kernel();
}

/* The block's place in the schedule, false where it has none. The long part's blocks
   wait for the schedule and then let the shared part launch; the shared part's take the
   places after the long part's, whose count the schedule kernel wrote before any long
   block passed its wait (read past L1, as this grid did not wait). */
__device__ __forceinline__ bool blend_place(blend_part part, unsigned int *place)
{
    *place = blockIdx.x;
    if (part.role != BLEND_SHARED) wait_for_previous_kernel();
    if (part.role == BLEND_LONG) {
        if (blockIdx.x >= part.counters->long_places) return false;
#if __CUDA_ARCH__ >= 900
        asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
    }
    if (part.role == BLEND_SHARED) {
        *place += __ldcg(&part.counters->long_places);
        if (*place >= gridDim.x) {
            end_shared_block(part);
            return false;
        }
    }
    return true;
}

/* spec step 9, as blend_tiles in splat_cpu.c, for the pixels of one tile. One 16x16
   block per tile, each warp an 8x4 block of its pixels (squarer than two rows, so fewer
   Gaussians touch it), and each warp walks the tile's list on its own: it takes 32
   Gaussians at a time while the loads of the next 32, and the indices of the 32 after
   those, are in flight. There is no block-wide barrier: with one, warps spent a quarter of
   their cycles waiting for the block's slowest warp (blend at 6M 1.36 -> 1.12 ms
   without). Lane l tests Gaussian l against the warp's rectangle (rd_rect_touches), and
   the ones that touch it are staged in its slice of shared memory in list order, packed,
   so the pixels walk them as the CPU does with a plain counter.
   EXTRAS: the depth or the contributor count is wanted (without, 1M blend 0.279 -> 0.256
   ms: two fewer operations a hit). Four blocks an SM, 64 registers: the reads one hit
   ahead took the EXTRAS kernel to 70, which leaves room for three.
   ALONE: the long part's kernel (blend_part), a function of its own because the shared
   memory it may take is an attribute of the function, and the driver then gives a
   function's every launch that much shared memory and that much less L1 (the blend at 1M
   0.224 -> 0.238 ms where the other parts shared the attribute).
   SAVE: the frame is the backward pass's (splat_backward_cuda.cu); each pixel also
   writes out.last, one past the position in the tile's list of the last Gaussian it
   blended, which the staged record carries. With EXTRAS, never ALONE. */
template <bool EXTRAS, bool ALONE, bool SAVE = false>
__global__ void __launch_bounds__(BLOCK, 4)
    blend_kernel(rd_view_params vp, const tile_work *schedule, const unsigned int *values, const device_splat *splats,
                 frame_outputs out, blend_part part)
{
    __shared__ staged_splat s_staged[BLOCK + 1]; /* the last warp's loop reads one past its slice */
    unsigned int place;
    if (!blend_place(part, &place)) return;
    int rank = threadIdx.y * RD_TILE_SIZE + threadIdx.x, lane = rank & 31, warp = rank >> 5, slice = warp * 32;
    tile_work work = schedule[place];
    unsigned int tile = work.tile;
    int wx = (int)(tile % vp.tiles_x) * RD_TILE_SIZE + (warp & 1) * 8;
    int wy = (int)(tile / vp.tiles_x) * RD_TILE_SIZE + (warp >> 1) * 4;
    int px = wx + (lane & 7), py = wy + (lane >> 3);
    bool inside = px < vp.width && py < vp.height;
    bool done = !inside;
    long long list_end = work.start + work.count;
    float X = (float)(lane & 7) + 0.5f, Y = (float)(lane >> 3) + 0.5f; /* from the warp's corner */
    float XX = X * X, XY = X * Y, YY = Y * Y;
    float wx0 = (float)wx + 0.5f, wy0 = (float)wy + 0.5f;
    float wx1 = (float)min(wx + 8, vp.width) - 0.5f, wy1 = (float)min(wy + 4, vp.height) - 0.5f;
    bool warp_inside = wx0 <= wx1 && wy0 <= wy1;
    float T = 1.0f, r = 0.0f, g = 0.0f, b = 0.0f, D = 0.0f;
    unsigned int blended = 0, last = 0;
    long long j = work.start + lane;
    blend_splat next = {};
    unsigned int next_index = 0;
    if (j < list_end) next = load_blend_splat(splats, values[j]);
    if (j + 32 < list_end) next_index = values[j + 32];
    for (long long batch = work.start; batch < list_end; batch += 32, j += 32) {
        if (__all_sync(0xffffffffu, done)) break;
        blend_splat s = next;
        float log2_opacity = fast_log2(s.opacity);
        bool touches = j < list_end && warp_inside && touches_rect(s, log2_opacity, wx0, wx1, wy0, wy1);
        unsigned int mask = __ballot_sync(0xffffffffu, touches);
        if (touches) {
            int k = slice + __popc(mask & ((1u << lane) - 1));
            s_staged[k] = stage_splat(s, log2_opacity, (float)wx, (float)wy, SAVE ? (unsigned int)(j - work.start) : 0u);
        }
        if (j + 32 < list_end) next = load_blend_splat(splats, next_index);
        if (j + 64 < list_end) next_index = values[j + 64];
        __syncwarp();
        /* each hit's staged values are read, and its alpha computed, one hit ahead
           (hit[1] may be past the last hit, but is inside the array; its alpha is then
           not used): the loop waited out the shared-memory latency twice a hit (a
           quarter of the 1M blend's stall samples; biker blend 0.143 -> 0.123 ms), and
           each hit's alpha (five multiply-adds, the exponential, the tests) lay on the
           walk's path between one hit's stop test and the next. Unrolled twice, so that
           the values read ahead need no copies. */
        if (!done) {
            const staged_splat *hit = s_staged + slice, *end = hit + __popc(mask);
            staged_splat cur = *hit;
            float alpha = hit_alpha(cur, X, Y, XX, XY, YY);
#pragma unroll 2
            for (; hit < end; hit++) {
                staged_splat next_hit = hit[1];
                float next_alpha = hit_alpha(next_hit, X, Y, XX, XY, YY);
                /* an alpha under 1/255 is 0 (hit_alpha), which leaves T as it is, so that
                   the stop test needs no other condition; T - alpha T is T (1 - alpha)
                   within an ulp */
                float w = alpha * T, next_T = T - w;
                if (next_T < RD_MIN_TRANSMITTANCE) break;
                r = fmaf(w, cur.rgb.x, r);
                g = fmaf(w, cur.rgb.y, g);
                b = fmaf(w, cur.rgb.z, b);
                T = next_T;
                if (EXTRAS) {
                    D = fmaf(w, cur.rest.z, D);
                    blended += alpha > 0.0f;
                }
                if (SAVE && alpha > 0.0f) last = __float_as_uint(cur.rest.w) + 1u;
                cur = next_hit, alpha = next_alpha;
            }
            done = hit < end; /* stopped at a Gaussian that would take T under the limit */
        }
        __syncwarp(); /* the slice is read before the next batch overwrites it */
    }
    end_shared_block(part);
    if (!inside) return;
    size_t p = (size_t)py * vp.width + px;
    if (out.color)
        ((float4 *)out.color)[p] =
            make_float4(r + T * vp.background[0], g + T * vp.background[1], b + T * vp.background[2], 1.0f - T);
    if (out.depth) ((float *)out.depth)[p] = rd_pixel_depth(D, T, vp.flags);
    if (out.trans) ((float *)out.trans)[p] = T;
    if (out.contrib) ((unsigned int *)out.contrib)[p] = blended;
    if (SAVE) out.last[p] = last;
}

#endif
