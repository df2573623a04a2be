/* ply4d.c: the 4D PLY reader and writer (ply4d.h). Properties are found by name in any
   order, float or double; every value must be finite, and a missing one is named. */
#include "ply4d.h"
#include "ply_header.h"
#include "../compress/conventions.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The header's text: up to and including "end_header\n" within the first 64 KiB, or 0. */
static size_t header_length(const unsigned char *data, size_t size)
{
    size_t n = size < 65536 ? size : 65536;
    for (size_t at = 0; at + 11 <= n; at++)
        if (memcmp(data + at, "end_header", 10) == 0 && (at == 0 || data[at - 1] == '\n')) return at + 10;
    return 0;
}

bool rd_ply4d_detect(const unsigned char *data, size_t size)
{
    if (!rd_ply_detect(data, size)) return false;
    size_t n = header_length(data, size);
    for (size_t at = 0; at + 8 < n; at++) { /* a line "property <type> rot_r_0" */
        if (at > 0 && data[at - 1] != '\n') continue;
        if (memcmp(data + at, "property ", 9) != 0) continue;
        size_t end = at;
        while (end < n && data[end] != '\n' && data[end] != '\r') end++;
        if (end - at > 8 && (memcmp(data + end - 8, " rot_r_0", 8) == 0 || memcmp(data + end - 8, " rotor_0", 8) == 0)) return true;
    }
    return false;
}

/* `comment time_period T` in the header, else 1. */
static float time_period(const unsigned char *data, size_t n)
{
    static const char key[] = "comment time_period ";
    for (size_t at = 0; at + sizeof key < n; at++)
        if ((at == 0 || data[at - 1] == '\n') && memcmp(data + at, key, sizeof key - 1) == 0) {
            char text[32] = {0};
            for (size_t k = 0; k < sizeof text - 1 && at + sizeof key - 1 + k < n && data[at + sizeof key - 1 + k] != '\n'; k++)
                text[k] = (char)data[at + sizeof key - 1 + k];
            return strtof(text, NULL);
        }
    return 1.0f;
}

typedef struct field4d {
    char name[24];
    float *dst;
    int stride;
} field4d;

/* The fields of a scene of these degrees into fields (room for 18 + 48 * 3), pointing into
   the arrays; returns how many. */
static int fields_of(int degree, int terms, bool rotor, float *means, float *ls, float *rot, float *op, float *sh, field4d *fields)
{
    int K = rd_sh_coeffs(degree), n = 0, shf = terms * K * 3;
    static const char *const xyzt[4] = {"x", "y", "z", "t"}, *const scale[4] = {"scale_0", "scale_1", "scale_2", "scale_t"};
    for (int a = 0; a < 4; a++) {
        fields[n] = (field4d){"", means + a, 4}, snprintf(fields[n++].name, 24, "%s", xyzt[a]);
        fields[n] = (field4d){"", ls + a, 4}, snprintf(fields[n++].name, 24, "%s", scale[a]);
    }
    for (int a = 0; a < 4; a++) {
        fields[n] = (field4d){"", rot + a, 8}, snprintf(fields[n++].name, 24, rotor ? "rotor_%d" : "rot_%d", a);
        fields[n] = (field4d){"", rot + 4 + a, 8}, snprintf(fields[n++].name, 24, rotor ? "rotor_%d" : "rot_r_%d", rotor ? a + 4 : a);
    }
    fields[n] = (field4d){"opacity", op, 1}, n++;
    for (int term = 0; term < terms; term++) {
        char prefix[8] = "f";
        if (term) snprintf(prefix, sizeof prefix, "f_t%d", term);
        for (int c = 0; c < 3; c++) fields[n] = (field4d){"", sh + term * K * 3 + c, shf}, snprintf(fields[n++].name, 24, "%s_dc_%d", prefix, c);
        for (int k = 1; k < K; k++)
            for (int c = 0; c < 3; c++) {
                fields[n] = (field4d){"", sh + term * K * 3 + 3 * k + c, shf};
                snprintf(fields[n++].name, 24, "%s_rest_%d", prefix, rd_sh_rest_index(K, k, c));
            }
    }
    return n;
}

