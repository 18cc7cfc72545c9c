/*
 * fastmath.h - vectorisable float32 exp, sigmoid and tanh for the cell.
 */
#ifndef LSTM_CORE_FASTMATH_H
#define LSTM_CORE_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/*
 * Fast float32 nonlinearities of the cell, shared by the inference runner
 * (runner.c) and the trainer (trainer.c) so that both compute the same function.
 *
 * Branch-free, so that the compiler vectorises the cell update (8 lanes with
 * AVX2). Checked against double precision on every float in [-100, 100] by
 * test/core/test_fastmath.c: sigmoid within 2.5 ulp (the same bound as
 * 1 / (1 + expf(-x)) with libm's expf), tanh within 1.4 ulp (libm's tanhf:
 * 2.2). libm stays in the test oracles (test/core/reference.h). NaN gives
 * NaN; +-inf give the limits.
 */

/* cond ? a : b on the bits, which vectorises where a branch would not. */
static inline __attribute__((always_inline)) float select_float(int cond, float a, float b)
{
    uint32_t abits, bbits, mask = 0u - (uint32_t)cond, bits;
    float result;

    memcpy(&abits, &a, sizeof abits);
    memcpy(&bbits, &b, sizeof bbits);
    bits = (abits & mask) | (bbits & ~mask);
    memcpy(&result, &bits, sizeof result);
    return result;
}

/*
 * e^x for x in [-87, 88]: Cody-Waite reduction x = n ln2 + r, a degree-7
 * polynomial for e^r (Cephes expf), and 2^n built in the exponent bits.
 */
static inline __attribute__((always_inline)) float exp_in_range(float x)
{
    const float shifter = 0x1.8p23f; /* adding it rounds |y| < 2^22 to an integer */
    float y, n, r, p, scale;
    uint32_t ybits, sbits, scale_bits;

    y = x * 0x1.715476p+0f + shifter; /* x / ln 2, rounded */
    n = y - shifter;
    r = x - n * 0.693359375f;   /* ln 2 = 0.693359375 (exact in 9 bits, so n * it is ... */
    r = r + n * 2.12194440e-4f; /* ... exact) - 2.12194440e-4 */
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + r + 1.0f;
    /* n is the low bits of y: 2^n has exponent field n + 127. */
    memcpy(&ybits, &y, sizeof ybits);
    memcpy(&sbits, &shifter, sizeof sbits);
    scale_bits = (ybits - sbits + 127u) << 23;
    memcpy(&scale, &scale_bits, sizeof scale);
    return p * scale;
}

/* e^x, x clamped to [-87, 88] first (outside, e^x is within 1e-37 of 0 or above 1e38). */
static inline __attribute__((always_inline)) float exp_fast(float x)
{
    x = select_float(x < -87.0f, -87.0f, x);
    x = select_float(x > 88.0f, 88.0f, x);
    return exp_in_range(x);
}

/* sigmoid(x) = 1 / (1 + e^-x). */
static inline __attribute__((always_inline)) float sigmoid_fast(float x)
{
    return 1.0f / (1.0f + exp_fast(-x));
}

/* tanh(x): an odd polynomial below |x| = 0.625 (Cephes tanhf), 1 - 2 / (e^2|x| + 1) above. */
static inline __attribute__((always_inline)) float tanh_fast(float x)
{
    float a = fabsf(x), z = x * x, small, large;

    small = -5.70498872745e-3f;
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = small * z * x + x;
    large = 2.0f * a; /* >= 0 (or NaN): only the upper clamp is needed */
    large = 1.0f - 2.0f / (exp_in_range(select_float(large > 88.0f, 88.0f, large)) + 1.0f);
    /* The sign of x, also for -0 (where small comes out +0). */
    return copysignf(select_float(a < 0.625f, small, large), x);
}

#endif /* LSTM_CORE_FASTMATH_H */
