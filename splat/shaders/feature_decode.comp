#version 450
// feature_decode: one level's unit features phi = F / (|F| + 1e-10), F = D^T W
// (spec/features.md, "Rendering"), from the coefficient maps, in two passes: NORMS, an
// invocation a pixel, writes |F| + 1e-10; then an invocation a word of the output writes
// its element (float) or its two elements (IEEE halves, packed as unpackHalf2x16 reads
// them), each F_d = sum_c W_c D_cd divided by its pixel's norm.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool NORMS = true;
layout(push_constant) uniform Push {
    uint64_t coefficients, codebook, norms, features; // codebook: the level's L x dim entries
    uint pixels, row, offset, L, dim, half_features; // offset: the level's first coefficient in a pixel's row
} p;

float element(uint pixel, uint d)
{
    uint64_t W = p.coefficients + (uint64_t(pixel) * p.row + p.offset) * 4ul;
    float F = 0.0;
    for (uint c = 0u; c < p.L; c++) F += load_float(W, c) * load_float(p.codebook, c * p.dim + d);
    return F;
}

void main()
{
    uint id = linear_group() * 64u + gl_LocalInvocationIndex;
    if (NORMS) {
        if (id >= p.pixels) return;
        float sum = 0.0;
        for (uint d = 0u; d < p.dim; d++) {
            float F = element(id, d);
            sum += F * F;
        }
        store_float(p.norms, id, sqrt(sum) + 1e-10);
        return;
    }
    uint total = p.pixels * p.dim;
    if (p.half_features == 0u) {
        if (id >= total) return;
        uint pixel = id / p.dim;
        store_float(p.features, id, element(pixel, id % p.dim) / load_float(p.norms, pixel));
        return;
    }
    uint e = 2u * id;
    if (e >= total) return;
    float a = element(e / p.dim, e % p.dim) / load_float(p.norms, e / p.dim);
    float b = e + 1u < total ? element((e + 1u) / p.dim, (e + 1u) % p.dim) / load_float(p.norms, (e + 1u) / p.dim) : 0.0;
    store_uint(p.features, id, packHalf2x16(vec2(a, b)));
}
