/* compact_device.c: a compact 3D file decoded where the context renders (compact_gather.h).
   The host inflates and checks the parts (compact_parse.h) and turns each codebook into the
   stored parameters' floats; the codebooks, index planes and positions go to the device in
   one upload, and the backend's kernel writes the scene's five arrays into device memory
   that the scene owns (rd_scene_device_alloc): 4-25 bytes a Gaussian cross the bus where
   the host decode's scene would send 236 (SH degree 3). On the CPU backend the reference
   gather writes an ordinary host scene. 4D files decode on the host as always: a 4D
   scene's arrays are host memory, which its slice reads. */
#include "compact_parse.h"
#include "compact_gather.h"
#include "bytes.h"
#include "conventions.h"
#include "../renderer/backend.h"
#include "../splat/scene.h"
#include "../renderer/cpu/parallel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert((int)RD_COMPACT_GATHER_SLICES == (int)RD_COMPACT_MAX_SLICES, "compact_gather_args holds every slice");
_Static_assert((int)RD_COMPACT_GATHER_ARRAYS == (int)RD_SCENE_ARRAYS && RD_ARRAY_MEANS == 0, "the gather's arrays are the scene's");

/* Thread t of the gather: one float of one array. */
static void gather_one(const compact_gather_args *a, uint64_t t)
{
    int k = 0;
    while (t >= a->start[k + 1]) k++;
    uint64_t local = t - a->start[k], n = a->count, i = local / a->stride[k];
    uint32_t column = (uint32_t)(local - i * a->stride[k]);
    float *out = (float *)(uintptr_t)a->out[k];
    if (k == RD_ARRAY_MEANS) {
        const unsigned char *planes = (const unsigned char *)(uintptr_t)a->positions;
        uint16_t h = (uint16_t)(planes[2 * column * n + i] | planes[(2 * column + 1) * n + i] << 8);
        out[local] = a->origin[column] + rd_half_to_float(h);
        return;
    }
    for (uint32_t s = 0; s < a->slices; s++) {
        const compact_gather_slice *sl = &a->slice[s];
        if (sl->array != (uint32_t)k || column < sl->first || column >= sl->first + sl->width) continue;
        const unsigned char *planes = (const unsigned char *)(uintptr_t)sl->planes;
        uint32_t label = planes[i] | (sl->two_bytes ? (uint32_t)planes[n + i] << 8 : 0u);
        out[local] = ((const float *)(uintptr_t)sl->book)[(uint64_t)label * sl->width + (column - sl->first)];
        return;
    }
    out[local] = 0.0f; /* a column no slice fills (none in a file's layout) */
}

static void gather_range(int64_t begin, int64_t end, int worker, void *user)
{
    (void)worker;
    for (int64_t t = begin; t < end; t++) gather_one(user, (uint64_t)t);
}

void rd_compact_gather_cpu(const compact_gather_args *a, int threads)
{
    rd_parallel_for(threads, (int64_t)a->start[RD_COMPACT_GATHER_ARRAYS], 1 << 16, gather_range, (void *)a);
}

/* The array and column a slice fills (rd_compact_row_set's places in a 3D scene). */
static void slice_place(const rd_compact_slice *s, uint32_t *array, uint32_t *first)
{
    switch (s->attribute) {
    case RD_COMPACT_LOG_SCALES: *array = RD_ARRAY_LOG_SCALES, *first = (uint32_t)s->first; break;
    case RD_COMPACT_ROTATIONS: *array = RD_ARRAY_ROTATIONS, *first = (uint32_t)s->first; break;
    case RD_COMPACT_OPACITIES: *array = RD_ARRAY_OPACITIES, *first = 0; break;
    case RD_COMPACT_SH_DC: *array = RD_ARRAY_SH, *first = (uint32_t)s->first; break;
    default: *array = RD_ARRAY_SH, *first = 3 + (uint32_t)s->first; break; /* the rest, after the DC's 3 */
    }
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

rd_result rd_compact_gather(rd_context *ctx, const rd_compact_gather_input *in, rd_scene *scene)
{
    size_t n = (size_t)in->count, bytes = round_up(6 * n + 4, 16);
    for (int k = 0; k < in->slice_count; k++) {
        const rd_compact_slice *s = &in->slices[k];
        bytes += round_up((size_t)s->entries * (size_t)s->width * sizeof(float), 16) + round_up(rd_compact_index_bytes(s, in->count) + 4, 16);
    }
    size_t args_at = bytes;
    bytes += sizeof(compact_gather_args);
    rd_backend backend = rd_context_backend(ctx);
    if (backend != RD_BACKEND_CPU && backend != RD_BACKEND_CUDA && backend != RD_BACKEND_VULKAN)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "compact decode: no gather for the %s backend", rd_backend_name(backend));
    unsigned char *host = calloc(1, bytes); /* the shader reads whole words: the padding is defined */
    if (!host) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "compact decode: out of memory for %zu bytes of upload", bytes);
    void *device = NULL;
    rd_result r = RD_OK;
    if (backend != RD_BACKEND_CPU) {
        rd_memory memory;
        r = rd_buffer_alloc(ctx, bytes, &device, &memory);
    }
    /* where a byte of the upload is read from: the device's copy, or the host's on the CPU */
    uintptr_t base = device ? (uintptr_t)device : (uintptr_t)host;
    compact_gather_args a;
    memset(&a, 0, sizeof a);
    rd_compact_gather_layout(&a, (uint32_t)n, scene->sh_degree);
    const float *arrays[RD_SCENE_ARRAYS];
    size_t floats[RD_SCENE_ARRAYS];
    rd_scene_array_list(scene, arrays, floats);
    for (int k = 0; k < RD_SCENE_ARRAYS; k++) a.out[k] = (uint64_t)(uintptr_t)arrays[k];
    memcpy(host, in->positions, 6 * n);
    a.positions = base;
    memcpy(a.origin, in->origin, sizeof a.origin);
    a.slices = (uint32_t)in->slice_count;
    size_t at = round_up(6 * n + 4, 16);
    for (int k = 0; k < in->slice_count; k++) {
        const rd_compact_slice *s = &in->slices[k];
        compact_gather_slice *g = &a.slice[k];
        slice_place(s, &g->array, &g->first);
        g->width = (uint32_t)s->width, g->two_bytes = s->bits > 8;
        size_t book = (size_t)s->entries * (size_t)s->width, index_bytes = rd_compact_index_bytes(s, in->count);
        memcpy(host + at, in->books[k], book * sizeof(float));
        g->book = base + at;
        at += round_up(book * sizeof(float), 16);
        memcpy(host + at, in->planes[k], index_bytes);
        g->planes = base + at;
        at += round_up(index_bytes + 4, 16);
    }
    memcpy(host + args_at, &a, sizeof a);
    if (r == RD_OK && backend == RD_BACKEND_CPU) rd_compact_gather_cpu(&a, ctx->threads);
