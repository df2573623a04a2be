/* render_cuda.cu: a NeRF frame on CUDA (render_cuda.h), the CPU's frame (render_cpu.c) in
   waves, as Instant-NGP renders: every pixel's ray starts alive; each wave marches a few
   samples of each alive ray (the occupancy grid's own march, resumed where the last wave
   left it), evaluates the field at all of the wave's samples at once (field.h's
   half-precision networks), composites them onto each ray's running sums in order, and
   keeps the rays that are neither opaque (transmittance under 1e-4) nor past their last
   sample in a compacted list for the next wave. A ray thus composites exactly the samples
   the CPU's does, in the same order, and the samples behind an opaque surface are never
   evaluated. The samples a wave takes grow as rays die (steps = WAVE_SAMPLES / alive, at
   most MAX_STEPS), so the batches stay large.

   Host synchronisation: one a wave (the wave's sample count sizes the field's launch), and
   one at the end for a host-memory target's download. Rays, the march and the
   compositing are written with every rounding explicit (__fmul_rn, __fadd_rn, IEEE
   division and square root) in the CPU's order, so that the samples' positions, t and dt
   are the CPU's bit for bit; the outputs differ from the CPU's by the networks' half
   precision and expf's last bits only (tests/ops_nerf_field.c gives the bounds).

   On an H200 the frame's time is the field's: ~2.4 ns a sample evaluated (the hash
   encoding's and the networks' kernels, field_cuda.cu), against ~0.3 ms for the waves'
   march, compositing and synchronisations; the samples wasted past an opaque surface are
   ~15% (MAX_STEPS 8, 16 or 32 timed the same). A synthetic lego-sized field of density
   ~500 (2.4M samples evaluated at 800x800): 5.98 ms, 10.27 ms at 1920x1080. */
#include "render_cuda.h"
#include "volume.h"
#include "../renderer/cuda/cuda_internal.h"

#include <stdlib.h>
#include <string.h>

enum {
    THREADS = 256,
    WAVE_SAMPLES = 1 << 20, /* samples through the field at most a wave (the field's scratch: ~1 KiB a sample) */
    MAX_STEPS = 16,         /* samples a ray marches at most a wave */
};

/* What the kernels need of the camera, the placement and the call. */
struct view_params {
    float fx, fy, cx, cy, w2c[16];
    int width;
    long long pixels;
    float scale, offset[3], near_plane, far_plane, background[3];
    int expected_depth;
};

/* An alive ray: where its march is (leave -infinity: it left the grid), and its running
   sums (rd_volume_composite_ray's). */
struct ray_state {
    double t, leave;
    float T, rgb[3], depth;
    int pixel, marched, used;
};

/* The frame's counters on the device, read back once a wave. */
struct wave_counts {
    unsigned int alive[2];       /* the rays in each list */
    unsigned int samples;        /* this wave's */
    unsigned int pad;
    unsigned long long used;     /* samples composited, the frame's */
};

struct frame_outputs {
    float *color, *depth, *trans;
    unsigned int *contrib;
};

struct nerf_frame {
    uint64_t uid; /* the scene whose copies these are; 0: none */
    rd_cuda_buffer params, bits;
    size_t bit_offset[RD_OCCUPANCY_LEVELS];
    int cascades;
    float cone;
    rd_nerf_field_scratch_cuda field;
    rd_cuda_buffer lists[2], spans, positions, dirs, samples, sigma, rgb, counts;
    rd_cuda_buffer color, depth, trans, contrib; /* a host target's outputs before their download */
    wave_counts *host;                          /* pinned */
    rd_cuda_timers timers;
};

static const char *const stage_names[1] = {"render"};

static unsigned int blocks_for(long long n) { return (unsigned int)((n + THREADS - 1) / THREADS); }

/* ---- device ---------------------------------------------------------------------------- */

/* rays.h's rd_nerf_camera_ray with its roundings spelled out: nvcc would fuse its
   multiply-adds, and a ray one ulp off can meet a cell boundary elsewhere. */
