/* test_util.c: see test_util.h. */
#include "test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int test_failures = 0;
static int test_checks = 0;

bool check_at(bool ok, const char *what, const char *file, int line)
{
    test_checks++;
    if (!ok) {
        test_failures++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
    }
    return ok;
}

bool check_result_at(rd_result got, rd_result want, const char *what, const char *file, int line)
{
    test_checks++;
    if (got != want) {
        test_failures++;
        fprintf(stderr, "%s:%d: %s returned %s, expected %s\n", file, line, what, rd_result_string(got),
                rd_result_string(want));
        return false;
    }
    return true;
}

int test_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, test_checks - test_failures, test_failures);
    return test_failures ? 1 : 0;
}

static unsigned long long next_u64(test_rng *r)
{
    unsigned long long z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng_uniform(test_rng *r) { return (double)(next_u64(r) >> 11) * (1.0 / 9007199254740992.0); }
double rng_range(test_rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

float *random_floats(test_rng *r, size_t n, double lo, double hi)
{
    float *a = malloc((n ? n : 1) * sizeof(float));
    for (size_t i = 0; a && i < n; i++) a[i] = (float)rng_range(r, lo, hi);
    return a;
}
double rng_normal(test_rng *r)
{
    double u = rng_uniform(r) + 1e-12, v = rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

unsigned long long test_seed(const char *name)
{
    const char *env = getenv("RADIANT_TEST_SEED");
    unsigned long long seed = env ? strtoull(env, NULL, 0) : (unsigned long long)time(NULL) ^ ((unsigned long long)getpid() << 20);
    printf("%s: seed %llu (set RADIANT_TEST_SEED to replay)\n", name, seed);
    return seed;
}

rd_scene_desc random_scene(test_rng *r, const random_scene_desc *d)
{
    rd_scene_desc s = {0};
    int n = d->count, K = (d->sh_degree + 1) * (d->sh_degree + 1);
    float *means = malloc(sizeof(float) * 3 * (size_t)(n ? n : 1));
    float *scales = malloc(sizeof(float) * 3 * (size_t)(n ? n : 1));
    float *rots = malloc(sizeof(float) * 4 * (size_t)(n ? n : 1));
    float *opac = malloc(sizeof(float) * (size_t)(n ? n : 1));
    float *sh = malloc(sizeof(float) * 3 * (size_t)K * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        double z = rng_range(r, d->depth_min, d->depth_max);
        means[3 * i + 0] = (float)(rng_range(r, -d->spread, d->spread) * z);
        means[3 * i + 1] = (float)(rng_range(r, -d->spread, d->spread) * z);
        means[3 * i + 2] = (float)z;
        for (int a = 0; a < 3; a++) scales[3 * i + a] = (float)rng_range(r, d->log_scale_min, d->log_scale_max);
        for (int a = 0; a < 4; a++) rots[4 * i + a] = (float)rng_normal(r);
        opac[i] = (float)(rng_normal(r) * 2.0 + 0.5);
        for (int k = 0; k < K; k++)
            for (int c = 0; c < 3; c++) sh[(size_t)(i * K + k) * 3 + c] = (float)(rng_normal(r) * (k == 0 ? 0.8 : 0.2));
        if (!d->degenerate) continue;
        switch ((int)(rng_uniform(r) * 24.0)) {
        case 0: scales[3 * i] = scales[3 * i + 1] = scales[3 * i + 2] = -INFINITY; break; /* zero scale */
        case 1: rots[4 * i] = rots[4 * i + 1] = rots[4 * i + 2] = rots[4 * i + 3] = 0.0f; break;
        case 2: means[3 * i + (int)(rng_uniform(r) * 3)] = NAN; break;
        case 3: opac[i] = NAN; break;
        case 4: sh[(size_t)i * K * 3] = NAN; break;
        case 5: means[3 * i + 2] = (float)-rng_range(r, 0.0, d->depth_max); break; /* behind */
        case 6: means[3 * i + 2] = (float)rng_range(r, 0.0, 0.03); break;          /* straddles near 0.01 */
        case 7: scales[3 * i + (int)(rng_uniform(r) * 3)] = (float)rng_range(r, 1.0, 3.0); break; /* huge */
        case 8: scales[3 * i] = scales[3 * i + 1] = scales[3 * i + 2] = -18.0f; break;             /* tiny */
        case 9: rots[4 * i] = 1e-30f; rots[4 * i + 1] = rots[4 * i + 2] = rots[4 * i + 3] = 0.0f; break;
        default: break;
        }
    }
    s.count = n;
    s.sh_degree = d->sh_degree;
    s.means = means;
    s.log_scales = scales;
    s.rotations = rots;
    s.opacities = opac;
    s.sh = sh;
    return s;
}

void random_scene_free(rd_scene_desc *s)
{
    free((void *)s->means);
    free((void *)s->log_scales);
    free((void *)s->rotations);
    free((void *)s->opacities);
    free((void *)s->sh);
    memset(s, 0, sizeof *s);
}

rd_scene *random_scene4d(rd_context *ctx, test_rng *r, int n, int sh_degree, int time_degree, float time_period)
{
    int64_t shf = (int64_t)(time_degree + 1) * (sh_degree + 1) * (sh_degree + 1) * 3;
    float *means = malloc(sizeof(float) * 4 * n), *ls = malloc(sizeof(float) * 4 * n), *rot = malloc(sizeof(float) * 8 * n);
    float *op = malloc(sizeof(float) * n), *sh = malloc(sizeof(float) * shf * n);
    for (int i = 0; i < n; i++) {
        means[4 * i] = (float)rng_range(r, -1, 1), means[4 * i + 1] = (float)rng_range(r, -1, 1);
        means[4 * i + 2] = (float)rng_range(r, 3, 6), means[4 * i + 3] = (float)rng_uniform(r);
        for (int a = 0; a < 3; a++) ls[4 * i + a] = (float)rng_range(r, -4, -1.5);
        ls[4 * i + 3] = (float)rng_range(r, log(0.05), log(0.5));
        for (int k = 0; k < 8; k++) rot[8 * i + k] = (float)rng_normal(r);
        op[i] = (float)rng_range(r, -2, 4);
    }
    for (int64_t k = 0; k < shf * n; k++) sh[k] = (float)rng_range(r, -0.8, 0.8);
    rd_scene *s = NULL;
    rd_result result = rd_scene4d_create(
        ctx, &(rd_scene4d_desc){n, sh_degree, time_degree, time_period, means, ls, rot, op, sh, RD_MEMORY_HOST}, &s);
    CHECK(result == RD_OK);
    free(means), free(ls), free(rot), free(op), free(sh);
    return s;
}

rd_camera random_camera(test_rng *r, int width, int height)
{
    rd_camera c = {0};
    c.width = width;
    c.height = height;
    c.fx = (float)(width * rng_range(r, 0.6, 1.4));
    c.fy = (float)(c.fx * rng_range(r, 0.9, 1.1));
    c.cx = (float)(width * rng_range(r, 0.35, 0.65));
    c.cy = (float)(height * rng_range(r, 0.35, 0.65));
    c.w2c[0] = c.w2c[5] = c.w2c[10] = c.w2c[15] = 1.0f;
    return c;
}

const char *test_data_dir(void)
{
    static char path[4096];
    const char *env = getenv("RADIANT_DATA");
    if (env && env[0]) {
        struct stat st;
        return stat(env, &st) == 0 ? env : NULL;
    }
    snprintf(path, sizeof path, "%s/../shared/data", RADIANT_SOURCE_DIR);
    struct stat st;
    return stat(path, &st) == 0 ? path : NULL;
}

const char *test_temp_dir(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "/tmp/radiant-test-%s-%ld", name, (long)getpid());
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) return NULL;
    mkdir(path, 0755);
    return path;
}

unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = n >= 0 ? malloc((size_t)n + 1) : NULL;
    bool ok = data && fread(data, 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    if (!ok) {
        free(data);
        return NULL;
    }
    data[n] = 0; /* a text file reads as a string */
    *size = (size_t)n;
    return data;
}

uint64_t test_fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

const char *write_file(const char *dir, const char *name, const void *data, size_t size)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return path;
    fwrite(data, 1, size, f);
    fclose(f);
    return path;
}

static int validation_errors = -1; /* -1: the layers never said they were on */

void test_log(rd_log_level level, const char *message, void *user)
{
    (void)user;
    if (getenv("RADIANT_TEST_VERBOSE")) fprintf(stderr, "log %d: %s\n", (int)level, message);
    if (strstr(message, "vulkan: validation layers on") && validation_errors < 0) validation_errors = 0;
    if (level == RD_LOG_ERROR && strncmp(message, "vulkan validation:", 18) == 0) {
        validation_errors += validation_errors < 0 ? 2 : 1;
        fprintf(stderr, "%s\n", message);
    }
}

bool check_validation(void)
{
    const char *want = getenv("RADIANT_VK_VALIDATION");
    if (!want || strcmp(want, "1") != 0) {
        printf("vulkan validation layers: not requested (RADIANT_VK_VALIDATION=1 turns them on)\n");
        return true;
    }
    printf("vulkan validation layers: %s, %d errors\n", validation_errors < 0 ? "never turned on" : "on",
           validation_errors < 0 ? 0 : validation_errors);
    return CHECK(validation_errors == 0);
}
