#version 450
// stream_residual: a residual frame's decode on Vulkan (stream_vk.c), stream_frames.c's
// reference step for step, as stream_cuda.cu: mode 0, an invocation a Gaussian, finds its
// parent and latent rows and sums its f_rest latents; modes 2 and 3, an invocation a float
// of the small arrays and of the SH, gather the parent's value and add its decode; mode 1,
// an invocation a moved Gaussian, adds its position step. Every product and sum is `precise` (no fused
// multiply-adds, as the reference is compiled), so the state is the CPU's bits.
#include "common.glsl"

layout(local_size_x = 256) in;

// stream_apply_args (stream_apply.h), 408 bytes, read from the frame's scratch buffer
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
    uint64_t gaussian_rows; // the passes' scratch: each Gaussian's parent and 5 latent rows (6 ints)
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

// pass 0, an invocation a Gaussian: its parent and latent rows into the scratch, and its
// f_rest latents (the parent's, plus this frame's where coded against them) into the next state
void rows_pass(Args a, uint64_t i)
{
    uint64_t q = parent_of(a, i), at_rows = a.gaussian_rows + i * 24ul;
    IntAt(at_rows).v = int(q);
    int64_t own_row = -1l;
    for (uint at = 0u; at < 5u; at++) {
        int64_t row = a.latent_dim[at] != 0u ? row_of(a, at, i) : -1l;
        IntAt(at_rows + 4ul + uint64_t(at) * 4ul).v = int(row);
        if (at == F_REST) own_row = row;
    }
    uint64_t keep = uint64_t(a.keep_rest), own = uint64_t(a.rest_dim);
    for (uint64_t k = 0ul; k < keep; k++) {
        int64_t z = own_row >= 0l ? int64_t(latent(a.latents[F_REST], own * uint64_t(a.rows[F_REST]), own * uint64_t(own_row) + k,
                                                   a.latent_width[F_REST])) : 0l;
        if (own == 0ul || a.rest_delta != 0u) z += int64_t(get_int(a.prev[5], keep * q + k));
        if (z < -2147483648l || z > 2147483647l) UintAt(a.overflow).v = 1u;
        IntAt(a.next[5] + (keep * i + k) * 4ul).v = int(z);
    }
}

// feature f of attribute at's decode for Gaussian i: its latents (row; -1: zero; f_rest:
// the next state's) times W plus b, each product and sum precise
float decoded(Args a, uint at, uint features, int64_t row, uint64_t i, uint f)
{
    uint ld = a.latent_dim[at];
    uint64_t values = uint64_t(ld) * uint64_t(a.rows[at]), first = uint64_t(ld) * uint64_t(max(row, 0l));
    precise float sum = 0.0;
    for (uint k = 0u; k < ld; k++) {
        int z = at == F_REST ? get_int(a.next[5], uint64_t(a.keep_rest) * i + k) : row < 0l ? 0 : latent(a.latents[at], values, first + k, a.latent_width[at]);
        sum = sum + float(z) * get(a.W[at], uint64_t(k * features + f));
    }
    precise float delta = sum + get(a.bias[at], f);
    return delta;
}

// Gaussian i's latent row of attribute at from the first pass's scratch (-1: zero latents)
int64_t scratch_row(Args a, uint64_t i, uint at)
{
    int row = IntAt(a.gaussian_rows + i * 24ul + 4ul + uint64_t(at) * 4ul).v;
    // not int64_t(row): so read, a -1 came out as a row past the list on lavapipe (Mesa here;
    // the harness's stream_decode row), whatever the cause
    return row < 0 ? -1l : int64_t(uint(row));
}

// pass 2, an invocation a float of the small arrays (11 a Gaussian: mean 3, log-scales 3,
// rotation 4, opacity 1), neighbours on neighbouring floats
void small_pass(Args a, uint64_t t)
{
    uint64_t i = t / 11ul;
    uint j = uint(t - i * 11ul);
    uint64_t at_rows = a.gaussian_rows + i * 24ul, q = uint64_t(IntAt(at_rows).v);
    if (j < 3u) {
        put(a.next[0], 3ul * i + j, get(a.prev[0], 3ul * q + j));
        return;
    }
    uint at = j < 6u ? SCALE : j < 10u ? ROTATION : OPACITY, f = j < 6u ? j - 3u : j < 10u ? j - 6u : 0u;
    uint width = at == SCALE ? 3u : at == ROTATION ? 4u : 1u, array = at == SCALE ? 1u : at == ROTATION ? 2u : 3u;
    precise float value = get(a.prev[array], uint64_t(width) * q + f);
    if (a.latent_dim[at] != 0u) value = value + decoded(a, at, width, scratch_row(a, i, at), i, f);
    put(a.next[array], uint64_t(width) * i + f, value);
}

// pass 3, an invocation a float of the SH: f_dc its parent's plus its decode, f_rest its
// decode (absolute) where the frame has f_rest latents, else its parent's
void sh_pass(Args a, uint64_t t)
{
    uint64_t C = uint64_t(a.sh_floats), i = t / C;
    uint c = uint(t - i * C);
    uint64_t at_rows = a.gaussian_rows + i * 24ul, q = uint64_t(IntAt(at_rows).v);
    precise float value = get(a.prev[4], C * q + c);
    if (c < 3u && a.latent_dim[F_DC] != 0u) value = value + decoded(a, F_DC, 3u, scratch_row(a, i, F_DC), i, c);
    if (c >= 3u && a.latent_dim[F_REST] != 0u) value = decoded(a, F_REST, a.sh_floats - 3u, 0l, i, c - 3u);
    put(a.next[4], C * i + c, value);
}

void main()
{
    Args a = Args(p.args);
    uint64_t t = uint64_t(linear_group()) * 256ul + gl_LocalInvocationIndex;
    if (p.mode == 0u) {
        if (t < uint64_t(a.count)) rows_pass(a, t);
    } else if (p.mode == 2u) {
        if (t < uint64_t(a.count) * 11ul) small_pass(a, t);
    } else if (p.mode == 3u) {
        if (t < uint64_t(a.count) * uint64_t(a.sh_floats)) sh_pass(a, t);
    } else if (t < uint64_t(a.moved)) {
        uint64_t i = uint64_t(load_uint(a.moved_indices, uint(t)));
        for (uint c = 0u; c < 3u; c++) {
            precise float m = get(a.next[0], 3ul * i + c) + float(get_int(a.moved_steps, 3ul * t + c)) * a.step;
            put(a.next[0], 3ul * i + c, m);
        }
    }
}
