/* frame_driver.h: what a GPU frame that bins primitives into (tile, primitive) pairs does
   the same way on every GPU backend, whatever the kind of scene: the limits a frame is
   checked against, the capacity of its pair buffers, and the loop that renders a frame
   again when it found more pairs than they hold.

   A frame's pair count is known only on the device, so a frame is recorded for the
   capacity the buffers have; when it finds more, the host sees it at the end, grows the
   buffers (an eighth to spare) and renders the frame again, once: the count is
   deterministic. Every RD_PAIRS_WINDOW frames the capacity is fitted down to the most
   pairs a frame of the window had (a thirty-second to spare), so that views with few
   pairs stop paying for one that had many, and views that alternate within a window
   neither grow nor shrink it by turns. */
#ifndef RD_FRAME_DRIVER_H
#define RD_FRAME_DRIVER_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The pairs a capacity starts with, the frames it is fitted over, and the most a radix
   sort of 32-bit counts takes (under 2^31, a multiple of four). */
enum { RD_PAIRS_MIN = 65536, RD_PAIRS_WINDOW = 16, RD_PAIRS_MAX = 0x7ffffffc };

typedef struct rd_pair_capacity {
    int64_t pairs;        /* what the pair buffers hold; 0 until the first frame */
    int window_frames;    /* frames rendered in the current window */
    int64_t window_max;   /* the most pairs a frame of that window had */
} rd_pair_capacity;

/* One frame on one backend, as the driver calls it. reserve sizes every buffer the frame
   uses for `capacity` pairs (before anything is recorded: growth frees old buffers); run
   records, submits and waits for the frame at that capacity and reports the pairs it
   found (more than capacity: the frame is rendered again). */
typedef struct rd_gpu_frame {
    const char *backend; /* "cuda", "vulkan": for messages */
    void *user;
    rd_result (*reserve)(rd_context *ctx, void *user, int64_t capacity);
    rd_result (*run)(rd_context *ctx, void *user, int64_t capacity, int64_t *pairs);
} rd_gpu_frame;

/* RD_OK where a frame of `count` primitives fits what a sort takes, else the reason. */
rd_result rd_gpu_frame_check(rd_context *ctx, const char *backend, int64_t count, const char *what);

/* Renders the frame (growing and rendering again where needed), then updates the
   capacity for the next one; *pairs is the frame's count. A failed reserve resets the
   capacity, so that the next frame starts small rather than failing the same way. */
rd_result rd_gpu_frame_drive(rd_context *ctx, rd_pair_capacity *capacity, const rd_gpu_frame *frame, int64_t *pairs);

#ifdef __cplusplus
}
#endif
#endif
