/* fuzz_dataset.c: the camera dataset files rd_dataset_load reads from a file: Blender and
   instant-ngp transforms (the first byte picks transforms_test.json or transforms.json),
   camera lists, LLFF's poses_bounds.npy, and an RTMV view's JSON (first byte 4: the input
   is rtmv/00000.json beside an empty 00000.exr, and the folder is loaded). Frames whose
   images are missing are skipped by the readers, so every camera field is reached without
   images. */
#include "fuzz_file.h"

#include <stdio.h>

static const char *const names[] = {"transforms_test.json", "transforms.json", "cameras.json", "poses_bounds.npy",
                                    "rtmv/00000.json"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_context *ctx = fuzz_context();
    if (!ctx || size < 1) return 0;
    int kind = data[0] % 5;
    const char *path = fuzz_file(names[kind], data + 1, size - 1);
    char folder[4096];
    if (path && kind == 4) { /* the folder, with an image file beside the view */
        snprintf(folder, sizeof folder, "%s/rtmv", fuzz_dir());
        path = fuzz_file("rtmv/00000.exr", data, 0) ? folder : NULL;
    }
    rd_dataset *ds = NULL;
    if (path && rd_dataset_load(ctx, path, &(rd_dataset_desc){.split = "all"}, &ds) == RD_OK) rd_dataset_destroy(ds);
    return 0;
}
