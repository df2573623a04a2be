/* slice4d.c: 4D Gaussians sliced at a time into 3D ones on the CPU (scene4d.h), after
   spec/dynamic.md: the 4D covariance from the scales and the quaternion pair, its
   conditional at time t (mean mu_xyz + V/W (t - mu_t), covariance U - V V^T / W, opacity
   times p(t)), and the colour's temporal cosine terms folded into plain SH. The 3D
   covariance goes to the 3D renderer as a rotation and three scales: its eigenvectors and
   the square roots of its eigenvalues, found once per scene in double (from the precision
   matrix: rd_slice4d_prepare says why). The GPU slices write into an rd_slice4d_target,
   made here for every GPU backend alike. */
#include "slice4d_math.h"
#include "appearance4d_cpu.h"
#include "../renderer/cpu/parallel.h"
#include "../renderer/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool rd_4d_rotation(const float q_l[4], const float q_r[4], double R4[4][4], double unit[8], double lengths[2])
{
    const float q[8] = {q_l[0], q_l[1], q_l[2], q_l[3], q_r[0], q_r[1], q_r[2], q_r[3]};
    return rd_4d_rotation_of(q, R4, unit, lengths);
}

bool rd_4d_covariance(const float log_scale[4], const float q_l[4], const float q_r[4], double sigma[4][4])
{
    double R4[4][4];
    if (!rd_4d_rotation(q_l, q_r, R4, NULL, NULL)) return false;
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) {
            sigma[i][j] = 0.0;
            for (int k = 0; k < 4; k++) sigma[i][j] += R4[i][k] * R4[j][k] * exp(2.0 * (double)log_scale[k]);
        }
    return true;
}

void rd_slice4d_prepare(const rd_scene4d *s, int64_t i, rd_slice4d_static *out)
{
    rd_slice4d_static_of(s->log_scales + 4 * i, s->rotations + 8 * i, out);
}

static float softplus(float x) { return x > 20.0f ? x : log1pf(expf(x)); }

/* logit(sigmoid(o) p) = log sigmoid(o) + log p - log(1 - sigmoid(o) p), with
   1 - sigmoid(o) p = (1 - p) + p sigmoid(-o): no cancellation where both are near 1 */
static float sliced_logit(float o, float exponent, float p)
{
    return -softplus(-o) - exponent - logf((1.0f - p) + p / (1.0f + expf(o)));
}

/* Gaussian i's colour and opacity from the scene's networks into slot k of out. */
static void slice_appearance(const rd_scene4d *s, float time, int64_t i, rd_scene *out, int64_t k)
{
    const rd_appearance4d *a = s->appearance;
    const float *mean = s->means + 4 * i;
    float dt = time - mean[3], exponent = dt * dt * s->fixed[i].half_inv_w, o;
    rd_appearance_eval(a, a->weights, mean, time, a->features + RD_APPEARANCE_FEATURES * i,
                       out->sh + k * 3 * rd_sh_coeffs(s->sh_degree), &o, NULL);
    out->opacities[k] = sliced_logit(o, exponent, expf(-exponent));
}

typedef struct appearance_job {
    const rd_scene4d *s;
    float time;
    rd_scene *out;
    const int64_t *source;
} appearance_job;

static void appearance_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const appearance_job *j = user;
    for (int64_t k = begin; k < end; k++) slice_appearance(j->s, j->time, j->source[k], j->out, k);
}

