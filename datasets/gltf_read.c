/* gltf_read.c: the scene graph and the KHR_gaussian_splatting primitives of a glTF file
   into one radiant scene (gltf.h): every splat primitive that the file's scene reaches,
   through its node's world transform and then from glTF's frame into RDF. */
#include "gltf.h"
#include "../compress/conventions.h"
#include "../compress/formats.h"

#include <stdio.h>
#include <string.h>

static const char EXT[] = "KHR_gaussian_splatting";
enum { MAX_DEPTH = 64, MAX_PRIMITIVES = 65536 };

typedef struct placed {
    const cJSON *primitive;
    int mesh, index;
    double world[16]; /* column-major, as glTF writes matrices */
    int64_t count;
    int sh_degree;
} placed;

typedef struct reader {
    rd_context *ctx;
    rd_gltf *g;
    bool quantized_positions; /* KHR_mesh_quantization: POSITION may be integers */
    placed *list;
    int count, cap, skipped;
    bool warned_kernel, warned_sorting;
    unsigned char *visited; /* a node per byte: glTF's nodes form trees, and a node reached twice is refused */
    int node_count;
} reader;

static void mat_mul(const double a[16], const double b[16], double out[16])
{
    double t[16];
    for (int c = 0; c < 4; c++)
        for (int r = 0; r < 4; r++) {
            double v = 0.0;
            for (int k = 0; k < 4; k++) v += a[4 * k + r] * b[4 * c + k];
            t[4 * c + r] = v;
        }
    memcpy(out, t, sizeof t);
}

/* numbers[n] at obj[key] into v (left as they were when the key is absent) */
static rd_result numbers(reader *rd, const char *where, const cJSON *obj, const char *key, int n, double *v)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!a) return RD_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n)
        return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.%s: expected %d numbers", rd->g->path, where, key, n);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, a) {
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.%s[%d]: not a finite number", rd->g->path, where, key, i);
        v[i++] = e->valuedouble;
    }
    return RD_OK;
}

/* A node's local matrix: `matrix`, or translation * rotation * scale. */
static rd_result local_matrix(reader *rd, const char *where, const cJSON *node, double m[16])
{
    static const double IDENTITY[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    memcpy(m, IDENTITY, sizeof IDENTITY);
    if (cJSON_GetObjectItemCaseSensitive(node, "matrix")) {
        rd_result r = numbers(rd, where, node, "matrix", 16, m);
        if (r == RD_OK && (m[3] != 0.0 || m[7] != 0.0 || m[11] != 0.0 || m[15] != 1.0))
            r = rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.matrix: its last row is not 0 0 0 1 (glTF's node matrices are affine)",
                        rd->g->path, where);
        return r;
    }
    double t[3] = {0, 0, 0}, q[4] = {0, 0, 0, 1}, s[3] = {1, 1, 1};
    rd_result r = numbers(rd, where, node, "translation", 3, t);
    if (r == RD_OK) r = numbers(rd, where, node, "rotation", 4, q);
    if (r == RD_OK) r = numbers(rd, where, node, "scale", 3, s);
    if (r != RD_OK) return r;
    double n = sqrt(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (!(n > 0.0)) return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.rotation is a zero quaternion", rd->g->path, where);
    double x = q[0] / n, y = q[1] / n, z = q[2] / n, w = q[3] / n;
    double R[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                   2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                   2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)};
    for (int c = 0; c < 3; c++)
        for (int r2 = 0; r2 < 3; r2++) m[4 * c + r2] = R[3 * r2 + c] * s[c];
    for (int r2 = 0; r2 < 3; r2++) m[12 + r2] = t[r2];
    return RD_OK;
}

static bool has_attribute(const cJSON *attributes, const char *name)
{
    return cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(attributes, name));
}

/* The attribute's accessor index, -1 where it is not one (rd_gltf_accessor then says so). */
static int attribute(const rd_gltf *g, const cJSON *attributes, const char *name)
{
    int accessors = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g->root, "accessors"));
    return (int)rd_json_index_of(cJSON_GetObjectItemCaseSensitive(attributes, name), accessors);
}

