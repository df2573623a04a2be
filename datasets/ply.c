/* ply.c: INRIA Gaussian PLY reader and writer. Properties are found by name, in any
   order, as float or double; extra properties and elements are skipped. */
#include "ply.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_PROPS = 256, MAX_ELEMENTS = 16, MAX_HEADER = 1 << 16 };

typedef struct ply_property {
    char name[64];
    int type_size;   /* bytes; 0 for list properties */
    bool is_float;   /* float32 */
    bool is_double;  /* float64 */
    char type_name[16];
    size_t offset;
} ply_property;

typedef struct ply_element {
    char name[64];
    int64_t count;
    ply_property props[MAX_PROPS];
    int nprops;
    size_t stride;
    bool has_list;
} ply_element;

typedef struct ply_header {
    ply_element elements[MAX_ELEMENTS];
    int nelements;
    size_t data_offset;
    bool antialiased;
} ply_header;

bool rd_ply_detect(const unsigned char *head, size_t n)
{
    return n >= 4 && memcmp(head, "ply", 3) == 0 && (head[3] == '\n' || head[3] == '\r');
}

static int type_size(const char *t, bool *is_float, bool *is_double)
{
    static const struct { const char *name; int size; } types[] = {
        {"char", 1}, {"uchar", 1}, {"int8", 1}, {"uint8", 1}, {"short", 2}, {"ushort", 2},
        {"int16", 2}, {"uint16", 2}, {"int", 4}, {"uint", 4}, {"int32", 4}, {"uint32", 4},
        {"float", 4}, {"float32", 4}, {"double", 8}, {"float64", 8}};
    *is_float = strcmp(t, "float") == 0 || strcmp(t, "float32") == 0;
    *is_double = strcmp(t, "double") == 0 || strcmp(t, "float64") == 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (strcmp(t, types[i].name) == 0) return types[i].size;
    return 0;
}

static rd_result parse_header(rd_context *ctx, const char *path, const char *text, size_t size, ply_header *h)
{
    memset(h, 0, sizeof *h);
    const char *p = text, *end = text + (size < MAX_HEADER ? size : MAX_HEADER);
    bool format_ok = false;
    int line_no = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) break;
        char line[512];
        size_t len = (size_t)(nl - p);
        if (len >= sizeof line) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d is too long", path, line_no + 1);
        memcpy(line, p, len);
        line[len] = '\0';
        if (len && line[len - 1] == '\r') line[len - 1] = '\0';
        p = nl + 1;
        line_no++;
        char a[64] = "", b[64] = "", c[64] = "", d[64] = "", e[64] = "";
        int n = sscanf(line, "%63s %63s %63s %63s %63s", a, b, c, d, e);
        if (line_no == 1) {
            if (strcmp(a, "ply") != 0) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: not a PLY file (no 'ply' magic)", path);
            continue;
        }
        if (strcmp(a, "end_header") == 0) {
            if (!format_ok) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header has no format line", path);
            h->data_offset = (size_t)(p - text);
            return RD_OK;
        }
        if (strcmp(a, "format") == 0) {
            if (strcmp(b, "binary_little_endian") != 0)
                return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: format %s is not supported (binary_little_endian only)", path, b);
            format_ok = true;
        } else if (strcmp(a, "comment") == 0 || strcmp(a, "obj_info") == 0) {
            if ((strcmp(b, "antialiased") == 0 && strcmp(c, "1") == 0) ||
                (strcmp(b, "SplatRenderMode:") == 0 && strcmp(c, "mip") == 0))
                h->antialiased = true;
        } else if (strcmp(a, "element") == 0) {
            if (h->nelements == MAX_ELEMENTS) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: too many elements", path);
            char *stop = NULL;
            long long count = n >= 3 ? strtoll(c, &stop, 10) : -1;
            if (n < 3 || !stop || *stop || count < 0)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d: element %s: bad count '%s'", path, line_no, b, c);
            ply_element *el = &h->elements[h->nelements++];
            snprintf(el->name, sizeof el->name, "%s", b);
            el->count = count;
        } else if (strcmp(a, "property") == 0) {
            if (h->nelements == 0) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d: property before any element", path, line_no);
            ply_element *el = &h->elements[h->nelements - 1];
            if (el->nprops == MAX_PROPS) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element %s: too many properties", path, el->name);
            ply_property *pr = &el->props[el->nprops++];
            if (strcmp(b, "list") == 0) {
                el->has_list = true;
                snprintf(pr->name, sizeof pr->name, "%s", e);
                snprintf(pr->type_name, sizeof pr->type_name, "list");
                continue;
            }
            if (n < 3) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d: property needs a type and a name", path, line_no);
            pr->type_size = type_size(b, &pr->is_float, &pr->is_double);
            if (!pr->type_size) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: element %s: property %s has unknown type '%s'", path, el->name, c, b);
            snprintf(pr->name, sizeof pr->name, "%s", c);
            snprintf(pr->type_name, sizeof pr->type_name, "%s", b);
            pr->offset = el->stride;
            el->stride += (size_t)pr->type_size;
        } else if (a[0] != '\0') {
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header line %d: unknown keyword '%s'", path, line_no, a);
        }
    }
    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header has no end_header (truncated file?)", path);
}

