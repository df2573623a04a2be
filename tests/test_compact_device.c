/* test_compact_device.c: scenes loaded into device memory (rd_scene_load_desc.memory): a
   compact 3D file decoded by the device gather gives the host decode's arrays bit for bit,
   on the CPU (its reference) and on each GPU present, which renders it as the host scene;
   other files go up whole; 4D files stay host scenes; broken files fail as they do on the
   host. The GPU parts are skipped, saying so, where no GPU is present; the CPU parts run
   everywhere. Shared helpers: compact_test.h. */
#include "compact_test.h"
#include "../splat/scene.h"

#include <stdlib.h>
#include <string.h>

enum { COUNT = 1500 };

/* Whether scene's arrays (host or device memory of c) are want's (host) bit for bit. */
static bool same_arrays(rd_context *c, const rd_scene *scene, const rd_scene *want, const char *what)
{
    rd_scene_desc g = rd_scene_arrays(scene), w = rd_scene_arrays(want);
    if (!CHECK(g.count == w.count && g.sh_degree == w.sh_degree && g.flags == w.flags)) return false;
    const float *got[5] = {g.means, g.log_scales, g.rotations, g.opacities, g.sh}, *host[5] = {w.means, w.log_scales, w.rotations, w.opacities, w.sh};
    size_t n = (size_t)w.count, floats[5] = {3 * n, 3 * n, 4 * n, n, 3 * n * (size_t)(w.sh_degree + 1) * (size_t)(w.sh_degree + 1)};
    const char *names[5] = {"means", "log-scales", "rotations", "opacities", "SH"};
    bool ok = true;
    for (int k = 0; k < 5; k++) {
        float *copy = malloc(floats[k] * sizeof(float) + 4);
        if (floats[k] && !CHECK_OK(rd_buffer_copy(c, copy, RD_MEMORY_HOST, got[k], g.memory, floats[k] * sizeof(float)))) ok = false;
        else if (floats[k] && memcmp(copy, host[k], floats[k] * sizeof(float)) != 0)
            printf("  %s: %s differ from the host decode's\n", what, names[k]), ok = false;
        free(copy);
    }
    return CHECK(ok);
}

static rd_scene *load(rd_context *c, const char *path, rd_memory memory)
{
    rd_scene *s = NULL;
    if (!CHECK_OK(rd_scene_load_with(c, path, &(rd_scene_load_desc){.memory = memory}, &s))) printf("  %s\n", rd_last_error(c));
    return s;
}

/* A damaged file fails on c as on the host, with the same message. */
static void check_same_failure(rd_context *c, const char *path)
{
    rd_scene *s = NULL;
    if (!path || !CHECK_FAILS(rd_scene_load(ctx, path, &s), RD_ERROR_FORMAT)) return;
    char want[1024];
    snprintf(want, sizeof want, "%s", rd_last_error(ctx));
    if (!CHECK_FAILS(rd_scene_load_with(c, path, &(rd_scene_load_desc){.memory = RD_MEMORY_DEVICE}, &s), RD_ERROR_FORMAT))
        rd_scene_destroy(s);
    else if (!CHECK(strcmp(rd_last_error(c), want) == 0))
        printf("  device load: \"%s\", host load: \"%s\"\n", rd_last_error(c), want);
}

/* The files of every SH degree, and their scenes as the host decodes them. */
typedef struct files {
    char path[4][1024], ply[1024];
    rd_scene *host[4];
} files;

static void make_files(files *f)
{
    for (int d = 0; d < 4; d++) {
        rd_scene *s = random_3d(COUNT, d, false);
        snprintf(f->path[d], sizeof f->path[d], "%s/degree%d.rcompact", tmp, d);
        CHECK_OK(rd_scene_compact(ctx, s, f->path[d], NULL, NULL));
        f->host[d] = load(ctx, f->path[d], RD_MEMORY_HOST);
        if (d == 3) {
            snprintf(f->ply, sizeof f->ply, "%s/degree3.ply", tmp);
            CHECK_OK(rd_scene_save_ply(ctx, s, f->ply));
        }
        rd_scene_destroy(s);
    }
}

