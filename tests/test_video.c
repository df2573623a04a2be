/* test_video.c: H.264 video through FFmpeg's libraries (rd_video_*): frames of moving
   shapes (fresh random colours each run) encoded and decoded back give the same count
   and size, each frame within 30 dB of what went in, clips of every length from 1 to 12
   frames too; a frame of the wrong size, an odd
   size and an unwritable place are refused by name; an encode dropped half way, or a
   failed one, leaves no file; a broken file is refused by name. Skipped, saying so, where radiant was built without FFmpeg. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { W = 96, H = 64, FRAMES = 12, SKIP = 77 };

static rd_context *ctx;

/* Frame k: a gradient and a disc that moves, in the run's colours. */
static void draw(int k, const float colour[3], rd_image *out)
{
    rd_image_alloc(W, H, 3, out);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float *p = out->pixels + 3 * ((size_t)y * W + x);
            float dx = (float)x - (10.0f + 5.0f * (float)k), dy = (float)y - 32.0f;
            bool disc = dx * dx + dy * dy < 100.0f;
            for (int c = 0; c < 3; c++) p[c] = disc ? colour[c] : 0.2f + 0.6f * (float)(x + c * y) / (float)(W + 2 * H);
        }
}

int main(void)
{
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    test_rng rng = {test_seed("test_video")};
    const char *dir = test_temp_dir("video");
    char path[4096];
    snprintf(path, sizeof path, "%s/clip.mp4", dir);
    rd_video_writer *video = NULL;
    rd_result opened = rd_video_open(ctx, path, &(rd_video_desc){.width = W, .height = H, .fps = 24}, &video);
    if (opened == RD_ERROR_UNSUPPORTED) {
        printf("video: skipped: %s\n", rd_last_error(ctx));
        rd_context_destroy(ctx);
        return SKIP;
    }
    CHECK_OK(opened);
    float colour[3] = {(float)rng_uniform(&rng), (float)rng_uniform(&rng), (float)rng_uniform(&rng)};
    rd_image frames[FRAMES];
    for (int k = 0; k < FRAMES; k++) {
        draw(k, colour, &frames[k]);
        CHECK_OK(rd_video_write(video, &frames[k]));
    }
    CHECK(access(path, F_OK) != 0); /* not in place before it is finished */
    rd_image wrong;
    rd_image_alloc(W + 2, H, 3, &wrong);
    CHECK_FAILS(rd_video_write(video, &wrong), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "clip.mp4") && strstr(rd_last_error(ctx), "98x64"));
    rd_image_free(&wrong);
    CHECK_OK(rd_video_close(video, true));

    rd_image back[FRAMES + 2];
    int count = 0;
    CHECK_OK(rd_video_read(ctx, path, back, FRAMES + 2, &count));
    CHECK(count == FRAMES);
    double worst = 1e9;
    for (int k = 0; k < count && k < FRAMES; k++) {
        CHECK(back[k].width == W && back[k].height == H);
        rd_metrics m;
        if (CHECK_OK(rd_image_compare(ctx, &back[k], &frames[k], &m))) worst = fmin(worst, m.psnr);
        rd_image_free(&back[k]);
    }
    printf("  %d frames of %dx%d back, the worst %.1f dB from what went in\n", count, W, H, worst);
    CHECK(worst > 30.0); /* 35-39 dB seen: 4:2:0 softens the disc's coloured edge */

    /* every length from 1 to 12 frames reads back whole at 10 and 30 a second (a clip of
       10 frames once lost its last: no packet duration, so the MP4's edit list ended early) */
    int short_counts = 0;
    for (int fps = 10; fps <= 30; fps += 20)
        for (int n = 1; n <= FRAMES; n++) {
            snprintf(path, sizeof path, "%s/short%d_%d.mp4", dir, fps, n);
            if (!CHECK_OK(rd_video_open(ctx, path, &(rd_video_desc){.width = W, .height = H, .fps = fps}, &video))) continue;
            for (int k = 0; k < n; k++) CHECK_OK(rd_video_write(video, &frames[k]));
            CHECK_OK(rd_video_close(video, true));
            CHECK_OK(rd_video_read(ctx, path, NULL, 0, &count));
            if (count != n) printf("  %d frames at %d a second read back as %d\n", n, fps, count);
            short_counts += count == n;
        }
    CHECK(short_counts == 2 * FRAMES);

    /* a broken video: bytes that are no container, and the clip cut in half (its index, at
       the end, gone), each refused naming the file, or read as fewer frames: never more */
    snprintf(path, sizeof path, "%s/clip.mp4", dir);
    size_t size = 0;
    unsigned char *clip = read_file(path, &size);
    if (CHECK(clip && size > 100)) {
        const char *garbage = write_file(dir, "garbage.mp4", "not a video at all, only words", 30);
        CHECK(rd_video_read(ctx, garbage, NULL, 0, &count) != RD_OK && strstr(rd_last_error(ctx), "garbage.mp4"));
        rd_result cut = rd_video_read(ctx, write_file(dir, "cut.mp4", clip, size / 2), NULL, 0, &count);
        CHECK(cut != RD_OK ? strstr(rd_last_error(ctx), "cut.mp4") != NULL : count < FRAMES);
    }
    free(clip);

    /* refused: an odd size, a folder that is not there; a dropped encode leaves nothing */
    CHECK_FAILS(rd_video_open(ctx, path, &(rd_video_desc){.width = 81, .height = 45}, &video), RD_ERROR_INVALID_ARGUMENT);
    CHECK(video == NULL && strstr(rd_last_error(ctx), "81x45"));
    snprintf(path, sizeof path, "%s/nowhere/clip.mp4", dir);
    CHECK(rd_video_open(ctx, path, &(rd_video_desc){.width = W, .height = H}, &video) != RD_OK && video == NULL);
    CHECK(strstr(rd_last_error(ctx), "nowhere/clip.mp4") != NULL);
    snprintf(path, sizeof path, "%s/dropped.mp4", dir);
    CHECK_OK(rd_video_open(ctx, path, &(rd_video_desc){.width = W, .height = H}, &video));
    CHECK_OK(rd_video_write(video, &frames[0]));
    CHECK_OK(rd_video_close(video, false));
    char listing[4096];
    snprintf(listing, sizeof listing, "ls -A %s | grep -c dropped > /dev/null", dir);
    CHECK(access(path, F_OK) != 0 && system(listing) != 0); /* neither the file nor its partial one */
    for (int k = 0; k < FRAMES; k++) rd_image_free(&frames[k]);
    rd_context_destroy(ctx);
    return test_finish("video");
}
