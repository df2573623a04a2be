/* render_loop.c: radiant-view's render thread: takes the person's changes, renders the
   frame at the window's size into device memory (Vulkan) or through the host (CUDA, CPU),
   presents it with the overlay, and writes screenshots. */
#include "content.h"
#include "feature_modes.h"
#include "stream_player.h"
#include "training.h"
#include "present.h"
#include "viewer.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const HELP[] = {
    "left drag   orbit          W A S D Q E  fly (shift: faster)",
    "right drag  pan            R            reset the view",
    "scroll      zoom           N / P        next / previous view",
    "M           mode (RGB, depth, alpha, features, relevancy)",
    "K / G       feature level / next query   0 1 2 3  SH degree",
    "X           antialiased    B            background black/white",
    "V           vsync          I            dataset image / render",
    "F12         screenshot     O            hide the overlay",
    "Space       play/pause     , .          step time (4D)",
    "[ ]         slower/faster  L            loop; drag the foot: scrub",
    "H           this help      Esc          quit",
    "drop a scene file on the window to open it",
};
static const char *const MODE_NAMES[VW_MODES] = {"RGB", "depth", "alpha", "features", "relevancy"};

typedef struct frame_sample {
    double frame_ms, render_ms, gpu_ms, present_ms;
} frame_sample;

typedef struct frame_timing {
    frame_sample *samples;   /* --frames N: one per frame, allocated once; NULL otherwise */
    int count, capacity;
} frame_timing;

typedef struct render_state {
    vw_shared *shared;
    const vw_options *opt;
    rd_context *vk;          /* presents; renders too on the Vulkan backend */
    rd_context *host_ctx;    /* --backend cuda or cpu: renders into host memory, copied to `staged` (NULL otherwise) */
    vw_content content;
    int view;                /* the current view (last jumped to) */
    vw_present present;
    vw_overlay overlay;
    void *color, *depth;     /* Vulkan: rd_buffer_alloc device addresses */
    size_t pixels;           /* their capacity */
    float *host_color, *host_depth; /* host_ctx renders here, then into `staged` */
    rd_vulkan_buffer staged; /* host-visible float RGBA (+ depth): host_ctx frames, dataset images */
    int image_view;          /* the view whose dataset image `staged` holds, -1 none */
    bool image_white;        /* and the background it was composited on */
    bool image_ok;           /* whether that load worked (a failed one is not retried every frame) */
    int image_width, image_height;
    rd_render_stats stats;
    double fps, last_frame;
    double last_timeline;    /* when the timeline last moved on (ms) */
    frame_timing timing;
    vw_training training;    /* --train */
    vw_training_status train_status;
    bool training_shown;     /* a snapshot of it has been shown */
    vw_features features;    /* the scene's feature field, for the feature modes */
    vw_stream_player player; /* a stream's frames, shown as the content's (borrowed) scene */
    rd_scene *empty;         /* shown where a stream has no frame to show */
} render_state;

/* The context that renders: the host-copy one (CUDA, CPU) or the presenting Vulkan one. */
static rd_context *renderer(const render_state *s) { return s->host_ctx ? s->host_ctx : s->vk; }

/* Shows text in the overlay and logs it, once: a failure that repeats every frame is not
   logged again. */
static void set_message(render_state *s, const char *text)
{
    if (strcmp(s->content.message, text) == 0) return;
    snprintf(s->content.message, sizeof s->content.message, "%s", text);
    vw_log(RD_LOG_ERROR, text, NULL);
}

/* Jumps to view i and makes it the controls' starting point. */
static void go_to_view(render_state *s, int i)
{
    vw_content *c = &s->content;
    if (c->view_count == 0) return;
    s->view = ((i % c->view_count) + c->view_count) % c->view_count;
    const rd_camera *cam = &c->views[s->view];
    if (c->dataset && rd_dataset_has_time(c->dataset)) { /* a dynamic dataset's view: its frame's time */
        pthread_mutex_lock(&s->shared->lock);
        if (s->shared->timeline_ready) vw_timeline_seek(&s->shared->timeline, rd_dataset_view(c->dataset, s->view)->time);
        pthread_mutex_unlock(&s->shared->lock);
    }
    float eye[3];
    rd_camera_center(cam, eye);
    /* orbit about the point ahead at the scene centre's depth */
    float depth = 0.0f;
    for (int a = 0; a < 3; a++) depth += cam->w2c[8 + a] * (c->center[a] - eye[a]);
    pthread_mutex_lock(&s->shared->lock);
    vw_controls_init(&s->shared->controls, cam, depth > 0.0f ? depth : c->radius, c->radius);
    s->shared->controls_ready = true;
    pthread_mutex_unlock(&s->shared->lock);
}

