/* test_cli_parts.c: the `radiant` command's rules that depend on a clock, with the clock's
   readings given by the test, so that they do not depend on how fast a frame renders.
   bench's warm-up: the requested frames always run; after them it goes on while less than
   CLI_WARMUP_MIN_MS have passed, and stops at once after; --warmup 0 renders none. */
#include "cli.h"
#include "test_util.h"

int main(void)
{
    const double second = CLI_WARMUP_MIN_MS;
    /* the requested frames run however long they take */
    CHECK(cli_warmup_continues(0, 3, 0.0));
    CHECK(cli_warmup_continues(2, 3, 10 * second));
    /* then more until the time has passed: fast frames (1 ms) go on, the boundary stops */
    CHECK(cli_warmup_continues(3, 3, 1.0));
    CHECK(cli_warmup_continues(500, 1, second - 1.0));
    CHECK(!cli_warmup_continues(500, 1, second));
    CHECK(!cli_warmup_continues(1, 1, 2 * second)); /* one slow frame was enough */
    /* none requested: none at all, whatever the clock says */
    CHECK(!cli_warmup_continues(0, 0, 0.0));
    CHECK(!cli_warmup_continues(0, 0, 2 * second));
    /* the loop as cmd_bench.c runs it, with a clock of 7 ms a frame: 143 frames pass 1 s */
    int warmed = 0;
    while (cli_warmup_continues(warmed, 2, warmed * 7.0)) warmed++;
    CHECK(warmed == 143);
    return test_finish("cli_parts");
}
