/* test_gltf.c: glTF KHR_gaussian_splatting (datasets/gltf.h, spec/formats.md). A scene
   written as .glb, as .gltf with NAME.bin and as .gltf with an embedded buffer reads back
   to itself; files built here by hand (as another tool would write them) read as the
   draft says: node transforms (TRS under a parent matrix, mirrors, non-uniform scales)
   move means, covariances and view-dependent colour exactly as the maths below says,
   glTF's frame (LUF) turns into RDF, quantized accessors decode, COLOR_0 stands in for a
   missing DC, and primitives without the extension are left out; broken and unsupported
   files are errors that name the file, the element and the problem. */
#include "test_util.h"
#include "../splat/splat_math.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static rd_context *ctx;
static const char *dir;

/* ---- writing glTF by hand ----------------------------------------------------------- */
typedef struct builder {
    unsigned char *bin;
    size_t size, cap;
    char views[16384], accessors[16384];
    int count;
} builder;

static int add(builder *b, const void *data, size_t bytes, int component_type, bool normalized, int count, const char *type)
{
    size_t offset = (b->size + 3) / 4 * 4;
    if (offset + bytes > b->cap) {
        b->cap = (offset + bytes) * 2;
        b->bin = realloc(b->bin, b->cap);
    }
    memset(b->bin + b->size, 0, offset - b->size);
    memcpy(b->bin + offset, data, bytes);
    b->size = offset + bytes;
    size_t v = strlen(b->views), a = strlen(b->accessors);
    snprintf(b->views + v, sizeof b->views - v, "%s{\"buffer\":0,\"byteOffset\":%zu,\"byteLength\":%zu}", b->count ? "," : "", offset,
             bytes);
    snprintf(b->accessors + a, sizeof b->accessors - a,
             "%s{\"bufferView\":%d,\"componentType\":%d%s,\"count\":%d,\"type\":\"%s\"}", b->count ? "," : "", b->count,
             component_type, normalized ? ",\"normalized\":true" : "", count, type);
    return b->count++;
}

/* Writes NAME.glb, or NAME.gltf with NAME.bin; `body` is the rest of the top-level object
   (scenes, nodes, meshes, extensions...). Returns the path (static). */
static const char *finish(builder *b, const char *name, const char *body, bool glb)
{
    static char path[1024];
    char *json = malloc(strlen(body) + 40000);
    char bin_name[256];
    snprintf(bin_name, sizeof bin_name, "%s.bin", name);
    sprintf(json, "{\"asset\":{\"version\":\"2.0\",\"generator\":\"test_gltf\"},%s,\"buffers\":[{\"byteLength\":%zu%s%s%s}],"
            "\"bufferViews\":[%s],\"accessors\":[%s]}", body, b->size, glb ? "" : ",\"uri\":\"", glb ? "" : bin_name,
            glb ? "" : "\"", b->views, b->accessors);
    if (glb) {
        size_t j = strlen(json), jp = (j + 3) / 4 * 4, bp = (b->size + 3) / 4 * 4, total = 12 + 8 + jp + 8 + bp;
        unsigned char *file = calloc(total, 1);
        uint32_t head[5] = {0x46546C67u, 2, (uint32_t)total, (uint32_t)jp, 0x4E4F534Au};
        memcpy(file, head, sizeof head);
        memcpy(file + 20, json, j);
        memset(file + 20 + j, ' ', jp - j);
        uint32_t chunk[2] = {(uint32_t)bp, 0x004E4942u};
        memcpy(file + 20 + jp, chunk, sizeof chunk);
        memcpy(file + 28 + jp, b->bin, b->size);
        char file_name[256];
        snprintf(file_name, sizeof file_name, "%s.glb", name);
        snprintf(path, sizeof path, "%s", write_file(dir, file_name, file, total));
        free(file);
    } else {
        write_file(dir, bin_name, b->bin, b->size);
        char file_name[256];
        snprintf(file_name, sizeof file_name, "%s.gltf", name);
        snprintf(path, sizeof path, "%s", write_file(dir, file_name, json, strlen(json)));
    }
    free(json);
    free(b->bin);
    memset(b, 0, sizeof *b);
    return path;
}

/* ---- Gaussians as another tool holds them --------------------------------------------- */
enum { N = 40 };
typedef struct splats {
    float position[N * 3], rotation_xyzw[N * 4], scale[N * 3], opacity[N], sh[16][N * 3];
} splats;

