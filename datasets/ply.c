/* ply.c: INRIA Gaussian PLY reader and writer. Properties are found by name, in any
   order, as float or double; extra properties and elements are skipped. PlayCanvas
   compressed PLY files (a `chunk` element) go to compress/compressed_ply.c. */
#include "ply.h"
#include "ply_header.h"
#include "../compress/conventions.h"
#include "../compress/formats.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct field_map {
    const char *name;
    float *dst;   /* first destination */
    int stride;   /* floats between Gaussians */
} field_map;

rd_result rd_ply_decode(rd_context *ctx, const char *path, const char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    rd_ply_header *h = calloc(1, sizeof *h);
    rd_scene *scene = NULL;
    if (!h) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    rd_result r = rd_ply_parse_header(ctx, path, data, size, h);
    if (r != RD_OK) goto done;
    if (rd_compressed_ply_detect(h)) {
        r = rd_compressed_ply_decode(ctx, path, (const unsigned char *)data, size, h, &scene);
        goto done;
    }
    int vertex_index = rd_ply_element_index(h, "vertex");
    if (vertex_index < 0) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: no 'vertex' element", path);
        goto done;
    }
    const rd_ply_element *vertex = &h->elements[vertex_index];
    /* SH degree from the f_rest_* count */
    int rest = 0;
    while (rest < 64) {
        char name[32];
        snprintf(name, sizeof name, "f_rest_%d", rest);
        if (!rd_ply_find(vertex, name)) break;
        rest++;
    }
    int degree = rest == 0 ? 0 : rest == 9 ? 1 : rest == 24 ? 2 : rest == 45 ? 3 : -1;
    if (degree < 0) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: %d f_rest properties (expected 0, 9, 24 or 45)", path, rest);
        goto done;
    }
    if (vertex->has_list) {
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: element vertex: list properties are not supported", path);
        goto done;
    }
    if (vertex->stride == 0) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex has no properties", path);
        goto done;
    }
    r = rd_ply_locate(ctx, path, h, vertex_index, size);
    if (r != RD_OK) goto done;
    r = rd_scene_alloc_decoded(ctx, path, size, vertex->count, degree, &scene);
    if (r != RD_OK) goto done;

    int K = rd_sh_coeffs(degree);
    enum { MAX_FIELDS = 14 + 45 };
    field_map fields[MAX_FIELDS];
    char rest_names[45][16];
    int nf = 0;
    static const char *xyz[3] = {"x", "y", "z"}, *scl[3] = {"scale_0", "scale_1", "scale_2"},
                      *dc[3] = {"f_dc_0", "f_dc_1", "f_dc_2"}, *rot[4] = {"rot_0", "rot_1", "rot_2", "rot_3"};
    for (int a = 0; a < 3; a++) {
        fields[nf++] = (field_map){xyz[a], scene->means + a, 3};
        fields[nf++] = (field_map){scl[a], scene->log_scales + a, 3};
        fields[nf++] = (field_map){dc[a], scene->sh + a, 3 * K};
    }
    for (int a = 0; a < 4; a++) fields[nf++] = (field_map){rot[a], scene->rotations + a, 4};
    fields[nf++] = (field_map){"opacity", scene->opacities, 1};
    for (int coeff = 1; coeff < K; coeff++)
        for (int channel = 0; channel < 3; channel++) {
            int j = rd_sh_rest_index(K, coeff, channel); /* f_rest_j is channel-major */
            snprintf(rest_names[j], sizeof rest_names[j], "f_rest_%d", j);
            fields[nf++] = (field_map){rest_names[j], scene->sh + 3 * coeff + channel, 3 * K};
        }
    const rd_ply_property *props[MAX_FIELDS];
    for (int f = 0; f < nf; f++) {
        props[f] = rd_ply_find(vertex, fields[f].name);
        if (!props[f]) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: required property %s is missing", path, fields[f].name);
            goto done;
        }
        if (props[f]->type != RD_PLY_FLOAT32 && props[f]->type != RD_PLY_FLOAT64) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: property %s has type %s, expected float or double",
                        path, fields[f].name, props[f]->type_name);
            goto done;
        }
    }
    const unsigned char *base = (const unsigned char *)data + vertex->data_offset;
    for (int64_t i = 0; i < vertex->count; i++) {
        const unsigned char *row = base + (size_t)i * vertex->stride;
        for (int f = 0; f < nf; f++) {
            float v = rd_ply_value(row, props[f]);
            if (isnan(v)) {
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: vertex %lld: property %s is NaN", path, (long long)i, fields[f].name);
                goto done;
            }
            fields[f].dst[(size_t)i * (size_t)fields[f].stride] = v;
        }
    }
    scene->flags = h->antialiased ? RD_SCENE_ANTIALIASED : 0;
    snprintf(scene->format, sizeof scene->format, "inria-ply");
    snprintf(scene->header, sizeof scene->header, "PLY binary_little_endian: %d element%s, vertex %lld row%s of %zu bytes%s%s",
             h->nelements, h->nelements == 1 ? "" : "s", (long long)vertex->count, vertex->count == 1 ? "" : "s", vertex->stride,
             h->comment[0] ? "; comment: " : "", h->comment);
    size_t used = 0;
    for (int p = 0; p < vertex->nprops && used + 2 < sizeof scene->properties; p++) {
        int n = snprintf(scene->properties + used, sizeof scene->properties - used, "%s%s", p ? " " : "", vertex->props[p].name);
        if (n < 0 || used + (size_t)n >= sizeof scene->properties) break;
        used += (size_t)n;
    }

