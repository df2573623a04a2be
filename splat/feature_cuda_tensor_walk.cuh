/* feature_cuda_tensor_walk.cuh: a feature blend's walk that sums its hits on tensor cores,
   for feature_cuda.cu only (included after its level_params, feature_staged, warp_pixels,
   stage_slots and read_and_cull). The scatter walks add each hit's K slots into shared-memory
   accumulators, a read, a multiply-add and a write a slot, pixel and hit, one hit after
   another; here a warp takes the tile's Gaussians 32 at a time as the colour blend does
   (culled against its 8x4 pixels, the touching ones staged), then
     - each lane walks the hits for its pixel, its weights w = alpha T (0 once stopped) a row
       of W (32 pixels x the hits), in halves as a high and a low part (w = hi + lo to about
       float's precision: the products sum both),
     - the lane that staged a hit writes its K slots into its row of S (the hits x L, zero
       elsewhere: the slots' weights are halves already),
     - and C += W S as m16n8k16 products (fp16 in, fp32 sums), the warp's 32 x L
       accumulators held in registers (L a multiple of 16 up to 64: 2 x L/8 fragments).
   The hits, their order, their alphas and the stopping rule are the scatter walks'; the
   sums differ only in their order and the halves' rounding of w (2^-22 relative, w scaled
   by HALVES_SCALE for the split; tensor cores may truncate their sums, a one-sided error
   of about float's rounding a product). After the walk every level's accumulators go to
   shared memory at once as the scatter walks leave them ([entry][pixel], stride apart) for
   level_kernel's outputs, so that a walk may take every level (192 accumulators a thread
   at three levels of 64) and compute the weights once. */
#ifndef RD_FEATURE_CUDA_TENSOR_WALK_CUH
#define RD_FEATURE_CUDA_TENSOR_WALK_CUH

enum {
    TENSOR_MAX_L = 64,
    TENSOR_MAX_LEVELS = 3, /* a walk's: 192 accumulators a thread at L 64 */
    W_ROW = 40, /* halves a row of W: 32 hits, padded so that ldmatrix's 8 rows fall in distinct banks */
    S_ROW = 72, /* halves a row of S: up to 64 entries, padded likewise */
};

/* A warp's staging for the products, in halves: W's high and low parts, then each walked
   level's S. It aliases the accumulators' shared memory, which is only written once every
   warp has walked. */
__host__ __device__ static inline size_t tensor_stage_halves(int levels) { return (size_t)2 * 32 * W_ROW + (size_t)levels * 32 * S_ROW; }

/* Whether a field's L suits the products on tensor cores (the walk's sums, the decode, the
   norms): whole 16-entry steps, and at most 64 entries, whose fragments stay in registers. */
static inline bool tensor_fits(int L) { return L % 16 == 0 && L <= TENSOR_MAX_L; }

/* Halves hold a value's high and low parts to about float's precision only while the low
   part is a normal number (2^-14 and up): the operands that can be small (the weights w,
   the coefficients W) are multiplied by this before their split and the sums by its
   inverse after (a weight of 1e-3 kept 3e-5 of relative error unscaled, 2^-22 scaled). */
#define HALVES_SCALE 16384.0f /* for the walk's weights w = alpha T, at most 1; the coefficients, which
                                 slot weights past 1 can take past 1, have their field's
                                 (level_params.coefficient_scale) */

/* The products need ldmatrix and m16n8k8 (sm_75) or m16n8k16 (sm_80): the host takes
   them only where the kernels loaded were built for such a device (cudaFuncAttributes'
   binaryVersion), and builds for older ones compile them as traps. */
#define TENSOR_CAPABILITY 75

/* Four 8x8 half matrices from shared memory into a fragment's registers (ldmatrix: lane
   l gives the address of row l % 8 of matrix l / 8), transposed where asked. */
template <bool TRANSPOSED> __device__ __forceinline__ void load_matrices(unsigned int r[4], const __half *at)
{
#if __CUDA_ARCH__ >= 750
    unsigned int address = (unsigned int)__cvta_generic_to_shared(at);
    if (TRANSPOSED)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(address)
                     : "memory");
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                     : "r"(address)
                     : "memory");
#else
    (void)r, (void)at;
    __trap();