static void random_splats(test_rng *r, splats *s)
{
    for (int i = 0; i < N; i++) {
        float q[4], n = 0.0f;
        for (int c = 0; c < 4; c++) q[c] = (float)rng_normal(r), n += q[c] * q[c];
        for (int c = 0; c < 4; c++) s->rotation_xyzw[4 * i + c] = q[c] / sqrtf(n);
        for (int c = 0; c < 3; c++) {
            s->position[3 * i + c] = (float)rng_range(r, -2, 2);
            s->scale[3 * i + c] = (float)exp(rng_range(r, -4, -1));
            for (int k = 0; k < 16; k++) s->sh[k][3 * i + c] = (float)rng_range(r, -0.5, 0.5);
        }
        s->opacity[i] = (float)rng_range(r, 0.05, 0.95);
    }
}

/* The primitive's attributes (all 16 SH coefficients) as float accessors; returns the
   "attributes" JSON. */
static const char *add_splats(builder *b, const splats *s, int sh_degree)
{
    static char text[4096];
    int position = add(b, s->position, sizeof s->position, 5126, false, N, "VEC3"); /* in this order: accessor 0 is POSITION */
    int rotation = add(b, s->rotation_xyzw, sizeof s->rotation_xyzw, 5126, false, N, "VEC4");
    int scale = add(b, s->scale, sizeof s->scale, 5126, false, N, "VEC3");
    int opacity = add(b, s->opacity, sizeof s->opacity, 5126, false, N, "SCALAR");
    int n = snprintf(text, sizeof text, "{\"POSITION\":%d,\"KHR_gaussian_splatting:ROTATION\":%d,\"KHR_gaussian_splatting:SCALE\":%d,"
                     "\"KHR_gaussian_splatting:OPACITY\":%d", position, rotation, scale, opacity);
    for (int k = 0, l = 0; k < (sh_degree + 1) * (sh_degree + 1); k++) {
        while (k >= (l + 1) * (l + 1)) l++;
        n += snprintf(text + n, sizeof text - (size_t)n, ",\"KHR_gaussian_splatting:SH_DEGREE_%d_COEF_%d\":%d", l, k - l * l,
                      add(b, s->sh[k], sizeof s->sh[k], 5126, false, N, "VEC3"));
    }
    snprintf(text + n, sizeof text - (size_t)n, "}");
    return text;
}

static const char SPLAT_EXT[] = "\"extensions\":{\"KHR_gaussian_splatting\":{\"kernel\":\"ellipse\",\"colorSpace\":"
                                "\"srgb_rec709_display\"}}";
static const char USED[] = "\"extensionsUsed\":[\"KHR_gaussian_splatting\"]";

/* A file of one node holding one splat primitive with these attributes (JSON text), the
   extension as SPLAT_EXT; returns finish()'s path. */
static const char *single_primitive(builder *b, const char *name, const char *attributes, bool glb)
{
    char body[8192];
    snprintf(body, sizeof body, "%s,\"nodes\":[{\"mesh\":0}],\"meshes\":[{\"primitives\":[{\"mode\":0,\"attributes\":%s,%s}]}]",
             USED, attributes, SPLAT_EXT);
    return finish(b, name, body, glb);
}

/* ---- the maths the reader must follow ------------------------------------------------- */
static void mat3_mul(const double a[9], const double b[9], double out[9])
{
    double t[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) t[3 * r + c] = a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c];
    memcpy(out, t, sizeof t);
}

/* covariance R S^2 R^T of a quaternion (w, x, y, z) and linear scales */
static void covariance(const double q[4], const double s[3], double out[9])
{
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]), w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    double R[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y), 2 * (x * y + w * z), 1 - 2 * (x * x + z * z),
                   2 * (y * z - w * x), 2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)};
    double RS[9], Rt[9];
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) RS[3 * r + c] = R[3 * r + c] * s[c] * s[c], Rt[3 * c + r] = R[3 * r + c];
    mat3_mul(RS, Rt, out);
}

static void loaded_covariance(const rd_scene_desc *d, int i, double out[9])
{
    double q[4], s[3];
    for (int c = 0; c < 4; c++) q[c] = d->rotations[4 * i + c];
    for (int c = 0; c < 3; c++) s[c] = exp(d->log_scales[3 * i + c]);
    covariance(q, s, out);
}

