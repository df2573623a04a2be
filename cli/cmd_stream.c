/* cmd_stream.c: residual streams (.rstream) in the commands: `radiant info` (frames,
   sizes, bitrate, intra frames, damage), `radiant render S.rstream --frames A:B` (every
   view of each frame, NAME_fNNNN.png, and report.json with each frame's bytes and decode
   time; with a dynamic dataset, each frame's own views and their PSNR) and `radiant bench
   S.rstream` (decode and render times a frame, and seeks).
   Frames are numbered from 0, as in the C API (the spec's frame 1 is frame 0). On the CPU
   each frame is decoded on the host (the reference); on CUDA and Vulkan residual frames
   are decoded in device memory and rendered from there (rd_stream_scene). */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_is_stream(const char *path)
{
    size_t n = path ? strlen(path) : 0;
    return n > 8 && strcmp(path + n - 8, ".rstream") == 0;
}

static rd_result open_stream(rd_context *ctx, const char *path, rd_stream **s, rd_stream_info *info)
{
    rd_result r = rd_stream_open(ctx, path, s);
    if (r != RD_OK) return r;
    rd_stream_get_info(*s, info);
    if (info->piped)
        fprintf(stderr, "radiant: %s is a pipe: frames are read as they arrive\n", path);
    else if (!info->indexed)
        fprintf(stderr, "radiant: warning: %s has no index (cut short, damaged or still being written)%s; %lld whole frames found\n",
                path, info->damaged_at >= 0 ? ", damage or a cut past its last whole frame" : "", (long long)info->frames);
    return RD_OK;
}

int cli_stream_info(rd_context *ctx, const char *path)
{
    rd_stream *s;
    rd_stream_info info;
    if (open_stream(ctx, path, &s, &info) != RD_OK) return cli_error(ctx, NULL), EXIT_FAILED;
    printf("file:        %s\nformat:      rstream (residual stream), %s\n", path, info.indexed ? "indexed" : "no index: scanned");
    printf("frames:      %lld (%lld intra) at %g a second, SH degree %d, position step %g\n", (long long)info.frames,
           (long long)info.intra_frames, info.frame_rate, info.sh_degree, info.position_step);
    printf("size:        %lld bytes; largest frame %lld, mean residual frame %.0f bytes\n", (long long)info.file_bytes,
           (long long)info.largest_frame, info.mean_residual_bytes);
    printf("bitrate:     %.3f Mbit/s\n", info.bits_per_second / 1e6);
    if (info.damaged_at >= 0) printf("damage:      the scan stopped or skipped at byte %lld\n", (long long)info.damaged_at);
    rd_stream_frame_info f;
    printf("frame  kind      gaussians      bytes\n");
    for (int64_t k = 0, shown = 0; shown < 12 && k < info.frame_numbers; k++) {
        if (rd_stream_get_frame(s, k, &f) != RD_OK) continue;
        printf("%5lld  %-8s %10lld %10lld\n", (long long)k, f.kind == RD_STREAM_INTRA ? "intra" : "residual", (long long)f.count,
               (long long)f.bytes);
        shown++;
    }
    if (info.frames > 12) printf("...\n");
    printf("config:      %s\n", rd_stream_config(s));
    rd_stream_close(s);
    return EXIT_DONE;
}

/* --frames A:B (inclusive), taken out of argv. */
static int take_frames(int *argc, char **argv, int64_t *first, int64_t *last)
{
    *first = 0, *last = -1;
    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], "--frames") != 0) continue;
        long long a, b;
        char end;
        if (i + 1 >= *argc || sscanf(argv[i + 1], "%lld:%lld%c", &a, &b, &end) != 2 || a < 0 || b < a) {
            fprintf(stderr, "radiant: --frames takes A:B, 0 <= A <= B (a stream's frames, from 0)\n");
            return EXIT_USAGE;
        }
        *first = a, *last = b;
        memmove(argv + i, argv + i + 2, (size_t)(*argc - i - 2) * sizeof *argv);
        *argc -= 2;
        break;
    }
    return EXIT_DONE;
}

/* A dynamic dataset's view i belongs to frame k where its time is the k-th of the
   dataset's distinct times (sorted); every view belongs to every frame otherwise. */
