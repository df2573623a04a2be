/* cmd_render.c: `radiant render`: renders every view to PNG (and EXR) and writes
   report.json with per-view time, PSNR and SSIM against the dataset's images. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *USAGE =
    "usage: radiant render SCENE|--demo [options]\n"
    "\n"
    "Renders every view and writes NAME.png per view and report.json into --out.\n"
    "\n"
    "  --dataset DIR        views of a dataset folder (Blender, instant-ngp, COLMAP, LLFF, RTMV);\n"
    "                       PSNR and SSIM against its images go into the report\n"
    "  --split S            train, val, test (default) or all\n"
    "  --cameras FILE       a camera list {\"cameras\": [{width, height, fx, fy, cx, cy, w2c}]}\n"
    "                       (neither: 8 views orbiting the scene at 1920x1080)\n"
    "  --views N            the orbit's views (default 8)\n"
    "  --out DIR            output folder (default: out)\n"
    "  --save-cameras FILE  write the cameras rendered (after --width/--height) as a camera list\n"
    "  --up AXIS            the orbit's up: x, y, z, -x, -y or -z (default: told from the scene,\n"
    "                       +z for scenes flat along z, else -y; printed)\n"
    "  --backend B          auto (default), cpu, cuda, vulkan\n"
    "  --background B       black (default; an RTMV dataset: white), white or R,G,B in [0,1]\n"
    "  --exr                also write NAME.exr (float RGBA)\n"
    "  --output features    also the scene's feature field (--features F.rfeat, default the scene's name\n"
    "                       with .rfeat) at --level N (default 1): NAME_features.png, a PCA colouring of\n"
    "                       its unit features, and NAME_features.npy, float32 [H, W, D] (CPU or Vulkan)\n"
    "  --width W --height H render at this size (intrinsics scale)\n"
    "  --sh-degree N        use spherical harmonics up to degree N (0..3)\n"
    "  --antialiased        Mip-Splatting opacity compensation (scenes marked so use it anyway)\n"
    "  --inria-extent       the INRIA code's square 3-sigma extent\n"
    "  --half-sh            SH rounded to half precision, as GPUs keep it for rendering only\n"
    "                       (half the bytes; images at least 50 dB from full precision)\n"
    "  --packed             the inference layout: --half-sh, and rotations, scales and opacities\n"
    "                       in half precision too (positions stay full precision); the default for\n"
    "                       3D Gaussian scenes on CUDA and Vulkan, except with --output features\n"
    "  --float              keep the scene in single precision on CUDA and Vulkan too\n"
    "  --time T             a 4D scene's time (default: a dynamic dataset's views each at its own,\n"
    "                       else the start of the scene's time range)\n"
    "  --times A:B:N        every view at N times from A to B (a 4D scene's; not with --dataset),\n"
    "                       written as NAME_tK.png\n"
    "  --video FILE.mp4     the views in order as an H.264 video too (an even width and height)\n"
    "  --frames A:B         a residual stream's (.rstream) frames A to B, from 0 (default: all): every\n"
    "                       view of each, NAME_fNNNN.png, and report.json with each frame's bytes and\n"
    "                       decode time (a dynamic --dataset: each frame's own views, with PSNR); a damaged\n"
    "                       frame is reported and playback goes on from the next intra frame; with\n"
    "                       --video, each frame's first view at the stream's rate (or --fps)\n"
    "  --fps N              the video's frames a second (default 30)\n"
    "  --decode-limit MIB|none  memory a scene file may decode to (default: 64 times its size,\n"
    "                       at least 256 MiB)\n"
    "  --spz-frame NAME     read an SPZ as in this frame (RUB, RDF, ...), whatever its record says\n"
    "  -v, --verbose        debug messages\n";

/* Renders one view; fills rgba (width*height*4). */
static rd_result render_view(rd_context *ctx, const rd_scene *scene, const rd_camera *cam, const cli_options *o,
                             float *rgba, double *ms)
{
    rd_framebuffer fb = {.color = rgba};
    double t0 = cli_now_ms();
    rd_result r = rd_render(ctx, scene, cam, &o->render, &fb);
    *ms = cli_now_ms() - t0;
    return r;
}

static rd_result save_outputs(rd_context *ctx, const cli_options *o, const char *out_dir, const char *name,
                              const rd_image *rgba, rd_image *rgb)
{
    for (size_t p = 0; p < (size_t)rgba->width * (size_t)rgba->height; p++)
        for (int c = 0; c < 3; c++) rgb->pixels[3 * p + c] = rgba->pixels[4 * p + c];
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.png", out_dir, name);
    rd_result r = rd_image_save(ctx, path, rgb);
    if (r == RD_OK && o->exr) {
        snprintf(path, sizeof path, "%s/%s.exr", out_dir, name);
        r = rd_image_save(ctx, path, rgba);
    }
    return r;
}

