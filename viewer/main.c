/* main.c: radiant-view: options, the GLFW window, input, and the render thread's start
   and end. This thread only handles input; render_loop.c draws. */
#include "present.h"
#include "viewer.h"

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *USAGE =
    "usage: radiant-view [SCENE] [options]\n"
    "\n"
    "Shows a scene (any format radiant reads) and lets you fly around it.\n"
    "\n"
    "  --demo                the built-in scene\n"
    "  --dataset DIR         a dataset's cameras as views (N/P), its images on I\n"
    "  --split S             the dataset's split: train, val, test (default) or all\n"
    "  --cameras FILE        a camera list as views, starting at the first\n"
    "  --train DATASET       fit a scene to the dataset's train split in the background (CUDA where\n"
    "                        there is a GPU, else the CPU) and show it as it improves, from its views\n"
    "  --iterations N        that training's steps (default 30000)\n"
    "  --downscale F         its photos averaged down F times (1..16, default 1)\n"
    "  --backend B           vulkan (default), or cuda or cpu (frames copied through the host); a\n"
    "                        NeRF on a CPU Vulkan device (lavapipe) renders on CUDA or the CPU unless\n"
    "                        --backend vulkan is given: they are several times faster there\n"
    "  --width W --height H  window size (default 1280x720)\n"
    "  --no-vsync            start with vsync off (V toggles)\n"
    "  --up AXIS             the orbit views' up: x, y, z, -x, -y or -z (default: told from the scene)\n"
    "  --frames N            render N frames at the first view, then exit\n"
    "  --screenshot FILE     with --frames: write the last frame (PNG)\n"
    "  --screenshot-overlay  screenshots (F12 too) include the overlay; by default they do not\n"
    "  --press KEYS          press these keys (letters, digits, space , . [ ]) before the first frame, e.g. MB\n"
    "  --decode-limit MIB|none  memory the scene file may decode to (default: 64 times its size,\n"
    "                        at least 256 MiB)\n"
    "  --spz-frame NAME      read SPZ scenes as in this frame (RUB, RDF, ...), whatever their record says\n"
    "  --half-sh             3D Gaussian scenes keep their SH in half precision (as radiant render's)\n"
    "  --packed              3D Gaussian scenes take the inference layout (as radiant render's)\n"
    "  --time T              a 4D scene starts at time T, paused (default: the start of its range)\n"
    "  --features FILE       the scene's feature field (default: the scene's name with .rfeat); M shows its\n"
    "                        PCA colouring (K: level) and the relevancy of a query (G: next query)\n"
    "  --embeddings Q.npy    the relevancy mode's queries; --negatives N.npy their canonical negatives\n"
    "  --verbose             log the library's debug messages\n"
    "\n"
    "Keys: H shows them all (orbit: left drag, pan: right drag, zoom: scroll, fly: WASDQE).\n";

void vw_log(rd_log_level level, const char *message, void *user)
{
    (void)user;
    static const char *names[] = {"debug: ", "", "warning: ", "error: "};
    fprintf(stderr, "radiant-view: %s%s\n", names[level < 0 || level > RD_LOG_ERROR ? 0 : level], message);
}

static int parse_int(const char *s, int lo, int hi, const char *what)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "radiant-view: %s: '%s' is not a number from %d to %d\n", what, s, lo, hi);
        return -1;
    }
    return (int)v;
}