/* Whether the presenting Vulkan device is a CPU implementation (lavapipe). */
static bool vulkan_on_cpu(rd_context *vk)
{
    rd_vulkan_device device;
    if (rd_vulkan_get_device(vk, &device) != RD_OK) return false;
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(device.physical, &props);
    return props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
}

/* A NeRF opened on a CPU Vulkan device without --backend vulkan: lavapipe runs the NeRF
   kernel about 7x slower than radiant's CPU backend (80x45 frame of an untrained field:
   4.1 s against 0.6 s on 2 cores), so frames come from CUDA where there is a GPU, else the
   CPU, through the host as --backend cuda's do. On a GPU Vulkan renders NeRFs itself. */
static void render_nerfs_on_host(render_state *s)
{
    if (s->host_ctx || rd_scene_get_kind(s->content.scene) != RD_SCENE_NERF) return;
    if (s->opt->backend_given || !vulkan_on_cpu(s->vk)) return;
    rd_context *probe = NULL; /* quietly: no GPU is no error here */
    bool cuda = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CUDA}, &probe) == RD_OK;
    rd_context_destroy(probe);
    rd_context_desc desc = {.backend = cuda ? RD_BACKEND_CUDA : RD_BACKEND_CPU, .log = vw_log,
                            .log_level = s->opt->verbose ? RD_LOG_DEBUG : RD_LOG_INFO, .decode_limit = s->opt->decode_limit};
    if (rd_context_create(&desc, &s->host_ctx) != RD_OK) return;
    rd_buffer_free(s->vk, s->color), rd_buffer_free(s->vk, s->depth);
    s->color = s->depth = NULL;
    s->pixels = 0; /* the host frame's buffers are reserved afresh */
    char text[300];
    snprintf(text, sizeof text, "a NeRF on a CPU Vulkan device: %s renders it faster; frames copied through the host "
             "(--backend vulkan renders it on Vulkan)", rd_backend_name(rd_context_backend(s->host_ctx)));
    vw_log(RD_LOG_INFO, text, NULL);
}

/* False where the scene failed to load (said in the overlay and the log). */
/* A 4D scene's timeline over its time range (at --time, paused, where given); none for
   other scenes. */
static void set_timeline(render_state *s)
{
    rd_scene4d_info info;
    bool dynamic = rd_scene_get_kind(s->content.scene) == RD_SCENE_GAUSSIANS_4D &&
                   rd_scene4d_get_info(NULL, s->content.scene, &info) == RD_OK;
    pthread_mutex_lock(&s->shared->lock);
    s->shared->timeline_ready = dynamic;
    s->shared->timeline = dynamic ? vw_timeline_make(info.time_min, info.time_max) : vw_timeline_make(0.0f, 0.0f);
    if (dynamic && s->opt->time_given) vw_timeline_seek(&s->shared->timeline, s->opt->time);
    for (const char *k = s->shared->timeline_keys; dynamic && *k; k++) vw_timeline_key(&s->shared->timeline, *k);
    s->shared->timeline_keys[0] = '\0';
    pthread_mutex_unlock(&s->shared->lock);
}

/* The timeline over a stream's frames (at --time, paused, where given). */
static void set_stream_timeline(render_state *s)
{
    pthread_mutex_lock(&s->shared->lock);
    s->shared->timeline_ready = true;
    s->shared->timeline = vw_timeline_make(0.0f, vw_stream_duration(&s->player));
    if (s->opt->time_given) vw_timeline_seek(&s->shared->timeline, s->opt->time);
    for (const char *k = s->shared->timeline_keys; *k; k++) vw_timeline_key(&s->shared->timeline, *k);
    s->shared->timeline_keys[0] = '\0';
    pthread_mutex_unlock(&s->shared->lock);
}