/* PSNR/SSIM against the dataset image. False when there is none to compare with; then
   *why says why where the view has an image (a size that differs, an unreadable image),
   and stays empty where it has none. */
static bool compare_with_dataset(rd_context *ctx, const cli_views *v, int i, const cli_options *o, const rd_image *rgb,
                                 rd_metrics *m, char *why, size_t why_size)
{
    why[0] = '\0';
    if (!v->dataset || !rd_dataset_view(v->dataset, i)->image_path) return false;
    rd_image ref;
    if (rd_dataset_load_image(ctx, v->dataset, i, o->background, &ref) != RD_OK) {
        snprintf(why, why_size, "the reference image cannot be read: %s", rd_last_error(ctx));
        return false;
    }
    bool same_size = ref.width == rgb->width && ref.height == rgb->height;
    if (!same_size)
        snprintf(why, why_size, "the render is %dx%d and the dataset's image %dx%d (render without --width/--height to compare)",
                 rgb->width, rgb->height, ref.width, ref.height);
    bool ok = same_size && rd_image_compare(ctx, rgb, &ref, m) == RD_OK;
    if (same_size && !ok) snprintf(why, why_size, "%s", rd_last_error(ctx));
    rd_image_free(&ref);
    return ok;
}

/* --times: the views repeated at each of the times, named NAME_tK (K zero-padded), and
   their times in *times. */
static rd_result expand_times(const cli_options *o, cli_views *v, float **times)
{
    int n = o->times_count, count = v->count * n, digits = 1;
    for (int k = n - 1; k >= 10; k /= 10) digits++;
    rd_camera *cameras = malloc(sizeof *cameras * (size_t)count);
    char(*names)[64] = malloc(sizeof *names * (size_t)count);
    *times = malloc(sizeof **times * (size_t)count);
    if (!cameras || !names || !*times) {
        free(cameras), free(names);
        return RD_ERROR_OUT_OF_MEMORY;
    }
    for (int k = 0; k < n; k++)
        for (int i = 0; i < v->count; i++) {
            int at = k * v->count + i;
            cameras[at] = v->cameras[i];
            snprintf(names[at], sizeof names[at], "%.50s_t%0*d", v->names[i], digits, k);
            (*times)[at] = n == 1 ? o->times_from : o->times_from + (o->times_to - o->times_from) * (float)k / (float)(n - 1);
        }
    free(v->cameras), free(v->names);
    v->cameras = cameras, v->names = names, v->count = count;
    return RD_OK;
}

