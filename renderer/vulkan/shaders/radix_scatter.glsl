// radix_scatter.glsl: one stable pass of the LSD radix sort. Each group takes a block of keys and:
//  1. ranks its keys: each subgroup ranks its own run of the block in order (digit_peers
//     finds the lanes holding the same digit, the lane's rank among them comes from the
//     mask's lower bits, a per-subgroup digit count carries ranks across the run); the
//     subgroups' counts are then scanned per digit, giving the block's count per digit;
//  2. finds where each digit's keys of the block go, by one of two paths (LOOK_BACK, chosen
//     by vk_sort.c from the device's properties):
//     - single pass (as CUB's Onesweep), where the device runs every started workgroup to
//       the end: the group takes its block by ticket (an atomic counter, so every block it
//       may wait on has already started), publishes its counts in the look-back table,
//       flagged "aggregate", then looks back over the earlier blocks per digit (decoupled
//       look-back): it adds their aggregates until it meets an "inclusive" entry (a block
//       that knows its whole prefix), and publishes its own inclusive count. A wait that
//       runs out of its budget counts itself in p.status, which fails the frame: the
//       result is then wrong, and is never returned as if it were right;
//     - reduce-then-scan, where workgroups may not progress while another waits (CPU
//       implementations such as lavapipe): the group's block is its group index, and the
//       place of its keys of each digit is read from the table that radix_histogram
//       counted and rd_vk_scan_record scanned. No group waits on another;
//  3. scatters through shared memory: each key first goes to its place in the block sorted
//     by digit (the keys of smaller digits in the block + of its digit in earlier subgroups
//     + its rank), then the block is written out in that order, position j to the keys of
//     smaller digits (from radix_totals) + of its digit in earlier blocks + its place among
//     the block's keys of that digit. Consecutive threads so write consecutive addresses
//     within each digit's run (as CUB does), where writing each key straight from its
//     rank scattered every subgroup's stores over up to 32 runs.
// Keys land in index order within each digit (stable). A look-back entry is one uint, the
// flag in its top two bits and the count below, so one access reads both; counts
// stay under 2^30 (rd_vk_sorter_reserve refuses more keys). Works for any subgroup size
// from 8 to 128 (full subgroups). On request the pass also gathers:
// gather_to[destination] = gather_from[value] (the renderer's tile counts in depth order).
#include "common.glsl"
#include "sort_block.glsl"
layout(local_size_x = RD_SORT_THREADS) in;
layout(constant_id = 1) const bool LOOK_BACK = true;
// lookback: the pass's look-back entries (single pass), or the scanned table of block
// digit counts (reduce-then-scan); status: a uint that counts waits that ran out
layout(push_constant) uniform Push {
    uint64_t keys_in, values_in, keys_out, values_out; Uints control; uint64_t lookback, totals, gather_from, gather_to, status;
    uint mask, pass;   // the pass sorts by bits 8 * pass and up
} p;

// The lanes of the subgroup holding the same 8-bit digit as this one; lanes where valid is
// false take part in no valid lane's group. RD_RANK_PARTITIONED (radix_scatter_partitioned.comp,
// where the device has VK_NV_shader_subgroup_partitioned): one subgroupPartitionNV, a
// single match on NVIDIA GPUs; else a multi-split of one ballot per bit.
#ifdef RD_RANK_PARTITIONED
uvec4 digit_peers(uint digit, bool valid) { return subgroupPartitionNV(valid ? digit : 0xffffffffu); }
#else
uvec4 digit_peers(uint digit, bool valid)
{
    uvec4 peers = subgroupBallot(valid);
    for (uint b = 0u; b < 8u; b++) {
        bool one = ((digit >> b) & 1u) != 0u;
        uvec4 ones = subgroupBallot(one);
        peers &= one ? ones : ~ones;
    }
    return peers;
}
#endif

const uint AGGREGATE = 1u << 30, INCLUSIVE = 2u << 30, COUNT = (1u << 30) - 1u;

// s_work holds the per-subgroup digit counts (ranking), then the block's keys and values
// in digit order (scattering): the two are never needed at once. The counts are 16-bit
// halves, two digits a uint (a subgroup ranks at most 128 * SORT_ITEMS keys), so that
// the table for 8-lane subgroups (RD_SORT_MAX_SUBGROUPS * RD_RADIX / 2 words) fits in the
// keys' and values' 2 * SORT_BLOCK words (SORT_ITEMS >= 8: vk_sort.c), and the whole
// beside the rest in 32 KiB (lavapipe's limit) at RD_SORT_ITEMS.
const uint SORT_WORK = 2u * SORT_BLOCK;
shared uint s_block;
shared uint s_base[RD_RADIX];  // destination of the digit's keys, less their first place in the block
shared uint s_local[RD_RADIX]; // the digit's first place in the block
shared uint s_work[SORT_WORK];
shared uint s_sums[RD_SORT_THREADS];
uint count_at(uint sg, uint d) { return sg * (RD_RADIX / 2u) + (d >> 1); }
uint count_shift(uint d) { return (d & 1u) * 16u; }
uint count_of(uint sg, uint d) { return (s_work[count_at(sg, d)] >> count_shift(d)) & 0xffffu; }