/* The CPU: a host scene by the reference gather, the host decode's bits. */
static void test_cpu(const files *f)
{
    for (int d = 0; d < 4; d++) {
        rd_scene *s = load(ctx, f->path[d], RD_MEMORY_DEVICE);
        if (s && f->host[d]) {
            CHECK(rd_scene_arrays(s).memory == RD_MEMORY_HOST);
            same_arrays(ctx, s, f->host[d], "cpu");
            rd_scene_info info;
            rd_scene_get_info(s, &info);
            CHECK(strcmp(info.format, "rcompact") == 0 && strstr(info.header, "reference gather"));
        }
        rd_scene_destroy(s);
    }
    rd_scene *s = NULL;
    CHECK_FAILS(rd_scene_load_with(ctx, f->path[0], &(rd_scene_load_desc){.memory = (rd_memory)7}, &s), RD_ERROR_INVALID_ARGUMENT);
    CHECK(s == NULL && strstr(rd_last_error(ctx), "memory"));
}

/* A GPU: device scenes with the host decode's arrays that render its image; a PLY goes up
   whole; a 4D file stays a host scene. */
static bool test_gpu(rd_backend backend, const files *f, const char *damaged)
{
    rd_context *gpu = NULL;
    if (rd_context_create(&(rd_context_desc){.backend = backend, .log = test_log}, &gpu) != RD_OK) {
        printf("compact files into device memory on %s: skipped (no such device here)\n", rd_backend_name(backend));
        return false;
    }
    rd_camera cam = rd_camera_look_at((float[]){0, 0, 0}, (float[]){0, 0, 5}, (float[]){0, -1, 0}, 64, 48, 60.0f);
    size_t floats = 4 * 64 * 48;
    float *want = calloc(floats, sizeof(float)), *got = calloc(floats, sizeof(float));
    for (int d = 0; d < 4; d++) {
        rd_scene *s = load(gpu, f->path[d], RD_MEMORY_DEVICE);
        if (!s || !f->host[d]) {
            rd_scene_destroy(s);
            continue;
        }
        CHECK(rd_scene_arrays(s).memory == RD_MEMORY_DEVICE);
        same_arrays(gpu, s, f->host[d], rd_backend_name(backend));
        if (CHECK_OK(rd_render(gpu, f->host[d], &cam, NULL, &(rd_framebuffer){.color = want})) &&
            CHECK_OK(rd_render(gpu, s, &cam, NULL, &(rd_framebuffer){.color = got})))
            CHECK(memcmp(want, got, floats * sizeof(float)) == 0);
        rd_scene_destroy(s);
    }
    rd_scene *ply = load(gpu, f->ply, RD_MEMORY_DEVICE), *ply_host = load(ctx, f->ply, RD_MEMORY_HOST);
    if (ply && ply_host) {
        CHECK(rd_scene_arrays(ply).memory == RD_MEMORY_DEVICE);
        same_arrays(gpu, ply, ply_host, "a PLY");
    }
    rd_scene_destroy(ply), rd_scene_destroy(ply_host);
    rd_scene *s4 = random_4d(200, 1, 1), *back = NULL;
    char path[1024];
    snprintf(path, sizeof path, "%s/fourd.rcompact", tmp);
    if (CHECK_OK(rd_scene_compact(ctx, s4, path, NULL, NULL)) && (back = load(gpu, path, RD_MEMORY_DEVICE)))
        CHECK(rd_scene_get_kind(back) == RD_SCENE_GAUSSIANS_4D);
    rd_scene_destroy(back), rd_scene_destroy(s4);
    check_same_failure(gpu, damaged);
    printf("compact files into device memory on %s: checked\n", rd_backend_name(backend));
    free(want), free(got);
    rd_context_destroy(gpu);
    return true;
}

int main(void)
{
    rng.state = test_seed("compact_device");
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .threads = 2, .log = test_log}, &ctx) != RD_OK) return 1;
    tmp = test_temp_dir("compact_device");
    files f;
    make_files(&f);
    test_cpu(&f);
    /* the last Gaussian's index in the last slice of colour (two bytes: 12 bits) past its codebook */
    const unsigned char high = 0xff;
    const char *damaged = with_last_part(f.path[3], "index.rcompact", "sh_rest", -1, &high, 1);
    check_same_failure(ctx, damaged);
    CHECK(damaged && strstr(rd_last_error(ctx), "beyond its codebook"));
    test_gpu(RD_BACKEND_VULKAN, &f, damaged);
    test_gpu(RD_BACKEND_CUDA, &f, damaged);
    for (int d = 0; d < 4; d++) rd_scene_destroy(f.host[d]);
    rd_context_destroy(ctx);
    return test_finish("compact_device");
}
