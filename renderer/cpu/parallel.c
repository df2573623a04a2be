/* parallel.c: rd_parallel_for on POSIX threads. */
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>

enum { MAX_THREADS = 256 };

typedef struct job {
    atomic_llong next;
    int64_t count, grain;
    rd_parallel_fn fn;
    void *user;
} job;

typedef struct worker_arg {
    job *job;
    int worker;
} worker_arg;

static void *run_worker(void *p)
{
    worker_arg *arg = p;
    job *j = arg->job;
    for (;;) {
        int64_t begin = atomic_fetch_add(&j->next, j->grain);
        if (begin >= j->count) break;
        int64_t end = begin + j->grain < j->count ? begin + j->grain : j->count;
        j->fn(begin, end, arg->worker, j->user);
    }
    return NULL;
}

void rd_parallel_for(int threads, int64_t count, int64_t grain, rd_parallel_fn fn, void *user)
{
    if (count <= 0) return;
    if (grain < 1) grain = 1;
    int64_t chunks = (count + grain - 1) / grain;
    if (threads > MAX_THREADS) threads = MAX_THREADS;
    if (threads > chunks) threads = (int)chunks;
    if (threads < 1) threads = 1;

    job j = {.count = count, .grain = grain, .fn = fn, .user = user};
    atomic_init(&j.next, 0);
    pthread_t ids[MAX_THREADS];
    worker_arg args[MAX_THREADS];
    int started = 0;
    for (int t = 1; t < threads; t++) {
        args[t] = (worker_arg){&j, t};
        if (pthread_create(&ids[t], NULL, run_worker, &args[t]) != 0) break;
        started = t;
    }
    args[0] = (worker_arg){&j, 0};
    run_worker(&args[0]);
    for (int t = 1; t <= started; t++) pthread_join(ids[t], NULL);
}