/* 0: run, VW_EXIT_USAGE: bad usage (after a message), -1: --help. */
static int parse_options(int argc, char **argv, vw_options *o)
{
    *o = (vw_options){.backend = RD_BACKEND_VULKAN, .width = 1280, .height = 720, .vsync = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) return -1;
        if (strcmp(a, "--demo") == 0) o->demo = true;
        else if (strcmp(a, "--no-vsync") == 0) o->vsync = false;
        else if (strcmp(a, "--verbose") == 0) o->verbose = true;
        else if (strcmp(a, "--screenshot-overlay") == 0) o->screenshot_overlay = true;
        else if (strcmp(a, "--half-sh") == 0) o->halves |= RD_SCENE_HALF_SH;
        else if (strcmp(a, "--packed") == 0) o->halves |= RD_SCENE_PACKED;
        else if (has_value && strcmp(a, "--dataset") == 0) o->dataset = argv[++i];
        else if (has_value && strcmp(a, "--split") == 0) {
            o->split = argv[++i];
            if (strcmp(o->split, "train") && strcmp(o->split, "val") && strcmp(o->split, "test") && strcmp(o->split, "all")) {
                fprintf(stderr, "radiant-view: --split %s: expected train, val, test or all\n", o->split);
                return VW_EXIT_USAGE;
            }
        }
        else if (has_value && strcmp(a, "--cameras") == 0) o->cameras = argv[++i];
        else if (has_value && strcmp(a, "--train") == 0) o->train = argv[++i];
        else if (has_value && strcmp(a, "--downscale") == 0) {
            if ((o->downscale = parse_int(argv[++i], 1, 16, a)) < 0) return VW_EXIT_USAGE;
        } else if (has_value && strcmp(a, "--iterations") == 0) {
            if ((o->iterations = parse_int(argv[++i], 1, 1000000000, a)) < 0) return VW_EXIT_USAGE;
        }
        else if (has_value && strcmp(a, "--decode-limit") == 0) {
            if (rd_decode_limit_from_text(argv[++i], &o->decode_limit) != RD_OK) {
                fprintf(stderr, "radiant-view: --decode-limit %s: expected a whole number of MiB (1..1073741824) or none\n", argv[i]);
                return VW_EXIT_USAGE;
            }
        }
        else if (has_value && strcmp(a, "--spz-frame") == 0) o->spz_frame = argv[++i]; /* checked when a scene opens */
        else if (has_value && strcmp(a, "--features") == 0) o->features = argv[++i];     /* checked when a scene opens */
        else if (has_value && strcmp(a, "--embeddings") == 0) o->embeddings = argv[++i];
        else if (has_value && strcmp(a, "--negatives") == 0) o->negatives = argv[++i];
        else if (has_value && strcmp(a, "--screenshot") == 0) o->screenshot = argv[++i];
        else if (has_value && strcmp(a, "--press") == 0) o->press = argv[++i];
        else if (has_value && strcmp(a, "--time") == 0) {
            char *end = NULL;
            o->time = strtof(argv[++i], &end);
            if (!end || *end || end == argv[i] || !isfinite(o->time)) {
                fprintf(stderr, "radiant-view: --time %s: expected a finite number\n", argv[i]);
                return VW_EXIT_USAGE;
            }
            o->time_given = true;
        }
        else if (has_value && strcmp(a, "--up") == 0) {
            if (rd_axis_from_name(argv[++i], o->up) != RD_OK) {
                fprintf(stderr, "radiant-view: --up %s: expected x, y, z, -x, -y or -z\n", argv[i]);
                return VW_EXIT_USAGE;
            }
        }
        else if (has_value && strcmp(a, "--backend") == 0) {
            int b = rd_backend_from_name(argv[++i]);
            if (b != RD_BACKEND_VULKAN && b != RD_BACKEND_CUDA && b != RD_BACKEND_CPU) {
                fprintf(stderr, "radiant-view: --backend: '%s' is not vulkan, cuda or cpu\n", argv[i]);
                return VW_EXIT_USAGE;
            }
            o->backend = (rd_backend)b;
            o->backend_given = true;
        } else if (has_value && (strcmp(a, "--width") == 0 || strcmp(a, "--height") == 0 || strcmp(a, "--frames") == 0)) {
            int *field = strcmp(a, "--width") == 0 ? &o->width : strcmp(a, "--height") == 0 ? &o->height : &o->frames;
            if ((*field = parse_int(argv[++i], 1, 16384, a)) < 0) return VW_EXIT_USAGE;
        } else if (a[0] != '-' && !o->scene) o->scene = a;
        else {
            fprintf(stderr, "radiant-view: unknown or incomplete option '%s'\n\n%s", a, USAGE);
            return VW_EXIT_USAGE;
        }
    }
    if (o->scene && o->demo) {
        fprintf(stderr, "radiant-view: give a SCENE file or --demo, not both\n");
        return VW_EXIT_USAGE;
    }
    if (o->dataset && o->cameras) {
        fprintf(stderr, "radiant-view: give --dataset or --cameras, not both\n");
        return VW_EXIT_USAGE;
    }
    if (o->train && (o->scene || o->demo)) {
        fprintf(stderr, "radiant-view: --train fits its own scene: give no SCENE or --demo with it\n");
        return VW_EXIT_USAGE;
    }
    if ((o->downscale || o->iterations) && !o->train) {
        fprintf(stderr, "radiant-view: --downscale and --iterations are --train's\n");
        return VW_EXIT_USAGE;
    }
    if (o->screenshot && !o->frames) {
        fprintf(stderr, "radiant-view: --screenshot needs --frames N\n");
        return VW_EXIT_USAGE;
    }
    if (o->split && !o->dataset) {
        fprintf(stderr, "radiant-view: --split chooses among a dataset's views: give --dataset too\n");
        return VW_EXIT_USAGE;
    }
    return 0;
}