/* A stream: its first frame shown, the views placed about a host copy of it (a device
   frame's bounds are not read), the timeline over its frames. */
static bool open_stream(render_state *s, const char *path)
{
    rd_context *ctx = renderer(s);
    const rd_scene *frame = NULL;
    char message[sizeof s->content.message];
    if (!vw_stream_open(&s->player, ctx, path, &frame, message, sizeof message)) {
        set_message(s, message);
        return false;
    }
    const char *slash = strrchr(path, '/'), *name = slash && slash[1] ? slash + 1 : path;
    rd_scene_desc state = rd_stream_state(s->player.stream);
    rd_scene *host = NULL;
    if (state.count >= 0 && rd_scene_create(ctx, &state, &host) == RD_OK) vw_content_replace_scene(&s->content, host, name);
    s->content.message[0] = '\0';
    vw_features_close(&s->features);
    if (!s->content.dataset) vw_content_default_views(&s->content);
    vw_content_borrow_scene(&s->content, frame, name, NULL); /* the host copy goes */
    set_stream_timeline(s);
    s->image_view = -1;
    go_to_view(s, 0);
    return true;
}

/* The stream's frame at the timeline's time, shown; a damaged frame is named and the
   next intra frame shown (or nothing, where none follows). */
static void show_stream_frame(render_state *s, float time)
{
    const rd_scene *frame = NULL;
    char message[sizeof s->content.message];
    if (!vw_stream_show(&s->player, time, &frame, message, sizeof message)) set_message(s, message);
    if (!frame && s->player.shown < 0) {
        if (!s->empty) rd_scene_create(renderer(s), &(rd_scene_desc){0}, &s->empty);
        frame = s->empty;
    }
    if (frame) vw_content_borrow_scene(&s->content, frame, NULL, NULL);
}

static bool open_scene(render_state *s, const char *path)
{
    if (vw_is_stream_path(path)) return open_stream(s, path);
    bool opened = vw_content_open_scene(&s->content, renderer(s), path);
    if (opened) vw_stream_close(&s->player); /* the content no longer shows its frames */
    if (opened) render_nerfs_on_host(s);
    if (opened && rd_scene_get_kind(s->content.scene) == RD_SCENE_GAUSSIANS) /* its field, when it has one */
        vw_features_open(&s->features, renderer(s), s->content.scene, path && strcmp(path, "--demo") ? path : NULL, s->opt->features,
                         s->opt->embeddings, s->opt->negatives);
    else if (opened)
        vw_features_close(&s->features);
    if (opened) set_timeline(s);
    if (opened && vw_content_halves(&s->content)) { /* said once; the overlay's summary says it too */
        char text[300];
        snprintf(text, sizeof text, "%s: the inference layout, %s in half precision", s->content.scene_name,
                 vw_content_halves(&s->content));
        vw_log(RD_LOG_INFO, text, NULL);
    }
    if (!opened) {
        vw_log(RD_LOG_ERROR, s->content.message, NULL); /* already in the overlay */
        if (s->content.view_count) return false;
        /* nothing open before: the empty scene that replaced it still needs views */
    }
    if (!s->content.dataset) vw_content_default_views(&s->content);
    s->image_view = -1;
    go_to_view(s, 0);
    return opened;
}

static bool reserve_frame(render_state *s, size_t pixels)
{
    if (pixels <= s->pixels) return true;
    rd_context *ctx = renderer(s);
    rd_memory memory;
    if (s->host_ctx) {
        free(s->host_color), free(s->host_depth);
        s->host_color = malloc(pixels * 4 * sizeof(float));
        s->host_depth = malloc(pixels * sizeof(float));
        if (!s->host_color || !s->host_depth) return false;
    } else {
        rd_buffer_free(ctx, s->color), rd_buffer_free(ctx, s->depth);
        s->color = s->depth = NULL;
        if (rd_buffer_alloc(ctx, pixels * 4 * sizeof(float), &s->color, &memory) != RD_OK ||
            rd_buffer_alloc(ctx, pixels * sizeof(float), &s->depth, &memory) != RD_OK)
            return false;
    }
    s->pixels = pixels;
    return true;
}