/* The extension's properties: honoured, or refused or warned about as the draft says. */
static rd_result check_extension(reader *rd, const char *where, const cJSON *ext)
{
    const cJSON *kernel = cJSON_GetObjectItemCaseSensitive(ext, "kernel");
    const cJSON *space = cJSON_GetObjectItemCaseSensitive(ext, "colorSpace");
    const cJSON *projection = cJSON_GetObjectItemCaseSensitive(ext, "projection");
    const cJSON *sorting = cJSON_GetObjectItemCaseSensitive(ext, "sortingMethod");
    const char *path = rd->g->path;
    if (!rd->warned_kernel && (!cJSON_IsString(kernel) || strcmp(kernel->valuestring, "ellipse") != 0)) {
        /* the draft: renderers fall back to the ellipse for a kernel they do not know */
        rd_log(rd->ctx, RD_LOG_WARN, "%s: %s.kernel is %s%s%s; rendered as the draft's default, \"ellipse\"", path, where,
               cJSON_IsString(kernel) ? "\"" : "", cJSON_IsString(kernel) ? kernel->valuestring : "missing",
               cJSON_IsString(kernel) ? "\"" : "");
        rd->warned_kernel = true;
    }
    if (space && (!cJSON_IsString(space) || strcmp(space->valuestring, "srgb_rec709_display") != 0)) {
        bool linear = cJSON_IsString(space) && strcmp(space->valuestring, "lin_rec709_display") == 0;
        return rd_fail(rd->ctx, RD_ERROR_UNSUPPORTED, "%s: %s.colorSpace is %s%s%s: radiant blends splats in display sRGB "
                       "(srgb_rec709_display), as 3DGS trains them%s", path, where, cJSON_IsString(space) ? "\"" : "",
                       cJSON_IsString(space) ? space->valuestring : "not a string", cJSON_IsString(space) ? "\"" : "",
                       linear ? ", and linear-colour splats blended so would come out too dark" : "");
    }
    if (projection && (!cJSON_IsString(projection) || strcmp(projection->valuestring, "perspective") != 0))
        return rd_fail(rd->ctx, RD_ERROR_UNSUPPORTED, "%s: %s.projection is not \"perspective\", the only projection radiant "
                       "renders splats with", path, where);
    if (!rd->warned_sorting && sorting && (!cJSON_IsString(sorting) || strcmp(sorting->valuestring, "cameraDistance") != 0)) {
        rd_log(rd->ctx, RD_LOG_WARN, "%s: %s.sortingMethod is not \"cameraDistance\"; radiant sorts by view depth, as 3DGS does",
               path, where);
        rd->warned_sorting = true;
    }
    return RD_OK;
}

