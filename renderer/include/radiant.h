/* radiant.h: the one public header of radiant, a library that renders radiance fields.

   Overview
   --------
   A program creates one rd_context (it picks a backend: CPU, CUDA or Vulkan), loads or
   builds rd_scene objects (Gaussian splats), describes cameras with rd_camera and renders
   them into rd_framebuffer memory that it owns. Camera datasets (Blender, instant-ngp,
   COLMAP, LLFF, radiant camera lists) load as rd_dataset; images load and save as rd_image.

   Rules that hold everywhere
   - Every call that can fail returns rd_result. RD_OK is zero. rd_result_string() names a
     code; rd_last_error(ctx) holds a readable message such as
     "lego/transforms_test.json: frames[3].transform_matrix: expected 4x4 numbers".
   - The library never prints and never exits: messages go to the log callback given in
     rd_context_desc (none given: silence).
   - Settings come in *_desc structs where zero means default: initialise them with {0}.
   - Objects come in create/destroy pairs; destroy accepts NULL.
   - Buffers say whether they live in host or device memory (rd_memory). Device pointers are
     used in place, without copies, by the backends that own such memory.
   - No partial output: a failed save leaves no file behind.

   Conventions
   - Camera: world-to-camera 4x4 (row-major, last row 0 0 0 1), OpenCV axes (x right,
     y down, z forward), pinhole intrinsics in pixels, pixel (i, j) centred at (i+.5, j+.5).
   - Gaussians as trained: log scales, logit opacity, w-first quaternions (not normalised),
     spherical-harmonic colour, (degree+1)^2 coefficients of RGB, stored coefficient-major
     with RGB innermost: sh[(i*K + k)*3 + c].
   - Images in memory are float, row-major, top row first, values as stored in the files.

   Minimal use
       rd_context *ctx; rd_context_create(&(rd_context_desc){0}, &ctx);
       rd_scene *scene; rd_scene_load(ctx, "scene.ply", &scene);
       ... rd_render(ctx, scene, &camera, &(rd_render_desc){0}, &framebuffer); ...
       rd_scene_destroy(scene); rd_context_destroy(ctx);
*/
#ifndef RADIANT_H
#define RADIANT_H

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
} rd_context_desc;

rd_result rd_context_create(const rd_context_desc *desc, rd_context **out);
void rd_context_destroy(rd_context *ctx);
rd_backend rd_context_backend(const rd_context *ctx);
const char *rd_backend_name(rd_backend backend);
/* Parses "auto", "cpu", "cuda", "vulkan"; returns -1 for anything else. */
int rd_backend_from_name(const char *name);
/* The message of the last failure in this context ("" when none). */
const char *rd_last_error(const rd_context *ctx);

/* ---- cameras ------------------------------------------------------------------------ */

typedef enum rd_distortion_model {
    RD_DISTORTION_NONE = 0,
    RD_DISTORTION_OPENCV,         /* k1 k2 p1 p2 k3 (k4 unused) */
    RD_DISTORTION_OPENCV_FISHEYE, /* k1 k2 k3 k4 */
} rd_distortion_model;

typedef struct rd_distortion {
    rd_distortion_model model; /* carried from datasets; renderers do not apply it yet */
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
} rd_scene_kind;
rd_scene_kind rd_scene_get_kind(const rd_scene *scene);

enum {
    RD_SCENE_ANTIALIASED = 1u << 0, /* trained with the Mip-Splatting 2D filter */
};

/* Gaussians from the caller's arrays: host arrays are copied; device arrays (GPU backends)
   are used in place and must outlive the scene. A device scene has no host copy: its
   info has no bounds, and saving or orbiting it fails. */
typedef struct rd_scene_desc {
    int64_t count;
    int sh_degree;            /* 0..3 */
    const float *means;       /* count*3 */
    const float *log_scales;  /* count*3 */
    const float *rotations;   /* count*4, w x y z */
    const float *opacities;   /* count, logit */
    const float *sh;          /* count*(sh_degree+1)^2*3, coefficient-major, RGB inner */
    rd_memory memory;
    uint32_t flags;           /* RD_SCENE_* */
} rd_scene_desc;

typedef struct rd_scene_info {
    int64_t count;
    int sh_degree;
    uint32_t flags;
    float bounds_min[3], bounds_max[3]; /* of the finite means */
    char format[32];                    /* "inria-ply", "compressed-ply", "spz", "splat", "ksplat",
                                           "procedural", "arrays" */
    char properties[1024];              /* file properties found, space separated */
    char header[512];                   /* the file format's header fields, one line */
} rd_scene_info;

rd_result rd_scene_create(rd_context *ctx, const rd_scene_desc *desc, rd_scene **out);
/* Loads a scene file; the format is recognised by content. */
rd_result rd_scene_load(rd_context *ctx, const char *path, rd_scene **out);
/* Writes an INRIA-layout binary PLY (normals zero, f_rest channel-major). */
rd_result rd_scene_save_ply(rd_context *ctx, const rd_scene *scene, const char *path);