/* The dataset's own image at the current view, as float RGBA in `staged`. */
static bool stage_dataset_image(render_state *s, const vw_settings *set)
{
    if (s->image_view == s->view && s->image_white == set->white_background) return s->image_ok;
    s->image_view = s->view, s->image_white = set->white_background, s->image_ok = false;
    float background[3] = {set->white_background, set->white_background, set->white_background};
    rd_image img;
    if (rd_dataset_load_image(s->vk, s->content.dataset, s->view, background, &img) != RD_OK) {
        char text[600];
        snprintf(text, sizeof text, "dataset image: %s", rd_last_error(s->vk));
        set_message(s, text);
        return false;
    }
    size_t n = (size_t)img.width * img.height;
    s->image_ok = rd_vulkan_buffer_reserve(s->vk, &s->staged, n * 4 * sizeof(float)) == RD_OK;
    for (size_t p = 0; s->image_ok && p < n; p++) {
        float *dst = (float *)s->staged.mapped + 4 * p;
        for (int c = 0; c < 3; c++) dst[c] = img.pixels[3 * p + c];
        dst[3] = 1.0f;
    }
    s->image_width = img.width, s->image_height = img.height;
    rd_image_free(&img);
    return s->image_ok;
}

/* The feature modes: the render into host memory, the field's colouring of it on the host,
   shown through `staged` as RGB (feature_modes.h). Without a field, the plain render and why. */
static bool render_features(render_state *s, const vw_settings *set, const rd_camera *cam, const rd_render_desc *desc,
                            vw_frame_desc *frame)
{
    rd_context *ctx = renderer(s);
    size_t pixels = (size_t)cam->width * cam->height;
    float *under = malloc(pixels * 4 * sizeof(float));
    bool ok = under && rd_render(ctx, s->content.scene, cam, desc, &(rd_framebuffer){.color = under}) == RD_OK;
    if (ok) rd_render_last_stats(ctx, &s->stats);
    bool coloured = ok && vw_features_render(&s->features, ctx, s->content.scene, cam, set->mode == VW_MODE_RELEVANCY,
                                             set->feature_level, set->query, under);
    if (!coloured) set_message(s, ok ? s->features.message : "out of memory or a failed render for the feature modes");
    ok = ok && rd_vulkan_buffer_reserve(s->vk, &s->staged, pixels * 4 * sizeof(float)) == RD_OK;
    if (ok) memcpy(s->staged.mapped, coloured ? s->features.color : under, pixels * 4 * sizeof(float));
    free(under);
    s->image_view = -1;
    frame->source_width = cam->width, frame->source_height = cam->height;
    frame->color = ok ? s->staged.address : 0;
    frame->mode = VW_MODE_RGB;
    return ok;
}

/* Renders the current camera; fills what the present pass reads. */
static bool render(render_state *s, const vw_settings *set, const rd_camera *cam, float time, vw_frame_desc *frame)
{
    size_t pixels = (size_t)cam->width * cam->height;
    if (!reserve_frame(s, pixels)) {
        set_message(s, "out of memory for the frame");
        return false;
    }
    float bg = set->white_background ? 1.0f : 0.0f;
    rd_render_desc desc = {.flags = (set->antialiased ? RD_RENDER_ANTIALIASED : 0u) |
                                    (set->mode == VW_MODE_DEPTH ? RD_RENDER_EXPECTED_DEPTH : 0u),
                           .background = {bg, bg, bg},
                           .sh_degree = set->sh_degree < 0 ? 0 : RD_SH_DEGREE(set->sh_degree),
                           .time = time};
    rd_context *ctx = renderer(s);
    if (set->mode == VW_MODE_FEATURES || set->mode == VW_MODE_RELEVANCY) return render_features(s, set, cam, &desc, frame);
    rd_framebuffer fb = s->host_ctx ? (rd_framebuffer){.color = s->host_color, .depth = s->host_depth}
                                : (rd_framebuffer){.color = s->color, .depth = s->depth, .memory = RD_MEMORY_DEVICE};
    if (rd_render(ctx, s->content.scene, cam, &desc, &fb) != RD_OK) {
        char text[600];
        snprintf(text, sizeof text, "render: %s", rd_last_error(ctx));
        set_message(s, text);
        return false;
    }
    rd_render_last_stats(ctx, &s->stats);
    frame->source_width = cam->width, frame->source_height = cam->height;
    if (s->host_ctx) {
        /* through the host (labelled in the overlay); CUDA-Vulkan external memory would avoid it */
        if (rd_vulkan_buffer_reserve(s->vk, &s->staged, pixels * 5 * sizeof(float)) != RD_OK) {
            set_message(s, rd_last_error(s->vk));
            return false;
        }
        s->image_view = -1;
        memcpy(s->staged.mapped, s->host_color, pixels * 4 * sizeof(float));
        memcpy((float *)s->staged.mapped + 4 * pixels, s->host_depth, pixels * sizeof(float));
        frame->color = s->staged.address;
        frame->depth = s->staged.address + pixels * 4 * sizeof(float);
    } else {
        frame->color = (VkDeviceAddress)(uintptr_t)s->color;
        frame->depth = (VkDeviceAddress)(uintptr_t)s->depth;
    }
    return true;
}

