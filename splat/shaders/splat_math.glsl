// splat_math.glsl: splat/splat_math.h transcribed line for line into GLSL (the C file is
// the specification; keep the two in step). Reads the view parameters and the scene's
// arrays through buffer references.
#include "splat_layout.h"

#define RD_DEFAULT_NEAR 0.01
#define RD_LOW_PASS 0.3
#define RD_MIN_ALPHA (1.0 / 255.0)
#define RD_MAX_ALPHA 0.99
#define RD_MIN_TRANSMITTANCE 1e-4
#define RD_AA_MIN_RHO 0.005
#define RD_FRUSTUM_MARGIN 1.3
#define RD_ELLIPSE_TEST_MAX_TILES 32

// rd_view_params, field for field (every member is a 4-byte scalar, so std430 matches C)
layout(buffer_reference, std430, buffer_reference_align = 4) readonly buffer ViewParams {
    float rot[9];
    float trans[3];
    float centre[3];
    float fx, fy, cx, cy;
    float tan_half_fov_x, tan_half_fov_y;
    float near_plane, far_plane;
    int width, height, tiles_x, tiles_y, sh_degree;
    uint flags;
    float background[3];
};

// A preprocessed Gaussian as the blend reads it, 48 bytes: (u, v, conic a, conic b),
// (conic c, opacity, depth, 0), (r, g, b, 0), each written whole (partial sectors cost
// DRAM more). A smaller array keeps more of the blend's gathers in L2 (as splat_cuda.cu's
// device_splat). The clamp bits, which only a backward pass needs, are not kept.
// Addressed one at a time from a 64-bit base (see load_uint in common.glsl).
layout(buffer_reference, std430, buffer_reference_align = 16) buffer SplatAt { vec4 v[3]; };
SplatAt splat_at(uint64_t base, uint i) { return SplatAt(base + uint64_t(i) * 48ul); }

// A visible Gaussian's tiles, for the emission (splat_layout.h): the id of its
// rectangle's first tile (bits 0-25), the rectangle's width less one (26-30) and whether
// it is kept whole (31); then the accepted tiles (bit b: tile b of the rectangle, row by
// row) or, kept whole, width | height << 16. An array of its own, 8 bytes a Gaussian, so
// that the emission's gathers stay in L2.
layout(buffer_reference, std430, buffer_reference_align = 8) buffer TilesAt { uvec2 v; };
layout(buffer_reference, std430, buffer_reference_align = 16) readonly buffer UVec4At { uvec4 v; };
TilesAt tiles_at(uint64_t base, uint i) { return TilesAt(base + uint64_t(i) * 8ul); }

struct Splat {
    vec2 uv;
    vec3 conic;
    float opacity, depth;
    vec3 rgb;
    ivec4 rect; // tile_min x, y, tile_max x, y
    uint tiles_touched, accepted, clamped; // accepted: as rd_count_tiles_accepted's
};

bool is_finite(float x) { return (floatBitsToUint(x) & 0x7f800000u) != 0x7f800000u; }
float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

// The real SH basis up to degree at dir (gaussians.md); returns how many terms.
int sh_basis(int degree, vec3 dir, out float basis[16])
{
    const float C0 = 0.28209479177387814, C1 = 0.4886025119029199;
    const float C2[5] = float[5](1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
                                 0.5462742152960396);
    const float C3[7] = float[7](-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
                                 -0.4570457994644658, 1.445305721320277, -0.5900435899266435);
    float x = dir.x, y = dir.y, z = dir.z;
    int k = 1;
    basis[0] = C0;
    if (degree > 0) {
        basis[1] = -C1 * y;
        basis[2] = C1 * z;
        basis[3] = -C1 * x;
        k = 4;
    }
    if (degree > 1) {
        float xx = x * x, yy = y * y, zz = z * z;
        basis[4] = C2[0] * x * y;
        basis[5] = C2[1] * y * z;
        basis[6] = C2[2] * (2.0 * zz - xx - yy);
        basis[7] = C2[3] * x * z;
        basis[8] = C2[4] * (xx - yy);
        k = 9;
        if (degree > 2) {
            basis[9] = C3[0] * y * (3.0 * xx - yy);
            basis[10] = C3[1] * x * y * z;
            basis[11] = C3[2] * y * (4.0 * zz - xx - yy);
            basis[12] = C3[3] * z * (2.0 * zz - 3.0 * xx - 3.0 * yy);
            basis[13] = C3[4] * x * (4.0 * zz - xx - yy);
            basis[14] = C3[5] * z * (xx - yy);
            basis[15] = C3[6] * x * (xx - 3.0 * yy);
            k = 16;
        }
    }
    return k;
}

