/* compact.h: the compact file (.rcompact, radiant_compact.h) inside the library: its layout
   (compact_layout.c), shared by the writer (compact_write.c, compact_importance.c) and the
   reader (compact_read.c).

   The file, little-endian:
     "RDCOMPCT"  u32 version (1)  u32 J  J bytes of JSON (the configuration)
     the parts, in the order and of the sizes the JSON's "parts" lists, each one zstd frame
     u64 FNV-1a of every byte before it
   The JSON: "kind" ("gaussians" or "gaussians4d"), "count", "sh_degree", "time_degree",
   "time_period", "flags", "origin" (3 or 4 floats), "slices" (attribute, first, width,
   bits, entries of each codebook) and "parts" (name, bytes, raw_bytes). Parts, raw:
     positions   count x (3 or 4) half floats of mean - origin, as byte planes (the low
                 bytes of x, then the high bytes of x, then y...)
     codebooks   each slice's entries x width half floats, slice after slice
     log_scales, rotations, opacities, sh_dc, sh_rest
                 each of the attribute's slices' indices as byte planes (low, then high
                 where bits > 8), slice after slice
   Gaussians are stored in Morton order of their means. */
#ifndef RD_COMPACT_H
#define RD_COMPACT_H

#include "radiant.h"
#include "radiant_compact.h"
#include "../splat/appearance4d.h"

#include <stdbool.h>
#include <stdint.h>

#define RD_COMPACT_MAGIC "RDCOMPCT"
enum { RD_COMPACT_VERSION = 1 };

/* What a slice of a Gaussian's attributes quantises. */
typedef enum rd_compact_attribute {
    RD_COMPACT_LOG_SCALES, /* the log-scales as stored */
    RD_COMPACT_ROTATIONS,  /* each quaternion normalised, w >= 0 (a 4D pair's sign flips alone leave
                              its covariance as it was) */
    RD_COMPACT_OPACITIES,  /* sigmoid of the logit */
    RD_COMPACT_SH_DC,      /* the colour's first 3 floats (4D: the constant term's) */
    RD_COMPACT_SH_REST,    /* the rest of the colour */
    RD_COMPACT_FEATURES,   /* with appearance networks (in place of opacity and colour): f_static, f_view */
    RD_COMPACT_ATTRIBUTES
} rd_compact_attribute;
const char *rd_compact_attribute_name(rd_compact_attribute a);

typedef struct rd_compact_slice {
    rd_compact_attribute attribute;
    int first, width; /* the values of the attribute's row it takes */
    int bits;         /* index bits: 1..16 */
    int entries;      /* codebook rows: 1..2^bits */
} rd_compact_slice;

/* RD_COMPACT_MAX_ROW: the widest attribute row (4D colour: 3 x 16 x 3 - 3 = 141) */
enum { RD_COMPACT_MAX_SLICES = 16, RD_COMPACT_MAX_BITS = 16, RD_COMPACT_MAX_ROW = 144 };

/* A scene's arrays as the compact file sees them: 3D or 4D alike. */
typedef struct rd_compact_arrays {
    bool four_d;
    int64_t count;
    int sh_degree, time_degree;
    float time_period;
    uint32_t flags;
    float *means, *log_scales, *rotations, *opacities, *sh; /* host */
    bool appearance; /* a 4D scene whose colour and opacity come from networks: features in their place */
    float *features; /* with appearance: count x RD_APPEARANCE_FEATURES, host */
} rd_compact_arrays;
/* Floats a Gaussian has of mean (3 or 4), log-scale (3 or 4), rotation (4 or 8) and colour. */
int rd_compact_mean_floats(const rd_compact_arrays *a);
int rd_compact_rotation_floats(const rd_compact_arrays *a);
int rd_compact_sh_floats(const rd_compact_arrays *a);
/* The values an attribute's row holds for this scene (log-scales 3 or 4, rotations 4 or 8,
   opacity 1, DC 3, the rest of the colour; 0 where a scene has none). */
int rd_compact_attribute_width(const rd_compact_arrays *a, rd_compact_attribute attribute);

/* The slices of a scene's layout with the default bits (scales 9, rotation pairs 13, opacity
   8, DC 12, the rest 13; with appearance networks, the features' three pairs 10 in place of
   opacity and colour, OMG4's), their count. */
int rd_compact_default_slices(const rd_compact_arrays *a, rd_compact_slice out[RD_COMPACT_MAX_SLICES]);
/* Bytes of index planes a slice of count Gaussians takes. */
static inline uint64_t rd_compact_index_bytes(const rd_compact_slice *s, int64_t count)
{
    return (uint64_t)((s->bits + 7) / 8) * (uint64_t)count;
}

/* Gaussian i's row of an attribute (rd_compact_attribute_width values) from the arrays,
   and back: the inverse of what the row holds (the opacity's logit, the quaternions as
   they come: the renderers normalise them). */
void rd_compact_row_get(const rd_compact_arrays *a, rd_compact_attribute attribute, int64_t i, float *row);
void rd_compact_row_set(const rd_compact_arrays *a, rd_compact_attribute attribute, int64_t i, const float *row);
/* The gradient of a loss by Gaussian i's row, from its gradients by the stored parameters
   (grads, laid out as a). */
void rd_compact_row_grad(const rd_compact_arrays *a, const rd_compact_arrays *grads, rd_compact_attribute attribute, int64_t i,
                         float *row);

/* A slice's codebook and each Gaussian's row of it. */
typedef struct rd_compact_codes {
    rd_compact_slice slice;
    float *centroids; /* entries x width */
    int32_t *label;   /* a Gaussian's entry, each < entries */
} rd_compact_codes;
/* Every Gaussian's attributes from the codebooks (labels already checked): the decode the
   reader and the fine-tuning share, on threads CPU workers. */
