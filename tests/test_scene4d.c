/* test_scene4d.c: 4D Gaussian scenes on the CPU (radiant_4d.h, splat/scene4d.h), on fresh
   random Gaussians each run:
   - the 4D covariance from the quaternion pair equals a brute-force double evaluation of
     the spec's other form (R4 v = q_l (x) v (x) conj(q_r), v = (t, z, y, x));
   - the slice's statics (the conditional covariance as rotation and scales, V / W, W)
     equal the conditional of that brute-force covariance;
   - a slice at a time keeps exactly the Gaussians whose temporal weight is above 0.05,
     with the conditional mean, opacity sigmoid(o) p(t) and the colour's cosine terms
     folded, each against a double evaluation;
   - a 3D scene lifted to 4D (q_l = q_r = (w, -z, -y, -x), a time scale so wide that p is 1)
     renders as the 3D scene it came from;
   - a Gaussian shows at its time and is culled far from it; Duan's rotors convert to the
     quaternion pair and broken rotors, bad shapes and a non-finite time are refused;
   - the 4D PLY reads back bit for bit, and names a missing or non-finite property. */
#include "test_util.h"
#include "compare.h"
#include "reference_slice4d.h"
#include "../splat/scene4d.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static rd_context *ctx;
static test_rng rng;

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* A random 4D scene of n Gaussians (times in [0, 1], time scales 0.05..0.5). */
static rd_scene *random_4d(int n, int sh_degree, int time_degree)
{
    return random_scene4d(ctx, &rng, n, sh_degree, time_degree, 1.0f);
}

static void test_covariance_and_statics(void)
{
    rd_scene *scene = random_4d(500, 1, 1);
    if (!scene) return;
    const rd_scene4d *s = (const rd_scene4d *)scene;
    double worst_sigma = 0, worst_cond = 0, worst_velocity = 0, worst_w = 0;
    for (int64_t i = 0; i < s->count; i++) {
        double got[4][4], want[4][4], norm = 0;
        CHECK(rd_4d_covariance(s->log_scales + 4 * i, s->rotations + 8 * i, s->rotations + 8 * i + 4, got));
        reference_covariance4d(s->log_scales + 4 * i, s->rotations + 8 * i, s->rotations + 8 * i + 4, want);
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) norm = fmax(norm, fabs(want[a][b]));
        for (int a = 0; a < 4; a++)
            for (int b = 0; b < 4; b++) worst_sigma = fmax(worst_sigma, fabs(got[a][b] - want[a][b]) / norm);
        /* the statics against the brute-force conditional */
        const rd_slice4d_static *f = &s->fixed[i];
        double W = want[3][3], cond[3][3], R[3][3], cnorm = 0;
        double w = f->rotation[0], x = f->rotation[1], y = f->rotation[2], z = f->rotation[3];
        double qn = sqrt(w * w + x * x + y * y + z * z);
        w /= qn, x /= qn, y /= qn, z /= qn;
        double Rm[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                           {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                           {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}};
        memcpy(R, Rm, sizeof R);
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                cond[a][b] = want[a][b] - want[a][3] * want[b][3] / W;
                cnorm = fmax(cnorm, fabs(cond[a][b]));
            }
        for (int a = 0; a < 3; a++)
            for (int b = 0; b < 3; b++) {
                double rebuilt = 0;
                for (int k = 0; k < 3; k++) rebuilt += R[a][k] * R[b][k] * exp(2.0 * f->log_scale[k]);
                worst_cond = fmax(worst_cond, fabs(rebuilt - cond[a][b]) / cnorm);
            }
        for (int a = 0; a < 3; a++)
            worst_velocity = fmax(worst_velocity, fabs(f->velocity[a] - want[a][3] / W) / fmax(1e-3, fabs(want[a][3] / W)));
        worst_w = fmax(worst_w, fabs(f->half_inv_w - 0.5 / W) * W / 0.5);
    }
    printf("  4D covariance %.2g, conditional %.2g, velocity %.2g, 1/2W %.2g (largest relative errors)\n", worst_sigma,
           worst_cond, worst_velocity, worst_w);
    CHECK(worst_sigma < 1e-12);
    CHECK(worst_cond < 2e-5 && worst_velocity < 2e-5 && worst_w < 1e-6);
    rd_scene_destroy(scene);
    /* a timeless Gaussian (temporal scale e^30) whose rotation mixes t into space: U - V V^T / W
       cancels to rounding noise there; the statics (from the precision matrix) stay the
       spatial scales' size */
    float mean[4] = {0, 0, 3, 0.5f}, ls[4] = {-2, -2.5f, -3, 30}, rot[8] = {0.9f, 0.3f, -0.2f, 0.1f, 0.5f, -0.6f, 0.4f, 0.3f};
    float op[1] = {1}, sh[3] = {0};
    CHECK_OK(rd_scene4d_create(ctx, &(rd_scene4d_desc){1, 0, 0, 1.0f, mean, ls, rot, op, sh, RD_MEMORY_HOST}, &scene));
    if (scene) {
        const rd_slice4d_static *f = &((const rd_scene4d *)scene)->fixed[0];
        bool sane = isfinite(f->half_inv_w) && f->half_inv_w > 0.0f;
        for (int a = 0; a < 3; a++) sane &= f->log_scale[a] > -3.5f && f->log_scale[a] < 0.0f && isfinite(f->velocity[a]);
        if (!CHECK(sane))
            fprintf(stderr, "  timeless: log-scales %g %g %g, velocity %g %g %g\n", f->log_scale[0], f->log_scale[1], f->log_scale[2],
                    f->velocity[0], f->velocity[1], f->velocity[2]);
    }
    rd_scene_destroy(scene);
}