/* A splat primitive found under a node: checked and listed with its world matrix. */
static rd_result add_primitive(reader *rd, int mesh, int index, const cJSON *primitive, const double world[16])
{
    char where[80];
    snprintf(where, sizeof where, "meshes[%d].primitives[%d]", mesh, index);
    const cJSON *ext = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(primitive, "extensions"), EXT);
    if (!ext) {
        rd->skipped++;
        return RD_OK;
    }
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(primitive, "mode");
    if (!cJSON_IsNumber(mode) || mode->valuedouble != 0)
        return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.mode is %s: Gaussian splat primitives are POINTS (0)", rd->g->path, where,
                       cJSON_IsNumber(mode) ? "not 0" : "missing (TRIANGLES)");
    rd_result r = check_extension(rd, where, ext);
    if (r != RD_OK) return r;
    const cJSON *attributes = cJSON_GetObjectItemCaseSensitive(primitive, "attributes");
    static const char *REQUIRED[] = {"POSITION", "KHR_gaussian_splatting:ROTATION", "KHR_gaussian_splatting:SCALE",
                                     "KHR_gaussian_splatting:OPACITY"};
    for (int i = 0; i < 4; i++)
        if (!has_attribute(attributes, REQUIRED[i]))
            return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.attributes: %s missing", rd->g->path, where, REQUIRED[i]);
    if (!has_attribute(attributes, "KHR_gaussian_splatting:SH_DEGREE_0_COEF_0") && !has_attribute(attributes, "COLOR_0"))
        return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.attributes: neither KHR_gaussian_splatting:SH_DEGREE_0_COEF_0 nor "
                       "COLOR_0: the splats have no colour", rd->g->path, where);
    int degree = 0;
    for (int l = 1; l <= 3; l++) {
        int present = 0;
        char name[64];
        for (int n = 0; n < 2 * l + 1; n++) {
            snprintf(name, sizeof name, "KHR_gaussian_splatting:SH_DEGREE_%d_COEF_%d", l, n);
            present += has_attribute(attributes, name);
        }
        if (present && (present != 2 * l + 1 || degree != l - 1))
            return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.attributes: SH degree %d is %s (each degree up to the highest "
                           "is whole)", rd->g->path, where, degree != l - 1 ? l - 1 : l, degree != l - 1 ? "missing" : "partial");
        if (present) degree = l;
    }
    int position = attribute(rd->g, attributes, "POSITION");
    const cJSON *accessor = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rd->g->root, "accessors"), position);
    char accessor_where[128];
    snprintf(accessor_where, sizeof accessor_where, "accessors[%d] (%s POSITION)", position, where);
    if (!accessor) return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.attributes.POSITION is not an accessor", rd->g->path, where);
    int64_t count = 0;
    r = rd_json_whole(rd->ctx, rd->g->path, accessor_where, accessor, "count", true, 1, (double)RD_MAX_FILE_SPLATS, &count);
    if (r != RD_OK) return r;
    if (rd->count == MAX_PRIMITIVES)
        return rd_fail(rd->ctx, RD_ERROR_UNSUPPORTED, "%s: more than %d splat primitives", rd->g->path, MAX_PRIMITIVES);
    if (rd->count == rd->cap) {
        int cap = rd->cap ? 2 * rd->cap : 8;
        placed *grown = realloc(rd->list, (size_t)cap * sizeof *grown);
        if (!grown) return rd_fail(rd->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot list its primitives", rd->g->path);
        rd->list = grown, rd->cap = cap;
    }
    placed *p = &rd->list[rd->count++];
    p->primitive = primitive, p->mesh = mesh, p->index = index, p->count = count, p->sh_degree = degree;
    memcpy(p->world, world, sizeof p->world);
    return RD_OK;
}

static rd_result visit(reader *rd, int node_index, const double parent[16], int depth)
{
    const cJSON *node = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rd->g->root, "nodes"), node_index);
    char where[32];
    snprintf(where, sizeof where, "nodes[%d]", node_index);
    if (node_index < 0 || !cJSON_IsObject(node)) return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s does not exist", rd->g->path, where);
    if (rd->visited[node_index])
        return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s is reached twice: it has two parents or is its own ancestor (glTF's "
                       "nodes form trees)", rd->g->path, where);
    rd->visited[node_index] = 1;
    if (depth > MAX_DEPTH)
        return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s: the node tree is deeper than %d", rd->g->path, where, MAX_DEPTH);
    double local[16], world[16];
    rd_result r = local_matrix(rd, where, node, local);
    if (r != RD_OK) return r;
    mat_mul(parent, local, world);
    const cJSON *mesh = cJSON_GetObjectItemCaseSensitive(node, "mesh");
    if (mesh) {
        const cJSON *meshes = cJSON_GetObjectItemCaseSensitive(rd->g->root, "meshes");
        int m = (int)rd_json_index_of(mesh, cJSON_GetArraySize(meshes));
        const cJSON *primitives = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(meshes, m), "primitives");
        if (m < 0 || !cJSON_IsArray(primitives))
            return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.mesh is not a mesh with primitives", rd->g->path, where);
        int i = 0;
        const cJSON *p;
        cJSON_ArrayForEach(p, primitives) {
            r = add_primitive(rd, m, i++, p, world);
            if (r != RD_OK) return r;
        }
    }
    const cJSON *child;
    cJSON_ArrayForEach(child, cJSON_GetObjectItemCaseSensitive(node, "children")) {
        int64_t c = rd_json_index_of(child, rd->node_count);
        if (c < 0) return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s.children holds something not a node", rd->g->path, where);
        r = visit(rd, (int)c, world, depth + 1);
        if (r != RD_OK) return r;
    }
    return RD_OK;
}