/* --train: the newest snapshot in place of the scene shown. */
static void take_training(render_state *s)
{
    rd_scene *scene = NULL;
    vw_training_take(&s->training, renderer(s), &scene, &s->train_status);
    if (!scene) return;
    char name[128];
    snprintf(name, sizeof name, "training, iteration %d", s->train_status.iteration);
    vw_content_replace_scene(&s->content, scene, name);
    if (!s->training_shown && !s->content.dataset) vw_content_default_views(&s->content);
    s->training_shown = true;
}

static void overlay_text(render_state *s, const vw_settings *set, const rd_camera *cam, bool showing_image)
{
    char lines[12][160];
    const char *list[12 + sizeof HELP / sizeof HELP[0]];
    int n = 0;
    const vw_content *c = &s->content;
    if (s->host_ctx)
        snprintf(lines[n++], 160, "%s (frames copied through the host)  shown by %s", rd_backend_name(s->opt->backend),
                 s->present.dev.name);
    else
        snprintf(lines[n++], 160, "vulkan  %s", s->present.dev.name);
    /* the renderer's own timers: the device's on GPUs, the host clock on the CPU backend */
    snprintf(lines[n++], 160, "%.1f fps  %s %.2f ms", s->fps, s->opt->backend == RD_BACKEND_CPU ? "CPU" : "GPU", s->stats.total_ms);
    vw_content_summary(c, rd_render_stats_count(&s->stats, "visible"), lines[n++], 160);
    snprintf(lines[n++], 160, "%dx%d  %s  SH %s  AA %s  vsync %s", cam->width, cam->height, MODE_NAMES[set->mode],
             set->sh_degree < 0 ? "scene" : (const char[]){(char)('0' + set->sh_degree), 0}, set->antialiased ? "on" : "off",
             set->vsync ? "on" : "off");
    if (s->features.field && (set->mode == VW_MODE_FEATURES || set->mode == VW_MODE_RELEVANCY)) {
        const vw_features *f = &s->features;
        int q = f->query_count ? ((set->query % f->query_count) + f->query_count) % f->query_count : 0;
        if (set->mode == VW_MODE_FEATURES)
            snprintf(lines[n++], 160, "features: level %d of %d, %d entries of %d dimensions (K: level)",
                     set->feature_level < f->info.levels ? set->feature_level : f->info.levels, f->info.levels, f->info.codebook_size, f->info.dim);
        else if (f->query_count)
            snprintf(lines[n++], 160, "relevancy: query %d of %d at level %d (G: next query)", q + 1, f->query_count, f->levels[0]);
    }
    if (c->view_count)
        snprintf(lines[n++], 160, "view %s (%d/%d)%s", c->view_names[s->view], s->view + 1, c->view_count,
                 showing_image ? "  [dataset image]" : "");
    const vw_training_status *ts = &s->train_status;
    if (s->opt->train && ts->failed) snprintf(lines[n++], 160, "! %.150s", ts->message);
    else if (s->opt->train)
        snprintf(lines[n++], 160, "training (%s): iteration %d/%d  loss %.4f  %lld Gaussians%s", ts->backend, ts->iteration,
                 ts->iterations, ts->loss, (long long)ts->gaussians, ts->running ? "" : "  (done)");
    pthread_mutex_lock(&s->shared->lock);
    if (s->shared->timeline_ready) vw_timeline_text(&s->shared->timeline, 40, lines[n++], 160);
    pthread_mutex_unlock(&s->shared->lock);
    if (s->player.stream) vw_stream_text(&s->player, lines[n++], 160);
    if (c->message[0]) snprintf(lines[n++], 160, "! %.150s", c->message);
    snprintf(lines[n++], 160, "H: help");
    for (int i = 0; i < n; i++) list[i] = lines[i];
    int total = n;
    if (set->help)
        for (size_t i = 0; i < sizeof HELP / sizeof HELP[0]; i++) list[total++] = HELP[i];
    if (!set->overlay) total = 0;
    vw_overlay_draw(&s->overlay, list, total);
}

