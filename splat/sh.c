/* sh.c: real spherical harmonics as the INRIA code evaluates them (spec/gaussians.md). */
#include "splat.h"

static const float C0 = 0.28209479177387814f;
static const float C1 = 0.4886025119029199f;
static const float C2[5] = {1.0925484305920792f, -1.0925484305920792f, 0.31539156525252005f,
                            -1.0925484305920792f, 0.5462742152960396f};
static const float C3[7] = {-0.5900435899266435f, 2.890611442640554f, -0.4570457994644658f,
                            0.3731763325901154f, -0.4570457994644658f, 1.445305721320277f,
                            -0.5900435899266435f};

void rd_sh_to_rgb(int degree, const float *sh, const float dir[3], float rgb[3])
{
    float basis[16];
    float x = dir[0], y = dir[1], z = dir[2];
    int k = 1;
    basis[0] = C0;
    if (degree > 0) {
        basis[1] = -C1 * y;
        basis[2] = C1 * z;
        basis[3] = -C1 * x;
        k = 4;
    }
    if (degree > 1) {
        float xx = x * x, yy = y * y, zz = z * z;
        basis[4] = C2[0] * x * y;
        basis[5] = C2[1] * y * z;
        basis[6] = C2[2] * (2.0f * zz - xx - yy);
        basis[7] = C2[3] * x * z;
        basis[8] = C2[4] * (xx - yy);
        k = 9;
        if (degree > 2) {
            basis[9] = C3[0] * y * (3.0f * xx - yy);
            basis[10] = C3[1] * x * y * z;
            basis[11] = C3[2] * y * (4.0f * zz - xx - yy);
            basis[12] = C3[3] * z * (2.0f * zz - 3.0f * xx - 3.0f * yy);
            basis[13] = C3[4] * x * (4.0f * zz - xx - yy);
            basis[14] = C3[5] * z * (xx - yy);
            basis[15] = C3[6] * x * (xx - 3.0f * yy);
            k = 16;
        }
    }
    float r = 0.0f, g = 0.0f, b = 0.0f;
    for (int j = 0; j < k; j++) {
        r += basis[j] * sh[3 * j + 0];
        g += basis[j] * sh[3 * j + 1];
        b += basis[j] * sh[3 * j + 2];
    }
    rgb[0] = r;
    rgb[1] = g;
    rgb[2] = b;
}