#endif
}
__device__ __forceinline__ void load_matrix_x4(unsigned int r[4], const __half *at) { load_matrices<false>(r, at); }
__device__ __forceinline__ void load_matrix_x4_transposed(unsigned int r[4], const __half *at) { load_matrices<true>(r, at); }

/* c += a b for a 16x16 (row-major) half tile a, a 16x8 (column-major) half tile b, and
   the 16x8 float tile c, in the fragments' lane layout (on sm_75 as two 16x8x8 products:
   a0 a1 with b0, then a2 a3 with b1). */
__device__ __forceinline__ void product_16x8x16(float c[4], const unsigned int a[4], unsigned int b0, unsigned int b1)
{
#if __CUDA_ARCH__ >= 800
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#elif __CUDA_ARCH__ >= 750
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(b0));
    asm("mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[2]), "r"(a[3]), "r"(b1));
#else
    (void)c, (void)a, (void)b0, (void)b1;
    __trap();
#endif
}

__device__ __forceinline__ unsigned int half2_bits(__half2 h) { return *(unsigned int *)&h; }

/* The lane's weights for hits [h0, h0 + 8) as two rows of halves (high, low parts), its
   transmittance and stopping carried along; past the hits, or stopped, a weight is 0. */
__device__ __forceinline__ void hit_weights(const feature_staged *slice, int h0, int hits, const warp_pixels &wp, float *T, bool *done,
                                            uint4 *hi, uint4 *lo)
{
    unsigned int high[4], low[4];
#pragma unroll
    for (int i = 0; i < 8; i += 2) {
        float w[2];
#pragma unroll
        for (int e = 0; e < 2; e++) {
            int h = h0 + i + e;
            w[e] = 0.0f;
            if (!*done && h < hits) {
                feature_staged f = slice[h];
                float alpha = hit_alpha(staged_splat{f.poly, f.rest, {}}, wp.X, wp.Y, wp.XX, wp.XY, wp.YY);
                float weight = alpha * *T, next_T = *T - weight; /* as blend_kernel: an alpha under 1/255 is 0 */
                if (next_T < RD_MIN_TRANSMITTANCE) *done = true;
                else w[e] = weight, *T = next_T;
            }
        }
        float2 scaled = make_float2(w[0] * HALVES_SCALE, w[1] * HALVES_SCALE);
        __half2 h = __float22half2_rn(scaled);
        float2 back = __half22float2(h);
        high[i / 2] = half2_bits(h), low[i / 2] = half2_bits(__floats2half2_rn(scaled.x - back.x, scaled.y - back.y));
    }
    *hi = make_uint4(high[0], high[1], high[2], high[3]), *lo = make_uint4(low[0], low[1], low[2], low[3]);
}

/* The walk over LEVELS levels from p.first_level (level_kernel's, as walk_warp_staged's
   arguments; stage: the warp's, tensor_stage_halves(LEVELS), its S zero on entry), into
   c, the warp's accumulators, HALVES_SCALE times the sums: [level][16 pixels][8 entries]
   [the fragment's four], 2 x L/8 fragments a level. The weights are computed once for
   every level. Inlined, so that c stays in registers. */
