// nerf_field.glsl: the NeRF's field at a tile of samples, the workgroup's invocations
// together (field_tile), as field.c computes it at each (hashgrid.c's encoding, mlp.c's
// networks, direction.h's SH, field.c's activations): the same operations in the same
// order, each rounded on its own (`precise`: no fused multiply-add), so that the features
// and the SH values are the CPU's bit for bit; exp (density, sigmoid) is the device's, a
// few ulp from libm's. The layers' sums are in mlp.c's order, but glslang marks no
// element of a `precise` array, so a driver may fuse their products and sums (the
// harness's bounds hold either way: an H100's frame within 4.7e-4 of the CPU's).
//
// The tile's activations live in shared memory, a row (feature) of TILE samples at a time
// (s_act[row * TILE + sample]). A layer is a small matrix product: in a wide layer (more
// than 16 outputs) each invocation owns an output (PASSES of them in 128- and 256-wide
// networks) for all the tile's samples, so that a weight is read once for TILE products
// and the activations are read by every invocation of a subgroup at once (a broadcast); in
// a narrow one (the density network's 16 outputs, the colour's 3) each invocation owns a
// sample and a few outputs. Each output's sum is in input order, as mlp.c's. The weights
// come from render_vk.c's transposed copy (a layer's W^T, input-major), so that the
// outputs an instruction reads are adjacent. A device with VK_KHR_cooperative_matrix
// would make the wide layers fp16 matrix products (as mlp_cuda.cu does on tensor cores);
// that would replace wide_layer below and nothing else.
#include "nerf_view.glsl"

// The widest row the field has (hash features, network width, the colour network's 32
// inputs): 64, 128 or 256 floats, picked by render_vk.c.
layout(constant_id = 0) const uint ACT_ROW = 64u;
const uint TILE = RD_NERF_VK_TILE_FLOATS / ACT_ROW; // samples a tile: 32, 16 or 8
const uint PASSES = ACT_ROW / 64u;           // outputs an invocation owns in a wide layer
const uint GROUPS = RD_NERF_VK_THREADS / TILE; // invocations sharing a sample in a narrow layer or the encoding
const uint NARROW = 16u / GROUPS;            // outputs an invocation owns in a narrow layer (16 at most)
const uint ACCUMULATORS = RD_NERF_VK_TILE_FLOATS / 64u; // PASSES * TILE

shared float s_act[ACT_ROW * TILE];
shared float s_gate[TILE];

// A sample of the tile: where it is and the direction it is seen from (nerf_render.comp's
// slots, a slot a sample).
shared float s_position[3][RD_NERF_VK_SLOTS];
shared float s_direction[3][RD_NERF_VK_SLOTS];
shared float s_field[4][RD_NERF_VK_SLOTS]; // the outputs: density, then colour

uint64_t g_weights; // the transposed weights (render_vk.c), both networks'

float act_at(uint row, uint k) { return s_act[row * TILE + k]; }

// A layer of mlp.c (W from weight `w`, outputs x inputs), in place on the tile's rows.
void wide_layer(uint w, uint inputs, uint outputs, bool relu)
{
    uint t = gl_LocalInvocationIndex;
    precise float acc[ACCUMULATORS];
    for (uint a = 0u; a < ACCUMULATORS; a++) acc[a] = 0.0;
    for (uint i = 0u; i < inputs; i++) {
        for (uint p = 0u; p < PASSES; p++) {
            uint o = t + p * RD_NERF_VK_THREADS;
            float weight = o < outputs ? load_float(g_weights, w + i * outputs + o) : 0.0;
            for (uint k = 0u; k < TILE; k++) acc[p * TILE + k] += weight * act_at(i, k);
        }
    }
    barrier(); // every invocation has read the inputs
    for (uint p = 0u; p < PASSES; p++) {
        uint o = t + p * RD_NERF_VK_THREADS;
        if (o < outputs)
            for (uint k = 0u; k < TILE; k++) s_act[o * TILE + k] = relu && acc[p * TILE + k] < 0.0 ? 0.0 : acc[p * TILE + k];
    }
    barrier();
}

