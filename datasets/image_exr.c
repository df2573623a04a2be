/* image_exr.c: OpenEXR reading (image_exr.h) with OpenEXR's own C library (OpenEXRCore),
   from memory. tinyexr 1.0.1, which radiant used before, aborts on asserts, leaks and
   double-frees on corrupt files (found by tests/fuzz/fuzz_image.c); OpenEXRCore checks
   every size it reads and is fuzzed upstream. Scanline and tiled single-part images,
   every compression the library knows, HALF/FLOAT/UINT channels; level 0 of a tiled
   pyramid. */
#include "image_exr.h"

#include <OpenEXR/openexr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct exr_source {
    const unsigned char *data;
    size_t size;
    char message[256]; /* the library's last complaint */
} exr_source;

static int64_t read_source(exr_const_context_t exr, void *user, void *buffer, uint64_t bytes, uint64_t offset,
                           exr_stream_error_func_ptr_t error)
{
    (void)exr, (void)error;
    const exr_source *s = user;
    if (offset >= s->size) return 0;
    uint64_t n = bytes < s->size - offset ? bytes : s->size - offset;
    memcpy(buffer, s->data + offset, (size_t)n);
    return (int64_t)n;
}

static int64_t source_size(exr_const_context_t exr, void *user)
{
    (void)exr;
    return (int64_t)((const exr_source *)user)->size;
}

static void keep_message(exr_const_context_t exr, exr_result_t code, const char *message)
{
    void *user = NULL;
    if (exr_get_user_data(exr, &user) == EXR_ERR_SUCCESS && user)
        snprintf(((exr_source *)user)->message, sizeof ((exr_source *)user)->message, "%s", message ? message : exr_get_default_error_message(code));
}

static rd_result exr_fail(rd_context *ctx, const char *path, const exr_source *s, exr_result_t code, const char *what)
{
    return rd_fail(ctx, code == EXR_ERR_OUT_OF_MEMORY ? RD_ERROR_OUT_OF_MEMORY : RD_ERROR_FORMAT, "%s: cannot read EXR %s: %s",
                   path, what, s->message[0] ? s->message : exr_get_default_error_message(code));
}

/* Opens the file's header; *exr is NULL on failure. */
static rd_result open_exr(rd_context *ctx, const char *path, exr_source *s, exr_context_t *exr)
{
    exr_context_initializer_t init = EXR_DEFAULT_CONTEXT_INITIALIZER;
    init.user_data = s;
    init.read_fn = read_source;
    init.size_fn = source_size;
    init.error_handler_fn = keep_message;
    init.flags = EXR_CONTEXT_FLAG_SILENT_HEADER_PARSE;
    *exr = NULL;
    exr_result_t rv = exr_start_read(exr, path, &init);
    if (rv != EXR_ERR_SUCCESS) {
        exr_finish(exr);
        *exr = NULL;
        return exr_fail(ctx, path, s, rv, "header");
    }
    int parts = 0;
    exr_storage_t storage;
    rd_result r = RD_OK;
    if (exr_get_count(*exr, &parts) != EXR_ERR_SUCCESS || parts != 1)
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: EXR with %d parts (single-part images are read)", path, parts);
    else if (exr_get_storage(*exr, 0, &storage) != EXR_ERR_SUCCESS || (storage != EXR_STORAGE_SCANLINE && storage != EXR_STORAGE_TILED))
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: deep EXR images are not read", path);
    if (r != RD_OK) {
        exr_finish(exr);
        *exr = NULL;
    }
    return r;
}

static rd_result window(rd_context *ctx, const char *path, exr_context_t exr, exr_attr_box2i_t *box, int64_t *w, int64_t *h)
{
    if (exr_get_data_window(exr, 0, box) != EXR_ERR_SUCCESS)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: EXR header has no dataWindow", path);
    *w = (int64_t)box->max.x - box->min.x + 1;
    *h = (int64_t)box->max.y - box->min.y + 1;
    if (*w < 1 || *h < 1 || *w > 65536 || *h > 65536)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: EXR header field dataWindow gives a %lldx%lld image (1..65536 a side)", path,
                       (long long)*w, (long long)*h);
    return RD_OK;
}

