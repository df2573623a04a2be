/* field.c: the NeRF's field on the CPU (field.h). */
#include "field.h"
#include "direction.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { DENSITY_OUTPUTS = 16 };

/* exp's argument within +-15 (a NaN stays NaN, and says so downstream) */
static float clamped_exp_argument(float x) { return isnan(x) ? x : fminf(fmaxf(x, -15.0f), 15.0f); }

rd_result rd_nerf_field_make(rd_context *ctx, const rd_nerf_field_desc *desc, rd_nerf_field *out)
{
    rd_nerf_field_desc d = desc ? *desc : (rd_nerf_field_desc){0};
    int width = d.width ? d.width : 64;
    memset(out, 0, sizeof *out);
    rd_result r = rd_hashgrid_make(ctx, &d.grid, &out->grid);
    int features = out->grid.levels * out->grid.features;
    if (r == RD_OK) r = rd_mlp_make(ctx, &(rd_mlp_desc){features, width, 1, DENSITY_OUTPUTS}, &out->density);
    if (r == RD_OK)
        r = rd_mlp_make(ctx, &(rd_mlp_desc){DENSITY_OUTPUTS + RD_DIRECTION_VALUES, width, 2, 3}, &out->colour);
    if (r == RD_OK && d.saliency_resolution) r = rd_saliency_make(ctx, d.saliency_resolution, &out->saliency);
    if (r == RD_OK && !(d.gate_sharpness >= 0.0f && d.gate_sharpness <= 1e9f))
        r = rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF field: gate_sharpness %g is out of range", d.gate_sharpness);
    if (r != RD_OK) return r;
    out->gate_sharpness = d.gate_sharpness > 0.0f ? d.gate_sharpness : 1000.0f;
    out->density_offset = out->grid.entries * out->grid.features;
    out->colour_offset = out->density_offset + rd_mlp_weights(&out->density);
    out->saliency_offset = out->colour_offset + rd_mlp_weights(&out->colour);
    out->params = out->saliency_offset + (out->saliency.resolution ? rd_saliency_cells(&out->saliency) : 0);
    return RD_OK;
}

void rd_nerf_field_init(const rd_nerf_field *f, uint64_t seed, float *params)
{
    rd_hashgrid_init(&f->grid, seed, params);
    rd_mlp_init(&f->density, seed + 1, params + f->density_offset);
    rd_mlp_init(&f->colour, seed + 2, params + f->colour_offset);
    if (f->saliency.resolution) rd_saliency_init(&f->saliency, 1.0f, params + f->saliency_offset);
}

rd_result rd_nerf_field_scratch_alloc(rd_context *ctx, const rd_nerf_field *f, int64_t capacity, rd_nerf_field_scratch *out)
{
    memset(out, 0, sizeof *out);
    out->capacity = capacity;
    size_t n = (size_t)(capacity > 0 ? capacity : 1);
    out->features = malloc(sizeof(float) * n * (size_t)f->density.inputs);
    out->density_hidden = malloc(sizeof(float) * n * (size_t)f->density.width);
    out->density_out = malloc(sizeof(float) * n * DENSITY_OUTPUTS);
    out->colour_in = malloc(sizeof(float) * n * (size_t)f->colour.inputs);
    out->colour_hidden = malloc(sizeof(float) * n * 2 * (size_t)f->colour.width);
    out->colour_out = malloc(sizeof(float) * n * 3);
    bool masked = f->saliency.resolution > 0;
    if (masked) out->hash_features = malloc(sizeof(float) * n * (size_t)f->density.inputs), out->keep = malloc(sizeof(float) * n);
    if (out->features && out->density_hidden && out->density_out && out->colour_in && out->colour_hidden && out->colour_out &&
        (!masked || (out->hash_features && out->keep)))
        return RD_OK;
    rd_nerf_field_scratch_free(out);
    return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF field: cannot hold the scratch of %lld points", (long long)capacity);
}

void rd_nerf_field_scratch_free(rd_nerf_field_scratch *s)
{
    free(s->features), free(s->density_hidden), free(s->density_out), free(s->colour_in), free(s->colour_hidden), free(s->colour_out);
    free(s->hash_features), free(s->keep);
    memset(s, 0, sizeof *s);
}

/* The density network's input at n points into s->features: the hash features, through
   the mask where there is one (the features before it kept in s->hash_features). */
static void encode(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, int64_t n,
                   rd_nerf_field_scratch *s)
{
    if (!f->saliency.resolution) {
        rd_hashgrid_forward(ctx, &f->grid, params, positions, n, s->features);
        return;
    }
    int k = f->density.inputs;
    rd_hashgrid_forward(ctx, &f->grid, params, positions, n, s->hash_features);
    rd_saliency_forward(&f->saliency, params + f->saliency_offset, positions, n, s->keep);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < k; j++) s->features[i * k + j] = s->keep[i] * s->hash_features[i * k + j];
}

/* The density gate tanh(alpha |v|) of point i's masked features (1 without a mask). */
static float gate_of(const rd_nerf_field *f, const rd_nerf_field_scratch *s, int64_t i)
{
    if (!f->saliency.resolution) return 1.0f;
    int k = f->density.inputs;
    float sum = 0.0f;
    for (int j = 0; j < k; j++) sum += s->features[i * k + j] * s->features[i * k + j];
    return tanhf(f->gate_sharpness * sqrtf(sum));
}

static float density_of(const rd_nerf_field *f, const rd_nerf_field_scratch *s, int64_t i)
{
    return expf(clamped_exp_argument(s->density_out[i * DENSITY_OUTPUTS])) * gate_of(f, s, i);
}

