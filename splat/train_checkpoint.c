/* train_checkpoint.c: a trainer's whole state in one file (rd_trainer_save_checkpoint,
   rd_trainer_load_checkpoint), so that a run stopped and resumed takes the same steps as
   one that ran through: the scene, every group's Adam moments, the densification
   statistics, the step count, the random generator and the pass over the views. The
   container (header, checksum, pieces) is shared with the 4D trainer's
   (train4d_checkpoint.c), which has its own magic and pieces.

   Layout (little-endian, as this library's hosts are): a 64-byte header
     magic (8: "RDTRAIN1"; 4D: "RDTRN4D1"), version u32 (1), max SH degree u32, count i64,
     iteration i32, views i32, view-order position i32, scene flags u32 (4D: the max
     temporal degree), generator state u64, payload bytes u64, FNV-1a 64 of the payload u64;
   then the payload: the view order (views i32), the scene's five arrays, each group's
   first then second moments, the gradient statistic (count f32) and views seen (count
   u32). Written whole or not at all (rd_file_write). */
#include "trainer.h"

#include <stdlib.h>
#include <string.h>

enum { HEADER = 64, VERSION = 1 };
const char RD_CHECKPOINT_MAGIC_3D[8] = {'R', 'D', 'T', 'R', 'A', 'I', 'N', '1'};
const char RD_CHECKPOINT_MAGIC_4D[8] = {'R', 'D', 'T', 'R', 'N', '4', 'D', '1'};

static void put(unsigned char *p, const void *v, size_t n) { memcpy(p, v, n); }

rd_result rd_checkpoint_write(rd_context *ctx, const char *path, const char magic[8], const checkpoint_head *head,
                              const checkpoint_piece *pieces, int n)
{
    size_t payload = 0;
    for (int k = 0; k < n; k++) payload += pieces[k].bytes;
    unsigned char *file = malloc(HEADER + payload);
    if (!file) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for a %zu-byte checkpoint", path, payload);
    size_t at = HEADER;
    for (int k = 0; k < n; k++) {
        if (pieces[k].bytes) memcpy(file + at, pieces[k].data, pieces[k].bytes);
        at += pieces[k].bytes;
    }
    uint32_t version = VERSION;
    uint64_t bytes = payload, sum = rd_fnv1a(RD_FNV1A_START, file + HEADER, payload);
    memset(file, 0, HEADER);
    put(file, magic, 8), put(file + 8, &version, 4), put(file + 12, &head->degree, 4), put(file + 16, &head->count, 8);
    put(file + 24, &head->iteration, 4), put(file + 28, &head->views, 4), put(file + 32, &head->order_at, 4);
    put(file + 36, &head->flags, 4), put(file + 40, &head->rng, 8), put(file + 48, &bytes, 8), put(file + 56, &sum, 8);
    rd_result r = rd_file_write(ctx, path, file, HEADER + payload);
    free(file);
    return r;
}

rd_result rd_checkpoint_open(rd_context *ctx, const char *path, const char magic[8], checkpoint_head *head, char **file_out,
                             size_t *payload)
{
    *file_out = NULL;
    char *file = NULL;
    size_t size = 0;
    rd_result r = rd_read_file(ctx, path, &file, &size);
    if (r != RD_OK) return r;
    const unsigned char *f = (const unsigned char *)file;
    uint32_t version = 0;
    uint64_t bytes = 0, sum = 0;
    memset(head, 0, sizeof *head);
    if (size >= HEADER) {
        memcpy(&version, f + 8, 4), memcpy(&head->degree, f + 12, 4), memcpy(&head->count, f + 16, 8);
        memcpy(&head->iteration, f + 24, 4), memcpy(&head->views, f + 28, 4), memcpy(&head->order_at, f + 32, 4);
        memcpy(&head->flags, f + 36, 4), memcpy(&head->rng, f + 40, 8), memcpy(&bytes, f + 48, 8), memcpy(&sum, f + 56, 8);
    }
    bool three_d = memcmp(magic, RD_CHECKPOINT_MAGIC_3D, 8) == 0;
    bool other = size >= HEADER && memcmp(f, three_d ? RD_CHECKPOINT_MAGIC_4D : RD_CHECKPOINT_MAGIC_3D, 8) == 0;
    if (other)
        r = rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: a %s trainer's checkpoint; this trainer fits %s", path,
                    three_d ? "4D" : "3D", three_d ? "3D Gaussians" : "4D Gaussians");
    else if (size < HEADER || memcmp(f, magic, 8) != 0)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a radiant training checkpoint (magic %.8s)", path, magic);
    else if (version != VERSION)
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: header field version %u (version %d is read)", path, version, VERSION);
    else if (head->count < 0 || (uint64_t)head->count > bytes || head->iteration < 0 || head->iteration > RD_TRAINER_MAX_STEPS ||
             head->order_at < 0 || head->order_at > head->views || bytes != size - HEADER)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: header fields count %lld, iteration %d, order %d or payload %llu bytes do not fit "
                    "a %zu-byte file", path, (long long)head->count, head->iteration, head->order_at, (unsigned long long)bytes, size);
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION /* the fuzz build lets mutations past the checksum, to the payload's checks */
    else if (rd_fnv1a(RD_FNV1A_START, f + HEADER, size - HEADER) != sum)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: the checksum does not match (the file is damaged)", path);
