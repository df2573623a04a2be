#version 450
// feature_relevancy: each pixel's relevancy to each query at every level from its
// coefficient maps (feature_render.c's gram path, spec/features.md "What a renderer needs"):
// phi.e = W.u_e / (sqrt(W^T G W) + 1e-10) with u_e = D e and G = D D^T made on the host, then
// r = sigmoid(10 (phi.t - max_j phi.n_j)) into scores[(query * levels + level) * pixels + p].
// An invocation per pixel; |F| by feature_gram.glsl's squared_norm.
#include "common.glsl"
layout(local_size_x = 64) in;
layout(push_constant) uniform Push {
    uint64_t coefficients, gram, projected, scores, codebooks;
    uint pixels, levels, L, queries, negatives, dim;
} p;
#include "feature_gram.glsl"

void main()
{
    uint pixel = linear_group() * 64u + gl_LocalInvocationIndex;
    bool live = pixel < p.pixels; // every invocation goes on, for quadratic_form's barriers (lavapipe
                                  // got relevancies wrong where some had returned before them)
    uint row = p.levels * p.L, embeddings = p.queries + p.negatives;
    for (uint l = 0u; l < p.levels; l++) {
        uint64_t W = p.coefficients + (uint64_t(pixel) * row + l * p.L) * 4ul;
        uint64_t G = p.gram + uint64_t(l * p.L * p.L) * 4ul, U = p.projected + uint64_t(l * embeddings * p.L) * 4ul;
        float quad = squared_norm(W, p.codebooks + uint64_t(l * p.L) * p.dim * 4ul, G, p.L, p.dim, live);
        if (!live) continue;
        float norm = sqrt(max(quad, 0.0)) + 1e-10;
        float negative = -1.0 / 0.0;
        for (uint e = p.queries; e < embeddings; e++) { // the negatives' best
            float dot_e = 0.0;
            for (uint c = 0u; c < p.L; c++) dot_e += load_float(W, c) * load_float(U, e * p.L + c);
            negative = max(negative, dot_e / norm);
        }
        for (uint q = 0u; q < p.queries; q++) {
            float dot_q = 0.0;
            for (uint c = 0u; c < p.L; c++) dot_q += load_float(W, c) * load_float(U, q * p.L + c);
            store_float(p.scores, (q * p.levels + l) * p.pixels + pixel, 1.0 / (1.0 + exp(-10.0 * (dot_q / norm - negative))));
        }
    }
}
