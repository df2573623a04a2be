/* test_occupancy.c: the NeRF's occupancy grid and ray marching (nerf/occupancy.h): the
   cascades of each aabb_scale and their refusals; which cascade and cell a point falls in;
   the update on a sphere of density (cells wholly inside occupied, cells clear of it
   empty, every bit level the OR of the level below, the 0.95 decay); and marching through
   a box of occupied cells: every sample in an occupied cell, t increasing by the step
   rule, the samples covering the box's chord along the ray within a step at each end, no
   samples for rays that miss it, and at most max_samples. The update split in two
   (update_points, then update_apply) equals the whole update bit for bit; its draws are a
   pure function of (seed, step), each point inside its cell, the second quarter among the
   occupied cells. The batch march packs each ray's own march, keeping the rays that fit. */
#include "test_util.h"
#include "../nerf/occupancy.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;

/* Density 100 inside the sphere of radius 0.2 about the cube's centre, 0 outside. */
static void sphere(const float *p, int64_t n, float *sigma, void *user)
{
    int *calls = user;
    ++*calls;
    for (int64_t i = 0; i < n; i++) {
        float dx = p[3 * i] - 0.5f, dy = p[3 * i + 1] - 0.5f, dz = p[3 * i + 2] - 0.5f;
        sigma[i] = dx * dx + dy * dy + dz * dz < 0.04f ? 100.0f : 0.0f;
    }
}

static void nothing(const float *p, int64_t n, float *sigma, void *user)
{
    (void)p, (void)user;
    for (int64_t i = 0; i < n; i++) sigma[i] = 0.0f;
}

static void test_cascades_and_update(void)
{
    rd_occupancy g;
    CHECK_FAILS(rd_occupancy_create(ctx, 3, 1, &g), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "aabb_scale 3") != NULL);
    if (CHECK_OK(rd_occupancy_create(ctx, 16, 1, &g))) {
        CHECK(g.cascades == 5 && g.cone == 1.0f / 256.0f);
        int cell, c = rd_occupancy_locate(&g, (float[3]){1.6f, 0.5f, 0.5f}, &cell);
        CHECK(c == 2 && cell == (64 + (int)floorf(1.1f / 4.0f * 128)) + 64 * 128 + 64 * 128 * 128);
        CHECK(rd_occupancy_locate(&g, (float[3]){0.5f, 9.0f, 0.5f}, &cell) == -1);
        rd_occupancy_destroy(&g);
    }
    if (!CHECK_OK(rd_occupancy_create(ctx, 2, 7, &g))) return;
    CHECK(g.cascades == 2 && g.cone == 1.0f / 256.0f);
    int calls = 0;
    CHECK_OK(rd_occupancy_update(ctx, &g, 0, sphere, &calls));
    CHECK(calls > 0 && g.threshold > 0.0f && g.threshold <= 0.01f);
    int wrong_inside = 0, wrong_outside = 0;
    const float cell_size = 1.0f / RD_OCCUPANCY_SIDE, half_diagonal = 0.8660254f * cell_size;
    for (int z = 0; z < RD_OCCUPANCY_SIDE; z++)
        for (int y = 0; y < RD_OCCUPANCY_SIDE; y++)
            for (int x = 0; x < RD_OCCUPANCY_SIDE; x++) {
                float dx = (x + 0.5f) * cell_size - 0.5f, dy = (y + 0.5f) * cell_size - 0.5f, dz = (z + 0.5f) * cell_size - 0.5f;
                float r = sqrtf(dx * dx + dy * dy + dz * dz);
                uint8_t bit = g.bits[0][x + y * 128 + z * 128 * 128];
                wrong_inside += r + half_diagonal < 0.2f && !bit;
                wrong_outside += r - half_diagonal > 0.2f && bit;
            }
    CHECK(wrong_inside == 0 && wrong_outside == 0);
    size_t wrong_levels = 0;
    for (int k = 1; k < RD_OCCUPANCY_LEVELS; k++) {
        int s = RD_OCCUPANCY_SIDE >> k;
        for (int c = 0; c < g.cascades; c++)
            for (int64_t b = 0; b < (int64_t)s * s * s; b++) {
                int x = (int)(b % s), y = (int)(b / s % s), z = (int)(b / s / s), fine = 2 * s;
                uint8_t any = 0;
                for (int q = 0; q < 8; q++)
                    any |= g.bits[k - 1][(int64_t)c * fine * fine * fine + (2 * x + (q & 1)) + (int64_t)(2 * y + (q >> 1 & 1)) * fine +
                                         (int64_t)(2 * z + (q >> 2)) * fine * fine];
                wrong_levels += any != g.bits[k][(int64_t)c * s * s * s + b];
            }
    }
    CHECK(wrong_levels == 0);
    int centre = 64 + 64 * 128 + 64 * 128 * 128;
    float before = g.thickness[centre];
    CHECK(fabsf(before - 100.0f * RD_OCCUPANCY_DT_MIN) < 1e-6f);
    CHECK(rd_occupancy_update_due(300) == 0 && rd_occupancy_update_due(304) && rd_occupancy_update_due(255));
    CHECK_OK(rd_occupancy_update(ctx, &g, 304, nothing, NULL));
    CHECK(g.thickness[centre] == before * 0.95f);
    rd_occupancy_destroy(&g);
}

