/* parallel.h: the CPU backend's one threading primitive. */
#ifndef RD_PARALLEL_H
#define RD_PARALLEL_H

#include <stdint.h>

/* Calls fn on [begin, end) chunks of at most grain items covering [0, count), from up to
   `threads` threads that take chunks in turn (dynamic scheduling). worker is 0..threads-1,
   for per-thread scratch. Falls back to the calling thread if threads cannot start. */
typedef void (*rd_parallel_fn)(int64_t begin, int64_t end, int worker, void *user);
void rd_parallel_for(int threads, int64_t count, int64_t grain, rd_parallel_fn fn, void *user);

#endif