__device__ rd_nerf_ray camera_ray(const view_params &v, long long p)
{
    float u = (float)(p % v.width) + 0.5f, w = (float)(p / v.width) + 0.5f;
    const float *m = v.w2c;
    float cam0 = __fdiv_rn(__fsub_rn(u, v.cx), v.fx), cam1 = __fdiv_rn(__fsub_rn(w, v.cy), v.fy), world[3];
    rd_nerf_ray ray;
    for (int a = 0; a < 3; a++) {
        world[a] = __fadd_rn(__fadd_rn(__fmul_rn(m[a], cam0), __fmul_rn(m[4 + a], cam1)), m[8 + a]);
        float centre = -__fadd_rn(__fadd_rn(__fmul_rn(m[a], m[3]), __fmul_rn(m[4 + a], m[7])), __fmul_rn(m[8 + a], m[11]));
        ray.origin[a] = __fadd_rn(__fmul_rn(centre, v.scale), v.offset[a]);
    }
    float length = __fsqrt_rn(
        __fadd_rn(__fadd_rn(__fmul_rn(world[0], world[0]), __fmul_rn(world[1], world[1])), __fmul_rn(world[2], world[2])));
    for (int a = 0; a < 3; a++) ray.dir[a] = __fdiv_rn(world[a], length);
    ray.field_per_depth = __fmul_rn(length, v.scale);
    return ray;
}

/* rd_occupancy_march_view's start with jitter 0 (a render's). */
__device__ void march_start(int cascades, const rd_nerf_ray &ray, float t_min, float t_max, ray_state &s)
{
    s.t = rd_occupancy_start(cascades, ray.origin, ray.dir, t_min, t_max, &s.leave);
}

/* rd_occupancy_march_view's loop with jitter 0, resumed at s and left after `steps`
   samples: the same statements in the same order (a change there must be made here too;
   better, occupancy.h could split its march into this start and these steps for both). */
__device__ int march_steps(const rd_occupancy_view &g, const rd_nerf_ray &ray, ray_state &s, int steps, rd_march_sample *out)
{
    const float *origin = ray.origin, *dir = ray.dir;
    double dt_max = RD_OCCUPANCY_DT_MIN * (double)(1 << (g.cascades - 1)), t = s.t;
    int got = 0;
    while (t < s.leave && s.marched < RD_NERF_MAX_SAMPLES && got < steps) {
        float p[3];
        for (int a = 0; a < 3; a++) p[a] = (float)(origin[a] + rd_occupancy_dmul(t, dir[a]));
        int cell, c = rd_occupancy_cell_of(g.cascades, p, &cell);
        if (c < 0) {
            s.leave = -INFINITY;
            break;
        }
        double dt = fmin(fmax(t * g.cone, (double)RD_OCCUPANCY_DT_MIN), dt_max);
        if (g.bits[0][(int64_t)c * RD_OCCUPANCY_CELLS + cell]) {
            out[got].t = (float)t, out[got].dt = (float)dt;
            got++, s.marched++;
            t += dt;
            continue;
        }
        int i[3] = {cell % RD_OCCUPANCY_SIDE, cell / RD_OCCUPANCY_SIDE % RD_OCCUPANCY_SIDE, cell / (RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE)};
        int k = 0;
        while (k + 1 < RD_OCCUPANCY_LEVELS) {
            int side = RD_OCCUPANCY_SIDE >> (k + 1);
            int64_t b = (int64_t)c * side * side * side + (i[0] >> (k + 1)) + (int64_t)(i[1] >> (k + 1)) * side +
                        (int64_t)(i[2] >> (k + 1)) * side * side;
            if (g.bits[k + 1][b]) break;
            k++;
        }
        double cascade_size = (double)(1 << c), block = cascade_size * (double)(1 << k) / RD_OCCUPANCY_SIDE, low[3];
        for (int a = 0; a < 3; a++) low[a] = 0.5 - 0.5 * cascade_size + (double)((i[a] >> k) << k) / RD_OCCUPANCY_SIDE * cascade_size;
        int axis;
        double next = rd_occupancy_exit(origin, dir, low, block, &axis);
        next += rd_occupancy_nudge(block, dir[axis]);
        t = next > t ? next : t + RD_OCCUPANCY_DT_MIN;
    }
    s.t = t;
    return got;
}

/* Slots for n items of this thread in a counter, one atomic a warp; every lane of the warp
   calls it (n = 0 for none). */
__device__ unsigned int warp_reserve(unsigned int *counter, unsigned int n)
{
    const unsigned int all = 0xffffffffu, lane = threadIdx.x & 31;
    unsigned int x = n;
    for (int o = 1; o < 32; o <<= 1) {
        unsigned int y = __shfl_up_sync(all, x, o);
        if (lane >= (unsigned int)o) x += y;
    }
    unsigned int total = __shfl_sync(all, x, 31), base = 0;
    if (lane == 31 && total) base = atomicAdd(counter, total);
    return __shfl_sync(all, base, 31) + x - n;
}

