/* stream_device.c: a stream's state in a GPU's memory and a residual frame's decode there
   (stream_device.h): the backend-neutral part, which lays the arrays out, packs the
   parsed frame into one upload and calls the backend's kernels. */
#include "stream_device.h"

#include <stdlib.h>
#include <string.h>

static uint64_t address(const void *buffer, size_t offset) { return (uint64_t)(uintptr_t)buffer + offset; }

/* The arrays' places in a buffer for count Gaussians, each at a multiple of ARRAY_ALIGN
   bytes; returns the bytes they take. Aligned because NVIDIA's Vulkan driver renders the
   same arrays 1 ulp apart at 4-byte-aligned addresses (H100, 580.159.04:
   test_device_arrays), and a stream's device scene must render as its host state does. */
enum { ARRAY_ALIGN = 256 };

/* Bytes of each array of a state: means, log-scales, rotations, opacities, SH, f_rest's latents. */
static void array_bytes(int64_t count, int sh_degree, int rest, size_t bytes[6])
{
    size_t n = (size_t)count;
    const size_t all[6] = {12 * n, 12 * n, 16 * n, 4 * n, 4 * n * (size_t)rd_stream_sh_floats(sh_degree), 4 * n * (size_t)rest};
    memcpy(bytes, all, sizeof all);
}

static size_t layout(const void *buffer, int64_t count, int sh_degree, int rest, stream_device_arrays *a)
{
    size_t at = 0, bytes[6];
    array_bytes(count, sh_degree, rest, bytes);
    uint64_t *places[6] = {&a->means, &a->log_scales, &a->rotations, &a->opacities, &a->sh, &a->rest_latents};
    for (int k = 0; k < 6; k++) {
        *places[k] = address(buffer, at);
        at = (at + bytes[k] + ARRAY_ALIGN - 1) / ARRAY_ALIGN * ARRAY_ALIGN;
    }
    return at + 4;
}

rd_result rd_stream_device_reserve(rd_context *ctx, stream_device_state *d, int64_t count, int sh_degree, int rest_latent_dim)
{
    rd_scene_destroy(d->scene), d->scene = NULL;
    stream_device_arrays unused;
    size_t bytes = layout(NULL, count, sh_degree, rest_latent_dim, &unused);
    if (bytes > d->buffer_bytes) {
        rd_buffer_free(ctx, d->buffer);
        d->buffer = NULL, d->buffer_bytes = 0;
        size_t grown = bytes + bytes / 4; /* a growing scene does not reallocate every frame */
        rd_memory memory;
        rd_result r = rd_buffer_alloc(ctx, grown, &d->buffer, &memory);
        if (r != RD_OK) return r;
        d->buffer_bytes = grown;
    }
    /* the arrays packed for this count, so that a device scene over them is the count's size */
    layout(d->buffer, count, sh_degree, rest_latent_dim, &d->arrays);
    d->count = count, d->sh_degree = sh_degree, d->rest_latent_dim = rest_latent_dim;
    return RD_OK;
}

/* The state's arrays as (device address, host array, bytes) rows. */
typedef struct array_row {
    uint64_t device;
    void *host;
    size_t bytes;
} array_row;

static int rows_of(const stream_device_state *d, const stream_state *h, array_row rows[6])
{
    size_t bytes[6];
    array_bytes(d->count, d->sh_degree, d->rest_latent_dim, bytes);
    const uint64_t device[6] = {d->arrays.means, d->arrays.log_scales, d->arrays.rotations, d->arrays.opacities, d->arrays.sh,
                                d->arrays.rest_latents};
    void *const host[6] = {h->means, h->log_scales, h->rotations, h->opacities, h->sh, h->rest_latents};
    for (int k = 0; k < 6; k++) rows[k] = (array_row){device[k], host[k], bytes[k]};
    return d->rest_latent_dim ? 6 : 5;
}

/* The largest magnitude of n latents. */
static int64_t largest_latent(const int32_t *z, size_t n)
{
    int64_t most = 0;
    for (size_t k = 0; k < n; k++) most = llabs((long long)z[k]) > most ? llabs((long long)z[k]) : most;
    return most;
}

rd_result rd_stream_device_upload(rd_context *ctx, const stream_state *host, stream_device_state *d)
{
    rd_result r = rd_stream_device_reserve(ctx, d, host->count, host->sh_degree, host->rest_latent_dim);
    d->rest_bound = host->rest_latent_dim ? largest_latent(host->rest_latents, (size_t)host->count * (size_t)host->rest_latent_dim) : 0;
    array_row rows[6];
    int count = rows_of(d, host, rows);
    for (int k = 0; k < count && r == RD_OK && host->count > 0; k++)
        r = rd_buffer_copy(ctx, (void *)(uintptr_t)rows[k].device, RD_MEMORY_DEVICE, rows[k].host, RD_MEMORY_HOST, rows[k].bytes);
    return r;
}

