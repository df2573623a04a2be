/* primitives_vk.c: test_primitives' Vulkan part: the recorded scan and radix sort against
   plain C on fresh random inputs, with what only the Vulkan forms take: counts that live
   on the device, clamped to a capacity as the renderer uses them, and the gather of the
   last pass. Inclusive and exclusive scans (with saturation at 2^32 - 1), stable sorts of
   keys of 8 to 32 bits for sizes around the group boundaries, by both sort paths where
   the device can run them, at every subgroup size the device offers and at several keys
   a thread; and the single pass's report of a wait out of budget. */
#include "test_util.h"
#include "primitives_test.h"
#include "../renderer/tuning.h"
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
    for (int i = 0; i < 7; i++) rd_vk_release(ctx, bufs[i]);
}

/* What a row of sorts expects of the look-back's report (vk_sort.h's status): none, or,
   where the row runs out of its budget on purpose, a sort that is right or says it is not. */
typedef struct sort_row {
    bool may_stall;
    int stalled; /* sorts that reported a wait out of budget */
} sort_row;

static int compare_pairs(const void *pa, const void *pb)
{
    const uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

/* A stable sort of the first count keys by their low bits; values are the indices, and the
   last pass gathers payload[value] beside them. */
static bool sort_case(rd_context *ctx, test_rng *r, uint32_t n, uint32_t capacity, int bits, sort_row *row)
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
    uint32_t status[2] = {n, 0}; /* the count, then the sort's status */
    bool ok = CHECK_OK(rd_vk_reserve(ctx, &d.count, 8, "count and status"));
    for (int b = 0; b < 2 && ok; b++)
        ok = CHECK_OK(rd_vk_reserve(ctx, &d.keys[b], (size_t)n * 4, "keys")) &&
             CHECK_OK(rd_vk_reserve(ctx, &d.values[b], (size_t)n * 4, "values")) &&
             CHECK_OK(rd_vk_reserve(ctx, &d.gather[b], (size_t)n * 4, "gather"));
    ok = ok && CHECK_OK(rd_vk_sorter_reserve(ctx, rd_vk(ctx)->sorter, capacity)) &&
         CHECK_OK(rd_vk_upload(ctx, &d.count, 0, status, 8)) && CHECK_OK(rd_vk_upload(ctx, &d.keys[0], 0, keys, (size_t)n * 4)) &&
         CHECK_OK(rd_vk_upload(ctx, &d.values[0], 0, values, (size_t)n * 4)) &&
         CHECK_OK(rd_vk_upload(ctx, &d.gather[0], 0, payload, (size_t)n * 4));
    VkCommandBuffer cmd;
    int result = 0;
    if (ok && CHECK_OK(rd_vk_begin(ctx, &cmd))) {
        result = rd_vk_sort_pairs_record(rd_vk(ctx)->sorter, cmd, &(rd_vk_sort_desc){
            .keys = {d.keys[0].address, d.keys[1].address}, .values = {d.values[0].address, d.values[1].address},
            .count = d.count.address, .max_count = capacity, .bits = bits, .gather_from = d.gather[0].address,
            .gather_to = d.gather[1].address, .status = d.count.address + 4});
        ok = CHECK_OK(rd_vk_submit_wait(ctx, "sort"));
    }
    if (ok) ok = CHECK_OK(rd_vk_download(ctx, status, &d.count, 0, 8));
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
    release(ctx, &d);
    free(keys);
    free(values);
    free(want);
    if (ok && status[1] != 0 && row->may_stall) { /* reported: the result may be anything */
        row->stalled++;
        return true;
    }
    if (wrong || status[1])
        printf("  sort of %u keys (%d bits, capacity %u): %u positions wrong, %u waits out of budget\n", n, bits, capacity,
               wrong, status[1]);
    return CHECK(ok && wrong == 0 && status[1] == 0);
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

/* Sizes around the group boundaries; the sanitizer build stops at 100,000 (memory errors
   show on small cases too, and lavapipe under ASan sorts a million keys in seconds). */
static void run_all(rd_context *ctx, test_rng *r, const char *label, sort_row *row)
{
    static const uint32_t sizes[] = {1, 7, 255, 2047, 2048, 2049, 4097, 100000, 1 << 20, 3000001};
    static const int bits[] = {8, 13, 16, 17, 24, 32};
    size_t size_count = TEST_SANITIZED ? 8 : sizeof sizes / sizeof sizes[0];
    int sorts = 0, scans = 0, failed = 0;
    for (size_t s = 0; s < size_count; s++) {
        for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++, sorts++)
            failed += !sort_case(ctx, r, sizes[s], sizes[s], bits[b], row);
        for (int e = 0; e < 2; e++, scans++) failed += !scan_case(ctx, r, sizes[s], e, false);
    }
    /* the renderer's pattern: more pairs than the buffers hold sorts only the first capacity */
    failed += !sort_case(ctx, r, 50000, 30000, 13, row), sorts++;
    failed += !scan_case(ctx, r, 5000, false, true), scans++; /* sums pass 2^32 and saturate */
    /* look-back entries count in 30 bits: more keys are refused up front, with a message */
    rd_result too_many = rd_vk_sorter_reserve(ctx, rd_vk(ctx)->sorter, RD_SORT_MAX_KEYS);
    failed += !CHECK(too_many == RD_ERROR_OUT_OF_MEMORY && strstr(rd_last_error(ctx), "cannot sort") != NULL);
    printf("vulkan (%s, %s sort): %d sorts and %d scans, %d wrong\n", label,
           rd_vk_sorter_single_pass(rd_vk(ctx)->sorter) ? "single-pass" : "reduce-then-scan", sorts, scans, failed);
}