/* A finished ray's outputs, as render_cpu.c writes them (rd_volume_composite_ray's end). */
__device__ void finish(const view_params &v, const frame_outputs &out, const ray_state &s)
{
    float fpd = camera_ray(v, s.pixel).field_per_depth, alpha = __fsub_rn(1.0f, s.T);
    float depth = __fdiv_rn(s.depth, fpd);
    if (v.expected_depth) depth = alpha > 0.0f ? __fdiv_rn(depth, alpha) : 0.0f;
    long long p = s.pixel;
    if (out.color) {
        for (int c = 0; c < 3; c++) out.color[4 * p + c] = __fadd_rn(s.rgb[c], __fmul_rn(s.T, v.background[c]));
        out.color[4 * p + 3] = alpha;
    }
    if (out.depth) out.depth[p] = depth;
    if (out.trans) out.trans[p] = __fsub_rn(1.0f, alpha);
    if (out.contrib) out.contrib[p] = (unsigned int)s.used;
}

/* The sum over the warp's lanes of what they composited, added once a warp. */
__device__ void add_used(wave_counts *counts, unsigned int used)
{
    unsigned int sum = used;
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_down_sync(0xffffffffu, sum, o);
    if ((threadIdx.x & 31) == 0 && sum) atomicAdd(&counts->used, (unsigned long long)sum);
}

/* Every pixel's ray: those that meet the grid into list 0, the rest finished (background). */
__global__ void __launch_bounds__(THREADS) start_kernel(view_params v, int cascades, ray_state *list, wave_counts *counts,
                                                        frame_outputs out)
{
    long long p = (long long)blockIdx.x * THREADS + threadIdx.x;
    bool alive = false;
    ray_state s = {};
    if (p < v.pixels) {
        rd_nerf_ray ray = camera_ray(v, p);
        s.T = 1.0f, s.pixel = (int)p;
        march_start(cascades, ray, __fmul_rn(v.near_plane, ray.field_per_depth), __fmul_rn(v.far_plane, ray.field_per_depth), s);
        alive = s.t < s.leave;
        if (!alive) finish(v, out, s);
    }
    unsigned int slot = warp_reserve(&counts->alive[0], alive ? 1u : 0u);
    if (alive) list[slot] = s;
}

/* Clears the wave's sample count and the next list's. */
__global__ void reset_kernel(wave_counts *counts, int next) { counts->samples = 0, counts->alive[next] = 0; }

/* The wave's march: the first max_rays alive rays take up to `steps` samples each, packed
   ray by ray (spans: a ray's first sample and count), with their positions and directions
   for the field. */
__global__ void __launch_bounds__(THREADS) march_kernel(view_params v, rd_occupancy_view g, ray_state *list, wave_counts *counts,
                                                        int cur, unsigned int max_rays, int steps, int2 *spans, float *positions,
                                                        float *dirs, rd_march_sample *samples)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    unsigned int n = min(counts->alive[cur], max_rays);
    rd_march_sample local[MAX_STEPS];
    rd_nerf_ray ray;
    int got = 0;
    if (i < n) {
        ray_state s = list[i];
        ray = camera_ray(v, s.pixel);
        got = march_steps(g, ray, s, steps, local);
        list[i].t = s.t, list[i].leave = s.leave, list[i].marched = s.marched;
    }
    unsigned int base = warp_reserve(&counts->samples, (unsigned int)got);
    if (i >= n) return;
    spans[i] = make_int2((int)base, got);
    for (int j = 0; j < got; j++) {
        long long k = (long long)base + j;
        samples[k] = local[j];
        for (int a = 0; a < 3; a++) {
            positions[3 * k + a] = __fadd_rn(ray.origin[a], __fmul_rn(local[j].t, ray.dir[a]));
            dirs[3 * k + a] = ray.dir[a];
        }
    }
}

/* Each alive ray composites its wave's samples in order (rd_volume_composite_ray's steps),
   then finishes or goes on into the next list; rays past max_rays go on as they were. */
