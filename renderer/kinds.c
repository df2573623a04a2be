/* kinds.c: the table of scene kinds (kinds.h): one row a module. */
#include "kinds.h"

extern const rd_kind_ops rd_gaussians_kind; /* splat/render.c */
extern const rd_kind_ops rd_nerf_kind;      /* nerf/scene.c */
extern const rd_kind_ops rd_gaussians4d_kind; /* splat/scene4d.c */

static const rd_kind_ops *const KINDS[RD_SCENE_KIND_COUNT] = {
    [RD_SCENE_GAUSSIANS] = &rd_gaussians_kind,
    [RD_SCENE_NERF] = &rd_nerf_kind,
    [RD_SCENE_GAUSSIANS_4D] = &rd_gaussians4d_kind,
};

const rd_kind_ops *rd_kind(rd_scene_kind kind)
{
    return (int)kind >= 0 && (int)kind < RD_SCENE_KIND_COUNT ? KINDS[kind] : NULL;
}

rd_scene_head rd_scene_head_new(rd_scene_kind kind)
{
    static uint64_t last_uid;
    return (rd_scene_head){.kind = kind, .uid = __atomic_add_fetch(&last_uid, 1, __ATOMIC_RELAXED)};
}

void **rd_context_slot(rd_context *ctx, rd_scene_kind kind) { return &ctx->kind_state[kind]; }

rd_scene_kind rd_scene_get_kind(const rd_scene *scene) { return rd_scene_head_of(scene)->kind; }

void rd_scene_destroy(rd_scene *scene)
{
    if (!scene) return;
    const rd_kind_ops *ops = rd_kind(rd_scene_head_of(scene)->kind);
    if (ops) ops->destroy(scene);
}

void rd_kind_states_free(rd_context *ctx)
{
    for (int k = 0; k < RD_SCENE_KIND_COUNT; k++) {
        const rd_kind_ops *ops = rd_kind((rd_scene_kind)k);
        void *state = ctx->kind_state[k];
        if (!state || !ops) continue;
        void (*free_state)(rd_context *, void *) = ops->backends[ctx->backend].free_state;
        if (free_state) free_state(ctx, state);
        ctx->kind_state[k] = NULL;
    }
}