static const ply_property *find_prop(const ply_element *el, const char *name)
{
    for (int i = 0; i < el->nprops; i++)
        if (strcmp(el->props[i].name, name) == 0) return &el->props[i];
    return NULL;
}

static float read_value(const unsigned char *row, const ply_property *p)
{
    if (p->is_double) {
        double v;
        memcpy(&v, row + p->offset, sizeof v);
        return (float)v;
    }
    float v;
    memcpy(&v, row + p->offset, sizeof v);
    return v;
}

typedef struct field_map {
    const char *name;
    float *dst;   /* first destination */
    int stride;   /* floats between Gaussians */
} field_map;

rd_result rd_ply_read(rd_context *ctx, const char *path, rd_scene **out)
{
    *out = NULL;
    char *data = NULL;
    size_t size = 0;
    rd_result r = rd_read_file(ctx, path, &data, &size);
    if (r != RD_OK) return r;
    ply_header *h = calloc(1, sizeof *h);
    rd_scene *scene = NULL;
    if (!h) {
        free(data);
        return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    r = parse_header(ctx, path, data, size, h);
    if (r != RD_OK) goto done;

    /* locate the vertex element; elements before it must have fixed-size rows */
    size_t offset = h->data_offset;
    const ply_element *vertex = NULL;
    for (int e = 0; e < h->nelements && !vertex; e++) {
        const ply_element *el = &h->elements[e];
        if (strcmp(el->name, "chunk") == 0 || find_prop(el, "packed_position")) {
            r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: PlayCanvas compressed PLY (element %s) is not supported yet", path, el->name);
            goto done;
        }
        if (strcmp(el->name, "vertex") == 0) { vertex = el; break; }
        if (el->has_list) {
            r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: element %s before vertex has list properties", path, el->name);
            goto done;
        }
        if ((uint64_t)el->count > (size - offset) / (el->stride ? el->stride : 1)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element %s: %lld rows do not fit in the file", path, el->name, (long long)el->count);
            goto done;
        }
        offset += (size_t)el->count * el->stride;
    }
    if (!vertex) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: no 'vertex' element", path);
        goto done;
    }
    if (vertex->has_list) {
        r = rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: element vertex: list properties are not supported", path);
        goto done;
    }
    /* SH degree from the f_rest_* count */
    int rest = 0;
    while (rest < 64) {
        char name[32];
        snprintf(name, sizeof name, "f_rest_%d", rest);
        if (!find_prop(vertex, name)) break;
        rest++;
    }
    int degree = rest == 0 ? 0 : rest == 9 ? 1 : rest == 24 ? 2 : rest == 45 ? 3 : -1;
    if (degree < 0) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: %d f_rest properties (expected 0, 9, 24 or 45)", path, rest);
        goto done;
    }
    if (vertex->stride == 0) {
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex has no properties", path);
        goto done;
    }
    uint64_t available = size - offset;
    if ((uint64_t)vertex->count > available / vertex->stride) {
        r = rd_fail(ctx, RD_ERROR_FORMAT,
                    "%s: element vertex: header declares %lld vertices of %zu bytes but only %llu bytes follow (truncated file?)",
                    path, (long long)vertex->count, vertex->stride, (unsigned long long)available);
        goto done;
    }

    r = rd_scene_alloc(ctx, vertex->count, degree, &scene);
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
    for (int j = 0; j < rest; j++) {
        /* channel-major: f_rest_j is channel j/(K-1), coefficient 1 + j%(K-1) */
        int channel = j / (K - 1), coeff = 1 + j % (K - 1);
        snprintf(rest_names[j], sizeof rest_names[j], "f_rest_%d", j);
        fields[nf++] = (field_map){rest_names[j], scene->sh + 3 * coeff + channel, 3 * K};
    }
    const ply_property *props[MAX_FIELDS];
    for (int f = 0; f < nf; f++) {
        props[f] = find_prop(vertex, fields[f].name);
        if (!props[f]) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: required property %s is missing", path, fields[f].name);
            goto done;
        }
        if (!props[f]->is_float && !props[f]->is_double) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: element vertex: property %s has type %s, expected float or double",
                        path, fields[f].name, props[f]->type_name);
            goto done;
        }
    }
    const unsigned char *base = (const unsigned char *)data + offset;
    for (int64_t i = 0; i < vertex->count; i++) {
        const unsigned char *row = base + (size_t)i * vertex->stride;
        for (int f = 0; f < nf; f++) {
            float v = read_value(row, props[f]);
            if (isnan(v)) {
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: vertex %lld: property %s is NaN", path, (long long)i, fields[f].name);
                goto done;
            }
            fields[f].dst[(size_t)i * (size_t)fields[f].stride] = v;
        }
    }
    scene->flags = h->antialiased ? RD_SCENE_ANTIALIASED : 0;
    snprintf(scene->format, sizeof scene->format, "inria-ply");
    size_t used = 0;
    for (int p = 0; p < vertex->nprops && used + 2 < sizeof scene->properties; p++) {
        int n = snprintf(scene->properties + used, sizeof scene->properties - used, "%s%s", p ? " " : "", vertex->props[p].name);
        if (n < 0 || used + (size_t)n >= sizeof scene->properties) break;
        used += (size_t)n;
    }

