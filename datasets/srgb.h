/* srgb.h: the sRGB transfer function both ways (IEC 61966-2-1), for the readers and writers
   that meet linear colour: EXR images (rd_image_linear_to_srgb) and glTF's COLOR_0. NaN and
   negative inputs count as 0; encoding clamps its result to 1, decoding its input. */
#ifndef RD_SRGB_H
#define RD_SRGB_H

#include <math.h>

static inline float rd_srgb_encode(float linear)
{
    float x = linear > 0.0f ? linear : 0.0f; /* NaN too */
    x = x <= 0.0031308f ? 12.92f * x : 1.055f * powf(x, 1.0f / 2.4f) - 0.055f;
    return x < 1.0f ? x : 1.0f;
}

static inline float rd_srgb_decode(float srgb)
{
    float x = srgb > 0.0f ? fminf(srgb, 1.0f) : 0.0f;
    return x <= 0.04045f ? x / 12.92f : powf((x + 0.055f) / 1.055f, 2.4f);
}

#endif
