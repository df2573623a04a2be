/* compact_cost.c: what each step of the compaction costs against the photos (compact.h,
   rd_compact_cost_*): the mean PSNR over a few of the views with photos of the scene, of the
   Gaussians kept, with their positions in half floats, with one attribute at a time from
   its codebooks, and with all of it as the file decodes. A diagnosis for the report (which
   step loses the decibels), not a step of the writer. */
#include "compact.h"
#include "../renderer/internal.h"
#include "../splat/scene.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { COST_VIEWS = 8 };

rd_result rd_compact_make_scene(rd_context *ctx, const rd_compact_arrays *a, rd_scene **out)
{
    if (a->four_d)
        return rd_scene4d_create(ctx, &(rd_scene4d_desc){a->count, a->sh_degree, a->time_degree, a->time_period, a->means,
                                                         a->log_scales, a->rotations, a->opacities, a->sh, RD_MEMORY_HOST}, out);
    return rd_scene_create(ctx, &(rd_scene_desc){.count = a->count, .sh_degree = a->sh_degree, .means = a->means,
                                                 .log_scales = a->log_scales, .rotations = a->rotations, .opacities = a->opacities,
                                                 .sh = a->sh, .flags = a->flags}, out);
}

bool rd_compact_cost_wanted(const rd_compact_desc *desc, bool networks)
{
    for (int v = 0; !networks && desc->views && v < desc->view_count; v++)
        if (desc->views[v].image) return true;
    return false;
}

double rd_compact_psnr(const float *render, const rd_image *photo, const float background[3])
{
    size_t pixels = (size_t)photo->width * photo->height;
    double sum = 0.0;
    for (size_t p = 0; p < pixels; p++)
        for (int c = 0; c < 3; c++) {
            double d = (double)render[4 * p + c] - rd_compact_photo_value(photo, p, c, background);
            sum += d * d;
        }
    double mse = sum / (3.0 * (double)(pixels ? pixels : 1));
    return -10.0 * log10(fmax(mse, 1e-10)); /* at most 100 dB: a render that is its photo */
}

/* The mean PSNR of a's renders against up to COST_VIEWS photos, evenly spread over those
   given. */
static rd_result mean_psnr(rd_context *ctx, const rd_compact_arrays *a, const rd_compact_desc *desc, rd_compact_frame *frame,
                         double *out)
{
    int photos = 0;
    for (int v = 0; v < desc->view_count; v++) photos += desc->views[v].image != NULL;
    int used = photos < COST_VIEWS ? photos : COST_VIEWS;
    rd_scene *scene = NULL;
    rd_result r = rd_compact_make_scene(ctx, a, &scene);
    double sum = 0.0;
    for (int k = 0, seen = 0, v = 0; r == RD_OK && k < used && v < desc->view_count; v++) {
        if (!desc->views[v].image) continue;
        if (seen++ != (int)((int64_t)k * photos / used)) continue; /* the k-th of `used` spread over `photos` */
        r = rd_compact_render_view(ctx, scene, &desc->views[v], desc->background, frame);
        if (r == RD_OK) sum += rd_compact_psnr(frame->color, desc->views[v].image, desc->background);
        k++;
    }
    rd_scene_destroy(scene);
    *out = used ? sum / used : NAN;
    return r;
}

static void add(rd_compact_report *report, const char *name, double psnr)
{
    if (report->cost_count >= RD_COMPACT_MAX_COSTS) return;
    rd_compact_cost *c = &report->costs[report->cost_count++];
    snprintf(c->name, sizeof c->name, "%s", name);
    c->psnr = psnr;
}

rd_result rd_compact_cost_of(rd_context *ctx, const rd_compact_arrays *a, const rd_compact_desc *desc, const char *name,
                             rd_compact_report *report)
{
    rd_compact_frame frame = {0};
    double psnr = NAN;
    rd_result r = mean_psnr(ctx, a, desc, &frame, &psnr);
    rd_compact_frame_free(&frame);
    if (r == RD_OK) add(report, name, psnr);
    else rd_error_prefix(ctx, "compact: the steps' cost");
    return r;
}

rd_result rd_compact_cost_of_codes(rd_context *ctx, const rd_compact_arrays *kept, const rd_compact_codes *codes, int slice_count,
                                   const rd_compact_desc *desc, rd_compact_report *report)
{
    rd_compact_arrays a;
    if (!rd_compact_arrays_alloc(kept, kept->count, &a)) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact: out of memory");
    size_t n = (size_t)kept->count;
    rd_result r = RD_OK;
    for (int first = 0, last; first < slice_count && r == RD_OK; first = last) {
        for (last = first; last < slice_count && codes[last].slice.attribute == codes[first].slice.attribute; last++) {}
        memcpy(a.means, kept->means, n * (size_t)rd_compact_mean_floats(kept) * sizeof(float));
        memcpy(a.log_scales, kept->log_scales, n * (size_t)rd_compact_mean_floats(kept) * sizeof(float));
        memcpy(a.rotations, kept->rotations, n * (size_t)rd_compact_rotation_floats(kept) * sizeof(float));
        memcpy(a.opacities, kept->opacities, n * sizeof(float));
        memcpy(a.sh, kept->sh, n * (size_t)rd_compact_sh_floats(kept) * sizeof(float));
        rd_compact_apply_codes(&a, codes + first, last - first, ctx ? ctx->threads : 1);
        r = rd_compact_cost_of(ctx, &a, desc, rd_compact_attribute_name(codes[first].slice.attribute), report);
    }
    if (r == RD_OK) {
        rd_compact_apply_codes(&a, codes, slice_count, ctx ? ctx->threads : 1);
        r = rd_compact_cost_of(ctx, &a, desc, "all", report);
    }
    rd_compact_arrays_free(&a);
    return r;
}
