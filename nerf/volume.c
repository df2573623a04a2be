/* volume.c: volume rendering of a ray and its backward pass (volume.h). */
#include "volume.h"

#include <math.h>
#include <string.h>

void rd_volume_composite(const rd_ray_samples *s, const float background[3], rd_ray_colour *out)
{
    float T = 1.0f, rgb[3] = {0.0f, 0.0f, 0.0f}, depth = 0.0f;
    int i = 0;
    for (; i < s->count && T >= RD_VOLUME_MIN_TRANSMITTANCE; i++) {
        float alpha = 1.0f - expf(-s->sigma[i] * s->dt[i]), w = T * alpha;
        for (int c = 0; c < 3; c++) rgb[c] += w * s->rgb[3 * i + c];
        depth += w * s->t[i];
        T *= 1.0f - alpha;
    }
    for (int c = 0; c < 3; c++) out->rgb[c] = rgb[c] + T * background[c];
    out->alpha = 1.0f - T, out->depth = depth, out->used = i;
}

/* d/d(sigma_k dt_k) of the colour: T_(k+1) c_k minus everything after k (the later
   samples' weighted colours and the background's share), which the walk keeps as it goes;
   of the alpha: T_end; of the depth: T_(k+1) t_k minus the later samples' weighted depths. */
void rd_volume_backward(const rd_ray_samples *s, const rd_ray_colour *forward, const float g_rgb[3],
                        float g_alpha, float g_depth, float *g_sigma, float *g_colour)
{
    memset(g_sigma, 0, sizeof(float) * (size_t)s->count);
    memset(g_colour, 0, sizeof(float) * 3 * (size_t)s->count);
    float T_end = 1.0f - forward->alpha, after[3], depth_after = forward->depth, T = 1.0f;
    for (int c = 0; c < 3; c++) after[c] = forward->rgb[c]; /* the colour still to come, background included */
    for (int i = 0; i < forward->used; i++) {
        float alpha = 1.0f - expf(-s->sigma[i] * s->dt[i]), w = T * alpha, T_next = T * (1.0f - alpha);
        float g_tau = g_alpha * T_end;
        for (int c = 0; c < 3; c++) {
            after[c] -= w * s->rgb[3 * i + c];
            g_tau += g_rgb[c] * (T_next * s->rgb[3 * i + c] - after[c]);
            g_colour[3 * i + c] = g_rgb[c] * w;
        }
        depth_after -= w * s->t[i];
        g_tau += g_depth * (T_next * s->t[i] - depth_after);
        g_sigma[i] = g_tau * s->dt[i];
        T = T_next;
    }
}