static void test_slice(void)
{
    enum { N = 2000, SH = 2, TD = 2 };
    rd_scene *scene = random_4d(N, SH, TD);
    if (!scene) return;
    const rd_scene4d *s = (const rd_scene4d *)scene;
    rd_scene *out = NULL;
    CHECK_OK(rd_scene_alloc(ctx, N, SH, &out));
    const int K = rd_sh_coeffs(SH);
    for (int round = 0; round < 3; round++) {
        float t = (float)rng_range(&rng, -0.2, 1.2);
        rd_slice4d_cpu(ctx, s, t, out, NULL);
        int64_t kept = 0, wrong_set = 0;
        double worst_mean = 0, worst_opacity = 0, worst_sh = 0;
        for (int64_t i = 0; i < N; i++) {
            double dt = (double)t - s->means[4 * i + 3], W = 0.5 / s->fixed[i].half_inv_w, p = exp(-0.5 * dt * dt / W);
            if (fabs(p - RD_4D_CULL_WEIGHT) < 1e-4) { /* at the threshold: either way; follow the slice */
                if (kept < out->count && fabs(out->means[3 * kept] - (s->means[4 * i] + s->fixed[i].velocity[0] * dt)) < 1e-4) kept++;
                continue;
            }
            if (p <= RD_4D_CULL_WEIGHT) continue;
            if (kept >= out->count) {
                wrong_set++;
                break;
            }
            for (int a = 0; a < 3; a++) {
                double want = s->means[4 * i + a] + (double)s->fixed[i].velocity[a] * dt;
                worst_mean = fmax(worst_mean, fabs(out->means[3 * kept + a] - want) / fmax(1.0, fabs(want)));
            }
            double opacity = sigmoid(s->opacities[i]) * p;
            worst_opacity = fmax(worst_opacity, fabs(sigmoid(out->opacities[kept]) - opacity) / opacity);
            for (int k = 0; k < 3 * K; k++) {
                double want = 0;
                for (int n = 0; n < TD + 1; n++)
                    want += cos(2 * M_PI * n * (s->means[4 * i + 3] - (double)t)) * s->sh[i * (TD + 1) * 3 * K + n * 3 * K + k];
                worst_sh = fmax(worst_sh, fabs(out->sh[kept * 3 * K + k] - want));
            }
            kept++;
        }
        if (!CHECK(wrong_set == 0 && kept == out->count))
            fprintf(stderr, "  t %g: slice kept %lld, the weights keep %lld\n", t, (long long)out->count, (long long)kept);
        printf("  slice at t %.3f: %lld of %d kept; mean %.2g, opacity %.2g, colour %.2g (largest errors)\n", t,
               (long long)out->count, N, worst_mean, worst_opacity, worst_sh);
        CHECK(worst_mean < 1e-5 && worst_opacity < 1e-5 && worst_sh < 1e-5);
        CHECK(out->count > 0 && out->count < N); /* some culled, some kept */
        /* the public slice: the same Gaussians as a scene of its own */
        rd_scene *public_slice = NULL;
        if (CHECK_OK(rd_scene4d_slice(ctx, scene, t, &public_slice))) {
            const rd_scene *p = public_slice;
            CHECK(p->count == out->count && memcmp(p->means, out->means, sizeof(float) * 3 * (size_t)p->count) == 0 &&
                  memcmp(p->sh, out->sh, sizeof(float) * 3 * (size_t)K * (size_t)p->count) == 0);
        }
        rd_scene_destroy(public_slice);
    }
    rd_scene *none = NULL;
    CHECK(rd_scene4d_slice(ctx, scene, NAN, &none) == RD_ERROR_INVALID_ARGUMENT && !none);
    CHECK(rd_scene4d_slice(ctx, out, 0.0f, &none) == RD_ERROR_INVALID_ARGUMENT && !none); /* a 3D scene */
    CHECK(rd_scene4d_slice(ctx, scene, 0.0f, NULL) == RD_ERROR_INVALID_ARGUMENT);
    rd_scene_destroy(out);
    rd_scene_destroy(scene);
}