vec3 sh_to_rgb(int degree, uint64_t sh, vec3 dir)
{
    float basis[16];
    int k = sh_basis(degree, dir, basis);
    vec3 rgb = vec3(0.0);
    if (k == 16 && (sh & 15ul) == 0ul) {
        // degree 3 from an aligned row: its 48 floats as 12 vec4 loads, all in flight
        // together (one float at a time, each thread waited out a load per coefficient)
        float f[48];
        for (int t = 0; t < 12; t++) {
            vec4 q = Vec4At(sh + uint64_t(t) * 16ul).v;
            f[4 * t] = q.x, f[4 * t + 1] = q.y, f[4 * t + 2] = q.z, f[4 * t + 3] = q.w;
        }
        for (int j = 0; j < 16; j++) rgb += basis[j] * vec3(f[3 * j], f[3 * j + 1], f[3 * j + 2]);
        return rgb;
    }
    for (int j = 0; j < k; j++) rgb += basis[j] * load_vec3(sh, uint(j));
    return rgb;
}

// The same from a row of half-precision coefficients (RD_SCENE_HALF_SH) that starts at half
// `first` of the array at sh: two halves a uint, a degree-3 row (96 bytes, 16-byte aligned
// when the array is) as six uvec4 loads. As in sh_to_rgb, the unpacked array lives in the
// aligned branch alone: one indexed by a loop counter there went to local memory, and
// preprocess at 6M took 1.54 ms where the floats take 0.97 (H100).
float half_at(uint64_t sh, uint64_t at) { return unpackHalf2x16(UintAt(sh + (at >> 1) * 4ul).v)[uint(at & 1ul)]; }

vec3 sh_to_rgb_half(int degree, uint64_t sh, uint64_t first, vec3 dir)
{
    float basis[16];
    int k = sh_basis(degree, dir, basis);
    vec3 rgb = vec3(0.0);
    if (k == 16 && (first & 7ul) == 0ul && (sh & 15ul) == 0ul) {
        uvec4 q[6];
        for (int t = 0; t < 6; t++) q[t] = UVec4At(sh + first * 2ul + uint64_t(t) * 16ul).v; // as bits: halves are no floats
        float f[48];
        for (int t = 0; t < 6; t++) {
            vec2 a = unpackHalf2x16(q[t].x), b = unpackHalf2x16(q[t].y), c = unpackHalf2x16(q[t].z), e = unpackHalf2x16(q[t].w);
            f[8 * t] = a.x, f[8 * t + 1] = a.y, f[8 * t + 2] = b.x, f[8 * t + 3] = b.y;
            f[8 * t + 4] = c.x, f[8 * t + 5] = c.y, f[8 * t + 6] = e.x, f[8 * t + 7] = e.y;
        }
        for (int j = 0; j < 16; j++) rgb += basis[j] * vec3(f[3 * j], f[3 * j + 1], f[3 * j + 2]);
        return rgb;
    }
    for (int j = 0; j < k; j++) {
        uint64_t at = first + uint64_t(3 * j);
        rgb += basis[j] * vec3(half_at(sh, at), half_at(sh, at + 1ul), half_at(sh, at + 2ul));
    }
    return rgb;
}

ivec2 tile_range(float p, float r, int tiles, bool inria)
{
    float a, b;
    if (inria) {
        float q = p - 0.5;
        a = trunc((q - r) / RD_VK_TILE);
        b = trunc((q + r + RD_VK_TILE - 1) / RD_VK_TILE);
    } else {
        float first_pixel = ceil(p - r - 0.5), last_pixel = floor(p + r - 0.5);
        a = floor(first_pixel / RD_VK_TILE);
        b = floor(last_pixel / RD_VK_TILE) + 1.0;
    }
    return ivec2(int(clampf(a, 0.0, float(tiles))), int(clampf(b, 0.0, float(tiles))));
}

