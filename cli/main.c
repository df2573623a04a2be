/* main.c: the `radiant` command: render, info, bench, synth, convert, train, compact, query, stream. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *USAGE =
    "usage: radiant <command> [options]\n"
    "\n"
    "commands:\n"
    "  render  SCENE|--demo [--dataset DIR | --cameras FILE] [--out DIR]  render views to PNG + report.json\n"
    "  info    FILE|DIR                                                  describe a scene file or dataset\n"
    "  bench   SCENE|--demo [--cameras FILE] [--frames N] [--json]        time frames and stages\n"
    "  synth   N --out FILE.ply [--cameras FILE.json]                    write the benchmark scene\n"
    "  convert IN OUT [--sh-degree N] [--spz-fractional-bits B]          convert between scene formats\n"
    "  train   DATASET --out SCENE [--iterations N] [--downscale F]      fit a scene to a dataset's photos\n"
    "  compact SCENE --out FILE.rcompact [--prune F] [--dataset DIR]   prune and quantise a 3D or 4D scene\n"
    "  query   SCENE --embeddings Q.npy [--features F] [--dataset DIR]  relevancy maps of a feature field\n"
    "  stream  encode DATASET --out S.rstream [--iterations N]         encode multi-view video as a residual stream\n"
    "\n"
    "'radiant <command> --help' shows a command's options.\n"
    "exit codes: 0 done, 1 failed, 2 bad usage\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(USAGE, stdout);
        return EXIT_DONE;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("radiant %d.%d.%d\n", RD_VERSION_MAJOR, RD_VERSION_MINOR, RD_VERSION_PATCH);
        return EXIT_DONE;
    }
    if (strcmp(cmd, "render") == 0) return cmd_render(argc - 2, argv + 2);
    if (strcmp(cmd, "info") == 0) return cmd_info(argc - 2, argv + 2);
    if (strcmp(cmd, "bench") == 0) return cmd_bench(argc - 2, argv + 2);
    if (strcmp(cmd, "synth") == 0) return cmd_synth(argc - 2, argv + 2);
    if (strcmp(cmd, "convert") == 0) return cmd_convert(argc - 2, argv + 2);
    if (strcmp(cmd, "train") == 0) return cmd_train(argc - 2, argv + 2);
    if (strcmp(cmd, "compact") == 0) return cmd_compact(argc - 2, argv + 2);
    if (strcmp(cmd, "query") == 0) return cmd_query(argc - 2, argv + 2);
    if (strcmp(cmd, "stream") == 0) return cmd_stream(argc - 2, argv + 2);
    fprintf(stderr, "radiant: unknown command '%s'\n\n%s", cmd, USAGE);
    return EXIT_USAGE;
}
