/* conventions.c: quaternion packings, axis changes and half floats (see conventions.h). */
#include "conventions.h"

#include <string.h>

const float RD_FLIP_RUB_RDF[3] = {1.0f, -1.0f, -1.0f};

static void normalized(const float q[4], float out[4])
{
    float n = sqrtf(q[0] * q[0] + q[1] * q[1] + q[2] * q[2] + q[3] * q[3]);
    if (!(n > 0.0f) || !isfinite(n)) {
        out[0] = 1.0f, out[1] = out[2] = out[3] = 0.0f;
        return;
    }
    for (int i = 0; i < 4; i++) out[i] = q[i] / n;
}

static int largest(const float a[4])
{
    int best = 0;
    for (int i = 1; i < 4; i++)
        if (fabsf(a[i]) > fabsf(a[best])) best = i;
    return best;
}

uint32_t rd_quat_pack_spz(const float q_wxyz[4])
{
    float q[4], a[4];
    normalized(q_wxyz, q);
    a[0] = q[1], a[1] = q[2], a[2] = q[3], a[3] = q[0]; /* x y z w */
    int big = largest(a);
    uint32_t negate = a[big] < 0.0f, packed = (uint32_t)big;
    for (int i = 0; i < 4; i++) {
        if (i == big) continue;
        uint32_t sign = (uint32_t)(a[i] < 0.0f) ^ negate;
        uint32_t mag = (uint32_t)(511.0f * (fabsf(a[i]) / (float)M_SQRT1_2) + 0.5f);
        if (mag > 511u) mag = 511u;
        packed = packed << 10 | sign << 9 | mag;
    }
    return packed;
}

void rd_quat_unpack_spz(uint32_t packed, float q_wxyz[4])
{
    float a[4];
    int big = (int)(packed >> 30);
    float sum = 0.0f;
    for (int i = 3; i >= 0; i--) {
        if (i == big) continue;
        float mag = (float)M_SQRT1_2 * (float)(packed & 511u) / 511.0f;
        a[i] = (packed >> 9) & 1u ? -mag : mag;
        sum += a[i] * a[i];
        packed >>= 10;
    }
    a[big] = sqrtf(fmaxf(0.0f, 1.0f - sum));
    q_wxyz[0] = a[3], q_wxyz[1] = a[0], q_wxyz[2] = a[1], q_wxyz[3] = a[2];
}

uint32_t rd_quat_pack_playcanvas(const float q_wxyz[4])
{
    float a[4];
    normalized(q_wxyz, a);
    int big = largest(a);
    if (a[big] < 0.0f)
        for (int i = 0; i < 4; i++) a[i] = -a[i];
    uint32_t packed = (uint32_t)big;
    for (int i = 0; i < 4; i++)
        if (i != big) packed = packed << 10 | rd_pack_unorm(a[i] * (float)M_SQRT1_2 + 0.5f, 10);
    return packed;
}

void rd_quat_unpack_playcanvas(uint32_t packed, float q_wxyz[4])
{
    float v[3];
    for (int i = 0; i < 3; i++) v[i] = (rd_unpack_unorm(packed >> (20 - 10 * i), 10) - 0.5f) / (float)M_SQRT1_2;
    float m = sqrtf(fmaxf(0.0f, 1.0f - (v[0] * v[0] + v[1] * v[1] + v[2] * v[2])));
    int big = (int)(packed >> 30), j = 0;
    for (int i = 0; i < 4; i++) q_wxyz[i] = i == big ? m : v[j++];
}

/* Parity of each real SH basis function (INRIA order, k = 1..15) in x, y and z: e.g.
   k = 4 is xy, odd in x and y. Under a reflection the function changes sign when it is
   odd in an odd number of the flipped axes. */
static const unsigned char SH_PARITY[16][3] = {
    {0, 0, 0},                                                  /* 1 */
    {0, 1, 0}, {0, 0, 1}, {1, 0, 0},                            /* y, z, x */
    {1, 1, 0}, {0, 1, 1}, {0, 0, 0}, {1, 0, 1}, {0, 0, 0},      /* xy, yz, 3z2-1, xz, x2-y2 */
    {0, 1, 0}, {1, 1, 1}, {0, 1, 0}, {0, 0, 1}, {1, 0, 0}, {0, 0, 1}, {1, 0, 0}};

rd_axis_flip rd_axis_flip_make(const float flip[3])
{
    rd_axis_flip f;
    for (int a = 0; a < 3; a++) f.position[a] = flip[a] < 0.0f ? -1.0f : 1.0f;
    /* A reflection D = diag(f) acts on rotations as R -> D R D. For a quaternion whose
       axis is v this keeps the angle and maps the axis to det(D) D v. */
    float det = f.position[0] * f.position[1] * f.position[2];
    for (int a = 0; a < 3; a++) f.quat_xyz[a] = det * f.position[a];
    for (int k = 0; k < 16; k++) {
        float s = 1.0f;
        for (int a = 0; a < 3; a++)
            if (SH_PARITY[k][a]) s *= f.position[a];
        f.sh[k] = s;
    }
    return f;
}

float rd_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                man <<= 1;
                e++;
            } while (!(man & 0x400));
            bits = sign | (uint32_t)(127 - 15 - e) << 23 | (man & 0x3ff) << 13;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | man << 13;
    } else {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

uint16_t rd_half_from_float(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xff, man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0u));
    int e = (int)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        man |= 0x800000u;
        int shift = 14 - e;
        uint32_t half = man >> shift, rest = man & ((1u << shift) - 1u), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1u))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = (uint32_t)e << 10 | man >> 13, rest = man & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) half++; /* may carry into the exponent: correct */
    return (uint16_t)(sign | half);
}
