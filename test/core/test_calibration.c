/*
 * test_calibration.c - unit tests of src/core/calibration.c: the grid, the
 * type-7 quantiles of the errors against a plain sort-and-interpolate
 * restatement, q(p) between and outside the grid, the bounds (ordered,
 * widening with the level, the log map), the collected errors of a zero
 * model (the naive forecast) against their definition, and the calibrated
 * model layout (size, arrays, the nondecreasing check).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_util.h"
#include "calibration.h"

#define Q LSTM_CALIBRATION_QUANTILES

/* The grid rises from 0.5 % to 99.5 % and holds the usual levels' tails. */
static void check_grid(void)
{
    int has_025 = 0, has_10 = 0;
    CHECK(lstm_calibration_prob(0) == 0.005 && lstm_calibration_prob(Q - 1) == 0.995, "ends");
    for (int j = 1; j < Q; j++)
        CHECK(lstm_calibration_prob(j) > lstm_calibration_prob(j - 1), "grid rises at %d", j);
    for (int j = 0; j < Q; j++) {
        has_025 |= lstm_calibration_prob(j) == 0.025;
        has_10 |= lstm_calibration_prob(j) == 0.10;
    }
    CHECK(has_025 && has_10, "0.025 and 0.10 are grid points");
}

/* The quantiles of shuffled random errors against sorting and interpolating by hand. */
static void check_fit(uint64_t seed, size_t n)
{
    double errors[500], sorted[500];
    float q[Q];
    uint64_t rng = seed;

    for (size_t i = 0; i < n; i++)
        sorted[i] = errors[i] = rng_uniform(&rng, -3, 5) * rng_uniform(&rng, 0, 1);
    /* insertion sort: the reference */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1], sorted[j - 1] = t;
        }
    lstm_calibration_fit(errors, n, q);
    for (int j = 0; j < Q; j++) {
        double h = (n - 1) * lstm_calibration_prob(j);
        size_t lo = (size_t)h;
        double want =
            lo + 1 < n ? sorted[lo] + (h - lo) * (sorted[lo + 1] - sorted[lo]) : sorted[lo];
        CHECK(q[j] == (float)want, "n %zu quantile %d: %g vs %g", n, j, q[j], want);
        if (j > 0)
            CHECK(q[j] >= q[j - 1], "nondecreasing at %d", j);
    }
}

/* 0..100: every quantile is 100 p; q(p) interpolates linearly and holds the ends outside. */
static void check_quantile(void)
{
    double errors[101];
    float q[Q];
    for (int i = 0; i <= 100; i++)
        errors[100 - i] = i;
    lstm_calibration_fit(errors, 101, q);
    CHECK(fabs(q[12] - 50.0) < 1e-5 && fabs(q[2] - 2.5) < 1e-5, "median %g, 2.5 %% %g", q[12],
          q[2]);
    CHECK(fabs(lstm_calibration_quantile(q, 0.0375) - 3.75) < 1e-5, "between 0.025 and 0.05");
    CHECK(fabs(lstm_calibration_quantile(q, 0.32) - 32.0) < 1e-5, "between 0.30 and 0.35");
    CHECK(lstm_calibration_quantile(q, 0.001) == q[0], "below the grid");
    CHECK(lstm_calibration_quantile(q, 0.9999) == q[Q - 1], "above the grid");
}

/* Bounds: f -/+ s q for identity, f exp(s q) for the log; ordered and widening. */
static void check_bounds(void)
{
    float q[Q];
    LstmNormalizer nz;
    double lo, hi, lo80, hi80;

    for (int j = 0; j < Q; j++)
        q[j] = (float)(4.0 * (lstm_calibration_prob(j) - 0.5)); /* q(p) = 4 (p - 0.5) */
    lstm_normalizer_init(&nz, NULL);
    nz.rows = 10, nz.last = 2.0, nz.scale = 0.5;
    lstm_calibration_bounds(&nz, LSTM_FLAG_SERIES_SCALING, q, 3.0, 0.95, &lo, &hi);
    CHECK(fabs(lo - (3.0 - 0.5 * 1.9)) < 1e-6 && fabs(hi - (3.0 + 0.5 * 1.9)) < 1e-6,
          "identity bounds %g %g", lo, hi);
    lstm_calibration_bounds(&nz, LSTM_FLAG_SERIES_SCALING, q, 3.0, 0.8, &lo80, &hi80);
    CHECK(lo <= lo80 && lo80 <= 3.0 && 3.0 <= hi80 && hi80 <= hi, "widening with the level");
    lstm_calibration_bounds(&nz, LSTM_FLAG_SERIES_SCALING | LSTM_FLAG_LOG, q, 3.0, 0.95, &lo, &hi);
    CHECK(fabs(lo - 3.0 * exp(-0.95)) < 1e-6 && fabs(hi - 3.0 * exp(0.95)) < 1e-6,
          "log bounds %g %g", lo, hi);
    /* quantiles all above 0 (a biased model): the lower bound stops at the forecast */
    for (int j = 0; j < Q; j++)
        q[j] = (float)(1.0 + lstm_calibration_prob(j));
    lstm_calibration_bounds(&nz, LSTM_FLAG_SERIES_SCALING, q, 3.0, 0.95, &lo, &hi);
    CHECK(lo == 3.0 && hi > 3.0, "ordered under bias: %g %g", lo, hi);
}

