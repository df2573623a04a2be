/* stream_device.h: a stream's decoded state in a GPU's memory (stream_device.c), and the
   decode of a residual frame there: the frame is parsed on the host (its zstd sections),
   its arrays go up in one copy, and the backend's kernels (stream_cuda.cu,
   stream_vk.c with shaders/stream_residual.comp) compute stream_frames.c's reference
   decode from the previous state's device arrays into the next's. The arithmetic is the
   reference's, without fused multiply-adds, so that the GPUs give the CPU's bits. */
#ifndef RD_STREAM_DEVICE_H
#define RD_STREAM_DEVICE_H

#include "stream.h"
#include "stream_apply.h"

typedef struct stream_device_state {
    int64_t count;
    int sh_degree, rest_latent_dim;
    int64_t rest_bound;        /* at least every f_rest latent's magnitude: while a frame's sums stay
                                  within 32 bits by it, no overflow check is read back */
    void *buffer;              /* one rd_buffer_alloc for every array */
    size_t buffer_bytes;
    stream_device_arrays arrays;
    rd_scene *scene;           /* a device scene over the arrays, remade with each frame */
} stream_device_state;

/* The next state's room for a frame of count Gaussians (contents undefined). */
rd_result rd_stream_device_reserve(rd_context *ctx, stream_device_state *d, int64_t count, int sh_degree, int rest_latent_dim);
/* A host state (an intra frame) copied up whole. */
rd_result rd_stream_device_upload(rd_context *ctx, const stream_state *host, stream_device_state *d);
/* A device state copied down into host (reserved to fit). */
rd_result rd_stream_device_download(rd_context *ctx, const stream_device_state *d, stream_state *host);
/* Where a residual's arrays are packed on the host and copied up: kept from frame to
   frame (grown as needed), freed by rd_stream_scratch_free. */
typedef struct stream_device_scratch {
    unsigned char *host;
    void *device;
    size_t host_bytes, device_bytes;
    void *kernels; /* the backend's pipeline (Vulkan), made at the first decode */
} stream_device_scratch;
void rd_stream_scratch_free(rd_context *ctx, stream_device_scratch *s);

/* The parsed residual p decoded from prev into next on the context's GPU. */
rd_result rd_stream_device_apply(rd_context *ctx, const char *where, const stream_parsed_residual *p, const stream_device_state *prev,
                                 float step, stream_device_state *next, stream_device_scratch *scratch);
/* The state's device scene (made when missing). */
rd_result rd_stream_device_scene(rd_context *ctx, stream_device_state *d, const rd_scene **out);
void rd_stream_device_free(rd_context *ctx, stream_device_state *d);

#endif
