/* occupancy_cuda.cu: the occupancy grid's batch march and its update on CUDA
   (occupancy.h). The march and the draws are occupancy.h's own code, run a thread a ray or
   a draw; the packing is a count pass, a scan and a write pass; the update's maximum is an
   atomic compare-and-swap (a maximum does not depend on order), its mean the CPU's fixed
   order of double sums (a block a chunk, then one block over the chunks), so that every
   result equals the CPU's bit for bit. */
#include "occupancy.h"
#include "../renderer/cuda/cuda_internal.h"
#include "../renderer/cuda/cuda_scan.h"

enum { THREADS = 256 };
static_assert((int)THREADS == (int)RD_OCCUPANCY_SUM_LANES, "a block sums a chunk a lane a thread");

static unsigned int blocks_for(long long n) { return (unsigned int)((n + THREADS - 1) / THREADS); }

static rd_occupancy_view view_of(const rd_occupancy_cuda *g)
{
    rd_occupancy_view v = {g->cascades, g->cone, {}};
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) v.bits[k] = g->bits[k];
    return v;
}

static rd_result need_cuda(rd_context *ctx, const char *what)
{
    if (rd_context_backend(ctx) == RD_BACKEND_CUDA) return RD_OK;
    return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the context is not a CUDA one", what);
}

/* ---- the grid ---------------------------------------------------------------------- */

extern "C" void rd_occupancy_cuda_destroy(rd_context *ctx, rd_occupancy_cuda *g)
{
    cudaFree(g->thickness);
    for (int k = 0; k < RD_OCCUPANCY_LEVELS; k++) cudaFree(g->bits[k]);
    cudaFree(g->threshold);
    rd_cuda_release(ctx, &g->work);
    rd_cuda_release(ctx, &g->scan_temp);
    *g = rd_occupancy_cuda{};
}

/* The update's work: the occupied cells' scan and list (a uint32 and an int32 a cell), the
   chunks' sums (a double each). */
static size_t work_bytes(int cascades)
{
    int64_t cells = (int64_t)cascades * RD_OCCUPANCY_CELLS;
    return (size_t)cells * 8 + (size_t)(cells / RD_OCCUPANCY_SUM_CHUNK) * sizeof(double);
}

/* The scan's scratch for n items, grown when short (a reallocation waits for the device). */
static rd_result reserve_scan(rd_context *ctx, rd_occupancy_cuda *g, long long n, cudaStream_t st)
{
    rd_cuda_scan_plan plan = {NULL, 0, st};
    rd_result r = rd_cuda_check(ctx, rd_cuda_scan(&plan, NULL, NULL, n, true), "occupancy: scan scratch size");
    return r == RD_OK ? rd_cuda_reserve(ctx, &g->scan_temp, plan.temp_bytes, "occupancy scan scratch") : r;
}

extern "C" rd_result rd_occupancy_cuda_create(rd_context *ctx, const rd_occupancy *host, rd_occupancy_cuda *out)
{
    *out = rd_occupancy_cuda{};
    rd_result r = need_cuda(ctx, "rd_occupancy_cuda_create");
    if (r != RD_OK) return r;
    out->cascades = host->cascades, out->cone = host->cone, out->seed = host->seed;
    size_t cells = (size_t)host->cascades * RD_OCCUPANCY_CELLS;
    cudaError_t err = cudaMalloc(&out->thickness, cells * sizeof(float));
    for (int k = 0; k < RD_OCCUPANCY_LEVELS && err == cudaSuccess; k++)
        err = cudaMalloc(&out->bits[k], (size_t)(host->cascades * rd_occupancy_level_cells(k)));
    if (err == cudaSuccess) err = cudaMalloc(&out->threshold, sizeof(float));
    r = rd_cuda_check(ctx, err, "occupancy grid: device arrays");
    if (r == RD_OK) r = rd_cuda_reserve(ctx, &out->work, work_bytes(host->cascades), "occupancy update work");
    if (r == RD_OK) r = reserve_scan(ctx, out, (long long)cells, rd_cuda(ctx)->stream);
    if (r == RD_OK) r = rd_occupancy_cuda_upload(ctx, out, host);
    if (r != RD_OK) rd_occupancy_cuda_destroy(ctx, out);
    return r;
}

static rd_result same_shape(rd_context *ctx, const rd_occupancy_cuda *g, const rd_occupancy *host, const char *what)
{
    if (g->cascades == host->cascades) return RD_OK;
    return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: the device grid has %d cascades, the host one %d", what, g->cascades,
                   host->cascades);
}

