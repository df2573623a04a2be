/* splat_file.c: antimatter15 .splat (spec/gaussians.md): no header, 32 bytes a splat:
   position f32 x3, linear scale f32 x3, RGBA bytes (RGB the DC colour, A the opacity),
   quaternion bytes (w, x, y, z) as q/|q| * 128 + 128. No SH, no flags. */
#include "formats.h"
#include "conventions.h"

#include <math.h>
#include <stdio.h>

enum { SPLAT_BYTES = 32, PROBE_SPLATS = 64 };

/* No magic: a whole number of records whose first ones hold finite positions and
   non-negative finite scales. */
bool rd_splat_detect(const unsigned char *data, size_t size)
{
    if (size == 0 || size % SPLAT_BYTES) return false;
    size_t n = size / SPLAT_BYTES;
    for (size_t i = 0; i < n && i < PROBE_SPLATS; i++) {
        const unsigned char *p = data + i * SPLAT_BYTES;
        for (int c = 0; c < 6; c++) {
            float v = rd_lef32(p + 4 * c);
            if (!isfinite(v) || (c >= 3 && v < 0.0f)) return false;
        }
    }
    return true;
}

rd_result rd_splat_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    if (size == 0 || size % SPLAT_BYTES)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %zu bytes is not a whole number of 32-byte .splat records", path, size);
    int64_t n = (int64_t)(size / SPLAT_BYTES);
    rd_scene *s = NULL;
    rd_result r = rd_scene_alloc_decoded(ctx, path, size, n, 0, &s);
    if (r != RD_OK) return r;
    for (int64_t i = 0; i < n; i++) {
        const unsigned char *p = data + (size_t)i * SPLAT_BYTES;
        for (int c = 0; c < 6; c++) {
            float v = rd_lef32(p + 4 * c);
            if (!isfinite(v) || (c >= 3 && v < 0.0f)) {
                rd_scene_destroy(s);
                return rd_fail(ctx, RD_ERROR_FORMAT, "%s: record %lld: %s %d is %g", path, (long long)i,
                               c < 3 ? "position" : "scale", c % 3, v);
            }
        }
        for (int c = 0; c < 3; c++) {
            s->means[3 * i + c] = rd_lef32(p + 4 * c);
            s->log_scales[3 * i + c] = rd_log_scale(rd_lef32(p + 12 + 4 * c));
            s->sh[3 * i + c] = rd_dc_from_color((float)p[24 + c] / 255.0f);
        }
        s->opacities[i] = rd_logit((float)p[27] / 255.0f);
        for (int c = 0; c < 4; c++) s->rotations[4 * i + c] = ((float)p[28 + c] - 128.0f) / 128.0f;
    }
    snprintf(s->format, sizeof s->format, "splat");
    snprintf(s->header, sizeof s->header, ".splat: no header; %lld records of 32 bytes", (long long)n);
    *out = s;
    return RD_OK;
}

rd_result rd_splat_encode(rd_context *ctx, const char *path, const rd_scene *s, rd_bytes *out)
{
    if (s->sh_degree > 0) rd_log(ctx, RD_LOG_INFO, "%s: .splat keeps no SH beyond the base colour", path);
    if (s->flags & RD_SCENE_ANTIALIASED)
        rd_log(ctx, RD_LOG_WARN, "%s: .splat has no antialiased flag; the scene was trained antialiased", path);
    int K = rd_sh_coeffs(s->sh_degree);
    for (int64_t i = 0; i < s->count && !out->failed; i++) {
        const float *q = s->rotations + 4 * i, *dc = s->sh + (size_t)i * (size_t)K * 3;
        for (int c = 0; c < 3; c++) rd_bytes_f32(out, s->means[3 * i + c]);
        for (int c = 0; c < 3; c++) rd_bytes_f32(out, expf(s->log_scales[3 * i + c]));
        for (int c = 0; c < 3; c++) rd_bytes_u8(out, rd_unorm8(rd_color_from_dc(dc[c])));
        rd_bytes_u8(out, rd_unorm8(rd_sigmoid(s->opacities[i])));
        float n = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
        for (int c = 0; c < 4; c++) rd_bytes_u8(out, n > 0.0f ? rd_byte(q[c] / n * 128.0f + 128.0f) : (c ? 128 : 255));
    }
    return RD_OK;
}
