/* colmap.c: COLMAP sparse models, binary and text (spec/datasets.md): cameras, images
   (world-to-camera qvec/tvec in OpenCV axes) and points3D. Pinhole cameras become views,
   and so do SIMPLE_RADIAL, RADIAL, OPENCV and OPENCV_FISHEYE ones with their lens (the
   training set undistorts their photos); other models are parsed and refused by name. */
#include "dataset.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct colmap_model { const char *name; int params; } colmap_model;
static const colmap_model MODELS[] = {
    {"SIMPLE_PINHOLE", 3}, {"PINHOLE", 4}, {"SIMPLE_RADIAL", 4}, {"RADIAL", 5}, {"OPENCV", 8},
    {"OPENCV_FISHEYE", 8}, {"FULL_OPENCV", 12}, {"FOV", 5}, {"SIMPLE_RADIAL_FISHEYE", 4},
    {"RADIAL_FISHEYE", 5}, {"THIN_PRISM_FISHEYE", 12}};
enum { MODEL_COUNT = sizeof MODELS / sizeof MODELS[0], MAX_PARAMS = 12 };

typedef struct colmap_camera {
    uint32_t id;
    int model;
    uint64_t width, height;
    double params[MAX_PARAMS];
} colmap_camera;

typedef struct colmap_image {
    uint32_t camera_id;
    double q[4], t[3];
    char name[256];
} colmap_image;

typedef struct colmap_data {
    colmap_camera *cameras;
    uint64_t ncameras;
    colmap_image *images;
    uint64_t nimages;
} colmap_data;

/* ---- binary reading with bounds checks ---------------------------------------------- */

typedef struct cursor {
    const unsigned char *p, *end;
} cursor;

static bool take(cursor *c, void *dst, size_t n)
{
    if ((size_t)(c->end - c->p) < n) return false;
    memcpy(dst, c->p, n);
    c->p += n;
    return true;
}

static bool skip(cursor *c, uint64_t n)
{
    if ((uint64_t)(c->end - c->p) < n) return false;
    c->p += n;
    return true;
}

/* A count of records, each at least min_size bytes, that must fit in what remains. */
static bool take_count(cursor *c, uint64_t *n, size_t min_size)
{
    return take(c, n, 8) && *n <= (uint64_t)(c->end - c->p) / min_size;
}

/* Reads a binary model file and its leading u64 record count; each record takes at least
   min_size bytes, so a count the file cannot hold is caught before any allocation. */
static rd_result open_binary(rd_context *ctx, const char *path, size_t min_size, const char *what, char **buf,
                             cursor *c, uint64_t *count)
{
    size_t size;
    rd_result r = rd_read_file(ctx, path, buf, &size);
    if (r != RD_OK) return r;
    *c = (cursor){(unsigned char *)*buf, (unsigned char *)*buf + size};
    if (take_count(c, count, min_size)) return RD_OK;
    free(*buf);
    *buf = NULL;
    return rd_fail(ctx, RD_ERROR_FORMAT, "%s: %s count is missing or larger than the file holds", path, what);
}

static rd_result read_cameras_bin(rd_context *ctx, const char *path, colmap_data *d)
{
    char *buf;
    cursor c;
    rd_result r = open_binary(ctx, path, 24, "camera", &buf, &c, &d->ncameras);
    if (r != RD_OK) return r;
    d->cameras = rd_alloc_array((int64_t)d->ncameras, sizeof(colmap_camera));
    for (uint64_t i = 0; d->cameras && i < d->ncameras; i++) {
        colmap_camera *cam = &d->cameras[i];
        int32_t id, model;
        if (!take(&c, &id, 4) || !take(&c, &model, 4) || !take(&c, &cam->width, 8) || !take(&c, &cam->height, 8)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera %llu: truncated", path, (unsigned long long)i);
            break;
        }
        if (model < 0 || model >= MODEL_COUNT) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera %d: unknown model id %d", path, id, model);
            break;
        }
        cam->id = (uint32_t)id;
        cam->model = model;
        if (!take(&c, cam->params, (size_t)MODELS[model].params * 8)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera %d: truncated params", path, id);
            break;
        }
    }
    if (!d->cameras) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    free(buf);
    return r;
}

