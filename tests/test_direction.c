/* test_direction.c: the view direction's SH encoding (nerf/direction.h) is an orthonormal
   basis on the sphere (the integral of Y_i Y_j is 1 where i = j, else 0), checked by
   quadrature in double over a Fibonacci sphere of 20,000 points (exact to about 1e-6 for
   products of degree up to 6); each degree's functions are homogeneous polynomials of
   their degree (Y(-d) = (-1)^l Y(d)); and the order and signs are the splat renderer's
   (Y_1 = -c y, c z, -c x; glTF's Condon-Shortley phase). */
#include "test_util.h"
#include "../nerf/direction.h"

#include <math.h>

int main(void)
{
    enum { POINTS = 20000 };
    static double gram[16][16];
    for (int i = 0; i < POINTS; i++) {
        double z = 1.0 - (2.0 * i + 1.0) / POINTS, r = sqrt(1.0 - z * z), phi = 2.399963229728653 * i;
        float d[3] = {(float)(r * cos(phi)), (float)(r * sin(phi)), (float)z}, y[16];
        rd_direction_encode(d, y);
        for (int a = 0; a < 16; a++)
            for (int b = 0; b < 16; b++) gram[a][b] += (double)y[a] * y[b] * (4.0 * M_PI / POINTS);
    }
    double worst = 0.0;
    for (int a = 0; a < 16; a++)
        for (int b = 0; b < 16; b++) worst = fmax(worst, fabs(gram[a][b] - (a == b)));
    if (!CHECK(worst < 2e-4)) fprintf(stderr, "  the basis is %g from orthonormal\n", worst);
    float d[3] = {0.36f, -0.48f, 0.8f}, minus[3] = {-0.36f, 0.48f, -0.8f}, y[16], ym[16];
    rd_direction_encode(d, y);
    rd_direction_encode(minus, ym);
    for (int k = 0; k < 16; k++) {
        int l = k == 0 ? 0 : k < 4 ? 1 : k < 9 ? 2 : 3;
        CHECK(fabsf(ym[k] - (l % 2 ? -y[k] : y[k])) < 1e-6f);
    }
    const float c1 = 0.48860251f;
    CHECK(fabsf(y[1] + c1 * d[1]) < 1e-6f && fabsf(y[2] - c1 * d[2]) < 1e-6f && fabsf(y[3] + c1 * d[0]) < 1e-6f);
    return test_finish("test_direction");
}
