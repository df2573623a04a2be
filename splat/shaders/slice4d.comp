#version 450
// slice4d: 4D Gaussians sliced at a time into the 3D arrays the 3D renderer draws
// (slice4d.c's rd_slice4d_cpu). A workgroup slices 32 Gaussians: an invocation each finds
// its temporal weight, writes its mean, scales, rotation and opacity and puts its colour
// terms' cosines in shared memory; then the workgroup folds the colour a float an
// invocation in turn, so that neighbours read and write neighbouring floats of the colour
// arrays, which are most of the bytes (as slice4d_cuda.cu). The CPU leaves culled Gaussians
// out; here each keeps its slot and a culled one gets a NaN mean, which the 3D
// preprocess culls before anything else (the images are the same: the kept Gaussians keep
// their order). Everything that does not depend on time comes in the statics (11 floats a
// Gaussian: rotation, log-scales, velocity, 1 / 2W; scene4d.h).
#include "common.glsl"

layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
    uint64_t means4, statics, opacities4, sh4;             // the 4D scene
    uint64_t means, log_scales, rotations, opacities, sh; // the 3D arrays written
    uint count, coeffs, terms;                            // Gaussians; SH coefficients K; temporal terms
    float time, two_pi_over_period;
} p;

const float CULL_EXPONENT = 2.9957322735539909; // RD_4D_CULL_EXPONENT: -ln 0.05

float softplus(float x) { return x > 20.0 ? x : log(1.0 + exp(x)); }

const uint GAUSSIANS = 32u; // a workgroup's (slice4d_vk.c dispatches count / 32 of them)
shared float s_cos[GAUSSIANS * 3u];
shared bool s_alive[GAUSSIANS];

void main()
{
    uint first = linear_group() * GAUSSIANS, t = gl_LocalInvocationIndex;
    if (t < GAUSSIANS) {
        uint i = first + t;
        bool alive = false;
        if (i < p.count) {
            vec4 mean = load_float4(p.means4, i);
            uint s = i * 11u;
            precise float dt = p.time - mean.w, exponent = dt * dt * load_float(p.statics, s + 10u), weight = exp(-exponent);
            alive = exponent < CULL_EXPONENT;
            if (!alive) store_float(p.means, 3u * i, uintBitsToFloat(0x7fc00000u));
            else {
                for (uint a = 0u; a < 3u; a++) {
                    precise float m = mean[a] + load_float(p.statics, s + 7u + a) * dt;
                    store_float(p.means, 3u * i + a, m);
                    store_float(p.log_scales, 3u * i + a, load_float(p.statics, s + 4u + a));
                }
                for (uint a = 0u; a < 4u; a++) store_float(p.rotations, 4u * i + a, load_float(p.statics, s + a));
                // logit(sigmoid(o) p) without cancellation where both are near 1 (slice4d.c)
                float o = load_float(p.opacities4, i);
                store_float(p.opacities, i, -softplus(-o) - exponent - log((1.0 - weight) + weight / (1.0 + exp(o))));
                // cos of the phase reduced to half a turn: GLSL promises cos's accuracy only
                // within [-pi, pi] (lavapipe was 0.02 off at 19 radians), the CPU's cosf everywhere
                for (uint n = 0u; n < p.terms; n++) {
                    precise float turns = float(n) * (mean.w - p.time) * (p.two_pi_over_period * 0.15915494309189535);
                    s_cos[3u * t + n] = cos(6.283185307179586 * (turns - round(turns)));
                }
            }
        }
        s_alive[t] = alive;
    }
    barrier();
    uint floats = 3u * p.coeffs, here = min(p.count - first, GAUSSIANS);
    for (uint e = t; e < here * floats; e += gl_WorkGroupSize.x) {
        uint g = e / floats, k = e - g * floats;
        if (!s_alive[g]) continue;
        uint i = first + g;
        uint64_t from = p.sh4 + uint64_t(i) * uint64_t(p.terms * floats) * 4ul;
        precise float sum = 0.0;
        for (uint n = 0u; n < p.terms; n++) sum += s_cos[3u * g + n] * load_float(from, n * floats + k);
        store_float(p.sh + uint64_t(i) * uint64_t(floats) * 4ul, k, sum);
    }
}