rd_result rd_exr_size(rd_context *ctx, const char *path, const unsigned char *data, size_t size, int64_t *width,
                      int64_t *height, int *channels)
{
    exr_source s = {data, size, ""};
    exr_context_t exr;
    rd_result r = open_exr(ctx, path, &s, &exr);
    if (r != RD_OK) return r;
    exr_attr_box2i_t box;
    const exr_attr_chlist_t *list = NULL;
    r = window(ctx, path, exr, &box, width, height);
    if (r == RD_OK && exr_get_channels(exr, 0, &list) != EXR_ERR_SUCCESS)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: EXR header has no channel list", path);
    if (r == RD_OK) *channels = list->num_channels;
    exr_finish(&exr);
    return r;
}

static int channel_named(const exr_attr_chlist_t *list, const char *prefix, const char *name)
{
    size_t n = strlen(prefix);
    for (int c = 0; c < list->num_channels; c++) {
        const char *full = list->entries[c].name.str;
        if (full && strncmp(full, prefix, n) == 0 && strcmp(full + n, name) == 0) return c;
    }
    return -1;
}

/* R, G, B, A's channel indices (A may be -1): plain names, else the first layer that has
   all three (L.R, L.G, L.B), else a single channel as grey (G and B -1). */
static bool find_rgba(const exr_attr_chlist_t *list, int rgba[4])
{
    static const char *const names[4] = {"R", "G", "B", "A"};
    for (int c = -1; c < list->num_channels; c++) {
        char prefix[256] = "";
        if (c >= 0) {
            const char *name = list->entries[c].name.str;
            size_t n = name ? strlen(name) : 0;
            if (n < 2 || n >= sizeof prefix || strcmp(name + n - 2, ".R") != 0) continue;
            memcpy(prefix, name, n - 1); /* keeps the dot */
        }
        for (int k = 0; k < 4; k++) rgba[k] = channel_named(list, prefix, names[k]);
        if (rgba[0] >= 0 && rgba[1] >= 0 && rgba[2] >= 0) return true;
    }
    if (list->num_channels != 1) return false;
    rgba[0] = 0, rgba[1] = rgba[2] = rgba[3] = -1;
    return true;
}

typedef struct exr_target {
    float *planes; /* R, G, B, A planes, each the data window's size (the library's interleaving
                      fast path swaps channels of HALF images in 3.1.5: planes avoid it) */
    int64_t width, height;
    exr_attr_box2i_t box;
    int rgba[4];           /* indices into the channel list; -1: none */
    const char *names[4];  /* their names */
} exr_target;