#endif
    for (int k = 0; r == RD_OK && k < head->views; k++) { /* the view order comes first */
        int32_t o;
        if ((size_t)k * 4 + 4 > bytes) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: %llu payload bytes hold no view order of %d views", path, (unsigned long long)bytes,
                        head->views);
            break;
        }
        memcpy(&o, f + HEADER + 4 * (size_t)k, 4);
        if (o < 0 || o >= head->views)
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: view order entry %d is %d (0..%d)", path, k, o, head->views - 1);
    }
    if (r != RD_OK) {
        free(file);
        return r;
    }
    *file_out = file, *payload = (size_t)bytes;
    return RD_OK;
}

void rd_checkpoint_unpack(const char *file, const checkpoint_piece *pieces, int n)
{
    size_t at = HEADER;
    for (int k = 0; k < n; k++) {
        if (pieces[k].bytes) memcpy(pieces[k].data, file + at, pieces[k].bytes);
        at += pieces[k].bytes;
    }
}

/* ---- the 3D trainer's ---- */

enum { PIECES = 1 + 5 + 2 * GROUPS + 2 };

static void pieces_of(rd_scene *s, float *const m[GROUPS], float *const v[GROUPS], const size_t sizes[GROUPS], float *norm,
                      uint32_t *seen, int *order, int views, checkpoint_piece out[PIECES])
{
    size_t n = (size_t)s->count, K = (size_t)rd_sh_coeffs(s->sh_degree);
    int k = 0;
    out[k++] = (checkpoint_piece){order, (size_t)views * sizeof(int)};
    out[k++] = (checkpoint_piece){s->means, 3 * n * sizeof(float)};
    out[k++] = (checkpoint_piece){s->log_scales, 3 * n * sizeof(float)};
    out[k++] = (checkpoint_piece){s->rotations, 4 * n * sizeof(float)};
    out[k++] = (checkpoint_piece){s->opacities, n * sizeof(float)};
    out[k++] = (checkpoint_piece){s->sh, 3 * K * n * sizeof(float)};
    for (int g = 0; g < GROUPS; g++) out[k++] = (checkpoint_piece){m[g], sizes[g] * sizeof(float)};
    for (int g = 0; g < GROUPS; g++) out[k++] = (checkpoint_piece){v[g], sizes[g] * sizeof(float)};
    out[k++] = (checkpoint_piece){norm, n * sizeof(float)};
    out[k++] = (checkpoint_piece){seen, n * sizeof(uint32_t)};
}

rd_result rd_trainer_save_checkpoint(rd_trainer *t, const char *path)
{
    if (!t || !path) return RD_ERROR_INVALID_ARGUMENT;
    if (t->four_d) return rd_trainer4d_save_checkpoint(t->four_d, path);
    rd_result synced = rd_trainer_sync_host(t);
    if (synced != RD_OK) return synced;
    checkpoint_piece pieces[PIECES];
    pieces_of(t->scene, t->m, t->v, t->sizes, t->grad_norm, t->views_seen, t->order, t->view_count, pieces);
    checkpoint_head head = {(uint32_t)t->max_degree, t->scene->count, t->iteration, t->view_count, t->order_at, t->scene->flags,
                            t->rng.state};
    return rd_checkpoint_write(t->ctx, path, RD_CHECKPOINT_MAGIC_3D, &head, pieces, PIECES);
}

rd_result rd_trainer_load_checkpoint(rd_trainer *t, const char *path)
{
    if (!t || !path) return RD_ERROR_INVALID_ARGUMENT;
    if (t->four_d) return rd_trainer4d_load_checkpoint(t->four_d, path);
    checkpoint_head head;
    char *file = NULL;
    size_t bytes = 0;
    rd_result r = rd_checkpoint_open(t->ctx, path, RD_CHECKPOINT_MAGIC_3D, &head, &file, &bytes);
    if (r != RD_OK) return r;
    int64_t count = head.count;
    if ((int)head.degree != t->max_degree || head.views != t->view_count)
        r = rd_fail(t->ctx, RD_ERROR_INVALID_ARGUMENT, "%s: a run with SH degree %u and %d views; this one has %d and %d", path,
                    head.degree, head.views, t->max_degree, t->view_count);
    if (r == RD_OK) {
        /* the payload's size follows from count: it must be exactly what is there */
        size_t need = (size_t)head.views * sizeof(int) + rd_scene_bytes(count, (int)head.degree) + 2 * sizeof(float) * (size_t)count;
        for (int g = 0; g < GROUPS; g++) need += 2 * sizeof(float) * (size_t)count * (size_t)rd_trainer_group_width(t, g);
        if (need != bytes)
            r = rd_fail(t->ctx, RD_ERROR_FORMAT, "%s: %zu payload bytes for %lld Gaussians, %zu expected", path, bytes,
                        (long long)count, need);
    }
    rd_scene *s = NULL;
    trainer_arrays a = {0};
    int *order = NULL;
    if (r == RD_OK) r = rd_scene_alloc(t->ctx, count, (int)head.degree, &s);
    if (r == RD_OK && (!rd_trainer_arrays_alloc(t, count, &a) || !(order = calloc((size_t)head.views + 1, sizeof(int)))))
        r = rd_fail(t->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory for %lld Gaussians", path, (long long)count);
    if (r == RD_OK) {
        checkpoint_piece pieces[PIECES];
        pieces_of(s, a.m, a.v, a.sizes, a.grad_norm, a.views_seen, order, head.views, pieces);
        rd_checkpoint_unpack(file, pieces, PIECES);
        s->flags = head.flags & ~(uint32_t)RD_SCENE_PACKED; /* a trained scene's values are floats, whatever the file says */
        rd_scene_destroy(t->scene);
        t->scene = s;
        rd_trainer_arrays_adopt(t, &a);
        free(t->order);
        t->order = order;
        t->iteration = head.iteration, t->order_at = head.order_at, t->rng.state = head.rng;
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
