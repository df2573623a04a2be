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
    if (r != RD_OK) return r;
    out->density_offset = out->grid.entries * out->grid.features;
    out->colour_offset = out->density_offset + rd_mlp_weights(&out->density);
    out->params = out->colour_offset + rd_mlp_weights(&out->colour);
    return RD_OK;
}

void rd_nerf_field_init(const rd_nerf_field *f, uint64_t seed, float *params)
{
    rd_hashgrid_init(&f->grid, seed, params);
    rd_mlp_init(&f->density, seed + 1, params + f->density_offset);
    rd_mlp_init(&f->colour, seed + 2, params + f->colour_offset);
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
    if (out->features && out->density_hidden && out->density_out && out->colour_in && out->colour_hidden && out->colour_out)
        return RD_OK;
    rd_nerf_field_scratch_free(out);
    return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF field: cannot hold the scratch of %lld points", (long long)capacity);
}

void rd_nerf_field_scratch_free(rd_nerf_field_scratch *s)
{
    free(s->features), free(s->density_hidden), free(s->density_out), free(s->colour_in), free(s->colour_hidden), free(s->colour_out);
    memset(s, 0, sizeof *s);
}

void rd_nerf_field_forward(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, const float *dirs,
                           int64_t n, rd_nerf_field_scratch *s, float *sigma, float *rgb)
{
    rd_hashgrid_forward(ctx, &f->grid, params, positions, n, s->features);
    rd_mlp_forward(ctx, &f->density, params + f->density_offset, s->features, n, s->density_out, s->density_hidden);
    int in = f->colour.inputs;
    for (int64_t i = 0; i < n; i++) {
        memcpy(s->colour_in + i * in, s->density_out + i * DENSITY_OUTPUTS, sizeof(float) * DENSITY_OUTPUTS);
        rd_direction_encode(dirs + 3 * i, s->colour_in + i * in + DENSITY_OUTPUTS);
        sigma[i] = expf(clamped_exp_argument(s->density_out[i * DENSITY_OUTPUTS]));
    }
    rd_mlp_forward(ctx, &f->colour, params + f->colour_offset, s->colour_in, n, s->colour_out, s->colour_hidden);
    for (int64_t i = 0; i < 3 * n; i++) rgb[i] = 1.0f / (1.0f + expf(-s->colour_out[i]));
}

void rd_nerf_field_density(rd_context *ctx, const rd_nerf_field *f, const float *params, const float *positions, int64_t n,
                           rd_nerf_field_scratch *s, float *sigma)
{
    rd_hashgrid_forward(ctx, &f->grid, params, positions, n, s->features);
    rd_mlp_forward(ctx, &f->density, params + f->density_offset, s->features, n, s->density_out, NULL);
    for (int64_t i = 0; i < n; i++) sigma[i] = expf(clamped_exp_argument(s->density_out[i * DENSITY_OUTPUTS]));
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
        g_density_out[i * DENSITY_OUTPUTS] += g_sigma[i] * expf(clamped_exp_argument(s->density_out[i * DENSITY_OUTPUTS]));
    }
    if (r == RD_OK)
        r = rd_mlp_backward(ctx, &f->density, params + f->density_offset, s->features, n, s->density_hidden, g_density_out,
                            grad_params + f->density_offset, g_features);
    if (r == RD_OK) rd_hashgrid_backward(ctx, &f->grid, params, positions, n, g_features, grad_params, NULL);
    free(g_colour_out), free(g_colour_in), free(g_density_out), free(g_features);
    return r;
}
