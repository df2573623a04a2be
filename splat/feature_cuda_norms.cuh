/* feature_cuda_norms.cuh: each pixel's |F|^2 = W^T G W on tensor cores, for feature_cuda.cu only
   (included after feature_cuda_decode.cuh, whose fragment order and products it shares).
   Y = W G as m16n8k16 products: W from the level's accumulators ([entry][pixel], stride
   apart) split into high and low halves in registers, G's fragments from global memory in
   decode_fragment_index's order, three products summed as the decode sums them; then each
   pixel's W.Y over its row's four lanes, W the accumulators' floats read again (a lane's
   fragment of Y holds columns nt*8 + 2 (lane % 4) and +1 of its rows).
   (squared_norm, a thread a pixel, read G from memory for each of its L^2/2 products: a
   third of a frame's relevancy time on an H100.) The warp takes its own 32 pixels. */
#ifndef RD_FEATURE_CUDA_NORMS_CUH
#define RD_FEATURE_CUDA_NORMS_CUH

/* |F|^2 of the warp's pixels into norms[rank] (its 32 ranks; the caller's __syncwarp
   before reading another lane's). Needs tensor_fits(L) and p.gram_fragments (G times
   p.gram_scale); W is scaled by p.coefficient_scale for its split, and the sums undone. */
__device__ static void gram_norms_tensor_cores(const level_params &p, const float *level_acc, int stride, float *norms)
{
    int lane = (int)threadIdx.x & 31, warp = (int)threadIdx.x >> 5, r = lane >> 2, q = lane & 3;
    int k_tiles = p.L / 16, n_tiles = p.L / 8;
    const uint2 *G_hi = p.gram_fragments, *G_lo = G_hi + decode_fragment_index(p.levels, 0, 0, 0, k_tiles, n_tiles);
    float unscale = 1.0f / (p.coefficient_scale * p.gram_scale);
#pragma unroll 1 /* the fragments of one 16-row half at a time (80 registers, not 127) */
    for (int m = 0; m < 2; m++) {
        int first = warp * 32 + m * 16 + r; /* the rank of fragment row r; row r + 8 is first + 8 */
        float c[2 * DECODE_MAX_K_TILES][4] = {}; /* Y's tiles of 8 columns */
#pragma unroll
        for (int kt = 0; kt < DECODE_MAX_K_TILES; kt++) {
            if (kt >= k_tiles) break;
            unsigned int a_hi[4], a_lo[4]; /* register e: row r + 8 (e & 1), columns 8 (e >> 1) + 2q, +1 */
#pragma unroll
            for (int e = 0; e < 4; e++) {
                int row = first + (e & 1) * 8, column = kt * 16 + (e >> 1) * 8 + q * 2;
                float2 w = make_float2(level_acc[column * stride + row] * p.coefficient_scale,
                                       level_acc[(column + 1) * stride + row] * p.coefficient_scale);
                __half2 h = __floats2half2_rn(w.x, w.y);
                float2 back = __half22float2(h);
                a_hi[e] = half2_bits(h), a_lo[e] = half2_bits(__floats2half2_rn(w.x - back.x, w.y - back.y));
            }
#pragma unroll
            for (int nt = 0; nt < 2 * DECODE_MAX_K_TILES; nt++) {
                if (nt >= n_tiles) break;
                size_t at = decode_fragment_index(p.level, kt, nt, lane, k_tiles, n_tiles);
                uint2 b_hi = __ldg(G_hi + at), b_lo = __ldg(G_lo + at);
                product_16x8x16(c[nt], a_lo, b_hi.x, b_hi.y);
                product_16x8x16(c[nt], a_hi, b_lo.x, b_lo.y);
                product_16x8x16(c[nt], a_hi, b_hi.x, b_hi.y);
            }
        }
        float sum[2] = {0.0f, 0.0f}; /* rows r and r + 8: W.Y, W the accumulators' floats */
#pragma unroll
        for (int nt = 0; nt < 2 * DECODE_MAX_K_TILES; nt++) {
            if (nt >= n_tiles) break;
            const float *column = level_acc + (size_t)(nt * 8 + q * 2) * stride;
            sum[0] += c[nt][0] * column[first] + c[nt][1] * column[stride + first];
            sum[1] += c[nt][2] * column[first + 8] + c[nt][3] * column[stride + first + 8];
        }
#pragma unroll
        for (int half = 0; half < 2; half++) {
            float v = sum[half];
            v += __shfl_xor_sync(0xffffffffu, v, 1);
            v += __shfl_xor_sync(0xffffffffu, v, 2);
            if (q == 0) norms[first + half * 8] = v * unscale;
        }
    }
}

#endif
