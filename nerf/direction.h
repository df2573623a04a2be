/* direction.h: the view direction's encoding for the colour network (spec/nerf.md,
   "Network"): the 16 real spherical harmonics of degrees 0 to 3 at the unit direction,
   with the Condon-Shortley phase, in the order l = 0..3, m = -l..l (the order and signs of
   the splat renderer's SH and of glTF's KHR_gaussian_splatting). Written once here for the
   CPU and CUDA. The constants are the real SH normalisations, sqrt((2l + 1) / 4 pi *
   (l - |m|)! / (l + |m|)!) times the Legendre factors, as tiny-cuda-nn's and 3DGS's tables
   give them. */
#ifndef RD_DIRECTION_H
#define RD_DIRECTION_H

#ifdef __cplusplus
extern "C" {
#endif

enum { RD_DIRECTION_VALUES = 16 };

#ifdef __CUDACC__
#define RD_DIRECTION_FN __host__ __device__ static inline
#else
#define RD_DIRECTION_FN static inline
#endif

/* d: a unit vector (not normalised here). */
RD_DIRECTION_FN void rd_direction_encode(const float d[3], float out[RD_DIRECTION_VALUES])
{
    float x = d[0], y = d[1], z = d[2], xx = x * x, yy = y * y, zz = z * z;
    out[0] = 0.28209479177387814f;
    out[1] = -0.48860251190291987f * y;
    out[2] = 0.48860251190291987f * z;
    out[3] = -0.48860251190291987f * x;
    out[4] = 1.0925484305920792f * x * y;
    out[5] = -1.0925484305920792f * y * z;
    out[6] = 0.94617469575755997f * zz - 0.31539156525251999f;
    out[7] = -1.0925484305920792f * x * z;
    out[8] = 0.54627421529603959f * (xx - yy);
    out[9] = 0.59004358992664352f * y * (yy - 3.0f * xx);
    out[10] = 2.8906114426405538f * x * y * z;
    out[11] = 0.45704579946446572f * y * (1.0f - 5.0f * zz);
    out[12] = 0.3731763325901154f * z * (5.0f * zz - 3.0f);
    out[13] = 0.45704579946446572f * x * (1.0f - 5.0f * zz);
    out[14] = 1.4453057213202769f * z * (xx - yy);
    out[15] = 0.59004358992664352f * x * (3.0f * yy - xx);
}

#ifdef __cplusplus
}
#endif
#endif
