#version 450
// stream_residual: a residual frame's decode on Vulkan (stream_vk.c), stream_frames.c's
// reference step for step, as stream_cuda.cu: mode 0, an invocation a Gaussian, gathers
// its parent's values and adds its latents' decodes; mode 1, an invocation a moved
// Gaussian, adds its position step. Every product and sum is `precise` (no fused
// multiply-adds, as the reference is compiled), so the state is the CPU's bits.
#include "common.glsl"

layout(local_size_x = 256) in;

// stream_apply_args (stream_apply.h), 400 bytes, read from the frame's scratch buffer
layout(buffer_reference, std430, buffer_reference_align = 8) buffer Args {
    uint count, moved, sh_floats, rest_dim, keep_rest, rest_delta;
    float step;
    uint pad0;
    uint64_t prev[6]; // means, log_scales, rotations, opacities, sh, rest_latents
    uint64_t next[6];
    uint64_t mapping, moved_indices, moved_steps;
    uint latent_dim[5];
    uint latent_width[5]; // 0: int32 values; 1, 2, 4: zigzag byte planes as stored
    uint64_t latents[5], W[5], bias[5];
    uint64_t overflow;
    uint64_t row_index[5]; // uint a row: the Gaussians whose latents are listed; 0: all
    uint rows[5];          // the latents' rows
    uint runs;             // the mapping as runs (mapping 0): their first Gaussians and first
    uint64_t run_start, run_parent; // parents, a uint each; runs 0 and mapping 0: the identity
};
layout(push_constant) uniform Push {
    uint64_t args;
    uint mode;
} p;

const uint F_DC = 0u, F_REST = 1u, SCALE = 2u, ROTATION = 3u, OPACITY = 4u;

layout(buffer_reference, std430, buffer_reference_align = 4) buffer IntAt { int v; };
float get(uint64_t base, uint64_t i) { return FloatAt(base + i * 4ul).v; }
void put(uint64_t base, uint64_t i, float x) { FloatAt(base + i * 4ul).v = x; }
int get_int(uint64_t base, uint64_t i) { return IntAt(base + i * 4ul).v; }
// byte b of the word holding it (the planes are 4-byte aligned and padded to a whole word)
uint byte_at(uint64_t address) { return (UintAt(address & ~3ul).v >> ((uint(address) & 3u) * 8u)) & 255u; }
// value e of n latents: an int32 array (width 0) or byte planes of width bytes, zigzag coded
int latent(uint64_t base, uint64_t n, uint64_t e, uint width)
{
    if (width == 0u) return get_int(base, e);
    uint z = 0u;
    for (uint b = 0u; b < width; b++) z |= byte_at(base + uint64_t(b) * n + e) << (8u * b);
    return int(z >> 1) ^ -int(z & 1u);
}

// the row of Gaussian i's latents of attribute at, or -1 where they are zero (not
// listed): a binary search of the listed Gaussians
int64_t row_of(Args a, uint at, uint64_t i)
{
    if (a.row_index[at] == 0ul) return int64_t(i);
    uint lo = 0u, hi = a.rows[at];
    while (lo < hi) {
        uint mid = (lo + hi) / 2u;
        if (uint64_t(load_uint(a.row_index[at], mid)) < i) lo = mid + 1u;
        else hi = mid;
    }
    return lo < a.rows[at] && uint64_t(load_uint(a.row_index[at], lo)) == i ? int64_t(lo) : -1l;
}

uint features_of(uint which, uint sh_floats)
{
    return which == F_DC ? 3u : which == F_REST ? sh_floats - 3u : which == ROTATION ? 4u : which == OPACITY ? 1u : 3u;
}

