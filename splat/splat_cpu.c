/* splat_cpu.c: the CPU reference renderer for 3D Gaussians. Stages, as on the GPUs:
   preprocess (parallel over Gaussians), binning into 16x16 tiles, per-tile depth sort
   and blending (parallel over tiles). */
#include "splat_cpu.h"
#include "../renderer/cpu/parallel.h"

#include <stdlib.h>
#include <string.h>

static void preprocess_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    rd_cpu_frame *f = user;
    for (int64_t i = begin; i < end; i++) f->splats[i] = rd_splat_preprocess(f->vp, &f->scene, i);
}

static int compare_entries(const void *pa, const void *pb)
{
    const rd_tile_entry *a = pa, *b = pb;
    if (a->depth != b->depth) return a->depth < b->depth ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static void sort_tiles(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    rd_cpu_frame *f = user;
    for (int64_t t = begin; t < end; t++) {
        int64_t n = f->tile_offsets[t + 1] - f->tile_offsets[t];
        if (n > 1) qsort(f->entries + f->tile_offsets[t], (size_t)n, sizeof(rd_tile_entry), compare_entries);
    }
}

/* spec step 9 for the pixels of one tile; the tile's Gaussians are first gathered into
   flat arrays so that the per-pixel loop streams through them. */
static void blend_tiles(int64_t begin, int64_t end, int worker, void *user)
{
    rd_cpu_frame *f = user;
    const rd_view_params *vp = f->vp;
    const rd_framebuffer *fb = f->target;
    float *s = f->scratch[worker];
    for (int64_t t = begin; t < end; t++) {
        int64_t first = f->tile_offsets[t], n = f->tile_offsets[t + 1] - first;
        float *gu = s, *gv = gu + n, *ga = gv + n, *gb = ga + n, *gc = gb + n, *go = gc + n;
        float *gr = go + n, *gg = gr + n, *gbl = gg + n, *gd = gbl + n, *gcut = gd + n;
        for (int64_t j = 0; j < n; j++) {
            const rd_splat2d *g = &f->splats[f->entries[first + j].index];
            gu[j] = g->u; gv[j] = g->v;
            ga[j] = g->conic[0]; gb[j] = g->conic[1]; gc[j] = g->conic[2];
            go[j] = g->opacity; gd[j] = g->depth;
            gcut[j] = rd_power_cutoff(g->opacity);
            gr[j] = g->rgb[0]; gg[j] = g->rgb[1]; gbl[j] = g->rgb[2];
        }
        int x0, y0, x1, y1;
        rd_tile_pixels(vp, t, &x0, &y0, &x1, &y1);
        for (int py = y0; py < y1; py++) {
            for (int px = x0; px < x1; px++) {
                float fx = (float)px + 0.5f, fy = (float)py + 0.5f;
                float T = 1.0f, r = 0.0f, g = 0.0f, b = 0.0f, depth = 0.0f;
                uint32_t blended = 0;
                for (int64_t j = 0; j < n; j++) {
                    float dx = fx - gu[j], dy = fy - gv[j];
                    float alpha;
                    if (!rd_splat_alpha(ga[j], gb[j], gc[j], go[j], gcut[j], dx, dy, &alpha)) continue;
                    float next_T = T * (1.0f - alpha);
                    if (next_T < RD_MIN_TRANSMITTANCE) break;
                    float wgt = alpha * T;
                    r += wgt * gr[j];
                    g += wgt * gg[j];
                    b += wgt * gbl[j];
                    depth += wgt * gd[j];
                    T = next_T;
                    blended++;
                }
                size_t p = (size_t)py * (size_t)vp->width + (size_t)px;
                if (fb->color) {
                    fb->color[4 * p + 0] = r + T * vp->background[0];
                    fb->color[4 * p + 1] = g + T * vp->background[1];
                    fb->color[4 * p + 2] = b + T * vp->background[2];
                    fb->color[4 * p + 3] = 1.0f - T;
                }
                if (fb->depth) fb->depth[p] = rd_pixel_depth(depth, T, vp->flags);
                if (fb->transmittance) fb->transmittance[p] = T;
                if (fb->contributors) fb->contributors[p] = blended;
            }
        }
    }
}

void rd_cpu_frame_free(rd_cpu_frame *f)
{
    free(f->splats);
    free(f->tile_offsets);
    free(f->entries);
    if (f->scratch)
        for (int w = 0; w < f->threads; w++) free(f->scratch[w]);
    free(f->scratch);
    memset(f, 0, sizeof *f);
}

rd_result rd_cpu_frame_prepare(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp, rd_cpu_frame *f,
                               double ms[3])
{
    memset(f, 0, sizeof *f);
    f->scene = rd_scene_gaussians(scene);
    f->vp = vp;
    f->threads = ctx->threads;
    int64_t tiles = (int64_t)vp->tiles_x * vp->tiles_y;
    double t0 = rd_now_ms();

    f->splats = rd_alloc_array(scene->count, sizeof(rd_splat2d));
    f->tile_offsets = calloc((size_t)tiles + 1, sizeof(int64_t));
    if (!f->splats || !f->tile_offsets) goto out_of_memory;
    rd_parallel_for(f->threads, scene->count, 4096, preprocess_range, f);
    double t1 = rd_now_ms();

    /* binning: count per tile, scan, fill in Gaussian order */
    for (int64_t i = 0; i < scene->count; i++) {
        const rd_splat2d *g = &f->splats[i];
        if (!g->tiles_touched) continue;
        f->visible++;
        for (int y = g->tile_min[1]; y < g->tile_max[1]; y++)
            for (int x = g->tile_min[0]; x < g->tile_max[0]; x++)
                if (rd_tile_touches(g, vp, x, y)) f->tile_offsets[(int64_t)y * vp->tiles_x + x + 1]++;
    }
    for (int64_t t = 0; t < tiles; t++) {
        int64_t len = f->tile_offsets[t + 1];
        if (len > f->max_tile_len) f->max_tile_len = len;
        f->tile_offsets[t + 1] += f->tile_offsets[t];
    }
    int64_t intersections = f->tile_offsets[tiles];
    f->entries = rd_alloc_array(intersections, sizeof(rd_tile_entry));
    int64_t *cursor = rd_alloc_array(tiles, sizeof(int64_t));
    if (!f->entries || !cursor) {
        free(cursor);
        goto out_of_memory;
    }
    memcpy(cursor, f->tile_offsets, (size_t)tiles * sizeof(int64_t));
    for (int64_t i = 0; i < scene->count; i++) {
        const rd_splat2d *g = &f->splats[i];
        for (int y = g->tile_min[1]; g->tiles_touched && y < g->tile_max[1]; y++)
            for (int x = g->tile_min[0]; x < g->tile_max[0]; x++)
                if (rd_tile_touches(g, vp, x, y))
                    f->entries[cursor[(int64_t)y * vp->tiles_x + x]++] = (rd_tile_entry){g->depth, (uint32_t)i};
    }
    free(cursor);
    double t2 = rd_now_ms();

    rd_parallel_for(f->threads, tiles, 4, sort_tiles, f);
    double t3 = rd_now_ms();
    if (ms) ms[0] = t1 - t0, ms[1] = t2 - t1, ms[2] = t3 - t2;
    return RD_OK;

out_of_memory:
    rd_cpu_frame_free(f);
    return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "render: out of memory for %lld Gaussians at %dx%d",
                   (long long)scene->count, vp->width, vp->height);
}

