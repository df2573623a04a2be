/* feature_train.c: learning a feature field over a frozen Gaussian scene (spec/features.md,
   "Training (V2)"), on the CPU. A step: slots from the logits (top K, softmax over them),
   the view's coefficient maps W (feature_cpu.c), the cosine loss against the targets with
   its gradients dL/dW and dL/dD, the blend's backward pass to the slot weights, the
   softmax's to the logits, then Adam on logits and codebooks.

   The loss runs over pixels in chunks: first per pixel (in parallel) F = D^T W, its cosine
   with the target and dL/dF, dL/dW = D dL/dF; then per codebook entry (in parallel, each
   entry's row owned by one worker) dL/dD += W dL/dF over the chunk. Every sum has a fixed
   order, so a seed repeats a run bit for bit whatever the thread count.

   On CUDA (feature_train_cuda.cu) the same stages run on the device, where the state stays;
   the host's arrays are brought up to date where they are read (a field, a checkpoint). */
#include "feature_trainer.h"
#include "../compress/kmeans.h"
#include "../renderer/cpu/parallel.h"
#include "../train/adam.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 1024, KMEANS_ROWS = 100000 };


/* ---- slots from logits ---------------------------------------------------------------- */

static void choose_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    rd_feature_trainer *t = user;
    int L = t->L, K = t->K;
    for (int64_t g = begin; g < end; g++) {
        const float *l = t->logits + g * L;
        uint8_t *idx = t->indices + g * K;
        bool taken[RD_FEATURE_MAX_CODEBOOK] = {false};
        for (int k = 0; k < K; k++) { /* the largest remaining, the lowest entry on a tie */
            int best = -1;
            for (int c = 0; c < L; c++)
                if (!taken[c] && (best < 0 || l[c] > l[best])) best = c;
            taken[best] = true;
        }
        int k = 0;
        for (int c = 0; c < L; c++)
            if (taken[c]) idx[k++] = (uint8_t)c;
        float top = -INFINITY, sum = 0.0f;
        for (k = 0; k < K; k++) top = fmaxf(top, l[idx[k]]);
        for (k = 0; k < K; k++) sum += t->weights[g * K + k] = expf(l[idx[k]] - top);
        for (k = 0; k < K; k++) t->weights[g * K + k] /= sum;
    }
}

static void choose_slots(rd_feature_trainer *t)
{
    rd_parallel_for(t->ctx->threads, t->count * t->levels, 1024, choose_range, t);
}

/* dL/dl_k = w_k (g_k - sum_j w_j g_j) for the chosen K; the other logits get 0. */
static void logit_gradients(rd_feature_trainer *t)
{
    int L = t->L, K = t->K;
    memset(t->logit_grad, 0, (size_t)(t->count * t->levels * L) * sizeof(float));
    for (int64_t g = 0; g < t->count * t->levels; g++) {
        const float *w = t->weights + g * K, *dw = t->weight_grad + g * K;
        float mean = 0.0f;
        for (int k = 0; k < K; k++) mean += w[k] * dw[k];
        for (int k = 0; k < K; k++) t->logit_grad[g * L + t->indices[g * K + k]] = w[k] * (dw[k] - mean);
    }
}

/* ---- the loss ----------------------------------------------------------------------------- */

typedef struct loss_job {
    rd_feature_trainer *t;
    const rd_feature_view *view;
    int64_t pixels, first; /* the chunk's first pixel */
    int64_t chunk;
} loss_job;

/* The pixel's target at a level, or NULL where it has none. */
static const float *target_of(const loss_job *j, int level, int64_t p)
{
    const rd_feature_view *v = j->view;
    int dim = j->t->dim;
    if (v->masks) {
        int32_t row = v->masks[(int64_t)level * j->pixels + p];
        return row >= 0 ? v->mask_features + (size_t)row * dim : NULL;
    }
    const float *f = v->features + ((size_t)level * j->pixels + p) * dim;
    for (int d = 0; d < dim; d++)
        if (f[d] != 0.0f) return f;
    return NULL;
}