/* Checks the loaded scene against the splats moved by the affine map x -> M x + t into
   glTF's world and then into RDF (x, y negated): means and covariances always; the colour
   seen from three directions when M is a similarity (rotation times s, mirrors too). */
static void check_moved(const rd_scene *loaded, int64_t first, const splats *s, int degree, const double M[9], const double t[3],
                        bool similarity, const char *what)
{
    rd_scene_desc d = rd_scene_arrays(loaded);
    int K = (d.sh_degree + 1) * (d.sh_degree + 1);
    double C[9] = {-1, 0, 0, 0, -1, 0, 0, 0, 1}, A[9], At[9];
    mat3_mul(C, M, A);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) At[3 * c + r] = A[3 * r + c];
    double scale = cbrt(fabs(A[0] * (A[4] * A[8] - A[5] * A[7]) - A[1] * (A[3] * A[8] - A[5] * A[6]) + A[2] * (A[3] * A[7] - A[4] * A[6])));
    double worst_mean = 0, worst_cov = 0, worst_color = 0, worst_alpha = 0;
    for (int i = 0; i < N; i++) {
        int j = (int)first + i;
        double p[3] = {s->position[3 * i], s->position[3 * i + 1], s->position[3 * i + 2]};
        for (int r = 0; r < 3; r++) {
            double want = A[3 * r] * p[0] + A[3 * r + 1] * p[1] + A[3 * r + 2] * p[2] + (r < 2 ? -t[r] : t[r]);
            worst_mean = fmax(worst_mean, fabs(want - d.means[3 * j + r]));
        }
        const float *x = s->rotation_xyzw + 4 * i;
        double q[4] = {x[3], x[0], x[1], x[2]}, sc[3] = {s->scale[3 * i], s->scale[3 * i + 1], s->scale[3 * i + 2]};
        double local[9], want[9], got[9], tmp[9];
        covariance(q, sc, local);
        mat3_mul(A, local, tmp);
        mat3_mul(tmp, At, want);
        loaded_covariance(&d, j, got);
        double size = fmax(fmax(want[0], want[4]), want[8]);
        for (int k = 0; k < 9; k++) worst_cov = fmax(worst_cov, fabs(want[k] - got[k]) / size);
        worst_alpha = fmax(worst_alpha, fabs(1.0 / (1.0 + exp(-d.opacities[j])) - s->opacity[i]));
        for (int v = 0; v < 3 && similarity; v++) { /* colour towards d in RDF == colour towards A^T d / s before */
            float dir[3] = {v == 0, v == 1 ? 0.6f : 0.0f, v == 1 ? 0.8f : (v == 2)}, before[3], coeffs[48], rgb_got[3], rgb_want[3];
            for (int r = 0; r < 3; r++) before[r] = (float)((At[3 * r] * dir[0] + At[3 * r + 1] * dir[1] + At[3 * r + 2] * dir[2]) / scale);
            for (int k = 0; k < 16; k++)
                for (int c = 0; c < 3; c++) coeffs[3 * k + c] = k < (degree + 1) * (degree + 1) ? s->sh[k][3 * i + c] : 0.0f;
            rd_sh_to_rgb(3, coeffs, before, rgb_want);
            rd_sh_to_rgb(d.sh_degree, d.sh + (size_t)j * (size_t)K * 3, dir, rgb_got);
            for (int c = 0; c < 3; c++) worst_color = fmax(worst_color, fabs(rgb_want[c] - rgb_got[c]));
        }
    }
    if (!CHECK(worst_mean < 1e-4 && worst_cov < 1e-4 && worst_color < 1e-4 && worst_alpha < 1e-5))
        fprintf(stderr, "  %s: worst mean %g, covariance %g (relative), colour %g, opacity %g\n", what, worst_mean, worst_cov,
                worst_color, worst_alpha);
}

