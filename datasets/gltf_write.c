/* gltf_write.c: a scene as one KHR_gaussian_splatting POINTS primitive (gltf.h): float
   accessors for position (with its bounds, as glTF requires), rotation (xyzw), linear
   scale, opacity and the SH of every degree the scene has, and COLOR_0 (RGBA bytes) so that
   viewers without the extension show a coloured point cloud. */
#include "gltf.h"
#include "../compress/conventions.h"

#include <ctype.h>
#include <stdio.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char EXT[] = "KHR_gaussian_splatting";

typedef struct writer {
    cJSON *views, *accessors, *attributes;
    rd_bytes bin;
} writer;

static cJSON *numbers(const float *v, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    return a;
}

/* An attribute's bufferView (4-byte aligned in the binary buffer) and accessor; returns
   where its data starts. */
static size_t add_attribute(writer *w, const char *semantic, const char *type, int component_type, bool normalized, int64_t count,
                            size_t bytes)
{
    size_t offset = (w->bin.size + 3) / 4 * 4;
    w->bin.size = offset + bytes; /* the caller sized the buffer; the data follows */
    cJSON *view = cJSON_CreateObject();
    cJSON_AddNumberToObject(view, "buffer", 0);
    cJSON_AddNumberToObject(view, "byteOffset", (double)offset);
    cJSON_AddNumberToObject(view, "byteLength", (double)bytes);
    cJSON_AddNumberToObject(view, "target", 34962); /* ARRAY_BUFFER */
    cJSON_AddItemToArray(w->views, view);
    cJSON *accessor = cJSON_CreateObject();
    cJSON_AddNumberToObject(accessor, "bufferView", cJSON_GetArraySize(w->views) - 1);
    cJSON_AddNumberToObject(accessor, "componentType", component_type);
    if (normalized) cJSON_AddTrueToObject(accessor, "normalized");
    cJSON_AddNumberToObject(accessor, "count", (double)count);
    cJSON_AddStringToObject(accessor, "type", type);
    cJSON_AddItemToArray(w->accessors, accessor);
    cJSON_AddNumberToObject(w->attributes, semantic, cJSON_GetArraySize(w->accessors) - 1);
    return offset;
}

static void put_f32(unsigned char *p, float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    p[0] = (unsigned char)u, p[1] = (unsigned char)(u >> 8), p[2] = (unsigned char)(u >> 16), p[3] = (unsigned char)(u >> 24);
}

static void put_floats(unsigned char *base, size_t offset, int64_t i, const float *v, int n)
{
    for (int c = 0; c < n; c++) put_f32(base + offset + ((size_t)i * (size_t)n + (size_t)c) * 4, v[c]);
}

/* Gaussian i in glTF's terms: LUF position, rotation, linear scale, opacity, SH. */
typedef struct splat {
    float mean[3], q_wxyz[4], scale[3], opacity, sh[48];
} splat;

static void splat_at(const rd_scene *s, const rd_affine *turn, int64_t i, splat *out)
{
    int K = rd_sh_coeffs(s->sh_degree);
    float log_scale[3];
    memcpy(out->mean, s->means + 3 * i, sizeof out->mean);
    memcpy(log_scale, s->log_scales + 3 * i, sizeof log_scale);
    memcpy(out->q_wxyz, s->rotations + 4 * i, sizeof out->q_wxyz);
    memcpy(out->sh, s->sh + (size_t)i * (size_t)K * 3, (size_t)K * 3 * sizeof(float));
    rd_affine_apply(turn, out->mean, log_scale, out->q_wxyz, out->sh, K);
    float *q = out->q_wxyz, n = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    for (int c = 0; c < 4; c++) q[c] = n > 0.0f ? q[c] / n : (float)(c == 0);
    for (int c = 0; c < 3; c++) out->scale[c] = expf(log_scale[c]);
    out->opacity = rd_sigmoid(s->opacities[i]);
}