static void pixel_losses(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const loss_job *j = user;
    rd_feature_trainer *t = j->t;
    int L = t->L, dim = t->dim, row = t->levels * L;
    double scale = 1.0 / ((double)j->pixels * t->levels);
    for (int64_t q = begin; q < end; q++) {
        int64_t p = j->first + q;
        for (int l = 0; l < t->levels; l++) {
            float *dF = t->dF + ((size_t)q * t->levels + l) * dim, *dW = t->W_grad + (size_t)p * row + l * L;
            const float *W = t->W + (size_t)p * row + l * L, *D = t->codebooks + (size_t)l * L * dim, *f = target_of(j, l, p);
            t->pixel_loss[q * t->levels + l] = 0.0f;
            memset(dF, 0, (size_t)dim * sizeof(float));
            memset(dW, 0, (size_t)L * sizeof(float));
            if (!f) continue;
            for (int c = 0; c < L; c++)
                for (int d = 0; d < dim && W[c] != 0.0f; d++) dF[d] += W[c] * D[(size_t)c * dim + d];
            double FF = 0.0, ff = 0.0, Ff = 0.0;
            for (int d = 0; d < dim; d++) FF += (double)dF[d] * dF[d], ff += (double)f[d] * f[d], Ff += (double)dF[d] * f[d];
            double nF = sqrt(FF), nf = sqrt(ff);
            if (nF < 1e-12 || nf < 1e-12) { /* no direction to compare: cosine 0, no gradient */
                memset(dF, 0, (size_t)dim * sizeof(float));
                continue;
            }
            double cosine = Ff / (nF * nf);
            t->pixel_loss[q * t->levels + l] = (float)cosine;
            /* d(-cos)/dF = -(f / (|F||f|) - cos F / |F|^2), times the mean's scale */
            for (int d = 0; d < dim; d++) dF[d] = (float)(-scale * ((double)f[d] / (nF * nf) - cosine * dF[d] / FF));
            for (int c = 0; c < L; c++) {
                /* an entry no Gaussian here adds to (W 0: every weight is positive) is read by no
                   slot of this pixel's backward pass but one of weight 0, whose logits' gradient
                   is w (g - mean) = 0 */
                if (W[c] == 0.0f) continue;
                float s = 0.0f;
                for (int d = 0; d < dim; d++) s += D[(size_t)c * dim + d] * dF[d];
                dW[c] = s;
            }
        }
    }
}

static void codebook_gradients(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const loss_job *j = user;
    rd_feature_trainer *t = j->t;
    int L = t->L, dim = t->dim, row = t->levels * L;
    for (int64_t e = begin; e < end; e++) { /* entry e = level*L + c */
        int l = (int)(e / L);
        float *g = t->code_grad + (size_t)e * dim;
        for (int64_t q = 0; q < j->chunk; q++) {
            float w = t->W[(size_t)(j->first + q) * row + e];
            if (w == 0.0f) continue;
            const float *dF = t->dF + ((size_t)q * t->levels + l) * dim;
            for (int d = 0; d < dim; d++) g[d] += w * dF[d];
        }
    }
}

/* The view's loss; W_grad and code_grad get its gradients (code_grad zeroed first). */
static double view_loss(rd_feature_trainer *t, const rd_feature_view *view)
{
    loss_job j = {.t = t, .view = view, .pixels = (int64_t)view->camera.width * view->camera.height};
    memset(t->code_grad, 0, (size_t)t->levels * t->L * t->dim * sizeof(float));
    double cosines = 0.0;
    int threads = t->ctx->threads;
    for (j.first = 0; j.first < j.pixels; j.first += CHUNK) {
        j.chunk = j.pixels - j.first < CHUNK ? j.pixels - j.first : CHUNK;
        rd_parallel_for(threads, j.chunk, 16, pixel_losses, &j);
        rd_parallel_for(threads, (int64_t)t->levels * t->L, 1, codebook_gradients, &j);
        for (int64_t q = 0; q < j.chunk * t->levels; q++) cosines += t->pixel_loss[q];
    }
    return 1.0 - cosines / ((double)j.pixels * t->levels);
}

/* ---- the trainer ---------------------------------------------------------------------------- */

