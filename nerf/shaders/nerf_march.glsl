// nerf_march.glsl: a pixel's ray (rays.h's rd_nerf_camera_ray) and the occupancy grid's
// march (occupancy.h's rd_occupancy_march_view with jitter 0), a sample at a time, as
// render_cuda.cu resumes it: the same statements in the same order, t in double, every
// operation rounded on its own (`precise`: no fused multiply-add), so that on a device
// with IEEE double division (lavapipe's LLVM) the samples are the CPU's bit for bit.
// Devices without shaderFloat64 (nerf_render_single.comp defines RD_NERF_MARCH_SINGLE)
// march in float: t a compensated pair (t + t_lo, the steps' rounding kept in t_lo), each
// leap landing a 4096th of a block past the face as the CPU's (rd_occupancy_nudge), so
// that a float position never rounds back onto it: the CPU's samples for cameras near the
// grid (none differing over 600,000 rays of a test grid 1.5 to 2.5 units away at aabb_scale
// 1 to 16; a review's random grids: 1 or 2 rays in 20,000 a sample more or less), t within
// float rounding; farther away float t runs out of bits (up to 6 rays in 10,000 at 5-15
// units, 3% at 15-45 at aabb_scale 1).
// A change to occupancy.h's march must be made here too.

#define RD_OCCUPANCY_SIDE 128
#define RD_OCCUPANCY_CELLS (128 * 128 * 128)
// The march's scalar: GLSL has no typedef
#ifdef RD_NERF_MARCH_SINGLE
#define real float
#define realvec3 vec3
real real_infinity() { return uintBitsToFloat(0x7f800000u); }
#else
#define real double
#define realvec3 dvec3
real real_infinity() { return packDouble2x32(uvec2(0u, 0x7ff00000u)); }
#endif
const real DT_MIN = real(0.0016914558); // occupancy.h's RD_OCCUPANCY_DT_MIN, a float widened

struct Ray {
    vec3 origin, dir;
    float field_per_depth;
};

Ray camera_ray(NerfView v, uint pixel)
{
    precise float u = float(pixel % v.width) + 0.5, w = float(pixel / v.width) + 0.5;
    precise float cam0 = (u - v.cx) / v.fx, cam1 = (w - v.cy) / v.fy;
    precise vec3 world;
    Ray ray;
    for (int a = 0; a < 3; a++) {
        world[a] = v.w2c[a] * cam0 + v.w2c[4 + a] * cam1 + v.w2c[8 + a] * 1.0;
        precise float centre = -(v.w2c[a] * v.w2c[3] + v.w2c[4 + a] * v.w2c[7] + v.w2c[8 + a] * v.w2c[11]);
        precise float o = centre * v.scale + v.offset[a];
        ray.origin[a] = o;
    }
    precise float length = sqrt(world[0] * world[0] + world[1] * world[1] + world[2] * world[2]);
    for (int a = 0; a < 3; a++) {
        precise float d = world[a] / length;
        ray.dir[a] = d;
    }
    precise float fpd = length * v.scale;
    ray.field_per_depth = fpd;
    return ray;
}

real dmin(real a, real b) { return b < a ? b : a; }
real dmax(real a, real b) { return b > a ? b : a; }

// Where the march is: t (+ t_lo in float), and where it ends (leave; -infinity: it left
// the grid).
struct March {
    real t, leave;
    float t_lo;
    int marched;
};

// The march between waves, in a ray's four words, and back.
uvec4 march_words(March m)
{
#ifdef RD_NERF_MARCH_SINGLE
    return uvec4(floatBitsToUint(m.t), floatBitsToUint(m.t_lo), floatBitsToUint(m.leave), 0u);
#else
    return uvec4(unpackDouble2x32(m.t), unpackDouble2x32(m.leave));
#endif
}
March march_of_words(uvec4 w)
{
    March m;
#ifdef RD_NERF_MARCH_SINGLE
    m.t = uintBitsToFloat(w.x), m.t_lo = uintBitsToFloat(w.y), m.leave = uintBitsToFloat(w.z);
#else
    m.t = packDouble2x32(w.xy), m.leave = packDouble2x32(w.zw), m.t_lo = 0.0;
#endif
    m.marched = 0;
    return m;
}