static void save_screenshot(render_state *s, const char *path)
{
    rd_image img;
    char text[600];
    if (!vw_present_capture(&s->present, &img)) {
        set_message(s, "screenshot: nothing captured");
        return;
    }
    if (rd_image_save(s->vk, path, &img) != RD_OK) {
        snprintf(text, sizeof text, "screenshot: %s", rd_last_error(s->vk));
        set_message(s, text);
    } else {
        snprintf(text, sizeof text, "screenshot: %s (%dx%d)", path, img.width, img.height);
        vw_log(RD_LOG_INFO, text, NULL);
    }
    rd_image_free(&img);
}

static void record_timing(frame_timing *t, frame_sample sample)
{
    if (t->count < t->capacity) t->samples[t->count++] = sample;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median of one field (at byte offset field) over the samples after the first. */
static double median(const frame_timing *t, size_t field)
{
    int n = t->count - 1;
    double *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v || n < 1) {
        free(v);
        return 0.0;
    }
    for (int i = 0; i < n; i++) memcpy(&v[i], (const char *)&t->samples[i + 1] + field, sizeof(double));
    qsort(v, (size_t)n, sizeof *v, compare_double);
    double m = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    free(v);
    return m;
}

/* --frames: the medians after the first frame (which compiles and allocates). */
static void report_timing(const frame_timing *t, int width, int height, rd_backend backend)
{
    if (t->count < 2) return;
    char text[400];
    snprintf(text, sizeof text,
             "%d frames at %dx%d, medians after the first: frame %.2f ms, render %.2f ms (%s timers %.2f ms), "
             "present %.2f ms",
             t->count - 1, width, height, median(t, offsetof(frame_sample, frame_ms)),
             median(t, offsetof(frame_sample, render_ms)), backend == RD_BACKEND_CPU ? "CPU" : "GPU",
             median(t, offsetof(frame_sample, gpu_ms)),
             median(t, offsetof(frame_sample, present_ms)));
    vw_log(RD_LOG_INFO, text, NULL);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

/* Takes the changes the main thread queued: views to step, a reset, a file to open. */
static void take_requests(render_state *s, vw_settings *set, bool *screenshot, int *width, int *height, float *scale)
{
    vw_shared *sh = s->shared;
    pthread_mutex_lock(&sh->lock);
    int step = sh->view_step;
    bool reset = sh->reset_view;
    char *path = sh->open_path;
    sh->view_step = 0, sh->reset_view = false, sh->open_path = NULL;
    *set = sh->settings;
    *screenshot = sh->screenshot;
    sh->screenshot = false;
    *width = sh->framebuffer_width, *height = sh->framebuffer_height, *scale = sh->content_scale;
    if (reset) vw_controls_reset(&sh->controls);
    pthread_mutex_unlock(&sh->lock);
    if (step) go_to_view(s, s->view + step);
    if (path) {
        open_scene(s, path);
        free(path);
    }
}

static void finish(render_state *s, int code)
{
    pthread_mutex_lock(&s->shared->lock);
    s->shared->quit = true;
    s->shared->exit_code = code;
    pthread_mutex_unlock(&s->shared->lock);
}

static bool quitting(render_state *s)
{
    pthread_mutex_lock(&s->shared->lock);
    bool q = s->shared->quit;
    pthread_mutex_unlock(&s->shared->lock);
    return q;
}

/* One frame; false when the viewer must stop. */
static bool frame(render_state *s, int *frames_done)
{
    vw_settings set;
    bool screenshot;
    int width, height;
    float scale;
    double t0 = now_ms();
    take_requests(s, &set, &screenshot, &width, &height, &scale);
    if (s->opt->train) take_training(s);
    if (width <= 0 || height <= 0) { /* minimised */
        struct timespec pause = {0, 20 * 1000000};
        nanosleep(&pause, NULL);
        return true;
    }
    pthread_mutex_lock(&s->shared->lock);
    rd_camera cam = vw_controls_camera(&s->shared->controls, width, height);
    /* a 4D scene's time moves on by the wall time since the last frame, when playing */
    if (s->last_timeline > 0.0) vw_timeline_advance(&s->shared->timeline, (t0 - s->last_timeline) / 1000.0);
    s->last_timeline = t0;
    float scene_time = s->shared->timeline.time;
    pthread_mutex_unlock(&s->shared->lock);
    if (s->player.stream) show_stream_frame(s, scene_time);
    bool last = s->opt->frames > 0 && *frames_done + 1 >= s->opt->frames;
    /* a scripted run that trains ends on a trained scene: its first snapshot at least */
    if (last && s->opt->train && !s->training_shown && !s->train_status.failed) last = false;
    bool show_image = set.dataset_image && s->content.dataset && rd_dataset_view(s->content.dataset, s->view)->image_path;
    vw_frame_desc f = {.mode = set.mode, .overlay = &s->overlay, .overlay_scale = (int)fmaxf(1.0f, roundf(scale)),
                       .capture = screenshot || (last && s->opt->screenshot),
                       .capture_overlay = s->opt->screenshot_overlay};
    /* depth shown from the nearest to the farthest edge of the scene's bounds */
    float eye[3], dist = 0.0f;
    rd_camera_center(&cam, eye);
    for (int a = 0; a < 3; a++) dist += (eye[a] - s->content.center[a]) * (eye[a] - s->content.center[a]);
    dist = sqrtf(dist);
    f.depth_range[0] = fmaxf(0.0f, dist - s->content.radius), f.depth_range[1] = dist + s->content.radius;
    double t_render = now_ms();
    if (show_image && stage_dataset_image(s, &set)) {
        f.color = s->staged.address, f.source_width = s->image_width, f.source_height = s->image_height;
        f.mode = VW_MODE_RGB;
    } else {
        render(s, &set, &cam, scene_time, &f);
    }
    double t_present = now_ms();
    overlay_text(s, &set, &cam, show_image);
    int presented = vw_present_frame(&s->present, &f, width, height, set.vsync);
    double t_end = now_ms();
    if (presented < 0) {
        vw_log(RD_LOG_ERROR, s->present.error, NULL);
        finish(s, 1);
        return false;
    }
    if (presented == 0) return true;
    if (s->last_frame > 0) {
        double rate = 1000.0 / fmax(t_end - s->last_frame, 1e-3);
        s->fps = s->fps > 0 ? 0.9 * s->fps + 0.1 * rate : rate;
    }
    s->last_frame = t_end;
    record_timing(&s->timing, (frame_sample){t_end - t0, t_present - t_render, s->stats.total_ms, t_end - t_present});
    (*frames_done)++;
    if (screenshot) {
        char stamp[40], path[64];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "radiant-view-%Y%m%d-%H%M%S", localtime(&now));
        snprintf(path, sizeof path, "%s.png", stamp);
        /* several in one second: -2, -3, ... rather than overwriting */
        for (int n = 2; access(path, F_OK) == 0 && n < 1000; n++) snprintf(path, sizeof path, "%s-%d.png", stamp, n);
        save_screenshot(s, path);
    }
    if (last && s->opt->train && s->train_status.failed) { /* said in the log already */
        finish(s, 1);
        return false;
    }
    if (last) {
        if (s->opt->screenshot) save_screenshot(s, s->opt->screenshot);
        if (s->opt->train) {
            char text[200];
            snprintf(text, sizeof text, "training (%s): iteration %d of %d, loss %.5f, %lld Gaussians shown", s->train_status.backend,
                     s->train_status.iteration, s->train_status.iterations, s->train_status.loss, (long long)s->content.info.count);
            vw_log(RD_LOG_INFO, text, NULL);
        }
        report_timing(&s->timing, width, height, s->opt->backend);
        pthread_mutex_lock(&s->shared->lock);
        char text[160];
        if (s->shared->timeline_ready) vw_timeline_text(&s->shared->timeline, 20, text, sizeof text);
        bool timed = s->shared->timeline_ready;
        pthread_mutex_unlock(&s->shared->lock);
        if (timed) vw_log(RD_LOG_INFO, text, NULL); /* a script's last frame: at what time */
        if (s->player.stream) vw_stream_text(&s->player, text, sizeof text), vw_log(RD_LOG_INFO, text, NULL);
        finish(s, 0);
        return false;
    }
    return true;
}

