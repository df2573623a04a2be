/* hashgrid.c: the encoding on the CPU, its specification (hashgrid.h). */
#include "hashgrid.h"
#include "../renderer/cpu/parallel.h"
#include "../renderer/random.h"

#include <math.h>
#include <string.h>

rd_result rd_hashgrid_make(rd_context *ctx, const rd_hashgrid_desc *desc, rd_hashgrid *out)
{
    rd_hashgrid_desc d = desc ? *desc : (rd_hashgrid_desc){0};
    int levels = d.levels ? d.levels : 16, features = d.features ? d.features : 2, log2_table = d.log2_table_size ? d.log2_table_size : 19;
    float base = d.base_resolution != 0.0f ? d.base_resolution : 16.0f;
    float finest = d.finest_resolution != 0.0f ? d.finest_resolution : 2048.0f;
    memset(out, 0, sizeof *out);
    if (levels < 1 || levels > RD_HASHGRID_MAX_LEVELS)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "hash grid: levels %d is out of range (1..%d)", levels, RD_HASHGRID_MAX_LEVELS);
    if (features != 1 && features != 2 && features != 4 && features != 8)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "hash grid: features %d a level (1, 2, 4 or 8)", features);
    if (log2_table < 4 || log2_table > 24)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "hash grid: log2_table_size %d is out of range (4..24)", log2_table);
    if (!(base >= 2.0f && base <= 65536.0f))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "hash grid: base_resolution %g is out of range (2..65536)", base);
    if (!(finest >= base && finest <= 1048576.0f))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "hash grid: finest_resolution %g is out of range (base_resolution %g..1048576)",
                       finest, base);
    out->levels = levels, out->features = features, out->table_size = 1u << log2_table;
    out->growth = levels > 1 ? expf(logf(finest / base) / (float)(levels - 1)) : 1.0f;
    uint64_t offset = 0;
    for (int l = 0; l < levels; l++) {
        out->scale[l] = base * powf(out->growth, (float)l) - 1.0f;
        out->resolution[l] = (uint32_t)ceilf(out->scale[l]) + 1u;
        uint64_t r = out->resolution[l], dense = (r * r * r + 7u) / 8u * 8u;
        out->size[l] = dense <= out->table_size ? (uint32_t)dense : out->table_size;
        if (dense <= out->table_size) out->dense_levels |= 1u << l;
        out->offset[l] = (uint32_t)offset;
        offset += out->size[l];
    }
    out->entries = (int64_t)offset;
    return RD_OK;
}

void rd_hashgrid_init(const rd_hashgrid *g, uint64_t seed, float *params)
{
    rd_rng rng = {seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
    for (int64_t i = 0; i < g->entries * g->features; i++) params[i] = (rd_rng_uniform(&rng) * 2.0f - 1.0f) * 1e-4f;
}

/* The 8 corners of point p's cell on level l: their entries (absolute) and weights; each
   axis's slope, 0 where the coordinate is out of range (rd_hashgrid_locate), into slope. */
static void corners(const rd_hashgrid *g, int l, const float p[3], uint32_t entry[8], float weight[8], float fraction[3],
                    float slope[3])
{
    uint32_t low[3];
    for (int d = 0; d < 3; d++) slope[d] = rd_hashgrid_locate(g, l, p[d], &low[d], &fraction[d]) ? g->scale[l] : 0.0f;
    for (int c = 0; c < 8; c++) {
        entry[c] = g->offset[l] + rd_hashgrid_index(g, l, low[0] + (c & 1), low[1] + (c >> 1 & 1), low[2] + (c >> 2 & 1));
        weight[c] = rd_hashgrid_weight(c, fraction);
    }
}

typedef struct forward_job {
    const rd_hashgrid *g;
    const float *params, *positions;
    float *features;
} forward_job;

static void forward_points(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const forward_job *j = user;
    const rd_hashgrid *g = j->g;
    int F = g->features, row = g->levels * F;
    for (int64_t i = begin; i < end; i++)
        for (int l = 0; l < g->levels; l++) {
            uint32_t entry[8];
            float weight[8], fraction[3], slope[3], sum[RD_HASHGRID_MAX_FEATURES] = {0};
            corners(g, l, j->positions + 3 * i, entry, weight, fraction, slope);
            for (int c = 0; c < 8; c++)
                for (int f = 0; f < F; f++) sum[f] += weight[c] * j->params[(size_t)entry[c] * (size_t)F + (size_t)f];
            memcpy(j->features + i * row + l * F, sum, (size_t)F * sizeof(float));
        }
}

void rd_hashgrid_forward(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions, int64_t n,
                         float *features)
{
    forward_job job = {g, params, positions, features};
    rd_parallel_for(ctx->threads, n, 4096, forward_points, &job);
}

typedef struct backward_job {
    const rd_hashgrid *g;
    const float *params, *positions, *grad_features;
    int64_t n;
    float *grad_params, *grad_positions;
} backward_job;

/* The table's gradients, one level a task: each level's entries are its own, so the sums
   run in point order whatever the threads. */
static void backward_levels(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const backward_job *j = user;
    const rd_hashgrid *g = j->g;
    int F = g->features, row = g->levels * F;
    for (int l = (int)begin; l < (int)end; l++)
        for (int64_t i = 0; i < j->n; i++) {
            uint32_t entry[8];
            float weight[8], fraction[3], slope[3];
            const float *grad = j->grad_features + i * row + l * F;
            corners(g, l, j->positions + 3 * i, entry, weight, fraction, slope);
            for (int c = 0; c < 8; c++)
                for (int f = 0; f < F; f++) j->grad_params[(size_t)entry[c] * (size_t)F + (size_t)f] += weight[c] * grad[f];
        }
}

/* Each position's gradient: d feature / d p_d = scale * sum over corners of the entry
   times d weight / d fraction_d (0 on an axis whose coordinate is out of range). */
static void backward_positions(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    const backward_job *j = user;
    const rd_hashgrid *g = j->g;
    int F = g->features, row = g->levels * F;
    for (int64_t i = begin; i < end; i++) {
        float sum[3] = {0.0f, 0.0f, 0.0f};
        for (int l = 0; l < g->levels; l++) {
            uint32_t entry[8];
            float weight[8], fraction[3], slope[3];
            const float *grad = j->grad_features + i * row + l * F;
            corners(g, l, j->positions + 3 * i, entry, weight, fraction, slope);
            for (int c = 0; c < 8; c++) {
                float dot = 0.0f; /* the entry against the point's feature gradient */
                for (int f = 0; f < F; f++) dot += j->params[(size_t)entry[c] * (size_t)F + (size_t)f] * grad[f];
                for (int d = 0; d < 3; d++) sum[d] += slope[d] * rd_hashgrid_weight_slope(c, d, fraction) * dot;
            }
        }
        memcpy(j->grad_positions + 3 * i, sum, sizeof sum);
    }
}

void rd_hashgrid_backward(rd_context *ctx, const rd_hashgrid *g, const float *params, const float *positions, int64_t n,
                          const float *grad_features, float *grad_params, float *grad_positions)
{
    backward_job job = {g, params, positions, grad_features, n, grad_params, grad_positions};
    if (grad_params) rd_parallel_for(ctx->threads, g->levels, 1, backward_levels, &job);
    if (grad_positions) rd_parallel_for(ctx->threads, n, 4096, backward_positions, &job);
}
