#version 450
// appearance4d: the kept Gaussians' colour and opacity logit at a time from a 4D scene's
// appearance networks (splat/appearance4d.h: the CPU's rd_appearance_eval, the same
// encoding), as slice4d_cuda.cu's tiles: a workgroup takes TILE Gaussians of the list
// appearance4d_kept.comp made, and each invocation sums 4 Gaussians x 4 hidden units of
// an MLP's first layer from the weights transposed on the host (rd_appearance4d_transposed:
// a row an input, read alike by the whole tile). Each sum in the CPU's order from its
// bias, with fused multiply-adds. slice4d.comp then reads the outputs as a stored colour of
// one temporal term.
#include "common.glsl"

layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
    uint64_t means4, weights, features, kept; // the scene, its networks (transposed), the kept list
    uint64_t opacities, sh;                   // written: the opacity logit, the colour (floats a Gaussian)
    uint floats;
    uint offset[4];                           // each MLP's first weight: encoder, DC, rest, opacity
    float time, inv_radius, time_origin, inv_time_span; // the reciprocals rounded on the host, as the CPU's
    float centre_x, centre_y, centre_z;
} p;

const uint TILE = 32u, THREADS = 128u, FREQUENCIES = 16u, INPUTS = 132u, HIDDEN = 64u, LATENT = 13u, HEAD = 16u, FEATURES = 6u;
const uint HIDDEN_STRIDE = HIDDEN + 1u; // a Gaussian's hidden row: no two rows on one bank
const uint TO_HEADS = 0u, TO_SH = 1u, TO_OPACITY = 2u;

shared float rows[INPUTS * TILE]; // the encoder's inputs, a row of TILE an input; then the hidden rows
shared float heads[HEAD * TILE];  // the heads' inputs: the latent, then three features
shared uint ids[TILE];

// The first layer of the MLP at offset (n_in inputs: the encoder's rows, or heads) into
// the hidden rows, ReLU applied.
void hidden_layer(uint offset, uint n_in, bool from_heads)
{
    uint unit = 4u * (gl_LocalInvocationIndex % 16u), first = 4u * (gl_LocalInvocationIndex / 16u);
    uint b1 = offset + HIDDEN * n_in;
    float acc[4][4];
    for (uint u = 0u; u < 4u; u++) {
        float bias = load_float(p.weights, b1 + unit + u);
        for (uint g = 0u; g < 4u; g++) acc[g][u] = bias;
    }
    for (uint k = 0u; k < n_in; k++) {
        uint at = k * TILE + first, w = offset + k * HIDDEN + unit;
        vec4 x = from_heads ? vec4(heads[at], heads[at + 1u], heads[at + 2u], heads[at + 3u])
                            : vec4(rows[at], rows[at + 1u], rows[at + 2u], rows[at + 3u]);
        vec4 ws = vec4(load_float(p.weights, w), load_float(p.weights, w + 1u), load_float(p.weights, w + 2u),
                       load_float(p.weights, w + 3u));
        for (uint g = 0u; g < 4u; g++)
            for (uint u = 0u; u < 4u; u++) acc[g][u] = fma(ws[u], x[g], acc[g][u]);
    }
    barrier(); // every invocation has read the rows the hidden units replace
    for (uint g = 0u; g < 4u; g++)
        for (uint u = 0u; u < 4u; u++) rows[(first + g) * HIDDEN_STRIDE + unit + u] = max(acc[g][u], 0.0);
    barrier();
}