static bool view_in_frame(const cli_views *v, int i, int64_t k)
{
    if (!v->dataset || !rd_dataset_has_time(v->dataset)) return true;
    float t = rd_dataset_view(v->dataset, i)->time;
    int64_t earlier = 0; /* distinct times below t */
    for (int j = 0; j < v->count; j++) {
        float u = rd_dataset_view(v->dataset, j)->time;
        bool first_of_its_time = true;
        for (int m = 0; m < j && first_of_its_time; m++) first_of_its_time = rd_dataset_view(v->dataset, m)->time != u;
        earlier += first_of_its_time && u < t;
    }
    return earlier == k;
}

/* PSNR of rgb against the dataset's photo of view i (on background); NaN where it has none. */
static double view_psnr(rd_context *ctx, const cli_views *v, int i, const float background[3], const rd_image *rgb)
{
    rd_image ref;
    rd_metrics m;
    if (!v->dataset || !rd_dataset_view(v->dataset, i)->image_path || rd_dataset_load_image(ctx, v->dataset, i, background, &ref) != RD_OK)
        return NAN;
    bool ok = ref.width == rgb->width && ref.height == rgb->height && rd_image_compare(ctx, rgb, &ref, &m) == RD_OK;
    rd_image_free(&ref);
    return ok ? m.psnr : NAN;
}

/* A stream command's options: --frames A:B, then the others allowed. */
static int stream_options(int argc, char **argv, unsigned allowed, const char *usage, cli_options *o, int64_t *first, int64_t *last)
{
    int status = take_frames(&argc, argv, first, last);
    if (status != EXIT_DONE) return status;
    status = cli_parse(argc, argv, allowed, usage, o);
    return status < 0 ? -1 : status;
}

/* The frame decoded, as a scene for the backend (the stream's own). */
static rd_result frame_scene(rd_stream *s, int64_t frame, double *decode_ms, const rd_scene **scene)
{
    double t0 = cli_now_ms();
    rd_result r = rd_stream_seek(s, frame); /* from the current frame where it can (the next: one residual) */
    if (r == RD_OK) r = rd_stream_scene(s, scene);
    *decode_ms = cli_now_ms() - t0;
    return r;
}

/* The views about the current frame: an orbit is placed from host arrays, so a device
   scene's frame is copied down for it once. */
static rd_result frame_views(rd_context *ctx, const cli_options *o, rd_stream *s, cli_views *views)
{
    rd_scene_desc state = rd_stream_state(s);
    rd_scene *host = NULL;
    rd_result r = state.count < 0 ? RD_ERROR_DEVICE : rd_scene_create(ctx, &state, &host);
    if (r == RD_OK) r = cli_views_load(ctx, o, host, views);
    rd_scene_destroy(host);
    return r;
}

