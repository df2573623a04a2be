/* scene_files.c: rd_scene_load and rd_scene_save: recognise a scene file by its content
   and hand it to its format's reader; pick a writer by format or file name. */
#include "ply.h"
#include "ply4d.h"
#include "gltf.h"
#include "../compress/formats.h"
#include "../compress/compact_parse.h"
#include "../splat/scene.h"
#include "../renderer/kinds.h"

#include <stdio.h>
#include <math.h>
#include <string.h>

const char *rd_file_format_name(rd_file_format f)
{
    static const char *names[] = {"auto", "inria-ply", "compressed-ply", "spz", "splat", "ksplat", "glb", "gltf", "sog", "rcompact"};
    return (unsigned)f < sizeof names / sizeof names[0] ? names[f] : "unknown";
}

static const char FRAME_HELP[] = "three letters for where +x, +y, +z point: R or L, U or D, F or B, such as RUB or RDF, "
                                 "or a z-up one such as RFU";

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static rd_file_format format_from_name(const char *path)
{
    if (ends_with(path, ".compressed.ply")) return RD_FILE_COMPRESSED_PLY;
    if (ends_with(path, ".ply")) return RD_FILE_PLY;
    if (ends_with(path, ".spz")) return RD_FILE_SPZ;
    if (ends_with(path, ".splat")) return RD_FILE_SPLAT;
    if (ends_with(path, ".ksplat")) return RD_FILE_KSPLAT;
    if (ends_with(path, ".glb")) return RD_FILE_GLB;
    if (ends_with(path, ".gltf")) return RD_FILE_GLTF;
    if (ends_with(path, ".sog") || ends_with(path, "meta.json")) return RD_FILE_SOG;
    if (ends_with(path, ".rcompact")) return RD_FILE_COMPACT;
    return RD_FILE_AUTO;
}

/* Magic bytes decide first; the headerless .splat and the weakly marked .ksplat go by
   the file name when it names them (a truncated .ksplat can look like valid .splat
   records), and by their layout checks otherwise. */
static rd_result decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, int spz_frame, bool on_device,
                        rd_scene **out)
{
    for (int k = 0; k < RD_SCENE_KIND_COUNT; k++) { /* the kinds with files of their own (a NeRF's snapshot) */
        const rd_kind_ops *ops = rd_kind((rd_scene_kind)k);
        if (ops && ops->file.detect && ops->file.detect(data, size)) return ops->file.decode(ctx, path, data, size, out);
    }
    if (rd_compact_detect(data, size)) /* 3D or 4D */
        return on_device ? rd_compact_decode_device(ctx, path, data, size, out) : rd_compact_decode(ctx, path, data, size, out);
    if (rd_ply4d_detect(data, size)) return rd_ply4d_decode(ctx, path, data, size, out); /* a PLY with rot_r_0 or rotor_0 */
    if (rd_ply_detect(data, size)) return rd_ply_decode(ctx, path, (const char *)data, size, out);
    if (rd_spz_detect(data, size)) return rd_spz_decode(ctx, path, data, size, spz_frame, out);
    if (rd_gltf_detect(data, size)) return rd_gltf_decode(ctx, path, data, size, out);
    if (rd_sog_detect(data, size)) return rd_sog_decode(ctx, path, data, size, out); /* a zip: the bundled SOG */
    rd_file_format named = format_from_name(path);
    if (named == RD_FILE_KSPLAT || (named != RD_FILE_SPLAT && rd_ksplat_detect(data, size)))
        return rd_ksplat_decode(ctx, path, data, size, out);
    if (named == RD_FILE_SPLAT || rd_splat_detect(data, size)) return rd_splat_decode(ctx, path, data, size, out);
    if (named == RD_FILE_SPZ) return rd_spz_decode(ctx, path, data, size, spz_frame, out); /* says what is wrong with it */
    if (named == RD_FILE_GLB || named == RD_FILE_GLTF) return rd_gltf_decode(ctx, path, data, size, out);
    if (named == RD_FILE_SOG) return rd_sog_decode(ctx, path, data, size, out); /* says what is wrong with it */
    return rd_fail(ctx, RD_ERROR_FORMAT,
                   "%s: unknown scene format (%zu bytes; not PLY, SPZ, glTF, SOG, radiant's compact file, a NeRF snapshot, .ksplat or a whole number of valid .splat records)", path, size);
}

/* A host 3D scene that rd_scene_load_desc asked for in device memory, taken there (GPU
   backends); any other scene as it is. */
