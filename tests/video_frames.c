/* video_frames.c: for the shell tests. `video_frames MIN_DB VIDEO FRAME.png...` decodes the
   video (rd_video_read) and checks that it holds one frame per PNG, of the PNGs' size, each
   at least MIN_DB from its PNG; prints the frame count and the worst PSNR. Exit 0 when so,
   1 otherwise, 2 when something cannot be read. */
#include "radiant.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: video_frames MIN_DB VIDEO FRAME.png...\n");
        return 2;
    }
    double min_db = atof(argv[1]);
    argv++, argc--;
    int want = argc - 2, count = 0;
    rd_image *frames = calloc((size_t)want + 1, sizeof *frames);
    rd_context *ctx = NULL;
    if (!frames || rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU}, &ctx) != RD_OK ||
        rd_video_read(ctx, argv[1], frames, want + 1, &count) != RD_OK) {
        fprintf(stderr, "video_frames: %s\n", ctx ? rd_last_error(ctx) : "no context");
        return 2;
    }
    double worst = INFINITY;
    bool ok = count == want;
    for (int k = 0; k < want && k < count; k++) {
        rd_image png, rgb;
        rd_metrics m;
        if (rd_image_load(ctx, argv[2 + k], &png) != RD_OK) return 2;
        ok &= png.width == frames[k].width && png.height == frames[k].height;
        if (rd_image_composite(&png, (float[3]){0, 0, 0}, &rgb) == RD_OK && rd_image_compare(ctx, &frames[k], &rgb, &m) == RD_OK)
            worst = fmin(worst, m.psnr);
        else ok = false;
        rd_image_free(&png), rd_image_free(&rgb), rd_image_free(&frames[k]);
    }
    printf("%d frames (%d PNGs), worst %.1f dB\n", count, want, worst);
    rd_context_destroy(ctx);
    free(frames);
    return ok && worst >= min_db ? 0 : 1;
}