done:
    free(h);
    if (r != RD_OK) {
        rd_scene_destroy(scene);
        return r;
    }
    *out = scene;
    return RD_OK;
}

typedef struct ply_write_job {
    const rd_scene *scene;
} ply_write_job;

static bool write_ply(rd_writer *f, void *user)
{
    const rd_scene *s = ((ply_write_job *)user)->scene;
    int K = rd_sh_coeffs(s->sh_degree), rest = 3 * (K - 1);
    rd_writer_printf(f, "ply\nformat binary_little_endian 1.0\ncomment written by radiant\n");
    if (s->flags & RD_SCENE_ANTIALIASED) rd_writer_printf(f, "comment antialiased 1\n");
    rd_writer_printf(f, "element vertex %lld\n", (long long)s->count);
    const char *head[] = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
    for (int i = 0; i < 9; i++) rd_writer_printf(f, "property float %s\n", head[i]);
    for (int j = 0; j < rest; j++) rd_writer_printf(f, "property float f_rest_%d\n", j);
    const char *tail[] = {"opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};
    for (int i = 0; i < 8; i++) rd_writer_printf(f, "property float %s\n", tail[i]);
    bool ok = rd_writer_printf(f, "end_header\n");
    int nvals = 17 + rest;
    float row[17 + 45];
    for (int64_t i = 0; i < s->count && ok; i++) {
        const float *sh = s->sh + (size_t)i * (size_t)K * 3;
        int n = 0;
        for (int a = 0; a < 3; a++) row[n++] = s->means[3 * i + a];
        row[n++] = 0.0f; row[n++] = 0.0f; row[n++] = 0.0f;
        for (int c = 0; c < 3; c++) row[n++] = sh[c];
        for (int k = 1; k < K; k++)
            for (int c = 0; c < 3; c++) row[n + rd_sh_rest_index(K, k, c)] = sh[3 * k + c];
        n += rest;
        row[n++] = s->opacities[i];
        for (int a = 0; a < 3; a++) row[n++] = s->log_scales[3 * i + a];
        for (int a = 0; a < 4; a++) row[n++] = s->rotations[4 * i + a];
        ok = rd_writer_write(f, row, sizeof(float) * (size_t)nvals);
    }
    return ok;
}

rd_result rd_scene_save_ply(rd_context *ctx, const rd_scene *scene, const char *path)
{
    if (!scene || !path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_save_ply: scene and path are required");
    if (!rd_is_gaussians(scene))
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: PLY holds Gaussian scenes, and this scene is of kind %d", path,
                       (int)scene->head.kind);
    if (scene->head.memory == RD_MEMORY_DEVICE)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the scene lives in device memory; save it from host arrays", path);
    ply_write_job job = {scene};
    return rd_write_atomically(ctx, path, write_ply, &job);
}
