/* splat_cuda_alpha.cuh: a Gaussian's alpha at a pixel as the CUDA blend computes it
   (splat_cuda_blend.cuh), in base 2 from a record staged per warp of 8x4 pixels; the
   backward pass (splat_backward_cuda.cu) stages and evaluates it the same way, so that it
   differentiates exactly the alphas the forward blended. For .cu files only, after
   splat_cuda_frame.cuh. */
#ifndef RD_SPLAT_CUDA_ALPHA_CUH
#define RD_SPLAT_CUDA_ALPHA_CUH

/* The fields of a Gaussian the blend reads, as a warp stages it. */
typedef struct blend_splat {
    float u, v, a, b, c, opacity, depth, r, g, bl;
} blend_splat;

__device__ __forceinline__ blend_splat load_blend_splat(const device_splat *splats, unsigned int i)
{
    const float4 *q = (const float4 *)(splats + i); /* u v a b | c opacity depth r | g b padding */
    float4 q0 = __ldg(q), q1 = __ldg(q + 1), q2 = __ldg(q + 2);
    return blend_splat{q0.x, q0.y, q0.z, q0.w, q1.x, q1.y, q1.z, q1.w, q2.x, q2.y};
}

/* 2^x by the hardware's approximation (as __expf after its scaling): the blend works in
   base 2 so that the exponent needs no multiply per pixel. */
__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* log2(x) by the hardware's approximation, subnormals flushed to zero: an opacity that small
   gives -inf, a culling limit that no pixel meets, where the CPU's alpha is below 1/255.
   (__log2f also scales subnormals, four more instructions a Gaussian and warp.) */
__device__ __forceinline__ float fast_log2(float x)
{
    float y;
    asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

/* A Gaussian as a warp stages it for its 8x4 pixels: its exponent in base 2 (spec step
   9's power times log2(e)) plus log2(opacity), as a quadratic in the pixel's offset (X, Y)
   from the warp's corner, so that a pixel's alpha is 2^(F + D X + E Y + A X^2 + B XY + C Y^2)
   (five fused multiply-adds, no opacity multiply; with the offset from the mean, seven
   operations and a multiply). The terms are of the size of the form over the warp's pixels,
   so the rounding is that of the CPU's own dx, dy; the log is the fast one, within 2^-21.
   Where the CPU tests power <= 0 nothing is tested here: at a pixel within a rounding
   error of the mean the quadratic can come out a few ulps above log2(opacity), and the
   CPU's power there is 0, which blends (a test dropped 14 pixels of an 8K frame by up to
   0.06 on lavapipe); such an alpha is the opacity times 1 + 1e-6 or so. */
typedef struct staged_splat {
    float4 poly; /* F, D, E, A */
    float4 rest; /* B, C, depth, unused */
    float4 rgb;  /* r, g, b, unused */
} staged_splat;

__device__ __forceinline__ staged_splat stage_splat(const blend_splat &s, float log2_opacity, float x0, float y0,
                                                    unsigned int position = 0u)
{
    const float LOG2E = 1.4426950408889634f;
    float A = -0.5f * LOG2E * s.a, B = -LOG2E * s.b, C = -0.5f * LOG2E * s.c;
    float u = s.u - x0, v = s.v - y0;
    float F = fmaf(u, fmaf(A, u, B * v), fmaf(C * v, v, log2_opacity));
    staged_splat out;
    out.poly = make_float4(F, -fmaf(2.0f * A, u, B * v), -fmaf(B, u, 2.0f * C * v), A);
    out.rest = make_float4(B, C, s.depth, __uint_as_float(position)); /* position: SAVE's (blend_kernel) */
    out.rgb = make_float4(s.r, s.g, s.bl, 0.0f);
    return out;
}

/* rd_splat_alpha (splat_math.h) in base 2 for a staged Gaussian at the pixel (X, Y) from
   the warp's corner (XX = X^2, XY = X Y, YY = Y^2), without branches: a warp mostly
   blends every hit with some of its lanes, so skipping ones paid for the branches (biker
   blend 0.187 -> 0.163 ms, 1M no slower, with EXTRAS). The power cut-off only skips work
   (past it, alpha < 1/255) and is left out; an alpha under 1/255 is 0. The result differs
   from expf's by a few ulps, inside the harness's tolerance. Calling rd_splat_alpha made
   the blend's loop 18% slower. */
__device__ __forceinline__ float hit_alpha(const staged_splat &s, float X, float Y, float XX, float XY, float YY)
{
    float power = fmaf(s.rest.x, XY, fmaf(s.rest.y, YY, fmaf(s.poly.w, XX, fmaf(s.poly.z, Y, fmaf(s.poly.y, X, s.poly.x)))));
    float alpha = fminf(RD_MAX_ALPHA, fast_exp2(power));
    return alpha >= RD_MIN_ALPHA ? alpha : 0.0f;
}

/* The per-warp culling limit (rd_touch_limit) from the fast log, loosened past its error:
   the culling only has to be conservative, as alpha >= 1/255 decides (the exact logf made
   a fifth of the blend's per-Gaussian instructions). */
__device__ __forceinline__ float touch_limit(float log2_opacity)
{
    const float LN2 = 0.6931471805599453f, LOG2_255 = 7.994353436858858f;
    return 2.0f * LN2 * (log2_opacity + LOG2_255) * 1.001f + 2e-3f;
}

/* Whether a Gaussian may blend into a warp's rectangle of pixel centres [wx0, wx1] x
   [wy0, wy1] (rd_rect_touches at touch_limit): the per-warp cull of every walk. */
__device__ __forceinline__ bool touches_rect(const blend_splat &s, float log2_opacity, float wx0, float wx1, float wy0, float wy1)
{
    float abc[3] = {s.a, s.b, s.c};
    return rd_rect_touches(s.u, s.v, abc, touch_limit(log2_opacity), wx0, wx1, wy0, wy1);
}

#endif
