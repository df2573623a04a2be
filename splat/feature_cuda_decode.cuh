/* feature_cuda_decode.cuh: a level's unit features in halves on tensor cores, F / |F| with F = W^T D,
   for feature_cuda.cu only (included after feature_cuda_tensor_walk.cuh, whose ldmatrix and
   m16n8k16 helpers it shares, and level_params and rank_pixel).
   Each operand is split into a high and a low half (a = a_hi + a_lo) and the three products
   that matter summed in float (a_lo b_hi + a_hi b_lo + a_hi b_hi), which keeps the sum to
   about float's precision where single halves would lose 1e-3 to cancellation.
   D reaches the device in the fragments' own order (matrix_fragments: for each level,
   16-entry step kt and 8-column tile nt, each lane's two registers as one 8-byte read), so
   that a warp holds its columns of D in registers and reads them once a block: the warp
   takes two column tiles (16 of the D) for every pixel of the block, W coming from
   shared memory by ldmatrix, and writes each pixel's 16 halves together (a 32-byte
   sector where D is a multiple of 16).
   (The wmma version before it read D from global memory for every 16x16 output tile and
   wrote halves one at a time: a level's features 4.50 ms on an H100, 2.01 with this.) */
#ifndef RD_FEATURE_CUDA_DECODE_CUH
#define RD_FEATURE_CUDA_DECODE_CUH

enum { DECODE_MAX_K_TILES = TENSOR_MAX_L / 16 };


/* The register of D's fragment (for level, entries kt*16.., columns nt*8..) that lane
   holds: part 0 rows 2 (lane % 4) and +1, part 1 those + 8, of column lane / 4; the
   first row in the low 16 bits. */
__host__ __device__ static inline size_t decode_fragment_index(int level, int kt, int nt, int lane, int k_tiles, int n_tiles)
{
    return (((size_t)level * k_tiles + kt) * n_tiles + nt) * 32 + lane;
}

/* level_acc ([entry][pixel], stride apart) split into halves in place, 16 entries at a
   time: chunk kt's rows become its high halves [pixel][16] then its low ones (16 rows of
   threads + 1 floats hold them), so the level's accumulators are spent (W scaled by
   p.coefficient_scale for the split, D by p.codebook_scale on the host). Then the products
   F = W D, and the writes of F times the pixel's inv_norms: 1 / |F| goes last, as the
   CPU's F / |F|, since W / |F| passes halves' range where F nearly vanishes (D of 2).
   Needs tensor_fits(L). */
__device__ static void decode_tensor_cores(const level_params &p, float *level_acc, int stride, const float *inv_norms, int x0, int y0,
                                           bool live)
{
    int threads = (int)blockDim.x, rank = (int)threadIdx.x, lane = rank & 31, warp = rank >> 5, warps = threads / 32;
    int k_tiles = p.L / 16, n_tiles = (p.dim + 7) / 8;
    for (int kt = 0; kt < k_tiles; kt++) {
        float v[16];
#pragma unroll
        for (int c = 0; c < 16; c++) v[c] = level_acc[(kt * 16 + c) * stride + rank] * p.coefficient_scale;
        __syncthreads(); /* every thread has read the chunk's rows before they are overwritten */
        __half *hi = (__half *)(level_acc + (size_t)kt * 16 * stride), *lo = hi + (size_t)threads * 16;
#pragma unroll
        for (int c = 0; c < 16; c += 2) {
            __half2 h = __floats2half2_rn(v[c], v[c + 1]);
            float2 back = __half22float2(h);
            *(__half2 *)(hi + rank * 16 + c) = h;
            *(__half2 *)(lo + rank * 16 + c) = __floats2half2_rn(v[c] - back.x, v[c + 1] - back.y);
        }
    }
    __syncthreads();
    const uint2 *D_hi = p.codebook_fragments, *D_lo = D_hi + decode_fragment_index(p.levels, 0, 0, 0, k_tiles, n_tiles);
    int row = (lane & 7) + ((lane >> 3) & 1) * 8, column = (lane >> 4) * 8; /* ldmatrix's four 8x8 of A */
    float unscale = 1.0f / (p.coefficient_scale * p.codebook_scale);
    bool pairs_aligned = p.dim % 2 == 0 && (uintptr_t)p.features % 4 == 0; /* a column pair as one 4-byte write */
    for (int pair = warp; pair * 2 < n_tiles; pair += warps) {
        uint2 b_hi[DECODE_MAX_K_TILES][2], b_lo[DECODE_MAX_K_TILES][2];
#pragma unroll
        for (int kt = 0; kt < DECODE_MAX_K_TILES; kt++)
#pragma unroll
            for (int j = 0; j < 2; j++) {
                int nt = pair * 2 + j;
                bool in = kt < k_tiles && nt < n_tiles;
                size_t at = in ? decode_fragment_index(p.level, kt, nt, lane, k_tiles, n_tiles) : 0;
                b_hi[kt][j] = in ? __ldg(D_hi + at) : make_uint2(0u, 0u), b_lo[kt][j] = in ? __ldg(D_lo + at) : make_uint2(0u, 0u);
            }
        for (int m = 0; m < threads / 16; m++) {
            float c[2][4] = {};
#pragma unroll
            for (int kt = 0; kt < DECODE_MAX_K_TILES; kt++) {
                if (kt >= k_tiles) break;
                const __half *hi = (const __half *)(level_acc + (size_t)kt * 16 * stride), *lo = hi + (size_t)threads * 16;
                unsigned int a_hi[4], a_lo[4];
                load_matrix_x4(a_hi, hi + (m * 16 + row) * 16 + column);
                load_matrix_x4(a_lo, lo + (m * 16 + row) * 16 + column);
#pragma unroll
                for (int j = 0; j < 2; j++) {
                    product_16x8x16(c[j], a_lo, b_hi[kt][j].x, b_hi[kt][j].y);
                    product_16x8x16(c[j], a_hi, b_lo[kt][j].x, b_lo[kt][j].y);
                    product_16x8x16(c[j], a_hi, b_hi[kt][j].x, b_hi[kt][j].y);
                }
            }
            /* c[j][0..1]: pixel row lane/4, columns 2 (lane % 4) and +1; c[j][2..3] the row 8 below */
#pragma unroll
            for (int half = 0; half < 2; half++) {
                int k = m * 16 + (lane >> 2) + half * 8, kx, ky;
                rank_pixel(k, x0, y0, &kx, &ky);
                float scale = inv_norms[k] * unscale;
                if (!live || kx >= p.vp.width || ky >= p.vp.height) continue;
                __half *out = (__half *)p.features + ((size_t)ky * p.vp.width + kx) * p.dim;
#pragma unroll
                for (int j = 0; j < 2; j++) {
                    int d = (pair * 2 + j) * 8 + (lane & 3) * 2;
                    float v0 = c[j][half * 2] * scale, v1 = c[j][half * 2 + 1] * scale;
                    if (pairs_aligned && d + 1 < p.dim) *(__half2 *)(out + d) = __floats2half2_rn(v0, v1);
                    else {
                        if (d < p.dim) out[d] = __float2half_rn(v0);
                        if (d + 1 < p.dim) out[d + 1] = __float2half_rn(v1);
                    }
                }
            }
        }
    }
    __syncthreads();
}