/* ---- input: the main thread's side of vw_shared ------------------------------------ */

typedef struct input_state {
    vw_shared *shared;
    bool orbiting, panning;
    bool scrubbing;  /* a left drag that began on the timeline's strip */
    double x, y;     /* the cursor as of the last event handled */
    bool have_cursor; /* x, y came from a cursor event */
} input_state;

/* One key press (GLFW_KEY_*): the toggles and requests. */
static void press(vw_shared *sh, int key)
{
    pthread_mutex_lock(&sh->lock);
    vw_settings *s = &sh->settings;
    switch (key) {
    case GLFW_KEY_ESCAPE: sh->quit = true; break;
    case GLFW_KEY_R: sh->reset_view = true; break;
    case GLFW_KEY_N: sh->view_step++; break;
    case GLFW_KEY_P: sh->view_step--; break;
    case GLFW_KEY_M: s->mode = (s->mode + 1) % VW_MODES; break;
    case GLFW_KEY_K: s->feature_level = s->feature_level % RD_FEATURE_MAX_LEVELS + 1; break;
    case GLFW_KEY_G: s->query++; break;
    case GLFW_KEY_0: case GLFW_KEY_1: case GLFW_KEY_2: case GLFW_KEY_3: s->sh_degree = key - GLFW_KEY_0; break;
    case GLFW_KEY_X: s->antialiased = !s->antialiased; break;
    case GLFW_KEY_B: s->white_background = !s->white_background; break;
    case GLFW_KEY_V: s->vsync = !s->vsync; break;
    case GLFW_KEY_I: s->dataset_image = !s->dataset_image; break;
    case GLFW_KEY_O: s->overlay = !s->overlay; break;
    case GLFW_KEY_H: s->help = !s->help; s->overlay |= s->help; break;
    case GLFW_KEY_F12: sh->screenshot = true; break;
    case GLFW_KEY_SPACE: case GLFW_KEY_COMMA: case GLFW_KEY_PERIOD: case GLFW_KEY_LEFT_BRACKET: case GLFW_KEY_RIGHT_BRACKET:
    case GLFW_KEY_L: { /* a 4D scene's time; before one is open (--press), kept for it */
        char c = key == GLFW_KEY_SPACE ? ' ' : key == GLFW_KEY_COMMA ? ',' : key == GLFW_KEY_PERIOD ? '.'
                 : key == GLFW_KEY_LEFT_BRACKET ? '[' : key == GLFW_KEY_RIGHT_BRACKET ? ']' : 'l';
        size_t queued = strlen(sh->timeline_keys);
        if (sh->timeline_ready) vw_timeline_key(&sh->timeline, c);
        else if (queued + 1 < sizeof sh->timeline_keys) sh->timeline_keys[queued] = c, sh->timeline_keys[queued + 1] = '\0';
        break;
    }
    default: break;
    }
    pthread_mutex_unlock(&sh->lock);
}

static void on_key(GLFWwindow *w, int key, int scancode, int action, int mods)
{
    (void)scancode, (void)mods;
    input_state *in = glfwGetWindowUserPointer(w);
    if (action == GLFW_PRESS) press(in->shared, key);
}

/* --press KEYS: letters, digits and the timeline's keys as if pressed before the first frame. */
static void press_all(vw_shared *sh, const char *keys)
{
    for (const char *k = keys; k && *k; k++) {
        if (*k >= 'a' && *k <= 'z') press(sh, GLFW_KEY_A + (*k - 'a'));
        else if (*k >= 'A' && *k <= 'Z') press(sh, GLFW_KEY_A + (*k - 'A'));
        else if (*k >= '0' && *k <= '9') press(sh, GLFW_KEY_0 + (*k - '0'));
        else if (*k == ' ' || *k == ',' || *k == '.' || *k == '[' || *k == ']')
            press(sh, *k == ' ' ? GLFW_KEY_SPACE : *k == ',' ? GLFW_KEY_COMMA : *k == '.' ? GLFW_KEY_PERIOD
                      : *k == '[' ? GLFW_KEY_LEFT_BRACKET : GLFW_KEY_RIGHT_BRACKET);
    }
}

/* The timeline's strip at the window's foot (a 4D scene's): where a left drag scrubs. */
enum { TIMELINE_STRIP = 28 };