static void test_march(test_rng *r)
{
    rd_occupancy g;
    if (!CHECK_OK(rd_occupancy_create(ctx, 1, 3, &g))) return;
    const float lo = 0.3f, hi = 0.55f; /* the occupied box, on cell faces (0.3 * 128 = 38.4: not quite; the cells it overlaps) */
    int c0 = (int)floorf(lo * 128), c1 = (int)ceilf(hi * 128);
    for (int z = c0; z < c1; z++)
        for (int y = c0; y < c1; y++)
            for (int x = c0; x < c1; x++) g.thickness[x + y * 128 + z * 128 * 128] = 1.0f;
    rd_occupancy_rebuild_bits(&g);
    float box_lo = (float)c0 / 128, box_hi = (float)c1 / 128;
    enum { MAX = 1024 };
    rd_march_sample *s = malloc(sizeof(rd_march_sample) * MAX);
    int bad_place = 0, bad_step = 0, bad_cover = 0, hits = 0, misses_with_samples = 0, late = 0;
    for (int n = 0; n < 300; n++) {
        float o[3], target[3], d[3], len = 0.0f;
        for (int a = 0; a < 3; a++) {
            o[a] = (float)rng_range(r, -1.0, 2.0);
            target[a] = (float)rng_range(r, 0.25, 0.6);
            d[a] = target[a] - o[a], len += d[a] * d[a];
        }
        len = sqrtf(len);
        for (int a = 0; a < 3; a++) d[a] /= len;
        int count = rd_occupancy_march(&g, o, d, 0.0f, 100.0f, MAX, s);
        /* the chord of the occupied box along the ray */
        float t0 = 0.0f, t1 = 100.0f;
        for (int a = 0; a < 3; a++) {
            if (d[a] == 0.0f) continue;
            float ta = (box_lo - o[a]) / d[a], tb = (box_hi - o[a]) / d[a];
            t0 = fmaxf(t0, fminf(ta, tb)), t1 = fminf(t1, fmaxf(ta, tb));
        }
        bool hit = t1 > t0;
        hits += hit;
        misses_with_samples += !hit && count > 0;
        float covered = 0.0f;
        for (int i = 0; i < count; i++) {
            /* t is stored as a float, the march's own in double: within 1e-5 of it along the ray */
            bool placed = false;
            for (int e = -1; e <= 1 && !placed; e++) {
                double at = s[i].t + 1e-5 * e;
                float p[3] = {(float)(o[0] + at * d[0]), (float)(o[1] + at * d[1]), (float)(o[2] + at * d[2])};
                int cell, c = rd_occupancy_locate(&g, p, &cell);
                placed = c == 0 && g.bits[0][cell];
            }
            bad_place += !placed;
            bad_step += s[i].dt != RD_OCCUPANCY_DT_MIN || (i > 0 && !(s[i].t > s[i - 1].t));
            covered += s[i].dt;
        }
        /* the first sample where the ray enters the box: a leap lands just past the face it
           crosses (rd_occupancy_nudge), not dt_min on where its float position rounded back
           onto that face (which half the rays, those leaving through low faces, did) */
        late += hit && t1 - t0 > RD_OCCUPANCY_DT_MIN && (count == 0 || s[0].t - t0 > 0.5f * RD_OCCUPANCY_DT_MIN);
        if (hit && fabsf(covered - (t1 - t0)) > 2.0f * RD_OCCUPANCY_DT_MIN + 1e-4f && bad_cover++ < 5)
            fprintf(stderr, "  ray %d: samples cover %g of the box's chord %g\n", n, covered, t1 - t0);
    }
    printf("  march: %d of %d rays into the box sampled first more than dt_min / 2 past its face\n", late, hits);
    if (!CHECK(bad_place == 0 && bad_step == 0 && bad_cover == 0 && misses_with_samples == 0 && hits > 100 && late <= hits / 50))
        fprintf(stderr, "  %d samples outside occupied cells, %d bad steps, %d rays uncovered, %d misses with samples, %d hits, %d late\n", bad_place, bad_step, bad_cover, misses_with_samples, hits, late);
    float o[3] = {0.4f, 0.4f, -0.5f}, d[3] = {0.0f, 0.0f, 1.0f};
    CHECK(rd_occupancy_march(&g, o, d, 0.0f, 100.0f, 10, s) == 10); /* the cap */
    rd_occupancy_destroy(&g);
    /* every cell occupied, cameras far away: every ray that enters the cube gets its samples
       (a float t lost the first nudge inside past t = 8 and never moved 2e5 away) */
    if (CHECK_OK(rd_occupancy_create(ctx, 1, 3, &g))) {
        for (int64_t i = 0; i < RD_OCCUPANCY_CELLS; i++) g.thickness[i] = 1.0f;
        rd_occupancy_rebuild_bits(&g);
        int empty = 0;
        for (int n = 0; n < 200; n++) {
            double R = n % 2 ? 100.0 : 2e5, phi = rng_range(r, 0, 6.283), z = rng_range(r, -0.9, 0.9), rr = sqrt(1 - z * z);
            float o[3] = {(float)(0.5 + R * rr * cos(phi)), (float)(0.5 + R * rr * sin(phi)), (float)(0.5 + R * z)}, d[3];
            float target[3] = {(float)rng_range(r, 0.3, 0.7), (float)rng_range(r, 0.3, 0.7), (float)rng_range(r, 0.3, 0.7)}, len = 0;
            for (int a = 0; a < 3; a++) d[a] = target[a] - o[a], len += d[a] * d[a];
            for (int a = 0; a < 3; a++) d[a] /= sqrtf(len);
            empty += rd_occupancy_march(&g, o, d, 0.0f, 1e9f, MAX, s) == 0;
        }
        CHECK(empty == 0);
        /* a ray starting exactly on the cube's face (t_min at the entry, or the origin on
           it) is nudged past it as one entering there: once left with no samples */
        float below[3] = {0.5f, 0.5f, -0.5f}, on_face[3] = {0.5f, 0.5f, 0.0f}, up[3] = {0.0f, 0.0f, 1.0f};
        CHECK(rd_occupancy_march(&g, below, up, 0.5f, 100.0f, MAX, s) > 500);
        CHECK(rd_occupancy_march(&g, on_face, up, 0.0f, 100.0f, MAX, s) > 500);
        rd_occupancy_destroy(&g);
    }
    /* every cell of three cascades occupied: the step grows with t by the cone, within its clamp */
    if (CHECK_OK(rd_occupancy_create(ctx, 4, 3, &g))) {
        for (int64_t i = 0; i < (int64_t)g.cascades * RD_OCCUPANCY_CELLS; i++) g.thickness[i] = 1.0f;
        rd_occupancy_rebuild_bits(&g);
        float o[3] = {0.5f, 0.5f, 0.5f}, d[3] = {0.6f, 0.0f, 0.8f};
        int count = rd_occupancy_march(&g, o, d, 0.0f, 100.0f, MAX, s), wrong = 0;
        for (int i = 0; i < count; i++) {
            float want = fminf(fmaxf(s[i].t / 256.0f, RD_OCCUPANCY_DT_MIN), 4.0f * RD_OCCUPANCY_DT_MIN);
            wrong += fabsf(s[i].dt - want) > 1e-6f * want || (i > 0 && fabsf(s[i].t - (s[i - 1].t + s[i - 1].dt)) > 1e-6f);
        }
        /* the ray leaves the largest cube (side 4) at t = 2 / 0.8 = 2.5 */
        CHECK(wrong == 0 && count > 100 && s[count - 1].t < 2.5f && s[count - 1].t + s[count - 1].dt >= 2.5f);
        rd_occupancy_destroy(&g);
    }
    free(s);
}

