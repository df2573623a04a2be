/* cli.h: what the `radiant` commands share: options, the context, scenes, the list of
   views to render, and the progress bar. */
#ifndef RD_CLI_H
#define RD_CLI_H

#include "radiant.h"
#include "radiant_bench.h"

#include <cjson/cJSON.h>

#include <stdbool.h>

enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

/* Which options a command takes. */
enum {
    OPT_DATASET = 1 << 0, OPT_CAMERAS = 1 << 1, OPT_OUT = 1 << 2, OPT_BACKEND = 1 << 3,
    OPT_BACKGROUND = 1 << 4, OPT_EXR = 1 << 5, OPT_SIZE = 1 << 6, OPT_FRAMES = 1 << 7,
    OPT_JSON = 1 << 8, OPT_RENDER = 1 << 9, OPT_DEMO = 1 << 10, OPT_SAVE_CAMERAS = 1 << 11,
    OPT_BACKWARD = 1 << 12, OPT_VIDEO = 1 << 13,
};

typedef struct cli_options {
    const char *scene; /* positional; NULL with --demo */
    bool demo;
    long long synth; /* --synth N: the benchmark scene of `radiant synth` */
    const char *dataset, *split, *cameras, *out_dir;
    const char *save_cameras; /* --save-cameras FILE: the cameras rendered, as a camera list */
    float up[3];              /* --up AXIS for the orbit; zero: the scene's (rd_scene_up) */
    int views;                /* --views N: the orbit's views; 0: 8 */
    bool split_given; /* --split, which needs --dataset */
    rd_backend backend;
    float background[3];
    bool background_given; /* --background was given (an RTMV dataset is otherwise on white) */
    bool exr, json, verbose;
    bool backward; /* bench --backward */
    int64_t decode_limit; /* --decode-limit (rd_context_desc.decode_limit) */
    const char *spz_frame; /* --spz-frame NAME (rd_scene_load_desc.spz_frame) */
    uint32_t halves;       /* the inference layout's flags asked for: --half-sh RD_SCENE_HALF_SH (rd_scene_use_half_sh),
                              --packed RD_SCENE_PACKED (rd_scene_use_packed) */
    bool float_layout;     /* --float: no inference layout, where a command would take it by default */
    bool packed_default;   /* the command only renders (render, bench without --backward): on GPU backends a 3D
                              Gaussian scene takes the packed layout unless --float or --half-sh says otherwise */
    int width, height, frames, warmup;
    rd_render_desc render;
    bool time_given; /* --time T (render.time): a 4D scene's time */
    float times_from, times_to; /* --times FROM:TO:COUNT: every view at COUNT times (0: not asked) */
    int times_count;
    const char *video; /* --video FILE: the views as H.264 frames too */
    int fps;           /* --fps N: the video's rate; 0: 30 */
} cli_options;

/* Parses argv (after the command name). Returns EXIT_DONE to go on, EXIT_USAGE on a bad
   option (message printed), or -1 after printing help. */
int cli_parse(int argc, char **argv, unsigned allowed, const char *usage, cli_options *o);
rd_context *cli_context(const cli_options *o);
/* black, white or R,G,B in [0, 1] into out; false for anything else. */
bool cli_parse_background(const char *s, float out[3]);
/* The mean PSNR of scene's renders of the first `limit` views of a split against their
   photos composited on background (each at its view's time); with views, an entry a view
   (name, psnr, ssim). NaN where the evaluation fails (the context's error says why). (evaluate.c) */
double cli_evaluate(rd_context *ctx, const rd_scene *scene, const rd_train_set *test, int limit, const float background[3],
                    cJSON *views);
/* Prints "radiant: <what>: <last error>" to stderr. */
void cli_error(rd_context *ctx, const char *what);
/* Loads the positional scene or builds the demo one. */
rd_result cli_load_scene(rd_context *ctx, const cli_options *o, rd_scene **scene);

/* The cameras a command renders: a dataset's views, a camera list, or an orbit around
   the scene when neither is given. */
typedef struct cli_views {
    rd_dataset *dataset; /* NULL for orbits */
    rd_camera *cameras;
    char (*names)[64];
    int count;
} cli_views;
rd_result cli_views_load(rd_context *ctx, const cli_options *o, const rd_scene *scene, cli_views *v);
void cli_views_free(cli_views *v);

/* What a render finds in its --out folder (outputs.c): how many of the files it is about
   to write exist already; the views an earlier render's report.json names there; and,
   after this render, the removal of those earlier frames it did not write (returns how
   many files went). Nothing the reports do not name is touched. */
typedef struct cli_names {
    char (*names)[64];
    int count;
} cli_names;
int cli_outputs_existing(const char *dir, const cli_views *v, bool exr);
cli_names cli_outputs_earlier(const char *dir);
int cli_outputs_remove_stale(const char *dir, const cli_names *earlier, const cli_views *v);
void cli_names_free(cli_names *n);
/* SCENE without its format's extension (.ply, .rcompact, ...), then suffix (".report.json",
   ".checkpoint") into out: the files `train` and `compact` write beside a scene. */
void cli_beside_scene(const char *scene, const char *suffix, char *out, size_t size);
/* mkdir -p: false (errno set) where a folder cannot be made. */
bool cli_make_dirs(const char *path);
/* Writes a report as JSON to path (atomically); prints why and returns false on failure. */
bool cli_write_report(rd_context *ctx, const char *path, const cJSON *report);

/* bench's warm-up: the requested frames, and more until CLI_WARMUP_MIN_MS have passed
   since the first ended (none at all when none were requested; elapsed_ms: since then). A GPU that idled while the
   scene was made runs at its idle clock for a while (an H100 at 345 MHz, which put short
   Vulkan runs of the 6M scene at 2.7x their time). */
enum { CLI_WARMUP_MIN_MS = 1000 };
bool cli_warmup_continues(int warmed, int requested, double elapsed_ms);

/* Draws a progress bar on stderr (a terminal only) once a run has taken over a second. */
void cli_progress(const char *label, int done, int total, double start_ms);
double cli_now_ms(void);

int cmd_render(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_compact(int argc, char **argv);
int cmd_query(int argc, char **argv);

/* render's --output features (feature_output.c): the options taken out of argv, the field
   loaded (--features, or the one beside the scene), and a view's PCA colouring and raw
   map written beside its render. */
typedef struct cli_feature_output {
    bool wanted;
    const char *path;
    int level; /* 0: 1 */
    rd_feature_field *field;
} cli_feature_output;
int cli_feature_options(int *argc, char **argv, cli_feature_output *out);
rd_result cli_feature_field_load(rd_context *ctx, const char *scene_path, cli_feature_output *out);
rd_result cli_feature_view(rd_context *ctx, const rd_scene *scene, const cli_feature_output *out, const rd_camera *cam,
                           const char *dir, const char *name);
/* `radiant bench --features FILE|random` (bench_features.c). */
int cli_bench_features(int argc, char **argv, const char *usage);
/* Residual streams (cmd_stream.c): whether path names one (.rstream); `info`, `render
   --frames A:B` and `bench` of one. */
bool cli_is_stream(const char *path);
int cli_stream_info(rd_context *ctx, const char *path);
int cli_render_stream(int argc, char **argv, const char *usage);
int cli_bench_stream(int argc, char **argv, const char *usage);
/* `radiant stream encode` (stream_encode.c). */
int cmd_stream(int argc, char **argv);
/* `radiant train --model features` (train_features.c). */
int cli_train_features(int argc, char **argv);

#endif
