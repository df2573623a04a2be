/* content.h: what the viewer has open: a scene (file, --demo, or empty), the views to
   jump between (a dataset's, a camera list's, or eight orbit views of the scene), and the
   scene's size for the controls. A failed load keeps what was open and says why. */
#ifndef VW_CONTENT_H
#define VW_CONTENT_H

#include "radiant.h"

#include <stdbool.h>

typedef struct vw_content {
    rd_scene *scene;           /* never NULL once opened: an empty scene at worst */
    bool scene_borrowed;       /* scene is another's (a stream's frame), never destroyed here */
    rd_scene_info info;
    rd_scene_kind kind;
    rd_nerf_info nerf;         /* a NeRF's (kind RD_SCENE_NERF), measured at open */
    char scene_name[128];
    rd_dataset *dataset;       /* --dataset or --cameras; NULL: orbit views */
    rd_camera *views;
    char (*view_names)[64];
    int view_count;
    float center[3], radius;   /* the scene's bounds (the dataset's cameras' when empty) */
    float up[3];               /* the orbit views' up (--up); zero: the scene's (rd_scene_up) */
    const char *spz_frame;     /* SPZ scenes' frame (--spz-frame); NULL: each file's */
    uint32_t halves;           /* 3D Gaussian scenes opened take these flags of the inference layout (--half-sh, --packed) */
    char message[512];         /* the last failure, shown in the overlay until the next load */
} vw_content;

/* Opens the scene path (NULL: empty; "--demo": the built-in scene) in ctx; on failure
   keeps the previous scene (or an empty one) and fills message. */
bool vw_content_open_scene(vw_content *c, rd_context *ctx, const char *path);
/* Opens a dataset folder or camera list as the views (split may be NULL). */
bool vw_content_open_views(vw_content *c, rd_context *ctx, const char *path, const char *split);
/* Orbit views of the scene, when no dataset is open. */
void vw_content_default_views(vw_content *c);
/* Shows scene (taken over) in place of the open one, named name, keeping the views. */
void vw_content_replace_scene(vw_content *c, rd_scene *scene, const char *name);
/* Shows scene, which another owner keeps (a stream's frame), in place of the open one,
   named name (NULL: keeps the name); measured from host (a host copy of its arrays:
   bounds of device arrays are not read) where given, else keeping the last measure. */
void vw_content_borrow_scene(vw_content *c, const rd_scene *scene, const char *name, const rd_scene *host);
void vw_content_free(vw_content *c);
/* The overlay's line about the scene: its name and size (Gaussians and how many the last
   frame drew, or a NeRF's hash grid, parameters and occupied cells). */
void vw_content_summary(const vw_content *c, int64_t visible, char *out, size_t n);
/* What the open 3D Gaussian scene keeps in half precision (--half-sh, --packed), in words;
   NULL where nothing. */
const char *vw_content_halves(const vw_content *c);

#endif
