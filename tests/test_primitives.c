/* test_primitives.c: the device-wide scan and radix sort of every backend present
   (renderer/primitives.h), against plain C on fresh random inputs: inclusive and
   exclusive scans, with sums that pass 2^32 and saturate; stable sorts of keys of 8 to 32
   bits, with few distinct keys in half the cases so that stability shows, at sizes around
   the group and tile boundaries; arguments out of range refused. Then the Vulkan forms'
   own variants (primitives_vk.c). The CPU backend always runs; CUDA and Vulkan are
   skipped where no device is present, which is printed. Also the GPU frame driver's
   capacity policy (renderer/frame_driver.h) with frames whose pair counts the test sets. */
#include "test_util.h"
#include "primitives_test.h"
#include "../renderer/primitives.h"
#include "../renderer/frame_driver.h"

#include <stdlib.h>
#include <string.h>

/* An array in the context's memory, and its host twin. */
typedef struct array {
    uint32_t *device, *host;
    size_t count;
} array;

static bool array_make(rd_context *ctx, array *a, size_t count)
{
    rd_memory memory;
    a->count = count;
    a->host = calloc(count + 1, 4);
    return CHECK_OK(rd_buffer_alloc(ctx, (count + 1) * 4, (void **)&a->device, &memory)) && a->host;
}

static bool array_up(rd_context *ctx, const array *a)
{
    rd_memory memory = rd_context_backend(ctx) == RD_BACKEND_CPU ? RD_MEMORY_HOST : RD_MEMORY_DEVICE;
    return CHECK_OK(rd_buffer_copy(ctx, a->device, memory, a->host, RD_MEMORY_HOST, a->count * 4));
}

static bool array_down(rd_context *ctx, array *a)
{
    rd_memory memory = rd_context_backend(ctx) == RD_BACKEND_CPU ? RD_MEMORY_HOST : RD_MEMORY_DEVICE;
    return CHECK_OK(rd_buffer_copy(ctx, a->host, RD_MEMORY_HOST, a->device, memory, a->count * 4));
}

static void array_free(rd_context *ctx, array *a)
{
    if (a->device) rd_buffer_free(ctx, a->device);
    free(a->host);
}

static uint32_t random_word(test_rng *r) { return (uint32_t)(rng_uniform(r) * 4294967296.0); }