/* Scene file formats. Reading recognises all of them by content (magic bytes, PLY
   header, layout checks); writing covers all but ksplat. */
typedef enum rd_file_format {
    RD_FILE_AUTO = 0,       /* save: chosen by the file name (.spz, .splat, .compressed.ply, .ply) */
    RD_FILE_PLY,            /* INRIA binary PLY, float32, any SH degree */
    RD_FILE_COMPRESSED_PLY, /* PlayCanvas/SuperSplat: 256-splat chunks, 16 bytes a splat + SH bytes */
    RD_FILE_SPZ,            /* Niantic SPZ version 4 (ZSTD streams); reads versions 2-3 (gzip) too */
    RD_FILE_SPLAT,          /* antimatter15 .splat, 32 bytes a splat, no SH */
    RD_FILE_KSPLAT          /* mkkellogg .ksplat, compression levels 0-2 (read only) */
} rd_file_format;
const char *rd_file_format_name(rd_file_format format);

typedef struct rd_scene_save_desc {
    rd_file_format format;   /* 0: from the file name */
    int sh_degree;           /* 0: keep all; RD_SH_DEGREE(n): keep degrees 0..n */
    int spz_fractional_bits; /* SPZ position precision, 1..23 bits; 0: 12 (1/4096 units) */
} rd_scene_save_desc;
/* Writes the scene in the desc's format (desc may be NULL: everything default). The
   antialiased flag travels where the format has a place for it (PLY comment, SPZ flag). */
rd_result rd_scene_save(rd_context *ctx, const rd_scene *scene, const char *path, const rd_scene_save_desc *desc);
void rd_scene_destroy(rd_scene *scene);
void rd_scene_get_info(const rd_scene *scene, rd_scene_info *out);
/* The stored arrays (layout as in rd_scene_desc; .memory says where they live). */
rd_scene_desc rd_scene_arrays(const rd_scene *scene);

/* The built-in procedural scene: a textured, view-dependent object on a ground plane. */
typedef struct rd_demo_desc {
    int64_t count; /* 0: 300000 */
    uint64_t seed; /* 0: the default seed; the scene is a pure function of count and seed */
} rd_demo_desc;
rd_result rd_scene_create_demo(rd_context *ctx, const rd_demo_desc *desc, rd_scene **out);
/* The benchmark scene of `radiant synth`: count Gaussians near three spheres and a ground
   plane, SH degree 3, log-scales about ln(0.02*sqrt(1e5/count)) +- 0.5, logit opacities
   N(1, 1.5), DC N(0, 1), higher SH N(0, 0.1); a pure function of count and seed. */
rd_result rd_scene_create_synthetic(rd_context *ctx, const rd_demo_desc *desc, rd_scene **out);
/* Its cameras: a ring of n looking at the centre, horizontal field of view 60 degrees. */
void rd_synthetic_cameras(int n, int width, int height, rd_camera *out);

/* n cameras on a ring around the scene's main content, looking at its centre. */
rd_result rd_scene_orbit_cameras(const rd_scene *scene, int n, int width, int height,
                                 rd_camera *out);

/* ---- rendering ---------------------------------------------------------------------- */

enum {
    RD_RENDER_ANTIALIASED = 1u << 0,    /* Mip-Splatting opacity compensation */
    RD_RENDER_INRIA_EXTENT = 1u << 1,   /* square 3-sigma extent of the INRIA code */
    RD_RENDER_EXPECTED_DEPTH = 1u << 2, /* depth = D / alpha instead of accumulated D */
    RD_RENDER_SCENE_FLAGS = 1u << 3,    /* also honour the scene's own hints (antialiased) */
    RD_RENDER_STAGE_TIMES = 1u << 4,    /* time each stage into rd_render_stats (see there) */
};

/* sh_degree field: 0 renders the scene's degree; RD_SH_DEGREE(n) caps it at n. */
#define RD_SH_DEGREE(n) ((n) + 1)

typedef struct rd_render_desc {
    uint32_t flags;       /* RD_RENDER_* */
    float background[3];  /* linear RGB added with the final transmittance */
    int sh_degree;        /* 0: the scene's; RD_SH_DEGREE(n): at most n */
    void *stream;         /* CUDA: a cudaStream_t to render on; NULL: the context's own */
} rd_render_desc;

/* Where a render goes. Any pointer may be NULL to skip that output. */
typedef struct rd_framebuffer {
    float *color;          /* width*height*4: RGB + alpha (1 - final transmittance) */
    float *depth;          /* width*height */
    float *transmittance;  /* width*height, final T, for the backward pass */
    uint32_t *contributors;/* width*height, Gaussians processed per pixel */
    rd_memory memory;
} rd_framebuffer;

/* total_ms: the frame by the backend's timers (device timers on GPUs). The stages are
   timed where the render asked for RD_RENDER_STAGE_TIMES, and add up to the total; without
   it a backend may leave them 0 (CUDA does: its timers between stages cost the frame up
   to 10 us of overlap between kernels). */
