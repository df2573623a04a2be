/* viewer.h: what radiant-view's two threads share. The main thread owns the window and
   turns input into changes here; the render thread (render_loop.c) owns the radiant
   contexts, the scene and the swapchain, and reads this once per frame. Rendering
   therefore never holds up input, however slow a frame is. */
#ifndef VW_VIEWER_H
#define VW_VIEWER_H

#include "controls.h"
#include "timeline.h"
#include "radiant.h"

#include <pthread.h>
#include <stdbool.h>

/* Exit codes, as the radiant command's: 0 done, 1 failed, 2 bad usage. */
enum { VW_EXIT_FAILED = 1, VW_EXIT_USAGE = 2 };

typedef struct vw_options {
    const char *scene;       /* a scene file, or NULL */
    const char *dataset;     /* --dataset DIR */
    const char *split;       /* --split (dataset views), NULL: the library's default */
    const char *cameras;     /* --cameras FILE */
    bool demo;               /* --demo */
    rd_backend backend;      /* --backend: vulkan (default), cuda or cpu */
    bool backend_given;      /* --backend was on the command line */
    int width, height;       /* --width/--height: window size */
    int frames;              /* --frames N: exit after N frames */
    const char *screenshot;  /* --screenshot FILE: the last of those frames */
    bool screenshot_overlay; /* screenshots include the overlay (--screenshot-overlay) */
    const char *press;       /* --press KEYS: pressed before the first frame (scripted screenshots) */
    bool vsync;              /* starts on; --no-vsync */
    bool verbose;
    int64_t decode_limit; /* --decode-limit (rd_context_desc.decode_limit) */
    const char *spz_frame; /* --spz-frame (rd_scene_load_desc.spz_frame), for every scene opened */
    uint32_t halves;       /* --half-sh RD_SCENE_HALF_SH, --packed RD_SCENE_PACKED, for every 3D Gaussian scene opened */
    float up[3];             /* --up AXIS: the orbit views' up; zero: told from the scene */
    const char *train;       /* --train DATASET: fit a scene to it in the background (training.h) */
    int downscale, iterations; /* --downscale F, --iterations N: that training's */
    float time;              /* --time T: a 4D scene starts there (paused) */
    bool time_given;
    const char *features;    /* --features FILE.rfeat (default: the one beside the scene) */
    const char *embeddings;  /* --embeddings Q.npy: the relevancy mode's queries */
    const char *negatives;   /* --negatives N.npy */
} vw_options;

/* What the person toggles; the render thread reads a copy each frame. */
typedef struct vw_settings {
    int mode;            /* VW_MODE_* (present.h) */
    int sh_degree;       /* 0..3, or -1 for the scene's own */
    bool antialiased;
    bool white_background;
    bool vsync;
    bool overlay;        /* the stats overlay */
    bool help;
    bool dataset_image;  /* show the dataset's own image at this view */
    int feature_level;   /* the feature modes' level, 1..3 (K cycles) */
    int query;           /* the relevancy mode's query (G cycles) */
} vw_settings;

typedef struct vw_shared {
    pthread_mutex_t lock;
    vw_controls controls;     /* set up by the render thread once a scene is open */
    bool controls_ready;
    vw_settings settings;
    int framebuffer_width, framebuffer_height;
    float content_scale;      /* HiDPI: framebuffer pixels per screen unit */
    int view_step;            /* views to move by (N: +1, P: -1), taken by the render thread */
    bool reset_view;
    char *open_path;          /* a dropped file to open (malloc'd), taken by the render thread */
    vw_timeline timeline;     /* a 4D scene's time, played by the render thread */
    bool timeline_ready;      /* a 4D scene is open */
    char timeline_keys[32];   /* its keys pressed before one was (--press), replayed when it opens */
    bool screenshot;          /* F12 */
    bool quit;
    int exit_code;
} vw_shared;

/* The render thread's body (render_loop.c); arg is a vw_render_args. */
typedef struct vw_render_args {
    vw_shared *shared;
    const vw_options *options;
    rd_context *present_ctx; /* Vulkan, with the window's surface */
} vw_render_args;
void *vw_render_thread(void *arg);

/* Logs "radiant-view: message" to stderr (the library's log callback too). */
void vw_log(rd_log_level level, const char *message, void *user);

#endif
