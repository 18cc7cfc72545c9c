/*
 * test_normalizer.c - unit tests of src/core/normalizer.c against a plain
 * restatement of the formulas in normalizer.h (computed here over the whole
 * history, not streamed): level, scale, features (with the seasonal inputs
 * and their warm-up), the forecast and target maps, the log domain.
 */
#include <math.h>
#include <stdio.h>

#include "test_util.h"
#include "normalizer.h"

/* The state after values[0..n-1], recomputed from scratch (not streamed). */
static void reference(const double *z, int n, double *level, double *scale)
{
    *level = z[0];
    *scale = 0.0;
    for (int i = 1; i < n; i++) {
        double ws = fmax(1.0 / i, 1.0 / LSTM_NORM_SCALE_WINDOW);
        double wl = fmax(1.0 / (i + 1), 1.0 / LSTM_NORM_LEVEL_WINDOW);
        *scale += ws * (fabs(z[i] - z[i - 1]) - *scale);
        *level += wl * (z[i] - *level);
    }
}

/* Clip to the normaliser's range. */
static double clip10(double v)
{
    return v < -10 ? -10 : (v > 10 ? 10 : v);
}

/* Stream a series and compare every row's features with the reference. */
static void check_series(int season, int horizon, unsigned flags, int n, uint64_t seed)
{
    double raw[400], z[400], ring[64];
    LstmNormalizer nz;
    float x[2 + 64];
    uint64_t rng = seed;
    int I = lstm_normalizer_input_size(season, horizon);

    CHECK(I == 2 + (season > 1 ? horizon : 0), "input size %d", I);
    lstm_normalizer_init(&nz, ring);
    for (int t = 0; t < n; t++) {
        double level, scale, s;
        raw[t] =
            50 + 10 * sin(t * 6.283185307179586 / (season > 1 ? season : 7)) + rng_normal(&rng);
        CHECK(lstm_normalizer_transform(flags, raw[t], &z[t]) == LSTM_OK, "transform at row %d", t);
        lstm_normalizer_push(&nz, season, z[t]);
        lstm_normalizer_features(&nz, season, horizon, x);
        reference(z, t + 1, &level, &scale);
        s = fmax(scale, LSTM_NORM_MIN_SCALE);
        CHECK(fabs(nz.level - level) <= 1e-12 * fabs(level) + 1e-12, "level at row %d", t);
        CHECK(fabs(nz.scale - scale) <= 1e-12 * fabs(scale) + 1e-15, "scale at row %d", t);
        CHECK(fabs(x[0] - (t == 0 ? 0.0 : clip10((z[t] - z[t - 1]) / s))) < 1e-5, "change at %d",
              t);
        CHECK(fabs(x[1] - clip10((z[t] - level) / s)) < 1e-5, "level input at row %d", t);
        for (int k = 1; season > 1 && k <= horizon; k++) {
            int j = t + k - season * ((k + season - 1) / season); /* 0-based row */
            double want = j >= 0 ? clip10((z[j] - z[t]) / s) : 0.0;
            CHECK(fabs(x[1 + k] - want) < 1e-5, "seasonal input %d at row %d", k, t);
        }
        /* An output of 0 is the naive forecast; a target maps back to its value. */
        CHECK(fabs(lstm_normalizer_forecast(&nz, flags, 0.0) - raw[t]) <= 1e-9 * fabs(raw[t]),
              "naive forecast at row %d", t);
        if (t > 0) {
            double o = lstm_normalizer_target(&nz, z[t - 1]);
            CHECK(fabs(lstm_normalizer_forecast(&nz, flags, o) - raw[t - 1]) <=
                      1e-9 * fabs(raw[t - 1]),
                  "target round trip at row %d", t);
        }
    }
}

int main(void)
{
    double z;

    check_series(52, 13, LSTM_FLAG_LOG, 300, 1);
    check_series(7, 20, LSTM_FLAG_LOG, 100, 2); /* horizon beyond one season */
    check_series(0, 13, 0, 200, 3);
    check_series(1, 13, LSTM_FLAG_LOG, 50, 4);
    check_series(24, 48, 0, 120, 5);
    /* The log's domain. */
    CHECK(lstm_normalizer_transform(LSTM_FLAG_LOG, 0.0, &z) == LSTM_ERR_DOMAIN, "log of 0");
    CHECK(lstm_normalizer_transform(LSTM_FLAG_LOG, -1.0, &z) == LSTM_ERR_DOMAIN, "log of -1");
    CHECK(lstm_normalizer_transform(0, -1.0, &z) == LSTM_OK && z == -1.0, "identity");
    CHECK(lstm_normalizer_ring_size(52) == 52 && lstm_normalizer_ring_size(1) == 0, "ring sizes");
    return test_summary();
}