/* A 3D scene lifted to 4D renders as the 3D scene. */
static void test_lifted(void)
{
    enum { N = 300, SIZE = 64 };
    rd_scene_desc d3 = random_scene(&rng, &(random_scene_desc){.count = N, .sh_degree = 3, .depth_min = 2, .depth_max = 8,
                                                                 .spread = 0.5, .log_scale_min = -4, .log_scale_max = -1.5});
    rd_scene *s3 = NULL;
    CHECK_OK(rd_scene_create(ctx, &d3, &s3));
    int K = 16;
    float *means = malloc(sizeof(float) * 4 * N), *ls = malloc(sizeof(float) * 4 * N), *rot = malloc(sizeof(float) * 8 * N);
    float *sh = calloc((size_t)N * 3 * K * 3, sizeof(float));
    for (int i = 0; i < N; i++) {
        for (int a = 0; a < 3; a++) means[4 * i + a] = d3.means[3 * i + a], ls[4 * i + a] = d3.log_scales[3 * i + a];
        means[4 * i + 3] = 0.25f, ls[4 * i + 3] = logf(1000.0f);
        const float *q = d3.rotations + 4 * i;
        float lifted[4] = {q[0], -q[3], -q[2], -q[1]};
        memcpy(rot + 8 * i, lifted, sizeof lifted), memcpy(rot + 8 * i + 4, lifted, sizeof lifted);
        memcpy(sh + (size_t)i * 3 * K * 3, d3.sh + (size_t)i * K * 3, sizeof(float) * K * 3); /* term 0; 1 and 2 zero */
    }
    rd_scene *s4 = NULL;
    CHECK_OK(rd_scene4d_create(ctx, &(rd_scene4d_desc){N, 3, 2, 1.0f, means, ls, rot, d3.opacities, sh, RD_MEMORY_HOST}, &s4));
    rd_camera cam = random_camera(&rng, SIZE, SIZE);
    float *a = malloc(sizeof(float) * 4 * SIZE * SIZE), *b = malloc(sizeof(float) * 4 * SIZE * SIZE);
    CHECK_OK(rd_render(ctx, s3, &cam, &(rd_render_desc){0}, &(rd_framebuffer){.color = a}));
    CHECK_OK(rd_render(ctx, s4, &cam, &(rd_render_desc){.time = 0.3f}, &(rd_framebuffer){.color = b}));
    compare_result r = compare_floats(b, a, 4 * SIZE * SIZE, 1e-4);
    CHECK(compare_ok("lifted 3D scene against the 3D scene", r, 4, 0.02));
    double energy = 0;
    for (int k = 0; k < 4 * SIZE * SIZE; k += 4) energy += a[k + 3];
    CHECK(energy > 1.0); /* the view sees the Gaussians */
    free(a), free(b), free(means), free(ls), free(rot), free(sh);
    rd_scene_destroy(s3), rd_scene_destroy(s4);
    random_scene_free(&d3);
}