/* The scene's root nodes: scenes[scene] (or the first scene); with no scenes, every node
   that is no other's child. */
static rd_result walk(reader *rd)
{
    static const double IDENTITY[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
    const cJSON *root = rd->g->root, *scenes = cJSON_GetObjectItemCaseSensitive(root, "scenes");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(root, "nodes"), *item;
    int n = rd->node_count;
    if (cJSON_GetArraySize(scenes) > 0) {
        const cJSON *chosen = cJSON_GetObjectItemCaseSensitive(root, "scene");
        int s = chosen ? (int)rd_json_index_of(chosen, cJSON_GetArraySize(scenes)) : 0;
        const cJSON *scene = cJSON_GetArrayItem(scenes, s);
        if (s < 0 || !scene) return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: \"scene\" is not one of the file's scenes", rd->g->path);
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(scene, "nodes")) {
            int64_t node = rd_json_index_of(item, n);
            rd_result r = node >= 0 ? visit(rd, (int)node, IDENTITY, 0)
                                    : rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: scenes[%d].nodes holds something not a node",
                                              rd->g->path, s);
            if (r != RD_OK) return r;
        }
        return RD_OK;
    }
    bool *child = calloc((size_t)(n > 0 ? n : 1), 1);
    if (!child) return rd_fail(rd->ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot walk its nodes", rd->g->path);
    cJSON_ArrayForEach(item, nodes) {
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(item, "children"))
            if (rd_json_index_of(c, n) >= 0) child[rd_json_index_of(c, n)] = true;
    }
    rd_result r = RD_OK;
    for (int i = 0; i < n && r == RD_OK; i++)
        if (!child[i]) r = visit(rd, i, IDENTITY, 0);
    free(child);
    return r;
}

static rd_result check_required_extensions(reader *rd)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(rd->g->root, "extensionsRequired")) {
        if (!cJSON_IsString(e)) continue;
        if (strcmp(e->valuestring, EXT) == 0) continue;
        if (strcmp(e->valuestring, "KHR_mesh_quantization") == 0) {
            rd->quantized_positions = true;
            continue;
        }
        return rd_fail(rd->ctx, RD_ERROR_UNSUPPORTED, "%s: the file requires the extension %s, which radiant does not read "
                       "(it reads %s, with KHR_mesh_quantization)", rd->g->path, e->valuestring, EXT);
    }
    return RD_OK;
}

/* One accessor of a primitive's attribute, checked to hold `count` elements. */
static rd_result read_attribute(reader *rd, const cJSON *attributes, const char *where, const char *name, int components,
                                unsigned allowed, int64_t count, float **out)
{
    int64_t got = 0;
    char semantic[160];
    snprintf(semantic, sizeof semantic, "%s %s", where, name);
    rd_result r = rd_gltf_accessor(rd->ctx, rd->g, attribute(rd->g, attributes, name), semantic, components, allowed, &got, out);
    if (r == RD_OK && got != count)
        r = rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s: %lld elements where POSITION has %lld", rd->g->path, semantic,
                    (long long)got, (long long)count);
    return r;
}

static rd_result bad_value(reader *rd, const char *where, const char *what, int64_t i, float v, const char *why)
{
    return rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s: splat %lld: %s %g %s", rd->g->path, where, (long long)i, what, v, why);
}

/* A primitive's splats into the scene from Gaussian `first`: converted to radiant's
   parameters, checked, and moved by the node's world matrix and then into RDF. */