rd_result rd_feature_trainer_gradients(rd_feature_trainer *t, int view_index, double *loss)
{
#ifdef RD_HAVE_CUDA
    if (t->cuda) { /* the gradients to the host, for the tests */
        rd_result r = rd_feature_train_cuda_gradients(t, view_index, loss);
        return r == RD_OK ? rd_feature_train_cuda_sync(t, true, true) : r;
    }
#endif
    const rd_feature_view *view = &t->desc.views[view_index];
    choose_slots(t);
    rd_feature_slots slots = {.count = t->count, .levels = t->levels, .L = t->L, .K = t->K, .indices = t->indices,
                              .weights = t->weights};
    rd_view_params vp;
    rd_view_params_init(&vp, &view->camera, &(rd_render_desc){0}, t->scene);
    rd_cpu_frame frame;
    rd_result r = rd_cpu_frame_prepare(t->ctx, t->scene, &vp, &frame, NULL);
    if (r != RD_OK) return r;
    r = rd_feature_coefficients_cpu(t->ctx, &frame, &slots, t->W, NULL);
    if (r == RD_OK) {
        *loss = view_loss(t, view);
        memset(t->weight_grad, 0, (size_t)(t->count * t->levels * t->K) * sizeof(float));
        r = rd_feature_coefficients_backward_cpu(t->ctx, &frame, &slots, t->W_grad, t->weight_grad);
    }
    rd_cpu_frame_free(&frame);
    if (r == RD_OK) logit_gradients(t);
    return r;
}

static rd_result one_step(rd_feature_trainer *t, double *loss)
{
    int view = (int)(rd_rng_next(&t->rng) % (uint64_t)t->desc.view_count);
#ifdef RD_HAVE_CUDA
    if (t->cuda) {
        rd_result r = rd_feature_train_cuda_gradients(t, view, loss);
        t->step += r == RD_OK;
        return r == RD_OK ? rd_feature_train_cuda_adam(t) : r;
    }
#endif
    rd_result r = rd_feature_trainer_gradients(t, view, loss);
    if (r != RD_OK) return r;
    t->step++;
    rd_adam_step_desc adam = {.lr = t->desc.lr, .step = t->step, .threads = t->ctx->threads};
    rd_adam_update(t->logits, t->logit_grad, t->logit_m, t->logit_v, (size_t)(t->count * t->levels * t->L), &adam);
    rd_adam_update(t->codebooks, t->code_grad, t->code_m, t->code_v, (size_t)t->levels * t->L * t->dim, &adam);
    return RD_OK;
}

rd_result rd_feature_trainer_step(rd_feature_trainer *t, int steps, rd_train_stats *stats)
{
    if (!t || steps < 0) return rd_fail(t ? t->ctx : NULL, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_step: no trainer, or steps < 0");
    double sum = 0.0;
    for (int s = 0; s < steps; s++) {
        double loss = 0.0;
        rd_result r = one_step(t, &loss);
        if (r != RD_OK) return r;
        sum += loss;
    }
    if (stats) *stats = (rd_train_stats){.iteration = t->step, .loss = steps ? sum / steps : 0.0, .gaussians = t->count};
    return RD_OK;
}

rd_result rd_feature_trainer_sync(rd_feature_trainer *t, bool to_host)
{
#ifdef RD_HAVE_CUDA
    if (t->cuda) return rd_feature_train_cuda_sync(t, to_host, false);
#endif
    (void)t, (void)to_host;
    return RD_OK;
}

rd_result rd_feature_trainer_field(rd_feature_trainer *t, rd_feature_field **out)
{
    if (!t || !out) return rd_fail(t ? t->ctx : NULL, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_field: trainer or out is NULL");
    rd_result r = rd_feature_trainer_sync(t, true);
    if (r != RD_OK) return r;
    choose_slots(t);
    rd_feature_field_desc fd = {.count = t->count, .levels = t->levels, .codebook_size = t->L, .slots = t->K, .dim = t->dim,
                                .indices = t->indices, .weights = t->weights, .codebooks = t->codebooks};
    return rd_feature_field_create(t->ctx, &fd, out);
}

/* Why view k cannot be trained on, or RD_OK. */
static rd_result check_view(rd_context *ctx, const rd_feature_trainer_desc *d, int levels, int k)
{
    const rd_feature_view *v = &d->views[k];
    char why[256];
    const char *problem = rd_camera_problem(&v->camera, why, sizeof why);
    if (problem) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: view %d: camera: %s", k, problem);
    if (!v->masks == !v->features)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: view %d: give either masks or features", k);
    int64_t pixels = (int64_t)v->camera.width * v->camera.height;
    if (v->features) {
        for (int64_t c = 0; c < levels * pixels * d->dim; c++)
            if (!isfinite(v->features[c]))
                return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: view %d: feature map value %lld is not finite", k,
                               (long long)c);
        return RD_OK;
    }
    if (!v->mask_features || v->mask_count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: view %d: masks without mask_features", k);
    for (int64_t p = 0; p < levels * pixels; p++)
        if (v->masks[p] < -1 || v->masks[p] >= v->mask_count)
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: view %d, level %d, pixel %lld: mask %d is past its %d "
                           "mask features", k, (int)(p / pixels) + 1, (long long)(p % pixels), v->masks[p], v->mask_count);
    for (int64_t c = 0; c < (int64_t)v->mask_count * d->dim; c++)
        if (!isfinite(v->mask_features[c]))
            return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: view %d: mask feature %lld is not finite", k,
                           (long long)(c / d->dim));
    return RD_OK;
}