enum { MAX_FIELDS4D = 17 + 48 * 3 };

/* The SH degree that `count` rest properties name, or -1. */
static int degree_of(int rest) { return rest == 0 ? 0 : rest == 9 ? 1 : rest == 24 ? 2 : rest == 45 ? 3 : -1; }

static int count_rest(const rd_ply_element *vertex, const char *prefix)
{
    int rest = 0;
    for (char name[32]; rest < 64; rest++) {
        snprintf(name, sizeof name, "%s_rest_%d", prefix, rest);
        if (!rd_ply_find(vertex, name)) break;
    }
    return rest;
}

rd_result rd_ply4d_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    rd_ply_header *h = calloc(1, sizeof *h);
    float *means = NULL, *ls = NULL, *rot = NULL, *op = NULL, *sh = NULL;
    field4d *fields = malloc(sizeof(field4d) * MAX_FIELDS4D);
    if (!h || !fields) {
        free(h), free(fields);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    rd_result r = rd_ply_parse_header(ctx, path, (const char *)data, size, h);
    int vertex_index = r == RD_OK ? rd_ply_element_index(h, "vertex") : -1;
    if (r == RD_OK && vertex_index < 0) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: no 'vertex' element", path);
    const rd_ply_element *vertex = vertex_index >= 0 ? &h->elements[vertex_index] : NULL;
    if (r == RD_OK && (vertex->has_list || vertex->stride == 0))
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: element vertex: list properties, or none at all, are not supported", path);
    int degree = r == RD_OK ? degree_of(count_rest(vertex, "f")) : 0, terms = 1;
    if (r == RD_OK && degree < 0)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: %d f_rest properties (expected 0, 9, 24 or 45)", path,
                    count_rest(vertex, "f"));
    while (r == RD_OK && terms <= RD_4D_MAX_TIME_DEGREE) { /* the temporal terms present: f_t1_*, f_t2_* */
        char prefix[8], dc[16];
        snprintf(prefix, sizeof prefix, "f_t%d", terms);
        snprintf(dc, sizeof dc, "%s_dc_0", prefix);
        if (!rd_ply_find(vertex, dc)) break;
        if (degree_of(count_rest(vertex, prefix)) != degree)
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: %d %s_rest properties where f_rest has %d", path,
                        count_rest(vertex, prefix), prefix, 3 * (rd_sh_coeffs(degree) - 1));
        terms++;
    }
    if (r == RD_OK) r = rd_ply_locate(ctx, path, h, vertex_index, size);
    int64_t n = r == RD_OK ? vertex->count : 0;
    int64_t shf = rd_scene4d_sh_floats(degree, terms - 1);
    if (r == RD_OK) { /* the arrays read, then the scene's copy and its statics */
        char what[64];
        snprintf(what, sizeof what, "%lld 4D Gaussians", (long long)n);
        r = rd_decode_check(ctx, path, size, (uint64_t)n * (uint64_t)(2 * (17 + shf) + 11) * 4, what);
    }
    if (r == RD_OK) {
        means = rd_alloc_array(n, 16), ls = rd_alloc_array(n, 16), rot = rd_alloc_array(n, 32), op = rd_alloc_array(n, 4);
        sh = rd_alloc_array(n, (size_t)shf * 4);
        if (!means || !ls || !rot || !op || !sh) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold %lld 4D Gaussians", path, (long long)n);
    }
    bool rotor = r == RD_OK && rd_ply_find(vertex, "rotor_0") != NULL; /* Duan's form */
    int nf = r == RD_OK ? fields_of(degree, terms, rotor, means, ls, rot, op, sh, fields) : 0;
    const rd_ply_property *props[MAX_FIELDS4D];
    for (int f = 0; f < nf && r == RD_OK; f++) {
        props[f] = rd_ply_find(vertex, fields[f].name);
        if (!props[f]) r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: required property %s is missing", path, fields[f].name);
        else if (props[f]->type != RD_PLY_FLOAT32 && props[f]->type != RD_PLY_FLOAT64)
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: property %s has type %s, expected float or double", path,
                        fields[f].name, props[f]->type_name);
    }
    for (int64_t i = 0; i < n && r == RD_OK; i++) {
        const unsigned char *row = data + vertex->data_offset + (size_t)i * vertex->stride;
        for (int f = 0; f < nf && r == RD_OK; f++) {
            float v = rd_ply_value(row, props[f]);
            if (!isfinite(v))
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex %lld: property %s is %g (not finite)", path, (long long)i,
                            fields[f].name, v);
            fields[f].dst[(size_t)i * (size_t)fields[f].stride] = v;
        }
    }
    for (int64_t i = 0; rotor && i < n && r == RD_OK; i++) { /* checked, then Yang's pair: never silently renormalised */
        float rotor8[8];
        memcpy(rotor8, rot + 8 * i, sizeof rotor8);
        r = rd_rotor_to_quaternions(ctx, rotor8, rot + 8 * i, rot + 8 * i + 4);
        if (r != RD_OK) {
            char where[128];
            snprintf(where, sizeof where, "%s: element vertex %lld: rotor_0..7", path, (long long)i);
            rd_error_prefix(ctx, where);
            r = RD_ERROR_FORMAT; /* the file's fault */
        }
    }
    float period = r == RD_OK ? time_period(data, header_length(data, size)) : 1.0f;
    if (r == RD_OK && !(period > 0.0f && isfinite(period)))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: comment time_period: %g is not a positive time", path, period);
    if (r == RD_OK) {
        r = rd_scene4d_create(ctx, &(rd_scene4d_desc){n, degree, terms - 1, period, means, ls, rot, op, sh, RD_MEMORY_HOST}, out);
        if (r != RD_OK) rd_error_prefix(ctx, path);
    }
    free(h), free(fields), free(means), free(ls), free(rot), free(op), free(sh);
    return r;
}

