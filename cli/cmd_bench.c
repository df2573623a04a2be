/* cmd_bench.c: `radiant bench`: whole-frame and per-stage times, median after warm-up. */
#include "cli.h"

#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: radiant bench SCENE|--demo [options]\n"
    "\n"
    "Renders the views round-robin into the backend's own memory (device memory on GPUs:\n"
    "the image stays there) and reports\n"
    "medians after warm-up: the whole frame by the backend's timers (device timers on GPUs),\n"
    "the host wall time per frame, and counts; then as many frames again with each stage\n"
    "timed (RD_RENDER_STAGE_TIMES), for the stages and the frame with their timers.\n"
    "\n"
    "  --synth N             the benchmark scene of `radiant synth N` (with its 8 cameras)\n"
    "  SCENE.rstream         a residual stream: each frame decoded (on GPUs in device memory, timed\n"
    "                        until its kernels finish) and rendered once, the medians and worst of\n"
    "                        both, and 16 seeks across it (--frames A:B: those frames, from 0;\n"
    "                        --cameras, --width/--height as for scenes; --json: every frame's\n"
    "                        decode and render times, in order, and the seeks')\n"
    "  --cameras FILE        camera list (default: 8 views orbiting the scene at 1920x1080)\n"
    "  --frames N            timed frames (default 20)\n"
    "  --warmup N            untimed frames first (default 3), and more until one second\n"
    "                        has passed (GPU clocks ramp up from idle); 0: none\n"
    "  --backend B           auto (default), cpu, cuda, vulkan\n"
    "  --width W --height H  render at this size\n"
    "  --sh-degree N, --antialiased, --inria-extent, --half-sh, --packed, --float   as for render\n"
    "                        (packed by default on CUDA and Vulkan, except with --backward)\n"
    "  --time T              a 4D scene's frames all at time T (default: times across its range)\n"
    "  --backward            also time the forward and backward pass of a training step: the\n"
    "                        render, then rd_render_backward of the image times random\n"
    "                        weights into gradients in the backend's memory (wall clock)\n"
    "  --deterministic       the backward pass with its sums in a fixed order (CUDA)\n"
    "  --json                print one JSON object: median_ms, stages, counts, device_bytes_peak (the\n"
    "                        context's own device buffers at most) and host_peak_rss_bytes\n"
    "  --features F|random   time a feature field instead (wall clock): its coefficient maps (and on GPUs\n"
    "                        into device memory), one query's relevancy at every level and level 1's\n"
    "                        features in half precision; random: a field of the scene's count, 3 levels,\n"
    "                        L 64, K 4, D 512 (--levels, --codebook-size, --slots, --dim change them)\n"
    "  --decode-limit MIB|none  memory a scene file may decode to (default: 64 times its size,\n"
    "                        at least 256 MiB)\n"
    "  --spz-frame NAME      read an SPZ as in this frame (RUB, RDF, ...), whatever its record says\n";

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), compare_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The median wall time of frames of rd_render and rd_render_backward (the loss: the image
   times random weights), the gradients in the backend's own memory; < 0 on failure. */
