// nerf_render.glsl (nerf_render.comp, and nerf_render_profile.comp with phase timers): one
// wave of the NeRF frame, a workgroup 64 pixels' rays (render_cpu.c's
// per-pixel work). Each iteration, every ray still going marches its next samples (the
// occupancy grid's march, nerf_march.glsl, resumed where it left off) into the workgroup's
// slots, the workgroup evaluates the field at all of them together (nerf_field.glsl, a
// tile of samples at a time), and each ray composites its own onto its running sums in
// volume.h's order, until its transmittance falls under 1e-4 or its march ends. A ray
// takes more samples an iteration as fewer are left (RD_NERF_VK_SLOTS / rays, at most
// RD_NERF_VK_RAY_STEPS), so the tiles stay full; the samples behind an opaque surface are
// evaluated only within the iteration that reaches it (render_cuda.cu's waves, in a
// workgroup).
//
// Waves: the workgroup goes on until its rays finish or the wave's loop budget (push
// constant) is spent, and then each unfinished ray keeps its state for the next wave. On
// GPUs the budget is unbounded and one wave renders the frame. lavapipe (Mesa's gallivm)
// ends an invocation's loops after 65535 iterations in all, its loop limiter, silently:
// the budget counts the iterations this shader's loops may take (an upper bound, each
// loop's failing exit test counted too: an iteration's march RD_NERF_VK_MARCH_CAP steps
// of RD_NERF_VK_STEP_ITERATIONS, its bookkeeping RD_NERF_VK_ITERATION_ITERATIONS, a tile
// `tile_cost`, render_vk.c's bound) and ends the wave well before the limit.
#ifndef RD_NERF_MARCH_SINGLE
#extension GL_EXT_shader_explicit_arithmetic_types_float64 : require
#endif
#include "common.glsl"
#include "nerf_layout.h"
#include "nerf_field.glsl"
#include "nerf_march.glsl"

layout(local_size_x = RD_NERF_VK_THREADS) in;
layout(push_constant) uniform Push {
    uint64_t view, table, weights, bits, counters, rays;
    uint64_t color, depth, trans, contrib; // the outputs: the caller's device addresses or ours
    uint outputs;                          // RD_NERF_VK_OUT_* bits
    uint slots;                            // samples an iteration at most: RD_NERF_VK_SLOTS, fewer on a CPU device
    uint first;                            // nonzero: the first wave, which starts every ray
    uint budget;                           // loop iterations a wave may take (0xffffffff: unbounded)
    uint tile_cost;                        // loop iterations of one tile's field
} p;

const float MIN_TRANSMITTANCE = 1e-4; // volume.h's

layout(buffer_reference, std430, buffer_reference_align = 4) buffer RayAt { uint v[RD_NERF_VK_RAY_UINTS]; };

shared float s_t_dt[2][RD_NERF_VK_SLOTS]; // each slot's sample: t and dt
shared uint s_rays, s_slots_used;
shared uint s_call_steps[RD_NERF_VK_MARCH_CALLS]; // each march call's longest, of an iteration

#ifdef RD_NERF_VK_PROFILE
// RADIANT_NERF_VK_PROFILE's timers: the first subgroup's clock at each phase's end (its
// waits at the barriers included), summed a workgroup and added into the counters in
// units of 4096 ticks: the march, the field's tiles, the compositing.
uint64_t g_clock, g_phase[3];
void phase_end(uint phase)
{
    uint64_t now = packUint2x32(clock2x32ARB());
    if (now > g_clock) g_phase[phase] += now - g_clock; // a CPU device's clock may step back between threads
    g_clock = now;
}
#else
void phase_end(uint phase) {}
#endif

void main()
{
    NerfView v = NerfView(p.view);
    g_weights = p.weights;
    uint lane = gl_LocalInvocationIndex;
    for (uint slot = lane; slot < RD_NERF_VK_SLOTS; slot += RD_NERF_VK_THREADS) // slots no ray fills stay finite
        for (int a = 0; a < 3; a++) s_position[a][slot] = 0.0, s_direction[a][slot] = 0.0;
    uint pixel = linear_group() * gl_WorkGroupSize.x + lane;
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
            m = march_of_words(uvec4(state.v[0], state.v[1], state.v[2], state.v[3]));
            m.marched = int(state.v[4]);
            T = uintBitsToFloat(state.v[5]), depth = uintBitsToFloat(state.v[9]);
            rgb = vec3(uintBitsToFloat(state.v[6]), uintBitsToFloat(state.v[7]), uintBitsToFloat(state.v[8]));
            used = state.v[10];
            alive = true;
        }
    }
    bool started = alive; // this wave's to finish or to keep
    uint budget = p.budget, tiles_at_most = (p.slots + TILE - 1u) / TILE;
    uint iteration_cost = 3u * RD_NERF_VK_MARCH_CAP * RD_NERF_VK_STEP_ITERATIONS + RD_NERF_VK_ITERATION_ITERATIONS + tiles_at_most * p.tile_cost;