static bool start(render_state *s, const vw_options *o)
{
    if (o->backend != RD_BACKEND_VULKAN) {
        rd_context_desc desc = {.backend = o->backend, .log = vw_log, .log_level = o->verbose ? RD_LOG_DEBUG : RD_LOG_INFO,
                                .decode_limit = o->decode_limit};
        if (rd_context_create(&desc, &s->host_ctx) != RD_OK) return false;
    }
    if (!vw_present_create(&s->present, s->vk)) {
        vw_log(RD_LOG_ERROR, s->present.error, NULL);
        return false;
    }
    if (s->host_ctx) {
        char text[400];
        snprintf(text, sizeof text, "%s renders; frames copied through the host to %s", rd_backend_name(o->backend),
                 s->present.dev.name);
        vw_log(RD_LOG_INFO, text, NULL);
    }
    s->image_view = -1;
    if (o->frames > 0) {
        s->timing.samples = calloc((size_t)o->frames, sizeof *s->timing.samples);
        s->timing.capacity = s->timing.samples ? o->frames : 0;
    }
    /* an interactive session shows a failed load in the overlay and goes on; a run of
       --frames N (a script's) fails with it */
    memcpy(s->content.up, o->up, sizeof s->content.up);
    s->content.spz_frame = o->spz_frame;
    s->content.halves = o->halves;
    bool loaded = open_scene(s, o->demo ? "--demo" : o->scene);
    const char *views = o->dataset ? o->dataset : o->cameras ? o->cameras : o->train;
    if (o->train && !vw_training_start(&s->training, o->train, o->downscale, o->iterations)) {
        vw_log(RD_LOG_ERROR, s->training.status.message, NULL);
        return false;
    }
    bool views_loaded = views && vw_content_open_views(&s->content, s->vk, views, o->split);
    if (o->frames > 0 && (!loaded || (views && !views_loaded))) {
        if (views && !views_loaded) vw_log(RD_LOG_ERROR, s->content.message, NULL);
        return false;
    }
    if (views_loaded) {
        go_to_view(s, 0);
        /* a dataset without a scene shows its own images */
        if (s->content.info.count == 0 && o->dataset) {
            pthread_mutex_lock(&s->shared->lock);
            s->shared->settings.dataset_image ^= true; /* keys pressed already toggle from this default */
            pthread_mutex_unlock(&s->shared->lock);
        }
    } else if (views) {
        vw_log(RD_LOG_ERROR, s->content.message, NULL); /* already in the overlay */
    }
    pthread_mutex_lock(&s->shared->lock);
    s->shared->settings.antialiased ^= (s->content.info.flags & RD_SCENE_ANTIALIASED) != 0;
    pthread_mutex_unlock(&s->shared->lock);
    return true;
}

void *vw_render_thread(void *arg)
{
    const vw_render_args *a = arg;
    render_state s = {.shared = a->shared, .opt = a->options, .vk = a->present_ctx, .staged = {.host = true}};
    if (!start(&s, a->options)) finish(&s, 1);
    int frames_done = 0;
    while (!quitting(&s) && frame(&s, &frames_done)) {}
    if (s.opt->train) vw_training_stop(&s.training);
    vw_present_destroy(&s.present);
    if (!s.host_ctx) rd_buffer_free(s.vk, s.color), rd_buffer_free(s.vk, s.depth);
    free(s.host_color), free(s.host_depth);
    rd_vulkan_buffer_release(s.vk, &s.staged);
    vw_overlay_free(&s.overlay);
    vw_content_free(&s.content);
    vw_stream_close(&s.player);
    rd_scene_destroy(s.empty);
    vw_features_close(&s.features);
    rd_context_destroy(s.host_ctx);
    free(s.timing.samples);
    return NULL;
}