extern "C" rd_result rd_occupancy_cuda_upload(rd_context *ctx, rd_occupancy_cuda *g, const rd_occupancy *host)
{
    rd_result r = same_shape(ctx, g, host, "occupancy upload");
    if (r == RD_OK) r = rd_cuda_copy(ctx, g->thickness, host->thickness, (size_t)g->cascades * RD_OCCUPANCY_CELLS * sizeof(float));
    for (int k = 0; k < RD_OCCUPANCY_LEVELS && r == RD_OK; k++)
        r = rd_cuda_copy(ctx, g->bits[k], host->bits[k], (size_t)(g->cascades * rd_occupancy_level_cells(k)));
    if (r == RD_OK) r = rd_cuda_copy(ctx, g->threshold, &host->threshold, sizeof(float));
    if (r == RD_OK) g->cone = host->cone, g->seed = host->seed;
    return r;
}

extern "C" rd_result rd_occupancy_cuda_download(rd_context *ctx, const rd_occupancy_cuda *g, rd_occupancy *host)
{
    rd_result r = same_shape(ctx, g, host, "occupancy download");
    if (r == RD_OK) r = rd_cuda_copy(ctx, host->thickness, g->thickness, (size_t)g->cascades * RD_OCCUPANCY_CELLS * sizeof(float));
    for (int k = 0; k < RD_OCCUPANCY_LEVELS && r == RD_OK; k++)
        r = rd_cuda_copy(ctx, host->bits[k], g->bits[k], (size_t)(g->cascades * rd_occupancy_level_cells(k)));
    if (r == RD_OK) r = rd_cuda_copy(ctx, &host->threshold, g->threshold, sizeof(float));
    if (r == RD_OK) host->cone = g->cone, host->seed = g->seed;
    return r;
}

/* ---- the batch march ----------------------------------------------------------------- */

__device__ __forceinline__ void ray_limits(const float *t_min, const float *t_max, long long r, float *t0, float *t1)
{
    *t0 = t_min ? t_min[r] : 0.0f;
    *t1 = t_max ? t_max[r] : INFINITY;
}

__global__ void __launch_bounds__(THREADS) count_kernel(rd_occupancy_view g, long long rays, const float *origins, const float *dirs,
                                                        const float *t_min, const float *t_max, const float *jitter, int max_samples,
                                                        int32_t *ray_count)
{
    long long r = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (r >= rays) return;
    float t0, t1;
    ray_limits(t_min, t_max, r, &t0, &t1);
    ray_count[r] = rd_occupancy_march_view(&g, origins + 3 * r, dirs + 3 * r, t0, t1, jitter ? jitter[r] : 0.0f, max_samples, NULL);
}

/* Ray r is kept where its exclusive prefix (saturating at 2^32 - 1) plus its count fits. */
__device__ __forceinline__ bool kept(const uint32_t *offset, const int32_t *count, long long r, long long capacity)
{
    return (long long)offset[r] + count[r] <= capacity;
}

/* The kept rays are a prefix: the last of them says the total. */
__global__ void __launch_bounds__(THREADS) total_kernel(long long rays, const uint32_t *offset, const int32_t *count,
                                                        long long capacity, int64_t *total)
{
    long long r = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (r >= rays) return;
    bool here = kept(offset, count, r, capacity);
    if (r == 0 && !here) *total = 0;
    if (here && (r + 1 == rays || !kept(offset, count, r + 1, capacity))) *total = (int64_t)offset[r] + count[r];
}

__global__ void __launch_bounds__(THREADS) write_kernel(rd_occupancy_view g, long long rays, const float *origins, const float *dirs,
                                                        const float *t_min, const float *t_max, const float *jitter, int max_samples,
                                                        long long capacity,
                                                        rd_march_sample *samples, int32_t *ray_offset, int32_t *ray_count,
                                                        const int64_t *total)
{
    long long r = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (r >= rays) return;
    if (!kept((const uint32_t *)ray_offset, ray_count, r, capacity)) {
        ray_count[r] = 0, ray_offset[r] = (int32_t)*total;
        return;
    }
    if (ray_count[r] == 0) return;
    float t0, t1;
    ray_limits(t_min, t_max, r, &t0, &t1);
    rd_occupancy_march_view(&g, origins + 3 * r, dirs + 3 * r, t0, t1, jitter ? jitter[r] : 0.0f, max_samples, samples + ray_offset[r]);
}