void rd_compact_apply_codes(const rd_compact_arrays *a, const rd_compact_codes *codes, int slice_count, int threads);
/* Arrays of count Gaussians laid out as a's (rd_compact_arrays_free frees them). */
bool rd_compact_arrays_alloc(const rd_compact_arrays *like, int64_t count, rd_compact_arrays *out);
void rd_compact_arrays_free(rd_compact_arrays *a);

/* The codebooks fitted to the views' photos (compact_finetune.c): desc->finetune_steps of
   Adam on the codebook rows, each row's gradient the sum of its Gaussians' (the renderer's
   backward pass of an L1 loss); a (the decoded Gaussians) follows the codebooks. With
   appearance networks (a->appearance; NULL otherwise), their weights move too, by the
   gradient their backward pass takes from the colour's and opacity's. */
rd_result rd_compact_finetune(rd_context *ctx, const rd_compact_arrays *a, rd_compact_codes *codes, int slice_count,
                              rd_appearance4d *networks, const rd_compact_desc *desc);

/* Appearance networks (compact_networks.c) fitted to a's stored colour and opacity (a 4D
   scene's) in rd_compact_network_steps steps of RD_COMPACT_NETWORK_BATCH samples; *out the
   networks with a feature row per Gaussian. */
enum { RD_COMPACT_NETWORK_BATCH = 1024 };
int rd_compact_network_steps(const rd_compact_desc *desc, int64_t count);
rd_result rd_compact_fit_networks(rd_context *ctx, const rd_compact_arrays *a, const rd_compact_desc *desc,
                                  rd_appearance4d **out);

/* The networks' opacity logits and colours at `time` into a's opacities and sh (one
   temporal term), from a's means and features (on the context's threads). */
void rd_compact_networks_eval(rd_context *ctx, const rd_appearance4d *networks, const rd_compact_arrays *a, float time);
/* Their backward pass at `time`: grads' opacities and sh (dL by what rd_compact_networks_eval
   wrote) into grads' features and weight_grad (weight_count, overwritten); the same bits on
   any number of threads. */
rd_result rd_compact_networks_backward(rd_context *ctx, const rd_appearance4d *networks, const rd_compact_arrays *a,
                                       const rd_compact_arrays *grads, float time, float *weight_grad);

/* OMG4's merging (compact_merge.c): groups of similar neighbours in a become their most
   opaque member, moved to the group's weighted average position and colour; keep (a->count)
   gets the indices of the Gaussians that remain, in order, merged how many went. */
rd_result rd_compact_merge(rd_context *ctx, rd_compact_arrays *a, int64_t *keep, int64_t *merged);

/* The view of a scene (3D or 4D, host arrays) as arrays; false for any other kind. */
bool rd_compact_arrays_of(const rd_scene *scene, rd_compact_arrays *out);

/* Channel c of pixel p of photo (grey, RGB or RGBA) as a render on background sees it: its
   alpha composited on the background. */
static inline float rd_compact_photo_value(const rd_image *photo, size_t p, int c, const float background[3])
{
    const float *q = photo->pixels + p * (size_t)photo->channels;
    float alpha = photo->channels == 4 ? q[3] : 1.0f;
    return (photo->channels >= 3 ? q[c] : q[0]) * alpha + background[c] * (1.0f - alpha);
}
/* dL/d(colour) of the L1 loss of render (RGBA) against photo (RGB or RGBA, its alpha
   composited on background) into grad (RGBA, alpha 0), each channel's mean; returns the loss. */
double rd_compact_l1_gradient(const float *render, const rd_image *photo, const float background[3], float *grad);

/* A view's colour and the gradient handed back for it, grown as views need; desc: the
   render's, for the backward pass that follows (compact_importance.c). */
typedef struct rd_compact_frame {
    float *color, *grad; /* RGBA, pixels of each */
    size_t pixels;
    rd_render_desc desc;
} rd_compact_frame;
/* Renders view (its camera at its time, on background) into frame->color for a backward
   pass, the buffers grown to fit. */
rd_result rd_compact_render_view(rd_context *ctx, const rd_scene *scene, const rd_train_view *view, const float background[3],
                                 rd_compact_frame *frame);
void rd_compact_frame_free(rd_compact_frame *frame);

/* A host scene over the arrays (not copied: they outlive it). */
rd_result rd_compact_make_scene(rd_context *ctx, const rd_compact_arrays *a, rd_scene **out);
/* The steps' cost (compact_cost.c; rd_compact_cost in radiant_compact.h): whether desc's
   views allow it; one entry `name` for arrays a; and one for each attribute of the codes
   alone over kept, then "all". rd_compact_psnr: of a render (RGBA) against a photo
   composited on background, at most 100 dB. */
double rd_compact_psnr(const float *render, const rd_image *photo, const float background[3]);
bool rd_compact_cost_wanted(const rd_compact_desc *desc, bool networks);
rd_result rd_compact_cost_of(rd_context *ctx, const rd_compact_arrays *a, const rd_compact_desc *desc, const char *name,
                             rd_compact_report *report);
rd_result rd_compact_cost_of_codes(rd_context *ctx, const rd_compact_arrays *kept, const rd_compact_codes *codes, int slice_count,
                                   const rd_compact_desc *desc, rd_compact_report *report);

/* Importance of each Gaussian (compact_importance.c): see radiant_compact.h. */
rd_result rd_compact_rank(rd_context *ctx, const rd_scene *scene, const rd_compact_arrays *a, const rd_compact_desc *desc,
                                float *importance);

/* The reader: whether the bytes start a compact file, and its scene. */
bool rd_compact_detect(const unsigned char *data, size_t size);
rd_result rd_compact_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);

#endif