/* Decodes one chunk into the target: each wanted channel straight into its RGBA slot. */
static exr_result_t decode_chunk(exr_context_t exr, const exr_chunk_info_t *chunk, exr_decode_pipeline_t *decoder, bool *ready,
                                 const exr_target *t)
{
    exr_result_t rv = *ready ? exr_decoding_update(exr, 0, chunk, decoder) : exr_decoding_initialize(exr, 0, chunk, decoder);
    if (rv != EXR_ERR_SUCCESS) return rv;
    *ready = true;
    /* channels not wanted are decoded into scratch: OpenEXRCore 3.1.5 writes through a NULL
       decode_to_ptr on some corrupt files (found by fuzz_image) */
    size_t scratch_floats = 0;
    for (int c = 0; c < decoder->channel_count; c++)
        scratch_floats += (size_t)(decoder->channels[c].width > 0 ? decoder->channels[c].width : 0) *
                          (size_t)(decoder->channels[c].height > 0 ? decoder->channels[c].height : 0);
    float *scratch = malloc((scratch_floats ? scratch_floats : 1) * sizeof(float)), *next = scratch;
    if (!scratch) return EXR_ERR_OUT_OF_MEMORY;
    for (int c = 0; c < decoder->channel_count; c++) {
        exr_coding_channel_info_t *ch = &decoder->channels[c];
        int slot = -1; /* matched by name: the decoder keeps its own channel order */
        for (int k = 0; k < 4; k++)
            if (t->rgba[k] >= 0 && ch->channel_name && strcmp(ch->channel_name, t->names[k]) == 0) slot = k;
        if (slot < 0 || ch->x_samples != 1 || ch->y_samples != 1) { /* not wanted, or subsampled (refused by the caller) */
            ch->decode_to_ptr = (uint8_t *)next;
            ch->user_pixel_stride = sizeof(float);
            ch->user_line_stride = (int32_t)((ch->width > 0 ? ch->width : 0) * (int64_t)sizeof(float));
            ch->user_bytes_per_element = sizeof(float);
            ch->user_data_type = EXR_PIXEL_FLOAT;
            next += (size_t)(ch->width > 0 ? ch->width : 0) * (size_t)(ch->height > 0 ? ch->height : 0);
            continue;
        }
        /* the chunk's pixels must lie in the data window: a corrupt file's chunk table can
           say otherwise, and OpenEXRCore writes where the pointer and strides say (found by
           fuzz_image: a 1x1 tile placed past the window's end) */
        int64_t x0 = (int64_t)chunk->start_x - t->box.min.x, y0 = (int64_t)chunk->start_y - t->box.min.y;
        if (x0 < 0 || y0 < 0 || ch->width < 0 || ch->height < 0 || x0 + ch->width > t->width || y0 + ch->height > t->height) {
            free(scratch);
            return EXR_ERR_CORRUPT_CHUNK;
        }
        size_t first = (size_t)y0 * (size_t)t->width + (size_t)x0;
        ch->decode_to_ptr = (uint8_t *)(t->planes + (size_t)slot * (size_t)t->width * (size_t)t->height + first);
        ch->user_pixel_stride = sizeof(float);
        ch->user_line_stride = (int32_t)(t->width * (int64_t)sizeof(float));
        ch->user_bytes_per_element = sizeof(float);
        ch->user_data_type = EXR_PIXEL_FLOAT;
    }
    rv = exr_decoding_choose_default_routines(exr, 0, decoder);
    if (rv == EXR_ERR_SUCCESS) rv = exr_decoding_run(exr, 0, decoder);
    free(scratch);
    return rv;
}

/* Every chunk of level 0, scanline blocks or tiles, within the data window. */
static exr_result_t decode_all(exr_context_t exr, const exr_target *t)
{
    exr_decode_pipeline_t decoder = EXR_DECODE_PIPELINE_INITIALIZER;
    bool ready = false;
    exr_storage_t storage;
    exr_result_t rv = exr_get_storage(exr, 0, &storage);
    exr_chunk_info_t chunk;
    if (rv == EXR_ERR_SUCCESS && storage == EXR_STORAGE_SCANLINE) {
        int32_t lines = 0;
        rv = exr_get_scanlines_per_chunk(exr, 0, &lines);
        if (rv == EXR_ERR_SUCCESS && lines < 1) rv = EXR_ERR_INVALID_ATTR;
        for (int64_t y = t->box.min.y; rv == EXR_ERR_SUCCESS && y <= t->box.max.y; y += lines) {
            rv = exr_read_scanline_chunk_info(exr, 0, (int)y, &chunk);
            if (rv == EXR_ERR_SUCCESS) rv = decode_chunk(exr, &chunk, &decoder, &ready, t);
        }
    } else if (rv == EXR_ERR_SUCCESS) {
        int32_t tile_w = 0, tile_h = 0, level_w = 0, level_h = 0;
        rv = exr_get_tile_sizes(exr, 0, 0, 0, &tile_w, &tile_h);
        if (rv == EXR_ERR_SUCCESS) rv = exr_get_level_sizes(exr, 0, 0, 0, &level_w, &level_h);
        if (rv == EXR_ERR_SUCCESS && (tile_w < 1 || tile_h < 1 || level_w != t->width || level_h != t->height)) rv = EXR_ERR_INVALID_ATTR;
        int32_t tiles_x = rv == EXR_ERR_SUCCESS ? (level_w + tile_w - 1) / tile_w : 0;
        int32_t tiles_y = rv == EXR_ERR_SUCCESS ? (level_h + tile_h - 1) / tile_h : 0;
        for (int32_t ty = 0; rv == EXR_ERR_SUCCESS && ty < tiles_y; ty++)
            for (int32_t tx = 0; rv == EXR_ERR_SUCCESS && tx < tiles_x; tx++) {
                rv = exr_read_tile_chunk_info(exr, 0, tx, ty, 0, 0, &chunk);
                if (rv == EXR_ERR_SUCCESS) rv = decode_chunk(exr, &chunk, &decoder, &ready, t);
            }
    }
    exr_decoding_destroy(exr, &decoder);
    return rv;
}