extern "C" rd_result rd_occupancy_march_rays_cuda(rd_context *ctx, rd_occupancy_cuda *g, int64_t rays, const float *origins,
                                                  const float *dirs, const float *t_min, const float *t_max, const float *jitter, int max_samples_per_ray,
                                                  int64_t capacity, rd_march_sample *samples, int32_t *ray_offset, int32_t *ray_count,
                                                  int64_t *total, void *stream)
{
    const char *what = "occupancy march (cuda)";
    rd_result r = need_cuda(ctx, what);
    if (r != RD_OK) return r;
    if (rays < 0 || max_samples_per_ray < 0 || capacity < 0 || rays > INT32_MAX)
        return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %lld rays, %d samples a ray, capacity %lld", what, (long long)rays,
                       max_samples_per_ray, (long long)capacity);
    if (capacity > INT32_MAX) capacity = INT32_MAX;
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    if (rays == 0) return rd_cuda_check(ctx, cudaMemsetAsync(total, 0, sizeof *total, st), what);
    if ((r = reserve_scan(ctx, g, rays, st)) != RD_OK) return r;
    rd_occupancy_view v = view_of(g);
    unsigned int blocks = blocks_for(rays);
    count_kernel<<<blocks, THREADS, 0, st>>>(v, rays, origins, dirs, t_min, t_max, jitter, max_samples_per_ray, ray_count);
    rd_cuda_scan_plan plan = {g->scan_temp.ptr, g->scan_temp.bytes, st};
    r = rd_cuda_check(ctx, rd_cuda_scan(&plan, (const unsigned int *)ray_count, (unsigned int *)ray_offset, rays, true), what);
    if (r != RD_OK) return r;
    total_kernel<<<blocks, THREADS, 0, st>>>(rays, (const uint32_t *)ray_offset, ray_count, capacity, total);
    write_kernel<<<blocks, THREADS, 0, st>>>(v, rays, origins, dirs, t_min, t_max, jitter, max_samples_per_ray, capacity, samples, ray_offset,
                                             ray_count, total);
    return rd_cuda_check(ctx, cudaGetLastError(), what);
}

/* ---- the update's draws --------------------------------------------------------------- */

__global__ void __launch_bounds__(THREADS) flag_kernel(const uint8_t *bits, long long cells, uint32_t *flags)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i < cells) flags[i] = bits[i];
}

/* The occupied cells in cell order, each at its exclusive prefix. */
__global__ void __launch_bounds__(THREADS) list_kernel(const uint8_t *bits, long long cells, const uint32_t *position, int32_t *list)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i < cells && bits[i]) list[position[i]] = (int32_t)i;
}

__global__ void __launch_bounds__(THREADS) draw_kernel(uint64_t seed, int step, long long count, long long cells, const uint8_t *bits,
                                                       const uint32_t *position, const int32_t *list, float *points, int32_t *drawn)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i >= count) return;
    long long occupied = position ? (long long)position[cells - 1] + bits[cells - 1] : 0;
    int32_t cell = rd_occupancy_draw_cell(seed, step, i, cells, occupied, list);
    drawn[i] = cell;
    float p[3];
    rd_occupancy_draw_point(seed, step, i, cell, p);
    points[3 * i] = p[0], points[3 * i + 1] = p[1], points[3 * i + 2] = p[2];
}

extern "C" rd_result rd_occupancy_update_points_cuda(rd_context *ctx, rd_occupancy_cuda *g, int step, float *points, int32_t *cells,
                                                     void *stream)
{
    const char *what = "occupancy update draws (cuda)";
    rd_result r = need_cuda(ctx, what);
    if (r != RD_OK) return r;
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    long long all = (long long)g->cascades * RD_OCCUPANCY_CELLS, count = rd_occupancy_update_count(g->cascades, step);
    uint32_t *position = NULL;
    int32_t *list = NULL;
    if (step >= 256) {
        position = (uint32_t *)g->work.ptr, list = (int32_t *)(position + all);
        flag_kernel<<<blocks_for(all), THREADS, 0, st>>>(g->bits[0], all, position);
        rd_cuda_scan_plan plan = {g->scan_temp.ptr, g->scan_temp.bytes, st};
        r = rd_cuda_check(ctx, rd_cuda_scan(&plan, position, position, all, true), what);
        if (r != RD_OK) return r;
        list_kernel<<<blocks_for(all), THREADS, 0, st>>>(g->bits[0], all, position, list);
    }
    draw_kernel<<<blocks_for(count), THREADS, 0, st>>>(g->seed, step, count, all, g->bits[0], position, list, points, cells);
    return rd_cuda_check(ctx, cudaGetLastError(), what);
}

/* ---- the update: decay, maximum, threshold, bits, pooling -------------------------------- */

__global__ void __launch_bounds__(THREADS) decay_kernel(float *thickness, long long cells)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i < cells) thickness[i] *= 0.95f;
}

/* The CPU's `if (value > cell) cell = value`, as a compare-and-swap loop: the same float
   comparison, so NaNs and signed zeros fare as there. */
__global__ void __launch_bounds__(THREADS) larger_kernel(float *thickness, long long count, const int32_t *cells, const float *sigma)
{
    long long j = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (j >= count) return;
    float value = __fmul_rn(sigma[j], RD_OCCUPANCY_DT_MIN);
    int *cell = (int *)&thickness[cells[j]];
    int old = *cell;
    while (value > __int_as_float(old)) {
        int seen = atomicCAS(cell, old, __float_as_int(value));
        if (seen == old) break;
        old = seen;
    }
}