static void scrub_to(GLFWwindow *w, input_state *in, double x)
{
    int width, height;
    glfwGetWindowSize(w, &width, &height);
    pthread_mutex_lock(&in->shared->lock);
    vw_timeline_scrub(&in->shared->timeline, width > 1 ? (float)(x / (width - 1)) : 0.0f);
    pthread_mutex_unlock(&in->shared->lock);
}

static void on_button(GLFWwindow *w, int button, int action, int mods)
{
    (void)mods;
    input_state *in = glfwGetWindowUserPointer(w);
    bool down = action == GLFW_PRESS;
    if (button == GLFW_MOUSE_BUTTON_LEFT && down) {
        double x, y;
        int width, height;
        glfwGetCursorPos(w, &x, &y);
        glfwGetWindowSize(w, &width, &height);
        pthread_mutex_lock(&in->shared->lock);
        bool timed = in->shared->timeline_ready;
        pthread_mutex_unlock(&in->shared->lock);
        in->scrubbing = timed && y >= height - TIMELINE_STRIP;
        if (in->scrubbing) {
            scrub_to(w, in, x);
            return;
        }
    }
    if (button == GLFW_MOUSE_BUTTON_LEFT && !down) in->scrubbing = false;
    if (button == GLFW_MOUSE_BUTTON_LEFT) in->orbiting = down;
    if (button == GLFW_MOUSE_BUTTON_RIGHT || button == GLFW_MOUSE_BUTTON_MIDDLE) in->panning = down;
    /* The pointer's position now may be ahead of the events still queued: taking it here
       would lose the motion between, so a drag and its reverse would not cancel. */
    if (!in->have_cursor) glfwGetCursorPos(w, &in->x, &in->y), in->have_cursor = true;
}

static void on_cursor(GLFWwindow *w, double x, double y)
{
    input_state *in = glfwGetWindowUserPointer(w);
    double dx = x - in->x, dy = y - in->y;
    in->x = x, in->y = y, in->have_cursor = true;
    if (in->scrubbing) {
        scrub_to(w, in, x);
        return;
    }
    if (!in->orbiting && !in->panning) return;
    int width, height;
    glfwGetWindowSize(w, &width, &height);
    pthread_mutex_lock(&in->shared->lock);
    if (in->shared->controls_ready) {
        /* a drag across the window's height turns about 180 degrees, or pans about the view's height */
        if (in->orbiting) vw_controls_orbit(&in->shared->controls, (float)(-dx * 3.0 / height), (float)(-dy * 3.0 / height));
        else vw_controls_pan(&in->shared->controls, (float)(-dx / height), (float)(-dy / height));
    }
    pthread_mutex_unlock(&in->shared->lock);
}

static void on_scroll(GLFWwindow *w, double dx, double dy)
{
    (void)dx;
    input_state *in = glfwGetWindowUserPointer(w);
    pthread_mutex_lock(&in->shared->lock);
    if (in->shared->controls_ready) vw_controls_zoom(&in->shared->controls, (float)dy);
    pthread_mutex_unlock(&in->shared->lock);
}

static void on_drop(GLFWwindow *w, int count, const char **paths)
{
    input_state *in = glfwGetWindowUserPointer(w);
    if (count < 1) return;
    char *copy = strdup(paths[0]);
    pthread_mutex_lock(&in->shared->lock);
    free(in->shared->open_path);
    in->shared->open_path = copy;
    pthread_mutex_unlock(&in->shared->lock);
}

static void on_framebuffer(GLFWwindow *w, int width, int height)
{
    input_state *in = glfwGetWindowUserPointer(w);
    float sx, sy;
    glfwGetWindowContentScale(w, &sx, &sy);
    pthread_mutex_lock(&in->shared->lock);
    in->shared->framebuffer_width = width, in->shared->framebuffer_height = height;
    in->shared->content_scale = sx > sy ? sx : sy;
    pthread_mutex_unlock(&in->shared->lock);
}

/* W A S D Q E held: moves by the time since the last call. */
static void fly(GLFWwindow *w, vw_shared *sh, double seconds)
{
    static const struct { int key, axis; float sign; } keys[] = {
        {GLFW_KEY_D, 0, 1}, {GLFW_KEY_A, 0, -1}, {GLFW_KEY_Q, 1, 1}, {GLFW_KEY_E, 1, -1}, {GLFW_KEY_W, 2, 1}, {GLFW_KEY_S, 2, -1}};
    float move[3] = {0};
    bool any = false;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (glfwGetKey(w, keys[i].key) == GLFW_PRESS) move[keys[i].axis] += keys[i].sign, any = true;
    if (!any) return;
    bool fast = glfwGetKey(w, GLFW_KEY_LEFT_SHIFT) == GLFW_PRESS || glfwGetKey(w, GLFW_KEY_RIGHT_SHIFT) == GLFW_PRESS;
    pthread_mutex_lock(&sh->lock);
    if (sh->controls_ready) vw_controls_fly(&sh->controls, move, (float)seconds, fast ? 4.0f : 1.0f);
    pthread_mutex_unlock(&sh->lock);
}