void narrow_layer(uint w, uint inputs, uint outputs, bool relu)
{
    uint t = gl_LocalInvocationIndex, k = t % TILE, group = t / TILE;
    precise float acc[16];
    for (uint j = 0u; j < NARROW; j++) acc[j] = 0.0;
    for (uint i = 0u; i < inputs; i++) {
        float x = act_at(i, k);
        for (uint j = 0u; j < NARROW; j++) {
            uint o = group + j * GROUPS;
            float weight = o < outputs ? load_float(g_weights, w + i * outputs + o) : 0.0;
            acc[j] += weight * x;
        }
    }
    barrier();
    for (uint j = 0u; j < NARROW; j++) {
        uint o = group + j * GROUPS;
        if (o < outputs) s_act[o * TILE + k] = relu && acc[j] < 0.0 ? 0.0 : acc[j];
    }
    barrier();
}

// A network (mlp.h's layout from weight w) on the tile's rows from row 0, outputs there.
void network(uint w, uint inputs, uint width, uint hidden, uint outputs)
{
    for (uint k = 0u; k <= hidden; k++) {
        uint in_k = k == 0u ? inputs : width, out_k = k == hidden ? outputs : width;
        if (out_k > 16u) wide_layer(w, in_k, out_k, k < hidden);
        else narrow_layer(w, in_k, out_k, k < hidden);
        w += in_k * out_k;
    }
}

// hashgrid.c's forward at p into the tile's rows l * F + f, of sample k, levels
// first..levels every `step`.
void hash_encode(NerfView v, uint64_t table, vec3 p, uint k, uint first, uint step)
{
    uint F = v.features;
    for (uint l = first; l < v.levels; l += step) {
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
        for (uint f = 0u; f < F; f++) s_act[(l * F + f) * TILE + k] = sum[f];
    }
}

// direction.h's 16 SH values of the unit direction d into rows 16.. of sample k.
void direction_encode(vec3 d, uint k)
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
    for (uint j = 0u; j < 16u; j++) s_act[(RD_NERF_VK_DENSITY_OUTPUTS + j) * TILE + k] = e[j];
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

// field.c's mask on sample k's hash features (scaled by the keep value at p) and its
// density gate tanh(alpha |features|), returned (1 without a mask). tanh through exp above
// 0.5, where a driver's tanh may overflow to NaN at alpha's large arguments.
float mask_features(NerfView v, uint64_t table, vec3 p, uint k)
{
    if (v.saliency_resolution == 0u) return 1.0;
    float keep = saliency_keep(v, table, p);
    precise float norm2 = 0.0;
    for (uint j = 0u; j < v.density_inputs; j++) {
        precise float x = keep * s_act[j * TILE + k];
        s_act[j * TILE + k] = x;
        norm2 += x * x;
    }
    float y = v.gate_sharpness * sqrt(norm2);
    return y < 0.5 ? tanh(y) : 1.0 - 2.0 / (exp(2.0 * y) + 1.0);
}

// field.c's exp argument within +-15 (NaN stays NaN)
float clamped_exp_argument(float x) { return isnan(x) ? x : clamp(x, -15.0, 15.0); }

vec3 slot_vec3(uint which, uint slot)
{
    return which == 0u ? vec3(s_position[0][slot], s_position[1][slot], s_position[2][slot])
                       : vec3(s_direction[0][slot], s_direction[1][slot], s_direction[2][slot]);
}

// The field at the slots first .. first + TILE - 1: density into s_field[0], colour into
// s_field[1..3]. Every invocation of the workgroup calls it, in uniform control flow.
void field_tile(NerfView v, uint64_t table, uint first)
{
    uint t = gl_LocalInvocationIndex, k = t % TILE;
    hash_encode(v, table, slot_vec3(0u, first + k), k, t / TILE, GROUPS);
    barrier();
    if (t < TILE) s_gate[k] = mask_features(v, table, slot_vec3(0u, first + k), k);
    barrier();
    network(0u, v.density_inputs, v.net_width, v.density_hidden, RD_NERF_VK_DENSITY_OUTPUTS);
    // the colour network's input: the density network's outputs (in rows 0..15), then the SH
    if (t < TILE) {
        s_field[0][first + k] = exp(clamped_exp_argument(act_at(0u, k))) * s_gate[k];
        direction_encode(slot_vec3(1u, first + k), k);
    }
    barrier();
    network(v.colour_weights, RD_NERF_VK_DENSITY_OUTPUTS + 16u, v.net_width, v.colour_hidden, 3u);
    if (t < TILE)
        for (uint c = 0u; c < 3u; c++) s_field[1 + c][first + k] = 1.0 / (1.0 + exp(-act_at(c, k)));
    barrier();
}