/* ---- the tests ---------------------------------------------------------------------- */
static void test_round_trips(test_rng *r)
{
    random_scene_desc sd = {.count = 300, .sh_degree = 3, .depth_min = 1, .depth_max = 5, .spread = 0.6, .log_scale_min = -5,
                            .log_scale_max = -1};
    rd_scene_desc a = random_scene(r, &sd);
    a.flags = RD_SCENE_ANTIALIASED;
    rd_scene *scene = NULL;
    if (!CHECK_OK(rd_scene_create(ctx, &a, &scene))) return;
    static const char *names[3] = {"round.glb", "round.gltf", "embedded.gltf"};
    for (int f = 0; f < 3; f++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, names[f]);
        rd_scene_save_desc sv = {.gltf_embed_buffer = f == 2};
        if (!CHECK_OK(rd_scene_save(ctx, scene, path, &sv))) continue;
        char bin[1100];
        snprintf(bin, sizeof bin, "%s/round.bin", dir);
        if (f == 1) CHECK(access(bin, F_OK) == 0);
        rd_scene *back = NULL;
        if (!CHECK_OK(rd_scene_load(ctx, path, &back))) continue;
        rd_scene_info info;
        rd_scene_get_info(back, &info);
        CHECK(info.count == 300 && info.sh_degree == 3 && (info.flags & RD_SCENE_ANTIALIASED));
        rd_scene_desc b = rd_scene_arrays(back);
        double worst = 0, worst_rotation = 0, worst_opacity = 0;
        for (int i = 0; i < 300; i++) {
            for (int c = 0; c < 3; c++) {
                worst = fmax(worst, fabs(a.means[3 * i + c] - b.means[3 * i + c]));
                worst = fmax(worst, fabs(a.log_scales[3 * i + c] - b.log_scales[3 * i + c]));
            }
            for (int k = 0; k < 48; k++) worst = fmax(worst, fabs(a.sh[48 * i + k] - b.sh[48 * i + k]));
            const float *qa = a.rotations + 4 * i, *qb = b.rotations + 4 * i;
            float na = sqrtf(qa[0] * qa[0] + qa[1] * qa[1] + qa[2] * qa[2] + qa[3] * qa[3]), dot = 0.0f;
            for (int c = 0; c < 4; c++) dot += qa[c] / na * qb[c];
            worst_rotation = fmax(worst_rotation, 1.0 - fabs(dot)); /* q and -q are one rotation */
            float pa = 1.0f / (1.0f + expf(-a.opacities[i])), pb = 1.0f / (1.0f + expf(-b.opacities[i]));
            worst_opacity = fmax(worst_opacity, fabs(pa - pb));
        }
        if (!CHECK(worst < 1e-5 && worst_rotation < 1e-6 && worst_opacity < 1e-6))
            fprintf(stderr, "  %s: worst %g, rotation %g, opacity %g\n", names[f], worst, worst_rotation, worst_opacity);
        rd_scene_destroy(back);
    }
    rd_scene_destroy(scene);
    random_scene_free(&a);
}

/* A file as splat-transform writes one (a lone node, float accessors): glTF's frame turns
   into RDF, and a parent's matrix over a child's TRS moves everything as the maths says. */
