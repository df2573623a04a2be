/* ksplat.c: mkkellogg GaussianSplats3D .ksplat (read only). The layout is not in
   spec/gaussians.md; it follows GaussianSplats3D's SplatBuffer as read by
   playcanvas/splat-transform src/lib/readers/read-ksplat.ts:
   - a 4096-byte header: u8 major (0), u8 minor (>= 1), u32 maxSections @4, u32 splatCount
     @16, u16 compressionLevel @20 (0, 1 or 2), f32 minSH @36 and maxSH @40 (0 means the
     defaults -1.5 and 1.5);
   - maxSections section headers of 1024 bytes: u32 splatCount @0, u32 maxSplatCount @4,
     u32 bucketCapacity @8, u32 bucketCount @12, f32 spatialBlockSize @16, u16
     bucketStorageSize @20, u32 quantizationRange @24 (0: level default), u32 fullBuckets
     @32, u32 partialBuckets @36, u16 shDegree @40;
   - per section: u32 sizes of the partial buckets, bucket centres (f32 x3), then
     maxSplatCount records: position (f32 x3, or u16 x3 relative to the bucket centre),
     linear scale and quaternion (w, x, y, z) as f32 or f16, RGBA bytes, SH (f32, f16, or
     bytes spread over [minSH, maxSH]) in bands, each band channel-major. */
#include "formats.h"
#include "conventions.h"

#include <stdio.h>

enum { MAIN_HEADER = 4096, SECTION_HEADER = 1024 };

typedef struct level_layout {
    int position_bytes, scale_bytes, rotation_bytes, sh_bytes, default_range;
} level_layout;
static const level_layout LEVELS[3] = {{12, 12, 16, 4, 1}, {6, 6, 8, 2, 32767}, {6, 6, 8, 1, 32767}};

bool rd_ksplat_detect(const unsigned char *data, size_t size)
{
    if (size < MAIN_HEADER || data[0] != 0 || data[1] < 1 || rd_le16(data + 20) > 2) return false;
    uint64_t sections = rd_le32(data + 4);
    return sections >= 1 && MAIN_HEADER + sections * SECTION_HEADER <= size && rd_le32(data + 16) > 0;
}

/* SH value i of a record (bands of 3, 5, 7 coefficients, each band channel-major) */
static void sh_slot(int i, int *coeff, int *channel)
{
    int band_start = i < 9 ? 0 : i < 24 ? 9 : 24, width = i < 9 ? 3 : i < 24 ? 5 : 7, first = i < 9 ? 1 : i < 24 ? 4 : 9;
    *channel = (i - band_start) / width;
    *coeff = first + (i - band_start) % width;
}

static float read_real(const unsigned char *p, int bytes) { return bytes == 4 ? rd_lef32(p) : rd_half_to_float(rd_le16(p)); }

typedef struct ksplat_section {
    uint32_t count, capacity, bucket_capacity, bucket_count, bucket_storage, range, full_buckets, partial_buckets;
    float block_size;
    int sh_degree;
} ksplat_section;

static ksplat_section read_section(const unsigned char *h, int level)
{
    ksplat_section s = {rd_le32(h), rd_le32(h + 4), rd_le32(h + 8), rd_le32(h + 12), rd_le16(h + 20), rd_le32(h + 24),
                        rd_le32(h + 32), rd_le32(h + 36), rd_lef32(h + 16), rd_le16(h + 40)};
    if (!s.range) s.range = (uint32_t)LEVELS[level].default_range;
    return s;
}

