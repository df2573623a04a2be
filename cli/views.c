/* views.c: the list of cameras a command renders. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ORBIT_VIEWS = 8, ORBIT_WIDTH = 1920, ORBIT_HEIGHT = 1080 };

rd_result cli_views_load(rd_context *ctx, const cli_options *o, const rd_scene *scene, cli_views *v)
{
    *v = (cli_views){0};
    const char *source = o->dataset ? o->dataset : o->cameras;
    if (source) {
        rd_dataset_desc desc = {.split = o->split};
        rd_result r = rd_dataset_load(ctx, source, &desc, &v->dataset);
        if (r != RD_OK) return r;
        v->count = rd_dataset_view_count(v->dataset);
    } else {
        v->count = o->views ? o->views : ORBIT_VIEWS;
    }
    v->cameras = calloc((size_t)v->count, sizeof *v->cameras);
    v->names = calloc((size_t)v->count, sizeof *v->names);
    if (!v->cameras || !v->names) {
        cli_views_free(v);
        return RD_ERROR_OUT_OF_MEMORY;
    }
    if (v->dataset) {
        for (int i = 0; i < v->count; i++) {
            const rd_view *view = rd_dataset_view(v->dataset, i);
            v->cameras[i] = view->camera;
            snprintf(v->names[i], sizeof v->names[i], "%s", view->name);
        }
    } else if (o->synth) {
        rd_synthetic_cameras(v->count, ORBIT_WIDTH, ORBIT_HEIGHT, v->cameras);
        for (int i = 0; i < v->count; i++) snprintf(v->names[i], sizeof v->names[i], "%04d", i);
    } else if (rd_scene_get_kind(scene) == RD_SCENE_NERF) {
        /* about the field's box, z up unless told (the NeRF datasets' world) */
        rd_nerf_info info;
        rd_result r = rd_nerf_get_info(ctx, scene, &info);
        if (r != RD_OK) return r;
        float centre[3], up[3] = {o->up[0], o->up[1], o->up[2]};
        if (!up[0] && !up[1] && !up[2]) up[2] = 1.0f;
        for (int a = 0; a < 3; a++) centre[a] = 0.5f * (info.desc.box_min[a] + info.desc.box_max[a]);
        float radius = 0.5f * (info.desc.box_max[0] - info.desc.box_min[0]); /* the box is a cube: its inscribed sphere */
        fprintf(stderr, "radiant: orbit about up = (%g, %g, %g)%s\n", up[0] + 0.0f, up[1] + 0.0f, up[2] + 0.0f,
                o->up[0] || o->up[1] || o->up[2] ? "" : " (a NeRF's default; --up sets it)");
        rd_camera_orbit(centre, rd_camera_orbit_distance(radius, ORBIT_WIDTH, ORBIT_HEIGHT), up, v->count, ORBIT_WIDTH, ORBIT_HEIGHT,
                        v->cameras);
        for (int i = 0; i < v->count; i++) snprintf(v->names[i], sizeof v->names[i], "%04d", i);
    } else {
        rd_orbit_desc orbit = {.count = v->count, .width = ORBIT_WIDTH, .height = ORBIT_HEIGHT};
        memcpy(orbit.up, o->up, sizeof orbit.up);
        if (!o->up[0] && !o->up[1] && !o->up[2]) rd_scene_up(scene, orbit.up);
        fprintf(stderr, "radiant: orbit about up = (%g, %g, %g)%s\n", orbit.up[0] + 0.0f, orbit.up[1] + 0.0f, orbit.up[2] + 0.0f,
                o->up[0] || o->up[1] || o->up[2] ? "" : ", told from the scene (--up sets it)");
        rd_scene_orbit(scene, &orbit, v->cameras);
        for (int i = 0; i < v->count; i++) snprintf(v->names[i], sizeof v->names[i], "%04d", i);
    }
    if (o->width)
        for (int i = 0; i < v->count; i++) v->cameras[i] = rd_camera_resized(&v->cameras[i], o->width, o->height);
    return RD_OK;
}

void cli_views_free(cli_views *v)
{
    rd_dataset_destroy(v->dataset);
    free(v->cameras);
    free(v->names);
    *v = (cli_views){0};
}