/* One Gaussian at t = 0.5 with time scale 0.05: drawn at 0.5, culled at 0.9. */
static void test_time_culling(void)
{
    float mean[4] = {0, 0, 4, 0.5f}, ls[4] = {-1, -1, -1, logf(0.05f)}, rot[8] = {1, 0, 0, 0, 1, 0, 0, 0}, op[1] = {3};
    float sh[3 * 3] = {1, 1, 1, 0, 0, 0, 0, 0, 0};
    rd_scene *s = NULL;
    CHECK_OK(rd_scene4d_create(ctx, &(rd_scene4d_desc){1, 0, 2, 1.0f, mean, ls, rot, op, sh, RD_MEMORY_HOST}, &s));
    rd_camera cam = rd_camera_look_at((float[3]){0, 0, 0}, (float[3]){0, 0, 1}, (float[3]){0, -1, 0}, 16, 16, 60.0f);
    float img[4 * 16 * 16];
    double alpha_at[2];
    const float times[2] = {0.5f, 0.9f};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(rd_render(ctx, s, &cam, &(rd_render_desc){.time = times[k]}, &(rd_framebuffer){.color = img}));
        alpha_at[k] = img[4 * (8 * 16 + 8) + 3];
    }
    CHECK(alpha_at[0] > 0.5 && alpha_at[1] == 0.0);
    rd_scene4d_info info;
    CHECK_OK(rd_scene4d_get_info(ctx, s, &info));
    CHECK(info.count == 1 && info.time_min == 0.5f && info.time_max == 0.5f && info.time_degree == 2 && info.bounds_max[2] == 4.0f);
    CHECK_FAILS(rd_render(ctx, s, &cam, &(rd_render_desc){.time = NAN}, &(rd_framebuffer){.color = img}), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "time") != NULL);
    rd_scene_destroy(s);
    rd_scene *none = NULL;
    CHECK_FAILS(rd_scene4d_create(ctx, &(rd_scene4d_desc){1, 4, 0, 1.0f, mean, ls, rot, op, sh, RD_MEMORY_HOST}, &none),
                RD_ERROR_INVALID_ARGUMENT);
    CHECK(none == NULL && strstr(rd_last_error(ctx), "sh_degree") != NULL);
    CHECK_FAILS(rd_scene4d_create(ctx, &(rd_scene4d_desc){1, 0, 0, -1.0f, mean, ls, rot, op, sh, RD_MEMORY_HOST}, &none),
                RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "time_period") != NULL);
    /* device arrays need a GPU backend (the harness row makes scenes from them there) */
    CHECK_FAILS(rd_scene4d_create(ctx, &(rd_scene4d_desc){1, 0, 0, 1.0f, mean, ls, rot, op, sh, RD_MEMORY_DEVICE}, &none),
                RD_ERROR_INVALID_ARGUMENT);
    CHECK(none == NULL && strstr(rd_last_error(ctx), "need a GPU backend") != NULL);
}

static void test_rotors(void)
{
    for (int k = 0; k < 20; k++) {
        /* a random quaternion pair, written as the rotor it comes from (the spec's map inverted) */
        double l[4], r[4], nl = 0, nr = 0;
        for (int c = 0; c < 4; c++) l[c] = rng_normal(&rng), r[c] = rng_normal(&rng), nl += l[c] * l[c], nr += r[c] * r[c];
        for (int c = 0; c < 4; c++) l[c] /= sqrt(nl), r[c] /= sqrt(nr);
        float rotor[8] = {(float)((l[0] + r[0]) / 2), (float)((l[1] + r[1]) / 2), (float)(-(l[2] + r[2]) / 2),
                          (float)((l[3] + r[3]) / 2), (float)((l[3] - r[3]) / 2), (float)((l[2] - r[2]) / 2),
                          (float)((l[1] - r[1]) / 2), (float)((r[0] - l[0]) / 2)};
        float ql[4], qr[4];
        CHECK_OK(rd_rotor_to_quaternions(ctx, rotor, ql, qr));
        double worst = 0;
        for (int c = 0; c < 4; c++) worst = fmax(worst, fmax(fabs(ql[c] - l[c]), fabs(qr[c] - r[c])));
        CHECK(worst < 1e-6);
    }
    /* a 3D rotation's rotor (w, -z, y, -x, 0...) is the lifted pair (w, -z, -y, -x) twice */
    float q[4] = {0.8f, 0.36f, 0.48f, 0.0f}, rotor[8] = {q[0], -q[3], q[2], -q[1], 0, 0, 0, 0}, ql[4], qr[4];
    CHECK_OK(rd_rotor_to_quaternions(ctx, rotor, ql, qr));
    float lifted[4] = {q[0], -q[3], -q[2], -q[1]};
    bool same = true;
    for (int c = 0; c < 4; c++) same &= ql[c] == lifted[c] && qr[c] == lifted[c];
    CHECK(same);
    float longer[8] = {1, 1, 0, 0, 0, 0, 0, 0};
    CHECK_FAILS(rd_rotor_to_quaternions(ctx, longer, ql, qr), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "length") != NULL);
    float broken[8] = {0.5f, 0, 0, 0, 0, 0, 0, 0.5f}; /* s p = 0.25, unit after scaling below */
    for (int c = 0; c < 8; c++) broken[c] *= (float)M_SQRT2;
    CHECK_FAILS(rd_rotor_to_quaternions(ctx, broken, ql, qr), RD_ERROR_INVALID_ARGUMENT);
    CHECK(strstr(rd_last_error(ctx), "not a rotor") != NULL);
}


