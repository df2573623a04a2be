/* radiant_datasets.h: files (included by radiant.h): scene files in every format radiant
   reads and writes, camera datasets (Blender, instant-ngp, COLMAP, LLFF, camera lists)
   and camera lists written back.

   Every file radiant writes (scenes, images, camera lists, reports) appears whole or not
   at all: it is written to a temporary beside the target, every write and the close are
   checked, and only then is it renamed into place. On failure (a full disk, a missing
   folder, no permission) the temporary is removed, an older file of that name is left as
   it was, and the error names the path and the system's reason. */
#ifndef RADIANT_DATASETS_H
#define RADIANT_DATASETS_H

#include "radiant_core.h"

#include <stdbool.h>
#include "radiant_images.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads a scene file; the format is recognised by content. */
rd_result rd_scene_load(rd_context *ctx, const char *path, rd_scene **out);
/* How rd_scene_load_with reads a file; zero for each default. */
typedef struct rd_scene_load_desc {
    /* SPZ: the frame the file's positions, rotations and SH are in, by where its +x, +y, +z
       point ("RUB", "RDF", "LUF", ... any of SPZ's 16: R/L, U/D, F/B, the z-up ones like "RFU"),
       whatever the file's coordinate-system record says; NULL: the record's frame, else RUB
       (as Niantic's library reads files without one). radiant info says which was used. */
    const char *spz_frame;
    /* RD_MEMORY_DEVICE: a 3D Gaussian scene's arrays in the context's device memory (CUDA,
       Vulkan), which the scene owns and renders in place: a compact file (.rcompact) decodes
       there (its codebook indices go up, 4-25 bytes a Gaussian, not the 236 of the floats at
       SH degree 3), any other file decodes on the host and goes up once. Such a scene has no
       host copy (no bounds, no orbit cameras, not saved) and must be destroyed before the
       context. On the CPU backend, and for 4D scenes and NeRFs, the scene is host memory as
       always (a compact file then decodes through the device decode's reference). */
    rd_memory memory;
} rd_scene_load_desc;
rd_result rd_scene_load_with(rd_context *ctx, const char *path, const rd_scene_load_desc *desc, rd_scene **out);
/* Writes an INRIA-layout binary PLY (normals zero, f_rest channel-major). */
rd_result rd_scene_save_ply(rd_context *ctx, const rd_scene *scene, const char *path);

/* Scene file formats. Reading recognises all of them by content (magic bytes, PLY
   header, layout checks); writing covers all but ksplat. */
typedef enum rd_file_format {
    RD_FILE_AUTO = 0,       /* save: chosen by the file name (.spz, .splat, .compressed.ply, .ply, .glb, .gltf, .sog,
                               meta.json, .rcompact) */
    RD_FILE_PLY,            /* INRIA binary PLY, float32, any SH degree */
    RD_FILE_COMPRESSED_PLY, /* PlayCanvas/SuperSplat: 256-splat chunks, 16 bytes a splat + SH bytes */
    RD_FILE_SPZ,            /* Niantic SPZ version 4 (ZSTD streams); reads versions 2-3 (gzip) too */
    RD_FILE_SPLAT,          /* antimatter15 .splat, 32 bytes a splat, no SH */
    RD_FILE_KSPLAT,         /* mkkellogg .ksplat, compression levels 0-2 (read only) */
    RD_FILE_GLB,            /* glTF 2.0 binary with a KHR_gaussian_splatting primitive (float accessors) */
    RD_FILE_GLTF,           /* glTF 2.0 JSON, its buffer in NAME.bin beside it or embedded (gltf_embed_buffer);
                               reading takes the primitives the file's scene reaches, after its node transforms */
    RD_FILE_SOG,            /* PlayCanvas SOG version 2: a .sog zip bundle, or, for a path ending in meta.json, the
                               unbundled folder (meta.json beside lossless WebP images); reading takes versions 1-2,
                               a .sog, a meta.json or the folder holding one */
    RD_FILE_COMPACT         /* radiant's compact file (.rcompact, radiant_compact.h), 3D or 4D, written with
                               rd_scene_compact's defaults (no pruning) */
} rd_file_format;
const char *rd_file_format_name(rd_file_format format);