done:
    free(h);
    free(data);
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

static bool write_ply(const char *tmp_path, void *user)
{
    const rd_scene *s = ((ply_write_job *)user)->scene;
    FILE *f = fopen(tmp_path, "wb");
    if (!f) return false;
    int K = rd_sh_coeffs(s->sh_degree), rest = 3 * (K - 1);
    fprintf(f, "ply\nformat binary_little_endian 1.0\ncomment written by radiant\n");
    if (s->flags & RD_SCENE_ANTIALIASED) fprintf(f, "comment antialiased 1\n");
    fprintf(f, "element vertex %lld\n", (long long)s->count);
    const char *head[] = {"x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"};
    for (int i = 0; i < 9; i++) fprintf(f, "property float %s\n", head[i]);
    for (int j = 0; j < rest; j++) fprintf(f, "property float f_rest_%d\n", j);
    const char *tail[] = {"opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"};
    for (int i = 0; i < 8; i++) fprintf(f, "property float %s\n", tail[i]);
    fprintf(f, "end_header\n");
    int nvals = 17 + rest;
    float row[17 + 45];
    bool ok = true;
    for (int64_t i = 0; i < s->count && ok; i++) {
        const float *sh = s->sh + (size_t)i * (size_t)K * 3;
        int n = 0;
        for (int a = 0; a < 3; a++) row[n++] = s->means[3 * i + a];
        row[n++] = 0.0f; row[n++] = 0.0f; row[n++] = 0.0f;
        for (int c = 0; c < 3; c++) row[n++] = sh[c];
        for (int c = 0; c < 3; c++)
            for (int k = 1; k < K; k++) row[n++] = sh[3 * k + c];
        row[n++] = s->opacities[i];
        for (int a = 0; a < 3; a++) row[n++] = s->log_scales[3 * i + a];
        for (int a = 0; a < 4; a++) row[n++] = s->rotations[4 * i + a];
        ok = fwrite(row, sizeof(float), (size_t)nvals, f) == (size_t)nvals;
    }
    ok = (fclose(f) == 0) && ok;
    return ok;
}

rd_result rd_scene_save_ply(rd_context *ctx, const rd_scene *scene, const char *path)
{
    if (!scene || !path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_save_ply: scene and path are required");
    if (scene->memory == RD_MEMORY_DEVICE)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the scene lives in device memory; save it from host arrays", path);
    ply_write_job job = {scene};
    return rd_write_atomically(ctx, path, write_ply, &job);
}
