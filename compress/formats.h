/* formats.h: the splat file formats other tools write (spec/gaussians.md, "Compressed and
   legacy formats"), each decoded from and encoded to memory. Readers take the whole file
   and the path (for messages); writers take a scene whose SH degree is already the one
   to write. rd_scene_load / rd_scene_save (datasets/scene_files.c) pick among them. */
#ifndef RD_FORMATS_H
#define RD_FORMATS_H

#include "../splat/scene.h"
#include "../datasets/ply_header.h"
#include "bytes.h"

/* The most splats a compressed file may declare: keeps a corrupt count from asking for
   terabytes before anything is read. */
#define RD_MAX_FILE_SPLATS ((int64_t)1 << 28)

/* SPZ: version 4 (plain header, ZSTD streams) and versions 2-3 (gzip). */
bool rd_spz_detect(const unsigned char *data, size_t size);
/* frame_override: an SPZ frame number (rd_spz_frame_parse) the file is read in whatever it
   says, or 0 for the file's record (else RUB) */
rd_result rd_spz_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, int frame_override,
                        rd_scene **out);
/* SPZ's number of a frame named as spec/formats.md names them ("RUB", case ignored), -1 for none */
int rd_spz_frame_parse(const char *name);
/* frame: the SPZ frame number to write in (0: RUB, the documented one); the file says it */
rd_result rd_spz_encode(rd_context *ctx, const char *path, const rd_scene *scene, int fractional_bits, int frame, rd_bytes *out);

/* antimatter15 .splat: no header, 32 bytes a splat. */
bool rd_splat_detect(const unsigned char *data, size_t size);
rd_result rd_splat_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);
rd_result rd_splat_encode(rd_context *ctx, const char *path, const rd_scene *scene, rd_bytes *out);

/* mkkellogg .ksplat (read only). */
bool rd_ksplat_detect(const unsigned char *data, size_t size);
rd_result rd_ksplat_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);

/* PlayCanvas compressed PLY: detected from the parsed PLY header. */
bool rd_compressed_ply_detect(const rd_ply_header *h);
rd_result rd_compressed_ply_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size,
                                   rd_ply_header *h, rd_scene **out);
rd_result rd_compressed_ply_encode(rd_context *ctx, const char *path, const rd_scene *scene, rd_bytes *out);
/* PlayCanvas SOG (sog.c, sog_write.c): versions 2 and 1 read, version 2 written. A
   bundle (.sog) is a zip: detected by its magic and decoded from memory; an unbundled SOG
   is a folder, loaded from it or from its meta.json. */
bool rd_sog_detect(const unsigned char *data, size_t size);
rd_result rd_sog_decode(rd_context *ctx, const char *path, const unsigned char *data, size_t size, rd_scene **out);
rd_result rd_sog_load_folder(rd_context *ctx, const char *path, rd_scene **out);
/* A path ending in meta.json: the unbundled folder; any other: the zip bundle. */
rd_result rd_sog_save(rd_context *ctx, const char *path, const rd_scene *scene);

/* The order the compressed-PLY writer stores splats in (Morton order of the means, so
   that each 256-splat chunk is compact); order holds scene->count indices. */
void rd_morton_order(const rd_scene *scene, int64_t *order);
/* The same for count points stride floats apart (x y z first). */
void rd_morton_order_points(const float *means, int stride, int64_t count, int64_t *order);

#endif
