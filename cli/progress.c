/* progress.c: a one-line progress bar on stderr, only on a terminal, only after a second. */
#include "cli.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

double cli_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

void cli_progress(const char *label, int done, int total, double start_ms)
{
    if (!isatty(2) || total <= 0) return;
    double elapsed = cli_now_ms() - start_ms;
    if (elapsed < 1000.0 && done < total) return;
    if (elapsed < 1000.0 && done == total) return; /* short runs draw nothing */
    enum { WIDTH = 30 };
    int filled = (int)((double)done / total * WIDTH);
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    double eta = done > 0 ? elapsed / done * (total - done) / 1000.0 : 0.0;
    fprintf(stderr, "\r%s [%s] %d/%d  %.1fs left ", label, bar, done, total, eta);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}
