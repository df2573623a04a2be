/* direction.h: the view direction's encoding for the colour network (spec/nerf.md,
   "Network"): the 16 real spherical harmonics of degrees 0 to 3 at the unit direction,
   with the Condon-Shortley phase, in the order l = 0..3, m = -l..l (the order and signs of
   the splat renderer's SH and of glTF's KHR_gaussian_splatting). */
#ifndef RD_DIRECTION_H
#define RD_DIRECTION_H

#ifdef __cplusplus
extern "C" {
#endif

enum { RD_DIRECTION_VALUES = 16 };

/* d: a unit vector (not normalised here). */
void rd_direction_encode(const float d[3], float out[RD_DIRECTION_VALUES]);

#ifdef __cplusplus
}
#endif
#endif