static rd_result fill(reader *rd, const placed *p, const char *where, rd_scene *s, int64_t first)
{
    const cJSON *attributes = cJSON_GetObjectItemCaseSensitive(p->primitive, "attributes");
    int64_t n = p->count;
    int K = rd_sh_coeffs(s->sh_degree), own = rd_sh_coeffs(p->sh_degree);
    float *position = NULL, *rotation = NULL, *scale = NULL, *opacity = NULL, *color = NULL, *sh[16] = {0};
    unsigned position_kinds = rd->quantized_positions ? RD_GLTF_FLOAT | RD_GLTF_ANY_INTEGER : RD_GLTF_FLOAT;
    rd_result r = read_attribute(rd, attributes, where, "POSITION", 3, position_kinds, n, &position);
    if (r == RD_OK)
        r = read_attribute(rd, attributes, where, "KHR_gaussian_splatting:ROTATION", 4,
                           RD_GLTF_FLOAT | RD_GLTF_BYTE_NORM | RD_GLTF_SHORT_NORM, n, &rotation);
    if (r == RD_OK)
        r = read_attribute(rd, attributes, where, "KHR_gaussian_splatting:SCALE", 3,
                           RD_GLTF_FLOAT | RD_GLTF_BYTE | RD_GLTF_BYTE_NORM | RD_GLTF_SHORT | RD_GLTF_SHORT_NORM, n, &scale);
    if (r == RD_OK)
        r = read_attribute(rd, attributes, where, "KHR_gaussian_splatting:OPACITY", 1,
                           RD_GLTF_FLOAT | RD_GLTF_UBYTE_NORM | RD_GLTF_USHORT_NORM, n, &opacity);
    int color_components = 0;
    if (r == RD_OK && !has_attribute(attributes, "KHR_gaussian_splatting:SH_DEGREE_0_COEF_0")) { /* COLOR_0 stands in */
        color_components = rd_gltf_accessor_components(rd->g, attribute(rd->g, attributes, "COLOR_0")) == 3 ? 3 : 4;
        r = read_attribute(rd, attributes, where, "COLOR_0", color_components,
                           RD_GLTF_FLOAT | RD_GLTF_UBYTE_NORM | RD_GLTF_USHORT_NORM, n, &color);
    }
    for (int k = color ? 1 : 0, l = 0, m = 0; r == RD_OK && k < own; k++) {
        while (k >= (l + 1) * (l + 1)) l++;
        m = k - l * l;
        char name[64];
        snprintf(name, sizeof name, "KHR_gaussian_splatting:SH_DEGREE_%d_COEF_%d", l, m);
        r = read_attribute(rd, attributes, where, name, 3, RD_GLTF_FLOAT, n, &sh[k]);
    }
    double m[12];
    rd_affine turn;
    for (int row = 0; row < 3; row++) /* glTF's LUF into RDF: x and y negated, after the node's matrix */
        for (int c = 0; c < 4; c++) m[4 * row + c] = (row < 2 ? -1.0 : 1.0) * p->world[4 * c + row];
    if (r == RD_OK && !rd_affine_make(m, &turn))
        r = rd_fail(rd->ctx, RD_ERROR_FORMAT, "%s: %s: the node's transform is singular or not finite", rd->g->path, where);
    for (int64_t i = 0; r == RD_OK && i < n; i++) {
        int64_t at = first + i;
        float *mean = s->means + 3 * at, *log_scale = s->log_scales + 3 * at, *q = s->rotations + 4 * at;
        float *coeffs = s->sh + (size_t)at * (size_t)K * 3;
        for (int c = 0; c < 3; c++) {
            mean[c] = position[3 * i + c];
            if (r == RD_OK && !isfinite(mean[c])) r = bad_value(rd, where, "position", i, mean[c], "is not finite");
            float v = scale[3 * i + c];
            if (r == RD_OK && (!(v >= 0.0f) || !isfinite(v)))
                r = bad_value(rd, where, "scale", i, v, v < 0.0f ? "is negative: scales are stored linear (an earlier draft "
                              "of the extension said log scales; such a file must be converted)" : "is not finite");
            log_scale[c] = rd_log_scale(v);
        }
        const float *xyzw = rotation + 4 * i;
        q[0] = xyzw[3], q[1] = xyzw[0], q[2] = xyzw[1], q[3] = xyzw[2];
        float norm = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        if (r == RD_OK && (!(norm > 0.0f) || !isfinite(norm))) r = bad_value(rd, where, "rotation of length", i, norm, "is not a rotation");
        for (int c = 0; c < 4 && r == RD_OK; c++) q[c] /= norm;
        float alpha = opacity[i];
        if (r == RD_OK && !(alpha >= -1e-6f && alpha <= 1.0f + 1e-6f)) r = bad_value(rd, where, "opacity", i, alpha, "is outside 0..1");
        s->opacities[at] = rd_logit(alpha);
        memset(coeffs, 0, (size_t)K * 3 * sizeof(float));
        for (int c = 0; c < 3 && color; c++) /* COLOR_0 is linear (glTF's vertex colours); the DC's colour is display sRGB */
            coeffs[c] = rd_dc_from_color(rd_srgb_encode(color[(size_t)i * (size_t)color_components + c]));
        for (int k = color ? 1 : 0; k < own; k++)
            for (int c = 0; c < 3; c++) {
                coeffs[3 * k + c] = sh[k][3 * i + c];
                if (r == RD_OK && !isfinite(coeffs[3 * k + c])) r = bad_value(rd, where, "SH coefficient", i, coeffs[3 * k + c], "is not finite");
            }
        if (r == RD_OK) rd_affine_apply(&turn, mean, log_scale, q, coeffs, K);
    }
    free(position), free(rotation), free(scale), free(opacity), free(color);
    for (int k = 0; k < 16; k++) free(sh[k]);
    return r;
}