static int compare_wide(const void *pa, const void *pb)
{
    const uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

static bool sort_case(rd_context *ctx, test_rng *r, uint32_t n, int bits)
{
    uint32_t mask = bits == 32 ? 0xffffffffu : (1u << bits) - 1u;
    uint32_t distinct = rng_uniform(r) < 0.5 ? 0 : 5; /* 0: any key */
    array keys[2] = {{0}}, values[2] = {{0}};
    uint64_t *want = malloc((size_t)n * 8 + 8);
    bool ok = want != NULL;
    for (int b = 0; b < 2 && ok; b++) ok = array_make(ctx, &keys[b], n) && array_make(ctx, &values[b], n);
    for (uint32_t i = 0; ok && i < n; i++) {
        uint32_t key = random_word(r);
        if (distinct) key = (key % distinct) | (key & ~mask); /* bits above `bits` are ignored */
        keys[0].host[i] = key;
        values[0].host[i] = i; /* the index: the stable order is (key bits, index) */
        want[i] = ((uint64_t)(key & mask) << 32) | i;
    }
    if (ok) qsort(want, n, sizeof *want, compare_wide);
    int result = 0;
    ok = ok && array_up(ctx, &keys[0]) && array_up(ctx, &values[0]) &&
         CHECK_OK(rd_sort_pairs(ctx, (uint32_t *[2]){keys[0].device, keys[1].device},
                                (uint32_t *[2]){values[0].device, values[1].device}, n, bits, &result)) &&
         CHECK(result == 0 || result == 1) && array_down(ctx, &keys[result]) && array_down(ctx, &values[result]);
    uint32_t wrong = 0;
    for (uint32_t i = 0; ok && i < n; i++)
        wrong += (keys[result].host[i] & mask) != (uint32_t)(want[i] >> 32) || values[result].host[i] != (uint32_t)want[i];
    if (wrong) printf("  sort of %u keys (%d bits): %u positions wrong\n", n, bits, wrong);
    for (int b = 0; b < 2; b++) array_free(ctx, &keys[b]), array_free(ctx, &values[b]);
    free(want);
    return CHECK(ok && wrong == 0);
}

static bool scan_case(rd_context *ctx, test_rng *r, uint32_t n, bool exclusive, bool huge, bool in_place)
{
    array in = {0}, out = {0};
    uint32_t *want = malloc((size_t)n * 4 + 4);
    bool ok = want && array_make(ctx, &in, n) && (in_place || array_make(ctx, &out, n));
    uint32_t run = 0;
    for (uint32_t i = 0; ok && i < n; i++) {
        uint32_t v = huge ? (uint32_t)(rng_uniform(r) * 2e9) : (uint32_t)(rng_uniform(r) * 1000);
        in.host[i] = v;
        uint32_t next = run + v < run ? 0xffffffffu : run + v;
        want[i] = exclusive ? run : next;
        run = next;
    }
    array *result = in_place ? &in : &out;
    ok = ok && array_up(ctx, &in) && CHECK_OK(rd_scan(ctx, in.device, result->device, n, exclusive)) && array_down(ctx, result);
    uint32_t wrong = 0;
    for (uint32_t i = 0; ok && i < n; i++) wrong += result->host[i] != want[i];
    if (wrong) printf("  %s scan of %u%s: %u wrong\n", exclusive ? "exclusive" : "inclusive", n, in_place ? " in place" : "", wrong);
    array_free(ctx, &in);
    array_free(ctx, &out);
    free(want);
    return CHECK(ok && wrong == 0);
}

/* Arguments out of range fail with a message, writing nothing. */
static void refused(rd_context *ctx)
{
    uint32_t *none[2] = {NULL, NULL};
    int result = -1;
    CHECK_FAILS(rd_sort_pairs(ctx, none, none, 10, 0, &result), RD_ERROR_INVALID_ARGUMENT);
    CHECK_FAILS(rd_sort_pairs(ctx, none, none, 10, 33, &result), RD_ERROR_INVALID_ARGUMENT);
    CHECK_FAILS(rd_sort_pairs(ctx, none, none, -1, 8, &result), RD_ERROR_INVALID_ARGUMENT);
    CHECK_FAILS(rd_sort_pairs(ctx, none, none, 1ll << 30, 8, &result), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "rd_sort_pairs") != NULL);
    CHECK_FAILS(rd_scan(ctx, NULL, NULL, 5, false), RD_ERROR_INVALID_ARGUMENT);
    CHECK_OK(rd_scan(ctx, NULL, NULL, 0, false)); /* nothing to do */
}

static void run_backend(rd_backend backend, test_rng *r)
{
    const char *name = rd_backend_name(backend);
    rd_context *ctx = NULL;
    rd_result created = rd_context_create(&(rd_context_desc){.backend = backend, .log = test_log}, &ctx);
    if (created != RD_OK) {
        CHECK(backend != RD_BACKEND_CPU);
        printf("%s: skipped (no usable device here; RADIANT_TEST_VERBOSE=1 logs why)\n", name);
        return;
    }
    /* sizes around group boundaries (256, 2048) and CUDA's small-tile threshold; the
       sanitizer build stops at 100,000 on software devices */
    static const uint32_t sizes[] = {1, 7, 255, 256, 2047, 2048, 2049, 4097, 100000, 1 << 20, 3000001};
    static const int bits[] = {8, 13, 16, 17, 24, 32};
    size_t size_count = TEST_SANITIZED && backend == RD_BACKEND_VULKAN ? 9 : sizeof sizes / sizeof sizes[0];
    int cases = 0, failed = 0;
    for (size_t s = 0; s < size_count; s++) {
        for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++, cases++) failed += !sort_case(ctx, r, sizes[s], bits[b]);
        for (int e = 0; e < 2; e++, cases++) failed += !scan_case(ctx, r, sizes[s], e, false, s % 2 == 1);
    }
    failed += !scan_case(ctx, r, 5000, false, true, false), cases++; /* sums pass 2^32 and saturate */
    failed += !scan_case(ctx, r, 5000, true, true, true), cases++;
    refused(ctx);
    printf("%s: %d scans and sorts against plain C, %d wrong\n", name, cases, failed);
    rd_context_destroy(ctx);
}

/* A frame whose pair count the test sets; it records what the driver asked of it. */
typedef struct fake_frame {
    int64_t pairs[2];       /* what the first and later runs of a frame find */
    int runs, reserves;
    int64_t reserved;       /* the capacity the last reserve was for */
    bool fail_reserve;
} fake_frame;

static rd_result fake_reserve(rd_context *ctx, void *user, int64_t capacity)
{
    fake_frame *f = user;
    f->reserves++, f->reserved = capacity;
    return f->fail_reserve ? rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "fake: no memory") : RD_OK;
}

