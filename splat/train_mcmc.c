/* train_mcmc.c: 3DGS-MCMC on the trainer's host arrays (trainer.h; the per-Gaussian maths
   every backend shares is mcmc.h). Every 100 steps after the 500th and before the
   25,000th: Gaussians whose opacity fell to 0.005 or less are relocated onto live ones
   drawn in proportion to their opacity, then 5% more are added the same way, up to the
   cap. A Gaussian drawn n times, and each copy of it, get the opacity and scale of
   the paper's equation 9, so that the copies together render as the one did: opacity
   1 - (1 - o)^(1/(n+1)), scale o / (sum_i=1..n+1 sum_k<i C(i-1,k) (-1)^k o'^(k+1) / sqrt(k+1))
   times the old. The copies' and the sources' Adam moments start again at zero (the
   reference zeroes the sources' only; a relocated slot keeps no moments of the dead
   Gaussian here). */
#include "mcmc.h"
#include "trainer.h"

#include <stdlib.h>
#include <string.h>

void rd_mcmc_regularise_host(rd_trainer *t)
{
    const rd_scene *s = t->scene;
    for (int64_t i = 0; i < s->count; i++)
        rd_mcmc_regularise(s->opacities[i], s->log_scales + 3 * i, s->count, &t->grads[GROUP_OPACITIES][i],
                           t->grads[GROUP_SCALES] + 3 * i);
}

void rd_mcmc_noise_host(rd_trainer *t, float lr_means)
{
    rd_scene *s = t->scene;
    for (int64_t i = 0; i < s->count; i++)
        rd_mcmc_noise(s->means + 3 * i, s->log_scales + 3 * i, s->rotations + 4 * i, s->opacities[i], lr_means * RD_MCMC_NOISE_LR,
                      t->desc.seed, (uint32_t)t->iteration, (uint32_t)i);
}

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

/* n draws of Gaussians with probability in proportion to opacity, among those with
   alive[i] (NULL: all); false where none has any weight. */
static bool draw(rd_trainer *t, const bool *alive, int64_t n, int64_t *out)
{
    const rd_scene *s = t->scene;
    double *sum = malloc(sizeof(double) * (size_t)(s->count + 1));
    if (!sum) return false;
    double total = 0.0;
    for (int64_t i = 0; i < s->count; i++) sum[i] = total += alive && !alive[i] ? 0.0 : (double)sigmoid(s->opacities[i]);
    bool ok = total > 0.0;
    for (int64_t k = 0; ok && k < n; k++) {
        double u = (double)rd_rng_uniform(&t->rng) * total;
        int64_t lo = 0, hi = s->count - 1;
        while (lo < hi) { /* the first with sum > u */
            int64_t mid = lo + (hi - lo) / 2;
            if (sum[mid] > u) hi = mid;
            else lo = mid + 1;
        }
        out[k] = lo;
    }
    free(sum);
    return ok;
}

/* Equation 9 for a Gaussian drawn `drawn` times: its new logit opacity and log-scale shift. */
static void compensate(float logit, int drawn, float *new_logit, float *log_scale_shift)
{
    int n = drawn + 1 < RD_MCMC_MAX_RATIO ? drawn + 1 : RD_MCMC_MAX_RATIO;
    double o = sigmoid(logit), o_new = 1.0 - pow(1.0 - o, 1.0 / n), denom = 0.0;
    for (int i = 1; i <= n; i++) {
        double binom = 1.0; /* C(i-1, k) */
        for (int k = 0; k <= i - 1; k++) {
            denom += binom * (k % 2 ? -1.0 : 1.0) * pow(o_new, k + 1) / sqrt((double)(k + 1));
            binom = binom * (double)(i - 1 - k) / (double)(k + 1);
        }
    }
    double clamped = fmin(fmax(o_new, (double)RD_MCMC_MIN_OPACITY), 1.0 - 1.1920929e-7);
    *new_logit = (float)log(clamped / (1.0 - clamped));
    *log_scale_shift = (float)log(o / denom);
}