static void test_node_transforms(test_rng *r)
{
    splats s;
    random_splats(r, &s);
    struct {
        const char *name, *node;
        double M[9], t[3];
        bool similarity;
    } cases[4] = {
        {"plain", "{\"mesh\":0}", {1, 0, 0, 0, 1, 0, 0, 0, 1}, {0, 0, 0}, true},
        /* rotation 90 degrees about y (quaternion xyzw 0, sin 45, 0, cos 45), scale 2, translation */
        {"trs", "{\"mesh\":0,\"translation\":[1,2,3],\"rotation\":[0,0.70710678118654752,0,0.70710678118654752],\"scale\":[2,2,2]}",
         {0, 0, 2, 0, 2, 0, -2, 0, 0}, {1, 2, 3}, true},
        /* a mirror in x, as a column-major matrix */
        {"mirror", "{\"mesh\":0,\"matrix\":[-1,0,0,0, 0,1,0,0, 0,0,1,0, 0.5,0,0,1]}", {-1, 0, 0, 0, 1, 0, 0, 0, 1}, {0.5, 0, 0},
         true},
        {"stretch", "{\"mesh\":0,\"scale\":[1,3,0.5]}", {1, 0, 0, 0, 3, 0, 0, 0, 0.5}, {0, 0, 0}, false},
    };
    for (int c = 0; c < 4; c++)
        for (int glb = 0; glb < 2; glb++) {
            builder b = {0};
            const char *attributes = add_splats(&b, &s, 3);
            char body[8192];
            snprintf(body, sizeof body, "%s,\"scene\":0,\"scenes\":[{\"nodes\":[0]}],\"nodes\":[%s],\"meshes\":[{\"primitives\":"
                     "[{\"mode\":0,\"attributes\":%s,%s}]}]", USED, cases[c].node, attributes, SPLAT_EXT);
            const char *path = finish(&b, cases[c].name, body, glb);
            rd_scene *loaded = NULL;
            if (!CHECK_OK(rd_scene_load(ctx, path, &loaded))) continue;
            check_moved(loaded, 0, &s, 3, cases[c].M, cases[c].t, cases[c].similarity, cases[c].name);
            rd_scene_destroy(loaded);
        }
    /* a parent matrix (translation 0,0,5; rotation 90 degrees about z) over a child with a
       TRS, a second primitive of degree 1 under another node, a triangle primitive left out */
    splats s2;
    random_splats(r, &s2);
    builder b = {0};
    char first[4096], second[4096];
    snprintf(first, sizeof first, "%s", add_splats(&b, &s, 3));
    snprintf(second, sizeof second, "%s", add_splats(&b, &s2, 1));
    float triangle[9] = {0, 0, 0, 1, 0, 0, 0, 1, 0};
    int tri = add(&b, triangle, sizeof triangle, 5126, false, 3, "VEC3");
    char body[16384];
    snprintf(body, sizeof body, "%s,\"scenes\":[{\"nodes\":[0,2]}],\"nodes\":[{\"matrix\":[0,1,0,0, -1,0,0,0, 0,0,1,0, 0,0,5,1],"
             "\"children\":[1]},{\"mesh\":0,\"translation\":[1,0,0]},{\"mesh\":1}],\"meshes\":[{\"primitives\":[{\"mode\":0,"
             "\"attributes\":%s,%s},{\"attributes\":{\"POSITION\":%d}}]},{\"primitives\":[{\"mode\":0,\"attributes\":%s,%s}]}]",
             USED, first, SPLAT_EXT, tri, second, SPLAT_EXT);
    const char *path = finish(&b, "tree", body, false);
    rd_scene *loaded = NULL;
    if (CHECK_OK(rd_scene_load(ctx, path, &loaded))) {
        rd_scene_info info;
        rd_scene_get_info(loaded, &info);
        CHECK(info.count == 2 * N && info.sh_degree == 3);
        /* parent * child: rotation about z, the child's translation turned: (0,1,0) + (0,0,5) */
        double M[9] = {0, -1, 0, 1, 0, 0, 0, 0, 1}, t[3] = {0, 1, 5}, I[9] = {1, 0, 0, 0, 1, 0, 0, 0, 1}, zero[3] = {0, 0, 0};
        check_moved(loaded, 0, &s, 3, M, t, true, "tree, first");
        check_moved(loaded, N, &s2, 1, I, zero, true, "tree, second");
        rd_scene_destroy(loaded);
    }
}

/* Normalized short rotations, normalized byte scales, normalized unsigned byte opacity,
   COLOR_0 in place of the DC: decoded as glTF maps them. */
