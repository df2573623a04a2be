/* compact_networks.c: appearance networks fitted to a 4D scene's stored colour and opacity
   (compact.h, rd_compact_fit_networks), before the compact file quantises their features.

   OMG4 trains its networks from the photos; here they first learn what the trained scene
   already knows: each step draws Gaussians and, for each, a time within its temporal
   window (where the slice keeps it), and regresses the networks' colour on the stored
   colour folded at that time and their opacity on the stored opacity, both weighted by
   the temporal weight there (a Gaussian barely seen matters less), colour also by its
   opacity. The Gaussians are drawn in epochs of a shuffled order (every one drawn once an
   epoch; at least one epoch); Adam on the weights, and lazily on the features: only the
   rows a step drew move (their moments too), so a step costs its batch, not the scene. With
   photos, the fine-tuning
   (compact_finetune.c) then fits them to the photos. One seed: the same networks every run
   on any number of threads (each sample's gradient is summed in sample order). */
#include "compact.h"
#include "../renderer/cpu/parallel.h"
#include "../renderer/internal.h"
#include "../renderer/random.h"
#include "../splat/appearance4d_cpu.h"
#include "../splat/slice4d_math.h"
#include "../train/adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* a step's samples, in chunks that each sum their gradients in their own array (summed in
   chunk order afterwards: the same bits on any number of threads) */
enum { BATCH = RD_COMPACT_NETWORK_BATCH, CHUNK = 16, CHUNKS = BATCH / CHUNK };

typedef struct sample {
    int64_t gaussian;
    float time, weight; /* the temporal weight there */
} sample;

typedef struct fit {
    const rd_compact_arrays *a;
    rd_appearance4d *net;
    const float *half_inv_w; /* each Gaussian's 1 / 2W (NaN: never drawn) */
    sample batch[BATCH];
    float *chunk_grads; /* CHUNKS x weight_count */
    float feature_grads[BATCH][RD_APPEARANCE_FEATURES];
    double loss[BATCH];
} fit;

/* The stored colour of Gaussian i folded at time t (the slice's fold). */
static void folded_colour(const rd_compact_arrays *a, int64_t i, float t, float *out)
{
    int K = rd_sh_coeffs(a->sh_degree), terms = a->time_degree + 1;
    rd_4d_fold_colour(a->sh + (size_t)i * (size_t)terms * K * 3, K, terms, 6.283185307179586f / a->time_period, a->means[4 * i + 3],
                      t, out);
}

static float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

static void chunk_grads(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    fit *f = user;
    const rd_appearance4d *net = f->net;
    int floats = 3 * rd_sh_coeffs(net->sh_degree);
    for (int64_t chunk = begin; chunk < end; chunk++) {
        float *dweights = f->chunk_grads + (size_t)chunk * net->weight_count;
        memset(dweights, 0, net->weight_count * sizeof(float));
        for (int64_t b = chunk * CHUNK; b < (chunk + 1) * CHUNK; b++) {
        const sample *s = &f->batch[b];
        memset(f->feature_grads[b], 0, sizeof f->feature_grads[b]);
        f->loss[b] = 0.0;
        if (s->weight <= 0.0f) continue;
        const float *features = net->features + RD_APPEARANCE_FEATURES * s->gaussian;
        float sh[3 + RD_APPEARANCE_MAX_OUTPUTS], target[3 + RD_APPEARANCE_MAX_OUTPUTS], logit, dsh[3 + RD_APPEARANCE_MAX_OUTPUTS];
        rd_appearance_trace trace;
        rd_appearance_eval(net, net->weights, f->a->means + 4 * s->gaussian, s->time, features, sh, &logit, &trace);
        folded_colour(f->a, s->gaussian, s->time, target);
        float opacity = sigmoid(f->a->opacities[s->gaussian]), predicted = sigmoid(logit);
        float colour_weight = s->weight * opacity / BATCH, opacity_weight = s->weight / BATCH;
        double loss = 0.0;
        for (int k = 0; k < floats; k++) {
            float e = sh[k] - target[k];
            loss += (double)colour_weight * e * e, dsh[k] = 2.0f * colour_weight * e;
        }
        float e = predicted - opacity;
        loss += (double)opacity_weight * e * e;
        float dlogit = 2.0f * opacity_weight * e * predicted * (1.0f - predicted);
        rd_appearance_backward(net, features, &trace, dsh, dlogit, dweights, f->feature_grads[b]);
        f->loss[b] = loss;
        }
    }
}

/* Where positions and times are normalised from: the centre of the means' box and half its
   largest side (a Gaussian outside that ball is contracted), the times' range. */