static rd_result read_images_bin(rd_context *ctx, const char *path, colmap_data *d)
{
    char *buf;
    cursor c;
    rd_result r = open_binary(ctx, path, 4 + 56 + 4 + 1 + 8, "image", &buf, &c, &d->nimages);
    if (r != RD_OK) return r;
    d->images = rd_alloc_array((int64_t)d->nimages, sizeof(colmap_image));
    for (uint64_t i = 0; d->images && i < d->nimages; i++) {
        colmap_image *im = &d->images[i];
        uint32_t id;
        uint64_t npoints;
        if (!take(&c, &id, 4) || !take(&c, im->q, 32) || !take(&c, im->t, 24) || !take(&c, &im->camera_id, 4)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: image %llu: truncated", path, (unsigned long long)i);
            break;
        }
        size_t len = 0;
        while (c.p + len < c.end && c.p[len] != '\0') len++;
        if (c.p + len >= c.end || len == 0 || len >= sizeof im->name) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: image %u: name is empty, too long or unterminated", path, id);
            break;
        }
        memcpy(im->name, c.p, len + 1);
        c.p += len + 1;
        if (!take(&c, &npoints, 8) || npoints > UINT64_MAX / 24 || !skip(&c, npoints * 24)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: image %u (%s): points2D list truncated", path, id, im->name);
            break;
        }
    }
    if (!d->images) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    free(buf);
    return r;
}

static rd_result read_points_bin(rd_context *ctx, const char *path, rd_dataset *ds)
{
    uint64_t n;
    char *buf;
    cursor c;
    rd_result r = open_binary(ctx, path, 8 + 24 + 3 + 8 + 8, "point", &buf, &c, &n);
    if (r != RD_OK) return r;
    ds->points_xyz = rd_alloc_array((int64_t)n, 3 * sizeof(float));
    ds->points_rgb = rd_alloc_array((int64_t)n, 3 * sizeof(float));
    for (uint64_t i = 0; ds->points_xyz && ds->points_rgb && i < n; i++) {
        uint64_t id, track;
        double xyz[3], err;
        unsigned char rgb[3];
        if (!take(&c, &id, 8) || !take(&c, xyz, 24) || !take(&c, rgb, 3) || !take(&c, &err, 8) ||
            !take(&c, &track, 8) || track > UINT64_MAX / 8 || !skip(&c, track * 8)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: point %llu: truncated", path, (unsigned long long)i);
            break;
        }
        for (int a = 0; a < 3; a++) {
            ds->points_xyz[3 * i + a] = (float)xyz[a];
            ds->points_rgb[3 * i + a] = rgb[a] / 255.0f;
        }
    }
    if (!ds->points_xyz || !ds->points_rgb) r = rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    if (r == RD_OK) ds->point_count = (int64_t)n;
    free(buf);
    return r;
}

/* ---- text files --------------------------------------------------------------------- */

/* Next line that is not a comment; blank lines are returned (images.txt needs them). */
static char *next_line(char **p)
{
    while (**p) {
        char *line = *p, *nl = strchr(line, '\n');
        *p = nl ? nl + 1 : line + strlen(line);
        if (nl) *nl = '\0';
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r') line[len - 1] = '\0';
        if (line[0] != '#') return line;
    }
    return NULL;
}

static int model_by_name(const char *name)
{
    for (int m = 0; m < MODEL_COUNT; m++)
        if (strcmp(MODELS[m].name, name) == 0) return m;
    return -1;
}

static void *grow(void *array, uint64_t count, size_t size)
{
    /* doubles at powers of two */
    if (count & (count - 1)) return array;
    return realloc(array, (size_t)(count ? 2 * count : 1) * size);
}

/* Calls parse on every line that is neither a comment nor blank; rest lets a parser
   take the line after it (images.txt's POINTS2D line, which may be blank). */
typedef rd_result (*line_parser)(rd_context *ctx, const char *path, char *line, char **rest, void *user);

static rd_result for_each_line(rd_context *ctx, const char *path, line_parser parse, void *user)
{
    char *text;
    size_t size;
    rd_result r = rd_read_file(ctx, path, &text, &size);
    if (r != RD_OK) return r;
    char *p = text, *line;
    while (r == RD_OK && (line = next_line(&p)))
        if (strspn(line, " \t") != strlen(line)) r = parse(ctx, path, line, &p, user);
    free(text);
    return r;
}

static rd_result parse_camera_line(rd_context *ctx, const char *path, char *line, char **rest, void *user)
{
    colmap_data *d = user;
    colmap_camera cam = {0};
    char model[64];
    int used = 0;
    unsigned long long w, h;
    if (sscanf(line, "%u %63s %llu %llu%n", &cam.id, model, &w, &h, &used) != 4)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: line '%.40s': expected CAMERA_ID MODEL WIDTH HEIGHT PARAMS", path, line);
    cam.width = w;
    cam.height = h;
    cam.model = model_by_name(model);
    if (cam.model < 0) return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera %u: unknown model %s", path, cam.id, model);
    char *q = line + used;
    for (int k = 0; k < MODELS[cam.model].params; k++) {
        char *stop;
        cam.params[k] = strtod(q, &stop);
        if (stop == q)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera %u: %s needs %d params", path, cam.id, model,
                           MODELS[cam.model].params);
        q = stop;
    }
    colmap_camera *grown = grow(d->cameras, d->ncameras, sizeof cam);
    if (!grown) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    d->cameras = grown;
    d->cameras[d->ncameras++] = cam;
    return RD_OK;
}

