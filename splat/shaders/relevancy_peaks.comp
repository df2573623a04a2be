#version 450
// relevancy_peaks: the second half of the level choice: each pixel's r' = (r + m) / 2, m the
// mean of r over the in-image pixels of its 29x29 window (the column sum of the row sums,
// compensated), and each plane's largest r' into peaks (r' > 0, so a float's bits order
// as unsigned integers: one atomicMax a subgroup). An invocation per pixel of every plane.
#include "common.glsl"
layout(local_size_x = 256) in;
layout(push_constant) uniform Push {
    uint64_t scores, row_sums, peaks, relevancy, chosen;
    uint width, height, planes, levels, queries;
} p;

void main()
{
    uint pixels = p.width * p.height, i = linear_group() * 256u + gl_LocalInvocationIndex;
    bool inside = i < pixels * p.planes;
    float smoothed = 0.0;
    uint plane = 0u;
    if (inside) {
        plane = i / pixels;
        uint pixel = i % pixels, x = pixel % p.width, y = pixel / p.width, base = plane * pixels;
        uint x0 = x >= 14u ? x - 14u : 0u, x1 = min(x + 15u, p.width);
        uint y0 = y >= 14u ? y - 14u : 0u, y1 = min(y + 15u, p.height);
        precise float sum = 0.0, lost = 0.0; // precise: no reassociation, which would undo the compensation
        for (uint k = y0; k < y1; k++) {
            precise float v = load_float(p.row_sums, base + k * p.width + x) - lost, t = sum + v;
            lost = (t - sum) - v;
            sum = t;
        }
        smoothed = 0.5 * (load_float(p.scores, i) + sum / float((x1 - x0) * (y1 - y0)));
    }
    // a subgroup may straddle two planes: each plane's part takes its own maximum
    uint first = subgroupMin(inside ? plane : 0xffffffffu);
    float best = subgroupMax(inside && plane == first ? smoothed : 0.0);
    if (subgroupElect() && first != 0xffffffffu) atomicMax(UintAt(p.peaks + uint64_t(first) * 4ul).v, floatBitsToUint(best));
    if (inside && plane != first) atomicMax(UintAt(p.peaks + uint64_t(plane) * 4ul).v, floatBitsToUint(smoothed));
}