/* The split update against the whole one, at an all-cells step and a later one. */
static void test_update_split(void)
{
    rd_occupancy a, b;
    if (!CHECK_OK(rd_occupancy_create(ctx, 2, 11, &a))) return;
    if (!CHECK_OK(rd_occupancy_create(ctx, 2, 11, &b))) {
        rd_occupancy_destroy(&a);
        return;
    }
    int64_t cells = (int64_t)a.cascades * RD_OCCUPANCY_CELLS, most = rd_occupancy_update_count(a.cascades, 0);
    float *points = malloc(sizeof(float) * 3 * (size_t)most), *sigma = malloc(sizeof(float) * (size_t)most);
    float *again = malloc(sizeof(float) * 3 * (size_t)most);
    int32_t *drawn = malloc(sizeof(int32_t) * (size_t)most), *drawn_again = malloc(sizeof(int32_t) * (size_t)most);
    const int steps[3] = {0, 256, 304};
    for (int s = 0; s < 3; s++) {
        int calls = 0, step = steps[s];
        int64_t n = rd_occupancy_update_count(a.cascades, step);
        CHECK(n == (step < 256 ? cells : cells / 2));
        CHECK_OK(rd_occupancy_update(ctx, &a, step, sphere, &calls));
        CHECK_OK(rd_occupancy_update_points(ctx, &b, step, points, drawn));
        CHECK_OK(rd_occupancy_update_points(ctx, &b, step, again, drawn_again));
        CHECK(memcmp(points, again, sizeof(float) * 3 * (size_t)n) == 0 && memcmp(drawn, drawn_again, sizeof(int32_t) * (size_t)n) == 0);
        int64_t outside = 0, unoccupied = 0;
        for (int64_t i = 0; i < n; i++) {
            int c = drawn[i] / RD_OCCUPANCY_CELLS, in = drawn[i] % RD_OCCUPANCY_CELLS;
            int at[3] = {in % 128, in / 128 % 128, in / (128 * 128)};
            for (int d = 0; d < 3; d++)
                outside += (int)floorf((points[3 * i + d] - 0.5f) / (float)(1 << c) * 128 + 64) != at[d];
            unoccupied += step >= 256 && i >= cells / 4 && !b.bits[0][drawn[i]];
            if (step < 256) outside += drawn[i] != i;
        }
        if (!CHECK(outside == 0 && unoccupied == 0)) fprintf(stderr, "  step %d: %lld points outside their cells, %lld draws unoccupied\n", step, (long long)outside, (long long)unoccupied);
        sphere(points, n, sigma, &calls);
        CHECK_OK(rd_occupancy_update_apply(ctx, &b, n, drawn, sigma));
        CHECK(memcmp(a.thickness, b.thickness, sizeof(float) * (size_t)cells) == 0 && a.threshold == b.threshold);
        bool same_bits = true;
        for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++)
            same_bits &= memcmp(a.bits[k], b.bits[k], (size_t)(cells >> (3 * k))) == 0;
        CHECK(same_bits);
    }
    /* another step draws other cells */
    CHECK_OK(rd_occupancy_update_points(ctx, &b, 320, again, drawn_again));
    CHECK(memcmp(drawn, drawn_again, sizeof(int32_t) * (size_t)(cells / 2)) != 0);
    /* the threshold: min(0.01, the mean), whatever the order of its sums */
    double sum = 0.0;
    for (int64_t i = 0; i < cells; i++) sum += b.thickness[i];
    CHECK(fabs(b.threshold - fmin(0.01, sum / (double)cells)) <= 1e-6 * b.threshold);
    int32_t bad = (int32_t)cells;
    CHECK_FAILS(rd_occupancy_update_apply(ctx, &b, 1, &bad, sigma), RD_ERROR_INVALID_ARGUMENT);
    free(points), free(sigma), free(again), free(drawn), free(drawn_again);
    rd_occupancy_destroy(&a);
    rd_occupancy_destroy(&b);
}

