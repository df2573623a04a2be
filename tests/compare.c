/* compare.c: see compare.h. */
#include "compare.h"

#include <math.h>
#include <stdio.h>

static compare_result accumulate(const float *got, size_t gs, const double *wd, const float *wf, size_t ws, size_t n,
                                 double tol, const unsigned char *skip)
{
    compare_result r = {0};
    double num = 0, den = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i * gs], w = wd ? wd[i * ws] : (double)wf[i * ws];
        if (!isfinite(g)) { r.nonfinite++; continue; }
        if (skip && skip[i]) continue;
        double d = fabs(g - w);
        if (d > r.max_abs) r.max_abs = d;
        if (d > tol) r.over_tolerance++;
        sum += d;
        num += d * d;
        den += w * w;
    }
    r.mean_abs = n ? sum / n : 0;
    r.rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
    return r;
}

compare_result compare_float_double(const float *got, size_t got_stride, const double *want, size_t want_stride,
                                    size_t n, double tolerance, const unsigned char *skip)
{
    return accumulate(got, got_stride, want, NULL, want_stride, n, tolerance, skip);
}

compare_result compare_floats(const float *got, const float *want, size_t n, double tolerance)
{
    return accumulate(got, 1, NULL, want, 1, n, tolerance, NULL);
}

compare_result compare_floats_skip(const float *got, const float *want, size_t n, double tolerance, const unsigned char *skip)
{
    return accumulate(got, 1, NULL, want, 1, n, tolerance, skip);
}

bool compare_ok(const char *what, compare_result r, size_t flips, double max_abs_limit)
{
    bool ok = r.nonfinite == 0 && r.over_tolerance <= flips && r.max_abs <= max_abs_limit;
    if (!ok)
        printf("  %s: max_abs %.3g mean_abs %.3g rel_l2 %.3g over_tol %zu (budget %zu) nonfinite %zu -> FAIL\n", what,
               r.max_abs, r.mean_abs, r.rel_l2, r.over_tolerance, flips, r.nonfinite);
    return ok;
}

/* compare.h */
bool compare_relative_ok(const char *what, const float *got, const float *want, size_t n, double scale, double tolerance,
                         bool verbose)
{
    return compare_relative_bounds_ok(what, got, want, n, scale, tolerance, tolerance, verbose);
}

/* compare.h */
bool compare_relative_bounds_ok(const char *what, const float *got, const float *want, size_t n, double scale, double rel_l2_bound,
                                double largest_bound, bool verbose)
{
    double num = 0.0, den = 0.0, worst = 0.0, largest = 0.0;
    size_t nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) {
            nonfinite++;
            continue;
        }
        double d = fabs((double)got[i] - want[i]), size = fabs((double)want[i]);
        num += d * d, den += size * size, worst = fmax(worst, d), largest = fmax(largest, size);
    }
    den = fmax(den, (double)n * scale * scale), largest = fmax(largest, scale);
    double rel = den > 0.0 ? sqrt(num / den) : sqrt(num), rel_max = largest > 0.0 ? worst / largest : worst;
    bool ok = nonfinite == 0 && rel <= rel_l2_bound && rel_max <= largest_bound;
    if (!ok || verbose)
        printf("    %s: rel_l2 %.3g (bound %.3g), largest error %.3g of the largest value (bound %.3g), %zu non-finite -> %s\n", what,
               rel, rel_l2_bound, rel_max, largest_bound, nonfinite, ok ? "ok" : "FAIL");
    return ok;
}
