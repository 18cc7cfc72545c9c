/*
 * intervals.h - what the prediction-interval functions share: their level
 * argument, the check that a model carries calibration data, and their result,
 * an array of lstm_interval (step, forecast, lower, upper).
 */
#ifndef LSTM_RUNTIME_INTERVALS_H
#define LSTM_RUNTIME_INTERVALS_H

#include "lstm.h"

/* The level when none is given: 95 % intervals. */
#define LSTM_DEFAULT_LEVEL 0.95

/*
 * lstm_check_level: raise an ERROR unless level lies strictly between 0 and
 * 1; function names the caller.
 */
void lstm_check_level(double level, const char *function);

/*
 * lstm_check_calibrated: raise an ERROR unless the model holds the
 * calibration of its prediction intervals (calibration.h).
 */
void lstm_check_calibrated(const LstmDims *dims, const char *function);

/*
 * lstm_interval_array: the lstm_interval[] result of the calling function
 * (its declared return type) for horizon steps:
 *   forecasts, lower, upper   (horizon) each
 */
Datum lstm_interval_array(FunctionCallInfo fcinfo, int horizon, const double *forecasts,
                          const double *lower, const double *upper);

#endif /* LSTM_RUNTIME_INTERVALS_H */