/* Random rays through a random grid, batched with and without limits, against the
   one-ray march; then a capacity that cuts the batch. */
static void test_march_rays(test_rng *r)
{
    rd_occupancy g;
    if (!CHECK_OK(rd_occupancy_create(ctx, 4, 5, &g))) return;
    int64_t cells = (int64_t)g.cascades * RD_OCCUPANCY_CELLS;
    for (int64_t i = 0; i < cells; i++) { /* occupied blocks of 8^3 cells, a fifth of them */
        int64_t in = i % RD_OCCUPANCY_CELLS, block = (in % 128 / 8) + (in / 128 % 128 / 8) * 16 + (in / 16384 / 8) * 256;
        g.thickness[i] = (block * 2654435761u + (uint64_t)(i / RD_OCCUPANCY_CELLS)) % 5 == 0 ? 1.0f : 0.0f;
    }
    rd_occupancy_rebuild_bits(&g);
    enum { RAYS = 400, MAX = 256 };
    float *o = malloc(sizeof(float) * 3 * RAYS), *d = malloc(sizeof(float) * 3 * RAYS), t0[RAYS], t1[RAYS];
    for (int k = 0; k < RAYS; k++) {
        float len = 0.0f;
        for (int a = 0; a < 3; a++) {
            o[3 * k + a] = (float)(k % 3 == 0 ? rng_range(r, 0.2, 0.8) : rng_range(r, -4.0, 5.0));
            d[3 * k + a] = (float)rng_range(r, 0.3, 0.7) - o[3 * k + a] + (float)rng_range(r, -0.3, 0.3);
            len += d[3 * k + a] * d[3 * k + a];
        }
        for (int a = 0; a < 3; a++) d[3 * k + a] /= sqrtf(len);
        t0[k] = (float)rng_range(r, 0.0, 1.0), t1[k] = t0[k] + (float)rng_range(r, 0.5, 6.0);
    }
    rd_march_sample *want = malloc(sizeof *want * RAYS * MAX), *got = malloc(sizeof *got * RAYS * MAX);
    int32_t offset[RAYS], count[RAYS], want_count[RAYS];
    for (int limits = 0; limits < 2; limits++) {
        int64_t sum = 0, total = -1;
        for (int k = 0; k < RAYS; k++) {
            want_count[k] = rd_occupancy_march(&g, o + 3 * k, d + 3 * k, limits ? t0[k] : 0.0f, limits ? t1[k] : INFINITY, MAX, want + sum);
            sum += want_count[k];
        }
        CHECK(sum > RAYS * 10); /* the rays do cross occupied blocks */
        for (int cut = 0; cut < 2; cut++) {
            int64_t capacity = cut ? sum / 2 : sum;
            memset(got, 0xff, sizeof *got * RAYS * MAX);
            CHECK_OK(rd_occupancy_march_rays(ctx, &g, RAYS, o, d, limits ? t0 : NULL, limits ? t1 : NULL, NULL, MAX, capacity, got, offset, count,
                                             &total));
            int64_t at = 0;
            bool fits = true, ok = true;
            for (int k = 0; k < RAYS; k++) {
                fits = fits && at + want_count[k] <= capacity;
                ok &= offset[k] == (int32_t)at && count[k] == (fits ? want_count[k] : 0);
                if (fits) ok &= memcmp(got + at, want + at, sizeof *got * (size_t)want_count[k]) == 0, at += want_count[k];
            }
            CHECK(ok && total == at && (cut ? total <= capacity && total > 0 : total == sum));
        }
    }
    CHECK_FAILS(rd_occupancy_march_rays(ctx, &g, -1, o, d, NULL, NULL, NULL, MAX, 10, got, offset, count, &(int64_t){0}),
                RD_ERROR_INVALID_ARGUMENT);
    free(o), free(d), free(want), free(got);
    rd_occupancy_destroy(&g);
}

int main(void)
{
    test_rng r = {test_seed("test_occupancy")};
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx) != RD_OK) return 1;
    test_cascades_and_update();
    test_march(&r);
    test_update_split();
    test_march_rays(&r);
    rd_context_destroy(ctx);
    return test_finish("test_occupancy");
}
