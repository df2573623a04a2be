/* appearance4d.h: per-frame appearance networks of a 4D scene (OMG4, spec/dynamic.md):
   small MLPs that predict each Gaussian's colour (SH) and opacity at a time from its
   position, the time and six stored features, in place of the stored colour and opacity.

     v      = (contract((mu_xyz - centre) / radius), (t - time_origin) / time_span)
     input  = v, then sin(pi 2^k v_d), cos(pi 2^k v_d) for k < 16, each d (132 values)
     h      = ENCODER(input)                          13 values
     sh DC  = DC([h, f_static])                        3
     sh AC  = REST([h, f_view])                        3 (K - 1), K = (sh_degree + 1)^2
     logit  = OPACITY([h, f_static])                   the opacity's logit (before time)

   contract(x) = x inside the unit ball, (2 - 1/|x|) x/|x| outside; then x/4 + 1/2. Every
   MLP has one hidden layer of 64 ReLU units and linear outputs. The slice then applies the
   temporal weight to the opacity as it does to a stored one. Each MLP's weights, in one
   float array: W1 (hidden x inputs, row-major), b1, W2 (outputs x hidden), b2.

   Written once for the CPU (appearance4d.c) and CUDA (RD_HD: the encoding; its MLPs run as
   tiled matrix products in slice4d_cuda.cu). A hidden unit is summed and used at once (its
   products added in input order, its contribution added into each output in hidden order):
   CUDA and the Vulkan shader sum in that order too, with fused multiply-adds. */
#ifndef RD_APPEARANCE4D_H
#define RD_APPEARANCE4D_H

#include "splat_math.h"

#include <math.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    RD_APPEARANCE_FREQUENCIES = 16,
    RD_APPEARANCE_INPUTS = 4 + 2 * 4 * RD_APPEARANCE_FREQUENCIES, /* 132 */
    RD_APPEARANCE_HIDDEN = 64,
    RD_APPEARANCE_LATENT = 13,
    RD_APPEARANCE_FEATURES = 6, /* f_static (3), f_view (3) */
    RD_APPEARANCE_HEAD_INPUTS = RD_APPEARANCE_LATENT + 3,
    RD_APPEARANCE_MAX_OUTPUTS = 45, /* the rest of SH degree 3's colour */
};

/* The four networks, in the order their weights are stored. */
typedef enum rd_appearance_net {
    RD_APPEARANCE_ENCODER,
    RD_APPEARANCE_DC,
    RD_APPEARANCE_REST,
    RD_APPEARANCE_OPACITY,
    RD_APPEARANCE_NETS
} rd_appearance_net;

typedef struct rd_appearance_mlp {
    int inputs, outputs;
    uint32_t offset; /* of W1 in the weights */
} rd_appearance_mlp;

/* A scene's networks: their layout for its SH degree, where positions and times are
   normalised from, the weights and each Gaussian's features (host, or the device's copy). */
typedef struct rd_appearance4d {
    int sh_degree;
    float centre[3], radius;      /* radius > 0 */
    float time_origin, time_span; /* time_span > 0 */
    rd_appearance_mlp mlp[RD_APPEARANCE_NETS];
    uint32_t weight_count;
    float *weights;  /* weight_count */
    float *features; /* count x RD_APPEARANCE_FEATURES */
} rd_appearance4d;

/* Floats of one MLP's weights. */
RD_HD static inline uint32_t rd_appearance_mlp_floats(int inputs, int outputs)
{
    return (uint32_t)(RD_APPEARANCE_HIDDEN * (inputs + 1) + outputs * (RD_APPEARANCE_HIDDEN + 1));
}

/* The networks' layout for SH degree sh_degree (0..3); returns the weights' count. */
static inline uint32_t rd_appearance_layout(int sh_degree, rd_appearance_mlp mlp[RD_APPEARANCE_NETS])
{
    int K = (sh_degree + 1) * (sh_degree + 1);
    const int shape[RD_APPEARANCE_NETS][2] = {{RD_APPEARANCE_INPUTS, RD_APPEARANCE_LATENT},
                                              {RD_APPEARANCE_HEAD_INPUTS, 3},
                                              {RD_APPEARANCE_HEAD_INPUTS, 3 * (K - 1)},
                                              {RD_APPEARANCE_HEAD_INPUTS, 1}};
    uint32_t offset = 0;
    for (int n = 0; n < RD_APPEARANCE_NETS; n++) {
        mlp[n] = (rd_appearance_mlp){shape[n][0], shape[n][1], offset};
        offset += shape[n][1] > 0 ? rd_appearance_mlp_floats(shape[n][0], shape[n][1]) : 0;
    }
    return offset;
}

/* sin(pi m) and cos(pi m) for m = 2^k v exactly: m reduced modulo 2 into [-1, 1) first
   (exact in floats below 2^24), so that the argument the sine sees is within [-pi, pi] on
   every backend (where a GPU's sine is held to an absolute error). */
RD_HD static inline void rd_appearance_sincos_pi(float m, float *s, float *c)
{
    float r = m - 2.0f * floorf(0.5f * m + 0.5f), x = 3.14159265358979f * r;
    *s = sinf(x), *c = cosf(x);
}

/* A product and a sum rounded on their own: nvcc would fuse them into one multiply-add,
   whose single rounding the top frequency (2^15 pi) turns into a visible difference. */
