/* scene4d.c: the 4D Gaussian scene: creation from arrays, its description, Duan's rotors,
   and its row of the core's table of kinds. A view renders as the slice at the view's time
   (slice4d.c) drawn by the 3D Gaussians' renderer on the same backend; the slice's arrays
   are the context's (its slot), so that contexts never share them. */
#include "scene4d.h"
#include "appearance4d_cpu.h"
#include "../renderer/backend.h"
#include "../renderer/cpu/parallel.h"
#ifdef RD_HAVE_CUDA
#include "slice4d_cuda.h"
#endif
#ifdef RD_HAVE_VULKAN
#include "slice4d_vk.h"
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void destroy(rd_scene *scene)
{
    rd_scene4d *s = (rd_scene4d *)scene;
    if (!s) return;
    free(s->means), free(s->log_scales), free(s->rotations), free(s->opacities), free(s->sh), free(s->fixed);
    rd_appearance4d_free(s->appearance);
    free(s);
}

rd_result rd_scene4d_create(rd_context *ctx, const rd_scene4d_desc *desc, rd_scene **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene4d_create: out is NULL");
    *out = NULL;
    if (!desc) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene4d_create: desc is NULL");
    const rd_scene4d_desc *d = desc;
    if (d->count < 0 || d->sh_degree < 0 || d->sh_degree > 3 || d->time_degree < 0 || d->time_degree > RD_4D_MAX_TIME_DEGREE)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "4D scene: count %lld, sh_degree %d (0..3), time_degree %d (0..%d): out of range",
                       (long long)d->count, d->sh_degree, d->time_degree, RD_4D_MAX_TIME_DEGREE);
    float period = d->time_period == 0.0f ? 1.0f : d->time_period;
    if (!(period > 0.0f) || !isfinite(period))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "4D scene: time_period %g is not a positive time", d->time_period);
    if (d->count > 0 && (!d->means || !d->log_scales || !d->rotations || !d->opacities || !d->sh))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "4D scene: means, log_scales, rotations, opacities and sh are required");
    bool device = d->memory == RD_MEMORY_DEVICE;
    rd_backend backend = ctx ? rd_context_backend(ctx) : RD_BACKEND_CPU;
    if (device && backend != RD_BACKEND_CUDA && backend != RD_BACKEND_VULKAN)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "4D scene: device-memory arrays need a GPU backend, CUDA or Vulkan (this context is %s)",
                       rd_backend_name(backend));
    size_t n = (size_t)d->count, shf = (size_t)rd_scene4d_sh_floats(d->sh_degree, d->time_degree);
    struct { const float *from; size_t floats; const char *what; } arrays[] = {
        {d->means, 4 * n, "4D scene: means"}, {d->log_scales, 4 * n, "4D scene: log_scales"},
        {d->rotations, 8 * n, "4D scene: rotations"}, {d->opacities, n, "4D scene: opacities"}, {d->sh, shf * n, "4D scene: sh"}};
    for (size_t k = 0; device && n > 0 && k < sizeof arrays / sizeof arrays[0]; k++) {
        rd_result r = rd_backend_check_memory(ctx, arrays[k].from, arrays[k].floats * sizeof(float), arrays[k].what);
        if (r != RD_OK) return r;
    }
    rd_scene4d *s = NULL;
    rd_result r = rd_scene4d_alloc(ctx, d->count, d->sh_degree, d->time_degree, period, &s);
    if (r != RD_OK) return r;
    /* copied, from the device too: the statics are made from them here (a scene of none
       may have NULL arrays) */
    float *to[] = {s->means, s->log_scales, s->rotations, s->opacities, s->sh};
    for (size_t k = 0; n > 0 && k < sizeof arrays / sizeof arrays[0] && r == RD_OK; k++) {
        size_t bytes = arrays[k].floats * sizeof(float);
        if (device) r = rd_buffer_copy(ctx, to[k], RD_MEMORY_HOST, arrays[k].from, RD_MEMORY_DEVICE, bytes);
        else memcpy(to[k], arrays[k].from, bytes);
    }
    if (r != RD_OK) {
        destroy((rd_scene *)s);
        return r;
    }
    rd_scene4d_refresh(ctx, s);
    *out = (rd_scene *)s;
    return RD_OK;
}

