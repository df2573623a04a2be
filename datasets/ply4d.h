/* ply4d.h: 4D Gaussian scenes as PLY files (the README's "4D PLY"): INRIA's names for the
   part a 3D Gaussian shares (x y z, f_dc_*, f_rest_*, opacity, scale_0..2, rot_0..3 as
   q_l) and named properties for the rest: t, scale_t, rot_r_0..3 (q_r), and the colour's
   temporal terms n = 1, 2 as f_t<n>_dc_0..2 and f_t<n>_rest_* (channel-major as f_rest);
   `comment time_period T` (absent: 1). A PLY whose vertex element has rot_r_0 is 4D; one
   with rotor_0..7 in place of rot_* and rot_r_* holds Duan et al.'s rotors (s, b_xy, b_xz,
   b_yz, b_xw, b_yw, b_zw, p), each checked (unit length, the rotor constraint; a broken one
   is named, not renormalised) and read as Yang's pair. Written always as Yang's. */
#ifndef RD_PLY4D_H
#define RD_PLY4D_H

#include "../splat/scene4d.h"

bool rd_ply4d_detect(const unsigned char *data, size_t size);
rd_result rd_ply4d_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);
rd_result rd_ply4d_save(rd_context *ctx, const rd_scene *scene, const char *path);

#endif