// The output layer: output o of tile Gaussian g into the heads' latent rows, the colour
// from column `column`, or the opacity (for the Gaussians of the list).
void output_layer(uint offset, uint n_in, uint n_out, uint here, uint to, uint column)
{
    uint W2 = offset + HIDDEN * (n_in + 1u), b2 = W2 + HIDDEN * n_out;
    for (uint e = gl_LocalInvocationIndex; e < TILE * n_out; e += THREADS) {
        uint g = e / n_out, o = e - g * n_out;
        float sum = load_float(p.weights, b2 + o);
        for (uint j = 0u; j < HIDDEN; j++) sum = fma(load_float(p.weights, W2 + j * n_out + o), rows[g * HIDDEN_STRIDE + j], sum);
        if (to == TO_HEADS) heads[o * TILE + g] = sum;
        else if (g < here && to == TO_SH) store_float(p.sh + uint64_t(ids[g]) * uint64_t(p.floats) * 4ul, column + o, sum);
        else if (g < here) store_float(p.opacities, ids[g], sum);
    }
}

// Features c0..c0+2 of each tile Gaussian into the heads' last rows (0 past the list).
void load_features(uint here, uint c0)
{
    uint g = gl_LocalInvocationIndex;
    if (g < TILE)
        for (uint c = 0u; c < 3u; c++) heads[(LATENT + c) * TILE + g] = g < here ? load_float(p.features, ids[g] * FEATURES + c0 + c) : 0.0;
}

// The contracted position and normalised time of the tile's Gaussian g into the rows'
// first four; each operation rounded on its own in rd_appearance_position's order
// (precise: no fused multiply-add), since the top frequency turns an ulp into a visible
// difference.
void encode_position(uint g, uint i)
{
    vec4 mean = load_float4(p.means4, i);
    precise vec3 q = vec3(mean.x - p.centre_x, mean.y - p.centre_y, mean.z - p.centre_z) * p.inv_radius;
    precise float length2 = q.x * q.x;
    length2 += q.y * q.y;
    length2 += q.z * q.z;
    if (length2 > 1.0) {
        precise float l = sqrt(length2), scale = (2.0 - 1.0 / l) / l;
        q *= scale;
    }
    for (uint d = 0u; d < 3u; d++) {
        precise float v = 0.25 * q[d] + 0.5;
        rows[d * TILE + g] = v;
    }
    precise float tn = (p.time - p.time_origin) * p.inv_time_span;
    rows[3u * TILE + g] = tn;
}

void main()
{
    uint kept = load_uint(p.kept, 0u), first = linear_group() * TILE, t = gl_LocalInvocationIndex;
    if (first >= kept) return; // the whole workgroup
    uint here = min(TILE, kept - first);
    if (t < TILE) {
        if (t < here) {
            ids[t] = load_uint(p.kept, 1u + first + t);
            encode_position(t, ids[t]);
        } else {
            for (uint d = 0u; d < 4u; d++) rows[d * TILE + t] = 0.0;
        }
    }
    barrier();
    load_features(here, 0u);
    for (uint e = t; e < 4u * FREQUENCIES * TILE; e += THREADS) { // (k, d): input 4 + 8k + 2d, + 1
        uint g = e % TILE, pair = e / TILE, k = pair / 4u, d = pair % 4u;
        precise float m = ldexp(rows[d * TILE + g], int(k)), r = m - 2.0 * floor(0.5 * m + 0.5), x = 3.14159265358979 * r;
        rows[(4u + 8u * k + 2u * d) * TILE + g] = sin(x);
        rows[(4u + 8u * k + 2u * d + 1u) * TILE + g] = cos(x);
    }
    barrier();
    hidden_layer(p.offset[0], INPUTS, false);
    output_layer(p.offset[0], INPUTS, LATENT, here, TO_HEADS, 0u);
    barrier();
    hidden_layer(p.offset[1], HEAD, true);
    output_layer(p.offset[1], HEAD, 3u, here, TO_SH, 0u);
    hidden_layer(p.offset[3], HEAD, true); // its barriers: the DC's outputs have read the hidden rows
    output_layer(p.offset[3], HEAD, 1u, here, TO_OPACITY, 0u);
    if (p.floats > 3u) {
        load_features(here, 3u); // the opacity's hidden layer has read the heads
        barrier();
        hidden_layer(p.offset[2], HEAD, true);
        output_layer(p.offset[2], HEAD, p.floats - 3u, here, TO_SH, 3u);
    }
}
