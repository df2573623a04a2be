/* bytes.c: the growable byte buffer the format writers fill. */
#include "bytes.h"

#include <stdarg.h>
#include <stdio.h>

unsigned char *rd_bytes_grow(rd_bytes *b, size_t n)
{
    if (b->failed) return NULL;
    if (n > SIZE_MAX - b->size) {
        b->failed = true;
        return NULL;
    }
    if (b->size + n > b->cap || !b->data) { /* (an empty buffer gets memory too: a pointer to return) */
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->size + n) cap = cap > SIZE_MAX / 2 ? b->size + n : cap * 2;
        unsigned char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = true;
            return NULL;
        }
        b->data = p;
        b->cap = cap;
    }
    unsigned char *at = b->data + b->size;
    b->size += n;
    return at;
}

void rd_bytes_append(rd_bytes *b, const void *src, size_t n)
{
    unsigned char *at = rd_bytes_grow(b, n);
    if (at && n) memcpy(at, src, n);
}

void rd_bytes_u8(rd_bytes *b, uint8_t v) { rd_bytes_append(b, &v, 1); }
void rd_bytes_u16(rd_bytes *b, uint16_t v) { rd_bytes_append(b, (uint8_t[]){(uint8_t)v, (uint8_t)(v >> 8)}, 2); }
void rd_bytes_u32(rd_bytes *b, uint32_t v)
{
    rd_bytes_append(b, (uint8_t[]){(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)}, 4);
}
void rd_bytes_u64(rd_bytes *b, uint64_t v)
{
    rd_bytes_u32(b, (uint32_t)v);
    rd_bytes_u32(b, (uint32_t)(v >> 32));
}
void rd_bytes_f32(rd_bytes *b, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    rd_bytes_u32(b, u);
}

void rd_bytes_printf(rd_bytes *b, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof line) {
        b->failed = true;
        return;
    }
    rd_bytes_append(b, line, (size_t)n);
}

void rd_bytes_free(rd_bytes *b)
{
    free(b->data);
    *b = (rd_bytes){0};
}

rd_result rd_bytes_save(rd_context *ctx, const char *path, const rd_bytes *b)
{
    if (b->failed) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory while encoding", path);
    return rd_file_write(ctx, path, b->data, b->size);
}
