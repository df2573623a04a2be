/* scene4d.h: the 4D Gaussian scene (kind RD_SCENE_GAUSSIANS_4D, radiant_4d.h) inside the
   library: the stored arrays, what slicing needs of them computed once (slice4d.c), and
   the slice of one time into 3D Gaussians that the 3D renderer draws. The CPU code is the
   specification. */
#ifndef RD_SCENE4D_H
#define RD_SCENE4D_H

#include "scene.h"
#include "appearance4d.h"

#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The temporal weight at or below which a Gaussian is culled (spec/dynamic.md), and the
   exponent (t - mu_t)^2 / 2W at or above which that is: -ln 0.05. Backends compare the
   exponent, which they compute alike, not exp of it, which they do not: so that they cull
   the same Gaussians. */
#define RD_4D_CULL_WEIGHT 0.05f
#define RD_4D_CULL_EXPONENT 2.9957322735539909f

/* Per Gaussian, what does not depend on time (slice4d.c, from the stored arrays): the
   conditional 3D covariance as the 3D renderer takes one (a rotation and log-scales), the
   velocity V / W, and 1 / (2 W). A Gaussian whose rotations or scales are not usable
   (zero quaternions, a non-finite covariance) has half_inv_w NaN: never drawn. */
typedef struct rd_slice4d_static {
    float rotation[4];  /* w x y z */
    float log_scale[3];
    float velocity[3];
    float half_inv_w;
} rd_slice4d_static;

typedef struct rd_scene4d {
    rd_scene_head head;
    int64_t count;
    int sh_degree, time_degree;
    float time_period;
    float *means, *log_scales, *rotations, *opacities, *sh; /* as rd_scene4d_desc, host */
    rd_slice4d_static *fixed; /* count */
    /* NULL, or networks that give each Gaussian's colour and opacity at a time in place of
       sh and opacities (appearance4d.h; a compact file's, owned by the scene) */
    struct rd_appearance4d *appearance;
} rd_scene4d;

static inline bool rd_is_gaussians4d(const rd_scene *s) { return s && rd_scene_head_of(s)->kind == RD_SCENE_GAUSSIANS_4D; }
/* Floats of colour per Gaussian: (time_degree + 1) * (sh_degree + 1)^2 * 3. */
static inline int64_t rd_scene4d_sh_floats(int sh_degree, int time_degree)
{
    return (int64_t)(time_degree + 1) * rd_sh_coeffs(sh_degree) * 3;
}

/* One Gaussian's colour (terms x 3K floats, the stored layout) folded at `time` into plain SH
   (3K floats): term n weighted by cos(2 pi n (mu_t - time) / period), as the slice does. */
static inline void rd_4d_fold_colour(const float *sh, int K, int terms, float two_pi_over_period, float mean_t, float time,
                                     float *out)
{
    float weight[RD_4D_MAX_TIME_DEGREE + 1];
    for (int n = 0; n < terms; n++) weight[n] = cosf(two_pi_over_period * (float)n * (mean_t - time));
    for (int k = 0; k < 3 * K; k++) {
        float sum = 0.0f;
        for (int n = 0; n < terms; n++) sum += weight[n] * sh[n * 3 * K + k];
        out[k] = sum;
    }
}

/* R4 = P L(q_l) R̄(q_r) P of one Gaussian (P reverses the axes), the quaternions
   normalised; false where one is zero or not finite. unit (8: l then r, normalised) and
   lengths (2: |q_l|, |q_r|) may be NULL. */
bool rd_4d_rotation(const float q_l[4], const float q_r[4], double R4[4][4], double unit[8], double lengths[2]);
/* Σ4 = R4 S^2 R4^T of one Gaussian, in double (R4 = P L(q_l) R̄(q_r) P, the quaternions
   normalised; false where one is zero or not finite): the specification the slice's
   statics come from, and the tests' reference. */
bool rd_4d_covariance(const float log_scale[4], const float q_l[4], const float q_r[4], double sigma[4][4]);
/* A scene of count Gaussians whose arrays are allocated, not filled (a trainer's):
   rd_scene4d_refresh once they are. */
rd_result rd_scene4d_alloc(rd_context *ctx, int64_t count, int sh_degree, int time_degree, float time_period, rd_scene4d **out);
/* After the arrays changed: every Gaussian's statics again (on the context's CPU threads;
   ctx may be NULL: one), and a new uid (caches of the old arrays must not match). */
void rd_scene4d_refresh(rd_context *ctx, rd_scene4d *s);
/* Gives s the networks a (appearance4d_cpu.h; NULL: none), which it then owns and frees,
   freeing any it had, and a new uid. */
void rd_scene4d_set_appearance(rd_scene4d *s, struct rd_appearance4d *a);
/* The statics of Gaussian i from the scene's arrays. */
void rd_slice4d_prepare(const rd_scene4d *s, int64_t i, rd_slice4d_static *out);

/* rd_scene_orbit for a 4D scene: about the box of its spatial means, -y up unless desc
   says otherwise. */
rd_result rd_scene4d_orbit(const rd_scene4d *s, const rd_orbit_desc *desc, rd_camera *out);

