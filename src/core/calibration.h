/*
 * calibration.h - prediction intervals of series-scaled models, calibrated on
 * the time-ordered validation part at training time.
 *
 * The errors. After training, the final model (every member, median
 * forecast: exactly what inference computes) is run over every series from
 * its first row. At every origin t (a row, 0-based, t >= 1) whose k-step
 * target row t + k lies in the series' validation rows (the last `valid`
 * rows), the error of step k in units of the series' scale s_t is
 *
 *   e_k = (z_{t+k} - zhat_{t+k}) / s_t
 *
 * with z = transform(y) (log or identity, normalizer.h) and zhat the
 * transform of the point forecast. Several series (validation = the last
 * horizon rows) give each step k horizon origins per series, one series
 * (validation = its last rows) `valid` origins.
 *
 * The stored calibration. For every step k the empirical quantiles of e_k
 * (type 7: linear between order statistics) at the Q =
 * LSTM_CALIBRATION_QUANTILES probabilities of lstm_calibration_prob: a
 * (O, Q) float array, nondecreasing along Q (model_format.h).
 *
 * The bounds at level a of the forecast f of step k made after row t:
 *
 *   p_lo = (1 - a) / 2, p_hi = (1 + a) / 2
 *   q(p) = the stored quantiles of step k, linear between the grid's
 *          probabilities, the end values outside it (0.5 % and 99.5 %)
 *   lower = min(f, back(transform(f) + s_t q(p_lo)))
 *   upper = max(f, back(transform(f) + s_t q(p_hi)))
 *
 * back the inverse transform (exp or identity): the map
 * lstm_normalizer_forecast applies to outputs. Bounds widen with the level
 * and always hold the point forecast.
 *
 * Pure C11, no PostgreSQL.
 */
#ifndef LSTM_CORE_CALIBRATION_H
#define LSTM_CORE_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

#include "model_format.h"
#include "normalizer.h"
#include "runner.h"

/* lstm_calibration_prob: probability j (0..Q-1) of the grid, increasing. */
double lstm_calibration_prob(int j);

/*
 * lstm_calibration_fit: the grid's quantiles of n >= 1 errors (sorted in
 * place) into quantiles (Q floats, nondecreasing).
 */
void lstm_calibration_fit(double *errors, size_t n, float *quantiles);

/* lstm_calibration_quantile: q(p) of one step's quantiles (Q), p in [0, 1]. */
double lstm_calibration_quantile(const float *quantiles, double p);

/*
 * lstm_calibration_bounds: the lower and upper bound at level (0 < level < 1)
 * of the point forecast f of one step, whose quantiles are (Q), made by a
 * model of these flags after the normaliser state nz.
 */
void lstm_calibration_bounds(const LstmNormalizer *nz, unsigned flags, const float *quantiles,
                             double f, double level, double *lower, double *upper);

/*
 * lstm_calibration_interval: the horizon (<= output_size) point forecasts
 * after series, bit for bit lstm_runner_horizon's, and their bounds at
 * level; the runner's model must be calibrated (runner->calibration).
 *   forecasts, lower, upper   (horizon) each
 */
void lstm_calibration_interval(const LstmRunner *runner, const LstmSeries *series, int horizon,
                               double level, double *forecasts, double *lower, double *upper);

/*
 * lstm_calibration_capacity: errors one step k can collect from these
 * series: the sum of valid over the series (an upper bound for every k).
 */
int64_t lstm_calibration_capacity(int64_t num_series, const int64_t *valid);

/*
 * lstm_calibration_collect: run a series-scaled runner over every series
 * and collect the errors above.
 *   values   the raw rows, series after series (sum of rows)
 *   rows     (num_series) rows of each series; valid (num_series) its
 *            validation rows (the last ones)
 *   work     a series of the runner's model (lstm_series_nfloats), scratch
 *   errors   (O, capacity) out: step k's errors at errors + k * capacity
 *   counts   (O) out: errors collected per step
 * interrupt (may be NULL) is called once per row. Returns LSTM_OK, or the
 * error of a row the runner refuses (the caller's data were checked).
 */
LstmError lstm_calibration_collect(const LstmRunner *runner, LstmSeries *work, const double *values,
                                   int64_t num_series, const int64_t *rows, const int64_t *valid,
                                   int64_t capacity, double *errors, int64_t *counts,
                                   void (*interrupt)(void *arg), void *interrupt_arg);

#endif /* LSTM_CORE_CALIBRATION_H */
