/* train_checkpoint.c: a trainer's whole state in one file (rd_trainer_save_checkpoint,
   rd_trainer_load_checkpoint), so that a run stopped and resumed takes the same steps as
   one that ran through: the scene, every group's Adam moments, the densification
   statistics, the step count, the random generator and the pass over the views.

   Layout (little-endian, as this library's hosts are): a 64-byte header
     "RDTRAIN1", version u32 (1), max SH degree u32, count i64, iteration i32, views i32,
     view-order position i32, scene flags u32, generator state u64, payload bytes u64,
     FNV-1a 64 of the payload u64, 8 reserved bytes;
   then the payload: the view order (views i32), the scene's five arrays, each group's
   first then second moments, the gradient statistic (count f32) and views seen (count
   u32). Written whole or not at all (rd_file_write). */
#include "trainer.h"

#include <stdlib.h>
#include <string.h>

enum { HEADER = 64, VERSION = 1 };
static const char MAGIC[8] = {'R', 'D', 'T', 'R', 'A', 'I', 'N', '1'};

/* The payload's pieces in order: pointer and bytes, from the trainer as it is. */
typedef struct piece {
    void *data;
    size_t bytes;
} piece;
enum { PIECES = 1 + 5 + 2 * GROUPS + 2 };

static void pieces_of(rd_scene *s, float *const m[GROUPS], float *const v[GROUPS], const size_t sizes[GROUPS], float *norm,
                      uint32_t *seen, int *order, int views, piece out[PIECES])
{
    size_t n = (size_t)s->count, K = (size_t)rd_sh_coeffs(s->sh_degree);
    int k = 0;
    out[k++] = (piece){order, (size_t)views * sizeof(int)};
    out[k++] = (piece){s->means, 3 * n * sizeof(float)};
    out[k++] = (piece){s->log_scales, 3 * n * sizeof(float)};
    out[k++] = (piece){s->rotations, 4 * n * sizeof(float)};
    out[k++] = (piece){s->opacities, n * sizeof(float)};
    out[k++] = (piece){s->sh, 3 * K * n * sizeof(float)};
    for (int g = 0; g < GROUPS; g++) out[k++] = (piece){m[g], sizes[g] * sizeof(float)};
    for (int g = 0; g < GROUPS; g++) out[k++] = (piece){v[g], sizes[g] * sizeof(float)};
    out[k++] = (piece){norm, n * sizeof(float)};
    out[k++] = (piece){seen, n * sizeof(uint32_t)};
}

static void put(unsigned char *p, const void *v, size_t n) { memcpy(p, v, n); }

rd_result rd_trainer_save_checkpoint(rd_trainer *t, const char *path)
{
    if (!t || !path) return RD_ERROR_INVALID_ARGUMENT;
    if (t->four_d) return rd_fail(t->ctx, RD_ERROR_UNSUPPORTED, "%s: 4D trainers have no checkpoints yet", path);
    rd_result synced = rd_trainer_sync_host(t);
    if (synced != RD_OK) return synced;
    piece pieces[PIECES];
    pieces_of(t->scene, t->m, t->v, t->sizes, t->grad_norm, t->views_seen, t->order, t->view_count, pieces);
    size_t payload = 0;
    for (int k = 0; k < PIECES; k++) payload += pieces[k].bytes;
    unsigned char *file = malloc(HEADER + payload);
    if (!file) return rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for a %zu-byte checkpoint", path, payload);
    size_t at = HEADER;
    for (int k = 0; k < PIECES; k++) {
        if (pieces[k].bytes) memcpy(file + at, pieces[k].data, pieces[k].bytes);
        at += pieces[k].bytes;
    }
    uint32_t version = VERSION, degree = (uint32_t)t->max_degree, flags = t->scene->flags;
    int64_t count = t->scene->count;
    int32_t iteration = t->iteration, views = t->view_count, order_at = t->order_at;
    uint64_t rng = t->rng.state, bytes = payload, sum = rd_fnv1a(RD_FNV1A_START, file + HEADER, payload);
    memset(file, 0, HEADER);
    put(file, MAGIC, 8), put(file + 8, &version, 4), put(file + 12, &degree, 4), put(file + 16, &count, 8);
    put(file + 24, &iteration, 4), put(file + 28, &views, 4), put(file + 32, &order_at, 4), put(file + 36, &flags, 4);
    put(file + 40, &rng, 8), put(file + 48, &bytes, 8), put(file + 56, &sum, 8);
    rd_result r = rd_file_write(t->ctx, path, file, HEADER + payload);
    free(file);
    return r;
}