static rd_result fake_run(rd_context *ctx, void *user, int64_t capacity, int64_t *pairs)
{
    (void)ctx;
    fake_frame *f = user;
    CHECK(capacity == f->reserved); /* run at the capacity just reserved */
    *pairs = f->pairs[f->runs++ > 0];
    return RD_OK;
}

static rd_result drive(rd_context *ctx, rd_pair_capacity *c, fake_frame *f, int64_t first, int64_t again, int64_t *pairs)
{
    f->pairs[0] = first, f->pairs[1] = again, f->runs = 0, f->reserves = 0;
    return rd_gpu_frame_drive(ctx, c, &(rd_gpu_frame){"fake", f, fake_reserve, fake_run}, pairs);
}

static void frame_driver(rd_context *ctx)
{
    rd_pair_capacity c = {0};
    fake_frame f = {0};
    int64_t pairs = 0;
    /* the first frame starts at the minimum; one that fits runs once */
    CHECK_OK(drive(ctx, &c, &f, 1000, 1000, &pairs));
    CHECK(pairs == 1000 && f.runs == 1 && c.pairs == RD_PAIRS_MIN);
    /* more pairs than the capacity: grown by an eighth (a multiple of four), run again once */
    CHECK_OK(drive(ctx, &c, &f, 1000000, 1000000, &pairs));
    CHECK(pairs == 1000000 && f.runs == 2 && c.pairs == 1125000 && f.reserved == 1125000);
    /* a count that changes between the two runs is the device's fault, said so */
    CHECK_FAILS(drive(ctx, &c, &f, 2000000, 3000000, &pairs), RD_ERROR_DEVICE);
    CHECK(strstr(rd_last_error(ctx), "fake: pair count changed") != NULL);
    /* small frames for the rest of a window: fitted down to the window's most, plus a 32nd */
    c = (rd_pair_capacity){0};
    CHECK_OK(drive(ctx, &c, &f, 900000, 900000, &pairs));
    for (int k = 1; k < RD_PAIRS_WINDOW - 1; k++) CHECK_OK(drive(ctx, &c, &f, 100000, 100000, &pairs));
    CHECK(c.pairs == 1012500); /* not yet: the window has a frame to go */
    CHECK_OK(drive(ctx, &c, &f, 200000, 200000, &pairs));
    CHECK(c.pairs == 928128 && c.window_frames == 0); /* 900000 + 900000/32, to a multiple of four */
    /* a window of small frames only: down to the minimum's floor or the most plus a 32nd */
    for (int k = 0; k < RD_PAIRS_WINDOW; k++) CHECK_OK(drive(ctx, &c, &f, 100000, 100000, &pairs));
    CHECK(c.pairs == 103128);
    /* past what a sort takes: refused with the count */
    CHECK_FAILS(drive(ctx, &c, &f, 3000000000ll, 3000000000ll, &pairs), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "3000000000 tile pairs") != NULL);
    /* a reserve that fails resets the capacity, so the next frame starts small */
    f.fail_reserve = true;
    CHECK_FAILS(drive(ctx, &c, &f, 100, 100, &pairs), RD_ERROR_OUT_OF_MEMORY);
    CHECK(c.pairs == 0 && f.runs == 0);
    f.fail_reserve = false;
    CHECK_OK(drive(ctx, &c, &f, 100, 100, &pairs));
    CHECK(c.pairs == RD_PAIRS_MIN && f.reserved == RD_PAIRS_MIN);
    CHECK_FAILS(rd_gpu_frame_check(ctx, "fake", 1ll << 31, "primitives"), RD_ERROR_INVALID_ARGUMENT);
    CHECK_OK(rd_gpu_frame_check(ctx, "fake", (1ll << 31) - 1, "primitives"));
    printf("frame driver: grow, retry, fit after a window, limits and failures as frame_driver.h says\n");
}

int main(void)
{
    test_rng r = {test_seed("primitives")};
    rd_context *cpu = NULL;
    if (CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &cpu))) frame_driver(cpu);
    rd_context_destroy(cpu);
    run_backend(RD_BACKEND_CPU, &r);
    run_backend(RD_BACKEND_CUDA, &r);
    run_backend(RD_BACKEND_VULKAN, &r);
#ifdef RADIANT_TEST_VULKAN
    if (!vk_primitive_variants(&r)) printf("vulkan variants: skipped (no usable Vulkan device here)\n");
    check_validation();
#endif
    return test_finish("primitives");
}