/* The opacity and scale of each drawn source, for its draws; counts[i]: times drawn. */
static void compensate_sources(rd_trainer *t, const int64_t *drawn, int64_t n, int *counts)
{
    rd_scene *s = t->scene;
    for (int64_t k = 0; k < n; k++) counts[drawn[k]]++;
    for (int64_t i = 0; i < s->count; i++) {
        if (!counts[i]) continue;
        float shift;
        compensate(s->opacities[i], counts[i], &s->opacities[i], &shift);
        for (int a = 0; a < 3; a++) s->log_scales[3 * i + a] += shift;
    }
}

/* Zero moments for Gaussian i. */
static void forget(rd_trainer *t, int64_t i)
{
    for (int g = 0; g < GROUPS; g++) {
        size_t w = (size_t)rd_trainer_group_width(t, g);
        memset(t->m[g] + (size_t)i * w, 0, w * sizeof(float));
        memset(t->v[g] + (size_t)i * w, 0, w * sizeof(float));
    }
}

static void copy_gaussian(rd_scene *s, int64_t to, int64_t from)
{
    size_t K3 = 3 * (size_t)rd_sh_coeffs(s->sh_degree);
    memcpy(s->means + 3 * to, s->means + 3 * from, 3 * sizeof(float));
    memcpy(s->log_scales + 3 * to, s->log_scales + 3 * from, 3 * sizeof(float));
    memcpy(s->rotations + 4 * to, s->rotations + 4 * from, 4 * sizeof(float));
    s->opacities[to] = s->opacities[from];
    memcpy(s->sh + (size_t)to * K3, s->sh + (size_t)from * K3, K3 * sizeof(float));
}

static rd_result relocate(rd_trainer *t)
{
    rd_scene *s = t->scene;
    int64_t n = s->count, dead = 0;
    float min_logit = logf(RD_MCMC_MIN_OPACITY / (1.0f - RD_MCMC_MIN_OPACITY));
    bool *alive = malloc((size_t)n + 1);
    int64_t *drawn = malloc(sizeof(int64_t) * (size_t)(n + 1)), *slots = malloc(sizeof(int64_t) * (size_t)(n + 1));
    int *counts = calloc((size_t)n + 1, sizeof(int));
    rd_result r = alive && drawn && slots && counts ? RD_OK : rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "3DGS-MCMC: out of memory");
    for (int64_t i = 0; r == RD_OK && i < n; i++) {
        alive[i] = s->opacities[i] > min_logit;
        if (!alive[i]) slots[dead++] = i;
    }
    if (r == RD_OK && dead > 0 && dead < n && draw(t, alive, dead, drawn)) {
        compensate_sources(t, drawn, dead, counts);
        for (int64_t k = 0; k < dead; k++) {
            copy_gaussian(s, slots[k], drawn[k]);
            forget(t, slots[k]), forget(t, drawn[k]);
        }
    }
    free(alive), free(drawn), free(slots), free(counts);
    return r;
}

static rd_result grow(rd_trainer *t)
{
    rd_scene *s = t->scene;
    int64_t n = s->count, cap = t->desc.max_gaussians > 0 ? t->desc.max_gaussians : 1000000;
    int64_t target = (int64_t)(1.05 * (double)n) < cap ? (int64_t)(1.05 * (double)n) : cap, more = target - n;
    if (more <= 0) return RD_OK;
    int64_t *drawn = malloc(sizeof(int64_t) * (size_t)more);
    int *counts = calloc((size_t)n + 1, sizeof(int));
    new_row *rows = malloc(sizeof(new_row) * (size_t)(n + more));
    rd_result r = drawn && counts && rows ? RD_OK : rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "3DGS-MCMC: out of memory");
    if (r == RD_OK && draw(t, NULL, more, drawn)) {
        compensate_sources(t, drawn, more, counts);
        for (int64_t i = 0; i < n; i++) rows[i] = (new_row){i, counts[i] > 0, false}; /* a source's moments start again */
        for (int64_t k = 0; k < more; k++) rows[n + k] = (new_row){drawn[k], true, false};
        r = rd_trainer_rebuild(t, rows, n + more);
    }
    free(drawn), free(counts), free(rows);
    return r;
}

rd_result rd_mcmc_refine(rd_trainer *t)
{
    rd_result r = relocate(t);
    return r == RD_OK ? grow(t) : r;
}