rd_result rd_exr_load(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_image *out)
{
    exr_source s = {data, size, ""};
    exr_context_t exr;
    rd_result r = open_exr(ctx, path, &s, &exr);
    if (r != RD_OK) return r;
    exr_target t = {0};
    const exr_attr_chlist_t *list = NULL;
    r = window(ctx, path, exr, &t.box, &t.width, &t.height);
    if (r == RD_OK && (exr_get_channels(exr, 0, &list) != EXR_ERR_SUCCESS || !list))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: EXR header has no channel list", path);
    if (r == RD_OK && !find_rgba(list, t.rgba))
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: EXR has %d channels and no R, G and B among them (first: %s)", path,
                    list->num_channels, list->num_channels && list->entries[0].name.str ? list->entries[0].name.str : "none");
    for (int k = 0; r == RD_OK && k < 4; k++) t.names[k] = t.rgba[k] >= 0 ? list->entries[t.rgba[k]].name.str : NULL;
    for (int k = 0; r == RD_OK && k < 4; k++)
        if (t.rgba[k] >= 0 && (list->entries[t.rgba[k]].x_sampling != 1 || list->entries[t.rgba[k]].y_sampling != 1))
            r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: EXR channel %s is subsampled (%dx%d); subsampled channels are not read",
                        path, list->entries[t.rgba[k]].name.str, list->entries[t.rgba[k]].x_sampling,
                        list->entries[t.rgba[k]].y_sampling);
    size_t pixels = (size_t)t.width * (size_t)t.height;
    if (r == RD_OK && !(t.planes = calloc(4 * pixels, sizeof(float))))
        r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold a %lldx%lld image", path, (long long)t.width, (long long)t.height);
    if (r == RD_OK) {
        exr_result_t rv = decode_all(exr, &t);
        if (rv != EXR_ERR_SUCCESS) r = exr_fail(ctx, path, &s, rv, "pixels");
    }
    if (r == RD_OK && (r = rd_image_alloc((int)t.width, (int)t.height, 4, out)) != RD_OK)
        r = rd_fail(ctx, r, "%s: cannot hold a %lldx%lld image", path, (long long)t.width, (long long)t.height);
    if (r == RD_OK) {
        /* one channel is grey; no alpha is opaque */
        const float *plane[4] = {t.planes, t.planes + (t.rgba[1] >= 0 ? pixels : 0), t.planes + (t.rgba[2] >= 0 ? 2 * pixels : 0),
                                 t.rgba[3] >= 0 ? t.planes + 3 * pixels : NULL};
        for (size_t p = 0; p < pixels; p++)
            for (int k = 0; k < 4; k++) out->pixels[4 * p + k] = plane[k] ? plane[k][p] : 1.0f;
    }
    free(t.planes);
    exr_finish(&exr);
    return r;
}
