// nerf_field.glsl: the NeRF's field at one point, an invocation a point, as field.c computes
// it (hashgrid.c's encoding, mlp.c's networks, direction.h's SH, field.c's activations):
// the same operations in the same order, each rounded on its own (`precise`: no fused
// multiply-add), so that the features, the networks' outputs and the SH values are the
// CPU's bit for bit; exp (density, sigmoid) is the device's, a few ulp from libm's.
//
// The networks' weights are read from shared memory where the workgroup staged them
// (stage_weights), else from the parameters' buffer: the shared-memory path, in fp32.
// A device with VK_KHR_cooperative_matrix would instead evaluate a workgroup's samples
// together, a layer a matrix product (fp16 tiles, fp32 sums, as mlp_cuda.cu does on
// tensor cores); that path would replace network() below and nothing else.
#include "nerf_view.glsl"

// The shared memory the networks' weights may take (floats), set from the device's
// maxComputeSharedMemorySize by render_vk.c.
layout(constant_id = 0) const uint SHARED_WEIGHTS = 4096u;
shared float s_weights[SHARED_WEIGHTS];

// Each invocation's two rows of activations (a layer reads one and writes the other),
// as wide as the field's widest row (render_vk.c picks 64, 128 or 256): a GPU keeps them
// in local memory, 2 KiB a thread at the largest.
layout(constant_id = 1) const uint ACT_ROW = RD_NERF_VK_MAX_ROW;
float act[2][ACT_ROW];

bool g_shared;       // the weights are in s_weights
uint64_t g_weights;  // else: their address (the parameters' from the density network on)

// Every invocation of the workgroup calls it, in uniform control flow, before any returns.
void stage_weights(uint64_t weights, uint count, bool use_shared)
{
    g_weights = weights, g_shared = use_shared;
    if (!use_shared) return;
    for (uint i = gl_LocalInvocationIndex; i < count; i += gl_WorkGroupSize.x) s_weights[i] = load_float(weights, i);
    barrier();
}

float network_weight(uint i) { return g_shared ? s_weights[i] : load_float(g_weights, i); }

// mlp.c's layer: row `to` = W row `from` (W from weight `w`, outputs x inputs, row major),
// ReLU where relu; the sum in input order.
void layer(uint w, uint inputs, uint outputs, bool relu, uint from, uint to)
{
    for (uint o = 0u; o < outputs; o++) {
        precise float sum = 0.0;
        uint row = w + o * inputs;
        // four terms an iteration (the same order): a quarter of the loop's iterations,
        // which lavapipe's loop limiter counts (nerf_render.comp)
        uint i = 0u;
        for (; i + 4u <= inputs; i += 4u) {
            sum += network_weight(row + i) * act[from][i];
            sum += network_weight(row + i + 1u) * act[from][i + 1u];
            sum += network_weight(row + i + 2u) * act[from][i + 2u];
            sum += network_weight(row + i + 3u) * act[from][i + 3u];
        }
        for (; i < inputs; i++) sum += network_weight(row + i) * act[from][i];
        act[to][o] = relu && sum < 0.0 ? 0.0 : sum;
    }
}

// A network (mlp.h's layout from weight w) on row 0; returns the row holding its outputs.
uint network(uint w, uint inputs, uint width, uint hidden, uint outputs)
{
    uint from = 0u;
    for (uint k = 0u; k <= hidden; k++) {
        uint in_k = k == 0u ? inputs : width, out_k = k == hidden ? outputs : width;
        layer(w, in_k, out_k, k < hidden, from, from ^ 1u);
        w += in_k * out_k;
        from ^= 1u;
    }
    return from;
}

