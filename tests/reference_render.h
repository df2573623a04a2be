/* reference_render.h: an independent brute-force evaluation of spec/gaussians.md in
   double precision: no tiles (except the INRIA rule, which is defined by tiles), no
   sorting tricks, every Gaussian tested at every pixel. */
#ifndef RD_REFERENCE_RENDER_H
#define RD_REFERENCE_RENDER_H

#include "radiant.h"

typedef struct reference_output {
    double *color;         /* w*h*4 */
    double *depth;         /* w*h, accumulated or expected per flags */
    double *transmittance; /* w*h */
    int *blended;          /* w*h */
    /* 1 where a decision is numerically ambiguous, so that float may rightly differ: an
       alpha within 1% of 1/255, a transmittance step within 1% of 1e-4, an INRIA tile
       edge within 1e-3 pixels of the pixel's tile */
    unsigned char *ambiguous;
} reference_output;

/* A scene in double precision, as the reference evaluates it: each world covariance
   whole (entries xx xy xz yy yz zz; NaN: not drawn) and opacities as probabilities (after
   the sigmoid), for tests whose Gaussians come from elsewhere (4D slices). */
typedef struct reference_scene {
    int count, sh_degree;
    uint32_t flags; /* RD_SCENE_* */
    const double *means, *covariances, *opacities, *sh;
} reference_scene;
int reference_render_scene(const reference_scene *scene, const rd_camera *camera, const rd_render_desc *desc,
                           reference_output *out);

/* Allocates out's arrays; free with reference_free. Returns 0 on success. */
int reference_render(const rd_scene_desc *scene, const rd_camera *camera, const rd_render_desc *desc,
                     reference_output *out);
void reference_free(reference_output *out);

#endif
