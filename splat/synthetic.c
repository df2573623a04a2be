/* synthetic.c: the benchmark scene behind `radiant synth` (issue 3's recipe): Gaussians
   near three spheres and a ground plane, random orientations, SH degree 3, and a ring of
   cameras. World is z-up; a pure function of (count, seed). */
#include "scene.h"
#include "radiant_bench.h"
#include "../renderer/random.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const float SPHERES[3][4] = {{-2.2f, 0.0f, 1.0f, 1.0f}, {0.6f, 1.2f, 1.4f, 1.4f}, {2.0f, -1.6f, 0.7f, 0.7f}};
static const float PLANE_HALF = 5.0f;

rd_result rd_scene_create_synthetic(rd_context *ctx, const rd_demo_desc *desc, rd_scene **out)
{
    if (!out || !desc || desc->count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "synthetic scene: count must be at least 1");
    rd_result res = rd_scene_alloc(ctx, desc->count, 3, out);
    if (res != RD_OK) return res;
    rd_scene *s = *out;
    snprintf(s->format, sizeof s->format, "procedural");
    rd_rng r = {desc->seed ? desc->seed : 0x53594e5448ull};
    float base = logf(0.02f * sqrtf(1e5f / (float)desc->count));
    for (int64_t i = 0; i < s->count; i++) {
        float *m = s->means + 3 * i;
        float pick = rd_rng_uniform(&r);
        if (pick < 0.6f) {
            const float *sp = SPHERES[(int)(pick / 0.2f)];
            float z = 2.0f * rd_rng_uniform(&r) - 1.0f, a = 6.2831853f * rd_rng_uniform(&r), rxy = sqrtf(1.0f - z * z);
            float radius = sp[3] * (1.0f + 0.01f * rd_rng_normal(&r));
            m[0] = sp[0] + radius * rxy * cosf(a);
            m[1] = sp[1] + radius * rxy * sinf(a);
            m[2] = sp[2] + radius * z;
        } else {
            m[0] = PLANE_HALF * (2.0f * rd_rng_uniform(&r) - 1.0f);
            m[1] = PLANE_HALF * (2.0f * rd_rng_uniform(&r) - 1.0f);
            m[2] = 0.01f * rd_rng_normal(&r);
        }
        for (int a = 0; a < 3; a++) s->log_scales[3 * i + a] = base + (rd_rng_uniform(&r) - 0.5f);
        float q[4], qn = 0.0f;
        for (int a = 0; a < 4; a++) {
            q[a] = rd_rng_normal(&r);
            qn += q[a] * q[a];
        }
        qn = sqrtf(qn) + 1e-12f;
        for (int a = 0; a < 4; a++) s->rotations[4 * i + a] = q[a] / qn;
        s->opacities[i] = 1.0f + 1.5f * rd_rng_normal(&r);
        float *sh = s->sh + (size_t)i * 48;
        for (int k = 0; k < 16; k++)
            for (int c = 0; c < 3; c++) sh[3 * k + c] = rd_rng_normal(&r) * (k == 0 ? 1.0f : 0.1f);
    }
    return RD_OK;
}

rd_result rd_scene4d_create_synthetic(rd_context *ctx, const rd_synthetic4d_desc *desc, rd_scene **out)
{
    if (!out || !desc || desc->count < 1 || !(desc->time_extent >= 0.0f && isfinite(desc->time_extent)))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "synthetic 4D scene: count must be at least 1 and time_extent positive");
    float extent = desc->time_extent > 0.0f ? desc->time_extent : 1.0f;
    rd_scene *flat = NULL;
    rd_result r = rd_scene_create_synthetic(ctx, &(rd_demo_desc){.count = desc->count, .seed = desc->seed}, &flat);
    int64_t n = desc->count;
    float *means = rd_alloc_array(n, 16), *ls = rd_alloc_array(n, 16), *rot = rd_alloc_array(n, 32), *sh = rd_alloc_array(n, 144 * 4);
    if (r == RD_OK && (!means || !ls || !rot || !sh))
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "synthetic 4D scene: cannot hold %lld Gaussians", (long long)n);
    rd_rng g = {(desc->seed ? desc->seed : 0x53594e5448ull) ^ 0x3444ull};
    for (int64_t i = 0; i < n && r == RD_OK; i++) {
        for (int a = 0; a < 3; a++) means[4 * i + a] = flat->means[3 * i + a], ls[4 * i + a] = flat->log_scales[3 * i + a];
        means[4 * i + 3] = extent * rd_rng_uniform(&g);
        ls[4 * i + 3] = logf(extent * (0.05f + 0.25f * rd_rng_uniform(&g)));
        const float *q = flat->rotations + 4 * i;
        const float lifted[4] = {q[0], -q[3], -q[2], -q[1]};
        for (int k = 0; k < 8; k++) rot[8 * i + k] = lifted[k % 4] + 0.15f * rd_rng_normal(&g);
        for (int k = 0; k < 48; k++) sh[144 * i + k] = flat->sh[48 * i + k];
        for (int k = 48; k < 144; k++) sh[144 * i + k] = 0.1f * rd_rng_normal(&g);
    }
    if (r == RD_OK)
        r = rd_scene4d_create(ctx, &(rd_scene4d_desc){n, 3, 2, extent, means, ls, rot, flat->opacities, sh, RD_MEMORY_HOST}, out);
    rd_scene_destroy(flat);
    free(means), free(ls), free(rot), free(sh);
    return r;
}

void rd_synthetic_cameras(int n, int width, int height, rd_camera *out)
{
    const float target[3] = {0.0f, 0.0f, 0.8f}, up[3] = {0.0f, 0.0f, 1.0f};
    for (int i = 0; i < n; i++) {
        float a = 6.2831853f * (float)i / (float)n;
        float eye[3] = {8.0f * cosf(a), 8.0f * sinf(a), 3.0f};
        out[i] = rd_camera_look_at(eye, target, up, width, height, 60.0f);
    }
}