static rd_result parse_image_line(rd_context *ctx, const char *path, char *line, char **rest, void *user)
{
    colmap_data *d = user;
    colmap_image im = {0};
    unsigned id;
    if (sscanf(line, "%u %lf %lf %lf %lf %lf %lf %lf %u %255s", &id, &im.q[0], &im.q[1], &im.q[2], &im.q[3],
               &im.t[0], &im.t[1], &im.t[2], &im.camera_id, im.name) != 10)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: image line '%.40s': expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME",
                       path, line);
    next_line(rest); /* the POINTS2D line, possibly blank */
    colmap_image *grown = grow(d->images, d->nimages, sizeof im);
    if (!grown) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    d->images = grown;
    d->images[d->nimages++] = im;
    return RD_OK;
}

static rd_result parse_point_line(rd_context *ctx, const char *path, char *line, char **rest, void *user)
{
    rd_dataset *ds = user;
    unsigned long long id;
    double x, y, z;
    unsigned cr, cg, cb;
    if (sscanf(line, "%llu %lf %lf %lf %u %u %u", &id, &x, &y, &z, &cr, &cg, &cb) != 7 || cr > 255 || cg > 255 || cb > 255)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: point line '%.40s': expected POINT3D_ID X Y Z R G B", path, line);
    uint64_t n = (uint64_t)ds->point_count;
    float *gx = grow(ds->points_xyz, n, 3 * sizeof(float));
    if (gx) ds->points_xyz = gx;
    float *gc = grow(ds->points_rgb, n, 3 * sizeof(float));
    if (gc) ds->points_rgb = gc;
    if (!gx || !gc) return rd_fail(ctx, RD_ERROR_OUT_OF_MEMORY, "%s: out of memory", path);
    float v[6] = {(float)x, (float)y, (float)z, cr / 255.0f, cg / 255.0f, cb / 255.0f};
    memcpy(ds->points_xyz + 3 * n, v, 3 * sizeof(float));
    memcpy(ds->points_rgb + 3 * n, v + 3, 3 * sizeof(float));
    ds->point_count++;
    return RD_OK;
}

static rd_result read_cameras_txt(rd_context *ctx, const char *path, colmap_data *d)
{
    return for_each_line(ctx, path, parse_camera_line, d);
}

static rd_result read_images_txt(rd_context *ctx, const char *path, colmap_data *d)
{
    return for_each_line(ctx, path, parse_image_line, d);
}

static rd_result read_points_txt(rd_context *ctx, const char *path, rd_dataset *ds)
{
    return for_each_line(ctx, path, parse_point_line, ds);
}

/* ---- the dataset ---------------------------------------------------------------------- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(((const colmap_image *)a)->name, ((const colmap_image *)b)->name);
}

/* Reads NAME.bin, else NAME.txt, from sparse_dir. */
static rd_result read_pair(rd_context *ctx, const char *sparse_dir, const char *name, bool *found_any,
                           rd_result (*bin)(rd_context *, const char *, void *),
                           rd_result (*txt)(rd_context *, const char *, void *), void *dst)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.bin", sparse_dir, name);
    if (rd_file_exists(path)) { *found_any = true; return bin(ctx, path, dst); }
    snprintf(path, sizeof path, "%s/%s.txt", sparse_dir, name);
    if (rd_file_exists(path)) { *found_any = true; return txt(ctx, path, dst); }
    *found_any = false;
    return RD_OK;
}

static rd_result cams_bin(rd_context *c, const char *p, void *d) { return read_cameras_bin(c, p, d); }
static rd_result cams_txt(rd_context *c, const char *p, void *d) { return read_cameras_txt(c, p, d); }
static rd_result imgs_bin(rd_context *c, const char *p, void *d) { return read_images_bin(c, p, d); }
static rd_result imgs_txt(rd_context *c, const char *p, void *d) { return read_images_txt(c, p, d); }
static rd_result pts_bin(rd_context *c, const char *p, void *d) { return read_points_bin(c, p, d); }
static rd_result pts_txt(rd_context *c, const char *p, void *d) { return read_points_txt(c, p, d); }