/* The JSON and the binary buffer of the scene; NULL when the buffer cannot be held. */
static cJSON *build(const rd_scene *s, writer *w)
{
    static const double RDF_TO_LUF[12] = {-1, 0, 0, 0, 0, -1, 0, 0, 0, 0, 1, 0};
    rd_affine turn;
    rd_affine_make(RDF_TO_LUF, &turn);
    int64_t n = s->count;
    int K = rd_sh_coeffs(s->sh_degree);
    size_t floats = (size_t)n * sizeof(float), total = floats * (3 + 4 + 3 + 1 + 3 * (size_t)K) + 4 * (size_t)n + 64;
    if (!rd_bytes_grow(&w->bin, total)) return NULL;
    memset(w->bin.data, 0, total);
    w->bin.size = 0;
    cJSON *root = cJSON_CreateObject();
    cJSON *asset = cJSON_AddObjectToObject(root, "asset");
    cJSON_AddStringToObject(asset, "version", "2.0");
    cJSON_AddStringToObject(asset, "generator", "radiant");
    cJSON_AddItemToObject(root, "extensionsUsed", cJSON_CreateStringArray((const char *[]){EXT}, 1));
    cJSON_AddNumberToObject(root, "scene", 0);
    cJSON *scene = cJSON_CreateObject();
    cJSON_AddItemToObject(scene, "nodes", cJSON_CreateIntArray((const int[]){0}, 1));
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "scenes"), scene);
    cJSON *node = cJSON_CreateObject();
    cJSON_AddNumberToObject(node, "mesh", 0);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "nodes"), node);
    cJSON *primitive = cJSON_CreateObject();
    cJSON_AddNumberToObject(primitive, "mode", 0); /* POINTS */
    w->attributes = cJSON_AddObjectToObject(primitive, "attributes");
    cJSON *ext = cJSON_AddObjectToObject(cJSON_AddObjectToObject(primitive, "extensions"), EXT);
    cJSON_AddStringToObject(ext, "kernel", "ellipse");
    cJSON_AddStringToObject(ext, "colorSpace", "srgb_rec709_display");
    cJSON_AddStringToObject(ext, "projection", "perspective");
    cJSON_AddStringToObject(ext, "sortingMethod", "cameraDistance");
    if (s->flags & RD_SCENE_ANTIALIASED) /* no place for it in the extension: the application's extras */
        cJSON_AddTrueToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(primitive, "extras"), "radiant"), "antialiased");
    cJSON *mesh = cJSON_CreateObject();
    cJSON_AddItemToArray(cJSON_AddArrayToObject(mesh, "primitives"), primitive);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "meshes"), mesh);
    w->views = cJSON_AddArrayToObject(root, "bufferViews");
    w->accessors = cJSON_AddArrayToObject(root, "accessors");

    size_t at_position = add_attribute(w, "POSITION", "VEC3", 5126, false, n, 3 * floats);
    size_t at_rotation = add_attribute(w, "KHR_gaussian_splatting:ROTATION", "VEC4", 5126, false, n, 4 * floats);
    size_t at_scale = add_attribute(w, "KHR_gaussian_splatting:SCALE", "VEC3", 5126, false, n, 3 * floats);
    size_t at_opacity = add_attribute(w, "KHR_gaussian_splatting:OPACITY", "SCALAR", 5126, false, n, floats);
    size_t at_sh[16];
    for (int k = 0, l = 0; k < K; k++) {
        while (k >= (l + 1) * (l + 1)) l++;
        char name[64];
        snprintf(name, sizeof name, "%s:SH_DEGREE_%d_COEF_%d", EXT, l, k - l * l);
        at_sh[k] = add_attribute(w, name, "VEC3", 5126, false, n, 3 * floats);
    }
    size_t at_color = add_attribute(w, "COLOR_0", "VEC4", 5121, true, n, 4 * (size_t)n);
    w->bin.size = (w->bin.size + 3) / 4 * 4;
    float low[3] = {INFINITY, INFINITY, INFINITY}, high[3] = {-INFINITY, -INFINITY, -INFINITY};
    for (int64_t i = 0; i < n; i++) {
        splat g;
        splat_at(s, &turn, i, &g);
        const float xyzw[4] = {g.q_wxyz[1], g.q_wxyz[2], g.q_wxyz[3], g.q_wxyz[0]};
        put_floats(w->bin.data, at_position, i, g.mean, 3);
        put_floats(w->bin.data, at_rotation, i, xyzw, 4);
        put_floats(w->bin.data, at_scale, i, g.scale, 3);
        put_floats(w->bin.data, at_opacity, i, &g.opacity, 1);
        for (int k = 0; k < K; k++) put_floats(w->bin.data, at_sh[k], i, g.sh + 3 * k, 3);
        unsigned char *rgba = w->bin.data + at_color + 4 * (size_t)i;
        for (int c = 0; c < 3; c++) rgba[c] = rd_unorm8(rd_srgb_decode(rd_color_from_dc(g.sh[c]))); /* COLOR_0 is linear */
        rgba[3] = rd_unorm8(g.opacity);
        for (int c = 0; c < 3; c++) low[c] = fminf(low[c], g.mean[c]), high[c] = fmaxf(high[c], g.mean[c]);
    }
    cJSON *position = cJSON_GetArrayItem(w->accessors, 0);
    cJSON_AddItemToObject(position, "min", numbers(low, 3));
    cJSON_AddItemToObject(position, "max", numbers(high, 3));
    cJSON *buffer = cJSON_CreateObject();
    cJSON_AddNumberToObject(buffer, "byteLength", (double)w->bin.size);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(root, "buffers"), buffer);
    return root;
}