typedef struct rd_render_stats {
    double total_ms;
    double preprocess_ms, binning_ms, sort_ms, blend_ms;
    int64_t visible;        /* Gaussians that survived culling */
    int64_t intersections;  /* Gaussian-tile pairs */
} rd_render_stats;

rd_result rd_render(rd_context *ctx, const rd_scene *scene, const rd_camera *camera,
                    const rd_render_desc *desc, const rd_framebuffer *target);
/* Several cameras in one call (a training batch, a camera rig): view i renders cameras[i]
   into targets[i], each as rd_render would, in order on the same stream. Every camera is
   checked before anything renders; the stats afterwards are the sums over the views. */
rd_result rd_render_views(rd_context *ctx, const rd_scene *scene, int count, const rd_camera *cameras,
                          const rd_render_desc *desc, const rd_framebuffer *targets);
/* Memory that the context's backend renders into without copies: device memory on GPU
   backends (*memory = RD_MEMORY_DEVICE), host memory on the CPU. Free with rd_buffer_free.
   On Vulkan the pointer is a buffer device address (radiant_vulkan.h), not host-usable. */
rd_result rd_buffer_alloc(rd_context *ctx, size_t bytes, void **ptr, rd_memory *memory);
void rd_buffer_free(rd_context *ctx, void *ptr);
/* Copies bytes between host and backend memory (either direction, or within one). */
rd_result rd_buffer_copy(rd_context *ctx, void *dst, rd_memory dst_memory, const void *src, rd_memory src_memory,
                         size_t bytes);

/* Timings and counts of the last successful rd_render (or rd_render_views) in this context. */
void rd_render_last_stats(const rd_context *ctx, rd_render_stats *out);

/* ---- images ------------------------------------------------------------------------- */

typedef struct rd_image {
    int width, height, channels; /* channels: 1, 3 or 4 */
    float *pixels;               /* width*height*channels */
} rd_image;

/* PNG, JPEG (stb_image, values /255) and EXR (tinyexr). Free with rd_image_free. */
rd_result rd_image_load(rd_context *ctx, const char *path, rd_image *out);
/* Reads width and height only. */
rd_result rd_image_size(rd_context *ctx, const char *path, int *width, int *height);
/* Format from the extension: .png (8-bit, clamped, rounded) or .exr (float32). */
rd_result rd_image_save(rd_context *ctx, const char *path, const rd_image *image);
rd_result rd_image_alloc(int width, int height, int channels, rd_image *out);
void rd_image_free(rd_image *image);
/* Blends straight alpha over a background into an RGB image (no-op copy without alpha). */
rd_result rd_image_composite(const rd_image *in, const float background[3], rd_image *out_rgb);

/* ---- metrics ------------------------------------------------------------------------ */

/* PSNR and SSIM over RGB in [0,1], as spec/datasets.md defines them. The first three
   channels of each image are compared; sizes must match. */
typedef struct rd_metrics {
    double psnr, ssim, mse;
} rd_metrics;
rd_result rd_image_compare(rd_context *ctx, const rd_image *a, const rd_image *b, rd_metrics *out);

/* ---- datasets ----------------------------------------------------------------------- */

typedef struct rd_dataset rd_dataset;

typedef struct rd_dataset_desc {
    const char *split; /* "train", "val", "test" or "all"; NULL: "test" */
} rd_dataset_desc;

typedef struct rd_view {
    const char *name;       /* file stem, or "0000" for camera lists */
    const char *image_path; /* NULL when the dataset has no images */
    rd_camera camera;
} rd_view;

/* A folder (Blender, instant-ngp, COLMAP, LLFF) or a file (transforms*.json, a camera
   list json, poses_bounds.npy). */
rd_result rd_dataset_load(rd_context *ctx, const char *path, const rd_dataset_desc *desc,
                          rd_dataset **out);
void rd_dataset_destroy(rd_dataset *dataset);
int rd_dataset_view_count(const rd_dataset *dataset);
const rd_view *rd_dataset_view(const rd_dataset *dataset, int index);
/* "blender", "instant-ngp", "colmap", "llff", "cameras" */
const char *rd_dataset_kind(const rd_dataset *dataset);
/* Frames the files listed but that were missing on disk. */
int rd_dataset_skipped(const rd_dataset *dataset);
/* Sparse points (COLMAP), xyz and rgb in [0,1]; count 0 when there are none. */
int64_t rd_dataset_points(const rd_dataset *dataset, const float **xyz, const float **rgb);
/* A view's image as RGB, alpha composited on background. */
rd_result rd_dataset_load_image(rd_context *ctx, const rd_dataset *dataset, int index,
                                const float background[3], rd_image *out);
/* Writes a camera list: {"cameras": [{width, height, fx, fy, cx, cy, w2c}]} */
rd_result rd_cameras_save(rd_context *ctx, const char *path, const rd_camera *cameras, int count);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_H */
