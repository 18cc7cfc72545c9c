/*
 * intervals.c - prediction intervals from a stream state:
 *
 *   lstm_predict_interval(model, state, horizon int, level float8 DEFAULT 0.95)
 *       -> lstm_interval[]   (step, forecast, lower, upper)
 *
 * the streaming form of lstm_forecast_interval (forecast.c): from the state
 * lstm_state_agg gives over the same rows it returns the same values bit for
 * bit. The model must be calibrated (calibration.h); a state made by another
 * model is an error, as in lstm_predict.
 */
#include "lstm.h"

#include "runtime/arguments.h"
#include "runtime/intervals.h"
#include "runtime/model_cache.h"
#include "types/lstm_state.h"

#include "core/calibration.h"
#include "core/stream.h"

PG_FUNCTION_INFO_V1(lstm_predict_interval);

/*
 * lstm_predict_interval(model, state, horizon, level): the direct forecasts
 * after the state with their bounds at level; NULL for a state without rows.
 */
Datum lstm_predict_interval(PG_FUNCTION_ARGS)
{
    LstmDecoded *model = lstm_model_argument(fcinfo, 0, "lstm_predict_interval");
    const LstmDims *dims = &model->runner.dims;
    int horizon = PG_GETARG_INT32(2);
    double level = PG_GETARG_FLOAT8(3);
    struct varlena *state;
    LstmStream stream;
    double *forecasts, *lower, *upper;

    lstm_check_calibrated(dims, "lstm_predict_interval");
    lstm_check_level(level, "lstm_predict_interval");
    lstm_check_horizon(horizon, "lstm_predict_interval", dims);
    lstm_stream_init(&stream, dims, palloc(sizeof(float) * lstm_series_nfloats(dims)));
    state = lstm_state_from_datum(PG_GETARG_DATUM(1));
    lstm_state_check_model(state, dims, model->fingerprint);
    lstm_state_load(VARDATA(state), &stream);
    if (stream.series.steps == 0)
        PG_RETURN_NULL();
    forecasts = palloc(sizeof(double) * horizon);
    lower = palloc(sizeof(double) * horizon);
    upper = palloc(sizeof(double) * horizon);
    lstm_calibration_interval(&model->runner, &stream.series, horizon, level, forecasts, lower,
                              upper);
    PG_RETURN_DATUM(lstm_interval_array(fcinfo, horizon, forecasts, lower, upper));
}