// hashgrid.c's forward at p into act[0][l * F + f].
void hash_encode(NerfView v, uint64_t table, vec3 p)
{
    uint F = v.features;
    for (uint l = 0u; l < v.levels; l++) {
        uint low[3];
        float fraction[3];
        for (int d = 0; d < 3; d++) {
            precise float at = v.level_scale[l] * p[d] + 0.5; // rounded twice, as the CPU
            if (!(at > -16777216.0 && at < 16777216.0)) at = 0.0;
            float lo = floor(at);
            low[d] = uint(int(lo));
            fraction[d] = at - lo;
        }
        uint res = v.resolution[l];
        bool dense = ((v.dense_levels >> l) & 1u) != 0u;
        precise float sum[8] = float[8](0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        for (uint c = 0u; c < 8u; c++) {
            uint x = low[0] + (c & 1u), y = low[1] + ((c >> 1) & 1u), z = low[2] + ((c >> 2) & 1u);
            uint index = dense ? x + y * res + z * res * res : x ^ (y * 2654435761u) ^ (z * 805459861u);
            uint64_t entry = uint64_t(v.level_offset[l] + index % v.size[l]);
            precise float w = 1.0;
            for (int d = 0; d < 3; d++) w *= ((c >> d) & 1u) != 0u ? fraction[d] : 1.0 - fraction[d];
            for (uint f = 0u; f < F; f++) sum[f] += w * FloatAt(table + (entry * uint64_t(F) + uint64_t(f)) * 4ul).v;
        }
        for (uint f = 0u; f < F; f++) act[0][l * F + f] = sum[f];
    }
}

// direction.h's 16 SH values of the unit direction d into act[row][16 ..].
void direction_encode(vec3 d, uint row)
{
    precise float x = d.x, y = d.y, z = d.z, xx = x * x, yy = y * y, zz = z * z;
    precise float e[16];
    e[0] = 0.28209479177387814;
    e[1] = -0.48860251190291987 * y;
    e[2] = 0.48860251190291987 * z;
    e[3] = -0.48860251190291987 * x;
    e[4] = 1.0925484305920792 * x * y;
    e[5] = -1.0925484305920792 * y * z;
    e[6] = 0.94617469575755997 * zz - 0.31539156525251999;
    e[7] = -1.0925484305920792 * x * z;
    e[8] = 0.54627421529603959 * (xx - yy);
    e[9] = 0.59004358992664352 * y * (yy - 3.0 * xx);
    e[10] = 2.8906114426405538 * x * y * z;
    e[11] = 0.45704579946446572 * y * (1.0 - 5.0 * zz);
    e[12] = 0.3731763325901154 * z * (5.0 * zz - 3.0);
    e[13] = 0.45704579946446572 * x * (1.0 - 5.0 * zz);
    e[14] = 1.4453057213202769 * z * (xx - yy);
    e[15] = 0.59004358992664352 * x * (3.0 * yy - xx);
    for (int k = 0; k < 16; k++) act[row][RD_NERF_VK_DENSITY_OUTPUTS + k] = e[k];
}

// saliency.c's mask at p: the sigmoid of its logits' trilinear blend (the point clamped onto
// the unit cube), the same operations in the same order as corners() and rd_saliency_forward.
float saliency_keep(NerfView v, uint64_t table, vec3 p)
{
    uint r = v.saliency_resolution, low[3];
    float fraction[3];
    for (int a = 0; a < 3; a++) {
        precise float x = (isnan(p[a]) ? 0.0 : min(max(p[a], 0.0), 1.0)) * float(r - 1u);
        int i = int(floor(x));
        low[a] = uint(min(i, int(r) - 2));
        fraction[a] = x - float(low[a]);
    }
    precise float sum = 0.0;
    for (uint c = 0u; c < 8u; c++) {
        uint x = low[0] + (c & 1u), y = low[1] + ((c >> 1) & 1u), z = low[2] + ((c >> 2) & 1u);
        precise float w = ((c & 1u) != 0u ? fraction[0] : 1.0 - fraction[0]) * (((c >> 1) & 1u) != 0u ? fraction[1] : 1.0 - fraction[1]) *
                          (((c >> 2) & 1u) != 0u ? fraction[2] : 1.0 - fraction[2]);
        uint64_t at = uint64_t(v.saliency_offset) + uint64_t(x + r * (y + r * z));
        sum += w * FloatAt(table + at * 4ul).v;
    }
    return 1.0 / (1.0 + exp(-sum));
}

// field.c's mask on the hash features in act[0] (scaled by the keep value at p) and its
// density gate tanh(alpha |features|), returned (1 without a mask). tanh through exp above
// 0.5, where a driver's tanh may overflow to NaN at alpha's large arguments.
float mask_features(NerfView v, uint64_t table, vec3 p)
{
    if (v.saliency_resolution == 0u) return 1.0;
    float keep = saliency_keep(v, table, p);
    precise float norm2 = 0.0;
    for (uint j = 0u; j < v.density_inputs; j++) {
        act[0][j] = keep * act[0][j];
        norm2 += act[0][j] * act[0][j];
    }
    float y = v.gate_sharpness * sqrt(norm2);
    return y < 0.5 ? tanh(y) : 1.0 - 2.0 / (exp(2.0 * y) + 1.0);
}

// field.c's exp argument within +-15 (NaN stays NaN)
float clamped_exp_argument(float x) { return isnan(x) ? x : clamp(x, -15.0, 15.0); }

// The field at position p seen along the unit direction d: density, and colour in .yzw.
vec4 field(NerfView v, uint64_t table, vec3 p, vec3 d)
{
    hash_encode(v, table, p);
    float gate = mask_features(v, table, p);
    uint row = network(0u, v.density_inputs, v.net_width, v.density_hidden, RD_NERF_VK_DENSITY_OUTPUTS);
    float sigma = exp(clamped_exp_argument(act[row][0])) * gate;
    // the colour network's input: the density network's outputs (already in place), then the SH
    direction_encode(d, row);
    if (row != 0u)
        for (uint k = 0u; k < RD_NERF_VK_DENSITY_OUTPUTS + 16u; k++) act[0][k] = act[1][k];
    uint out_row = network(v.colour_weights, RD_NERF_VK_DENSITY_OUTPUTS + 16u, v.net_width, v.colour_hidden, 3u);
    vec3 rgb;
    for (int c = 0; c < 3; c++) rgb[c] = 1.0 / (1.0 + exp(-act[out_row][c]));
    return vec4(sigma, rgb);
}