typedef struct rd_scene_save_desc {
    rd_file_format format;   /* 0: from the file name */
    int sh_degree;           /* 0: keep all; RD_SH_DEGREE(n): keep degrees 0..n */
    int spz_fractional_bits; /* SPZ position precision, 1..23 bits; 0: from the scene's extent (steps of
                                at most 2^-15 of the largest coordinate, at least 12 bits), logged */
    const char *spz_frame;   /* SPZ: the frame to write in (as rd_scene_load_desc names them); NULL: RUB,
                                SPZ's documented frame. Either way the file's coordinate-system record says it */
    int gltf_embed_buffer;   /* .gltf, nonzero: the buffer inside the JSON as a base64 data: URI, not in NAME.bin */
} rd_scene_save_desc;
/* Writes the scene in the desc's format (desc may be NULL: everything default). The
   antialiased flag travels where the format has a place for it (PLY comment, SPZ flag). */
rd_result rd_scene_save(rd_context *ctx, const rd_scene *scene, const char *path, const rd_scene_save_desc *desc);
/* Writes bytes to path as every radiant file is written (above): whole or not at all. */
rd_result rd_file_write(rd_context *ctx, const char *path, const void *data, size_t bytes);

/* ---- datasets ----------------------------------------------------------------------- */

typedef struct rd_dataset rd_dataset;

typedef struct rd_dataset_desc {
    const char *split; /* "train", "val", "test" or "all"; NULL: "test" */
} rd_dataset_desc;

typedef struct rd_view {
    const char *name;       /* file stem, or "0000" for camera lists */
    const char *image_path; /* NULL when the dataset has no images */
    rd_camera camera;
    float time;             /* a dynamic dataset's (D-NeRF's per-frame "time"); 0 where it has none */
} rd_view;

/* A folder (Blender, instant-ngp, COLMAP, LLFF) or a file (transforms*.json, a camera
   list json, poses_bounds.npy). */
rd_result rd_dataset_load(rd_context *ctx, const char *path, const rd_dataset_desc *desc,
                          rd_dataset **out);
void rd_dataset_destroy(rd_dataset *dataset);
int rd_dataset_view_count(const rd_dataset *dataset);
const rd_view *rd_dataset_view(const rd_dataset *dataset, int index);
/* "blender", "d-nerf" (Blender's layout with a time per frame), "instant-ngp", "colmap",
   "llff", "n3dv" (LLFF's poses, a folder of frames per camera), "rtmv", "panoptic" (Dynamic
   3D Gaussians' layout: a view per timestep and camera), "cameras" */
const char *rd_dataset_kind(const rd_dataset *dataset);
/* Frames the files listed but that were missing on disk. */
int rd_dataset_skipped(const rd_dataset *dataset);
/* Whether its views have times (every frame of a D-NeRF transforms file says one). */
bool rd_dataset_has_time(const rd_dataset *dataset);
/* Sparse points (COLMAP), xyz and rgb in [0,1]; count 0 when there are none. */
int64_t rd_dataset_points(const rd_dataset *dataset, const float **xyz, const float **rgb);
/* A view's image as RGB, alpha composited on background (RTMV's linear colour first
   converted to sRGB and clamped, as its published evaluations do). */
rd_result rd_dataset_load_image(rd_context *ctx, const rd_dataset *dataset, int index,
                                const float background[3], rd_image *out);
/* The pinhole image of a photo taken through camera's lens (OpenCV radial-tangential or
   fisheye): the same size and intrinsics, distortion removed. Each output pixel centre is
   pushed through the lens model and the photo sampled there bilinearly; pixels the photo
   does not cover come out transparent black. out is RGBA. */
rd_result rd_image_undistort(rd_context *ctx, const rd_image *photo, const rd_camera *camera, rd_image *out);
/* Writes a camera list: {"cameras": [{width, height, fx, fy, cx, cy, w2c}]} */
rd_result rd_cameras_save(rd_context *ctx, const char *path, const rd_camera *cameras, int count);
/* A NumPy .npy array of numbers (float16/32/64 or int32/64, little-endian, C order) as
   floats: a 2-D array is rows x cols, a 1-D one a single row (embeddings, query sets).
   *values is malloc'd; free it. Errors name the file and the field (dtype, shape). */
rd_result rd_npy_load_matrix(rd_context *ctx, const char *path, int64_t *rows, int64_t *cols, float **values);
/* Writes floats as a float32 .npy of that shape (rank 1 to 4), atomically. */
rd_result rd_npy_save_floats(rd_context *ctx, const char *path, const float *values, int rank, const int64_t *shape);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_DATASETS_H */
