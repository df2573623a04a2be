/* compare.h: image comparison with a budget for threshold flips. Float and double
   renderers can disagree on a Gaussian whose alpha sits exactly at 1/255 or whose
   transmittance crosses 1e-4 at that step; such a flip changes one pixel by at most
   about 0.01 times a colour, so a handful of pixels may differ more than the tolerance. */
#ifndef RD_COMPARE_H
#define RD_COMPARE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct compare_result {
    double max_abs, mean_abs, rel_l2;
    size_t over_tolerance; /* samples with |a - b| > tolerance */
    size_t nonfinite;      /* samples where got is NaN or infinite */
} compare_result;

/* got[i*got_stride], want[i*want_stride] for i in [0, n); samples where skip[i] is set
   (skip may be NULL) count only for non-finite values. */
compare_result compare_float_double(const float *got, size_t got_stride, const double *want, size_t want_stride,
                                    size_t n, double tolerance, const unsigned char *skip);
compare_result compare_floats(const float *got, const float *want, size_t n, double tolerance);
/* compare_floats with skip as compare_float_double's */
compare_result compare_floats_skip(const float *got, const float *want, size_t n, double tolerance, const unsigned char *skip);
/* Prints the result and says whether it is within: at most `flips` samples over the
   tolerance, max_abs <= max_abs_limit, no non-finite values. */
bool compare_ok(const char *what, compare_result r, size_t flips, double max_abs_limit);
/* got against want, relative to want's size, or to `scale` where that is larger: relative
   L2 and largest error over the largest value each within tolerance, every value finite
   (the networks' rule, ops_mlp.c); prints the figures where verbose or failing. */
bool compare_relative_ok(const char *what, const float *got, const float *want, size_t n, double scale, double tolerance,
                         bool verbose);
/* The same with a bound of its own for the largest error (over the largest value). */
bool compare_relative_bounds_ok(const char *what, const float *got, const float *want, size_t n, double scale, double rel_l2_bound,
                                double largest_bound, bool verbose);

#endif