void rd_nerf_field_forward(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, const float *dirs,
                           int64_t n, rd_nerf_field_scratch *s, float *sigma, float *rgb)
{
    encode(ctx, f, params, positions, n, s);
    rd_mlp_forward(ctx, &f->density, params + f->density_offset, s->features, n, s->density_out, s->density_hidden);
    int in = f->colour.inputs;
    for (int64_t i = 0; i < n; i++) {
        memcpy(s->colour_in + i * in, s->density_out + i * DENSITY_OUTPUTS, sizeof(float) * DENSITY_OUTPUTS);
        rd_direction_encode(dirs + 3 * i, s->colour_in + i * in + DENSITY_OUTPUTS);
        sigma[i] = density_of(f, s, i);
    }
    rd_mlp_forward(ctx, &f->colour, params + f->colour_offset, s->colour_in, n, s->colour_out, s->colour_hidden);
    for (int64_t i = 0; i < 3 * n; i++) rgb[i] = 1.0f / (1.0f + expf(-s->colour_out[i]));
}

void rd_nerf_field_density(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, int64_t n,
                           rd_nerf_field_scratch *s, float *sigma)
{
    encode(ctx, f, params, positions, n, s);
    rd_mlp_forward(ctx, &f->density, params + f->density_offset, s->features, n, s->density_out, NULL);
    for (int64_t i = 0; i < n; i++) sigma[i] = density_of(f, s, i);
}

/* The mask's part of the backward pass, g_features the gradient of the masked features v
   (from the density network), g_sigma the densities': adds the gate's term to it, gives
   the mask's logits theirs, and turns it into the hash features' (g_features * p). */
static rd_result mask_backward(rd_context *ctx, const rd_nerf_field *f, const float *positions, int64_t n,
                               const rd_nerf_field_scratch *s, const float *g_sigma, float *g_features, float *grad_params)
{
    int k = f->density.inputs;
    float *g_keep = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!g_keep) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF field backward: cannot hold the mask's gradient");
    for (int64_t i = 0; i < n; i++) {
        const float *v = s->features + i * k;
        float *g = g_features + i * k, norm = 0.0f;
        for (int j = 0; j < k; j++) norm += v[j] * v[j];
        norm = sqrtf(norm);
        float gate = tanhf(f->gate_sharpness * norm);
        if (norm > 0.0f) { /* d sigma / d v = exp(...) alpha (1 - gate^2) v / |v| */
            float e = expf(clamped_exp_argument(s->density_out[i * DENSITY_OUTPUTS]));
            float coef = g_sigma[i] * e * f->gate_sharpness * (1.0f - gate * gate) / norm;
            for (int j = 0; j < k; j++) g[j] += coef * v[j];
        }
        /* a pruned point (keep below RD_SALIENCY_PRUNED_KEEP, what the snapshot drops) sends the
           table nothing: entries only pruned cells reach are left alone by Adam, and those it
           shares with kept cells follow the kept ones (HollowNeRF); its mask logit still learns */
        float dot = 0.0f, pass = s->keep[i] < RD_SALIENCY_PRUNED_KEEP ? 0.0f : s->keep[i];
        for (int j = 0; j < k; j++) dot += s->hash_features[i * k + j] * g[j], g[j] *= pass;
        g_keep[i] = dot;
    }
    rd_saliency_backward(&f->saliency, positions, n, s->keep, g_keep, grad_params + f->saliency_offset);
    free(g_keep);
    return RD_OK;
}

rd_result rd_nerf_field_backward(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, int64_t n,
                                 rd_nerf_field_scratch *s, const float *g_sigma, const float *g_rgb, float *grad_params)
{
    if (n > s->capacity)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF field backward: %lld points, the scratch holds %lld", (long long)n,
                       (long long)s->capacity);
    int in = f->colour.inputs;
    float *g_colour_out = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * 3);
    float *g_colour_in = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * (size_t)in);
    float *g_density_out = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * DENSITY_OUTPUTS);
    float *g_features = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1) * (size_t)f->density.inputs);
    rd_result r = g_colour_out && g_colour_in && g_density_out && g_features
                      ? RD_OK
                      : rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF field backward: cannot hold the gradients of %lld points",
                                (long long)n);
    for (int64_t i = 0; r == RD_OK && i < 3 * n; i++) {
        float y = 1.0f / (1.0f + expf(-s->colour_out[i]));
        g_colour_out[i] = g_rgb[i] * y * (1.0f - y);
    }
    if (r == RD_OK)
        r = rd_mlp_backward(ctx, &f->colour, params + f->colour_offset, s->colour_in, n, s->colour_hidden, g_colour_out,
                            grad_params + f->colour_offset, g_colour_in);
    for (int64_t i = 0; r == RD_OK && i < n; i++) { /* the direction's part has no parameters behind it */
        memcpy(g_density_out + i * DENSITY_OUTPUTS, g_colour_in + i * in, sizeof(float) * DENSITY_OUTPUTS);
        /* the clamp's gradient as Instant-NGP takes it: exp of the clamped argument, never
           zero, so that a saturated density can still move back */
        g_density_out[i * DENSITY_OUTPUTS] +=
            g_sigma[i] * expf(clamped_exp_argument(s->density_out[i * DENSITY_OUTPUTS])) * gate_of(f, s, i);
    }
    if (r == RD_OK)
        r = rd_mlp_backward(ctx, &f->density, params + f->density_offset, s->features, n, s->density_hidden, g_density_out,
                            grad_params + f->density_offset, g_features);
    if (r == RD_OK && f->saliency.resolution) r = mask_backward(ctx, f, positions, n, s, g_sigma, g_features, grad_params);
    if (r == RD_OK) rd_hashgrid_backward(ctx, &f->grid, params, positions, n, g_features, grad_params, NULL);
    free(g_colour_out), free(g_colour_in), free(g_density_out), free(g_features);
    return r;
}
