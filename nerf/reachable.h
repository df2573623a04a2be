/* reachable.h: the hash table entries a NeRF's renderer can read. Rendering evaluates the
   field only at samples inside occupied cells of the occupancy grid (occupancy.h: a sample
   belongs to the smallest cascade that holds it), and a point reads the 8 corners of the
   level cell it falls in (hashgrid.h); every other entry is dead weight in a snapshot.
   After pruning (saliency.h) the density of pruned regions is gated to nothing, the
   occupancy grid empties there, and their entries drop out too.

   Conservative by a margin: each occupied cell is taken 1/64 of its side larger on every
   side, which covers the rounding of a sample's position (float origin + t * dir) for
   cameras within about 2,000 units of the field's cube. */
#ifndef RD_NERF_REACHABLE_H
#define RD_NERF_REACHABLE_H

#include "../hashgrid/hashgrid.h"
#include "occupancy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* marks[e] = 1 for each of g's entries (g->entries bytes) a sample in an occupied cell of
   occupancy can read, else 0; *count the marked entries. Runs on the context's CPU threads
   (a level each); RD_ERROR_OUT_OF_MEMORY for its working grid. */
rd_result rd_nerf_reachable_entries(rd_context *ctx, const rd_hashgrid *g, const rd_occupancy *occupancy, uint8_t *marks,
                                    int64_t *count);

#ifdef __cplusplus
}
#endif
#endif