#ifdef RD_HAVE_CUDA
    if (r == RD_OK && backend == RD_BACKEND_CUDA) r = rd_buffer_copy(ctx, device, RD_MEMORY_DEVICE, host, RD_MEMORY_HOST, bytes);
    if (r == RD_OK && backend == RD_BACKEND_CUDA) r = rd_compact_gather_cuda(ctx, &a);
#endif
#ifdef RD_HAVE_VULKAN
    if (r == RD_OK && backend == RD_BACKEND_VULKAN) r = rd_compact_gather_vk(ctx, &a, device, host, bytes, base + args_at);
#endif
    if (device) rd_buffer_free(ctx, device);
    free(host);
    return r;
}

/* Slice k's codebook as the stored parameters' floats: the halves, and for the opacity
   the logit of each (what rd_compact_row_set stores). */
static float *stored_book(const rd_compact_slice *s, const unsigned char *halves)
{
    size_t values = (size_t)s->entries * (size_t)s->width;
    float *book = malloc(values * sizeof(float) + 4);
    for (size_t e = 0; book && e < values; e++) {
        float v = rd_half_to_float(rd_le16(halves + 2 * e));
        book[e] = s->attribute == RD_COMPACT_OPACITIES ? rd_logit(v) : v;
    }
    return book;
}

rd_result rd_compact_decode_device(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    rd_compact_parsed p;
    rd_result r = rd_compact_parse(ctx, path, data, size, &p);
    if (r != RD_OK) return r;
    if (p.a.four_d) return rd_compact_decode_parsed(ctx, path, size, &p, out);
    unsigned char *raw[RD_COMPACT_FILE_PARTS] = {0};
    rd_compact_gather_input in = {.count = p.a.count, .slice_count = p.slice_count};
    rd_scene *scene = NULL;
    r = rd_compact_check_limit(ctx, path, size, &p);
    if (r == RD_OK) r = rd_compact_inflate(ctx, path, &p, raw);
    if (r == RD_OK) r = rd_compact_check_raw(ctx, path, &p, raw);
    if (r == RD_OK) {
        r = rd_context_backend(ctx) == RD_BACKEND_CPU ? rd_scene_alloc(ctx, p.a.count, p.a.sh_degree, &scene)
                                                      : rd_scene_device_alloc(ctx, p.a.count, p.a.sh_degree, &scene);
        if (r != RD_OK) rd_error_prefix(ctx, path);
    }
    if (r == RD_OK) {
        in.positions = raw[0];
        memcpy(in.origin, p.origin, sizeof in.origin);
        memcpy(in.slices, p.slices, sizeof p.slices);
        for (int k = 0; k < p.slice_count && r == RD_OK; k++) {
            in.planes[k] = rd_compact_planes_of(&p, raw, k);
            if (!(in.books[k] = stored_book(&p.slices[k], rd_compact_codebook_of(&p, raw, k))))
                r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
        }
    }
    bool parsed_whole = r == RD_OK; /* past this, a failure is the device's, not the file's: named here */
    if (r == RD_OK) r = rd_compact_gather(ctx, &in, scene);
    for (int k = 0; k < RD_COMPACT_MAX_SLICES; k++) free((void *)in.books[k]);
    for (int k = 0; k < RD_COMPACT_FILE_PARTS; k++) free(raw[k]);
    if (r != RD_OK) {
        rd_scene_destroy(scene);
        if (!parsed_whole) return r;
        char prefix[4200];
        snprintf(prefix, sizeof prefix, "%s: decoding %lld Gaussians on the device", path, (long long)p.a.count);
        rd_error_prefix(ctx, prefix);
        return r;
    }
    scene->flags = p.a.flags;
    snprintf(scene->format, sizeof scene->format, "rcompact");
    snprintf(scene->header, sizeof scene->header, "%d slices, %lld Gaussians, decoded on the %s", p.slice_count, (long long)p.a.count,
             rd_context_backend(ctx) == RD_BACKEND_CPU ? "host (the reference gather)" : "device");
    *out = scene;
    return RD_OK;
}
