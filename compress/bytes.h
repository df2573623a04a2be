/* bytes.h: little-endian fields in byte buffers, and a growable buffer for writers. Every
   splat format is little-endian whatever the host is, so fields go through these. */
#ifndef RD_BYTES_H
#define RD_BYTES_H

#include "../renderer/internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline uint16_t rd_le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t rd_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t rd_le64(const unsigned char *p) { return rd_le32(p) | (uint64_t)rd_le32(p + 4) << 32; }
static inline float rd_lef32(const unsigned char *p)
{
    uint32_t u = rd_le32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* A byte buffer that grows; `failed` turns true on the first allocation failure and every
   later append is ignored, so writers check once at the end. */
typedef struct rd_bytes {
    unsigned char *data;
    size_t size, cap;
    bool failed;
} rd_bytes;

unsigned char *rd_bytes_grow(rd_bytes *b, size_t n); /* n more bytes at the end, or NULL */
void rd_bytes_append(rd_bytes *b, const void *src, size_t n);
void rd_bytes_u8(rd_bytes *b, uint8_t v);
void rd_bytes_u16(rd_bytes *b, uint16_t v);
void rd_bytes_u32(rd_bytes *b, uint32_t v);
void rd_bytes_u64(rd_bytes *b, uint64_t v);
void rd_bytes_f32(rd_bytes *b, float v);
void rd_bytes_printf(rd_bytes *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rd_bytes_free(rd_bytes *b);
/* Writes the buffer to path through a temporary file (nothing half-written on failure). */
rd_result rd_bytes_save(rd_context *ctx, const char *path, const rd_bytes *b);

#endif