rd_result rd_gltf_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    rd_gltf g;
    reader rd = {.ctx = ctx, .g = &g};
    rd_result r = rd_gltf_open(ctx, path, data, size, &g);
    if (r == RD_OK) {
        rd.node_count = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g.root, "nodes"));
        rd.visited = calloc((size_t)rd.node_count + 1, 1);
        if (!rd.visited) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot walk its nodes", path);
    }
    if (r == RD_OK) r = check_required_extensions(&rd);
    if (r == RD_OK) r = walk(&rd);
    if (r == RD_OK) r = rd_gltf_load_buffers(ctx, &g); /* the decode limit counts them */
    int64_t total = 0;
    int degree = 0;
    for (int i = 0; r == RD_OK && i < rd.count; i++) {
        total += rd.list[i].count;
        degree = rd.list[i].sh_degree > degree ? rd.list[i].sh_degree : degree;
        if (total > RD_MAX_FILE_SPLATS)
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: more than %lld splats in all", path, (long long)RD_MAX_FILE_SPLATS);
    }
    if (r == RD_OK && rd.count == 0)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: no %s primitive in the file's scene (%d other primitives)", path, EXT, rd.skipped);
    rd_scene *s = NULL;
    if (r == RD_OK) r = rd_scene_alloc_decoded(ctx, path, g.bytes_read, total, degree, &s);
    int64_t first = 0;
    bool antialiased = false;
    for (int i = 0; r == RD_OK && i < rd.count; i++) {
        char where[80];
        snprintf(where, sizeof where, "meshes[%d].primitives[%d]", rd.list[i].mesh, rd.list[i].index);
        r = fill(&rd, &rd.list[i], where, s, first);
        first += rd.list[i].count;
        const cJSON *extras = cJSON_GetObjectItemCaseSensitive(rd.list[i].primitive, "extras");
        antialiased |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(extras, "radiant"), "antialiased"));
    }
    if (r == RD_OK) {
        if (rd.skipped) rd_log(ctx, RD_LOG_INFO, "%s: %d primitives without %s left out", path, rd.skipped, EXT);
        if (antialiased) s->flags |= RD_SCENE_ANTIALIASED;
        const cJSON *generator = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(g.root, "asset"), "generator");
        snprintf(s->format, sizeof s->format, "%s", g.binary ? "glb" : "gltf");
        snprintf(s->header, sizeof s->header, "glTF 2.0%s, generator \"%.80s\"; %d %s primitive%s%s; glTF's frame (LUF) "
                 "after node transforms, turned into RDF", g.binary ? " binary (.glb)" : "",
                 cJSON_IsString(generator) ? generator->valuestring : "(none)", rd.count, EXT, rd.count == 1 ? "" : "s",
                 rd.quantized_positions ? ", KHR_mesh_quantization" : "");
        *out = s;
    } else {
        rd_scene_destroy(s);
    }
    free(rd.list);
    free(rd.visited);
    rd_gltf_close(&g);
    return r;
}
