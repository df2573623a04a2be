#version 450
// feature_decode: one level's unit features phi = F / (|F| + 1e-10), F = D^T W
// (spec/features.md, "Rendering"), from the coefficient maps, in two passes: NORMS, an
// invocation a pixel, writes |F| + 1e-10 (feature_gram.glsl's squared_norm, as
// feature_relevancy.comp's); then the elements, divided by their pixel's
// norm: feature_decode_tiles.comp's matrix product, or where D is odd and halves are asked
// (a word's two halves may be two pixels') this shader again, an invocation a word of the
// output writing its element (float) or its two elements (IEEE halves, packed as
// unpackHalf2x16 reads them), each F_d = sum_c W_c D_cd.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(constant_id = 0) const bool NORMS = true;
layout(push_constant) uniform Push {
    uint64_t coefficients, codebook, norms, features, gram; // codebook, gram: the level's L x dim entries, L x L
    uint pixels, row, offset, L, dim, half_features; // offset: the level's first coefficient in a pixel's row
} p;
#include "feature_gram.glsl"

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
        bool live = id < p.pixels; // every invocation goes on, for quadratic_form's barriers (lavapipe
                                   // got a relevancy wrong where some had returned before one)
        float sum = squared_norm(p.coefficients + (uint64_t(id) * p.row + p.offset) * 4ul, p.codebook, p.gram, p.L, p.dim, live);
        if (live) store_float(p.norms, id, sqrt(max(sum, 0.0)) + 1e-10);
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
