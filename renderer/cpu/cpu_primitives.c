/* cpu_primitives.c: scan and radix sort in plain C (cpu_primitives.h). */
#include "cpu_primitives.h"

#include <string.h>

void rd_cpu_scan(const uint32_t *in, uint32_t *out, int64_t count, bool exclusive)
{
    uint32_t run = 0;
    for (int64_t i = 0; i < count; i++) {
        uint32_t value = in[i]; /* read before out[i] is written: out may be in */
        uint32_t next = run + value < run ? 0xffffffffu : run + value;
        out[i] = exclusive ? run : next;
        run = next;
    }
}

int rd_cpu_sort_pairs(uint32_t *keys[2], uint32_t *values[2], int64_t count, int bits)
{
    int from = 0;
    for (int shift = 0; shift < bits; shift += 8) {
        int digit_bits = bits - shift < 8 ? bits - shift : 8;
        uint32_t mask = (1u << digit_bits) - 1u;
        int64_t start[256] = {0};
        for (int64_t i = 0; i < count; i++) start[(keys[from][i] >> shift) & mask]++;
        int64_t sum = 0;
        for (int d = 0; d < 256; d++) {
            int64_t n = start[d];
            start[d] = sum;
            sum += n;
        }
        for (int64_t i = 0; i < count; i++) {
            int64_t at = start[(keys[from][i] >> shift) & mask]++;
            keys[!from][at] = keys[from][i];
            values[!from][at] = values[from][i];
        }
        from = !from;
    }
    return from;
}