static rd_result to_device(rd_context *ctx, const char *path, rd_scene **scene)
{
    rd_backend backend = rd_context_backend(ctx);
    if (!rd_is_gaussians(*scene) || (*scene)->head.memory == RD_MEMORY_DEVICE || (backend != RD_BACKEND_CUDA && backend != RD_BACKEND_VULKAN))
        return RD_OK;
    rd_scene *device = NULL;
    rd_result r = rd_scene_to_device(ctx, *scene, &device);
    rd_scene_destroy(*scene);
    *scene = device;
    if (r == RD_OK) return RD_OK;
    char prefix[4200];
    snprintf(prefix, sizeof prefix, "%s: into device memory", path);
    rd_error_prefix(ctx, prefix);
    return r;
}

rd_result rd_scene_load(rd_context *ctx, const char *path, rd_scene **out) { return rd_scene_load_with(ctx, path, NULL, out); }

/* The file at path as its reader decodes it (a compact file on the device where asked). */
static rd_result load(rd_context *ctx, const char *path, int spz_frame, bool on_device, rd_scene **out)
{
    /* an unbundled SOG: its folder or its meta.json (JSON of its own, named by that name) */
    char meta[4400];
    if (rd_dir_exists(path) && rd_path_join(meta, sizeof meta, path, "meta.json") && rd_file_exists(meta))
        return rd_sog_load_folder(ctx, path, out);
    if (rd_dir_exists(path)) return rd_fail(ctx, RD_ERROR_IO, "%s: is a folder, not a scene file (nor a SOG folder with meta.json)", path);
    if (ends_with(path, "meta.json")) return rd_sog_load_folder(ctx, path, out);
    char *data = NULL;
    size_t size = 0;
    rd_result r = rd_read_file(ctx, path, &data, &size);
    if (r != RD_OK) return r;
    r = decode(ctx, path, (const unsigned char *)data, size, spz_frame, on_device, out);
    free(data);
    return r;
}