__global__ void __launch_bounds__(THREADS) composite_kernel(view_params v, const ray_state *list, ray_state *next, wave_counts *counts,
                                                            int cur, unsigned int max_rays, const int2 *spans,
                                                            const rd_march_sample *samples, const float *sigma, const float *rgb,
                                                            frame_outputs out)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    bool keep = false;
    unsigned int used = 0;
    ray_state s;
    if (i < counts->alive[cur]) {
        s = list[i];
        keep = true;
        if (i < max_rays) {
            int2 span = spans[i];
            for (int j = 0; j < span.y && s.T >= RD_VOLUME_MIN_TRANSMITTANCE; j++) {
                long long k = (long long)span.x + j;
                float alpha = __fsub_rn(1.0f, expf(-__fmul_rn(sigma[k], samples[k].dt))), w = __fmul_rn(s.T, alpha);
                for (int c = 0; c < 3; c++) s.rgb[c] = __fadd_rn(s.rgb[c], __fmul_rn(w, rgb[3 * k + c]));
                s.depth = __fadd_rn(s.depth, __fmul_rn(w, samples[k].t));
                s.T = __fmul_rn(s.T, __fsub_rn(1.0f, alpha));
                s.used++;
            }
            keep = s.T >= RD_VOLUME_MIN_TRANSMITTANCE && s.t < s.leave && s.marched < RD_NERF_MAX_SAMPLES;
            if (!keep) finish(v, out, s), used = (unsigned int)s.used;
        }
    }
    add_used(counts, used);
    unsigned int slot = warp_reserve(&counts->alive[cur ^ 1], keep ? 1u : 0u);
    if (keep) next[slot] = s;
}

/* ---- host ------------------------------------------------------------------------------ */

extern "C" void rd_nerf_cuda_free_state(rd_context *ctx, void *state)
{
    nerf_frame *f = (nerf_frame *)state;
    if (!f) return;
    rd_cuda_buffer *bufs[] = {&f->params, &f->bits, &f->lists[0], &f->lists[1], &f->spans, &f->positions, &f->dirs, &f->samples,
                              &f->sigma, &f->rgb, &f->counts, &f->color, &f->depth, &f->trans, &f->contrib};
    for (rd_cuda_buffer *b : bufs) rd_cuda_release(ctx, b);
    rd_nerf_field_scratch_cuda_free(ctx, &f->field);
    rd_cuda_timers_destroy(&f->timers);
    if (f->host) cudaFreeHost(f->host);
    free(f);
}

static rd_result get_frame(rd_context *ctx, nerf_frame **out)
{
    void **slot = rd_context_slot(ctx, RD_SCENE_NERF);
    if (!*slot) {
        nerf_frame *f = (nerf_frame *)calloc(1, sizeof *f);
        if (!f) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "NeRF render (cuda): out of memory");
        rd_result r = rd_cuda_check(ctx, cudaMallocHost(&f->host, sizeof(wave_counts)), "cudaMallocHost");
        if (r == RD_OK) r = rd_cuda_timers_create(ctx, stage_names, 1, &f->timers);
        if (r != RD_OK) {
            rd_nerf_cuda_free_state(ctx, f);
            return r;
        }
        *slot = f;
    }
    *out = (nerf_frame *)*slot;
    return RD_OK;
}

/* The scene's parameters and occupancy bits on the device, copied when the scene (its uid:
   a trainer's scene takes a new one each step) differs from the last one rendered. */
static rd_result upload_scene(rd_context *ctx, nerf_frame *f, const rd_nerf_scene *s)
{
    if (f->uid == s->head.uid) return RD_OK;
    f->uid = 0;
    size_t param_bytes = sizeof(float) * (size_t)s->field.params;
    size_t bit_bytes = rd_occupancy_packed_levels(s->occupancy.cascades, f->bit_offset);
    rd_result r = rd_cuda_reserve(ctx, &f->params, param_bytes, "NeRF parameters");
    if (r == RD_OK) r = rd_cuda_upload(ctx, &f->params, 0, s->params, param_bytes);
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->bits, bit_bytes, "NeRF occupancy bits");
    for (int k = 0; k < RD_OCCUPANCY_LEVELS && r == RD_OK; k++)
        r = rd_cuda_upload(ctx, &f->bits, f->bit_offset[k], s->occupancy.bits[k],
                           (size_t)(s->occupancy.cascades * rd_occupancy_level_cells(k)));
    if (r != RD_OK) return r;
    f->cascades = s->occupancy.cascades, f->cone = s->occupancy.cone, f->uid = s->head.uid;
    return RD_OK;
}