static void expect_load_error(const char *path, const char *needle);
static void test_rotor_ply(const char *dir);

static void expect_load_error(const char *path, const char *needle)
{
    rd_scene *s = NULL;
    CHECK(rd_scene_load(ctx, path, &s) == RD_ERROR_FORMAT && s == NULL);
    if (!CHECK(strstr(rd_last_error(ctx), needle) && strstr(rd_last_error(ctx), path)))
        fprintf(stderr, "  wanted \"%s\" in: %s\n", needle, rd_last_error(ctx));
}

/* Duan's rotors in a 4D PLY (rotor_0..7 for rot_* and rot_r_*): a file written as Yang's
   pair, its header renamed and each row's pair replaced by the rotor it comes from, reads
   back as the same pair; a rotor made twice as long is named with its vertex. */
static void test_rotor_ply(const char *dir)
{
    rd_scene *scene = random_4d(20, 0, 0);
    if (!scene) return;
    char path[4096];
    snprintf(path, sizeof path, "%s/yang.ply", dir);
    CHECK_OK(rd_scene_save(ctx, scene, path, NULL));
    size_t size = 0;
    unsigned char *yang = read_file(path, &size);
    char *end = yang ? strstr((char *)yang, "end_header\n") : NULL;
    if (!CHECK(end)) return;
    size_t header = (size_t)(end - (char *)yang) + 11, body = size - header;
    char text[8192] = "";
    for (char *line = (char *)yang; line < (char *)yang + header;) { /* the header, renamed */
        char *next = strchr(line, '\n') + 1;
        int a;
        char renamed[64];
        if (sscanf(line, "property float rot_r_%d", &a) == 1) snprintf(renamed, sizeof renamed, "property float rotor_%d\n", a + 4);
        else if (sscanf(line, "property float rot_%d", &a) == 1) snprintf(renamed, sizeof renamed, "property float rotor_%d\n", a);
        else snprintf(renamed, sizeof renamed, "%.*s", (int)(next - line), line);
        strcat(text, renamed);
        line = next;
    }
    size_t head = strlen(text), row = body / 20;
    unsigned char *duan = malloc(head + body);
    memcpy(duan, text, head), memcpy(duan + head, yang + header, body);
    const rd_scene4d *s = (const rd_scene4d *)scene;
    for (int i = 0; i < 20; i++) { /* columns 8 + 2a: rot_a, 9 + 2a: rot_r_a (ply4d.c's order) */
        double l[4], r[4], nl = 0, nr = 0;
        for (int a = 0; a < 4; a++) l[a] = s->rotations[8 * i + a], r[a] = s->rotations[8 * i + 4 + a], nl += l[a] * l[a], nr += r[a] * r[a];
        for (int a = 0; a < 4; a++) l[a] /= sqrt(nl), r[a] /= sqrt(nr);
        float rotor[8] = {(float)((l[0] + r[0]) / 2), (float)((l[1] + r[1]) / 2), (float)(-(l[2] + r[2]) / 2),
                          (float)((l[3] + r[3]) / 2), (float)((l[3] - r[3]) / 2), (float)((l[2] - r[2]) / 2),
                          (float)((l[1] - r[1]) / 2), (float)((r[0] - l[0]) / 2)};
        for (int a = 0; a < 4; a++) {
            memcpy(duan + head + i * row + 4 * (8 + 2 * a), &rotor[a], 4);
            memcpy(duan + head + i * row + 4 * (9 + 2 * a), &rotor[a + 4], 4);
        }
    }
    rd_scene *back = NULL;
    CHECK_OK(rd_scene_load(ctx, write_file(dir, "duan.ply", duan, head + body), &back));
    if (back) {
        const float *q = ((const rd_scene4d *)back)->rotations;
        double worst = 0;
        for (int i = 0; i < 20; i++) {
            double nl = 0, nr = 0;
            for (int a = 0; a < 4; a++) nl += (double)s->rotations[8 * i + a] * s->rotations[8 * i + a], nr += (double)s->rotations[8 * i + 4 + a] * s->rotations[8 * i + 4 + a];
            for (int a = 0; a < 4; a++)
                worst = fmax(worst, fmax(fabs(q[8 * i + a] - s->rotations[8 * i + a] / sqrt(nl)), fabs(q[8 * i + 4 + a] - s->rotations[8 * i + 4 + a] / sqrt(nr))));
        }
        CHECK(worst < 1e-5);
    }
    rd_scene_destroy(back);
    for (int k = 0; k < 8; k++) { /* vertex 7's rotor twice as long */
        float v;
        memcpy(&v, duan + head + 7 * row + 4 * (8 + k), 4);
        v *= 2.0f;
        memcpy(duan + head + 7 * row + 4 * (8 + k), &v, 4);
    }
    expect_load_error(write_file(dir, "duan_long.ply", duan, head + body), "element vertex 7: rotor_0..7");
    CHECK(strstr(rd_last_error(ctx), "length") != NULL);
    free(yang), free(duan);
    rd_scene_destroy(scene);
}