typedef struct ply4d_job {
    const rd_scene4d *scene;
    field4d *fields;
    int nf;
} ply4d_job;

static bool write_ply4d(rd_writer *w, void *user)
{
    const ply4d_job *j = user;
    const rd_scene4d *s = j->scene;
    rd_writer_printf(w, "ply\nformat binary_little_endian 1.0\ncomment written by radiant (4D Gaussians)\n");
    rd_writer_printf(w, "comment time_period %.9g\nelement vertex %lld\n", s->time_period, (long long)s->count);
    for (int f = 0; f < j->nf; f++) rd_writer_printf(w, "property float %s\n", j->fields[f].name);
    bool ok = rd_writer_printf(w, "end_header\n");
    float row[MAX_FIELDS4D];
    for (int64_t i = 0; i < s->count && ok; i++) {
        for (int f = 0; f < j->nf; f++) row[f] = j->fields[f].dst[(size_t)i * (size_t)j->fields[f].stride];
        ok = rd_writer_write(w, row, sizeof(float) * (size_t)j->nf);
    }
    return ok;
}

rd_result rd_ply4d_save(rd_context *ctx, const rd_scene *scene, const char *path)
{
    if (!rd_is_gaussians4d(scene)) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: rd_ply4d_save: not a 4D scene", path);
    const rd_scene4d *s = (const rd_scene4d *)scene;
    if (s->appearance)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED,
                       "%s: this 4D scene's colour and opacity come from appearance networks (a compact file's), which a 4D PLY "
                       "cannot hold", path);
    field4d *fields = malloc(sizeof(field4d) * MAX_FIELDS4D);
    if (!fields) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    ply4d_job job = {s, fields,
                     fields_of(s->sh_degree, s->time_degree + 1, false, s->means, s->log_scales, s->rotations, s->opacities, s->sh, fields)};
    rd_result r = rd_write_atomically(ctx, path, write_ply4d, &job);
    free(fields);
    return r;
}