rd_result rd_scene_load_with(rd_context *ctx, const char *path, const rd_scene_load_desc *desc, rd_scene **out)
{
    if (!out) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_load: out is NULL");
    *out = NULL;
    if (!path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_load: path is NULL");
    int spz_frame = desc && desc->spz_frame ? rd_spz_frame_parse(desc->spz_frame) : 0;
    if (spz_frame < 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "%s: spz_frame \"%s\": not a frame (%s)", path, desc->spz_frame, FRAME_HELP);
    bool on_device = desc && desc->memory == RD_MEMORY_DEVICE;
    if (desc && desc->memory != RD_MEMORY_HOST && !on_device)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: rd_scene_load_desc.memory %d is neither host nor device", path, (int)desc->memory);
    rd_result r = load(ctx, path, spz_frame, on_device, out);
    return r == RD_OK && on_device ? to_device(ctx, path, out) : r;
}

static rd_result encode(rd_context *ctx, const char *path, const rd_scene *s, rd_file_format format, int fractional_bits,
                        int spz_frame, bool gltf_embed)
{
    if (format == RD_FILE_PLY) return rd_scene_save_ply(ctx, s, path);
    if (format == RD_FILE_GLB) return rd_gltf_save(ctx, path, s, RD_GLTF_BINARY);
    if (format == RD_FILE_GLTF) return rd_gltf_save(ctx, path, s, gltf_embed ? RD_GLTF_EMBEDDED : RD_GLTF_EXTERNAL);
    if (format == RD_FILE_SOG) return rd_sog_save(ctx, path, s);
    if (format == RD_FILE_COMPACT) return rd_scene_compact(ctx, s, path, NULL, NULL);
    rd_bytes bytes = {0};
    rd_result r = format == RD_FILE_SPZ ? rd_spz_encode(ctx, path, s, fractional_bits, spz_frame, &bytes)
                  : format == RD_FILE_SPLAT ? rd_splat_encode(ctx, path, s, &bytes)
                                            : rd_compressed_ply_encode(ctx, path, s, &bytes);
    if (r == RD_OK) r = rd_bytes_save(ctx, path, &bytes);
    rd_bytes_free(&bytes);
    return r;
}

/* The most fractional bits with which every mean fits SPZ's signed 24-bit positions (the
   finest steps the scene allows), 1..23; *largest is the largest coordinate's magnitude. */
static int spz_finest_bits(const rd_scene *s, float *largest)
{
    float m = 0.0f;
    for (int64_t i = 0; i < 3 * s->count; i++)
        if (isfinite(s->means[i]) && fabsf(s->means[i]) > m) m = fabsf(s->means[i]);
    *largest = m;
    int bits = 23;
    while (bits > 1 && m * ldexpf(1.0f, bits) > 8388607.0f) bits--;
    return bits;
}

/* SPZ's precision by default: steps of at most 2^-15 of the largest coordinate (what 12
   bits, SPZ's usual choice, give a scene of 8 units), never coarser than 12 bits, and
   within what the scene fits. A 0.2-unit scene gets 19 bits rather than 12; a scene of
   tens of units keeps 12. Finer steps cost bytes (the donut: 650 KB at 12 bits, 783 KB at
   19, 837 KB at 23). */
static int spz_default_bits(float largest, int finest)
{
    int bits = largest > 0.0f ? (int)ceilf(15.0f - log2f(largest)) : finest;
    if (bits < 12) bits = 12;
    return bits < finest ? bits : finest;
}

/* Whether Gaussian i has a NaN or an infinity that no format should hold: any in
   its mean, log-scale, rotation or SH, or a NaN opacity (an infinite logit is opacity 0 or
   1). The renderers draw no such Gaussian. */
static bool unwritable(const rd_scene *s, int64_t i, int K)
{
    const float *fields[4] = {s->means + 3 * i, s->log_scales + 3 * i, s->rotations + 4 * i, s->sh + (size_t)i * (size_t)K * 3};
    const int counts[4] = {3, 3, 4, 3 * K};
    for (int f = 0; f < 4; f++)
        for (int k = 0; k < counts[f]; k++)
            if (!isfinite(fields[f][k])) return true;
    return isnan(s->opacities[i]);
}

/* Every format gets the scene without its unwritable Gaussians, the count logged (the
   quantising ones cannot hold them, and radiant's PLY reader refuses them as malformed);
   *kept is NULL when all are written. */
static rd_result drop_unwritable(rd_context *ctx, const char *path, const rd_scene *s, int degree, rd_scene **kept)
{
    *kept = NULL;
    int K = rd_sh_coeffs(s->sh_degree);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < s->count; i++)
        if (unwritable(s, i, K)) bad++, first = first < 0 ? i : first;
    if (!bad) return RD_OK;
    rd_log(ctx, RD_LOG_WARN, "%s: %lld of %lld Gaussians hold NaN or infinite values (the first: Gaussian %lld) and are "
           "left out, as the renderers leave them out", path, (long long)bad, (long long)s->count, (long long)first);
    rd_result r = rd_scene_alloc(ctx, s->count - bad, degree, kept);
    if (r != RD_OK) return r;
    rd_scene *out = *kept;
    int to = rd_sh_coeffs(degree);
    int64_t j = 0;
    for (int64_t i = 0; i < s->count; i++) {
        if (unwritable(s, i, K)) continue;
        memcpy(out->means + 3 * j, s->means + 3 * i, 3 * sizeof(float));
        memcpy(out->log_scales + 3 * j, s->log_scales + 3 * i, 3 * sizeof(float));
        memcpy(out->rotations + 4 * j, s->rotations + 4 * i, 4 * sizeof(float));
        out->opacities[j] = s->opacities[i];
        memcpy(out->sh + (size_t)j * (size_t)to * 3, s->sh + (size_t)i * (size_t)K * 3, (size_t)to * 3 * sizeof(float));
        j++;
    }
    out->flags = s->flags;
    return RD_OK;
}