/* A chunk's lanes (each already summed) folded as occupancy.h's tree; lane 0 holds it. */
__device__ __forceinline__ double fold(double *lane)
{
    for (int s = RD_OCCUPANCY_SUM_LANES / 2; s > 0; s /= 2) {
        __syncthreads();
        if ((int)threadIdx.x < s) lane[threadIdx.x] += lane[threadIdx.x + s];
    }
    __syncthreads();
    return lane[0];
}

__global__ void __launch_bounds__(THREADS) chunk_sum_kernel(const float *thickness, double *chunk_sum)
{
    __shared__ double lane[RD_OCCUPANCY_SUM_LANES];
    const float *chunk = thickness + (long long)blockIdx.x * RD_OCCUPANCY_SUM_CHUNK;
    double s = 0.0;
    for (int i = threadIdx.x; i < RD_OCCUPANCY_SUM_CHUNK; i += RD_OCCUPANCY_SUM_LANES) s = __dadd_rn(s, (double)chunk[i]);
    lane[threadIdx.x] = s;
    double sum = fold(lane);
    if (threadIdx.x == 0) chunk_sum[blockIdx.x] = sum;
}

__global__ void __launch_bounds__(THREADS) threshold_kernel(const double *chunk_sum, int chunks, long long cells, float *threshold)
{
    __shared__ double lane[RD_OCCUPANCY_SUM_LANES];
    double s = 0.0;
    for (int i = threadIdx.x; i < chunks; i += RD_OCCUPANCY_SUM_LANES) s = __dadd_rn(s, chunk_sum[i]);
    lane[threadIdx.x] = s;
    double sum = fold(lane);
    if (threadIdx.x == 0) *threshold = fminf(0.01f, (float)(sum / (double)cells));
}

__global__ void __launch_bounds__(THREADS) bits_kernel(const float *thickness, long long cells, const float *threshold, uint8_t *bits)
{
    long long i = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (i < cells) bits[i] = thickness[i] > *threshold;
}

/* Level k's block (x, y, z) of cascade c: any of its 8 cells of level k - 1. */
__global__ void __launch_bounds__(THREADS) pool_kernel(const uint8_t *fine, uint8_t *coarse, int side, long long blocks)
{
    long long b = (long long)blockIdx.x * THREADS + threadIdx.x;
    if (b >= blocks) return;
    long long per = (long long)side * side * side, c = b / per, in = b % per;
    int x = (int)(in % side), y = (int)(in / side % side), z = (int)(in / ((long long)side * side)), f = 2 * side;
    const uint8_t *base = fine + c * per * 8;
    uint8_t any = 0;
    for (int q = 0; q < 8; q++)
        any |= base[(2 * x + (q & 1)) + (long long)(2 * y + (q >> 1 & 1)) * f + (long long)(2 * z + (q >> 2)) * f * f];
    coarse[b] = any;
}

extern "C" rd_result rd_occupancy_update_apply_cuda(rd_context *ctx, rd_occupancy_cuda *g, int64_t count, const int32_t *cells,
                                                    const float *sigma, void *stream)
{
    const char *what = "occupancy update (cuda)";
    rd_result r = need_cuda(ctx, what);
    if (r != RD_OK) return r;
    if (count < 0) return rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: %lld draws", what, (long long)count);
    cudaStream_t st = stream ? (cudaStream_t)stream : rd_cuda(ctx)->stream;
    long long all = (long long)g->cascades * RD_OCCUPANCY_CELLS;
    int chunks = (int)(all / RD_OCCUPANCY_SUM_CHUNK);
    double *chunk_sum = (double *)((char *)g->work.ptr + (size_t)all * 8);
    decay_kernel<<<blocks_for(all), THREADS, 0, st>>>(g->thickness, all);
    if (count > 0) larger_kernel<<<blocks_for(count), THREADS, 0, st>>>(g->thickness, count, cells, sigma);
    chunk_sum_kernel<<<chunks, THREADS, 0, st>>>(g->thickness, chunk_sum);
    threshold_kernel<<<1, THREADS, 0, st>>>(chunk_sum, chunks, all, g->threshold);
    bits_kernel<<<blocks_for(all), THREADS, 0, st>>>(g->thickness, all, g->threshold, g->bits[0]);
    for (int k = 1; k < RD_OCCUPANCY_LEVELS; k++) {
        long long blocks = (long long)g->cascades * rd_occupancy_level_cells(k);
        pool_kernel<<<blocks_for(blocks), THREADS, 0, st>>>(g->bits[k - 1], g->bits[k], RD_OCCUPANCY_SIDE >> k, blocks);
    }
    return rd_cuda_check(ctx, cudaGetLastError(), what);
}
