/*
 * normalizer.h - the per-series streaming normaliser of series-scaled models
 * (LSTM_FLAG_SERIES_SCALING): one global network serves series of any level
 * because every series is normalised by its own statistics, computed from its
 * own rows in order with O(season) state, identically at training and at
 * inference (lstm_forecast, the window form, lstm_state_agg/lstm_step/
 * lstm_predict and the scoring trigger).
 *
 * For each row y of a series (NULL rows are skipped and change nothing):
 *
 *   z      = log(y)  (LSTM_FLAG_LOG; y must be > 0)  or  y
 *   n      = rows consumed, this one included
 *   d      = z - z_prev          (0 for the first row)
 *   scale  = running mean of |d| over rows 2..n, weight max(1/(n-1), 1/52) per row
 *   level  = running mean of z, weight max(1/n, 1/13) per row (z for the first row)
 *   s      = max(scale, 1e-3)    the series' unit after this row
 *
 * Network input after the row, I = lstm_normalizer_input_size(season, horizon):
 *
 *   x[0]   = clip(d / s, -10, 10)                         the change
 *   x[1]   = clip((z - level) / s, -10, 10)               the distance from the level
 *   x[1+k] = clip((z_j - z) / s, -10, 10), k = 1..horizon, only when season > 1:
 *            z_j the value one season before the row being forecast k steps
 *            ahead (j = t + k - season * ceil(k / season)); 0 while j < 1
 *
 * The network's outputs o[k] (k = 1..horizon, a direct head) are in units
 * of s relative to the last value: the forecast of y_{t+k} is
 * exp(z_t + s_t o[k]) (or z_t + s_t o[k] without the log), so an output of 0
 * is the naive forecast. Training targets are (z_{t+k} - z_t) / s_t.
 *
 * Pure C11, no PostgreSQL; the glue and the trainer both call these.
 */
#ifndef LSTM_CORE_NORMALIZER_H
#define LSTM_CORE_NORMALIZER_H

#include <stddef.h>
#include <stdint.h>

#include "model_format.h"

#define LSTM_NORM_LEVEL_WINDOW 13 /* rows: the level's exponential window */
#define LSTM_NORM_SCALE_WINDOW 52 /* rows: the scale's exponential window */
#define LSTM_NORM_MIN_SCALE 1e-3  /* floor of the unit s */
#define LSTM_NORM_CLIP 10.0       /* inputs are clipped to [-10, 10] units */

/* The normaliser's state for one series. */
typedef struct LstmNormalizer {
    int64_t rows;   /* n: rows consumed */
    double last;    /* z of the last row */
    double change;  /* d of the last row (0 after the first) */
    double level;   /* running level of z */
    double scale;   /* running mean of |d| */
    double *recent; /* (season) ring of the last season values of z, the row n's value at
                       (n - 1) % season; NULL when season <= 1 */
} LstmNormalizer;

/* lstm_normalizer_input_size: the network input size I for a season and horizon. */
int lstm_normalizer_input_size(int season, int horizon);

/* lstm_normalizer_ring_size: doubles of the recent-values ring (0 when season <= 1). */
size_t lstm_normalizer_ring_size(int season);

/* lstm_normalizer_init: an empty state using ring (lstm_normalizer_ring_size doubles). */
void lstm_normalizer_init(LstmNormalizer *nz, double *ring);

/*
 * lstm_normalizer_transform: z for a raw finite value y under the model's
 * flags (log or identity); LSTM_ERR_DOMAIN when the log needs y > 0.
 */
LstmError lstm_normalizer_transform(unsigned flags, double y, double *z);

/* lstm_normalizer_push: consume one row's z. */
void lstm_normalizer_push(LstmNormalizer *nz, int season, double z);

/* lstm_normalizer_unit: s, the series' unit after the last row (nz->rows >= 1). */
double lstm_normalizer_unit(const LstmNormalizer *nz);

/*
 * lstm_normalizer_features: the network input after the last row,
 * x (lstm_normalizer_input_size(season, horizon) floats).
 */
void lstm_normalizer_features(const LstmNormalizer *nz, int season, int horizon, float *x);

/* lstm_normalizer_forecast: the raw forecast for a network output o (units of s). */
double lstm_normalizer_forecast(const LstmNormalizer *nz, unsigned flags, double o);

/* lstm_normalizer_target: the training target (units of s) for a future row's z. */
double lstm_normalizer_target(const LstmNormalizer *nz, double z_future);

#endif /* LSTM_CORE_NORMALIZER_H */
