/* warmup.c: when `radiant bench` stops warming up. Apart from cmd_bench.c so that its
   test (tests/test_cli_parts.c) gives the clock's readings itself. */
#include "cli.h"

bool cli_warmup_continues(int warmed, int requested, double elapsed_ms)
{
    if (warmed < requested) return true;
    return requested > 0 && elapsed_ms < CLI_WARMUP_MIN_MS;
}