/* A zero model forecasts the last value: its errors are (y_{t+k} - y_t) / s_t by definition. */
static void check_collect(void)
{
    LstmDims d = lstm_dims_make(2, 3, 1, 2, LSTM_FLAG_SERIES_SCALING);
    size_t nbytes = lstm_model_nbytes(&d);
    void *bytes = calloc(1, nbytes);
    LstmModelView view;
    LstmRunner runner;
    LstmSeries work;
    double values[12] = {1, 3, 2, 5, 4, 6, 10, 10, 11, 9, 12, 13}; /* two series: 7 and 5 rows */
    int64_t rows[2] = {7, 5}, valid[2] = {2, 2}, counts[2];
    double errors[2 * 4];
    char msg[LSTM_ERRMSG_LEN];

    lstm_model_init_header(bytes, &d);
    lstm_model_view(bytes, &view);
    for (int i = 0; i < 2; i++)
        ((float *)view.input_std)[i] = 1.0f;
    for (int k = 0; k < 2; k++)
        ((float *)view.output_std)[k] = 1.0f;
    CHECK(lstm_model_validate(bytes, nbytes, msg) == LSTM_OK, "zero model: %s", msg);
    void *runner_memory = malloc(lstm_runner_nbytes(&d));
    float *series_memory = malloc(lstm_series_nfloats(&d) * sizeof(float));
    lstm_runner_init(&runner, &view, runner_memory);
    lstm_series_init(&work, &d, series_memory);
    CHECK(lstm_calibration_capacity(2, valid) == 4, "capacity");
    CHECK(lstm_calibration_collect(&runner, &work, values, 2, rows, valid, 4, errors, counts, NULL,
                                   NULL) == LSTM_OK,
          "collect");
    CHECK(counts[0] == 4 && counts[1] == 4, "2 origins per series and step: %lld %lld",
          (long long)counts[0], (long long)counts[1]);
    /* series 1, step 1: origins 4 and 5 (0-based), the normaliser's s after them */
    {
        LstmNormalizer nz;
        double ring[1];
        int e = 0;
        for (int s = 0, base = 0; s < 2; base += (int)rows[s], s++) {
            lstm_normalizer_init(&nz, ring);
            for (int t = 0; t < rows[s]; t++) {
                lstm_normalizer_push(&nz, 0, values[base + t]);
                if (t == rows[s] - 3 || t == rows[s] - 2) {
                    double want =
                        (values[base + t + 1] - values[base + t]) / lstm_normalizer_unit(&nz);
                    CHECK(fabs(errors[e] - want) < 1e-12, "series %d origin %d step 1: %g vs %g", s,
                          t, errors[e], want);
                    e++;
                }
            }
        }
    }
    free(runner_memory);
    free(series_memory);
    free(bytes);
}

/* A calibrated model: (O, Q) more floats, one more array, checked nondecreasing. */
static void check_layout(void)
{
    LstmDims d = lstm_dims_make(2, 4, 1, 3, LSTM_FLAG_SERIES_SCALING), plain = d;
    size_t nbytes;
    void *bytes;
    LstmModelView view;
    LstmModelHeader header;
    char msg[LSTM_ERRMSG_LEN];
    float *cal;

    d.calibrated = 1;
    CHECK(lstm_model_float_count(&d) == lstm_model_float_count(&plain) + 3 * Q, "float count");
    CHECK(lstm_model_parameter_count(&d) == lstm_model_parameter_count(&plain), "parameters");
    CHECK(lstm_model_array_count(&d) == lstm_model_array_count(&plain) + 1, "array count");
    nbytes = lstm_model_nbytes(&d);
    bytes = calloc(1, nbytes);
    lstm_model_init_header(bytes, &d);
    memcpy(&header, bytes, sizeof(header));
    CHECK(header.version == 2 && (header.flags & LSTM_FLAG_CALIBRATED), "header");
    CHECK(lstm_model_dims(&header).calibrated == 1 &&
              lstm_model_dims(&header).flags == LSTM_FLAG_SERIES_SCALING,
          "the flag is in the header only");
    lstm_model_view(bytes, &view);
    for (int i = 0; i < 2; i++)
        ((float *)view.input_std)[i] = 1.0f;
    for (int k = 0; k < 3; k++)
        ((float *)view.output_std)[k] = 1.0f;
    cal = (float *)view.calibration;
    CHECK(cal == lstm_model_data(bytes) + lstm_model_float_count(&d) - 3 * Q, "calibration last");
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < Q; j++)
            cal[k * Q + j] = (float)(j - 12) * (k + 1);
    CHECK(lstm_model_validate(bytes, nbytes, msg) == LSTM_OK, "calibrated model: %s", msg);
    cal[Q + 7] = -100.0f;
    CHECK(lstm_model_validate(bytes, nbytes, msg) == LSTM_ERR_FORMAT &&
              strstr(msg, "calibration[1][7]") != NULL,
          "decreasing quantiles: %s", msg);
    cal[Q + 7] = NAN;
    CHECK(lstm_model_validate(bytes, nbytes, msg) == LSTM_ERR_NONFINITE, "NaN: %s", msg);
    free(bytes);
    plain.flags = 0; /* calibration without series scaling */
    plain.calibrated = 1;
    CHECK(lstm_dims_check(&plain, msg) == LSTM_ERR_FORMAT, "needs series scaling");
}

int main(void)
{
    check_grid();
    check_fit(1, 1);
    check_fit(2, 7);
    check_fit(3, 500);
    check_quantile();
    check_bounds();
    check_collect();
    check_layout();
    return test_summary();
}
