/*
 * forecast.c - the lstm_forecast aggregates: one LSTM cell step per row,
 * the forecast from the last hidden state at the end.
 *
 *   lstm_forecast(model, value float8 [ORDER BY t])          -> float8
 *   lstm_forecast(model, value float8, horizon int [ORDER BY t]) -> float8[]
 *   lstm_forecast(model, features float8[] [ORDER BY t])     -> float8
 *
 * model is an lstm_model or the name of a row of lstm_models. The same
 * aggregates are window functions: with the default frame they give at each
 * row the forecast made after that row (and its peers).
 *
 * Transition state (internal, in the aggregate context): the decoded model
 * (cached for the whole query, shared by every group), h and c of every
 * layer, the step count, and scratch arrays, all allocated once per group.
 * A row costs one comparison of the model datum (to catch a model that
 * changes within a group) and the cell arithmetic; nothing is allocated.
 * The final functions do not modify the state, as window use requires.
 *
 * Rules: a NULL value (or features array) is skipped; NaN or infinite
 * values, a NULL model, a NULL element in a features array, a width that does
 * not match the model and a model or horizon that changes within a group
 * are errors. A group with no non-NULL value gives NULL.
 *
 * A series-scaled model (model_format.h) takes one value per row (a
 * features array is an error; under a log transform a value <= 0 is 22023)
 * and forecasts up to output_size steps directly: the horizon form returns
 * the first horizon of them (horizon > output_size is an error).
 *
 *   lstm_forecast_interval(model, value float8, horizon int [, level float8]
 *                          [ORDER BY t]) -> lstm_interval[]
 *
 * gives those forecasts with the bounds of their prediction intervals at
 * level (0.95 when not given; calibration.h), for a calibrated model.
 */
#include "lstm.h"

#include "runtime/arguments.h"
#include "runtime/intervals.h"
#include "runtime/model_cache.h"

#include "core/calibration.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

PG_FUNCTION_INFO_V1(lstm_forecast_value_sfunc);
PG_FUNCTION_INFO_V1(lstm_forecast_horizon_sfunc);
PG_FUNCTION_INFO_V1(lstm_forecast_features_sfunc);
PG_FUNCTION_INFO_V1(lstm_forecast_final);
PG_FUNCTION_INFO_V1(lstm_forecast_horizon_final);
PG_FUNCTION_INFO_V1(lstm_forecast_interval_sfunc);
PG_FUNCTION_INFO_V1(lstm_forecast_interval_final);

typedef struct ForecastState {
    LstmDecoded *model; /* decoded model, owned by the query-long cache */
    LstmSeries series;  /* steps, last value, h and c (members, L, H), normaliser */
    LstmSeries work;    /* scratch series for horizon forecasts */
    int horizon;        /* forecasts asked for; 0 in the one-step forms */
    double level;       /* the interval form's level; 0 in the others */
    double *features;   /* (I) the current row's raw features */
    double *outputs;    /* (O) scratch for one prediction */
} ForecastState;

/* Which aggregate a transition call belongs to. */
typedef enum ForecastForm { FORM_VALUE, FORM_HORIZON, FORM_FEATURES, FORM_INTERVAL } ForecastForm;

/* A new group's state: allocated once, in the aggregate context. */
static ForecastState *forecast_state_new(MemoryContext aggcontext, LstmDecoded *model,
                                         ForecastForm form, int horizon)
{
    const LstmDims *dims = &model->runner.dims;
    MemoryContext old = MemoryContextSwitchTo(aggcontext);
    ForecastState *state = palloc0(sizeof(ForecastState));
    size_t nstate = lstm_series_nfloats(dims);

    lstm_check_value_form(dims, form == FORM_FEATURES, "lstm_forecast");
    state->model = model;
    state->horizon = horizon;
    lstm_series_init(&state->series, dims, palloc(nstate * sizeof(float)));
    if (form == FORM_HORIZON || form == FORM_INTERVAL)
        lstm_series_init(&state->work, dims, palloc(nstate * sizeof(float)));
    state->features = palloc(sizeof(double) * dims->input_size);
    state->outputs = palloc(sizeof(double) * dims->output_size);
    MemoryContextSwitchTo(old);
    return state;
}

/* The horizon argument of this row; NULL is an error. */
static int horizon_argument(FunctionCallInfo fcinfo, const LstmDims *dims, const char *function)
{
    int horizon;
    if (PG_ARGISNULL(3))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("%s horizon must not be NULL", function)));
    horizon = PG_GETARG_INT32(3);
    lstm_check_horizon(horizon, function, dims);
    return horizon;
}

/* The interval form's level argument (0.95 when the call has none); NULL is an error. */
static double level_argument(FunctionCallInfo fcinfo)
{
    double level;
    if (PG_NARGS() < 5)
        return LSTM_DEFAULT_LEVEL;
    if (PG_ARGISNULL(4))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
                        errmsg("lstm_forecast_interval level must not be NULL")));
    level = PG_GETARG_FLOAT8(4);
    lstm_check_level(level, "lstm_forecast_interval");
    return level;
}