static void normalisation(const rd_compact_arrays *a, rd_appearance4d *net)
{
    float lo[4] = {INFINITY, INFINITY, INFINITY, INFINITY}, hi[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < a->count; i++)
        for (int c = 0; c < 4; c++) lo[c] = fminf(lo[c], a->means[4 * i + c]), hi[c] = fmaxf(hi[c], a->means[4 * i + c]);
    net->radius = 0.0f;
    for (int c = 0; c < 3; c++) {
        net->centre[c] = a->count ? 0.5f * (lo[c] + hi[c]) : 0.0f;
        net->radius = fmaxf(net->radius, 0.5f * (hi[c] - lo[c]));
    }
    if (!(net->radius > 0.0f) || !isfinite(net->radius)) net->radius = 1.0f;
    net->time_origin = a->count ? lo[3] : 0.0f, net->time_span = a->count ? hi[3] - lo[3] : 1.0f;
    if (!(net->time_span > 0.0f) || !isfinite(net->time_span)) net->time_span = 1.0f;
}

/* order[0..n) shuffled (Fisher-Yates). */
static void shuffle(int64_t *order, int64_t n, rd_rng *rng)
{
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(rd_rng_next(rng) % (uint64_t)(i + 1)), t = order[i];
        order[i] = order[j], order[j] = t;
    }
}

int rd_compact_network_steps(const rd_compact_desc *desc, int64_t count)
{
    int64_t epoch = (count + BATCH - 1) / BATCH;
    return desc->network_steps > 0 ? desc->network_steps : epoch > 2000 ? (int)(epoch < INT32_MAX ? epoch : INT32_MAX) : 2000;
}

rd_result rd_compact_fit_networks(rd_context *ctx, const rd_compact_arrays *a, const rd_compact_desc *desc, rd_appearance4d **out)
{
    *out = NULL;
    int64_t n = a->count > 0 ? a->count : 1;
    rd_appearance4d *net = rd_appearance4d_new(a->sh_degree, a->count);
    fit *f = calloc(1, sizeof *f);
    float *half_inv_w = rd_alloc_array(n, sizeof(float));
    int64_t *order = rd_alloc_array(n, sizeof(int64_t)), touched[BATCH];
    int *drawn_at = calloc((size_t)n, sizeof(int)); /* the step that last drew each Gaussian */
    float *weight_grad = net ? calloc(net->weight_count, sizeof(float)) : NULL;
    float *feature_grad = rd_alloc_array(n, RD_APPEARANCE_FEATURES * sizeof(float));
    size_t nw = net ? net->weight_count : 1, nf = (size_t)n * RD_APPEARANCE_FEATURES;
    float *wm = calloc(nw, sizeof(float)), *wv = calloc(nw, sizeof(float)), *fm = calloc(nf, sizeof(float)), *fv = calloc(nf, sizeof(float));
    if (f) f->chunk_grads = rd_alloc_array(CHUNKS, nw * sizeof(float));
    rd_result r = RD_OK;
    if (!net || !f || !half_inv_w || !order || !drawn_at || !weight_grad || !feature_grad || !wm || !wv || !fm || !fv || !f->chunk_grads)
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: appearance networks: out of memory for %lld Gaussians", (long long)a->count);
    int steps = rd_compact_network_steps(desc, a->count);
    double first = NAN, last = NAN;
    if (r == RD_OK) {
        normalisation(a, net);
        rd_appearance4d_init(net, a->count, 0x4f4d4734ull);
        memset(feature_grad, 0, nf * sizeof(float));
        for (int64_t i = 0; i < a->count; i++) {
            rd_slice4d_static st;
            rd_slice4d_static_of(a->log_scales + 4 * i, a->rotations + 8 * i, &st);
            half_inv_w[i] = st.half_inv_w;
            order[i] = i;
        }
        f->a = a, f->net = net, f->half_inv_w = half_inv_w;
        rd_rng rng = {0x6e6574776f726bull};
        int64_t next = a->count; /* where the epoch's order is: a->count, a new epoch */
        for (int step = 1; step <= steps && a->count > 0; step++) {
            for (int b = 0; b < BATCH; b++) { /* a Gaussian, and a time within its window */
                if (next == a->count) shuffle(order, a->count, &rng), next = 0;
                sample *s = &f->batch[b];
                s->gaussian = order[next++];
                float h = half_inv_w[s->gaussian], reach = sqrtf(RD_4D_CULL_EXPONENT / h);
                float dt = (2.0f * rd_rng_uniform(&rng) - 1.0f) * fminf(reach, net->time_span);
                s->time = a->means[4 * s->gaussian + 3] + dt;
                float exponent = dt * dt * h;
                s->weight = exponent < RD_4D_CULL_EXPONENT ? expf(-exponent) : 0.0f; /* NaN statics: never drawn */
            }
            rd_parallel_for(ctx ? ctx->threads : 1, CHUNKS, 1, chunk_grads, f);
            memset(weight_grad, 0, nw * sizeof(float));
            for (int chunk = 0; chunk < CHUNKS; chunk++) {
                const float *g = f->chunk_grads + (size_t)chunk * nw;
                for (size_t k = 0; k < nw; k++) weight_grad[k] += g[k];
            }
            double loss = 0.0;
            int touched_count = 0; /* the rows this step drew, each once (a scene smaller than a batch repeats them) */
            for (int b = 0; b < BATCH; b++) {
                int64_t i = f->batch[b].gaussian;
                float *g = feature_grad + RD_APPEARANCE_FEATURES * i;
                if (drawn_at[i] != step) drawn_at[i] = step, touched[touched_count++] = i;
                for (int k = 0; k < RD_APPEARANCE_FEATURES; k++) g[k] += f->feature_grads[b][k];
                loss += f->loss[b];
            }
            /* rates: 1e-3 for the weights and 1e-2 for the features, a tenth by the end */
            float decay = powf(0.1f, (float)(step - 1) / (float)steps);
            rd_adam_update(net->weights, weight_grad, wm, wv, nw, &(rd_adam_step_desc){.lr = 1e-3f * decay, .step = step});
            for (int t = 0; t < touched_count; t++) {
                size_t at = RD_APPEARANCE_FEATURES * (size_t)touched[t];
                rd_adam_update(net->features + at, feature_grad + at, fm + at, fv + at, RD_APPEARANCE_FEATURES,
                               &(rd_adam_step_desc){.lr = 1e-2f * decay, .step = step});
                memset(feature_grad + at, 0, RD_APPEARANCE_FEATURES * sizeof(float));
            }
            if (step == 1) first = loss;
            last = loss;
        }
        rd_log(ctx, RD_LOG_INFO, "compact: appearance networks fitted to the stored colour in %d steps of %d samples: loss %.5g -> %.5g",
               steps, BATCH, first, last);
        *out = net, net = NULL;
    }
    rd_appearance4d_free(net);
    if (f) free(f->chunk_grads);
    free(f), free(half_inv_w), free(order), free(drawn_at), free(weight_grad), free(feature_grad), free(wm), free(wv), free(fm), free(fv);
    return r;
}

