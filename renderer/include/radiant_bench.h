/* radiant_bench.h: benchmark helpers, apart from the API that radiant.h includes: the
   synthetic scene and cameras of `radiant synth` and `radiant bench --synth`, which
   reproduce the project's benchmark figures. Include it explicitly; it may change with
   the benchmarks. */
#ifndef RADIANT_BENCH_H
#define RADIANT_BENCH_H

#include "radiant_splats.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- benchmark scenes ----------------------------------------------------------------- */

/* The benchmark scene of `radiant synth`: count Gaussians near three spheres and a ground
   plane, SH degree 3, log-scales about ln(0.02*sqrt(1e5/count)) +- 0.5, logit opacities
   N(1, 1.5), DC N(0, 1), higher SH N(0, 0.1); a pure function of count and seed. */
rd_result rd_scene_create_synthetic(rd_context *ctx, const rd_demo_desc *desc, rd_scene **out);
/* Its cameras: a ring of n looking at the centre, horizontal field of view 60 degrees. */
void rd_synthetic_cameras(int n, int width, int height, rd_camera *out);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_BENCH_H */
