/* frame_driver.c: the GPU frame's capacity policy and grow-and-retry loop (frame_driver.h). */
#include "frame_driver.h"

/* Capacity for `pairs` and 1/headroom more: a multiple of four within RD_PAIRS_MIN and
   RD_PAIRS_MAX. */
static int64_t capacity_for(int64_t pairs, int64_t headroom)
{
    int64_t c = (pairs + pairs / headroom + 3) & ~(int64_t)3;
    return c < RD_PAIRS_MIN ? RD_PAIRS_MIN : c > RD_PAIRS_MAX ? RD_PAIRS_MAX : c;
}

rd_result rd_gpu_frame_check(rd_context *ctx, const char *backend, int64_t count, const char *what)
{
    if (count > 0x7fffffffll)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %lld %s exceed the 2^31 a sort can take", backend, (long long)count,
                       what);
    return RD_OK;
}

rd_result rd_gpu_frame_drive(rd_context *ctx, rd_pair_capacity *c, const rd_gpu_frame *frame, int64_t *pairs)
{
    if (c->pairs < RD_PAIRS_MIN) c->pairs = RD_PAIRS_MIN;
    int64_t found = 0;
    for (int attempt = 0;; attempt++) {
        rd_result r = frame->reserve(ctx, frame->user, c->pairs);
        if (r != RD_OK) {
            c->pairs = 0;
            return r;
        }
        r = frame->run(ctx, frame->user, c->pairs, &found);
        if (r != RD_OK) return r;
        if (found <= c->pairs) break;
        if (attempt > 0)
            return rd_fail(ctx, RD_ERROR_DEVICE, "%s: pair count changed between two renders of a frame", frame->backend);
        if (found > RD_PAIRS_MAX)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %lld tile pairs exceed the 2^31 a sort can take; use fewer "
                           "primitives or pixels", frame->backend, (long long)found);
        int64_t grown = capacity_for(found, 8);
        rd_log(ctx, RD_LOG_DEBUG, "%s: growing the pair buffers from %lld to %lld pairs", frame->backend, (long long)c->pairs,
               (long long)grown);
        c->pairs = grown;
    }
    if (found > c->window_max) c->window_max = found;
    if (++c->window_frames == RD_PAIRS_WINDOW) { /* for the next frame */
        int64_t fitted = capacity_for(c->window_max, 32);
        if (fitted < c->pairs) c->pairs = fitted;
        c->window_frames = 0, c->window_max = 0;
    }
    *pairs = found;
    return RD_OK;
}
