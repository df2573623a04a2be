/* radiant_core.h: radiant's core (included by radiant.h): results and logging, the
   context and its backend, cameras, scenes as opaque handles of a kind, framebuffers,
   device buffers, and rendering. Every kind of scene renders through rd_render. */
#ifndef RADIANT_CORE_H
#define RADIANT_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RD_VERSION_MAJOR 0
#define RD_VERSION_MINOR 1
#define RD_VERSION_PATCH 0

/* ---- results, logging ------------------------------------------------------------- */

typedef enum rd_result {
    RD_OK = 0,
    RD_ERROR_INVALID_ARGUMENT, /* a caller's value is out of range or NULL */
    RD_ERROR_IO,               /* a file could not be opened, read or written */
    RD_ERROR_FORMAT,           /* a file's content is malformed */
    RD_ERROR_UNSUPPORTED,      /* valid, but not (yet) handled: a camera model, a format */
    RD_ERROR_OUT_OF_MEMORY,
    RD_ERROR_BACKEND_UNAVAILABLE, /* the backend was not built or has no device */
    RD_ERROR_DEVICE,           /* the device failed (lost, driver error) */
    RD_ERROR_LIMIT,            /* a file would decode to more memory than the decode limit allows */
    RD_RESULT_COUNT
} rd_result;

const char *rd_result_string(rd_result result);

typedef enum rd_log_level { RD_LOG_DEBUG, RD_LOG_INFO, RD_LOG_WARN, RD_LOG_ERROR } rd_log_level;
typedef void (*rd_log_fn)(rd_log_level level, const char *message, void *user);

/* ---- context ------------------------------------------------------------------------ */

typedef enum rd_backend {
    RD_BACKEND_AUTO = 0, /* CUDA, then Vulkan, then the CPU (logged at INFO) */
    RD_BACKEND_CPU,
    RD_BACKEND_CUDA,
    RD_BACKEND_VULKAN,
} rd_backend;

typedef struct rd_context rd_context;

typedef struct rd_context_desc {
    rd_backend backend;
    int threads;        /* CPU worker threads; 0: one per core */
    int device_index;   /* GPU backends: which device; 0: the first */
    rd_log_fn log;      /* NULL: no messages */
    void *log_user;
    rd_log_level log_level; /* least severe level passed to log; 0 (DEBUG) passes all */
    int subgroup_size;  /* Vulkan: run every shader with this many lanes (VK_EXT_subgroup_size_control,
                           for portability tests); 0: the device's own */
    const struct rd_vulkan_window_desc *vulkan_window; /* Vulkan: a device that can present to
                           a window (radiant_vulkan.h); NULL: compute only */
    int64_t decode_limit; /* bytes of memory a reader may decode one file into (scene, image,
                           decompressed streams); 0: the default, RD_DECODE_LIMIT_RATIO times the
                           file's size and at least RD_DECODE_LIMIT_FLOOR; negative: no limit */
} rd_context_desc;

/* The default decode limit: a file may decode to 64 times its size, and any file to 256
   MiB. Real scenes decode to 2-16 times their size (SPZ and .ksplat quantise and compress,
   PLY stores floats as they are held), images to what 4096x4096 float RGBA takes; a small
   file that claims gigabytes is refused with RD_ERROR_LIMIT before anything is allocated
   for it. Callers who expect more set rd_context_desc.decode_limit. */
#define RD_DECODE_LIMIT_RATIO 64
#define RD_DECODE_LIMIT_FLOOR ((int64_t)256 << 20)
/* The programs' --decode-limit: "none" (no limit, -1) or a whole number of MiB (1..2^30),
   into *limit as rd_context_desc.decode_limit takes it; RD_ERROR_INVALID_ARGUMENT (limit
   untouched) for anything else. */
rd_result rd_decode_limit_from_text(const char *text, int64_t *limit);

rd_result rd_context_create(const rd_context_desc *desc, rd_context **out);
void rd_context_destroy(rd_context *ctx);
rd_backend rd_context_backend(const rd_context *ctx);
const char *rd_backend_name(rd_backend backend);
/* Parses "auto", "cpu", "cuda", "vulkan"; returns -1 for anything else. */
int rd_backend_from_name(const char *name);
/* The message of the last failure in this context ("" when none). NULL: the calling
   thread's last failure in a call that had no context to keep it (a failed
   rd_context_create, a function given a NULL context). */
const char *rd_last_error(const rd_context *ctx);

/* ---- cameras ------------------------------------------------------------------------ */

typedef enum rd_distortion_model {
    RD_DISTORTION_NONE = 0,
    RD_DISTORTION_OPENCV,         /* k1 k2 p1 p2 k3 (k4 unused) */
    RD_DISTORTION_OPENCV_FISHEYE, /* k1 k2 k3 k4 */
} rd_distortion_model;