/* Frames whose sorts may run out of their wait budget: each either renders or fails with
   an error that names the look-back, never returns a wrong image as if it were right (the
   images themselves are test_backends' to compare). */
static void frames_report_stalls(rd_context *ctx, test_rng *r)
{
    random_scene_desc sd = {.count = 500000, .sh_degree = 0, .depth_min = 1, .depth_max = 10, .spread = 0.8,
                            .log_scale_min = -5, .log_scale_max = -2};
    rd_scene_desc arrays = random_scene(r, &sd);
    rd_scene *scene = NULL;
    rd_camera cam = random_camera(r, 640, 480);
    float *color = malloc((size_t)cam.width * cam.height * 4 * sizeof(float));
    int failed = 0;
    if (CHECK_OK(rd_scene_create(ctx, &arrays, &scene)))
        for (int k = 0; k < 8; k++) {
            rd_result got = rd_render(ctx, scene, &cam, NULL, &(rd_framebuffer){.color = color});
            bool said = got == RD_ERROR_DEVICE && strstr(rd_last_error(ctx), "look-back") != NULL;
            CHECK(got == RD_OK || said);
            failed += said;
        }
    printf("vulkan (no wait budget): %d of 8 frames failed with the look-back's error, the others rendered\n", failed);
    free(color);
    rd_scene_destroy(scene);
    random_scene_free(&arrays);
}

/* A context with these variant choices; NULL where the device refuses them, which is said. */
static rd_context *context_with(const rd_tuning *tuning, const char *label, int subgroup_size)
{
    static const rd_tuning defaults = {0};
    rd_context *ctx = NULL;
    rd_result created = rd_context_create_tuned(
        &(rd_context_desc){.backend = RD_BACKEND_VULKAN, .log = test_log, .subgroup_size = subgroup_size},
        tuning ? tuning : &defaults, &ctx);
    if (created == RD_OK) return ctx;
    if (tuning && created == RD_ERROR_BACKEND_UNAVAILABLE) printf("vulkan (%s): skipped: the device refuses it\n", label);
    else if (!subgroup_size) CHECK_OK(created);
    return NULL;
}

bool vk_primitive_variants(test_rng *r_in)
{
    test_rng r = *r_in;
    rd_context *ctx = context_with(NULL, NULL, 0);
    if (!ctx) return false;
    sort_row plain = {0};
    uint32_t native = rd_vk(ctx)->subgroup_size;
    bool single_pass = rd_vk_sorter_single_pass(rd_vk(ctx)->sorter);
    uint32_t ran[4][2]; /* the sorts' block sizes run on the default path, as rd_vk_sorter_items gives them */
    int ran_count = 1;
    rd_vk_sorter_items(rd_vk(ctx)->sorter, ran[0]);
    run_all(ctx, &r, "device defaults", &plain);
    rd_context_destroy(ctx);
    /* Both sort paths where the device can run them: reduce-then-scan everywhere; the
       single pass only where the device promises that waited-on workgroups run (GPUs;
       lavapipe refuses it, which is printed). */
    const char *other = single_pass ? "the reduce-then-scan sort" : "the single-pass sort";
    if ((ctx = context_with(&(rd_tuning){.vk_sort_path = single_pass ? RD_SORT_REDUCE_THEN_SCAN : RD_SORT_SINGLE_PASS}, other, 0))) {
        run_all(ctx, &r, other, &plain);
        rd_context_destroy(ctx);
    }
    /* The single pass with no budget for its waits: a sort whose block finds an earlier one
       unpublished must say so through its status rather than return a wrong order. */
    if (single_pass && (ctx = context_with(&(rd_tuning){.vk_sort_wait_budget = -1}, "no wait budget", 0))) {
        sort_row starved = {.may_stall = true};
        run_all(ctx, &r, "no wait budget", &starved);
        printf("vulkan (no wait budget): %d sorts reported waits out of budget; the others were right\n", starved.stalled);
        frames_report_stalls(ctx, &r);
        rd_context_destroy(ctx);
    }
    /* the sort's blocks at one size for every sort (vk_sort.c's choose_sort_blocks: by
       default 12 keys a thread, and on GPUs 10, or 20 from 2^21 keys on), so that each size runs
       everywhere; sizes are cut to what the device's shared memory holds, and a size cut to
       one that ran already is not run again (lavapipe's 32 KiB: 12 is its default, 16 and
       20 both become 14; each run there is 10 s of the test) */
    static const int items[] = {12, 16, 20};
    for (int i = 0; i < 3; i++) {
        char label[48];
        snprintf(label, sizeof label, "sort blocks of %d keys a thread", items[i]);
        if (!CHECK((ctx = context_with(&(rd_tuning){.vk_sort_items = items[i]}, label, 0)) != NULL)) continue;
        uint32_t *now = ran[ran_count];
        rd_vk_sorter_items(rd_vk(ctx)->sorter, now);
        bool again = false;
        for (int k = 0; k < ran_count; k++) again |= ran[k][0] == now[0] && ran[k][1] == now[1];
        if (again) {
            printf("vulkan (%s): skipped: this device sorts it in blocks of %u keys a thread, as a run above did\n", label, now[0]);
        } else {
            run_all(ctx, &r, label, &plain);
            ran_count++;
        }
        rd_context_destroy(ctx);
    }
    /* portability: every other power-of-two subgroup size the device lets us require */
    for (int size = 8; size <= 128; size *= 2) {
        if ((uint32_t)size == native) continue;
        if (!(ctx = context_with(NULL, NULL, size))) {
            printf("vulkan: subgroup size %d: not offered by this device, skipped\n", size);
            continue;
        }
        char label[32];
        snprintf(label, sizeof label, "subgroup size %d", size);
        run_all(ctx, &r, label, &plain);
        rd_context_destroy(ctx);
    }
    *r_in = r;
    return true;
}
