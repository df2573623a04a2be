// workgroup_scan.glsl: an exclusive scan of one uint per invocation across a workgroup of
// RD_SCAN_THREADS (Hillis-Steele in shared memory, saturating), with the total.
shared uint s_scan[RD_SCAN_THREADS];

uint workgroup_exclusive_scan(uint x, out uint total)
{
    uint t = gl_LocalInvocationIndex;
    s_scan[t] = x;
    barrier();
    for (uint offset = 1u; offset < RD_SCAN_THREADS; offset <<= 1) {
        uint y = t >= offset ? s_scan[t - offset] : 0u;
        barrier();
        s_scan[t] = sat_add(s_scan[t], y);
        barrier();
    }
    total = s_scan[RD_SCAN_THREADS - 1];
    uint exclusive = t > 0u ? s_scan[t - 1u] : 0u;
    barrier(); // the next call may overwrite s_scan
    return exclusive;
}