/* The 4D PLY: written and read back bit for bit; a missing or non-finite property is
   named; a 4D scene saves only as its own PLY. */
static void test_ply(void)
{
    const char *dir = test_temp_dir("scene4d_ply");
    for (int td = 0; td <= 2; td++) {
        rd_scene *scene = random_4d(50, td == 1 ? 3 : td, td);
        if (!scene) return;
        ((rd_scene4d *)scene)->time_period = 10.0f;
        char path[4096];
        snprintf(path, sizeof path, "%s/scene%d.ply", dir, td);
        CHECK_OK(rd_scene_save(ctx, scene, path, NULL));
        rd_scene *back = NULL;
        CHECK_OK(rd_scene_load(ctx, path, &back));
        if (back && CHECK(rd_scene_get_kind(back) == RD_SCENE_GAUSSIANS_4D)) {
            rd_scene4d_desc a = rd_scene4d_arrays(scene), b = rd_scene4d_arrays(back);
            CHECK(a.count == b.count && a.sh_degree == b.sh_degree && a.time_degree == b.time_degree && b.time_period == 10.0f);
            CHECK(memcmp(a.means, b.means, 16 * 50) == 0 && memcmp(a.log_scales, b.log_scales, 16 * 50) == 0 &&
                  memcmp(a.rotations, b.rotations, 32 * 50) == 0 && memcmp(a.opacities, b.opacities, 4 * 50) == 0 &&
                  memcmp(a.sh, b.sh, sizeof(float) * 50 * rd_scene4d_sh_floats(a.sh_degree, a.time_degree)) == 0);
        }
        rd_scene_destroy(back);
        snprintf(path, sizeof path, "%s/scene%d.spz", dir, td);
        CHECK_FAILS(rd_scene_save(ctx, scene, path, NULL), RD_ERROR_UNSUPPORTED);
        CHECK(strstr(rd_last_error(ctx), "4D Gaussians") && strstr(rd_last_error(ctx), ".ply"));
        rd_scene_destroy(scene);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/scene2.ply", dir);
    size_t size = 0;
    unsigned char *good = read_file(path, &size), *bad = malloc(size);
    char *header_end = good ? strstr((char *)good, "end_header\n") : NULL;
    if (!CHECK(good && header_end)) return;
    size_t body = (size_t)(header_end - (char *)good) + 11;
    memcpy(bad, good, size);
    char *scale_t = strstr((char *)bad, " scale_t\n");
    memcpy(scale_t, " scale_q\n", 9); /* renamed: missing */
    expect_load_error(write_file(dir, "missing.ply", bad, size), "required property scale_t is missing");
    memcpy(bad, good, size);
    float inf = INFINITY;
    memcpy(bad + body + (size - body) / 2 / 4 * 4, &inf, 4); /* a value in the middle row */
    expect_load_error(write_file(dir, "infinite.ply", bad, size), "(not finite)");
    CHECK(strstr(rd_last_error(ctx), "element vertex ") != NULL);
    free(good), free(bad);
    test_rotor_ply(dir);
}

int main(void)
{
    CHECK_OK(rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx));
    rng.state = test_seed("test_scene4d");
    test_covariance_and_statics();
    test_slice();
    test_lifted();
    test_time_culling();
    test_rotors();
    test_ply();
    rd_context_destroy(ctx);
    return test_finish("test_scene4d");
}
