/* fuzz_colmap.c: a COLMAP sparse model read by rd_dataset_load from a dataset folder, as
   a user's would be: sparse/0/{cameras,images,points3D}.{bin,txt} beside an images/
   folder holding a.png, b.jpg, 0001.jpg and sub/c.png (empty: the reader only asks
   whether they exist). The first byte's low bit picks binary or text; two little-endian
   16-bit lengths follow, cutting the rest into cameras and images; what remains is
   points3D. */
#include "fuzz_file.h"

#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

static const char *const kinds[] = {"bin", "txt"};
static const char *const files[] = {"cameras", "images", "points3D"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_context *ctx = fuzz_context();
    if (!ctx || size < 5 || !fuzz_dir()) return 0;
    static bool images_made;
    if (!images_made) {
        static const char *const images[] = {"images/a.png", "images/b.jpg", "images/0001.jpg", "images/sub/c.png"};
        for (int k = 0; k < 4; k++) fuzz_file(images[k], NULL, 0);
        images_made = true;
    }
    int kind = data[0] & 1;
    size_t cut[3] = {(size_t)data[1] | (size_t)data[2] << 8, (size_t)data[3] | (size_t)data[4] << 8, 0};
    const uint8_t *at = data + 5, *end = data + size;
    char name[64];
    for (int f = 0; f < 3; f++) { /* the other kind's files go: a model is binary or text */
        snprintf(name, sizeof name, "%s/sparse/0/%s.%s", fuzz_dir(), files[f], kinds[!kind]);
        unlink(name);
    }
    for (int f = 0; f < 3; f++) {
        size_t n = f == 2 || cut[f] > (size_t)(end - at) ? (size_t)(end - at) : cut[f];
        snprintf(name, sizeof name, "sparse/0/%s.%s", files[f], kinds[kind]);
        if (!fuzz_file(name, at, n)) return 0;
        at += n;
    }
    rd_dataset *ds = NULL;
    if (rd_dataset_load(ctx, fuzz_dir(), &(rd_dataset_desc){.split = "all"}, &ds) == RD_OK) rd_dataset_destroy(ds);
    return 0;
}
