/* splat_backward_cpu.c: the CPU backward pass of one view, the specification the GPU
   backward passes follow. The forward's frame is rebuilt (preprocess, binning, sort:
   splat_cpu.h), then:
   1. per tile, in parallel: each pixel replays the forward's blend front to back, keeping
      every Gaussian it blended (alpha, transmittance before it, exp(power)), then walks
      that list back to front (rd_blend_backward), adding each Gaussian's 2D gradients into
      its Gaussian-tile pair's slot, which only this tile writes;
   2. the pairs' gradients are summed per Gaussian in tile order, serially;
   3. per Gaussian, in parallel: colour and projection backward (splat_grad.h) into the
      caller's arrays; the pose's per-Gaussian parts are summed in Gaussian order.
   No step depends on the thread count or scheduling, so the result is the same bit for
   bit on any machine with any number of threads. */
#include "splat_cpu.h"
#include "splat_grad.h"
#include "../renderer/cpu/parallel.h"

#include <stdlib.h>
#include <string.h>

typedef struct blended {
    int32_t j; /* position in the tile's list */
    float alpha, T_before, G;
} blended;

typedef struct backward_job {
    rd_cpu_frame *frame;
    const rd_render_grads *output;
    rd_splat2d_grad *pair_grads;  /* one per Gaussian-tile pair */
    rd_splat2d_grad *grads2d;     /* one per Gaussian */
    const rd_gaussian_grads *out;
    float *pose_parts;            /* 12 per Gaussian, or NULL */
} backward_job;

static void backward_tiles(int64_t begin, int64_t end, int worker, void *user)
{
    backward_job *job = user;
    rd_cpu_frame *f = job->frame;
    const rd_view_params *vp = f->vp;
    blended *list = (blended *)f->scratch[worker];
    for (int64_t t = begin; t < end; t++) {
        int64_t first = f->tile_offsets[t], n = f->tile_offsets[t + 1] - first;
        int x0, y0, x1, y1;
        rd_tile_pixels(vp, t, &x0, &y0, &x1, &y1);
        for (int py = y0; py < y1; py++) {
            for (int px = x0; px < x1; px++) {
                float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
                /* the forward blend, exactly as splat_cpu.c runs it, remembering each step */
                float T = 1.0f, D = 0.0f;
                int count = 0;
                for (int64_t j = 0; j < n; j++) {
                    const rd_splat2d *g = &f->splats[f->entries[first + j].index];
                    float dx = fx - g->u, dy = fy - g->v, alpha;
                    if (!rd_splat_alpha(g->conic[0], g->conic[1], g->conic[2], g->opacity, rd_power_cutoff(g->opacity), dx, dy,
                                        &alpha))
                        continue;
                    float next_T = T * (1.0f - alpha);
                    if (next_T < RD_MIN_TRANSMITTANCE) break;
                    float power = -0.5f * (g->conic[0] * dx * dx + g->conic[2] * dy * dy) - g->conic[1] * dx * dy;
                    list[count++] = (blended){(int32_t)j, alpha, T, expf(power)};
                    D += alpha * T * g->depth;
                    T = next_T;
                }
                size_t p = (size_t)py * (size_t)vp->width + (size_t)px;
                const float *gc = job->output->color ? job->output->color + 4 * p : NULL;
                float g_depth = job->output->depth ? job->output->depth[p] : 0.0f;
                rd_pixel_grad pg = rd_pixel_grad_start(vp, gc, g_depth, T, rd_pixel_depth(D, T, vp->flags));
                for (int k = count - 1; k >= 0; k--) {
                    const blended *b = &list[k];
                    const rd_splat2d *g = &f->splats[f->entries[first + b->j].index];
                    bool clamped = g->opacity * b->G > RD_MAX_ALPHA;
                    rd_blend_backward(&pg, g->rgb, g->depth, b->alpha, b->T_before, b->G, clamped, fx - g->u, fy - g->v,
                                      g->conic, &job->pair_grads[first + b->j]);
                }
            }
        }
    }
}

static void add_grad2d(rd_splat2d_grad *to, const rd_splat2d_grad *from)
{
    to->u += from->u, to->v += from->v, to->opacity += from->opacity, to->depth += from->depth;
    for (int k = 0; k < 3; k++) to->conic[k] += from->conic[k], to->rgb[k] += from->rgb[k];
}

