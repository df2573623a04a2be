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
/* The same Gaussians in 4D (radiant_4d.h): temporal means uniform in [0, time_extent],
   temporal scales 5-30% of it, q_l and q_r each the lifted 3D rotation (w, -z, -y, -x)
   plus N(0, 0.15) noise (so that they move), temporal colour terms N(0, 0.1); SH degree 3,
   time degree 2, period time_extent; a pure function of count, seed and time_extent. */
typedef struct rd_synthetic4d_desc {
    int64_t count;
    uint64_t seed;
    float time_extent; /* 0: 1 */
} rd_synthetic4d_desc;
rd_result rd_scene4d_create_synthetic(rd_context *ctx, const rd_synthetic4d_desc *desc, rd_scene **out);
/* Its cameras: a ring of n looking at the centre, horizontal field of view 60 degrees. */
void rd_synthetic_cameras(int n, int width, int height, rd_camera *out);

#ifdef __cplusplus
}
#endif
#endif /* RADIANT_BENCH_H */
