// nerf_march.glsl: a pixel's ray (rays.h's rd_nerf_camera_ray) and the occupancy grid's
// march (occupancy.h's rd_occupancy_march_view with jitter 0), a sample at a time, as
// render_cuda.cu resumes it: the same statements in the same order, t in double, every
// operation rounded on its own (`precise`: no fused multiply-add), so that on a device
// with IEEE double division (lavapipe's LLVM) the samples are the CPU's bit for bit.
// A change to occupancy.h's march must be made here too.

#define RD_OCCUPANCY_SIDE 128
#define RD_OCCUPANCY_CELLS (128 * 128 * 128)
const double DT_MIN = double(0.0016914558); // occupancy.h's RD_OCCUPANCY_DT_MIN, a float widened

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

double dmin(double a, double b) { return b < a ? b : a; }
double dmax(double a, double b) { return b > a ? b : a; }
double infinity_double() { return packDouble2x32(uvec2(0u, 0x7ff00000u)); }

// Where the march is: t, and where it ends (leave; -infinity: it left the grid).
struct March {
    double t, leave;
    int marched;
};

// The march's start: the largest cascade's entry, nudged inside.
March march_start(NerfView v, Ray ray, float t_min, float t_max)
{
    precise double half_size = 0.5lf * double(1 << (v.cascades - 1u)), enter = double(t_min), leave = double(t_max);
    for (int a = 0; a < 3; a++) {
        double lo = 0.5lf - half_size, hi = 0.5lf + half_size;
        if (ray.dir[a] == 0.0) {
            if (ray.origin[a] <= lo || ray.origin[a] >= hi) leave = -infinity_double();
            continue;
        }
        precise double t0 = (lo - double(ray.origin[a])) / double(ray.dir[a]), t1 = (hi - double(ray.origin[a])) / double(ray.dir[a]);
        enter = dmax(enter, dmin(t0, t1)), leave = dmin(leave, dmax(t0, t1));
    }
    precise double start = enter + 1e-6lf * half_size;
    March m;
    m.t = start, m.leave = leave, m.marched = 0;
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

// rd_occupancy_exit: where the ray leaves the box [low, low + size]^3.
double box_exit(Ray ray, dvec3 low, double size)
{
    precise double t = infinity_double();
    for (int a = 0; a < 3; a++) {
        if (ray.dir[a] > 0.0) t = dmin(t, (low[a] + size - double(ray.origin[a])) / double(ray.dir[a]));
        else if (ray.dir[a] < 0.0) t = dmin(t, (low[a] - double(ray.origin[a])) / double(ray.dir[a]));
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
    precise double dt_max = DT_MIN * double(1 << (v.cascades - 1u)), cone = double(v.cone);
    precise double t = m.t;
    int status = MARCH_PAUSED;
    while (steps < cap) {
        if (!(t < m.leave && m.marched < RD_NERF_VK_MAX_SAMPLES)) {
            status = MARCH_DONE;
            break;
        }
        steps++;
        vec3 p;
        for (int a = 0; a < 3; a++) {
            precise double at = double(ray.origin[a]) + t * double(ray.dir[a]);
            p[a] = float(at);
        }
        uint cell;
        int c = cell_of(v.cascades, p, cell);
        if (c < 0) {
            m.leave = -infinity_double();
            status = MARCH_DONE;
            break;
        }
        precise double dt = dmin(dmax(t * cone, DT_MIN), dt_max);
        if (occupied(v, bits, 0u, uint(c) * uint(RD_OCCUPANCY_CELLS) + cell)) {
            sample_t_dt = vec2(float(t), float(dt));
            m.marched++;
            t += dt;
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
        precise double cascade_size = double(1 << c), block = cascade_size * double(1 << k) / double(RD_OCCUPANCY_SIDE);
        precise dvec3 low;
        for (int a = 0; a < 3; a++)
            low[a] = 0.5lf - 0.5lf * cascade_size + double((i[a] >> k) << k) / double(RD_OCCUPANCY_SIDE) * cascade_size;
        precise double next = box_exit(ray, low, block) + 1e-6lf * block;
        t = next > t ? next : t + DT_MIN; // always forward
    }
    m.t = t;
    return status;
}
