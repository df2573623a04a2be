#version 450
// nerf_render: one wave of the NeRF frame, an invocation a pixel's ray (render_cpu.c's
// per-pixel work): the march (nerf_march.glsl) a sample at a time, the field at each
// sample (nerf_field.glsl), composited at once onto the ray's running sums in volume.h's
// order, until the transmittance falls under 1e-4 or the march ends. A sample is
// evaluated only while the ray is still transparent, so the samples behind an opaque
// surface cost nothing (the CUDA frame's waves get the same by compaction).
//
// Waves: a ray goes on until it finishes or its subgroup's loop budget (push constant)
// is spent, and then keeps its state for the next wave. On GPUs the budget is unbounded
// and one wave renders the frame. lavapipe (Mesa's gallivm) ends an invocation's loops
// after 65535 iterations in all, its loop limiter, silently: the budget counts the
// iterations this shader's loops take (an upper bound: a march step at most
// RD_NERF_VK_STEP_ITERATIONS, a sample's evaluation `sample_cost`, both a subgroup's
// largest, since its lanes loop together) and ends the wave well before the limit.
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : require
#include "common.glsl"
#include "nerf_layout.h"
#include "nerf_field.glsl"
#include "nerf_march.glsl"

layout(local_size_x = RD_NERF_VK_THREADS) in;
layout(push_constant) uniform Push {
    uint64_t view, table, weights, bits, counters, rays;
    uint64_t color, depth, trans, contrib; // the outputs: the caller's device addresses or ours
    uint outputs;                          // RD_NERF_VK_OUT_* bits
    uint shared_weights;                   // nonzero: the networks' weights fit in s_weights
    uint first;                            // nonzero: the first wave, which starts every ray
    uint budget;                           // loop iterations a wave may take (0xffffffff: unbounded)
    uint sample_cost;                      // loop iterations of one sample's field and compositing
} p;

const float MIN_TRANSMITTANCE = 1e-4; // volume.h's

layout(buffer_reference, std430, buffer_reference_align = 4) buffer RayAt { uint v[RD_NERF_VK_RAY_UINTS]; };

void main()
{
    NerfView v = NerfView(p.view);
    stage_weights(p.weights, v.network_weights, p.shared_weights != 0u);
    uint pixel = linear_group() * gl_WorkGroupSize.x + gl_LocalInvocationIndex;
    bool valid = pixel < v.pixels, alive = false;
    RayAt state = RayAt(p.rays + uint64_t(valid ? pixel : 0u) * uint64_t(RD_NERF_VK_RAY_UINTS * 4));
    Ray ray;
    March m;
    precise float T = 1.0, depth = 0.0;
    precise vec3 rgb = vec3(0.0);
    uint used = 0u;
    if (valid) {
        ray = camera_ray(v, pixel);
        if (p.first != 0u) {
            precise float t_min = v.near_plane * ray.field_per_depth, t_max = v.far_plane * ray.field_per_depth;
            m = march_start(v, ray, t_min, t_max);
            alive = true;
        } else if (state.v[11] != 0u) {
            m.t = packDouble2x32(uvec2(state.v[0], state.v[1])), m.leave = packDouble2x32(uvec2(state.v[2], state.v[3]));
            m.marched = int(state.v[4]);
            T = uintBitsToFloat(state.v[5]), depth = uintBitsToFloat(state.v[9]);
            rgb = vec3(uintBitsToFloat(state.v[6]), uintBitsToFloat(state.v[7]), uintBitsToFloat(state.v[8]));
            used = state.v[10];
            alive = true;
        }
    }
    bool started = alive; // this wave's to finish or to keep
    uint budget = p.budget, step_cost = RD_NERF_VK_MARCH_CAP * RD_NERF_VK_STEP_ITERATIONS + p.sample_cost;
    // the subgroup's lanes leave together (subgroup-uniform conditions), so that the budget
    // counts what the subgroup's loops take
    while (subgroupAny(alive) && budget >= step_cost) {
        uint steps = 0u;
        bool found = false;
        vec2 s = vec2(0.0);
        if (alive) {
            int status = march_next(v, p.bits, ray, m, RD_NERF_VK_MARCH_CAP, steps, s);
            found = status == MARCH_FOUND;
            alive = status != MARCH_DONE;
        }
        budget -= subgroupMax(steps) * RD_NERF_VK_STEP_ITERATIONS;
        if (subgroupAny(found)) {
            if (found) {
                vec3 position;
                for (int a = 0; a < 3; a++) {
                    precise float x = ray.origin[a] + s.x * ray.dir[a];
                    position[a] = x;
                }
                vec4 f = field(v, p.table, position, ray.dir);
                precise float alpha = 1.0 - exp(-(f.x * s.y)), w = T * alpha;
                for (int c = 0; c < 3; c++) rgb[c] += w * f[1 + c];
                depth += w * s.x;
                T *= 1.0 - alpha;
                used++;
                alive = alive && T >= MIN_TRANSMITTANCE;
            }
            budget -= p.sample_cost;
        }
    }
    if (started && alive) { // on in the next wave
        uvec2 t = unpackDouble2x32(m.t), leave = unpackDouble2x32(m.leave);
        state.v[0] = t.x, state.v[1] = t.y, state.v[2] = leave.x, state.v[3] = leave.y;
        state.v[4] = uint(m.marched), state.v[5] = floatBitsToUint(T);
        state.v[6] = floatBitsToUint(rgb.x), state.v[7] = floatBitsToUint(rgb.y), state.v[8] = floatBitsToUint(rgb.z);
        state.v[9] = floatBitsToUint(depth), state.v[10] = used, state.v[11] = 1u;
    } else if (started) { // finished: render_cpu.c's outputs
        state.v[11] = 0u;
        precise float a = 1.0 - T, d = depth / ray.field_per_depth;
        if (v.expected_depth != 0u) d = a > 0.0 ? d / a : 0.0;
        if ((p.outputs & RD_NERF_VK_OUT_COLOR) != 0u) {
            precise vec3 c = rgb + T * vec3(v.background[0], v.background[1], v.background[2]);
            store_vec4(p.color, pixel, vec4(c, a));
        }
        if ((p.outputs & RD_NERF_VK_OUT_DEPTH) != 0u) store_float(p.depth, pixel, d);
        if ((p.outputs & RD_NERF_VK_OUT_TRANS) != 0u) store_float(p.trans, pixel, 1.0 - a);
        if ((p.outputs & RD_NERF_VK_OUT_CONTRIB) != 0u) store_uint(p.contrib, pixel, used);
    }
    uint finished = subgroupAdd(started && !alive ? used : 0u), unfinished = subgroupAdd(started && alive ? 1u : 0u);
    if (subgroupElect()) {
        if (finished != 0u) atomicAdd(Uints(p.counters).v[RD_NERF_VK_COUNTER_USED], finished);
        if (unfinished != 0u) atomicAdd(Uints(p.counters).v[RD_NERF_VK_COUNTER_ALIVE], unfinished);
    }
}
