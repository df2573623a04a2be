/* knn.c: the mean squared distance from each point to its K nearest others (knn.h), the
   3DGS recipe's initial scale for Gaussians started at sparse points. Points are binned
   in a uniform grid of about two points a cell; each point searches shells of cells
   outward until the next shell cannot hold anything nearer than its K-th best. */
#include "knn.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct grid {
    float lo[3], cell;
    int64_t dims[3];
    int64_t *start; /* cells + 1: cell c's points are order[start[c] .. start[c+1]) */
    int64_t *order;
} grid;

static int64_t cell_coord(const grid *g, float x, int a)
{
    int64_t c = (int64_t)floorf((x - g->lo[a]) / g->cell);
    return c < 0 ? 0 : c >= g->dims[a] ? g->dims[a] - 1 : c;
}

static int64_t cell_index(const grid *g, const int64_t c[3]) { return (c[2] * g->dims[1] + c[1]) * g->dims[0] + c[0]; }

static bool build(grid *g, const float *xyz, int64_t n)
{
    float hi[3];
    for (int a = 0; a < 3; a++) g->lo[a] = hi[a] = xyz[a];
    for (int64_t i = 1; i < n; i++)
        for (int a = 0; a < 3; a++) g->lo[a] = fminf(g->lo[a], xyz[3 * i + a]), hi[a] = fmaxf(hi[a], xyz[3 * i + a]);
    double volume = 1.0, extent = 0.0;
    for (int a = 0; a < 3; a++) extent = fmax(extent, (double)hi[a] - g->lo[a]);
    extent = extent > 0.0 ? extent : 1.0;
    for (int a = 0; a < 3; a++) volume *= fmax((double)hi[a] - g->lo[a], extent * 1e-3);
    g->cell = (float)cbrt(2.0 * volume / (double)n);
    int64_t cells;
    for (;;) { /* flat or stretched clouds: coarser cells until there are at most 4 a point */
        cells = 1;
        for (int a = 0; a < 3; a++) {
            g->dims[a] = (int64_t)(((double)hi[a] - g->lo[a]) / g->cell) + 1;
            cells *= g->dims[a];
        }
        if (cells <= 4 * n + 64) break;
        g->cell *= 1.26f;
    }
    g->start = calloc((size_t)cells + 2, sizeof(int64_t));
    g->order = malloc(sizeof(int64_t) * (size_t)n);
    int64_t *cell_of = malloc(sizeof(int64_t) * (size_t)n);
    if (!g->start || !g->order || !cell_of) {
        free(cell_of);
        return false;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c[3] = {cell_coord(g, xyz[3 * i], 0), cell_coord(g, xyz[3 * i + 1], 1), cell_coord(g, xyz[3 * i + 2], 2)};
        cell_of[i] = cell_index(g, c);
        g->start[cell_of[i] + 2]++;
    }
    for (int64_t c = 0; c < cells; c++) g->start[c + 2] += g->start[c + 1];
    for (int64_t i = 0; i < n; i++) g->order[g->start[cell_of[i] + 1]++] = i;
    free(cell_of);
    return true;
}

/* Keeps best[0..k) the k smallest, ascending. */
static void offer(float *best, int k, float d)
{
    if (d >= best[k - 1]) return;
    int j = k - 1;
    while (j > 0 && best[j - 1] > d) best[j] = best[j - 1], j--;
    best[j] = d;
}

bool rd_knn_mean_sq(const float *xyz, int64_t n, int k, float *out)
{
    if (n <= 0 || k < 1 || k > RD_KNN_MAX) return n == 0;
    if (n == 1) {
        out[0] = 0.0f;
        return true;
    }
    grid g = {0};
    if (!build(&g, xyz, n)) {
        free(g.start), free(g.order);
        return false;
    }
    int want = (int64_t)k < n - 1 ? k : (int)(n - 1);
    for (int64_t i = 0; i < n; i++) {
        const float *p = xyz + 3 * i;
        int64_t home[3] = {cell_coord(&g, p[0], 0), cell_coord(&g, p[1], 1), cell_coord(&g, p[2], 2)};
        float best[RD_KNN_MAX];
        for (int j = 0; j < want; j++) best[j] = FLT_MAX;
        for (int64_t ring = 0;; ring++) {
            /* every cell at Chebyshev distance ring from home */
            for (int64_t dz = -ring; dz <= ring; dz++)
                for (int64_t dy = -ring; dy <= ring; dy++)
                    for (int64_t dx = -ring; dx <= ring; dx++) {
                        if (llabs(dx) != ring && llabs(dy) != ring && llabs(dz) != ring) continue;
                        int64_t c[3] = {home[0] + dx, home[1] + dy, home[2] + dz};
                        if (c[0] < 0 || c[1] < 0 || c[2] < 0 || c[0] >= g.dims[0] || c[1] >= g.dims[1] || c[2] >= g.dims[2]) continue;
                        int64_t cell = cell_index(&g, c);
                        for (int64_t e = g.start[cell]; e < g.start[cell + 1]; e++) {
                            int64_t j = g.order[e];
                            if (j == i) continue;
                            const float *q = xyz + 3 * j;
                            float d = (p[0] - q[0]) * (p[0] - q[0]) + (p[1] - q[1]) * (p[1] - q[1]) + (p[2] - q[2]) * (p[2] - q[2]);
                            offer(best, want, d);
                        }
                    }
            /* nothing beyond this shell is nearer than ring cells away */
            float reach = (float)ring * g.cell;
            bool covered = ring >= g.dims[0] && ring >= g.dims[1] && ring >= g.dims[2];
            if (covered || (best[want - 1] < FLT_MAX && best[want - 1] <= reach * reach)) break;
        }
        double sum = 0.0;
        for (int j = 0; j < want; j++) sum += best[j];
        out[i] = (float)(sum / want);
    }
    free(g.start), free(g.order);
    return true;
}
