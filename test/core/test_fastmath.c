/*
 * test_fastmath.c - the vectorisable nonlinearities of src/core/fastmath.h
 * (lstm_sigmoid_fast, lstm_tanh_fast of runner.h: the kernels shared by the
 * runner and the trainer) against double precision, next to libm's
 * (lstm_sigmoid, lstm_tanh of test/core/reference.h).
 *
 * Every float32 in [-100, 100] is checked when run as `test_fastmath all`
 * (about 2.2e9 values: minutes); `make unittest` checks every 127th bit
 * pattern, which covers every binade and every region of the polynomials.
 * Errors are in ulps of the float32 result (relative for results above
 * FLT_MIN); below FLT_MIN the error must be below 1e-37 absolute.
 * Prints the largest errors, then "N passed, M failed"; exits non-zero on a
 * failure.
 */
#include "test_util.h"
#include "reference.h"
#include "runner.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The largest error allowed, in ulps of the float32 result. */
#define MAX_ULPS 3.0

/* The float with these bits. */
static float float_of_bits(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* The error of got against the exact value in ulps of the exact value's float32 binade. */
static double ulps(float got, double exact)
{
    int e;
    double unit;
    if (fabs(exact) < FLT_MIN)
        return fabs(got - exact) < 1e-37 ? 0.0 : INFINITY;
    frexp(exact, &e); /* exact = m 2^e, 0.5 <= |m| < 1 */
    unit = ldexp(1.0, e - 24);
    return fabs((double)got - exact) / unit;
}

/* Worst errors found, and where. */
typedef struct Worst {
    double sigmoid, tanh, sigmoid_libm, tanh_libm;
    float sigmoid_at, tanh_at;
} Worst;

/* Check one argument of both functions. */
static void check_one(float x, Worst *w)
{
    double s = 1.0 / (1.0 + exp(-(double)x)), t = tanh((double)x);
    double es = ulps(lstm_sigmoid_fast(x), s), et = ulps(lstm_tanh_fast(x), t);
    double ls = ulps(lstm_sigmoid(x), s), lt = ulps(lstm_tanh(x), t);
    if (es > w->sigmoid) {
        w->sigmoid = es;
        w->sigmoid_at = x;
    }
    if (et > w->tanh) {
        w->tanh = et;
        w->tanh_at = x;
    }
    w->sigmoid_libm = ls > w->sigmoid_libm ? ls : w->sigmoid_libm;
    w->tanh_libm = lt > w->tanh_libm ? lt : w->tanh_libm;
}

/* Every stride-th float in [-100, 100], both signs, then the special values. */
static void test_range(uint32_t stride)
{
    Worst w = {0};
    uint32_t limit;
    float hundred = 100.0f;
    long checked = 0;

    memcpy(&limit, &hundred, sizeof limit);
    for (uint32_t bits = 0; bits <= limit; bits += stride) {
        check_one(float_of_bits(bits), &w);
        check_one(-float_of_bits(bits), &w);
        checked += 2;
    }
    printf("  %ld arguments in [-100, 100]: sigmoid %.2f ulp (at %.9g), tanh %.2f ulp (at %.9g); "
           "libm %.2f, %.2f\n",
           checked, w.sigmoid, (double)w.sigmoid_at, w.tanh, (double)w.tanh_at, w.sigmoid_libm,
           w.tanh_libm);
    CHECK(w.sigmoid <= MAX_ULPS, "sigmoid off by %.2f ulp at %.9g", w.sigmoid,
          (double)w.sigmoid_at);
    CHECK(w.tanh <= MAX_ULPS, "tanh off by %.2f ulp at %.9g", w.tanh, (double)w.tanh_at);
}

/* Limits, signs, zeros, infinities and NaN. */
static void test_special_values(void)
{
    CHECK(lstm_sigmoid_fast(0.0f) == 0.5f, "sigmoid(0) = %.9g", (double)lstm_sigmoid_fast(0.0f));
    CHECK(lstm_tanh_fast(0.0f) == 0.0f && !signbit(lstm_tanh_fast(0.0f)), "tanh(0)");
    CHECK(lstm_tanh_fast(-0.0f) == 0.0f && signbit(lstm_tanh_fast(-0.0f)), "tanh(-0)");
    CHECK(lstm_sigmoid_fast(INFINITY) == 1.0f, "sigmoid(inf)");
    CHECK(lstm_sigmoid_fast(-INFINITY) >= 0.0f && lstm_sigmoid_fast(-INFINITY) < 1e-37f,
          "sigmoid(-inf) = %g", (double)lstm_sigmoid_fast(-INFINITY));
    CHECK(lstm_sigmoid_fast(FLT_MAX) == 1.0f && lstm_sigmoid_fast(-FLT_MAX) < 1e-37f,
          "sigmoid(+-FLT_MAX)");
    CHECK(lstm_tanh_fast(INFINITY) == 1.0f && lstm_tanh_fast(-INFINITY) == -1.0f, "tanh(+-inf)");
    CHECK(lstm_tanh_fast(FLT_MAX) == 1.0f && lstm_tanh_fast(-FLT_MAX) == -1.0f, "tanh(+-FLT_MAX)");
    CHECK(isnan(lstm_sigmoid_fast(NAN)) && isnan(lstm_tanh_fast(NAN)), "NaN in, NaN out");
    CHECK(lstm_tanh_fast(FLT_TRUE_MIN) == FLT_TRUE_MIN, "tanh of the smallest denormal");
    for (float x = 1e-30f; x < 1e30f; x *= 3.7f) {
        CHECK(lstm_tanh_fast(-x) == -lstm_tanh_fast(x), "tanh is odd at %g", (double)x);
        CHECK(fabsf(lstm_tanh_fast(x)) <= 1.0f && lstm_sigmoid_fast(x) <= 1.0f &&
                  lstm_sigmoid_fast(-x) >= 0.0f,
              "outside the range at %g", (double)x);
    }
}

/* Run every test; the last line says how many checks passed and failed. */
int main(int argc, char **argv)
{
    int all = argc > 1 && strcmp(argv[1], "all") == 0;
    test_special_values();
    test_range(all ? 1 : 127);
    return test_summary();
}
