/* stream_encode_step.c: the residual encoder's step on the CPU (stream_encode_step.h), the
   reference the CUDA kernels are checked against. Compiled without floating-point
   contraction, as the kernels round each product and sum. */
#include "stream_encode_step.h"

void rd_stream_encode_decode_cpu(const stream_encode_step *s)
{
    for (int64_t i = 0; i < s->count; i++) stream_encode_decode_one(s, i);
}

void rd_stream_encode_chain_cpu(const stream_encode_step *s)
{
    for (int64_t i = 0; i < s->count; i++) stream_encode_chain_one(s, i);
    for (int a = 0; a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &s->latents[a];
        if (!l->ld) continue;
        int w = stream_encode_decoder_size(l);
        for (int j = 0; j < w + l->features; j++) {
            double sum = 0.0; /* in double: the reference for the GPU's tree of float sums */
            for (int64_t i = 0; i < s->count; i++) sum += stream_encode_decoder_term(s, a, j, i);
            if (j < w) l->gW[j] = (float)sum;
            else l->gb[j - w] = (float)sum;
        }
    }
}

void rd_stream_encode_settle_cpu(const stream_encode_step *s)
{
    for (int64_t i = 0; !s->gates_off && i < s->count; i++) s->log_alpha[i] = fminf(fmaxf(s->log_alpha[i], logf(1e-3f)), logf(1e3f));
    for (int a = 0; s->shrink > 0.0f && a < RD_STREAM_ATTRIBUTES; a++) {
        const stream_encode_latents *l = &s->latents[a];
        for (int64_t k = 0; k < s->count * l->ld; k++) l->z[k] = stream_encode_settle_one(l, k, s->shrink);
    }
}

void rd_stream_encode_mask_cpu(float *render, const float *photo, const float background[3], int width, int height, float *rows, float *mask)
{
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) rows[(int64_t)y * width + x] = stream_encode_mask_row_one(render, width, x, y);
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++)
            mask[(int64_t)y * width + x] = stream_encode_mask_apply_one(rows, render, photo, background, width, height, x, y);
}

void rd_stream_encode_mask_grad_cpu(float *grad, const float *mask, int64_t pixels)
{
    for (int64_t p = 0; p < pixels; p++) stream_encode_mask_grad_one(grad, mask, p);
}

void rd_stream_encode_photo_rgba(const rd_image *im, float *out)
{
    for (int64_t p = 0; p < (int64_t)im->width * im->height; p++) {
        const float *px = im->pixels + p * im->channels;
        for (int c = 0; c < 3; c++) out[p * 4 + c] = im->channels == 1 ? px[0] : px[c];
        out[p * 4 + 3] = im->channels == 4 ? px[3] : 1.0f;
    }
}