// t + dt: in double as the CPU; in float a compensated sum (TwoSum, each rounding
// `precise`), without which a float t drifts from the CPU's by a step's rounding a sample
// and a long run of samples ends one sample early or late.
void advance(inout real t, inout float t_lo, real dt)
{
#ifdef RD_NERF_MARCH_SINGLE
    precise float s = t + dt, b = s - t, e = (t - (s - b)) + (dt - b), lo = t_lo + e, hi = s + lo;
    t_lo = lo - (hi - s), t = hi;
#else
    t += dt;
#endif
}

// occupancy.h's rd_occupancy_nudge: past a face of a cell or block of side `size`.
real nudge(real size, float d)
{
    precise real along = size * real(1.0 / 4096.0) / real(abs(d));
    return dmin(along, DT_MIN);
}

// The march's start (rd_occupancy_start): the largest cascade's entry, nudged inside.
March march_start(NerfView v, Ray ray, float t_min, float t_max)
{
    precise real half_size = real(0.5) * real(1 << (v.cascades - 1u)), enter = real(t_min), leave = real(t_max);
    int axis = -1;
    for (int a = 0; a < 3; a++) {
        real lo = real(0.5) - half_size, hi = real(0.5) + half_size;
        if (ray.dir[a] == 0.0) {
            if (ray.origin[a] <= lo || ray.origin[a] >= hi) leave = -real_infinity();
            continue;
        }
        precise real t0 = (lo - real(ray.origin[a])) / real(ray.dir[a]), t1 = (hi - real(ray.origin[a])) / real(ray.dir[a]);
        real near = dmin(t0, t1);
        if (near >= enter) enter = near, axis = a;
        leave = dmin(leave, dmax(t0, t1));
    }
    March m;
    m.t = enter, m.leave = leave, m.marched = 0, m.t_lo = 0.0;
    if (axis >= 0) {
        precise real start = enter + nudge(real(2.0) * half_size / real(RD_OCCUPANCY_SIDE), ray.dir[axis]);
        m.t = start;
    }
    return m;
}

// The occupancy byte at index i of level k (bytes read a uint at a time).
bool occupied(NerfView v, uint64_t bits, uint k, uint i)
{
    uint at = v.bit_offset[k] + i;
    return ((load_uint(bits, at >> 2) >> ((at & 3u) * 8u)) & 0xffu) != 0u;
}

// rd_occupancy_cell_of: the smallest cascade holding p, or -1; its cell through `cell`.
int cell_of(uint cascades, vec3 p, out uint cell)
{
    float far_side = max(max(abs(p[0] - 0.5), abs(p[1] - 0.5)), abs(p[2] - 0.5));
    cell = 0u;
    for (uint c = 0u; c < cascades; c++) {
        float size = float(1 << c);
        if (!(far_side < 0.5 * size)) continue;
        int i[3];
        for (int d = 0; d < 3; d++) {
            precise float at = (p[d] - 0.5) / size * float(RD_OCCUPANCY_SIDE) + float(RD_OCCUPANCY_SIDE / 2);
            i[d] = clamp(int(floor(at)), 0, RD_OCCUPANCY_SIDE - 1);
        }
        cell = uint(i[0] + i[1] * RD_OCCUPANCY_SIDE + i[2] * RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE);
        return int(c);
    }
    return -1;
}

