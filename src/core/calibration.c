/*
 * calibration.c - prediction intervals of series-scaled models: the errors on
 * the validation rows, their quantiles, and the bounds they give.
 */
#include "calibration.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The grid (Q): dense in the tails, where the usual levels (80 %, 90 %, 95 %, 99 %) read. */
static const double calibration_probs[LSTM_CALIBRATION_QUANTILES] = {
    0.005, 0.01, 0.025, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30, 0.35,  0.40, 0.45, 0.50,
    0.55,  0.60, 0.65,  0.70, 0.75, 0.80, 0.85, 0.90, 0.95, 0.975, 0.99, 0.995};

/* Probability j of the grid. */
double lstm_calibration_prob(int j)
{
    return calibration_probs[j];
}

/* qsort's order of doubles. */
static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Type-7 quantiles of the errors at the grid's probabilities. */
void lstm_calibration_fit(double *errors, size_t n, float *quantiles)
{
    qsort(errors, n, sizeof(double), compare_doubles);
    for (int j = 0; j < LSTM_CALIBRATION_QUANTILES; j++) {
        double h = (double)(n - 1) * calibration_probs[j];
        size_t lo = (size_t)floor(h);
        double v = errors[lo];
        if (lo + 1 < n)
            v += (h - (double)lo) * (errors[lo + 1] - errors[lo]);
        quantiles[j] = (float)v;
    }
    /* float rounding keeps the order, but make it explicit for the validator */
    for (int j = 1; j < LSTM_CALIBRATION_QUANTILES; j++)
        if (quantiles[j] < quantiles[j - 1])
            quantiles[j] = quantiles[j - 1];
}

/* q(p): linear between the grid's probabilities, the end values outside it. */
double lstm_calibration_quantile(const float *quantiles, double p)
{
    int j = 0;

    if (p <= calibration_probs[0])
        return quantiles[0];
    if (p >= calibration_probs[LSTM_CALIBRATION_QUANTILES - 1])
        return quantiles[LSTM_CALIBRATION_QUANTILES - 1];
    while (calibration_probs[j + 1] < p)
        j++;
    return quantiles[j] + (p - calibration_probs[j]) /
                              (calibration_probs[j + 1] - calibration_probs[j]) *
                              ((double)quantiles[j + 1] - quantiles[j]);
}

/* back(transform(f) + s q) for the model's transform. */
static double shifted(const LstmNormalizer *nz, unsigned flags, double f, double q)
{
    double s = lstm_normalizer_unit(nz);
    if (flags & LSTM_FLAG_LOG)
        return exp(log(f) + s * q);
    return f + s * q;
}

/* The bounds at level of one step's forecast f. */
void lstm_calibration_bounds(const LstmNormalizer *nz, unsigned flags, const float *quantiles,
                             double f, double level, double *lower, double *upper)
{
    double lo = shifted(nz, flags, f, lstm_calibration_quantile(quantiles, (1.0 - level) / 2.0));
    double hi = shifted(nz, flags, f, lstm_calibration_quantile(quantiles, (1.0 + level) / 2.0));

    *lower = lo < f ? lo : f;
    *upper = hi > f ? hi : f;
}

/* Point forecasts (lstm_runner_horizon's) and their bounds. */
void lstm_calibration_interval(const LstmRunner *runner, const LstmSeries *series, int horizon,
                               double level, double *forecasts, double *lower, double *upper)
{
    /* a series-scaled model forecasts directly: the scratch series is not used */
    lstm_runner_horizon(runner, series, NULL, horizon, forecasts, NULL, NULL);
    for (int k = 0; k < horizon; k++)
        lstm_calibration_bounds(&series->norm, runner->dims.flags,
                                runner->calibration + (size_t)k * LSTM_CALIBRATION_QUANTILES,
                                forecasts[k], level, &lower[k], &upper[k]);
}

/* Sum of the validation rows: the most errors one step can collect. */
int64_t lstm_calibration_capacity(int64_t num_series, const int64_t *valid)
{
    int64_t total = 0;
    for (int64_t s = 0; s < num_series; s++)
        total += valid[s];
    return total;
}

/* Run every series and collect the step errors of the origins whose targets are validation rows. */
LstmError lstm_calibration_collect(const LstmRunner *runner, LstmSeries *work, const double *values,
                                   int64_t num_series, const int64_t *rows, const int64_t *valid,
                                   int64_t capacity, double *errors, int64_t *counts,
                                   void (*interrupt)(void *arg), void *interrupt_arg)
{
    const LstmDims *d = &runner->dims;
    int O = d->output_size;
    double *forecasts = runner->features; /* (max(I, O)) the runner's scratch */
    const double *y = values;

    memset(counts, 0, (size_t)O * sizeof(int64_t));
    for (int64_t s = 0; s < num_series; y += rows[s], s++) {
        int64_t first_valid = rows[s] - valid[s];
        if (valid[s] < 1)
            continue;
        lstm_series_init(work, d, work->h);
        for (int64_t t = 0; t < rows[s]; t++) {
            LstmError err;
            if (interrupt != NULL)
                interrupt(interrupt_arg);
            if ((err = lstm_runner_feed(runner, work, &y[t])) != LSTM_OK)
                return err;
            if (t < 1 || t + O < first_valid)
                continue;
            if (t + 1 >= rows[s])
                break;
            lstm_runner_predict(runner, work, forecasts);
            for (int k = 1; k <= O && t + k < rows[s]; k++) {
                double z, zhat, e;
                if (t + k < first_valid || counts[k - 1] >= capacity)
                    continue;
                if (lstm_normalizer_transform(d->flags, y[t + k], &z) != LSTM_OK ||
                    !(forecasts[k - 1] > 0.0 || !(d->flags & LSTM_FLAG_LOG)))
                    continue;
                zhat = (d->flags & LSTM_FLAG_LOG) ? log(forecasts[k - 1]) : forecasts[k - 1];
                e = (z - zhat) / lstm_normalizer_unit(&work->norm);
                if (isfinite(e))
                    errors[(size_t)(k - 1) * capacity + counts[k - 1]++] = e;
            }
        }
    }
    return LSTM_OK;
}