/* Where an output goes: the caller's device pointer, or our buffer to download. */
static rd_result output_target(rd_context *ctx, void *caller, rd_memory memory, rd_cuda_buffer *own, size_t bytes, void **device_ptr)
{
    *device_ptr = NULL;
    if (!caller) return RD_OK;
    if (memory == RD_MEMORY_DEVICE) {
        *device_ptr = caller;
        return RD_OK;
    }
    rd_result r = rd_cuda_reserve(ctx, own, bytes, "NeRF frame outputs");
    *device_ptr = own->ptr;
    return r;
}

/* Every buffer the frame uses, sized before anything is enqueued. */
static rd_result reserve_frame(rd_context *ctx, nerf_frame *f, const rd_nerf_scene *s, long long pixels, long long wave,
                               const rd_framebuffer *target, frame_outputs *out)
{
    size_t rays = (size_t)pixels, n = (size_t)wave;
    rd_result r = rd_cuda_reserve(ctx, &f->lists[0], rays * sizeof(ray_state), "NeRF rays");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->lists[1], rays * sizeof(ray_state), "NeRF rays");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->spans, rays * sizeof(int2), "NeRF rays");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->positions, n * 3 * sizeof(float), "NeRF samples");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->dirs, n * 3 * sizeof(float), "NeRF samples");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->samples, n * sizeof(rd_march_sample), "NeRF samples");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->sigma, n * sizeof(float), "NeRF samples");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->rgb, n * 3 * sizeof(float), "NeRF samples");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &f->counts, sizeof(wave_counts), "NeRF counters");
    if (r == RD_OK) r = rd_nerf_field_scratch_cuda_reserve(ctx, &s->field, wave, &f->field);
    void *p[4] = {};
    if (r == RD_OK) r = output_target(ctx, target->color, target->memory, &f->color, rays * 4 * sizeof(float), &p[0]);
    if (r == RD_OK) r = output_target(ctx, target->depth, target->memory, &f->depth, rays * sizeof(float), &p[1]);
    if (r == RD_OK) r = output_target(ctx, target->transmittance, target->memory, &f->trans, rays * sizeof(float), &p[2]);
    if (r == RD_OK) r = output_target(ctx, target->contributors, target->memory, &f->contrib, rays * sizeof(unsigned int), &p[3]);
    *out = frame_outputs{(float *)p[0], (float *)p[1], (float *)p[2], (unsigned int *)p[3]};
    return r;
}

static view_params make_view(const rd_nerf_scene *s, const rd_camera *c, const rd_render_desc *desc)
{
    view_params v = {};
    v.fx = c->fx, v.fy = c->fy, v.cx = c->cx, v.cy = c->cy;
    memcpy(v.w2c, c->w2c, sizeof v.w2c);
    v.width = c->width, v.pixels = (long long)c->width * c->height;
    v.scale = s->scale;
    memcpy(v.offset, s->offset, sizeof v.offset);
    v.near_plane = rd_nerf_near(c), v.far_plane = rd_nerf_far(c);
    memcpy(v.background, desc->background, sizeof v.background);
    v.expected_depth = (desc->flags & RD_RENDER_EXPECTED_DEPTH) != 0;
    return v;
}

/* The waves (header): one host synchronisation each, to read how many samples the march
   took (the field's launch) and how many rays are alive (the next wave's launch). */