// Waits for a look-back entry to be published (the single-pass path only). On a GPU the
// first few reads find it. Each iteration reads 256 times in straight-line code (poll4 ..
// poll256, no loops), and the iterations share one budget that leaves the shader's other
// loops room under a loop limiter such as Mesa's (65535 iterations an invocation).
// Entries are read as coherent volatile loads (an atomic read-modify-write would serialise
// every later block's reads of the same entry) and written as single 32-bit stores.
layout(buffer_reference, std430, buffer_reference_align = 4) coherent volatile buffer Entry { uint v; };
uint poll(uint64_t at) { return Entry(at).v; }
uint64_t entry_at(uint block, uint d) { return p.lookback + (uint64_t(block) * RD_RADIX + d) * 4ul; }
uint poll4(uint64_t at)
{
    uint v = poll(at);
    if (v == 0u) v = poll(at);
    if (v == 0u) v = poll(at);
    if (v == 0u) v = poll(at);
    return v;
}
uint poll16(uint64_t at)
{
    uint v = poll4(at);
    if (v == 0u) v = poll4(at);
    if (v == 0u) v = poll4(at);
    if (v == 0u) v = poll4(at);
    return v;
}
uint poll64(uint64_t at)
{
    uint v = poll16(at);
    if (v == 0u) v = poll16(at);
    if (v == 0u) v = poll16(at);
    if (v == 0u) v = poll16(at);
    return v;
}
uint poll256(uint64_t at)
{
    uint v = poll64(at);
    if (v == 0u) v = poll64(at);
    if (v == 0u) v = poll64(at);
    if (v == 0u) v = poll64(at);
    return v;
}
// WAIT_BUDGET (vk_sort.c sets it from rd_tuning, so that the tests can run out of it)
// counts iterations of 256 reads.
layout(constant_id = 2) const uint WAIT_BUDGET = 40000u;
uint wait_budget = WAIT_BUDGET;
bool stalled = false;
uint wait_for_entry(uint64_t at)
{
    uint v = 0u;
    for (; v == 0u && wait_budget > 0u; wait_budget--) v = poll256(at);
    if (v != 0u) return v;
    // Out of budget: say so once, and end this look-back (its sum is wrong anyway).
    if (!stalled) atomicAdd(UintAt(p.status).v, 1u);
    stalled = true;
    return INCLUSIVE;
}

// The keys of digit d in blocks before g: their entries read LOOK_BACK_WINDOW at a time
// (independent reads in flight), summed back to the nearest inclusive one.
const uint LOOK_BACK_WINDOW = 4u;
uint look_back(uint g, uint d)
{
    uint prefix = 0u;
    for (uint end = g; end > 0u;) {
        uint entries[LOOK_BACK_WINDOW];
        for (uint w = 0u; w < LOOK_BACK_WINDOW; w++)
            entries[w] = w < end ? poll(entry_at(end - 1u - w, d)) : 0u;
        for (uint w = 0u; w < LOOK_BACK_WINDOW && w < end; w++) {
            uint e = entries[w] != 0u ? entries[w] : wait_for_entry(entry_at(end - 1u - w, d));
            prefix += e & COUNT;
            if ((e & INCLUSIVE) != 0u) return prefix; // block 0's entry always is
        }
        end = end > LOOK_BACK_WINDOW ? end - LOOK_BACK_WINDOW : 0u;
    }
    return prefix;
}

// The exclusive sum of x over the workgroup's invocations, in index order.
uint workgroup_exclusive_sum(uint x)
{
    uint before = subgroupExclusiveAdd(x);
    if (gl_SubgroupInvocationID == gl_SubgroupSize - 1u) s_sums[gl_SubgroupID] = before + x;
    barrier();
    for (uint s = 0u; s < gl_SubgroupID; s++) before += s_sums[s];
    barrier(); // s_sums is free again
    return before;
}

// Each thread owns the digits d = DIGITS_PER_THREAD * t + k; s_base[d] starts as the
// exclusive sum of totals[pass][0 .. d).
const uint DIGITS_PER_THREAD = RD_RADIX / RD_SORT_THREADS;
void scan_digit_totals()
{
    uint first = gl_LocalInvocationIndex * DIGITS_PER_THREAD, values[DIGITS_PER_THREAD], sum = 0u;
    for (uint k = 0u; k < DIGITS_PER_THREAD; k++) {
        values[k] = load_uint(p.totals, p.pass * RD_RADIX + first + k);
        sum += values[k];
    }
    uint before = workgroup_exclusive_sum(sum);
    for (uint k = 0u; k < DIGITS_PER_THREAD; k++) {
        s_base[first + k] = before;
        before += values[k];
    }
}