/* The targets k-means starts the codebooks from: every mask feature of every view (the
   spec's init), or for feature maps every pixel's target, at most KMEANS_ROWS of them
   taken at an even stride. rows: NULL to count them. */
static int64_t initial_rows(const rd_feature_trainer *t, float *rows, int64_t stride)
{
    int64_t n = 0, seen = 0;
    for (int k = 0; k < t->desc.view_count; k++) {
        const rd_feature_view *v = &t->desc.views[k];
        int64_t pixels = (int64_t)v->camera.width * v->camera.height;
        int64_t total = v->masks ? v->mask_count : t->levels * pixels;
        for (int64_t i = 0; i < total; i++) {
            const float *f = v->masks ? v->mask_features + (size_t)i * t->dim : v->features + (size_t)i * t->dim;
            bool any = v->masks != NULL;
            for (int d = 0; !any && d < t->dim; d++) any = f[d] != 0.0f;
            if (!any || seen++ % stride) continue;
            if (rows) memcpy(rows + (size_t)n * t->dim, f, (size_t)t->dim * sizeof(float));
            n++;
        }
    }
    return n;
}

static rd_result init_codebooks(rd_feature_trainer *t)
{
    int64_t all = initial_rows(t, NULL, 1), stride = all > KMEANS_ROWS ? (all + KMEANS_ROWS - 1) / KMEANS_ROWS : 1;
    int64_t n = all / stride + 1;
    float *rows = rd_alloc_array(n * t->dim, sizeof(float)), *centroids = rd_alloc_array((int64_t)t->L * t->dim, sizeof(float));
    int32_t *labels = rd_alloc_array(n, sizeof(int32_t));
    int found = -1;
    if (rows && centroids && labels) {
        n = initial_rows(t, rows, stride);
        found = n > 0 ? rd_kmeans(rows, n, t->dim, t->L, t->ctx->threads, centroids, labels) : 0;
    }
    for (int c = found > 0 ? found : 0; found >= 0 && c < t->L; c++) /* fewer targets than entries: small random ones */
        for (int d = 0; d < t->dim; d++) centroids[(size_t)c * t->dim + d] = 0.01f * rd_rng_normal(&t->rng);
    for (int l = 0; found >= 0 && l < t->levels; l++)
        memcpy(t->codebooks + (size_t)l * t->L * t->dim, centroids, (size_t)t->L * t->dim * sizeof(float));
    free(rows), free(centroids), free(labels);
    return found >= 0 ? RD_OK : rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "feature trainer: out of memory for k-means of %lld targets",
                                        (long long)all);
}