/* A file name as a relative URI: bytes outside RFC 3986's unreserved set percent-escaped. */
static void uri_of(const char *name, char *out, size_t n)
{
    size_t k = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && k + 4 < n; p++) {
        if (isalnum(*p) || strchr("-._~", *p)) out[k++] = (char)*p;
        else k += (size_t)snprintf(out + k, n - k, "%%%02X", *p);
    }
    out[k] = 0;
}

static rd_result write_glb(rd_context *ctx, const char *path, const char *json, const rd_bytes *bin)
{
    size_t json_size = strlen(json), json_padded = (json_size + 3) / 4 * 4;
    uint64_t total = 12 + 8 + json_padded + 8 + (uint64_t)bin->size;
    if (total > UINT32_MAX)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: %.1f GiB is more than a .glb holds (4 GiB); write a .gltf with its "
                       "buffer beside it", path, (double)total / 1073741824.0);
    rd_bytes out = {0};
    rd_bytes_u32(&out, 0x46546C67u), rd_bytes_u32(&out, 2), rd_bytes_u32(&out, (uint32_t)total);
    rd_bytes_u32(&out, (uint32_t)json_padded), rd_bytes_u32(&out, 0x4E4F534Au);
    rd_bytes_append(&out, json, json_size);
    for (size_t i = json_size; i < json_padded; i++) rd_bytes_u8(&out, ' ');
    rd_bytes_u32(&out, (uint32_t)bin->size), rd_bytes_u32(&out, 0x004E4942u);
    rd_bytes_append(&out, bin->data, bin->size);
    rd_result r = rd_bytes_save(ctx, path, &out);
    rd_bytes_free(&out);
    return r;
}

rd_result rd_gltf_save(rd_context *ctx, const char *path, const rd_scene *scene, rd_gltf_layout layout)
{
    if (scene->count < 1) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: glTF accessors hold at least one element, and the scene is empty", path);
    writer w = {0};
    cJSON *root = build(scene, &w);
    if (!root) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold the %lld splats' buffer", path, (long long)scene->count);
    cJSON *buffer = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "buffers"), 0);
    char bin_path[4096] = "";
    if (layout == RD_GLTF_EXTERNAL) { /* NAME.gltf's buffer is NAME.bin */
        size_t stem = strlen(path) >= 5 && strcasecmp(path + strlen(path) - 5, ".gltf") == 0 ? strlen(path) - 5 : strlen(path);
        snprintf(bin_path, sizeof bin_path, "%.*s.bin", (int)stem, path);
        const char *slash = strrchr(bin_path, '/');
        char uri[4096 * 3];
        uri_of(slash ? slash + 1 : bin_path, uri, sizeof uri);
        cJSON_AddStringToObject(buffer, "uri", uri);
    } else if (layout == RD_GLTF_EMBEDDED) {
        rd_bytes text = {0};
        rd_bytes_printf(&text, "data:application/octet-stream;base64,");
        rd_base64_encode(w.bin.data, w.bin.size, &text);
        rd_bytes_u8(&text, 0);
        if (!text.failed) cJSON_AddStringToObject(buffer, "uri", (const char *)text.data);
        w.bin.failed |= text.failed;
        rd_bytes_free(&text);
    }
    char *json = w.bin.failed ? NULL : cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    rd_result r = RD_OK;
    if (!json) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory while encoding", path);
    else if (layout == RD_GLTF_BINARY) r = write_glb(ctx, path, json, &w.bin);
    else {
        /* the buffer lands beside its final name first, and takes it only once the .gltf is in
           place: a failure leaves an older pair as it was */
        char bin_new[4096 + 16];
        snprintf(bin_new, sizeof bin_new, "%s.new", bin_path);
        if (layout == RD_GLTF_EXTERNAL) r = rd_bytes_save(ctx, bin_new, &w.bin);
        if (r == RD_OK) r = rd_file_write(ctx, path, json, strlen(json));
        if (r == RD_OK && layout == RD_GLTF_EXTERNAL && rename(bin_new, bin_path) != 0)
            r = rd_fail(ctx, RD_ERROR_IO, "%s: cannot write: renaming %s into place failed", bin_path, bin_new);
        if (r != RD_OK && layout == RD_GLTF_EXTERNAL) unlink(bin_new);
    }
    free(json);
    rd_bytes_free(&w.bin);
    return r;
}