// rd_occupancy_exit: where the ray leaves the box [low, low + size]^3, and through which
// axis's face.
real box_exit(Ray ray, realvec3 low, real size, out int axis)
{
    precise real t = real_infinity();
    axis = 0;
    for (int a = 0; a < 3; a++) {
        precise real at = real_infinity();
        if (ray.dir[a] > 0.0) at = (low[a] + size - real(ray.origin[a])) / real(ray.dir[a]);
        else if (ray.dir[a] < 0.0) at = (low[a] - real(ray.origin[a])) / real(ray.dir[a]);
        if (at < t) t = at, axis = a;
    }
    return t;
}

// Where march_next leaves off: a sample found, none left, or `cap` steps taken first.
const int MARCH_PAUSED = 0, MARCH_FOUND = 1, MARCH_DONE = 2;

// The march's next sample (its t and dt as floats) into sample_t_dt, in at most `cap`
// steps (each an occupied cell or a leap; their count through `steps`): MARCH_DONE where
// the ray has no more (past leave, out of the grid, or RD_NERF_VK_MAX_SAMPLES taken).
int march_next(NerfView v, uint64_t bits, Ray ray, inout March m, uint cap, out uint steps, out vec2 sample_t_dt)
{
    sample_t_dt = vec2(0.0);
    steps = 0u;
    precise real dt_max = DT_MIN * real(1 << (v.cascades - 1u)), cone = real(v.cone);
    precise real t = m.t;
    float t_lo = m.t_lo;
    int status = MARCH_PAUSED;
    while (steps < cap) {
        if (!(t < m.leave && m.marched < RD_NERF_VK_MAX_SAMPLES)) {
            status = MARCH_DONE;
            break;
        }
        steps++;
        vec3 p;
        for (int a = 0; a < 3; a++) {
#ifdef RD_NERF_MARCH_SINGLE
            precise float at = (ray.origin[a] + t * ray.dir[a]) + t_lo * ray.dir[a];
#else
            precise double at = double(ray.origin[a]) + t * double(ray.dir[a]);
#endif
            p[a] = float(at);
        }
        uint cell;
        int c = cell_of(v.cascades, p, cell);
        if (c < 0) {
            m.leave = -real_infinity();
            status = MARCH_DONE;
            break;
        }
        precise real dt = dmin(dmax(t * cone, DT_MIN), dt_max);
        if (occupied(v, bits, 0u, uint(c) * uint(RD_OCCUPANCY_CELLS) + cell)) {
            sample_t_dt = vec2(float(t), float(dt));
            m.marched++;
            advance(t, t_lo, dt);
            status = MARCH_FOUND;
            break;
        }
        int i[3] = int[3](int(cell % RD_OCCUPANCY_SIDE), int(cell / RD_OCCUPANCY_SIDE % RD_OCCUPANCY_SIDE),
                          int(cell / (RD_OCCUPANCY_SIDE * RD_OCCUPANCY_SIDE)));
        int k = 0; // the largest empty block around the cell
        while (k + 1 < RD_NERF_VK_BIT_LEVELS) {
            int s = RD_OCCUPANCY_SIDE >> (k + 1);
            uint b = uint(c * s * s * s + (i[0] >> (k + 1)) + (i[1] >> (k + 1)) * s + (i[2] >> (k + 1)) * s * s);
            if (occupied(v, bits, uint(k + 1), b)) break;
            k++;
        }
        // block corners: sums of exact products (powers of two times small integers)
        precise real cascade_size = real(1 << c), block = cascade_size * real(1 << k) / real(RD_OCCUPANCY_SIDE);
        precise realvec3 low;
        for (int a = 0; a < 3; a++)
            low[a] = real(0.5) - real(0.5) * cascade_size + real((i[a] >> k) << k) / real(RD_OCCUPANCY_SIDE) * cascade_size;
        int axis;
        precise real exit = box_exit(ray, low, block, axis);
        precise real next = exit + nudge(block, ray.dir[axis]);
        if (next > t) t = next, t_lo = 0.0;
        else advance(t, t_lo, DT_MIN); // always forward
    }
    m.t = t, m.t_lo = t_lo;
    return status;
}