static void test_quantized(void)
{
    int16_t rotation[4 * 2] = {0, 0, 0, 32767, 0, -32767, 0, 0};
    int8_t scale[3 * 2] = {127, 64, 1, 10, 20, 30};
    uint8_t opacity[2] = {255, 51}, color[4 * 2] = {255, 0, 128, 255, 0, 255, 64, 10};
    float position[3 * 2] = {1, 2, 3, -1, -2, -3};
    builder b = {0};
    char attributes[512];
    int at_position = add(&b, position, sizeof position, 5126, false, 2, "VEC3");
    int at_rotation = add(&b, rotation, sizeof rotation, 5122, true, 2, "VEC4");
    int at_scale = add(&b, scale, sizeof scale, 5120, true, 2, "VEC3");
    int at_opacity = add(&b, opacity, sizeof opacity, 5121, true, 2, "SCALAR");
    int at_color = add(&b, color, sizeof color, 5121, true, 2, "VEC4");
    snprintf(attributes, sizeof attributes, "{\"POSITION\":%d,\"KHR_gaussian_splatting:ROTATION\":%d,\"KHR_gaussian_splatting:SCALE\":%d,"
             "\"KHR_gaussian_splatting:OPACITY\":%d,\"COLOR_0\":%d}", at_position, at_rotation, at_scale, at_opacity, at_color);
    const char *path = single_primitive(&b, "quantized", attributes, true);
    rd_scene *loaded = NULL;
    if (!CHECK_OK(rd_scene_load(ctx, path, &loaded))) return;
    rd_scene_desc d = rd_scene_arrays(loaded);
    CHECK(d.count == 2 && d.sh_degree == 0);
    CHECK(d.means[0] == -1 && d.means[1] == -2 && d.means[2] == 3); /* LUF to RDF */
    CHECK(fabsf(d.log_scales[0] - 0.0f) < 1e-6f && fabsf(d.log_scales[1] - logf(64.0f / 127.0f)) < 1e-6f);
    CHECK(fabsf(1.0f / (1.0f + expf(-d.opacities[1])) - 0.2f) < 1e-6f);
    CHECK(fabsf(0.5f + 0.28209479f * d.sh[0] - 1.0f) < 1e-5f && fabsf(0.5f + 0.28209479f * d.sh[1] - 0.0f) < 1e-5f);
    /* COLOR_0 is linear: the DC holds its display sRGB */
    CHECK(fabsf(0.5f + 0.28209479f * d.sh[5] - (1.055f * powf(64.0f / 255.0f, 1.0f / 2.4f) - 0.055f)) < 1e-5f);
    /* identity (xyzw 0 0 0 1) turned 180 degrees about z: +-(0, 0, 0, 1) in wxyz */
    CHECK(fabsf(d.rotations[0]) < 1e-6f && fabsf(fabsf(d.rotations[3]) - 1.0f) < 1e-6f);
    rd_scene_destroy(loaded);
}

/* A minimal valid file with one piece of its JSON replaced: the load fails with `code` and a
   message holding `expect`, or (code RD_OK) loads. */
static void check_variant(const char *name, const char *extension, const char *mode, const char *extra_top, rd_result code,
                          const char *expect)
{
    splats s;
    test_rng r = {42};
    random_splats(&r, &s);
    builder b = {0};
    const char *attributes = add_splats(&b, &s, 0);
    char body[8192];
    snprintf(body, sizeof body, "%s%s,\"nodes\":[{\"mesh\":0}],\"meshes\":[{\"primitives\":[{%s\"attributes\":%s,"
             "\"extensions\":{\"KHR_gaussian_splatting\":%s}}]}]", USED, extra_top, mode, attributes, extension);
    const char *path = finish(&b, name, body, true);
    rd_scene *loaded = NULL;
    rd_result got = rd_scene_load(ctx, path, &loaded);
    if (!CHECK(got == code) || (expect && !CHECK(strstr(rd_last_error(ctx), expect))))
        fprintf(stderr, "  %s: got %d: %s\n", name, (int)got, rd_last_error(ctx));
    CHECK((got == RD_OK) == (loaded != NULL));
    rd_scene_destroy(loaded);
}

