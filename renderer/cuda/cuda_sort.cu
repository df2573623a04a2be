/* cuda_sort.cu: the CUDA backend's radix sort of key/value pairs (cuda_sort.h). */
#include "cuda_sort.h"

/* CUB's radix sort (Onesweep on sm_90) with a block tile of our choosing. CUB's sm_90
   tuning takes 384 x 23 = 8,832 pairs a block, made for tens of millions of keys; a sort
   of a few hundred thousand keys then runs on fewer blocks than the GPU has
   multiprocessors (biker's 153k depth keys: 18 blocks, its 620k tile keys: 70 on the
   H100's 132), each pass waiting out a few long blocks. Such a sort takes 512 x 8 a block.
   On the H100: biker's depth sort 0.093 -> 0.084 ms, its tile sort 0.049 -> 0.046 ms;
   the 1M scene's binning, whose depth sort fills 114 of CUB's blocks, was slower with
   it (0.146 -> 0.152 ms). Hence the small tile only below three quarters of a wave of
   CUB's blocks (rd_cuda_sort_small_below).
   Everything but the Onesweep tile is CUB's sm_90 policy. */
enum { CUB_SORT_TILE = 384 * 23 };

template <int SORT_THREADS, int SORT_ITEMS>
struct sort_policy_hub {
    typedef typename cub::detail::radix::policy_hub<unsigned int, unsigned int, unsigned int>::Policy900 cub_policy;
    struct policy : cub::ChainedPolicy<900, policy, policy> {
        static constexpr bool ONESWEEP = true;
        static constexpr int ONESWEEP_RADIX_BITS = 8;
        typedef typename cub_policy::HistogramPolicy HistogramPolicy;
        typedef typename cub_policy::ExclusiveSumPolicy ExclusiveSumPolicy;
        typedef cub::AgentRadixSortOnesweepPolicy<SORT_THREADS, SORT_ITEMS, unsigned int, 1, cub::RADIX_RANK_MATCH_EARLY_COUNTS_ANY,
                                                  cub::BLOCK_SCAN_RAKING_MEMOIZE, cub::RADIX_SORT_STORE_DIRECT, 8>
            OnesweepPolicy;
        typedef typename cub_policy::ScanPolicy ScanPolicy;
        typedef typename cub_policy::DownsweepPolicy DownsweepPolicy;
        typedef typename cub_policy::AltDownsweepPolicy AltDownsweepPolicy;
        typedef typename cub_policy::UpsweepPolicy UpsweepPolicy;
        typedef typename cub_policy::AltUpsweepPolicy AltUpsweepPolicy;
        typedef typename cub_policy::SingleTilePolicy SingleTilePolicy;
        typedef typename cub_policy::SegmentedPolicy SegmentedPolicy;
        typedef typename cub_policy::AltSegmentedPolicy AltSegmentedPolicy;
    };
    typedef policy MaxPolicy;
};

template <int SORT_THREADS, int SORT_ITEMS>
static cudaError_t sort_pairs_tiled(rd_cuda_sort_plan *plan, cub::DoubleBuffer<unsigned int> &keys,
                                    cub::DoubleBuffer<unsigned int> &values, long long n, int bits)
{
    typedef cub::DispatchRadixSort<cub::SortOrder::Ascending, unsigned int, unsigned int, unsigned int,
                                   cub::detail::identity_decomposer_t, sort_policy_hub<SORT_THREADS, SORT_ITEMS>>
        dispatch;
    return dispatch::Dispatch(plan->temp, plan->temp_bytes, keys, values, (unsigned int)n, 0, bits, true, plan->stream);
}

long long rd_cuda_sort_small_below(int multiprocessors) { return (long long)multiprocessors * CUB_SORT_TILE * 3 / 4; }

cudaError_t rd_cuda_sort_pairs(rd_cuda_sort_plan *plan, cub::DoubleBuffer<unsigned int> &keys,
                               cub::DoubleBuffer<unsigned int> &values, long long n, int bits)
{
    if (n < plan->small_below) return sort_pairs_tiled<512, 8>(plan, keys, values, n, bits);
    return sort_pairs_tiled<384, 23>(plan, keys, values, n, bits);
}