rd_result rd_stream_device_download(rd_context *ctx, const stream_device_state *d, stream_state *host)
{
    if (!rd_stream_state_reserve(host, d->count, d->sh_degree, d->rest_latent_dim))
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "stream: out of memory for %lld Gaussians", (long long)d->count);
    array_row rows[6];
    int count = rows_of(d, host, rows);
    rd_result r = RD_OK;
    for (int k = 0; k < count && r == RD_OK && d->count > 0; k++)
        r = rd_buffer_copy(ctx, rows[k].host, RD_MEMORY_HOST, (const void *)(uintptr_t)rows[k].device, RD_MEMORY_DEVICE, rows[k].bytes);
    return r;
}

void rd_stream_scratch_free(rd_context *ctx, stream_device_scratch *s)
{
#ifdef RD_HAVE_VULKAN
    if (s->kernels) rd_stream_vk_free(ctx, s->kernels);
#endif
    free(s->host);
    rd_buffer_free(ctx, s->device);
    memset(s, 0, sizeof *s);
}

/* Room for bytes in both halves of the scratch. */
static rd_result scratch_reserve(rd_context *ctx, stream_device_scratch *s, size_t bytes)
{
    if (bytes > s->host_bytes) {
        free(s->host);
        s->host_bytes = 0;
        if (!(s->host = malloc(bytes + bytes / 4))) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "stream: out of memory");
        s->host_bytes = bytes + bytes / 4;
    }
    if (bytes > s->device_bytes) {
        rd_buffer_free(ctx, s->device);
        s->device = NULL, s->device_bytes = 0;
        rd_memory memory;
        rd_result r = rd_buffer_alloc(ctx, bytes + bytes / 4, &s->device, &memory);
        if (r != RD_OK) return r;
        s->device_bytes = bytes + bytes / 4;
    }
    return RD_OK;
}

/* Packs n values of 4 bytes at the scratch's offset *at; returns their device address. */
static uint64_t pack(stream_device_scratch *s, size_t *at, const void *values, size_t n)
{
    uint64_t device = address(s->device, *at);
    if (values && n) memcpy(s->host + *at, values, 4 * n);
    *at += 4 * n;
    return device;
}

rd_result rd_stream_device_apply(rd_context *ctx, const char *where, const stream_parsed_residual *p, const stream_device_state *prev,
                                 float step, stream_device_state *next, stream_device_scratch *scratch)
{
    rd_backend backend = rd_context_backend(ctx);
    if (backend != RD_BACKEND_CUDA && backend != RD_BACKEND_VULKAN)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the device decode needs a GPU backend", where);
    int degree = prev->sh_degree, rest_dim = p->latent_dim[RD_STREAM_F_REST];
    int keep = rest_dim ? rest_dim : prev->rest_latent_dim;
    size_t n = (size_t)p->count, m = (size_t)p->moved;
    size_t words = (p->mapping ? n : 0) + 2 * (size_t)p->runs + 4 * m + 1 + sizeof(stream_apply_args) / 4 + 2;
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) { /* the latents: int32 values, or byte planes (a word of padding) */
        int features = rd_stream_features((rd_stream_attribute)a, degree), width = p->planes ? p->latent_width[a] : 4;
        size_t ld = (size_t)p->latent_dim[a], rows = (size_t)p->rows[a];
        words += ld ? (ld * rows * (size_t)width + 3) / 4 + 1 + ld * (size_t)features + (size_t)features : 0;
        words += p->row_index[a] ? rows : 0;
    }
    size_t rows_at = (4 * words + 15) & ~(size_t)15; /* the passes' own scratch, after the upload (not copied) */
    rd_result r = rd_stream_device_reserve(ctx, next, (int64_t)n, degree, keep);
    if (r == RD_OK) r = scratch_reserve(ctx, scratch, rows_at + rd_stream_apply_scratch_bytes((uint32_t)n));
    if (r != RD_OK) return r;
    stream_apply_args a = {(uint32_t)n, (uint32_t)m, (uint32_t)rd_stream_sh_floats(degree), (uint32_t)rest_dim, (uint32_t)keep,
                           p->rest_delta, step, prev->arrays, next->arrays};
    size_t at = 0;
    if (p->mapping) { /* parents as 32 bits: a frame holds at most 2^31 - 1 Gaussians */
        int32_t *to = (int32_t *)(scratch->host + at);
        for (size_t i = 0; i < n; i++) to[i] = (int32_t)p->mapping[i];
        a.mapping = pack(scratch, &at, NULL, n);
    }
    if (p->runs) { /* the runs as they are: a Gaussian finds its own by a binary search */
        uint32_t *starts = (uint32_t *)(scratch->host + at);
        for (size_t k = 0; k < p->runs; k++) starts[k] = (uint32_t)p->run_start[k];
        a.run_start = pack(scratch, &at, NULL, p->runs);
        uint32_t *parents = (uint32_t *)(scratch->host + at);
        for (size_t k = 0; k < p->runs; k++) parents[k] = (uint32_t)p->run_parent[k];
        a.run_parent = pack(scratch, &at, NULL, p->runs);
        a.runs = (uint32_t)p->runs;
    }
    uint32_t *indices = (uint32_t *)(scratch->host + at);
    for (size_t j = 0; j < m; j++) indices[j] = (uint32_t)p->moved_indices[j];
    a.moved_indices = pack(scratch, &at, NULL, m);
    a.moved_steps = pack(scratch, &at, p->moved_steps, 3 * m);
    for (int k = 0; k < RD_STREAM_ATTRIBUTES; k++) {
        int ld = p->latent_dim[k], features = rd_stream_features((rd_stream_attribute)k, degree);
        a.latent_dim[k] = (uint32_t)ld;
        if (!ld) continue;
        size_t rows = (size_t)p->rows[k];
        a.rows[k] = (uint32_t)rows;
        if (p->row_index[k]) { /* the listed rows' Gaussians, as 32 bits (a frame holds at most 2^31 - 1) */
            uint32_t *to = (uint32_t *)(scratch->host + at);
            for (size_t j = 0; j < rows; j++) to[j] = (uint32_t)p->row_index[k][j];
            a.row_index[k] = pack(scratch, &at, NULL, rows);
        }
        if (p->planes) { /* as stored: a byte a value for most, zigzagged by the kernel */
            size_t bytes = rows * (size_t)ld * (size_t)p->latent_width[k];
            a.latent_width[k] = (uint32_t)p->latent_width[k];
            a.latents[k] = address(scratch->device, at);
            memcpy(scratch->host + at, p->planes->data + p->latent_at[k], bytes);
            memset(scratch->host + at + bytes, 0, 4); /* the shader reads whole words */
            at += (bytes + 3) / 4 * 4 + 4;
        } else {
            a.latents[k] = pack(scratch, &at, p->latents[k], rows * (size_t)ld);
        }
        a.W[k] = pack(scratch, &at, p->W[k], (size_t)ld * (size_t)features);
        a.bias[k] = pack(scratch, &at, p->bias[k], (size_t)features);
    }
    uint32_t zero = 0;
    a.overflow = pack(scratch, &at, &zero, 1);
    a.gaussian_rows = address(scratch->device, rows_at);
    at = (at + 7) & ~(size_t)7; /* the arguments themselves, for Vulkan's shader to read */
    uint64_t device_args = pack(scratch, &at, &a, sizeof a / 4);
