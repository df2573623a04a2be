/* gltf_file.c: the glTF container (gltf.h): GLB chunks, buffers (the GLB's BIN chunk,
   base64 data: URIs, files beside the .gltf) and typed accessors. */
#include "gltf.h"
#include "../compress/formats.h" /* RD_MAX_FILE_SPLATS */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

enum { GLB_MAGIC = 0x46546C67u, CHUNK_JSON = 0x4E4F534Au, CHUNK_BIN = 0x004E4942u };

/* A .glb by its magic, or JSON text whose top object has an "asset" (glTF requires one)
   within its first 64 KiB. */
bool rd_gltf_detect(const unsigned char *data, size_t size)
{
    if (size >= 12 && rd_le32(data) == GLB_MAGIC) return true;
    size_t i = 0;
    if (size >= 3 && data[0] == 0xEF && data[1] == 0xBB && data[2] == 0xBF) i = 3; /* a UTF-8 BOM */
    while (i < size && isspace(data[i])) i++;
    if (i >= size || data[i] != '{') return false;
    static const char KEY[] = "\"asset\"";
    size_t end = size < 65536 ? size : 65536;
    for (; i + sizeof KEY - 1 <= end; i++)
        if (memcmp(data + i, KEY, sizeof KEY - 1) == 0) return true;
    return false;
}

static rd_result open_glb(rd_context *ctx, const char *path, const unsigned char *data, size_t size, const char **json,
                          size_t *json_size, rd_gltf *g)
{
    uint32_t version = rd_le32(data + 4), length = rd_le32(data + 8);
    if (version != 2) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: GLB version %u (radiant reads version 2)", path, version);
    if (length > size)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: GLB header says %u bytes and the file has %zu (truncated)", path, length, size);
    size_t at = 12;
    for (int chunk = 0; at + 8 <= length; chunk++) {
        uint32_t bytes = rd_le32(data + at), type = rd_le32(data + at + 4);
        if (bytes > length - at - 8)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: GLB chunk %d of %u bytes runs past the file's %u", path, chunk, bytes, length);
        if (chunk == 0 && type != CHUNK_JSON)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: GLB's first chunk is of type 0x%08x, not JSON", path, type);
        if (chunk == 0) *json = (const char *)data + at + 8, *json_size = bytes;
        if (chunk == 1 && type == CHUNK_BIN) g->bin = data + at + 8, g->bin_size = bytes;
        at += 8 + (size_t)bytes;
    }
    if (!*json) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: GLB of %u bytes has no JSON chunk", path, length);
    return RD_OK;
}

rd_result rd_gltf_open(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_gltf *g)
{
    memset(g, 0, sizeof *g);
    g->path = path;
    g->bytes_read = size;
    const char *json = (const char *)data;
    size_t json_size = size;
    g->binary = size >= 12 && rd_le32(data) == GLB_MAGIC;
    if (g->binary) {
        json = NULL;
        rd_result r = open_glb(ctx, path, data, size, &json, &json_size, g);
        if (r != RD_OK) return r;
    }
    rd_result r = rd_json_parse(ctx, path, json, json_size, &g->root);
    if (r != RD_OK) return r;
    if (!cJSON_IsObject(g->root)) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: the glTF JSON is not an object", path);
    const cJSON *asset = cJSON_GetObjectItemCaseSensitive(g->root, "asset");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(asset, "version");
    if (!cJSON_IsString(version)) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: asset.version: missing (a glTF file states it)", path);
    if (strncmp(version->valuestring, "2.", 2) != 0)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: asset.version \"%s\" (radiant reads glTF 2.x)", path, version->valuestring);
    const cJSON *buffers = cJSON_GetObjectItemCaseSensitive(g->root, "buffers");
    g->buffer_count = cJSON_IsArray(buffers) ? cJSON_GetArraySize(buffers) : 0;
    if (g->buffer_count > RD_GLTF_MAX_BUFFERS)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: %d buffers (radiant reads up to %d)", path, g->buffer_count,
                       RD_GLTF_MAX_BUFFERS);
    return RD_OK;
}

void rd_gltf_close(rd_gltf *g)
{
    cJSON_Delete(g->root);
    for (int i = 0; i < RD_GLTF_MAX_BUFFERS; i++) free(g->buffers[i]);
    memset(g, 0, sizeof *g);
}

/* ---- base64 ------------------------------------------------------------------------- */
static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t rd_base64_decoded_size(size_t text_size) { return text_size / 4 * 3 + 3; }