rd_result rd_ksplat_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out)
{
    *out = NULL;
    if (size < MAIN_HEADER) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %zu bytes, shorter than the 4096-byte .ksplat header", path, size);
    if (data[0] != 0 || data[1] < 1)
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED, "%s: header field version %d.%d (0.1 or later expected)", path, data[0], data[1]);
    uint32_t sections = rd_le32(data + 4), total = rd_le32(data + 16);
    int level = rd_le16(data + 20);
    if (level > 2) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field compressionLevel %d (expected 0, 1 or 2)", path, level);
    if ((uint64_t)MAIN_HEADER + (uint64_t)sections * SECTION_HEADER > size)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field maxSections %u: the section headers do not fit in %zu bytes", path, sections, size);
    if (total > RD_MAX_FILE_SPLATS) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field splatCount %u exceeds the limit", path, total);
    float sh_min = rd_lef32(data + 36), sh_max = rd_lef32(data + 40);
    if (sh_min == 0.0f) sh_min = -1.5f;
    if (sh_max == 0.0f) sh_max = 1.5f;
    const level_layout *L = &LEVELS[level];
    int degree = 0;
    /* every section's degree is checked, empty ones too: their records still take room */
    for (uint32_t k = 0; k < sections; k++) {
        ksplat_section sec = read_section(data + MAIN_HEADER + (size_t)k * SECTION_HEADER, level);
        if (sec.sh_degree > 3)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: section %u: shDegree %d (expected 0..3)", path, k, sec.sh_degree);
        if (sec.count && sec.sh_degree > degree) degree = sec.sh_degree;
    }
    /* nothing is allocated for splats the file has no room for */
    uint64_t smallest = (uint64_t)L->position_bytes + L->scale_bytes + L->rotation_bytes + 4;
    if ((uint64_t)total * smallest > size - MAIN_HEADER)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field splatCount %u needs at least %llu bytes; the file has %zu (truncated "
                       "file?)", path, total, (unsigned long long)((uint64_t)total * smallest + MAIN_HEADER), size);
    rd_scene *s = NULL;
    rd_result r = rd_scene_alloc_decoded(ctx, path, size, total, degree, &s);
    if (r != RD_OK) return r;
    int K = rd_sh_coeffs(degree);
    uint64_t at = MAIN_HEADER + (uint64_t)sections * SECTION_HEADER;
    int64_t done = 0;
    for (uint32_t k = 0; k < sections && r == RD_OK; k++) {
        ksplat_section sec = read_section(data + MAIN_HEADER + (size_t)k * SECTION_HEADER, level);
        int values = rd_sh_coeffs(sec.sh_degree) * 3 - 3;
        uint64_t record = (uint64_t)L->position_bytes + L->scale_bytes + L->rotation_bytes + 4 + (uint64_t)values * L->sh_bytes;
        uint64_t meta = 4ull * sec.partial_buckets, buckets = (uint64_t)sec.bucket_storage * sec.bucket_count;
        uint64_t need = meta + buckets + record * sec.capacity;
        if (sec.count > sec.capacity || done + sec.count > total) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: section %u: splatCount %u exceeds its capacity %u or the file's total %u",
                        path, k, sec.count, sec.capacity, total);
        } else if (need > size - at) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: section %u: needs %llu bytes but only %llu remain (truncated file?)", path, k,
                        (unsigned long long)need, (unsigned long long)(size - at));
        } else if (level > 0 && (sec.bucket_storage < 12 ||
                                 (uint64_t)sec.full_buckets + sec.partial_buckets > sec.bucket_count)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: section %u: bucket table is inconsistent (%u full + %u partial of %u, %u bytes each)",
                        path, k, sec.full_buckets, sec.partial_buckets, sec.bucket_count, sec.bucket_storage);
        }
        if (r != RD_OK) break;
        const unsigned char *partial = data + at, *centres = data + at + meta, *records = data + at + meta + buckets;
        float step = sec.block_size / 2.0f / (float)sec.range;
        uint64_t full_end = (uint64_t)sec.full_buckets * sec.bucket_capacity, bucket = sec.full_buckets, bucket_end = full_end;
        for (uint32_t j = 0; j < sec.count && r == RD_OK; j++, done++) {
            const unsigned char *p = records + record * j;
            float *m = s->means + 3 * done, *q = s->rotations + 4 * done, *sh = s->sh + (size_t)done * (size_t)K * 3;
            if (level == 0) {
                for (int c = 0; c < 3; c++) m[c] = rd_lef32(p + 4 * c);
            } else {
                /* full buckets hold bucketCapacity splats each; the partial ones list their sizes */
                uint64_t b = j < full_end ? j / sec.bucket_capacity : 0;
                if (j >= full_end) {
                    while (j >= bucket_end && bucket < (uint64_t)sec.full_buckets + sec.partial_buckets)
                        bucket_end += rd_le32(partial + 4 * (bucket++ - sec.full_buckets));
                    b = bucket - 1;
                }
                if ((j >= full_end && j >= bucket_end) || b >= sec.bucket_count) {
                    r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: section %u: splat %u lies outside the bucket table", path, k, j);
                    break;
                }
                for (int c = 0; c < 3; c++)
                    m[c] = ((float)rd_le16(p + 2 * c) - (float)sec.range) * step + rd_lef32(centres + b * sec.bucket_storage + 4 * c);
            }
            int half = L->scale_bytes / 3;
            for (int c = 0; c < 3; c++) s->log_scales[3 * done + c] = rd_log_scale(read_real(p + L->position_bytes + half * c, half));
            for (int c = 0; c < 4; c++) q[c] = read_real(p + L->position_bytes + L->scale_bytes + half * c, half);
            const unsigned char *rgba = p + L->position_bytes + L->scale_bytes + L->rotation_bytes;
            for (int c = 0; c < 3; c++) sh[c] = rd_dc_from_color((float)rgba[c] / 255.0f);
            s->opacities[done] = rd_logit((float)rgba[3] / 255.0f);
            const unsigned char *v = rgba + 4;
            for (int i = 0; i < values; i++) {
                int coeff, channel;
                sh_slot(i, &coeff, &channel);
                float x = L->sh_bytes == 1 ? sh_min + (float)v[i] / 255.0f * (sh_max - sh_min) : read_real(v + L->sh_bytes * i, L->sh_bytes);
                sh[3 * coeff + channel] = x;
            }
        }
        at += need;
    }
    if (r == RD_OK && done != total)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: header field splatCount %u but the sections hold %lld", path, total, (long long)done);
    if (r != RD_OK) {
        rd_scene_destroy(s);
        return r;
    }
    snprintf(s->format, sizeof s->format, "ksplat");
    snprintf(s->header, sizeof s->header, ".ksplat v%d.%d: splatCount %u, compressionLevel %d, maxSections %u, SH range [%g, %g]",
             data[0], data[1], total, level, sections, sh_min, sh_max);
    *out = s;
    return RD_OK;
}
