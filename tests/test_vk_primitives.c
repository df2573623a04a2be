/* test_vk_primitives.c: the Vulkan backend's scan and radix sort against plain C on fresh
   random inputs: inclusive and exclusive scans (with saturation at 2^32 - 1), stable
   sorts of keys of 8 to 32 bits for sizes around the group boundaries, with counts
   clamped to a capacity as the renderer uses them, at every subgroup size the device
   offers and at several keys a thread. Skipped where no Vulkan device is present. */
#include "test_util.h"
#include "../renderer/vulkan/vk_sort.h"
#include "../renderer/vulkan/shaders/vk_layout.h"

#include <stdlib.h>
#include <string.h>

typedef struct device_arrays {
    rd_vk_buffer keys[2], values[2], count, gather[2];
} device_arrays;

static void release(rd_context *ctx, device_arrays *d)
{
    rd_vk_buffer *bufs[] = {&d->keys[0], &d->keys[1], &d->values[0], &d->values[1], &d->count, &d->gather[0], &d->gather[1]};
    for (int i = 0; i < 7; i++) rd_vk_release(rd_vk(ctx), bufs[i]);
}

static int compare_pairs(const void *pa, const void *pb)
{
    const uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

/* A stable sort of the first count keys by their low bits; values are the indices, and the
   last pass gathers payload[value] beside them. */
static bool sort_case(rd_context *ctx, test_rng *r, uint32_t n, uint32_t capacity, int bits)
{
    uint32_t count = n < capacity ? n : capacity;
    uint32_t *keys = malloc((size_t)n * 4 + 4), *values = malloc((size_t)n * 4 + 4), *payload = malloc((size_t)n * 4 + 4);
    uint64_t *want = malloc((size_t)n * 8 + 8);
    uint32_t mask = bits == 32 ? 0xffffffffu : (1u << bits) - 1u;
    /* few distinct keys in some cases, so that stability is tested */
    uint32_t distinct = rng_uniform(r) < 0.5 ? mask : 5u;
    for (uint32_t i = 0; i < n; i++) {
        keys[i] = (uint32_t)(rng_uniform(r) * 4294967296.0);
        if (distinct != mask) keys[i] = (keys[i] % distinct) | (keys[i] & ~mask); /* high bits are ignored */
        values[i] = i;
        payload[i] = (uint32_t)(rng_uniform(r) * 4294967296.0);
        want[i] = ((uint64_t)(keys[i] & mask) << 32) | i;
    }
    qsort(want, count, sizeof *want, compare_pairs);
    device_arrays d = {0};
    d.count.host = true;
    bool ok = CHECK_OK(rd_vk_reserve(ctx, &d.count, 4, "count"));
    for (int b = 0; b < 2 && ok; b++)
        ok = CHECK_OK(rd_vk_reserve(ctx, &d.keys[b], (size_t)n * 4, "keys")) &&
             CHECK_OK(rd_vk_reserve(ctx, &d.values[b], (size_t)n * 4, "values")) &&
             CHECK_OK(rd_vk_reserve(ctx, &d.gather[b], (size_t)n * 4, "gather"));
    ok = ok && CHECK_OK(rd_vk_sorter_reserve(ctx, rd_vk(ctx)->sorter, capacity)) &&
         CHECK_OK(rd_vk_upload(ctx, &d.count, 0, &n, 4)) && CHECK_OK(rd_vk_upload(ctx, &d.keys[0], 0, keys, (size_t)n * 4)) &&
         CHECK_OK(rd_vk_upload(ctx, &d.values[0], 0, values, (size_t)n * 4)) &&
         CHECK_OK(rd_vk_upload(ctx, &d.gather[0], 0, payload, (size_t)n * 4));
    VkCommandBuffer cmd;
    int result = 0;
    if (ok && CHECK_OK(rd_vk_begin(ctx, &cmd))) {
        result = rd_vk_sort_record(rd_vk(ctx)->sorter, cmd, &(rd_vk_sort_desc){
            .keys = {d.keys[0].address, d.keys[1].address}, .values = {d.values[0].address, d.values[1].address},
            .count = d.count.address, .max_count = capacity, .bits = bits, .gather_from = d.gather[0].address,
            .gather_to = d.gather[1].address});
        ok = CHECK_OK(rd_vk_submit_wait(ctx, "sort"));
    }
    if (ok) ok = CHECK_OK(rd_vk_download(ctx, keys, &d.keys[result], 0, (size_t)count * 4)) &&
                 CHECK_OK(rd_vk_download(ctx, values, &d.values[result], 0, (size_t)count * 4));
    uint32_t *gathered = malloc((size_t)count * 4 + 4);
    if (ok) ok = CHECK_OK(rd_vk_download(ctx, gathered, &d.gather[1], 0, (size_t)count * 4));
    uint32_t wrong = 0;
    for (uint32_t i = 0; ok && i < count; i++)
        wrong += (keys[i] & mask) != (uint32_t)(want[i] >> 32) || values[i] != (uint32_t)want[i] ||
                 gathered[i] != payload[(uint32_t)want[i]];
    free(gathered);
    free(payload);
    if (wrong) printf("  sort of %u keys (%d bits, capacity %u): %u positions wrong\n", n, bits, capacity, wrong);
    release(ctx, &d);
    free(keys);
    free(values);
    free(want);
    return CHECK(ok && wrong == 0);
}

static uint32_t sat_add(uint32_t a, uint32_t b) { return a + b < a ? 0xffffffffu : a + b; }

static bool scan_case(rd_context *ctx, test_rng *r, uint32_t n, bool exclusive, bool huge)
{
    uint32_t *in = malloc((size_t)n * 4 + 4), *out = malloc((size_t)n * 4 + 4);
    for (uint32_t i = 0; i < n; i++) in[i] = huge ? (uint32_t)(rng_uniform(r) * 2e9) : (uint32_t)(rng_uniform(r) * 1000);
    device_arrays d = {0};
    d.count.host = true;
    bool ok = CHECK_OK(rd_vk_reserve(ctx, &d.count, 4, "count")) && CHECK_OK(rd_vk_reserve(ctx, &d.keys[0], (size_t)n * 4, "in")) &&
              CHECK_OK(rd_vk_reserve(ctx, &d.keys[1], (size_t)n * 4, "out")) &&
              CHECK_OK(rd_vk_sorter_reserve(ctx, rd_vk(ctx)->sorter, n)) && CHECK_OK(rd_vk_upload(ctx, &d.count, 0, &n, 4)) &&
              CHECK_OK(rd_vk_upload(ctx, &d.keys[0], 0, in, (size_t)n * 4));
    VkCommandBuffer cmd;
    if (ok && CHECK_OK(rd_vk_begin(ctx, &cmd))) {
        rd_vk_scan_record(rd_vk(ctx)->sorter, cmd, &(rd_vk_scan_desc){.input = d.keys[0].address, .output = d.keys[1].address,
                                                                      .count = d.count.address, .exclusive = exclusive});
        ok = CHECK_OK(rd_vk_submit_wait(ctx, "scan"));
    }
    if (ok) ok = CHECK_OK(rd_vk_download(ctx, out, &d.keys[1], 0, (size_t)n * 4));
    uint32_t run = 0, wrong = 0;
    for (uint32_t i = 0; ok && i < n; i++) {
        uint32_t next = sat_add(run, in[i]);
        wrong += out[i] != (exclusive ? run : next);
        run = next;
    }
    if (wrong) printf("  %s scan of %u: %u wrong\n", exclusive ? "exclusive" : "inclusive", n, wrong);
    release(ctx, &d);
    free(in);
    free(out);
    return CHECK(ok && wrong == 0);
}

static void run_all(rd_context *ctx, test_rng *r, const char *label)
{
    static const uint32_t sizes[] = {1, 7, 255, 2047, 2048, 2049, 4097, 100000, 1 << 20, 3000001};
    static const int bits[] = {8, 13, 16, 17, 24, 32};
    int sorts = 0, scans = 0, failed = 0;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++, sorts++)
            failed += !sort_case(ctx, r, sizes[s], sizes[s], bits[b]);
        for (int e = 0; e < 2; e++, scans++) failed += !scan_case(ctx, r, sizes[s], e, false);
    }
    /* the renderer's pattern: more pairs than the buffers hold sorts only the first capacity */
    failed += !sort_case(ctx, r, 50000, 30000, 13), sorts++;
    failed += !scan_case(ctx, r, 5000, false, true), scans++; /* sums pass 2^32 and saturate */
    /* look-back entries count in 30 bits: more keys are refused up front, with a message */
    rd_result too_many = rd_vk_sorter_reserve(ctx, rd_vk(ctx)->sorter, RD_SORT_MAX_KEYS);
    failed += !CHECK(too_many == RD_ERROR_OUT_OF_MEMORY && strstr(rd_last_error(ctx), "cannot sort") != NULL);
    printf("vulkan (%s): %d sorts and %d scans, %d wrong\n", label, sorts, scans, failed);
}