static void test_refusals(void)
{
    const char *ok_mode = "\"mode\":0,";
    check_variant("linear", "{\"kernel\":\"ellipse\",\"colorSpace\":\"lin_rec709_display\"}", ok_mode, "", RD_ERROR_UNSUPPORTED,
                  "colorSpace is \"lin_rec709_display\"");
    check_variant("projection", "{\"kernel\":\"ellipse\",\"projection\":\"orthographic\"}", ok_mode, "", RD_ERROR_UNSUPPORTED,
                  "projection");
    check_variant("kernel", "{\"kernel\":\"customShape\"}", ok_mode, "", RD_OK, NULL); /* the draft: fall back to the ellipse */
    check_variant("triangles", "{}", "", "", RD_ERROR_FORMAT, "mode is missing (TRIANGLES)");
    check_variant("spz", "{}", ok_mode, ",\"extensionsRequired\":[\"KHR_spz_compression\"]", RD_ERROR_UNSUPPORTED,
                  "requires the extension KHR_spz_compression");

    float position[3] = {0, 0, 1}, rotation[4] = {0, 0, 0, 1}, negative[3] = {-2, -3, -1}, opacity[1] = {0.5f}, dc[3] = {0};
    builder b = {0};
    char negative_scale[512];
    int at_position = add(&b, position, sizeof position, 5126, false, 1, "VEC3");
    int at_rotation = add(&b, rotation, sizeof rotation, 5126, false, 1, "VEC4");
    int at_scale = add(&b, negative, sizeof negative, 5126, false, 1, "VEC3");
    int at_opacity = add(&b, opacity, sizeof opacity, 5126, false, 1, "SCALAR");
    int at_dc = add(&b, dc, sizeof dc, 5126, false, 1, "VEC3");
    snprintf(negative_scale, sizeof negative_scale, "{\"POSITION\":%d,\"KHR_gaussian_splatting:ROTATION\":%d,\"KHR_gaussian_splatting:SCALE\":%d,"
             "\"KHR_gaussian_splatting:OPACITY\":%d,\"KHR_gaussian_splatting:SH_DEGREE_0_COEF_0\":%d}", at_position, at_rotation,
             at_scale, at_opacity, at_dc);
    const char *path = single_primitive(&b, "logscale", negative_scale, false);
    rd_scene *loaded = NULL;
    CHECK_FAILS(rd_scene_load(ctx, path, &loaded), RD_ERROR_FORMAT);
    if (!CHECK(strstr(rd_last_error(ctx), "logscale.gltf") && strstr(rd_last_error(ctx), "scale -2 is negative"))) fprintf(stderr, "  %s\n", rd_last_error(ctx));

    /* the external buffer gone: the error names the .gltf, the buffer and the missing file */
    char bin[1024];
    snprintf(bin, sizeof bin, "%s/logscale.bin", dir);
    unlink(bin);
    CHECK_FAILS(rd_scene_load(ctx, path, &loaded), RD_ERROR_IO);
    CHECK(strstr(rd_last_error(ctx), "buffers[0]") && strstr(rd_last_error(ctx), "logscale.bin"));

    /* a truncated .glb, an accessor past its view, a partial SH degree, bad base64 */
    char round[1024];
    snprintf(round, sizeof round, "%s/round.glb", dir);
    char *data = NULL;
    FILE *f = fopen(round, "rb");
    if (!CHECK(f)) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    data = malloc((size_t)size);
    CHECK(fread(data, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    path = write_file(dir, "cut.glb", data, (size_t)size / 2);
    CHECK_FAILS(rd_scene_load(ctx, path, &loaded), RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(ctx), "cut.glb") && strstr(rd_last_error(ctx), "truncated"));
    free(data);

    const char *json = "{\"asset\":{\"version\":\"2.0\"},\"extensionsUsed\":[\"KHR_gaussian_splatting\"],\"nodes\":[{\"mesh\":0}],"
                       "\"meshes\":[{\"primitives\":[{\"mode\":0,\"attributes\":{\"POSITION\":0,\"KHR_gaussian_splatting:ROTATION\""
                       ":0,\"KHR_gaussian_splatting:SCALE\":0,\"KHR_gaussian_splatting:OPACITY\":0,\"COLOR_0\":0},"
                       "\"extensions\":{\"KHR_gaussian_splatting\":{}}}]}],\"buffers\":[{\"byteLength\":12,\"uri\":"
                       "\"data:application/octet-stream;base64,AAAAAAAA!AAAAAAA\"}],\"bufferViews\":[{\"buffer\":0,\"byteLength\":12}],"
                       "\"accessors\":[{\"bufferView\":0,\"componentType\":5126,\"count\":1,\"type\":\"VEC3\"}]}";
    path = write_file(dir, "base64.gltf", json, strlen(json));
    CHECK_FAILS(rd_scene_load(ctx, path, &loaded), RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(ctx), "invalid base64"));

    splats s;
    test_rng r = {7};
    random_splats(&r, &s);
    b = (builder){0};
    const char *attributes = add_splats(&b, &s, 1);
    char partial[4096];
    snprintf(partial, sizeof partial, "%s", attributes);
    char *cut = strstr(partial, ",\"KHR_gaussian_splatting:SH_DEGREE_1_COEF_2\"");
    if (CHECK(cut)) strcpy(cut, "}");
    path = single_primitive(&b, "partial", partial, true);
    CHECK_FAILS(rd_scene_load(ctx, path, &loaded), RD_ERROR_FORMAT);
    CHECK(strstr(rd_last_error(ctx), "SH degree 1 is partial"));

    b = (builder){0};
    attributes = add_splats(&b, &s, 0);
    char *text = strstr(b.accessors, "\"count\":40");
    if (CHECK(text)) memcpy(text, "\"count\":99", 10); /* POSITION's accessor claims more than its view holds */
    path = single_primitive(&b, "overrun", attributes, true);
    CHECK_FAILS(rd_scene_load(ctx, path, &loaded), RD_ERROR_FORMAT);
    if (!CHECK(strstr(rd_last_error(ctx), "accessors[0] (meshes[0].primitives[0] POSITION)") && strstr(rd_last_error(ctx), "runs past"))) fprintf(stderr, "  %s\n", rd_last_error(ctx));
}

