/* render_cpu.c: a NeRF frame on the CPU (render_cpu.h): tiles of pixels on the context's
   threads, each tile's samples through the field in one batch. */
#include "render_cpu.h"
#include "volume.h"
#include "../renderer/cpu/parallel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { TILE = 64 }; /* pixels a batch: at most 64 * 1024 samples through the field at once */

/* One worker's buffers, grown to the largest tile it has met. */
typedef struct tile_scratch {
    rd_march_sample *marched; /* TILE * RD_NERF_MAX_SAMPLES */
    int64_t capacity;
    float *t, *dt, *positions, *dirs, *sigma, *rgb;
    rd_nerf_field_scratch field;
} tile_scratch;

typedef struct render_job {
    const rd_nerf_scene *s;
    const rd_camera *camera;
    const rd_render_desc *desc;
    const rd_framebuffer *target;
    rd_context *one_thread; /* the field's batches run on the tile's own thread */
    tile_scratch *scratch;  /* per worker */
    int64_t *samples;       /* per worker: samples composited */
    bool *failed;           /* per worker: out of memory */
} render_job;

static void scratch_free(tile_scratch *w)
{
    free(w->marched), free(w->t), free(w->dt), free(w->positions), free(w->dirs), free(w->sigma), free(w->rgb);
    rd_nerf_field_scratch_free(&w->field);
    memset(w, 0, sizeof *w);
}

static bool scratch_reserve(rd_context *ctx, const rd_nerf_scene *s, tile_scratch *w, int64_t n)
{
    if (!w->marched && !(w->marched = malloc(sizeof(rd_march_sample) * TILE * RD_NERF_MAX_SAMPLES))) return false;
    if (n <= w->capacity) return true;
    int64_t c = n > 2 * w->capacity ? n : 2 * w->capacity;
    free(w->t), free(w->dt), free(w->positions), free(w->dirs), free(w->sigma), free(w->rgb);
    rd_nerf_field_scratch_free(&w->field);
    w->capacity = 0;
    w->t = malloc(sizeof(float) * (size_t)c), w->dt = malloc(sizeof(float) * (size_t)c);
    w->positions = malloc(sizeof(float) * 3 * (size_t)c), w->dirs = malloc(sizeof(float) * 3 * (size_t)c);
    w->sigma = malloc(sizeof(float) * (size_t)c), w->rgb = malloc(sizeof(float) * 3 * (size_t)c);
    if (!w->t || !w->dt || !w->positions || !w->dirs || !w->sigma || !w->rgb ||
        rd_nerf_field_scratch_alloc(ctx, &s->field, c, &w->field) != RD_OK)
        return false;
    w->capacity = c;
    return true;
}

static void render_tiles(int64_t begin, int64_t end, int worker, void *user)
{
    const render_job *j = user;
    const rd_nerf_scene *s = j->s;
    const rd_camera *c = j->camera;
    const rd_framebuffer *fb = j->target;
    tile_scratch *w = &j->scratch[worker];
    int64_t pixels = (int64_t)c->width * c->height;
    float near = rd_nerf_near(c), far = rd_nerf_far(c);
    for (int64_t tile = begin; tile < end && !j->failed[worker]; tile++) {
        int64_t first = tile * TILE, count = pixels - first < TILE ? pixels - first : TILE;
        if (!scratch_reserve(j->one_thread, s, w, 1)) {
            j->failed[worker] = true;
            return;
        }
        rd_nerf_ray rays[TILE];
        int marched[TILE];
        int64_t total = 0;
        for (int k = 0; k < count; k++) {
            int64_t p = first + k;
            rays[k] = rd_nerf_camera_ray(c, s->scale, s->offset, (float)(p % c->width) + 0.5f, (float)(p / c->width) + 0.5f);
            marched[k] = rd_occupancy_march(&s->occupancy, rays[k].origin, rays[k].dir, near * rays[k].field_per_depth,
                                            far * rays[k].field_per_depth, RD_NERF_MAX_SAMPLES,
                                            w->marched + (int64_t)k * RD_NERF_MAX_SAMPLES);
            total += marched[k];
        }
        if (!scratch_reserve(j->one_thread, s, w, total)) {
            j->failed[worker] = true;
            return;
        }
        int64_t at = 0;
        for (int k = 0; k < count; k++)
            for (int i = 0; i < marched[k]; i++, at++) {
                const rd_march_sample *m = &w->marched[(int64_t)k * RD_NERF_MAX_SAMPLES + i];
                w->t[at] = m->t, w->dt[at] = m->dt;
                for (int a = 0; a < 3; a++) {
                    w->positions[3 * at + a] = rays[k].origin[a] + m->t * rays[k].dir[a];
                    w->dirs[3 * at + a] = rays[k].dir[a];
                }
            }
        rd_nerf_field_forward(j->one_thread, &s->field, s->params, w->positions, w->dirs, total, &w->field, w->sigma, w->rgb);
        at = 0;
        for (int k = 0; k < count; k++) {
            rd_ray_samples rs = {marched[k], w->t + at, w->dt + at, w->sigma + at, w->rgb + 3 * at};
            rd_ray_colour out;
            rd_volume_composite(&rs, j->desc->background, &out);
            at += marched[k];
            j->samples[worker] += out.used;
            int64_t p = first + k;
            float depth = out.depth / rays[k].field_per_depth;
            if (j->desc->flags & RD_RENDER_EXPECTED_DEPTH) depth = out.alpha > 0.0f ? depth / out.alpha : 0.0f;
            if (fb->color) {
                memcpy(fb->color + 4 * p, out.rgb, sizeof out.rgb);
                fb->color[4 * p + 3] = out.alpha;
            }
            if (fb->depth) fb->depth[p] = depth;
            if (fb->transmittance) fb->transmittance[p] = 1.0f - out.alpha;
            if (fb->contributors) fb->contributors[p] = (uint32_t)out.used;
        }
    }
}

rd_result rd_nerf_render_cpu(rd_context *ctx, const rd_nerf_scene *s, const rd_camera *camera, const rd_render_desc *desc,
                             const rd_framebuffer *target, rd_render_stats *stats)
{
    double start = rd_now_ms();
    int workers = ctx->threads > 0 ? ctx->threads : 1;
    rd_context one_thread = *ctx; /* the same context, its batches on the calling thread */
    one_thread.threads = 1;
    tile_scratch *scratch = calloc((size_t)workers, sizeof *scratch);
    int64_t *samples = calloc((size_t)workers, sizeof *samples);
    bool *failed = calloc((size_t)workers, sizeof *failed);
    rd_result r = RD_OK;
    if (!scratch || !samples || !failed) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF render: out of memory");
    if (r == RD_OK) {
        int64_t pixels = (int64_t)camera->width * camera->height;
        render_job job = {s, camera, desc, target, &one_thread, scratch, samples, failed};
        rd_parallel_for(workers, (pixels + TILE - 1) / TILE, 1, render_tiles, &job);
        int64_t total = 0;
        for (int k = 0; k < workers; k++) {
            if (failed[k] && r == RD_OK)
                r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF render: cannot hold a tile's samples (%d pixels)", TILE);
            total += samples[k];
        }
        static const char *const names[1] = {"render"};
        double ms = rd_now_ms() - start;
        rd_stats_set_stages(stats, names, &ms, 1, ms);
        rd_stats_add_count(stats, "samples", (double)total);
    }
    for (int k = 0; scratch && k < workers; k++) scratch_free(&scratch[k]);
    free(scratch), free(samples), free(failed);
    return r;
}
