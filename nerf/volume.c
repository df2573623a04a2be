/* volume.c: volume rendering of a ray and its backward pass, one ray and batches of
   packed rays (volume.h). */
#include "volume.h"
#include "../renderer/cpu/parallel.h"

#include <stddef.h>

/* rd_march_sample is read as floats at stride 2 */
_Static_assert(sizeof(rd_march_sample) == 2 * sizeof(float) && offsetof(rd_march_sample, dt) == sizeof(float),
               "rd_march_sample is two floats");

void rd_volume_composite(const rd_ray_samples *s, const float background[3], rd_ray_colour *out)
{
    rd_volume_composite_ray(s->count, s->t, s->dt, 1, s->sigma, s->rgb, background, out->rgb, &out->alpha, &out->depth, &out->used);
}

void rd_volume_backward(const rd_ray_samples *s, const rd_ray_colour *forward, const float g_rgb[3],
                        float g_alpha, float g_depth, float *g_sigma, float *g_colour)
{
    rd_volume_backward_ray(s->count, s->t, s->dt, 1, s->sigma, s->rgb, forward->rgb, forward->alpha, forward->depth, forward->used,
                           g_rgb, g_alpha, g_depth, g_sigma, g_colour);
}

typedef struct rays_job {
    const int32_t *offset, *count;
    const rd_march_sample *samples;
    const float *sigma, *rgb, *background;
    float *out_rgb, *out_alpha, *out_depth; /* the forward's */
    int32_t *out_used;
    const float *fwd_rgb, *fwd_alpha, *fwd_depth; /* the backward's */
    const int32_t *fwd_used;
    const float *g_rgb, *g_alpha, *g_depth;
    float *g_sigma, *g_colour;
} rays_job;

static void composite_some(int64_t begin, int64_t end, int worker, void *user)
{
    const rays_job *j = user;
    static const float black[3] = {0.0f, 0.0f, 0.0f};
    for (int64_t r = begin; r < end; r++) {
        int64_t o = j->offset[r];
        const float *s = (const float *)(j->samples + o);
        int used;
        rd_volume_composite_ray(j->count[r], s, s + 1, 2, j->sigma + o, j->rgb + 3 * o, j->background ? j->background + 3 * r : black,
                                j->out_rgb + 3 * r, &j->out_alpha[r], &j->out_depth[r], &used);
        j->out_used[r] = used;
    }
}

static void backward_some(int64_t begin, int64_t end, int worker, void *user)
{
    const rays_job *j = user;
    for (int64_t r = begin; r < end; r++) {
        int64_t o = j->offset[r];
        const float *s = (const float *)(j->samples + o);
        rd_volume_backward_ray(j->count[r], s, s + 1, 2, j->sigma + o, j->rgb + 3 * o, j->fwd_rgb + 3 * r, j->fwd_alpha[r],
                               j->fwd_depth[r], j->fwd_used[r], j->g_rgb + 3 * r, j->g_alpha ? j->g_alpha[r] : 0.0f,
                               j->g_depth ? j->g_depth[r] : 0.0f, j->g_sigma + o, j->g_colour + 3 * o);
    }
}

void rd_volume_composite_rays(rd_context *ctx, int64_t rays, const int32_t *ray_offset, const int32_t *ray_count,
                              const rd_march_sample *samples, const float *sigma, const float *rgb, const float *background,
                              float *out_rgb, float *out_alpha, float *out_depth, int32_t *out_used)
{
    rays_job j = {ray_offset, ray_count, samples, sigma, rgb, background, out_rgb, out_alpha, out_depth, out_used};
    rd_parallel_for(ctx->threads, rays, 256, composite_some, &j);
}

void rd_volume_backward_rays(rd_context *ctx, int64_t rays, const int32_t *ray_offset, const int32_t *ray_count,
                             const rd_march_sample *samples, const float *sigma, const float *rgb, const float *fwd_rgb,
                             const float *fwd_alpha, const float *fwd_depth, const int32_t *fwd_used, const float *g_rgb,
                             const float *g_alpha, const float *g_depth, float *g_sigma, float *g_colour)
{
    rays_job j = {ray_offset, ray_count, samples, sigma, rgb, NULL, NULL, NULL, NULL, NULL, fwd_rgb, fwd_alpha, fwd_depth,
                  fwd_used, g_rgb, g_alpha, g_depth, g_sigma, g_colour};
    rd_parallel_for(ctx->threads, rays, 256, backward_some, &j);
}