/* The text of a file written here with `from` replaced by `to`, as NAME; loading it fails
   with a message holding `expect`. */
static void check_mutation(const char *source, const char *from, const char *to, const char *name, const char *expect)
{
    FILE *f = fopen(source, "rb");
    if (!CHECK(f)) return;
    char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char *at = strstr(text, from), out[65536 + 256];
    if (!CHECK(at)) {
        fprintf(stderr, "  %s: \"%s\" is not in %s\n", name, from, source);
        return;
    }
    snprintf(out, sizeof out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    const char *path = write_file(dir, name, out, strlen(out));
    rd_scene *loaded = NULL;
    rd_result r = rd_scene_load(ctx, path, &loaded);
    if (!CHECK(r != RD_OK && !loaded && strstr(rd_last_error(ctx), expect)))
        fprintf(stderr, "  %s: %d: %s\n", name, (int)r, rd_last_error(ctx));
    rd_scene_destroy(loaded);
}

/* Files that lie about sizes and indices, and node graphs that are not trees. */
static void test_lies(void)
{
    splats s;
    test_rng r = {11};
    random_splats(&r, &s);
    builder b = {0};
    char body[8192], first[4096];
    snprintf(first, sizeof first, "%s", add_splats(&b, &s, 0));
    snprintf(body, sizeof body, "%s,\"scenes\":[{\"nodes\":[0]}],\"nodes\":[{\"mesh\":0,\"children\":[1]},{\"mesh\":0}],"
             "\"meshes\":[{\"primitives\":[{\"mode\":0,\"attributes\":%s,%s}]}]", USED, first, SPLAT_EXT);
    char source[1024];
    snprintf(source, sizeof source, "%s", finish(&b, "honest", body, false));
    rd_scene *loaded = NULL;
    if (CHECK_OK(rd_scene_load(ctx, source, &loaded))) CHECK(rd_scene_arrays(loaded).count == 2 * N);
    rd_scene_destroy(loaded);
    check_mutation(source, "\"count\":40", "\"count\":-90", "negative_count.gltf", "expected a whole number from 1");
    check_mutation(source, "\"count\":40", "\"count\":1e300", "huge_count.gltf", "expected a whole number from 1");
    check_mutation(source, "\"byteLength\":", "\"byteLength\":-1,\"x\":", "negative_length.gltf", "byteLength: expected a whole number");
    check_mutation(source, "\"bufferView\":0", "\"bufferView\":0.5", "fraction.gltf", "bufferView: expected a whole number");
    check_mutation(source, "\"children\":[1]", "\"children\":[1,1]", "two_parents.gltf", "nodes[1] is reached twice");
    check_mutation(source, "\"children\":[1]", "\"children\":[0]", "cycle.gltf", "nodes[0] is reached twice");
    check_mutation(source, "{\"mesh\":0,\"children\":[1]}", "{\"mesh\":0,\"children\":[1],\"matrix\":[1,0,0,1, 0,1,0,0, 0,0,1,0, 0,0,0,1]}",
                   "projective.gltf", "last row is not 0 0 0 1");
    check_mutation(source, "{\"mesh\":0,\"children\":[1]}", "{\"mesh\":0,\"children\":[1],\"scale\":[1e200,1e200,1e-300]}",
                   "extreme_scale.gltf", "singular or not finite");
}

int main(void)
{
    test_rng r = {test_seed("test_gltf")};
    dir = test_temp_dir("gltf");
    if (rd_context_create(&(rd_context_desc){.backend = RD_BACKEND_CPU, .log = test_log}, &ctx) != RD_OK) return 1;
    test_round_trips(&r);
    test_node_transforms(&r);
    test_quantized();
    test_refusals();
    test_lies();
    rd_context_destroy(ctx);
    return test_finish("test_gltf");
}