int main(void)
{
    test_rng r = {test_seed("vk_primitives")};
    rd_context *ctx;
    rd_result cr = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_VULKAN, .log = test_log}, &ctx);
    if (cr != RD_OK) {
        printf("vulkan: skipped (no usable Vulkan device here; the log says why with RADIANT_TEST_VERBOSE=1)\n");
        return SKIP_CODE;
    }
    uint32_t native = rd_vk(ctx)->subgroup_size;
    run_all(ctx, &r, "device subgroup size");
    rd_context_destroy(ctx);
    /* the sort's blocks at one size for every sort (vk_sort.c's choose_sort_blocks: by
       default 12 keys a thread, and on GPUs 10, or 20 from 2^21 keys on), so that each size runs
       everywhere; sizes are cut to what the device's shared memory holds */
    static const char *const items[] = {"12", "16", "20"};
    for (int i = 0; i < 3; i++) {
        setenv("RADIANT_VK_SORT_ITEMS", items[i], 1);
        rd_result created = rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_VULKAN, .log = test_log}, &ctx);
        unsetenv("RADIANT_VK_SORT_ITEMS");
        if (!CHECK(created == RD_OK)) continue;
        char label[48];
        snprintf(label, sizeof label, "RADIANT_VK_SORT_ITEMS=%s", items[i]);
        run_all(ctx, &r, label);
        rd_context_destroy(ctx);
    }
    /* portability: every other power-of-two subgroup size the device lets us require */
    for (int size = 8; size <= 128; size *= 2) {
        if ((uint32_t)size == native) continue;
        if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_VULKAN, .log = test_log, .subgroup_size = size}, &ctx) != RD_OK) {
            printf("vulkan: subgroup size %d: not offered by this device, skipped\n", size);
            continue;
        }
        char label[32];
        snprintf(label, sizeof label, "subgroup size %d", size);
        run_all(ctx, &r, label);
        rd_context_destroy(ctx);
    }
    check_validation();
    return test_finish("vk_primitives");
}