float touch_limit(float opacity) { return 2.0 * log(255.0 * opacity) * 1.001 + 1e-3; }

// rd_rect_touches (splat_math.h): the form at its minimiser along the vertical and the
// horizontal segment that face the mean (or pass through it)
bool rect_touches(vec2 uv, vec3 conic, float limit, float x0, float x1, float y0, float y1)
{
    x0 -= uv.x, x1 -= uv.x, y0 -= uv.y, y1 -= uv.y;
    if (x0 <= 0.0 && x1 >= 0.0 && y0 <= 0.0 && y1 >= 0.0) return true;
    float a = conic.x, b = conic.y, c = conic.z;
    float dx = clampf(0.0, x0, x1), dy = clampf(-b * dx / c, y0, y1);
    if (a * dx * dx + 2.0 * b * dx * dy + c * dy * dy <= limit) return true;
    dy = clampf(0.0, y0, y1);
    dx = clampf(-b * dy / a, x0, x1);
    return a * dx * dx + 2.0 * b * dx * dy + c * dy * dy <= limit;
}

bool tile_touches(Splat s, ViewParams vp, int tx, int ty)
{
    if ((vp.flags & RD_VK_FLAG_INRIA_EXTENT) != 0u) return true;
    if ((s.rect.z - s.rect.x) * (s.rect.w - s.rect.y) > RD_ELLIPSE_TEST_MAX_TILES) return true;
    int px1 = min((tx + 1) * RD_VK_TILE, vp.width), py1 = min((ty + 1) * RD_VK_TILE, vp.height);
    return rect_touches(s.uv, s.conic, touch_limit(s.opacity), float(tx * RD_VK_TILE) + 0.5, float(px1) - 0.5,
                        float(ty * RD_VK_TILE) + 0.5, float(py1) - 0.5);
}

uint count_tiles_accepted(Splat s, ViewParams vp, out uint accepted)
{
    int area = (s.rect.z - s.rect.x) * (s.rect.w - s.rect.y);
    accepted = 0u;
    if ((vp.flags & RD_VK_FLAG_INRIA_EXTENT) != 0u || area > RD_ELLIPSE_TEST_MAX_TILES) return uint(area);
    uint mask = 0u, bit = 1u;
    for (int y = s.rect.y; y < s.rect.w; y++)
        for (int x = s.rect.x; x < s.rect.z; x++, bit <<= 1)
            if (tile_touches(s, vp, x, y)) mask |= bit;
    accepted = mask;
    return uint(bitCount(mask));
}

// The scene's arrays (rd_gaussians).
struct Gaussians {
    uint64_t means, log_scales, rotations, opacities, sh; // device addresses
    int sh_degree; // the stored degree, plus RD_VK_SH_HALF where sh holds halves and RD_VK_SHAPE_HALF
                   // where rotations holds the shape's halves (log_scales and opacities unused)
};