RD_HD static inline float rd_appearance_mul(float x, float y)
{
#ifdef __CUDA_ARCH__
    return __fmul_rn(x, y);
#else
    return x * y;
#endif
}
RD_HD static inline float rd_appearance_add(float x, float y)
{
#ifdef __CUDA_ARCH__
    return __fadd_rn(x, y);
#else
    return x + y;
#endif
}

/* The encoder's input's first four values (the normalised position and time) for a
   Gaussian whose spatial mean is xyz at time t; every operation
   rounded on its own, in this order, on every backend (the Vulkan shader too, with the
   reciprocals of radius and time_span from the host: a shader's division may be 2.5 ulp
   off). */
RD_HD static inline void rd_appearance_position(const rd_appearance4d *a, const float xyz[3], float t, float input[4])
{
    float p[3], length2 = 0.0f, inv_radius = 1.0f / a->radius, inv_span = 1.0f / a->time_span;
    for (int d = 0; d < 3; d++) {
        p[d] = rd_appearance_mul(xyz[d] - a->centre[d], inv_radius);
        length2 = rd_appearance_add(length2, rd_appearance_mul(p[d], p[d]));
    }
    if (length2 > 1.0f) {
        float length = sqrtf(length2), scale = (2.0f - 1.0f / length) / length;
        for (int d = 0; d < 3; d++) p[d] = rd_appearance_mul(p[d], scale);
    }
    for (int d = 0; d < 3; d++) input[d] = rd_appearance_add(rd_appearance_mul(0.25f, p[d]), 0.5f);
    input[3] = rd_appearance_mul(t - a->time_origin, inv_span);
}
/* The whole input: the position above, then its frequencies. */
RD_HD static inline void rd_appearance_input(const rd_appearance4d *a, const float xyz[3], float t,
                                             float input[RD_APPEARANCE_INPUTS])
{
    rd_appearance_position(a, xyz, t, input);
    for (int k = 0; k < RD_APPEARANCE_FREQUENCIES; k++)
        for (int d = 0; d < 4; d++)
            rd_appearance_sincos_pi(ldexpf(input[d], k), &input[4 + 8 * k + 2 * d], &input[4 + 8 * k + 2 * d + 1]);
}

/* One MLP: out (outputs) from in (inputs); hidden (RD_APPEARANCE_HIDDEN, may be NULL)
   keeps the hidden units' pre-activations for the backward pass. */
RD_HD static inline void rd_appearance_mlp_forward(const float *weights, const rd_appearance_mlp *m, const float *in, float *out,
                                                   float *hidden)
{
    const float *W1 = weights + m->offset, *b1 = W1 + RD_APPEARANCE_HIDDEN * m->inputs;
    const float *W2 = b1 + RD_APPEARANCE_HIDDEN, *b2 = W2 + m->outputs * RD_APPEARANCE_HIDDEN;
    for (int o = 0; o < m->outputs; o++) out[o] = b2[o];
    for (int j = 0; j < RD_APPEARANCE_HIDDEN; j++) {
        float sum = b1[j];
        const float *row = W1 + j * m->inputs;
        for (int i = 0; i < m->inputs; i++) sum += row[i] * in[i];
        if (hidden) hidden[j] = sum;
        if (sum <= 0.0f) continue;
        for (int o = 0; o < m->outputs; o++) out[o] += W2[o * RD_APPEARANCE_HIDDEN + j] * sum;
    }
}

/* What the backward pass of one Gaussian needs of its forward pass. */
typedef struct rd_appearance_trace {
    float input[RD_APPEARANCE_INPUTS];
    float latent[RD_APPEARANCE_LATENT];
    float hidden[RD_APPEARANCE_NETS][RD_APPEARANCE_HIDDEN];
} rd_appearance_trace;

/* One Gaussian at time t: its colour (3 K SH coefficients, the stored layout) and its
   opacity's logit before the temporal weight; trace (may be NULL) for the backward pass. */
RD_HD static inline void rd_appearance_eval(const rd_appearance4d *a, const float *weights, const float xyz[3], float t,
                                            const float features[RD_APPEARANCE_FEATURES], float *sh, float *logit,
                                            rd_appearance_trace *trace)
{
    float input_here[RD_APPEARANCE_INPUTS], latent_here[RD_APPEARANCE_LATENT], head[RD_APPEARANCE_HEAD_INPUTS];
    float *input = trace ? trace->input : input_here, *latent = trace ? trace->latent : latent_here;
    rd_appearance_input(a, xyz, t, input);
    rd_appearance_mlp_forward(weights, &a->mlp[RD_APPEARANCE_ENCODER], input, latent, trace ? trace->hidden[0] : 0);
    for (int k = 0; k < RD_APPEARANCE_LATENT; k++) head[k] = latent[k];
    for (int k = 0; k < 3; k++) head[RD_APPEARANCE_LATENT + k] = features[k];
    rd_appearance_mlp_forward(weights, &a->mlp[RD_APPEARANCE_DC], head, sh, trace ? trace->hidden[1] : 0);
    rd_appearance_mlp_forward(weights, &a->mlp[RD_APPEARANCE_OPACITY], head, logit, trace ? trace->hidden[3] : 0);
    if (a->mlp[RD_APPEARANCE_REST].outputs > 0) {
        for (int k = 0; k < 3; k++) head[RD_APPEARANCE_LATENT + k] = features[3 + k];
        rd_appearance_mlp_forward(weights, &a->mlp[RD_APPEARANCE_REST], head, sh + 3, trace ? trace->hidden[2] : 0);
    }
}

#ifdef __cplusplus
}
#endif
#endif