rd_result rd_scene4d_alloc(rd_context *ctx, int64_t count, int sh_degree, int time_degree, float time_period, rd_scene4d **out)
{
    rd_scene4d *s = *out = calloc(1, sizeof *s);
    if (!s) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D scene: out of memory");
    s->head = rd_scene_head_new(RD_SCENE_GAUSSIANS_4D);
    s->count = count, s->sh_degree = sh_degree, s->time_degree = time_degree, s->time_period = time_period;
    s->means = rd_alloc_array(count, 4 * sizeof(float));
    s->log_scales = rd_alloc_array(count, 4 * sizeof(float));
    s->rotations = rd_alloc_array(count, 8 * sizeof(float));
    s->opacities = rd_alloc_array(count, sizeof(float));
    s->sh = rd_alloc_array(count, (size_t)rd_scene4d_sh_floats(sh_degree, time_degree) * sizeof(float));
    s->fixed = rd_alloc_array(count, sizeof *s->fixed);
    if (!s->means || !s->log_scales || !s->rotations || !s->opacities || !s->sh || !s->fixed) {
        destroy((rd_scene *)s);
        *out = NULL;
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D scene: cannot hold %lld Gaussians", (long long)count);
    }
    return RD_OK;
}

static void prepare_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    rd_scene4d *s = user;
    for (int64_t i = begin; i < end; i++) rd_slice4d_prepare(s, i, &s->fixed[i]);
}

void rd_scene4d_refresh(rd_context *ctx, rd_scene4d *s)
{
    rd_parallel_for(ctx ? ctx->threads : 1, s->count, 4096, prepare_range, s);
    s->head = rd_scene_head_new(RD_SCENE_GAUSSIANS_4D);
}

void rd_scene4d_set_appearance(rd_scene4d *s, rd_appearance4d *a)
{
    if (s->appearance != a) rd_appearance4d_free(s->appearance);
    s->appearance = a;
    s->head = rd_scene_head_new(RD_SCENE_GAUSSIANS_4D);
}

rd_scene4d_desc rd_scene4d_arrays(const rd_scene *scene)
{
    if (!rd_is_gaussians4d(scene)) return (rd_scene4d_desc){0};
    const rd_scene4d *s = (const rd_scene4d *)scene;
    return (rd_scene4d_desc){.count = s->count, .sh_degree = s->sh_degree, .time_degree = s->time_degree,
                             .time_period = s->time_period, .means = s->means, .log_scales = s->log_scales,
                             .rotations = s->rotations, .opacities = s->opacities, .sh = s->sh, .memory = RD_MEMORY_HOST};
}