int cmd_render(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (cli_is_stream(argv[i])) return cli_render_stream(argc, argv, USAGE);
    cli_options o;
    cli_feature_output features;
    int status = cli_feature_options(&argc, argv, &features);
    if (status != EXIT_DONE) return status;
    status = cli_parse(argc, argv, OPT_DEMO | OPT_DATASET | OPT_CAMERAS | OPT_OUT | OPT_BACKEND | OPT_BACKGROUND |
                                       OPT_EXR | OPT_SIZE | OPT_RENDER | OPT_SAVE_CAMERAS | OPT_VIDEO, USAGE, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    const char *out_dir = o.out_dir ? o.out_dir : "out";
    rd_context *ctx = cli_context(&o);
    if (!ctx) return EXIT_FAILED;
    rd_scene *scene = NULL;
    cli_views views = {0};
    cJSON *report = NULL;
    rd_image rgba = {0}, rgb = {0};
    cli_names earlier = {0};
    int replaced = 0;
    float *view_times = NULL; /* --times: each (expanded) view's */
    rd_video_writer *video = NULL; /* --video */
    status = EXIT_FAILED;

    o.packed_default = !features.wanted; /* feature fields render over single-precision scenes so far */
    if (cli_load_scene(ctx, &o, &scene) != RD_OK) { cli_error(ctx, NULL); goto done; }
    if (features.wanted && cli_feature_field_load(ctx, o.demo ? NULL : o.scene, &features) != RD_OK) goto done;
    rd_scene4d_info dynamic;
    bool is_4d = rd_scene_get_kind(scene) == RD_SCENE_GAUSSIANS_4D && rd_scene4d_get_info(ctx, scene, &dynamic) == RD_OK;
    if (o.time_given && !is_4d) {
        fprintf(stderr, "radiant: --time: %s is a static scene (a 4D scene has a time)\n", o.demo ? "the demo" : o.scene);
        status = EXIT_USAGE;
        goto done;
    }
    if (is_4d && !o.time_given) o.render.time = dynamic.time_min;
    if (o.times_count && (!is_4d || o.time_given || o.dataset)) {
        fprintf(stderr, "radiant: --times: %s\n", !is_4d ? "the scene is static (a 4D scene has a time)"
                        : o.time_given ? "give --time or --times, not both" : "a dataset's views have their own times; use --cameras");
        status = EXIT_USAGE;
        goto done;
    }
    if (cli_views_load(ctx, &o, scene, &views) != RD_OK) { cli_error(ctx, NULL); goto done; }
    if (o.times_count && expand_times(&o, &views, &view_times) != RD_OK) {
        fprintf(stderr, "radiant: out of memory for %d views at %d times\n", views.count, o.times_count);
        goto done;
    }
    if (views.dataset && strcmp(rd_dataset_kind(views.dataset), "rtmv") == 0 && !o.background_given)
        for (int c = 0; c < 3; c++) o.background[c] = o.render.background[c] = 1.0f; /* as RTMV's evaluations, and train */
    if (o.save_cameras && rd_cameras_save(ctx, o.save_cameras, views.cameras, views.count) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    if (!cli_make_dirs(out_dir)) { fprintf(stderr, "radiant: %s: cannot create folder: %s\n", out_dir, strerror(errno)); goto done; }
    replaced = cli_outputs_existing(out_dir, &views, o.exr);
    earlier = cli_outputs_earlier(out_dir);
    if (views.dataset) {
        for (int i = 0; i < views.count; i++)
            if (views.cameras[i].distortion.model != RD_DISTORTION_NONE) {
                fprintf(stderr, "radiant: warning: lens distortion is not applied yet; metrics against distorted images are approximate\n");
                break;
            }
    }

    report = cJSON_CreateObject();
    cJSON_AddStringToObject(report, "scene", o.demo ? "demo" : o.scene);
    cJSON_AddStringToObject(report, "backend", rd_backend_name(rd_context_backend(ctx)));
    if (views.dataset) {
        cJSON_AddStringToObject(report, "dataset", o.dataset ? o.dataset : o.cameras);
        cJSON_AddStringToObject(report, "dataset_kind", rd_dataset_kind(views.dataset));
        if (o.dataset) cJSON_AddStringToObject(report, "split", o.split);
        cJSON_AddNumberToObject(report, "skipped_missing_images", rd_dataset_skipped(views.dataset));
    }
    cJSON_AddItemToObject(report, "background", cJSON_CreateFloatArray(o.background, 3));
    /* a dynamic dataset's views, each at its own time, unless --time says one */
    bool own_time = is_4d && ((views.dataset && rd_dataset_has_time(views.dataset) && !o.time_given) || view_times);
    if (is_4d && !own_time) cJSON_AddNumberToObject(report, "time", o.render.time);
    cJSON *list = cJSON_AddArrayToObject(report, "views");
    double total_ms = 0.0, psnr_sum = 0.0, ssim_sum = 0.0;
    int measured = 0, not_compared = 0;
    char first_reason[600] = "";
    double start = cli_now_ms();
    for (int i = 0; i < views.count; i++) {
        const rd_camera *cam = &views.cameras[i];
        if (rgba.width != cam->width || rgba.height != cam->height) {
            rd_image_free(&rgba);
            rd_image_free(&rgb);
            if (rd_image_alloc(cam->width, cam->height, 4, &rgba) != RD_OK ||
                rd_image_alloc(cam->width, cam->height, 3, &rgb) != RD_OK) {
                fprintf(stderr, "radiant: out of memory for a %dx%d image\n", cam->width, cam->height);
                goto done;
            }
        }
        double ms;
        if (own_time) o.render.time = view_times ? view_times[i] : rd_dataset_view(views.dataset, i)->time;
        if (render_view(ctx, scene, cam, &o, rgba.pixels, &ms) != RD_OK) { cli_error(ctx, views.names[i]); goto done; }
        if (save_outputs(ctx, &o, out_dir, views.names[i], &rgba, &rgb) != RD_OK) { cli_error(ctx, NULL); goto done; }
        if (features.wanted && cli_feature_view(ctx, scene, &features, cam, out_dir, views.names[i]) != RD_OK) goto done;
        if (o.video && !video &&
            rd_video_open(ctx, o.video, &(rd_video_desc){.width = cam->width, .height = cam->height, .fps = o.fps}, &video) != RD_OK) {
            cli_error(ctx, NULL);
            goto done;
        }
        if (video && rd_video_write(video, &rgb) != RD_OK) { cli_error(ctx, NULL); goto done; }
        total_ms += ms;
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddStringToObject(entry, "name", views.names[i]);
        cJSON_AddNumberToObject(entry, "width", cam->width);
        cJSON_AddNumberToObject(entry, "height", cam->height);
        cJSON_AddNumberToObject(entry, "ms", ms);
        if (own_time) cJSON_AddNumberToObject(entry, "time", o.render.time);
        rd_metrics m;
        char why[600];
        why[0] = '\0';
        /* --times repeats the views: a camera list's, which has no images to compare with */
        bool compared = !view_times && compare_with_dataset(ctx, &views, i, &o, &rgb, &m, why, sizeof why);
        if (!compared && why[0]) { /* said in the view's entry, in the report, and once on stderr */
            cJSON_AddStringToObject(entry, "not_compared", why);
            if (!not_compared++) snprintf(first_reason, sizeof first_reason, "%s", why);
        }
        if (compared) {
            cJSON_AddNumberToObject(entry, "psnr", isfinite(m.psnr) ? m.psnr : 100.0);
            cJSON_AddNumberToObject(entry, "ssim", m.ssim);
            psnr_sum += isfinite(m.psnr) ? m.psnr : 100.0;
            ssim_sum += m.ssim;
            measured++;
        }
        cJSON_AddItemToArray(list, entry);
        cli_progress("render", i + 1, views.count, start);
    }
    cJSON_AddNumberToObject(report, "count", views.count);
    cJSON_AddNumberToObject(report, "total_ms", total_ms);
    cJSON_AddNumberToObject(report, "mean_ms", total_ms / views.count);
    if (not_compared) {
        cJSON_AddNumberToObject(report, "not_compared", not_compared);
        fprintf(stderr, "radiant: warning: PSNR and SSIM not computed for %d view%s: %s%s\n", not_compared,
                not_compared == 1 ? "" : "s", first_reason, not_compared > 1 ? " (the first; report.json has each)" : "");
    }
    if (measured) {
        cJSON_AddNumberToObject(report, "compared", measured);
        cJSON_AddNumberToObject(report, "mean_psnr", psnr_sum / measured);
        cJSON_AddNumberToObject(report, "mean_ssim", ssim_sum / measured);
        cJSON_AddStringToObject(report, "metrics_note", "PSNR and SSIM on RGB in [0,1] composited on the background; LPIPS not computed (no pretrained weights)");
    }
    if (video) {
        rd_result finished = rd_video_close(video, true);
        video = NULL;
        if (finished != RD_OK) { cli_error(ctx, NULL); goto done; }
        cJSON_AddStringToObject(report, "video", o.video);
        cJSON_AddNumberToObject(report, "video_fps", o.fps ? o.fps : 30);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/report.json", out_dir);
    if (!cli_write_report(ctx, path, report)) goto done;
    if (o.video) printf("wrote %s (%d frames at %d a second)\n", o.video, views.count, o.fps ? o.fps : 30);
    printf("rendered %d view%s with the %s backend into %s/ (report: %s)\n", views.count, views.count == 1 ? "" : "s",
           rd_backend_name(rd_context_backend(ctx)), out_dir, path);
    printf("frame time: %.1f ms mean over %d view%s at %dx%d\n", total_ms / views.count, views.count,
           views.count == 1 ? "" : "s", views.cameras[0].width, views.cameras[0].height);
    if (measured) printf("PSNR %.2f dB, SSIM %.4f (mean over %d views)\n", psnr_sum / measured, ssim_sum / measured, measured);
    int removed = cli_outputs_remove_stale(out_dir, &earlier, &views);
    if (replaced) printf("replaced %d file%s of an earlier render in %s/\n", replaced, replaced == 1 ? "" : "s", out_dir);
    if (removed)
        printf("removed %d file%s of an earlier render (named in its report.json) that this one did not write\n", removed,
               removed == 1 ? "" : "s");
    status = EXIT_DONE;

done:
    rd_feature_field_destroy(features.field);
    rd_video_close(video, false); /* a failed render leaves no video */
    free(view_times);
    cli_names_free(&earlier);
    cJSON_Delete(report);
    rd_image_free(&rgba);
    rd_image_free(&rgb);
    cli_views_free(&views);
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return status;
}
