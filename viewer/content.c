/* content.c: scenes and views for the viewer. */
#include "content.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ORBIT_VIEWS = 8, ORBIT_WIDTH = 1920, ORBIT_HEIGHT = 1080 };

static const char *tail(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash && slash[1] ? slash + 1 : path;
}

/* "name: why", or just why when it names the file already (the library's messages do) */
static void describe_failure(char *out, size_t n, const char *name, const char *why)
{
    bool named = strstr(why, name) != NULL;
    snprintf(out, n, "%s%s%s", named ? "" : name, named ? "" : ": ", why);
}

/* A NeRF's box (a cube): its centre and its inscribed sphere's radius, NULL's false for
   other scenes. */
static bool nerf_frame(const rd_scene *scene, float centre[3], float *radius)
{
    rd_nerf_info n;
    if (rd_scene_get_kind(scene) != RD_SCENE_NERF || rd_nerf_get_info(NULL, scene, &n) != RD_OK) return false;
    for (int a = 0; a < 3; a++) centre[a] = 0.5f * (n.desc.box_min[a] + n.desc.box_max[a]);
    *radius = 0.5f * (n.desc.box_max[0] - n.desc.box_min[0]);
    return true;
}

static void measure(vw_content *c, const rd_scene *scene)
{
    rd_scene_get_info(scene, &c->info);
    c->kind = rd_scene_get_kind(scene);
    if (c->kind != RD_SCENE_NERF || rd_nerf_get_info(NULL, scene, &c->nerf) != RD_OK) memset(&c->nerf, 0, sizeof c->nerf);
    rd_scene4d_info dynamic; /* a 4D scene: its count and the box of its spatial means */
    if (rd_scene_get_kind(scene) == RD_SCENE_GAUSSIANS_4D && rd_scene4d_get_info(NULL, scene, &dynamic) == RD_OK) {
        c->info.count = dynamic.count;
        memcpy(c->info.bounds_min, dynamic.bounds_min, sizeof dynamic.bounds_min);
        memcpy(c->info.bounds_max, dynamic.bounds_max, sizeof dynamic.bounds_max);
    }
    if (nerf_frame(scene, c->center, &c->radius)) return;
    const float *lo = c->info.bounds_min, *hi = c->info.bounds_max;
    if (c->info.count > 0 && lo[0] <= hi[0]) {
        float d2 = 0.0f;
        for (int a = 0; a < 3; a++) {
            c->center[a] = 0.5f * (lo[a] + hi[a]);
            d2 += (hi[a] - lo[a]) * (hi[a] - lo[a]);
        }
        c->radius = 0.5f * sqrtf(d2);
    } else {
        c->center[0] = c->center[1] = c->center[2] = 0.0f;
        c->radius = 1.0f;
    }
}

/* What a Gaussian scene keeps in half precision (RD_SCENE_PACKED's flags). */
static const char *layout_words(uint32_t flags)
{
    if ((flags & RD_SCENE_PACKED) == RD_SCENE_PACKED) return "SH, rotations, scales and opacities";
    return flags & RD_SCENE_HALF_SH ? "SH" : "rotations, scales and opacities";
}

bool vw_content_open_scene(vw_content *c, rd_context *ctx, const char *path)
{
    rd_scene *scene = NULL;
    rd_result r;
    const char *demo_count = getenv("RADIANT_DEMO_COUNT"); /* a smaller demo for tests, as radiant's */
    if (!path) r = rd_scene_create(ctx, &(rd_scene_desc){0}, &scene);
    else if (strcmp(path, "--demo") == 0) r = rd_scene_create_demo(ctx, &(rd_demo_desc){.count = demo_count ? atoll(demo_count) : 0}, &scene);
    else r = rd_scene_load_with(ctx, path, &(rd_scene_load_desc){.spz_frame = c->spz_frame}, &scene);
    /* --half-sh, --packed: the inference layout for the 3D Gaussian scenes it opens; other kinds render as they are */
    if (r == RD_OK && path && c->halves && rd_scene_get_kind(scene) == RD_SCENE_GAUSSIANS)
        r = c->halves & RD_SCENE_HALF_SHAPE ? rd_scene_use_packed(ctx, scene) : rd_scene_use_half_sh(ctx, scene);
    if (r != RD_OK) {
        rd_scene_destroy(scene), scene = NULL;
        char message[sizeof c->message];
        describe_failure(message, sizeof message, path ? tail(path) : "scene", rd_last_error(ctx));
        if (!c->scene) vw_content_open_scene(c, ctx, NULL);
        memcpy(c->message, message, sizeof message);
        return false;
    }
    if (!c->scene_borrowed) rd_scene_destroy(c->scene);
    c->scene = scene, c->scene_borrowed = false;
    snprintf(c->scene_name, sizeof c->scene_name, "%s", !path ? "(no scene)" : strcmp(path, "--demo") == 0 ? "demo" : tail(path));
    c->message[0] = '\0';
    measure(c, c->scene);
    return true;
}

const char *vw_content_halves(const vw_content *c)
{
    return c->kind == RD_SCENE_GAUSSIANS && (c->info.flags & RD_SCENE_PACKED) ? layout_words(c->info.flags) : NULL;
}