rd_result rd_scene_save(rd_context *ctx, const rd_scene *scene, const char *path, const rd_scene_save_desc *desc)
{
    rd_scene_save_desc d = desc ? *desc : (rd_scene_save_desc){0};
    if (!scene || !path) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "rd_scene_save: scene and path are required");
    const rd_kind_ops *ops = rd_kind(rd_scene_head_of(scene)->kind);
    if (ops && ops->file.save) {
        if (d.format != RD_FILE_AUTO || !ends_with(path, ops->file.extension))
            return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: a %s scene saves as its own file, named %s", path, ops->name,
                           ops->file.extension);
        return ops->file.save(ctx, scene, path);
    }
    if (rd_is_gaussians4d(scene)) { /* its own PLY (ply4d.h), or the compact file */
        if ((d.format == RD_FILE_AUTO && ends_with(path, ".rcompact")) || d.format == RD_FILE_COMPACT)
            return rd_scene_compact(ctx, scene, path, NULL, NULL);
        if (d.format != RD_FILE_AUTO || !ends_with(path, ".ply") || ends_with(path, ".compressed.ply")) /* a 3D format's name */
            return rd_fail(ctx, RD_ERROR_UNSUPPORTED,
                           "%s: a 4D Gaussians scene saves as its own file, named .ply (not .compressed.ply, a 3D format), or as "
                           ".rcompact; `radiant convert --time T` saves its 3D slice at T in any format",
                           path);
        return rd_ply4d_save(ctx, scene, path);
    }
    if (!rd_is_gaussians(scene))
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: the scene files hold Gaussian scenes, and this scene is of kind %d", path,
                       (int)scene->head.kind);
    if (scene->head.memory == RD_MEMORY_DEVICE)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the scene lives in device memory; save it from host arrays", path);
    rd_file_format format = d.format ? d.format : format_from_name(path);
    if (format == RD_FILE_AUTO)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT,
                       "%s: cannot tell the format from the name (use .ply, .compressed.ply, .spz, .splat, .glb, .gltf, .sog, meta.json or .rcompact, or set the format)", path);
    if (format == RD_FILE_KSPLAT) return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: writing .ksplat is not supported (it is read only)", path);
    if (format < RD_FILE_AUTO || format > RD_FILE_COMPACT)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: format %d is not a rd_file_format", path, (int)format);
    if (d.sh_degree < 0 || d.sh_degree > RD_SH_DEGREE(3))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: sh_degree %d is out of range (RD_SH_DEGREE(0..3) or 0)", path, d.sh_degree);
    if (d.spz_fractional_bits && (d.spz_fractional_bits < 1 || d.spz_fractional_bits > 23))
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: spz_fractional_bits %d is out of range (1..23)", path,
                       d.spz_fractional_bits);
    int fractional_bits = d.spz_fractional_bits;
    int spz_frame = d.spz_frame ? rd_spz_frame_parse(d.spz_frame) : 0;
    if (spz_frame < 0)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: spz_frame \"%s\": not a frame (%s)", path, d.spz_frame, FRAME_HELP);
    if (format == RD_FILE_SPZ) { /* what the precision costs is said, chosen or given */
        float largest;
        int finest = spz_finest_bits(scene, &largest);
        if (!fractional_bits) {
            fractional_bits = spz_default_bits(largest, finest);
            rd_log(ctx, RD_LOG_INFO, "%s: SPZ positions in steps of %.3g units (%d fractional bits, for coordinates up to "
                   "%.4g)", path, ldexp(1.0, -fractional_bits), fractional_bits, largest);
        } else if (fractional_bits < finest - 4 && ldexp(1.0, -fractional_bits) > largest * ldexp(1.0, -13)) {
            int suggested = spz_default_bits(largest, finest);
            rd_log(ctx, RD_LOG_WARN, "%s: SPZ positions in steps of %.3g units (%d fractional bits): coarse for coordinates "
                   "up to %.4g; the default for this scene, %d bits, gives steps of %.3g", path, ldexp(1.0, -fractional_bits),
                   fractional_bits, largest, suggested, ldexp(1.0, -suggested));
        }
    }
    int degree = d.sh_degree && d.sh_degree - 1 < scene->sh_degree ? d.sh_degree - 1 : scene->sh_degree;
    if (format == RD_FILE_SPLAT && scene->sh_degree > 0 && degree > 0)
        rd_log(ctx, RD_LOG_WARN, "%s: .splat holds colour only: SH degrees 1..%d of the %lld Gaussians are not written", path,
               degree, (long long)scene->count);
    if (format == RD_FILE_SPLAT) degree = 0;
    rd_scene *cut = NULL;
    rd_result dropped = drop_unwritable(ctx, path, scene, degree, &cut);
    if (dropped != RD_OK) return dropped;
    if (cut) {
        dropped = encode(ctx, path, cut, format, fractional_bits, spz_frame, d.gltf_embed_buffer);
        rd_scene_destroy(cut);
        return dropped;
    }
    if (degree == scene->sh_degree) return encode(ctx, path, scene, format, fractional_bits, spz_frame, d.gltf_embed_buffer);
    rd_scene_desc arrays = rd_scene_arrays(scene);
    rd_result r = rd_scene_copy_arrays(ctx, &arrays, degree, &cut);
    if (r == RD_OK) r = encode(ctx, path, cut, format, fractional_bits, spz_frame, d.gltf_embed_buffer);
    rd_scene_destroy(cut);
    return r;
}
