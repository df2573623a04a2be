/* stream_fixture_tool.c: `stream_fixture_tool OUT.rstream FRAMES GAUSSIANS SH_DEGREE
   KEYFRAME_EVERY SEED [STILL]`: writes a random residual stream (stream_fixture.h), for the
   command-line test, the fuzz harness's seed corpus and the GPU benchmarks (STILL: the
   share of Gaussians a residual frame leaves as they were, as in a trained stream; 0). */
#include "stream_fixture.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 8)
        return fprintf(stderr, "usage: stream_fixture_tool OUT.rstream FRAMES GAUSSIANS SH_DEGREE KEYFRAME_EVERY SEED [STILL]\n"), 2;
    rd_context *ctx;
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU}, &ctx) != RD_OK) return 1;
    stream_fixture_desc d = {atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argc == 8 ? atof(argv[7]) : 0.0};
    if (!(d.still >= 0.0 && d.still <= 1.0)) return fprintf(stderr, "stream_fixture_tool: STILL must be within 0..1\n"), 2;
    test_rng rng = {strtoull(argv[6], NULL, 10)};
    int failed = stream_fixture_write(ctx, &rng, argv[1], &d, NULL) != RD_OK;
    if (failed) fprintf(stderr, "stream_fixture_tool: %s\n", rd_last_error(ctx));
    rd_context_destroy(ctx);
    return failed;
}
