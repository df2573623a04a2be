/* conventions.h: every conversion between the ways splat files store a Gaussian, written
   once and tested once (tests/test_formats.c). radiant's own convention is the INRIA
   one (spec/gaussians.md): right-down-forward axes, log scales, logit opacities,
   quaternions (w, x, y, z), SH coefficient-major with RGB inner (rd_scene_desc). */
#ifndef RD_CONVENTIONS_H
#define RD_CONVENTIONS_H

#include "../splat/scene.h" /* the stored parameters' own conversions (sigmoid, logit, SH DC) */

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* a float to a byte, rounded and clamped to 0..255 (NaN gives 0) */
static inline uint8_t rd_byte(float v)
{
    float b = roundf(v);
    return (uint8_t)(b >= 0.0f ? (b > 255.0f ? 255.0f : b) : 0.0f);
}
/* a value in 0..1 to a byte */
static inline uint8_t rd_unorm8(float v) { return rd_byte(v * 255.0f); }
/* n-bit unsigned normalised integer of t in 0..1 (PlayCanvas packing), clamped; NaN gives
   0 (a chunk whose range overflowed to infinity normalises to NaN: it is no error to write) */
static inline uint32_t rd_pack_unorm(float t, int bits)
{
    float top = (float)((1u << bits) - 1u), v = floorf(t * top + 0.5f);
    return (uint32_t)(v >= 0.0f ? (v > top ? top : v) : 0.0f);
}
static inline float rd_unpack_unorm(uint32_t v, int bits) { return (float)(v & ((1u << bits) - 1u)) / (float)((1u << bits) - 1u); }

/* Quaternions in "smallest three" form: the largest component (made positive) is left
   out and rebuilt from the unit norm.
   SPZ (v3+): component order (x, y, z, w); bits 31-30 the index of the largest, then for
   each other component from the first, a sign bit and 9 bits of |q_i| / sqrt(1/2).
   PlayCanvas compressed PLY: component order (w, x, y, z) as in the PLY; bits 31-30 the
   index, then three 10-bit unorms of q_i * sqrt(1/2) + 0.5. */
uint32_t rd_quat_pack_spz(const float q_wxyz[4]);
void rd_quat_unpack_spz(uint32_t packed, float q_wxyz[4]);
uint32_t rd_quat_pack_playcanvas(const float q_wxyz[4]);
void rd_quat_unpack_playcanvas(uint32_t packed, float q_wxyz[4]);

/* Axes. A change of axes by a signed permutation A (each file axis along one of radiant's,
   either way) maps a Gaussian to the same Gaussian in the new axes: the mean to A m, the
   scales permuted as the axes are, the rotation R to A R A^T (a rotation even where A
   mirrors: the quaternion keeps w and its vector part goes to det(A) A v), and the SH
   coefficients of each band through a matrix, since view directions turn by A too: sign
   factors where A only flips axes, Wigner-D-like mixes where it swaps them (a z-up frame
   into a y-up one). Frames are named as spec/formats.md does, by where a file's +x, +y and
   +z point: R/L right/left, U/D up/down, F/B forward/back; radiant's own is RDF. */
typedef struct rd_axis_change {
    float axes[9];       /* A, row-major: radiant's coordinates from the file's (or back) */
    int scale_from[3];   /* new log-scale a is old log-scale scale_from[a] */
    float quat_xyz[9];   /* det(A) A, on the quaternion's vector part */
    float sh[16][16];    /* block diagonal by band; new coefficient k = sum over j of sh[k][j] old j */
} rd_axis_change;
/* The change from the frame `name` (three letters, case ignored) into RDF, or from RDF into
   it (to_frame); false where name is not a frame (each of x, y, z along a different axis). */
bool rd_axis_change_make(const char *name, bool to_frame, rd_axis_change *out);
/* Applies the change to one Gaussian (any of the arrays may be NULL; sh holds K
   coefficients, RGB inner). */
void rd_axis_change_apply(const rd_axis_change *c, float mean[3], float log_scale[3], float q_wxyz[4], float *sh, int K);

/* The SH band matrices (bands 1-3, block diagonal; new coefficient k = sum over j of
   sh[k][j] old j) for view directions that turn by the orthogonal A (row-major, rotation or
   mirror): the colour at d afterwards is the colour at A^T d before. */
void rd_sh_band_matrices(const float A[9], float sh[16][16]);
/* sh (K coefficients, RGB inner) through such matrices, in place */
void rd_sh_bands_apply(const float m[16][16], float *sh, int K);

/* Affine maps x -> A x + t (glTF node transforms), applied to Gaussians: the mean maps
   exactly; the covariance goes to A S A^T, which for a similarity (A = s Q) is the rotation
   composed with Q (or -Q, which gives the same covariance and is a rotation when Q mirrors)
   and the log-scales moved by log s, and otherwise a new eigen-decomposition; the SH turn
   by the rotation part of A (its polar factor), exact for a similarity and the nearest
   rotation's otherwise (a sheared view has no exact SH). */
typedef struct rd_affine {
    double linear[9], offset[3]; /* A row-major, t */
    bool similarity;
    float turn_wxyz[4];          /* similarity: the rotation Q or -Q */
    float log_scale;             /* similarity: log s */
    float sh[16][16];            /* rd_sh_band_matrices of the polar factor */
} rd_affine;
/* m: the top three rows of a 4x4 matrix, row-major. False where A is singular or not finite. */
bool rd_affine_make(const double m[12], rd_affine *out);
void rd_affine_apply(const rd_affine *a, float mean[3], float log_scale[3], float q_wxyz[4], float *sh, int K);

/* IEEE half <-> float (ksplat), round to nearest even on the way down. */
float rd_half_to_float(uint16_t h);
uint16_t rd_half_from_float(float f);

/* SH layouts. Coefficient-major, RGB inner (radiant, SPZ): index 3*k + c. Channel-major
   `f_rest_j` (INRIA PLY, compressed PLY): j = c*(K-1) + (k-1) for k >= 1. */
static inline int rd_sh_rest_index(int K, int coeff, int channel) { return channel * (K - 1) + coeff - 1; }

#endif
