/* stream_fixture.h: random residual streams for the tests (test_stream, the CLI's): an
   intra frame of random Gaussians, then residual frames that clone and drop Gaussians
   (a mapping), move some (gated positions), and change every attribute through latents
   and decoders of random sizes (the opacity through the cosine basis), with intra frames
   every keyframe_every frames. */
#ifndef RD_STREAM_FIXTURE_H
#define RD_STREAM_FIXTURE_H

#include "test_util.h"

typedef struct stream_fixture_desc {
    int frames, gaussians, sh_degree, keyframe_every;
    double still; /* the share of Gaussians a residual frame leaves as they were (latents 0, no
                     move), as most of a trained stream's; 0: every one random. Above 0.9 the
                     mapping's churn (drops, clones, new parents) is 1 - still, else 10% */
} stream_fixture_desc;

/* Writes the stream to path; with states non-NULL, a copy of the writer's decoded state
   after each frame into states[0..frames-1] (free with stream_fixture_free_states). */
rd_result stream_fixture_write(rd_context *ctx, test_rng *r, const char *path, const stream_fixture_desc *d, rd_scene_desc *states);
void stream_fixture_free_states(rd_scene_desc *states, int frames);
/* A copy of a scene's arrays (free with random_scene_free); whether two scenes are equal bit for bit. */
rd_scene_desc stream_scene_copy(const rd_scene_desc *s);
bool stream_same_scene(const rd_scene_desc *a, const rd_scene_desc *b);

#endif