static void backward_gaussians(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    backward_job *job = user;
    const rd_cpu_frame *f = job->frame;
    const rd_gaussians *s = &f->scene;
    const rd_gaussian_grads *out = job->out;
    size_t K = (size_t)(s->sh_degree + 1) * (size_t)(s->sh_degree + 1);
    for (int64_t i = begin; i < end; i++) {
        const rd_splat2d *splat = &f->splats[i];
        if (!splat->tiles_touched) continue;
        const rd_splat2d_grad *g2 = &job->grads2d[i];
        rd_gaussian_grad g = {{0}};
        float g_sh[48] = {0};
        rd_colour_backward(f->vp, s->means + 3 * i, s->sh + (size_t)i * K * 3, splat->clamped, g2->rgb, g_sh, &g);
        rd_project_backward(f->vp, s, i, g2, &g);
        for (int k = 0; k < 3; k++) {
            if (out->means) out->means[3 * i + k] += g.mean[k];
            if (out->log_scales) out->log_scales[3 * i + k] += g.log_scale[k];
        }
        for (int k = 0; out->rotations && k < 4; k++) out->rotations[4 * i + k] += g.rotation[k];
        for (int k = 0; out->covariances && k < 6; k++) out->covariances[6 * i + k] += g.covariance[k];
        if (out->opacities) out->opacities[i] += g.opacity;
        for (size_t k = 0; out->sh && k < 3 * K; k++) out->sh[(size_t)i * K * 3 + k] += g_sh[k];
        if (out->mean2d_norm) { /* in normalised device coordinates, as the 3DGS threshold is */
            float gu = g2->u * 0.5f * (float)f->vp->width, gv = g2->v * 0.5f * (float)f->vp->height;
            out->mean2d_norm[i] += sqrtf(gu * gu + gv * gv);
        }
        if (out->views_seen) out->views_seen[i] += 1;
        if (job->pose_parts) memcpy(job->pose_parts + 12 * i, g.w2c, sizeof g.w2c);
    }
}

rd_result rd_splat_backward_cpu(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, const rd_render_grads *output,
                                const rd_gaussian_grads *grads, float *w2c_grad)
{
    rd_cpu_frame f;
    rd_result r = rd_cpu_frame_prepare(ctx, scene, vp, &f, NULL);
    if (r != RD_OK) return r;
    int64_t tiles = (int64_t)vp->tiles_x * vp->tiles_y, pairs = f.tile_offsets[tiles];
    backward_job job = {&f, output, NULL, NULL, grads, NULL};
    job.pair_grads = calloc((size_t)(pairs ? pairs : 1), sizeof(rd_splat2d_grad));
    job.grads2d = calloc((size_t)(scene->count ? scene->count : 1), sizeof(rd_splat2d_grad));
    if (w2c_grad) job.pose_parts = calloc((size_t)(scene->count ? scene->count : 1), 12 * sizeof(float));
    f.scratch = calloc((size_t)f.threads, sizeof(float *));
    bool ok = job.pair_grads && job.grads2d && (job.pose_parts || !w2c_grad) && f.scratch;
    for (int w = 0; ok && w < f.threads; w++) ok = (f.scratch[w] = rd_alloc_array(f.max_tile_len + 1, sizeof(blended))) != NULL;
    if (ok) {
        rd_parallel_for(f.threads, tiles, 2, backward_tiles, &job);
        for (int64_t p = 0; p < pairs; p++) add_grad2d(&job.grads2d[f.entries[p].index], &job.pair_grads[p]);
        rd_parallel_for(f.threads, scene->count, 1024, backward_gaussians, &job);
        for (int64_t i = 0; w2c_grad && i < scene->count; i++)
            for (int k = 0; k < 12; k++) w2c_grad[k] += job.pose_parts[12 * i + k];
    } else {
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "backward: out of memory for %lld Gaussians and %lld pairs",
                    (long long)scene->count, (long long)pairs);
    }
    free(job.pair_grads);
    free(job.grads2d);
    free(job.pose_parts);
    rd_cpu_frame_free(&f);
    return r;
}