static double bench_backward(rd_context *ctx, const rd_scene *scene, const cli_views *views, const rd_render_desc *desc,
                             const rd_framebuffer *fb, size_t max_pixels, int frames, double *samples)
{
    rd_scene_info info;
    rd_scene_get_info(scene, &info);
    size_t n = (size_t)info.count, K = (size_t)(info.sh_degree + 1) * (size_t)(info.sh_degree + 1);
    size_t floats = max_pixels * 4 + n * (3 + 3 + 4 + 1 + 3 * K + 1 + 1);
    float *host = malloc(max_pixels * 4 * sizeof(float)), *device = NULL;
    rd_memory memory;
    double result = -1;
    if (!host || rd_buffer_alloc(ctx, floats * sizeof(float), (void **)&device, &memory) != RD_OK) goto done;
    uint64_t state = 0x9e3779b97f4a7c15ull;
    for (size_t p = 0; p < max_pixels * 4; p++) { /* weights in [-1, 1) */
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        host[p] = (float)((double)(state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    if (rd_buffer_copy(ctx, device, memory, host, RD_MEMORY_HOST, max_pixels * 4 * sizeof(float)) != RD_OK) goto done;
    float *at = device + max_pixels * 4;
    rd_gaussian_grads g = {at, at + 3 * n, at + 6 * n, at + 10 * n, at + 11 * n, at + (11 + 3 * K) * n,
                           (uint32_t *)(at + (12 + 3 * K) * n)};
    rd_render_grads out = {device, NULL, memory};
    rd_scene_grads grads = {RD_SCENE_GAUSSIANS, &g, NULL, memory};
    rd_render_desc keep = *desc; /* as a training step renders */
    keep.flags |= RD_RENDER_FOR_BACKWARD;
    desc = &keep;
    for (int k = -3; k < frames; k++) { /* three untimed */
        const rd_camera *camera = &views->cameras[(k + 3) % views->count];
        double t0 = cli_now_ms();
        if (rd_render(ctx, scene, camera, desc, fb) != RD_OK || rd_render_backward(ctx, scene, 1, camera, desc, &out, &grads) != RD_OK)
            goto done;
        if (k >= 0) samples[k] = cli_now_ms() - t0;
    }
    result = median(samples, frames);
done:
    free(host);
    rd_buffer_free(ctx, device);
    return result;
}

int cmd_bench(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--features") == 0) return cli_bench_features(argc, argv, USAGE);
    for (int i = 0; i < argc; i++)
        if (cli_is_stream(argv[i])) return cli_bench_stream(argc, argv, USAGE);
    cli_options o;
    int status = cli_parse(argc, argv, OPT_DEMO | OPT_CAMERAS | OPT_BACKEND | OPT_SIZE | OPT_FRAMES | OPT_JSON | OPT_RENDER | OPT_BACKWARD,
                           USAGE, &o);
    if (status != EXIT_DONE) return status < 0 ? EXIT_DONE : status;
    rd_context *ctx = cli_context(&o);
    if (!ctx) return EXIT_FAILED;
    rd_scene *scene = NULL;
    cli_views views = {0};
    float *color = NULL;
    double *samples = calloc((size_t)o.frames * (3 + 2 * RD_MAX_STATS), sizeof(double));
    status = EXIT_FAILED;
    if (!samples) goto done;
    o.packed_default = !o.backward; /* the backward pass takes single precision */
    if (cli_load_scene(ctx, &o, &scene) != RD_OK || cli_views_load(ctx, &o, scene, &views) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    size_t max_pixels = 0;
    for (int i = 0; i < views.count; i++) {
        size_t p = (size_t)views.cameras[i].width * (size_t)views.cameras[i].height;
        if (p > max_pixels) max_pixels = p;
    }
    rd_memory memory;
    if (rd_buffer_alloc(ctx, max_pixels * 4 * sizeof(float), (void **)&color, &memory) != RD_OK) {
        cli_error(ctx, NULL);
        goto done;
    }
    rd_framebuffer fb = {.color = color, .memory = memory};
    /* a 4D scene: each frame at another time, across its time range, unless --time fixes one */
    rd_scene4d_info dynamic = {0};
    bool is_4d = rd_scene_get_kind(scene) == RD_SCENE_GAUSSIANS_4D && rd_scene4d_get_info(ctx, scene, &dynamic) == RD_OK;
    if (o.time_given && !is_4d) {
        fprintf(stderr, "radiant: --time: %s is a static scene (a 4D scene has a time)\n", o.demo ? "the demo" : o.scene ? o.scene : "the scene");
        goto done;
    }
    double start = cli_now_ms(), first_done = start;
    /* cli_warmup_continues says why the warm-up takes a second: counted from the end of its
       first frame, which uploads the scene (a GPU idles meanwhile) */
    int warmed = 0;
    while (cli_warmup_continues(warmed, o.warmup, warmed ? cli_now_ms() - first_done : 0.0)) {
        if (rd_render(ctx, scene, &views.cameras[warmed % views.count], &o.render, &fb) != RD_OK) {
            cli_error(ctx, NULL);
            goto done;
        }
        if (warmed++ == 0) first_done = cli_now_ms();
    }
    /* per frame: the total, the wall clock, each stage the kind names (timed pass), each
       count (plain pass), by name in the kind's order */
    double *frame = samples, *wall = samples + o.frames, *staged = wall + o.frames;
    double *stage = staged + o.frames, *count = stage + RD_MAX_STATS * o.frames;
    const char *stage_names[RD_MAX_STATS] = {0}, *count_names[RD_MAX_STATS] = {0};
    int stages = 0, counts = 0;
    /* The frame as an application renders it, then with timers between its stages, which
       cost a GPU frame some overlap between its kernels (CUDA on the H100: up to 10 us). */
    rd_render_desc plain = o.render, timed = o.render;
    plain.flags &= ~(uint32_t)RD_RENDER_STAGE_TIMES;
    timed.flags |= RD_RENDER_STAGE_TIMES;
    for (int k = 0; k < 2 * o.frames; k++) {
        bool timing_stages = k >= o.frames;
        int i = timing_stages ? k - o.frames : k;
        if (is_4d && !o.time_given)
            plain.time = timed.time = dynamic.time_min + (dynamic.time_max - dynamic.time_min) * (float)i / (float)o.frames;
        double t0 = cli_now_ms();
        if (rd_render(ctx, scene, &views.cameras[i % views.count], timing_stages ? &timed : &plain, &fb) != RD_OK) {
            cli_error(ctx, NULL);
            goto done;
        }
        double ms = cli_now_ms() - t0;
        rd_render_stats st;
        rd_render_last_stats(ctx, &st);
        if (timing_stages) {
            staged[i] = st.total_ms;
            stages = st.stage_count;
            for (int n = 0; n < stages; n++) stage_names[n] = st.stages[n].name, stage[n * o.frames + i] = st.stages[n].value;
        } else {
            frame[i] = st.total_ms;
            wall[i] = ms;
            counts = st.count_count;
            for (int n = 0; n < counts; n++) count_names[n] = st.counts[n].name, count[n * o.frames + i] = st.counts[n].value;
        }
        cli_progress("bench", k + 1, 2 * o.frames, start);
    }
    rd_scene_info info;
    rd_scene_get_info(scene, &info);
    if (is_4d) info.count = dynamic.count;
    const rd_camera *c0 = &views.cameras[0];
    double m_frame = median(frame, o.frames), m_wall = median(wall, o.frames), m_staged = median(staged, o.frames);
    double m_stage[RD_MAX_STATS], m_count[RD_MAX_STATS], mean_count[RD_MAX_STATS];
    for (int n = 0; n < counts; n++) {
        mean_count[n] = 0.0;
        for (int i = 0; i < o.frames; i++) mean_count[n] += count[n * o.frames + i] / o.frames;
        m_count[n] = median(count + n * o.frames, o.frames);
    }
    for (int n = 0; n < stages; n++) m_stage[n] = median(stage + n * o.frames, o.frames);
    double m_backward = 0;
    if (o.backward && rd_scene_get_kind(scene) != RD_SCENE_GAUSSIANS) {
        fprintf(stderr, "radiant: --backward: the backward pass is timed for Gaussian scenes\n");
        goto done;
    }
    if (o.backward && (m_backward = bench_backward(ctx, scene, &views, &plain, &fb, max_pixels, o.frames, samples)) < 0) {
        cli_error(ctx, "--backward");
        goto done;
    }
    const char *name = o.synth ? "synth" : o.demo ? "demo" : o.scene;
    const char *backend = rd_backend_name(rd_context_backend(ctx));
    const char *kind = rd_scene_get_kind(scene) == RD_SCENE_NERF ? "nerf" : is_4d ? "gaussians-4d" : "gaussians";
    /* the scene's layout on the device: --packed (the GPUs' default), --half-sh, or --float */
    const char *layout = info.flags & RD_SCENE_HALF_SHAPE ? "packed" : info.flags & RD_SCENE_HALF_SH ? "half-sh" : "float";
    uint64_t device_peak = 0, host_peak = 0; /* what the frames needed: the context's device buffers, the process's RSS */
    rd_context_device_bytes(ctx, NULL, &device_peak);
    struct rusage usage;
    if (getrusage(RUSAGE_SELF, &usage) == 0) host_peak = (uint64_t)usage.ru_maxrss * 1024u;
    if (o.json) {
        printf("{\"scene\": \"%s\", \"kind\": \"%s\", \"layout\": \"%s\", \"backend\": \"%s\", \"gaussians\": %lld, \"width\": %d, "
               "\"height\": %d, \"frames\": %d, \"warmup\": %d, \"median_ms\": %.4f, \"stages\": {",
               name, kind, layout, backend, (long long)info.count, c0->width, c0->height, o.frames, warmed, m_frame);
        for (int n = 0; n < stages; n++) printf("%s\"%s_ms\": %.4f", n ? ", " : "", stage_names[n], m_stage[n]);
        printf("}, \"counts\": {");
        for (int n = 0; n < counts; n++) printf("%s\"%s\": %.0f", n ? ", " : "", count_names[n], m_count[n]);
        double visible = 0.0, pairs = 0.0;
        for (int n = 0; n < counts; n++) {
            if (strcmp(count_names[n], "visible") == 0) visible = m_count[n];
            if (strcmp(count_names[n], "pairs") == 0) pairs = mean_count[n];
        }
        printf("}, \"median_staged_ms\": %.4f, \"median_wall_ms\": %.4f, \"median_visible\": %.0f, \"mean_intersections\": %.0f, "
               "\"median_forward_backward_ms\": %.4f, \"device_bytes_peak\": %llu, \"host_peak_rss_bytes\": %llu}\n",
               m_staged, m_wall, visible, pairs, m_backward, (unsigned long long)device_peak, (unsigned long long)host_peak);
    } else {
        if (rd_scene_get_kind(scene) == RD_SCENE_NERF)
            printf("scene %s: a NeRF, %s backend, %dx%d, %d views, median of %d frames after %d warm-up\n", name, backend, c0->width,
                   c0->height, views.count, o.frames, warmed);
        else
        {
            char when[64] = "";
            if (is_4d && o.time_given) snprintf(when, sizeof when, ", at time %g", o.render.time);
            else if (is_4d) snprintf(when, sizeof when, ", at times across the scene's range");
            printf("scene %s: %lld %sGaussians (%s layout), %s backend, %dx%d, %d views, median of %d frames after %d warm-up%s\n",
                   name, (long long)info.count, is_4d ? "4D " : "", layout, backend, c0->width, c0->height, views.count, o.frames,
                   warmed, when);
        }
        printf("  frame       %9.3f ms\n", m_frame);
        for (int n = 0; n < stages; n++) printf("  %-11s %9.3f ms\n", stage_names[n], m_stage[n]);
        printf("  (stages timed: %.3f ms a frame)\n  wall clock  %9.3f ms per frame on the host\n", m_staged, m_wall);
        int wide = 11; /* the stage names' column, wider for the host times' names */
        for (int n = 0; n < counts; n++)
            if ((int)strlen(count_names[n]) > wide) wide = (int)strlen(count_names[n]);
        for (int n = 0; n < counts; n++)
            printf("  %-*s %9.0f (%s)\n", wide, count_names[n], strcmp(count_names[n], "pairs") == 0 ? mean_count[n] : m_count[n],
                   strcmp(count_names[n], "pairs") == 0 ? "mean" : "median");
        if (o.backward) printf("  forward + backward %9.3f ms wall clock\n", m_backward);
        printf("  memory      %9.1f MiB of the context's device buffers at most, host peak RSS %.1f MiB\n", device_peak / 1048576.0,
               host_peak / 1048576.0);
    }
    status = EXIT_DONE;
done:
    free(samples);
    rd_buffer_free(ctx, color);
    cli_views_free(&views);
    rd_scene_destroy(scene);
    rd_context_destroy(ctx);
    return status;
}
