/* test_util.h: checks, random numbers, random scenes and data paths for the tests. */
#ifndef RD_TEST_UTIL_H
#define RD_TEST_UTIL_H

#include "radiant.h"

#include <stdbool.h>
#include <stdio.h>

#define SKIP_CODE 77

/* 1 in the ASan + UBSan build (RADIANT_SANITIZE), whose long randomized harnesses run
   fewer or smaller cases: memory errors show on small cases too, and the sanitizers
   make lavapipe and the CPU reference several times slower. Each test says what it cuts. */
#ifdef RADIANT_TEST_SANITIZED
#define TEST_SANITIZED 1
#else
#define TEST_SANITIZED 0
#endif

extern int test_failures;

/* Reports a failed expectation with its location; the test goes on. */
#define CHECK(cond) check_at((cond), #cond, __FILE__, __LINE__)
#define CHECK_OK(expr) check_result_at((expr), RD_OK, #expr, __FILE__, __LINE__)
#define CHECK_FAILS(expr, code) check_result_at((expr), (code), #expr, __FILE__, __LINE__)
bool check_at(bool ok, const char *what, const char *file, int line);
bool check_result_at(rd_result got, rd_result want, const char *what, const char *file, int line);
/* Prints "N passed, M failed" style summary and returns the exit code. */
int test_finish(const char *name);

typedef struct test_rng { unsigned long long state; } test_rng;
double rng_uniform(test_rng *r);             /* [0, 1) */
double rng_range(test_rng *r, double lo, double hi);
double rng_normal(test_rng *r);
/* n floats uniform in [lo, hi), malloc'd */
float *random_floats(test_rng *r, size_t n, double lo, double hi);
/* A seed that differs per run unless RADIANT_TEST_SEED is set; printed for replay. */
unsigned long long test_seed(const char *name);

/* Random Gaussians in front of a camera at the origin looking down +z (OpenCV), with
   optional degenerate members: zero and huge scales, zero quaternions, NaN, Gaussians
   behind the camera and straddling the near plane. Arrays are malloc'd; free with
   random_scene_free. */
typedef struct random_scene_desc {
    int count, sh_degree;
    bool degenerate;
    double depth_min, depth_max, spread; /* spread: |x|,|y| <= spread * depth */
    double log_scale_min, log_scale_max;
} random_scene_desc;
rd_scene_desc random_scene(test_rng *r, const random_scene_desc *d);
void random_scene_free(rd_scene_desc *s);
/* A random 4D scene of n Gaussians in front of that camera: x, y in [-1, 1], z in [3, 6],
   times in [0, 1], time scales 0.05..0.5, colour in [-0.8, 0.8] (NULL on failure, checked). */
rd_scene *random_scene4d(rd_context *ctx, test_rng *r, int n, int sh_degree, int time_degree, float time_period);
/* A camera at the origin looking down +z with a random off-centre principal point. */
rd_camera random_camera(test_rng *r, int width, int height);

/* Where the shared real data lives (RADIANT_DATA, else ../shared/data beside the source
   tree); NULL when absent. */
const char *test_data_dir(void);
/* A fresh empty folder under /tmp. */
const char *test_temp_dir(const char *name);
/* Writes bytes to dir/name; returns the full path in a static buffer (one at a time). */
const char *write_file(const char *dir, const char *name, const void *data, size_t size);
/* A whole file's bytes (malloc'd) and *size; NULL where it cannot be read. */
unsigned char *read_file(const char *path, size_t *size); /* *size bytes, then a 0 */
/* FNV-1a 64 of n bytes: the checksum radiant's own file formats end with. */
uint64_t test_fnv1a(const unsigned char *p, size_t n);
/* Logs to stderr only when RADIANT_TEST_VERBOSE is set. */
void test_log(rd_log_level level, const char *message, void *user);
/* With RADIANT_VK_VALIDATION=1: the validation layers were on (logged through test_log)
   and reported no errors. Call after the Vulkan contexts are gone. */
bool check_validation(void);

#endif