/* Each level's k_rows x columns matrix (levels of them, row-major in m) as the B operands of
   m16n8k16 products in decode_fragment_index's order, the high halves of every level and
   then the low ones (m - high, rounded), every value times scale; columns past the
   matrix's are 0. D for decode_tensor_cores, G for gram_norms_tensor_cores. Needs k_rows a
   multiple of 16. */
static void matrix_fragments(const float *m, int levels, int k_rows, int columns, float scale, uint2 *out)
{
    int k_tiles = k_rows / 16, n_tiles = (columns + 7) / 8;
    size_t count = decode_fragment_index(levels, 0, 0, 0, k_tiles, n_tiles);
    for (int level = 0; level < levels; level++)
        for (int kt = 0; kt < k_tiles; kt++)
            for (int nt = 0; nt < n_tiles; nt++)
                for (int lane = 0; lane < 32; lane++) {
                    unsigned int hi[4], lo[4]; /* part 0's two rows, then part 1's */
                    for (int e = 0; e < 4; e++) {
                        int k = kt * 16 + (lane % 4) * 2 + (e & 1) + (e >> 1) * 8, d = nt * 8 + lane / 4;
                        float v = d < columns ? m[((size_t)level * k_rows + k) * columns + d] * scale : 0.0f;
                        __half h = __float2half_rn(v), l = __float2half_rn(v - __half2float(h));
                        hi[e] = *(unsigned short *)&h, lo[e] = *(unsigned short *)&l;
                    }
                    size_t at = decode_fragment_index(level, kt, nt, lane, k_tiles, n_tiles);
                    out[at] = make_uint2(hi[0] | hi[1] << 16, hi[2] | hi[3] << 16);
                    out[count + at] = make_uint2(lo[0] | lo[1] << 16, lo[2] | lo[3] << 16);
                }
}

/* The power of two that brings the largest magnitude of m's count values into [2^14,
   2^15) (1 for none or zeros; at most 2^60 for the tiniest): halves hold it with room to
   spare (to 65504), and their split keeps its precision (HALVES_SCALE's comment) unless a
   value is 2^-28 of the largest. */
static float halves_scale(const float *m, size_t count)
{
    float largest = 0.0f;
    for (size_t i = 0; i < count; i++) largest = fmaxf(largest, fabsf(m[i]));
    if (!(largest > 0.0f) || !isfinite(largest)) return 1.0f;
    int exponent;
    frexpf(largest, &exponent); /* largest = f 2^exponent, f in [0.5, 1) */
    return ldexpf(1.0f, 15 - exponent < 60 ? 15 - exponent : 60);
}

#endif
