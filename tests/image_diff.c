/* image_diff.c: for the shell tests. `image_diff A B` prints the largest difference
   between two images' RGB in 1/255 steps (exit 2 if they cannot be compared);
   `image_diff --mean A` prints A's mean RGB value in 1/255 steps. */
#include "radiant.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int load(const char *path, rd_image *img)
{
    if (rd_image_load(NULL, path, img) == RD_OK) return 1;
    fprintf(stderr, "image_diff: cannot read %s\n", path);
    return 0;
}

int main(int argc, char **argv)
{
    rd_image a, b;
    if (argc == 3 && strcmp(argv[1], "--mean") == 0) {
        if (!load(argv[2], &a)) return 2;
        double sum = 0.0;
        size_t n = (size_t)a.width * a.height;
        for (size_t p = 0; p < n; p++)
            for (int c = 0; c < 3 && c < a.channels; c++) sum += a.pixels[p * a.channels + c];
        printf("%.3f\n", 255.0 * sum / (double)(n * (a.channels < 3 ? a.channels : 3)));
        rd_image_free(&a);
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: image_diff A B | image_diff --mean A\n");
        return 2;
    }
    if (!load(argv[1], &a) || !load(argv[2], &b)) return 2;
    if (a.width != b.width || a.height != b.height || a.channels < 3 || b.channels < 3) {
        fprintf(stderr, "image_diff: %dx%dx%d and %dx%dx%d differ in shape\n", a.width, a.height, a.channels, b.width, b.height,
                b.channels);
        return 2;
    }
    double worst = 0.0;
    for (size_t p = 0; p < (size_t)a.width * a.height; p++)
        for (int c = 0; c < 3; c++) worst = fmax(worst, fabs(a.pixels[p * a.channels + c] - b.pixels[p * b.channels + c]));
    printf("%.0f\n", worst * 255.0);
    rd_image_free(&a);
    rd_image_free(&b);
    return 0;
}