void vw_content_replace_scene(vw_content *c, rd_scene *scene, const char *name)
{
    if (!c->scene_borrowed) rd_scene_destroy(c->scene);
    c->scene = scene, c->scene_borrowed = false;
    snprintf(c->scene_name, sizeof c->scene_name, "%s", name);
    measure(c, c->scene);
}

void vw_content_borrow_scene(vw_content *c, const rd_scene *scene, const char *name, const rd_scene *host)
{
    if (!c->scene_borrowed && c->scene != scene) rd_scene_destroy(c->scene);
    c->scene = (rd_scene *)scene, c->scene_borrowed = true; /* never destroyed: the owner's */
    if (name) snprintf(c->scene_name, sizeof c->scene_name, "%s", name), c->message[0] = '\0';
    if (host) measure(c, host);
}

static bool set_view_count(vw_content *c, int n)
{
    free(c->views);
    free(c->view_names);
    c->views = calloc((size_t)n, sizeof *c->views);
    c->view_names = calloc((size_t)n, sizeof *c->view_names);
    c->view_count = c->views && c->view_names ? n : 0;
    return c->view_count == n;
}

bool vw_content_open_views(vw_content *c, rd_context *ctx, const char *path, const char *split)
{
    rd_dataset *d = NULL;
    if (rd_dataset_load(ctx, path, &(rd_dataset_desc){.split = split}, &d) != RD_OK) {
        describe_failure(c->message, sizeof c->message, tail(path), rd_last_error(ctx));
        return false;
    }
    int n = rd_dataset_view_count(d);
    if (n < 1 || !set_view_count(c, n)) {
        snprintf(c->message, sizeof c->message, "%s: no views", tail(path));
        rd_dataset_destroy(d);
        return false;
    }
    rd_dataset_destroy(c->dataset);
    c->dataset = d;
    for (int i = 0; i < n; i++) {
        const rd_view *v = rd_dataset_view(d, i);
        c->views[i] = v->camera;
        snprintf(c->view_names[i], sizeof c->view_names[i], "%s", v->name);
    }
    if (c->info.count == 0) {
        /* no scene: orbit what the cameras look at, the origin, at their distance */
        float eye[3], mean = 0.0f;
        for (int i = 0; i < n; i++) {
            rd_camera_center(&c->views[i], eye);
            mean += sqrtf(eye[0] * eye[0] + eye[1] * eye[1] + eye[2] * eye[2]) / (float)n;
        }
        c->center[0] = c->center[1] = c->center[2] = 0.0f;
        c->radius = mean > 0.0f ? 0.5f * mean : 1.0f;
    }
    return true;
}

void vw_content_default_views(vw_content *c)
{
    if (!set_view_count(c, ORBIT_VIEWS)) return;
    rd_orbit_desc orbit = {.count = ORBIT_VIEWS, .width = ORBIT_WIDTH, .height = ORBIT_HEIGHT, .up = {c->up[0], c->up[1], c->up[2]}};
    float centre[3], radius;
    if (nerf_frame(c->scene, centre, &radius)) { /* about +z unless told: the NeRF datasets' up */
        float up[3] = {c->up[0], c->up[1], c->up[2]};
        if (!up[0] && !up[1] && !up[2]) up[2] = 1.0f;
        rd_camera_orbit(centre, rd_camera_orbit_distance(radius, ORBIT_WIDTH, ORBIT_HEIGHT), up, ORBIT_VIEWS, ORBIT_WIDTH, ORBIT_HEIGHT,
                        c->views);
    } else if (rd_scene_orbit(c->scene, &orbit, c->views) != RD_OK)
        for (int i = 0; i < ORBIT_VIEWS; i++) {
            /* an empty scene: look at the origin from a ring */
            float a = 6.2831853f * (float)i / ORBIT_VIEWS;
            float eye[3] = {4.0f * sinf(a), -1.0f, -4.0f * cosf(a)}, target[3] = {0}, up[3] = {0, -1, 0};
            c->views[i] = rd_camera_look_at(eye, target, up, ORBIT_WIDTH, ORBIT_HEIGHT, 60.0f);
        }
    for (int i = 0; i < ORBIT_VIEWS; i++) snprintf(c->view_names[i], sizeof c->view_names[i], "orbit %d", i);
}

void vw_content_free(vw_content *c)
{
    if (!c->scene_borrowed) rd_scene_destroy(c->scene);
    rd_dataset_destroy(c->dataset);
    free(c->views);
    free(c->view_names);
    memset(c, 0, sizeof *c);
}

void vw_content_summary(const vw_content *c, int64_t visible, char *out, size_t n)
{
    if (c->kind == RD_SCENE_NERF) {
        const rd_nerf_info *f = &c->nerf;
        snprintf(out, n, "%s: NeRF, %d levels x 2^%d, %.2fM parameters%s, %lld occupied cells", c->scene_name, f->desc.levels,
                 f->desc.log2_table_size, (double)f->params / 1e6, f->mask_params ? " (pruned)" : "", (long long)f->occupied_cells);
        return;
    }
    const char *halves = vw_content_halves(c);
    snprintf(out, n, "%s: %lld %sGaussians%s%s%s, %lld visible", c->scene_name, (long long)c->info.count,
             c->kind == RD_SCENE_GAUSSIANS_4D ? "4D " : "", halves ? " (" : "", halves ? halves : "", halves ? " in halves)" : "",
             (long long)visible);
}