/* What a GPU slice reads on its device: the scene's arrays (means, statics, opacities, SH)
   with their host sources, in bytes (a Gaussian's worth at least). */
enum { RD_SLICE4D_SOURCES = 4, RD_SLICE4D_SLICED = 5 };
static inline void rd_slice4d_sources(const rd_scene4d *s, const void *from[RD_SLICE4D_SOURCES],
                                      size_t bytes[RD_SLICE4D_SOURCES])
{
    size_t n = (size_t)(s->count > 0 ? s->count : 1);
    from[0] = s->means, from[1] = s->fixed, from[2] = s->opacities, from[3] = s->sh;
    bytes[0] = 16 * n, bytes[1] = sizeof(rd_slice4d_static) * n, bytes[2] = 4 * n;
    bytes[3] = 4 * n * (size_t)rd_scene4d_sh_floats(s->sh_degree, s->time_degree);
}

/* What a GPU slice of a scene with appearance networks uploads besides (slice4d.c): the
   weights transposed for its tiles (rd_appearance4d_transposed, ours) and the features,
   with their bytes; the room it writes each Gaussian's opacity logit and colour into, and
   the kept Gaussians' list (a count, then as many indices), in bytes (a Gaussian's worth at
   least). Networks of another SH degree than the scene's are refused (their outputs fill
   its colour rows); `where` names the backend in the errors. Free with
   rd_slice4d_networks_free. */
typedef struct rd_slice4d_networks {
    const void *from[2];
    size_t bytes[2], out_bytes[2], list_bytes;
    float *transposed;
} rd_slice4d_networks;
rd_result rd_slice4d_networks_make(rd_context *ctx, const rd_scene4d *s, const char *where, rd_slice4d_networks *out);
void rd_slice4d_networks_free(rd_slice4d_networks *n);

/* The time a GPU slice's networks pass last wrote its outputs at, for the scene uploaded
   (ready false: none since the upload). A view at that time reuses them. */
typedef struct rd_slice4d_evaluated {
    bool ready;
    float time;
} rd_slice4d_evaluated;
static inline bool rd_slice4d_evaluated_at(rd_slice4d_evaluated e, float time) { return e.ready && e.time == time; }

/* What a GPU slice writes and its 3D renderer draws: the 3D arrays (means, log-scales,
   rotations, opacities, SH; rd_buffer_alloc's, so device memory of any GPU backend) and
   a device scene over them. */
typedef struct rd_slice4d_target {
    void *arrays[RD_SLICE4D_SLICED];
    rd_scene *scene;
} rd_slice4d_target;
/* Makes t afresh for s's count and SH degree (slice4d.c). */
rd_result rd_slice4d_target_make(rd_context *ctx, const rd_scene4d *s, rd_slice4d_target *t);
void rd_slice4d_target_free(rd_context *ctx, rd_slice4d_target *t);

/* The 3D Gaussians of s at `time` into out (capacity s->count, SH degree s->sh_degree),
   the culled ones left out, in the scene's order; out->count becomes how many. source
   (capacity s->count, or NULL) gets each sliced Gaussian's index in s. A scene's
   appearance networks run on the context's threads where source is given, else on the
   calling thread. */
void rd_slice4d_cpu(rd_context *ctx, const rd_scene4d *s, float time, rd_scene *out, int64_t *source);

/* The gradients of n sliced Gaussians (SH degree sh_degree) laid over one block of
   rd_slice_grads_floats(sh_degree) floats a Gaussian (host or device memory): means,
   covariances (with them: the slice's backward reaches Σ3), opacities, SH, the 2D mean's
   norm and views_seen (as 32-bit words). */
static inline size_t rd_slice_grads_floats(int sh_degree) { return 12 + 3 * (size_t)rd_sh_coeffs(sh_degree); }
static inline rd_gaussian_grads rd_slice_grads_over(float *block, size_t n, int sh_degree)
{
    size_t K = (size_t)rd_sh_coeffs(sh_degree);
    rd_gaussian_grads g;
    memset(&g, 0, sizeof g); /* (C++ takes no designated initialisers out of order) */
    g.means = block, g.covariances = block + 3 * n, g.opacities = block + 9 * n, g.sh = block + 10 * n;
    g.mean2d_norm = block + (10 + 3 * K) * n, g.views_seen = (uint32_t *)(block + (11 + 3 * K) * n);
    return g;
}

/* The slice's backward (slice4d_backward.c): the gradients of the sliced Gaussians (g3,
   over `sliced` of them, with covariances and views_seen; the sources' indices in source,
   or the same where it is NULL) into the 4D parameters of their sources in s at `time`,
   added into out's arrays (NULL ones skipped), on the context's CPU threads (each source
   is one sliced Gaussian's: no two threads write one). Gaussians no view saw are skipped. */
void rd_slice4d_backward_cpu(rd_context *ctx, const rd_scene4d *s, float time, const int64_t *source, int64_t sliced,
                             const rd_gaussian_grads *g3, const rd_gaussian4d_grads *out);

#ifdef __cplusplus
}
#endif
#endif
