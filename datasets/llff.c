/* llff.c: LLFF / Neural 3D Video poses_bounds.npy (spec/datasets.md): N x 17 float64 rows
   of a 3x5 camera-to-world [R | c | (H, W, focal)] with rotation columns (down, right,
   back), then near and far. LLFF: images come from the first of images/, images_2/,
   images_4/, images_8/ that holds one image per row; intrinsics scale to their size. N3DV
   (kind "n3dv": a cam00/ folder beside the poses): row i is camera camNN/, whose frames
   (camNN/images/ or camNN/ itself, sorted by name) are views at time frame / 30 s; cam00
   is the test split, the rest train. */
#include "dataset.h"
#include "npy.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is_image_name(const char *n)
{
    size_t len = strlen(n);
    return len > 4 && (strcasecmp(n + len - 4, ".png") == 0 || strcasecmp(n + len - 4, ".jpg") == 0 ||
                       (len > 5 && strcasecmp(n + len - 5, ".jpeg") == 0));
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted image file names of a folder; count -1 when the folder cannot be read. */
static int list_images(const char *dir, char ***names)
{
    *names = NULL;
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_image_name(e->d_name)) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            char **grown = realloc(*names, (size_t)cap * sizeof(char *));
            if (!grown) break;
            *names = grown;
        }
        (*names)[n] = strdup(e->d_name);
        if ((*names)[n]) n++;
    }
    closedir(d);
    if (n) qsort(*names, (size_t)n, sizeof(char *), compare_strings);
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* N3DV: camera i's frames as views (intrinsics scaled to the frames' size), each at its
   frame / 30 s. */
static rd_result add_camera_frames(rd_context *ctx, rd_dataset *ds, const char *dir, int64_t i, double W, rd_camera cam)
{
    char folder[4096], image[4400], name[320];
    snprintf(folder, sizeof folder, "%s/cam%02lld/images", dir, (long long)i);
    if (!rd_dir_exists(folder)) snprintf(folder, sizeof folder, "%s/cam%02lld", dir, (long long)i);
    char **names = NULL;
    int n = list_images(folder, &names);
    if (n <= 0) {
        free_names(names, n > 0 ? n : 0);
        return rd_fail(ctx, RD_ERROR_FORMAT, "%s: camera %lld of poses_bounds.npy has no frames (PNG or JPEG)", folder, (long long)i);
    }
    rd_result r = RD_OK;
    for (int f = 0; f < n && r == RD_OK; f++) {
        snprintf(image, sizeof image, "%s/%s", folder, names[f]);
        if (f == 0) { /* the frames' size, and the intrinsics scaled to it */
            int w, h;
            r = rd_image_size(ctx, image, &w, &h);
            if (r != RD_OK) break;
            float scale = (float)((double)w / W);
            cam.fx *= scale, cam.fy *= scale, cam.width = w, cam.height = h, cam.cx = 0.5f * (float)w, cam.cy = 0.5f * (float)h;
        }
        snprintf(name, sizeof name, "cam%02lld_%s", (long long)i, names[f]);
        char *dot = strrchr(name, '.');
        if (dot) *dot = '\0';
        ds->frames_seen++, ds->timed_frames++;
        r = rd_dataset_add_view(ctx, ds, name, image, &cam);
        if (r == RD_OK) ds->views[ds->count - 1].time = (float)f / 30.0f;
    }
    free_names(names, n);
    return r;
}