#ifdef RD_HAVE_CUDA
    if (backend == RD_BACKEND_CUDA) r = rd_buffer_copy(ctx, scratch->device, RD_MEMORY_DEVICE, scratch->host, RD_MEMORY_HOST, at);
    if (backend == RD_BACKEND_CUDA && r == RD_OK) r = rd_stream_apply_cuda(ctx, &a);
#endif
#ifdef RD_HAVE_VULKAN
    stream_vk_upload up = {scratch->device, scratch->host, at, device_args};
    if (backend == RD_BACKEND_VULKAN) r = rd_stream_apply_vk(ctx, &a, &up, &scratch->kernels);
#endif
    (void)device_args;
    /* f_rest's latents, the parent's plus this frame's, are the only sum that can leave 32
       bits: the flag is read back (a wait for the kernels) only where the bound allows it.
       A frame's own latents are at most 2^(8 width - 1) as stored in byte planes. */
    int64_t own = 0;
    if (rest_dim && p->planes) own = (int64_t)1 << (8 * p->latent_width[RD_STREAM_F_REST] - 1);
    else if (rest_dim) own = largest_latent(p->latents[RD_STREAM_F_REST], (size_t)p->rows[RD_STREAM_F_REST] * (size_t)rest_dim);
    next->rest_bound = !rest_dim ? prev->rest_bound : p->rest_delta ? prev->rest_bound + own : own;
    if (r == RD_OK && rest_dim && p->rest_delta && next->rest_bound > INT32_MAX) {
        uint32_t overflow = 0;
        r = rd_buffer_copy(ctx, &overflow, RD_MEMORY_HOST, (const void *)(uintptr_t)a.overflow, RD_MEMORY_DEVICE, 4);
        if (r == RD_OK && overflow) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: an f_rest latent overflows 32 bits", where);
    }
    return r;
}

rd_result rd_stream_device_scene(rd_context *ctx, stream_device_state *d, const rd_scene **out)
{
    if (!d->scene) {
        const stream_device_arrays *a = &d->arrays;
        rd_scene_desc desc = {.count = d->count, .sh_degree = d->sh_degree, .means = (const float *)(uintptr_t)a->means,
                              .log_scales = (const float *)(uintptr_t)a->log_scales, .rotations = (const float *)(uintptr_t)a->rotations,
                              .opacities = (const float *)(uintptr_t)a->opacities, .sh = (const float *)(uintptr_t)a->sh,
                              .memory = RD_MEMORY_DEVICE};
        rd_result r = rd_scene_create(ctx, &desc, &d->scene);
        if (r != RD_OK) return r;
    }
    *out = d->scene;
    return RD_OK;
}

void rd_stream_device_free(rd_context *ctx, stream_device_state *d)
{
    rd_scene_destroy(d->scene);
    rd_buffer_free(ctx, d->buffer);
    memset(d, 0, sizeof *d);
}