/* The images folder's file names, sorted, read once: asking the file system about each
   image in turn took most of a 20,000-image model's load (a path lookup apiece). */
typedef struct name_set {
    char **names;
    size_t count;
} name_set;

static int compare_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static name_set list_folder(const char *dir)
{
    name_set set = {0};
    size_t capacity = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (set.count == capacity) {
            size_t grown = capacity ? 2 * capacity : 256;
            char **names = realloc(set.names, grown * sizeof *names);
            if (!names) break;
            set.names = names, capacity = grown;
        }
        if (!(set.names[set.count] = strdup(e->d_name))) break;
        set.count++;
    }
    if (d) closedir(d);
    if (set.count) qsort(set.names, set.count, sizeof *set.names, compare_strings);
    return set;
}

static void free_names(name_set *set)
{
    for (size_t i = 0; i < set->count; i++) free(set->names[i]);
    free(set->names);
}

/* Whether images/NAME exists: from the listing for a plain name, asked of the file system
   for one in a subfolder. */
static bool image_exists(const name_set *listed, const char *name, const char *path)
{
    if (strchr(name, '/')) return rd_file_exists(path);
    return listed->count && bsearch(&name, listed->names, listed->count, sizeof *listed->names, compare_strings) != NULL;
}

static int compare_camera_ids(const void *a, const void *b)
{
    uint32_t x = ((const colmap_camera *)a)->id, y = ((const colmap_camera *)b)->id;
    return (x > y) - (x < y);
}

/* Sorts the cameras by id for image_camera's binary search (a model of 20,000 cameras
   looked up by a linear scan per image took most of a second); an id twice is an error. */
static rd_result index_cameras(rd_context *ctx, const char *sparse_dir, colmap_data *d)
{
    if (d->ncameras > 1) qsort(d->cameras, (size_t)d->ncameras, sizeof(colmap_camera), compare_camera_ids);
    for (uint64_t k = 1; k < d->ncameras; k++)
        if (d->cameras[k].id == d->cameras[k - 1].id)
            return rd_fail(ctx, RD_ERROR_FORMAT, "%s/cameras: camera id %u appears twice", sparse_dir, d->cameras[k].id);
    return RD_OK;
}

/* The camera's intrinsics and lens by its model (COLMAP's parameter order): the pinhole
   ones, and the lenses rd_image_undistort takes (SIMPLE_RADIAL and RADIAL as OpenCV's
   radial terms, OPENCV, OPENCV_FISHEYE); any other model is refused by name. */
static rd_result lens_of(rd_context *ctx, const char *sparse_dir, const colmap_camera *cam, rd_camera *out)
{
    const double *p = cam->params;
    bool one_focal = cam->model == 0 || cam->model == 2 || cam->model == 3; /* f cx cy ... */
    rd_distortion *d = &out->distortion;
    switch (cam->model) {
    case 0: case 1: break;
    case 2: *d = (rd_distortion){RD_DISTORTION_OPENCV, (float)p[3], 0, 0, 0, 0, 0}; break;
    case 3: *d = (rd_distortion){RD_DISTORTION_OPENCV, (float)p[3], (float)p[4], 0, 0, 0, 0}; break;
    case 4: *d = (rd_distortion){RD_DISTORTION_OPENCV, (float)p[4], (float)p[5], 0, 0, (float)p[6], (float)p[7]}; break;
    case 5: *d = (rd_distortion){RD_DISTORTION_OPENCV_FISHEYE, (float)p[4], (float)p[5], (float)p[6], (float)p[7], 0, 0}; break;
    default:
        return rd_fail(ctx, RD_ERROR_UNSUPPORTED,
                       "%s/cameras: camera %u: model %s is not supported (SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV and "
                       "OPENCV_FISHEYE are; undistort the images with COLMAP's image_undistorter)",
                       sparse_dir, cam->id, MODELS[cam->model].name);
    }
    out->fx = (float)p[0];
    out->fy = (float)p[one_focal ? 0 : 1];
    out->cx = (float)p[one_focal ? 1 : 2];
    out->cy = (float)p[one_focal ? 2 : 3];
    if (!isfinite(d->k1 + d->k2 + d->k3 + d->k4 + d->p1 + d->p2))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s/cameras: camera %u: a %s distortion parameter is not finite", sparse_dir, cam->id,
                       MODELS[cam->model].name);
    return RD_OK;
}