bool rd_base64_decode(const char *text, size_t text_size, unsigned char *out, size_t *out_size)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0, i = 0;
    for (; i < text_size && text[i] != '='; i++) {
        const char *at = text[i] ? strchr(ALPHABET, text[i]) : NULL;
        if (!at) return false;
        acc = acc << 6 | (uint32_t)(at - ALPHABET);
        bits += 6;
        if (bits >= 8) out[n++] = (unsigned char)(acc >> (bits -= 8));
    }
    for (; i < text_size; i++) /* only padding may follow */
        if (text[i] != '=') return false;
    *out_size = n;
    return true;
}

void rd_base64_encode(const unsigned char *data, size_t size, rd_bytes *out)
{
    unsigned char *p = rd_bytes_grow(out, (size + 2) / 3 * 4);
    if (!p) return;
    for (size_t i = 0; i < size; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16 | (i + 1 < size ? (uint32_t)data[i + 1] << 8 : 0) | (i + 2 < size ? data[i + 2] : 0);
        *p++ = (unsigned char)ALPHABET[v >> 18];
        *p++ = (unsigned char)ALPHABET[v >> 12 & 63];
        *p++ = i + 1 < size ? (unsigned char)ALPHABET[v >> 6 & 63] : '=';
        *p++ = i + 2 < size ? (unsigned char)ALPHABET[v & 63] : '=';
    }
}

/* ---- buffers ------------------------------------------------------------------------ */
/* A relative URI's path: percent escapes decoded; false for a URI with a scheme or an
   escape that is not two hex digits. */
static bool uri_to_path(const char *uri, char *out, size_t n)
{
    for (const char *p = uri; *p && *p != '/'; p++)
        if (*p == ':') return false;
    size_t k = 0;
    for (const char *p = uri; *p; p++) {
        char c = *p;
        if (c == '%') {
            unsigned v;
            if (!isxdigit((unsigned char)p[1]) || !isxdigit((unsigned char)p[2]) || sscanf(p + 1, "%2x", &v) != 1 || v == 0) return false;
            c = (char)v, p += 2;
        }
        if (k + 1 >= n) return false;
        out[k++] = c;
    }
    out[k] = 0;
    return true;
}

static rd_result load_buffer(rd_context *ctx, rd_gltf *g, int index, const unsigned char **data, size_t *size)
{
    if (index < 0 || index >= g->buffer_count)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: buffer %d does not exist (%d buffers)", g->path, index, g->buffer_count);
    const cJSON *buffer = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g->root, "buffers"), index);
    int64_t length = 0;
    char where[32];
    snprintf(where, sizeof where, "buffers[%d]", index);
    rd_result r = rd_json_whole(ctx, g->path, where, buffer, "byteLength", true, 1, 9007199254740992.0, &length);
    if (r != RD_OK) return r;
    const cJSON *uri = cJSON_GetObjectItemCaseSensitive(buffer, "uri");
    if (!uri) { /* the GLB's own chunk */
        if (!g->binary || index != 0 || !g->bin)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s has no uri and is not a GLB's binary chunk", g->path, where);
        if ((uint64_t)length > g->bin_size)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.byteLength %lld exceeds the GLB's binary chunk of %zu bytes", g->path,
                           where, (long long)length, g->bin_size);
        *data = g->bin, *size = (size_t)length;
        return RD_OK;
    }
    if (!cJSON_IsString(uri)) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.uri is not a string", g->path, where);
    const char *text = uri->valuestring;
    if (!g->loaded[index]) {
        char *bytes = NULL;
        size_t got = 0;
        if (strncmp(text, "data:", 5) == 0) {
            const char *comma = strchr(text, ',');
            if (!comma || comma - text < 12 || strncmp(comma - 7, ";base64", 7) != 0)
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.uri is a data: URI that is not base64", g->path, where);
            size_t text_size = strlen(comma + 1);
            bytes = malloc(rd_base64_decoded_size(text_size));
            if (!bytes) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold %s", g->path, where);
            if (!rd_base64_decode(comma + 1, text_size, (unsigned char *)bytes, &got)) {
                free(bytes);
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.uri: invalid base64", g->path, where);
            }
        } else {
            char name[4096], file[4096 + 512];
            if (!uri_to_path(text, name, sizeof name))
                return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: %s.uri \"%s\": radiant reads buffers from data: URIs and files "
                               "beside the glTF, not from other schemes", g->path, where, text);
            const char *slash = strrchr(g->path, '/');
            int dir = slash ? (int)(slash - g->path) : 0;
            snprintf(file, sizeof file, "%.*s%s%s", dir, g->path, slash ? "/" : "", name);
            r = rd_read_file(ctx, file, &bytes, &got);
            if (r != RD_OK) {
                char why[1024];
                snprintf(why, sizeof why, "%s", rd_last_error(ctx));
                return rd_fail(ctx, r, "%s: %s: %s", g->path, where, why);
            }
        }
        g->buffers[index] = (unsigned char *)bytes, g->buffer_sizes[index] = got, g->loaded[index] = true;
        g->bytes_read += got;
    }
    if ((uint64_t)length > g->buffer_sizes[index])
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.byteLength %lld exceeds the %zu bytes its uri holds", g->path, where,
                       (long long)length, g->buffer_sizes[index]);
    *data = g->buffers[index], *size = (size_t)length;
    return RD_OK;
}

