/* cmd_convert.c: `radiant convert IN OUT`: any readable scene format to any writable one. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *USAGE =
    "usage: radiant convert IN OUT [--sh-degree N] [--spz-fractional-bits B] [--format F]\n"
    "\n"
    "Reads IN (INRIA PLY, compressed PLY, SPZ v2-4, .splat, .ksplat, glTF KHR_gaussian_splatting\n"
    ".glb/.gltf, PlayCanvas SOG v1-2 as a .sog, a meta.json or its folder; found by content) and\n"
    "writes OUT in the format its name says: .ply (INRIA), .compressed.ply (PlayCanvas), .spz (SPZ v4),\n"
    ".splat, .glb or .gltf (its buffer in NAME.bin), .sog (SOG v2 bundle) or DIR/meta.json (SOG v2,\n"
    "unbundled: the images beside it).\n"
    "  --sh-degree N            keep SH degrees 0..N (default: all the scene has)\n"
    "  --spz-fractional-bits B  SPZ position precision 1..23 (default: from the scene's extent,\n"
    "                           at least 12 bits; the choice is printed)\n"
    "  --format F               ply, compressed-ply, spz, splat, glb, gltf or sog, whatever OUT is called\n"
    "  --gltf-embed             a .gltf OUT holds its buffer (base64) instead of NAME.bin beside it\n"
    "  --decode-limit MIB|none  memory IN may decode to (default: 64 times its size, at least 256 MiB)\n"
    "  --spz-frame NAME      read an SPZ IN as in this frame (RUB, RDF, LUF, ... or a z-up one such as\n"
    "                        RFU), whatever its coordinate-system record says (none: RUB)\n"
    "  --out-spz-frame NAME  write an SPZ OUT in this frame (default RUB, SPZ's documented one); the\n"
    "                        file's coordinate-system record says which\n"
    "  --time T              IN is a 4D scene: write its 3D slice at time T (rd_scene4d_slice: the\n"
    "                        Gaussians alive then, as the renderers slice them)\n";

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || end == s || v < lo || v > hi) return false;
    *out = (int)v;
    return true;
}

/* The context's options (verbose, decode limit) go into o. */
static int parse(int argc, char **argv, const char **in, const char **out, rd_scene_save_desc *d, cli_options *o)
/* (o->render.time and o->time_given: --time) */
{
    static const rd_file_format writable[] = {RD_FILE_PLY, RD_FILE_COMPRESSED_PLY, RD_FILE_SPZ, RD_FILE_SPLAT, RD_FILE_GLB,
                                                RD_FILE_GLTF, RD_FILE_SOG};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        int v;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(USAGE, stdout);
            return -1;
        } else if (strcmp(a, "--sh-degree") == 0 && next) {
            if (!parse_int(argv[++i], 0, 3, &v)) return fprintf(stderr, "radiant: --sh-degree %s: expected 0..3\n", next), EXIT_USAGE;
            d->sh_degree = RD_SH_DEGREE(v);
        } else if (strcmp(a, "--spz-fractional-bits") == 0 && next) {
            if (!parse_int(argv[++i], 1, 23, &v))
                return fprintf(stderr, "radiant: --spz-fractional-bits %s: expected 1..23\n", next), EXIT_USAGE;
            d->spz_fractional_bits = v;
        } else if (strcmp(a, "--format") == 0 && next) {
            i++;
            for (size_t f = 0; f < sizeof writable / sizeof writable[0]; f++)
                if (strcmp(next, rd_file_format_name(writable[f])) == 0 || (strcmp(next, "ply") == 0 && f == 0))
                    d->format = writable[f];
            if (!d->format) return fprintf(stderr, "radiant: --format %s: expected ply, compressed-ply, spz, splat, glb, gltf or sog\n", next), EXIT_USAGE;
        } else if (strcmp(a, "--time") == 0 && next) {
            char *end = NULL;
            o->render.time = strtof(argv[++i], &end);
            if (!end || end == argv[i] || *end || !isfinite(o->render.time))
                return fprintf(stderr, "radiant: --time %s: expected a finite number (the 4D scene's time)\n", argv[i]), EXIT_USAGE;
            o->time_given = true;
        } else if (strcmp(a, "--gltf-embed") == 0) {
            d->gltf_embed_buffer = 1;
        } else if (strcmp(a, "--verbose") == 0 || strcmp(a, "-v") == 0) {
            o->verbose = true;
        } else if (strcmp(a, "--spz-frame") == 0 && next) {
            o->spz_frame = argv[++i]; /* IN's; checked by rd_scene_load_with */
        } else if (strcmp(a, "--out-spz-frame") == 0 && next) {
            d->spz_frame = argv[++i]; /* checked by rd_scene_save */
        } else if (strcmp(a, "--decode-limit") == 0 && next) {
            if (rd_decode_limit_from_text(argv[++i], &o->decode_limit) != RD_OK)
                return fprintf(stderr, "radiant: --decode-limit %s: expected a whole number of MiB (1..1073741824) or none\n", next),
                       EXIT_USAGE;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "radiant: unknown option or missing value: %s\n\n%s", a, USAGE);
            return EXIT_USAGE;
        } else if (!*in || !*out) {
            *(*in ? out : in) = a;
        } else {
            fprintf(stderr, "radiant: unexpected argument '%s'\n\n%s", a, USAGE);
            return EXIT_USAGE;
        }
    }
    if (!*in || !*out) {
        fprintf(stderr, "radiant: convert needs IN and OUT\n\n%s", USAGE);
        return EXIT_USAGE;
    }
    return EXIT_DONE;
}