// Gaussian i's parent: from the mapping, the run holding i (a binary search), or i
uint64_t parent_of(Args a, uint64_t i)
{
    if (a.mapping != 0ul) return uint64_t(get_int(a.mapping, i));
    if (a.runs == 0u) return i;
    uint lo = 0u, hi = a.runs - 1u; // the last run starting at or before i
    while (lo < hi) {
        uint mid = (lo + hi + 1u) / 2u;
        if (uint64_t(load_uint(a.run_start, mid)) <= i) lo = mid;
        else hi = mid - 1u;
    }
    return uint64_t(load_uint(a.run_parent, lo)) + (i - uint64_t(load_uint(a.run_start, lo)));
}

void gather_and_decode(Args a, uint64_t i)
{
    uint64_t q = parent_of(a, i), C = uint64_t(a.sh_floats);
    for (uint c = 0u; c < 3u; c++) {
        put(a.next[0], 3ul * i + c, get(a.prev[0], 3ul * q + c));
        put(a.next[1], 3ul * i + c, get(a.prev[1], 3ul * q + c));
    }
    for (uint c = 0u; c < 4u; c++) put(a.next[2], 4ul * i + c, get(a.prev[2], 4ul * q + c));
    put(a.next[3], i, get(a.prev[3], q));
    for (uint64_t c = 0ul; c < C; c++) put(a.next[4], C * i + c, get(a.prev[4], C * q + c));
    uint64_t keep = uint64_t(a.keep_rest), own = uint64_t(a.rest_dim);
    int64_t own_row = own != 0ul ? row_of(a, F_REST, i) : -1l;
    for (uint64_t k = 0ul; k < keep; k++) { // the parent's latents, plus this frame's where coded against them
        int64_t z = own_row >= 0l ? int64_t(latent(a.latents[F_REST], own * uint64_t(a.rows[F_REST]), own * uint64_t(own_row) + k,
                                                   a.latent_width[F_REST])) : 0l;
        if (own == 0ul || a.rest_delta != 0u) z += int64_t(get_int(a.prev[5], keep * q + k));
        if (z < -2147483648l || z > 2147483647l) UintAt(a.overflow).v = 1u;
        IntAt(a.next[5] + (keep * i + k) * 4ul).v = int(z);
    }
    for (uint at = 0u; at < 5u; at++) {
        uint ld = a.latent_dim[at], features = features_of(at, a.sh_floats);
        if (ld == 0u) continue;
        uint64_t value = at == F_DC ? a.next[4] + C * i * 4ul : at == F_REST ? a.next[4] + (C * i + 3ul) * 4ul
                         : at == SCALE ? a.next[1] + 12ul * i : at == ROTATION ? a.next[2] + 16ul * i : a.next[3] + 4ul * i;
        int64_t row = at == F_REST ? 0l : row_of(a, at, i);
        uint64_t values = uint64_t(ld) * uint64_t(a.rows[at]), first = uint64_t(ld) * uint64_t(max(row, 0l));
        for (uint f = 0u; f < features; f++) {
            precise float sum = 0.0;
            for (uint k = 0u; k < ld; k++) {
                int z = at == F_REST ? get_int(a.next[5], keep * i + k) : row < 0l ? 0 : latent(a.latents[at], values, first + k, a.latent_width[at]);
                sum = sum + float(z) * get(a.W[at], uint64_t(k * features + f));
            }
            precise float delta = sum + get(a.bias[at], f);
            precise float was = get(value, f);
            put(value, f, at == F_REST ? delta : was + delta);
        }
    }
}

void main()
{
    Args a = Args(p.args);
    uint64_t t = uint64_t(linear_group()) * 256ul + gl_LocalInvocationIndex;
    if (p.mode == 0u) {
        if (t < uint64_t(a.count)) gather_and_decode(a, t);
    } else if (t < uint64_t(a.moved)) {
        uint64_t i = uint64_t(load_uint(a.moved_indices, uint(t)));
        for (uint c = 0u; c < 3u; c++) {
            precise float m = get(a.next[0], 3ul * i + c) + float(get_int(a.moved_steps, 3ul * t + c)) * a.step;
            put(a.next[0], 3ul * i + c, m);
        }
    }
}
