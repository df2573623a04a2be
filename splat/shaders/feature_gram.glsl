// feature_gram.glsl: |F|^2 of a pixel's coefficients W (L floats at W) at a level of
// codebook D (L x dim) and G = D D^T (L x L), for the feature shaders that need a pixel's
// norm (feature_relevancy.comp, feature_decode.comp's NORMS pass): squared_norm. The
// quadratic form W^T G W goes 16 x 16 entries at a time:
// G's block in shared memory (loaded by the group, read by every invocation at once), the
// pixel's two runs of W in registers, so that a pixel reads W 2L^2/16 times, not 2L^2.
// Every invocation of the group must call it (barriers); live: the pixel is in the image.
const uint GRAM_STEP = 16u;
shared float gram_block[GRAM_STEP][GRAM_STEP];

float quadratic_form(uint64_t W, uint64_t G, uint L, bool live)
{
    float quad = 0.0;
    for (uint a0 = 0u; a0 < L; a0 += GRAM_STEP) {
        float wa[GRAM_STEP];
        for (uint i = 0u; i < GRAM_STEP; i++) wa[i] = live && a0 + i < L ? load_float(W, a0 + i) : 0.0;
        for (uint b0 = 0u; b0 < L; b0 += GRAM_STEP) {
            barrier(); // every invocation is done with the last block
            for (uint e = gl_LocalInvocationIndex; e < GRAM_STEP * GRAM_STEP; e += gl_WorkGroupSize.x) {
                uint a = a0 + e / GRAM_STEP, b = b0 + e % GRAM_STEP;
                gram_block[e / GRAM_STEP][e % GRAM_STEP] = a < L && b < L ? load_float(G, a * L + b) : 0.0;
            }
            barrier();
            float wb[GRAM_STEP];
            for (uint j = 0u; j < GRAM_STEP; j++) wb[j] = live && b0 + j < L ? load_float(W, b0 + j) : 0.0;
            for (uint i = 0u; i < GRAM_STEP; i++) {
                float s = 0.0;
                for (uint j = 0u; j < GRAM_STEP; j++) s += gram_block[i][j] * wb[j];
                quad += wa[i] * s;
            }
        }
    }
    return quad;
}

// |F|^2, by whichever is cheaper: where dim < L from F = D^T W itself (fewer operations,
// and no cancellation in float when D is small against L), else the quadratic form. As
// quadratic_form, every invocation of the group calls it.
float squared_norm(uint64_t W, uint64_t D, uint64_t G, uint L, uint dim, bool live)
{
    if (dim >= L) return quadratic_form(W, G, L, live);
    float sum = 0.0;
    for (uint d = 0u; live && d < dim; d++) {
        float F = 0.0;
        for (uint c = 0u; c < L; c++) F += load_float(W, c) * load_float(D, c * dim + d);
        sum += F * F;
    }
    return sum;
}