rd_result rd_gltf_load_buffers(rd_context *ctx, rd_gltf *g)
{
    for (int i = 0; i < g->buffer_count; i++) {
        const unsigned char *data;
        size_t size;
        rd_result r = load_buffer(ctx, g, i, &data, &size);
        if (r != RD_OK) return r;
    }
    return RD_OK;
}

/* ---- accessors ---------------------------------------------------------------------- */
int rd_gltf_accessor_components(const rd_gltf *g, int index)
{
    const cJSON *a = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g->root, "accessors"), index);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(a, "type");
    if (index < 0 || !cJSON_IsString(type)) return 0;
    static const char *TYPES[] = {"SCALAR", "VEC2", "VEC3", "VEC4"};
    for (int i = 0; i < 4; i++)
        if (strcmp(type->valuestring, TYPES[i]) == 0) return i + 1;
    return 0;
}

typedef struct component_kind {
    int type;        /* glTF componentType */
    int bytes;
    bool normalized;
    unsigned flag;   /* RD_GLTF_* */
    const char *name;
} component_kind;

static const component_kind KINDS[] = {
    {5126, 4, false, RD_GLTF_FLOAT, "float"},
    {5120, 1, true, RD_GLTF_BYTE_NORM, "normalized byte"},
    {5121, 1, true, RD_GLTF_UBYTE_NORM, "normalized unsigned byte"},
    {5122, 2, true, RD_GLTF_SHORT_NORM, "normalized short"},
    {5123, 2, true, RD_GLTF_USHORT_NORM, "normalized unsigned short"},
    {5120, 1, false, RD_GLTF_BYTE, "byte"},
    {5121, 1, false, RD_GLTF_UBYTE, "unsigned byte"},
    {5122, 2, false, RD_GLTF_SHORT, "short"},
    {5123, 2, false, RD_GLTF_USHORT, "unsigned short"},
};

/* One component as glTF maps it: normalized signed values to max(c / max, -1). */
static float component(const unsigned char *p, const component_kind *k)
{
    switch (k->type) {
    case 5126: return rd_lef32(p);
    case 5120: return k->normalized ? fmaxf((float)(int8_t)p[0] / 127.0f, -1.0f) : (float)(int8_t)p[0];
    case 5121: return k->normalized ? (float)p[0] / 255.0f : (float)p[0];
    case 5122: return k->normalized ? fmaxf((float)(int16_t)rd_le16(p) / 32767.0f, -1.0f) : (float)(int16_t)rd_le16(p);
    default: return k->normalized ? (float)rd_le16(p) / 65535.0f : (float)rd_le16(p);
    }
}

