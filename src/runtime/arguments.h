/*
 * arguments.h - checks and readers of the value arguments that every
 * inference function shares: finite values, features arrays, horizons.
 */
#ifndef LSTM_RUNTIME_ARGUMENTS_H
#define LSTM_RUNTIME_ARGUMENTS_H

#include "lstm.h"

/* Longest horizon one call may ask for (lstm_forecast, lstm_predict). */
#define LSTM_MAX_HORIZON 100000

/*
 * Raise the ERROR for a row whose values, once scaled with the model's
 * input_mean and input_std, do not fit a float32 (never returns).
 */
void lstm_report_input_range(const double *features, int n) pg_attribute_noreturn();

/*
 * Raise the ERROR for a row the core refused (lstm_runner_feed's error err):
 * LSTM_ERR_DOMAIN, a value outside the model's log transform, is
 * invalid_parameter_value (22023); anything else is the out-of-range row of
 * lstm_report_input_range. features holds the row's lstm_row_width values.
 */
void lstm_report_row_error(LstmError err, const double *features, const LstmDims *dims)
    pg_attribute_noreturn();

/*
 * Raise an ERROR unless a model reads one value per row from a scalar
 * argument: a features array (is_array) for a series-scaled model, or a
 * single value for a model with several inputs; function names the caller.
 */
void lstm_check_value_form(const LstmDims *dims, bool is_array, const char *function);

/*
 * Raise an ERROR unless horizon is within 1..LSTM_MAX_HORIZON and the model
 * can give it: a series-scaled model forecasts its output_size steps
 * directly (horizon <= output_size, nothing fed back); any other model feeds
 * its forecasts back (output_size = input_size). function names the caller.
 */
void lstm_check_horizon(int horizon, const char *function, const LstmDims *dims);

/* Raise an ERROR unless every value is finite; what names the argument. */
void lstm_check_finite(const double *values, int n, const char *what);

/*
 * lstm_read_features: copy a float8[] of exactly n non-NULL elements into
 * features; function names the caller in messages.
 */
void lstm_read_features(Datum datum, double *features, int n, const char *function);

/*
 * lstm_check_interrupts: CHECK_FOR_INTERRUPTS() as a core callback, for the
 * loops a caller can make long (horizons, training); arg is unused.
 */
void lstm_check_interrupts(void *arg);

#endif /* LSTM_RUNTIME_ARGUMENTS_H */