int cli_render_stream(int argc, char **argv, const char *usage)
{
    int64_t first, last;
    cli_options o;
    int status = stream_options(argc, argv, OPT_DATASET | OPT_CAMERAS | OPT_OUT | OPT_BACKEND | OPT_BACKGROUND | OPT_SIZE | OPT_VIDEO, usage, &o,
                                &first, &last);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    const char *out_dir = o.out_dir ? o.out_dir : "out";
    rd_context *ctx = cli_context(&o);
    if (!ctx) return EXIT_FAILED;
    rd_stream *s = NULL;
    rd_stream_info info;
    const rd_scene *scene = NULL;
    cli_views views = {0};
    rd_image rgba = {0}, rgb = {0};
    rd_video_writer *video = NULL; /* --video: each frame's first view, in order */
    int video_frames = 0, video_fps = 30;
    cJSON *report = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(report, "frames");
    status = EXIT_FAILED;
    if (open_stream(ctx, o.scene, &s, &info) != RD_OK) goto fail;
    if (!cli_make_dirs(out_dir)) {
        fprintf(stderr, "radiant: cannot make %s\n", out_dir);
        goto done;
    }
    bool until_end = info.piped && last < 0; /* a pipe: every frame that arrives */
    if (last < 0) last = info.piped ? INT64_MAX - 1 : info.frame_numbers - 1;
    if (last >= info.frame_numbers && !info.piped) {
        fprintf(stderr, "radiant: --frames: %s has frames 0 to %lld\n", o.scene, (long long)info.frame_numbers - 1);
        status = EXIT_USAGE;
        goto done;
    }
    double decode_ms = 0.0, total_decode = 0.0, total_render = 0.0, psnr_sum = 0.0;
    int psnr_frames = 0, renders = 0;
    for (int64_t k = first; k <= last; k++) {
        if (frame_scene(s, k, &decode_ms, &scene) != RD_OK) {
            rd_stream_get_info(s, &info);
            if (until_end && !info.piped && k >= info.frame_numbers) break; /* the pipe closed after its last frame */
            cli_error(ctx, NULL);
            int64_t next = rd_stream_next_intra(s, k);
            if (next < 0 || next > last) goto fail;
            fprintf(stderr, "radiant: going on from frame %lld, the next intra frame\n", (long long)next);
            k = next - 1;
            continue;
        }
        if (!views.count && frame_views(ctx, &o, s, &views) != RD_OK) goto fail;
        rd_stream_frame_info fi;
        rd_stream_get_frame(s, k, &fi);
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddNumberToObject(entry, "frame", (double)k);
        cJSON_AddNumberToObject(entry, "bytes", (double)fi.bytes);
        cJSON_AddNumberToObject(entry, "gaussians", (double)fi.count);
        cJSON_AddNumberToObject(entry, "decode_ms", decode_ms);
        cJSON_AddItemToArray(list, entry);
        total_decode += decode_ms;
        double frame_psnr = 0.0;
        int compared = 0;
        bool wrote_video_frame = false;
        for (int i = 0; i < views.count; i++) {
            if (!view_in_frame(&views, i, k)) continue;
            const rd_camera *cam = &views.cameras[i];
            if (rgba.width != cam->width || rgba.height != cam->height) {
                rd_image_free(&rgba), rd_image_free(&rgb);
                if (rd_image_alloc(cam->width, cam->height, 4, &rgba) != RD_OK || rd_image_alloc(cam->width, cam->height, 3, &rgb) != RD_OK)
                    goto fail;
            }
            double t0 = cli_now_ms();
            if (rd_render(ctx, scene, cam, &o.render, &(rd_framebuffer){.color = rgba.pixels}) != RD_OK) goto fail;
            total_render += cli_now_ms() - t0;
            renders++;
            for (size_t p = 0; p < (size_t)rgba.width * (size_t)rgba.height; p++)
                for (int c = 0; c < 3; c++) rgb.pixels[3 * p + c] = rgba.pixels[4 * p + c];
            char path[4200];
            snprintf(path, sizeof path, "%s/%s_f%04lld.png", out_dir, views.names[i], (long long)k);
            if (rd_image_save(ctx, path, &rgb) != RD_OK) goto fail;
            if (o.video && !wrote_video_frame) { /* at the stream's rate unless --fps says */
                video_fps = o.fps ? o.fps : (int)lround(info.frame_rate);
                if (!video && rd_video_open(ctx, o.video, &(rd_video_desc){.width = cam->width, .height = cam->height, .fps = video_fps},
                                            &video) != RD_OK)
                    goto fail;
                if (rd_video_write(video, &rgb) != RD_OK) goto fail;
                wrote_video_frame = true, video_frames++;
            }
            double psnr = view_psnr(ctx, &views, i, o.background, &rgb);
            if (isfinite(psnr)) frame_psnr += psnr, compared++;
        }
        if (compared) cJSON_AddNumberToObject(entry, "psnr", frame_psnr / compared), psnr_sum += frame_psnr / compared, psnr_frames++;
    }
    int rendered = cJSON_GetArraySize(list);
    if (until_end && info.damaged_at >= 0) /* where a cut pipe stopped */
        fprintf(stderr, "radiant: warning: %s ended cut short or damaged at byte %lld, after %d whole frames\n", o.scene,
                (long long)info.damaged_at, rendered);
    if (video) {
        rd_result finished = rd_video_close(video, true);
        video = NULL;
        if (finished != RD_OK) goto fail;
        cJSON_AddStringToObject(report, "video", o.video);
        cJSON_AddNumberToObject(report, "video_fps", video_fps);
        printf("wrote %s (%d frames at %d a second)\n", o.video, video_frames, video_fps);
    }
    cJSON_AddStringToObject(report, "stream", o.scene);
    cJSON_AddStringToObject(report, "backend", rd_backend_name(rd_context_backend(ctx)));
    cJSON_AddNumberToObject(report, "views", views.count);
    cJSON_AddNumberToObject(report, "mean_decode_ms", rendered ? total_decode / rendered : 0.0);
    cJSON_AddNumberToObject(report, "mean_render_ms", renders ? total_render / renders : 0.0);
    if (psnr_frames) cJSON_AddNumberToObject(report, "mean_psnr", psnr_sum / psnr_frames);
    char path[4200];
    snprintf(path, sizeof path, "%s/report.json", out_dir);
    if (!cli_write_report(ctx, path, report)) goto done;
    printf("rendered %d frame%s of %s, %d view%s in all, with the %s backend into %s/\n", rendered, rendered == 1 ? "" : "s", o.scene,
           renders, renders == 1 ? "" : "s", rd_backend_name(rd_context_backend(ctx)), out_dir);
    printf("decode %.2f ms a frame (%s), render %.2f ms a view\n", rendered ? total_decode / rendered : 0.0,
           rd_context_backend(ctx) == RD_BACKEND_CPU ? "host" : "residuals on the device", renders ? total_render / renders : 0.0);
    if (psnr_frames) printf("PSNR %.2f dB (mean over %d frames of their views' photos)\n", psnr_sum / psnr_frames, psnr_frames);
    status = rendered == last - first + 1 || (until_end && rendered > 0) ? EXIT_DONE : EXIT_FAILED;
    goto done;
fail:
    cli_error(ctx, NULL);
done:
    rd_video_close(video, false); /* a failed render leaves no video */
    cJSON_Delete(report);
    rd_image_free(&rgba), rd_image_free(&rgb);
    cli_views_free(&views);
    rd_stream_close(s);
    rd_context_destroy(ctx);
    return status;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cli_bench_stream(int argc, char **argv, const char *usage)
{
    int64_t first, last;
    cli_options o;
    int status = stream_options(argc, argv, OPT_CAMERAS | OPT_BACKEND | OPT_SIZE | OPT_RENDER | OPT_JSON, usage, &o, &first, &last);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    if (o.halves) {
        fprintf(stderr, "radiant: %s: a stream's frames are decoded on the device in full precision\n",
                o.halves & RD_SCENE_HALF_SHAPE ? "--packed" : "--half-sh");
        return EXIT_USAGE;
    }
    rd_context *ctx = cli_context(&o);
    if (!ctx) return EXIT_FAILED;
    rd_stream *s = NULL;
    rd_stream_info info;
    const rd_scene *scene = NULL;
    cli_views views = {0};
    double *decode = NULL, *render = NULL, *both = NULL, *seek = NULL;
    rd_framebuffer fb = {0};
    void *probe = NULL;
    bool gpu = rd_context_backend(ctx) != RD_BACKEND_CPU;
    status = EXIT_FAILED;
    if (open_stream(ctx, o.scene, &s, &info) != RD_OK) goto fail;
    if (last < 0 || last >= info.frame_numbers) last = info.frame_numbers - 1;
    int64_t n = last - first + 1;
    if (n < 1) {
        fprintf(stderr, "radiant: %s has no frames to time\n", o.scene);
        goto done;
    }
    decode = calloc((size_t)n, sizeof *decode), render = calloc((size_t)n, sizeof *render), both = calloc((size_t)n, sizeof *both);
    seek = calloc(16, sizeof *seek);
    if (!decode || !render || !both || !seek) goto done;
    /* CUDA: four bytes to read back after each decode, so that its kernels finished, not only
       enqueued; Vulkan's decode has waited for its submission when it returns */
    bool probing = rd_context_backend(ctx) == RD_BACKEND_CUDA;
    if (probing) {
        rd_memory memory;
        if (rd_buffer_alloc(ctx, 4, &probe, &memory) != RD_OK) goto fail;
    }
    for (int64_t k = first; k <= last; k++) {
        if (frame_scene(s, k, &decode[k - first], &scene) != RD_OK) goto fail;
        double t_wait = cli_now_ms();
        uint32_t word;
        if (probing && rd_buffer_copy(ctx, &word, RD_MEMORY_HOST, probe, RD_MEMORY_DEVICE, 4) != RD_OK) goto fail;
        decode[k - first] += cli_now_ms() - t_wait;
        if (!views.count) {
            if (frame_views(ctx, &o, s, &views) != RD_OK) goto fail;
            size_t bytes = (size_t)views.cameras[0].width * views.cameras[0].height * 4 * sizeof(float);
            if (gpu) { /* a player's frame stays on the device */
                rd_memory memory;
                if (rd_buffer_alloc(ctx, bytes, (void **)&fb.color, &memory) != RD_OK) goto fail;
                fb.memory = memory;
            } else if (!(fb.color = calloc(1, bytes))) {
                goto done;
            }
        }
        double t0 = cli_now_ms();
        rd_result r = rd_render(ctx, scene, &views.cameras[(k - first) % views.count], &o.render, &fb);
        render[k - first] = cli_now_ms() - t0;
        both[k - first] = decode[k - first] + render[k - first];
        if (r != RD_OK) goto fail;
    }
    for (int t = 0; t < 16; t++) { /* seeks to frames spread over the range, each from a cold state */
        int64_t k = first + (int64_t)((double)n * (t + 0.5) / 16.0);
        double t0 = cli_now_ms();
        if (rd_stream_seek(s, k) != RD_OK) goto fail;
        seek[t] = cli_now_ms() - t0;
        if (rd_stream_seek(s, first) != RD_OK) goto fail;
    }
    if (o.json) { /* every frame's times in order, then the seeks' */
        cJSON *report = cJSON_CreateObject();
        cJSON_AddStringToObject(report, "backend", rd_backend_name(rd_context_backend(ctx)));
        cJSON_AddNumberToObject(report, "first_frame", (double)first);
        cJSON_AddItemToObject(report, "decode_ms", cJSON_CreateDoubleArray(decode, (int)n));
        cJSON_AddItemToObject(report, "render_ms", cJSON_CreateDoubleArray(render, (int)n));
        cJSON_AddItemToObject(report, "seek_ms", cJSON_CreateDoubleArray(seek, 16));
        char *text = cJSON_PrintUnformatted(report);
        if (text) printf("%s\n", text);
        cJSON_free(text), cJSON_Delete(report);
    }
    qsort(decode, (size_t)n, sizeof *decode, compare_doubles);
    qsort(render, (size_t)n, sizeof *render, compare_doubles);
    qsort(both, (size_t)n, sizeof *both, compare_doubles);
    qsort(seek, 16, sizeof *seek, compare_doubles);
    printf("stream %s: %lld frames, %s backend, %dx%d; %s\n", o.scene, (long long)n, rd_backend_name(rd_context_backend(ctx)),
           views.cameras[0].width, views.cameras[0].height,
           gpu ? "residual frames decoded and rendered in device memory, the decode timed until its kernels finish"
               : "decoded on the host, the scene made each frame");
    printf("decode          median %.3f ms, worst %.3f ms\n", decode[n / 2], decode[n - 1]);
    printf("render          median %.3f ms, worst %.3f ms\n", render[n / 2], render[n - 1]);
    printf("decode + render median %.3f ms, worst %.3f ms\n", both[n / 2], both[n - 1]);
    printf("seek            median %.3f ms, worst %.3f ms (16 frames across the range)\n", seek[8], seek[15]);
    printf("bitrate         %.3f Mbit/s, mean residual frame %.0f bytes\n", info.bits_per_second / 1e6, info.mean_residual_bytes);
    status = EXIT_DONE;
    goto done;
fail:
    cli_error(ctx, NULL);
done:
    if (gpu) rd_buffer_free(ctx, fb.color), rd_buffer_free(ctx, probe);
    else free(fb.color);
    free(decode), free(render), free(both), free(seek);
    cli_views_free(&views);
    rd_stream_close(s);
    rd_context_destroy(ctx);
    return status;
}