/* ---- the networks inside the fine-tuning (compact_finetune.c) ---- */

void rd_compact_networks_eval(rd_context *ctx, const rd_appearance4d *networks, const rd_compact_arrays *a, float time)
{
    rd_appearance4d over = *networks; /* the arrays' features, as the codebooks decode them */
    over.features = a->features;
    rd_appearance4d_eval_cpu(ctx ? ctx->threads : 1, &over, a->means, a->count, time, a->opacities, a->sh);
}

typedef struct backward_job {
    const rd_appearance4d *net;
    const rd_compact_arrays *a, *grads;
    float time, *chunk_grads;
    int64_t per_chunk;
} backward_job;

static void backward_chunks(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const backward_job *j = user;
    int floats = 3 * rd_sh_coeffs(j->net->sh_degree);
    for (int64_t chunk = begin; chunk < end; chunk++) {
        float *dweights = j->chunk_grads + (size_t)chunk * j->net->weight_count;
        memset(dweights, 0, j->net->weight_count * sizeof(float));
        int64_t last = (chunk + 1) * j->per_chunk < j->a->count ? (chunk + 1) * j->per_chunk : j->a->count;
        for (int64_t i = chunk * j->per_chunk; i < last; i++) {
            const float *dsh = j->grads->sh + (size_t)i * floats, *features = j->a->features + RD_APPEARANCE_FEATURES * i;
            float dlogit = j->grads->opacities[i], *dfeatures = j->grads->features + RD_APPEARANCE_FEATURES * i;
            memset(dfeatures, 0, RD_APPEARANCE_FEATURES * sizeof(float));
            bool any = dlogit != 0.0f;
            for (int k = 0; k < floats && !any; k++) any = dsh[k] != 0.0f;
            if (!any) continue; /* culled, or unseen */
            float sh[3 + RD_APPEARANCE_MAX_OUTPUTS], logit;
            rd_appearance_trace trace;
            rd_appearance_eval(j->net, j->net->weights, j->a->means + 4 * i, j->time, features, sh, &logit, &trace);
            rd_appearance_backward(j->net, features, &trace, dsh, dlogit, dweights, dfeatures);
        }
    }
}

rd_result rd_compact_networks_backward(rd_context *ctx, const rd_appearance4d *networks, const rd_compact_arrays *a,
                                       const rd_compact_arrays *grads, float time, float *weight_grad)
{
    enum { BACKWARD_CHUNKS = 64 };
    size_t nw = networks->weight_count;
    float *chunk_grads = rd_alloc_array(BACKWARD_CHUNKS, nw * sizeof(float));
    if (!chunk_grads) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: appearance networks: out of memory");
    backward_job j = {networks, a, grads, time, chunk_grads, (a->count + BACKWARD_CHUNKS - 1) / BACKWARD_CHUNKS};
    if (j.per_chunk < 1) j.per_chunk = 1;
    rd_parallel_for(ctx ? ctx->threads : 1, BACKWARD_CHUNKS, 1, backward_chunks, &j);
    memset(weight_grad, 0, nw * sizeof(float));
    for (int chunk = 0; chunk < BACKWARD_CHUNKS; chunk++)
        for (size_t k = 0; k < nw; k++) weight_grad[k] += chunk_grads[(size_t)chunk * nw + k];
    free(chunk_grads);
    return RD_OK;
}
