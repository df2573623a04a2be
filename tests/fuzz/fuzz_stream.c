/* fuzz_stream.c: residual streams (.rstream) as a player reads them. The first byte
   picks: 'r', the rest as it is (the container's own checks: magic, header checksum,
   index, trailer, the scan past damage); anything else, the rest with every checksum made
   right first (the file header's, and each frame header's and payload's where the frame
   headers chain), so that the payloads' sections, counts and decode are reached. Then
   every frame is sought, in order and from the end back, and a failure goes on from the
   next intra frame, as a player does. */
#include "fuzz_file.h"

#include <stdlib.h>
#include <string.h>

uint64_t rd_stream_hash(const void *data, size_t bytes); /* the library's XXH64 (compress/stream.h) */

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++) v |= (uint64_t)p[k] << (8 * k);
    return v;
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int k = 0; k < 8; k++) p[k] = (uint8_t)(v >> (8 * k));
}

static void fix_checksums(uint8_t *p, size_t size)
{
    if (size < 24) return;
    uint64_t json = (uint64_t)p[12] | (uint64_t)p[13] << 8 | (uint64_t)p[14] << 16 | (uint64_t)p[15] << 24;
    if (json > size - 24) return;
    put64(p + 16 + json, rd_stream_hash(p, 16 + json));
    size_t at = 16 + json + 8;
    while (at + 56 <= size && memcmp(p + at, "RDFRAME", 8) == 0) {
        uint64_t payload = le64(p + at + 32);
        if (payload > size - at - 56) break;
        put64(p + at + 40, rd_stream_hash(p + at + 56, payload));
        put64(p + at + 48, rd_stream_hash(p + at, 48));
        at += 56 + payload;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_context *ctx = fuzz_context();
    if (!ctx || size < 2) return 0;
    uint8_t *copy = malloc(size - 1);
    if (!copy) return 0;
    memcpy(copy, data + 1, size - 1);
    if (data[0] != 'r') fix_checksums(copy, size - 1);
    const char *path = fuzz_file("fuzz.rstream", copy, size - 1);
    free(copy);
    rd_stream *s = NULL;
    if (!path || rd_stream_open(ctx, path, &s) != RD_OK) return 0;
    rd_stream_info info;
    rd_stream_get_info(s, &info);
    int64_t frames = info.frame_numbers < 64 ? info.frame_numbers : 64;
    for (int64_t k = 0; k < frames; k++)
        if (rd_stream_seek(s, k) != RD_OK) {
            int64_t next = rd_stream_next_intra(s, k);
            if (next < 0) break;
            k = next - 1;
        }
    for (int64_t k = frames - 1; k >= 0; k -= 3) rd_stream_seek(s, k);
    rd_stream_frame_info fi;
    rd_stream_get_frame(s, 0, &fi);
    rd_stream_close(s);
    return 0;
}