/* The accessor's bufferView: where its bytes are and their stride. */
static rd_result view_bytes(rd_context *ctx, rd_gltf *g, const char *where, const cJSON *accessor, size_t element, int64_t count,
                            const unsigned char **first, size_t *stride)
{
    const double MAX_BYTES = 9007199254740992.0; /* 2^53: every offset a double holds exactly */
    int views = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(g->root, "bufferViews"));
    int64_t view_index = 0, accessor_offset = 0, view_offset = 0, view_length = 0, view_stride = 0, buffer_index = 0;
    rd_result r = rd_json_whole(ctx, g->path, where, accessor, "bufferView", true, 0, views - 1, &view_index);
    if (r == RD_OK) r = rd_json_whole(ctx, g->path, where, accessor, "byteOffset", false, 0, MAX_BYTES, &accessor_offset);
    if (r != RD_OK) return r;
    const cJSON *view = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g->root, "bufferViews"), (int)view_index);
    char view_where[48];
    snprintf(view_where, sizeof view_where, "bufferViews[%d]", (int)view_index);
    r = rd_json_whole(ctx, g->path, view_where, view, "buffer", true, 0, g->buffer_count - 1, &buffer_index);
    if (r == RD_OK) r = rd_json_whole(ctx, g->path, view_where, view, "byteLength", true, 1, MAX_BYTES, &view_length);
    if (r == RD_OK) r = rd_json_whole(ctx, g->path, view_where, view, "byteOffset", false, 0, MAX_BYTES, &view_offset);
    if (r == RD_OK) r = rd_json_whole(ctx, g->path, view_where, view, "byteStride", false, 0, 252, &view_stride);
    if (r != RD_OK) return r;
    const unsigned char *data = NULL;
    size_t size = 0;
    r = load_buffer(ctx, g, (int)buffer_index, &data, &size);
    if (r != RD_OK) return r;
    if ((uint64_t)view_offset + (uint64_t)view_length > size)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (offset %lld, %lld bytes) runs past buffer %d's %zu bytes", g->path,
                       view_where, (long long)view_offset, (long long)view_length, (int)buffer_index, size);
    if (view_stride != 0 && (view_stride < (int64_t)element || view_stride % 4))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s.byteStride %lld for elements of %zu bytes (a multiple of 4, at least the "
                       "element)", g->path, view_where, (long long)view_stride, element);
    *stride = view_stride ? (size_t)view_stride : element;
    uint64_t needed = (uint64_t)accessor_offset + (uint64_t)(count - 1) * *stride + element;
    if (needed > (uint64_t)view_length)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s (%lld elements from byte %lld) runs past %s's %lld bytes", g->path, where,
                       (long long)count, (long long)accessor_offset, view_where, (long long)view_length);
    *first = data + (size_t)view_offset + (size_t)accessor_offset;
    return RD_OK;
}

rd_result rd_gltf_accessor(rd_context *ctx, rd_gltf *g, int index, const char *semantic, int components, unsigned allowed,
                           int64_t *count, float **out)
{
    *out = NULL;
    char where[96];
    snprintf(where, sizeof where, "accessors[%d] (%s)", index, semantic);
    const cJSON *accessor = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g->root, "accessors"), index);
    if (index < 0 || !accessor) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s does not exist", g->path, where);
    int got = rd_gltf_accessor_components(g, index);
    if (got != components)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: type %s where %s belongs", g->path, where,
                       got ? cJSON_GetObjectItemCaseSensitive(accessor, "type")->valuestring : "(missing or unknown)",
                       components == 1 ? "SCALAR" : components == 3 ? "VEC3" : "VEC4");
    int64_t type = 0, n = 0;
    rd_result r = rd_json_whole(ctx, g->path, where, accessor, "componentType", true, 5120, 5126, &type);
    if (r == RD_OK) r = rd_json_whole(ctx, g->path, where, accessor, "count", true, 1, (double)RD_MAX_FILE_SPLATS, &n);
    if (r != RD_OK) return r;
    if (cJSON_GetObjectItemCaseSensitive(accessor, "sparse"))
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: %s is sparse, which radiant does not read for splats", g->path, where);
    bool normalized = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(accessor, "normalized"));
    const component_kind *kind = NULL;
    for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
        if (KINDS[i].type == (int)type && KINDS[i].normalized == (normalized && type != 5126)) kind = &KINDS[i];
    if (!kind || !(kind->flag & allowed)) {
        char list[256] = "";
        for (size_t i = 0; i < sizeof KINDS / sizeof KINDS[0]; i++)
            if (KINDS[i].flag & allowed)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", list[0] ? ", " : "", KINDS[i].name);
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s: componentType %lld%s is not allowed here (allowed: %s)", g->path, where,
                       (long long)type,
                       normalized ? " normalized" : "", list);
    }
    int64_t elements = n;
    size_t element = (size_t)kind->bytes * (size_t)components;
    const unsigned char *first = NULL;
    size_t stride = element;
    bool zeros = !cJSON_GetObjectItemCaseSensitive(accessor, "bufferView"); /* glTF: an accessor without one is zeros */
    if (!zeros) r = view_bytes(ctx, g, where, accessor, element, elements, &first, &stride);
    if (r != RD_OK) return r;
    r = rd_decode_check(ctx, g->path, g->bytes_read, (uint64_t)elements * (uint64_t)components * sizeof(float), where);
    if (r != RD_OK) return r;
    float *values = rd_alloc_array(elements * components, sizeof(float));
    if (!values) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: cannot hold %s", g->path, where);
    for (int64_t i = 0; i < elements; i++)
        for (int c = 0; c < components; c++)
            values[i * components + c] = zeros ? 0.0f : component(first + (size_t)i * stride + (size_t)c * (size_t)kind->bytes, kind);
    *count = elements, *out = values;
    return RD_OK;
}