rd_result rd_trainer_load_checkpoint(rd_trainer *t, const char *path)
{
    if (!t || !path) return RD_ERROR_INVALID_ARGUMENT;
    if (t->four_d) return rd_fail(t->ctx, RD_ERROR_UNSUPPORTED, "%s: 4D trainers have no checkpoints yet", path);
    char *file = NULL;
    size_t size = 0;
    rd_result r = rd_read_file(t->ctx, path, &file, &size);
    if (r != RD_OK) return r;
    const unsigned char *f = (const unsigned char *)file;
    uint32_t version = 0, degree = 0, flags = 0;
    int64_t count = 0;
    int32_t iteration = 0, views = 0, order_at = 0;
    uint64_t rng = 0, bytes = 0, sum = 0;
    if (size >= HEADER) {
        memcpy(&version, f + 8, 4), memcpy(&degree, f + 12, 4), memcpy(&count, f + 16, 8), memcpy(&iteration, f + 24, 4);
        memcpy(&views, f + 28, 4), memcpy(&order_at, f + 32, 4), memcpy(&flags, f + 36, 4), memcpy(&rng, f + 40, 8);
        memcpy(&bytes, f + 48, 8), memcpy(&sum, f + 56, 8);
    }
    if (size < HEADER || memcmp(f, MAGIC, 8) != 0)
        r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: not a radiant training checkpoint (magic RDTRAIN1)", path);
    else if (version != VERSION)
        r = rd_fail(t->ctx, RD_ERROR_UNSUPPORTED, "%s: header field version %u (version %d is read)", path, version, VERSION);
    else if ((int)degree != t->max_degree || views != t->view_count)
        r = rd_fail(t->ctx, RD_ERROR_INVALID_ARGUMENT, "%s: a run with SH degree %u and %d views; this one has %d and %d", path,
                    degree, views, t->max_degree, t->view_count);
    else if (count < 0 || (uint64_t)count > bytes || iteration < 0 || iteration > RD_TRAINER_MAX_STEPS || order_at < 0 || order_at > views || bytes != size - HEADER)
        r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: header fields count %lld, iteration %d, order %d or payload %llu bytes do not fit "
                    "a %zu-byte file", path, (long long)count, iteration, order_at, (unsigned long long)bytes, size);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* the fuzz build lets mutations past the checksum, to the payload's checks */
    else if (rd_fnv1a(RD_FNV1A_START, f + HEADER, size - HEADER) != sum)
        r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: the checksum does not match (the file is damaged)", path);
#endif
    rd_scene *s = NULL;
    trainer_arrays a = {0};
    int *order = NULL;
    if (r == RD_OK) {
        /* the payload's size follows from count: it must be exactly what is there */
        size_t need = (size_t)views * sizeof(int) + rd_scene_bytes(count, (int)degree) + 2 * sizeof(float) * (size_t)count;
        for (int g = 0; g < GROUPS; g++) need += 2 * sizeof(float) * (size_t)count * (size_t)rd_trainer_group_width(t, g);
        if (need != bytes)
            r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: %llu payload bytes for %lld Gaussians, %zu expected", path,
                        (unsigned long long)bytes, (long long)count, need);
    }
    if (r == RD_OK) r = rd_scene_alloc(t->ctx, count, (int)degree, &s);
    if (r == RD_OK && (!rd_trainer_arrays_alloc(t, count, &a) || !(order = calloc((size_t)views + 1, sizeof(int)))))
        r = rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for %lld Gaussians", path, (long long)count);
    for (int k = 0; r == RD_OK && k < views; k++) {
        int32_t o;
        memcpy(&o, f + HEADER + 4 * (size_t)k, 4);
        if (o < 0 || o >= views) r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: view order entry %d is %d (0..%d)", path, k, o, views - 1);
    }
    if (r == RD_OK) {
        piece pieces[PIECES];
        pieces_of(s, a.m, a.v, a.sizes, a.grad_norm, a.views_seen, order, views, pieces);
        size_t at = HEADER;
        for (int k = 0; k < PIECES; k++) {
            if (pieces[k].bytes) memcpy(pieces[k].data, f + at, pieces[k].bytes);
            at += pieces[k].bytes;
        }
        s->flags = flags;
        rd_scene_destroy(t->scene);
        t->scene = s;
        rd_trainer_arrays_adopt(t, &a);
        free(t->order);
        t->order = order;
        t->iteration = iteration, t->order_at = order_at, t->rng.state = rng;
        t->host_stale = false;
        r = rd_trainer_sync_device(t);
    } else {
        rd_scene_destroy(s);
        rd_trainer_arrays_free(&a);
        free(order);
    }
    free(file);
    return r;
}