template <int LEVELS>
__device__ __forceinline__ void walk_tensor(const level_params &p, feature_staged *slice, __half *stage, const warp_pixels &wp, long long start,
                                   long long end, float *T_out, bool *done_out, float (&c)[LEVELS][2][TENSOR_MAX_L / 8][4])
{
    const unsigned int all = 0xffffffffu;
    int lane = (int)threadIdx.x & 31, tiles = p.L / 8;
    float T = *T_out;
    bool done = *done_out;
    __half *w_hi = stage, *w_lo = stage + 32 * W_ROW, *S = stage + 2 * 32 * W_ROW;
    for (long long batch = start; batch < end; batch += 32) {
        if (__all_sync(all, done)) break;
        unsigned int g = 0;
        blend_splat s = {};
        float log2_opacity = 0.0f;
        bool touches = read_and_cull(p, wp, batch + lane, end, &g, &s, &log2_opacity);
        unsigned int mask = __ballot_sync(all, touches);
        int k = __popc(mask & ((1u << lane) - 1));
        __align__(16) unsigned int slots[LEVELS][RD_FEATURE_MAX_SLOTS];
        if (touches) {
            staged_splat st = stage_splat(s, log2_opacity, (float)wp.wx, (float)wp.wy);
            slice[k] = feature_staged{st.poly, st.rest};
#pragma unroll
            for (int l = 0; l < LEVELS; l++) {
                stage_slots(p, g, p.first_level + l, slots[l]);
#pragma unroll
                for (int n = 0; n < RD_FEATURE_MAX_SLOTS; n++)
                    if (n < p.K)
                        S[(l * 32 + k) * S_ROW + (slots[l][n] >> 16)] = __ushort_as_half((unsigned short)(slots[l][n] & 0xffffu));
            }
        }
        __syncwarp();
        int hits = __popc(mask), padded = (hits + 15) & ~15;
        for (int h0 = 0; h0 < padded; h0 += 8) {
            uint4 hi, lo;
            hit_weights(slice, h0, hits, wp, &T, &done, &hi, &lo);
            *(uint4 *)(w_hi + lane * W_ROW + h0) = hi;
            *(uint4 *)(w_lo + lane * W_ROW + h0) = lo;
        }
        __syncwarp();
        for (int k0 = 0; k0 < padded; k0 += 16) {
            unsigned int a_hi[2][4], a_lo[2][4];
            int row = (lane & 7) + ((lane >> 3) & 1) * 8, column = k0 + (lane >> 4) * 8; /* ldmatrix's four 8x8 of A */
#pragma unroll
            for (int m = 0; m < 2; m++) {
                load_matrix_x4(a_hi[m], w_hi + (m * 16 + row) * W_ROW + column);
                load_matrix_x4(a_lo[m], w_lo + (m * 16 + row) * W_ROW + column);
            }
#pragma unroll
            for (int l = 0; l < LEVELS; l++)
#pragma unroll
                for (int n = 0; n < TENSOR_MAX_L / 8; n += 2) {
                    if (n >= tiles) break;
                    unsigned int b[4]; /* two 16x8 tiles of S: entries n*8.. and (n+1)*8.. */
                    load_matrix_x4_transposed(b, S + (l * 32 + k0 + row) * S_ROW + (n + (lane >> 4)) * 8);
#pragma unroll
                    for (int m = 0; m < 2; m++) {
                        product_16x8x16(c[l][m][n], a_lo[m], b[0], b[1]);
                        product_16x8x16(c[l][m][n], a_hi[m], b[0], b[1]);
                        product_16x8x16(c[l][m][n + 1], a_lo[m], b[2], b[3]);
                        product_16x8x16(c[l][m][n + 1], a_hi[m], b[2], b[3]);
                    }
                }
        }
        __syncwarp(); /* S is read before its slots are cleared, and the slice before the next batch */
        if (touches)
#pragma unroll
            for (int l = 0; l < LEVELS; l++)
#pragma unroll
                for (int n = 0; n < RD_FEATURE_MAX_SLOTS; n++)
                    if (n < p.K) S[(l * 32 + k) * S_ROW + (slots[l][n] >> 16)] = __float2half(0.0f);
        __syncwarp();
    }
    *T_out = T, *done_out = done;
}

/* A level's accumulators c (a warp's, walk_tensor's layout) into shared memory as the
   scatter walks leave them: acc[entry * stride + the pixel's rank]. */
__device__ __forceinline__ void store_tensor_sums(const float (&c)[2][TENSOR_MAX_L / 8][4], int L, float *acc, int stride)
{
    int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5, row = lane >> 2, entry = (lane & 3) * 2;
    /* a fragment's c0 c1 are row lane/4, entries 2 (lane%4) and +1; c2 c3 the row 8 below */
#pragma unroll
    for (int m = 0; m < 2; m++)
#pragma unroll
        for (int n = 0; n < TENSOR_MAX_L / 8; n++) {
            if (n >= L / 8) break;
            float *at = acc + (size_t)(n * 8 + entry) * stride + warp * 32 + m * 16 + row;
            const float unscale = 1.0f / HALVES_SCALE;
            at[0] = c[m][n][0] * unscale, at[stride] = c[m][n][1] * unscale;
            at[8] = c[m][n][2] * unscale, at[stride + 8] = c[m][n][3] * unscale;
        }
}

#endif
