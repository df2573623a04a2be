#version 450
// appearance4d: each Gaussian's colour and opacity logit at a time from a 4D scene's
// appearance networks (splat/appearance4d.h, the CPU's and CUDA's rd_appearance_eval: the
// same encoding, the same order of sums), an invocation a Gaussian, where the slice keeps
// it (its cull test); slice4d.comp then reads them as a stored colour of one temporal term.
#include "common.glsl"

layout(local_size_x = 128) in;
layout(push_constant) uniform Push {
    uint64_t means4, statics, weights, features; // the scene and its networks
    uint64_t opacities, sh;                      // written: the opacity logit, the colour (floats a Gaussian)
    uint count, floats;
    uint offset[4];                              // each MLP's first weight: encoder, DC, rest, opacity
    float time, inv_radius, time_origin, inv_time_span; // the reciprocals rounded on the host, as the CPU's
    float centre_x, centre_y, centre_z;
} p;

const float CULL_EXPONENT = 2.9957322735539909; // RD_4D_CULL_EXPONENT
const uint FREQUENCIES = 16u, INPUTS = 132u, HIDDEN = 64u, LATENT = 13u, HEAD = 16u, FEATURES = 6u;

float inputs[INPUTS];
float head[HEAD];
float outputs[48];

// One MLP (weights from offset: W1 hidden x n_in, b1, W2 n_out x hidden, b2) from inputs
// (encoder) or head into outputs[first ...]; a hidden unit summed and used at once.
void mlp(uint offset, uint n_in, uint n_out, bool from_head, uint first)
{
    uint b1 = offset + HIDDEN * n_in, W2 = b1 + HIDDEN, b2 = W2 + n_out * HIDDEN;
    for (uint o = 0u; o < n_out; o++) outputs[first + o] = load_float(p.weights, b2 + o);
    for (uint j = 0u; j < HIDDEN; j++) {
        float sum = load_float(p.weights, b1 + j);
        uint row = offset + j * n_in;
        for (uint i = 0u; i < n_in; i++) sum += load_float(p.weights, row + i) * (from_head ? head[i] : inputs[i]);
        if (sum <= 0.0) continue;
        for (uint o = 0u; o < n_out; o++) outputs[first + o] += load_float(p.weights, W2 + o * HIDDEN + j) * sum;
    }
}

void main()
{
    uint i = linear_group() * gl_WorkGroupSize.x + gl_LocalInvocationIndex;
    if (i >= p.count) return;
    vec4 mean = load_float4(p.means4, i);
    precise float dt = p.time - mean.w, exponent = dt * dt * load_float(p.statics, i * 11u + 10u);
    if (!(exponent < CULL_EXPONENT)) return;
    // the encoding: contracted position and normalised time, then their frequencies; each
    // operation rounded on its own in rd_appearance_input's order (precise: no fused
    // multiply-add), since the top frequency turns an ulp into a visible difference
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
        inputs[d] = v;
    }
    precise float tn = (p.time - p.time_origin) * p.inv_time_span;
    inputs[3] = tn;
    for (uint k = 0u; k < FREQUENCIES; k++)
        for (uint d = 0u; d < 4u; d++) {
            precise float m = ldexp(inputs[d], int(k)), r = m - 2.0 * floor(0.5 * m + 0.5), x = 3.14159265358979 * r;
            inputs[4u + 8u * k + 2u * d] = sin(x);
            inputs[4u + 8u * k + 2u * d + 1u] = cos(x);
        }
    mlp(p.offset[0], INPUTS, LATENT, false, 0u);
    for (uint k = 0u; k < LATENT; k++) head[k] = outputs[k];
    uint f = i * FEATURES;
    for (uint k = 0u; k < 3u; k++) head[LATENT + k] = load_float(p.features, f + k);
    mlp(p.offset[3], HEAD, 1u, true, 0u);
    store_float(p.opacities, i, outputs[0]);
    mlp(p.offset[1], HEAD, 3u, true, 0u);
    if (p.floats > 3u) {
        for (uint k = 0u; k < 3u; k++) head[LATENT + k] = load_float(p.features, f + 3u + k);
        mlp(p.offset[2], HEAD, p.floats - 3u, true, 3u);
    }
    for (uint k = 0u; k < p.floats; k++) store_float(p.sh + uint64_t(i) * uint64_t(p.floats) * 4ul, k, outputs[k]);
}