void main()
{
    uint groups = p.control.v[RD_CONTROL_SORT_GROUPS], n = p.control.v[RD_CONTROL_SORT_COUNT];
    if (linear_group() >= groups) return;
    uint t = gl_LocalInvocationIndex, sg = gl_SubgroupID, lane = gl_SubgroupInvocationID, size = gl_SubgroupSize;
    uint shift = 8u * p.pass, first_digit = t * DIGITS_PER_THREAD;
    if (t == 0u) s_block = LOOK_BACK ? atomicAdd(p.control.v[RD_CONTROL_SORT_TICKETS + p.pass], 1u) : linear_group();
    for (uint d = t; d < RD_RADIX; d += RD_SORT_THREADS)
        for (uint s = 0u; s < gl_NumSubgroups; s++) s_work[count_at(s, d)] = 0u; // each word twice
    if (LOOK_BACK) scan_digit_totals();
    barrier();
    uint g = s_block;

    // 1. rank within subgroups, then count per digit across them
    uint run = g * SORT_BLOCK + sg * size * SORT_ITEMS;
    uint keys[SORT_ITEMS], values[SORT_ITEMS], ranks[SORT_ITEMS];
    // every load first: the ranking's barriers keep the compiler from moving a load ahead
    // of the previous item, and one memory latency per item made the pass 1.8x slower
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        uint i = run + k * size + lane;
        keys[k] = i < n ? load_uint(p.keys_in, i) : 0u;
        values[k] = i < n ? load_uint(p.values_in, i) : 0u;
    }
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        uint i = run + k * size + lane;
        bool valid = i < n;
        uint key = keys[k], digit = (key >> shift) & p.mask;
        uvec4 peers = digit_peers(digit, valid);
        uint count = subgroupBallotBitCount(peers), rank = subgroupBallotExclusiveBitCount(peers);
        uint before = valid ? count_of(sg, digit) : 0u;
        subgroupBarrier();
        // atomic: the lanes ending the runs of digits 2m and 2m + 1 write the same word
        if (valid && rank + 1u == count) atomicAdd(s_work[count_at(sg, digit)], count << count_shift(digit));
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        ranks[k] = before + rank;
    }
    barrier();

    // 2. publish the block's counts, place the digits in the block, look back, publish the
    //    inclusive counts
    uint block_counts[DIGITS_PER_THREAD], block_sum = 0u;
    for (uint k = 0u; k < DIGITS_PER_THREAD; k++) {
        uint d = first_digit + k, block_count = 0u;
        for (uint s = 0u; s < gl_NumSubgroups; s++) {
            uint c = count_of(s, d); // becomes block_count, leaving the other half alone
            atomicXor(s_work[count_at(s, d)], (c ^ block_count) << count_shift(d));
            block_count += c;
        }
        if (LOOK_BACK && g > 0u) Entry(entry_at(g, d)).v = AGGREGATE | block_count;
        block_counts[k] = block_count;
        block_sum += block_count;
    }
    uint local = workgroup_exclusive_sum(block_sum);
    for (uint k = 0u; k < DIGITS_PER_THREAD; k++) {
        uint d = first_digit + k;
        // unsigned: s_base wraps back when the place in the block is added
        if (LOOK_BACK) {
            uint prefix = g > 0u ? look_back(g, d) : 0u;
            Entry(entry_at(g, d)).v = INCLUSIVE | (prefix + block_counts[k]);
            s_base[d] += prefix - local;
        } else {
            s_base[d] = load_uint(p.lookback, d * groups + g) - local;
        }
        s_local[d] = local;
        local += block_counts[k];
    }
    barrier();

    // 3. sort the block in shared memory, then write it out in that order
    uint places[SORT_ITEMS];
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        uint digit = (keys[k] >> shift) & p.mask;
        places[k] = s_local[digit] + count_of(sg, digit) + ranks[k];
    }
    barrier();
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        if (run + k * size + lane >= n) break;
        s_work[places[k]] = keys[k];
        s_work[SORT_BLOCK + places[k]] = values[k];
    }
    barrier();
    uint in_block = min(n - g * SORT_BLOCK, uint(SORT_BLOCK));
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        uint j = k * RD_SORT_THREADS + t;
        if (j >= in_block) break;
        uint key = s_work[j], value = s_work[SORT_BLOCK + j];
        uint dest = s_base[(key >> shift) & p.mask] + j;
        store_uint(p.keys_out, dest, key);
        store_uint(p.values_out, dest, value);
        places[k] = dest; // reused: where the gathered value goes
    }
    if (p.gather_to == 0ul) return;
    uint gathered[SORT_ITEMS]; // loads first, as in the ranking
    for (uint k = 0u; k < SORT_ITEMS; k++) {
        uint j = k * RD_SORT_THREADS + t;
        uint value = s_work[SORT_BLOCK + j]; // < n unless a wait ran out (then never read out of bounds)
        gathered[k] = j < in_block && value < n ? load_uint(p.gather_from, value) : 0u;
    }
    for (uint k = 0u; k < SORT_ITEMS; k++)
        if (k * RD_SORT_THREADS + t < in_block) store_uint(p.gather_to, places[k], gathered[k]);
}
