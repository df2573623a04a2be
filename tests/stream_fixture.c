/* stream_fixture.c: random residual streams (stream_fixture.h). */
#include "stream_fixture.h"

#include <stdlib.h>
#include <string.h>

rd_scene_desc stream_scene_copy(const rd_scene_desc *s)
{
    size_t n = (size_t)s->count, c = (size_t)3 * (s->sh_degree + 1) * (s->sh_degree + 1);
    rd_scene_desc out = *s;
    float *m = malloc(n * 3 * 4 + 4), *l = malloc(n * 3 * 4 + 4), *q = malloc(n * 4 * 4 + 4), *o = malloc(n * 4 + 4), *sh = malloc(n * c * 4 + 4);
    memcpy(m, s->means, n * 12), memcpy(l, s->log_scales, n * 12), memcpy(q, s->rotations, n * 16), memcpy(o, s->opacities, n * 4);
    memcpy(sh, s->sh, n * c * 4);
    out.means = m, out.log_scales = l, out.rotations = q, out.opacities = o, out.sh = sh;
    return out;
}

bool stream_same_scene(const rd_scene_desc *a, const rd_scene_desc *b)
{
    if (a->count != b->count || a->sh_degree != b->sh_degree) return false;
    size_t n = (size_t)a->count, c = (size_t)3 * (a->sh_degree + 1) * (a->sh_degree + 1);
    return memcmp(a->means, b->means, n * 12) == 0 && memcmp(a->log_scales, b->log_scales, n * 12) == 0 &&
           memcmp(a->rotations, b->rotations, n * 16) == 0 && memcmp(a->opacities, b->opacities, n * 4) == 0 &&
           memcmp(a->sh, b->sh, n * c * 4) == 0;
}

void stream_fixture_free_states(rd_scene_desc *states, int frames)
{
    for (int k = 0; k < frames; k++) random_scene_free(&states[k]);
}

static int features_of(int a, int degree)
{
    static const int fixed[] = {3, 0, 3, 4, 1};
    return a == RD_STREAM_F_REST ? 3 * ((degree + 1) * (degree + 1) - 1) : fixed[a];
}

/* A residual frame of prev (count n): a mapping that drops and clones, moves, latents. */
static rd_result write_residual(rd_stream_writer *w, test_rng *r, int64_t n, int degree, double still)
{
    /* the share of Gaussians dropped, cloned or given another parent: 10%, or the share
       that changes at all where most stay still (a trained stream densifies and prunes few) */
    double churn = still > 0.9 ? 1.0 - still : 0.1;
    int64_t count = n + (int64_t)(rng_uniform(r) * 2.0 * churn * (double)n) - (int64_t)(rng_uniform(r) * churn * (double)n);
    bool identity = rng_uniform(r) < 0.3;
    if (identity || count < 1) count = n;
    int64_t *mapping = malloc((size_t)count * sizeof *mapping), *moved = malloc((size_t)count * sizeof *moved);
    int32_t *steps = malloc((size_t)count * 3 * sizeof *steps);
    for (int64_t i = 0; i < count; i++) /* mostly in order (kept), some anywhere (clones) */
        mapping[i] = i < n && rng_uniform(r) >= churn ? i : (int64_t)(rng_uniform(r) * (double)n);
    int64_t m = 0;
    for (int64_t i = 0; i < count; i++)
        if (rng_uniform(r) < 0.3 * (1.0 - still)) {
            moved[m] = i;
            for (int c = 0; c < 3; c++) steps[m * 3 + c] = (int32_t)rng_range(r, -300, 300);
            m++;
        }
    rd_stream_residual f = {.count = count, .mapping = identity ? NULL : mapping, .moved = m, .moved_indices = moved, .moved_steps = steps};
    void *owned[RD_STREAM_ATTRIBUTES][3] = {{0}};
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        int features = features_of(a, degree);
        int ld = features && rng_uniform(r) < 0.85 ? 1 + (int)(rng_uniform(r) * (a == RD_STREAM_F_REST ? 4 : 8)) : 0;
        if (a == RD_STREAM_F_REST && ld) ld = rng_uniform(r) < 0.7 ? 3 : ld; /* mostly one size: coded against the parent */
        rd_stream_latents *l = &f.attributes[a];
        l->latent_dim = ld;
        if (!ld) continue;
        int32_t *values = malloc((size_t)count * ld * sizeof *values);
        for (int64_t i = 0; i < count; i++) {
            bool moves = still <= 0.0 || rng_uniform(r) >= still;
            for (int c = 0; c < ld; c++) values[i * ld + c] = moves ? (int32_t)rng_range(r, -6, 7) : 0;
        }
        l->values = values, owned[a][0] = values;
        l->decoder = a == RD_STREAM_OPACITY ? RD_STREAM_COSINE : RD_STREAM_LINEAR;
        l->scale = (float)rng_range(r, 0.001, 0.05);
        owned[a][1] = (void *)(l->weights = random_floats(r, (size_t)ld * features, -0.02, 0.02));
        owned[a][2] = (void *)(l->bias = random_floats(r, (size_t)features, -0.01, 0.01));
    }
    rd_result res = rd_stream_write_residual(w, &f);
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++)
        for (int k = 0; k < 3; k++) free(owned[a][k]);
    free(mapping), free(moved), free(steps);
    return res;
}

rd_result stream_fixture_write(rd_context *ctx, test_rng *r, const char *path, const stream_fixture_desc *d, rd_scene_desc *states)
{
    rd_stream_writer *w;
    rd_result res = rd_stream_writer_create(ctx, path, &(rd_stream_desc){.sh_degree = d->sh_degree, .zstd_level = 3,
                                                                        .config_json = "{\"fixture\": true}"}, &w);
    if (res != RD_OK) return res;
    random_scene_desc sd = {.count = d->gaussians, .sh_degree = d->sh_degree, .depth_min = 2, .depth_max = 6, .spread = 0.5,
                            .log_scale_min = -4, .log_scale_max = -2};
    rd_scene_desc first = random_scene(r, &sd);
    res = rd_stream_write_intra(w, &first);
    random_scene_free(&first);
    for (int k = 0; res == RD_OK && k < d->frames; k++) {
        if (k > 0 && d->keyframe_every > 0 && k % d->keyframe_every == 0) res = rd_stream_write_intra(w, NULL);
        else if (k > 0) res = write_residual(w, r, rd_stream_writer_state(w).count, d->sh_degree, d->still);
        if (res == RD_OK && states) {
            rd_scene_desc s = rd_stream_writer_state(w);
            states[k] = stream_scene_copy(&s);
        }
    }
    if (res == RD_OK) return rd_stream_writer_finish(w);
    rd_stream_writer_destroy(w);
    return res;
}