Splat splat_preprocess(ViewParams vp, Gaussians scene, uint i)
{
    Splat culled;
    culled.uv = vec2(0.0);
    culled.conic = vec3(0.0);
    culled.opacity = 0.0;
    culled.depth = 0.0;
    culled.rgb = vec3(0.0);
    culled.rect = ivec4(0);
    culled.tiles_touched = 0u;
    culled.accepted = 0u;
    culled.clamped = 0u;
    Splat out_ = culled;
    vec3 m = load_vec3(scene.means, i);
    float R[9];
    for (int k = 0; k < 9; k++) R[k] = vp.rot[k];

    // 1. view space
    float t[3];
    for (int r = 0; r < 3; r++) t[r] = R[3 * r] * m.x + R[3 * r + 1] * m.y + R[3 * r + 2] * m.z + vp.trans[r];
    if (!(t[2] > vp.near_plane && t[2] < vp.far_plane) || !is_finite(t[0]) || !is_finite(t[1])) return culled;

    // 2. 3D covariance factor M = Rq S
    bool half_shape = (scene.sh_degree & RD_VK_SHAPE_HALF) != 0;
    uvec4 shape = half_shape ? UVec4At(scene.rotations + uint64_t(i) * 16ul).v : uvec4(0u); // w x | y z | sx sy | sz opacity
    vec4 q = half_shape ? vec4(unpackHalf2x16(shape.x), unpackHalf2x16(shape.y)) : load_float4(scene.rotations, i);
    float qmax = max(max(abs(q.x), abs(q.y)), max(abs(q.z), abs(q.w)));
    if (!(qmax > 0.0) || !is_finite(qmax)) return culled;
    float w = q.x / qmax, x = q.y / qmax, y = q.z / qmax, z = q.w / qmax;
    float qn = sqrt(w * w + x * x + y * y + z * z);
    w /= qn; x /= qn; y /= qn; z /= qn;
    float Rq[9] = float[9](1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                           2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                           2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y));
    vec3 log_scale = half_shape ? vec3(unpackHalf2x16(shape.z), unpackHalf2x16(shape.w).x) : load_vec3(scene.log_scales, i);
    float s[3] = float[3](exp(log_scale.x), exp(log_scale.y), exp(log_scale.z));

    // 3. EWA projection with the frustum-clamped Jacobian
    float limx = RD_FRUSTUM_MARGIN * vp.tan_half_fov_x, limy = RD_FRUSTUM_MARGIN * vp.tan_half_fov_y;
    float tz = t[2];
    float tx = clampf(t[0] / tz, -limx, limx) * tz, ty = clampf(t[1] / tz, -limy, limy) * tz;
    float J[6] = float[6](vp.fx / tz, 0.0, -vp.fx * tx / (tz * tz), 0.0, vp.fy / tz, -vp.fy * ty / (tz * tz));
    float P[6];
    for (int r = 0; r < 2; r++) {
        float JR[3];
        for (int c = 0; c < 3; c++) JR[c] = J[3 * r] * R[c] + J[3 * r + 1] * R[3 + c] + J[3 * r + 2] * R[6 + c];
        for (int c = 0; c < 3; c++) P[3 * r + c] = (JR[0] * Rq[c] + JR[1] * Rq[3 + c] + JR[2] * Rq[6 + c]) * s[c];
    }
    float a = P[0] * P[0] + P[1] * P[1] + P[2] * P[2];
    float b = P[0] * P[3] + P[1] * P[4] + P[2] * P[5];
    float c = P[3] * P[3] + P[4] * P[4] + P[5] * P[5];
    float m01 = P[0] * P[4] - P[1] * P[3], m02 = P[0] * P[5] - P[2] * P[3], m12 = P[1] * P[5] - P[2] * P[4];
    float det_before = m01 * m01 + m02 * m02 + m12 * m12;
    float det = det_before + RD_LOW_PASS * (a + c) + RD_LOW_PASS * RD_LOW_PASS;
    a += RD_LOW_PASS;
    c += RD_LOW_PASS;

    float opacity = 1.0 / (1.0 + exp(-(half_shape ? unpackHalf2x16(shape.w).y : load_float(scene.opacities, i))));
    if ((vp.flags & RD_VK_FLAG_ANTIALIASED) != 0u)
        opacity *= sqrt(max(det_before / det, RD_AA_MIN_RHO * RD_AA_MIN_RHO));

    // 4. screen mean from the unclamped position
    float u = vp.fx * t[0] / tz + vp.cx, v = vp.fy * t[1] / tz + vp.cy;

    // 5. conic
    if (!(det > 0.0) || !is_finite(det) || !is_finite(u) || !is_finite(v) || !is_finite(opacity)) return culled;
    out_.conic = vec3(c / det, -b / det, a / det);

    // 6. extent
    float rx, ry;
    bool inria = (vp.flags & RD_VK_FLAG_INRIA_EXTENT) != 0u;
    if (inria) {
        float mid = 0.5 * (a + c);
        float lambda = mid + sqrt(max(0.1, mid * mid - det));
        rx = ry = ceil(3.0 * sqrt(lambda));
    } else {
        if (opacity < RD_MIN_ALPHA) return culled;
        float k = min(3.33, sqrt(2.0 * log(opacity * 255.0)));
        rx = ceil(k * sqrt(a));
        ry = ceil(k * sqrt(c));
    }
    ivec2 xr = tile_range(u, rx, vp.tiles_x, inria), yr = tile_range(v, ry, vp.tiles_y, inria);
    out_.rect = ivec4(xr.x, yr.x, xr.y, yr.y);
    if (out_.rect.z <= out_.rect.x || out_.rect.w <= out_.rect.y) return culled;

    // 7. colour
    vec3 d = m - vec3(vp.centre[0], vp.centre[1], vp.centre[2]);
    float dn = sqrt(d.x * d.x + d.y * d.y + d.z * d.z);
    if (dn > 0.0) d /= dn;
    int stored = scene.sh_degree & (RD_VK_SH_HALF - 1); // the flags' bits above it
    uint K = uint((stored + 1) * (stored + 1));
    vec3 rgb = (scene.sh_degree & RD_VK_SH_HALF) != 0 ? sh_to_rgb_half(vp.sh_degree, scene.sh, uint64_t(i) * uint64_t(K * 3u), d)
                                                      : sh_to_rgb(vp.sh_degree, scene.sh + uint64_t(i) * uint64_t(K * 12u), d);
    for (int ch = 0; ch < 3; ch++) {
        rgb[ch] += 0.5;
        if (!is_finite(rgb[ch])) return culled;
        if (rgb[ch] < 0.0) {
            rgb[ch] = 0.0;
            out_.clamped |= 1u << ch;
        }
    }
    out_.rgb = rgb;
    out_.uv = vec2(u, v);
    out_.opacity = opacity;
    out_.depth = tz;
    uint accepted;
    out_.tiles_touched = count_tiles_accepted(out_, vp, accepted);
    out_.accepted = accepted;
    return out_;
}

