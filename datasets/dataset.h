/* dataset.h: the dataset object and the loaders that fill it, one file per format. */
#ifndef RD_DATASET_H
#define RD_DATASET_H

#include "../renderer/internal.h"

struct rd_dataset {
    char kind[16];
    char source[1024]; /* the file or folder the loader reads views from, for messages */
    rd_view *views;
    int count, capacity;
    int skipped;
    float *points_xyz, *points_rgb;
    int64_t point_count;
    bool linear_colour; /* images hold linear HDR colour (RTMV's EXR): converted to sRGB on load */
    bool has_box;       /* the scene's box, where the dataset says it (RTMV's scene_min/max_3d_box, instant-ngp's unit cube) */
    float box_min[3], box_max[3];
    int aabb_scale;     /* instant-ngp's transforms.json: how far past the unit cube the scene reaches; 0: not said */
    int timed_frames;   /* frames of the source that said a time (D-NeRF), present or not */
    int frames_seen;    /* frames of the source read */
};

/* Appends a view (strings are copied; image_path may be NULL) after checking its camera
   (rd_camera_problem): a camera that cannot be rendered fails the load with the source
   file, the view's name and the problem. */
rd_result rd_dataset_add_view(rd_context *ctx, rd_dataset *ds, const char *name, const char *image_path,
                              const rd_camera *camera);
/* Whether view i of n belongs to split: "test" holds out every 8th view (the 3DGS
   convention for datasets without split files), "train" the rest, "all" every view. */
bool rd_split_contains(const char *split, int i);

/* World-to-camera (row-major 4x4) from a camera-to-world rotation (row-major 3x3, whose
   columns are the camera's x, y, z axes in the world, OpenCV) and centre. */
void rd_w2c_from_c2w(const double rot_columns[9], const double centre[3], float w2c[16]);
/* RD_OK where a 4x4 row-major matrix read from path (at `where`) ends in 0 0 0 1. */
rd_result rd_check_last_row(rd_context *ctx, const char *path, const char *where, const double m[16]);

rd_result rd_transforms_load(rd_context *ctx, const char *json_path, const char *split, rd_dataset *ds);
rd_result rd_colmap_load(rd_context *ctx, const char *dir, const char *split, rd_dataset *ds);
rd_result rd_llff_load(rd_context *ctx, const char *npy_path, const char *split, rd_dataset *ds);
rd_result rd_camera_list_load(rd_context *ctx, const char *json_path, rd_dataset *ds);
/* Panoptic (Dynamic 3D Gaussians' layout): a folder holding train_meta.json and test_meta.json */
bool rd_panoptic_detect(const char *dir);
rd_result rd_panoptic_load(rd_context *ctx, const char *dir, const char *split, rd_dataset *ds);
/* RTMV: a folder holding 00000.json and 00000.exr */
bool rd_rtmv_detect(const char *dir);
rd_result rd_rtmv_load(rd_context *ctx, const char *dir, const char *split, rd_dataset *ds);

/* View index's image as the dataset's images are compared and trained on: RGBA, straight
   alpha, converted from linear to sRGB (clamped to [0, 1]) where the dataset's colour is
   linear (RTMV), as its published evaluations convert it. */
rd_result rd_dataset_view_image(rd_context *ctx, const rd_dataset *ds, int index, rd_image *out);

#endif