rd_result rd_feature_trainer_create(rd_context *ctx, const rd_scene *scene, const rd_feature_trainer_desc *desc,
                                    rd_feature_trainer **out)
{
    if (!ctx || !out || !desc) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: ctx, desc or out is NULL");
    *out = NULL;
    if (!rd_is_gaussians(scene) || scene->head.memory != RD_MEMORY_HOST)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: the scene is not a 3D Gaussian scene in host memory");
    if (ctx->backend == RD_BACKEND_VULKAN)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_feature_trainer_create: feature fields train on the CPU and CUDA backends, not %s",
                       rd_backend_name(ctx->backend));
    int levels = desc->levels ? desc->levels : 3, L = desc->codebook_size ? desc->codebook_size : 64;
    int K = desc->slots ? desc->slots : (L < 4 ? L : 4);
    char why[256];
    if (rd_feature_config_problem(levels, L, K, desc->dim, why, sizeof why))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: %s", why);
    if (!desc->views || desc->view_count < 1)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_feature_trainer_create: no views");
    int64_t largest = 0;
    for (int k = 0; k < desc->view_count; k++) {
        rd_result r = check_view(ctx, desc, levels, k);
        if (r != RD_OK) return r;
        int64_t pixels = (int64_t)desc->views[k].camera.width * desc->views[k].camera.height;
        largest = pixels > largest ? pixels : largest;
    }
    rd_feature_trainer *t = calloc(1, sizeof *t);
    if (!t) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "feature trainer: out of memory");
    *t = (rd_feature_trainer){.ctx = ctx, .scene = scene, .desc = *desc, .levels = levels, .L = L, .K = K, .dim = desc->dim,
                              .count = scene->count, .rng = {desc->seed * 0x9E3779B97F4A7C15ull + 1}};
    if (t->desc.lr <= 0.0f) t->desc.lr = 2.5e-3f;
    int64_t logits = t->count * levels * L, values = (int64_t)levels * L * t->dim, slots = t->count * levels * K;
    float **per_logit[] = {&t->logits, &t->logit_m, &t->logit_v, &t->logit_grad};
    float **per_value[] = {&t->codebooks, &t->code_m, &t->code_v, &t->code_grad};
    bool ok = true;
    for (int k = 0; k < 4; k++) {
        ok &= (*per_logit[k] = rd_alloc_array(logits + 1, sizeof(float))) != NULL;
        ok &= (*per_value[k] = rd_alloc_array(values, sizeof(float))) != NULL;
        if (ok) memset(*per_logit[k], 0, (size_t)logits * sizeof(float)), memset(*per_value[k], 0, (size_t)values * sizeof(float));
    }
    ok &= (t->indices = rd_alloc_array(slots + 1, 1)) != NULL;
    ok &= (t->weights = rd_alloc_array(slots + 1, sizeof(float))) != NULL;
    ok &= (t->weight_grad = rd_alloc_array(slots + 1, sizeof(float))) != NULL;
    ok &= (t->W = rd_alloc_array(largest * levels * L, sizeof(float))) != NULL;
    ok &= (t->W_grad = rd_alloc_array(largest * levels * L, sizeof(float))) != NULL;
    ok &= (t->dF = rd_alloc_array((int64_t)CHUNK * levels * t->dim, sizeof(float))) != NULL;
    ok &= (t->pixel_loss = rd_alloc_array((int64_t)CHUNK * levels, sizeof(float))) != NULL;
    rd_result r = ok ? init_codebooks(t)
                     : rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "feature trainer: out of memory for %lld Gaussians", (long long)t->count);
#ifdef RD_HAVE_CUDA
    if (r == RD_OK && ctx->backend == RD_BACKEND_CUDA) r = rd_feature_train_cuda_create(t);
#endif
    if (r != RD_OK) {
        rd_feature_trainer_destroy(t);
        return r;
    }
    *out = t;
    return RD_OK;
}

void rd_feature_trainer_destroy(rd_feature_trainer *t)
{
    if (!t) return;
#ifdef RD_HAVE_CUDA
    rd_feature_train_cuda_destroy(t);
#endif
    float *arrays[] = {t->logits, t->logit_m, t->logit_v, t->logit_grad, t->codebooks, t->code_m, t->code_v, t->code_grad,
                       t->weights, t->weight_grad, t->W, t->W_grad, t->dF, t->pixel_loss};
    for (size_t k = 0; k < sizeof arrays / sizeof arrays[0]; k++) free(arrays[k]);
    free(t->indices);
    free(t);
}