static rd_result run_waves(rd_context *ctx, nerf_frame *f, const rd_nerf_scene *s, const view_params &v, const frame_outputs &out,
                           long long wave, cudaStream_t st, long long *evaluated, int *waves)
{
    rd_occupancy_view g = {f->cascades, f->cone, {}};
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) g.bits[k] = (const uint8_t *)f->bits.ptr + f->bit_offset[k];
    wave_counts *counts = (wave_counts *)f->counts.ptr;
    ray_state *lists[2] = {(ray_state *)f->lists[0].ptr, (ray_state *)f->lists[1].ptr};
    rd_march_sample *samples = (rd_march_sample *)f->samples.ptr;
    float *sigma = (float *)f->sigma.ptr, *rgb = (float *)f->rgb.ptr;
    rd_result r = rd_cuda_check(ctx, cudaMemsetAsync(counts, 0, sizeof(wave_counts), st), "NeRF render");
    if (r != RD_OK) return r;
    start_kernel<<<blocks_for(v.pixels), THREADS, 0, st>>>(v, f->cascades, lists[0], counts, out);
    long long bound = v.pixels; /* the alive rays at most */
    for (int cur = 0;; cur ^= 1) {
        int steps = (int)(wave / bound < 1 ? 1 : wave / bound > MAX_STEPS ? MAX_STEPS : wave / bound);
        unsigned int max_rays = (unsigned int)(wave / steps);
        reset_kernel<<<1, 1, 0, st>>>(counts, cur ^ 1);
        march_kernel<<<blocks_for(bound < max_rays ? bound : max_rays), THREADS, 0, st>>>(
            v, g, lists[cur], counts, cur, max_rays, steps, (int2 *)f->spans.ptr, (float *)f->positions.ptr, (float *)f->dirs.ptr,
            samples);
        rd_cuda_timers_mark(&f->timers, 1, st); /* the last wave's is the frame's end */
        r = rd_cuda_check(ctx, cudaMemcpyAsync(f->host, counts, sizeof(wave_counts), cudaMemcpyDeviceToHost, st), "NeRF march");
        if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(st), "NeRF march");
        if (r != RD_OK) return r;
        long long alive = f->host->alive[cur], n = f->host->samples;
        if (alive == 0) return RD_OK;
        ++*waves, *evaluated += n;
        if (n > 0)
            r = rd_nerf_field_forward_cuda(ctx, &s->field, (const float *)f->params.ptr, (const float *)f->positions.ptr,
                                           (const float *)f->dirs.ptr, n, &f->field, sigma, rgb, st);
        if (r != RD_OK) return r;
        composite_kernel<<<blocks_for(alive), THREADS, 0, st>>>(v, lists[cur], lists[cur ^ 1], counts, cur, max_rays,
                                                                (const int2 *)f->spans.ptr, samples, sigma, rgb, out);
        r = rd_cuda_check(ctx, cudaGetLastError(), "NeRF composite");
        if (r != RD_OK) return r;
        bound = alive;
    }
}

extern "C" rd_result rd_nerf_render_cuda(rd_context *ctx, const rd_nerf_scene *s, const rd_camera *camera, const rd_render_desc *desc,
                                         const rd_framebuffer *target, rd_render_stats *stats)
{
    if (s->head.memory == RD_MEMORY_DEVICE)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "NeRF render (cuda): a scene in device memory is not supported yet");
    long long pixels = (long long)camera->width * camera->height;
    if (pixels > INT32_MAX)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "NeRF render (cuda): %dx%d pixels exceed 2^31", camera->width, camera->height);
    nerf_frame *f = NULL;
    rd_result r = get_frame(ctx, &f);
    if (r == RD_OK) r = upload_scene(ctx, f, s);
    long long wave = pixels * MAX_STEPS < WAVE_SAMPLES ? pixels * MAX_STEPS : WAVE_SAMPLES;
    frame_outputs out = {};
    if (r == RD_OK) r = reserve_frame(ctx, f, s, pixels, wave > 0 ? wave : 1, target, &out);
    if (r != RD_OK || pixels == 0) return r;
    cudaStream_t st = desc->stream ? (cudaStream_t)desc->stream : rd_cuda(ctx)->stream;
    view_params v = make_view(s, camera, desc);
    long long evaluated = 0;
    int waves = 0;
    rd_cuda_timers_mark(&f->timers, 0, st);
    r = run_waves(ctx, f, s, v, out, wave, st, &evaluated, &waves);
    if (r == RD_OK && target->memory == RD_MEMORY_HOST) {
        size_t n = (size_t)pixels;
        struct {
            void *dst, *src;
            size_t bytes;
        } copies[] = {{target->color, out.color, n * 4 * sizeof(float)}, {target->depth, out.depth, n * sizeof(float)},
                      {target->transmittance, out.trans, n * sizeof(float)}, {target->contributors, out.contrib, n * sizeof(unsigned)}};
        for (auto &copy : copies)
            if (copy.dst && r == RD_OK)
                r = rd_cuda_check(ctx, cudaMemcpyAsync(copy.dst, copy.src, copy.bytes, cudaMemcpyDeviceToHost, st), "NeRF download");
        if (r == RD_OK) r = rd_cuda_check(ctx, cudaStreamSynchronize(st), "NeRF download");
    }
    if (r == RD_OK) r = rd_cuda_timers_read(ctx, &f->timers, true, stats);
    if (r == RD_OK) {
        rd_stats_add_count(stats, "samples", (double)f->host->used);
        rd_stats_add_count(stats, "evaluated", (double)evaluated);
        rd_stats_add_count(stats, "waves", (double)waves);
    }
    return r;
}
