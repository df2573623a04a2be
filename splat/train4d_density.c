/* train4d_density.c: the 4D trainer's adaptive density control (train4d.h), the 3DGS
   rule in 4D as Yang's recipe runs it (spec/dynamic.md, "Training"): selection by the
   mean screen-space gradient and the largest spatial scale (the temporal gradient is
   accumulated but not used to select), split children drawn from the parent's 4D
   Gaussian, so that they spread in time as well as space. */
#include "train4d.h"

#include <stdlib.h>
#include <string.h>

static float max_spatial_scale(const rd_scene4d *s, int64_t i)
{
    const float *ls = s->log_scales + 4 * i;
    return expf(fmaxf(fmaxf(ls[0], ls[1]), ls[2]));
}

/* A split child's offset from its parent: R4 (s * x), x ~ N(0, I4). */
static void child_offset(const rd_scene4d *s, int64_t i, rd_rng *rng, float out[4])
{
    double R4[4][4], x[4];
    for (int k = 0; k < 4; k++) x[k] = expf(s->log_scales[4 * i + k]) * rd_rng_normal(rng);
    if (!rd_4d_rotation(s->rotations + 8 * i, s->rotations + 8 * i + 4, R4, NULL, NULL)) {
        memset(out, 0, 4 * sizeof(float));
        return;
    }
    for (int a = 0; a < 4; a++) out[a] = (float)(R4[a][0] * x[0] + R4[a][1] * x[1] + R4[a][2] * x[2] + R4[a][3] * x[3]);
}

/* The scene and every group's moments again from rows (new_row, trainer.h); the
   statistics start afresh. */
static rd_result rebuild(rd_trainer4d *t, const new_row *rows, int64_t count)
{
    rd_scene4d *old = t->scene, *s = NULL;
    rd_result r = rd_scene4d_alloc(t->ctx, count, old->sh_degree, old->time_degree, old->time_period, &s);
    if (r != RD_OK) return r;
    trainer_arrays a;
    if (!rd_trainer4d_arrays_alloc(t, count, &a)) {
        rd_scene_destroy((rd_scene *)s);
        return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "4D densification: out of memory for %lld Gaussians", (long long)count);
    }
    size_t shf = (size_t)rd_scene4d_sh_floats(old->sh_degree, old->time_degree);
    for (int64_t j = 0; j < count; j++) {
        int64_t i = rows[j].from;
        memcpy(s->means + 4 * j, old->means + 4 * i, 4 * sizeof(float));
        memcpy(s->log_scales + 4 * j, old->log_scales + 4 * i, 4 * sizeof(float));
        memcpy(s->rotations + 8 * j, old->rotations + 8 * i, 8 * sizeof(float));
        s->opacities[j] = old->opacities[i];
        memcpy(s->sh + (size_t)j * shf, old->sh + (size_t)i * shf, shf * sizeof(float));
        for (int g = 0; !rows[j].fresh && g < GROUPS4; g++) {
            size_t w = (size_t)rd_trainer4d_group_width(t, g);
            memcpy(a.m[g] + (size_t)j * w, t->a.m[g] + (size_t)i * w, w * sizeof(float));
            memcpy(a.v[g] + (size_t)j * w, t->a.v[g] + (size_t)i * w, w * sizeof(float));
        }
        if (!rows[j].child) continue;
        float offset[4];
        child_offset(old, i, &t->rng, offset);
        for (int k = 0; k < 4; k++) s->means[4 * j + k] += offset[k], s->log_scales[4 * j + k] -= logf(1.6f);
    }
    rd_scene_destroy((rd_scene *)old);
    rd_scene4d_refresh(t->ctx, s);
    t->scene = s;
    rd_trainer_arrays_free(&t->a);
    t->a = a;
    return RD_OK;
}

/* Clone, split and prune (rd_density_rows, the 3D rule on the spatial scales). */
static rd_result densify_4d(rd_trainer4d *t)
{
    const rd_scene4d *s = t->scene;
    int64_t n = s->count;
    new_row *rows = malloc(sizeof(new_row) * (size_t)(2 * n + 1));
    float *largest = malloc(sizeof(float) * (size_t)(n + 1));
    if (!rows || !largest) {
        free(rows), free(largest);
        return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "4D densification: out of memory");
    }
    for (int64_t i = 0; i < n; i++) largest[i] = max_spatial_scale(s, i);
    density_inputs in = {n, t->a.grad_norm, largest, s->opacities, t->a.views_seen, t->extent, t->iteration > RESET_EVERY};
    rd_result r = rebuild(t, rows, rd_density_rows(&in, rows));
    free(rows), free(largest);
    return r;
}

static bool within(const rd_trainer4d *t)
{
    return t->iteration < DENSIFY_UNTIL && t->iteration < t->desc.iterations; /* never after the run's last step (train_gaussians.c) */
}
static bool grow_due(const rd_trainer4d *t) { return t->desc.densify && within(t) && t->iteration >= DENSIFY_FROM && t->iteration % DENSIFY_EVERY == 0; }
static bool reset_due(const rd_trainer4d *t) { return t->desc.densify && within(t) && t->iteration % RESET_EVERY == 0; }
bool rd_trainer4d_density_due(const rd_trainer4d *t) { return grow_due(t) || reset_due(t); }

rd_result rd_trainer4d_control_density(rd_trainer4d *t)
{
    if (!rd_trainer4d_density_due(t)) return RD_OK;
    rd_result r = rd_trainer4d_sync_host(t);
    if (r == RD_OK && grow_due(t)) r = densify_4d(t);
    if (r == RD_OK && reset_due(t)) {
        float cap = rd_logit(0.01f);
        for (int64_t i = 0; i < t->scene->count; i++)
            if (t->scene->opacities[i] > cap) t->scene->opacities[i] = cap;
        memset(t->a.m[G4_OPACITIES], 0, t->a.sizes[G4_OPACITIES] * sizeof(float));
        memset(t->a.v[G4_OPACITIES], 0, t->a.sizes[G4_OPACITIES] * sizeof(float));
        rd_scene4d_refresh(t->ctx, t->scene);
    }
    return r == RD_OK ? rd_trainer4d_sync_device(t) : r;
}