static int compare_lengths(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y); /* longest first */
}

/* How the frame's pairs spread over its tiles (issue 35's load balance, the same lists on
   every backend): the longest tile list, the 99th percentile and the mean of the non-empty
   tiles, and the percentage of all pairs in the longest 1% of them. Nothing where memory
   runs out. */
static void tile_list_counts(const rd_cpu_frame *f, int64_t tiles, rd_render_stats *stats)
{
    int64_t *lengths = rd_alloc_array((size_t)(tiles > 0 ? tiles : 1), sizeof(int64_t)), used = 0, pairs = 0;
    if (!lengths) return;
    for (int64_t t = 0; t < tiles; t++) {
        int64_t n = f->tile_offsets[t + 1] - f->tile_offsets[t];
        if (n > 0) lengths[used++] = n, pairs += n;
    }
    if (used > 0) {
        qsort(lengths, (size_t)used, sizeof(int64_t), compare_lengths);
        int64_t top = (used + 99) / 100, in_top = 0;
        for (int64_t k = 0; k < top; k++) in_top += lengths[k];
        rd_stats_add_count(stats, "tile_pairs_max", (double)lengths[0]);
        rd_stats_add_count(stats, "tile_pairs_p99", (double)lengths[used / 100]);
        rd_stats_add_count(stats, "tile_pairs_mean", (double)pairs / (double)used);
        rd_stats_add_count(stats, "tile_pairs_top1pct", 100.0 * (double)in_top / (double)pairs);
    }
    free(lengths);
}

rd_result rd_splat_render_cpu(rd_context *ctx, const rd_scene *scene, const rd_view_params *vp,
                              const rd_framebuffer *target, rd_render_stats *stats)
{
    rd_cpu_frame f;
    double ms[3];
    rd_result r = rd_cpu_frame_prepare(ctx, scene, vp, &f, ms);
    if (r != RD_OK) return r;
    f.target = target;
    double t3 = rd_now_ms();
    f.scratch = calloc((size_t)f.threads, sizeof(float *));
    bool ok = f.scratch != NULL;
    for (int w = 0; ok && w < f.threads; w++) ok = (f.scratch[w] = rd_alloc_array(f.max_tile_len, 11 * sizeof(float))) != NULL;
    if (!ok) {
        rd_cpu_frame_free(&f);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "render: out of memory for %lld Gaussians at %dx%d", (long long)scene->count,
                       vp->width, vp->height);
    }
    rd_parallel_for(f.threads, (int64_t)vp->tiles_x * vp->tiles_y, 2, blend_tiles, &f);
    double t4 = rd_now_ms();
    int64_t tiles = (int64_t)vp->tiles_x * vp->tiles_y, visible = f.visible, pairs = f.tile_offsets[tiles];
    rd_stats_set_stages(stats, rd_splat_stage_names, (const double[RD_SPLAT_STAGES]){ms[0], ms[1], ms[2], t4 - t3},
                        RD_SPLAT_STAGES, ms[0] + ms[1] + ms[2] + t4 - t3);
    rd_splat_counts(stats, visible, pairs);
    tile_list_counts(&f, tiles, stats);
    rd_cpu_frame_free(&f);
    return RD_OK;
}