int cmd_convert(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    rd_scene_save_desc desc = {0};
    cli_options context_options = {.backend = RD_BACKEND_CPU};
    int status = parse(argc, argv, &in, &out, &desc, &context_options);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    rd_context *ctx = cli_context(&context_options);
    if (!ctx) return EXIT_FAILED;
    rd_scene *scene = NULL;
    double t0 = cli_now_ms();
    if (rd_scene_load_with(ctx, in, &(rd_scene_load_desc){.spz_frame = context_options.spz_frame}, &scene) != RD_OK) {
        cli_error(ctx, NULL);
        rd_context_destroy(ctx);
        return EXIT_FAILED;
    }
    if (context_options.time_given) { /* the slice replaces the 4D scene */
        rd_scene *sliced = NULL;
        if (rd_scene_get_kind(scene) != RD_SCENE_GAUSSIANS_4D) {
            fprintf(stderr, "radiant: --time: %s is a static scene (a 4D scene has a time)\n", in);
            rd_scene_destroy(scene);
            rd_context_destroy(ctx);
            return EXIT_USAGE;
        }
        if (rd_scene4d_slice(ctx, scene, context_options.render.time, &sliced) != RD_OK) {
            cli_error(ctx, NULL);
            rd_scene_destroy(scene);
            rd_context_destroy(ctx);
            return EXIT_FAILED;
        }
        rd_scene_destroy(scene);
        scene = sliced;
    }
    double t1 = cli_now_ms();
    status = EXIT_DONE;
    if (rd_scene_save(ctx, scene, out, &desc) != RD_OK) {
        cli_error(ctx, NULL);
        status = EXIT_FAILED;
    } else {
        double t2 = cli_now_ms();
        rd_scene_info info;
        rd_scene_get_info(scene, &info);
        rd_scene4d_info dynamic;
        if (rd_scene4d_get_info(ctx, scene, &dynamic) == RD_OK) /* rd_scene_get_info describes 3D scenes */
            info.count = dynamic.count, snprintf(info.format, sizeof info.format, "4D");
        struct stat st;
        long long bytes = stat(out, &st) == 0 ? (long long)st.st_size : -1;
        printf("%s (%s, %lld Gaussians) -> %s: %lld bytes, %.2f bytes a Gaussian; read %.1f ms, write %.1f ms\n", in,
               info.format, (long long)info.count, out, bytes, info.count ? (double)bytes / (double)info.count : 0.0,
               t1 - t0, t2 - t1);
    }
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return status;
}