rd_result rd_scene4d_get_info(rd_context *ctx, const rd_scene *scene, rd_scene4d_info *out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene4d_get_info: out is NULL");
    memset(out, 0, sizeof *out);
    if (!rd_is_gaussians4d(scene)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene4d_get_info: the scene is not a 4D scene");
    const rd_scene4d *s = (const rd_scene4d *)scene;
    out->count = s->count, out->sh_degree = s->sh_degree, out->time_degree = s->time_degree, out->time_period = s->time_period;
    bool any_time = false, any_place = false;
    for (int64_t i = 0; i < s->count; i++) {
        const float *m = s->means + 4 * i;
        if (isfinite(m[3])) {
            out->time_min = any_time ? fminf(out->time_min, m[3]) : m[3];
            out->time_max = any_time ? fmaxf(out->time_max, m[3]) : m[3];
            any_time = true;
        }
        if (isfinite(m[0]) && isfinite(m[1]) && isfinite(m[2])) {
            for (int a = 0; a < 3; a++) {
                out->bounds_min[a] = any_place ? fminf(out->bounds_min[a], m[a]) : m[a];
                out->bounds_max[a] = any_place ? fmaxf(out->bounds_max[a], m[a]) : m[a];
            }
            any_place = true;
        }
    }
    return RD_OK;
}

rd_result rd_scene4d_slice(rd_context *ctx, const rd_scene *scene, float time, rd_scene **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene4d_slice: out is NULL");
    *out = NULL;
    if (!rd_is_gaussians4d(scene)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene4d_slice: the scene is not a 4D scene");
    if (!isfinite(time)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene4d_slice: time %g is not finite", time);
    const rd_scene4d *s = (const rd_scene4d *)scene;
    rd_scene *sliced = NULL;
    rd_result r = rd_scene_alloc(ctx, s->count, s->sh_degree, &sliced);
    if (r != RD_OK) return r;
    rd_slice4d_cpu(ctx, s, time, sliced, NULL);
    *out = sliced;
    return RD_OK;
}

rd_result rd_scene4d_orbit(const rd_scene4d *s, const rd_orbit_desc *desc, rd_camera *out)
{
    if (!desc || desc->count < 1 || desc->width < 1 || desc->height < 1 || !out) return RD_ERROR_INVALID_ARGUMENT;
    rd_scene4d_info info;
    rd_scene4d_get_info(NULL, (const rd_scene *)s, &info);
    float centre[3], radius = 0.0f, up[3] = {desc->up[0], desc->up[1], desc->up[2]};
    float length = sqrtf(up[0] * up[0] + up[1] * up[1] + up[2] * up[2]);
    if (!(length > 0.0f) || !isfinite(length)) up[0] = 0.0f, up[1] = -1.0f, up[2] = 0.0f, length = 1.0f;
    for (int a = 0; a < 3; a++) {
        up[a] /= length;
        centre[a] = 0.5f * (info.bounds_min[a] + info.bounds_max[a]);
        radius = fmaxf(radius, 0.5f * (info.bounds_max[a] - info.bounds_min[a]));
    }
    rd_camera_orbit(centre, rd_camera_orbit_distance(radius > 0.0f ? radius : 1.0f, desc->width, desc->height), up, desc->count,
                    desc->width, desc->height, out);
    return RD_OK;
}

rd_result rd_rotor_to_quaternions(rd_context *ctx, const float rotor[8], float q_l[4], float q_r[4])
{
    double r[8], length2 = 0.0;
    for (int k = 0; k < 8; k++) r[k] = rotor[k], length2 += r[k] * r[k];
    double s = r[0], bxy = r[1], bxz = r[2], byz = r[3], bxw = r[4], byw = r[5], bzw = r[6], p = r[7];
    double constraint = s * p - bxy * bzw + bxz * byw - bxw * byz;
    if (!(fabs(length2 - 1.0) <= 1e-3))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "4D rotor: its length is %g, not 1", sqrt(length2));
    if (!(fabs(constraint) <= 1e-3))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "4D rotor: s p - b_xy b_zw + b_xz b_yw - b_xw b_yz is %g, not 0 (not a rotor of a 4D rotation)", constraint);
    const double l[4] = {s - p, bxy + bzw, byw - bxz, byz + bxw}, rr[4] = {s + p, bxy - bzw, -bxz - byw, byz - bxw};
    for (int k = 0; k < 4; k++) q_l[k] = (float)l[k], q_r[k] = (float)rr[k];
    return RD_OK;
}

/* ---- rendering: slice, then the 3D renderer ---- */

/* The context's slice: a 3D scene of the capacity it last needed. */
typedef struct slice_state {
    rd_scene *sliced;
    int64_t *source; /* each sliced Gaussian's index in the 4D scene */
    int64_t capacity;
    int sh_degree;
} slice_state;

static void free_state(rd_context *ctx, void *state)
{
    (void)ctx;
    slice_state *st = state;
    if (!st) return;
    rd_scene_destroy(st->sliced);
    free(st->source);
    free(st);
}

static rd_result slice_room(rd_context *ctx, const rd_scene4d *s, slice_state **out)
{
    void **slot = rd_context_slot(ctx, RD_SCENE_GAUSSIANS_4D);
    slice_state *st = *slot;
    if (!st && !(st = *slot = calloc(1, sizeof *st))) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D render: out of memory");
    if (!st->sliced || st->capacity < s->count || st->sh_degree != s->sh_degree) {
        rd_scene_destroy(st->sliced);
        free(st->source);
        st->sliced = NULL, st->capacity = 0;
        if (!(st->source = rd_alloc_array(s->count, sizeof *st->source)))
            return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D render: out of memory for %lld Gaussians", (long long)s->count);
        rd_result r = rd_scene_alloc(ctx, s->count, s->sh_degree, &st->sliced);
        if (r != RD_OK) return r;
        st->capacity = s->count, st->sh_degree = s->sh_degree;
    }
    *out = st;
    return RD_OK;
}

static rd_result check_render(rd_context *ctx, const rd_scene *scene, const rd_render_desc *desc)
{
    (void)scene;
    if (!isfinite(desc->time)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_render: time %g is not finite", desc->time);
    if (desc->feature_channels != 0)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "rd_render: 4D scenes have no feature channels (asked for %d)",
                       desc->feature_channels);
    return RD_OK;
}

static rd_result render_cpu(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                            const rd_framebuffer *target, rd_render_stats *stats)
{
    const rd_scene4d *s = (const rd_scene4d *)scene;
    slice_state *st = NULL;
    rd_result r = slice_room(ctx, s, &st);
    if (r != RD_OK) return r;
    rd_slice4d_cpu(ctx, s, desc->time, st->sliced, st->source);
    r = rd_kind(RD_SCENE_GAUSSIANS)->backends[RD_BACKEND_CPU].render(ctx, st->sliced, camera, desc, target, stats);
    if (r == RD_OK) rd_stats_add_count(stats, "sliced", (double)st->sliced->count);
    return r;
}

/* A compact file's appearance networks are fitted by the compactor (compact_networks.c)
   on the host; the renderers' backward pass does not reach them. */
static rd_result no_appearance_backward(rd_context *ctx)
{
    return rd_fail(ctx, RD_ERROR_UNSUPPORTED,
                   "4D backward: this scene's colour comes from appearance networks (a compact file's), which have no backward pass here");
}

/* The slice, the 3D backward on the CPU into host gradients of the sliced Gaussians (with
   their covariances), then the slice's backward into the 4D parameters. */
static rd_result backward_cpu(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                              const rd_render_grads *output, const rd_scene_grads *grads, float *w2c_grad)
{
    const rd_scene4d *s = (const rd_scene4d *)scene;
    if (s->appearance) return no_appearance_backward(ctx);
    slice_state *st = NULL;
    rd_result r = slice_room(ctx, s, &st);
    if (r != RD_OK) return r;
    rd_slice4d_cpu(ctx, s, desc->time, st->sliced, st->source);
    size_t n = (size_t)st->sliced->count, floats = rd_slice_grads_floats(s->sh_degree);
    float *block = rd_alloc_array((int64_t)n, floats * sizeof(float));
    if (!block) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "4D backward: out of memory for %lld Gaussians", (long long)n);
    memset(block, 0, n * floats * sizeof(float));
    rd_gaussian_grads g3 = rd_slice_grads_over(block, n, s->sh_degree);
    r = rd_kind(RD_SCENE_GAUSSIANS)->backends[RD_BACKEND_CPU].backward(
        ctx, st->sliced, camera, desc, output, &(rd_scene_grads){RD_SCENE_GAUSSIANS, &g3, NULL, RD_MEMORY_HOST}, w2c_grad);
    if (r == RD_OK) rd_slice4d_backward_cpu(ctx, s, desc->time, st->source, (int64_t)n, &g3, grads->params);
    free(block);
    return r;
}

