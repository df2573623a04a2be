/* fuzz_dataset.c: the camera dataset files rd_dataset_load reads from a file: Blender and
   instant-ngp transforms (the first byte picks transforms_test.json or transforms.json),
   camera lists, and LLFF's poses_bounds.npy. Frames whose images are missing are skipped
   by the readers, so every camera field is reached without images. */
#include "fuzz_file.h"

static const char *const names[] = {"transforms_test.json", "transforms.json", "cameras.json", "poses_bounds.npy"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rd_context *ctx = fuzz_context();
    if (!ctx || size < 1) return 0;
    const char *path = fuzz_file(names[data[0] % 4], data + 1, size - 1);
    rd_dataset *ds = NULL;
    if (path && rd_dataset_load(ctx, path, &(rd_dataset_desc){.split = "all"}, &ds) == RD_OK) rd_dataset_destroy(ds);
    return 0;
}