/* ---- the window and its Vulkan context -------------------------------------------- */

static VkResult create_surface(VkInstance instance, void *user, VkSurfaceKHR *surface)
{
    return glfwCreateWindowSurface(instance, (GLFWwindow *)user, NULL, surface);
}

static void on_glfw_error(int code, const char *description)
{
    (void)code;
    fprintf(stderr, "radiant-view: window system: %s\n", description);
}

int main(int argc, char **argv)
{
    vw_options opt;
    int parsed = parse_options(argc, argv, &opt);
    if (parsed < 0) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (parsed) return parsed;
    glfwSetErrorCallback(on_glfw_error);
    if (!glfwInit()) {
        fprintf(stderr, "radiant-view: cannot open a display (is DISPLAY or WAYLAND_DISPLAY set? "
                        "Headless, use `radiant render`, or run under xvfb-run)\n");
        return 1;
    }
    if (!glfwVulkanSupported()) {
        fprintf(stderr, "radiant-view: no Vulkan loader or driver for windows on this display\n");
        glfwTerminate();
        return 1;
    }
    glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
    glfwWindowHint(GLFW_SCALE_TO_MONITOR, GLFW_TRUE);
    GLFWwindow *window = glfwCreateWindow(opt.width, opt.height, "radiant-view", NULL, NULL);
    if (!window) {
        glfwTerminate();
        return 1;
    }
    uint32_t extension_count = 0;
    const char **extensions = glfwGetRequiredInstanceExtensions(&extension_count);
    rd_vulkan_window_desc window_desc = {.instance_extensions = extensions, .instance_extension_count = extension_count,
                                         .create_surface = create_surface, .user = window};
    rd_context *ctx = NULL;
    rd_context_desc desc = {.backend = RD_BACKEND_VULKAN, .log = vw_log, .log_level = opt.verbose ? RD_LOG_DEBUG : RD_LOG_INFO,
                            .vulkan_window = &window_desc, .decode_limit = opt.decode_limit};
    if (rd_context_create(&desc, &ctx) != RD_OK) {
        glfwDestroyWindow(window);
        glfwTerminate();
        return 1;
    }
    vw_shared shared = {.settings = {.sh_degree = -1, .vsync = opt.vsync, .overlay = true, .feature_level = 1}, .content_scale = 1.0f};
    pthread_mutex_init(&shared.lock, NULL);
    input_state input = {.shared = &shared};
    glfwSetWindowUserPointer(window, &input);
    glfwSetKeyCallback(window, on_key);
    glfwSetMouseButtonCallback(window, on_button);
    glfwSetCursorPosCallback(window, on_cursor);
    glfwSetScrollCallback(window, on_scroll);
    glfwSetDropCallback(window, on_drop);
    glfwSetFramebufferSizeCallback(window, on_framebuffer);
    int fb_width, fb_height;
    glfwGetFramebufferSize(window, &fb_width, &fb_height);
    on_framebuffer(window, fb_width, fb_height);

    press_all(&shared, opt.press);
    vw_render_args args = {.shared = &shared, .options = &opt, .present_ctx = ctx};
    pthread_t thread;
    if (pthread_create(&thread, NULL, vw_render_thread, &args) != 0) {
        fprintf(stderr, "radiant-view: cannot start the render thread\n");
        shared.exit_code = 1;
    } else {
        double last = glfwGetTime();
        for (;;) {
            glfwWaitEventsTimeout(1.0 / 120.0);
            double now = glfwGetTime();
            fly(window, &shared, now - last);
            last = now;
            pthread_mutex_lock(&shared.lock);
            if (glfwWindowShouldClose(window)) shared.quit = true;
            bool quit = shared.quit;
            pthread_mutex_unlock(&shared.lock);
            if (quit) break;
        }
        pthread_join(thread, NULL);
    }
    int code = shared.exit_code;
    free(shared.open_path);
    pthread_mutex_destroy(&shared.lock);
    rd_context_destroy(ctx);
    glfwDestroyWindow(window);
    glfwTerminate();
    return code;
}