rd_result rd_llff_load(rd_context *ctx, const char *npy_path, const char *split, rd_dataset *ds)
{
    snprintf(ds->kind, sizeof ds->kind, "llff");
    snprintf(ds->source, sizeof ds->source, "%s", npy_path);
    char *data;
    rd_npy v;
    rd_result r = rd_npy_read(ctx, npy_path, &data, &v);
    if (r != RD_OK) return r;
    if (v.type != RD_NPY_F64)
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: descr: expected '<f8' (little-endian float64), found %s", rd_path_tail(npy_path),
                    rd_npy_type_name(v.type));
    if (r == RD_OK && (v.rank != 2 || v.shape[1] != 17))
        r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: shape: expected (N, 17), found a %d-D array", rd_path_tail(npy_path), v.rank);
    int64_t rows = r == RD_OK ? v.shape[0] : 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", npy_path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0'; else snprintf(dir, sizeof dir, ".");

    char image_dir[4096] = "", **names = NULL, probe[4200];
    int nnames = 0;
    snprintf(probe, sizeof probe, "%s/cam00", dir);
    bool n3dv = rd_dir_exists(probe);
    if (n3dv) snprintf(ds->kind, sizeof ds->kind, "n3dv");
    if (n3dv && strcmp(split, "val") == 0)
        r = rd_fail(ctx, RD_ERROR_INVALID_ARGUMENT, "%s: an N3DV capture has a test camera (cam00) and train cameras only (split 'val')",
                    dir);
    static const char *folders[] = {"images", "images_2", "images_4", "images_8"};
    for (int f = 0; r == RD_OK && !n3dv && f < 4 && !image_dir[0]; f++) {
        char candidate[4096];
        snprintf(candidate, sizeof candidate, "%s/%s", dir, folders[f]);
        nnames = list_images(candidate, &names);
        if (nnames == rows) snprintf(image_dir, sizeof image_dir, "%s", candidate);
        else free_names(names, nnames > 0 ? nnames : 0), names = NULL, nnames = 0;
    }
    for (int64_t i = 0; r == RD_OK && i < rows; i++) {
        bool in_split = n3dv ? strcmp(split, "all") == 0 || (i == 0) == (strcmp(split, "test") == 0) : rd_split_contains(split, (int)i);
        if (!in_split) continue;
        double row[17], M[15];
        for (int k = 0; k < 17; k++) row[k] = rd_npy_get(&v, 17 * i + k);
        memcpy(M, row, sizeof M); /* row-major 3x5 */
        for (int k = 0; k < 17; k++)
            if (!isfinite(row[k])) {
                r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: row %lld: value %d is not finite", rd_path_tail(npy_path), (long long)i, k);
                break;
            }
        if (r != RD_OK) break;
        double H = M[4], W = M[9], f = M[14];
        /* range-checked before the conversion to int: sizes as rd_camera takes them */
        if (!(H >= 1 && W >= 1 && H <= 65536 && W <= 65536 && f > 0)) {
            r = rd_fail(ctx, RD_ERROR_FORMAT, "%s: row %lld: (H, W, focal) = (%g, %g, %g) is not valid (sizes 1..65536, focal "
                        "positive)", rd_path_tail(npy_path), (long long)i, H, W, f);
            break;
        }
        char image[4096] = "", name[256];
        int w = (int)W, h = (int)H;
        if (names) {
            snprintf(image, sizeof image, "%s/%s", image_dir, names[i]);
            r = rd_image_size(ctx, image, &w, &h);
            if (r != RD_OK) break;
            snprintf(name, sizeof name, "%s", names[i]);
            char *dot = strrchr(name, '.');
            if (dot) *dot = '\0';
        } else {
            snprintf(name, sizeof name, "%04lld", (long long)i);
        }
        double scale = (double)w / W;
        rd_camera cam = {0};
        cam.width = w;
        cam.height = h;
        cam.fx = cam.fy = (float)(f * scale);
        cam.cx = 0.5f * (float)w;
        cam.cy = 0.5f * (float)h;
        /* columns (down, right, back) -> OpenCV (right, down, forward) = (c1, c0, -c2) */
        double rot[9], centre[3];
        for (int k = 0; k < 3; k++) {
            rot[3 * k + 0] = M[5 * k + 1];
            rot[3 * k + 1] = M[5 * k + 0];
            rot[3 * k + 2] = -M[5 * k + 2];
            centre[k] = M[5 * k + 3];
        }
        rd_w2c_from_c2w(rot, centre, cam.w2c);
        cam.near_plane = 0.0f; /* bounds (row[15], row[16]) describe the scene, not a clip */
        r = n3dv ? add_camera_frames(ctx, ds, dir, i, W, cam) : rd_dataset_add_view(ctx, ds, name, names ? image : NULL, &cam);
    }
    if (r == RD_OK && !names && !n3dv)
        rd_log(ctx, RD_LOG_WARN, "%s: no images/, images_2/, images_4/ or images_8/ with %lld images: views have no images",
               npy_path, (long long)rows);
    free_names(names, nnames);
    free(data);
    return r;
}
