/* reference_slice4d.h: an independent double-precision evaluation of spec/dynamic.md's
   4D Gaussians: the covariance from the spec's quaternion form and the slice at a time
   (conditional mean and covariance by the Schur complement, opacity times p(t), culled at
   p <= 0.05, the colour's cosine terms folded), as a reference_scene to render. */
#ifndef RD_REFERENCE_SLICE4D_H
#define RD_REFERENCE_SLICE4D_H

#include "reference_render.h"

/* Σ4 = R4 diag(s^2) R4^T with R4 v = q_l (x) v (x) conj(q_r), (x, y, z, t) written as
   the quaternion (t, z, y, x). */
void reference_covariance4d(const float log_scale[4], const float q_l[4], const float q_r[4], double sigma[4][4]);

/* The slice of d at time into out, whose arrays are allocated here (free with
   reference_slice4d_free); culled Gaussians keep their slot with a NaN covariance.
   Returns 0 on success. */
int reference_slice4d(const rd_scene4d_desc *d, float time, reference_scene *out);
void reference_slice4d_free(reference_scene *s);

#endif