void rd_slice4d_cpu(rd_context *ctx, const rd_scene4d *s, float time, rd_scene *out, int64_t *source)
{
    const int K = rd_sh_coeffs(s->sh_degree), terms = s->time_degree + 1;
    const bool networks_after = s->appearance && source; /* on the threads, once the slots are known */
    const float two_pi_over_period = 6.283185307179586f / s->time_period;
    int64_t kept = 0;
    for (int64_t i = 0; i < s->count; i++) {
        const rd_slice4d_static *f = &s->fixed[i];
        const float *mean = s->means + 4 * i;
        float dt = time - mean[3], exponent = dt * dt * f->half_inv_w, p = expf(-exponent);
        if (!(exponent < RD_4D_CULL_EXPONENT)) continue; /* p <= 0.05, or NaN statics */
        for (int a = 0; a < 3; a++) {
            out->means[3 * kept + a] = mean[a] + f->velocity[a] * dt;
            out->log_scales[3 * kept + a] = f->log_scale[a];
        }
        memcpy(out->rotations + 4 * kept, f->rotation, sizeof f->rotation);
        if (source) source[kept] = i;
        if (s->appearance) {
            if (!networks_after) slice_appearance(s, time, i, out, kept);
            kept++;
            continue;
        }
        out->opacities[kept] = sliced_logit(s->opacities[i], exponent, p);
        rd_4d_fold_colour(s->sh + i * (int64_t)terms * K * 3, K, terms, two_pi_over_period, mean[3], time,
                          out->sh + kept * (int64_t)K * 3);
        kept++;
    }
    out->count = kept;
    if (networks_after)
        rd_parallel_for(ctx ? ctx->threads : 1, kept, 64, appearance_range, &(appearance_job){s, time, out, source});
}

void rd_slice4d_target_free(rd_context *ctx, rd_slice4d_target *t)
{
    rd_scene_destroy(t->scene); /* a device scene: its arrays are ours, freed below */
    for (int k = 0; k < RD_SLICE4D_SLICED; k++) rd_buffer_free(ctx, t->arrays[k]);
    memset(t, 0, sizeof *t);
}

rd_result rd_slice4d_target_make(rd_context *ctx, const rd_scene4d *s, rd_slice4d_target *t)
{
    rd_slice4d_target_free(ctx, t);
    size_t n = (size_t)(s->count > 0 ? s->count : 1), K = (size_t)rd_sh_coeffs(s->sh_degree);
    const size_t bytes[RD_SLICE4D_SLICED] = {12 * n, 12 * n, 16 * n, 4 * n, 12 * K * n};
    rd_result r = RD_OK;
    for (int k = 0; k < RD_SLICE4D_SLICED && r == RD_OK; k++) {
        rd_memory memory;
        r = rd_buffer_alloc(ctx, bytes[k], &t->arrays[k], &memory);
    }
    if (r == RD_OK)
        r = rd_scene_create(ctx,
                            &(rd_scene_desc){.count = s->count, .sh_degree = s->sh_degree, .means = t->arrays[0],
                                             .log_scales = t->arrays[1], .rotations = t->arrays[2], .opacities = t->arrays[3],
                                             .sh = t->arrays[4], .memory = RD_MEMORY_DEVICE},
                            &t->scene);
    if (r != RD_OK) rd_slice4d_target_free(ctx, t);
    return r;
}

rd_result rd_slice4d_networks_make(rd_context *ctx, const rd_scene4d *s, const char *where, rd_slice4d_networks *out)
{
    *out = (rd_slice4d_networks){0};
    const rd_appearance4d *a = s->appearance;
    if (a->sh_degree != s->sh_degree)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: appearance networks for SH degree %d in a scene of degree %d", where,
                       a->sh_degree, s->sh_degree);
    size_t n = (size_t)(s->count > 0 ? s->count : 1), floats = 3 * (size_t)rd_sh_coeffs(s->sh_degree);
    out->transposed = malloc(4 * (size_t)a->weight_count);
    if (!out->transposed) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: appearance networks: out of memory", where);
    rd_appearance4d_transposed(a, out->transposed);
    out->from[0] = out->transposed, out->from[1] = a->features;
    out->bytes[0] = 4 * (size_t)a->weight_count, out->bytes[1] = 4 * RD_APPEARANCE_FEATURES * n;
    out->out_bytes[0] = 4 * n, out->out_bytes[1] = 4 * floats * n;
    out->list_bytes = 4 * (1 + n);
    return RD_OK;
}

void rd_slice4d_networks_free(rd_slice4d_networks *n)
{
    free(n->transposed);
    *n = (rd_slice4d_networks){0};
}