typedef struct rd_distortion {
    rd_distortion_model model; /* carried from datasets; renderers do not apply it (rd_image_undistort
                                  turns a photo into its pinhole image) */
    float k1, k2, k3, k4, p1, p2;
} rd_distortion;

typedef struct rd_camera {
    int width, height;      /* pixels */
    float fx, fy, cx, cy;   /* pixels */
    float w2c[16];          /* world-to-camera, row-major, OpenCV axes */
    float near_plane;       /* 0: 0.01 */
    float far_plane;        /* 0: 1e10 */
    rd_distortion distortion;
} rd_camera;

/* A camera at eye looking at target, up roughly the world's up vector;
   fov_x_degrees is the horizontal field of view. */
rd_camera rd_camera_look_at(const float eye[3], const float target[3], const float up[3],
                            int width, int height, float fov_x_degrees);
/* The same camera at another resolution: intrinsics scale with the image. */
rd_camera rd_camera_resized(const rd_camera *camera, int width, int height);
/* n cameras (50 degrees across) on a ring about centre at distance dist, level with it
   plus 0.45 dist along the unit vector up, looking at it: the orbit views a command renders
   of a scene without cameras (rd_scene_orbit for Gaussians). */
void rd_camera_orbit(const float centre[3], float dist, const float up[3], int n, int width, int height, rd_camera *out);
/* The distance at which such a ring sees a sphere of that radius whole (with a margin). */
float rd_camera_orbit_distance(float radius, int width, int height);
/* Camera centre in world coordinates. */
void rd_camera_center(const rd_camera *camera, float out[3]);

/* ---- scenes ------------------------------------------------------------------------- */

typedef enum rd_memory { RD_MEMORY_HOST = 0, RD_MEMORY_DEVICE } rd_memory;

/* A scene: an opaque handle of one kind. Each kind has its own ways to be made (for
   Gaussians: rd_scene_create, rd_scene_load, rd_scene_create_demo); all of them render
   through rd_render and go with rd_scene_destroy. */
typedef struct rd_scene rd_scene;
typedef enum rd_scene_kind {
    RD_SCENE_GAUSSIANS = 0, /* 3D Gaussian splats */
    RD_SCENE_NERF = 1,      /* hash-grid NeRFs (radiant_nerf.h) */
    RD_SCENE_GAUSSIANS_4D = 2, /* 4D (XYZT) Gaussian splats, rendered at a time (radiant_4d.h) */
} rd_scene_kind;
rd_scene_kind rd_scene_get_kind(const rd_scene *scene);
/* Frees a scene of any kind (NULL is fine). */
void rd_scene_destroy(rd_scene *scene);

/* ---- rendering ---------------------------------------------------------------------- */

enum {
    RD_RENDER_ANTIALIASED = 1u << 0,    /* Mip-Splatting opacity compensation */
    RD_RENDER_INRIA_EXTENT = 1u << 1,   /* square 3-sigma extent of the INRIA code */
    RD_RENDER_EXPECTED_DEPTH = 1u << 2, /* depth = D / alpha instead of accumulated D */
    RD_RENDER_SCENE_FLAGS = 1u << 3,    /* also honour the scene's own hints (antialiased) */
    RD_RENDER_STAGE_TIMES = 1u << 4,    /* time each stage into rd_render_stats (see there) */
    /* keep what the backward pass needs of this frame (GPU backends): an rd_render_backward
       of the same scene, camera and desc that follows it, with nothing rendered in between
       and the scene's arrays unchanged, then does not render the frame again (a training
       step renders, takes the loss, then runs the backward pass) */
    RD_RENDER_FOR_BACKWARD = 1u << 5,
    /* rd_render_backward: the same gradients, bit for bit, every run (CUDA sums them in a
       fixed order instead of with float atomics, at a cost BENCHMARKS.md states; the CPU
       backward is always so) */
    RD_RENDER_DETERMINISTIC = 1u << 6,
};

/* sh_degree field: 0 renders the scene's degree; RD_SH_DEGREE(n) caps it at n. */
#define RD_SH_DEGREE(n) ((n) + 1)

typedef struct rd_render_desc {
    uint32_t flags;       /* RD_RENDER_* */
    float background[3];  /* linear RGB added with the final transmittance */
    int sh_degree;        /* 0: the scene's; RD_SH_DEGREE(n): at most n */
    void *stream;         /* CUDA: a cudaStream_t to render on; NULL: the context's own */
    float time;           /* dynamic scenes: the time to render, in the scene's units; static kinds ignore it */
    int feature_channels; /* feature fields: channels wanted in rd_framebuffer.features; 0: none (kinds
                             without features refuse more) */
} rd_render_desc;

/* Where a render goes. Any pointer may be NULL to skip that output. */
typedef struct rd_framebuffer {
    float *color;          /* width*height*4: RGB + alpha (1 - final transmittance) */
    float *depth;          /* width*height */
    float *transmittance;  /* width*height, final T, for the backward pass */
    uint32_t *contributors;/* width*height, Gaussians processed per pixel */
    float *features;       /* width*height*rd_render_desc.feature_channels, channel innermost */
    rd_memory memory;
} rd_framebuffer;