/* The shared transition: one cell step of the group's model on this row. */
static Datum forecast_transition(FunctionCallInfo fcinfo, ForecastForm form)
{
    MemoryContext aggcontext;
    ForecastState *state = PG_ARGISNULL(0) ? NULL : (ForecastState *)PG_GETARG_POINTER(0);
    LstmDecoded *model;
    LstmError err;
    int horizon = 0;
    double level = 0.0;
    const char *function = form == FORM_INTERVAL ? "lstm_forecast_interval" : "lstm_forecast";

    if (!AggCheckCallContext(fcinfo, &aggcontext))
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                        errmsg("lstm_forecast transition function called in non-aggregate "
                               "context")));
    if (PG_ARGISNULL(2)) {
        if (state == NULL)
            PG_RETURN_NULL();
        PG_RETURN_POINTER(state);
    }

    model = lstm_model_argument(fcinfo, 1, function);
    if (form == FORM_INTERVAL) {
        lstm_check_calibrated(&model->runner.dims, function);
        level = level_argument(fcinfo);
    }
    if (form == FORM_HORIZON || form == FORM_INTERVAL)
        horizon = horizon_argument(fcinfo, &model->runner.dims, function);
    if (state == NULL) {
        state = forecast_state_new(aggcontext, model, form, horizon);
        state->level = level;
    } else if (state->model != model)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("lstm_forecast model changed within one group"),
                        errdetail("Every row of a group must use the same model."),
                        errhint("Group by the model as well, or join the model once per "
                                "series.")));
    else if (horizon != state->horizon)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s horizon changed within one group from %d to %d", function,
                               state->horizon, horizon)));
    else if (level != state->level)
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("%s level changed within one group from %g to %g", function,
                               state->level, level)));

    if (form == FORM_FEATURES)
        lstm_read_features(PG_GETARG_DATUM(2), state->features, lstm_row_width(&model->runner.dims),
                           "lstm_forecast");
    else
        state->features[0] = PG_GETARG_FLOAT8(2);
    lstm_check_finite(state->features, lstm_row_width(&model->runner.dims), "lstm_forecast input");
    err = lstm_runner_feed(&model->runner, &state->series, state->features);
    if (err != LSTM_OK)
        lstm_report_row_error(err, state->features, &model->runner.dims);
    PG_RETURN_POINTER(state);
}

/* lstm_forecast(model, value float8): transition. */
Datum lstm_forecast_value_sfunc(PG_FUNCTION_ARGS)
{
    return forecast_transition(fcinfo, FORM_VALUE);
}

/* lstm_forecast(model, value float8, horizon int): transition. */
Datum lstm_forecast_horizon_sfunc(PG_FUNCTION_ARGS)
{
    return forecast_transition(fcinfo, FORM_HORIZON);
}

/* lstm_forecast(model, features float8[]): transition. */
Datum lstm_forecast_features_sfunc(PG_FUNCTION_ARGS)
{
    return forecast_transition(fcinfo, FORM_FEATURES);
}

/* Final: the one-step-ahead forecast of output 0; NULL for no rows. */
Datum lstm_forecast_final(PG_FUNCTION_ARGS)
{
    ForecastState *state = PG_ARGISNULL(0) ? NULL : (ForecastState *)PG_GETARG_POINTER(0);

    if (state == NULL || state->series.steps == 0)
        PG_RETURN_NULL();
    lstm_runner_predict(&state->model->runner, &state->series, state->outputs);
    PG_RETURN_FLOAT8(state->outputs[0]);
}

/* Final: horizon forecasts, each fed back as the next input; NULL for no rows. */
Datum lstm_forecast_horizon_final(PG_FUNCTION_ARGS)
{
    ForecastState *state = PG_ARGISNULL(0) ? NULL : (ForecastState *)PG_GETARG_POINTER(0);
    double *forecasts;
    Datum *elems;

    if (state == NULL || state->series.steps == 0)
        PG_RETURN_NULL();
    forecasts = palloc(sizeof(double) * state->horizon);
    elems = palloc(sizeof(Datum) * state->horizon);
    lstm_runner_horizon(&state->model->runner, &state->series, &state->work, state->horizon,
                        forecasts, lstm_check_interrupts, NULL);
    for (int i = 0; i < state->horizon; i++)
        elems[i] = Float8GetDatum(forecasts[i]);
    PG_RETURN_ARRAYTYPE_P(construct_array(elems, state->horizon, FLOAT8OID, sizeof(float8),
                                          FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/* lstm_forecast_interval(model, value, horizon [, level]): transition. */
Datum lstm_forecast_interval_sfunc(PG_FUNCTION_ARGS)
{
    return forecast_transition(fcinfo, FORM_INTERVAL);
}

/*
 * Final: the horizon direct forecasts (bit for bit the horizon form's) with
 * their bounds at the group's level, as lstm_interval[]; NULL for no rows.
 */
Datum lstm_forecast_interval_final(PG_FUNCTION_ARGS)
{
    ForecastState *state = PG_ARGISNULL(0) ? NULL : (ForecastState *)PG_GETARG_POINTER(0);
    double *forecasts, *lower, *upper;

    if (state == NULL || state->series.steps == 0)
        PG_RETURN_NULL();
    forecasts = palloc(sizeof(double) * state->horizon);
    lower = palloc(sizeof(double) * state->horizon);
    upper = palloc(sizeof(double) * state->horizon);
    lstm_calibration_interval(&state->model->runner, &state->series, state->horizon, state->level,
                              forecasts, lower, upper);
    PG_RETURN_DATUM(lstm_interval_array(fcinfo, state->horizon, forecasts, lower, upper));
}