void store_splat(uint64_t splats, uint i, Splat s)
{
    SplatAt at = splat_at(splats, i);
    at.v[0] = vec4(s.uv, s.conic.x, s.conic.y);
    at.v[1] = vec4(s.conic.z, s.opacity, s.depth, 0.0);
    at.v[2] = vec4(s.rgb, 0.0);
}

// A visible Gaussian's packed tiles (TilesAt).
uvec2 pack_tiles(Splat s, ViewParams vp)
{
    uint width = uint(s.rect.z - s.rect.x), height = uint(s.rect.w - s.rect.y);
    uint first = uint(s.rect.y * vp.tiles_x + s.rect.x);
    if (s.accepted == 0u) return uvec2(first | RD_HEAD_WHOLE, width | height << 16);
    return uvec2(first | (width - 1u) << RD_HEAD_TILE_BITS, s.accepted);
}

// The position of the set bit of `mask` that has `rank` set bits below it (rank under
// bitCount(mask)), halving the word five times (splat_cuda.cu's nth_set_bit).
uint nth_set_bit(uint mask, uint rank)
{
    uint position = 0u;
    for (uint half_ = 16u; half_ != 0u; half_ >>= 1) {
        uint below = uint(bitCount(mask & ((1u << half_) - 1u)));
        bool upper = rank >= below;
        rank -= upper ? below : 0u;
        mask >>= upper ? half_ : 0u;
        position += upper ? half_ : 0u;
    }
    return position;
}

// A visible Gaussian's pairs from its packed tiles (pack_tiles): how many, and the tile id
// of its r-th (row-major over the rectangle where it is kept whole, else the r-th tile that
// preprocess accepted).
uint packed_pair_count(uvec2 packed)
{
    return (packed.x & RD_HEAD_WHOLE) != 0u ? (packed.y & 0xffffu) * (packed.y >> 16) : uint(bitCount(packed.y));
}
uint packed_pair_tile(uvec2 packed, uint r, int tiles_x)
{
    uint head = packed.x, first_tile = head & ((1u << RD_HEAD_TILE_BITS) - 1u);
    bool whole = (head & RD_HEAD_WHOLE) != 0u;
    uint width = whole ? packed.y & 0xffffu : (head >> RD_HEAD_TILE_BITS) + 1u;
    uint b = whole ? r : nth_set_bit(packed.y, r); // the tile's place in the rectangle
    return first_tile + (b / width) * uint(tiles_x) + b % width;
}