static rd_result image_camera(rd_context *ctx, const char *sparse_dir, const colmap_data *d, const colmap_image *im,
                              rd_camera *out)
{
    colmap_camera key = {.id = im->camera_id};
    const colmap_camera *cam =
        d->ncameras ? bsearch(&key, d->cameras, (size_t)d->ncameras, sizeof(colmap_camera), compare_camera_ids) : NULL;
    if (!cam)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s/images: image %s: camera %u is not in cameras", sparse_dir,
                       im->name, im->camera_id);
    if (cam->width < 1 || cam->height < 1 || cam->width > 65536 || cam->height > 65536)
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s/cameras: camera %u: size %llux%llu is out of range", sparse_dir,
                       cam->id, (unsigned long long)cam->width, (unsigned long long)cam->height);
    memset(out, 0, sizeof *out);
    out->width = (int)cam->width;
    out->height = (int)cam->height;
    rd_result r = lens_of(ctx, sparse_dir, cam, out);
    if (r != RD_OK) return r;
    double qn = sqrt(im->q[0] * im->q[0] + im->q[1] * im->q[1] + im->q[2] * im->q[2] + im->q[3] * im->q[3]);
    if (!(qn > 0.0) || !isfinite(qn) || !isfinite(im->t[0] + im->t[1] + im->t[2]) || !(out->fx > 0.0f) || !(out->fy > 0.0f))
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s/images: image %s: pose or intrinsics are not finite or zero",
                       sparse_dir, im->name);
    double w = im->q[0] / qn, x = im->q[1] / qn, y = im->q[2] / qn, z = im->q[3] / qn;
    double R[9] = {1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
                   2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
                   2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)};
    for (int r = 0; r < 3; r++) {
        for (int c = 0; c < 3; c++) out->w2c[4 * r + c] = (float)R[3 * r + c];
        out->w2c[4 * r + 3] = (float)im->t[r];
    }
    out->w2c[15] = 1.0f;
    return RD_OK;
}

rd_result rd_colmap_load(rd_context *ctx, const char *dir, const char *split, rd_dataset *ds)
{
    snprintf(ds->kind, sizeof ds->kind, "colmap");
    snprintf(ds->source, sizeof ds->source, "%s", dir);
    char sparse[4096] = "";
    static const char *candidates[] = {"sparse/0", "sparse", "."};
    for (int i = 0; i < 3 && !sparse[0]; i++) {
        char probe[4096];
        snprintf(probe, sizeof probe, "%s/%s/cameras.bin", dir, candidates[i]);
        bool bin = rd_file_exists(probe);
        snprintf(probe, sizeof probe, "%s/%s/cameras.txt", dir, candidates[i]);
        if (bin || rd_file_exists(probe))
            snprintf(sparse, sizeof sparse, "%s%s%s", dir, i < 2 ? "/" : "", i < 2 ? candidates[i] : "");
    }
    if (!sparse[0]) return rd_fail(ctx, RD_ERROR_IO, "%s: no COLMAP model (sparse/0/cameras.bin or .txt)", dir);

    colmap_data d = {0};
    bool found;
    rd_result r = read_pair(ctx, sparse, "cameras", &found, cams_bin, cams_txt, &d);
    if (r == RD_OK) r = read_pair(ctx, sparse, "images", &found, imgs_bin, imgs_txt, &d);
    if (r == RD_OK && !found) r = rd_fail(ctx, RD_ERROR_IO, "%s: images.bin or images.txt is missing", sparse);
    if (r == RD_OK) r = read_pair(ctx, sparse, "points3D", &found, pts_bin, pts_txt, ds);
    if (r == RD_OK && d.nimages) qsort(d.images, (size_t)d.nimages, sizeof(colmap_image), compare_names);
    if (r == RD_OK) r = index_cameras(ctx, sparse, &d);
    char images_dir[4200];
    snprintf(images_dir, sizeof images_dir, "%s/images", dir);
    name_set listed = r == RD_OK ? list_folder(images_dir) : (name_set){0};
    for (uint64_t i = 0; r == RD_OK && i < d.nimages; i++) {
        if (!rd_split_contains(split, (int)i)) continue;
        rd_camera cam;
        r = image_camera(ctx, sparse, &d, &d.images[i], &cam);
        if (r != RD_OK) break;
        char image[4096], name[256];
        snprintf(image, sizeof image, "%s/images/%s", dir, d.images[i].name);
        if (!image_exists(&listed, d.images[i].name, image)) {
            ds->skipped++;
            continue;
        }
        snprintf(name, sizeof name, "%s", d.images[i].name);
        char *dot = strrchr(name, '.');
        if (dot && dot != name) *dot = '\0';
        r = rd_dataset_add_view(ctx, ds, name, image, &cam);
    }
    free_names(&listed);
    free(d.cameras);
    free(d.images);
    return r;
}
