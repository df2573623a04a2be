#version 450
// feature_decode_tiles: one level's unit features (feature_decode.comp's second pass) as a
// matrix product F = W D of the level's coefficient maps (pixels x L) and codebook (L x D),
// a group a block of 64 pixels by 64 dimensions, 4 x 4 of them an invocation, through
// shared memory 16 entries at a time; each element divided by its pixel's norm (the NORMS
// pass) and written as a float or, with its neighbour, as two packed IEEE halves (D even:
// a word's two halves are then one pixel's and one invocation's).
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
    uint64_t coefficients, codebook, norms, features, gram; // as feature_decode.comp's
    uint pixels, row, offset, L, dim, half_features;
} p;

const uint BLOCK = 64u, STEP = 16u;
shared float Ws[STEP][BLOCK], Ds[STEP][BLOCK];

void main()
{
    uint dim_blocks = (p.dim + BLOCK - 1u) / BLOCK, group = linear_group();
    uint p0 = group / dim_blocks * BLOCK, d0 = group % dim_blocks * BLOCK;
    if (p0 >= p.pixels) return; // a whole group: no barrier is left waiting
    uint t = gl_LocalInvocationIndex, ti = t / 16u, tj = t % 16u;
    float acc[4][4];
    for (uint r = 0u; r < 4u; r++)
        for (uint s = 0u; s < 4u; s++) acc[r][s] = 0.0;
    for (uint c0 = 0u; c0 < p.L; c0 += STEP) {
        for (uint e = t; e < BLOCK * STEP; e += 256u) {
            uint i = e / STEP, k = e % STEP, pixel = p0 + i, c = c0 + k; // along a pixel's row
            Ws[k][i] = pixel < p.pixels && c < p.L ? FloatAt(p.coefficients + (uint64_t(pixel) * p.row + p.offset + c) * 4ul).v : 0.0;
            uint kd = e / BLOCK, j = e % BLOCK, cd = c0 + kd; // along a codebook entry
            Ds[kd][j] = cd < p.L && d0 + j < p.dim ? FloatAt(p.codebook + (uint64_t(cd) * p.dim + d0 + j) * 4ul).v : 0.0;
        }
        barrier();
        for (uint k = 0u; k < STEP; k++) {
            vec4 a = vec4(Ws[k][ti * 4u], Ws[k][ti * 4u + 1u], Ws[k][ti * 4u + 2u], Ws[k][ti * 4u + 3u]);
            vec4 b = vec4(Ds[k][tj * 4u], Ds[k][tj * 4u + 1u], Ds[k][tj * 4u + 2u], Ds[k][tj * 4u + 3u]);
            for (uint r = 0u; r < 4u; r++)
                for (uint s = 0u; s < 4u; s++) acc[r][s] += a[r] * b[s];
        }
        barrier();
    }
    for (uint r = 0u; r < 4u; r++) {
        uint pixel = p0 + ti * 4u + r;
        if (pixel >= p.pixels) continue;
        float norm = load_float(p.norms, pixel);
        uint64_t at = uint64_t(pixel) * p.dim + d0 + tj * 4u; // the element of the first of the four
        for (uint s = 0u; s < 4u; s += (p.half_features != 0u ? 2u : 1u)) {
            uint d = d0 + tj * 4u + s;
            if (d >= p.dim) break;
            if (p.half_features != 0u)
                UintAt(p.features + (at + s) / 2ul * 4ul).v = packHalf2x16(vec2(acc[r][s] / norm, acc[r][s + 1u] / norm));
            else
                FloatAt(p.features + (at + s) * 4ul).v = acc[r][s] / norm;
        }
    }
}