#ifdef RD_HAVE_CUDA
static rd_result render_cuda(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                             const rd_framebuffer *target, rd_render_stats *stats)
{
    return rd_slice4d_render_cuda(ctx, (const rd_scene4d *)scene, camera, desc, target, stats);
}

/* The slice, the 3D backward and the slice's backward all on the device
   (slice4d_backward_cuda.cu); culled Gaussians keep their slots, never seen. */
static rd_result backward_cuda(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                               const rd_render_grads *output, const rd_scene_grads *grads, float *w2c_grad)
{
    if (((const rd_scene4d *)scene)->appearance) return no_appearance_backward(ctx);
    return rd_slice4d_backward_render_cuda(ctx, (const rd_scene4d *)scene, camera, desc, output, grads, w2c_grad);
}
#endif

#ifdef RD_HAVE_VULKAN
static rd_result render_vk(rd_context *ctx, const rd_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                           const rd_framebuffer *target, rd_render_stats *stats)
{
    return rd_slice4d_render_vk(ctx, (const rd_scene4d *)scene, camera, desc, target, stats);
}
#endif

const rd_kind_ops rd_gaussians4d_kind = {
    .name = "4D Gaussians",
    .check_render = check_render,
    .destroy = destroy,
    .backends = {
        [RD_BACKEND_CPU] = {.render = render_cpu, .backward = backward_cpu, .free_state = free_state},
#ifdef RD_HAVE_CUDA
        [RD_BACKEND_CUDA] = {.render = render_cuda, .backward = backward_cuda, .free_state = rd_slice4d_cuda_free_state},
#endif
#ifdef RD_HAVE_VULKAN
        [RD_BACKEND_VULKAN] = {.render = render_vk, .free_state = rd_slice4d_vk_free_state},
#endif
    },
};