/* A render's timings and counts, by name, as the scene's kind reports them. Gaussians:
   stages "preprocess", "binning", "sort", "blend"; counts "visible" (Gaussians that
   survived culling) and "pairs" (Gaussian-tile pairs). total_ms: the frame by the
   backend's timers (device timers on GPUs). The stages are timed where the render asked
   for RD_RENDER_STAGE_TIMES, and add up to the total; without it a backend may leave them
   0 (CUDA does: its timers between stages cost the frame up to 10 us of overlap between
   kernels). Names are static strings. */
enum { RD_MAX_STATS = 8 };
typedef struct rd_stat {
    const char *name;
    double value;
} rd_stat;
typedef struct rd_render_stats {
    double total_ms;
    rd_stat stages[RD_MAX_STATS]; /* milliseconds, in the frame's order */
    int stage_count;
    rd_stat counts[RD_MAX_STATS];
    int count_count;
} rd_render_stats;
/* The named stage's milliseconds, or the named count; 0 where the stats have no such name. */
double rd_render_stats_stage(const rd_render_stats *stats, const char *name);
double rd_render_stats_count(const rd_render_stats *stats, const char *name);

rd_result rd_render(rd_context *ctx, const rd_scene *scene, const rd_camera *camera,
                    const rd_render_desc *desc, const rd_framebuffer *target);
/* Several cameras in one call (a training batch, a camera rig): view i renders cameras[i]
   into targets[i], each as rd_render would, in order on the same stream. Every camera is
   checked before anything renders; the stats afterwards are the sums over the views. */
rd_result rd_render_views(rd_context *ctx, const rd_scene *scene, int count, const rd_camera *cameras,
                          const rd_render_desc *desc, const rd_framebuffer *targets);

/* ---- the backward pass ------------------------------------------------------------- */

/* The gradient of a loss with respect to one view's outputs, laid out as rd_framebuffer's. */
typedef struct rd_render_grads {
    const float *color; /* width*height*4: dL/d(R, G, B, alpha); NULL: zero */
    const float *depth; /* width*height: dL/d depth (accumulated or expected, as rendered); NULL: zero */
    rd_memory memory;
} rd_render_grads;

/* Where the backward pass adds its gradients. params is the scene kind's own layout
   (Gaussians: rd_gaussian_grads, radiant_splats.h); kind must name it. */
typedef struct rd_scene_grads {
    rd_scene_kind kind;
    const void *params;
    float *w2c;        /* count*16: dL/d each camera's w2c, rows 0-2 (row 3 left 0); NULL: no pose gradient */
    rd_memory memory;  /* of every array here and in params */
} rd_scene_grads;

/* The backward pass of rd_render_views: given dL/d(outputs) of each view (outputs[i] for
   cameras[i], rendered with the same scene, cameras and desc), ADDS dL/d(parameters) into
   grads (so that views and batches sum; zero the arrays first). The CPU backend is the
   specification; a backend without a backward pass for the kind says so. */
rd_result rd_render_backward(rd_context *ctx, const rd_scene *scene, int count, const rd_camera *cameras,
                             const rd_render_desc *desc, const rd_render_grads *outputs, const rd_scene_grads *grads);
/* Memory that the context's backend renders into without copies: device memory on GPU
   backends (*memory = RD_MEMORY_DEVICE), host memory on the CPU. Free with rd_buffer_free.
   On Vulkan the pointer is a buffer device address (radiant_vulkan.h), not host-usable. */
rd_result rd_buffer_alloc(rd_context *ctx, size_t bytes, void **ptr, rd_memory *memory);
void rd_buffer_free(rd_context *ctx, void *ptr);
/* Copies bytes between host and backend memory (either direction, or within one),
   synchronously, after the work the context has enqueued on its own stream (not a
   caller's: synchronise that one first). */
rd_result rd_buffer_copy(rd_context *ctx, void *dst, rd_memory dst_memory, const void *src, rd_memory src_memory,
                         size_t bytes);

/* The context's GPU memory in use (by every process: the device's total less its free) and
   its total, in bytes; RD_ERROR_UNSUPPORTED on backends without it (CPU, Vulkan so far). */
rd_result rd_device_memory(rd_context *ctx, uint64_t *used, uint64_t *total);
/* The device memory the context's own buffers hold (frame state, scenes uploaded for
   rendering, caches; not rd_buffer_alloc's, which are the caller's) now and at most since
   it was made, in bytes; 0 on the CPU backend. What a frame of a given scene and size
   needs, measured (radiant bench reports it). */
void rd_context_device_bytes(const rd_context *ctx, uint64_t *held, uint64_t *peak);

/* Timings and counts of the last successful rd_render (or rd_render_views) in this context. */
void rd_render_last_stats(const rd_context *ctx, rd_render_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_CORE_H */