#ifdef RD_NERF_VK_PROFILE
    g_clock = packUint2x32(clock2x32ARB()), g_phase[0] = g_phase[1] = g_phase[2] = 0ul;
#endif
    // every condition below that a barrier depends on is the workgroup's (shared values
    // read between barriers, the budget)
    while (budget >= iteration_cost) {
        barrier();
        if (lane == 0u) s_rays = 0u, s_slots_used = 0u;
        if (lane < RD_NERF_VK_MARCH_CALLS) s_call_steps[lane] = 0u;
        barrier();
        uint rank = alive ? atomicAdd(s_rays, 1u) : 0u;
        barrier();
        uint rays = s_rays;
        if (rays == 0u) break;
        // this iteration's samples of each ray; the rays past the slots wait for the next
        uint each = clamp(p.slots / rays, 1u, RD_NERF_VK_RAY_STEPS), taken = 0u;
        bool finishing = false;
        if (alive && (rank + 1u) * each <= p.slots) {
            // a CPU device's SIMD lanes loop together, so its loop limiter counts each march
            // call's longest lane (s_call_steps): with calls of MARCH_CAP / each steps at
            // most, `each` of them finding a sample and at most MARCH_CAP / call_cap + 1
            // pausing, an iteration's calls take under 3 MARCH_CAP steps in all (GPUs:
            // calls of a ray's MARCH_CAP)
            uint left = RD_NERF_VK_MARCH_CAP, call_cap = p.budget == 0xffffffffu ? left : left / each, call = 0u;
            while (taken < each && left > 0u) {
                uint steps;
                vec2 s;
                int status = march_next(v, p.bits, ray, m, min(left, call_cap), steps, s);
                left -= steps;
                if (p.budget != 0xffffffffu) atomicMax(s_call_steps[min(call++, RD_NERF_VK_MARCH_CALLS - 1u)], steps);
                if (status == MARCH_DONE) {
                    finishing = true;
                    break;
                }
                if (status != MARCH_FOUND) continue; // paused: on, while steps are left
                uint slot = rank * each + taken++;
                for (int a = 0; a < 3; a++) {
                    precise float x = ray.origin[a] + s.x * ray.dir[a];
                    s_position[a][slot] = x, s_direction[a][slot] = ray.dir[a];
                }
                s_t_dt[0][slot] = s.x, s_t_dt[1][slot] = s.y;
            }
            if (taken != 0u) atomicMax(s_slots_used, rank * each + taken);
        }
        barrier();
        phase_end(0u);
        uint slots_used = s_slots_used;
        uint march_steps = 0u;
        for (uint c = 0u; c < RD_NERF_VK_MARCH_CALLS; c++) march_steps += s_call_steps[c];
        budget -= march_steps * RD_NERF_VK_STEP_ITERATIONS + RD_NERF_VK_ITERATION_ITERATIONS;
        for (uint first = 0u; first < slots_used; first += TILE) {
            field_tile(v, p.table, first);
            budget -= p.tile_cost;
        }
        phase_end(1u);
        for (uint j = 0u; j < taken; j++) { // the ray's samples in order
            uint slot = rank * each + j;
            float sample_t = s_t_dt[0][slot], sigma = s_field[0][slot];
            precise float alpha = 1.0 - exp(-(sigma * s_t_dt[1][slot])), w = T * alpha;
            for (int c = 0; c < 3; c++) rgb[c] += w * s_field[1 + c][slot];
            depth += w * sample_t;
            T *= 1.0 - alpha;
            used++;
            if (T < MIN_TRANSMITTANCE) {
                finishing = true;
                break;
            }
        }
        if (finishing) alive = false;
        phase_end(2u);
    }
    if (started && alive) { // on in the next wave
        uvec4 words = march_words(m);
        state.v[0] = words.x, state.v[1] = words.y, state.v[2] = words.z, state.v[3] = words.w;
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
#ifdef RD_NERF_VK_PROFILE
    if (lane == 0u)
        for (uint k = 0u; k < 3u; k++) atomicAdd(Uints(p.counters).v[RD_NERF_VK_COUNTER_PROFILE + k], uint(g_phase[k] >> 12));
#endif
}
