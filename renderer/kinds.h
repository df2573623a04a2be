/* kinds.h: the kinds of scene, and the table through which the core reaches the module
   that serves each. rd_render (render.c) checks a call once, then hands each view to the
   scene's kind on the context's backend; rd_scene_destroy hands the scene to its kind;
   rd_context_destroy lets each kind free the state it keeps in its context slot.

   Adding a kind of scene: a module folder that fills in an rd_kind_ops (its renderers per
   backend, and later its backward pass and the rest), a value of rd_scene_kind, and one
   row in kinds.c. Nothing else in the core changes. */
#ifndef RD_KINDS_H
#define RD_KINDS_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What every scene starts with; the core reads nothing past it. A module's scene type
   has an rd_scene_head as its first member. */
typedef struct rd_scene_head {
    rd_scene_kind kind;
    uint64_t uid;     /* unique in the process: what a backend's cache recognises */
    rd_memory memory; /* DEVICE: the arrays are the caller's device memory, not ours */
} rd_scene_head;

static inline const rd_scene_head *rd_scene_head_of(const rd_scene *scene) { return (const rd_scene_head *)scene; }
/* A fresh head of that kind, with a new process-unique uid. */
rd_scene_head rd_scene_head_new(rd_scene_kind kind);

/* One view of the scene on the context's backend; the core has checked the camera, the
   target's memory and the kind's check_render. */
typedef rd_result (*rd_render_fn)(rd_context *ctx, const rd_scene *scene, const rd_camera *camera,
                                  const rd_render_desc *desc, const rd_framebuffer *target, rd_render_stats *stats);

/* The backward pass of one view: adds to grads (w2c_grad: this view's 16 floats, or NULL). */
typedef rd_result (*rd_backward_fn)(rd_context *ctx, const rd_scene *scene, const rd_camera *camera,
                                    const rd_render_desc *desc, const rd_render_grads *output, const rd_scene_grads *grads,
                                    float *w2c_grad);

/* What a kind does on one backend; NULL where it does not run there. */
typedef struct rd_kind_backend {
    rd_render_fn render;
    rd_backward_fn backward;
    void (*free_state)(rd_context *ctx, void *state); /* the kind's context slot, when set */
} rd_kind_backend;

/* A kind's own scene file (NULL where the kind has none, or where datasets/'s formats
   serve it, as Gaussians'): rd_scene_load asks each kind's detect before the splat
   formats, and rd_scene_save hands such a kind's scene to its save. */
typedef struct rd_kind_file {
    const char *extension; /* ".rnerf": the name a saved file must have */
    bool (*detect)(const unsigned char *data, size_t size);
    rd_result (*decode)(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);
    rd_result (*save)(rd_context *ctx, const rd_scene *scene, const char *path);
} rd_kind_file;

typedef struct rd_kind_ops {
    const char *name; /* for messages: "Gaussians" */
    rd_kind_file file;
    /* what the kind's renderers need of a call beyond the camera (NULL: nothing) */
    rd_result (*check_render)(rd_context *ctx, const rd_scene *scene, const rd_render_desc *desc);
    void (*destroy)(rd_scene *scene);
    rd_kind_backend backends[RD_BACKEND_COUNT]; /* by rd_backend */
} rd_kind_ops;

/* The kind's row; NULL for a value no module fills. */
const rd_kind_ops *rd_kind(rd_scene_kind kind);

/* The kind's per-context state (frame buffers a GPU backend reuses), NULL until the kind
   sets it; freed by the kind's free_state on the context's backend when the context goes. */
void **rd_context_slot(rd_context *ctx, rd_scene_kind kind);
/* Frees every kind's context state (rd_context_destroy). */
void rd_kind_states_free(rd_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
